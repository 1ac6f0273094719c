"""Tests for the CSV/Parquet connector: :func:`fedcare.data.read_table` and friends.

Every table here is synthetic.  Each error test plants distinctive "patient" values
(an age of 987.654, a name-like string "Zyxwvut") and checks that the message names
columns, rows and counts but never echoes those values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcare.data import Cohort, Schema, cohort_from_frame, infer_schema, read_table
from fedcare.exceptions import DataError, DataNotFoundError

PLANTED = ("987.654", "Zyxwvut")


def _frame(n_per_site: int = 6) -> pd.DataFrame:
    """Two sites, both outcomes at each, planted values in age and ward (synthetic)."""
    n = 2 * n_per_site
    return pd.DataFrame({
        "hospital": ["alpha"] * n_per_site + ["beta"] * n_per_site,
        "died": [0, 1] * n_per_site,
        "age": [987.654] + [40.0 + i for i in range(1, n)],
        "sbp": [120.0 + 3 * i for i in range(n)],
        "smoker": [i % 2 for i in range(n)],
        "ward": (["Zyxwvut", "East", "West"] * n)[:n],
    })


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "cohort.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _read(path: Path, **kwargs: object) -> Cohort:
    options: dict[str, object] = {"site_column": "hospital", "target": "died"}
    options.update(kwargs)
    return read_table(path, **options)  # type: ignore[arg-type]


def _assert_no_patient_values(message: str) -> None:
    for value in PLANTED:
        assert value.lower() not in message.lower(), message


def _error(path: Path, kind: type[Exception] = DataError, **kwargs: object) -> str:
    with pytest.raises(kind) as info:
        _read(path, **kwargs)
    message = str(info.value)
    _assert_no_patient_values(message)
    return message


# -- bad input: one test per error ---------------------------------------------------


def test_missing_target_column_counts_columns(tmp_path: Path) -> None:
    message = _error(_csv(tmp_path, _frame()), target="outcome")
    assert "target column 'outcome' not found" in message
    assert "did you mean" not in message
    assert "(6 columns present)" in message


@pytest.mark.parametrize(
    ("option", "given", "expected"),
    [("site_column", "hospitl", "hospital"), ("target", "dide", "died"),
     ("features", ["agee", "sbp"], "age"), ("features", ["AGE"], "age")],
)
def test_misspelt_column_suggests_the_right_one(
    tmp_path: Path, option: str, given: object, expected: str
) -> None:
    message = _error(_csv(tmp_path, _frame()), **{option: given})
    assert f"did you mean '{expected}'?" in message
    assert "not found" in message


def test_non_numeric_values_name_column_count_and_rows(tmp_path: Path) -> None:
    frame = _frame()
    frame["sbp"] = frame["sbp"].astype(object)
    frame.loc[[2, 6], "sbp"] = "Zyxwvut"
    message = _error(_csv(tmp_path, frame))
    assert "column 'sbp'" in message
    assert "2 value(s) are not numbers" in message
    assert "data rows 3, 7" in message


def test_numeric_override_on_a_text_column_is_refused(tmp_path: Path) -> None:
    message = _error(_csv(tmp_path, _frame()), numeric=["ward"])
    assert "column 'ward' must be numeric but 12 value(s) are not numbers" in message
    assert "and 7 more" in message  # only the first five rows are named


def test_site_whose_rows_all_miss_a_feature_is_refused(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[frame["hospital"] == "beta", "sbp"] = np.nan
    message = _error(_csv(tmp_path, frame))
    assert "site(s) ['beta'] have no usable rows" in message


def test_blank_site_name_is_refused(tmp_path: Path) -> None:
    frame = _frame()
    frame["hospital"] = frame["hospital"].astype(object)
    frame.loc[3, "hospital"] = ""
    frame.loc[8, "hospital"] = "   "
    message = _error(_csv(tmp_path, frame))
    assert "site column 'hospital' is empty in 2 row(s) (data rows 4, 9)" in message


def test_label_with_one_class_is_refused(tmp_path: Path) -> None:
    frame = _frame()
    frame["died"] = 0
    message = _error(_csv(tmp_path, frame))
    assert "target 'died' has a single class over all 12 rows" in message


def test_missing_labels_name_count_and_rows(tmp_path: Path) -> None:
    frame = _frame()
    frame["died"] = frame["died"].astype(float)
    frame.loc[[1, 4], "died"] = np.nan
    message = _error(_csv(tmp_path, frame))
    assert "target 'died' is missing in 2 row(s) (data rows 2, 5)" in message


def test_duplicate_column_names_in_header_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dupes.csv"
    path.write_text(
        "hospital,died,age,sbp,age\n"
        "alpha,0,987.654,120,Zyxwvut\n"
        "alpha,1,51,130,60\n"
        "beta,0,62,140,61\n"
        "beta,1,70,150,62\n"
    )
    message = _error(path)
    assert "duplicate column name(s) ['age']" in message


def test_duplicate_columns_in_a_frame_are_refused() -> None:
    frame = _frame()
    frame.columns = ["hospital", "died", "age", "sbp", "age", "ward"]
    with pytest.raises(DataError, match=r"duplicate column name\(s\) \['age'\]") as info:
        cohort_from_frame(frame, site_column="hospital", target="died")
    _assert_no_patient_values(str(info.value))


def test_target_levels_need_positive(tmp_path: Path) -> None:
    frame = _frame()
    frame["died"] = ["dead" if d else "alive" for d in frame["died"]]
    path = _csv(tmp_path, frame)
    message = _error(path)
    assert "target 'died' has 2 distinct values, not 0/1" in message
    assert "--positive" in message

    cohort = _read(path, positive="dead")
    np.testing.assert_array_equal(cohort.y, [0, 1] * 6)
    assert cohort.y.dtype == np.int64


def test_positive_level_absent_from_target(tmp_path: Path) -> None:
    frame = _frame()
    frame["died"] = ["dead" if d else "alive" for d in frame["died"]]
    message = _error(_csv(tmp_path, frame), positive="deceased")
    assert "is not one of the 2 levels of target 'died'" in message


def test_true_false_target_needs_no_positive(tmp_path: Path) -> None:
    frame = _frame()
    frame["died"] = ["TRUE" if d else "false" for d in frame["died"]]
    np.testing.assert_array_equal(_read(_csv(tmp_path, frame)).y, [0, 1] * 6)


def test_binary_file_with_csv_suffix_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cohort.csv"
    path.write_bytes(b"\xff\xfe\x80Zyxwvut,987.654\x00\x81" + bytes(range(128, 256)))
    message = _error(path)
    assert "not UTF-8 text" in message


def test_corrupt_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cohort.parquet"
    path.write_bytes(b"hospital,died\nZyxwvut,987.654\n")
    message = _error(path)
    assert "not a readable Parquet file" in message


def test_unsupported_suffix_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(b"PK\x03\x04Zyxwvut")
    message = _error(path)
    assert "expected a .csv or .parquet file, got '.xlsx'" in message


def test_header_only_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("hospital,died,age\n")
    assert "no data rows" in _error(path)


def test_missing_file_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no such file") as info:
        _read(tmp_path / "absent.csv")
    assert info.value.exit_code == 4
    assert isinstance(info.value, FileNotFoundError)


def test_missing_error_mode_names_columns_and_counts(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[[0, 7], "sbp"] = np.nan
    message = _error(_csv(tmp_path, frame), missing="error")
    assert "2 row(s) have missing feature values (per column: 'sbp' 2; data rows 1, 8)" in message


def test_data_error_is_a_value_error_with_exit_code_3(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        _read(_csv(tmp_path, _frame()), target="outcome")
    assert isinstance(info.value, DataError)
    assert info.value.exit_code == 3


# -- good input ----------------------------------------------------------------------


def test_types_are_inferred(tmp_path: Path) -> None:
    cohort = _read(_csv(tmp_path, _frame()))
    kinds = {f.name: f.kind for f in cohort.schema.features}
    assert kinds == {"age": "numeric", "sbp": "numeric", "smoker": "binary",
                     "ward": "categorical"}
    assert cohort.schema.feature("ward").categories == ("East", "West", "Zyxwvut")
    assert cohort.feature_names == ["age", "sbp", "smoker", "ward=West", "ward=Zyxwvut"]
    assert cohort.X.shape == (12, 5)
    assert cohort.X.dtype == np.float64
    assert cohort.sites == ["alpha", "beta"]
    assert cohort.dropped == {"alpha": 0, "beta": 0}


def test_numbers_written_as_text_are_numeric() -> None:
    frame = _frame()
    frame["sbp"] = [f"{v:.1f}" for v in frame["sbp"]]
    cohort = cohort_from_frame(frame, site_column="hospital", target="died")
    assert cohort.schema.feature("sbp").kind == "numeric"
    assert cohort.X[1, cohort.feature_names.index("sbp")] == 123.0


def test_categorical_one_hot_drops_first_level(tmp_path: Path) -> None:
    frame = _frame()
    frame["cp"] = [1.0, 2.0, 3.0, 4.0, 2.0, 1.0] * 2
    cohort = _read(_csv(tmp_path, frame), features=["cp", "age"], categorical=["cp"])
    assert cohort.schema.feature("cp").categories == ("1", "2", "3", "4")
    assert cohort.feature_names == ["cp=2", "cp=3", "cp=4", "age"]
    np.testing.assert_array_equal(
        cohort.X[:6, :3],
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]],
    )
    # without the override the same column is an ordinary number
    assert _read(_csv(tmp_path, frame), features=["cp"]).feature_names == ["cp"]


def test_categorical_and_numeric_overrides(tmp_path: Path) -> None:
    frame = _frame()
    frame["stage"] = ["10", "9", "2"] * 4
    cohort = _read(_csv(tmp_path, frame), categorical=["smoker", "stage"], numeric=["sbp"])
    assert cohort.schema.feature("smoker").kind == "categorical"
    assert cohort.schema.feature("sbp").kind == "numeric"
    # numeric-looking levels sort numerically, not as text
    assert cohort.schema.feature("stage").categories == ("2", "9", "10")
    assert "smoker=1" in cohort.feature_names
    assert "stage=9" in cohort.feature_names and "stage=10" in cohort.feature_names


def test_override_in_both_lists_is_refused(tmp_path: Path) -> None:
    message = _error(_csv(tmp_path, _frame()), categorical=["sbp"], numeric=["sbp"])
    assert "['sbp'] declared both categorical and numeric" in message


def test_missing_drop_counts_per_site(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[[0, 3], "sbp"] = np.nan  # both at alpha
    frame.loc[7, "ward"] = np.nan  # one at beta
    cohort = _read(_csv(tmp_path, frame))
    assert cohort.dropped == {"alpha": 2, "beta": 1}
    assert len(cohort) == 9
    assert len(cohort.for_site("alpha")) == 4
    assert len(cohort.for_site("beta")) == 5
    summary = cohort.summary().set_index("site")
    assert summary.loc["alpha", "dropped_missing"] == 2
    assert summary.loc["beta", "rows"] == 5
    assert not np.isnan(cohort.X).any()


def test_question_mark_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    rows = ["hospital,died,age,sbp"] + [
        f"{'alpha' if i < 4 else 'beta'},{i % 2},{40 + i},{'?' if i == 5 else 120 + i}"
        for i in range(8)
    ]
    path.write_text("\n".join(rows) + "\n")
    cohort = _read(path)
    assert cohort.dropped == {"alpha": 0, "beta": 1}
    assert cohort.schema.feature("sbp").kind == "numeric"


def test_parquet_gives_the_same_cohort_as_csv(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[4, "sbp"] = np.nan
    frame.loc[9, "ward"] = None
    from_csv = _read(_csv(tmp_path, frame))
    parquet = tmp_path / "cohort.parquet"
    frame.to_parquet(parquet, index=False)
    from_parquet = _read(parquet)
    np.testing.assert_array_equal(from_parquet.X, from_csv.X)
    np.testing.assert_array_equal(from_parquet.y, from_csv.y)
    np.testing.assert_array_equal(from_parquet.site, from_csv.site)
    assert from_parquet.schema == from_csv.schema
    assert from_parquet.dropped == from_csv.dropped == {"alpha": 1, "beta": 1}


def test_schema_merge_gives_one_encoding_across_sites() -> None:
    frame = _frame(n_per_site=4)
    frame["ward"] = ["East", "North", "East", "North", "West", "East", "West", "East"]
    alpha = frame[frame["hospital"] == "alpha"].reset_index(drop=True)
    beta = frame[frame["hospital"] == "beta"].reset_index(drop=True)
    roles = {"site_column": "hospital", "target": "died"}
    local_a = infer_schema(alpha, **roles)
    local_b = infer_schema(beta, **roles)
    assert local_a.feature("ward").categories == ("East", "North")
    assert local_b.feature("ward").categories == ("East", "West")
    # sites share level sets, never rows
    merged = local_a.merge_categories([{"ward": list(local_b.feature("ward").categories)}])
    merged_other_way = local_b.merge_categories([{"ward": ["North", "East"]}])
    assert merged == merged_other_way
    assert merged.feature("ward").categories == ("East", "North", "West")

    cohort_a = cohort_from_frame(alpha, site_column="hospital", target="died", schema=merged)
    cohort_b = cohort_from_frame(beta, site_column="hospital", target="died", schema=merged)
    assert cohort_a.feature_names == cohort_b.feature_names
    assert cohort_a.feature_names == ["age", "sbp", "smoker", "ward=North", "ward=West"]
    np.testing.assert_array_equal(cohort_a.X[:, 3:], [[0, 0], [1, 0], [0, 0], [1, 0]])
    np.testing.assert_array_equal(cohort_b.X[:, 3:], [[0, 1], [0, 0], [0, 1], [0, 0]])
    # each site's own (unmerged) encoding would disagree on the columns
    assert local_a.feature_names != local_b.feature_names


def test_schema_round_trips_through_to_dict() -> None:
    cohort = cohort_from_frame(_frame(), site_column="hospital", target="died",
                               units={"sbp": "mm[Hg]"})
    described = cohort.schema.to_dict()
    assert described["encoded_feature_names"] == cohort.feature_names
    assert {f["name"]: f["unit"] for f in described["features"]}["sbp"] == "mm[Hg]"
    assert isinstance(cohort.schema, Schema)


# -- inputs a hospital export really produces --------------------------------------------


def test_semicolon_separated_csv_reads_like_comma(tmp_path: Path) -> None:
    frame = _frame()
    comma = read_table(_csv(tmp_path, frame), site_column="hospital", target="died")
    semi = tmp_path / "semi.csv"
    frame.to_csv(semi, index=False, sep=";")
    other = read_table(semi, site_column="hospital", target="died")
    np.testing.assert_array_equal(comma.X, other.X)
    assert comma.feature_names == other.feature_names


@pytest.mark.parametrize(
    ("content", "match"),
    [("", "the file is empty"), ("hospital,died,age\n", "no data rows")],
)
def test_empty_and_header_only_files(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=match):
        read_table(path, site_column="hospital", target="died")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path, site_column="hospital", target="died")


def test_site_column_equal_to_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="site column and the target are both 'died'"):
        read_table(_csv(tmp_path, _frame()), site_column="died", target="died")


def test_identifier_like_text_column_is_refused_without_values(tmp_path: Path) -> None:
    frame = _frame(40)
    frame["mrn"] = [f"MRN{100000 + i}" for i in range(len(frame))]
    with pytest.raises(DataError) as err:
        read_table(_csv(tmp_path, frame), site_column="hospital", target="died")
    message = str(err.value)
    assert "column 'mrn' has 80 distinct text values" in message
    assert "MRN1" not in message


def test_positive_with_more_than_two_levels_is_refused(tmp_path: Path) -> None:
    frame = _frame()
    frame["died"] = (["Yes", "yes", "No"] * 4)[:12]
    with pytest.raises(DataError, match="has 3 distinct levels"):
        read_table(_csv(tmp_path, frame), site_column="hospital", target="died", positive="Yes")
