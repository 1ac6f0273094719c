"""Append-only, hash-chained audit logs (JSON lines) of what crossed a site's boundary.

Each line is one JSON object: the caller's record plus ``seq`` (1-based), ``time``
(UTC, ISO 8601), ``prev`` (the previous line's ``hash``; 64 zeros on line 1) and
``hash``, the SHA-256 of the canonical JSON (sorted keys, no spaces) of the line
without ``hash``.  Altering, deleting, inserting or reordering any line breaks the
chain at that line, which :func:`verify_log` names.  Removing lines from the *end*
leaves a valid shorter chain: compare ``AuditSummary.last_hash`` with a copy kept
elsewhere (e.g. the other party's log or a study report) to detect that.

Records hold only descriptions (types, sizes, array names and shapes, privacy
parameters): :class:`AuditLog` accepts JSON scalars, lists and dicts and refuses
anything else (a numpy array, bytes), so data cannot be logged by accident.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fedcare.exceptions import AuditError, DataNotFoundError

try:  # POSIX: serialise appends from several processes (e.g. simulation workers)
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer per log
    fcntl = None  # type: ignore[assignment]

__all__ = ["GENESIS_HASH", "AuditLog", "AuditSummary", "record_hash", "verify_log"]

GENESIS_HASH = "0" * 64
"""The ``prev`` of a log's first record."""

_RESERVED = ("seq", "time", "prev", "hash")
_SCALARS = (str, int, float, bool, type(None))


def _canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record`` without its ``hash`` field.

    Parameters
    ----------
    record : mapping
        One log record (with or without ``hash``).

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    return hashlib.sha256(_canonical({k: v for k, v in record.items() if k != "hash"})
                          ).hexdigest()


def _check_value(value: Any, where: str) -> None:
    """Refuse anything that is not a JSON scalar, list or str-keyed dict."""
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"audit record field '{where}' is {value}; only finite "
                             "numbers can be logged")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit record field '{where}' has a {type(key).__name__} "
                                "key; keys must be str")
            _check_value(item, f"{where}.{key}")
        return
    raise TypeError(f"audit record field '{where}' is a {type(value).__name__}; only str, "
                    "int, float, bool, None, list and dict may be logged (never data values)")


@dataclass(frozen=True)
class AuditSummary:
    """What a verified audit log holds.

    Attributes
    ----------
    path : Path
    records : int
        Number of lines (records) in the chain.
    by_type : dict of str to int
        Records per ``message_type``.
    by_direction : dict of str to int
        Records per ``direction`` (``"received"``, ``"sent"``).
    total_bytes : int
        Sum of the records' ``bytes`` fields.
    first_time, last_time : str or None
        ``time`` of the first and last records (UTC, ISO 8601).
    sites : list of str
        Sites named in the log (``site`` and ``peer`` fields, the coordinator left out).
    last_hash : str
        ``hash`` of the last record: keep it elsewhere to detect a truncated log.
    """

    path: Path
    records: int
    by_type: dict[str, int] = field(default_factory=dict)
    by_direction: dict[str, int] = field(default_factory=dict)
    total_bytes: int = 0
    first_time: str | None = None
    last_time: str | None = None
    sites: list[str] = field(default_factory=list)
    last_hash: str = GENESIS_HASH


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """1-based line numbers and raw lines (without the newline)."""
    data = path.read_bytes()
    if not data:
        return
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    yield from enumerate(pieces, start=1)


def _parse(raw: bytes, number: int, path: Path) -> dict[str, Any]:
    """One line as a record; errors name the line, never its content."""
    where = f"{path}: line {number}"
    if not raw.strip():
        raise AuditError(f"{where}: empty line")
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise AuditError(f"{where}: not UTF-8 text") from None
    except ValueError:
        raise AuditError(f"{where}: not valid JSON (truncated or edited)") from None
    if not isinstance(record, dict):
        raise AuditError(f"{where}: not a JSON object")
    for key in _RESERVED:
        if key not in record:
            raise AuditError(f"{where}: missing field '{key}'")
    if not isinstance(record["seq"], int) or isinstance(record["seq"], bool):
        raise AuditError(f"{where}: field 'seq' is not an integer")
    if not isinstance(record["hash"], str) or not isinstance(record["prev"], str):
        raise AuditError(f"{where}: fields 'hash' and 'prev' must be strings")
    return record


