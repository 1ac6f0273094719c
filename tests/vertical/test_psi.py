"""Private set intersection: exact, through Flower messages, and telling nothing else."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flwr.app import ConfigRecord, Message

from fedcare.exceptions import DataError
from fedcare.study._vertical import Party, run_vertical_study
from fedcare.vertical import psi
from fedcare.vertical.channel import ChannelKey, open_blob, seal_blob
from fedcare.vertical.ids import normalise_one


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    return [f"{v:012d}" for v in rng.choice(10 ** 12, n, replace=False)]


def test_blinding_commutes_and_finds_exactly_the_shared_ids() -> None:
    rng = np.random.default_rng(1)
    pool = _ids(rng, 3000)
    mine, theirs = pool[:2000], pool[1200:]  # 800 shared
    salt = os.urandom(32)
    a, b = psi.PsiKey.generate(), psi.PsiKey.generate()
    mine_ab = b.blind(a.blind(psi.hash_points(mine, salt)))
    theirs_ba = a.blind(b.blind(psi.hash_points(theirs, salt)))
    i, j = psi.overlap_positions(mine_ab, theirs_ba)
    assert len(i) == 800
    assert all(mine[p] == theirs[q] for p, q in zip(i, j, strict=True))
    assert {mine[p] for p in i} == set(mine) & set(theirs)
    # another study (salt) or another key gives unrelated points
    other = b.blind(a.blind(psi.hash_points(mine, os.urandom(32))))
    assert psi.match(other, theirs_ba) == 0
    assert psi.match(psi.PsiKey.generate().blind(a.blind(psi.hash_points(mine, salt))),
                     theirs_ba) == 0


def test_parallel_batches_equal_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psi, "BATCH", 50)
    monkeypatch.setattr(psi, "_MIN_PARALLEL", 100)
    points = psi.hash_points(_ids(np.random.default_rng(2), 530), b"salt")
    key = psi.PsiKey.generate()
    assert np.array_equal(key.blind(points, workers=2), key.blind(points, workers=1))


def test_the_channel_refuses_a_changed_or_misdirected_blob() -> None:
    study = os.urandom(32)
    a, b = ChannelKey.generate(), ChannelKey.generate()
    key_a, key_b = a.shared(b.public, study), b.shared(a.public, study)
    assert key_a == key_b
    blob = seal_blob(key_a, b"scores", "psi-1")
    assert open_blob(key_b, blob, "psi-1") == b"scores"
    with pytest.raises(DataError, match="failed authentication"):
        open_blob(key_b, blob, "psi-2")
    with pytest.raises(DataError):
        open_blob(key_b, blob[:-1] + bytes([blob[-1] ^ 1]), "psi-1")


def _parties(h: Path, i: Path, label: bool = True) -> list[Party]:
    return [Party("hospital", h, "patient_id", label="event" if label else None),
            Party("insurer", i, "member_id")]


def test_psi_through_messages_equals_the_true_intersection(
        party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, shared = party_files
    result = run_vertical_study(_parties(h, i, label=False), train=False, min_overlap=1)
    assert result["psi"]["overlap"] == len(shared)
    assert result["psi"]["sizes"] == {"hospital": len(pd.read_csv(h)),
                                      "insurer": len(pd.read_csv(i))}
    report = result["psi"]["normalisation"]["insurer"]
    assert report["case_folded"] > 0 and report["separators_removed"] > 0
    assert report["width_folded"] > 0


def _values(message: Message) -> list[bytes]:
    """Every value of a message's records as bytes, but the coordinator's public CKKS
    context (``he``: keys it drew before any party sent anything; 35 MB)."""
    out: list[bytes] = []
    for record in message.content.config_records.values():
        assert isinstance(record, ConfigRecord)
        for key, value in record.items():
            if key == "he":
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                out.append(item if isinstance(item, bytes) else str(item).encode())
    return out


def test_no_message_holds_an_identifier_a_feature_value_or_the_label(
        party_files: tuple[Path, Path, set[str]]) -> None:
    from fedcare.federation.engines.inprocess import run_vertical_inprocess

    h, i, _ = party_files
    hospital, insurer = pd.read_csv(h), pd.read_csv(i, dtype={"member_id": str})
    config = {"vertical-mode": "train", "vertical-epochs": 2, "vertical-min-overlap": 10,
              "vertical-other-alone": False}
    _, grid = run_vertical_inprocess([p.node_config() for p in _parties(h, i)], config,
                                     keep_messages=True)
    messages = grid.messages_sent + grid.replies_received
    assert len(messages) > 20
    blobs = [v for m in messages for v in _values(m)]
    identifiers = {*hospital["patient_id"], *insurer["member_id"].str.strip()}
    normalised = {normalise_one(v) for v in identifiers} - {None}
    hashes = {hashlib.sha256(str(v).encode()).digest() for v in normalised}
    for needle in [str(v).encode() for v in identifiers | normalised] + list(hashes):
        assert not any(needle in blob for blob in blobs)
    # feature values, as text or as float64 bytes
    values = [*hospital["bp"].head(50), *hospital["chol"].head(50), *insurer["claims"].head(50)]
    for value in values:
        assert not any(repr(float(value)).encode() in blob or
                       np.float64(value).tobytes() in blob for blob in blobs)
    # the label, as the passive party could read it: never in what it receives
    to_insurer = [m for m in grid.messages_sent if m.metadata.dst_node_id == 1001]
    label = hospital["event"].to_numpy()
    for m in to_insurer:
        for blob in _values(m):
            assert label[:64].astype(np.float64).tobytes() not in blob
            assert label[:64].astype(np.int64).tobytes() not in blob
            assert "".join(map(str, label[:64])).encode() not in blob


def _run_cli(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from fedcare.cli import app

    return CliRunner().invoke(app, ["vertical", *args])


def test_duplicate_identifiers_are_refused_by_row_never_by_value(tmp_path: Path,
        party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, _ = party_files
    frame = pd.read_csv(i, dtype={"member_id": str})
    frame.loc[5, "member_id"] = frame.loc[9, "member_id"].lower()
    frame.to_csv(i, index=False)
    out = tmp_path / "psi.json"
    result = _run_cli(["psi", "--party", f"hospital={h}:patient_id", "--party",
                       f"insurer={i}:member_id", "--json", str(out)])
    assert result.exit_code == 3, result.output  # a party's data error keeps its code
    assert "party 'insurer'" in result.output and "rows 10)" in result.output  # data row 10
    assert "node" not in result.output
    assert frame.loc[9, "member_id"].strip() not in result.output
    assert not out.exists()


def test_an_overlap_below_the_minimum_is_refused_and_nothing_is_written(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, shared = party_files
    out = tmp_path / "out.json"
    result = _run_cli(["train", "--party", f"hospital={h}:patient_id", "--party",
                       f"insurer={i}:member_id", "--label", "hospital:event",
                       "--min-overlap", str(len(shared) + 1), "--json", str(out)])
    assert result.exit_code == 3, result.output
    assert f"share {len(shared)} people" in result.output and "minimum" in result.output
    assert not out.exists()


@pytest.mark.parametrize("args, code, text", [
    (["--label", "clinic:event"], 5, "PARTY:COLUMN"),
    (["--label", "hospital:outcome"], 3, "no column(s) ['outcome']"),
    (["--label", "insurer:claims"], 3, "exactly two values"),
    (["--label", "insurer:plan"], 3, "name the value that means the outcome"),
    (["--label", "insurer:plan", "--positive", "gold"], 3, "not one of the label's two"),
    (["--label", "hospital:event", "--id-kind", "resident_id"], 3,
     "no usable identifier in column 'patient_id'"),
    (["--label", "hospital:event", "--min-overlap", "1", "--test-fraction", "0.999"], 3,
     "too few shared people"),
])
def test_bad_arguments_get_clear_errors(party_files: tuple[Path, Path, set[str]],
                                        args: list[str], code: int, text: str) -> None:
    h, i, _ = party_files
    result = _run_cli(["train", "--party", f"hospital={h}:patient_id", "--party",
                       f"insurer={i}:member_id", "--epochs", "1", *args])
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output
