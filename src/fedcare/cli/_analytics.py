"""``fedcare analytics``: federated descriptive statistics, Kaplan-Meier and Cox regression.

The table is split by its site column and each ``site_*`` function of
:mod:`fedcare.analytics` is called on that site's rows only; the coordinator's
``combine_*`` function sees nothing but the sites' messages. Running all of it on one
machine is the embedded mode (a real federation calls the same functions in Flower apps).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from numpy.typing import NDArray
from rich.markup import escape
from rich.table import Table

from fedcare.analytics import (
    DEFAULT_MIN_CELL,
    Description,
    KaplanMeier,
    combine_describe,
    combine_km,
    combine_table1,
    design_matrix,
    federated_cox,
    site_describe,
    site_event_times,
    site_km,
    site_table1,
    union_grid,
)
from fedcare.cli._common import (
    EXIT_CODES,
    check_output_file,
    console,
    err_console,
    handle_errors,
    write_json,
)
from fedcare.data._table import MAX_LEVELS, _did_you_mean, _rows, read_frame
from fedcare.exceptions import ConfigError, DataError

__all__ = ["analytics_app", "default_edges"]

analytics_app = typer.Typer(
    help="Federated statistics and survival analysis on a table with a site column: each "
         "site's rows are summarised on their own and only aggregates are combined.\n\n"
         "Example: fedcare analytics cox --data pbc3.csv --site-column fac_unit "
         "--duration time --event event --covariates num_age,num_bili,fac_sex",
    no_args_is_help=True)

# ----------------------------------------------------------------------------- options
Data = Annotated[Path, typer.Option(help="CSV or Parquet table, one row per patient.")]
SiteColumn = Annotated[str, typer.Option(help="Column naming each row's hospital.")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Also write the result here.")]
ReportOut = Annotated[Path | None, typer.Option(
    "--report", help="Also write a self-contained HTML report here.")]
MinCell = Annotated[int, typer.Option(
    min=1, help="Smallest number of patients any released count may describe (1 = off).")]
Duration = Annotated[str, typer.Option(help="Follow-up time column (numeric, >= 0).")]
Event = Annotated[str, typer.Option(help="Event indicator column: 0/1 or true/false "
                                         "(1 = event, 0 = censored).")]

#: Two-significant-digit magnitudes: every m * 10^e for m in 10..99 (0.001 .. 990000).
_DEFAULT_EXPONENTS = range(-4, 5)


def default_edges() -> NDArray[np.float64]:
    """The public default bin grid of ``describe``: the same for every data set.

    Every number with two significant digits from 0.001 to 990000, their negatives and
    0 (1621 edges): bins are 1 wide in [10, 100), 10 wide in [100, 1000), and so on, so
    a quantile's error bound is at most ~10% of its magnitude (more where sites merged
    small bins). Values beyond +-990000 fall in open end bins.
    """
    pos = np.array(sorted({float(f"{m}e{e}") for e in _DEFAULT_EXPONENTS
                           for m in range(10, 100)}))
    return np.concatenate((-pos[::-1], [0.0], pos))


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


def _require(frame: pd.DataFrame, path: Path, columns: Mapping[str, Sequence[str]]) -> None:
    """Every column named by an option exists (else: did you mean)."""
    names = [str(c) for c in frame.columns]
    for option, cols in columns.items():
        for col in cols:
            if col not in frame.columns:
                raise DataError(f"{path}: column '{col}' ({option}) not found"
                                + _did_you_mean(col, names))


def _numeric(frame: pd.DataFrame, col: str, option: str) -> pd.Series:
    """``col`` as float (NaN = missing), or a DataError naming the offending rows."""
    raw = frame[col]
    if raw.dtype == bool:
        return raw.astype(np.float64)
    values = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & values.isna()).to_numpy()
    if bad.any():
        raise DataError(f"column '{col}' ({option}) is not numeric: {int(bad.sum())} "
                        f"value(s) are not numbers ({_rows(bad)})")
    return values.astype(np.float64)


def _natural(level: str) -> tuple[int, float, str]:
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def _labels(series: pd.Series) -> pd.Series:
    """Values as text labels (integral numbers without ``.0``), missing kept as NaN."""
    def label(v: Any) -> Any:
        if pd.isna(v):
            return np.nan
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v)
    return series.astype(object).map(label)


def _levels(sites: Mapping[str, pd.DataFrame], col: str, option: str) -> list[str]:
    """Union of the sites' levels of ``col``, naturally sorted.

    In a real federation every site would send its level names in a set-up round (or the
    study would agree them in advance); here they are read from each site's rows.
    """
    found: set[str] = set()
    for rows in sites.values():
        found.update(str(v) for v in rows[col].dropna().unique())
    if len(found) > MAX_LEVELS:
        raise DataError(f"column '{col}' ({option}) has {len(found)} distinct values, more "
                        f"than {MAX_LEVELS}: it looks like an identifier or free text")
    if not found:
        raise DataError(f"column '{col}' ({option}) has no values")
    return sorted(found, key=_natural)


def _is_text(frame: pd.DataFrame, col: str) -> bool:
    raw = frame[col]
    if raw.dtype == bool or pd.api.types.is_numeric_dtype(raw):
        return False
    values = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & values.isna()).to_numpy()
    n = int(raw.notna().sum())
    if bad.any() and n and bad.sum() <= 0.1 * n:
        raise DataError(f"column '{col}' is mostly numeric but {int(bad.sum())} value(s) are "
                        f"not numbers ({_rows(bad)}); fix them, or list it in --categorical")
    return bool(bad.any())


def _load(data: Path, site_column: str, columns: Mapping[str, Sequence[str]]
          ) -> pd.DataFrame:
    frame = read_frame(data)
    frame.columns = [str(c) for c in frame.columns]
    _require(frame, data, {"--site-column": [site_column], **columns})
    no_site = frame[site_column].isna().to_numpy()
    if no_site.any():
        raise DataError(f"column '{site_column}' (--site-column) is empty in "
                        f"{int(no_site.sum())} row(s) ({_rows(no_site)}); every row needs a "
                        "site")
    frame[site_column] = _labels(frame[site_column])
    return frame


def _split(frame: pd.DataFrame, site_column: str) -> dict[str, pd.DataFrame]:
    """Each site's own rows (the only rows its ``site_*`` call gets)."""
    sites = {str(name): rows.reset_index(drop=True)
             for name, rows in frame.groupby(site_column, sort=False)}
    if len(sites) < 2:
        raise DataError(f"column '{site_column}' (--site-column) names {len(sites)} site; "
                        "federated analytics needs at least 2")
    return {name: sites[name] for name in sorted(sites, key=_natural)}


