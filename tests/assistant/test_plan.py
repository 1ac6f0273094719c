"""Tier, factors, what-if, plan, follow-up and both languages."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from fedcare.assistant import CITATIONS, Thresholds, assess
from fedcare.exceptions import ConfigError

PERSON: dict[str, Any] = {
    "age": 58, "sex": "male", "race": "other", "systolic_bp": 148, "bp_treated": False,
    "total_cholesterol": {"value": 5.8, "unit": "mmol/L"},
    "hdl_cholesterol": {"value": 1.1, "unit": "mmol/L"}, "smoker": True, "diabetes": False,
    "height_cm": 172, "weight_kg": 82, "waist_cm": 95, "egfr": 85, "statin": False,
    "physically_active": False, "daily_fruit_veg": True, "bp_medication": False,
    "high_glucose_history": False, "family_history_diabetes": "first_degree",
    "salt_g_per_day": 10, "activity_min_per_week": 60}
DAY = date(2026, 12, 6)


def test_output_shape_and_citations() -> None:
    a = assess(PERSON, on=DAY)
    for name, s in a["scores"].items():
        assert s["citation"], name
        assert not s["skipped"], name
    assert a["scores"]["prevent_cvd_2023"]["horizon_years"] == 10
    assert 0 < a["scores"]["prevent_cvd_2023"]["risk"] < 1
    assert isinstance(a["scores"]["cdrs"]["points"], int)
    assert a["tier"]["level"] in ("green", "yellow", "red")
    assert a["plan"]["reassess_on"] == "2027-03-06"  # red: 3 months
    assert "not a diagnosis" in a["disclaimer"]


def test_what_if_recomputes_through_the_equation_or_cites_an_effect() -> None:
    a = assess(PERSON, on=DAY)
    by = {w["intervention"]: w for w in a["what_if"]}
    assert set(by) == {"stop_smoking", "sbp_minus_10", "cholesterol_minus_1",
                       "weight_loss_5pct", "activity_150", "salt_under_5g"}
    for w in a["what_if"]:
        for e in w["estimates"]:
            if e["method"] == "equation" and "risk_after" in e:
                assert e["risk_after"] <= e["risk_before"], (w["intervention"], e["score"])
            if e["method"] == "effect_size":
                assert e["citation"] and e["relative_risk"] < 1
    # activity is no equation's input: the cited effect (Sattelmair 2011, RR 0.86)
    act = next(e for e in by["activity_150"]["estimates"] if e["score"] == "prevent_cvd_2023")
    assert act["method"] == "effect_size" and act["relative_risk"] == 0.86
    assert act["risk_after"] == pytest.approx(act["risk_before"] * 0.86)
    # stopping smoking goes through the equation and is the largest change here
    assert a["what_if"][0]["intervention"] == "stop_smoking"
    stop = next(e for e in by["stop_smoking"]["estimates"] if e["score"] == "prevent_cvd_2023")
    assert stop["method"] == "equation"
    again = assess({**PERSON, "smoker": False}, on=DAY)
    assert stop["risk_after"] == pytest.approx(again["scores"]["prevent_cvd_2023"]["risk"],
                                               abs=1e-6)
    # no invented effect of weight loss on cardiovascular events
    weight = by["weight_loss_5pct"]["estimates"]
    assert any(e["method"] == "none" and "Look AHEAD" in e["citation"] for e in weight)


def test_plan_targets_come_from_cited_guidelines() -> None:
    a = assess(PERSON, on=DAY)
    areas = {i["area"]: i for i in a["plan"]["items"]}
    assert areas["blood_pressure"]["target"]["systolic_bp"] == {"below": 130}
    assert "2024" in areas["blood_pressure"]["citation"]
    assert areas["salt"]["target"]["salt_g_per_day"] == {"below": 5}
    assert areas["activity"]["citation"] == CITATIONS["who_activity_2020"]
    assert "weight" in areas and "smoking" in areas and "glucose" in areas
    for item in a["plan"]["items"]:
        assert date.fromisoformat(item["due"]) > DAY


def test_green_person_gets_a_short_plan() -> None:
    a = assess({"age": 42, "sex": "female", "race": "white", "systolic_bp": 112,
                "bp_treated": False, "total_cholesterol": 175, "hdl_cholesterol": 62,
                "smoker": False, "diabetes": False, "egfr": 100, "statin": False,
                "bmi": 21.5, "salt_g_per_day": 4, "activity_min_per_week": 200,
                "daily_fruit_veg": True, "vegetables_g_per_day": 400,
                "fruit_g_per_day": 250}, on=DAY)
    assert a["tier"]["level"] == "green"
    assert a["plan"]["items"] == [] and a["what_if"] == []
    assert a["plan"]["reassess_on"] == "2027-12-06"


def test_thresholds_are_configurable() -> None:
    strict = Thresholds(cvd_yellow=0.01, cvd_red=0.02)
    p = {k: v for k, v in PERSON.items() if k not in ("waist_cm",)}
    p.update(smoker=False, systolic_bp=122)
    assert assess(p, on=DAY)["tier"]["level"] != assess(p, on=DAY, thresholds=strict)[
        "tier"]["level"]
    with pytest.raises(ConfigError):
        Thresholds.from_dict({"cvd_red": 0.01, "cvd_yellow": 0.05})
    with pytest.raises(ConfigError):
        Thresholds.from_dict({"bogus": 1})


def test_follow_up_plan_adapts_and_trend_improves() -> None:
    first = assess(PERSON, on=DAY)
    better = {**PERSON, "smoker": False, "systolic_bp": 126, "weight_kg": 79,
              "activity_min_per_week": 180, "salt_g_per_day": 7}
    second = assess(better, on=date(2027, 3, 6), previous=first)
    achieved = {i["area"] for i in second["plan"]["achieved"]}
    assert {"smoking", "blood_pressure", "activity"} <= achieved
    status = {i["area"]: i["status"] for i in second["plan"]["items"]}
    assert status["salt"] == "improving" and status["weight"] == "improving"
    series = second["trend"]["series"]["prevent_cvd_2023"]
    assert [s["assessed_on"] for s in series] == ["2026-12-06", "2027-03-06"]
    assert series[1]["value"] < series[0]["value"]
    assert any("lower" in t for t in second["trend"]["text"])
    # and when nothing improved, the plan says so and steps up
    worse = assess({**PERSON, "systolic_bp": 152}, on=date(2027, 3, 6), previous=first)
    bp = next(i for i in worse["plan"]["items"] if i["area"] == "blood_pressure")
    assert bp["status"] == "missed" and "treatment" in bp["text"]


def _sentences(a: dict[str, Any]) -> list[str]:
    out = [a["disclaimer"], a["tier"]["text"], a["plan"]["text"]]
    out += [s["text"] for s in a["scores"].values()]
    out += [f["text"] for f in a["factors"]]
    out += [e["text"] for w in a["what_if"] for e in w["estimates"]]
    out += [i["text"] for i in a["plan"]["items"]]
    return out


def test_every_sentence_in_chinese_and_english() -> None:
    zh, en = assess(PERSON, lang="zh", on=DAY), assess(PERSON, lang="en", on=DAY)
    han = re.compile(r"[\u4e00-\u9fff]")
    for text in _sentences(zh):
        assert han.search(text), text
    for text in _sentences(en):
        assert not han.search(text), text
    assert len(_sentences(zh)) == len(_sentences(en))
    # cholesterol both ways, mmol/L first in Chinese
    chol_zh = next(f["text"] for f in zh["factors"] if f["factor"] == "cholesterol")
    assert "mmol/L" in chol_zh and "mg/dL" in chol_zh
    assert chol_zh.index("mmol/L") < chol_zh.index("mg/dL")


def test_unsupported_language() -> None:
    with pytest.raises(ConfigError):
        assess(PERSON, lang="fr")


def test_prior_cardiovascular_disease_is_not_scored_as_primary_prevention() -> None:
    a = assess({**PERSON, "cvd_history": True}, on=DAY)
    for name in ("framingham_cvd_2008", "pce_ascvd_2013", "prevent_cvd_2023"):
        assert a["scores"][name]["skipped"] and "without cardiovascular disease" in a[
            "scores"][name]["reason"]
    assert a["tier"]["level"] == "red" and "secondary prevention" in a["tier"]["text"]
    assert "lipids" in {i["area"] for i in a["plan"]["items"]}


def test_diabetes_screening_scores_skip_a_person_with_diabetes() -> None:
    a = assess({**PERSON, "diabetes": True}, lang="zh", on=DAY)
    for name in ("cdrs", "findrisc"):
        assert a["scores"][name]["skipped"] and "筛查" in a["scores"][name]["text"]
    assert "glucose" not in {i["area"] for i in a["plan"]["items"]}


def test_a_federation_recalibration_drives_the_score_of_its_own_version() -> None:
    from fedcare.assistant import Recalibration

    recal = Recalibration.from_dict({"equation": "framingham_cvd_2008", "version": "bmi",
                                     "a": -0.08, "b": 0.84, "n": 4146, "events": 615,
                                     "sites": ["s1", "s2", "s3", "s4"], "rounds": 7})
    office = {"age": 58, "sex": "male", "systolic_bp": 148, "bp_treated": False,
              "smoker": True, "diabetes": False, "bmi": 27.7}
    plain = assess(office, on=DAY)["scores"]["framingham_cvd_2008"]
    a = assess(office, on=DAY, recalibrations=[recal])
    s = a["scores"]["framingham_cvd_2008"]
    assert s["published_risk"] == pytest.approx(plain["risk"], abs=1e-6)
    assert s["risk"] != pytest.approx(plain["risk"], abs=1e-3)
    assert s["recalibration"]["sites"] == 4 and "4 sites" in s["text"]
    stop = next(e for w in a["what_if"] if w["intervention"] == "stop_smoking"
                for e in w["estimates"] if e["score"] == "framingham_cvd_2008")
    assert stop["risk_before"] == pytest.approx(s["risk"], abs=1e-6)
    # the lipid version is another equation's calibration: left as published
    lipid = assess({**office, "total_cholesterol": 220, "hdl_cholesterol": 45}, on=DAY,
                   recalibrations=[recal])["scores"]["framingham_cvd_2008"]
    assert "recalibration" not in lipid and lipid["version"] == "lipid"
    with pytest.raises(ConfigError):
        Recalibration.from_dict({"equation": "cdrs", "a": 0, "b": 1})


# -- findings of the blind clinician review (issue 14) -----------------------------------------

OLD_DIABETIC = {"age": 72, "sex": "male", "race": "other", "systolic_bp": 176,
                "diastolic_bp": 98, "bp_treated": True, "total_cholesterol":
                {"value": 6.9, "unit": "mmol/L"}, "hdl_cholesterol": {"value": 1.0,
                                                                     "unit": "mmol/L"},
                "smoker": True, "diabetes": True, "egfr": 52, "statin": False, "bmi": 29.2,
                "hba1c": 8.6}


def test_a_beneficial_change_is_never_shown_as_raising_the_risk() -> None:
    """PREVENT's cholesterol term turns negative with age: the what-if must not say that
    lowering cholesterol raises the risk; the cited trial effect is shown instead."""
    a = assess(OLD_DIABETIC, on=DAY)
    for w in a["what_if"]:
        for e in w["estimates"]:
            if "risk_after" in e:
                assert e["risk_after"] < e["risk_before"], (w["intervention"], e)
    chol = next(e for w in a["what_if"] if w["intervention"] == "cholesterol_minus_1"
                for e in w["estimates"] if e["score"] == "prevent_cvd_2023")
    assert chol["method"] == "effect_size" and chol["equation_gave"] >= chol["risk_before"]
    assert "trial" in chol["text"]


def test_no_cardiovascular_score_is_never_low_risk() -> None:
    a = assess({"age": 85, "sex": "female", "systolic_bp": 150, "bp_treated": True,
                "total_cholesterol": 220, "hdl_cholesterol": 50, "smoker": False,
                "diabetes": False, "bmi": 23, "waist_cm": 78, "physically_active": True,
                "daily_fruit_veg": True, "bp_medication": True, "high_glucose_history": False,
                "family_history_diabetes": "none", "egfr": 60, "statin": False}, on=DAY)
    assert a["tier"]["level"] == "unknown" and a["tier"]["cardiovascular"] is None
    # 80 and over: the 2024 Chinese guideline's first target is < 150/90
    bp = [i for i in a["plan"]["items"] if i["area"] == "blood_pressure"]
    assert not bp or bp[0]["target"]["systolic_bp"] == {"below": 150}


def test_a_diabetes_score_alone_does_not_ask_for_a_statin() -> None:
    young = {"age": 35, "sex": "male", "systolic_bp": 128, "bp_treated": False,
             "smoker": False, "diabetes": False, "bmi": 33, "waist_cm": 110,
             "physically_active": False, "daily_fruit_veg": False, "bp_medication": False,
             "high_glucose_history": True, "family_history_diabetes": "first_degree"}
    a = assess(young, on=DAY)
    assert a["scores"]["findrisc"]["points"] >= 15 and a["tier"]["level"] == "red"
    assert a["tier"]["cardiovascular"] == "green"
    assert "FINDRISC" in a["tier"]["text"]
    assert "lipids" not in {i["area"] for i in a["plan"]["items"]}


def test_known_diabetes_kidney_and_uncontrolled_blood_pressure_get_their_own_steps() -> None:
    a = assess(OLD_DIABETIC, on=DAY)
    factors_ = {f["factor"] for f in a["factors"]}
    assert {"glucose", "kidney"} <= factors_
    items = {i["area"]: i for i in a["plan"]["items"]}
    assert items["glucose"]["target"] == {"hba1c": {"below": 7.0}}
    assert "complications" in items and "kidney" in items
    bp = items["blood_pressure"]
    assert bp["due"] == "2026-12-20" and "2 weeks" in bp["text"]  # 176/98: within 2 weeks
    assert items["smoking"]["due"] == "2026-12-20"  # the quit date, within 2 weeks


def test_weight_goal_without_a_weight_and_kept_at_follow_up() -> None:
    a = assess({**PERSON, "height_cm": None, "weight_kg": None, "bmi": 27.7}, on=DAY)
    w = next(i for i in a["plan"]["items"] if i["area"] == "weight")
    assert "≈" not in w["text"] and "kg)" not in w["text"]
    first = assess(PERSON, on=DAY)  # 82 kg: goal below 77.9 kg
    second = assess({**PERSON, "weight_kg": 80}, on=date(2027, 3, 6), previous=first)
    w2 = next(i for i in second["plan"]["items"] if i["area"] == "weight")
    assert w2["target"]["weight_kg"] == {"below": 77.9} and w2["status"] == "improving"


def test_thresholds_at_their_edges() -> None:
    at = assess({**PERSON, "total_cholesterol": {"value": 5.2, "unit": "mmol/L"}}, on=DAY)
    assert "cholesterol" in {f["factor"] for f in at["factors"]}
    below = assess({**PERSON, "total_cholesterol": {"value": 5.18, "unit": "mmol/L"}},
                   on=DAY)
    assert "cholesterol" not in {f["factor"] for f in below["factors"]}
    high = assess({**PERSON, "total_cholesterol": {"value": 6.2, "unit": "mmol/L"},
                   "smoker": False, "systolic_bp": 118, "age": 45}, on=DAY)
    assert high["tier"]["cardiovascular"] != "red"
    assert "lipids" in {i["area"] for i in high["plan"]["items"]}


def test_a_range_problem_is_named_before_a_missing_input() -> None:
    a = assess({"age": 28, "sex": "male", "systolic_bp": 120}, on=DAY)
    assert "40-79" in a["scores"]["pce_ascvd_2013"]["reason_text"]
