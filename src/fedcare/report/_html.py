"""Render a study's ``metrics.json`` as one self-contained HTML report.

The report embeds its figures as base64 PNGs drawn with matplotlib's Agg canvas (no
global backend switch, no pyplot) and references no external URL, so it can be mailed
or archived as a single file.
"""

from __future__ import annotations

import base64
import io
import math
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fedcare._io import write_text_atomic

__all__ = ["write_quality_report", "write_report"]

_DASH = "–"

#: Shared by every fedcare HTML report.
STYLE = """<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f2f2f2}
figure{margin:1em 0 2em}img{max-width:100%}
figcaption{font-size:.9em;color:#555}
.note{background:#f7f7f7;border-left:4px solid #888;padding:.5em 1em}
</style>"""

#: The "Data quality" section (study reports and ``fedcare data check --report``).
QUALITY_SECTION = """{% if quality %}<h2>Data quality</h2>
<p class="note">Before training, each site sent only aggregates of its own rows: counts
(missing values, candidate missing-value codes, values outside each feature's valid range,
events) and quartiles; {% if quality.min_cell > 1 %}every count of 1 to
{{ quality.min_cell - 1 }} patients was withheld and each quartile is an average over
{{ quality.min_cell }} values{% else %}small-cell protection was off{% endif %}. Findings:
{{ quality.summary }}.</p>
{% if quality.findings %}<table><thead><tr><th>severity</th><th>site</th><th>feature</th>
<th>kind</th><th>detail</th></tr></thead>
<tbody>{% for r in quality.findings %}<tr>{% for c in r %}<td style="text-align:left">{{ c }}</td>
{% endfor %}</tr>{% endfor %}</tbody></table>
{% else %}<p>No findings.</p>{% endif %}
<table><thead><tr><th>site</th><th>rows</th><th>events</th><th>prevalence</th></tr></thead>
<tbody>{% for r in quality.sites %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endif %}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
""" + STYLE + """</head><body>
<h1>{{ title }}</h1>
<p class="note">What this is: only model arrays and aggregate metrics left the sites; no
patient row was shared. <em>pooled</em> is a reference model trained with all rows in one
place, which is only possible in an embedded study or benchmark.</p>
<h2>Settings compared</h2>
<table><thead><tr><th>setting</th><th>mean client accuracy</th><th>pooled-test accuracy</th>
<th>pooled-test AUC</th><th>pooled-test Brier</th><th>rounds</th><th>seconds</th></tr></thead>
<tbody>{% for r in comparison %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<h2>Per site (test set)</h2>
<table><thead><tr><th rowspan="2">site</th><th rowspan="2">n train</th>
<th rowspan="2">n test</th><th rowspan="2">dropped (missing)</th>
{% for s in settings %}<th colspan="2">{{ s }}</th>{% endfor %}</tr>
<tr>{% for s in settings %}<th>accuracy</th><th>AUC</th>{% endfor %}</tr></thead>
<tbody>{% for r in per_site %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
""" + QUALITY_SECTION + """
{% if privacy %}<h2>Privacy</h2>
<table><thead><tr><th>setting</th><th>level</th><th>target epsilon</th><th>delta</th>
<th>epsilon spent</th><th>membership-inference AUC</th><th>SecAgg+ error bound</th></tr>
</thead>
<tbody>{% for r in privacy %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<p class="note">Epsilon spent: the largest over sites for record-level DP (each site's
own accountant). SecAgg+ error bound: the largest difference between a secure sum of the
sites' model contributions and the exact sum, per element (the coordinator saw only
sums). Membership-inference AUC: a loss-threshold attack telling training rows
from test rows; 0.5 means the model reveals nothing about who was in the training data.
Figures that would describe fewer than {{ min_cell }} patients are suppressed (shown as –).</p>
{% endif %}
{% if missing %}<h2>Missing rounds</h2><ul>
{% for site, rounds in missing %}<li><strong>{{ site }}</strong> did not answer round(s)
{{ rounds }} (the study went ahead with the other sites; round {{ final_round }} is the final
evaluation)</li>{% endfor %}</ul>{% endif %}
{% if excluded %}<h2>Excluded sites</h2><ul>
{% for site, reason in excluded %}<li><strong>{{ site }}</strong>: {{ reason }}</li>{% endfor %}
</ul>{% endif %}
{% if reference %}<h2>Published reference</h2>
<table><thead><tr><th>setting</th><th>mean client accuracy</th>
<th>pooled-test accuracy</th></tr></thead>
<tbody>{% for r in reference %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endif %}
{% for f in figures %}<figure><img src="data:image/png;base64,{{ f.png }}" alt="{{ f.alt }}">
<figcaption>Figure {{ loop.index }}. {{ f.caption }}</figcaption></figure>
{% endfor %}</body></html>
"""


