"""``fedcare model ...``, ``fedcare apikey ...`` and ``fedcare serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from fedcare._io import write_text_atomic
from fedcare.cli._common import (
    EXIT_CODES,
    check_output_file,
    console,
    err_console,
    handle_errors,
    styled,
    write_json,
)

__all__ = ["apikey_app", "model_app", "serve"]

Db = Annotated[str | None, typer.Option(
    "--db", envvar="FEDCARE_DATABASE_URL", show_default=False,
    help="Registry database URL (default: sqlite:///fedcare.db in this folder; env "
         "FEDCARE_DATABASE_URL). PostgreSQL: postgresql+psycopg://user@host/db")]

model_app = typer.Typer(
    help="The model registry: register a finished study's model, list, show, model cards."
         "\n\nExample: fedcare model register runs/20261122-101500-heart-newton",
    no_args_is_help=True)
apikey_app = typer.Typer(
    help="API keys for `fedcare serve` (roles: admin, clinician, read-only). Keys are shown "
         "once and stored hashed.\n\nExample: fedcare apikey create --role clinician "
         "--name ward-7",
    no_args_is_help=True)


def _registry(db: str | None) -> Any:
    from fedcare.registry import Registry

    return Registry(db)


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


@model_app.command("register", epilog=EXIT_CODES)
def register(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR_OR_VERTICAL_JSON",
                                            help="Run folder of `fedcare study run` or "
                                            "`fedcare demo` (holds metrics.json), or the "
                                            "--json file of `fedcare vertical train "
                                            "--save` (a vertical model's card).",
                                            show_default=False)],
    name: Annotated[str | None, typer.Option(help="Display name (default: from the study).",
                                             show_default=False)] = None,
    intended_use: Annotated[str | None, typer.Option(
        "--intended-use", help="Intended-use statement for the model card (default: "
        "generated from the outcome and sites).", show_default=False)] = None,
    db: Db = None,
) -> None:
    """Register the global model of a finished study: parameters, feature schema (units,
    ranges), provenance (sites, rounds, strategy, privacy and epsilon spent), per-site
    metrics and a content hash. Registering the same model twice returns its first id.

    A vertical model's parameters stay with its parties: the registry holds its card
    (parties, features, comparison, limitations) and the prediction API refuses it.

    Example: fedcare model register runs/20261122-101500-heart-newton
    (vertical: fedcare model register train.json)
    """
    with handle_errors():
        registry = _registry(db)
        if _is_vertical_result(run_dir):
            record, new = registry.register_vertical(run_dir, name=name,
                                                     intended_use=intended_use)
        else:
            record, new = registry.register(run_dir, name=name, intended_use=intended_use)
        verb = "registered" if new else "already registered"
        console.print(Text.assemble(f"{verb}: model ", (str(record.id), "bold"),
                                    f" {record.name} (hash {record.content_hash[:12]}) in "
                                    f"{registry.description}"))
        for note in record.limitations if new else []:
            err_console.print(f"  limitation: {note}", highlight=False, soft_wrap=True)


def _is_vertical_result(path: Path) -> bool:
    """A ``fedcare vertical train --json`` file (a study's run is a folder)."""
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return False
    return isinstance(data, dict) and "psi" in data and "model_id" in data


@model_app.command("list", epilog=EXIT_CODES)
def list_models(db: Db = None) -> None:
    """List registered models.

    Example: fedcare model list
    """
    with handle_errors():
        records = _registry(db).models()
        table = Table(title=f"{len(records)} registered model(s)")
        for col in ("id", "name", "status", "strategy", "sites", "mean site acc",
                    "pooled AUC", "ε", "registered"):
            table.add_column(col, justify="right" if col in {"id", "mean site acc",
                                                             "pooled AUC", "ε"} else "left")
        for r in records:
            s = r.summary()
            table.add_row(str(s["id"]), str(s["name"]), str(s["status"]), str(s["strategy"]),
                          str(len(s["sites"])), _fmt(s["mean_client_accuracy"]),
                          _fmt(s["pooled_test_auc"]), _fmt(s["epsilon"]),
                          s["created_at"][:10])
        console.print(table)


@model_app.command("show", epilog=EXIT_CODES)
def show(
    model_id: Annotated[int, typer.Argument(help="Model id (see `fedcare model list`).",
                                            show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    db: Db = None,
) -> None:
    """Show one model: provenance, per-site metrics, limitations.

    Example: fedcare model show 1
    """
    with handle_errors():
        record = _registry(db).model(model_id)
        if as_json:
            typer.echo(json.dumps(record.to_dict(parameters=False), indent=2, default=str))
            return
        s = record.summary()
        console.print(styled(f"model {record.id}", "bold",
                             f": {record.name} ({record.status})"))
        console.print(f"hash {record.content_hash}; {record.kind}, {s['strategy']}, "
                      f"{record.provenance.get('rounds')} "
                      + ("trees" if record.kind == "vertical-secureboost" else
                         "epochs" if record.kind == "vertical-logistic" else "rounds")
                      + f"; {'parties' if not record.servable else 'sites'} "
                      f"{', '.join(s['sites'])}", highlight=False)
        if not record.servable:  # a vertical model: each setting on the same test people
            table = Table(title=f"Vertical model {record.provenance.get('model_id')}: its "
                                "parameters stay with its parties (fedcare vertical predict)")
            for col in ("setting", "n", "AUC", "Brier", "calibration slope"):
                table.add_column(col, justify="left" if col == "setting" else "right")
            for setting, m in record.metrics.get("vertical", {}).items():
                table.add_row(setting, _fmt(m.get("n")), _fmt(m.get("auc")),
                              _fmt(m.get("brier")), _fmt(m.get("calibration_slope")))
            console.print(table)
        else:
            table = Table(title="Held-out performance per site")
            for col in ("site", "n", "accuracy", "AUC", "calibration slope"):
                table.add_column(col, justify="left" if col == "site" else "right")
            for site, m in record.metrics.get("federated", {}).get("per_site", {}).items():
                table.add_row(str(site), _fmt(m.get("n")), _fmt(m.get("accuracy")),
                              _fmt(m.get("auc")), _fmt(m.get("calibration_slope")))
            console.print(table)
        for note in record.limitations:
            console.print(f"• {note}", highlight=False, soft_wrap=True)


@model_app.command("card", epilog=EXIT_CODES)
def card(
    model_id: Annotated[int, typer.Argument(help="Model id.", show_default=False)],
    out: Annotated[Path, typer.Option(help="Write the card here: .html or .json.",
                                      show_default=False)],
    db: Db = None,
) -> None:
    """Write a model card (HTML or JSON): intended use, data sources, per-site performance
    incl. calibration, privacy, feature importance, known limitations.

    Example: fedcare model card 1 --out card.html
    """
    from fedcare.explain import RiskModel
    from fedcare.report import model_card, render_card_html

    with handle_errors():
        check_output_file("--out", out)
        if out.suffix.lower() not in {".html", ".json"}:
            from fedcare.exceptions import ConfigError

            raise ConfigError(f"--out {out}: expected a .html or .json file name")
        record = _registry(db).model(model_id)
        if not record.servable:
            from fedcare.report._vertical_card import render_vertical_card_html, vertical_card

            vcard = vertical_card(record)
            if out.suffix.lower() == ".json":
                write_json(vcard, out)
            else:
                write_text_atomic(out, render_vertical_card_html(vcard))
            console.print(f"model card: {out}", highlight=False)
            return
        content = model_card(record, RiskModel.from_record(record).global_importance())
        if out.suffix.lower() == ".json":
            write_json(content, out)
        else:
            write_text_atomic(out, render_card_html(content))
        console.print(f"model card: {out}", highlight=False)


@model_app.command("retire", epilog=EXIT_CODES)
def retire(
    model_id: Annotated[int, typer.Argument(help="Model id.", show_default=False)],
    undo: Annotated[bool, typer.Option("--undo", help="Re-activate instead.")] = False,
    db: Db = None,
) -> None:
    """Retire a model: it stays in the registry, predictions are refused (HTTP 409).

    Example: fedcare model retire 1
    """
    with handle_errors():
        record = _registry(db).set_status(model_id, "active" if undo else "retired")
        console.print(f"model {record.id} is now {record.status}", highlight=False)


@apikey_app.command("create", epilog=EXIT_CODES)
def apikey_create(
    role: Annotated[str, typer.Option(help="admin, clinician or read-only.",
                                      show_default=False)],
    name: Annotated[str, typer.Option(help="Who or what uses the key.", show_default=False)],
    db: Db = None,
) -> None:
    """Create an API key and print it once (only its SHA-256 is stored).

    Example: fedcare apikey create --role clinician --name ward-7
    """
    with handle_errors():
        key, secret = _registry(db).create_api_key(name, role)
        err_console.print(f"API key {key.id} '{key.name}' ({key.role}); store it now, it "
                          "is not shown again:", highlight=False)
        typer.echo(secret)


@apikey_app.command("list", epilog=EXIT_CODES)
def apikey_list(db: Db = None) -> None:
    """List API keys (prefix, role, created, revoked; never the key).

    Example: fedcare apikey list
    """
    with handle_errors():
        table = Table(title="API keys")
        for col in ("id", "name", "role", "prefix", "created", "revoked"):
            table.add_column(col)
        for k in _registry(db).api_keys():
            table.add_row(str(k.id), str(k.name), str(k.role), k.prefix + "…",
                          k.created_at.isoformat()[:19],
                          k.revoked_at.isoformat()[:19] if k.revoked_at else "–")
        console.print(table)


@apikey_app.command("revoke", epilog=EXIT_CODES)
def apikey_revoke(
    key_id: Annotated[int, typer.Argument(help="Key id (see `fedcare apikey list`).",
                                          show_default=False)],
    db: Db = None,
) -> None:
    """Revoke an API key; requests with it get 401 from then on.

    Example: fedcare apikey revoke 3
    """
    with handle_errors():
        key = _registry(db).revoke_api_key(key_id)
        console.print(f"API key {key.id} '{key.name}' revoked", highlight=False)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1 = this "
                                      "machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    rate_limit: Annotated[str, typer.Option(
        "--rate-limit", help="Per-key limits, e.g. '100/second;3000/minute' (429 above).")
    ] = "100/second;3000/minute",
    openapi: Annotated[Path | None, typer.Option(
        help="Write the OpenAPI document to this file and exit.", show_default=False)] = None,
    runs: Annotated[Path, typer.Option(
        "--runs", help="Folder of finished study runs the console lists (and where studies "
        "started from it are written); analytics results in its analytics/ subfolder.")
    ] = Path("runs"),
    site: Annotated[list[Path] | None, typer.Option(
        "--site", help="A site folder (fedcare site init) whose study approvals the console "
        "shows; its steward approves or refuses there (repeatable).", show_default=False)
    ] = None,
    coordinator: Annotated[Path | None, typer.Option(
        "--coordinator", help="A coordinator folder (fedcare coordinator init) whose sites "
        "and submitted studies the console shows live.", show_default=False)] = None,
    recalibration: Annotated[list[Path] | None, typer.Option(
        "--recalibration", help="The assistant reports this equation recalibrated to a "
        "federation (the JSON of fedcare analytics recalibrate --json; repeatable).",
        show_default=False)] = None,
    db: Db = None,
) -> None:
    """Serve registered models over HTTP: predict, explain, model cards (FastAPI), and
    the health-management assistant.

    Routes: GET /healthz, GET /v1/models, GET /v1/models/{id}, GET /v1/models/{id}/card,
    POST /v1/models/{id}/predict, POST /v1/models/{id}/explain, POST
    /v1/models/{id}/predict/dicom (an image model; the DICOM file as the body) (clinician), PATCH
    /v1/models/{id} and GET /v1/audit/predictions (admin), POST /v1/assess, GET
    /v1/people/{id}/assessments and /fhir (clinician). Send the key in X-API-Key.
    Interactive documentation at /docs; the web console at /console (accounts: fedcare
    console user add). Put TLS in front (a reverse proxy) beyond this machine.

    Example: fedcare serve --port 8080
    """
    with handle_errors():
        from fedcare.serving import create_app

        if openapi is not None:
            check_output_file("--openapi", openapi)
            app = create_app(db, rate_limit=rate_limit)
            write_text_atomic(openapi, json.dumps(app.openapi(), indent=2, sort_keys=True)
                              + "\n")
            console.print(f"OpenAPI document: {openapi}", highlight=False)
            return
        import uvicorn

        from fedcare.cli._assess import read_recalibrations

        app = create_app(db, rate_limit=rate_limit,
                         assistant_recalibrations=read_recalibrations(recalibration),
                         runs_dir=runs, site_dirs=site or [], coordinator_dir=coordinator)
        err_console.print(f"serving {len(app.state.service.registry.models())} model(s) from "
                          f"{app.state.service.registry.description} on http://{host}:{port} "
                          "(docs at /docs; Ctrl-C stops)", highlight=False)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
