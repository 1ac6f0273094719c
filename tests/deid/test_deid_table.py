"""Tables: identifier columns by name, dates per person, numbers untouched (synthetic)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from fedcare.deid import classify_columns, deidentify_frame
from fedcare.deid._table import read_csv
from fedcare.exceptions import DataError

KEY = b"synthetic-test-key-0123456789abcdef"


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "Patient Name": ["Zyxwvut Okafor", "Mary Jones", "Zyxwvut Okafor"],
        "MRN": ["00123", "00456", "00123"],
        "DOB": ["1930-01-02", "1960-03-15", "1930-01-02"],
        "admit_date": ["2021-03-04", "2021-05-06", "2021-07-01"],
        "discharge date": ["2021-03-10", "2021-05-09", "2021-07-05"],
        "age": ["93", "61", "93"],
        "sbp": ["120.5", "130", "118"],
        "ward": ["Cardiology", "ICU", "Cardiology"],
        "note": ["Seen by Dr. Przybylski, call 617-555-0134.", "No complaints.",
                 "Daughter Oluwaseun visited."],
        "姓名": ["李明", "王芳", "李明"],
        "身份证号": ["110105194912310021", "110105196003150012", "110105194912310021"],
        "联系电话": ["13812345678", "010-87654321", "13812345678"],
        "家庭住址": ["北京市朝阳区建国路88号", "上海市浦东新区张江路1号", "北京市朝阳区建国路88号"],
        "visit_type": ["outpatient", "inpatient", "outpatient"],
    }, dtype=str)


def test_column_roles() -> None:
    roles = classify_columns(_frame())
    assert roles == {
        "Patient Name": "NAME", "MRN": "MRN", "DOB": "DATE", "admit_date": "DATE",
        "discharge date": "DATE", "age": "AGE", "sbp": "KEEP", "ward": "TEXT", "note": "TEXT",
        "姓名": "NAME", "身份证号": "ID", "联系电话": "PHONE", "家庭住址": "ADDRESS",
        "visit_type": "TEXT",
    }


@pytest.mark.parametrize("mode", ["tag", "pseudonym"])
def test_frame_deid(mode: str) -> None:
    frame = _frame()
    out, report = deidentify_frame(frame, mode=mode, key=KEY)  # type: ignore[arg-type]
    assert frame.equals(_frame())  # input untouched
    for column in ("Patient Name", "MRN", "姓名", "身份证号", "联系电话", "家庭住址"):
        for before, after in zip(frame[column], out[column], strict=True):
            assert before not in after
            assert after.startswith("[")
    if mode == "pseudonym":  # the same person gets the same pseudonym in every row
        assert out.loc[0, "MRN"] == out.loc[2, "MRN"] != out.loc[1, "MRN"]
    assert list(out["sbp"]) == ["120.5", "130", "118"]  # numeric column byte-identical
    assert list(out["ward"]) == ["Cardiology", "ICU", "Cardiology"]
    assert list(out["age"]) == ["90+", "61", "90+"]
    assert "Przybylski" not in out.loc[0, "note"] and "555-0134" not in out.loc[0, "note"]
    assert "Oluwaseun" not in out.loc[2, "note"]
    assert out.loc[1, "note"] == "No complaints."
    assert report.counts["DATE"] == 9 and report.rows == 3


def test_dates_shift_per_patient_and_keep_intervals() -> None:
    out, _ = deidentify_frame(_frame(), key=KEY)

    def day(value: str) -> dt.date:
        return dt.date.fromisoformat(value)

    for i in range(3):
        stay_before = day(_frame().loc[i, "discharge date"]) - day(_frame().loc[i, "admit_date"])
        stay_after = day(out.loc[i, "discharge date"]) - day(out.loc[i, "admit_date"])
        assert stay_before == stay_after
    shift = [(day(out.loc[i, "admit_date"]) - day(_frame().loc[i, "admit_date"])).days
             for i in range(3)]
    assert shift[0] == shift[2] != 0  # one patient (MRN 00123), two stays
    assert shift[1] != shift[0]
    dob_shift = (day(out.loc[0, "DOB"]) - day(_frame().loc[0, "DOB"])).days
    assert dob_shift == shift[0]


def test_read_csv_errors_name_the_file_not_the_values(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("name,sbp\nZyxwvut Müller,120\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.csv: not UTF-8") as info:
        read_csv(latin)
    assert "Zyxwvut" not in str(info.value)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("name,sbp\nZyxwvut,120\nQwerty,130,extra,fields\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ragged\.csv: not a readable CSV at line 3") as info:
        read_csv(ragged)
    assert "Zyxwvut" not in str(info.value) and "Qwerty" not in str(info.value)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(DataError, match="empty CSV"):
        read_csv(empty)


def test_a_first_row_with_one_field_more_is_refused_not_shifted(tmp_path: Path) -> None:
    """pandas reads a first data row with one field more than the header as having an index
    column: every column moved one to the left (the dbp values under sbp) without a word."""
    shifted = tmp_path / "shifted.csv"
    shifted.write_text("name,sbp,dbp\nZyxwvut,Okafor,142,88\nQwerty,130,80\n",
                       encoding="utf-8")
    with pytest.raises(DataError, match=r"shifted\.csv: not a readable CSV at line 2 \(a row "
                                        r"of 4 fields under a header of 3") as info:
        read_csv(shifted)
    assert "Zyxwvut" not in str(info.value) and "Okafor" not in str(info.value)
    short = tmp_path / "short.csv"
    short.write_text("name,sbp,dbp\nZyxwvut,142\n", encoding="utf-8")
    assert read_csv(short).to_dict("records") == [{"name": "Zyxwvut", "sbp": "142", "dbp": ""}]
