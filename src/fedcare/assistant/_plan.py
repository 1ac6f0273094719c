"""Tier, modifiable factors, what-if and the plan, each target and effect size cited.

What-if re-estimates a risk through the equation wherever the changed factor is one of its
inputs; otherwise it uses an effect size from a cited trial or meta-analysis, and where
none exists it says so instead of inventing one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from fedcare.assistant._equations import (
    EQUATIONS,
    MGDL_PER_MMOLL_CHOL,
    Result,
    Skipped,
)
from fedcare.assistant._profile import Profile
from fedcare.assistant._text import TITLES_ZH, area, chol, glucose, pct, say

__all__ = ["CITATIONS", "Thresholds", "adapt_plan", "factors", "make_plan", "tier",
           "what_if"]

#: Guidelines and trials the targets and effect sizes come from.
CITATIONS = {
    "cn_cvd_prevention_2020": "Chinese Society of Cardiology. Chinese guideline on the primary "
                              "prevention of cardiovascular diseases. Chin J Cardiol 2020;48:"
                              "1000-1038 (10-year ASCVD risk: low < 5 %, intermediate 5-9.9 %, "
                              "high >= 10 %).",
    "cn_hypertension_2024": "Chinese Hypertension League. 2024 Chinese guidelines for the "
                            "management of hypertension (target < 130/80 mmHg for most "
                            "adults).",
    "cn_dietary_2022": "Chinese Nutrition Society. Dietary Guidelines for Chinese Residents "
                       "(2022): salt < 5 g/day, cooking oil 25-30 g, vegetables 300-500 g, "
                       "fruit 200-350 g a day.",
    "who_activity_2020": "WHO guidelines on physical activity and sedentary behaviour (2020): "
                         "150-300 min moderate or 75-150 min vigorous activity a week, muscle "
                         "strengthening on 2 or more days.",
    "cn_weight_2013": "WS/T 428-2013 Criteria of weight for adults (China): BMI 18.5-23.9 "
                      "normal, >= 24 overweight; waist >= 90 cm (men) / >= 85 cm (women) "
                      "central obesity.",
    "cn_diabetes_2020": "Chinese Diabetes Society. Guideline for the prevention and treatment "
                        "of type 2 diabetes mellitus in China (2020 edition): CDRS >= 25 -> "
                        "OGTT; fasting glucose >= 7.0 mmol/L or HbA1c >= 6.5 % diagnostic.",
    "cn_lipids_2023": "Joint Committee on the Chinese Guidelines for Lipid Management. Chinese "
                      "guidelines for lipid management (2023).",
    "cn_smoking_2015": "National Health and Family Planning Commission. China clinical "
                       "smoking cessation guideline (2015).",
    "ettehad_2016": "Ettehad D et al. Blood pressure lowering for prevention of cardiovascular "
                    "disease and death: a systematic review and meta-analysis. Lancet 2016;"
                    "387:957-967 (per 10 mmHg systolic: RR 0.80 for major CVD events).",
    "ctt_2010": "Cholesterol Treatment Trialists' Collaboration. Efficacy and safety of more "
                "intensive lowering of LDL cholesterol. Lancet 2010;376:1670-1681 (per 1.0 "
                "mmol/L LDL lowering: RR 0.78 for major vascular events).",
    "sattelmair_2011": "Sattelmair J et al. Dose response between physical activity and risk "
                       "of coronary heart disease: a meta-analysis. Circulation 2011;124:"
                       "789-795 (150 min/week of moderate activity: RR 0.86 for CHD).",
    "he_2013": "He FJ, Li J, MacGregor GA. Effect of longer term modest salt reduction on "
               "blood pressure. BMJ 2013;346:f1325 (4.4 g/day less salt: systolic -4.18 "
               "mmHg overall, -5.39 mmHg in hypertension).",
    "kdigo_2024": "KDIGO 2024 Clinical Practice Guideline for the Evaluation and Management "
                  "of Chronic Kidney Disease (eGFR < 60 mL/min/1.73 m²: CKD stage G3a or "
                  "worse).",
    "prediabetes": "Chinese Diabetes Society guideline 2020 (impaired fasting glucose "
                   "6.1-6.9 mmol/L); American Diabetes Association Standards of Care 2024 "
                   "(HbA1c 5.7-6.4 %: prediabetes).",
    "cn_lipids_secondary": "Chinese guidelines for lipid management (2023): people with "
                           "ASCVD are at very high risk, LDL cholesterol < 1.8 mmol/L "
                           "(< 1.4 mmol/L at extremely high risk).",
    "look_ahead_2013": "Look AHEAD Research Group. Cardiovascular effects of intensive "
                       "lifestyle intervention in type 2 diabetes. N Engl J Med 2013;369:145-"
                       "154 (weight loss did not reduce cardiovascular events).",
}

#: Order in which a cardiovascular score is taken as the primary one (tier, top factors).
PRIMARY_ORDER = ("prevent_cvd_2023", "pce_ascvd_2013", "framingham_cvd_2008")


@dataclass(frozen=True)
class Thresholds:
    """Tier thresholds and reassessment intervals (configurable).

    Defaults: 10-year cardiovascular risk < 5 % green, 5-9.9 % yellow, >= 10 % red (the 2020
    Chinese primary-prevention guideline's low / intermediate / high); CDRS >= 25 yellow
    (screen with an OGTT, Chinese diabetes guideline 2020); FINDRISC 12-14 yellow, >= 15 red
    (Lindstrom 2003: 1 in 6 and 1 in 3 develop diabetes in 10 years).  The reassessment
    intervals (red 3, yellow 6, green 12 months) are fedcare's defaults, not a guideline's.
    """

    cvd_yellow: float = 0.05
    cvd_red: float = 0.10
    cdrs_yellow: int = 25
    findrisc_yellow: int = 12
    findrisc_red: int = 15
    months_red: int = 3
    months_yellow: int = 6
    months_green: int = 12
    citation: str = "cn_cvd_prevention_2020"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        """Thresholds from a JSON object; unknown keys or bad values are a ConfigError."""
        from fedcare.exceptions import ConfigError

        known = {k for k in asdict(cls()) if k != "citation"}
        bad = sorted(set(data) - known)
        if bad:
            raise ConfigError(f"unknown threshold '{bad[0]}'; known: {', '.join(sorted(known))}")
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"threshold '{key}' must be a non-negative number")
        out = cls(**data)
        if not out.cvd_yellow < out.cvd_red <= 1:
            raise ConfigError("thresholds: need cvd_yellow < cvd_red <= 1")
        if not out.findrisc_yellow < out.findrisc_red:
            raise ConfigError("thresholds: need findrisc_yellow < findrisc_red")
        return out


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months (the last day of a shorter month when needed)."""
    import calendar

    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def title(name: str, lang: str) -> str:
    """A score's title in ``lang``."""
    return TITLES_ZH[name][0] if lang == "zh" else EQUATIONS[name].title


def primary(results: dict[str, Result | Skipped]) -> Result | None:
    """The cardiovascular score the tier and the top factors rest on."""
    for name in PRIMARY_ORDER:
        r = results.get(name)
        if isinstance(r, Result):
            return r
    return None


def _describe_basis(kind: str, lang: str, **kw: Any) -> str:
    return say(f"basis.{kind}", lang, **kw)


def tier(results: dict[str, Result | Skipped], th: Thresholds, day: date, lang: str,
         p: Profile | None = None) -> dict[str, Any]:
    """Green / yellow / red: the worst of the cardiovascular tier (primary score), the
    diabetes tier (CDRS, FINDRISC) and a glucose in the diabetes range. Never green when
    no cardiovascular score could be computed: then "unknown" unless diabetes raises it.
    ``cardiovascular`` holds the cardiovascular tier alone (it decides the lipid plan)."""
    order = {"green": 0, "yellow": 1, "red": 2}
    levels: list[tuple[str, str, str]] = []  # (level, basis, its sentence)
    cvd_level = None
    if p is not None and p.cvd_history:
        again = add_months(day, th.months_red)
        return {"level": "red", "cardiovascular": "red",
                "basis": [{"score": "cvd_history", "level": "red"}],
                "reassess_on": again.isoformat(),
                "text": say("tier.red.cvd_history", lang, date=again.isoformat()),
                "thresholds": asdict(th), "citation": CITATIONS[th.citation]}
    main = primary(results)
    if main is not None and main.risk is not None:
        cvd_level = ("red" if main.risk >= th.cvd_red else "yellow"
                     if main.risk >= th.cvd_yellow else "green")
        levels.append((cvd_level, main.name, _describe_basis(
            "cvd", lang, risk=pct(main.risk), score=title(main.name, lang),
            level=say(f"level.{cvd_level}", lang))))
    c = results.get("cdrs")
    if isinstance(c, Result) and c.points is not None:
        lv = "yellow" if c.points >= th.cdrs_yellow else "green"
        levels.append((lv, "cdrs", _describe_basis("points", lang, score=title("cdrs", lang),
                                                   points=c.points,
                                                   level=say(f"band.{c.band}", lang))))
    f = results.get("findrisc")
    if isinstance(f, Result) and f.points is not None:
        lv = ("red" if f.points >= th.findrisc_red else "yellow"
              if f.points >= th.findrisc_yellow else "green")
        levels.append((lv, "findrisc", _describe_basis(
            "points", lang, score=title("findrisc", lang), points=f.points,
            level=say(f"band.{f.band}", lang))))
    if p is not None and not p.diabetes and _glycaemia(p, lang)[1]:
        levels.append(("red", "glucose", _describe_basis("glucose", lang)))
    level = max(levels, key=lambda x: order[x[0]])[0] if levels else "unknown"
    if cvd_level is None and level in ("green", "unknown"):
        level = "unknown"  # the cardiovascular risk is not known: never "low risk"
    if level == "unknown":
        why = [b for _, _, b in levels]
        return {"level": "unknown", "cardiovascular": None,
                "basis": [{"score": s, "level": lv} for lv, s, _ in levels],
                "reassess_on": None,
                "text": say("tier.unknown", lang) + (
                    ("" if lang == "zh" else " ") + ("；" if lang == "zh" else "; ").join(why)
                    + ("。" if lang == "zh" else ".") if why else ""),
                "thresholds": asdict(th), "citation": CITATIONS[th.citation]}
    months = {"red": th.months_red, "yellow": th.months_yellow, "green": th.months_green}
    again = add_months(day, months[level])
    basis = "; ".join(b for _, _, b in levels) if lang != "zh" else "；".join(
        b for _, _, b in levels)
    if cvd_level is None:
        basis += ("；" if lang == "zh" else "; ") + say("basis.no_cvd", lang)
    return {"level": level, "cardiovascular": cvd_level,
            "basis": [{"score": s, "level": lv} for lv, s, _ in levels],
            "reassess_on": again.isoformat(),
            "text": say(f"tier.{level}", lang, date=again.isoformat())
            + ("" if lang == "zh" else " ") + basis + ("。" if lang == "zh" else "."),
            "thresholds": asdict(th), "citation": CITATIONS[th.citation]}


# -- modifiable factors -----------------------------------------------------------------------

#: mmol/L thresholds of total cholesterol (Chinese lipid guideline 2023): borderline-high
#: from 5.2, high from 6.2.
TC_RAISED_MMOL, TC_HIGH_MMOL = 5.2, 6.2


def _tc_mmol(p: Profile) -> float | None:
    return None if p.total_cholesterol is None else p.total_cholesterol / MGDL_PER_MMOLL_CHOL


def _bp_target(p: Profile) -> tuple[int, int]:
    """The blood-pressure target: < 150/90 first at 80 years and over, else < 130/80
    (2024 Chinese hypertension guideline)."""
    return (150, 90) if (p.age or 0) >= 80 else (130, 80)


def factors(p: Profile, lang: str) -> list[dict[str, Any]]:
    """Modifiable factors off their target, each with the target and its source."""
    out: list[dict[str, Any]] = []

    def add(key: str, area_: str, goal: str, cite: str, **kw: Any) -> None:
        out.append({"factor": area_, "target": goal, "citation": CITATIONS[cite],
                    "text": say(f"factor.{key}", lang, **kw)})

    if p.smoker:
        add("smoking", "smoking", "not smoking", "cn_smoking_2015")
    sbp_t, dbp_t = _bp_target(p)
    if p.systolic_bp is not None and (p.systolic_bp >= sbp_t or (
            p.diastolic_bp is not None and p.diastolic_bp >= dbp_t)):
        shown = f"{p.systolic_bp:.0f}" + (f"/{p.diastolic_bp:.0f}" if p.diastolic_bp else "")
        add("blood_pressure", "blood_pressure", f"< {sbp_t}/{dbp_t} mmHg",
            "cn_hypertension_2024", value=shown, target=f"{sbp_t}/{dbp_t}")
    tc = _tc_mmol(p)
    if tc is not None and p.total_cholesterol is not None and tc >= TC_RAISED_MMOL - 1e-9:
        add("cholesterol", "cholesterol", "< 5.2 mmol/L", "cn_lipids_2023",
            value=chol(p.total_cholesterol, lang))
    if p.bmi is not None and p.bmi >= 24:
        add("obesity" if p.bmi >= 28 else "weight", "weight", "BMI 18.5-23.9 kg/m²",
            "cn_weight_2013", value=f"{p.bmi:.1f}")
    if p.waist_cm is not None and p.sex is not None:
        limit = 90 if p.sex == "male" else 85
        if p.waist_cm >= limit:
            add("waist", "waist", f"< {limit} cm", "cn_weight_2013",
                value=f"{p.waist_cm:.0f}", limit=limit)
    if p.activity_min_per_week is not None:
        if p.activity_min_per_week < 150:
            add("activity", "activity", ">= 150 min/week", "who_activity_2020",
                value=f"{p.activity_min_per_week:.0f}")
    elif p.physically_active is False:
        add("activity_unknown", "activity", ">= 150 min/week", "who_activity_2020")
    if p.salt_g_per_day is not None and p.salt_g_per_day > 5:
        add("salt", "salt", "< 5 g/day", "cn_dietary_2022", value=f"{p.salt_g_per_day:g}")
    if p.daily_fruit_veg is False:
        add("fruit_veg", "diet", "vegetables 300-500 g and fruit 200-350 g a day",
            "cn_dietary_2022")
    if p.egfr is not None and p.egfr < 60:
        add("kidney", "kidney", "kidney function followed by a doctor", "kdigo_2024",
            value=f"{p.egfr:.0f}", stage="3a" if p.egfr >= 45 else "3b" if p.egfr >= 30
            else "4" if p.egfr >= 15 else "5")
    if p.diabetes:
        if p.hba1c is not None and p.hba1c >= 7.0:
            add("diabetes_control", "glucose", "HbA1c < 7.0 %", "cn_diabetes_2020",
                value=f"{p.hba1c:.1f}")
    else:
        what, high, raised = _glycaemia(p, lang)
        if high:
            add("glucose", "glucose", "diagnosis confirmed or excluded", "cn_diabetes_2020",
                what=what)
        elif raised:
            add("prediabetes", "glucose", "fasting glucose < 6.1 mmol/L; HbA1c < 5.7 %",
                "prediabetes", what=what)
    return out


def _glycaemia(p: Profile, lang: str) -> tuple[str, bool, bool]:
    """What is raised, whether it is in the diabetes range, whether in a prediabetes range
    (fasting glucose 6.1-6.9 mmol/L: Chinese guideline; HbA1c 5.7-6.4 %: ADA)."""
    parts, high, raised = [], False, False
    if p.fasting_glucose is not None and p.fasting_glucose >= 110:
        parts.append(("空腹血糖 " if lang == "zh" else "Fasting glucose ")
                     + glucose(p.fasting_glucose, lang))
        high |= p.fasting_glucose >= 126
        raised = True
    if p.hba1c is not None and p.hba1c >= 5.7:
        parts.append(("糖化血红蛋白 " if lang == "zh" else "HbA1c ") + f"{p.hba1c:.1f} %")
        high |= p.hba1c >= 6.5
        raised = True
    return ("、" if lang == "zh" else ", ").join(parts), high, raised


# -- what-if ----------------------------------------------------------------------------------

_SALT_REDUCTION_G, _SALT_SBP_ALL, _SALT_SBP_HTN = 4.4, 4.18, 5.39  # He 2013


def _interventions(p: Profile) -> list[tuple[str, dict[str, Any] | None, str | None, str]]:
    """(id, profile changes or None, why not applicable, citation of the change)."""
    out: list[tuple[str, dict[str, Any] | None, str | None, str]] = []
    if p.smoker:
        out.append(("stop_smoking", {"smoker": False}, None, "cn_smoking_2015"))
    if p.systolic_bp is not None and p.systolic_bp >= _bp_target(p)[0]:
        out.append(("sbp_minus_10", {"systolic_bp": p.systolic_bp - 10}, None,
                    "cn_hypertension_2024"))
    tc = _tc_mmol(p)
    if tc is not None and p.total_cholesterol is not None and tc >= TC_RAISED_MMOL - 1e-9:
        out.append(("cholesterol_minus_1",
                    {"total_cholesterol": p.total_cholesterol - MGDL_PER_MMOLL_CHOL}, None,
                    "ctt_2010"))
    if p.bmi is not None and p.bmi >= 24:
        out.append(("weight_loss_5pct", {"bmi": p.bmi * 0.95}, None, "cn_weight_2013"))
    if (p.activity_min_per_week is not None and p.activity_min_per_week < 150) or (
            p.activity_min_per_week is None and p.physically_active is False):
        out.append(("activity_150", {"activity_min_per_week": 150.0}, None,
                    "who_activity_2020"))
    if p.salt_g_per_day is not None and p.salt_g_per_day > 5 and p.systolic_bp is not None:
        hypertensive = p.systolic_bp >= 140 or bool(p.bp_treated)
        per = (_SALT_SBP_HTN if hypertensive else _SALT_SBP_ALL) / _SALT_REDUCTION_G
        drop = per * (p.salt_g_per_day - 5)
        out.append(("salt_under_5g", {"systolic_bp": max(60.0, p.systolic_bp - drop),
                                      "salt_g_per_day": 5.0}, None, "he_2013"))
    return out


#: Where an equation lacks the changed factor (or gives it no benefit at the person's age):
#: (relative risk, citation, kind of evidence).
_EFFECTS = {"sbp_minus_10": (0.80, "ettehad_2016", "trials"),
            "cholesterol_minus_1": (0.78, "ctt_2010", "trials"),
            "activity_150": (0.86, "sattelmair_2011", "observational")}
#: The input each intervention changes, as the equations name it.
_CHANGES = {"stop_smoking": "smoker", "sbp_minus_10": "systolic_bp",
            "cholesterol_minus_1": "total_cholesterol", "weight_loss_5pct": "bmi",
            "activity_150": "activity_min_per_week", "salt_under_5g": "systolic_bp"}
#: Diabetes scores are re-estimated only for what changes diabetes risk.
_DIABETES_INTERVENTIONS = ("weight_loss_5pct", "activity_150")
_EVIDENCE = {"equation": "the equation's own coefficient (observational cohort)",
             "trials": "meta-analysis of randomised trials",
             "observational": "meta-analysis of observational studies"}


def what_if(p: Profile, results: dict[str, Result | Skipped], lang: str,
            recalibrations: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each applicable intervention's re-estimated risk (points) per computed score
    (through the same recalibration as the score, where there is one).

    A beneficial change is never shown as raising the risk: where the equation gives no
    reduction (PREVENT's cholesterol term turns negative with age), the cited trial effect
    is used instead and the text says so.
    """
    recalibrations = recalibrations or {}
    out: list[dict[str, Any]] = []
    main = primary(results)
    for key, changes, _, cite in _interventions(p):
        assert changes is not None
        label = say(f"whatif.{key}", lang)
        after_profile = p.with_(**changes)
        estimates = []
        for name, before in results.items():
            if not isinstance(before, Result):
                continue
            eq = EQUATIONS[name]
            if not eq.cardiovascular and key not in _DIABETES_INTERVENTIONS:
                continue
            changed = _CHANGES[key]
            if changed in before.inputs:
                after = eq.compute(after_profile)
                if not isinstance(after, Result):  # left the derivation range
                    continue
                if name in recalibrations:
                    after = recalibrations[name].apply_result(after)
                if before.risk is not None and after.risk is not None and (
                        after.risk >= before.risk and key in _EFFECTS):
                    rr, source, kind = _EFFECTS[key]
                    est = _estimate(name, before, Result(name, risk=before.risk * rr),
                                    "effect_size", CITATIONS[source], label, lang)
                    est.update(relative_risk=rr, evidence=_EVIDENCE[kind],
                               equation_gave=after.risk)
                    est["text"] += ("" if lang == "zh" else " ") + say("whatif.effect_note",
                                                                       lang)
                    estimates.append(est)
                    continue
                if before.risk is not None and after.risk is not None and (
                        after.risk >= before.risk):
                    continue  # e.g. PREVENT's J-shaped SBP term below 110 mmHg
                if before.points is not None and after.points == before.points:
                    continue
                est = _estimate(name, before, after, "equation", None, label, lang)
                est["evidence"] = _EVIDENCE["equation"]
                estimates.append(est)
            elif eq.cardiovascular and key in _EFFECTS and before.risk is not None:
                rr, source, kind = _EFFECTS[key]
                est = _estimate(name, before, Result(name, risk=before.risk * rr),
                                "effect_size", CITATIONS[source], label, lang)
                est.update(relative_risk=rr, evidence=_EVIDENCE[kind])
                estimates.append(est)
        if key == "weight_loss_5pct" and any(EQUATIONS[n].cardiovascular and
                                             "bmi" not in r.inputs for n, r in results.items()
                                             if isinstance(r, Result)):
            estimates.append({"score": None, "method": "none",
                              "citation": CITATIONS["look_ahead_2013"],
                              "text": say("whatif.none", lang, what=label, why=(
                                  "心血管病风险：没有试验证据表明单纯减重可降低心血管事件"
                                  "（Look AHEAD 2013）" if lang == "zh" else
                                  "cardiovascular risk: no trial shows weight loss alone "
                                  "lowering cardiovascular events (Look AHEAD 2013)"))})
        if not estimates:
            continue
        reduction = None
        if main is not None:
            for est in estimates:
                if est["score"] == main.name and est.get("risk_after") is not None:
                    reduction = est["risk_before"] - est["risk_after"]
        out.append({"intervention": key, "label": label, "change": _describe(changes),
                    "citation": CITATIONS[cite], "primary_score": main.name if main else None,
                    "primary_absolute_reduction": reduction, "estimates": estimates})
    out.sort(key=lambda w: -(w["primary_absolute_reduction"] or 0.0))
    return out


def _describe(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in changes.items()}


def _estimate(name: str, before: Result, after: Result, method: str, citation: str | None,
              label: str, lang: str) -> dict[str, Any]:
    score = title(name, lang)
    if before.risk is not None and after.risk is not None:
        return {"score": name, "method": method, "risk_before": before.risk,
                "risk_after": after.risk, "citation": citation,
                "text": say("whatif.result", lang, what=label, score=score,
                            before=pct(before.risk), after=pct(after.risk))}
    return {"score": name, "method": method, "points_before": before.points,
            "points_after": after.points, "band_after": after.band, "citation": citation,
            "text": say("whatif.points", lang, what=label, score=score, before=before.points,
                        after=after.points)}


# -- the plan ---------------------------------------------------------------------------------


def make_plan(p: Profile, results: dict[str, Result | Skipped], tier_: dict[str, Any],
              day: date, lang: str) -> dict[str, Any]:
    """Plan items with targets, due dates and the guideline each target comes from."""
    items: list[dict[str, Any]] = []

    def item(area_: str, goal: dict[str, Any], weeks: int, cite: str,
             key: str | None = None, **kw: Any) -> None:
        items.append({"area": area_, "target": goal,
                      "due": (day + timedelta(weeks=weeks)).isoformat(),
                      "status": "new", "citation": CITATIONS[cite],
                      "text": say(key or f"plan.{area_}", lang, **kw)})

    if p.smoker:
        item("smoking", {"smoker": False}, 2, "cn_smoking_2015")
    if p.cvd_history:
        item("medicines", {"taking_prescribed_medicines": True}, 4, "cn_lipids_secondary",
             key="plan.secondary_meds")
    sbp_t, dbp_t = _bp_target(p)
    if p.systolic_bp is not None and (p.systolic_bp >= sbp_t or (
            p.diastolic_bp is not None and p.diastolic_bp >= dbp_t)):
        bp_goal = {"systolic_bp": {"below": sbp_t}, "diastolic_bp": {"below": dbp_t}}
        shown = f"{p.systolic_bp:.0f}" + (f"/{p.diastolic_bp:.0f}" if p.diastolic_bp else "")
        dbp = p.diastolic_bp or 0
        if p.systolic_bp >= 180 or dbp >= 110:
            item("blood_pressure", bp_goal, 1, "cn_hypertension_2024", key="plan.bp_urgent",
                 value=shown)
        elif p.systolic_bp >= 160 or dbp >= 100:
            item("blood_pressure", bp_goal, 2, "cn_hypertension_2024", key="plan.bp_treat",
                 value=shown, target=f"{sbp_t}/{dbp_t}")
        elif p.bp_treated:
            item("blood_pressure", bp_goal, 4, "cn_hypertension_2024",
                 key="plan.blood_pressure.treated", target=f"{sbp_t}/{dbp_t}")
        else:
            item("blood_pressure", bp_goal, 12, "cn_hypertension_2024",
                 target=f"{sbp_t}/{dbp_t}")
    if p.salt_g_per_day is None or p.salt_g_per_day > 5:
        item("salt", {"salt_g_per_day": {"below": 5}}, 4, "cn_dietary_2022")
    if p.daily_fruit_veg is not True or (p.vegetables_g_per_day or 0) < 300 or (
            p.fruit_g_per_day or 0) < 200:
        item("diet", {"vegetables_g_per_day": {"at_least": 300},
                      "fruit_g_per_day": {"at_least": 200}, "oil_g_per_day": {"below": 30}},
             4, "cn_dietary_2022")
    if (p.activity_min_per_week is not None and p.activity_min_per_week < 150) or (
            p.activity_min_per_week is None and p.physically_active is not True):
        item("activity", {"activity_min_per_week": {"at_least": 150}}, 8, "who_activity_2020")
    if p.bmi is not None and p.bmi >= 24:
        weight_target: dict[str, Any] = {"bmi": {"below": 24}}
        if p.weight_kg is not None:
            weight_target["weight_kg"] = {"below": round(p.weight_kg * 0.95, 1)}
            item("weight", weight_target, 26, "cn_weight_2013", kg=f"{0.05 * p.weight_kg:.1f}")
        else:
            item("weight", weight_target, 26, "cn_weight_2013", key="plan.weight_nokg")
    tc = _tc_mmol(p)
    if p.cvd_history:
        item("lipids", {"ldl_below_mmol": 1.8}, 4, "cn_lipids_secondary",
             key="plan.lipids_secondary")
    elif not p.statin and (tier_.get("cardiovascular") == "red" or (
            tc is not None and tc >= TC_HIGH_MMOL - 1e-9)):
        item("lipids", {"statin": True}, 4, "cn_lipids_2023")
    if p.egfr is not None and p.egfr < 60:
        item("kidney", {"egfr_reviewed": True}, 4, "kdigo_2024")
    if p.diabetes:
        if p.hba1c is not None and p.hba1c >= 7.0:
            item("glucose", {"hba1c": {"below": 7.0}}, 12, "cn_diabetes_2020",
                 key="plan.diabetes_control")
        item("complications", {"screened_this_year": True}, 52, "cn_diabetes_2020",
             key="plan.diabetes_screening")
    else:
        _, high, raised = _glycaemia(p, lang)
        c, f = results.get("cdrs"), results.get("findrisc")
        screen = raised or (isinstance(c, Result) and (c.points or 0) >= 25) or (
            isinstance(f, Result) and (f.points or 0) >= 12)
        if high:
            item("glucose", {"diagnosis": "confirmed or excluded"}, 2, "cn_diabetes_2020",
                 key="plan.see_doctor_glucose")
        elif screen:
            item("glucose", {"fasting_glucose": {"below": 110}, "hba1c": {"below": 5.7}}, 4,
                 "cn_diabetes_2020")
    reassess = tier_.get("reassess_on")
    return {"items": items, "reassess_on": reassess, "achieved": [],
            "text": say("plan.reassess", lang, date=reassess) if reassess else
            say("plan.reassess_unknown", lang)}


def _value(p: Profile, name: str) -> Any:
    return getattr(p, name, None)


def _met(target: dict[str, Any], p: Profile) -> bool | None:
    """Whether a profile meets a plan target (None: not measured)."""
    verdicts = []
    for name, goal in target.items():
        value = _value(p, name)
        if value is None:
            continue
        if isinstance(goal, dict):
            if "below" in goal:
                verdicts.append(value < goal["below"])
            if "at_least" in goal:
                verdicts.append(value >= goal["at_least"])
        elif isinstance(goal, bool):
            verdicts.append(value is goal)
    return all(verdicts) if verdicts else None


_WORSE_KEYS = {"blood_pressure": "plan.blood_pressure.missed",
               "weight": "plan.weight.missed"}
#: The measurement that tells whether an area got closer to its target (lower is better,
#: except activity).
_DISTANCE = {"blood_pressure": "systolic_bp", "weight": "weight_kg", "salt": "salt_g_per_day",
             "activity": "activity_min_per_week", "smoking": "smoker",
             "glucose": "fasting_glucose", "diet": "vegetables_g_per_day"}
_HIGHER_IS_BETTER = ("activity", "diet")


def adapt_plan(plan: dict[str, Any], p: Profile, previous: dict[str, Any] | None,
               previous_profile: Profile | None, lang: str, day: date) -> dict[str, Any]:
    """Update a new plan from the previous assessment: met targets become "achieved",
    improving ones "improving" (keeping the earlier goal, so it does not move at every
    visit), unchanged or worse ones "missed" (with the stronger next step where there is
    one), and ones measured at only one visit "continuing"."""
    if previous is None or previous_profile is None:
        return plan
    before = {i["area"]: i for i in previous.get("plan", {}).get("items", [])}
    now = {i["area"] for i in plan["items"]}
    for it in plan["items"]:
        old = before.get(it["area"])
        if old is None:
            continue
        name = _DISTANCE.get(it["area"])
        if it["area"] == "weight" and p.weight_kg is None:
            name = "bmi"
        if it["area"] == "glucose" and (p.fasting_glucose is None
                                        or previous_profile.fasting_glucose is None):
            name = "hba1c"
        was, is_ = (_value(previous_profile, name), _value(p, name)) if name else (None, None)
        better = None
        if isinstance(was, int | float) and isinstance(is_, int | float) and not isinstance(
                was, bool):
            better = (is_ > was) if it["area"] in _HIGHER_IS_BETTER else (is_ < was)
        if it["area"] == "weight" and "weight_kg" in old["target"] and (
                p.weight_kg is not None and p.weight_kg > old["target"]["weight_kg"]["below"]):
            it["target"] = old["target"]  # the goal set at the first visit stays
            if lang == "zh":
                it["text"] = (f"继续减重，目标低于 {old['target']['weight_kg']['below']} 千克"
                              f"（还需减 {p.weight_kg - old['target']['weight_kg']['below']:.1f}"
                              " 千克）。")
            else:
                it["text"] = (f"Keep going towards the weight goal of below "
                              f"{old['target']['weight_kg']['below']} kg ("
                              f"{p.weight_kg - old['target']['weight_kg']['below']:.1f} kg to "
                              "go).")
        if better is None and it["area"] != "smoking":
            it["status"] = "continuing"  # not measured at both visits: no verdict
        elif better:
            it["status"] = "improving"
            it["text"] += " " + say("plan.improving", lang)
        else:
            it["status"] = "missed"
            if it["area"] in _WORSE_KEYS:
                it["text"] = say(_WORSE_KEYS[it["area"]], lang)
    for area_, old in before.items():
        met = _met(old["target"], p)
        if area_ == "lipids" and p.statin and not p.cvd_history:
            met = True  # the step asked for (a statin) was taken
        if area_ not in now and met is True:
            plan["achieved"].append({"area": area_, "target": old["target"], "status": "met",
                                     "since": day.isoformat(),
                                     "text": say("plan.maintain", lang, area=area(area_,
                                                                                   lang))})
    return plan
