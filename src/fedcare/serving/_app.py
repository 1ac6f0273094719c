"""The prediction API (FastAPI): the only module of fedcare that imports fastapi."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import queue
import threading
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from fedcare import __version__
from fedcare.assistant import Recalibration, Thresholds
from fedcare.exceptions import ConfigError, DataNotFoundError, FedcareError
from fedcare.explain import PatientInputError, RiskModel
from fedcare.registry import ApiKey, ModelRecord, Registry
from fedcare.report import model_card, render_card_html

__all__ = ["create_app"]

DEFAULT_RATE_LIMIT = "100/second;3000/minute"
MAX_BATCH = 10_000
_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="API key from `fedcare apikey create`.")
ModelId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Registry id of the model.")]

# -- request and response bodies ------------------------------------------------------------


class UnitValue(BaseModel):
    """A measurement in a unit other than the feature's declared one (converted)."""

    model_config = ConfigDict(extra="forbid")
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(max_length=32, description="UCUM code, e.g. mmol/L")


FieldValue = float | str | UnitValue | None
#: Documented as FieldValue, but every value reaches the model's own validation, which knows
#: the feature (its unit, levels and codes) and reports one error per field at the patient:
#: ``["body", "patient", "chol"]``, not three pydantic union branches.
_AnyValue = Annotated[Any, PlainValidator(lambda v: v, json_schema_input_type=FieldValue)]
Patient = dict[Annotated[str, Field(max_length=64)], _AnyValue]


def _canonical(value: Any) -> Any:
    """JSON numbers as floats (as the typed body parsed them: the log's input hash)."""
    if isinstance(value, bool | int) and not isinstance(value, float):
        try:
            return float(value)
        except OverflowError:  # too large for a float: the model refuses it
            return value
    if isinstance(value, dict):
        return {k: _canonical(v) if k == "value" else v for k, v in value.items()}
    return value


class PredictRequest(BaseModel):
    """One patient (``patient``) or a batch (``patients``): feature name -> value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"patient": {
        "age": 63, "sex": 1, "cp": "4", "trestbps": 145, "chol": {"value": 6.0, "unit": "mmol/L"},
        "fbs": 1, "restecg": "2", "thalach": 150, "exang": 0, "oldpeak": 2.3}}]})
    patient: Patient | None = None
    patients: list[Patient] | None = Field(default=None, min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if (self.patient is None) == (self.patients is None):
            raise ValueError("send exactly one of 'patient' (one) or 'patients' (a batch)")
        return self

    @property
    def single(self) -> bool:
        """One patient (``patient``), not a batch: errors are located at ``patient``."""
        return self.patient is not None

    def rows(self) -> list[dict[str, Any]]:
        """The patients as plain dicts (unit values as {"value", "unit"})."""
        batch = [self.patient] if self.patient is not None else list(self.patients or [])
        return [{k: _canonical(v) for k, v in p.items()} for p in batch]


class Prediction(BaseModel):
    """Risk of the outcome for one patient."""

    risk: float = Field(description="Probability of the outcome (0-1).")
    log_odds: float


class PredictResponse(BaseModel):
    """Predictions in request order."""

    model_id: int
    content_hash: str
    predictions: list[Prediction]


class Factor(BaseModel):
    """One feature's signed contribution to one patient's log-odds."""

    feature: str
    label: str | None = Field(description="What the feature is, where documented.")
    value: float | str = Field(description="The patient's value (numbers in `unit`).")
    unit: str | None
    meaning: str | None = Field(description="What the patient's code means (coded inputs).")
    contribution: float = Field(description="Signed change in log-odds vs. the study's "
                                            "average patient: > 0 raises the risk, < 0 "
                                            "lowers it.")
    direction: str = Field(description='"raises risk", "lowers risk" or "little effect" '
                                       '(|contribution| < 0.05).')
    text: str = Field(description='e.g. "cp (chest pain type) = 4 (asymptomatic): raises the '
                                  'risk of heart disease (+0.66 log-odds)".')


class ExplanationOut(BaseModel):
    """Per-feature contributions: base_log_odds + sum(contributions) = log_odds."""

    risk: float
    log_odds: float
    base_log_odds: float
    base_risk: float
    contributions: dict[str, float]
    method: str
    top_factors: list[str]
    factors: list[Factor] = Field(description="Every feature, largest |contribution| first.")


class Effect(BaseModel):
    """One comparison's signed effect on the log-odds."""

    comparison: str = Field(description='"+10 years", "1 (male) vs 0 (female)" ...')
    step: float | None = Field(description="Numeric features: the step, in the unit.")
    level: str | None
    reference: str | None
    log_odds: float = Field(description="Change in log-odds (signed).")
    odds_ratio: float
    direction: str = Field(description='"raises risk", "lowers risk" or "little effect".')


