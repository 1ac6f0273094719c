"""Does the model point the way known medicine says?  A check of its signed effects.

A model can learn that a risk factor protects: through a coding error (a 0/1 flag read the
wrong way round, a unit mix-up), confounding, collinear inputs or a site whose data differ.
Every test may pass and the model still be wrong in a way a clinician sees at a glance.
This module holds a short, curated table of risk factors whose direction is settled for
adverse outcomes (death, and cardiovascular disease for most of them), recognises them
among a model's inputs (by column name or by the codebook's label) and compares the
direction the model learned (:meth:`fedcare.explain.RiskModel.effects`) with the expected
one.  A factor pointing the other way beyond a small effect is a finding to review before
anyone uses the model; it never changes the model.

The check applies only when the outcome reads as an adverse event (its label or column
names death, a cardiovascular event, disease...): for any other outcome, say what it is
(``target_label``) or read the effects yourself.  Most factors are checked for
cardiovascular outcomes only: for death in hospital or in intensive care, a higher blood
pressure, diabetes or smoking can honestly come out protective (acute illness lowers blood
pressure; the "paradoxes" of critical care), so only age is expected to raise every
adverse outcome.  Binary inputs are read 1 = present unless
the codebook says otherwise; a coded input whose codes are not documented (``sex`` as 0/1
with no codebook) is listed as not checked rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["EXPECTED", "Expectation", "check_directions", "outcome_scope"]

_FRAMINGHAM = ("Framingham Heart Study general cardiovascular risk profile (D'Agostino et "
               "al., Circulation 2008;117:743-53)")
_PSC_BP = ("Prospective Studies Collaboration, blood pressure and vascular mortality "
           "(Lancet 2002;360:1903-13)")
_PSC_CHOL = ("Prospective Studies Collaboration, cholesterol and vascular mortality "
             "(Lancet 2007;370:1829-39)")
_EXERCISE = ("ACC/AHA exercise testing guideline (Gibbons et al., Circulation "
             "2002;106:1883-92); UCI heart-disease study (Detrano et al., Am J Cardiol "
             "1989;64:304-10)")
_DIABETES = ("Emerging Risk Factors Collaboration, diabetes and vascular disease "
             "(Lancet 2010;375:2215-22)")
_AGE = ("mortality rises with age at every adult age (Gompertz' law); age enters every "
        "risk score for death and cardiovascular disease, e.g. D'Agostino et al., "
        "Circulation 2008;117:743-53")


@dataclass(frozen=True)
class Expectation:
    """A risk factor whose direction is settled.

    Parameters
    ----------
    concept : str
        The factor in words ("systolic blood pressure").
    names : str
        A regular expression a column name (lower case, separators as ``_``) must match
        whole.
    labels : str
        A regular expression searched in the codebook's label of the column ("" for none).
    raises : bool
        True: more of it (or its presence) raises the risk of the outcome.
    scope : str
        ``"cardiovascular"`` (heart disease, stroke, cardiovascular death) or
        ``"adverse"`` (any adverse outcome: death, disease, an event).
    source : str
        Where the direction is established.
    level : str
        For a coded input, what the level that raises the risk means (``"male"``); ""
        for a measured input or a 0/1 flag read 1 = present.
    """

    concept: str
    names: str
    labels: str
    raises: bool
    scope: str
    source: str
    level: str = ""


#: The curated table: order matters (HDL before cholesterol).
EXPECTED: tuple[Expectation, ...] = (
    Expectation("age", r"age|age_?years?|age_at_\w+|patient_age|age_yrs", r"^age\b", True,
                "adverse", _AGE),
    Expectation("male sex", r"sex|gender|male|is_male|sex_male", r"^(?:sex|gender)\b", True,
                "cardiovascular", _FRAMINGHAM, level="male"),
    Expectation("HDL cholesterol", r"hdl|hdl_?c|hdl_?chol\w*|\w*_hdl|hdl_cholesterol",
                r"\bhdl\b|high[- ]density", False, "cardiovascular", _FRAMINGHAM),
    Expectation("total or LDL cholesterol",
                r"chol|totchol|total_?chol\w*|cholesterol|serum_?chol\w*|ldl\w*|\w*_ldl",
                r"cholesterol|\bldl\b|low[- ]density", True, "cardiovascular", _PSC_CHOL),
    Expectation("systolic blood pressure",
                r"sysbp|sbp|systolic\w*|sys_?bp|bp_?sys\w*|trestbps|resting_?bp|rest_?bp",
                r"systolic|resting blood pressure", True, "cardiovascular", _PSC_BP),
    Expectation("diastolic blood pressure", r"diabp|dbp|diastolic\w*|dia_?bp|bp_?dia\w*",
                r"diastolic", True, "cardiovascular", _PSC_BP),
    Expectation("smoking", r"smok\w*|current_?smoker|cigs\w*|cigarettes\w*|pack_?years|"
                r"tobacco\w*", r"smok|cigarette|tobacco", True, "cardiovascular", _FRAMINGHAM),
    Expectation("diabetes or raised blood glucose",
                r"diabet\w*|dm|t2dm|fbs|glucose|fasting_?glucose|fpg|hba1c|a1c",
                r"diabet|blood sugar|glucose|hba1c", True, "cardiovascular", _DIABETES),
    Expectation("hypertension or its treatment",
                r"prevalent_?hyp|hypertension|htn|bpmeds|bp_?meds|antihypertensive\w*",
                r"hypertension|blood pressure medication|antihypertensive", True,
                "cardiovascular", _FRAMINGHAM),
    Expectation("previous stroke", r"prevalent_?stroke|prior_?stroke|previous_?stroke|"
                r"stroke_?history|history_?of_?stroke", r"previous stroke|prior stroke",
                True, "cardiovascular", _FRAMINGHAM),
    Expectation("exercise-induced angina", r"exang|exercise_?angina|exercise_induced_angina",
                r"exercise[- ]induced angina", True, "cardiovascular", _EXERCISE),
    Expectation("ST depression on exercise", r"oldpeak|st_?depression",
                r"st depression", True, "cardiovascular", _EXERCISE),
    Expectation("maximum heart rate on exercise",
                r"thalach|max_?hr|maxhr|max_?heart_?rate\w*|peak_?hr",
                r"maximum heart rate", False, "cardiovascular", _EXERCISE),
    Expectation("diseased coronary vessels", r"n_?vessels|vessels_?\w*",
                r"number of major vessels", True, "cardiovascular", _EXERCISE),
)

_CARDIOVASCULAR = re.compile(
    r"(?i)heart|cardi|coronary|\bchd\b|\bcvd\b|\bcad\b|\bmace\b|infarct|\bami\b|\bmi\b|"
    r"stroke|angina|atheroscl|vascular|tenyearchd|ten_?year_?chd")
_ADVERSE = re.compile(
    r"(?i)death|dead|died|die\b|mortality|deceased|fatal|hospdead|dth|"
    r"disease|event|readmi|admission|complication|failure|cancer|diabet|hypertens|"
    r"dementia|fracture|sepsis|icu")
_PRESENT = re.compile(r"(?i)^(?:yes|present|true|positive|current|smoker|diabetic|"
                      r"on treatment|treated)\b|^1$")
_SMALL = 0.05  # log-odds: below this an effect is "little effect" (explain.SMALL_EFFECT)


def outcome_scope(outcome_label: str | None, target: str | None) -> str | None:
    """``"cardiovascular"``, ``"adverse"`` or None (the outcome is not known as an adverse
    event, so no direction can be expected)."""
    words = re.sub(r"[_\-.]+", " ", " ".join(w for w in (outcome_label, target) if w))
    if _CARDIOVASCULAR.search(words):
        return "cardiovascular"
    if _ADVERSE.search(words):
        return "adverse"
    return None


def _key(name: str) -> str:
    """A column name in lower case, separators as ``_``, a trailing unit left off
    (``SBP_mmHg`` -> ``sbp``, ``AGE (years)`` -> ``age``)."""
    key = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    return re.sub(r"_(?:mm_?hg|mg_?dl|mmol_?l|mmol|umol_?l|years?|yrs?|kg|pct|percent|bpm|"
                  r"per_?min)$", "", key)


#: Words in a column name that change what it measures (a flag that a test was done, a
#: low/high category, a ratio, an ex-/non-smoker): such a column is not the factor itself.
_NOT_THE_FACTOR = frozenset((
    "flag", "low", "high", "measured", "missing", "ratio", "date", "count", "change", "delta",
    "done", "ordered", "tested", "no", "non", "never", "ex", "former", "quit", "stopped",
    "free", "absent", "normal", "log", "recorded", "known"))


def _expectation(name: str, label: str | None) -> Expectation | None:
    key = _key(name)
    if _NOT_THE_FACTOR & set(key.split("_")):
        return None
    for e in EXPECTED:
        if re.fullmatch(e.names, key) or (label and e.labels and re.search(e.labels, label,
                                                                           re.I)):
            return e
    return None


def _applies(e: Expectation, scope: str) -> bool:
    return e.scope == "adverse" or scope == "cardiovascular"


def check_directions(effects: Sequence[Mapping[str, Any]],
                     meanings: Mapping[str, Any], kinds: Mapping[str, str], *,
                     outcome_label: str | None, target: str | None,
                     z: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Compare a model's signed effects with the table of settled risk factors.

    Parameters
    ----------
    effects : list of dict
        :meth:`fedcare.explain.RiskModel.effects` (per feature: ``feature`` and its
        ``effects`` rows with ``comparison``, ``level``, ``log_odds``, ``direction``).
    meanings : dict
        Feature -> :class:`fedcare.data._codebook.Meaning` (its ``label`` and ``codes``).
    kinds : dict
        Feature -> ``"numeric"``, ``"binary"`` or ``"categorical"``.
    outcome_label, target : str
        The outcome in words and its column: they decide whether the check applies.
    z : dict, optional
        Feature -> Wald z of its coefficient (a logistic model with standard errors). A
        factor pointing the other way is then flagged only when |z| >= 1.96 (its 95 %
        interval excludes no effect); within chance it is listed as ``uncertain``.
        Without ``z`` every such factor is flagged, said to have no interval.

    Returns
    -------
    dict
        ``scope`` (``"cardiovascular"``, ``"adverse"`` or None), ``against`` (findings:
        feature, concept, expected and learned direction, the comparison, its change in
        log-odds, ``z`` or None, the source), ``uncertain`` (feature -> concept: the other
        way, within chance), ``agree`` (feature -> concept), ``little_effect``
        (recognised factors whose effect is below 0.05 log-odds), ``not_checked``
        (feature -> why), ``interval`` (whether z was given), ``not_in_table`` (how
        many inputs the table does not cover) and ``summary`` (one sentence).
    """
    scope = outcome_scope(outcome_label, target)
    out: dict[str, Any] = {"scope": scope, "against": [], "uncertain": {}, "agree": {},
                           "little_effect": {}, "not_checked": {}, "interval": z is not None,
                           "not_in_table": 0}
    if scope is None:
        out["summary"] = (f"Not checked against known medicine: the outcome "
                          f"'{outcome_label or target}' does not read as an adverse event "
                          "(death, a cardiovascular event, a disease...); a column named "
                          "after what it records ('died_1y', 'chd_10y') is checked.")
        return out
    for entry in effects:
        name = str(entry["feature"])
        meaning = meanings.get(name)
        label = getattr(meaning, "label", None)
        e = _expectation(name, label)
        if e is None or not _applies(e, scope):
            out["not_in_table"] += 1
            continue
        row = _row(entry, e, kinds.get(name, "numeric"), getattr(meaning, "codes", {}) or {})
        if row is None:
            out["not_checked"][name] = (f"{e.concept}: its codes are not documented, so "
                                        "which level raises the risk is unknown")
            continue
        log_odds, comparison = row
        zed = None if z is None or name not in z else float(z[name])
        if abs(log_odds) < _SMALL:
            out["little_effect"][name] = e.concept
        elif (log_odds > 0) == e.raises:
            out["agree"][name] = e.concept
        elif zed is not None and abs(zed) < _Z95:
            out["uncertain"][name] = e.concept
        else:
            out["against"].append({
                "feature": name, "label": label, "concept": e.concept,
                "expected": "raises risk" if e.raises else "lowers risk",
                "learned": "lowers risk" if e.raises else "raises risk",
                "comparison": comparison, "log_odds": log_odds, "z": zed,
                "source": e.source})
    out["summary"] = _summary(out)
    return out


