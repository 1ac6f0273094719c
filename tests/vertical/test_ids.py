"""Identifier normalisation before PSI: resident ids, phones, generic ids and MRNs; the
report and the duplicate error carry counts and row numbers, never a value."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from fedcare.exceptions import ConfigError, DataError
from fedcare.vertical.ids import (
    KINDS,
    NormalisationReport,
    normalise_ids,
    normalise_one,
    require_unique,
)

# The commonly published example of a valid 18-digit resident identity number, and the
# 15-digit number it was upgraded from.
PUBLISHED_18 = "11010519491231002X"
PUBLISHED_15 = "110105491231002"


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 from its definition (weights 2**(17 - i) mod 11), not from the
    weight table the module uses."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def with_check(first17: str) -> str:
    return first17 + check_char(first17)


def test_the_independent_check_agrees_with_the_published_example() -> None:
    assert with_check(PUBLISHED_18[:17]) == PUBLISHED_18


# --- resident_id ------------------------------------------------------------------------

def test_valid_18_digit_id_with_lower_case_x() -> None:
    out, report = normalise_ids([PUBLISHED_18.lower()], "resident_id")
    assert out == [PUBLISHED_18]
    assert report.case_folded == 1
    assert report.invalid == 0 and report.usable == 1


def test_separators_inside_a_resident_id_are_removed() -> None:
    out, report = normalise_ids(["110105-19491231-002x"], "resident_id")
    assert out == [PUBLISHED_18]
    assert report.separators_removed == 1 and report.case_folded == 1


def test_wrong_check_character_is_invalid() -> None:
    for wrong in "0123456789":
        assert normalise_one(PUBLISHED_18[:17] + wrong, "resident_id") is None
    out, report = normalise_ids([PUBLISHED_18[:17] + "1", PUBLISHED_18], "resident_id")
    assert out == [None, PUBLISHED_18]
    assert report.invalid == 1 and report.usable == 1


def test_15_digit_id_is_upgraded_with_the_right_check_character() -> None:
    old = ["440524800101001", "310104750615123", PUBLISHED_15]
    out, report = normalise_ids(old, "resident_id")
    expected = [with_check(x[:6] + "19" + x[6:]) for x in old]
    assert out == expected
    assert out[2] == PUBLISHED_18
    assert report.upgraded_15_to_18 == 3 and report.invalid == 0


def test_an_upgraded_15_digit_id_matches_its_18_digit_form() -> None:
    out, report = normalise_ids([PUBLISHED_15, PUBLISHED_18], "resident_id")
    assert out[0] == out[1]
    assert report.duplicates == 1 and report.duplicate_rows == [2]


@pytest.mark.parametrize("birth", ["19490230", "19491301", "18991231", "20990101", "19490000"])
def test_impossible_birth_date_is_invalid(birth: str) -> None:
    number = with_check("110105" + birth + "002")
    out, report = normalise_ids([number], "resident_id")
    assert out == [None]
    assert report.invalid == 1


def test_impossible_birth_date_in_a_15_digit_id_is_invalid() -> None:
    out, report = normalise_ids(["110105490230002"], "resident_id")
    assert out == [None]
    assert report.invalid == 1 and report.upgraded_15_to_18 == 0


@pytest.mark.parametrize("value", ["1101051949123100", "11010519491231002XX", "abc",
                                   "11010519491231002Y", "X10105194912310020",
                                   "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"])
def test_other_shapes_are_invalid(value: str) -> None:
    assert normalise_one(value, "resident_id") is None


def test_full_width_digits_and_ideographic_spaces() -> None:
    full = "\u3000１１０１０５１９４９１２３１００２Ｘ\u3000"
    out, report = normalise_ids([full, PUBLISHED_18], "resident_id")
    assert out == [PUBLISHED_18, PUBLISHED_18]
    assert report.width_folded == 1
    assert report.whitespace_trimmed == 1
    assert report.case_folded == 0
    phone = normalise_one("１３８\u3000１２３４\u3000５６７８", "phone")
    assert phone == "13812345678"


# --- phone ------------------------------------------------------------------------------

def test_mainland_mobile_written_many_ways() -> None:
    values = ["+86 138-1234-5678", "0086 13812345678", "8613812345678", "138 1234 5678",
              13812345678.0, 13812345678, "13812345678", "+8613812345678"]
    out, report = normalise_ids(values, "phone")
    assert out == ["13812345678"] * len(values)
    assert report.country_code_removed == 4
    assert report.separators_removed == 3
    assert report.invalid == 0 and report.empty == 0
    assert report.duplicates == len(values) - 1
    assert report.duplicate_rows == list(range(2, len(values) + 1))


def test_float_column_read_from_a_csv() -> None:
    frame = pd.read_csv(io.StringIO("phone\n13812345678\n\n13912345678\n"),
                        skip_blank_lines=False)
    assert frame["phone"].dtype == np.float64
    out, report = normalise_ids(frame["phone"], "phone", source="hospital.csv")
    assert out == ["13812345678", None, "13912345678"]
    assert report.empty == 1 and report.total == 3 and report.usable == 2


def test_foreign_number_keeps_its_country_code() -> None:
    assert normalise_one("+44 20 7946 0958", "phone") == "442079460958"
    assert normalise_one("0044 (20) 7946-0958", "phone") == "442079460958"


def test_mainland_landline_keeps_its_trunk_zero() -> None:
    assert normalise_one("010-1234-5678", "phone") == "01012345678"
    assert normalise_one("0755 12345678", "phone") == "075512345678"
    # With the country code it is not a mobile number: 86 stays, as written.
    out, report = normalise_ids(["+86 020 1234 5678", "8602012345678"], "phone")
    assert out == ["8602012345678", "8602012345678"]
    assert report.country_code_removed == 0


def test_too_short_or_too_long_phone_is_invalid() -> None:
    out, report = normalise_ids(["12345", "123456", "+1234567890123456", "1234567",
                                 "n/a"], "phone")
    assert out == [None, None, None, "1234567", None]
    assert report.invalid == 4


def test_a_float_whose_digits_cannot_be_trusted_is_invalid() -> None:
    # An 18-digit id read as float64, a phone read as float32, a fractional float.
    assert normalise_one(110105194912310020.0, "resident_id") is None
    assert normalise_one(np.float32(13812345678), "phone") is None
    assert normalise_ids(np.array([13812345678], dtype=np.float32), "phone")[0] == [None]
    assert normalise_one(1381234567.5, "phone") is None
    assert normalise_one(np.float64(13812345678.0), "phone") == "13812345678"


# --- generic and mrn --------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["generic", "mrn"])
def test_generic_and_mrn_remove_separators_and_upper_case(kind: str) -> None:
    values = [" 00123-ab ", "00123 AB", "0012.3/a_(b)", "00123AB"]
    out, report = normalise_ids(values, kind)
    assert out == ["00123AB"] * 4
    assert report.whitespace_trimmed == 1
    assert report.separators_removed == 3  # a row counts once however many it lost
    assert report.case_folded == 2
    assert report.invalid == 0


def test_generic_is_invalid_only_when_nothing_is_left() -> None:
    out, report = normalise_ids(["-- /", "#1", "病历号12"], "generic")
    assert out == [None, "#1", "病历号12"]
    assert report.invalid == 1 and report.empty == 0


# --- empty, kinds, inputs ---------------------------------------------------------------

def test_missing_values_are_empty() -> None:
    values = [None, float("nan"), np.nan, "", "   ", pd.NA, "A1"]
    out, report = normalise_ids(values, "generic")
    assert out == [None] * 6 + ["A1"]
    assert report.empty == 6 and report.invalid == 0 and report.usable == 1
    series = pd.Series(["x1", None, np.nan], dtype=object)
    out, report = normalise_ids(series, "mrn")
    assert out == ["X1", None, None] and report.empty == 2
    assert normalise_ids(np.array([np.nan, 1.0]), "generic")[0] == [None, "1"]
    for kind in KINDS:
        assert normalise_one(None, kind) is None


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        normalise_ids(["1"], "passport")
    for kind in KINDS:
        assert kind in str(info.value)
    with pytest.raises(ConfigError):
        normalise_one("1", "email")


def test_a_single_string_is_refused() -> None:
    with pytest.raises(TypeError):
        normalise_ids("13812345678", "phone")


# --- duplicates and the report never carry a value --------------------------------------

RAW = ["138-1234-5678", "13912345678", "+86 13812345678", "139 1234 5678", "13712345678"]
NORMALISED = ["13812345678", "13912345678", "13712345678"]


def test_duplicates_are_counted_with_row_numbers() -> None:
    out, report = normalise_ids(RAW, "phone", source="insurer.csv")
    assert report.duplicates == 2
    assert report.duplicate_rows == [3, 4]
    assert report.usable == 5
    assert out[2] == out[0] and out[3] == out[1]


def test_require_unique_names_source_count_and_rows_never_a_value() -> None:
    out, report = normalise_ids(RAW, "phone", source="insurer.csv")
    with pytest.raises(DataError) as info:
        require_unique(out, report)
    message = str(info.value)
    assert message.startswith("insurer.csv: 2 identifier(s)")
    assert "rows 3, 4" in message
    for value in [*RAW, *NORMALISED, "12345678", "1234-5678"]:
        assert value not in message


def test_require_unique_passes_unique_identifiers() -> None:
    out, report = normalise_ids(["A1", "A2", None, None, "bad-"], "generic")
    require_unique(out, report)  # two empty rows are not duplicates
    assert report.duplicates == 0


def test_only_the_first_20_duplicate_rows_are_kept() -> None:
    values = ["P1"] + ["p-1"] * 30
    out, report = normalise_ids(values, "generic", source="h")
    assert report.duplicates == 30
    assert report.duplicate_rows == list(range(2, 22))
    with pytest.raises(DataError, match=r"^h: 30 identifier\(s\) .*\(first rows 2, 3, .*21, "
                                        r"\.\.\.\)"):
        require_unique(out, report)


def test_report_to_dict_is_json_ready_and_holds_no_value() -> None:
    values = [*RAW, PUBLISHED_18, None]
    _, report = normalise_ids(values, "phone", source="insurer.csv")
    data = report.to_dict()
    text = json.dumps(data)
    for value in [*RAW, *NORMALISED, PUBLISHED_18]:
        assert value not in text
    assert data["source"] == "insurer.csv" and data["kind"] == "phone"
    assert data["total"] == 7 and data["empty"] == 1 and data["invalid"] == 1
    assert data["usable"] == 5 and data["duplicate_rows"] == [3, 4]
    assert isinstance(report, NormalisationReport)
    data["duplicate_rows"].append(99)
    assert report.duplicate_rows == [3, 4]


def test_report_repr_holds_no_value() -> None:
    _, report = normalise_ids(RAW, "phone")
    for value in [*RAW, *NORMALISED]:
        assert value not in repr(report)


def test_a_duplicate_names_both_rows() -> None:
    out, report = normalise_ids(["A1", "B2", "C3", "b-2"], "generic", source="h.csv")
    with pytest.raises(DataError, match=r"\(rows 4\), repeating the identifier of row\(s\) 2;"):
        require_unique(out, report)
