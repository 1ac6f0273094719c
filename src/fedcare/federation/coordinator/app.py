"""The coordinator's Flower ServerApp: a study, an analytics run or a quality check."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedcare._io import write_text_atomic
from fedcare.exceptions import ConfigError

from ..protocol import RunKey
from .analytics import run_analytics
from .grid import ProgressGrid, ProgressLog, audit_grid, engine_pull_interval
from .quality import run_quality_check
from .study import coordinate_study

__all__ = ["PROGRESS_FILE", "RUNNERS", "progress_grid", "run_task", "server_app"]

server_app = ServerApp()


PROGRESS_FILE = "progress.jsonl"
"""In ``output-dir``: one JSON line per finished training round and per message sent and
reply received (:class:`~fedcare.federation.coordinator.grid.ProgressLog`; read by
``submit`` and the console)."""


def _study(grid: Grid, context: Context) -> dict[str, Any]:
    output_dir = str(context.run_config.get(RunKey.OUTPUT_DIR, ""))
    rounds = int(context.run_config.get("rounds", 0) or 0)

    def progress(record: Any) -> None:
        if not output_dir:
            return
        ProgressLog(Path(output_dir) / PROGRESS_FILE).append({
            "round": record.round, "of": rounds, "seconds": record.seconds,
            "sites": list(record.sites), "accuracy": record.accuracy,
            "test_loss": record.test_loss, "train_loss": record.train_loss})

    return coordinate_study(grid, context, on_round=progress).to_dict()


RUNNERS: dict[str, Callable[[Grid, Context], dict[str, Any]]] = {
    "study": _study, "analytics": run_analytics, "quality": run_quality_check}
"""What the ServerApp runs, by the run config's ``task`` (default ``study``)."""


def run_task(grid: Grid, context: Context) -> dict[str, Any]:
    """Run the task the run config names, through the audited grid; its JSON result."""
    task = str(context.run_config.get(RunKey.TASK, "study"))
    if task not in RUNNERS:
        raise ConfigError(f"run config '{RunKey.TASK}' must be one of {sorted(RUNNERS)}, "
                          f"got '{task}'")
    return RUNNERS[task](audit_grid(grid, context), context)


def _pull_interval_of(context: Context) -> float:
    """The run config's ``pull-interval`` in seconds (> 0), or a ConfigError."""
    raw = context.run_config.get(RunKey.PULL_INTERVAL, RunKey.DEFAULTS[RunKey.PULL_INTERVAL])
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0:
        raise ConfigError(f"run config '{RunKey.PULL_INTERVAL}' must be a number of seconds "
                          f"> 0, got {raw!r}")
    return value


def progress_grid(grid: Grid, context: Context) -> ProgressGrid:
    """``grid`` pulling replies every ``pull-interval`` s (never slower than the engine
    grid's own; Flower's gRPC grid waits 3 s), each reported as it arrives when the run
    has an ``output-dir``, for the study lead (submit, console)."""
    output_dir = str(context.run_config.get(RunKey.OUTPUT_DIR, ""))
    interval = min(_pull_interval_of(context), engine_pull_interval(grid))
    return ProgressGrid(grid, ProgressLog(Path(output_dir) / PROGRESS_FILE)
                        if output_dir else None, interval=interval)


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """Flower entry point: run the task, write ``result.json`` to ``output-dir``."""
    output_dir = str(context.run_config.get(RunKey.OUTPUT_DIR, ""))
    out = run_task(progress_grid(grid, context), context)
    if output_dir:
        path = Path(output_dir)
        path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path / "result.json", json.dumps(out))
