"""Columns that identify people: flagged on real tables with an id added, never a feature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcare.data import identifier_columns
from fedcare.data._heart import heart_disease_table, load_heart_disease_frame
from fedcare.exceptions import DataError

SITES = ("cleveland", "hungary", "switzerland", "va")


@pytest.fixture(scope="module")
def heart(heart_data_dir: Path) -> pd.DataFrame:
    return heart_disease_table(heart_data_dir, download=False)


def _with_ids(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The table with a shuffled patient id, an MRN as text and a saved row index."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    out = frame.copy()
    out["patient_no"] = rng.permutation(n) + 1001
    out["mrn_text"] = [f"H{v:07d}" for v in rng.choice(10_000_000, n, replace=False)]
    out.insert(0, "Unnamed: 0", np.arange(n))
    return out


def test_no_heart_column_is_an_identifier(heart: pd.DataFrame,
                                          heart_data_dir: Path) -> None:
    assert identifier_columns(heart) == {}
    raw = load_heart_disease_frame(heart_data_dir, download=False)  # all 14 UCI columns
    assert identifier_columns(raw) == {}
    for site in SITES:   # each hospital's own rows
        assert identifier_columns(raw[raw["site"] == site]) == {}, site


def test_an_added_patient_id_mrn_and_row_index_are_flagged(heart: pd.DataFrame) -> None:
    found = identifier_columns(_with_ids(heart))
    assert found == {"Unnamed: 0": "sequential integers",
                     "patient_no": "sequential integers",
                     "mrn_text": "text, 100% of rows unique"}
    for site, rows in _with_ids(heart).groupby("site"):  # at every site on its own too
        assert set(identifier_columns(rows)) == {"Unnamed: 0", "patient_no", "mrn_text"}, site


def test_reasons_never_quote_a_value(heart: pd.DataFrame) -> None:
    frame = _with_ids(heart)
    values = {str(v) for c in ("patient_no", "mrn_text") for v in frame[c]}
    for reason in identifier_columns(frame).values():
        assert not any(v in reason for v in values if len(v) > 3), reason
    with pytest.raises(DataError, match="column 'patient' not found; did you mean "
                                        "'patient_no'") as err:
        identifier_columns(frame, ["age", "patient"])
    assert not any(v in str(err.value) for v in values if len(v) > 3)


def test_columns_restrict_the_check(heart: pd.DataFrame) -> None:
    frame = _with_ids(heart)
    assert identifier_columns(frame, ["age", "mrn_text"]) == {
        "mrn_text": "text, 100% of rows unique"}


def test_sparse_unique_integers_are_flagged_but_not_wide_measurements() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        # 300 patients of a registry numbered 1..6000: all unique, 7.5 ties expected
        "enrolment": rng.choice(np.arange(1, 6001), 300, replace=False),
        # follow-up days: unique in a small cohort is no evidence (0.7 ties expected)
        "days": rng.choice(np.arange(1, 5001), 60, replace=False).tolist() + [np.nan] * 240,
        # an integer measurement of 300 patients repeats values
        "chol": rng.normal(230, 45, 300).round(0),
    })
    assert identifier_columns(frame) == {"enrolment": "unique per row (integer)"}


def test_a_unique_float_measurement_is_never_an_identifier() -> None:
    rng = np.random.default_rng(4)
    n = 400
    frame = pd.DataFrame({
        "creatinine": np.round(rng.lognormal(0, 0.4, n), 6),    # all unique
        "record_value": np.round(rng.normal(5, 1, n), 4),        # id-like name, floats
        "patient_weight": np.round(rng.normal(80, 12, n), 3),
        "ratio_index": np.linspace(0.01, 4, n),                  # evenly spaced floats
    })
    assert frame["creatinine"].is_unique
    assert identifier_columns(frame) == {}
    assert identifier_columns(frame.head(20)) == {}


def test_small_tables_by_name_only() -> None:
    rng = np.random.default_rng(5)
    n = 30
    frame = pd.DataFrame({
        "patient_id": rng.permutation(n) + 1,
        "MRN": [f"X{i:05d}" for i in rng.permutation(n)],
        "SubjectID": np.arange(n),
        "row": np.arange(n),          # sequential, but too few rows to judge by values
        "pid_repeat": np.repeat(np.arange(10), 3),  # an id-like name, 33% unique
        "site_id": rng.integers(0, 3, n),
        "age": rng.integers(30, 80, n),
    })
    assert identifier_columns(frame) == {
        "patient_id": "name looks like an identifier (patient_id)",
        "MRN": "name looks like an identifier (MRN)",
        "SubjectID": "name looks like an identifier (SubjectID)"}


def test_names_that_merely_contain_id_letters_are_not_identifiers() -> None:
    rng = np.random.default_rng(6)
    n = 20
    frame = pd.DataFrame({name: rng.permutation(n) for name in (
        "lipid", "thyroid", "fluid_in", "covid", "rapid_test", "paid", "num_age",
        "case", "visits")})
    assert identifier_columns(frame) == {}


def test_numbers_written_as_text_are_judged_as_numbers() -> None:
    rng = np.random.default_rng(7)
    n = 300
    values = [f"{v:.3f}" for v in rng.lognormal(1.5, 0.3, n)]
    values[:20] = ["."] * 20          # an export's "not measured"
    frame = pd.DataFrame({"lab": values, "code": [str(i) for i in rng.permutation(n)]})
    assert identifier_columns(frame) == {"code": "sequential integers"}


def test_booleans_dates_and_low_cardinality_text_are_not_identifiers() -> None:
    n = 100
    frame = pd.DataFrame({
        "smoker": [True, False] * (n // 2),
        "admitted": pd.date_range("2020-01-01", periods=n, freq="D"),
        "ward": ["a", "b", "c", "d"] * (n // 4),
        "empty": [np.nan] * n,
    })
    assert identifier_columns(frame) == {}


def test_dialysis_pid_is_flagged_and_no_covariate(
        survset: Callable[[str], pd.DataFrame]) -> None:
    df = survset("Dialysis")
    found = identifier_columns(df)
    assert found == {"pid": "sequential integers"}
    assert not [c for c in found if c.startswith(("fac_", "num_"))]


@pytest.mark.parametrize("name", ["Pbc3", "support2", "flchain", "rhc", "colon", "GBSG2",
                                  "whas500", "actg", "hepatoCellular", "d.oropha.rec"])
def test_real_survival_tables_flag_only_their_patient_id(
        name: str, survset: Callable[[str], pd.DataFrame]) -> None:
    df = survset(name)
    assert identifier_columns(df) == {"pid": "sequential integers"}
    assert identifier_columns(df.drop(columns="pid")) == {}