_Z95 = 1.959964  # two-sided 95 %


def _row(entry: Mapping[str, Any], e: Expectation, kind: str,
         codes: Mapping[str, str]) -> tuple[float, str] | None:
    """The change in log-odds for more of the factor (or its raising level vs the other),
    and the comparison in words; None when the codes do not say which level that is."""
    rows = [r for r in entry.get("effects", ()) if r.get("level") != "not recorded"]
    if kind == "numeric":
        return ((float(rows[0]["log_odds"]), f"{rows[0]['comparison']} (one step higher)")
                if rows else None)
    if kind == "categorical" and len(rows) == 1:  # two levels written as text: M/F, yes/no
        row = rows[0]
        level, reference = str(row.get("level")), str(row.get("reference"))
        sign = _text_sign(e, level, reference)
        return None if sign is None else (sign * float(row["log_odds"]), str(row["comparison"]))
    if kind != "binary" or not rows:
        return None  # a categorical input: no single direction to expect
    row = rows[0]  # level "1" vs "0"
    one, zero = codes.get("1"), codes.get("0")
    if e.level:  # e.g. male sex: the codebook (or the column's name) must say which is male
        word = re.compile(rf"(?i)^{e.level}\b")
        if one and word.search(one):
            return float(row["log_odds"]), str(row["comparison"])
        if zero and word.search(zero):
            return -float(row["log_odds"]), str(row["comparison"])
        if _key(str(entry["feature"])) in ("male", "is_male", "sex_male"):
            return float(row["log_odds"]), str(row["comparison"])
        return None
    if one and not _PRESENT.search(one) and zero and _PRESENT.search(zero):
        return -float(row["log_odds"]), str(row["comparison"])  # coded 0 = present
    return float(row["log_odds"]), str(row["comparison"])