def verify_log(path: str | os.PathLike[str]) -> AuditSummary:
    """Check an audit log's hash chain and summarise it.

    Parameters
    ----------
    path : str or path-like
        A JSON-lines log written by :class:`AuditLog`.

    Returns
    -------
    AuditSummary

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    AuditError
        The log is empty, or a line is not a JSON record, its hash does not match its
        content, its ``prev`` does not match the previous line's hash, or its ``seq``
        is out of order.  The message names the 1-based line, never its content.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"audit log {path} not found")
    prev, count = GENESIS_HASH, 0
    by_type: Counter[str] = Counter()
    by_direction: Counter[str] = Counter()
    total_bytes = 0
    first_time: str | None = None
    last_time: str | None = None
    sites: set[str] = set()
    for number, raw in _lines(path):
        record = _parse(raw, number, path)
        where = f"{path}: line {number}"
        if record_hash(record) != record["hash"]:
            raise AuditError(f"{where}: hash mismatch (the record was altered after it was "
                             "written)")
        if record["seq"] != number:
            raise AuditError(f"{where}: seq {record['seq']} where {number} was expected (a "
                             "record was removed, inserted or reordered before this line)")
        if record["prev"] != prev:
            raise AuditError(f"{where}: prev does not match the hash of line {number - 1} "
                             "(a record was removed, inserted or altered before this line)")
        prev, count = record["hash"], number
        by_type[str(record.get("message_type", record.get("type", record.get("event", "?"))))] += 1
        by_direction[str(record.get("direction", "?"))] += 1
        size = record.get("bytes", 0)
        total_bytes += size if isinstance(size, int) and not isinstance(size, bool) else 0
        time = record["time"]
        first_time = first_time or (str(time) if time is not None else None)
        last_time = str(time) if time is not None else last_time
        for key in ("site", "peer"):
            name = record.get(key)
            if isinstance(name, str) and name != "coordinator":
                sites.add(name)
    if count == 0:
        raise AuditError(f"{path}: the audit log is empty")
    return AuditSummary(path=path, records=count, by_type=dict(sorted(by_type.items())),
                        by_direction=dict(sorted(by_direction.items())),
                        total_bytes=total_bytes, first_time=first_time, last_time=last_time,
                        sites=sorted(sites), last_hash=prev)


def _last_line(fd: int, size: int) -> bytes:
    """The last line of an open file of ``size`` bytes (without its newline)."""
    block, end, tail = 4096, size, b""
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        tail = chunk + tail
        end = start
        stripped = tail[:-1] if tail.endswith(b"\n") else tail
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return tail[:-1] if tail.endswith(b"\n") else tail


class AuditLog:
    """An append-only, hash-chained JSON-lines log.

    Opening an existing log verifies its chain (:func:`verify_log`) and continues it,
    across processes and restarts.  Appends hold an exclusive lock on the file and
    pick up records other processes appended meanwhile, so several writers can share
    one log.  Every line is flushed and fsynced before :meth:`append` returns.

    Parameters
    ----------
    path : str or path-like
        The log file; its parent folders are created.

    Raises
    ------
    AuditError
        The existing file fails verification (it is not appended to).

    Examples
    --------
    >>> log = AuditLog(tmp_path / "site-a.jsonl")  # doctest: +SKIP
    >>> log.append({"direction": "sent", "message_type": "train", "bytes": 152})  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seq = 0
        self._prev = GENESIS_HASH
        self._size = 0
        with self._locked() as fd:
            size = os.fstat(fd).st_size
            if size:
                summary = verify_log(self.path)
                self._seq, self._prev = summary.records, summary.last_hash
            self._size = size

    @property
    def records(self) -> int:
        """Records in the log as last seen by this object."""
        return self._seq

    @property
    def last_hash(self) -> str:
        """``hash`` of the last record (64 zeros when empty)."""
        return self._prev

    @contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # also releases the lock

    def _resync(self, fd: int, size: int) -> None:
        """Another writer appended since our last write: continue after its last record."""
        raw = _last_line(fd, size)
        try:
            last = json.loads(raw.decode("utf-8"))
            seq, prev = last["seq"], last["hash"]
        except (ValueError, KeyError, TypeError):
            raise AuditError(f"{self.path}: the last line is not a complete record; "
                             "run `fedcare audit verify` on it") from None
        if not isinstance(seq, int) or not isinstance(prev, str):
            raise AuditError(f"{self.path}: the last line is not a complete record")
        self._seq, self._prev = seq, prev

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append one record; returns it with ``seq``, ``time``, ``prev`` and ``hash``.

        Parameters
        ----------
        record : mapping of str to JSON value
            A description (never data values): str, int, float, bool, None, and
            lists and str-keyed dicts of these.  ``seq``, ``time``, ``prev`` and
            ``hash`` are set here and may not be given.

        Returns
        -------
        dict
            The record as written.

        Raises
        ------
        TypeError
            A value is not a JSON type (e.g. a numpy array or bytes).
        ValueError
            A reserved field is given, or a number is NaN or infinite.
        """
        for key in _RESERVED:
            if key in record:
                raise ValueError(f"audit record field '{key}' is set by the log; remove it")
        for key, value in record.items():
            if not isinstance(key, str):
                raise TypeError(f"audit record keys must be str, got {type(key).__name__}")
            _check_value(value, key)
        with self._locked() as fd:
            size = os.fstat(fd).st_size
            if size != self._size:
                self._resync(fd, size)
            out: dict[str, Any] = {
                **record,
                "seq": self._seq + 1,
                "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                "prev": self._prev,
            }
            out["hash"] = record_hash(out)
            line = _canonical(out) + b"\n"
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
            self._seq, self._prev = out["seq"], out["hash"]
            self._size = size + len(line)
        return out
