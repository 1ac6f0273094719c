"""Render a federated analytics result (``fedcare analytics ... --json``) as one HTML file.

Kaplan-Meier curves per group (steps with pointwise 95% CI bands), a forest plot of
Cox hazard ratios (log axis, line at 1) and the result's tables. Figures are base64 PNGs
drawn with matplotlib's Agg canvas (no pyplot); the file references no external URL.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping
from typing import Any

import jinja2
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from fedcare._format import format_p, reference_levels
from fedcare._io import write_text_atomic
from fedcare.report._html import STYLE, _fmt, _num, _png

__all__ = ["write_analytics_report"]

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
""" + STYLE + """</head><body>
<h1>{{ title }}</h1>
<p class="note">What this is: each of the {{ n_sites }} sites ({{ sites }}) summarised its
own rows; only aggregates reached the coordinator, which combined them.
{{ privacy }}</p>
{% if excluded %}<h2>Excluded sites</h2><ul>
{% for site, reason in excluded %}<li><strong>{{ site }}</strong>: {{ reason }}</li>{% endfor %}
</ul>{% endif %}
{% for t in tables %}<h2>{{ t.title }}</h2>
<table><thead><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for r in t.rows %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{% endfor %}
{% for f in figures %}<figure><img src="data:image/png;base64,{{ f.png }}" alt="{{ f.alt }}">
<figcaption>Figure {{ loop.index }}. {{ f.caption }}</figcaption></figure>
{% endfor %}</body></html>
"""


def _values(seq: Any) -> list[float]:
    return [math.nan if (v := _num(x)) is None else v for x in (seq or [])]


