"""The console's pages (server-rendered Jinja2, a little JavaScript, inline SVG charts).

Every page needs a signed-in account whose role allows it (401 / 403 otherwise, with a
sign-in link); every form and JSON action checks the session's CSRF token.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from fedcare.assistant import FIELDS, ProfileError, assess
from fedcare.report._svg import bar_chart, gauge, line_chart
from fedcare.serving.console._auth import Auth, Signed, check_csrf, needs
from fedcare.serving.console._jobs import Jobs

__all__ = ["mount_console"]

HERE = Path(__file__).parent
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")

#: Interface words of the assessment pages in both languages (the assistant's own
#: sentences come from fedcare.assistant).
UI = {
    "en": {"assess": "Assessment", "submit": "Assess", "person": "Person ID (pseudonym, "
           "optional: stores the visit)", "result": "Result", "scores": "Risk scores",
           "factors": "Modifiable factors", "whatif": "What if", "plan": "Plan",
           "trend": "Trend across visits", "unit": "unit", "yes": "yes", "no": "no",
           "unknown": "not known", "lang": "中文", "slider_sbp": "Systolic blood pressure",
           "slider_tc": "Total cholesterol", "slider_smoker": "Smoking",
           "reset": "Back to the measured values", "not_computed": "not computed",
           "points": "points", "section_person": "The person", "section_measures":
           "Measurements", "section_history": "History and habits", "required":
           "needed by most scores"},
    "zh": {"assess": "健康评估", "submit": "评估", "person": "人员编号（化名，可选：保存本次随访）",
           "result": "结果", "scores": "风险评分", "factors": "可改变的危险因素",
           "whatif": "如果……", "plan": "计划", "trend": "历次随访趋势", "unit": "单位",
           "yes": "是", "no": "否", "unknown": "不详", "lang": "English",
           "slider_sbp": "收缩压", "slider_tc": "总胆固醇", "slider_smoker": "吸烟",
           "reset": "恢复实测值", "not_computed": "未计算", "points": "分",
           "section_person": "基本信息", "section_measures": "测量指标",
           "section_history": "病史与生活方式", "required": "多数评分需要"},
}

#: Unit choices shown beside a number (value sent as {"value", "unit"} when not the first).
UNITS = {"total_cholesterol": ["mg/dL", "mmol/L"], "hdl_cholesterol": ["mg/dL", "mmol/L"],
         "fasting_glucose": ["mg/dL", "mmol/L"], "hba1c": ["%", "mmol/mol"],
         "systolic_bp": ["mm[Hg]", "kPa"], "height_cm": ["cm", "[in_i]"],
         "weight_kg": ["kg", "[lb_av]"], "waist_cm": ["cm", "[in_i]"]}
FORM_FIELDS = {
    "section_person": ["age", "sex", "race"],
    "section_measures": ["systolic_bp", "diastolic_bp", "total_cholesterol",
                         "hdl_cholesterol", "height_cm", "weight_kg", "bmi", "waist_cm",
                         "egfr", "fasting_glucose", "hba1c"],
    "section_history": ["smoker", "diabetes", "bp_treated", "statin", "cvd_history",
                        "family_history_diabetes", "physically_active", "daily_fruit_veg",
                        "bp_medication", "high_glucose_history", "activity_min_per_week",
                        "salt_g_per_day"],
}
CHOICE_ZH = {"female": "女", "male": "男", "white": "白人", "african_american": "非裔美国人",
             "other": "其他", "none": "无", "second_degree": "二级亲属",
             "first_degree": "一级亲属（父母、兄弟姐妹、子女）"}


def _lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in ("en", "zh"):
        return q
    from fedcare.serving._assistant import language

    return language(request.headers.get("accept-language"))


def _profile_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The assistant profile from the assessment form (empty fields left out)."""
    out: dict[str, Any] = {}
    for name, spec in FIELDS.items():
        raw = (form.get(name) or "").strip()
        if not raw:
            continue
        if spec.kind == "number":
            try:
                value: Any = float(raw)
            except ValueError:
                value = raw  # the assistant names the field and what it expects
            unit = form.get(f"{name}__unit")
            if isinstance(value, float) and unit and unit in UNITS.get(name, [])[1:]:
                value = {"value": value, "unit": unit}
            out[name] = value
        elif spec.kind == "bool":
            out[name] = raw == "true" if raw in ("true", "false") else raw
        else:
            out[name] = raw
    return out


