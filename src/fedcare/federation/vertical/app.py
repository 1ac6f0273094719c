"""The Flower apps of a vertical study (the components a vertical run's FAB names).

``server_app`` runs :func:`fedcare.federation.vertical.run_vertical` through the audited
grid and writes ``result.json`` to ``output-dir``; ``party_app`` is each party's app.
"""

from __future__ import annotations

import json
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedcare._io import write_text_atomic
from fedcare.vertical.spool import CHUNK

from ..coordinator.app import progress_grid
from ..coordinator.grid import audit_grid
from ..protocol import RunKey
from .coordinator import VerticalKey, run_vertical
from .party import party_app

__all__ = ["COMPONENTS", "RUN_CONFIG_DEFAULTS", "party_app", "server_app"]

COMPONENTS = ("fedcare.federation.vertical.app:server_app",
              "fedcare.federation.vertical.app:party_app")
"""(serverapp, clientapp) for a vertical run's Flower app."""

RUN_CONFIG_DEFAULTS: dict[str, str | int | float | bool] = {
    VerticalKey.MODE: "train", VerticalKey.REVEAL: True, VerticalKey.MIN_OVERLAP: 100,
    VerticalKey.EPOCHS: 10, VerticalKey.LAMBDA: 1e-3, VerticalKey.TEST_FRACTION: 0.25,
    VerticalKey.SPLIT_SEED: "0", VerticalKey.OTHER_ALONE: True,
    VerticalKey.RECALIBRATE: False, VerticalKey.MODEL: "logistic", VerticalKey.TREES: 5,
    VerticalKey.DEPTH: 3, VerticalKey.BINS: 32, VerticalKey.LEARNING_RATE: 0.3,
    VerticalKey.MODEL_ID: "", VerticalKey.PSI_CHUNK: CHUNK,
    "round-timeout": 3600.0, "audit-dir": "",
    **RunKey.DEFAULTS}
"""Every run-config key a vertical run reads, with its default."""

server_app = ServerApp()


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """Flower entry point: the vertical study; ``result.json`` to ``output-dir``. Replies
    are pulled every ``pull-interval`` s (0.2 by default) as in a study, not on Flower's
    3-s schedule."""
    out = run_vertical(audit_grid(progress_grid(grid, context), context), context)
    output_dir = str(context.run_config.get(RunKey.OUTPUT_DIR, ""))
    if output_dir:
        path = Path(output_dir)
        path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path / "result.json", json.dumps(out))