def _survival(frame: pd.DataFrame, duration: str, event: str) -> tuple[pd.DataFrame, int]:
    """Validated float ``duration`` and 0/1 ``event``; rows missing either are dropped."""
    frame = frame.copy()
    t = _numeric(frame, duration, "--duration")
    negative = (t < 0).to_numpy() | np.isinf(t.to_numpy())
    if negative.any():
        raise DataError(f"column '{duration}' (--duration) holds {int(negative.sum())} "
                        f"negative or infinite value(s) ({_rows(negative)})")
    raw = frame[event]
    if raw.dtype == bool:
        e = raw.astype(np.float64)
    else:
        text = raw.astype(object).map(lambda v: str(v).strip().lower() if pd.notna(v) else v)
        mapped = text.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0,
                           "0.0": 0.0})
        bad = (raw.notna() & mapped.isna()).to_numpy()
        if bad.any():
            raise DataError(f"column '{event}' (--event) holds {int(bad.sum())} value(s) "
                            f"other than 0/1 or true/false ({_rows(bad)})")
        e = mapped.astype(np.float64)
    frame[duration], frame[event] = t, e
    keep = frame[duration].notna() & frame[event].notna()
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def _warn(text: str) -> None:
    err_console.print(f"[yellow]warning:[/] {text}", highlight=False, soft_wrap=True)


def _exclude_small(sites: dict[str, pd.DataFrame], k: int, what: str
                   ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Leave out (and name) sites with fewer than ``k`` usable rows."""
    excluded = {name: f"fewer than {k} {what}" for name, rows in sites.items()
                if len(rows) < k}
    for name, reason in excluded.items():
        _warn(f"site '{name}' excluded: {reason}")
    kept = {n: r for n, r in sites.items() if n not in excluded}
    if len(kept) < 2:
        raise DataError(f"{len(kept)} site(s) have at least {k} {what}; federated analytics "
                        "needs at least 2")
    return kept, excluded


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, non-finite floats to null."""
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
                              + _did_you_mean(col, columns))
        out[col] = np.linspace(lo, hi, bins + 1)
    return out


