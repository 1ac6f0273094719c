"""``fedcare data check`` and ``fedcare study check``: the federated data-quality report.

Each site's rows are summarised on their own (small-cell protected counts and
micro-aggregated quartiles, see docs/quality.md); the findings come from those
aggregates only. ``data check`` does it for one table on this machine, ``study check``
runs the real Flower apps in-process over a study's sites, or with ``--coordinator DIR
--sites N`` on a live federation (run config ``task = "quality"``). The lead registers the
commands (``data check``, ``study check``) in :mod:`fedcare.cli`, e.g. with
:func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from fedcare.cli._common import (
    EXIT_CODES,
    check_output_file,
    console,
    dim,
    err_console,
    handle_errors,
    live_federation,
    styled,
    write_json,
)
from fedcare.exceptions import ConfigError, DataError

__all__ = ["data_check", "register", "study_check"]

FAIL_ON = ("blocking", "warning", "never")
JsonOut = Annotated[Path | None, typer.Option(
    "--json", help="Also write the report here (findings, per-site and per-feature tables).")]
ReportOut = Annotated[Path | None, typer.Option(
    "--report", help="Also write a self-contained HTML report here.")]
FailOn = Annotated[str, typer.Option(
    "--fail-on", help="Exit with code 3 when a finding is at least this serious: blocking, "
                      "warning or never.")]

_STYLE = {"blocking": "bold red", "warning": "yellow", "info": "dim"}


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _units(specs: list[str] | None) -> dict[str, str]:
    """``FEATURE=UNIT`` options as a mapping."""
    out: dict[str, str] = {}
    for spec in specs or []:
        feature, sep, unit = spec.partition("=")
        if not sep or not feature.strip() or not unit.strip():
            raise ConfigError(f"--unit expects FEATURE=UNIT (e.g. chol=mg/dL), got '{spec}'")
        out[feature.strip()] = unit.strip()
    return out


def _site_units(specs: list[str] | None) -> dict[str, dict[str, str]]:
    """``SITE:FEATURE=UNIT`` options as ``site -> feature -> unit``."""
    out: dict[str, dict[str, str]] = {}
    for spec in specs or []:
        site, sep, rest = spec.partition(":")
        if not sep or not site.strip():
            raise ConfigError("--site-unit expects SITE:FEATURE=UNIT (e.g. "
                              f"lyon:chol=mmol/L), got '{spec}'")
        for feature, unit in _units([rest]).items():
            out.setdefault(site.strip(), {})[feature] = unit
    return out


def _check_outputs(json_out: Path | None, report: Path | None, fail_on: str) -> None:
    if fail_on not in FAIL_ON:
        raise ConfigError(f"--fail-on must be one of {list(FAIL_ON)}, got '{fail_on}'")
    check_output_file("--json", json_out)
    check_output_file("--report", report)
    if json_out is not None and report is not None and json_out.resolve() == report.resolve():
        raise ConfigError("--json and --report name the same file")


def findings_table(quality: dict[str, Any], title: str) -> Table:
    """The findings as a Rich table: severity, site, feature, kind, detail."""
    table = Table(title=title)
    for name in ("severity", "site", "feature", "kind", "detail"):
        table.add_column(name, no_wrap=name != "detail", overflow="fold")
    for f in quality["findings"]:
        table.add_row(Text(str(f["severity"]), style=_STYLE[f["severity"]]),
                      *(str(f[key] or "–") for key in ("site", "feature", "kind", "detail")))
    return table


def sites_table(quality: dict[str, Any]) -> Table:
    """Rows, events and prevalence per site (as the sites released them)."""
    table = Table(title="Sites")
    for name in ("site", "rows", "events", "prevalence"):
        table.add_column(name, justify="left" if name == "site" else "right", no_wrap=True)
    for site, row in quality["sites"].items():
        prevalence = row.get("prevalence")
        table.add_row(str(site), str(row.get("n_rows", "–")), str(row.get("n_events", "–")),
                      "–" if prevalence is None else f"{prevalence:.3f}")
    return table


def _emit(quality: dict[str, Any], payload: dict[str, Any], title: str,
          json_out: Path | None, report: Path | None, fail_on: str) -> None:
    """Print the tables, write the outputs, then fail when asked to."""
    console.print(sites_table(quality))
    if quality["findings"]:
        console.print(findings_table(quality, title))
    else:
        console.print("no findings", highlight=False)
    summary = quality["summary"]
    console.print(", ".join(f"{n} {severity}" for severity, n in summary.items()),
                  highlight=False)
    if report is not None:
        from fedcare.report._html import write_quality_report

        write_quality_report(quality, report, title=title)
        console.print(f"report: {report}", highlight=False)
    if json_out is not None:
        write_json(payload, json_out)
        console.print(f"json: {json_out}", highlight=False)
    serious = FAIL_ON[:FAIL_ON.index(fail_on) + 1] if fail_on != "never" else ()
    failing = sum(summary.get(s, 0) for s in serious)
    if failing:
        raise DataError(f"data quality: {failing} finding(s) of severity "
                        f"{' or '.join(serious)} (--fail-on {fail_on}); see the table above")


def data_check(
    data: Annotated[Path, typer.Option(help="CSV or Parquet table, one row per patient.",
                                       show_default=False)],
    site_column: Annotated[str, typer.Option(help="Column naming each row's hospital.",
                                             show_default=False)],
    target: Annotated[str | None, typer.Option(
        help="Binary outcome column (0/1, true/false, or two levels with --positive); "
             "without it no label figures are checked.")] = None,
    features: Annotated[str | None, typer.Option(
        help="Comma-separated feature columns (default: all other columns).")] = None,
    categorical: Annotated[str | None, typer.Option(
        help="Comma-separated columns to treat as categorical even if numeric.")] = None,
    positive: Annotated[str | None, typer.Option(
        help="The outcome level meaning 'event' when the target is not 0/1.")] = None,
    unit: Annotated[list[str] | None, typer.Option(
        "--unit", help="FEATURE=UNIT (UCUM, e.g. chol=mg/dL): the study's unit, which sets "
                       "the valid range; repeatable. Known quantities default to their "
                       "usual unit.")] = None,
    site_unit: Annotated[list[str] | None, typer.Option(
        "--site-unit", help="SITE:FEATURE=UNIT: one site records the feature in another "
                            "unit; its values are converted before the check; repeatable.")
    ] = None,
    min_cell: Annotated[int, typer.Option(
        min=1, help="Smallest number of patients any released count or quartile may "
                    "describe (1 = off).")] = 5,
    json_out: JsonOut = None,
    report: ReportOut = None,
    fail_on: FailOn = "blocking",
) -> None:
    """Check a table's data quality site by site, from protected aggregates only.

    Per site and feature: missingness, suspected missing-value codes (0, -1, 9, 99 ...),
    values outside the valid range, unit mismatches between sites, label prevalence.
    Each site's rows are summarised on their own and only small-cell protected
    aggregates are compared, as in a federation. Findings are blocking (a model would
    be wrong), warning or info; exit 3 when one is at least --fail-on.

    Example: fedcare data check --data heart.csv --site-column site --target target
    --json quality.json --report quality.html
    """
    from fedcare.data._table import read_frame
    from fedcare.quality import check_table

    with handle_errors():
        _check_outputs(json_out, report, fail_on)
        frame = read_frame(data)
        result = check_table(frame, site_column, target, features=_list(features) or None,
                             categorical=_list(categorical), units=_units(unit),
                             site_units=_site_units(site_unit), positive=positive,
                             min_cell=min_cell, source=str(data))
        quality = result.to_dict()
        _emit(quality, {"source": str(data), **quality},
              f"Data quality of {data.name} by {site_column}", json_out, report, fail_on)


def study_check(
    study: Annotated[Path, typer.Argument(help="Study TOML file (as for `fedcare study run "
                                               "--config`).", show_default=False)],
    json_out: JsonOut = None,
    report: ReportOut = None,
    fail_on: FailOn = "blocking",
    coordinator: Annotated[Path | None, typer.Option(
        help="Check on the live federation of this coordinator folder (fedcare "
             "coordinator init/start; docs/deploy.md) instead of in-process; the sites "
             "read their own tables.")] = None,
    sites_n: Annotated[int | None, typer.Option(
        "--sites", min=1, help="With --coordinator: the number of sites to wait for.")
    ] = None,
    timeout: Annotated[float, typer.Option(
        help="With --coordinator: seconds before the run is stopped.")] = 1800,
) -> None:
    """Check the data quality of a study's sites through the federation, before training.

    The coordinator agrees the schema with the sites, then every site sends only its
    small-cell protected quality aggregates (the Flower apps run in-process here, or on
    a live federation with --coordinator DIR --sites N). The same check runs before
    every `fedcare study run` unless the study sets quality_check = "off"; "refuse"
    stops a study on a blocking finding.

    Example: fedcare study check study.toml --json quality.json --report quality.html
    """
    from fedcare.study import StudyConfig, check_quality, site_names

    with handle_errors():
        _check_outputs(json_out, report, fail_on)
        live = live_federation(coordinator, sites_n)
        config = StudyConfig.from_toml(study)
        if live:
            assert coordinator is not None and sites_n is not None
            dim(f"data-quality check over {sites_n} sites (live federation: {coordinator})")
            result = check_quality(
                config, coordinator=coordinator, n_sites=sites_n, timeout=timeout,
                on_progress=dim)
        else:
            dim(f"data-quality check over {len(site_names(config))} sites (in-process)")
            result = check_quality(config)
        for name, reason in result["excluded_sites"].items():
            err_console.print(styled(f"site {name} would be excluded:", "yellow", f" {reason}"),
                              soft_wrap=True)
        quality = result["quality"]
        _emit(quality, {"study": str(study), "data": config.data, **quality,
                        "excluded_sites": result["excluded_sites"]},
              f"Data quality of study {study.name}", json_out, report, fail_on)


def register(data_app: typer.Typer, study_app: typer.Typer) -> None:
    """Add ``check`` to the ``data`` and ``study`` command groups (house epilog)."""
    data_app.command("check", epilog=EXIT_CODES)(data_check)
    study_app.command("check", epilog=EXIT_CODES)(study_check)
