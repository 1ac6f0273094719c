"""``fedcare analytics``: federated descriptive statistics, Kaplan-Meier and Cox regression.

Embedded (``--data FILE --site-column COL``): the table is checked as a whole, then
fedcare's Flower apps run on the in-process engine, one ClientApp per site: each site
reads its own rows of the table and answers the coordinator's ``query.*`` messages with
the protected aggregates of :mod:`fedcare.analytics` (see
:mod:`fedcare.federation.site.analytics`). Live (``--coordinator DIR --sites N``): the same
apps run on the running deployment; each site reads its own table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fedcare._format import did_you_mean, format_p, reference_levels
from fedcare.cli._common import (
    EXIT_CODES,
    check_output_file,
    console,
    dim,
    handle_errors,
    live_federation,
    warn,
    write_json,
)
from fedcare.config import DEFAULT_MIN_CELL, StudyConfig
from fedcare.exceptions import ConfigError

if TYPE_CHECKING:  # numpy is imported when a command runs, not for --help
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["analytics_app"]

analytics_app = typer.Typer(
    help="Federated statistics and survival analysis on a table with a site column: each "
         "site's rows are summarised on their own and only aggregates are combined.\n\n"
         "Example: fedcare analytics cox --data pbc3.csv --site-column fac_unit "
         "--duration time --event event --covariates num_age,num_bili,fac_sex",
    no_args_is_help=True)

# ----------------------------------------------------------------------------- options
Data = Annotated[Path | None, typer.Option(
    help="CSV or Parquet table, one row per patient (embedded). With --coordinator: the "
         "table each site reads unless its node config names its own.")]
SiteColumn = Annotated[str, typer.Option(help="Column naming each row's hospital.")]
Coordinator = Annotated[Path | None, typer.Option(
    help="Run on the live federation of this coordinator folder (fedcare coordinator "
         "init/start; docs/deploy.md) "
         "instead of embedded; the sites read their own tables.")]
Sites = Annotated[int | None, typer.Option(
    "--sites", min=2, help="With --coordinator: the number of sites to wait for.")]
Timeout = Annotated[float, typer.Option(help="With --coordinator: seconds before the run "
                                             "is stopped.")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Also write the result here.")]
ReportOut = Annotated[Path | None, typer.Option(
    "--report", help="Also write a self-contained HTML report here.")]
MinCell = Annotated[int, typer.Option(
    min=1, help="Smallest number of patients any released count may describe (1 = off).")]
Duration = Annotated[str, typer.Option(help="Follow-up time column (numeric, >= 0).")]
Event = Annotated[str, typer.Option(help="Event indicator column: 0/1 or true/false "
                                         "(1 = event, 0 = censored).")]

# ----------------------------------------------------------------------------- input checks
def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _check_outputs(*outputs: tuple[str, Path | None]) -> None:
    """Refuse unusable output paths before any work starts."""
    for option, path in outputs:
        check_output_file(option, path)
    paths = [p.resolve() for _, p in outputs if p is not None]
    if len(set(paths)) < len(paths):
        raise ConfigError("--json and --report name the same file")


#: Keys of a federated result that the embedded CLI's JSON does not carry.
_RUN_KEYS = ("message_rounds", "wall_seconds", "rows_dropped_suppressed_sites")


def _target(data: Path | None, coordinator: Path | None, sites: int | None) -> bool:
    """True for a live run (--coordinator); checks the options' combination."""
    if coordinator is None and data is None:
        raise ConfigError("pass --data FILE (embedded) or --coordinator DIR --sites N "
                          "(live federation)")
    return live_federation(coordinator, sites)