def _quantile_text(d: Mapping[str, Any], p: str) -> str:
    q = d["quantiles"].get(p)
    if q is None:
        return "–"
    return f"{_g(q['estimate'])} [{_g(q['lower'])}, {_g(q['upper'])}]"


def _describe_table(columns: Mapping[str, Mapping[str, Any]], k: int) -> Table:
    table = Table(title=escape("Federated description (quantile [guaranteed bounds])"))
    for name in ("column", "n", "missing", "mean", "sd", "25%", "median", "75%",
                 "sites left out"):
        table.add_column(name, justify="left" if name == "column" else "right",
                         no_wrap=name == "column")
    for col, d in columns.items():
        table.add_row(*(escape(c) for c in (
            col, _g(d["n"]), _g(d["n_missing"]), _g(d["mean"]), _g(d["sd"]),
            _quantile_text(d, "0.25"), _quantile_text(d, "0.5"), _quantile_text(d, "0.75"),
            f"{d['sites_suppressed']} (n<{k})")))
    return table


def _table1_table(t1: Mapping[str, Any]) -> Table:
    table = Table(title=f"Table 1 by {t1['group']} (<k: suppressed small cell; *: some "
                        "site's cell left out)")
    table.add_column("characteristic", no_wrap=True)
    for col in t1["columns"]:
        table.add_column(escape(col), justify="right")
    for row in t1["rows"]:
        table.add_row(escape(row), *(escape(t1["cells"][row][c]["text"])
                                     for c in t1["columns"]))
    return table


