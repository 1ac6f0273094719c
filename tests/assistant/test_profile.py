"""Profile validation: every bad field named with what is accepted, never the value."""

from __future__ import annotations

import pytest

from fedcare.assistant import ProfileError, parse_profile
from fedcare.assistant._profile import check_person_id
from fedcare.exceptions import DataError


def _errors(data: object) -> dict[str, str]:
    with pytest.raises(ProfileError) as info:
        parse_profile(data)
    assert info.value.exit_code == 3 and info.value.http_status == 422
    return {e["field"]: e["msg"] for e in info.value.errors}


def test_impossible_values_are_refused_with_the_range_never_the_value() -> None:
    errors = _errors({"age": 300, "systolic_bp": 20, "waist_cm": 12345.5})
    assert set(errors) == {"age", "systolic_bp", "waist_cm"}
    assert "18-110" in errors["age"] and "60-300 mmHg" in errors["systolic_bp"]
    text = " ".join(errors.values())
    assert "300 " not in text.replace("60-300", "") and "12345" not in text


def test_unknown_unit_and_field_and_type() -> None:
    errors = _errors({"total_cholesterol": {"value": 5.2, "unit": "secret-unit-x"},
                      "sytolic_bp": 120, "smoker": "sometimes", "sex": "unknown",
                      "hba1c": "7"})
    assert "mmol/L" in errors["total_cholesterol"] and "secret-unit-x" not in str(errors)
    assert "unknown field" in errors["sytolic_bp"]
    assert errors["smoker"] == "expected true or false"
    assert "female, male" in errors["sex"]
    assert "number" in errors["hba1c"]


def test_not_an_object() -> None:
    assert "(profile)" in _errors([1, 2, 3])


def test_units_are_converted() -> None:
    p = parse_profile({"total_cholesterol": {"value": 5.0, "unit": "mmol/L"},
                       "fasting_glucose": {"value": 7.0, "unit": "mmol/L"},
                       "hba1c": {"value": 48, "unit": "mmol/mol"},
                       "systolic_bp": {"value": 18.0, "unit": "kPa"},
                       "height_cm": {"value": 1.7, "unit": "m"}, "weight_kg": 72})
    assert p.total_cholesterol == pytest.approx(193.3, abs=0.1)
    assert p.fasting_glucose == pytest.approx(126.1, abs=0.2)
    assert p.hba1c == pytest.approx(6.54, abs=0.01)  # IFCC master equation
    assert p.systolic_bp == pytest.approx(135.0, abs=0.1)
    assert p.bmi == pytest.approx(72 / 1.7 ** 2)
    assert "bmi computed from height_cm and weight_kg" in p.notes


def test_hdl_above_total_is_refused() -> None:
    assert "hdl_cholesterol" in _errors({"total_cholesterol": 150, "hdl_cholesterol": 160})


def test_chinese_sex_and_yes_no_answers() -> None:
    p = parse_profile({"sex": "女", "smoker": "否", "diabetes": "yes"})
    assert (p.sex, p.smoker, p.diabetes) == ("female", False, True)


@pytest.mark.parametrize("person", ["110101199003074514", "13800138000", "12345678901",
                                    "123456", "138-0013-8000", "bad id", "x" * 65, ""])
def test_person_ids_that_are_not_pseudonyms_are_refused(person: str) -> None:
    with pytest.raises(DataError) as info:
        check_person_id(person)
    assert person not in str(info.value) or not person


def test_pseudonymous_person_id_is_accepted() -> None:
    check_person_id("hm-000123")


def test_contradictory_values_are_refused() -> None:
    assert "systolic_bp" in _errors({"systolic_bp": 120, "diastolic_bp": 130})["diastolic_bp"]
    assert "height_cm" in _errors({"bmi": 25, "height_cm": 170, "weight_kg": 50})["bmi"]


def test_a_unit_typo_is_hinted() -> None:
    msg = _errors({"total_cholesterol": {"value": 5.2, "unit": "mmol/dL"}})[
        "total_cholesterol"]
    assert "check the unit" in msg and "mmol/dL" not in msg