def _federate(request: dict[str, Any], data: Path | None, site_column: str, min_cell: int,
              coordinator: Path | None = None, n_sites: int | None = None,
              timeout: float = 1800, secure: bool | None = False) -> dict[str, Any]:
    """Run ``request`` through :func:`fedcare.study.run_analytics`: embedded on ``data``
    (checked as a whole first), or on the live federation of ``coordinator``.

    ``secure``: sum with SecAgg+ (``secure_aggregation``); ``None`` = on when there are
    at least 3 sites (the table's, or ``n_sites``)."""
    settings: dict[str, Any] = {"site_column": site_column, "min_cell": min_cell}
    if data is not None:
        settings["data"] = str(data.resolve())
    from fedcare.study import run_analytics  # heavy: imported when a command runs

    if coordinator is None:
        assert data is not None
        from fedcare.study._analytics import check_analytics_table

        checked = check_analytics_table(data, site_column, request)
        if secure and len(checked.sites) < 3:
            raise ConfigError(f"--secure-aggregation needs at least 3 sites (SecAgg+); "
                              f"'{site_column}' names {len(checked.sites)} with usable rows")
        use_secure = len(checked.sites) >= 3 if secure is None else secure
        config = StudyConfig(**settings, secure_aggregation=use_secure)
        result = run_analytics(config, checked.request, sites=checked.sites)
        if request["analysis"] != "describe":
            result["rows_dropped"] = checked.dropped
        for key in _RUN_KEYS:
            result.pop(key, None)
        result["data"] = data.name
        return result
    use_secure = (n_sites or 0) >= 3 if secure is None else secure
    config = StudyConfig(**settings, secure_aggregation=use_secure)
    result = run_analytics(config, request, coordinator=coordinator, n_sites=n_sites,
                           timeout=timeout,
                           on_progress=dim)
    result["data"] = data.name if data is not None else "(each site's own table)"
    if result.get("rows_dropped_suppressed_sites"):
        warn(f"{result['rows_dropped_suppressed_sites']} site(s) dropped 1..{min_cell - 1} "
              "row(s) each (not counted in rows_dropped)")
    return result


