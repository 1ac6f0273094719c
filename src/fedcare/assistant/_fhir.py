"""A person's assessments as FHIR R4B: RiskAssessment, Goal and CarePlan in a Bundle.

Built with ``fhir.resources`` (R4B), so every resource is validated on construction.  The
subject is the caller's pseudonymous ID (``Patient/<id>``), never a name or identifier.
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_fhir_bundle"]

_LOINC = {"systolic_bp": ("8480-6", "Systolic blood pressure", "mm[Hg]"),
          "diastolic_bp": ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
          "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
          "weight_kg": ("29463-7", "Body weight", "kg"),
          "fasting_glucose": ("1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma",
                              "mg/dL"),
          "hba1c": ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%")}
_ACHIEVEMENT = {"new": "in-progress", "continuing": "in-progress", "improving": "improving",
                "missed": "not-achieving", "met": "achieved"}


def _goal(a: dict[str, Any], item: dict[str, Any], ref: str, subject: dict[str, str],
          n: int, superseded: bool) -> dict[str, Any]:
    targets = []
    for name, goal in item.get("target", {}).items():
        if name in _LOINC and isinstance(goal, dict):
            code, display, unit = _LOINC[name]
            t: dict[str, Any] = {"measure": {"coding": [{"system": "http://loinc.org",
                                                         "code": code, "display": display}]}}
            if "below" in goal:
                t["detailRange"] = {"high": {"value": goal["below"], "unit": unit,
                                             "system": "http://unitsofmeasure.org",
                                             "code": unit}}
            elif "at_least" in goal:
                t["detailRange"] = {"low": {"value": goal["at_least"], "unit": unit,
                                            "system": "http://unitsofmeasure.org",
                                            "code": unit}}
            if item.get("due") and item.get("status") != "met":
                t["dueDate"] = item["due"]
            targets.append(t)
    status = item.get("status", "new")
    lifecycle = "completed" if status == "met" else "cancelled" if superseded else "active"
    out: dict[str, Any] = {
        "resourceType": "Goal", "id": f"{ref}-goal-{n}",
        "lifecycleStatus": lifecycle,
        "achievementStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
            "code": _ACHIEVEMENT.get(status, "in-progress")}]},
        "description": {"text": item.get("text") or item["area"],
                        "coding": [{"system": "urn:fedcare:plan-area",
                                    "code": item["area"]}]},
        "subject": subject, "startDate": a["assessed_on"]}
    if superseded and status != "met":
        out["note"] = [{"text": "superseded by the plan of a later assessment"}]
    if targets:
        out["target"] = targets
    elif item.get("due") and status != "met":
        out["target"] = [{"dueDate": item["due"]}]
    return out


def to_fhir_bundle(person_id: str, assessments: list[dict[str, Any]]) -> dict[str, Any]:
    """A FHIR R4B collection Bundle: per assessment one RiskAssessment per computed score,
    a Goal per plan item (and achieved target) and a CarePlan linking the goals."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.careplan import CarePlan
    from fhir.resources.R4B.goal import Goal
    from fhir.resources.R4B.riskassessment import RiskAssessment

    from fedcare.assistant._text import say

    subject = {"reference": f"Patient/{person_id}"}
    entries: list[Any] = []
    for index, a in enumerate(assessments):
        superseded = index < len(assessments) - 1
        lang = a.get("lang", "en")
        ref = f"a{a.get('assessment_id', len(entries))}"
        for name, s in a.get("scores", {}).items():
            if s.get("skipped"):
                continue
            prediction: dict[str, Any] = {"outcome": {"text": s.get("outcome", name)}}
            if s.get("risk") is not None:
                prediction["probabilityDecimal"] = s["risk"]
            else:
                prediction["qualitativeRisk"] = {
                    "text": s.get("text") or f"{s.get('points')} ({s.get('band')})",
                    "coding": [{"system": "urn:fedcare:risk-band", "code": str(s.get("band"))}]}
            if s.get("horizon_years"):
                prediction["whenRange"] = {"high": {"value": s["horizon_years"],
                                                    "unit": "a",
                                                    "system": "http://unitsofmeasure.org",
                                                    "code": "a"}}
            entries.append(RiskAssessment.model_validate({
                "resourceType": "RiskAssessment", "id": f"{ref}-{name.replace('_', '-')}",
                "status": "final", "subject": subject,
                "occurrenceDateTime": a["assessed_on"],
                "method": {"text": s.get("title", name)},
                "prediction": [prediction],
                "note": [{"text": s.get("citation", "")}, {"text": a.get("disclaimer", "")}],
            }))
        plan = a.get("plan", {})
        goals = []
        for n, item in enumerate([*plan.get("items", []), *plan.get("achieved", [])]):
            goal = Goal.model_validate(_goal(a, item, ref, subject, n, superseded))
            goals.append(goal)
            entries.append(goal)
        care: dict[str, Any] = {
            "resourceType": "CarePlan", "id": f"{ref}-careplan",
            "status": "completed" if superseded else "active",
            "intent": "plan", "subject": subject, "created": a["assessed_on"],
            "title": "Health-management plan" if a.get("lang") != "zh" else "健康管理计划",
            "description": (a.get("tier") or {}).get("text"),
            "goal": [{"reference": f"Goal/{g.id}"} for g in goals],
            "activity": [{"detail": {
                "status": "stopped" if superseded else "not-started",
                "description": item["text"], "goal": [{"reference": f"Goal/{ref}-goal-{n}"}],
                "scheduledString": say("plan.by", lang, date=item["due"])}}
                         for n, item in enumerate(plan.get("items", []))],
            "note": [{"text": a.get("disclaimer", "")}]}
        if plan.get("reassess_on"):
            care["period"] = {"start": a["assessed_on"], "end": plan["reassess_on"]}
        entries.append(CarePlan.model_validate(care))
    bundle = Bundle.model_validate({
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"fullUrl": f"urn:fedcare:{r.get_resource_type()}/{r.id}",
                   "resource": r} for r in entries]})
    import json

    return json.loads(bundle.model_dump_json(exclude_none=True))