class FeatureEffect(BaseModel):
    """A feature's importance (unsigned) and its signed effects."""

    feature: str
    label: str | None
    kind: str
    unit: str | None
    importance: float = Field(description="Mean |contribution| over reference patients.")
    effects: list[Effect]


class ExplainResponse(BaseModel):
    """Explanations in request order, with the model's signed feature effects."""

    model_id: int
    content_hash: str
    outcome: str = Field(description="What the risk is of (the outcome = 1).")
    explanations: list[ExplanationOut]
    feature_effects: list[FeatureEffect] = Field(
        description="The model's signed effect of each input, most important first.")


class ModelSummary(BaseModel):
    """A registered model, in short."""

    id: int
    name: str
    status: str
    kind: str
    created_at: str
    content_hash: str
    strategy: str | None
    sites: list[str]
    mean_client_accuracy: float | None
    pooled_test_auc: float | None
    epsilon: float | None


class ModelDetail(ModelSummary):
    """A registered model with schema, provenance, metrics and global importance."""

    intended_use: str
    hyperparameters: dict[str, Any]
    schema_: dict[str, Any] = Field(alias="schema")
    provenance: dict[str, Any]
    metrics: dict[str, Any]
    limitations: list[str]
    global_importance: dict[str, float]
    feature_effects: list[FeatureEffect]


class StatusChange(BaseModel):
    """New status of a model."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "retired"]


class LogEntry(BaseModel):
    """One logged prediction request (no input values, only their SHA-256)."""

    id: int
    at: str
    api_key_id: int | None
    model_id: int | None
    endpoint: str
    n_rows: int
    input_hash: str
    status_code: int


class Health(BaseModel):
    """Liveness and what is served."""

    status: str
    version: str
    models: int


class Problem(BaseModel):
    """Error body."""

    detail: Any


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or an unknown or revoked one."},
    403: {"model": Problem, "description": "The key's role may not use this route."},
    404: {"model": Problem, "description": "No such model."},
    429: {"model": Problem, "description": "Rate limit of this key exceeded (see Retry-After)."},
}


def _require(needed: Literal["admin", "clinician", "read-only"]) -> Any:
    """A dependency: the request's API key, which must exist, be active and allow ``needed``."""
    async def check(request: Request,
                    secret: Annotated[str | None, Security(_HEADER)] = None) -> ApiKey:
        service: _Service = request.app.state.service
        if not secret:
            raise HTTPException(401, detail="missing API key: send it in the X-API-Key "
                                "header", headers={"WWW-Authenticate": "APIKey"})
        key = service.authenticate(secret)
        if key is None:
            raise HTTPException(401, detail="unknown or revoked API key",
                                headers={"WWW-Authenticate": "APIKey"})
        if not key.allows(needed):
            raise HTTPException(403, detail=f"this route needs the {needed} role; key "
                                f"'{key.name}' has role {key.role}")
        service.rate_limit(key)
        return key
    return check


ReadKey = Annotated[ApiKey, Depends(_require("read-only"))]
ClinicianKey = Annotated[ApiKey, Depends(_require("clinician"))]
AdminKey = Annotated[ApiKey, Depends(_require("admin"))]


def _finite(x: float) -> float:
    return x if math.isfinite(x) else (1e308 if x > 0 else -1e308)


# -- the application ----------------------------------------------------------------------


