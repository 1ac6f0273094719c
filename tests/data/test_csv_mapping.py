"""CSV connector with a mapping file: renamed columns, per-site units, recoded levels, label.

The flat table comes from ``scripts/make_fhir_sites.py`` (SYNTHETIC, 150 patients, site
synthetic-c in mmol/L and [lb_av]); small tables below are synthetic too and plant
"987.654" and "Zyxwvut", which must never appear in an error message.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fedcare.data import UnitError, parse_mapping, read_mapped_table
from fedcare.exceptions import DataError

REPO = Path(__file__).resolve().parents[2]
PLANTED = ("987.654", "Zyxwvut")


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory,
          fhir_generator: ModuleType) -> dict[str, Any]:
    out = dict(fhir_generator.generate(tmp_path_factory.mktemp("flat"), patients=150, seed=3,
                               formats=("csv",)))
    out["raw"] = tomllib.loads(Path(out["mapping"]).read_text())
    return out


def _no_values(message: str) -> None:
    for value in PLANTED:
        assert value.lower() not in message.lower(), message


def test_flat_csv_matches_the_truth_in_declared_units(sites: dict[str, Any]) -> None:
    result = read_mapped_table(sites["csv"], parse_mapping(sites["raw"]))
    frame = result.frame
    truth = sites["truth"].loc[frame.index]
    for column in ["age", "sex", "trestbps", "chol", "thalach", "weight", "fbs", "diabetes",
                   "statin", "cad"]:
        got = frame[column].astype(float).to_numpy()
        want = truth[column].astype(float).to_numpy()
        same = np.isclose(got, want, rtol=0, atol=1e-9) | (np.isnan(got) & np.isnan(want))
        assert same.all(), column
    raw = pd.read_csv(sites["csv"])
    site_c = raw["hospital"] == "synthetic-c"
    assert raw.loc[site_c, "cholesterol"].max() < 15  # the file really holds mmol/L there
    assert result.report.converted["chol"] == {"mmol/L": int(raw.loc[site_c, "cholesterol"]
                                                             .notna().sum())}
    assert result.cohort.sites == ["synthetic-a", "synthetic-b", "synthetic-c"]
    assert list(frame.index[:3]) == sorted(frame.index[:3], key=int)


SMALL: dict[str, Any] = {
    "features": {
        "age": {"source": "age"},
        "sex": {"source": "sex", "csv": {"column": "gender", "levels": {"M": 1, "F": 0}}},
        "chol": {"source": "observation", "codes": {"loinc": ["2093-3"]}, "unit": "mg/dL",
                 "csv": {"column": "tc", "site_units": {"beta": "mmol/L"}}},
        "smoker": {"source": "condition", "codes": {"snomed": ["77176002"]}},
    },
    "index": {"date": "2024-01-01"},
    "label": {"source": "column", "name": "event",
              "csv": {"column": "outcome", "positive": ["2", "3"]}},
    "csv": {"site_column": "hospital"},
}


def _small(tmp_path: Path, **changes: list[Any]) -> Path:
    frame = pd.DataFrame({
        "hospital": ["alpha"] * 4 + ["beta"] * 4,
        "age": [50, 61, 47, 70, 55, 66, 58, 49],
        "gender": ["M", "F", "F", "M", "F", "M", "M", "F"],
        "tc": [200.0, 180.0, 240.0, 210.0, 5.2, 4.1, 6.3, 5.0],
        "smoker": [0, 1, 0, 1, 1, 0, 0, 1],
        "outcome": [0, 2, 3, 1, 0, 3, 1, 0],
        "ward": ["Zyxwvut"] * 8,
    })
    for column, values in changes.items():
        frame[column] = values
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    return path


def _mapping(**changes: Any) -> Any:
    raw = {**SMALL, "features": {**SMALL["features"]}}
    for name, spec in changes.items():
        raw["features"][name] = spec
    return parse_mapping(raw)


def test_small_table_with_site_units_levels_and_positive_levels(tmp_path: Path) -> None:
    result = read_mapped_table(_small(tmp_path), _mapping())
    frame = result.frame
    assert frame["sex"].tolist() == [1, 0, 0, 1, 0, 1, 1, 0]
    assert frame["event"].tolist() == [0, 1, 1, 0, 0, 1, 0, 0]
    beta = frame.loc[frame["site"] == "beta", "chol"].to_numpy()
    np.testing.assert_allclose(beta, np.array([5.2, 4.1, 6.3, 5.0]) * 38.665, rtol=0,
                               atol=1e-9)
    assert frame.loc[frame["site"] == "alpha", "chol"].tolist() == [200.0, 180.0, 240.0,
                                                                     210.0]
    assert "ward" not in frame.columns and len(result.cohort) == 8


def test_unit_column_names_each_rows_unit(tmp_path: Path) -> None:
    path = _small(tmp_path, tc=[200.0, 5.0, 240.0, 210.0, 5.2, 180.0, 6.3, 5.0],
                  tc_unit=["mg/dl", "mmol/l", "", "mg/dL", "mmol/L", "mg/dL", "mmol/L",
                           "mmol/L"])
    chol = dict(SMALL["features"]["chol"])
    chol["csv"] = {"column": "tc", "unit_column": "tc_unit"}
    frame = read_mapped_table(path, _mapping(chol=chol)).frame
    np.testing.assert_allclose(frame["chol"], [200.0, 5.0 * 38.665, 240.0, 210.0,
                                               5.2 * 38.665, 180.0, 6.3 * 38.665,
                                               5.0 * 38.665], rtol=0, atol=1e-9)


def test_unconvertible_site_unit(tmp_path: Path) -> None:
    chol = dict(SMALL["features"]["chol"])
    chol["csv"] = {"column": "tc", "site_units": {"beta": "kg"}}
    with pytest.raises(UnitError) as caught:
        read_mapped_table(_small(tmp_path), _mapping(chol=chol))
    message = str(caught.value)
    assert "column 'tc'" in message and "data rows 5, 6, 7, 8" in message
    assert "feature 'chol'" in message and "'kg'" in message
    _no_values(message)


def test_unknown_unit_in_a_unit_column(tmp_path: Path) -> None:
    path = _small(tmp_path, tc_unit=["mg/dL"] * 7 + ["mmol/X"])
    chol = dict(SMALL["features"]["chol"])
    chol["csv"] = {"column": "tc", "unit_column": "tc_unit"}
    with pytest.raises(UnitError, match=r"data row 8\): feature 'chol': unit 'mmol/X'"):
        read_mapped_table(path, _mapping(chol=chol))


@pytest.mark.parametrize(("change", "expected"), [
    ({"tc": [200.0, "987.654x", 240.0, 210.0, 5.2, 4.1, 6.3, 5.0]},
     r"column 'tc' must be numeric but 1 value\(s\) are not numbers \(data row 2\)"),
    ({"gender": ["M", "F", "F", "Zyxwvut", "F", "M", "M", "F"]},
     r"column 'gender': 1 value\(s\) are not one of the 2 levels .*data row 4"),
    ({"smoker": [0, 1, 0, 1, 2, 0, 0, 1]}, r"column 'smoker' .* must hold 0/1 .*data row 5"),
    ({"outcome": [0, 2, 3, 1, None, 3, 1, 0]}, r"label column 'outcome' is missing in 1 row"),
])
def test_bad_values_name_columns_and_rows(tmp_path: Path, change: dict[str, list[Any]],
                                          expected: str) -> None:
    with pytest.raises(DataError, match=expected) as caught:
        read_mapped_table(_small(tmp_path, **change), _mapping())
    _no_values(str(caught.value))


def test_missing_columns_suggest_a_name(tmp_path: Path) -> None:
    chol = dict(SMALL["features"]["chol"])
    chol["csv"] = {"column": "TC"}
    with pytest.raises(DataError, match=r"feature 'chol' column 'TC' not found; did you "
                                        "mean 'tc'"):
        read_mapped_table(_small(tmp_path), _mapping(chol=chol))
    path = _small(tmp_path)
    pd.read_csv(path).drop(columns="hospital").to_csv(path, index=False)
    with pytest.raises(DataError, match="site column 'hospital' not found"):
        read_mapped_table(path, _mapping())
