"""``fedcare data import`` through Typer's CliRunner on ``data_app`` (SYNTHETIC data only).

Every failing import must exit with the documented code, name the problem without a
planted value ("987.654", "Zyxwvut") and leave no output file (an existing one untouched).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from fedcare.cli._data import data_app
from fedcare.data import load_mapping, read_fhir

REPO = Path(__file__).resolve().parents[2]
PLANTED = ("987.654", "Zyxwvut")


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory,
          fhir_generator: ModuleType) -> dict[str, Any]:
    return dict(fhir_generator.generate(tmp_path_factory.mktemp("cli"), patients=90, seed=2,
                                formats=("ndjson", "omop", "csv")))


def _run(*args: object) -> Result:
    return CliRunner().invoke(data_app, ["import", *[str(a) for a in args]])


def _no_values(text: str) -> None:
    for value in PLANTED:
        assert value.lower() not in text.lower(), text


@pytest.mark.parametrize("source", ["fhir", "omop", "csv"])
def test_import_writes_the_flat_table(sites: dict[str, Any], tmp_path: Path,
                                      source: str) -> None:
    out = tmp_path / f"{source}.csv"
    where = {"fhir": sites["ndjson"], "omop": sites["omop"], "csv": sites["csv"]}[source]
    result = _run(f"--{source}", where, "--mapping", sites["mapping"], "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    expected = read_fhir(sites["ndjson"], load_mapping(sites["mapping"])).frame
    assert list(table.columns) == list(expected.columns)
    assert table["site"].tolist() == expected["site"].tolist()
    numbers = [c for c in expected.columns if c != "site"]
    pd.testing.assert_frame_equal(table[numbers].astype(float),
                                  expected[numbers].reset_index(drop=True).astype(float),
                                  rtol=0, atol=1e-9)
    text = " ".join(result.output.split())
    assert "rows written │ 90" in text and "sites │ 3" in text
    assert "dropped (missing feature)" in text and "unmapped codes" in text
    noun = "resources/s" if source == "fhir" else "rows/s"
    assert noun in text


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(data_app, ["--help"])
    assert result.exit_code == 0 and "Example: fedcare data import" in result.output


def _bad_fhir(sites: dict[str, Any], tmp_path: Path) -> Path:
    folder = tmp_path / "fhir"
    for site in ("synthetic-a", "synthetic-b", "synthetic-c"):
        (folder / site).mkdir(parents=True)
        for path in (sites["ndjson"] / site).iterdir():
            (folder / site / path.name).write_text(path.read_text())
    observation = folder / "synthetic-b" / "Observation.ndjson"
    lines = observation.read_text().splitlines()
    bad = json.loads(lines[4])
    bad["valueQuantity"] = {"value": 987.654, "unit": "Zyxwvut", "code": "Zyxwvut"}
    bad["code"]["coding"] = [{"system": "http://loinc.org", "code": "2093-3"}]
    lines[4] = json.dumps(bad)
    observation.write_text("\n".join(lines) + "\n")
    return folder


def test_unit_error_exits_3_and_writes_nothing(sites: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    result = _run("--fhir", _bad_fhir(sites, tmp_path), "--mapping", sites["mapping"],
                  "--out", out, "--max-bad-fraction", "0")
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "DataError" in text and "Observation.ndjson:5" in text and "(chol)" in text
    assert "unit 'Zyxwvut'" in text and "987.654" not in text  # the unit, never the value
    assert "max_bad_fraction = 0" in text
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failed_import_leaves_an_old_table_untouched(sites: dict[str, Any],
                                                     tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    out.write_text("old,table\n1,2\n")
    folder = tmp_path / "broken" / "site-a"
    folder.mkdir(parents=True)
    (folder / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "1", '
                                           '"name": [{"family": "Zyxwvut"}]\n')
    result = _run("--fhir", tmp_path / "broken", "--mapping", sites["mapping"], "--out", out)
    assert result.exit_code == 3
    assert "malformed JSON line: 1 (first at " in " ".join(result.output.split())
    assert "Patient.ndjson:1)" in " ".join(result.output.split())
    _no_values(result.output)
    assert out.read_text() == "old,table\n1,2\n"


@pytest.mark.parametrize(("args", "code", "expected"), [
    (["--fhir", "{tmp}/absent"], 4, "no such file or folder"),
    (["--omop", "sqlite:///{tmp}/absent.db"], 4, "no such SQLite file"),
    (["--csv", "{csv}", "--fhir", "{tmp}"], 5, "give exactly one of"),
    ([], 5, "give exactly one of"),
    (["--csv", "{csv}", "--out", "{tmp}/table.parquet"], 5, "name it .csv"),
    (["--csv", "{csv}", "--out", "{tmp}/no/such/table.csv"], 5, "does not exist"),
    (["--csv", "{csv}", "--mapping", "{tmp}/bad.toml"], 5, "features.age.unit: unknown key"),
    (["--csv", "{csv}", "--mapping", "{tmp}/absent.toml"], 4, "no such mapping file"),
])
def test_errors_exit_with_documented_codes(sites: dict[str, Any], tmp_path: Path,
                                           args: list[str], code: int, expected: str) -> None:
    (tmp_path / "bad.toml").write_text('[index]\ndate = 2024-01-01\n[features.age]\n'
                                       'source = "age"\nunit = "a"\n[label]\n'
                                       'source = "condition"\ncodes = { icd10 = ["I25*"] }\n')
    filled = [a.format(tmp=tmp_path, csv=sites["csv"]) for a in args]
    if "--mapping" not in filled:
        filled += ["--mapping", str(sites["mapping"])]
    if "--out" not in filled:
        filled += ["--out", str(tmp_path / "table.csv")]
    result = _run(*filled)
    assert result.exit_code == code, result.output
    assert expected in " ".join(result.output.split())
    assert not (tmp_path / "table.csv").exists()


def test_a_bad_record_is_left_out_and_counted_not_fatal(sites: dict[str, Any],
                                                        tmp_path: Path) -> None:
    """Under max_bad_fraction (default 0.05) the record is quarantined, never printed."""
    out = tmp_path / "table.csv"
    result = _run("--fhir", _bad_fhir(sites, tmp_path), "--mapping", sites["mapping"],
                  "--out", out)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "bad records left out" in text
    assert "(0.08%; limit 5%)" in text  # 1 of 1,261 resources
    assert "987.654" not in text
    assert out.exists()
