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
from fedcare.report._html import STYLE, _fmt, _int, _num, _png

__all__ = ["analytics_view", "write_analytics_report"]

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


def _drawn(km: Mapping[str, Any]) -> list[str]:
    """The groups with a released survival estimate beyond t = 0 (others are withheld:
    drawing them would show a flat line at 1.0 that reads as "nobody died")."""
    return [lvl for lvl, g in km["groups"].items()
            if any(n > 0 and t > 0 for t, n in zip(_values(km["grid"]),
                                                   _values(g["at_risk"]), strict=True))]


def _g(value: Any) -> str:
    """A grid time: 4 significant digits (whole numbers without decimals)."""
    f = _num(value)
    return "–" if f is None else f"{f:.4g}"


def _km_release_text(result: Mapping[str, Any]) -> str:
    """How much of the curves was released: grid points, follow-up reached, withheld
    groups."""
    km = result["km"]
    if result.get("exact"):
        return ""
    k = result.get("min_cell", 5)
    mode = result.get("mode", "per-site")
    how = ("the sites' counts were summed with secure aggregation and the small-cell rule "
           "applied to the totals" if mode == "secure-totals" else
           "each site merged grid intervals on its own counts; the curves use the points "
           "every site released")
    text = (f"{km.get('released', 0)} of {km.get('n_grid', 0)} public grid points released "
            f"({how}; every released count is 0 or at least {k} patients).")
    reached = _num(km.get("reached"))
    withheld = [lvl for lvl in km["groups"] if lvl not in _drawn(km)]
    if reached is None:
        text += (" Suppressed: no survival estimate beyond t = 0 could be released, so no "
                 "curve is drawn (this does not mean that nobody died)."
                 + (" With secure aggregation (at least 3 sites) the rule is applied to the "
                    "totals over all sites instead." if mode == "per-site" else ""))
    else:
        groups = km["groups"]
        text += f" Follow-up reached: t = {_g(reached)}"
        stops = {lvl: _num(g["stop"] if "stop" in g else result.get("stop"))
                 for lvl, g in groups.items()}
        own = {lvl: g.get("released", km.get("released")) for lvl, g in groups.items()}
        if len(set(stops.values())) == 1:
            stop = next(iter(stops.values()))
            text += ("." if stop is None else
                     f"; the curves are withheld from t = {_g(stop)}.")
        else:   # each group released on its own
            text += ("; grid points released and withheld from, per group: "
                     + "; ".join(f"{lvl}: {own[lvl]}, "
                                 + ("–" if v is None else f"t = {_g(v)}")
                                 for lvl, v in stops.items()) + ".")
        if withheld:
            text += (" Suppressed (no estimate beyond t = 0 released, not drawn): "
                     + ", ".join(withheld) + ".")
    return text


def _km_curves(result: Mapping[str, Any]) -> dict[str, dict[str, list[tuple[float, ...]]]]:
    """Each drawn group's step points ``(t, S)`` and CI band ``(t, lower, upper)``: from
    t = 0 to its last time with anyone at risk, or to the time its curve is withheld
    from; a withheld group (no estimate beyond t = 0) is left out, never drawn flat."""
    km = result["km"]
    grid = _values(km["grid"])
    out: dict[str, dict[str, list[tuple[float, ...]]]] = {}
    drawn = _drawn(km)
    for lvl, g in km["groups"].items():
        if lvl not in drawn:
            continue
        own = [j for j, v in enumerate(_values(g["survival"])) if not math.isnan(v)]
        gx = [grid[j] for j in own]
        at_risk, sv, lv, uv = ([_values(g[key])[j] for j in own]
                               for key in ("at_risk", "survival", "lower", "upper"))
        last = max((j for j, n in enumerate(at_risk) if n > 0), default=-1) + 1
        xs = [0.0, *gx[:last]]
        surv, lo, hi = [1.0, *sv[:last]], [1.0, *lv[:last]], [1.0, *uv[:last]]
        stop = _num(g["stop"] if "stop" in g else result.get("stop"))
        if stop is not None and last == len(gx):
            xs, surv, lo, hi = [*xs, stop], [*surv, surv[-1]], [*lo, lo[-1]], [*hi, hi[-1]]
        label = lvl if result.get("group") is None else f"{result['group']} = {lvl}"
        out[label] = {"points": list(zip(xs, surv, strict=True)),
                      "band": list(zip(xs, lo, hi, strict=True))}
    return out