def _num(value: Any) -> float | None:
    """Return ``value`` as a finite float, or ``None`` when null or not finite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _fmt(value: Any, digits: int = 3) -> str:
    f = _num(value)
    return _DASH if f is None else f"{f:.{digits}f}"


def _png(fig: Figure) -> str:
    """Encode ``fig`` as base64 PNG text via the Agg canvas."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _colours(settings: Sequence[str]) -> dict[str, str]:
    return {s: f"C{i % 10}" for i, s in enumerate(settings)}


def _per_site_figure(
    results: Mapping[str, Any], settings: Sequence[str], sites: Sequence[str]
) -> Figure:
    fig = Figure(figsize=(max(7.0, 1.6 * len(sites) + 3), 7.0), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    colours = _colours(settings)
    width = 0.8 / max(1, len(settings))
    for ax, metric, label in zip(axes, ("accuracy", "auc"), ("test accuracy", "test AUC"),
                                 strict=True):
        for i, s in enumerate(settings):
            per_site = results[s].get("per_site", {})
            xs, ys = [], []
            for j, site in enumerate(sites):
                y = _num(per_site.get(site, {}).get(metric))
                if y is not None:
                    xs.append(j - 0.4 + width * (i + 0.5))
                    ys.append(y)
            ax.bar(xs, ys, width=width, color=colours[s], label=s)
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(range(len(sites)), list(sites))
    axes[1].set_xlabel("site")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(4, len(settings)),
               fontsize="small", title="setting")
    return fig


def _convergence_figure(
    convergence: Mapping[str, Sequence[Mapping[str, Any]]], pooled: Mapping[str, Any] | None,
    colours: Mapping[str, str],
) -> Figure:
    fig = Figure(figsize=(12.0, 3.8), layout="constrained")
    axes: Sequence[Axes] = fig.subplots(1, 3)
    panels = (("accuracy", "pooled-test accuracy"), ("auc", "pooled-test AUC"),
              ("test_loss", "test loss"))
    for ax, (key, label) in zip(axes, panels, strict=True):
        for s, rows in convergence.items():
            pts = [(_num(r.get("round")), _num(r.get(key))) for r in rows]
            xy = [(x, y) for x, y in pts if x is not None and y is not None]
            if xy:
                ax.plot(*zip(*xy, strict=True), marker="o", ms=3, color=colours.get(s), label=s)
        ref = _num(pooled.get(key)) if pooled else None
        if ref is not None:
            ax.axhline(ref, ls="--", color="k", lw=1, label="pooled (reference)")
        ax.set_xlabel("round")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", loc="best")
    return fig


