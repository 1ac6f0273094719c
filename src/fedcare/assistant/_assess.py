"""One assessment: scores, fedcare's own models, tier, factors, what-if and the plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fedcare.assistant._equations import EQUATIONS, Result, Skipped, compute_all
from fedcare.assistant._plan import (
    Thresholds,
    adapt_plan,
    factors,
    make_plan,
    primary,
    tier,
    title,
    what_if,
)
from fedcare.assistant._profile import FIELDS, Profile, parse_profile
from fedcare.assistant._text import LANGS, TITLES_ZH, note, pct, say
from fedcare.assistant._validate import Recalibration
from fedcare.exceptions import ConfigError

__all__ = ["ModelCandidate", "assess", "score_models", "trend"]


@dataclass
class ModelCandidate:
    """A registered fedcare model offered to the assistant.

    ``model`` is a :class:`fedcare.explain.RiskModel`; ``sites`` the hospitals of its
    federation; ``limitations`` its model card's limits.
    """

    id: int
    name: str
    model: Any
    sites: list[str] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)
    outcome: str | None = None


def _model_row(p: Profile, candidate: ModelCandidate) -> dict[str, Any] | None:
    """The model's input row from the profile, or None when the profile lacks an input."""
    row: dict[str, Any] = {}
    given = p.given()
    for f in candidate.model.features:
        spec = FIELDS.get(f.name)
        optional = f.impute is not None or "(missing)" in f.categories
        if spec is None or f.name not in given:
            if optional:
                continue
            return None
        value = given[f.name]
        if isinstance(value, str) and f.kind in ("binary", "numeric"):
            # a choice (sex) coded as 0/1 by the model: only through its documented codes
            codes = {v: k for k, v in candidate.model.meaning(f.name).codes.items()}
            if value not in codes:
                return None
            row[f.name] = float(codes[value])
        elif isinstance(value, bool):
            row[f.name] = int(value)
        elif isinstance(value, float) and f.unit and spec.unit and f.unit != spec.unit:
            row[f.name] = {"value": value, "unit": spec.unit}
        else:
            row[f.name] = value
    return row


def score_models(p: Profile, candidates: Sequence[ModelCandidate],
                 lang: str) -> list[dict[str, Any]]:
    """Every candidate whose inputs the profile covers (a feature named as a profile field),
    scored; a model whose inputs are not covered, or whose validation refuses the profile,
    is listed with the reason."""
    from fedcare.explain import PatientInputError

    out = []
    for c in candidates:
        entry: dict[str, Any] = {"model_id": c.id, "name": c.name, "sites": c.sites,
                                 "limitations": c.limitations,
                                 "outcome": c.outcome or c.model.outcome}
        row = _model_row(p, c)
        if row is None:
            needed = [f.name for f in c.model.features if f.name not in p.given()]
            entry.update(skipped=True, missing=needed[:20],
                         reason="the profile does not cover the model's inputs" + (
                             f" (needs {', '.join(needed[:8])})" if needed else
                             " (a coded input whose codes the model does not document)"))
        else:
            try:
                risk = float(c.model.predict([row])[0])
            except PatientInputError as exc:
                entry.update(skipped=True, reason="the model refused the profile: "
                             + "; ".join(f"{e.field}: {e.message}" for e in exc.errors[:5]))
            else:
                entry.update(risk=risk, text=say("model.risk", lang, name=c.name,
                                                 sites=", ".join(c.sites) or "?",
                                                 risk=pct(risk), outcome=entry["outcome"]))
        out.append(entry)
    return out


def _score_entry(name: str, r: Result | Skipped, lang: str) -> dict[str, Any]:
    eq = EQUATIONS[name]
    outcome = TITLES_ZH[name][1] if lang == "zh" else eq.outcome
    base: dict[str, Any] = {"title": title(name, lang), "citation": eq.citation,
                            "outcome": outcome}
    if isinstance(r, Skipped):
        sep = "、" if lang == "zh" else ", "

        def label(f: str) -> str:
            return FIELDS[f].zh if lang == "zh" and f in FIELDS else f

        if r.reason_code == "missing":
            alt = r.detail.get("alternative") or []
            reason_text = say("reason.missing_or_bmi" if alt else "reason.missing", lang,
                              fields=sep.join(label(m) for m in r.missing))
        elif r.reason_code == "not_applicable":
            reason_text = say(f"reason.not_applicable.{r.detail.get('field')}", lang)
        else:
            reason_text = say("reason.range", lang, field=label(str(r.detail.get("field"))),
                              low=f"{r.detail.get('low'):g}", high=f"{r.detail.get('high'):g}")
        text = (say(f"score.skipped.not_applicable.{r.detail.get('field')}", lang,
                    title=base["title"]) if r.reason_code == "not_applicable" else
                say("score.skipped.missing", lang, title=base["title"], reason=reason_text))
        return {**base, "skipped": True, "missing": list(r.missing), "reason": r.reason,
                "reason_text": reason_text, "text": text}
    out = {**base, "skipped": False, "inputs_used": list(r.inputs)}
    if r.version:
        out["version"] = r.version
    if r.risk is not None:
        out.update(risk=round(r.risk, 6), horizon_years=r.horizon_years,
                   text=say("score.risk", lang, title=base["title"], risk=pct(r.risk),
                            years=r.horizon_years, outcome=outcome))
        if "recalibration" in r.detail:
            rc = r.detail["recalibration"]
            out.update(published_risk=round(r.detail["published_risk"], 6), recalibration=rc)
            out["text"] += " " + say("score.recalibrated", lang,
                                     published=pct(r.detail["published_risk"]),
                                     sites=rc["sites"])
    else:
        band = say(f"band.{r.band}", lang)
        out.update(points=r.points, band=r.band, band_text=band, text=say("score.points", lang,
                                                           title=base["title"],
                                                           points=r.points, band=band))
        if r.horizon_years:
            out["horizon_years"] = r.horizon_years
        out["parts"] = r.detail.get("parts")
        if "estimated_10_year_risk" in r.detail:
            out["estimated_10_year_risk"] = r.detail["estimated_10_year_risk"]
    return out


