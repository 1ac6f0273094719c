"""Grids the coordinator wraps around the engine's: participants only, and the audit log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flwr.app import Context, Message, RecordDict
from flwr.proto.node_pb2 import NodeInfo
from flwr.serverapp import Grid
from flwr.supercore.run import Run

from ..audit import AUDIT_DIR_KEY, audit_log, describe
from ..protocol import site_of
from .rounds import failure_line

__all__ = ["AuditingGrid", "GridWrapper", "Participants", "ProgressGrid", "ProgressLog",
           "audit_grid", "engine_pull_interval"]


class GridWrapper(Grid):
    """A Grid that delegates every call to another; subclasses override what they add.

    Parameters
    ----------
    grid : flwr.serverapp.Grid
        The grid doing the work.
    """

    def __init__(self, grid: Grid) -> None:
        self._grid = grid

    def set_run(self, run: Run) -> None:
        self._grid.set_run(run)

    @property
    def run(self) -> Run:
        return self._grid.run

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return self._grid.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self._grid.get_node_ids()

    def get_nodes(self) -> Iterable[NodeInfo]:
        return self._grid.get_nodes()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._grid.pull_messages(message_ids)

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        return self._grid.send_and_receive(messages, timeout=timeout)


class Participants(GridWrapper):
    """The study's grid restricted to the sites taking part (excluded ones are skipped)."""

    def __init__(self, grid: Grid, node_ids: Iterable[int]) -> None:
        super().__init__(grid)
        self._nodes = list(node_ids)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._nodes)

    def get_nodes(self) -> Iterable[NodeInfo]:
        return (NodeInfo(node_id=n) for n in self._nodes)


class AuditingGrid(GridWrapper):
    """A grid that logs every message the coordinator sends and every reply it receives.

    Parameters
    ----------
    grid : flwr.serverapp.Grid
        The grid doing the work; every call is delegated to it.
    path : str or path-like
        The coordinator's log, e.g. ``<audit-dir>/coordinator.jsonl``.
    """

    def __init__(self, grid: Grid, path: str | Path) -> None:
        super().__init__(grid)
        self.log = audit_log(Path(path))
        self._rounds: dict[str, int | None] = {}  # message id -> round, for its reply

    def _record(self, message: Message, direction: str) -> None:
        meta = message.metadata
        node = meta.dst_node_id if direction == "sent" else meta.src_node_id
        record = describe(message, direction)
        if direction == "sent":
            self._rounds[meta.message_id] = record["round"]
        elif record["round"] is None:
            record["round"] = self._rounds.pop(meta.reply_to_message_id, None)
        self.log.append({"site": "coordinator", "peer": f"node{node}", **record})

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        messages = list(messages)
        try:
            return list(self._grid.push_messages(messages))
        finally:  # after the push: message ids are assigned by then
            for message in messages:
                self._record(message, "sent")

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        replies = list(self._grid.pull_messages(message_ids))
        for reply in replies:
            self._record(reply, "received")
        return replies

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        messages = list(messages)
        try:
            replies = list(self._grid.send_and_receive(messages, timeout=timeout))
        finally:
            for message in messages:
                self._record(message, "sent")
        for reply in replies:
            self._record(reply, "received")
        return replies


def audit_grid(grid: Grid, context: Context) -> Grid:
    """``grid`` wrapped in an :class:`AuditingGrid` when the run config sets ``audit-dir``.

    Parameters
    ----------
    grid : flwr.serverapp.Grid
    context : flwr.app.Context
        The ServerApp's context.

    Returns
    -------
    Grid
        ``grid`` itself when ``audit-dir`` is unset or empty.
    """
    audit_dir = str(context.run_config.get(AUDIT_DIR_KEY, "") or "")
    if not audit_dir:
        return grid
    return AuditingGrid(grid, Path(audit_dir) / "coordinator.jsonl")


class ProgressLog:
    """``progress.jsonl`` in a run's output folder: one JSON object per line, appended.

    Round lines (``{"round", "of", "seconds", "sites", ...}``) come from the study; the
    :class:`ProgressGrid` adds ``{"event": "asked" | "reply" | "silent", ...}`` lines as
    messages leave and replies arrive. Readers (``fedcare study submit``, the console's
    federation pages) skip a line they cannot parse yet.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({**record, "at": round(time.time(), 3)})
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def engine_pull_interval(grid: Grid) -> float:
    """Seconds between pulls of the engine's own grid (Flower's gRPC grid waits 3 s)."""
    while isinstance(grid, GridWrapper):
        grid = grid._grid
    return float(getattr(grid, "pull_interval", 3.0))


class ProgressGrid(GridWrapper):
    """A grid that pulls replies on its own schedule and reports each as it arrives.

    ``send_and_receive`` pushes, then pulls through the engine grid's public
    ``pull_messages`` every ``interval`` seconds until every reply is in or the timeout
    passes — the same loop as Flower's grids, whose gRPC grid waits 3 s between pulls
    (``flwr/superlink/grid/http_grid.py``); a pull is one small call to the SuperLink,
    so a short interval costs the SuperLink little and a round no longer waits up to
    3 s after its last reply has arrived. With a :class:`ProgressLog` it appends which
    sites were asked, each reply (answered, or failed with its one-line reason) with its
    delay, and the sites still silent at the timeout. A site waiting for its steward's
    approval is silent; the study lead sees that while it waits, and the refusal's
    reason when it comes.

    Parameters
    ----------
    grid : flwr.serverapp.Grid
    log : ProgressLog or None
        Where to report; ``None`` to pull on this schedule without reporting.
    interval : float, optional
        Seconds between pulls (run config ``pull-interval``); default: the engine
        grid's own (3 s for Flower's gRPC grid, 0.1 s for its in-memory one).
    """

    def __init__(self, grid: Grid, log: ProgressLog | None = None,
                 interval: float | None = None) -> None:
        super().__init__(grid)
        self.log = log
        if interval is not None and not interval > 0:
            raise ValueError(f"pull interval must be > 0 s, got {interval}")
        self.interval = engine_pull_interval(grid) if interval is None else float(interval)

    def _append(self, record: Mapping[str, Any]) -> None:
        if self.log is not None:
            self.log.append(record)

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        messages = list(messages)
        if not messages:
            return []
        kind = messages[0].metadata.message_type
        pending = set(self.push_messages(messages))
        nodes = {m.metadata.message_id: m.metadata.dst_node_id for m in messages}
        self._append({"event": "asked", "type": kind,
                         "nodes": sorted(nodes.values())})
        started = time.time()
        end = started + (timeout if timeout is not None else 0.0)
        replies: list[Message] = []
        while timeout is None or time.time() < end:
            for reply in self.pull_messages(pending):
                replies.append(reply)
                pending.discard(reply.metadata.reply_to_message_id)
                node = reply.metadata.src_node_id
                site = site_of(reply)
                record: dict[str, Any] = {
                    "event": "reply", "type": kind, "node": node,
                    "site": None if site.startswith("node ") else site,
                    "seconds": round(time.time() - started, 3),
                    "ok": not reply.has_error()}
                if reply.has_error():
                    record["reason"] = failure_line(
                        f"node {node}", reply.error.reason or f"error code {reply.error.code}")
                self._append(record)
            if not pending:
                break
            time.sleep(self.interval)
        if pending:
            self._append({"event": "silent", "type": kind,
                             "nodes": sorted(nodes[m] for m in pending if m in nodes)})
        return replies
