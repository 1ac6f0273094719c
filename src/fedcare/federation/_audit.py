"""Audit logs of every Flower message a site or the coordinator receives and sends.

A site's ClientApp gets :func:`make_audit_mod` (a Flower client mod); the coordinator's
grid is wrapped in :class:`AuditingGrid`.  Both write through
:class:`fedcare.privacy._audit.AuditLog` when the run config's ``audit-dir`` is set:
``<audit-dir>/site-<name>.jsonl`` per site and ``<audit-dir>/coordinator.jsonl``.

A record describes a message (:func:`describe`): its type, round, node ids, array
names, shapes and dtypes, byte size, the *names* of its metrics and config entries,
and the values of a short allow-list of privacy parameters.  Never array or metric
values.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flwr.app import Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable, Mod
from flwr.serverapp import Grid

from fedcare.federation._grid import GridWrapper
from fedcare.privacy._audit import AuditLog

__all__ = ["AuditingGrid", "audit_grid", "describe", "make_audit_mod", "site_log_path"]

AUDIT_DIR_KEY = "audit-dir"
"""Run-config key naming the folder for audit logs (empty: no audit)."""

PRIVACY_PREFIXES = ("dp-", "privacy-", "secagg-")
"""Config keys with these prefixes are logged with their values."""

PRIVACY_KEYS = frozenset({"server-round", "proximal-mu"})
"""Further config keys logged with their values."""

_logs: dict[Path, AuditLog] = {}
_logs_lock = threading.Lock()


def _log(path: Path) -> AuditLog:
    """One :class:`AuditLog` per file in this process."""
    path = path.resolve()
    with _logs_lock:
        if path not in _logs:
            _logs[path] = AuditLog(path)
        return _logs[path]


def _allowed(key: str) -> bool:
    return key in PRIVACY_KEYS or key.startswith(PRIVACY_PREFIXES)


def _safe_value(value: Any) -> Any:
    """A config value fit for the log: scalars and lists of scalars; bytes as a length."""
    if isinstance(value, bytes):
        return {"bytes": len(value)}
    if isinstance(value, list):
        return [_safe_value(v) for v in value]
    if isinstance(value, float | int | str | bool):
        return value
    return str(type(value).__name__)


def _round(group_id: str, privacy: dict[str, dict[str, Any]]) -> int | None:
    for values in privacy.values():
        value = values.get("server-round")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return int(group_id) if group_id.isdigit() else None


def describe(message: Message, direction: str) -> dict[str, Any]:
    """Summarise a Flower message for an audit log: structure only, never values.

    Parameters
    ----------
    message : flwr.app.Message
    direction : {"received", "sent"}
        Seen from the party keeping the log.

    Returns
    -------
    dict
        ``direction``, ``message_type``, ``round`` (``server-round`` or a numeric
        ``group_id``, else None), ``group_id``, ``message_id``, ``reply_to`` (when a
        reply), ``src_node`` and ``dst_node``; then for a message with content:
        ``arrays`` (per ArrayRecord, a list of ``{"name", "shape", "dtype"}``),
        ``bytes`` (total serialised array bytes), ``metrics`` and ``config`` (per
        record, the sorted key names) and ``privacy`` (per ConfigRecord, the values of
        allow-listed keys: ``dp-*``, ``privacy-*``, ``secagg-*``, ``server-round``,
        ``proximal-mu``); for an error reply: ``error`` (``code`` and the length of
        ``reason``) and ``bytes`` 0.
    """
    if direction not in ("received", "sent"):
        raise ValueError(f"direction must be 'received' or 'sent', got '{direction}'")
    meta = message.metadata
    out: dict[str, Any] = {
        "direction": direction,
        "message_type": meta.message_type,
        "group_id": meta.group_id,
        "message_id": meta.message_id,
        "src_node": int(meta.src_node_id),
        "dst_node": int(meta.dst_node_id),
    }
    if meta.reply_to_message_id:
        out["reply_to"] = meta.reply_to_message_id
    privacy: dict[str, dict[str, Any]] = {}
    if message.has_error():
        error = message.error
        out["error"] = {"code": int(error.code), "reason_length": len(error.reason or "")}
        out["bytes"] = 0
    elif message.has_content():
        content: RecordDict = message.content
        arrays: dict[str, list[dict[str, Any]]] = {}
        size = 0
        for key, record in content.array_records.items():
            entries = []
            for name, array in record.items():
                entries.append({"name": name, "shape": [int(d) for d in array.shape],
                                "dtype": str(array.dtype)})
                size += len(array.data)
            arrays[key] = entries
        out["arrays"] = arrays
        out["bytes"] = size
        out["metrics"] = {key: sorted(record.keys())
                          for key, record in content.metric_records.items()}
        out["config"] = {key: sorted(record.keys())
                         for key, record in content.config_records.items()}
        for key, config in content.config_records.items():
            allowed = {k: _safe_value(v) for k, v in config.items() if _allowed(k)}
            if allowed:
                privacy[key] = allowed
        out["privacy"] = privacy
    else:
        out["bytes"] = 0
    out["round"] = _round(meta.group_id, privacy)
    return out


def site_log_path(audit_dir: str | Path, context: Context) -> Path:
    """``<audit-dir>/site-<name>.jsonl``; name from ``node_config['site']`` or the node id."""
    name = str(context.node_config.get("site", f"node{context.node_id}"))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or f"node{context.node_id}"
    return Path(audit_dir) / f"site-{safe}.jsonl"


def _site_name(context: Context) -> str:
    return str(context.node_config.get("site", f"node{context.node_id}"))


def make_audit_mod() -> Mod:
    """A Flower client mod that logs every message a site receives and sends.

    Active when ``context.run_config['audit-dir']`` is a non-empty folder path; the
    log is ``<audit-dir>/site-<name>.jsonl``.  The incoming message is logged before
    the app handles it, the reply after; if the app raises, a ``sent`` record with
    the exception's type name (never its message) is logged and the exception
    propagates.

    Returns
    -------
    Mod
        ``(message, context, call_next) -> Message``; use as ``ClientApp(mods=[...])``.
    """

    def audit_mod(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
        audit_dir = str(context.run_config.get(AUDIT_DIR_KEY, "") or "")
        if not audit_dir:
            return call_next(message, context)
        log = _log(site_log_path(audit_dir, context))
        site = _site_name(context)
        received = describe(message, "received")
        log.append({"site": site, "peer": "coordinator", **received})
        try:
            reply = call_next(message, context)
        except Exception as exc:
            log.append({"site": site, "peer": "coordinator", "direction": "sent",
                        "message_type": message.metadata.message_type,
                        "group_id": message.metadata.group_id,
                        "reply_to": message.metadata.message_id, "bytes": 0,
                        "round": received["round"],
                        "error": {"exception": type(exc).__name__}})
            raise
        sent = describe(reply, "sent")
        if sent["round"] is None:
            sent["round"] = received["round"]
        log.append({"site": site, "peer": "coordinator", **sent})
        return reply

    return audit_mod


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
        self.log = _log(Path(path))
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
