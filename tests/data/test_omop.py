"""OMOP CDM v5.4 connector: CSV folder and SQLite give the SYNTHETIC set's expected cohort.

``scripts/make_fhir_sites.py`` writes the SYNTHETIC OMOP tables (150 patients, seeded) and
``truth.csv``; bad-input cases edit copies of those tables and plant "987.654" and
"Zyxwvut", which must never appear in an error message.
"""

from __future__ import annotations

import shutil
import sqlite3
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fedcare.data import UnitError, parse_mapping, read_omop
from fedcare.exceptions import DataError, DataNotFoundError

REPO = Path(__file__).resolve().parents[2]
PLANTED = ("987.654", "Zyxwvut")
FEATURES = ["age", "sex", "trestbps", "chol", "thalach", "weight", "fbs", "diabetes",
            "statin", "cad"]


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory,
          fhir_generator: ModuleType) -> dict[str, Any]:
    """150 SYNTHETIC patients as OMOP CSV tables, with the truth and the mapping."""
    out = dict(fhir_generator.generate(tmp_path_factory.mktemp("omop"), patients=150, seed=5,
                               formats=("omop",)))
    out["raw"] = tomllib.loads(Path(out["mapping"]).read_text())
    return out


@pytest.fixture(scope="module")
def baseline(sites: dict[str, Any]) -> Any:
    return read_omop(sites["omop"], parse_mapping(sites["raw"]))


def _mapping(raw: dict[str, Any], **changes: Any) -> Any:
    copy = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for section, values in changes.items():
        copy[section] = {**copy.get(section, {}), **values}
    return parse_mapping(copy)


def _copy(sites: dict[str, Any], tmp_path: Path) -> Path:
    target = tmp_path / "omop"
    shutil.copytree(sites["omop"], target)
    return target


def _edit(folder: Path, table: str, change: Any) -> None:
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = change(frame)
    frame.to_csv(path, index=False)


def _no_values(message: str) -> None:
    for value in PLANTED:
        assert value.lower() not in message.lower(), message


def test_omop_csv_matches_the_truth(sites: dict[str, Any], baseline: Any) -> None:
    truth = sites["truth"].loc[baseline.frame.index, FEATURES]
    for column in FEATURES:
        got = baseline.frame[column].astype(float).to_numpy()
        want = truth[column].astype(float).to_numpy()
        same = np.isclose(got, want, rtol=0, atol=1e-9) | (np.isnan(got) & np.isnan(want))
        assert same.all(), column
    assert baseline.cohort.sites == ["synthetic-a", "synthetic-b", "synthetic-c"]
    assert baseline.report.by_type["measurement"] > 1000
    assert baseline.report.unmapped["measurement"] >= 150  # haemoglobin
    assert set(baseline.report.converted) == {"chol", "fbs", "weight"}


def test_sqlite_database_gives_the_same_cohort(sites: dict[str, Any], baseline: Any,
                                               tmp_path: Path) -> None:
    db = tmp_path / "cdm.db"
    with sqlite3.connect(db) as conn:
        for path in Path(sites["omop"]).glob("*.csv"):
            pd.read_csv(path).to_sql(path.stem, conn, index=False)
    result = read_omop(f"sqlite:///{db}", parse_mapping(sites["raw"]))
    assert np.array_equal(result.cohort.X, baseline.cohort.X)
    assert np.array_equal(result.cohort.y, baseline.cohort.y)
    assert np.array_equal(result.cohort.site, baseline.cohort.site)
    assert result.cohort.schema == baseline.cohort.schema
    # Only rows a code could match are fetched; the rest are still counted as unmapped.
    assert result.report.by_type == baseline.report.by_type
    assert result.report.unmapped == baseline.report.unmapped


def test_source_values_find_rows_without_a_concept_id(sites: dict[str, Any],
                                                      baseline: Any) -> None:
    """synthetic-c's ETL left some cholesterol concept ids at 0: only source values match."""
    without = read_omop(sites["omop"], _mapping(sites["raw"], omop={"source_values": False}))
    assert without.cohort.dropped["synthetic-c"] > baseline.cohort.dropped["synthetic-c"]
    assert without.cohort.dropped["synthetic-a"] == baseline.cohort.dropped["synthetic-a"]


def test_units_from_concepts_the_concept_table_or_the_mapping(
        sites: dict[str, Any], baseline: Any, tmp_path: Path) -> None:
    folder = _copy(sites, tmp_path)

    def local_unit(frame: pd.DataFrame) -> pd.DataFrame:
        frame["unit_concept_id"] = frame["unit_concept_id"].replace("8753", "2000000001")
        frame["unit_source_value"] = ""
        return frame

    _edit(folder, "measurement", local_unit)
    with pytest.raises(UnitError) as caught:
        read_omop(folder, parse_mapping(sites["raw"]))
    message = str(caught.value)
    assert "feature 'chol'" in message and "unit_concept_id 2000000001" in message
    assert "measurement.csv:" in message
    _no_values(message)
    fixed = read_omop(folder, _mapping(sites["raw"], omop={"units": {"2000000001": "mmol/L"}}))
    assert np.array_equal(fixed.cohort.X, baseline.cohort.X)
    pd.DataFrame({"concept_id": [2000000001], "concept_name": ["millimole per liter"],
                  "vocabulary_id": ["UCUM"], "concept_code": ["mmol/L"]}).to_csv(
        folder / "concept.csv", index=False)
    by_concept_table = read_omop(folder, parse_mapping(sites["raw"]))
    assert np.array_equal(by_concept_table.cohort.X, baseline.cohort.X)


