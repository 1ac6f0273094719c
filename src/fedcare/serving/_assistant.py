"""The assistant's routes: ``POST /v1/assess``, a person's trend and FHIR export."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from fedcare.assistant import (
    ModelCandidate,
    ProfileError,
    Recalibration,
    Thresholds,
    assess,
    trend,
)
from fedcare.assistant._fhir import to_fhir_bundle
from fedcare.assistant._profile import PERSON_ID_PATTERN, check_person_id
from fedcare.exceptions import DataError
from fedcare.serving._app import _ERRORS, ClinicianKey, Problem

if TYPE_CHECKING:
    from fedcare.serving._app import _Service

__all__ = ["add_assistant_routes", "language"]

_PERSON = PERSON_ID_PATTERN
PersonId = Annotated[str, Path(pattern=_PERSON, description="The person's pseudonymous ID "
                                                            "(never a name, resident ID, "
                                                            "phone number or MRN).")]


class AssessRequest(BaseModel):
    """A profile to assess; with ``person_id`` the assessment is stored for follow-up."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "person_id": "hm-000123", "lang": "zh", "profile": {
            "age": 58, "sex": "male", "systolic_bp": 148, "bp_treated": False,
            "total_cholesterol": {"value": 5.8, "unit": "mmol/L"},
            "hdl_cholesterol": {"value": 1.1, "unit": "mmol/L"}, "smoker": True,
            "diabetes": False, "height_cm": 172, "weight_kg": 82, "waist_cm": 95,
            "egfr": 85, "statin": False, "family_history_diabetes": "first_degree"}}]})
    profile: dict[Annotated[str, Field(max_length=64)], Any] = Field(
        description="Fields such as age, sex, systolic_bp (see `fedcare assess --help`); "
                    'numbers in mg/dL, mmHg, cm, kg unless given as {"value", "unit"}.')
    person_id: str | None = Field(default=None, pattern=_PERSON,
                                  description="Pseudonymous ID: stores the assessment.")
    lang: str | None = Field(default=None, pattern=r"^(en|zh)$",
                             description="en or zh; default from Accept-Language.")


def language(accept: str | None, explicit: str | None = None) -> str:
    """``explicit``, else the first of en/zh in an Accept-Language header, else en."""
    if explicit:
        return explicit
    best, best_q = "en", -1.0
    for part in (accept or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in ("en", "zh") and q > best_q:
            best, best_q = lang, q
    return best


def add_assistant_routes(app: FastAPI, service: _Service, *,
                         thresholds: Thresholds | None = None,
                         recalibrations: Sequence[Recalibration] = ()) -> None:
    """Mount the assistant's routes on the prediction API."""

    candidates: dict[str, Any] = {"until": 0.0, "list": []}

    def models() -> list[ModelCandidate]:
        now = time.monotonic()
        if candidates["until"] < now:
            out = []
            for record in service.registry.models():
                if record.status != "active" or not record.servable:
                    continue
                _, model = service.model(record.id)
                out.append(ModelCandidate(record.id, record.name, model,
                                          sites=sorted(record.provenance.get("sites", {})),
                                          limitations=list(record.limitations)))
            candidates.update(until=now + service.CACHE_SECONDS, list=out)
        return list(candidates["list"])

    def check_person(person_id: str) -> None:
        try:
            check_person_id(person_id)
        except DataError as exc:
            raise HTTPException(422, detail=[{"loc": ["person_id"], "msg": str(exc),
                                              "type": "value_error.identifier"}]) from None

    responses: dict[int | str, dict[str, Any]] = {
        **_ERRORS, 422: {"model": Problem, "description": "A profile field outside its "
                         "accepted range, an unknown unit or field (named; never echoed)."}}

    @app.post("/v1/assess", tags=["assistant"], responses=responses)
    def assess_person(body: AssessRequest, key: ClinicianKey,
                      accept_language: Annotated[str | None, Header()] = None
                      ) -> dict[str, Any]:
        """Assess one person: published risk equations (each with its citation, or the
        inputs it lacked), fedcare's registered models whose inputs the profile covers,
        a green/yellow/red tier, modifiable factors, what-if re-estimates and a plan with
        dated targets from cited guidelines. With `person_id` the assessment is stored and
        the plan adapts to the previous one. Clinician role. Decision support, not a
        diagnosis."""
        lang = language(accept_language, body.lang)
        endpoint = "assess"
        if body.person_id is not None:
            check_person(body.person_id)
        previous = None
        if body.person_id is not None:
            history = service.registry.assessments(body.person_id)
            previous = history[-1] if history else None
        try:
            result = assess(body.profile, lang=lang, models=models(), thresholds=thresholds,
                            on=date.today(), previous=previous,
                            recalibrations=recalibrations)
        except ProfileError as exc:
            service.log(key, None, endpoint, [body.profile], 422)
            raise HTTPException(422, detail=[{"loc": ["body", "profile", e["field"]],
                                              "msg": e["msg"], "type": "value_error"}
                                             for e in exc.errors]) from None
        if body.person_id is not None:
            result["assessment_id"] = service.registry.add_assessment(
                body.person_id, result, api_key_id=key.id)
            result["person_id"] = body.person_id
        service.log(key, None, endpoint, [body.profile], 200)
        return result

    @app.get("/v1/people/{person_id}/assessments", tags=["assistant"], responses=responses)
    def person_assessments(person_id: PersonId, key: ClinicianKey,
                           accept_language: Annotated[str | None, Header()] = None,
                           lang: Annotated[str | None, Query(pattern=r"^(en|zh)$")] = None
                           ) -> dict[str, Any]:
        """A person's assessments, oldest first, with the trend of each score. Clinician
        role (a person's health data: read-only keys may not read it)."""
        check_person(person_id)
        history = service.registry.assessments(person_id)
        service.log(key, None, "people.read", [{"person": person_id}], 200)
        if not history:
            raise HTTPException(404, detail="no assessments stored for this person ID")
        return {"person_id": person_id, "assessments": history,
                "trend": trend(history, language(accept_language, lang))}

    @app.get("/v1/people/{person_id}/fhir", tags=["assistant"], responses=responses)
    def person_fhir(person_id: PersonId, key: ClinicianKey) -> dict[str, Any]:
        """The person's assessments as a FHIR R4B Bundle: RiskAssessment per score, Goal
        per plan target, CarePlan per assessment. Clinician role."""
        check_person(person_id)
        history = service.registry.assessments(person_id)
        service.log(key, None, "people.fhir", [{"person": person_id}], 200)
        if not history:
            raise HTTPException(404, detail="no assessments stored for this person ID")
        return to_fhir_bundle(person_id, history)