def _km_figure(result: Mapping[str, Any]) -> Figure:
    km = result["km"]
    grid = _values(km["grid"])
    fig = Figure(figsize=(8.0, 5.0), layout="constrained")
    ax = fig.subplots()
    for i, (lvl, g) in enumerate(km["groups"].items()):
        colour = f"C{i % 10}"
        # draw up to the last grid time with anyone at risk (a flat tail beyond would
        # claim follow-up nobody had), or to the first withheld time
        at_risk = _values(g["at_risk"])
        last = max((i for i, n in enumerate(at_risk) if n > 0), default=-1) + 1
        xs = [0.0, *grid[:last]]
        surv = [1.0, *_values(g["survival"])[:last]]
        lo = [1.0, *_values(g["lower"])[:last]]
        hi = [1.0, *_values(g["upper"])[:last]]
        stop = _num(result.get("stop"))
        if stop is not None and last == len(grid):  # last released step lasts until stop
            xs, surv, lo, hi = [*xs, stop], [*surv, surv[-1]], [*lo, lo[-1]], [*hi, hi[-1]]
        label = lvl if result.get("group") is None else f"{result['group']} = {lvl}"
        ax.step(xs, surv, where="post", color=colour, lw=1.6, label=label)
        ax.fill_between(xs, lo, hi, step="post", color=colour, alpha=0.2, lw=0)
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(str(result.get("duration", "time")))
    ax.set_ylabel("survival probability")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def _forest_figure(result: Mapping[str, Any]) -> Figure:
    names = list(result["hr"])
    fig = Figure(figsize=(8.0, 1.2 + 0.45 * len(names)), layout="constrained")
    ax = fig.subplots()
    ys = list(range(len(names)))[::-1]
    hr = [float(result["hr"][n]) for n in names]
    lo = [float(result["ci_lower"][n]) for n in names]
    hi = [float(result["ci_upper"][n]) for n in names]
    err = [[h - a for h, a in zip(hr, lo, strict=True)],
           [b - h for h, b in zip(hr, hi, strict=True)]]
    ax.errorbar(hr, ys, xerr=err, fmt="s", color="C0", ecolor="C0", capsize=3, ms=5)
    ax.axvline(1.0, color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.tick_params(axis="x", which="minor", labelsize="small")
    ax.set_yticks(ys, names)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_xlabel("hazard ratio (95% CI, log scale)")
    ax.grid(axis="x", which="both", alpha=0.3)
    return fig


def _describe_tables(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    tables: list[dict[str, Any]] = []
    cols = result.get("columns") or {}
    if cols:
        def q(d: Mapping[str, Any], p: str) -> str:
            v = d["quantiles"].get(p)
            return "–" if v is None else (f"{_fmt(v['estimate'])} "
                                          f"[{_fmt(v['lower'])}, {_fmt(v['upper'])}]")
        rows = [[c, d["n"], d["n_missing"], _fmt(d["mean"]), _fmt(d["sd"]),
                 *(q(d, p) for p in ("0.05", "0.25", "0.5", "0.75", "0.95")),
                 d["sites_suppressed"], d.get("edges_from", "")]
                for c, d in cols.items()]
        tables.append({"title": "Descriptive statistics",
                       "header": ["column", "n", "missing", "mean", "sd", "5%", "25%",
                                  "median", "75%", "95%", "sites left out", "bins"],
                       "rows": rows,
                       "note": "Mean and sd are exact over the sites not left out (a site "
                               f"with fewer than {result['min_cell']} values is). Each "
                               "quantile is an estimate with an interval guaranteed to hold "
                               "the pooled sample quantile (– = unbounded)."})
    t1 = result.get("table1")
    if t1:
        tables.append({"title": f"Table 1 by {t1['group']}",
                       "header": ["characteristic", *t1["columns"]],
                       "rows": [[r, *(t1["cells"][r][c]["text"] for c in t1["columns"])]
                                for r in t1["rows"]],
                       "note": f"<{result['min_cell']}: a count under {result['min_cell']} "
                               "patients, suppressed; >=x: some site suppressed its cell; *: "
                               "mean over the sites that released it."})
    return tables


def _km_tables(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    summary = result["summary"]
    rows = [[lvl, *(f"{_fmt(v)} ({_fmt(a)}–{_fmt(b)})" for v, a, b in
                    zip(s["survival"], s["lower"], s["upper"], strict=True))]
            for lvl, s in summary["groups"].items()]
    km = result["km"]
    note = ""
    if not result.get("exact") and km.get("released", 0) < km.get("n_grid", 0):
        note = (f"The curves use {km['released']} of {km['n_grid']} public grid points: "
                "sites merged grid intervals so that every count is 0 or at least "
                f"{result.get('min_cell', 5)} patients.")
    tables = [{"title": "Survival (95% CI)",
               "header": ["group", *(f"t = {_fmt(t, 1)}" for t in summary["times"])],
               "rows": rows, "note": note}]
    lr = result["km"].get("logrank")
    if lr:
        tables.append({"title": f"Log-rank test across {result['group']}",
                       "header": ["chi-square", "df", "p"],
                       "rows": [[_fmt(lr["statistic"]), lr["df"], format_p(lr["p_value"])]],
                       "note": ""})
    return tables


def _cox_tables(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = [[n, _fmt(result["coef"][n], 4), _fmt(result["se"][n], 4),
             _fmt(result["hr"][n]), f"{_fmt(result['ci_lower'][n])}–"
                                    f"{_fmt(result['ci_upper'][n])}",
             format_p(result["p"][n])] for n in result["coef"]]
    kind = "stratified by site" if result.get("stratified") else "unstratified"
    return [{"title": f"Cox model ({kind}, {result.get('ties')} ties)",
             "header": ["covariate", "coef", "se", "HR", "95% CI", "p"], "rows": rows,
             "note": f"{result.get('n')} patients; {result.get('rounds')} Newton rounds "
                     f"(+{result.get('setup_rounds')} set-up), "
                     f"{_fmt(result.get('seconds'), 2)} s; converged: "
                     f"{result.get('converged')}. "
                     + (reference_levels(result["levels"]) + "."
                        if result.get("levels") else "")}]


_PRIVACY = {
    "describe": "Sites sent counts, sums and squared deviations, and cumulative counts at "
                "public bin edges with small blocks merged; no minimum or maximum.",
    "km": "Sites sent event and at-risk counts on a public time grid, merging consecutive "
          "grid intervals so that every event, censoring and at-risk count is 0 or at "
          "least {k} patients, and stopping where fewer than {k} remain at risk; the curves "
          "use the grid points every site released. Which points a site released is "
          "visible to the coordinator.",
    "km-exact": "Exact mode (opted in): sites revealed their event times and per-time "
                "event and at-risk counts, without small-cell protection.",
    "cox": "Each Newton round, sites sent their own log partial likelihood, gradient and "
           "Hessian (sums over all their patients).",
    "cox-exact": "Exact unstratified mode (opted in): sites revealed their event times and "
                 "per-event-time risk-set sums.",
}


def _render(result: Mapping[str, Any]) -> str:
    analysis = result.get("analysis")
    figures: list[dict[str, str]] = []
    specs: list[tuple[Figure, str, str]] = []
    if analysis == "describe":
        tables = _describe_tables(result)
        privacy = _PRIVACY["describe"]
    elif analysis == "km":
        tables = _km_tables(result)
        privacy = _PRIVACY["km-exact" if result.get("exact") else "km"]
        if result["km"]["grid"]:
            specs.append((_km_figure(result),
                          "Step plot of Kaplan-Meier survival against "
                          f"{result.get('duration')} per group with shaded 95% CI bands.",
                          "Kaplan-Meier curves with pointwise 95% CIs (log(-log) "
                          "Greenwood)." + ("" if result.get("exact") else
                                           " Times are rounded up to the public grid.")))
    elif analysis == "cox":
        tables = _cox_tables(result)
        privacy = _PRIVACY["cox" if result.get("stratified") else "cox-exact"]
        if result["hr"]:
            specs.append((_forest_figure(result),
                          "Forest plot of hazard ratios with 95% confidence intervals on a "
                          "log axis for " + ", ".join(result["hr"]) + ".",
                          "Hazard ratios with 95% CIs; the dashed line is HR = 1."))
    else:
        raise ValueError(f"result['analysis'] must be describe, km or cox, got {analysis!r}")
    for fig, alt, caption in specs:
        try:
            figures.append({"png": _png(fig), "alt": alt, "caption": caption})
        finally:
            fig.clear()
    sites = [str(s) for s in result.get("sites", [])]
    title = f"fedcare analytics: {analysis} — data: {result.get('data', 'unknown')}"
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        title=title, n_sites=len(sites), sites=", ".join(sites),
        privacy=privacy.format(k=result.get("min_cell", 5)),
        excluded=list((result.get("excluded_sites") or {}).items()),
        tables=tables, figures=figures)


def write_analytics_report(result: dict[str, Any], path: pathlib.Path | str) -> pathlib.Path:
    """Write a self-contained HTML report of one ``fedcare analytics`` result.

    Parameters
    ----------
    result : dict
        The command's JSON result; ``result["analysis"]`` is ``describe``, ``km`` or
        ``cox``.
    path : pathlib.Path
        Target HTML file, replaced atomically; on failure no file is left behind.

    Returns
    -------
    pathlib.Path
        ``path``, once the report is complete on disk.
    """
    path = pathlib.Path(path)
    html = _render(result)
    write_text_atomic(path, html)
    return path
