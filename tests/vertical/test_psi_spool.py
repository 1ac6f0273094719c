"""The overlap-only PSI streamed through each party's spool folder: exact, a chunk per
message whatever the file's size, nothing left on disk, and no identifier anywhere."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flwr.app import ConfigRecord

from fedcare.exceptions import DataError
from fedcare.federation.engines.inprocess import run_vertical_inprocess
from fedcare.study._vertical import Party
from fedcare.vertical import psi, spool
from fedcare.vertical.ids import normalise_ids, normalise_one, require_unique


def _parties(h: Path, i: Path, folder: Path) -> list[dict[str, str]]:
    return [{**Party("hospital", h, "patient_id").node_config(), "spool": str(folder / "h")},
            {**Party("insurer", i, "member_id").node_config(), "spool": str(folder / "i")}]


def _run(h: Path, i: Path, folder: Path, chunk: int, **extra: object):
    config = {"vertical-mode": "psi", "vertical-reveal": False, "vertical-min-overlap": 1,
              "vertical-psi-chunk": chunk, **extra}
    return run_vertical_inprocess(_parties(h, i, folder), config, keep_messages=True)


def _blob_sizes(grid: object) -> list[int]:
    sizes = []
    for message in grid.messages_sent + grid.replies_received:  # type: ignore[attr-defined]
        for record in message.content.config_records.values():
            assert isinstance(record, ConfigRecord)
            sizes += [len(v) for v in record.values() if isinstance(v, bytes)]
    return sizes


def test_spooled_psi_equals_the_true_intersection_a_chunk_per_message(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, shared = party_files
    n_h, n_i = len(pd.read_csv(h)), len(pd.read_csv(i))
    result, grid = _run(h, i, tmp_path, chunk=97)
    assert result["psi"]["overlap"] == len(shared)
    assert result["psi"]["sizes"] == {"hospital": n_h, "insurer": n_i}
    assert result["psi"]["revealed_to"] is None
    report = result["psi"]["normalisation"]["insurer"]
    assert report["case_folded"] > 0 and report["width_folded"] > 0
    assert report["total"] == n_i and report["usable"] == n_i
    # the same counts as reading the whole column at once
    _, whole = normalise_ids(pd.read_csv(i, dtype={"member_id": str})["member_id"],
                             source="x")
    assert {k: v for k, v in report.items() if k not in ("source", "left_out")} == \
        {k: v for k, v in whole.to_dict().items() if k != "source"}
    # no blob holds more than a chunk of points (plus the seal's few bytes) ...
    assert max(_blob_sizes(grid)) <= 97 * psi.POINT + 64
    # ... so a file of n people takes about n / chunk message rounds, not one
    types = [m.metadata.message_type for m in grid.messages_sent]
    assert types.count("query.vspool") >= 2 * (max(n_h, n_i) // 97)
    # each party's spool folder is gone once the PSI ends
    assert not list((tmp_path / "h").glob("fedcare-psi-*"))
    assert not list((tmp_path / "i").glob("fedcare-psi-*"))


def test_one_chunk_each_takes_three_psi_rounds_as_in_memory(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, shared = party_files
    result, grid = _run(h, i, tmp_path, chunk=spool.CHUNK)
    assert result["psi"]["overlap"] == len(shared)
    types = [m.metadata.message_type for m in grid.messages_sent]
    # round 1: both send; round 2: both blind (and b's first sorted piece); round 3: a
    # matches: 5 messages, no in-memory PSI step
    assert types.count("query.vspool") == 5 and "query.vpsi" not in types


def test_no_spooled_message_holds_an_identifier_or_its_hash(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, _ = party_files
    _, grid = _run(h, i, tmp_path, chunk=150)
    blobs = [v if isinstance(v, bytes) else str(v).encode()
             for m in grid.messages_sent + grid.replies_received
             for record in m.content.config_records.values()
             for v in record.values()]
    identifiers = {*pd.read_csv(h)["patient_id"].astype(str),
                   *pd.read_csv(i, dtype={"member_id": str})["member_id"].str.strip()}
    normalised = {normalise_one(v) for v in identifiers} - {None}
    hashes = {hashlib.sha256(str(v).encode()).digest() for v in normalised}
    for needle in [v.encode() for v in identifiers | normalised] + list(hashes):
        assert not any(needle in blob for blob in blobs)


def test_the_spool_never_holds_an_identifier_and_sends_in_value_order(tmp_path: Path) -> None:
    ids = [f"MRN-{v:07d}" for v in range(5000)]
    pd.DataFrame({"id": ids}).to_csv(tmp_path / "a.csv", index=False)
    store = spool.Spool.create(tmp_path)
    key, salt = psi.PsiKey.generate(), os.urandom(32)
    n, _ = spool.spool_own(tmp_path / "a.csv", "id", name="a", kind="generic", salt=salt,
                           key=key, spool=store, chunk=700)
    assert n == 5000
    seq = store.own_points(0, n)
    # the sending order is the points' own order, not the file's
    assert list(seq.view("S32").ravel()) == sorted(seq.view("S32").ravel())
    assert np.array_equal(np.sort(seq.view("S32").ravel()),
                          np.sort(key.blind(psi.hash_points(
                              [normalise_one(v) for v in ids], salt)).view("S32").ravel()))
    on_disk = b"".join(p.read_bytes() for p in store.root.iterdir())
    for value in ids[::50]:  # as written and as normalised (10 bytes or more)
        assert value.encode() not in on_disk
        assert str(normalise_one(value)).encode() not in on_disk
    store.remove()
    assert not store.root.exists()


def test_sorted_pieces_hide_the_row_order(tmp_path: Path) -> None:
    store = spool.Spool.create(tmp_path)
    points = np.random.default_rng(3).integers(0, 256, (3000, psi.POINT), dtype=np.uint8)
    store.add_prefixes("back", points)
    pieces, start = [], 0
    while start < spool.BUCKETS:
        piece, start = store.sorted_prefixes("back", start, 500)
        assert len(piece) <= 500 + 40  # a piece ends at a bucket's end
        pieces.append(piece)
    out = np.concatenate(pieces).view(f"S{psi.PREFIX}").ravel()
    assert len(out) == 3000
    assert list(out) == sorted(out)  # by value alone: the order sent says nothing else


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_repeated_identifier_in_another_chunk_is_named_by_row_as_when_read_whole(
        tmp_path: Path, suffix: str) -> None:
    ids = [f"id{v}" for v in range(40)]
    ids[33], ids[37] = "ID 5", "i-d-12"  # repeat rows 6 and 13 (1-based), chunks apart
    frame = pd.DataFrame({"id": ids, "x": range(40)})
    path = tmp_path / f"a{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    with pytest.raises(DataError) as whole:
        out, report = normalise_ids(ids, source=f"a{suffix} (party 'a')")
        require_unique(out, report)
    store = spool.Spool.create(tmp_path)
    with pytest.raises(DataError) as spooled:
        spool.spool_own(path, "id", name="a", kind="generic", salt=b"s",
                        key=psi.PsiKey.generate(), spool=store, chunk=8)
    assert str(spooled.value) == str(whole.value)
    assert "rows 34, 38" in str(spooled.value) and "row(s) 6, 13" in str(spooled.value)
    assert "ID 5" not in str(spooled.value)


def test_a_refused_party_leaves_no_spool_behind(tmp_path: Path,
                                                party_files: tuple[Path, Path, set[str]]
                                                ) -> None:
    from fedcare.exceptions import FedcareError

    h, i, _ = party_files
    frame = pd.read_csv(i, dtype={"member_id": str})
    frame.loc[7, "member_id"] = frame.loc[2, "member_id"]
    frame.to_csv(i, index=False)
    with pytest.raises(FedcareError, match="occur more than once"):
        _run(h, i, tmp_path, chunk=50)
    assert not list((tmp_path / "i").glob("fedcare-psi-*"))
    # the hospital had set up (its spool was written): the coordinator had it removed
    assert (tmp_path / "h").is_dir() and not list((tmp_path / "h").glob("fedcare-psi-*"))
    missing = tmp_path / "no-id.csv"
    pd.DataFrame({"other": [1, 2]}).to_csv(missing, index=False)
    with pytest.raises(FedcareError, match=r"no column\(s\) \['member_id'\]"):
        _run(h, missing, tmp_path, chunk=50)


def test_a_sites_stale_spool_is_cleared_and_a_fresh_one_kept(tmp_path: Path) -> None:
    stale, fresh = tmp_path / "fedcare-psi-old", tmp_path / "fedcare-psi-running"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "own-000.bin").write_bytes(b"x" * 40)
    old = os.stat(stale).st_mtime - spool.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    other = tmp_path / "keep-me"
    other.mkdir()
    os.utime(other, (old, old))
    store = spool.Spool.create(tmp_path)
    assert not stale.exists() and fresh.exists() and other.exists() and store.root.exists()


def test_a_revealed_psi_writes_exactly_the_shared_rows_at_the_comparing_party_only(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    from fedcare.study._vertical import run_vertical_study

    h, i, shared = party_files
    hospital = pd.read_csv(h, dtype={"patient_id": str})
    out = tmp_path / "shared.csv"
    for chunk in (spool.CHUNK, 130):  # one chunk, and many (rows in other chunks)
        out.unlink(missing_ok=True)
        parties = [Party("hospital", h, "patient_id"), Party("insurer", i, "member_id")]
        result = run_vertical_study(parties, train=False, reveal=True, min_overlap=1,
                                    psi_chunk=chunk, shared_out=out)
        assert result["psi"]["overlap"] == len(shared)
        assert result["psi"]["revealed_to"] == "hospital"
        assert result["psi"]["shared_file"] == "shared.csv"
        written = pd.read_csv(out, dtype={"patient_id": str})
        assert list(written.columns) == ["row", "patient_id"]
        assert written["row"].is_monotonic_increasing
        # the identifier as the hospital's file writes it, on the row that holds it
        assert list(written["patient_id"]) == list(hospital["patient_id"].iloc[
            written["row"] - 1])
        assert {normalise_one(v) for v in written["patient_id"]} == \
            {normalise_one(v) for v in shared}
        text = str(result)  # the coordinator's result: counts and a file name only
        assert not any(str(v) in text for v in written["patient_id"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hospital.csv", "insurer.csv",
                                                         "shared.csv"]


def test_a_revealed_psi_below_the_minimum_writes_nothing(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    from fedcare.exceptions import FedcareError
    from fedcare.study._vertical import run_vertical_study

    h, i, shared = party_files
    out = tmp_path / "shared.csv"
    with pytest.raises(FedcareError, match="below this study's minimum"):
        run_vertical_study([Party("hospital", h, "patient_id"),
                            Party("insurer", i, "member_id")], train=False, reveal=True,
                           min_overlap=len(shared) + 1, shared_out=out)
    assert not out.exists() and not list(tmp_path.glob(".shared*"))


def test_the_psi_cli_writes_the_shared_people_only_when_revealed(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    from typer.testing import CliRunner

    from fedcare.cli import app

    h, i, shared = party_files
    out = tmp_path / "shared.csv"
    args = ["vertical", "psi", "--party", f"hospital={h}:patient_id", "--party",
            f"insurer={i}:member_id", "--out", str(out)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 5 and "--out needs --reveal" in refused.output
    assert not out.exists()
    done = CliRunner().invoke(app, [*args, "--reveal", "--chunk", "200"])
    assert done.exit_code == 0, done.output
    assert f"shared people: {len(shared)}" in done.output
    assert "wrote the shared people" in done.output
    assert len(pd.read_csv(out)) == len(shared)


def test_the_stewards_manifest_says_when_a_psi_reveals_who_is_shared() -> None:
    from flwr.app import Context, RecordDict

    from fedcare.federation.site.mods import vertical_manifest

    def manifest(reveal: bool) -> str:
        context = Context(run_id=1, node_id=1, node_config={"id-column": "member_id"},
                          state=RecordDict(), run_config={"vertical-mode": "psi",
                                                          "vertical-reveal": reveal})
        return str(vertical_manifest(context)["summary"])

    assert "how many people are shared" in manifest(False)
    assert "WHICH of its people are shared" in manifest(True)