def analytics_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the report shows of one result, for other renderers (the console): title,
    privacy text, excluded sites, tables, and the curves or ratios to draw.

    Raises
    ------
    ValueError
        ``result["analysis"]`` is not describe, km or cox.
    """
    analysis = result.get("analysis")
    view: dict[str, Any] = {"analysis": analysis, "curves": {}, "forest": [],
                            "release": ""}
    if analysis == "describe":
        view["tables"], privacy = _describe_tables(result), _PRIVACY["describe"]
    elif analysis == "km":
        view["tables"] = _km_tables(result)
        privacy = _PRIVACY["km-exact" if result.get("exact") else
                           "km-secure" if result.get("mode") == "secure-totals" else "km"]
        if result["km"]["grid"]:
            view["curves"] = _km_curves(result)
        view["release"] = _km_release_text(result)
        view["duration"] = str(result.get("duration", "time"))
    elif analysis == "cox":
        view["tables"] = _cox_tables(result)
        privacy = _PRIVACY["cox" if result.get("stratified") else "cox-exact"]
        view["forest"] = [(str(n), float(result["hr"][n]), float(result["ci_lower"][n]),
                           float(result["ci_upper"][n])) for n in result["hr"]]
    else:
        raise ValueError(f"result['analysis'] must be describe, km or cox, got {analysis!r}")
    sites = [str(s) for s in result.get("sites", [])]
    view.update(title=f"{analysis} — data: {result.get('data', 'unknown')}", sites=sites,
                privacy=privacy.format(k=result.get("min_cell", 5)),
                excluded=list((result.get("excluded_sites") or {}).items()))
    return view


def _km_figure(result: Mapping[str, Any]) -> Figure:
    fig = Figure(figsize=(8.0, 5.0), layout="constrained")
    ax = fig.subplots()
    curves = _km_curves(result)
    for i, lvl in enumerate(result["km"]["groups"]):
        label = lvl if result.get("group") is None else f"{result['group']} = {lvl}"
        if label not in curves:
            continue
        colour = f"C{i % 10}"
        xs, surv = zip(*curves[label]["points"], strict=True)
        _, lo, hi = zip(*curves[label]["band"], strict=True)
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


def _whole(value: Any) -> str:
    """A value of an integer variable (a quantile bound is a whole number too)."""
    f = _num(value)
    return "–" if f is None else f"{round(f):d}"


def _describe_tables(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    tables: list[dict[str, Any]] = []
    cols = result.get("columns") or {}
    k = result["min_cell"]
    if cols:
        def q(d: Mapping[str, Any], p: str) -> str:
            v = d["quantiles"].get(p)
            if v is None:
                return "–"
            f = _whole if d.get("integer") else _fmt
            return f"{f(v['estimate'])} [{f(v['lower'])}, {f(v['upper'])}]"

        def moment(d: Mapping[str, Any], key: str) -> str:
            return _fmt(d[key], 1) if d.get("integer") else _fmt(d[key])

        rows = [[c, _int(d["n"]), _int(d["n_missing"]), moment(d, "mean"), moment(d, "sd"),
                 *(q(d, p) for p in ("0.05", "0.25", "0.5", "0.75", "0.95")),
                 _int(d["sites_suppressed"]), d.get("edges_from", "")]
                for c, d in cols.items()]
        integers = [c for c, d in cols.items() if d.get("integer")]
        tables.append({"title": "Descriptive statistics",
                       "header": ["column", "n", "missing", "mean", "sd", "5%", "25%",
                                  "median", "75%", "95%", "sites left out", "bins"],
                       "rows": rows,
                       "note": "n = patients with the value recorded; missing = patients "
                               "without it. Mean and sd are exact over the sites not left "
                               f"out (a site with fewer than {k} values is). Each quantile "
                               "is an estimate with an interval guaranteed to hold the "
                               "pooled sample quantile (– = unbounded)."
                               + (" Integer variables (whole numbers at every site: "
                                  + ", ".join(integers) + ") are shown without decimals "
                                  "(mean and sd to one)." if integers else "")})
    t1 = result.get("table1")
    if t1:
        def cell(row: str, col: str) -> str:
            c = t1["cells"][row][col]
            var = row.removesuffix(", mean ± sd")
            if var == row or not (cols.get(var) or {}).get("integer") or \
                    _num(c.get("value")) is None:
                return str(c["text"])
            star = "" if c.get("complete", True) else "*"
            return f"{_fmt(c['value'], 1)} ± {_fmt(c.get('sd'), 1)} (n={_int(c['n'])}){star}"

        tables.append({"title": f"Table 1 by {t1['group']}",
                       "header": ["characteristic", *t1["columns"]],
                       "rows": [[r, *(cell(r, c) for c in t1["columns"])]
                                for r in t1["rows"]],
                       "note": f"n (first row) = patients in the {t1['group']} group (the "
                               "column); (n=…) after a mean ± sd = patients with the value "
                               "recorded; n (%) = patients with that value (% of the "
                               f"column's n). <{k}: a count under {k} patients, suppressed; "
                               ">=x: some site suppressed its cell; *: mean over the sites "
                               "that released it."})
    return tables


def _km_tables(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    summary = result["summary"]
    rows = [[lvl, *("withheld" if _num(v) is None else f"{_fmt(v)} ({_fmt(a)}–{_fmt(b)})"
                    for v, a, b in zip(s["survival"], s["lower"], s["upper"], strict=True))]
            for lvl, s in summary["groups"].items()]
    km = result["km"]
    note = _km_release_text(result)
    groups = {lvl: g for lvl, g in km["groups"].items() if _num(g.get("reached")) is not None}
    if groups and not result.get("exact"):

        def per_group(key: str) -> str:
            return "; ".join(f"{lvl}: " + (f"not reached by t = {_g(g['reached'])}"
                                          if _num(g.get(key)) is None else _g(g[key]))
                             for lvl, g in groups.items())

        note += " Median survival (first released t with S ≤ 0.5): " + per_group("median")
        if any(_num(g.get("median")) is None for g in groups.values()):
            note += (". Where the median is not reached (S stays above 0.5), the 25 % "
                     "quantile (first released t with S ≤ 0.75): " + per_group("quantile_25"))
        note += "."
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
    "km-secure": "Sites put their event, censoring and at-risk counts on a public time grid "
                 "into a secure sum (SecAgg+): the coordinator saw only the totals over all "
                 "sites, and released them merged over consecutive grid intervals (each "
                 "group's on its own) so that every released total event, censoring and "
                 "at-risk count is 0 or at least {k} patients; a log-rank test uses one set "
                 "of merged intervals for all groups, whose counts obey the same rule.",
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
        privacy = _PRIVACY["km-exact" if result.get("exact") else
                           "km-secure" if result.get("mode") == "secure-totals" else "km"]
        if result["km"]["grid"] and _drawn(result["km"]):
            specs.append((_km_figure(result),
                          "Step plot of Kaplan-Meier survival against "
                          f"{result.get('duration')} per group with shaded 95% CI bands.",
                          "Kaplan-Meier curves with pointwise 95% CIs (log(-log) "
                          "Greenwood)." + ("" if result.get("exact") else
                                           " Times are rounded up to the public grid. "
                                           + _km_release_text(result))))
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
