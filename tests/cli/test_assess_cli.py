"""``fedcare assess`` and ``fedcare assistant history``: output, languages, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fedcare.cli import app

PERSON: dict[str, Any] = {
    "age": 58, "sex": "male", "race": "other", "systolic_bp": 148, "bp_treated": False,
    "total_cholesterol": {"value": 5.8, "unit": "mmol/L"},
    "hdl_cholesterol": {"value": 1.1, "unit": "mmol/L"}, "smoker": True, "diabetes": False,
    "height_cm": 172, "weight_kg": 82, "waist_cm": 95, "egfr": 85, "statin": False,
    "family_history_diabetes": "first_degree"}


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _profile(tmp: Path, data: Any, name: str = "person.json") -> Path:
    path = tmp / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_assess_prints_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    r = _run("assess", "--profile", str(_profile(tmp_path, PERSON)), "--json", str(out),
             "--no-models")
    assert r.exit_code == 0, r.output
    assert "RED" in r.output and "Pooled Cohort Equations" in r.output
    body = json.loads(out.read_text())
    assert body["scores"]["prevent_cvd_2023"]["risk"] > 0 and body["lang"] == "en"


def test_assess_in_chinese(tmp_path: Path) -> None:
    r = _run("assess", "--profile", str(_profile(tmp_path, PERSON)), "--lang", "zh",
             "--no-models")
    assert r.exit_code == 0, r.output
    assert "风险评分" in r.output and "计划" in r.output and "不构成诊断" in r.output


def test_bad_profile_exit_3_names_every_field_never_the_value(tmp_path: Path) -> None:
    path = _profile(tmp_path, {"age": 300, "systolic_bp": 20.25, "hdl_cholesterol":
                               {"value": 1.3, "unit": "parsec"}})
    out = tmp_path / "a.json"
    r = _run("assess", "--profile", str(path), "--json", str(out), "--no-models")
    assert r.exit_code == 3
    for field in ("'age'", "'systolic_bp'", "'hdl_cholesterol'"):
        assert field in r.output
    assert "20.25" not in r.output and "parsec" not in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    assert _run("assess", "--profile", str(tmp_path / "nope.json")).exit_code == 4
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json", encoding="utf-8")
    r = _run("assess", "--profile", str(bad), "--no-models")
    assert r.exit_code == 3 and "line 1" in r.output
    th = _profile(tmp_path, {"cvd_red": 0.01, "cvd_yellow": 0.5}, "th.json")
    r = _run("assess", "--profile", str(_profile(tmp_path, PERSON)), "--thresholds", str(th))
    assert r.exit_code == 5 and "cvd_yellow" in r.output
    r = _run("assess", "--profile", str(_profile(tmp_path, PERSON)), "--lang", "fr")
    assert r.exit_code == 5


def test_person_history_and_fhir(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'reg.db'}"
    path = _profile(tmp_path, PERSON)
    assert _run("assess", "--profile", str(path), "--person", "hm-7", "--db", db).exit_code \
        == 0
    better = _profile(tmp_path, {**PERSON, "smoker": False, "systolic_bp": 125}, "b.json")
    r = _run("assess", "--profile", str(better), "--person", "hm-7", "--db", db)
    assert r.exit_code == 0 and "✓" in r.output and "lower" in r.output
    fhir = tmp_path / "hm-7.fhir.json"
    r = _run("assistant", "history", "--person", "hm-7", "--db", db, "--fhir", str(fhir))
    assert r.exit_code == 0 and "2 assessments" in r.output
    assert json.loads(fhir.read_text())["resourceType"] == "Bundle"
    assert _run("assistant", "history", "--person", "hm-8", "--db", db).exit_code == 4
    r = _run("assess", "--profile", str(path), "--person", "110101199003074514", "--db", db)
    assert r.exit_code == 3 and "110101199003074514" not in r.output


def test_chinese_output_has_no_english_sentences(tmp_path: Path) -> None:
    """Everything the assistant writes in --lang zh is Chinese (units, citations and score
    names aside): tier badge, skipped reasons, factors, achieved items."""
    db = f"sqlite:///{tmp_path / 'reg.db'}"
    path = _profile(tmp_path, {**PERSON, "age": 30})
    assert _run("assess", "--profile", str(path), "--lang", "zh", "--person", "hm-z",
                "--db", db, "--no-models").exit_code == 0
    better = _profile(tmp_path, {**PERSON, "age": 30, "smoker": False}, "b.json")
    r = _run("assess", "--profile", str(better), "--lang", "zh", "--person", "hm-z",
             "--db", db, "--no-models")
    assert r.exit_code == 0
    for english in ("not computed", "missing", "RED", "YELLOW", "GREEN", "smoking:",
                    "outside", "converted", "What if", "Plan"):
        assert english not in r.output, english
    assert "戒烟：已达标" in r.output


def test_a_closed_pipe_neither_fails_nor_loses_the_json(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "a.json"
    fedcare = Path(sys.executable).parent / "fedcare"
    profile = _profile(tmp_path, PERSON)
    proc = subprocess.run(f"set -o pipefail; '{fedcare}' assess --profile '{profile}' "
                          f"--no-models --json '{out}' | head -1", shell=True,
                          capture_output=True, text=True, check=False,
                          executable="/bin/bash")
    assert proc.returncode == 0 and out.exists() and "Traceback" not in proc.stderr