def _summary_figures(result: dict[str, Any], lang: str) -> dict[str, str]:
    """The gauge and factor bars of one assessment (SVG)."""
    main = next((result["scores"][n] for n in ("prevent_cvd_2023", "pce_ascvd_2013",
                                               "framingham_cvd_2008")
                 if not result["scores"][n]["skipped"]), None)
    th = result["tier"]["thresholds"]
    figures = {}
    if main is not None:
        figures["gauge"] = gauge(main["risk"], yellow=th["cvd_yellow"], red=th["cvd_red"],
                                 label=main["title"], level_text=result["tier"]["level"])
    rows = []
    for w in result["what_if"]:
        if w.get("primary_absolute_reduction"):
            rows.append((w["label"], -100 * w["primary_absolute_reduction"]))
    if rows:
        title = ("各项干预可降低的风险（百分点）" if lang == "zh"
                 else "Risk change of each step (percentage points)")
        figures["factors"] = bar_chart(rows, title=title, unit=" pp", signed=True)
    return figures


def _trend_chart(history: list[dict[str, Any]], lang: str) -> str:
    series: dict[str, list[tuple[float, float]]] = {}
    if not history:
        return ""
    first = date.fromisoformat(history[0]["assessed_on"])
    for a in history:
        days = (date.fromisoformat(a["assessed_on"]) - first).days
        for s in a["scores"].values():
            if not s["skipped"] and "risk" in s:
                series.setdefault(s["title"], []).append((days, 100 * s["risk"]))
    return line_chart(series, title="历次随访风险" if lang == "zh" else "Risk at each visit",
                      x_label="天（自首次随访）" if lang == "zh" else "days since first visit",
                      y_label="10 年风险 %" if lang == "zh" else "10-year risk %")