def _calibration_figure(calibration: Mapping[str, Any], colours: Mapping[str, str]) -> Figure:
    n = len(calibration)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(3.6 * ncols, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, (s, cal) in zip(axes.flat, calibration.items(), strict=False):
        pts = zip(cal.get("predicted", []), cal.get("observed", []), cal.get("n", []),
                  strict=False)
        xyn = [(p, o, c) for p, o, c in ((_num(a), _num(b), _num(c)) for a, b, c in pts)
               if p is not None and o is not None]
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
        if xyn:
            big = max((c or 0.0) for _, _, c in xyn) or 1.0
            sizes = [15 + 120 * (c or 0.0) / big for _, _, c in xyn]
            ax.plot([p for p, _, _ in xyn], [o for _, o, _ in xyn], color=colours.get(s),
                    lw=1, alpha=0.6)
            ax.scatter([p for p, _, _ in xyn], [o for _, o, _ in xyn], s=sizes,
                       color=colours.get(s), label=f"{s} (size ~ n)", zorder=3)
        ax.set_title(s, fontsize="medium")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("mean predicted risk")
        ax.set_ylabel("observed event rate")
        ax.legend(fontsize="x-small", loc="upper left", markerscale=0.5)
    return fig


def _figures(metrics: Mapping[str, Any], settings: Sequence[str], sites: Sequence[str]
             ) -> list[dict[str, str]]:
    results = metrics["results"]
    colours = _colours(settings)
    out: list[dict[str, str]] = []
    specs: list[tuple[Figure | None, str, str]] = []
    specs.append((_per_site_figure(results, settings, sites) if sites else None,
                  "Grouped bar charts of test accuracy (top) and AUC (bottom) per site, one bar "
                  "per setting: " + ", ".join(settings) + ".",
                  "Per-site test accuracy and AUC for each setting. Missing AUC bars are "
                  "undefined values (e.g. a site whose test set has one class)."))
    conv = {s: r for s, r in metrics.get("convergence", {}).items() if r}
    pooled = results.get("pooled", {}).get("pooled_test")
    specs.append((_convergence_figure(conv, pooled, colours) if conv else None,
                  "Line charts of pooled-test accuracy, AUC and test loss against federated "
                  "round for " + ", ".join(conv)
                  + "; the dashed lines (accuracy, AUC) are the pooled model.",
                  "Convergence per round on the pooled test set; dashed: pooled reference "
                  "(accuracy and AUC panels)."))
    cal = {s: c for s, c in metrics.get("calibration", {}).items() if c}
    specs.append((_calibration_figure(cal, colours) if cal else None,
                  "Calibration plots of observed event rate against mean predicted risk per "
                  "bin for " + ", ".join(cal) + "; marker size grows with bin size.",
                  "Calibration on the pooled test set; the dashed diagonal is perfect "
                  "calibration, marker area is proportional to the number of rows in the bin."))
    for fig, alt, caption in specs:
        if fig is None:
            continue
        try:
            out.append({"png": _png(fig), "alt": alt, "caption": caption})
        finally:
            fig.clear()
    return out


def _quality(quality: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The "Data quality" section's rows from a quality report's ``to_dict()``."""
    if not quality:
        return None
    summary = quality.get("summary") or {}
    return {
        "min_cell": int(quality.get("min_cell", 5)),
        "summary": ", ".join(f"{n} {severity}" for severity, n in summary.items()) or "none",
        "findings": [[f.get("severity"), f.get("site") or _DASH, f.get("feature") or _DASH,
                      f.get("kind"), f.get("detail")] for f in quality.get("findings", [])],
        "sites": [[site, row.get("n_rows", _DASH), row.get("n_events", _DASH),
                   _fmt(row.get("prevalence"))]
                  for site, row in (quality.get("sites") or {}).items()],
    }


_QUALITY_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
""" + STYLE + """</head><body>
<h1>{{ title }}</h1>
""" + QUALITY_SECTION + """</body></html>
"""


def write_quality_report(quality: dict[str, Any], path: pathlib.Path, *,
                         title: str = "fedcare data-quality report") -> pathlib.Path:
    """Write a self-contained HTML page of a data-quality report.

    Parameters
    ----------
    quality : dict
        :meth:`fedcare.quality.QualityReport.to_dict` output.
    path : pathlib.Path
        Target HTML file, replaced atomically.
    title : str
        Page title.

    Returns
    -------
    pathlib.Path
        ``path``, once the report is complete on disk.
    """
    path = pathlib.Path(path)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(_QUALITY_TEMPLATE).render(title=title, quality=_quality(quality))
    write_text_atomic(path, html)
    return path


def _render(metrics: Mapping[str, Any]) -> str:
    results: Mapping[str, Any] = metrics["results"]
    if not isinstance(results, Mapping) or not results:
        raise ValueError("metrics['results'] must be a non-empty mapping of settings")
    study = metrics.get("study", {})
    settings = list(results)
    site_info: Mapping[str, Any] = metrics.get("sites", {})
    sites = list(site_info)
    for r in results.values():
        sites += [s for s in r.get("per_site", {}) if s not in sites]
    comparison = [[s, _fmt(r.get("mean_client_accuracy")),
                   *(_fmt((r.get("pooled_test") or {}).get(k)) for k in ("accuracy", "auc",
                                                                          "brier")),
                   _fmt(r.get("rounds"), 0), _fmt(r.get("seconds"), 2)]
                  for s, r in results.items()]
    per_site = []
    for site in sites:
        info = site_info.get(site, {})
        row = [site, *(_fmt(info.get(k), 0) for k in ("n_train", "n_test", "n_dropped_missing"))]
        for s in settings:
            m = results[s].get("per_site", {}).get(site, {})
            row += [_fmt(m.get("accuracy")), _fmt(m.get("auc"))]
        per_site.append(row)
    reference = [[name, _fmt(v.get("mean_client_accuracy")), _fmt(v.get("pooled_test_accuracy"))]
                 for name, v in (metrics.get("reference") or {}).items()]
    privacy = []
    for s, r in results.items():
        if "privacy" not in r and "membership_inference_auc" not in r:
            continue
        p = r.get("privacy") or {}
        spent = p.get("epsilon_spent")
        if isinstance(spent, dict):
            spent = max((v for v in spent.values() if v is not None), default=None)
        bounds = (r.get("secure_aggregation") or {}).get("error_bound") or {}
        model_bound = max((v for k, v in bounds.items() if k in ("train", "train.newton")),
                          default=None)
        privacy.append([s, p.get("level", "none"), _fmt(p.get("target_epsilon")),
                        _fmt(p.get("delta"), 6) if p else "–", _fmt(spent),
                        _fmt(r.get("membership_inference_auc")),
                        "–" if model_bound is None else f"{model_bound:.1e}"])
    title = (f"fedcare study report — data: {study.get('data', 'unknown')}, "
             f"strategy: {study.get('strategy', 'unknown')}")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        title=title, comparison=comparison, settings=settings, per_site=per_site,
        excluded=list((metrics.get("excluded_sites") or {}).items()), reference=reference,
        privacy=privacy, min_cell=study.get("min_cell", 5),
        missing=[(s, ", ".join(map(str, r))) for s, r in
                 (metrics.get("missing_rounds") or {}).items()],
        final_round=int(study.get("rounds", 0) or 0) + 1,
        quality=_quality(metrics.get("quality")),
        figures=_figures(metrics, settings, sites),
    )


def write_report(metrics: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    """Write a self-contained HTML report of a study's metrics.

    Parameters
    ----------
    metrics : dict
        The study's ``metrics.json`` content: ``study``, ``sites``, ``excluded_sites``,
        ``results``, ``convergence``, ``calibration`` and optionally ``reference``.
    path : pathlib.Path
        Target HTML file. It is replaced atomically; on failure no file is left behind.

    Returns
    -------
    pathlib.Path
        ``path``, once the report is complete on disk.

    Raises
    ------
    KeyError
        If ``metrics`` has no ``results``.
    ValueError
        If ``results`` is empty or not a mapping.
    """
    path = pathlib.Path(path)
    html = _render(metrics)
    write_text_atomic(path, html)
    return path