class _Service:
    """Registry access, caches, rate limiter and the request-log writer of one app.

    Keys and model status are re-read from the registry at most every ``CACHE_SECONDS``
    (a revoked key or retired model takes effect within that time); the request log is
    written by a background thread in one transaction every ``LOG_FLUSH_SECONDS`` and on
    shutdown.
    """

    CACHE_SECONDS = 1.0
    LOG_FLUSH_SECONDS = 0.05

    def __init__(self, registry: Registry, rate_limit: str) -> None:
        from limits import parse_many, storage, strategies

        self.registry = registry
        self.limits = parse_many(rate_limit)
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._models: dict[int, tuple[float, ModelRecord, RiskModel]] = {}
        self._keys: dict[str, tuple[float, ApiKey | None]] = {}
        self._importance: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._log: queue.SimpleQueue[dict[str, Any] | threading.Event | None] = (
            queue.SimpleQueue())
        self._writer = threading.Thread(target=self._write_log, name="fedcare-request-log",
                                        daemon=True)
        self._writer.start()

    def authenticate(self, secret: str) -> ApiKey | None:
        now = time.monotonic()
        cached = self._keys.get(secret)
        if cached is None or cached[0] < now:
            cached = (now + self.CACHE_SECONDS, self.registry.authenticate(secret))
            if len(self._keys) > 10_000:  # unknown keys must not grow the cache forever
                self._keys.clear()
            self._keys[secret] = cached
        return cached[1]

    def record(self, model_id: int) -> ModelRecord:
        """The registry's record alone (a vertical model has no servable parameters)."""
        try:
            return self.registry.model(model_id)
        except DataNotFoundError:  # the registry's message names its database: not for clients
            raise DataNotFoundError(f"no model with id {model_id}") from None

    def model(self, model_id: int) -> tuple[ModelRecord, RiskModel]:
        now = time.monotonic()
        with self._lock:
            cached = self._models.get(model_id)
        if cached is not None and cached[0] >= now:
            return cached[1], cached[2]
        record = self.record(model_id)
        if record.is_image:
            raise HTTPException(409, detail=(
                f"model {model_id} reads images: POST a DICOM file (Content-Type: "
                f"application/dicom) to /v1/models/{model_id}/predict/dicom"))
        if not record.servable:
            parties = " and ".join(sorted(record.provenance.get("sites", {})))
            raise HTTPException(409, detail=(
                f"model {model_id} is a vertical model: its parameters are split between "
                f"{parties} and never stored here; predict with both parties (fedcare "
                f"vertical predict --model-id {record.provenance.get('model_id')})"))
        model = (cached[2] if cached is not None
                 and cached[1].content_hash == record.content_hash
                 else RiskModel.from_record(record))
        with self._lock:
            self._models[model_id] = (now + self.CACHE_SECONDS, record, model)
        return record, model

    def forget(self, model_id: int) -> None:
        with self._lock:
            self._models.pop(model_id, None)

    def importance(self, record: ModelRecord, model: RiskModel) -> dict[str, float]:
        if record.content_hash not in self._importance:
            self._importance[record.content_hash] = model.global_importance()
        return self._importance[record.content_hash]

    def effects(self, model: RiskModel) -> list[dict[str, Any]]:
        return model.effects()  # cached by the model (models are cached per content hash)

    def rate_limit(self, key: ApiKey) -> None:
        for item in self.limits:
            if not self.limiter.hit(item, str(key.id)):
                reset = self.limiter.get_window_stats(item, str(key.id)).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise HTTPException(429, detail=f"rate limit {item} exceeded for key "
                                    f"'{key.name}'; retry in {wait} s",
                                    headers={"Retry-After": str(wait)})

    def log(self, key: ApiKey, model_id: int | None, endpoint: str, rows: list[dict[str, Any]],
            status: int) -> None:
        text = json.dumps(rows, sort_keys=True, separators=(",", ":"), default=str)
        self._log.put({
            "at": datetime.now(UTC), "api_key_id": key.id, "model_id": model_id,
            "endpoint": endpoint, "n_rows": len(rows), "status_code": status,
            "input_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        })

    def _write_log(self) -> None:
        import logging

        while True:
            item = self._log.get()
            entries: list[dict[str, Any]] = []
            flushed: list[threading.Event] = []
            stop = False
            deadline = time.monotonic() + self.LOG_FLUSH_SECONDS
            while True:
                if item is None:
                    stop = True
                    break
                if isinstance(item, threading.Event):
                    flushed.append(item)
                    break
                entries.append(item)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._log.get(timeout=remaining)
                except queue.Empty:
                    break
            try:
                self.registry.log_requests(entries)
            except Exception as exc:  # keep serving; say so loudly
                logging.getLogger("fedcare").error(
                    "could not write %d request-log entries: %s", len(entries),
                    type(exc).__name__)
            for event in flushed:
                event.set()
            if stop:
                return

    def flush(self) -> None:
        """Write every queued log entry now (the writer keeps running)."""
        done = threading.Event()
        self._log.put(done)
        done.wait(10)

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        self._log.put(None)
        self._writer.join(10)


_WARM_UP_PROFILE = {"age": 55, "sex": "female", "systolic_bp": 130, "bp_treated": False,
                    "total_cholesterol": {"value": 5.2, "unit": "mmol/L"},
                    "hdl_cholesterol": {"value": 1.3, "unit": "mmol/L"}, "smoker": False,
                    "diabetes": False, "height_cm": 165, "weight_kg": 68, "egfr": 90,
                    "statin": False}
"""An invented profile assessed once when the server starts (no patient's values)."""


def _warm_up() -> None:
    """Assess an invented profile in both languages when the server starts: the first
    assessment loads the equations, the unit conversions (0.36 s for the first mmol/L)
    and the plan's texts, which the first person assessed would otherwise wait for."""
    from fedcare.assistant import assess

    for lang in ("en", "zh"):
        assess(dict(_WARM_UP_PROFILE), lang=lang)


def create_app(registry: Registry | str | None = None, *,
               rate_limit: str = DEFAULT_RATE_LIMIT,
               assistant_thresholds: Thresholds | None = None,
               assistant_recalibrations: Sequence[Recalibration] = (),
               console: bool = True, runs_dir: str | FilePath = "runs",
               site_dirs: Sequence[str | FilePath] = (),
               coordinator_dir: str | FilePath | None = None) -> FastAPI:
    """The fedcare prediction API over a model registry.

    Parameters
    ----------
    registry : Registry or str, optional
        An open registry or its database URL (default ``$FEDCARE_DATABASE_URL`` or
        ``sqlite:///fedcare.db``).
    rate_limit : str
        Per-key limits in the ``limits`` notation, e.g. ``"100/second;3000/minute"``.
    assistant_thresholds : fedcare.assistant.Thresholds, optional
        Tier thresholds of ``POST /v1/assess`` (default: the cited defaults).
    assistant_recalibrations : sequence of fedcare.assistant.Recalibration
        Equations ``POST /v1/assess`` reports recalibrated to a federation.
    console : bool, default=True
        Also serve the web console under ``/console`` (accounts: ``fedcare console
        user add``).
    runs_dir : str or Path
        The folder of finished study runs the console lists (default ``runs``).
    site_dirs : sequence of str or Path
        Site folders whose study approvals the console shows (site stewards decide).
    coordinator_dir : str or Path, optional
        A coordinator folder whose sites and submitted studies the console shows live.
    """
    if not isinstance(registry, Registry):
        registry = Registry(registry)
    from limits import parse_many

    try:
        parse_many(rate_limit)
    except ValueError:
        raise ConfigError(f"rate limit '{rate_limit}' is not like '100/second;3000/minute'"
                          ) from None
    service = _Service(registry, rate_limit)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _warm_up()
        # Everything imported and built so far lives as long as the server: move it out of
        # the garbage collector's generations so full collections stay short (p99).
        gc.collect()
        gc.freeze()
        yield
        service.close()

    app = FastAPI(
        lifespan=lifespan,
        title="fedcare prediction API", version=__version__,
        description="Risk predictions, explanations and model cards of federated models. "
                    "Authenticate with an `X-API-Key` header (`fedcare apikey create`). "
                    "Roles: read-only (list, show, cards), clinician (+ predict, explain), "
                    "admin (+ retire models, read the request log). The health-management "
                    "assistant (`POST /v1/assess`, `/v1/people/{id}/...`) needs the "
                    "clinician role. Patient values are "
                    "validated against each model's schema (units, plausible ranges) and "
                    "never logged: the log keeps who, when, which model and a SHA-256 of "
                    "the input.")
    app.state.service = service

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI echoes the offending input by default; patient values must not be echoed.
        return JSONResponse(status_code=422,
                            content={"detail": [_problem(e) for e in exc.errors()]})

    @app.exception_handler(FedcareError)
    async def _fedcare_error(_: Request, exc: FedcareError) -> JSONResponse:
        # One mapping for every fedcare error: its class's HTTP status (the error table in
        # fedcare.exceptions). Messages name settings, files and ids, never patient values.
        return JSONResponse(status_code=exc.http_status, content={"detail": str(exc)})

    def _active(model_id: int) -> tuple[ModelRecord, RiskModel]:
        record, model = service.model(model_id)
        if record.status != "active":
            raise HTTPException(409, detail=f"model {model_id} is {record.status}; "
                                "predictions are refused")
        return record, model

    def _validated(model: RiskModel, rows: list[dict[str, Any]], key: ApiKey, model_id: int,
                   endpoint: str, single: bool) -> Any:
        try:
            X = model.validate(rows, single=single)
        except PatientInputError as exc:
            service.log(key, model_id, endpoint, rows, 422)
            raise HTTPException(422, detail=[e.to_dict(single=single)
                                             for e in exc.errors]) from None
        return X

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        """Liveness: no key needed."""
        return Health(status="ok", version=__version__, models=service.registry.count_models())

    @app.get("/v1/models", response_model=list[ModelSummary], tags=["models"],
             responses=_ERRORS)
    def list_models(_: ReadKey) -> list[dict[str, Any]]:
        """Every registered model (any role)."""
        return [r.summary() for r in service.registry.models()]

    @app.get("/v1/models/{model_id}", response_model=ModelDetail, tags=["models"],
             responses=_ERRORS)
    def show_model(model_id: ModelId, _: ReadKey) -> dict[str, Any]:
        """One model: schema (units, ranges), provenance, metrics, global importance and
        the signed effect of each input (odds ratios; raises or lowers the risk)."""
        vertical = service.record(model_id)
        if not vertical.servable or vertical.is_image:  # a vertical or image model
            return {**vertical.to_dict(parameters=False),
                    "global_importance": {}, "feature_effects": []}
        record, model = service.model(model_id)
        out = record.to_dict(parameters=False)
        out["global_importance"] = service.importance(record, model)
        out["feature_effects"] = service.effects(model)
        return out

    @app.get("/v1/models/{model_id}/card", tags=["models"], responses={
        **_ERRORS, 200: {"content": {"text/html": {}, "application/json": {}},
                         "description": "The model card, HTML or JSON."}})
    def card(model_id: ModelId, _: ReadKey,
             format: Literal["html", "json"] = "html") -> Any:
        """The model card: intended use, inputs (units, what each code means), data
        sources, per-site performance incl. calibration, privacy guarantees, signed feature
        effects and importance, limitations."""
        vertical = service.record(model_id)
        if vertical.is_image:
            from fedcare.report._image_card import image_card, render_image_card_html

            content = image_card(vertical)
            if format == "json":
                return JSONResponse(jsonable_encoder(content))
            return HTMLResponse(render_image_card_html(content))
        if not vertical.servable:
            from fedcare.report._vertical_card import render_vertical_card_html, vertical_card

            content = vertical_card(vertical)
            if format == "json":
                return JSONResponse(jsonable_encoder(content))
            return HTMLResponse(render_vertical_card_html(content))
        record, model = service.model(model_id)
        content = model_card(record, service.importance(record, model), service.effects(model))
        if format == "json":
            return JSONResponse(jsonable_encoder(content))
        return HTMLResponse(render_card_html(content))

    @app.post("/v1/models/{model_id}/predict", response_model=PredictResponse,
              tags=["predictions"],
              responses={**_ERRORS, 409: {"model": Problem, "description": "Model retired."}})
    async def predict(model_id: ModelId, body: PredictRequest,
                key: ClinicianKey) -> PredictResponse:
        """Risk for one patient or a batch (up to 10,000). Values in the feature's unit,
        or {"value": x, "unit": "UCUM"} to be converted; out-of-range values get 422."""
        record, model = _active(model_id)
        rows = body.rows()
        X = _validated(model, rows, key, model_id, "predict", body.single)
        z = model.log_odds(X)
        service.log(key, model_id, "predict", rows, 200)
        risks = 1.0 / (1.0 + _exp(-z))
        return PredictResponse(model_id=model_id, content_hash=record.content_hash,
                               predictions=[Prediction(risk=float(r), log_odds=_finite(float(v)))
                                            for r, v in zip(risks, z, strict=True)])

    @app.post("/v1/models/{model_id}/explain", response_model=ExplainResponse,
              tags=["predictions"],
              responses={**_ERRORS, 409: {"model": Problem, "description": "Model retired."}})
    async def explain(model_id: ModelId, body: PredictRequest,
                      key: ClinicianKey) -> ExplainResponse:
        """Risk plus signed per-feature contributions (exact for linear models, SHAP
        otherwise): every factor with its value, what a code means and its direction
        ("raises the risk of heart disease (+0.66 log-odds)"), the top three in plain
        words, and the model's signed feature effects (odds ratios)."""
        record, model = _active(model_id)
        rows = body.rows()
        _validated(model, rows, key, model_id, "explain", body.single)
        if model.kind == "logistic":  # exact and cheap: no thread hop
            explanations = model.explain(rows, single=body.single)
            effects = service.effects(model)
        else:  # SHAP takes milliseconds per patient: keep the event loop free
            explanations = await run_in_threadpool(model.explain, rows, single=body.single)
            effects = await run_in_threadpool(service.effects, model)
        service.log(key, model_id, "explain", rows, 200)
        return ExplainResponse(model_id=model_id, content_hash=record.content_hash,
                               outcome=model.outcome,
                               explanations=[ExplanationOut(**e.to_dict()) for e in explanations],
                               feature_effects=[FeatureEffect(**e) for e in effects])

    @app.patch("/v1/models/{model_id}", response_model=ModelSummary, tags=["admin"],
               responses=_ERRORS)
    def set_status(model_id: ModelId, body: StatusChange,
                   _: AdminKey) -> dict[str, Any]:
        """Retire a model (predictions refused with 409) or re-activate it. Admin only."""
        summary = service.registry.set_status(model_id, body.status).summary()
        service.forget(model_id)
        return summary

    @app.get("/v1/audit/predictions", response_model=list[LogEntry], tags=["admin"],
             responses=_ERRORS)
    def prediction_log(_: AdminKey,
                       limit: Annotated[int, Query(ge=1, le=10_000)] = 100
                       ) -> list[dict[str, Any]]:
        """The newest logged prediction requests (no values). Admin only."""
        service.flush()
        return service.registry.prediction_log(limit)

    from fedcare.serving._assistant import add_assistant_routes

    add_assistant_routes(app, service, thresholds=assistant_thresholds,
                         recalibrations=assistant_recalibrations)
    from fedcare.serving._imaging import add_image_routes

    add_image_routes(app, service)
    if console:
        from fedcare.serving.console import mount_console

        mount_console(app, service, runs_dir=runs_dir, site_dirs=list(site_dirs),
                      coordinator_dir=coordinator_dir)
    return app


#: pydantic's marker for a dict key's own error (``[..., "<key>", "[key]"]``).
_KEY_MARK = "[key]"


def _problem(error: Any) -> dict[str, Any]:
    """A request-validation error without the input (names, locations and messages only).

    Location strings are cut to 64 characters (a field name, never a value, but a long
    one may be a pasted value); a too-long field name reads as such.
    """
    loc = list(error.get("loc", ()))
    msg, kind = error.get("msg", "invalid"), error.get("type", "value_error")
    if loc and loc[-1] == _KEY_MARK:
        loc = loc[:-1]
        msg, kind = "field name longer than 64 characters", "value_error.extra"
    return {"loc": [p[:64] if isinstance(p, str) else p for p in loc], "msg": msg,
            "type": kind}


def _exp(z: Any) -> Any:
    import numpy as np

    with np.errstate(over="ignore"):
        return np.exp(z)
