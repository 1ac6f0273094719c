#!/usr/bin/env python3
# ruff: noqa: E501
"""Standalone generator for tests/assistant/data/reference_cases.json.

Independent re-implementation of published risk equations, written from the
published coefficient tables (NOT from fedcare code; this file imports nothing
from fedcare).  Run:

    python tests/assistant/data/make_reference_cases.py

It recomputes every case, checks the published worked examples and a few
third-party documented outputs against this implementation, and rewrites
reference_cases.json next to this file.

Coefficient provenance (each cross-checked against at least two public sources):

PCE 2013 (Goff DC et al., Circulation 2014;129:S49-S73, Appendix Table A):
  * Table A values as reproduced in (a) vcastro/CVrisk data-raw/score_coef.R,
    (b) Shawn Garbett (VUMC) R code "Betas from Ref 2. Table A", (c) PHP code
    with the ACC/AHA spreadsheet's higher-precision constants (S0 0.96652,
    0.95334, 0.91436, 0.89536; means -29.1817, 86.6081, 61.1816, 19.5425), and
    (d) PMC4608065 (JAHA 2015;4:e001758) Table 1.  All agree on the Table A
    values used here, except known public errors noted in KNOWN_SOURCE_ERRORS.
Framingham general CVD 2008 (D'Agostino RB Sr et al., Circulation
  2008;117:743-753): lipid model from framinghamheartstudy.org "Cardiovascular
  Disease (10-year risk)" regression table, Medscape/MedCalc calculator page,
  vcastro/CVrisk (frs_coef) and PMC4608065 Table 1; BMI (office) model from
  vcastro/CVrisk (frs_simple_coef) and an independent Ruby implementation
  (same 8 constants per sex).
PREVENT 2023 (Khan SS et al., Circulation 2024;149:430-449, Supplement Table
  S12A, base model 10-year total CVD): CDC KDSS Q811 page, AHA-R-code ports
  (TypeScript/C, "logor_10yr_CVD"), a JS file citing "Supplemental Table S12A",
  and a Python module citing the preventr package.  Published check values:
  preventr (martingmayer/preventr) README + tests/testthat/test-prevent_equations.R.
CDRS (Zhou X et al., Diabetes Care 2013;36:3944-3952; Chinese T2DM guideline
  2017/2020 table): point table as in the guideline; matches one public Vue
  implementation; the paper abstract's stated range 0-51 is checked below.
FINDRISC (Lindstrom J, Tuomilehto J, Diabetes Care 2003;26:725-731, and the
  FINDRISC questionnaire form): matches a PHP and a TypeScript public
  implementation.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "reference_cases.json"

# ---------------------------------------------------------------------------
# Known errors seen in public sources (documentation only; not used)
# ---------------------------------------------------------------------------
KNOWN_SOURCE_ERRORS = [
    "PCE: a public JS implementation shifts the white-women terms (lnTotalChol=4.884, "
    "lnHDL=-13.540, no ln(age)^2 term) - i.e. the ln(age)^2 coefficient is read as ln(TC).",
    "PCE: PMC4608065 Table 1 prints white-women 'Ln SBP not treated' as 1.857 (Table A: 1.957) "
    "and white-men ln(age)xln(HDL) as 1.767 (Table A: 1.769).",
    "PCE: a public Python implementation mislabels white-women terms "
    "(ln_age_sq=4.884 next to ln_tc=13.540 but 'ln_hdl' label shifted).",
    "PREVENT: vcastro/CVrisk data-raw/score_coef.R ships a 'PREVENT' table (ln_age 0.5699, "
    "egfr -0.0044, baseline survival 0.9883, ...) that is not the published PREVENT model.",
    "PREVENT: a public TS file uses constant -3.6/-3.3 and shifted interaction coefficients; "
    "another Python port mixes in BMI/eGFR terms with the wrong knots for total CVD.",
    "PREVENT: AHA's own R code / CDC KDSS give the women's SBP>=110 coefficient as 0.360078, "
    "the supplement table as 0.3600781 (difference < 1e-7 in risk; checked below).",
    "PREVENT: some ports convert mg/dL with /38.67 instead of *0.02586 (AHA and preventr use "
    "0.02586).",
    "FINDRISC: Chinese-language adaptations use BMI cut-offs 24/28 and waist 85/95 (men), "
    "80/90 (women) - not the original FINDRISC.",
]

# ---------------------------------------------------------------------------
# Pooled Cohort Equations (Goff 2013, Table A)
# ---------------------------------------------------------------------------
# Keys: ln_age, ln_age_sq, ln_tc, ln_age_ln_tc, ln_hdl, ln_age_ln_hdl,
#       ln_trt_sbp, ln_age_ln_trt_sbp, ln_untrt_sbp, ln_age_ln_untrt_sbp,
#       smoker, ln_age_smoker, diabetes, mean, s0
PCE = {
    ("white", "female"): dict(
        ln_age=-29.799, ln_age_sq=4.884, ln_tc=13.540, ln_age_ln_tc=-3.114,
        ln_hdl=-13.578, ln_age_ln_hdl=3.149, ln_trt_sbp=2.019, ln_age_ln_trt_sbp=0.0,
        ln_untrt_sbp=1.957, ln_age_ln_untrt_sbp=0.0, smoker=7.574, ln_age_smoker=-1.665,
        diabetes=0.661, mean=-29.18, s0=0.9665),
    ("african_american", "female"): dict(
        ln_age=17.114, ln_age_sq=0.0, ln_tc=0.940, ln_age_ln_tc=0.0,
        ln_hdl=-18.920, ln_age_ln_hdl=4.475, ln_trt_sbp=29.291, ln_age_ln_trt_sbp=-6.432,
        ln_untrt_sbp=27.820, ln_age_ln_untrt_sbp=-6.087, smoker=0.691, ln_age_smoker=0.0,
        diabetes=0.874, mean=86.61, s0=0.9533),
    ("white", "male"): dict(
        ln_age=12.344, ln_age_sq=0.0, ln_tc=11.853, ln_age_ln_tc=-2.664,
        ln_hdl=-7.990, ln_age_ln_hdl=1.769, ln_trt_sbp=1.797, ln_age_ln_trt_sbp=0.0,
        ln_untrt_sbp=1.764, ln_age_ln_untrt_sbp=0.0, smoker=7.837, ln_age_smoker=-1.795,
        diabetes=0.658, mean=61.18, s0=0.9144),
    ("african_american", "male"): dict(
        ln_age=2.469, ln_age_sq=0.0, ln_tc=0.302, ln_age_ln_tc=0.0,
        ln_hdl=-0.307, ln_age_ln_hdl=0.0, ln_trt_sbp=1.916, ln_age_ln_trt_sbp=0.0,
        ln_untrt_sbp=1.809, ln_age_ln_untrt_sbp=0.0, smoker=0.549, ln_age_smoker=0.0,
        diabetes=0.645, mean=19.54, s0=0.8954),
}


def pce_risk(p: dict) -> float:
    race = "african_american" if p["race"] == "african_american" else "white"  # 'other' -> white eqs
    c = PCE[(race, p["sex"])]
    la = math.log(p["age"])
    ltc = math.log(p["total_cholesterol"])
    lhdl = math.log(p["hdl_cholesterol"])
    lsbp = math.log(p["systolic_bp"])
    trt = 1.0 if p["bp_treated"] else 0.0
    smk = 1.0 if p["smoker"] else 0.0
    dm = 1.0 if p["diabetes"] else 0.0
    s = (c["ln_age"] * la + c["ln_age_sq"] * la * la
         + c["ln_tc"] * ltc + c["ln_age_ln_tc"] * la * ltc
         + c["ln_hdl"] * lhdl + c["ln_age_ln_hdl"] * la * lhdl
         + trt * (c["ln_trt_sbp"] * lsbp + c["ln_age_ln_trt_sbp"] * la * lsbp)
         + (1 - trt) * (c["ln_untrt_sbp"] * lsbp + c["ln_age_ln_untrt_sbp"] * la * lsbp)
         + c["smoker"] * smk + c["ln_age_smoker"] * la * smk
         + c["diabetes"] * dm)
    return 1.0 - c["s0"] ** math.exp(s - c["mean"])


# ---------------------------------------------------------------------------
# Framingham general CVD 2008
# ---------------------------------------------------------------------------
FRS_LIPID = {
    "male": dict(ln_age=3.06117, ln_tc=1.12370, ln_hdl=-0.93263, ln_untrt_sbp=1.93303,
                 ln_trt_sbp=1.99881, smoker=0.65451, diabetes=0.57367, mean=23.9802, s0=0.88936),
    "female": dict(ln_age=2.32888, ln_tc=1.20904, ln_hdl=-0.70833, ln_untrt_sbp=2.76157,
                   ln_trt_sbp=2.82263, smoker=0.52873, diabetes=0.69154, mean=26.1931, s0=0.95012),
}
FRS_BMI = {
    "male": dict(ln_age=3.11296, ln_bmi=0.79277, ln_untrt_sbp=1.85508, ln_trt_sbp=1.92672,
                 smoker=0.70953, diabetes=0.53160, mean=23.9388, s0=0.88431),
    "female": dict(ln_age=2.72107, ln_bmi=0.51125, ln_untrt_sbp=2.81291, ln_trt_sbp=2.88267,
                   smoker=0.61868, diabetes=0.77763, mean=26.0145, s0=0.94833),
}


def frs_risk(p: dict, version: str) -> float:
    lsbp = math.log(p["systolic_bp"])
    if version == "lipid":
        c = FRS_LIPID[p["sex"]]
        s = c["ln_tc"] * math.log(p["total_cholesterol"]) + c["ln_hdl"] * math.log(p["hdl_cholesterol"])
    else:
        c = FRS_BMI[p["sex"]]
        s = c["ln_bmi"] * math.log(p["bmi"])
    s += c["ln_age"] * math.log(p["age"])
    s += (c["ln_trt_sbp"] if p["bp_treated"] else c["ln_untrt_sbp"]) * lsbp
    s += c["smoker"] * (1 if p["smoker"] else 0) + c["diabetes"] * (1 if p["diabetes"] else 0)
    return 1.0 - c["s0"] ** math.exp(s - c["mean"])


# ---------------------------------------------------------------------------
# PREVENT base model, 10-year total CVD (Khan 2024 supplement Table S12A)
# ---------------------------------------------------------------------------
PREVENT_CVD10 = {
    "female": dict(const=-3.307728, age=0.7939329, nonhdl=0.0305239, hdl=-0.1606857,
                   sbp_lo=-0.2394003, sbp_hi=0.3600781, dm=0.8667604, smk=0.5360739,
                   egfr_lo=0.6045917, egfr_hi=0.0433769, bptx=0.3151672, statin=-0.1477655,
                   bptx_sbp_hi=-0.0663612, statin_nonhdl=0.1197879, age_nonhdl=-0.0819715,
                   age_hdl=0.0306769, age_sbp_hi=-0.0946348, age_dm=-0.27057, age_smk=-0.078715,
                   age_egfr_lo=-0.1637806),
    "male": dict(const=-3.031168, age=0.7688528, nonhdl=0.0736174, hdl=-0.0954431,
                 sbp_lo=-0.4347345, sbp_hi=0.3362658, dm=0.7692857, smk=0.4386871,
                 egfr_lo=0.5378979, egfr_hi=0.0164827, bptx=0.288879, statin=-0.1337349,
                 bptx_sbp_hi=-0.0475924, statin_nonhdl=0.150273, age_nonhdl=-0.0517874,
                 age_hdl=0.0191169, age_sbp_hi=-0.1049477, age_dm=-0.2251948, age_smk=-0.0895067,
                 age_egfr_lo=-0.1543702),
}
MGDL_TO_MMOL = 0.02586


def prevent_risk(p: dict, coefs=None) -> float:
    c = (coefs or PREVENT_CVD10)[p["sex"]]
    age = (p["age"] - 55) / 10
    nonhdl = (p["total_cholesterol"] - p["hdl_cholesterol"]) * MGDL_TO_MMOL - 3.5
    hdl = (p["hdl_cholesterol"] * MGDL_TO_MMOL - 1.3) / 0.3
    sbp = p["systolic_bp"]
    sbp_lo = (min(sbp, 110) - 110) / 20
    sbp_hi = (max(sbp, 110) - 130) / 20
    egfr = p["egfr"]
    egfr_lo = (min(egfr, 60) - 60) / -15
    egfr_hi = (max(egfr, 60) - 90) / -15
    dm = 1.0 if p["diabetes"] else 0.0
    smk = 1.0 if p["smoker"] else 0.0
    bptx = 1.0 if p["bp_treated"] else 0.0
    statin = 1.0 if p["statin"] else 0.0
    x = (c["const"] + c["age"] * age + c["nonhdl"] * nonhdl + c["hdl"] * hdl
         + c["sbp_lo"] * sbp_lo + c["sbp_hi"] * sbp_hi + c["dm"] * dm + c["smk"] * smk
         + c["egfr_lo"] * egfr_lo + c["egfr_hi"] * egfr_hi + c["bptx"] * bptx
         + c["statin"] * statin + c["bptx_sbp_hi"] * bptx * sbp_hi
         + c["statin_nonhdl"] * statin * nonhdl + c["age_nonhdl"] * age * nonhdl
         + c["age_hdl"] * age * hdl + c["age_sbp_hi"] * age * sbp_hi + c["age_dm"] * age * dm
         + c["age_smk"] * age * smk + c["age_egfr_lo"] * age * egfr_lo)
    return 1.0 / (1.0 + math.exp(-x))


# ---------------------------------------------------------------------------
# CDRS (Chinese Diabetes Risk Score, Zhou 2013 / Chinese guideline table)
# ---------------------------------------------------------------------------
def cdrs_points(p: dict) -> int:
    age = p["age"]
    if age < 25:
        a = 0          # 20-24
    elif age < 35:
        a = 4          # 25-34
    elif age < 40:
        a = 8          # 35-39
    elif age < 45:
        a = 11         # 40-44
    elif age < 50:
        a = 12         # 45-49
    elif age < 55:
        a = 13         # 50-54
    elif age < 60:
        a = 15         # 55-59
    elif age < 65:
        a = 16         # 60-64
    else:
        a = 18         # 65-74
    bmi = p["bmi"]
    b = 0 if bmi < 22 else 1 if bmi < 24 else 3 if bmi < 30 else 5
    w = p["waist_cm"]
    cuts = [75, 80, 85, 90, 95] if p["sex"] == "male" else [70, 75, 80, 85, 90]
    wpts = [0, 3, 5, 7, 8, 10][sum(w >= k for k in cuts)]
    sbp = p["systolic_bp"]
    spts = [0, 1, 3, 6, 7, 8, 10][sum(sbp >= k for k in [110, 120, 130, 140, 150, 160])]
    fam = 6 if p["family_history_diabetes"] == "first_degree" else 0
    sex = 2 if p["sex"] == "male" else 0
    return a + b + wpts + spts + fam + sex


# ---------------------------------------------------------------------------
# FINDRISC (Lindstrom & Tuomilehto 2003; questionnaire form)
# ---------------------------------------------------------------------------
def findrisc_points(p: dict) -> int:
    age = p["age"]
    a = 0 if age < 45 else 2 if age <= 54 else 3 if age <= 64 else 4
    bmi = p["bmi"]
    b = 0 if bmi < 25 else 1 if bmi <= 30 else 3
    w = p["waist_cm"]
    if p["sex"] == "male":
        wp = 0 if w < 94 else 3 if w <= 102 else 4
    else:
        wp = 0 if w < 80 else 3 if w <= 88 else 4
    act = 0 if p["physically_active"] else 2
    fv = 0 if p["daily_fruit_veg"] else 1
    bp = 2 if p["bp_medication"] else 0
    glu = 5 if p["high_glucose_history"] else 0
    fam = {"none": 0, "second_degree": 3, "first_degree": 5}[p["family_history_diabetes"]]
    return a + b + wp + act + fv + bp + glu + fam


# ---------------------------------------------------------------------------
# Self-checks against published / documented numbers
# ---------------------------------------------------------------------------
GOFF_PROFILE = dict(age=55, total_cholesterol=213, hdl_cholesterol=50, systolic_bp=120,
                    bp_treated=False, smoker=False, diabetes=False)
GOFF_PUBLISHED = {  # Goff 2013 Appendix Table A, "Estimated 10-y Risk of Hard ASCVD"
    ("white", "female"): 0.021,
    ("african_american", "female"): 0.030,
    ("white", "male"): 0.053,
    ("african_american", "male"): 0.061,
}
# The published white-men value (5.3%) is not reproduced by exact arithmetic with the
# published Table A constants: this implementation gives 5.384% (ACC/AHA spreadsheet constants
# S0=0.91436, mean=61.1816 give 5.38% too).  Table A's "Individual Sum" column was computed
# from rounded ln values, so the printed 5.3% is a rounding artefact of the table itself.
# Tolerance for that case is therefore widened to 0.001 (still catches treated/untreated swaps,
# which move this profile to ~6.3%).
GOFF_TOL = {("white", "male"): 0.001}
PREVENTR_PROFILE = dict(age=50, systolic_bp=160, bp_treated=True, total_cholesterol=200,
                        hdl_cholesterol=45, statin=False, diabetes=True, smoker=False, egfr=90)
PREVENTR_PUBLISHED = {"female": 0.147, "male": 0.163}


def self_checks() -> None:
    for (race, sex), pub in GOFF_PUBLISHED.items():
        r = pce_risk(dict(GOFF_PROFILE, race=race, sex=sex))
        assert abs(r - pub) <= GOFF_TOL.get((race, sex), 0.0006), (race, sex, r, pub)
        if (race, sex) not in GOFF_TOL:
            assert round(r * 100, 1) == round(pub * 100, 1), (race, sex, r, pub)
    # Third-party documented outputs (vcastro/CVrisk reference docs, percent, 2 dp)
    r = pce_risk(dict(race="african_american", sex="male", age=55, total_cholesterol=213,
                      hdl_cholesterol=50, systolic_bp=140, bp_treated=False, smoker=False,
                      diabetes=False))
    assert abs(r * 100 - 7.95) < 0.005 + 1e-9, r
    r = frs_risk(dict(sex="male", age=55, total_cholesterol=213, hdl_cholesterol=50,
                      systolic_bp=140, bp_treated=False, smoker=False, diabetes=False), "lipid")
    assert abs(r * 100 - 13.53) < 0.005 + 1e-9, r
    r = frs_risk(dict(sex="male", age=55, bmi=30, systolic_bp=140, bp_treated=False,
                      smoker=False, diabetes=False), "bmi")
    assert abs(r * 100 - 16.75) < 0.005 + 1e-9, r
    for sex, pub in PREVENTR_PUBLISHED.items():
        r = prevent_risk(dict(PREVENTR_PROFILE, sex=sex))
        assert abs(r - pub) <= 0.0005 + 1e-12, (sex, r, pub)
    # 0.360078 (AHA R code / CDC) vs 0.3600781 (supplement) is immaterial
    alt = {k: dict(v) for k, v in PREVENT_CVD10.items()}
    alt["female"]["sbp_hi"] = 0.360078
    for sbp in (90, 130, 200):
        p = dict(PREVENTR_PROFILE, sex="female", systolic_bp=sbp)
        assert abs(prevent_risk(p) - prevent_risk(p, alt)) < 1e-7
    # CDRS range 0..51 (Zhou 2013 abstract)
    lo = cdrs_points(dict(age=20, sex="female", waist_cm=60, bmi=18, systolic_bp=100,
                          family_history_diabetes="none"))
    hi = cdrs_points(dict(age=70, sex="male", waist_cm=110, bmi=35, systolic_bp=180,
                          family_history_diabetes="first_degree"))
    assert (lo, hi) == (0, 51), (lo, hi)
    # FINDRISC maximum 26 on the questionnaire form
    hi = findrisc_points(dict(age=70, sex="male", bmi=35, waist_cm=110, physically_active=False,
                              daily_fruit_veg=False, bp_medication=True, high_glucose_history=True,
                              family_history_diabetes="first_degree"))
    assert hi == 26, hi


# ---------------------------------------------------------------------------
# Case definitions
# ---------------------------------------------------------------------------
SRC_PCE = ("Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk, "
           "Circulation 2014;129(25 Suppl 2):S49-S73, Appendix 7 Table A coefficients, mean "
           "'Coefficient x Value' sums and 10-y baseline survival")
SRC_FRS = ("D'Agostino RB Sr et al. General cardiovascular risk profile for use in primary care: "
           "the Framingham Heart Study. Circulation 2008;117:743-753")
SRC_PREVENT = ("Khan SS et al. Development and validation of the AHA PREVENT equations. "
               "Circulation 2024;149:430-449, Supplemental Table S12A, base model, 10-y total CVD "
               "(logistic); cholesterol mg/dL x 0.02586 -> mmol/L")
SRC_CDRS = ("Zhou X et al. Nonlaboratory-based risk assessment algorithm for undiagnosed type 2 "
            "diabetes developed on a nation-wide diabetes survey. Diabetes Care 2013;36:3944-3952; "
            "point table as tabulated in the Chinese T2DM guideline 2017/2020 (age 20-24:0, 25-34:4, "
            "35-39:8, 40-44:11, 45-49:12, 50-54:13, 55-59:15, 60-64:16, 65-74:18; BMI <22:0, "
            "22-23.9:1, 24-29.9:3, >=30:5; waist men <75:0, 75-79.9:3, 80-84.9:5, 85-89.9:7, "
            "90-94.9:8, >=95:10; women <70:0, 70-74.9:3, 75-79.9:5, 80-84.9:7, 85-89.9:8, >=90:10; "
            "SBP <110:0, 110-119:1, 120-129:3, 130-139:6, 140-149:7, 150-159:8, >=160:10; family "
            "history (first-degree) 6; male 2; high risk >=25)")
SRC_FINDRISC = ("Lindstrom J, Tuomilehto J. The diabetes risk score: a practical tool to predict "
                "type 2 diabetes risk. Diabetes Care 2003;26:725-731, and the FINDRISC questionnaire "
                "form (age <45:0, 45-54:2, 55-64:3, >64:4; BMI <25:0, 25-30:1, >30:3; waist men "
                "<94:0, 94-102:3, >102:4, women <80:0, 80-88:3, >88:4; not active >=30 min/day:2; "
                "no daily fruit/veg:1; BP medication:2; history of high glucose:5; family history "
                "second-degree:3, first-degree:5). Note: the family-history item is on the form, not "
                "in the 2003 paper's concise score")

INDEP = ("independent calculation: standalone script tests/assistant/data/make_reference_cases.py "
         "(no fedcare imports) from the published coefficients; ")

PCE_INDEP = [
    # (label, profile)
    ("white woman 62, treated SBP, smoker",
     dict(race="white", sex="female", age=62, total_cholesterol=240, hdl_cholesterol=45,
          systolic_bp=150, bp_treated=True, smoker=True, diabetes=False)),
    ("white woman 55, Table A profile but SBP treated (guards treated/untreated swap)",
     dict(race="white", sex="female", age=55, total_cholesterol=213, hdl_cholesterol=50,
          systolic_bp=120, bp_treated=True, smoker=False, diabetes=False)),
    ("African-American woman 48, treated SBP, diabetic",
     dict(race="african_american", sex="female", age=48, total_cholesterol=190,
          hdl_cholesterol=60, systolic_bp=135, bp_treated=True, smoker=False, diabetes=True)),
    ("African-American woman 79, untreated SBP, diabetic",
     dict(race="african_american", sex="female", age=79, total_cholesterol=260,
          hdl_cholesterol=70, systolic_bp=170, bp_treated=False, smoker=False, diabetes=True)),
    ("white man 70, treated SBP, smoker, diabetic",
     dict(race="white", sex="male", age=70, total_cholesterol=220, hdl_cholesterol=38,
          systolic_bp=145, bp_treated=True, smoker=True, diabetes=True)),
    ("white man 40, low risk",
     dict(race="white", sex="male", age=40, total_cholesterol=170, hdl_cholesterol=55,
          systolic_bp=110, bp_treated=False, smoker=False, diabetes=False)),
    ("African-American man 45, untreated SBP, smoker",
     dict(race="african_american", sex="male", age=45, total_cholesterol=180,
          hdl_cholesterol=42, systolic_bp=128, bp_treated=False, smoker=True, diabetes=False)),
    ("African-American man 66, treated SBP, diabetic",
     dict(race="african_american", sex="male", age=66, total_cholesterol=230,
          hdl_cholesterol=48, systolic_bp=152, bp_treated=True, smoker=False, diabetes=True)),
    ("race 'other' man 58 -> white equations (per Goff 2013 recommendation for other groups)",
     dict(race="other", sex="male", age=58, total_cholesterol=205, hdl_cholesterol=44,
          systolic_bp=138, bp_treated=False, smoker=True, diabetes=False)),
]

FRS_LIPID_CASES = [
    ("man 55, untreated SBP 140",
     dict(sex="male", age=55, total_cholesterol=213, hdl_cholesterol=50, systolic_bp=140,
          bp_treated=False, smoker=False, diabetes=False)),
    ("man 62, treated SBP, smoker, diabetic",
     dict(sex="male", age=62, total_cholesterol=240, hdl_cholesterol=38, systolic_bp=150,
          bp_treated=True, smoker=True, diabetes=True)),
    ("man 35, low risk",
     dict(sex="male", age=35, total_cholesterol=180, hdl_cholesterol=55, systolic_bp=118,
          bp_treated=False, smoker=False, diabetes=False)),
    ("woman 61, untreated SBP, smoker",
     dict(sex="female", age=61, total_cholesterol=180, hdl_cholesterol=47, systolic_bp=124,
          bp_treated=False, smoker=True, diabetes=False)),
    ("woman 50, treated SBP, diabetic",
     dict(sex="female", age=50, total_cholesterol=230, hdl_cholesterol=52, systolic_bp=142,
          bp_treated=True, smoker=False, diabetes=True)),
    ("woman 74, treated SBP 165",
     dict(sex="female", age=74, total_cholesterol=260, hdl_cholesterol=65, systolic_bp=165,
          bp_treated=True, smoker=False, diabetes=False)),
    ("woman 45, same inputs untreated (guards treated/untreated swap)",
     dict(sex="female", age=45, total_cholesterol=200, hdl_cholesterol=50, systolic_bp=130,
          bp_treated=False, smoker=False, diabetes=False)),
]

FRS_BMI_CASES = [
    ("man 55, BMI 30, untreated SBP 140",
     dict(sex="male", age=55, bmi=30, systolic_bp=140, bp_treated=False, smoker=False,
          diabetes=False)),
    ("man 68, BMI 27.5, treated SBP, smoker, diabetic",
     dict(sex="male", age=68, bmi=27.5, systolic_bp=155, bp_treated=True, smoker=True,
          diabetes=True)),
    ("man 32, BMI 22, low risk",
     dict(sex="male", age=32, bmi=22, systolic_bp=115, bp_treated=False, smoker=False,
          diabetes=False)),
    ("woman 47, BMI 33, treated SBP",
     dict(sex="female", age=47, bmi=33, systolic_bp=132, bp_treated=True, smoker=False,
          diabetes=False)),
    ("woman 58, BMI 24, untreated SBP, smoker, diabetic",
     dict(sex="female", age=58, bmi=24, systolic_bp=128, bp_treated=False, smoker=True,
          diabetes=True)),
    ("woman 72, BMI 26, untreated SBP 150",
     dict(sex="female", age=72, bmi=26, systolic_bp=150, bp_treated=False, smoker=False,
          diabetes=False)),
    ("woman 72, BMI 26, treated SBP 150 (guards treated/untreated swap)",
     dict(sex="female", age=72, bmi=26, systolic_bp=150, bp_treated=True, smoker=False,
          diabetes=False)),
]

PREVENT_INDEP = [
    ("woman 40, SBP<110 spline, statin",
     dict(sex="female", age=40, total_cholesterol=180, hdl_cholesterol=65, systolic_bp=102,
          bp_treated=False, statin=True, diabetes=False, smoker=False, egfr=105)),
    ("woman 68, eGFR<60, smoker, treated SBP",
     dict(sex="female", age=68, total_cholesterol=230, hdl_cholesterol=50, systolic_bp=148,
          bp_treated=True, statin=False, diabetes=False, smoker=True, egfr=45)),
    ("woman 79, diabetic, statin, eGFR 60 knot",
     dict(sex="female", age=79, total_cholesterol=210, hdl_cholesterol=58, systolic_bp=135,
          bp_treated=True, statin=True, diabetes=True, smoker=False, egfr=60)),
    ("man 30, low risk",
     dict(sex="male", age=30, total_cholesterol=170, hdl_cholesterol=48, systolic_bp=118,
          bp_treated=False, statin=False, diabetes=False, smoker=False, egfr=115)),
    ("man 55, smoker, statin, SBP exactly 110",
     dict(sex="male", age=55, total_cholesterol=250, hdl_cholesterol=40, systolic_bp=110,
          bp_treated=False, statin=True, diabetes=False, smoker=True, egfr=88)),
    ("man 64, diabetic, eGFR 30, treated SBP 160",
     dict(sex="male", age=64, total_cholesterol=200, hdl_cholesterol=36, systolic_bp=160,
          bp_treated=True, statin=False, diabetes=True, smoker=False, egfr=30)),
    ("man 75, SBP 95 (below knot), eGFR 70",
     dict(sex="male", age=75, total_cholesterol=190, hdl_cholesterol=55, systolic_bp=95,
          bp_treated=False, statin=False, diabetes=False, smoker=False, egfr=70)),
]

CDRS_CASES = [
    ("woman 24 (age 20-24), all lowest", dict(age=24, sex="female", waist_cm=69.9, bmi=21.9,
                                              systolic_bp=109, family_history_diabetes="none")),
    ("woman 25 (age boundary), waist 70, BMI 22, SBP 110",
     dict(age=25, sex="female", waist_cm=70, bmi=22, systolic_bp=110, family_history_diabetes="none")),
    ("man 35 (age boundary), waist 75, BMI 24, SBP 120",
     dict(age=35, sex="male", waist_cm=75, bmi=24, systolic_bp=120, family_history_diabetes="none")),
    ("man 40 (age boundary), waist 80, SBP 130",
     dict(age=40, sex="male", waist_cm=80, bmi=23.9, systolic_bp=130, family_history_diabetes="none")),
    ("woman 34, waist 75, SBP 129, first-degree family history",
     dict(age=34, sex="female", waist_cm=75, bmi=24, systolic_bp=129,
          family_history_diabetes="first_degree")),
    ("woman 50, BMI 21, waist 75, SBP 130 (total 24, just below high risk)",
     dict(age=50, sex="female", waist_cm=75, bmi=21, systolic_bp=130, family_history_diabetes="none")),
    ("man 45, BMI 22, waist 85 (boundary), SBP 120 (total 25 = high-risk threshold)",
     dict(age=45, sex="male", waist_cm=85, bmi=22, systolic_bp=120, family_history_diabetes="none")),
    ("man 45, BMI 22, waist 84.9, SBP 120 (total 23)",
     dict(age=45, sex="male", waist_cm=84.9, bmi=22, systolic_bp=120, family_history_diabetes="none")),
    ("man 55, waist 90, BMI 30, SBP 150",
     dict(age=55, sex="male", waist_cm=90, bmi=30, systolic_bp=150, family_history_diabetes="none")),
    ("woman 60, waist 85, SBP 160", dict(age=60, sex="female", waist_cm=85, bmi=29.9,
                                         systolic_bp=160, family_history_diabetes="none")),
    ("woman 65, waist 90 (max women), BMI 30, first-degree",
     dict(age=65, sex="female", waist_cm=90, bmi=30, systolic_bp=149,
          family_history_diabetes="first_degree")),
    ("man 74, waist 95 (max men), SBP 159", dict(age=74, sex="male", waist_cm=95, bmi=26,
                                                  systolic_bp=159, family_history_diabetes="none")),
    ("man 30, waist 74.9, SBP 109", dict(age=30, sex="male", waist_cm=74.9, bmi=21,
                                         systolic_bp=109, family_history_diabetes="none")),
    ("woman 42, waist 89.9, SBP 139", dict(age=42, sex="female", waist_cm=89.9, bmi=25,
                                           systolic_bp=139, family_history_diabetes="none")),
]

_F = dict(physically_active=True, daily_fruit_veg=True, bp_medication=False,
          high_glucose_history=False, family_history_diabetes="none")
FINDRISC_CASES = [
    ("man 44, all zero", dict(_F, age=44, sex="male", bmi=24.9, waist_cm=93.5)),
    ("man 45 (age boundary), BMI 25, waist 94", dict(_F, age=45, sex="male", bmi=25, waist_cm=94)),
    ("man 54, BMI 30 (still 1 point), waist 102 (still 3)",
     dict(_F, age=54, sex="male", bmi=30, waist_cm=102)),
    ("man 55, BMI 30.1, waist 102.5", dict(_F, age=55, sex="male", bmi=30.1, waist_cm=102.5)),
    ("woman 64, waist 80, inactive, second-degree family history",
     dict(_F, age=64, sex="female", bmi=26, waist_cm=80, physically_active=False,
          family_history_diabetes="second_degree")),
    ("woman 65, waist 88 (still 3), no fruit/veg, BP meds",
     dict(_F, age=65, sex="female", bmi=29, waist_cm=88, daily_fruit_veg=False, bp_medication=True)),
    ("woman 50, waist 88.5, high glucose, first-degree family history",
     dict(_F, age=50, sex="female", bmi=31, waist_cm=88.5, high_glucose_history=True,
          family_history_diabetes="first_degree")),
    ("woman 38, waist 79.9, BMI 24.9", dict(_F, age=38, sex="female", bmi=24.9, waist_cm=79.9)),
    ("man 70, everything positive (maximum 26)",
     dict(age=70, sex="male", bmi=35, waist_cm=110, physically_active=False, daily_fruit_veg=False,
          bp_medication=True, high_glucose_history=True, family_history_diabetes="first_degree")),
]


def build_cases() -> list[dict]:
    cases: list[dict] = []
    pub_label = {("white", "female"): "white women", ("african_american", "female"):
                 "African-American women", ("white", "male"): "white men",
                 ("african_american", "male"): "African-American men"}
    for (race, sex), pub in GOFF_PUBLISHED.items():
        cases.append(dict(
            score="pce_ascvd_2013",
            profile=dict(GOFF_PROFILE, race=race, sex=sex),
            expected={"risk": pub},
            tolerance=GOFF_TOL.get((race, sex), 0.0006),
            source=(f"{SRC_PCE}: worked example (age 55, TC 213, HDL-C 50, untreated SBP 120, "
                    f"non-smoker, no diabetes), estimated 10-y risk for {pub_label[(race, sex)]} "
                    f"= {pub * 100:.1f}% (published to 0.1%)"
                    + ("; NOTE exact computation with the published coefficients gives "
                       f"{pce_risk(dict(GOFF_PROFILE, race=race, sex=sex)) * 100:.3f}% (Table A's "
                       "printed value reflects its rounded ln inputs), hence tolerance 0.001"
                       if (race, sex) in GOFF_TOL else "")),
            kind="published_example"))
    for label, prof in PCE_INDEP:
        cases.append(dict(score="pce_ascvd_2013", profile=prof,
                          expected={"risk": round(pce_risk(prof), 10)}, tolerance=1e-6,
                          source=INDEP + SRC_PCE + f" [{label}]",
                          kind="independent_calculation"))
    for label, prof in FRS_LIPID_CASES:
        cases.append(dict(score="framingham_cvd_2008", profile=prof,
                          expected={"risk": round(frs_risk(prof, "lipid"), 10), "version": "lipid"},
                          tolerance=1e-6,
                          source=INDEP + SRC_FRS + ", Table 2 lipid model (regression coefficients, "
                          "S0(10)=0.88936 men / 0.95012 women, means 23.9802 / 26.1931; also "
                          f"framinghamheartstudy.org) [{label}]",
                          kind="independent_calculation"))
    for label, prof in FRS_BMI_CASES:
        cases.append(dict(score="framingham_cvd_2008", profile=prof,
                          expected={"risk": round(frs_risk(prof, "bmi"), 10), "version": "bmi"},
                          tolerance=1e-6,
                          source=INDEP + SRC_FRS + ", office-based (BMI) model (ln BMI replaces "
                          "lipids; S0(10)=0.88431 men / 0.94833 women, means 23.9388 / 26.0145) "
                          f"[{label}]",
                          kind="independent_calculation"))
    for sex, pub in PREVENTR_PUBLISHED.items():
        cases.append(dict(
            score="prevent_cvd_2023", profile=dict(PREVENTR_PROFILE, sex=sex),
            expected={"risk": pub}, tolerance=0.0006,
            source=(f"{SRC_PREVENT}: published check value from the preventr R package "
                    "(martingmayer/preventr, README.md example and tests/testthat/"
                    "test-prevent_equations.R 'Base model works, " + sex + "'): age 50, SBP 160 "
                    "treated, TC 200, HDL-C 45, no statin, diabetes, non-smoker, eGFR 90 "
                    f"(BMI 35 not used by total-CVD model) -> total_cvd 10-y = {pub} (3 dp)"),
            kind="published_example"))
    for label, prof in PREVENT_INDEP:
        cases.append(dict(score="prevent_cvd_2023", profile=prof,
                          expected={"risk": round(prevent_risk(prof), 10)}, tolerance=1e-6,
                          source=INDEP + SRC_PREVENT + f" [{label}]",
                          kind="independent_calculation"))
    for label, prof in CDRS_CASES:
        cases.append(dict(score="cdrs", profile=prof, expected={"points": cdrs_points(prof)},
                          tolerance=0,
                          source=INDEP + SRC_CDRS + f" [{label}]; family history coded "
                          "'first_degree' = yes, 'none' = no (second_degree not used)",
                          kind="independent_calculation"))
    for label, prof in FINDRISC_CASES:
        cases.append(dict(score="findrisc", profile=prof,
                          expected={"points": findrisc_points(prof)}, tolerance=0,
                          source=INDEP + SRC_FINDRISC + f" [{label}]",
                          kind="independent_calculation"))
    return cases


def main() -> None:
    self_checks()
    cases = build_cases()
    OUT.write_text(json.dumps(cases, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    from collections import Counter
    print(Counter((c["score"], c["kind"]) for c in cases))


if __name__ == "__main__":
    main()