def _warn_excluded(result: Mapping[str, Any]) -> None:
    for name, reason in result.get("excluded_sites", {}).items():
        warn(f"site '{name}' excluded: {reason}")


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, non-finite floats to null."""
    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _emit(result: dict[str, Any], json_out: Path | None, report: Path | None) -> None:
    """Write the report, then the JSON; if the JSON fails, a new report is removed."""
    existed = report is not None and report.exists()
    if report is not None:
        from fedcare.report._analytics import write_analytics_report

        write_analytics_report(result, report)
    try:
        if json_out is not None:
            write_json(result, json_out)
    except BaseException:
        if report is not None and not existed:
            report.unlink(missing_ok=True)
        raise
    for option, path in (("report", report), ("json", json_out)):
        if path is not None:
            console.print(f"{option}: {path}", highlight=False)


def _g(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


# ----------------------------------------------------------------------------- describe
def _ranges(specs: Sequence[str], columns: Sequence[str], bins: int
            ) -> dict[str, NDArray[np.float64]]:
    import numpy as np

    out: dict[str, NDArray[np.float64]] = {}
    for spec in specs:
        parts = spec.rsplit(":", 2)
        if len(parts) != 3:
            raise ConfigError(f"--range expects COLUMN:LO:HI, got '{spec}'")
        col, lo_text, hi_text = parts
        try:
            lo, hi = float(lo_text), float(hi_text)
        except ValueError:
            raise ConfigError(f"--range {col}: LO and HI must be numbers") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConfigError(f"--range {col}: need finite LO < HI")
        if col not in columns:
            raise ConfigError(f"--range names '{col}', which is not in --columns"
                              + did_you_mean(col, columns))
        out[col] = np.linspace(lo, hi, bins + 1)
    return out


def _quantile_text(d: Mapping[str, Any], p: str) -> str:
    q = d["quantiles"].get(p)
    if q is None:
        return "–"
    return f"{_g(q['estimate'])} [{_g(q['lower'])}, {_g(q['upper'])}]"


def _describe_table(columns: Mapping[str, Mapping[str, Any]], k: int) -> Table:
    table = Table(title="Federated description (quantile [guaranteed bounds])")
    for name in ("column", "n", "missing", "mean", "sd", "25%", "median", "75%",
                 "sites left out"):
        table.add_column(name, justify="left" if name == "column" else "right",
                         no_wrap=name == "column")
    for col, d in columns.items():
        table.add_row(col, _g(d["n"]), _g(d["n_missing"]), _g(d["mean"]), _g(d["sd"]),
                      _quantile_text(d, "0.25"), _quantile_text(d, "0.5"),
                      _quantile_text(d, "0.75"), f"{d['sites_suppressed']} (n<{k})")
    return table


def _table1_table(t1: Mapping[str, Any]) -> Table:
    table = Table(title=f"Table 1 by {t1['group']} (<k: suppressed small cell; *: some "
                        "site's cell left out)")
    table.add_column("characteristic", no_wrap=True)
    for col in t1["columns"]:
        table.add_column(str(col), justify="right")
    for row in t1["rows"]:
        table.add_row(str(row), *(str(t1["cells"][row][c]["text"]) for c in t1["columns"]))
    return table


@analytics_app.command("describe", epilog=EXIT_CODES)
def describe(
    site_column: SiteColumn,
    columns: Annotated[str, typer.Option(
        help="Comma-separated columns to describe (numeric; with --group text columns "
             "are counted per level).")],
    data: Data = None,
    group: Annotated[str | None, typer.Option(
        help="Also build a Table 1 with one column per level of this column.")] = None,
    range_: Annotated[list[str] | None, typer.Option(
        "--range", help="COLUMN:LO:HI: public bin range for a column's quantiles "
                        "(repeatable). Without it the column uses the fixed default grid.")
    ] = None,
    bins: Annotated[int, typer.Option(min=1, help="Equal-width bins within each --range.")
                    ] = 50,
    json_out: JsonOut = None,
    report: ReportOut = None,
    min_cell: MinCell = DEFAULT_MIN_CELL,
    coordinator: Coordinator = None,
    sites_n: Sites = None,
    timeout: Timeout = 1800,
) -> None:
    """Count, mean, sd and quantiles per column, pooled from per-site summaries.

    Sites send counts, sums and squared deviations (exact pooled mean and sd) and
    cumulative counts at public bin edges; sites merge bins holding 1..k-1 patients, so
    each quantile comes with an interval guaranteed to hold the pooled one. No minimum or
    maximum is ever computed. The bin edges must not depend on the data (a pooled min/max
    would reveal two patients' values): they come from --range, or else from a fixed
    default grid, the same for every data set: every number with two significant digits
    from 0.001 to 990000, their negatives and 0 (bins 1 wide in [10, 100), 10 wide in
    [100, 1000), ...), i.e. about 10% relative resolution.

    Example: fedcare analytics describe --data pbc3.csv --site-column fac_unit
    --columns num_age,num_bili --range num_age:20:80 --group fac_tment
    """
    with handle_errors():
        _check_outputs(("--json", json_out), ("--report", report))
        cols = _list(columns)
        if not cols:
            raise ConfigError("--columns names no column")
        _target(data, coordinator, sites_n)
        if group in cols or site_column in cols:
            raise ConfigError("--columns must not hold the --group or --site-column column")
        edges = _ranges(range_ or [], cols, bins)
        request: dict[str, Any] = {
            "analysis": "describe", "columns": cols, "group": group, "bins": bins,
            "ranges": {c: [float(e[0]), float(e[-1])] for c, e in edges.items()}}
        result = _federate(request, data, site_column, min_cell, coordinator, sites_n,
                           timeout)
        result.pop("rows_dropped", None)
        result.pop("rows_dropped_suppressed_sites", None)
        result = _clean(result)
        if result["columns"]:
            console.print(_describe_table(result["columns"], min_cell))
        if "table1" in result:
            console.print(_table1_table(result["table1"]))
        _emit(result, json_out, report)


# ----------------------------------------------------------------------------- km
_EXACT_KM_WARNING = (
    "--exact: every site reveals each of its exact event times (the shared grid is their "
    "union), and at every event time its event count and number at risk (their totals "
    "only, with secure aggregation), with no small-cell protection; use it only where the "
    "study accepts this")


@analytics_app.command("km", epilog=EXIT_CODES)
def km(
    site_column: SiteColumn,
    duration: Duration,
    event: Event,
    data: Data = None,
    group: Annotated[str | None, typer.Option(
        help="One curve per level of this column, and the log-rank test across them.")
    ] = None,
    grid_step: Annotated[float | None, typer.Option(
        help="Public time grid step in the duration's unit (e.g. 30 for days): times are "
             "rounded up to it. Required unless --exact.")] = None,
    horizon: Annotated[float | None, typer.Option(
        help="Last grid time; later follow-up counts as censored there "
             "(default: 60 grid steps).")] = None,
    exact: Annotated[bool, typer.Option(
        "--exact", help="Opt in: curves at every exact event time (equal to a pooled "
                        "analysis). Reveals each site's event times; see above.")] = False,
    secure_aggregation: Annotated[bool | None, typer.Option(
        "--secure-aggregation/--no-secure-aggregation",
        help="Sum the sites' counts with Flower's SecAgg+ and apply the small-cell rule "
             "to the totals (default: on with at least 3 sites). Off: each site merges "
             "grid intervals on its own counts.")] = None,
    json_out: JsonOut = None,
    report: ReportOut = None,
    min_cell: MinCell = DEFAULT_MIN_CELL,
    coordinator: Coordinator = None,
    sites_n: Sites = None,
    timeout: Timeout = 1800,
) -> None:
    """Kaplan-Meier curves with 95% CIs (and a log-rank test with --group).

    Default (privacy-friendly): sites count events, censorings and patients at risk on
    a public grid (--grid-step, up to --horizon), times rounded up to it.

    With secure aggregation (default with >= 3 sites): the sites' counts are summed
    with SecAgg+, so the coordinator sees only the totals over all sites; it merges
    consecutive grid intervals of the totals (each group's on its own with --group) so
    that every released total event, censoring and at-risk count is 0 or >= k, and stops
    where no further such interval can be formed. A hospital with two events still
    contributes them. The log-rank test uses one set of merged intervals for all groups.
    (Embedded, SecAgg+ costs seconds for a few sites and about 3 minutes on 2 cores for
    67 sites.)

    Without it (--no-secure-aggregation, or 2 sites): each site merges grid intervals
    on its own counts and releases only the grid points that end its merged intervals;
    the curves use the points every site released -- with many small sites that may be
    t = 0 alone. What the grid reveals: which grid points each site released.

    Either way the curves and the log-rank test equal a pooled KM on the times rounded
    up to the released points. Where nothing beyond t = 0 can be released the command
    says so (no table, no curve of S = 1: that would read as "nobody died").

    --exact (opt-in): the grid is the union of every site's event times, so the curves,
    CIs and log-rank test equal a pooled analysis; this reveals when each site's events
    happened and small at-risk counts at the tail, with no small-cell protection.

    Example: fedcare analytics km --data pbc3.csv --site-column fac_unit --duration time
    --event event --group fac_tment --grid-step 90
    """
    with handle_errors():
        _check_outputs(("--json", json_out), ("--report", report))
        for option, value in (("--grid-step", grid_step), ("--horizon", horizon)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{option} must be a positive number")
        if not exact and grid_step is None:
            raise ConfigError("pass --grid-step S (a public time grid, in the unit of "
                              "--duration) or opt in to --exact")
        if exact and (grid_step is not None or horizon is not None):
            raise ConfigError("--grid-step and --horizon do not apply with --exact")
        _target(data, coordinator, sites_n)
        if not exact:
            assert grid_step is not None
            from fedcare.analytics import km_grid

            km_grid(grid_step, horizon)     # refuse a grid that is too fine before any work
        request: dict[str, Any] = {"analysis": "km", "duration": duration, "event": event,
                                   "group": group, "exact": exact, "grid_step": grid_step,
                                   "horizon": horizon}
        if exact:
            warn(_EXACT_KM_WARNING)
        result = _federate(request, data, site_column, min_cell, coordinator, sites_n,
                           timeout, secure_aggregation)
        _warn_excluded(result)
        result = _clean(result)
        _print_km(result)
        _emit(result, json_out, report)


_MODES = {"secure-totals": "secure aggregation: sites' counts summed, small-cell rule on "
                           "the totals",
          "per-site": "per-site merging: the points every site released",
          "exact": "exact (opt-in)", "exact-secure": "exact (opt-in), counts summed securely"}


def _quantiles_text(km_: Mapping[str, Any]) -> str:
    """Median survival per group, and the 25 % quantile where the median is not reached
    (S stays above 0.5 in the released follow-up)."""
    groups = km_["groups"]

    def per_group(key: str) -> str:
        return ", ".join(f"{lvl} "
                         + ("withheld" if g.get("reached") is None else
                            f"not reached by t={_g(g['reached'])}" if g.get(key) is None
                            else f"t={_g(g[key])}") for lvl, g in groups.items())

    text = "median survival (first t with S <= 0.5): " + per_group("median")
    if any(g.get("median") is None and g.get("reached") is not None
           for g in groups.values()):
        text += ("; the median not being reached (S stays above 0.5), the 25 % quantile "
                 "(first t with S <= 0.75): " + per_group("quantile_25"))
    return text


def _print_km(result: Mapping[str, Any]) -> None:
    summary = result["summary"]
    km_ = result["km"]
    k = result["min_cell"]
    if result.get("mode") in _MODES:
        console.print(f"mode: {_MODES[result['mode']]}", highlight=False)
    if km_.get("reached") is None:
        # nothing beyond t = 0: a table (or plot) of S = 1 would read as "nobody died"
        withheld = result.get("withheld") or (
            f"no survival estimate beyond t = 0 could be released (the curves use "
            f"{km_['released']} of {km_['n_grid']} grid points). This does not mean that "
            "nobody died.")
        console.print(f"suppressed: {withheld}", highlight=False, soft_wrap=True)
        return
    table = Table(title="Kaplan-Meier survival (95% CI)",
                  caption=f"t: {result['duration']}" + ("" if result["exact"] else
                                                         ", rounded up to the grid"))
    table.add_column("group", no_wrap=True)
    for t in summary["times"]:
        table.add_column(f"t={_g(t)}", justify="right")
    for lvl, s in summary["groups"].items():
        table.add_row(str(lvl), *("withheld" if v is None else f"{_g(v, 3)} ({_g(lo, 3)}–"
                             f"{_g(hi, 3)})" for v, lo, hi in
                             zip(s["survival"], s["lower"], s["upper"], strict=True)))
    console.print(table)
    groups = km_["groups"]
    own = {lvl: g.get("released", km_["released"]) for lvl, g in groups.items()}
    secure = result.get("mode") == "secure-totals"
    if not result["exact"] and km_["released"] < km_["n_grid"]:
        who = ("grid intervals of the totals were merged" + (", each group's on its own"
                                                             if len(groups) > 1 else "")
               if secure else "sites merged grid intervals")
        used = (f"{km_['released']} of {km_['n_grid']}" if len(set(own.values())) == 1
                else ", ".join(f"{lvl} {n}" for lvl, n in own.items())
                + f" of {km_['n_grid']}")
        console.print(f"the curves use {used} grid points: {who} so that no count "
                      f"describes 1..{k - 1} patients", highlight=False)
    console.print(f"follow-up reached: t={_g(km_['reached'])}; " + _quantiles_text(km_),
                  highlight=False)
    stops = {lvl: g.get("stop", result.get("stop")) for lvl, g in groups.items()}
    if any(v is not None for v in stops.values()):     # None: the whole grid is covered
        where = ("the totals" + (" of that group" if len(groups) > 1 else "")
                 + f" can form no further interval whose counts are 0 or >= {k}" if secure
                 else f"some site has fewer than {k} patients left to describe")
        at = (f"t={_g(next(iter(stops.values())))}" if len(set(stops.values())) == 1 else
              ", ".join(f"{lvl} " + ("–" if v is None else f"t={_g(v)}")
                        for lvl, v in stops.items()))
        console.print(f"curves stop at {at}: from there on {where}", highlight=False)
    events = sum(v or 0.0 for g in groups.values() for v in g["events"])
    if "logrank" in km_ and events > 0:
        lr = km_["logrank"]
        upto = "" if result["exact"] or lr.get("up_to") is None else (
            f" (on grid points common to all groups, up to t={_g(lr['up_to'])})")
        console.print(f"log-rank test across {result['group']}{upto}: chi2 = "
                      f"{_g(lr['statistic'])}, df = {lr['df']}, p = {format_p(lr['p_value'])}",
                      highlight=False)
    elif "logrank" in km_:
        console.print("log-rank test: no events in the released part of the curves")


# ----------------------------------------------------------------------------- cox
_EXACT_COX_WARNING = (
    "--exact: the unstratified fit makes every site reveal each of its exact event times "
    "and, in every Newton round, weighted covariate sums over its risk set at each event "
    "time (with one event at a time these give that patient's covariates); use it only "
    "where the study accepts this")


@analytics_app.command("cox", epilog=EXIT_CODES)
def cox(
    site_column: SiteColumn,
    duration: Duration,
    event: Event,
    covariates: Annotated[str, typer.Option(help="Comma-separated covariate columns.")],
    data: Data = None,
    categorical: Annotated[str | None, typer.Option(
        help="Comma-separated covariates to one-hot encode even if numeric (text columns "
             "always are).")] = None,
    ties: Annotated[str, typer.Option(help="Tie handling: efron or breslow.")] = "efron",
    stratify_by_site: Annotated[bool | None, typer.Option(
        "--stratify-by-site/--no-stratify-by-site",
        help="One baseline hazard per site (default: on, unless --exact).")] = None,
    exact: Annotated[bool, typer.Option(
        "--exact", help="Opt in to the unstratified fit (one baseline hazard for all "
                        "sites, equal to a pooled Cox model); reveals per-event-time "
                        "risk-set sums, see above.")] = False,
    json_out: JsonOut = None,
    report: ReportOut = None,
    min_cell: MinCell = DEFAULT_MIN_CELL,
    coordinator: Coordinator = None,
    sites_n: Sites = None,
    timeout: Timeout = 1800,
) -> None:
    """Cox proportional-hazards regression by federated Newton-Raphson.

    Default (privacy-friendly): stratified by site; each round a site sends only its own
    log partial likelihood, gradient and Hessian (sums over all its patients). Equals a
    pooled Cox model with strata=site.

    --exact (opt-in): unstratified, equal to a pooled Cox model; each site reveals its
    event times and risk-set sums at every event time (see the warning it prints).

    Categorical covariates (text columns, or --categorical) are one-hot encoded with the
    first level (natural sort order) dropped and named col[T.level]; the levels are the
    union over sites (a real federation would agree them in advance). Rows with a missing
    covariate are left out; sites with fewer than --min-cell complete rows are excluded.

    Example: fedcare analytics cox --data pbc3.csv --site-column fac_unit --duration time
    --event event --covariates num_age,num_bili,num_alb,fac_sex,fac_tment
    --categorical fac_sex,fac_tment --report cox.html
    """
    with handle_errors():
        _check_outputs(("--json", json_out), ("--report", report))
        if ties not in ("efron", "breslow"):
            raise ConfigError(f"--ties must be efron or breslow, got '{ties}'")
        covs, cats = _list(covariates), _list(categorical)
        if not covs:
            raise ConfigError("--covariates names no column")
        if len(set(covs)) < len(covs):
            raise ConfigError("--covariates names a column twice")
        stray = [c for c in cats if c not in covs]
        if stray:
            raise ConfigError(f"--categorical names {stray}, which are not in --covariates")
        stratified = (not exact) if stratify_by_site is None else stratify_by_site
        if not stratified and not exact:
            raise ConfigError("an unstratified fit (--no-stratify-by-site) reveals each "
                              "site's risk-set sums at every event time: add --exact to "
                              "accept this")
        clash = {duration, event, site_column} & set(covs)
        if clash:
            raise ConfigError(f"--covariates must not hold {sorted(clash)}")
        _target(data, coordinator, sites_n)
        request: dict[str, Any] = {"analysis": "cox", "duration": duration, "event": event,
                                   "covariates": covs, "categorical": cats, "ties": ties,
                                   "stratified": stratified, "exact": exact}
        if exact and stratified:
            warn("--exact is not needed for a site-stratified fit: ignored")
        elif exact:
            warn(_EXACT_COX_WARNING)
        result = _federate(request, data, site_column, min_cell, coordinator, sites_n,
                           timeout)
        _warn_excluded(result)
        result = _clean(result)
        _print_cox(result)
        _emit(result, json_out, report)


def _print_cox(result: Mapping[str, Any]) -> None:
    kind = "stratified by site" if result["stratified"] else "unstratified (--exact)"
    table = Table(title=f"Federated Cox model, {kind}, {result['ties']} ties")
    for col in ("covariate", "coef", "se", "HR", "95% CI", "p"):
        table.add_column(col, justify="left" if col == "covariate" else "right",
                         no_wrap=col == "covariate")
    for n in result["coef"]:
        table.add_row(str(n), f"{result['coef'][n]:.4f}", f"{result['se'][n]:.4f}",
                      f"{result['hr'][n]:.3f}",
                      f"{result['ci_lower'][n]:.3f}–{result['ci_upper'][n]:.3f}",
                      format_p(result["p"][n]))
    console.print(table)
    if result.get("levels"):
        console.print(reference_levels(result["levels"]) + " (each col[T.level] is "
                      "against its reference)", highlight=False)
    console.print(f"{result['n']} patients at {len(result['sites'])} sites; "
                  f"{result['rounds']} Newton rounds (+{result['setup_rounds']} set-up), "
                  f"{result['seconds']:.2f} s, converged: {result['converged']}",
                  highlight=False)


@analytics_app.command("recalibrate", epilog=EXIT_CODES)
def recalibrate(
    site_column: SiteColumn,
    equation: Annotated[str, typer.Option(help="The risk equation: framingham_cvd_2008, "
                                               "pce_ascvd_2013 or prevent_cvd_2023.")],
    event: Annotated[str, typer.Option(help="Observed outcome over the equation's horizon "
                                            "(10 years): 0/1 or true/false.")],
    data: Data = None,
    column: Annotated[list[str] | None, typer.Option(
        "--column", help="FIELD=COLUMN: the table's column for a profile field (repeat), "
                         "e.g. --column systolic_bp=sysBP; default: columns named after the "
                         "fields (age, sex, systolic_bp, bp_treated, smoker, diabetes, "
                         "total_cholesterol, hdl_cholesterol, bmi, egfr, statin, race).",
        show_default=False)] = None,
    version: Annotated[str | None, typer.Option(
        "--version", help="framingham_cvd_2008 only: lipid (total and HDL cholesterol) or "
                          "bmi (the office-based model).", show_default=False)] = None,
    male_code: Annotated[str | None, typer.Option(
        "--male-code", help="For a coded sex column: the value meaning male (e.g. 1); "
                            "default: the column holds female/male.",
        show_default=False)] = None,
    secure_aggregation: Annotated[bool, typer.Option(
        "--secure-aggregation", help="Sum the sites' replies with SecAgg+ (>= 3 sites): "
                                     "the coordinator sees only totals.")] = False,
    json_out: JsonOut = None,
    min_cell: MinCell = DEFAULT_MIN_CELL,
    coordinator: Coordinator = None,
    sites_n: Sites = None,
    timeout: Timeout = 1800,
) -> None:
    """Recalibrate a published risk equation to the federation's own population, from
    the sites' sums only (SCORE2's regional method): cloglog(p_new) = a + b *
    cloglog(p_equation), a for the baseline risk and b for the slope, fitted by Fisher
    scoring in which each site sends per round a 2-vector, a 2x2 matrix and its counts.
    Reports a, b and the observed/expected ratio before and after. Numbers must be in
    the profile's units (mg/dL, mmHg); rows the equation cannot score are left out and
    counted. Use a and b with `fedcare assess` as the federation's calibrated risk.

    Example: fedcare analytics recalibrate --data framingham_sites.csv --site-column site
    --equation framingham_cvd_2008 --version bmi --event chd10
    """
    with handle_errors():
        _check_outputs(("--json", json_out))
        columns: dict[str, str] = {}
        for item in column or []:
            field, sep, col = item.partition("=")
            if not sep or not field.strip() or not col.strip():
                raise ConfigError(f"--column expects FIELD=COLUMN, got '{item[:60]}'")
            columns[field.strip()] = col.strip()
        _target(data, coordinator, sites_n)
        request: dict[str, Any] = {"analysis": "recalibrate", "equation": equation,
                                   "event": event, "columns": columns,
                                   "male_code": male_code, "version": version}
        result = _clean(_federate(request, data, site_column, min_cell, coordinator,
                                  sites_n, timeout, secure=secure_aggregation))
        _warn_excluded(result)
        shown = equation + (f" ({version})" if version else "")
        table = Table(title=f"{shown} recalibrated to {len(result['sites'])} sites "
                            f"({result['n']} people, {result['events']} events)")
        for col in ("", "O/E", "expected events"):
            table.add_column(col)
        table.add_row("as published", f"{result['observed_expected_before']:.3f}",
                      f"{result['expected_before']:.1f}")
        table.add_row("recalibrated", f"{result['observed_expected_after']:.3f}",
                      f"{result['expected_after']:.1f}")
        console.print(table)
        console.print(f"a = {result['a']:.4f} (baseline), b = {result['b']:.4f} (slope); "
                      f"{result['rounds']} rounds, converged: {result['converged']}",
                      highlight=False)
        if json_out is not None:
            write_json(result, json_out)