def mount_console(app: FastAPI, service: Any, *, runs_dir: str | Path = "runs",
                  site_dirs: list[str | Path] | tuple[str | Path, ...] = (),
                  coordinator_dir: str | Path | None = None,
                  secure_cookie: bool = False) -> None:
    """Mount the console under ``/console`` on the prediction API's app.

    ``site_dirs``: site folders (``fedcare site init``) whose study approvals the console
    shows; a site steward approves or refuses those of their own site.
    ``coordinator_dir``: a coordinator folder (``fedcare coordinator init``) whose sites
    and submitted studies the console shows live. Analytics results are the JSON files
    in ``<runs_dir>/analytics/`` (``fedcare analytics ... --json``)."""
    registry = service.registry
    auth = Auth(registry, secure_cookie=secure_cookie)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["json"] = json
    jobs = Jobs(Path(runs_dir))
    app.state.console_auth = auth
    app.state.console_jobs = jobs
    runs_root = Path(runs_dir)
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")),
              name="console-static")

    def render(request: Request, template: str, signed: Signed | None, status: int = 200,
               **context: Any) -> HTMLResponse:
        lang = context.pop("lang", "en")
        response = templates.TemplateResponse(request, template, {
            "user": signed.user if signed else None,
            "csrf": signed.csrf if signed else "", "lang": lang, "ui": UI[lang],
            **context}, status_code=status)
        return response

    def page(request: Request, action: str) -> Signed:
        return needs(auth.current(request), action)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/console") and not request.url.path.startswith(
                "/console/api") and exc.status_code in (400, 401, 403, 404, 409, 422, 429):
            signed = auth.current(request)
            return render(request, "error.html", signed, status=exc.status_code,
                          code=exc.status_code, detail=exc.detail)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if request.url.path.startswith("/console"):
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers["Cache-Control"] = "no-store"
        return response

    # -- sign in / out ---------------------------------------------------------------------
    @app.get("/console/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        return render(request, "login.html", None, error=None, lang=_lang(request))

    @app.post("/console/login", include_in_schema=False)
    def login(request: Request, name: Annotated[str, Form(max_length=64)] = "",
              password: Annotated[str, Form(max_length=256)] = "") -> Response:
        client = request.client.host if request.client else "?"
        if not auth.allow_attempt(client, name):
            raise HTTPException(429, detail="too many sign-in attempts; wait a minute")
        done = auth.login(name, password)
        if done is None:
            return render(request, "login.html", None, status=401,
                          error="wrong name or password", lang=_lang(request))
        cookie, _ = done
        response = RedirectResponse("/console/", status_code=303)
        auth.set_cookie(response, cookie)
        return response

    @app.post("/console/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        signed = needs(auth.current(request), "read")
        check_csrf(signed, csrf)
        auth.logout(signed)
        response = RedirectResponse("/console/login", status_code=303)
        auth.clear_cookie(response)
        return response

    # -- overview, runs, models --------------------------------------------------------------
    @app.get("/console/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        signed = page(request, "read")
        return render(request, "home.html", signed, runs=_runs(runs_root)[:10],
                      models=[r.summary() for r in registry.models()], jobs=jobs.list())

    @app.get("/console/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs(request: Request) -> HTMLResponse:
        signed = page(request, "read")
        return render(request, "runs.html", signed, runs=_runs(runs_root))

    @app.get("/console/runs/{name}", response_class=HTMLResponse, include_in_schema=False)
    def run_detail(request: Request, name: str) -> HTMLResponse:
        signed = page(request, "read")
        metrics = _metrics(runs_root, name)
        return render(request, "run.html", signed, name=name, m=metrics,
                      **_run_view(metrics))

    @app.get("/console/models", response_class=HTMLResponse, include_in_schema=False)
    def models(request: Request) -> HTMLResponse:
        signed = page(request, "read")
        return render(request, "models.html", signed,
                      models=[r.summary() for r in registry.models()])

    @app.get("/console/models/{model_id}", response_class=HTMLResponse,
             include_in_schema=False)
    def model_card_page(request: Request, model_id: int) -> HTMLResponse:
        signed = page(request, "read")
        from fedcare.exceptions import DataNotFoundError
        from fedcare.report import model_card

        try:
            vertical = service.record(model_id)
            if not vertical.servable:
                from fedcare.report._vertical_card import (
                    render_vertical_card_html,
                    vertical_card,
                )

                return HTMLResponse(render_vertical_card_html(vertical_card(vertical)))
            record, model = service.model(model_id)
        except DataNotFoundError:
            raise HTTPException(404, detail=f"no model with id {model_id}") from None
        card = model_card(record, service.importance(record, model), service.effects(model))
        return render(request, "model.html", signed, record=record.summary(), card=card)

    @app.post("/console/models/{model_id}/status", include_in_schema=False)
    def model_status(request: Request, model_id: int,
                     status: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""
                     ) -> Response:
        signed = page(request, "models.manage")
        check_csrf(signed, csrf)
        if status not in ("active", "retired"):
            raise HTTPException(422, detail="status must be active or retired")
        registry.set_status(model_id, "active" if status == "active" else "retired")
        service.forget(model_id)
        return RedirectResponse(f"/console/models/{model_id}", status_code=303)

    # -- embedded studies --------------------------------------------------------------------
    @app.get("/console/studies/new", response_class=HTMLResponse, include_in_schema=False)
    def new_study(request: Request) -> HTMLResponse:
        signed = page(request, "studies")
        return render(request, "study_new.html", signed, error=None)

    @app.post("/console/studies", include_in_schema=False)
    def start_study(request: Request, rounds: Annotated[str, Form()] = "10",
                    strategy: Annotated[str, Form()] = "newton",
                    csrf: Annotated[str, Form()] = "") -> Response:
        signed = page(request, "studies")
        check_csrf(signed, csrf)
        if not rounds.isdigit() or not 1 <= int(rounds) <= 100:
            raise HTTPException(422, detail="rounds must be a whole number from 1 to 100")
        if strategy not in ("newton", "fedavg", "fedprox"):
            raise HTTPException(422, detail="strategy must be newton, fedavg or fedprox")
        job = jobs.start(rounds=int(rounds), strategy=strategy, by=signed.user.name)
        return RedirectResponse(f"/console/jobs/{job}", status_code=303)

    @app.get("/console/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(request: Request, job_id: str) -> HTMLResponse:
        signed = page(request, "read")
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, detail="no such study job")
        return render(request, "job.html", signed, job=job.view())

    @app.get("/console/api/jobs/{job_id}", include_in_schema=False)
    def job_api(request: Request, job_id: str) -> JSONResponse:
        needs(auth.current(request), "read")
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, detail="no such study job")
        view = job.view()
        view["chart"] = line_chart({"seconds per round": [(r, s) for r, s in enumerate(
            view["round_seconds"], start=1)]}, title="Time per round", x_label="round",
            y_label="seconds") if view["round_seconds"] else ""
        return JSONResponse(view)

    # -- study approvals by the sites ----------------------------------------------------------
    sites = _site_books(site_dirs)

    @app.get("/console/approvals", response_class=HTMLResponse, include_in_schema=False)
    def approvals(request: Request) -> HTMLResponse:
        signed = page(request, "read")
        rows = []
        for name, book in sites.items():
            for entry in book.entries().values():
                rows.append({**entry, "site": name, "mine": signed.user.can("approve") and (
                    signed.user.role == "admin" or signed.user.site == name)})
        rows.sort(key=lambda e: e["requested_at"], reverse=True)
        return render(request, "approvals.html", signed, rows=rows, sites=sorted(sites),
                      policies=_site_policies(site_dirs))

    @app.post("/console/approvals/{site}/{run}", include_in_schema=False)
    def decide(request: Request, site: str, run: str,
               decision: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
               csrf: Annotated[str, Form()] = "") -> Response:
        signed = page(request, "approve")
        check_csrf(signed, csrf)
        if site not in sites:
            raise HTTPException(404, detail="no such site on this console")
        if signed.user.role != "admin" and signed.user.site != site:
            raise HTTPException(403, detail=f"you speak for site {signed.user.site}, not "
                                            f"{site}")
        if decision not in ("approve", "refuse"):
            raise HTTPException(422, detail="decision must be approve or refuse")
        from fedcare.exceptions import FedcareError

        try:
            sites[site].decide(run[:64], decision == "approve", by=signed.user.name,
                               reason=reason[:500])
        except FedcareError as exc:
            raise HTTPException(exc.http_status if exc.http_status < 500 else 409,
                                detail=str(exc)) from None
        return RedirectResponse("/console/approvals", status_code=303)

    # -- a live federation: its sites and the studies submitted to it --------------------
    federation = None
    if coordinator_dir is not None:
        from fedcare.serving.console._federation import Federation

        federation = Federation(coordinator_dir, sites, _site_policies(site_dirs))

    def _federation() -> Any:
        if federation is None:
            raise HTTPException(404, detail="this console watches no federation (fedcare "
                                            "serve --coordinator DIR)")
        return federation

    @app.get("/console/federation", response_class=HTMLResponse, include_in_schema=False)
    def federation_page(request: Request) -> HTMLResponse:
        signed = page(request, "read")
        fed = federation
        return render(request, "federation.html", signed,
                      sites=fed.sites() if fed else None,
                      studies=fed.studies() if fed else [],
                      coordinator=str(fed.root) if fed else None)

    def _study_view(stamp: str) -> dict[str, Any]:
        view = _federation().study(stamp)
        if view is None:
            raise HTTPException(404, detail="no such study submission on this coordinator")
        return dict(view)

    @app.get("/console/federation/{stamp}", response_class=HTMLResponse,
             include_in_schema=False)
    def live_study(request: Request, stamp: str) -> HTMLResponse:
        signed = page(request, "read")
        return render(request, "live.html", signed, s=_study_view(stamp))

    @app.get("/console/api/federation/{stamp}", include_in_schema=False)
    def live_study_api(request: Request, stamp: str) -> JSONResponse:
        needs(auth.current(request), "read")
        view = _study_view(stamp)
        html = templates.get_template("_live_body.html").render(s=view)
        return JSONResponse({"state": view["state"], "round": view["round"],
                             "of": view["of"], "last_round_end": view["last_round_end"],
                             "sites": {r["site"]: r["state"] for r in view["sites"]},
                             "html": html})

    # -- audit logs ------------------------------------------------------------------------
    def _logs() -> dict[str, Path]:
        found: dict[str, Path] = {}
        for name, book in sites.items():
            found[f"site {name}"] = book.log_path
        if federation is not None:
            for path in sorted(federation.root.glob("**/*.jsonl")):
                if path.name != "progress.jsonl" and len(path.relative_to(
                        federation.root).parts) <= 4:
                    found[f"coordinator {path.relative_to(federation.root)}"] = path
        if runs_root.is_dir():
            for path in sorted(runs_root.glob("*/audit/*.jsonl")):
                found[f"run {path.relative_to(runs_root)}"] = path
        return found

    @app.get("/console/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(request: Request) -> HTMLResponse:
        signed = page(request, "read")
        rows = [{"name": name, "key": i, **_verified(path)}
                for i, (name, path) in enumerate(_logs().items())]
        return render(request, "audit.html", signed, rows=rows)

    @app.get("/console/audit/{key}", response_class=HTMLResponse, include_in_schema=False)
    def audit_log_page(request: Request, key: int) -> HTMLResponse:
        signed = page(request, "read")
        logs = list(_logs().items())
        if not 0 <= key < len(logs):
            raise HTTPException(404, detail="no such audit log")
        name, path = logs[key]
        return render(request, "audit_log.html", signed, name=name, v=_verified(path),
                      records=_last_records(path, 200))

    # -- analytics results -------------------------------------------------------------------
    analytics_root = runs_root / "analytics"

    @app.get("/console/analytics", response_class=HTMLResponse, include_in_schema=False)
    def analytics_page(request: Request) -> HTMLResponse:
        signed = page(request, "read")
        from fedcare.serving.console._analytics import listing

        return render(request, "analytics.html", signed, rows=listing(analytics_root),
                      folder=str(analytics_root))

    @app.get("/console/analytics/{name}", response_class=HTMLResponse,
             include_in_schema=False)
    def analytics_result(request: Request, name: str) -> HTMLResponse:
        signed = page(request, "read")
        from fedcare.serving.console._analytics import view

        if not _RUN_NAME.match(name) or not name.endswith(".json"):
            raise HTTPException(404, detail="no such analytics result")
        shown = view(analytics_root / name)
        if shown is None:
            raise HTTPException(404, detail="no such analytics result")
        return render(request, "analytic.html", signed, name=name, a=shown)

    # -- the assistant -----------------------------------------------------------------------
    def _assess_page(request: Request, signed: Signed, lang: str, form: dict[str, str],
                     status: int = 200) -> HTMLResponse:
        profile = _profile_from_form(form)
        person = (form.get("person_id") or "").strip() or None
        result = errors = None
        history: list[dict[str, Any]] = []
        if profile:
            try:
                from fedcare.assistant._profile import check_person_id
                from fedcare.exceptions import DataError

                previous = None
                if person is not None:
                    check_person_id(person)
                    history = registry.assessments(person)
                    previous = history[-1] if history else None
                result = assess(profile, lang=lang, previous=previous)
                if person is not None:
                    result["assessment_id"] = registry.add_assessment(
                        person, result, api_key_id=None)
                    history.append(result)
            except ProfileError as exc:
                errors = {e["field"]: e["msg"] for e in exc.errors}
                status = 422
            except DataError as exc:
                errors = {"person_id": str(exc)}
                status = 422
        return render(request, "assess.html", signed, status=status, lang=lang, form=form,
                      fields=FIELDS, sections=FORM_FIELDS, units=UNITS, result=result,
                      errors=errors or {}, choice_zh=CHOICE_ZH,
                      figures=_summary_figures(result, lang) if result else {},
                      trend=_trend_chart(history, lang) if len(history) > 1 else "",
                      profile_json=json.dumps(result["profile"]) if result else "{}")

    @app.get("/console/assess", response_class=HTMLResponse, include_in_schema=False)
    def assess_form(request: Request) -> HTMLResponse:
        signed = page(request, "assess")
        return _assess_page(request, signed, _lang(request), {})

    @app.post("/console/assess", response_class=HTMLResponse, include_in_schema=False)
    async def assess_submit(request: Request) -> HTMLResponse:
        signed = page(request, "assess")
        form = {k: str(v)[:200] for k, v in (await request.form()).items()}
        check_csrf(signed, form.get("csrf"))
        lang = form.get("lang") if form.get("lang") in ("en", "zh") else _lang(request)
        return _assess_page(request, signed, str(lang), form)

    @app.post("/console/api/assess", include_in_schema=False)
    async def assess_api(request: Request) -> JSONResponse:
        """What-if sliders: the assessment of a changed profile (not stored)."""
        signed = needs(auth.current(request), "assess")
        check_csrf(signed, request.headers.get("x-csrf-token"))
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(422, detail="expected a JSON body") from None
        if not isinstance(body, dict) or not isinstance(body.get("profile"), dict):
            raise HTTPException(422, detail='expected {"profile": {...}, "lang": "en"}')
        lang = body.get("lang") if body.get("lang") in ("en", "zh") else "en"
        try:
            result = assess(body["profile"], lang=str(lang))
        except ProfileError as exc:
            return JSONResponse({"detail": exc.errors}, status_code=422)
        figures = _summary_figures(result, str(lang))
        main = next((s for n in ("prevent_cvd_2023", "pce_ascvd_2013", "framingham_cvd_2008")
                     if not (s := result["scores"][n])["skipped"]), None)
        return JSONResponse({"tier": result["tier"]["level"],
                             "tier_text": result["tier"]["text"],
                             "risk": main["risk"] if main else None,
                             "risk_text": main["text"] if main else "",
                             "gauge": figures.get("gauge", ""),
                             "scores": [s["text"] for s in result["scores"].values()]})

    @app.get("/console/people/{person_id}", response_class=HTMLResponse,
             include_in_schema=False)
    def person_page(request: Request, person_id: str) -> HTMLResponse:
        signed = page(request, "assess")
        from fedcare.assistant._profile import check_person_id
        from fedcare.exceptions import DataError

        lang = _lang(request)
        try:
            check_person_id(person_id)
        except DataError:
            raise HTTPException(404, detail="not a pseudonymous person ID") from None
        history = registry.assessments(person_id)
        if not history:
            raise HTTPException(404, detail="no assessments stored for this person ID")
        return render(request, "person.html", signed, lang=lang, person=person_id,
                      history=history, trend=_trend_chart(history, lang))


def _site_books(site_dirs: Any) -> dict[str, Any]:
    """Site name -> its approval book, for the site folders given."""
    from fedcare.federation.engines.deploy.layout import site_settings
    from fedcare.federation.site.approval import ApprovalBook

    out = {}
    for directory in site_dirs:
        _, settings = site_settings(directory)
        out[str(settings["site"]["name"])] = ApprovalBook(Path(directory))
    return out


def _site_policies(site_dirs: Any) -> dict[str, dict[str, Any]]:
    """Site name -> its ``[policy]`` table, for the site folders given."""
    from fedcare.federation.engines.deploy.layout import site_settings

    out = {}
    for directory in site_dirs:
        _, settings = site_settings(directory)
        out[str(settings["site"]["name"])] = dict(settings.get("policy") or {})
    return out


def _verified(path: Path) -> dict[str, Any]:
    """An audit log's hash-chain check: ``ok``, records, time span, or the error."""
    from fedcare.exceptions import FedcareError
    from fedcare.privacy._audit import verify_log

    try:
        summary = verify_log(path)
    except FedcareError as exc:
        missing = not path.exists()
        return {"ok": False, "missing": missing, "error": "no log yet" if missing else
                str(exc).replace(str(path), path.name), "records": 0}
    return {"ok": True, "missing": False, "error": "", "records": summary.records,
            "first": summary.first_time, "last": summary.last_time,
            "by_type": summary.by_type, "sites": summary.sites,
            "last_hash": summary.last_hash}


_SHOWN_FIELDS = ("seq", "time", "event", "message_type", "type", "direction", "site", "peer",
                 "run", "round", "by", "who", "key", "old", "new", "reason", "bytes")


def _last_records(path: Path, n: int) -> list[dict[str, str]]:
    """The last ``n`` records of a log, newest first, a few plain fields of each."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[-n:]
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append({k: str(record[k]) for k in _SHOWN_FIELDS
                        if record.get(k) not in (None, "")})
    return out


def _runs(root: Path) -> list[dict[str, Any]]:
    """Finished run folders under ``root`` (newest first) with a few headline figures."""
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for path in sorted(root.iterdir(), reverse=True):
        file = path / "metrics.json"
        if not (path.is_dir() and _RUN_NAME.match(path.name) and file.is_file()):
            continue
        try:
            m = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        fed: dict[str, Any] = next((v for k, v in (m.get("results") or {}).items()
                                    if k.startswith("federated")), {})
        out.append({"name": path.name, "sites": sorted(m.get("sites") or {}),
                    "strategy": (m.get("study") or {}).get("strategy"),
                    "target": (m.get("study") or {}).get("target"),
                    "auc": (fed.get("pooled_test") or {}).get("auc"),
                    "rounds": fed.get("rounds")})
    return out


def _metrics(root: Path, name: str) -> dict[str, Any]:
    if not _RUN_NAME.match(name):
        raise HTTPException(404, detail="no such run")
    file = root / name / "metrics.json"
    if not file.is_file():
        raise HTTPException(404, detail="no such run")
    try:
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise HTTPException(404, detail="the run's metrics.json cannot be read") from None
    return data


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def _run_view(m: dict[str, Any]) -> dict[str, Any]:
    """Tables and charts of one run: per-site comparison, convergence, calibration."""
    results = m.get("results") or {}
    settings = list(results)
    sites = sorted(m.get("sites") or {})
    table = []
    for site in sites:
        row: dict[str, Any] = {"site": site, "n": (m["sites"][site] or {}).get("n_rows")}
        for s in settings:
            per = (results[s].get("per_site") or {}).get(site) or {}
            row[s] = {"auc": per.get("auc"), "accuracy": per.get("accuracy"),
                      "slope": per.get("calibration_slope")}
        table.append(row)
    conv = {k: [(_num(r.get("round")), _num(r.get("auc"))) for r in v]
            for k, v in (m.get("convergence") or {}).items()}
    loss = {k: [(_num(r.get("round")), _num(r.get("test_loss"))) for r in v]
            for k, v in (m.get("convergence") or {}).items()}
    cal = {k: list(zip((_num(x) for x in v.get("predicted", [])),
                       (_num(y) for y in v.get("observed", [])), strict=False))
           for k, v in (m.get("calibration") or {}).items()}
    fed_key = next((k for k in settings if k.startswith("federated")), None)
    fed = results.get(fed_key or "", {})
    study = m.get("study") or {}
    privacy = {"dp": fed.get("privacy"), "secure_aggregation": study.get(
        "secure_aggregation"), "min_cell": study.get("min_cell"),
        "membership_inference_auc": fed.get("membership_inference_auc")}
    return {
        "settings": settings, "table": table, "privacy": privacy,
        "findings": ((m.get("quality") or {}).get("findings") or []),
        "charts": {
            "auc": line_chart(conv, title="Test AUC by round", x_label="round",
                              y_label="AUC") if conv else "",
            "loss": line_chart(loss, title="Test loss by round", x_label="round",
                               y_label="log-loss") if loss else "",
            "calibration": line_chart(cal, title="Calibration (tenths of predicted risk)",
                                      x_label="predicted", y_label="observed",
                                      diagonal=True) if cal else "",
            "sites": bar_chart([(f"{r['site']} {s}", _num((r[s] or {}).get("auc")))
                                for r in table for s in settings
                                if math.isfinite(_num((r[s] or {}).get("auc")))],
                               title="AUC per site and setting") if table else ""}}
