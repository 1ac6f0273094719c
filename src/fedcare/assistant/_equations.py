"""Published risk equations, with their coefficients cited where they are written down.

Each equation is a :class:`Equation`: the inputs it needs, the range it was derived on, its
citation, and ``compute(profile)``.  A profile that lacks an input, or lies outside the
equation's derivation range, gets a :class:`Skipped` with the reason — never a guess.

Coefficients were typed from the papers named beside them and are tested against the
papers' own worked examples and against values computed independently from the published
coefficients (``tests/assistant/data/reference_cases.json``).  Public implementations that
swap the treated/untreated blood-pressure terms or mix percent and fraction were not used.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fedcare.assistant._profile import Profile

__all__ = ["EQUATIONS", "Equation", "Result", "Skipped", "compute_all"]

#: mg/dL -> mmol/L for cholesterol (molar mass 386.65 g/mol, as fedcare.data._units).
MGDL_PER_MMOLL_CHOL = 38.665


@dataclass(frozen=True)
class Result:
    """A computed score: a risk over ``horizon_years`` or a points total with its band."""

    name: str
    risk: float | None = None
    horizon_years: int | None = None
    points: int | None = None
    band: str | None = None
    outcome: str = ""
    version: str | None = None
    inputs: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """An equation that could not be computed for this profile, and why."""

    name: str
    missing: tuple[str, ...] = ()
    reason: str = ""
    reason_code: str = "missing"  # "missing" | "range" | "not_applicable"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Equation:
    """A published equation: what it predicts, its inputs, its range and its citation."""

    name: str
    title: str
    outcome: str
    kind: str  # "risk" | "points"
    citation: str
    needs: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]
    _compute: Callable[[Profile], Result]
    horizon_years: int | None = None
    cardiovascular: bool = False
    notes: str = ""
    #: alternative input sets (the Framingham BMI version): any one complete set suffices
    alternatives: tuple[tuple[str, ...], ...] = ()

    def compute(self, profile: Profile) -> Result | Skipped:
        """The score, or why it was skipped (not meant for this person, a missing input, or
        outside its range)."""
        if self.cardiovascular and profile.cvd_history:
            return Skipped(self.name, reason="for people without cardiovascular disease: "
                           "with a history of it the risk is high by definition (secondary "
                           "prevention)", reason_code="not_applicable",
                           detail={"field": "cvd_history"})
        if not self.cardiovascular and profile.diabetes:
            return Skipped(self.name, reason="screens for undiagnosed diabetes: not for a "
                           "person with diabetes", reason_code="not_applicable",
                           detail={"field": "diabetes"})
        sets = (self.needs, *self.alternatives)
        inputs = set(self.needs).union(*self.alternatives)
        for name, (low, high) in self.ranges.items():
            value = getattr(profile, name)
            if name in inputs and value is not None and not low <= value <= high:
                return Skipped(self.name, reason=f"{name} outside {low:g}-{high:g}, the range "
                               "the equation was derived on", reason_code="range",
                               detail={"field": name, "low": low, "high": high})
        complete = [s for s in sets if all(getattr(profile, f) is not None for f in s)]
        if not complete:
            missing = tuple(f for f in self.needs if getattr(profile, f) is None)
            alternative = [f for f in (self.alternatives[0] if self.alternatives else ())
                           if f not in self.needs]
            return Skipped(self.name, missing=missing,
                           reason="missing " + ", ".join(missing)
                           + (f" (or give {', '.join(alternative)} for the other version)"
                              if alternative else ""),
                           detail={"alternative": alternative})
        return self._compute(profile)


# -- Framingham general cardiovascular disease, 2008 -----------------------------------------
# D'Agostino RB Sr, Vasan RS, Pencina MJ, et al. General cardiovascular risk profile for use
# in primary care: the Framingham Heart Study. Circulation 2008;117:743-753, Table 2
# (lipid model) and Table 3 (office-based "BMI" model): regression coefficients, 10-year
# baseline survival S0 and the sum of beta*mean.  Risk = 1 - S0 ** exp(sum beta*x - mean).

_FRAM_LIPID = {
    "female": {"ln_age": 2.32888, "ln_tc": 1.20904, "ln_hdl": -0.70833,
               "ln_sbp_untreated": 2.76157, "ln_sbp_treated": 2.82263, "smoker": 0.52873,
               "diabetes": 0.69154, "s0": 0.95012, "mean": 26.1931},
    "male": {"ln_age": 3.06117, "ln_tc": 1.12370, "ln_hdl": -0.93263,
             "ln_sbp_untreated": 1.93303, "ln_sbp_treated": 1.99881, "smoker": 0.65451,
             "diabetes": 0.57367, "s0": 0.88936, "mean": 23.9802},
}
_FRAM_BMI = {
    "female": {"ln_age": 2.72107, "ln_bmi": 0.51125, "ln_sbp_untreated": 2.81291,
               "ln_sbp_treated": 2.88267, "smoker": 0.61868, "diabetes": 0.77763,
               "s0": 0.94833, "mean": 26.0145},
    "male": {"ln_age": 3.11296, "ln_bmi": 0.79277, "ln_sbp_untreated": 1.85508,
             "ln_sbp_treated": 1.92672, "smoker": 0.70953, "diabetes": 0.53160,
             "s0": 0.88431, "mean": 23.9388},
}


def framingham_2008(p: Profile) -> Result:
    """Framingham general CVD risk; the lipid version when both lipids are given."""
    assert p.age is not None and p.systolic_bp is not None and p.sex is not None
    lipid = p.total_cholesterol is not None and p.hdl_cholesterol is not None
    c = (_FRAM_LIPID if lipid else _FRAM_BMI)[p.sex]
    treated = bool(p.bp_treated)
    s = c["ln_age"] * math.log(p.age)
    s += c["ln_sbp_treated" if treated else "ln_sbp_untreated"] * math.log(p.systolic_bp)
    s += c["smoker"] * bool(p.smoker) + c["diabetes"] * bool(p.diabetes)
    if lipid:
        assert p.total_cholesterol is not None and p.hdl_cholesterol is not None
        s += c["ln_tc"] * math.log(p.total_cholesterol) + c["ln_hdl"] * math.log(
            p.hdl_cholesterol)
        inputs: tuple[str, ...] = ("age", "sex", "total_cholesterol", "hdl_cholesterol",
                                   "systolic_bp", "bp_treated", "smoker", "diabetes")
    else:
        assert p.bmi is not None
        s += c["ln_bmi"] * math.log(p.bmi)
        inputs = ("age", "sex", "bmi", "systolic_bp", "bp_treated", "smoker", "diabetes")
    risk = 1.0 - c["s0"] ** math.exp(s - c["mean"])
    return Result("framingham_cvd_2008", risk=risk, horizon_years=10,
                  outcome="cardiovascular disease", version="lipid" if lipid else "bmi",
                  inputs=inputs, detail={"linear_predictor": s - c["mean"]})


# -- Pooled Cohort Equations, 2013 -----------------------------------------------------------
# Goff DC Jr, Lloyd-Jones DM, Bennett G, et al. 2013 ACC/AHA guideline on the assessment of
# cardiovascular risk. Circulation 2014;129(25 Suppl 2):S49-S73, Table A (appendix 7):
# coefficients, mean of the individual sum and baseline survival.  "Other" races use the
# white equations, as the guideline advises.  Risk = 1 - S10 ** exp(sum - mean).

_PCE = {
    ("female", "white"): {
        "ln_age": -29.799, "ln_age_sq": 4.884, "ln_tc": 13.540, "ln_age_ln_tc": -3.114,
        "ln_hdl": -13.578, "ln_age_ln_hdl": 3.149, "ln_sbp_treated": 2.019,
        "ln_age_ln_sbp_treated": 0.0, "ln_sbp_untreated": 1.957,
        "ln_age_ln_sbp_untreated": 0.0, "smoker": 7.574, "ln_age_smoker": -1.665,
        "diabetes": 0.661, "mean": -29.18, "s10": 0.9665},
    ("female", "african_american"): {
        "ln_age": 17.114, "ln_age_sq": 0.0, "ln_tc": 0.940, "ln_age_ln_tc": 0.0,
        "ln_hdl": -18.920, "ln_age_ln_hdl": 4.475, "ln_sbp_treated": 29.291,
        "ln_age_ln_sbp_treated": -6.432, "ln_sbp_untreated": 27.820,
        "ln_age_ln_sbp_untreated": -6.087, "smoker": 0.691, "ln_age_smoker": 0.0,
        "diabetes": 0.874, "mean": 86.61, "s10": 0.9533},
    ("male", "white"): {
        "ln_age": 12.344, "ln_age_sq": 0.0, "ln_tc": 11.853, "ln_age_ln_tc": -2.664,
        "ln_hdl": -7.990, "ln_age_ln_hdl": 1.769, "ln_sbp_treated": 1.797,
        "ln_age_ln_sbp_treated": 0.0, "ln_sbp_untreated": 1.764,
        "ln_age_ln_sbp_untreated": 0.0, "smoker": 7.837, "ln_age_smoker": -1.795,
        "diabetes": 0.658, "mean": 61.18, "s10": 0.9144},
    ("male", "african_american"): {
        "ln_age": 2.469, "ln_age_sq": 0.0, "ln_tc": 0.302, "ln_age_ln_tc": 0.0,
        "ln_hdl": -0.307, "ln_age_ln_hdl": 0.0, "ln_sbp_treated": 1.916,
        "ln_age_ln_sbp_treated": 0.0, "ln_sbp_untreated": 1.809,
        "ln_age_ln_sbp_untreated": 0.0, "smoker": 0.549, "ln_age_smoker": 0.0,
        "diabetes": 0.645, "mean": 19.54, "s10": 0.8954},
}


def pce_2013(p: Profile) -> Result:
    """10-year risk of a first hard ASCVD event (PCE)."""
    assert p.age is not None and p.sex is not None and p.race is not None
    assert p.total_cholesterol is not None and p.hdl_cholesterol is not None
    assert p.systolic_bp is not None
    race = "african_american" if p.race == "african_american" else "white"
    c = _PCE[(p.sex, race)]
    la, ltc, lhdl, lsbp = (math.log(p.age), math.log(p.total_cholesterol),
                           math.log(p.hdl_cholesterol), math.log(p.systolic_bp))
    treated = "treated" if p.bp_treated else "untreated"
    smoker, diabetes = float(bool(p.smoker)), float(bool(p.diabetes))
    s = (c["ln_age"] * la + c["ln_age_sq"] * la * la + c["ln_tc"] * ltc
         + c["ln_age_ln_tc"] * la * ltc + c["ln_hdl"] * lhdl + c["ln_age_ln_hdl"] * la * lhdl
         + c[f"ln_sbp_{treated}"] * lsbp + c[f"ln_age_ln_sbp_{treated}"] * la * lsbp
         + c["smoker"] * smoker + c["ln_age_smoker"] * la * smoker
         + c["diabetes"] * diabetes)
    risk = 1.0 - c["s10"] ** math.exp(s - c["mean"])
    return Result("pce_ascvd_2013", risk=risk, horizon_years=10,
                  outcome="hard atherosclerotic cardiovascular disease",
                  version=f"{p.sex}, {race.replace('_', '-')} equation",
                  inputs=("age", "sex", "race", "total_cholesterol", "hdl_cholesterol",
                          "systolic_bp", "bp_treated", "smoker", "diabetes"),
                  detail={"individual_sum": s})


# -- AHA PREVENT, 2023: total CVD, base model, 10 years ---------------------------------------
# Khan SS, Matsushita K, Sang Y, et al. Development and validation of the American Heart
# Association's PREVENT equations. Circulation 2024;149:430-449, Supplemental Table S12
# (10-year total CVD, base model; sex-specific logistic coefficients).  Cholesterol in
# mmol/L, converted from mg/dL by the equation's own factor 0.02586 (as AHA's calculator and
# the preventr package do); SBP and eGFR as linear splines.

PREVENT_MMOLL_PER_MGDL = 0.02586

_PREVENT = {
    "female": {"const": -3.307728, "age": 0.7939329, "non_hdl": 0.0305239, "hdl": -0.1606857,
               "sbp_low": -0.2394003, "sbp_high": 0.360078, "diabetes": 0.8667604,
               "smoker": 0.5360739, "egfr_low": 0.6045917, "egfr_high": 0.0433769,
               "bp_treated": 0.3151672, "statin": -0.1477655,
               "bp_treated_sbp_high": -0.0663612, "statin_non_hdl": 0.1197879,
               "age_non_hdl": -0.0819715, "age_hdl": 0.0306769, "age_sbp_high": -0.0946348,
               "age_diabetes": -0.27057, "age_smoker": -0.078715, "age_egfr_low": -0.1637806},
    "male": {"const": -3.031168, "age": 0.7688528, "non_hdl": 0.0736174, "hdl": -0.0954431,
             "sbp_low": -0.4347345, "sbp_high": 0.3362658, "diabetes": 0.7692857,
             "smoker": 0.4386871, "egfr_low": 0.5378979, "egfr_high": 0.0164827,
             "bp_treated": 0.288879, "statin": -0.1337349,
             "bp_treated_sbp_high": -0.0475924, "statin_non_hdl": 0.150273,
             "age_non_hdl": -0.0517874, "age_hdl": 0.0191169, "age_sbp_high": -0.1049477,
             "age_diabetes": -0.2251948, "age_smoker": -0.0895067,
             "age_egfr_low": -0.1543702},
}


def prevent_2023(p: Profile) -> Result:
    """10-year total CVD risk (PREVENT base model)."""
    assert p.age is not None and p.sex is not None and p.systolic_bp is not None
    assert p.total_cholesterol is not None and p.hdl_cholesterol is not None
    assert p.egfr is not None
    c = _PREVENT[p.sex]
    age = (p.age - 55) / 10
    non_hdl = (p.total_cholesterol - p.hdl_cholesterol) * PREVENT_MMOLL_PER_MGDL - 3.5
    hdl = (p.hdl_cholesterol * PREVENT_MMOLL_PER_MGDL - 1.3) / 0.3
    sbp_low = (min(p.systolic_bp, 110) - 110) / 20
    sbp_high = (max(p.systolic_bp, 110) - 130) / 20
    egfr_low = (min(p.egfr, 60) - 60) / -15
    egfr_high = (max(p.egfr, 60) - 90) / -15
    dm, smk = float(bool(p.diabetes)), float(bool(p.smoker))
    bpt, sta = float(bool(p.bp_treated)), float(bool(p.statin))
    x = (c["const"] + c["age"] * age + c["non_hdl"] * non_hdl + c["hdl"] * hdl
         + c["sbp_low"] * sbp_low + c["sbp_high"] * sbp_high + c["diabetes"] * dm
         + c["smoker"] * smk + c["egfr_low"] * egfr_low + c["egfr_high"] * egfr_high
         + c["bp_treated"] * bpt + c["statin"] * sta
         + c["bp_treated_sbp_high"] * bpt * sbp_high + c["statin_non_hdl"] * sta * non_hdl
         + c["age_non_hdl"] * age * non_hdl + c["age_hdl"] * age * hdl
         + c["age_sbp_high"] * age * sbp_high + c["age_diabetes"] * age * dm
         + c["age_smoker"] * age * smk + c["age_egfr_low"] * age * egfr_low)
    risk = 1.0 / (1.0 + math.exp(-x))
    return Result("prevent_cvd_2023", risk=risk, horizon_years=10,
                  outcome="cardiovascular disease (ASCVD or heart failure)",
                  inputs=("age", "sex", "total_cholesterol", "hdl_cholesterol", "systolic_bp",
                          "bp_treated", "statin", "smoker", "diabetes", "egfr"),
                  detail={"log_odds": x})


# -- Chinese Diabetes Risk Score, 2013 --------------------------------------------------------
# Zhou X, Qiao Q, Ji L, et al. Nonlaboratory-based risk assessment algorithm for undiagnosed
# type 2 diabetes developed on a nation-wide diabetes survey. Diabetes Care 2013;36:
# 3944-3952, Table 3; tabulated in the Chinese Diabetes Society's guideline for type 2
# diabetes (2017 and 2020 editions).  Total 0-51; >= 25 means screen with an OGTT.

_CDRS_AGE = ((20, 0), (25, 4), (35, 8), (40, 11), (45, 12), (50, 13), (55, 15), (60, 16),
             (65, 18))  # (lower bound, points): 20-24, 25-34, ..., 65-74
_CDRS_BMI = ((0, 0), (22, 1), (24, 3), (30, 5))
_CDRS_WAIST = {"male": ((0, 0), (75, 3), (80, 5), (85, 7), (90, 8), (95, 10)),
               "female": ((0, 0), (70, 3), (75, 5), (80, 7), (85, 8), (90, 10))}
_CDRS_SBP = ((0, 0), (110, 1), (120, 3), (130, 6), (140, 7), (150, 8), (160, 10))
CDRS_HIGH = 25


def _step(value: float, table: tuple[tuple[float, int], ...]) -> int:
    points = table[0][1]
    for bound, pts in table:
        if value >= bound:
            points = pts
    return points


def cdrs(p: Profile) -> Result:
    """Chinese Diabetes Risk Score (points)."""
    assert p.age is not None and p.sex is not None and p.waist_cm is not None
    assert p.bmi is not None and p.systolic_bp is not None
    parts = {"age": _step(p.age, _CDRS_AGE), "bmi": _step(p.bmi, _CDRS_BMI),
             "waist_cm": _step(p.waist_cm, _CDRS_WAIST[p.sex]),
             "systolic_bp": _step(p.systolic_bp, _CDRS_SBP),
             # the score asks about parents, siblings and children (first-degree)
             "family_history_diabetes": 6 * (p.family_history_diabetes == "first_degree"),
             "sex": 2 * (p.sex == "male")}
    total = int(sum(parts.values()))
    return Result("cdrs", points=total, band="high" if total >= CDRS_HIGH else "low",
                  outcome="undiagnosed type 2 diabetes",
                  inputs=("age", "sex", "waist_cm", "bmi", "systolic_bp",
                          "family_history_diabetes"),
                  detail={"parts": parts, "threshold": CDRS_HIGH})


# -- FINDRISC, 2003 -------------------------------------------------------------------------
# Lindstrom J, Tuomilehto J. The diabetes risk score: a practical tool to predict type 2
# diabetes risk. Diabetes Care 2003;26:725-731, and the FINDRISC form (Finnish Diabetes
# Association): points 0-26; bands with the estimated 10-year risk of type 2 diabetes.

FINDRISC_BANDS = ((0, "low", 0.01), (7, "slightly_elevated", 0.04), (12, "moderate", 0.17),
                  (15, "high", 0.33), (21, "very_high", 0.50))


def findrisc(p: Profile) -> Result:
    """FINDRISC points and band."""
    assert p.age is not None and p.sex is not None and p.bmi is not None
    assert p.waist_cm is not None
    age = 0 if p.age < 45 else 2 if p.age < 55 else 3 if p.age < 65 else 4
    bmi = 0 if p.bmi < 25 else 1 if p.bmi <= 30 else 3
    lo, hi = (94, 102) if p.sex == "male" else (80, 88)
    waist = 0 if p.waist_cm < lo else 3 if p.waist_cm <= hi else 4
    family = {"none": 0, "second_degree": 3, "first_degree": 5}[
        p.family_history_diabetes or "none"]
    parts = {"age": age, "bmi": bmi, "waist_cm": waist,
             "physically_active": 0 if p.physically_active else 2,
             "daily_fruit_veg": 0 if p.daily_fruit_veg else 1,
             "bp_medication": 2 if p.bp_medication else 0,
             "high_glucose_history": 5 if p.high_glucose_history else 0,
             "family_history_diabetes": family}
    total = int(sum(parts.values()))
    band, ten_year = "low", 0.01
    for bound, name, r in FINDRISC_BANDS:
        if total >= bound:
            band, ten_year = name, r
    return Result("findrisc", points=total, band=band, horizon_years=10,
                  outcome="type 2 diabetes",
                  inputs=("age", "sex", "bmi", "waist_cm", "physically_active",
                          "daily_fruit_veg", "bp_medication", "high_glucose_history",
                          "family_history_diabetes"),
                  detail={"parts": parts, "estimated_10_year_risk": ten_year})


EQUATIONS: dict[str, Equation] = {e.name: e for e in (
    Equation(
        "framingham_cvd_2008", "Framingham general cardiovascular risk (2008)",
        "cardiovascular disease (coronary, cerebrovascular, peripheral artery disease, "
        "heart failure)", "risk",
        "D'Agostino RB Sr et al. General cardiovascular risk profile for use in primary "
        "care: the Framingham Heart Study. Circulation 2008;117:743-753 (Tables 2 and 3).",
        needs=("age", "sex", "systolic_bp", "bp_treated", "smoker", "diabetes",
               "total_cholesterol", "hdl_cholesterol"),
        alternatives=(("age", "sex", "systolic_bp", "bp_treated", "smoker", "diabetes",
                       "bmi"),),
        ranges={"age": (30, 74)}, _compute=framingham_2008, horizon_years=10,
        cardiovascular=True,
        notes="Lipid version when total and HDL cholesterol are given, else the "
              "office-based BMI version. Derived on a white US cohort; it overestimates "
              "risk in Chinese populations."),
    Equation(
        "pce_ascvd_2013", "Pooled Cohort Equations (ACC/AHA 2013)",
        "hard ASCVD (coronary death, non-fatal myocardial infarction, stroke)", "risk",
        "Goff DC Jr et al. 2013 ACC/AHA guideline on the assessment of cardiovascular risk. "
        "Circulation 2014;129(25 Suppl 2):S49-S73 (appendix Table A).",
        needs=("age", "sex", "race", "total_cholesterol", "hdl_cholesterol", "systolic_bp",
               "bp_treated", "smoker", "diabetes"),
        ranges={"age": (40, 79), "total_cholesterol": (130, 320),
                "hdl_cholesterol": (20, 100), "systolic_bp": (90, 200)},
        _compute=pce_2013, horizon_years=10, cardiovascular=True,
        notes="Races other than white and African American use the white equations."),
    Equation(
        "prevent_cvd_2023", "AHA PREVENT total CVD (2023, base model)",
        "cardiovascular disease (ASCVD or heart failure)", "risk",
        "Khan SS et al. Development and validation of the American Heart Association's "
        "PREVENT equations. Circulation 2024;149:430-449 (supplement, 10-year total CVD, "
        "base model).",
        needs=("age", "sex", "total_cholesterol", "hdl_cholesterol", "systolic_bp",
               "bp_treated", "statin", "smoker", "diabetes", "egfr"),
        ranges={"age": (30, 79), "total_cholesterol": (130, 320),
                "hdl_cholesterol": (20, 100), "systolic_bp": (90, 180), "egfr": (15, 140)},
        _compute=prevent_2023, horizon_years=10, cardiovascular=True),
    Equation(
        "cdrs", "Chinese Diabetes Risk Score (2013)", "undiagnosed type 2 diabetes",
        "points",
        "Zhou X et al. Nonlaboratory-based risk assessment algorithm for undiagnosed type 2 "
        "diabetes developed on a nation-wide diabetes survey. Diabetes Care 2013;36:"
        "3944-3952; Chinese Diabetes Society, Guideline for the prevention and treatment "
        "of type 2 diabetes mellitus in China (2020 edition).",
        needs=("age", "sex", "waist_cm", "bmi", "systolic_bp", "family_history_diabetes"),
        ranges={"age": (20, 74)}, _compute=cdrs,
        notes=">= 25 points: screen with an oral glucose tolerance test."),
    Equation(
        "findrisc", "FINDRISC (Finnish Diabetes Risk Score)", "type 2 diabetes within 10 "
        "years", "points",
        "Lindstrom J, Tuomilehto J. The diabetes risk score: a practical tool to predict "
        "type 2 diabetes risk. Diabetes Care 2003;26:725-731.",
        needs=("age", "sex", "bmi", "waist_cm", "physically_active", "daily_fruit_veg",
               "bp_medication", "high_glucose_history", "family_history_diabetes"),
        ranges={}, _compute=findrisc, horizon_years=10),
)}


def compute_all(profile: Profile) -> dict[str, Result | Skipped]:
    """Every equation for one profile: computed, or skipped with the reason."""
    return {name: eq.compute(profile) for name, eq in EQUATIONS.items()}