def assess(profile: Profile | dict[str, Any], *, lang: str = "en",
           models: Sequence[ModelCandidate] = (), thresholds: Thresholds | None = None,
           on: date | None = None, previous: dict[str, Any] | None = None,
           recalibrations: Sequence[Recalibration] = ()) -> dict[str, Any]:
    """Assess one person.

    Parameters
    ----------
    profile : Profile or dict
        A validated :class:`Profile`, or a JSON object to validate (raises ProfileError).
    lang : {"en", "zh"}
    models : sequence of ModelCandidate
        Registered fedcare models to score beside the equations.
    thresholds : Thresholds, optional
        Tier thresholds and reassessment intervals.
    on : date, optional
        The assessment date (default today).
    previous : dict, optional
        This person's previous assessment (as returned here, with its ``profile``): the
        plan then adapts and the trend is reported.
    recalibrations : sequence of Recalibration
        Equations recalibrated to a federation's population (``fedcare analytics
        recalibrate``): their risk is reported recalibrated (the published one beside it)
        and drives the tier and what-if.

    Returns
    -------
    dict
        ``scores``, ``models``, ``tier``, ``factors``, ``what_if``, ``plan``, ``trend``,
        ``disclaimer`` and the validated ``profile`` (conventional units).
    """
    if lang not in LANGS:
        raise ConfigError(f"language '{lang[:8]}' is not supported; use one of "
                          f"{', '.join(LANGS)}")
    p = profile if isinstance(profile, Profile) else parse_profile(profile)
    th = thresholds or Thresholds()
    day = on or date.today()
    recal = {r.equation: r for r in recalibrations}
    results = _recalibrated(compute_all(p), recal)
    tier_ = tier(results, th, day, lang, p)
    plan = make_plan(p, results, tier_, day, lang)
    previous_profile = None
    if previous is not None:
        previous_profile = parse_profile(previous.get("profile") or {})
        plan = adapt_plan(plan, p, previous, previous_profile, lang, day)
    out: dict[str, Any] = {
        "assessed_on": day.isoformat(), "lang": lang,
        "disclaimer": say("disclaimer", lang),
        "scores": {name: _score_entry(name, r, lang) for name, r in results.items()},
        "models": score_models(p, models, lang),
        "tier": tier_, "factors": factors(p, lang),
        "what_if": what_if(p, results, lang, recal),
        "plan": plan, "profile": {k: (round(v, 4) if isinstance(v, float) else v)
                                  for k, v in p.given().items()},
        "profile_notes": [note(n, lang) for n in p.notes],
    }
    main = primary(results)
    if main is not None:
        out["scores"][main.name]["primary"] = True
        computed = [r for r in results.values() if isinstance(r, Result) and r.risk is not None]
        if len(computed) > 1:
            out["scores_note"] = say("scores.differ", lang, score=title(main.name, lang))
    if previous is not None:
        out["trend"] = trend([previous, out], lang)
    return out


def _recalibrated(results: dict[str, Result | Skipped],
                  recal: dict[str, Recalibration]) -> dict[str, Result | Skipped]:
    return {n: recal[n].apply_result(r) if n in recal and isinstance(r, Result) else r
            for n, r in results.items()}


def trend(assessments: Sequence[dict[str, Any]], lang: str = "en") -> dict[str, Any]:
    """Each score over a person's assessments (oldest first), with the change in words."""
    series: dict[str, list[dict[str, Any]]] = {}
    for a in assessments:
        for name, s in a.get("scores", {}).items():
            if s.get("skipped"):
                continue
            value = s.get("risk", s.get("points"))
            series.setdefault(name, []).append({"assessed_on": a.get("assessed_on"),
                                                "value": value,
                                                "kind": "risk" if "risk" in s else "points"})
    text, changes = [], []
    for name, points in series.items():
        if len(points) < 2:
            continue
        first, last = points[0], points[-1]
        fmt = pct if first["kind"] == "risk" else str
        change = ("better" if last["value"] < first["value"] else "worse"
                  if last["value"] > first["value"] else "same")
        changes.append(change)
        text.append(say(f"trend.{change}", lang, score=title(name, lang),
                        before=fmt(first["value"]), after=fmt(last["value"]),
                        from_date=first["assessed_on"]))
    return {"series": series, "text": text, "changes": changes}