@analytics_app.command("describe", epilog=EXIT_CODES)
def describe(
    data: Data,
    site_column: SiteColumn,
    columns: Annotated[str, typer.Option(
        help="Comma-separated columns to describe (numeric; with --group text columns "
             "are counted per level).")],
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
        frame = _load(data, site_column, {"--columns": cols,
                                          "--group": [group] if group else []})
        if group in cols or site_column in cols:
            raise ConfigError("--columns must not hold the --group or --site-column column")
        edges = _ranges(range_ or [], cols, bins)
        text = {c for c in cols if _is_text(frame, c)}
        if text and group is None:
            raise DataError(f"column(s) {sorted(text)} (--columns) are not numeric; describe "
                            "counts text columns only in a Table 1 (add --group)")
        for c in text:
            frame[c] = _labels(frame[c])
        numeric = [c for c in cols if c not in text]
        for c in numeric:
            frame[c] = _numeric(frame, c, "--columns")
        if group is not None:
            frame[group] = _labels(frame[group])
        sites = _split(frame, site_column)
        result: dict[str, Any] = {"analysis": "describe", "data": data.name,
                                  "site_column": site_column, "sites": list(sites),
                                  "min_cell": min_cell, "columns": {}}
        grid = default_edges()
        for c in numeric:
            e = edges.get(c, grid)
            msgs = [site_describe(rows[c].to_numpy(dtype=np.float64), e, min_cell=min_cell)
                    for rows in sites.values()]
            d: Description = combine_describe(msgs, e, quantiles=(0.05, 0.25, 0.5, 0.75, 0.95),
                                              min_cell=min_cell)
            result["columns"][c] = {**d.to_dict(),
                                    "edges_from": "--range" if c in edges else "default grid"}
        if group is not None:
            missing = int(frame[group].isna().sum())
            if missing:
                _warn(f"{missing} row(s) with no '{group}' left out of the Table 1")
            levels = _levels(sites, group, "--group")
            cat = {c: _levels(sites, c, "--columns") for c in sorted(text)}
            msgs = [site_table1(rows[rows[group].notna()], group, levels, numeric=numeric,
                                categorical=cat, min_cell=min_cell)
                    for rows in sites.values()]
            t1 = combine_table1(msgs, levels, numeric=numeric, categorical=cat,
                                min_cell=min_cell)
            result["table1"] = {"group": group, "rows": list(t1.rows),
                                "columns": list(t1.columns), "cells": t1.to_dict()}
        result = _clean(result)
        if result["columns"]:
            console.print(_describe_table(result["columns"], min_cell))
        if "table1" in result:
            console.print(_table1_table(result["table1"]))
        _emit(result, json_out, report)


# ----------------------------------------------------------------------------- km
_EXACT_KM_WARNING = (
    "--exact: every site reveals each of its exact event times (the shared grid is their "
    "union), and at every event time its event count and number at risk, with no "
    "small-cell protection; use it only where the study accepts this")


def _survival_sites(data: Path, site_column: str, duration: str, event: str,
                    extra: Mapping[str, Sequence[str]]) -> tuple[pd.DataFrame, int]:
    frame = _load(data, site_column, {"--duration": [duration], "--event": [event],
                                      **extra})
    return _survival(frame, duration, event)


def _km_summary(km: KaplanMeier, exact: bool) -> tuple[list[float], dict[str, Any]]:
    """Survival (95% CI) of each group at up to 6 times."""
    followed = np.flatnonzero((km.at_risk.sum(axis=0) > 0) & (km.grid > 0))
    if followed.size == 0:
        return [], {}
    end = float(km.grid[followed[-1]])
    if exact:   # round times: the exact event times need not be printed
        times = sorted({float(f"{t:.2g}") for t in np.linspace(0, end, 6)[1:]})
    else:       # public grid points
        idx = np.unique(np.linspace(0, followed.size - 1, 5).round().astype(int))
        times = [float(km.grid[followed[i]]) for i in idx]
    out = {}
    for i, lvl in enumerate(km.group_levels):
        s = km.at(times, i)
        out[str(lvl)] = {"survival": s[0].tolist(), "lower": s[1].tolist(),
                         "upper": s[2].tolist()}
    return times, out


@analytics_app.command("km", epilog=EXIT_CODES)
def km(
    data: Data,
    site_column: SiteColumn,
    duration: Duration,
    event: Event,
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
    json_out: JsonOut = None,
    report: ReportOut = None,
    min_cell: MinCell = DEFAULT_MIN_CELL,
) -> None:
    """Kaplan-Meier curves with 95% CIs (and a log-rank test with --group).

    Default (privacy-friendly): sites count events and patients at risk on a public grid
    (--grid-step, up to --horizon), and each site stops releasing counts at the first grid
    point where any count would describe 1..k-1 patients; the pooled curves stop at the
    earliest such point and equal a pooled KM on the rounded-up times.

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
        frame, dropped = _survival_sites(data, site_column, duration, event,
                                         {"--group": [group] if group else []})
        levels: list[str] | None = None
        if group is not None:
            frame[group] = _labels(frame[group])
            no_group = frame[group].isna()
            dropped += int(no_group.sum())
            frame = frame.loc[~no_group].reset_index(drop=True)
        if dropped:
            _warn(f"{dropped} row(s) with a missing {duration}, {event}"
                  + (f" or {group}" if group else "") + " left out")
        sites, excluded = _exclude_small(_split(frame, site_column), min_cell, "usable rows")
        if group is not None:
            levels = _levels(sites, group, "--group")
        if exact:
            _warn(_EXACT_KM_WARNING)
            grid = union_grid([site_event_times(rows[duration], rows[event])
                               for rows in sites.values()])
        else:
            assert grid_step is not None
            steps = math.ceil((horizon if horizon is not None else 60 * grid_step)
                              / grid_step)
            if steps > 100_000:
                raise ConfigError("--horizon / --grid-step gives more than 100000 grid "
                                  "points")
            grid = grid_step * np.arange(0, steps + 1, dtype=np.float64)
        msgs = [site_km(rows[duration], rows[event], grid,
                        groups=rows[group] if group else None, group_levels=levels,
                        exact=exact, min_cell=min_cell)
                for rows in sites.values()]
        fit = combine_km(msgs, grid, group_levels=levels if levels else ["all"])
        times, at = _km_summary(fit, exact)
        result = _clean({
            "analysis": "km", "data": data.name, "site_column": site_column,
            "duration": duration, "event": event, "group": group, "exact": exact,
            "grid_step": grid_step, "min_cell": min_cell, "sites": list(sites),
            "excluded_sites": excluded, "rows_dropped": dropped, "stop": fit.stop,
            "km": fit.to_dict(), "summary": {"times": times, "groups": at},
        })
        _print_km(result)
        _emit(result, json_out, report)


def _print_km(result: Mapping[str, Any]) -> None:
    summary = result["summary"]
    table = Table(title="Kaplan-Meier survival (95% CI)",
                  caption=f"t: {result['duration']}" + ("" if result["exact"] else
                                                         ", rounded up to the grid"))
    table.add_column("group", no_wrap=True)
    for t in summary["times"]:
        table.add_column(f"t={_g(t)}", justify="right")
    for lvl, s in summary["groups"].items():
        table.add_row(lvl, *(f"{_g(v, 3)} ({_g(lo, 3)}–{_g(hi, 3)})" for v, lo, hi in
                             zip(s["survival"], s["lower"], s["upper"], strict=True)))
    console.print(table)
    km_ = result["km"]
    if km_["released"] < km_["n_grid"]:
        console.print(f"curves stop at t={_g(result['stop'])}: from there on some site would "
                      f"release a count of 1..{result['min_cell'] - 1} patients; a coarser "
                      "--grid-step releases more", highlight=False)
    events = sum(sum(g["events"]) for g in km_["groups"].values())
    if "logrank" in km_ and events > 0:
        lr = km_["logrank"]
        upto = "" if km_["released"] == km_["n_grid"] else f" (up to t={_g(result['stop'])})"
        console.print(f"log-rank test across {escape(str(result['group']))}{upto}: chi2 = "
                      f"{_g(lr['statistic'])}, df = {lr['df']}, p = {_g(lr['p_value'])}",
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
    data: Data,
    site_column: SiteColumn,
    duration: Duration,
    event: Event,
    covariates: Annotated[str, typer.Option(help="Comma-separated covariate columns.")],
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
        frame, dropped = _survival_sites(data, site_column, duration, event,
                                         {"--covariates": covs})
        if exact and stratified:
            _warn("--exact is not needed for a site-stratified fit: ignored")
        elif exact:
            _warn(_EXACT_COX_WARNING)
        cat_cols = [c for c in covs if c in cats or _is_text(frame, c)]
        for c in covs:
            frame[c] = _labels(frame[c]) if c in cat_cols else _numeric(frame, c,
                                                                        "--covariates")
        complete = frame[covs].notna().all(axis=1)
        dropped += int((~complete).sum())
        if dropped:
            _warn(f"{dropped} row(s) with a missing {duration}, {event} or covariate left out")
        frame = frame.loc[complete].reset_index(drop=True)
        sites, excluded = _exclude_small(_split(frame, site_column), min_cell,
                                         "complete rows")
        levels = {c: _levels(sites, c, "--covariates") for c in cat_cols}
        site_data: list[tuple[NDArray[np.float64], NDArray[np.float64],
                              NDArray[np.float64]]] = []
        names: list[str] = []
        for rows in sites.values():     # each site builds its own design matrix
            x, names, _ = design_matrix(rows, covs, levels)
            site_data.append((x, rows[duration].to_numpy(dtype=np.float64),
                              rows[event].to_numpy(dtype=np.float64)))
        fit = federated_cox(site_data, names, ties=ties,  # type: ignore[arg-type]
                            stratified=stratified, min_cell=min_cell)
        if not fit.converged:
            _warn(f"Newton-Raphson did not converge in {fit.rounds} rounds")
        out = fit.to_dict()
        out["ci"] = {n: [out["ci_lower"][n], out["ci_upper"][n]] for n in names}
        result = _clean({
            "analysis": "cox", "data": data.name, "site_column": site_column,
            "duration": duration, "event": event, "covariates": covs, "levels": levels,
            "exact": exact, "min_cell": min_cell, "sites": list(sites),
            "excluded_sites": excluded, "rows_dropped": dropped,
            "n": int(sum(len(r) for r in sites.values())), **out,
        })
        _print_cox(result)
        _emit(result, json_out, report)


def _print_cox(result: Mapping[str, Any]) -> None:
    kind = "stratified by site" if result["stratified"] else "unstratified (--exact)"
    table = Table(title=f"Federated Cox model, {kind}, {result['ties']} ties")
    for col in ("covariate", "coef", "se", "HR", "95% CI", "p"):
        table.add_column(col, justify="left" if col == "covariate" else "right",
                         no_wrap=col == "covariate")
    for n in result["coef"]:
        table.add_row(n, f"{result['coef'][n]:.4f}", f"{result['se'][n]:.4f}",
                      f"{result['hr'][n]:.3f}",
                      f"{result['ci_lower'][n]:.3f}–{result['ci_upper'][n]:.3f}",
                      f"{result['p'][n]:.3g}")
    console.print(table)
    console.print(f"{result['n']} patients at {len(result['sites'])} sites; "
                  f"{result['rounds']} Newton rounds (+{result['setup_rounds']} set-up), "
                  f"{result['seconds']:.2f} s, converged: {result['converged']}",
                  highlight=False)
