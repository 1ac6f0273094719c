"""Hash-chained audit logs: a clean chain verifies; any edit is caught at its line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fedcare.exceptions import AuditError, DataNotFoundError
from fedcare.privacy._audit import GENESIS_HASH, AuditLog, record_hash, verify_log


def _record(i: int) -> dict[str, object]:
    return {"direction": "sent" if i % 2 else "received",
            "message_type": "train" if i % 3 else "evaluate", "bytes": 100 + i,
            "arrays": {"arrays": [{"name": "0", "shape": [13, i], "dtype": "float64"}]},
            "site": "alpha", "peer": "coordinator", "round": i}


def _chain(path: Path, n: int = 20) -> list[dict[str, object]]:
    log = AuditLog(path)
    return [log.append(_record(i)) for i in range(1, n + 1)]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_clean_chain_verifies_and_summarises(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "site-alpha.jsonl"  # parent folder created
    written = _chain(path)
    summary = verify_log(path)
    assert summary.records == 20
    assert summary.by_direction == {"received": 10, "sent": 10}
    assert summary.by_type == {"evaluate": 6, "train": 14}
    assert summary.total_bytes == sum(100 + i for i in range(1, 21))
    assert summary.sites == ["alpha"]
    assert summary.first_time == written[0]["time"]
    assert summary.last_time == written[-1]["time"]
    assert summary.last_hash == written[-1]["hash"]
    first = json.loads(_lines(path)[0])
    assert first["seq"] == 1 and first["prev"] == GENESIS_HASH
    assert first["hash"] == record_hash(first)
    assert [json.loads(line)["seq"] for line in _lines(path)] == list(range(1, 21))


def test_tampered_field_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _chain(path)
    lines = _lines(path)
    assert '"shape":[13,7]' in lines[6]
    lines[6] = lines[6].replace('"shape":[13,7]', '"shape":[13,8]')
    path.write_text("".join(lines))
    with pytest.raises(AuditError, match=r"line 7: hash mismatch") as info:
        verify_log(path)
    assert "13,8" not in str(info.value)  # names the line, never its content


def test_rehashed_tampered_line_breaks_the_next_link(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _chain(path)
    lines = _lines(path)
    record = json.loads(lines[6])
    record["bytes"] = 1
    record["hash"] = record_hash(record)
    lines[6] = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    path.write_text("".join(lines))
    with pytest.raises(AuditError, match=r"line 8: prev does not match the hash of line 7"):
        verify_log(path)


def test_deleted_line_names_its_position(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _chain(path)
    lines = _lines(path)
    del lines[4]
    path.write_text("".join(lines))
    with pytest.raises(AuditError, match=r"line 5: seq 6 where 5 was expected"):
        verify_log(path)


def test_swapped_lines_are_caught(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _chain(path)
    lines = _lines(path)
    lines[9], lines[10] = lines[10], lines[9]
    path.write_text("".join(lines))
    with pytest.raises(AuditError, match=r"line 10: seq 11"):
        verify_log(path)


def test_non_json_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _chain(path, 5)
    lines = _lines(path)
    lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    path.write_text("".join(lines))
    with pytest.raises(AuditError, match=r"line 3: not valid JSON"):
        verify_log(path)


def test_empty_and_missing_logs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(AuditError, match="empty"):
        verify_log(empty)
    with pytest.raises(DataNotFoundError):
        verify_log(tmp_path / "missing.jsonl")


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _chain(path, 3)
    again = AuditLog(path)
    assert again.records == 3
    record = again.append(_record(4))
    assert record["seq"] == 4
    assert record["prev"] == json.loads(_lines(path)[2])["hash"]
    assert verify_log(path).records == 4


def test_two_writers_share_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    first, second = AuditLog(path), AuditLog(path)
    for i in range(6):
        (first if i % 2 else second).append(_record(i))
    assert verify_log(path).records == 6


def test_reopening_a_broken_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _chain(path, 4)
    lines = _lines(path)
    del lines[1]
    path.write_text("".join(lines))
    with pytest.raises(AuditError, match="line 2"):
        AuditLog(path)


@pytest.mark.parametrize("value", [np.zeros(3), b"raw", np.array([1.5]), {1: "a"}, float("nan")])
def test_refuses_values_that_are_not_plain_json(tmp_path: Path, value: object) -> None:
    log = AuditLog(tmp_path / "log.jsonl")
    with pytest.raises((TypeError, ValueError)):
        log.append({"nested": {"arrays": [value]}})
    with pytest.raises(ValueError, match="hash"):
        log.append({"hash": "x"})
    assert (tmp_path / "log.jsonl").read_text() == ""
