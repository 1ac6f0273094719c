"""Run a study's Flower apps in-process (embedded default)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid

from fedcare.federation._audit import audit_grid
from fedcare.federation._client import client_app
from fedcare.federation._grid import InProcessGrid
from fedcare.federation._server import run_study
from fedcare.study._config import StudyConfig

__all__ = ["run_inprocess"]


def run_inprocess(
    config: StudyConfig, sites: list[str], *, keep_messages: bool = False,
    on_send: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], InProcessGrid]:
    """Run the study with one in-process ClientApp per site.

    Parameters
    ----------
    config : StudyConfig
    sites : list of str
        Site names; each node gets ``node_config = {"site": name}``.
    on_send : callable, optional
        Called with the message type after each batch of messages (progress display).

    Returns
    -------
    result : dict
        What the ServerApp produced (see :func:`fedcare.federation._server.run_study`).
    grid : InProcessGrid
        Holds every message sent and received (for audits and tests).
    """
    runner: Callable[[Grid, Context], dict[str, Any]] = run_study
    app = client_app
    if config.secure_aggregation:
        from fedcare.federation._secagg import run_secure, secagg_client_app

        app, runner = secagg_client_app, run_secure
    return run_app(app, runner, {**config.to_run_config(), "num-sites": len(sites)}, sites,
                   keep_messages=keep_messages, on_send=on_send)


def run_app(
    app: Any, runner: Callable[[Grid, Context], dict[str, Any]], run_config: dict[str, Any],
    sites: Sequence[str], *, keep_messages: bool = False,
    on_send: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], InProcessGrid]:
    """Run ``runner`` (a ServerApp's body) against one in-process ``app`` per site.

    Each node gets ``node_config = {"site": name, "partition-id": i, "num-partitions":
    n}``; every message passes through the coordinator's audit wrapper; Flower's INFO
    logging is silenced for the run. Returns the result and the grid (its messages only
    with ``keep_messages``).
    """
    node_configs: list[dict[str, str | int | float]] = [
        {"site": name, "partition-id": i, "num-partitions": len(sites)}
        for i, name in enumerate(sites)
    ]
    grid = InProcessGrid(app, node_configs, run_config, on_send=on_send)
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    flwr_logger.setLevel(logging.WARNING)
    try:
        context = grid.server_context()
        result = runner(audit_grid(grid, context), context)
    finally:
        flwr_logger.setLevel(level)
    if not keep_messages:
        grid.messages_sent.clear()
        grid.replies_received.clear()
    return result, grid