_MALE = re.compile(r"(?i)^(?:m|male|man|men|男|男性)$")
_FEMALE = re.compile(r"(?i)^(?:f|female|woman|women|女|女性)$")
_YES = re.compile(r"(?i)^(?:yes|y|true|present|current|smoker|diabetic|positive|是|有)$")
_NO = re.compile(r"(?i)^(?:no|n|false|absent|never|none|non[- ]?smoker|negative|否|无)$")


def _text_sign(e: Expectation, level: str, reference: str) -> int | None:
    """+1 when ``level`` (vs ``reference``) is the raising one, -1 the other way round,
    None when the two words do not say (text levels of a two-level input)."""
    high, low = (_MALE, _FEMALE) if e.level == "male" else (_YES, _NO)
    if high.match(level) and low.match(reference):
        return 1
    if low.match(level) and high.match(reference):
        return -1
    return None


def _summary(out: Mapping[str, Any]) -> str:
    against = out["against"]
    agree = len(out["agree"])
    parts = []
    if against:
        names = ", ".join(f"{a['feature']} ({a['concept']}: {a['learned']}, expected "
                          f"{a['expected']})" for a in against)
        why = ("its 95 % interval excludes no effect" if out["interval"] else
               "this model has no interval, so chance in a small study is possible too")
        parts.append(f"{len(against)} input(s) point against known medicine: {names} "
                     f"({why}). Review before use: a code read the wrong way round, a "
                     "unit, confounding, collinear inputs or one site's data.")
    if agree:
        parts.append(f"{agree} risk factor(s) point the expected way.")
    if out["uncertain"]:
        parts.append(f"{len(out['uncertain'])} point the other way within chance (95 % "
                     f"interval includes no effect): {', '.join(out['uncertain'])}.")
    if out["little_effect"]:
        parts.append(f"{len(out['little_effect'])} with little effect: "
                     f"{', '.join(out['little_effect'])}.")
    if out["not_checked"]:
        parts.append(f"Not checked (codes not documented): {', '.join(out['not_checked'])}.")
    if not parts:
        parts.append("no input of the model is a factor in the table.")
    head = "" if against else "Checked against known medicine: "
    tail = (f" {out['not_in_table']} other input(s) are not in the table of known factors."
            if out["not_in_table"] else "")
    return head + " ".join(parts) + tail
