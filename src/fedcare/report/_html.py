"""Render a study's ``metrics.json`` as one self-contained HTML report.

The report embeds its figures as base64 PNGs drawn with matplotlib's Agg canvas (no
global backend switch, no pyplot) and references no external URL, so it can be mailed
or archived as a single file.

What it shows, and how honestly:

* the headline figures are AUC and Brier score on all sites' test rows; accuracy
  (threshold 0.5) always stands beside the majority-class baseline accuracy
  (``max(prevalence, 1 - prevalence)``), the figure a model must beat;
* a figure withheld by the small-cell rule reads "suppressed (fewer than k ...)", never a
  blank, a NaN or a missing bar;
* per-site figures are dot plots, one row per site sorted by the site's figure, their
  height growing with the number of sites (readable at 67 sites);
* a live federation's report (no pooled model, per-site figures as the sites sent them)
  names no data set the sites did not use, draws no empty panel and mentions no pooled
  model;
* a study run although the data-quality check found blocking problems carries a banner
  at the top.
"""

from __future__ import annotations

import base64
import io
import math
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fedcare._io import write_text_atomic
from fedcare.evaluation import NO_SKILL_AUC, baseline_accuracy, no_skill

__all__ = ["write_quality_report", "write_report"]

_DASH = "–"
SUPPRESSED = "suppressed"

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
.banner{background:#fdecea;border:2px solid #b00020;border-left-width:8px;padding:.6em 1em;
margin:1em 0}
.banner ul{margin:.4em 0}
td.sup{color:#777;font-style:italic}
.scroll{overflow-x:auto}
thead tr+tr th:first-child{text-align:right}th[colspan]{text-align:center}
table.compact{font-size:.75em}table.compact th,table.compact td{padding:.15em .3em}
</style>"""

#: The "Data quality" section (study reports and ``fedcare data check --report``).
QUALITY_SECTION = """{% if quality %}<h2>Data quality</h2>
{% if quality.images %}<p class="note">Each site checked its own DICOM files as it read
them (modality, a single greyscale slice, decodable pixel data, burned-in text, pixel
spacing, private tags, gaps in a series) and sent only the count of files per finding;
files a check refused were left out of training and testing, the others were kept
(private tags removed by de-identification, non-square pixels resampled). Findings:
{{ quality.summary }}.</p>{% else %}
<p class="note">Before training, each site sent only aggregates of its own rows: counts
(missing values, candidate missing-value codes, values outside each feature's valid range,
events) and quartiles; {% if quality.min_cell > 1 %}every count of 1 to
{{ quality.min_cell - 1 }} patients was withheld and each quartile is an average over
{{ quality.min_cell }} values{% else %}small-cell protection was off{% endif %}. Findings:
{{ quality.summary }}.</p>{% endif %}
{% if quality.findings %}<table><thead><tr><th>severity</th><th>site</th><th>feature</th>
<th>kind</th><th>detail</th></tr></thead>
<tbody>{% for r in quality.findings %}<tr>{% for c in r %}<td style="text-align:left">{{ c }}</td>
{% endfor %}</tr>{% endfor %}</tbody></table>
{% else %}<p>No findings.</p>{% endif %}
{% if not quality.images %}
<table><thead><tr><th>site</th><th>rows</th><th>events</th><th>prevalence</th></tr></thead>
<tbody>{% for r in quality.sites %}<tr>{% for c in r %}<td{% if c is suppressed %} class="sup"
{% endif %}>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<p class="note">rows: every row the site holds, before any row is left out for a missing
value (so more than the rows used for training and testing); events: rows with the
outcome. {% if quality.min_cell > 1 %}suppressed / &lt;{{ quality.min_cell }}: a count of 1
to {{ quality.min_cell - 1 }} patients, withheld by the small-cell rule.{% endif %}</p>
{% endif %}{% endif %}
"""

#: The quality-override banner: first thing under the title.
_BANNER = """{% if override %}<div class="banner" role="alert" id="quality-override">
<strong>Data-quality check overridden.</strong> This study was run with
<code>quality_check = "{{ override.check }}"</code> although the check found
{{ override.findings | length }} blocking problem{{ "" if override.findings | length == 1
else "s" }} that would have stopped it; every figure below may be affected by
{{ "it" if override.findings | length == 1 else "them" }}:
<ul>{% for f in override.findings %}<li>{{ f }}</li>{% endfor %}</ul></div>{% endif %}
{% if no_skill %}<div class="banner" role="alert" id="no-skill"><strong>No skill.</strong>
The federated model's AUC on all test rows is {{ "%.3f" | format(no_skill[1]) }} (0.5 is
chance, {{ no_skill_auc }} the least this report calls useful): it has not learned to tell
the outcome apart, and every figure, explanation and saliency map below describes a model
that should not be used.</div>{% endif %}
{% if leaks %}<div class="banner" role="alert" id="likely-leaks">
<strong>Likely leak{{ "" if leaks | length == 1 else "s" }} among the features.</strong>
The model used {{ "a feature" if leaks | length == 1 else "features" }} that may be known
only after the outcome; the AUC and every other figure below include
{{ "it" if leaks | length == 1 else "them" }} and may be far better than a prediction made
in time could be:
<ul>{% for f in leaks %}<li>{{ f }}</li>{% endfor %}</ul></div>{% endif %}
{% if directions and directions.against %}<div class="banner" role="alert"
 id="against-known-medicine"><strong>The model points against known medicine.</strong>
{{ "An input" if directions.against | length == 1 else "Inputs" }} whose effect is settled
came out the other way round:
<ul>{% for a in directions.against %}<li><code>{{ a.feature }}</code> ({{ a.concept }}):
{{ a.comparison }} <strong>{{ a.learned }}</strong> (change in log-odds
{{ "%+.3f" % a.log_odds }}{% if a.z is not none %}, z = {{ "%+.1f" % a.z }}: its 95 % interval
excludes no effect{% endif %}); expected: {{ a.expected }} ({{ a.source }})</li>{% endfor %}
</ul>Review before anyone uses the model: a code read the wrong way round, a unit, confounding,
collinear inputs or one site's data{% if not directions.interval %}; this model has no
interval, so chance in a small study is possible too{% endif %}. Every figure below is still
that of this model.</div>
{% endif %}
"""

_TABLE = """<div class="scroll"><table{% if t.id %} id="{{ t.id }}"{% endif %}{% if t.compact %}
 class="compact"{% endif %}><thead>{% for hr in t.header %}<tr>
{% for h, cs, rs in hr %}<th{% if cs > 1 %} colspan="{{ cs }}"{% endif %}{% if rs > 1 %}
 rowspan="{{ rs }}"{% endif %}>{{ h }}</th>
{% endfor %}</tr>{% endfor %}</thead>
<tbody>{% for r in t.rows %}<tr>{% for c in r %}<td{% if c is suppressed %} class="sup"
{% endif %}>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
{% for n in t.notes %}<p class="note">{{ n }}</p>{% endfor %}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
""" + STYLE + """</head><body>
<h1>{{ title }}</h1>
""" + _BANNER + """<p class="note">{{ intro }}</p>
<h2>Settings compared</h2>
{% with t = comparison %}""" + _TABLE + """{% endwith %}
<h2>Per site (test set)</h2>
{% with t = per_site %}""" + _TABLE + """{% endwith %}
""" + QUALITY_SECTION + """
{% if directions %}<h2>Known risk factors</h2>
<p class="note" id="known-directions">{{ directions.summary }}{% if directions.agree %}
Pointing the expected way: {% for f, c in directions.agree | dictsort %}<code>{{ f }}</code>
({{ c }}){{ "" if loop.last else ", " }}{% endfor %}.{% endif %}{% for f, why in
directions.not_checked | dictsort %} Not checked: <code>{{ f }}</code> ({{ why }}).{% endfor %}
{% if directions.interval %}A factor pointing the other way is flagged only when its Wald
95 % interval (from the Newton rounds' summed Hessian) excludes no effect.{% else %}This
model has no interval: a factor pointing the other way is flagged by size alone.{% endif %}
The federated model's effects (one step up a measured input, a flag 1 vs 0) are compared
with a short table of factors whose direction is settled for adverse outcomes
(<code>fedcare.explain._expected</code>).</p>{% endif %}
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
–: does not apply to that setting (no DP, no SecAgg+, or not measured).</p>
{% endif %}
{% if missing %}<h2>Missing rounds</h2><ul>
{% for site, rounds in missing %}<li><strong>{{ site }}</strong> did not answer round(s)
{{ rounds }} (the study went ahead with the other sites; round {{ final_round }} is the final
evaluation)</li>{% endfor %}</ul>{% endif %}
{% if excluded %}<h2>Excluded sites</h2><ul>
{% for site, reason in excluded %}<li><strong>{{ site }}</strong>: {{ reason }}</li>{% endfor %}
</ul>{% endif %}
{% if reference %}<h2>Published reference</h2>
<table><thead><tr><th>setting</th><th>mean site accuracy</th>
<th>accuracy, all test rows</th></tr></thead>
<tbody>{% for r in reference %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endif %}
{% if images %}<h2 id="images">Images: where the model looked</h2>
{% if images.synthetic %}<p class="banner" id="synthetic-images"><strong>Synthetic
images.</strong> These slices were generated (fedcare.imaging.write_synthetic_study), not
taken from patients: the figures show the method, not clinical accuracy.</p>{% endif %}
<p class="note">{{ images.size }} x {{ images.size }} slices ({{ images.modality }}),
windowed to [0, 1] and de-identified (DICOM PS3.15 basic profile) at each site as they
were read. Occlusion saliency (MONAI): how much the federated model's log-odds of a
finding drop when a neighbourhood of the slice is hidden; bright = the model relied on it.
One test slice with and one without a finding per site, with the model's probability.
In a deployed study such maps stay at the site that holds the slice.</p>
{% for s in images.saliency %}<figure><img src="data:image/png;base64,{{ s.png }}"
alt="{{ s.site }}: occlusion saliency"><figcaption>{{ s.site }}: true label
{{ s.label }}, predicted probability {{ "%.2f" | format(s.probability) }}</figcaption>
</figure>{% endfor %}{% elif image_study %}<h2 id="images">Images</h2>
<p class="note">No saliency maps here: this report was made from what the sites sent (model
arrays and aggregate metrics), and a slice, or a map drawn over one, never leaves the site
that holds it. A site sees where the model looks on its own slices through the served
model (<code>POST /v1/models/{id}/predict/dicom</code> returns the map).</p>{% endif %}
{% if figures or omitted %}<h2>Figures</h2>{% endif %}
{% for f in figures %}<figure><img src="data:image/png;base64,{{ f.png }}" alt="{{ f.alt }}">
<figcaption>Figure {{ loop.index }}. {{ f.caption }}</figcaption></figure>
{% endfor %}{% for o in omitted %}<p class="note">{{ o }}</p>
{% endfor %}</body></html>
"""


# -- formatting -------------------------------------------------------------------------
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


def _int(value: Any) -> str:
    """A count as a whole number, never with decimals; ``–`` when absent.

    Text (such as the quality check's ``<5`` for a withheld count) is kept as it is.
    """
    if isinstance(value, str):
        return value
    f = _num(value)
    if f is None:
        return _DASH
    return f"{round(f):d}" if f.is_integer() else f"{f:.1f}"


class _Suppressed(str):
    """Cell text for a figure the small-cell rule withheld (rendered in grey italics)."""

    __slots__ = ()


def _is_suppressed(value: Any) -> bool:
    return isinstance(value, _Suppressed)


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key that puts ``site 2`` before ``site 10`` (and ``120`` before ``1029``)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower())
                 for p in re.split(r"(\d+)", str(name)) if p)


def _png(fig: Figure) -> str:
    """Encode ``fig`` as base64 PNG text via the Agg canvas."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _colours(settings: Sequence[str]) -> dict[str, str]:
    return {s: f"C{i % 10}" for i, s in enumerate(settings)}


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


# -- what the metrics say -----------------------------------------------------------------
def _min_cell(metrics: Mapping[str, Any]) -> int:
    """k of the small-cell rule the study ran with (5 when not recorded)."""
    study = metrics.get("study") or {}
    for value in (study.get("min_cell"), (metrics.get("quality") or {}).get("min_cell")):
        f = _num(value)
        if f is not None:
            return int(f)
    return 5


def _is_live(metrics: Mapping[str, Any]) -> bool:
    """Whether ``metrics`` come from a live federation (the sites' figures only).

    An explicit ``federation`` key (``"live"`` / ``"embedded"``) decides; otherwise a
    result without a pooled reference, calibration curves or any AUC over all test
    rows (which needs every prediction in one place) is taken as live.
    """
    flag = metrics.get("federation")
    if isinstance(flag, str) and flag:
        return flag.lower() in ("live", "deployment", "deploy")
    results = metrics["results"]
    if "pooled" in results or any((metrics.get("calibration") or {}).values()):
        return False
    return all(_num((r.get("pooled_test") or {}).get("auc")) is None
               for r in results.values())


def _primary(settings: Sequence[str]) -> str:
    """The setting the report is about: the (first) federated one."""
    return next((s for s in settings if s.startswith("federated")), settings[0])


def _site_rows(results: Mapping[str, Any], site: str) -> list[Mapping[str, Any]]:
    return [r.get("per_site", {}).get(site) or {} for r in results.values()]


def _test_events(results: Mapping[str, Any], site: str) -> tuple[bool, int | None]:
    """(reported, events among the site's test rows); reported but None: withheld."""
    for m in _site_rows(results, site):
        for key in ("n_events", "n-events"):
            if key in m:
                f = _num(m[key])
                return True, None if f is None else int(f)
    return False, None


def _test_n(metrics: Mapping[str, Any], site: str) -> int | None:
    for m in _site_rows(metrics["results"], site):
        f = _num(m.get("n"))
        if f is not None:
            return int(f)
    f = _num((metrics.get("sites") or {}).get(site, {}).get("n_test"))
    return None if f is None else int(f)


def _counts_baseline(pairs: Sequence[tuple[int | None, int]], k: int
                     ) -> tuple[float, bool] | None:
    """Majority-class baseline of several groups' (events, rows) together.

    A withheld event count (None) lies in 1..k-1: the result is then approximate
    (``exact`` False) when that range moves it by at most 0.005, else None.
    """
    n = sum(rows for _, rows in pairs)
    if n <= 0:
        return None
    known = sum(e for e, _ in pairs if e is not None)
    unknown = [rows for e, rows in pairs if e is None]
    if not unknown:
        value = baseline_accuracy(known, n)
        return None if value is None else (value, True)
    lo = known + len(unknown)
    hi = known + sum(min(max(k - 1, 1), rows) for rows in unknown)
    values = [max(lo, n - lo) / n, max(hi, n - hi) / n]
    if lo <= n / 2 <= hi:
        values.append(0.5)
    if max(values) - min(values) > 0.005:
        return None
    return (max(values) + min(values)) / 2, False


class _Baselines:
    """Majority-class baseline accuracy per site and over all test rows.

    Exact from ``baseline_accuracy`` or the test rows' event counts (``n_events``) where
    the metrics carry them; otherwise approximate (marked ``≈``) from the data-quality
    check's prevalence over all of a site's rows, which the stratified split keeps in the
    test rows up to rounding.
    """

    def __init__(self, metrics: Mapping[str, Any], sites: Sequence[str], k: int) -> None:
        results = metrics["results"]
        quality_sites = (metrics.get("quality") or {}).get("sites") or {}
        self.approximate = False
        self.site: dict[str, str] = {}
        self.site_value: dict[str, float] = {}
        exact_pairs: list[tuple[int | None, int]] | None = []
        approx_pairs: list[tuple[int | None, int]] | None = []
        for site in sites:
            explicit = next((_num(m.get("baseline_accuracy")) for m in _site_rows(results, site)
                             if _num(m.get("baseline_accuracy")) is not None), None)
            reported, events = _test_events(results, site)
            n = _test_n(metrics, site)
            if exact_pairs is not None and reported and n is not None:
                exact_pairs.append((events, n))
            else:
                exact_pairs = None
            q = quality_sites.get(site) or {}
            q_events, q_rows = _num(q.get("n_events")), _num(q.get("n_rows"))
            if approx_pairs is not None and q_rows is not None:
                approx_pairs.append((None if q_events is None else int(q_events), int(q_rows)))
            else:
                approx_pairs = None
            if explicit is not None:
                self._set(site, explicit, exact=True)
            elif reported and n:
                if events is None:
                    self.site[site] = _Suppressed(SUPPRESSED)
                else:
                    self._set(site, float(baseline_accuracy(events, n) or 0.0), exact=True)
            elif q_rows:
                if q_events is None:
                    self.site[site] = _Suppressed(SUPPRESSED)
                else:
                    self._set(site, max(q_events, q_rows - q_events) / q_rows, exact=False)
            else:
                self.site[site] = _DASH
        explicit_all = next((_num((r.get("pooled_test") or {}).get("baseline_accuracy"))
                             for r in results.values()
                             if _num((r.get("pooled_test") or {}).get("baseline_accuracy"))
                             is not None), None)
        self.all: tuple[float, bool] | None
        if explicit_all is not None:
            self.all = (explicit_all, True)
        elif exact_pairs:
            self.all = _counts_baseline(exact_pairs, k)
        elif approx_pairs:
            found = _counts_baseline(approx_pairs, k)
            self.all = None if found is None else (found[0], False)
        else:
            self.all = None
        if self.all is not None and not self.all[1]:
            self.approximate = True
        # the prevalence behind the baseline (its minority share is unknown: report none)

    def _set(self, site: str, value: float, *, exact: bool) -> None:
        self.site_value[site] = value
        self.site[site] = f"{value:.3f}" if exact else f"≈{value:.3f}"
        if not exact:
            self.approximate = True

    def all_text(self) -> str:
        if self.all is None:
            return _DASH
        value, exact = self.all
        return f"{value:.3f}" if exact else f"≈{value:.3f}"


def _leaks(metrics: Mapping[str, Any]) -> list[str]:
    """The data-quality check's likely-leak warnings about features the model used."""
    used = {str(n).split("=")[0].removesuffix(" missing")
            for n in (metrics.get("features") or
                      (metrics.get("schema") or {}).get("encoded_feature_names") or [])}
    return [f"{f.get('feature')}: {f.get('detail')}"
            for f in (metrics.get("quality") or {}).get("findings", [])
            if f.get("kind") == "leak" and (not used or f.get("feature") in used)]


def _override(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """The banner's content when the study ran despite blocking data-quality findings.

    ``quality_override`` (one line per blocking finding that was overridden) is read
    from the top level of ``metrics``, its ``study`` or its ``quality``; failing that,
    a ``quality_check = "warn"`` study whose quality report holds blocking findings.
    """
    study = metrics.get("study") or {}
    quality = metrics.get("quality") or {}
    check = metrics.get("quality_check") or study.get("quality_check") or "warn"
    lines = next((v for v in (metrics.get("quality_override"), study.get("quality_override"),
                              quality.get("override")) if v), None)
    if isinstance(lines, str):
        lines = [lines]
    if not lines and check == "warn":
        lines = [f"site '{f.get('site') or 'all'}'"
                 + (f", feature '{f['feature']}'" if f.get("feature") else "")
                 + f" ({f.get('kind')}): {f.get('detail')}"
                 for f in quality.get("findings", []) if f.get("severity") == "blocking"]
    if not lines:
        return None
    return {"check": check, "findings": [str(x) for x in lines]}


# -- figures ------------------------------------------------------------------------------
#: Per-site panels: metric, axis label, higher is better.
_SITE_PANELS = (("auc", "AUC", True), ("brier", "Brier score (lower is better)", False),
                ("accuracy", "accuracy (threshold 0.5)", True))

#: Height of one site's row in the per-site dot plot, inches.
ROW_INCHES = 0.22


def _per_site_figure(results: Mapping[str, Any], settings: Sequence[str],
                     sites: Sequence[str], baselines: Mapping[str, float], k: int
                     ) -> tuple[Figure | None, str, str, list[str]]:
    """Dot plot of the per-site figures: one row per site, sorted, one marker per setting.

    Returns the figure (None when no site has any figure), its alt text and caption,
    and one line per panel left out for lack of data.
    """
    primary = _primary(settings)

    def value(setting: str, site: str, key: str) -> float | None:
        return _num((results[setting].get("per_site", {}).get(site) or {}).get(key))

    panels = [p for p in _SITE_PANELS
              if any(value(s, site, p[0]) is not None for s in settings for site in sites)]
    omitted = [f"No per-site {label.split(' (')[0]} panel: no site released one"
               + (f" (each was withheld by the small-cell rule: fewer than {k} events or "
                  f"fewer than {k} non-events among the site's test patients)."
                  if key == "auc" and k > 1 else ".")
               for key, label, higher in _SITE_PANELS if (key, label, higher) not in panels]
    if not panels:
        return None, "", "", omitted
    sort_key, sort_label, higher = panels[0]
    known = [s for s in sites if value(primary, s, sort_key) is not None]
    known.sort(key=lambda s: (-(value(primary, s, sort_key) or 0.0) if higher
                              else value(primary, s, sort_key) or 0.0, _natural(s)))
    order = known + sorted((s for s in sites if s not in known), key=_natural)
    n = len(order)
    height = max(2.8, 1.3 + ROW_INCHES * n)
    fig = Figure(figsize=(10.0, height), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    colours = _colours(settings)
    step = 0.5 / max(1, len(settings))
    suppressed_rows: dict[str, int] = {}
    for ax, (key, label, _) in zip(axes, panels, strict=True):
        for row in range(0, n, 2):
            ax.axhspan(row - 0.5, row + 0.5, color="#f3f3f3", lw=0, zorder=0)
        xs_all: list[float] = []
        for i, s in enumerate(settings):
            pts = [(v, row + (i - (len(settings) - 1) / 2) * step)
                   for row, site in enumerate(order)
                   if (v := value(s, site, key)) is not None]
            xs_all += [x for x, _ in pts]
            if pts:
                ax.scatter([x for x, _ in pts], [y for _, y in pts], s=22, zorder=3,
                           color=colours[s], marker=_MARKERS[i % len(_MARKERS)], label=s)
        if key == "accuracy" and baselines:
            pts = [(baselines[site], row) for row, site in enumerate(order) if site in baselines]
            xs_all += [x for x, _ in pts]
            ax.scatter([x for x, _ in pts], [y for _, y in pts], marker="|", s=160, lw=2,
                       color="#555", zorder=2, label="majority-class baseline")
        if key == "auc":
            ax.axvline(0.5, ls="--", lw=1, color="#555", zorder=1)
            ax.set_xlim(min([0.45, *xs_all]) - 0.03, 1.02)
        elif key == "accuracy":
            ax.set_xlim(min([0.5, *xs_all]) - 0.03, 1.02)
        else:
            ax.set_xlim(-0.01, max([0.1, *xs_all]) * 1.08)
        withheld = [row for row, site in enumerate(order)
                    if all(value(s, site, key) is None for s in settings)]
        suppressed_rows[key] = len(withheld)
        for row in withheld:
            ax.text(0.02, row, f"{SUPPRESSED} (<{k})", transform=ax.get_yaxis_transform(),
                    va="center", ha="left", fontsize=7, color="#777", style="italic")
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.4)
        ax.tick_params(axis="y", labelsize=8, length=0)
    axes[0].set_yticks(range(n), [str(s) for s in order])
    axes[0].set_ylim(n - 0.5, -0.5)
    axes[0].set_ylabel("site")
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside upper center",
               ncols=min(5, len(handles)), fontsize="small")
    names = ", ".join(label.split(" (")[0] for _, label, _ in panels)
    alt = (f"Dot plot of per-site {names} on each site's test rows: {n} sites as rows, "
           f"sorted by the {primary} {sort_label.split(' (')[0]}, one marker per setting: "
           + ", ".join(settings) + ".")
    caption = (f"Per-site {names} on each site's test rows, one row per site ({n} sites), "
               f"sorted by the {primary} {sort_label.split(' (')[0]} "
               f"({'highest' if higher else 'lowest'} first); one marker per setting.")
    if "auc" in dict((p[0], p) for p in panels):
        caption += " Dashed line: AUC 0.5 (chance)."
    if "accuracy" in dict((p[0], p) for p in panels) and baselines:
        caption += (" Grey bar: the site's majority-class baseline accuracy (predicting the "
                    "more common outcome for everyone).")
    if suppressed_rows.get("auc"):
        caption += (f" {suppressed_rows['auc']} site(s) whose AUC was suppressed (fewer than "
                    f"{k} events or fewer than {k} non-events among the test patients) are "
                    f"at the bottom, marked '{SUPPRESSED} (<{k})'.")
    return fig, alt, caption, omitted


def _ylim(ax: Any, values: Sequence[float], *, min_span: float, bounds: tuple[float, float]
          | None = None) -> None:
    """Limits that show at least ``min_span``: a flat curve must not look dramatic."""
    lo, hi = min(values), max(values)
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
        if bounds is not None:
            if lo < bounds[0]:
                lo, hi = bounds[0], bounds[0] + min_span
            if hi > bounds[1]:
                lo, hi = bounds[1] - min_span, bounds[1]
    pad = 0.05 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)


def _convergence_figure(
    convergence: Mapping[str, Sequence[Mapping[str, Any]]], pooled: Mapping[str, Any] | None,
    colours: Mapping[str, str], live: bool,
) -> tuple[Figure | None, str, str, list[str]]:
    """Per-round curves, one panel per figure that has data; the others named as left out."""
    where = "the sites' test rows" if live else "all test rows"
    panels = (("auc", "AUC", True), ("accuracy", "accuracy", True),
              ("test_loss", "test log loss", False))
    data: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for key, _, _ in panels:
        for s, rows in convergence.items():
            pts = [(_num(r.get("round")), _num(r.get(key))) for r in rows]
            xy = [(x, y) for x, y in pts if x is not None and y is not None]
            if xy:
                data.setdefault(key, {})[s] = xy
    omitted = []
    for key, label, _ in panels:
        if key in data:
            continue
        why = ("it needs every prediction in one place, and on a live federation each site "
               "sends only its accuracy and loss per round" if live and key == "auc"
               else "no round reported it")
        omitted.append(f"No per-round {label} panel: {why}.")
    shown = [p for p in panels if p[0] in data]
    if not shown:
        return None, "", "", omitted
    fig = Figure(figsize=(3.3 * len(shown), 3.4), layout="constrained")
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    drew_ref = False
    for ax, (key, label, bounded) in zip(axes, shown, strict=True):
        ys: list[float] = []
        for s, xy in data[key].items():
            ax.plot(*zip(*xy, strict=True), marker="o", ms=3, color=colours.get(s), label=s)
            ys += [y for _, y in xy]
        ref = _num(pooled.get(key)) if pooled and key != "test_loss" else None
        if ref is not None:
            ax.axhline(ref, ls="--", color="k", lw=1, label="pooled model (reference)")
            ys.append(ref)
            drew_ref = True
        if bounded:
            _ylim(ax, ys, min_span=0.1, bounds=(0.0, 1.0))
        else:
            _ylim(ax, ys, min_span=max(0.05, 0.1 * abs(sum(ys) / len(ys))))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("round")
        ax.set_ylabel(f"{label}, {where}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="best")
    names = ", ".join(label for _, label, _ in shown)
    alt = (f"Line charts of {names} against federated round on {where} for "
           + ", ".join(convergence) + ".")
    caption = f"The global model after each round on {where}: {names}."
    if drew_ref:
        caption += " Dashed: the pooled reference model (all rows in one place)."
    if live:
        caption += " Each point adds up the figures the sites sent for that round."
    return fig, alt, caption, omitted


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


def _figures(metrics: Mapping[str, Any], settings: Sequence[str], sites: Sequence[str],
             baselines: _Baselines, k: int, live: bool
             ) -> tuple[list[dict[str, str]], list[str]]:
    """The report's figures (PNG, alt text, caption) and a line for each one left out."""
    results = metrics["results"]
    colours = _colours(settings)
    specs: list[tuple[Figure | None, str, str]] = []
    omitted: list[str] = []
    if sites:
        fig, alt, caption, left = _per_site_figure(results, settings, sites,
                                                   baselines.site_value, k)
        specs.append((fig, alt, caption))
        omitted += left
    conv = {s: r for s, r in (metrics.get("convergence") or {}).items() if r}
    pooled = (results.get("pooled") or {}).get("pooled_test")
    if conv:
        fig, alt, caption, left = _convergence_figure(conv, pooled, colours, live)
        specs.append((fig, alt, caption))
        omitted += left
    cal = {s: c for s, c in (metrics.get("calibration") or {}).items()
           if c and any(_num(v) is not None for v in c.get("predicted", []))}
    if cal:
        specs.append((_calibration_figure(cal, colours),
                      "Calibration plots of observed event rate against mean predicted risk "
                      "per bin for " + ", ".join(cal) + "; marker size grows with bin size.",
                      "Calibration on all test rows; the dashed diagonal is perfect "
                      "calibration, marker area is proportional to the number of rows in "
                      "the bin."))
    elif live:
        omitted.append("No calibration plot: a calibration curve needs every prediction in "
                       "one place; on a live federation each site sends only its own "
                       "calibration slope and intercept (in metrics.json).")
    out: list[dict[str, str]] = []
    for fig, alt, caption in specs:
        if fig is None:
            continue
        try:
            out.append({"png": _png(fig), "alt": alt, "caption": caption})
        finally:
            fig.clear()
    return out, omitted


# -- tables -------------------------------------------------------------------------------
def _quality(quality: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The "Data quality" section's rows from a quality report's ``to_dict()``."""
    if not quality:
        return None
    summary = quality.get("summary") or {}
    sites = quality.get("sites") or {}

    def prevalence(row: Mapping[str, Any]) -> str:
        if _num(row.get("prevalence")) is not None:
            return _fmt(row.get("prevalence"))
        withheld = row.get("n_events") is None or isinstance(row.get("n_events"), str)
        return _Suppressed(SUPPRESSED) if withheld and "n_events" in row else _DASH

    def events(row: Mapping[str, Any]) -> str:
        if "n_events" in row and row["n_events"] is None:
            return _Suppressed(SUPPRESSED)
        return _int(row.get("n_events"))

    return {
        "images": quality.get("check") == "images",
        "min_cell": int(quality.get("min_cell", 5)),
        "summary": ", ".join(f"{n} {severity}" for severity, n in summary.items()) or "none",
        "findings": [[f.get("severity"), f.get("site") or _DASH, f.get("feature") or _DASH,
                      f.get("kind"), f.get("detail")] for f in quality.get("findings", [])],
        "sites": [[site, _int(sites[site].get("n_rows")), events(sites[site]),
                   prevalence(sites[site])] for site in sorted(sites, key=_natural)],
    }


def _table(header: list[list[tuple[str, int, int]]], rows: list[list[str]],
           notes: Sequence[str] = (), id: str = "", compact: bool = False) -> dict[str, Any]:
    return {"header": header, "rows": rows, "notes": [n for n in notes if n], "id": id,
            "compact": compact}


def _comparison(metrics: Mapping[str, Any], sites: Sequence[str], baselines: _Baselines,
                live: bool) -> dict[str, Any]:
    results = metrics["results"]
    notes = []
    rows = []
    brier_from_sites = False
    for s, r in results.items():
        pooled = r.get("pooled_test") or {}
        auc = _fmt(pooled.get("auc"))
        brier = _fmt(pooled.get("brier"))
        if live and auc == _DASH:
            auc = "not available"
        if _num(pooled.get("brier")) is None:
            # the Brier score is a mean over rows: the sites' n-weighted mean is exact
            per_site = r.get("per_site", {})
            pairs = [(_num((per_site.get(x) or {}).get("brier")),
                      _num((per_site.get(x) or {}).get("n"))) for x in sites]
            if pairs and all(b is not None and n for b, n in pairs):
                total = sum(n or 0.0 for _, n in pairs)
                brier = f"{sum((b or 0.0) * (n or 0.0) for b, n in pairs) / total:.3f}"
                brier_from_sites = True
            elif live:
                brier = "not available"
        rows.append([s, auc, brier, _fmt(pooled.get("accuracy")), baselines.all_text(),
                     _fmt(r.get("mean_client_accuracy")), _int(r.get("rounds")),
                     _fmt(r.get("seconds"), 2)])
    study = metrics.get("study") or {}
    fed: Mapping[str, Any] = next(
        (r for k, r in metrics["results"].items() if k.startswith("federated")), {})
    ran, asked = fed.get("rounds"), study.get("rounds")
    if study.get("tol") and ran is not None and asked is not None and ran < asked:
        notes.append(f"Newton stopped at round {ran} of {asked}: no coefficient moved by "
                     f"tol {study['tol']:g} or more in that round, so the rounds after it "
                     "would not have changed the model.")
    n_test = [n for x in sites if (n := _test_n(metrics, x)) is not None]
    patients = f"the {sum(n_test)} test patients of all {len(sites)} sites together" \
        if n_test else "all sites' test rows together"
    notes.append(
        f"AUC, Brier score and accuracy are on {patients} (each site's held-out rows). "
        "AUC (discrimination: 0.5 is chance, 1 is perfect) and the Brier score (mean squared "
        "error of the predicted risk; lower is better) are the headline figures. Accuracy "
        "counts predictions on the right side of 50% risk; the majority-class baseline is "
        "the accuracy of predicting the more common outcome for everyone, so an accuracy at "
        "or below it shows no skill. Mean site accuracy: the unweighted mean over sites.")
    if baselines.all is not None:
        b = baselines.all[0]
        notes[-1] += (f" Here the baseline is {baselines.all_text()}: a model that ignores "
                      f"every patient's data has Brier score {'≈' if not baselines.all[1] else ''}"
                      f"{b * (1 - b):.3f} (prevalence × (1 − prevalence)).")
    if baselines.approximate:
        notes.append("≈: from the sites' prevalence over all their rows (data-quality check); "
                     "the test split is stratified by outcome, so the test rows' prevalence "
                     "matches it up to rounding. The exact figure needs the test rows' event "
                     "counts in metrics.json.")
    if live:
        notes.append("On a live federation the rows never leave the sites: accuracy over all "
                     "test rows is added up from the sites' counts"
                     + (" and the Brier score is the sites' Brier scores weighted by their "
                        "test rows (exact)" if brier_from_sites else "")
                     + "; AUC over all test rows needs every prediction in one place and is "
                       "not available (each site's own AUC is under Per site).")
    elif brier_from_sites:
        notes.append("Brier score where the result had none: the sites' Brier scores "
                     "weighted by their test rows (exact).")
    header = [[("setting", 1, 1), ("AUC", 1, 1), ("Brier score", 1, 1), ("accuracy", 1, 1),
               ("majority-class baseline accuracy", 1, 1), ("mean site accuracy", 1, 1),
               ("rounds", 1, 1), ("seconds", 1, 1)]]
    return _table(header, rows, notes, id="comparison")


def _site_cell(m: Mapping[str, Any], key: str, k: int, events: int | None,
               n: int | None) -> str:
    """One per-site figure; why it is missing when it is."""
    v = _num(m.get(key))
    if v is not None:
        return f"{v:.3f}"
    if not m:
        return _DASH
    one_class = events is not None and n is not None and events in (0, n)
    if key in ("auc", "calibration_slope", "calibration_intercept") and (one_class or k <= 1):
        return "undefined (one class)"
    if k > 1 and (key in ("auc", "calibration_slope", "calibration_intercept")
                  or all(_num(m.get(x)) is None for x in ("accuracy", "brier"))):
        return _Suppressed(SUPPRESSED)
    return _DASH


def _per_site(metrics: Mapping[str, Any], settings: Sequence[str], sites: Sequence[str],
              baselines: _Baselines, k: int, live: bool) -> dict[str, Any]:
    results = metrics["results"]
    site_info: Mapping[str, Any] = metrics.get("sites") or {}
    study = metrics.get("study") or {}
    keys = (("auc", "AUC"), ("brier", "Brier"), ("accuracy", "accuracy"))
    rows = []
    for site in sites:
        info = site_info.get(site) or {}
        n_rows = info.get("n_rows")
        if n_rows is None and _num(info.get("n_train")) is not None \
                and _num(info.get("n_test")) is not None:
            n_rows = (_num(info["n_train"]) or 0) + (_num(info["n_test"]) or 0)
        row = [site, _int(n_rows), _int(info.get("n_train")), _int(info.get("n_test")),
               _int(info.get("n_dropped_missing")), baselines.site.get(site, _DASH)]
        _, events = _test_events(results, site)
        n = _test_n(metrics, site)
        for s in settings:
            m = results[s].get("per_site", {}).get(site) or {}
            row += [_site_cell(m, key, k, events, n) for key, _ in keys]
        rows.append(row)
    header = [[("site", 1, 2), ("n rows", 1, 2), ("n train", 1, 2), ("n test", 1, 2),
               ("dropped", 1, 2), ("majority-class baseline", 1, 2),
               *((s, len(keys), 1) for s in settings)],
              [(label, 1, 1) for _ in settings for _, label in keys]]
    complete = study.get("missing") == "complete-case"
    test_size = _num(study.get("test_size"))
    split = (f"{test_size * 100:.0f}% of n rows" if test_size is not None
             else "the site's held-out share")
    notes = [
        "n rows: the site's usable slices, after leaving out (dropped) every file an image "
        "check refused (see Data quality); n rows = n train + n test. n test: the slices "
        f"held out for testing ({split}, stratified by outcome); every figure in this "
        "table is on them."
    ] if metrics.get("images") else [
        "n rows: the site's rows the study used, after leaving out (dropped) every row "
        "with a missing outcome or categorical value"
        + (" or any other missing value (missing = complete-case)" if complete else
           " (a missing numeric value is imputed, the row kept)")
        + f"; n rows = n train + n test. n test: the rows held out for testing ({split}, "
          "stratified by outcome); every figure in this table is on them. "
        + ("The data-quality table counts all rows, before exclusions."
           if metrics.get("quality") else ""),
    ]
    if any(_is_suppressed(c) for r in rows for c in r):
        notes.append(f"suppressed (fewer than {k} …): withheld by the small-cell rule — "
                     f"AUC when fewer than {k} events or fewer than {k} non-events are among "
                     f"the site's test patients, every figure when fewer than {k} test "
                     "patients; the majority-class baseline when the event count was "
                     "withheld.")
    if any(c == "undefined (one class)" for r in rows for c in r):
        notes.append("undefined (one class): the site's test rows hold a single outcome "
                     "class, for which AUC is not defined.")
    if baselines.approximate and any(str(r[5]).startswith("≈") for r in rows):
        notes.append("≈ baseline: from the site's prevalence over all its rows (the test "
                     "split is stratified by outcome).")
    excluded = metrics.get("excluded_sites") or {}
    if excluded:
        notes.append(f"{len(excluded)} excluded site(s) are not in this table: see Excluded "
                     "sites.")
    if live:
        notes.append("Figures as the sites sent them for their own test rows.")
    return _table(header, rows, notes, id="per-site", compact=len(settings) > 2)


def _privacy(results: Mapping[str, Any]) -> list[list[str]]:
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
                        _fmt(p.get("delta"), 6) if p else _DASH, _fmt(spent),
                        _fmt(r.get("membership_inference_auc")),
                        _DASH if model_bound is None else f"{model_bound:.1e}"])
    return privacy


_QUALITY_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
""" + STYLE + """</head><body>
<h1>{{ title }}</h1>
""" + QUALITY_SECTION + """</body></html>
"""


def _env() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.tests["suppressed"] = _is_suppressed
    return env


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
    html = _env().from_string(_QUALITY_TEMPLATE).render(title=title, quality=_quality(quality))
    write_text_atomic(path, html)
    return path


def _intro(metrics: Mapping[str, Any], sites: Sequence[str], live: bool) -> str:
    if live:
        info = metrics.get("sites") or {}
        described = [f"{s} ({info[s]['data']})" for s in sites
                     if isinstance(info.get(s), Mapping) and info[s].get("data")]
        data = ("; ".join(described) if len(described) == len(sites) else
                ", ".join(sites) + " — each site's own data")
        return ("What this is: a study on a live federation. Each site trained and tested "
                f"on its own data ({data}); only model arrays and aggregate metrics left the "
                "sites, and no patient row was shared.")
    text = ("What this is: only model arrays and aggregate metrics left the sites; no "
            "patient row was shared.")
    if "pooled" in metrics["results"]:
        text += (" pooled is a reference model trained with all rows in one place, which is "
                 "only possible in an embedded study or benchmark.")
    return text


def _render(metrics: Mapping[str, Any]) -> str:
    results: Mapping[str, Any] = metrics["results"]
    if not isinstance(results, Mapping) or not results:
        raise ValueError("metrics['results'] must be a non-empty mapping of settings")
    study = metrics.get("study") or {}
    settings = list(results)
    excluded = metrics.get("excluded_sites") or {}
    found: list[str] = [s for s in (metrics.get("sites") or {}) if s not in excluded]
    for r in results.values():
        found += [s for s in r.get("per_site", {}) if s not in found]
    sites = sorted(found, key=_natural)
    k = _min_cell(metrics)
    live = _is_live(metrics)
    baselines = _Baselines(metrics, sites, k)
    reference = [[name, _fmt(v.get("mean_client_accuracy")), _fmt(v.get("pooled_test_accuracy"))]
                 for name, v in (metrics.get("reference") or {}).items()]
    if live:
        title = (f"fedcare study report — live federation, {len(sites)} sites on their own "
                 f"data, strategy: {study.get('strategy', 'unknown')}")
    else:
        title = (f"fedcare study report — data: {study.get('data', 'unknown')}, "
                 f"strategy: {study.get('strategy', 'unknown')}")
    figures, omitted = _figures(metrics, settings, sites, baselines, k, live)
    html = _env().from_string(_TEMPLATE).render(
        title=title, override=_override(metrics), leaks=_leaks(metrics),
        no_skill=no_skill(results), no_skill_auc=NO_SKILL_AUC,
        intro=_intro(metrics, sites, live),
        comparison=_comparison(metrics, sites, baselines, live),
        per_site=_per_site(metrics, settings, sites, baselines, k, live),
        excluded=sorted(excluded.items(), key=lambda x: _natural(x[0])), reference=reference,
        privacy=_privacy(results),
        missing=[(s, ", ".join(map(str, r))) for s, r in
                 (metrics.get("missing_rounds") or {}).items()],
        final_round=int(study.get("rounds", 0) or 0) + 1,
        quality=_quality(metrics.get("quality")),
        directions=metrics.get("known_directions"),
        images=metrics.get("images"), image_study=bool(study.get("images")),
        figures=figures, omitted=omitted,
    )
    if study.get("images"):  # an image study's rows are slices
        for table_word, image_word in _IMAGE_WORDING:
            html = html.replace(table_word, image_word)
    return html


#: What the report says of rows, as it reads for an image study (one row per slice).
_IMAGE_WORDING = (("test patients", "test slices"),
                  ("no patient row was shared", "no slice, pixel or label left a site"))


def write_report(metrics: dict[str, Any], path: pathlib.Path) -> pathlib.Path:
    """Write a self-contained HTML report of a study's metrics.

    Parameters
    ----------
    metrics : dict
        The study's ``metrics.json`` content: ``study``, ``sites``, ``excluded_sites``,
        ``results``, ``convergence``, ``calibration`` and optionally ``reference``,
        ``quality``, ``quality_check`` / ``quality_override`` (a study run despite
        blocking data-quality findings: a banner at the top) and ``federation``
        (``"live"`` or ``"embedded"``; inferred when absent).
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
