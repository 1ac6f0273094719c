"""``fedcare vertical train`` as a data team types it: JSON, report, help."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fedcare.cli import app


def test_train_writes_the_json_and_the_report(tmp_path: Path,
                                              party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, shared = party_files
    out, report = tmp_path / "v.json", tmp_path / "v.html"
    result = CliRunner().invoke(app, [
        "vertical", "train", "--party", f"hospital={h}:patient_id", "--party",
        f"insurer={i}", "--id-column", "member_id", "--label", "hospital:event",
        "--epochs", "4", "--min-overlap", "10", "--json", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["psi"]["overlap"] == len(shared)
    assert set(data["psi"]["sizes"]) == {"hospital", "insurer"}
    for setting in ("joint", "plaintext", "hospital_only", "insurer_only"):
        assert 0.5 < data["results"][setting]["auc"] <= 1.0, setting
    assert data["seconds"] > 0
    assert data["label"] == {"party": "hospital", "column": "event", "positive": "1"}
    assert data["settings"]["min_overlap"] == 10 and data["settings"]["epochs"] == 4
    assert "shared people: " + str(len(shared)) in result.output
    assert "almost perfectly" not in result.output  # no leak warning without a leak
    html = report.read_text()
    assert "What collaboration is worth" in html and "insurer_only" in html
    assert html.count("data:image/png;base64,") == 2
    # no identifier in the outputs
    first = next(iter(shared))
    assert first not in html and first not in out.read_text() and first not in result.output


def test_help_says_what_each_command_does() -> None:
    result = CliRunner().invoke(app, ["vertical", "--help"])
    assert result.exit_code == 0
    assert "psi" in result.output and "train" in result.output
    train = CliRunner().invoke(app, ["vertical", "train", "--help"])
    assert "--label" in train.output and "PARTY:COLUMN" in train.output
    assert "--recalibrate" in train.output
    assert "secureboost" in train.output and "--trees" in train.output


def test_a_party_holding_a_copy_of_the_label_is_flagged(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    import pandas as pd

    from fedcare.vertical.ids import normalise_one

    h, i, _ = party_files
    hospital = pd.read_csv(h)
    insurer = pd.read_csv(i, dtype={"member_id": str})
    outcome = dict(zip(hospital["patient_id"], hospital["event"], strict=True))
    # the insurer's "claim code" is a copy of the outcome (for people the hospital knows)
    insurer["claim_code"] = [outcome.get(normalise_one(m), 0) for m in insurer["member_id"]]
    insurer.to_csv(i, index=False)
    report = tmp_path / "v.html"
    result = CliRunner().invoke(app, [
        "vertical", "train", "--party", f"hospital={h}:patient_id", "--party",
        f"insurer={i}:member_id", "--label", "hospital:event", "--epochs", "3",
        "--min-overlap", "10", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "insurer_only predicts the label almost perfectly" in result.output
    assert "Possible leak" in report.read_text()


def test_a_joint_weight_against_known_medicine_is_flagged(
        tmp_path: Path, party_files: tuple[Path, Path, set[str]]) -> None:
    import pandas as pd

    h, i, _ = party_files
    hospital = pd.read_csv(h)
    # SYNTHETIC: the outcome named as coronary heart disease, and cholesterol written the
    # wrong way round (400 - value: as if a site had exported the wrong column)
    hospital = hospital.rename(columns={"event": "chd"})
    hospital["chol"] = 400 - hospital["chol"]
    hospital.to_csv(h, index=False)
    out, report = tmp_path / "v.json", tmp_path / "v.html"
    result = CliRunner().invoke(app, [
        "vertical", "train", "--party", f"hospital={h}:patient_id", "--party",
        f"insurer={i}:member_id", "--label", "hospital:chd", "--epochs", "4",
        "--min-overlap", "10", "--json", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    directions = json.loads(out.read_text())["known_directions"]
    assert directions["scope"] == "cardiovascular"
    assert [(a["feature"], a["learned"]) for a in directions["against"]] == [
        ("chol", "lowers risk")]
    assert "against known medicine: chol" in result.output
    assert 'id="against-known-medicine"' in report.read_text()


def test_live_predict_takes_no_party_files_or_output(tmp_path: Path) -> None:
    """With --coordinator the sites read their own new people and the label party writes
    at its own site: a --party or --out given with it is refused before anything runs."""
    for extra in (["--party", f"hospital={tmp_path / 'h.csv'}:patient_id"],
                  ["--out", str(tmp_path / "p.csv")]):
        result = CliRunner().invoke(app, ["vertical", "predict", "--coordinator",
                                          str(tmp_path / "coord"), "--model-id",
                                          "ab" * 8, *extra])
        assert result.exit_code == 5, result.output
        assert "leave out --party and --out" in result.output
    assert not (tmp_path / "p.csv").exists()