def test_site_from_the_database_name_or_renamed(sites: dict[str, Any]) -> None:
    one = read_omop(sites["omop"], _mapping(sites["raw"], site={"omop": "database",
                                                                 "name": "hospital-x"}))
    assert one.cohort.sites == ["hospital-x"]
    renamed = read_omop(sites["omop"], _mapping(sites["raw"], site={
        "rename": {"synthetic-a": "alpha"}}))
    assert renamed.cohort.sites == ["alpha", "synthetic-b", "synthetic-c"]


def test_missing_table_column_and_database(sites: dict[str, Any], tmp_path: Path) -> None:
    mapping = parse_mapping(sites["raw"])
    folder = _copy(sites, tmp_path)
    (folder / "drug_exposure.csv").unlink()
    with pytest.raises(DataNotFoundError, match="'drug_exposure' or 'drug_era' not found"):
        read_omop(folder, mapping)
    folder = _copy(sites, tmp_path / "2")
    _edit(folder, "measurement", lambda f: f.drop(columns=["measurement_date"]))
    with pytest.raises(DataError, match="no column 'measurement_date'"):
        read_omop(folder, mapping)
    with pytest.raises(DataNotFoundError, match="no such SQLite file"):
        read_omop(f"sqlite:///{tmp_path / 'absent.db'}", mapping)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(DataNotFoundError, match="'person' not found"):
        read_omop(f"sqlite:///{empty}", mapping)
    with pytest.raises(DataNotFoundError):
        read_omop(tmp_path / "nowhere", mapping)


def test_bad_dates_and_numbers_name_rows_not_values(sites: dict[str, Any],
                                                    tmp_path: Path) -> None:
    """With no bad row tolerated, the error names the table, column and row."""
    mapping = parse_mapping({**sites["raw"], "max_bad_fraction": 0.0})
    folder = _copy(sites, tmp_path)

    def plant(column: str, value: str) -> Any:
        def change(frame: pd.DataFrame) -> pd.DataFrame:
            if "measurement_source_value" in frame:  # a row a feature uses
                row = frame.index[frame["measurement_source_value"] == "8480-6"][3]
            else:
                row = frame.index[3]
            frame.loc[row, column] = value
            return frame
        return change

    _edit(folder, "measurement", plant("measurement_date", "987.654"))
    with pytest.raises(DataError) as caught:
        read_omop(folder, mapping)
    message = str(caught.value)
    assert "measurement.csv" in message and "measurement_date not a date: 1" in message
    _no_values(message)
    tolerant = read_omop(folder, parse_mapping(sites["raw"]))  # default: left out, counted
    assert tolerant.report.quarantined == {"measurement: measurement_date not a date": 1}
    folder = _copy(sites, tmp_path / "2")
    _edit(folder, "measurement", plant("value_as_number", "Zyxwvut"))
    with pytest.raises(DataError) as caught:
        read_omop(folder, mapping)
    assert "value_as_number not a number: 1" in str(caught.value)
    _no_values(str(caught.value))
    folder = _copy(sites, tmp_path / "3")
    _edit(folder, "person", plant("year_of_birth", "987.654x"))
    with pytest.raises(DataError, match="'year_of_birth'") as caught:
        read_omop(folder, mapping)
    _no_values(str(caught.value))


def test_birth_from_year_month_day_without_birth_datetime(sites: dict[str, Any],
                                                          baseline: Any,
                                                          tmp_path: Path) -> None:
    folder = _copy(sites, tmp_path)
    _edit(folder, "person", lambda f: f.drop(columns=["birth_datetime"]))
    result = read_omop(folder, parse_mapping(sites["raw"]))
    assert np.array_equal(result.cohort.X, baseline.cohort.X)
    # A year alone counts as born on 1 July: at a 15 July index, people really born later
    # in the year come out one year older.
    mid_year = _mapping(sites["raw"], index={"date": "2024-07-15"})
    exact = read_omop(folder, mid_year).frame["age"].astype(float)
    _edit(folder, "person", lambda f: f.assign(month_of_birth="", day_of_birth=""))
    year_only = read_omop(folder, mid_year).frame["age"].astype(float)
    person = pd.read_csv(Path(sites["omop"]) / "person.csv").set_index("person_id")
    later = (person["month_of_birth"] * 100 + person["day_of_birth"]) > 715
    later.index = later.index.astype(str)
    expected = later.loc[exact.index].astype(float).to_numpy()
    np.testing.assert_array_equal((year_only - exact).to_numpy(), expected)
    assert expected.any() and not expected.all()
