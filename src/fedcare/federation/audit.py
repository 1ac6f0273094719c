"""Audit logs of every Flower message a site or the coordinator receives and sends.

A site's ClientApp gets the audit mod (:mod:`fedcare.federation.site.mods`); the
coordinator's grid is wrapped in an auditing grid
(:mod:`fedcare.federation.coordinator.grid`).  Both write through
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
from pathlib import Path
from typing import Any

from flwr.app import Context, Message, RecordDict

from fedcare.privacy._audit import AuditLog

from .protocol import ConfigKey, RunKey

__all__ = ["AUDIT_DIR_KEY", "audit_log", "describe", "site_log_path", "site_name"]

AUDIT_DIR_KEY = RunKey.AUDIT_DIR
"""Run-config key naming the folder for audit logs (empty: no audit)."""

LOGGED_PREFIXES = ("dp-", "privacy-", "secagg-")
"""Config keys with these prefixes are logged with their values."""

LOGGED_KEYS = frozenset({ConfigKey.SERVER_ROUND, ConfigKey.PROXIMAL_MU})
"""Further config keys logged with their values."""

_logs: dict[Path, AuditLog] = {}
_logs_lock = threading.Lock()


def audit_log(path: Path) -> AuditLog:
    """One :class:`AuditLog` per file in this process."""
    path = path.resolve()
    with _logs_lock:
        if path not in _logs:
            _logs[path] = AuditLog(path)
        return _logs[path]


def _allowed(key: str) -> bool:
    return key in LOGGED_KEYS or key.startswith(LOGGED_PREFIXES)


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


def site_name(context: Context) -> str:
    return str(context.node_config.get("site", f"node{context.node_id}"))


