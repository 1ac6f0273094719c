"""SecureBoost through Flower messages (in-process engine): the same trees as the
plaintext histogram GBDT, and what travels holds no identifier, value or label."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from flwr.app import ConfigRecord, Message

pytest.importorskip("heu")

from fedcare.federation.engines.inprocess import run_vertical_inprocess
from fedcare.study._vertical import Party, run_vertical_study
from fedcare.vertical import secureboost as sb
from fedcare.vertical.boost import ActiveRun, unpack
from fedcare.vertical.channel import ChannelKey, open_blob
from fedcare.vertical.party import align_label_party, alignment, read_party

CONFIG = {"vertical-mode": "train", "vertical-model": "secureboost", "vertical-trees": 3,
          "vertical-depth": 3, "vertical-bins": 16, "vertical-learning-rate": 0.3,
          "vertical-min-overlap": 10, "vertical-other-alone": False}


def _parties(h: Path, i: Path) -> list[Party]:
    return [Party("hospital", h, "patient_id", label="event"), Party("insurer", i, "member_id")]


def _values(message: Message) -> list[bytes]:
    out: list[bytes] = []
    for record in message.content.config_records.values():
        for value in cast(ConfigRecord, record).values():
            for item in value if isinstance(value, list) else [value]:
                out.append(item if isinstance(item, bytes) else str(item).encode())
    return out


def _opened_at_insurer(grid: Any, kind: str) -> list[dict[str, Any]]:
    """The requests the passive party opened, as it read them (its channel key)."""
    state = grid._contexts[1001].state["vertical"]
    key = ChannelKey(state["chan"]).shared(state["peer"], state["study"])
    return [unpack(open_blob(key, cast(ConfigRecord, m.content["config"])["blob"], kind))
            for m in grid.messages_sent
            if m.metadata.dst_node_id == 1001 and m.metadata.message_type == "train.vbpassive"]


def test_trees_through_messages_equal_the_plaintext_gbdt(
        party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, _ = party_files
    parties = _parties(h, i)
    result, grid = run_vertical_inprocess([p.node_config() for p in parties], CONFIG,
                                          keep_messages=True)
    state = grid._contexts[1000].state["vertical"]
    # the plaintext reference on the joined table, with each party's own bins
    ta = read_party(h, "patient_id", name="hospital", label="event")
    tb = read_party(i, "member_id", name="insurer")
    aligned = align_label_party(ta, alignment(ta, tb), seed="0", fraction=0.25)
    params = sb.TreeParams(n_trees=3, max_depth=3, max_bins=16)
    codes_a, _ = sb.bin_features(aligned.X[aligned.train][:, 1:], 16)
    codes_b, _ = sb.bin_features(tb.X, 16)
    plain = sb.fit_plain(codes_a, codes_b[aligned.train], aligned.y[aligned.train], params)
    run = ActiveRun(params, codes_a, aligned.y[aligned.train],
                    np.flatnonzero(aligned.train), len(tb.X), codes_b.shape[1], 0)
    run.load(state["sb-run"])
    assert len(run.trees) == 3
    assert all(mine.same_structure(ref) for mine, ref in zip(run.trees, plain.trees,
                                                             strict=True))
    joint = result["results"]["joint"]
    assert joint["passive_splits"] > 0  # the insurer's claims matter in the simulation
    assert joint["splits"]["insurer"] and "claims" in joint["splits"]["insurer"]
    # the passive party's split thresholds never reach the label party's model
    assert all((t.bin[t.party == 1] == -1).all() for t in run.trees)


def test_the_study_reports_lossless_and_each_party_alone(
        party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, _ = party_files
    result = run_vertical_study(_parties(h, i), model="secureboost", min_overlap=10,
                                trees={"n_trees": 4, "max_bins": 16})
    r = result["results"]
    assert set(r) == {"joint", "hospital_only", "insurer_only", "plaintext",
                      "plaintext_same_algorithm"}
    assert r["plaintext_same_algorithm"]["auc_difference"] == 0.0
    assert r["plaintext_same_algorithm"]["brier_difference"] < 1e-12
    assert r["joint"]["auc"] > max(r["hospital_only"]["auc"], r["insurer_only"]["auc"])
    assert abs(r["joint"]["auc"] - r["plaintext"]["auc"]) < 0.03
    lo, hi = r["joint"]["auc_ci95"]
    assert lo < r["joint"]["auc"] < hi
    gain = r["hospital_only"]["joint_gain"]
    assert gain["auc_difference"] == pytest.approx(r["joint"]["auc"] - r["hospital_only"]["auc"])
    assert gain["ci95"][0] < gain["auc_difference"] < gain["ci95"][1]
    assert result["model"] == "secureboost" and result["settings"]["trees"]["n_trees"] == 4


def test_no_message_holds_an_identifier_a_value_or_the_label(
        party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, _ = party_files
    hospital, insurer = pd.read_csv(h), pd.read_csv(i, dtype={"member_id": str})
    _, grid = run_vertical_inprocess([p.node_config() for p in _parties(h, i)], CONFIG,
                                     keep_messages=True)
    messages = grid.messages_sent + grid.replies_received
    assert len(messages) > 20
    blobs = [v for m in messages for v in _values(m)]
    identifiers = {*hospital["patient_id"], *insurer["member_id"].str.strip()}
    for needle in identifiers:
        assert not any(str(needle).encode() in blob for blob in blobs)
    values = [*hospital["bp"].head(40), *hospital["chol"].head(40), *insurer["claims"].head(40)]
    for value in values:
        assert not any(repr(float(value)).encode() in blob or
                       np.float64(value).tobytes() in blob for blob in blobs)
    # what the insurer itself reads: no label, and every node's rows include rows that
    # are not training people, so the shared people are not singled out
    requests = _opened_at_insurer(grid, "sb-request")
    assert requests
    label = hospital["event"].to_numpy()
    n_insurer = len(insurer)
    for request in requests:
        for value in request.values():
            for arr in value if isinstance(value, list) else [value]:
                raw = np.asarray(arr).tobytes()
                assert label[:48].astype(np.float64).tobytes() not in raw
                assert label[:48].astype(np.int64).tobytes() not in raw
        if str(request["kind"]) == "hist" and 0 in request["nodes"].tolist():
            assert np.array_equal(request["rows"][0], np.arange(n_insurer))


def _cli(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from fedcare.cli import app

    return CliRunner().invoke(app, ["vertical", "train", *args])


def test_cli_trains_trees_and_refuses_what_does_not_apply(
        party_files: tuple[Path, Path, set[str]], tmp_path: Path) -> None:
    h, i, _ = party_files
    base = ["--party", f"hospital={h}:patient_id", "--party", f"insurer={i}:member_id",
            "--label", "hospital:event", "--min-overlap", "10"]
    out, report = tmp_path / "out.json", tmp_path / "out.html"
    ok = _cli([*base, "--model", "secureboost", "--trees", "2", "--bins", "8",
               "--json", str(out), "--report", str(report)])
    assert ok.exit_code == 0, ok.output
    assert "split(s) on insurer's features" in ok.output
    html = report.read_text()
    assert "SecureBoost" in html and "Lossless" in html and html.count("<img") == 2
    refused = _cli([*base, "--model", "secureboost", "--recalibrate"])
    assert refused.exit_code == 5 and "--recalibrate is for the logistic model" in refused.output
    assert _cli([*base, "--model", "forest"]).exit_code == 5  # a ConfigError (docs)
    assert _cli([*base, "--model", "secureboost", "--bins", "300"]).exit_code == 2
