"""Model cards (JSON and HTML) generated from a registry record.

Sections after Mitchell et al., "Model Cards for Model Reporting" (2019): model details,
intended use, data sources (sites and sizes, never rows), performance per site with
calibration, comparison with each site alone and with pooling, privacy guarantees,
feature importance, known limitations.

Inputs say what each feature is, its unit and, for coded inputs, what every code means
(from the schema or the built-in UCI heart-disease codebook; "codes not documented" when
neither says). Effects are signed: the change in log-odds and the odds ratio of each
comparison (a numeric feature one round step higher, 1 vs 0, a level vs the reference
level) and whether it raises or lowers the risk, beside the unsigned importance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from matplotlib.figure import Figure

from fedcare.data._codebook import codebook_for, outcome_for
from fedcare.explain._model import RiskModel, say_unit
from fedcare.report._html import STYLE, _fmt, _png

__all__ = ["model_card", "render_card_html"]


def _inputs(schema: Mapping[str, Any], data: str | None) -> list[dict[str, Any]]:
    """Each feature: what it is, unit, accepted values and what its codes mean."""
    codebook = codebook_for(schema, data)
    declared = schema.get("imputed")
    imputed: Mapping[str, Any] = declared if isinstance(declared, Mapping) else {}
    out = []
    for f in schema.get("features", []):
        meaning = codebook[f["name"]]
        kind, levels = f["kind"], [str(v) for v in f.get("categories") or ()]
        unit = say_unit(f.get("unit")) or None
        entry: dict[str, Any] = {
            "name": f["name"], "label": meaning.label, "kind": kind, "unit": f.get("unit"),
            "unit_display": unit, "valid_range": f.get("valid_range"),
            "levels": levels or None, "codes": None, "codes_documented": None,
            "reference_level": None, "source": meaning.source or None}
        if kind == "numeric":
            low_high = f.get("valid_range")
            entry["accepted"] = (f"{low_high[0]:g} to {low_high[1]:g}"
                                 + (f" {unit}" if unit else "") if low_high else
                                 "any number" + (f" in {unit}" if unit else ""))
        else:
            codes = levels if kind == "categorical" else ["0", "1"]
            documented = all(meaning.say(c) for c in codes)
            entry["codes_documented"] = documented
            entry["reference_level"] = codes[0]
            if documented:
                entry["codes"] = [{"code": c, "meaning": meaning.say(c)} for c in codes]
                entry["accepted"] = "; ".join(f"{c} = {meaning.say(c)}" for c in codes)
            else:
                entry["accepted"] = (" or ".join(codes) if kind == "binary"
                                     else ", ".join(codes)) + " (codes not documented)"
        fill = f.get("impute", imputed.get(f["name"]))
        entry["imputed_with"] = fill
        if fill is None:
            entry["imputed"] = None
        elif kind == "numeric":
            entry["imputed"] = ("where missing in training, the federated mean ("
                                + f"{float(fill):.3g}" + (f" {unit}" if unit else "")
                                + ") was filled in and flagged as not recorded")
        elif kind == "binary":
            entry["imputed"] = ("where missing in training, the federated share of 1s ("
                                f"{float(fill):.3g}) was filled in and flagged as not "
                                "recorded")
        else:
            entry["imputed"] = "where missing in training, a value was filled in and flagged"
        out.append(entry)
    return out


def _quality(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """Blocking data-quality findings that were overridden to train anyway, if any."""
    overridden = metrics.get("quality_override")
    if not overridden:
        return None
    items = overridden if isinstance(overridden, list | tuple) else [overridden]
    return {"quality_check": metrics.get("quality_check"),
            "overridden": [str(x) for x in items]}


def model_card(record: Any, importance: Mapping[str, float] | None = None,
               effects: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The card of a :class:`fedcare.registry.ModelRecord` as a JSON-ready dict.

    ``effects`` (:meth:`fedcare.explain.RiskModel.effects`) are computed from the record
    when not given.
    """
    prov, metrics = record.provenance, record.metrics
    fed = metrics.get("federated", {})
    data = (prov.get("settings") or {}).get("data")
    model = RiskModel.from_record(record)
    if effects is None:
        effects = model.effects()
    sites = {
        name: {k: info.get(k) for k in ("n_train", "n_test", "n_rows", "n_dropped_missing")}
        for name, info in prov.get("sites", {}).items()
    }
    return {
        "model_details": {
            "id": record.id, "name": record.name, "kind": record.kind,
            "status": record.status, "registered": record.created_at.isoformat(),
            "content_hash": record.content_hash, "strategy": prov.get("strategy"),
            "rounds": prov.get("rounds"), "run": prov.get("run"),
            "versions": prov.get("versions", {}), "settings": prov.get("settings", {}),
        },
        "intended_use": record.intended_use,
        "inputs": _inputs(record.schema, data),
        "outcome": record.schema.get("target"),
        "outcome_meaning": outcome_for(record.schema, data).label,
        "data_quality": _quality(metrics),
        "data_sources": {"sites": sites, "excluded_sites": prov.get("excluded_sites", {})},
        "performance": {
            "per_site": fed.get("per_site", {}),
            "mean_client_accuracy": fed.get("mean_client_accuracy"),
            "pooled_test": fed.get("pooled_test"),
            "comparison": metrics.get("comparison", {}),
            "calibration_curve": metrics.get("calibration"),
        },
        "privacy": prov.get("privacy", {}),
        "feature_importance": dict(importance) if importance else None,
        "feature_effects": effects,
        "feature_effects_method": model.effects_method,
        # as the study found it (with the Newton model's intervals), else from the model
        "known_directions": metrics.get("known_directions") or model.known_directions(effects),
        "limitations": record.limitations,
    }


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Model card: {{ d.name }}</title>
""" + STYLE + """</head><body>
<h1>Model card: {{ d.name }}</h1>
<p class="note">Model {{ d.id }} · {{ d.kind }} · {{ d.strategy }} · {{ d.rounds }} rounds ·
status <strong>{{ d.status }}</strong> · registered {{ d.registered }} ·
content hash <code>{{ d.content_hash[:16] }}…</code></p>
{% if card.data_quality %}<div class="banner"><strong>Data-quality check overridden:</strong>
this model was trained although the check found blocking problems{% if
card.data_quality.quality_check %} (quality_check = {{ card.data_quality.quality_check }}){%
endif %}:<ul>{% for f in card.data_quality.overridden %}<li>{{ f }}</li>{% endfor %}</ul>
</div>{% endif %}
<h2>Intended use</h2><p>{{ card.intended_use }}</p>
<h2>Inputs</h2>
<table><thead><tr><th>feature</th><th>what it is</th><th>kind</th><th>unit</th>
<th style="text-align:left">accepted values (codes and their meaning)</th></tr></thead>
<tbody>{% for f in card.inputs %}<tr><td><code>{{ f.name }}</code></td>
<td style="text-align:left">{{ f.label or "not documented" }}</td><td>{{ f.kind }}</td>
<td>{{ f.unit_display or "–" }}</td><td style="text-align:left">{% if f.codes %}{% for c
in f.codes %}<code>{{ c.code }}</code> = {{ c.meaning }}{% if not loop.last %}<br>{% endif
%}{% endfor %}{% else %}{{ f.accepted }}{% endif %}{% if f.imputed %}<br><em>{{ f.imputed
}}</em>{% endif %}</td></tr>
{% endfor %}</tbody></table>
<p class="note">Outcome: <code>{{ card.outcome }}</code> = 1{% if card.outcome_meaning %}
({{ card.outcome_meaning }}){% endif %}. Categorical inputs are compared with their first
(reference) level; the meanings come from {% for s in sources %}{{ s }}{% if not loop.last
%}, {% endif %}{% else %}no codebook{% endfor %}.</p>
<h2>Data sources</h2>
<p class="note">Patient rows never left their hospital; these are the counts each site
reported.</p>
<table><thead><tr><th>site</th><th>train</th><th>test</th><th>left out (missing values)</th>
</tr></thead>
<tbody>{% for name, s in card.data_sources.sites.items() %}<tr><td>{{ name }}</td>
<td>{{ count(s.n_train) }}</td><td>{{ count(s.n_test) }}</td>
<td>{{ count(s.n_dropped_missing) }}</td></tr>
{% endfor %}</tbody></table>
{% if card.data_sources.excluded_sites %}<p>Excluded:
{% for s, why in card.data_sources.excluded_sites.items() %}<strong>{{ s }}</strong>
({{ why }}) {% endfor %}</p>{% endif %}
<h2>Performance per site (held-out patients of each site)</h2>
<table><thead><tr><th>site</th><th>n</th><th>accuracy</th><th>AUC</th><th>Brier</th>
<th>calibration slope</th><th>calibration intercept</th></tr></thead>
<tbody>{% for name, m in card.performance.per_site.items() %}<tr><td>{{ name }}</td>
<td>{{ m.n }}</td><td>{{ fmt(m.accuracy) }}</td><td>{{ fmt(m.auc) }}</td><td>{{ fmt(m.brier) }}</td>
<td>{{ fmt(m.calibration_slope) }}</td><td>{{ fmt(m.calibration_intercept) }}</td></tr>
{% endfor %}</tbody></table>
<p class="note">Mean site accuracy {{ fmt(card.performance.mean_client_accuracy) }};
all test patients together: accuracy {{ fmt(pooled.accuracy) }}, AUC {{ fmt(pooled.auc) }}.
Calibration slope 1 and intercept 0 mean predicted risks match observed rates.</p>
{% if comparison %}<h3>Compared with the alternatives (same test patients)</h3>
<table><thead><tr><th>setting</th><th>mean site accuracy</th><th>pooled-test AUC</th></tr></thead>
<tbody><tr><td><strong>this model (federated)</strong></td>
<td>{{ fmt(card.performance.mean_client_accuracy) }}</td><td>{{ fmt(pooled.auc) }}</td></tr>
{% for name, c in comparison %}<tr><td>{{ name }}</td><td>{{ fmt(c.mean_client_accuracy) }}</td>
<td>{{ fmt((c.pooled_test or {}).auc) }}</td></tr>{% endfor %}</tbody></table>
<p class="note">local = each hospital's own model; pooled = all data in one place (the
reference a federation should reach, possible only in a simulation).</p>{% endif %}
{% if calibration_png %}<figure><img src="data:image/png;base64,{{ calibration_png }}"
alt="Calibration: predicted vs observed risk"><figcaption>Calibration over all test patients
(deciles of predicted risk).</figcaption></figure>{% endif %}
<h2>Privacy</h2><ul>
<li>Differential privacy: {% if p.differential_privacy %}yes, {{ p.dp_level }}, target ε =
{{ p.target_epsilon }}, δ = {{ p.delta }}; ε spent (largest over sites) = {{ fmt(p.epsilon_max) }}
{% else %}no{% endif %}</li>
<li>Secure aggregation: {% if p.secure_aggregation %}yes (SecAgg+: the coordinator saw only
sums over sites{% if p.secure_aggregation_error_bound %}, each exact to within
{{ "%.1e" % p.secure_aggregation_error_bound }} per element{% endif %}){% else %}no{% endif %}</li>
<li>Small-cell protection: counts below {{ p.min_cell }} were never reported by a site</li>
{% if p.membership_inference_auc %}<li>Membership-inference attack AUC on this model:
{{ fmt(p.membership_inference_auc) }} (0.5 = the attacker guesses)</li>{% endif %}
</ul>
{% if card.feature_effects %}<h2>What drives the predictions</h2>
<p class="note">Each row compares two patients who differ in this input only: a measured
input one step higher (a round step near one standard deviation), a yes/no input 1 vs 0, a
coded input each code vs the first (reference) code. <strong>raises risk</strong> (odds
ratio above 1): the model predicts a higher risk of {{ outcome_words }} for the first;
<strong>lowers risk</strong> (odds ratio below 1): a lower one; <strong>little
effect</strong>: a change under 0.05 in log-odds. These are associations the model learned
at the training hospitals, with the other inputs held equal; they are not causes.
{{ card.feature_effects_method }} Importance is the mean absolute contribution to the
log-odds over synthetic reference patients drawn from the federated means and SDs: how much
an input moves predictions, whichever way (it has no sign).{% if not_recorded %}
<strong>not recorded vs recorded</strong> (inputs missing at some hospitals in training,
filled in with the federated mean): the model's shift for a value that was not recorded; it
mostly reflects which hospitals lacked the value, not the patient. A prediction may leave
such an input out (it is then filled in and flagged the same way), but is better with the
value: send it whenever it was measured.{% endif %}</p>
<table><thead><tr><th>feature</th><th>importance</th><th style="text-align:left">comparison
</th><th>change in log-odds</th><th>odds ratio</th><th style="text-align:left">direction</th>
</tr></thead><tbody>{% for e in card.feature_effects %}{% for r in e.effects %}<tr>
{% if loop.first %}<td rowspan="{{ e.effects | length }}"><code>{{ e.feature }}</code>{% if
e.label %}<br>{{ e.label }}{% endif %}</td><td rowspan="{{ e.effects | length }}">{{
fmt(e.importance) }}</td>{% endif %}<td style="text-align:left">{{ r.comparison }}</td>
<td>{{ "%+.3f" % r.log_odds }}</td><td>{{ "%.2f" % r.odds_ratio }}</td>
<td style="text-align:left">{{ r.direction }}</td></tr>{% endfor %}{% endfor %}</tbody></table>
{% if effects_png %}<figure><img src="data:image/png;base64,{{ effects_png }}"
alt="Signed effect of each input on the log-odds"><figcaption>Change in log-odds of each
comparison (right, red: raises the risk; left, blue: lowers it).</figcaption></figure>{% endif
%}{% endif %}
{% with d = card.known_directions %}{% if d %}<h2>Known risk factors</h2>
{% if d.against %}<div class="banner" role="alert" id="against-known-medicine"><strong>This
model points against known medicine.</strong><ul>{% for a in d.against %}<li><code>{{
a.feature }}</code> ({{ a.concept }}): {{ a.comparison }} <strong>{{ a.learned }}</strong>
(change in log-odds {{ "%+.3f" % a.log_odds }}{% if a.z is not none %}, z = {{ "%+.1f" %
a.z }}{% endif %}); expected: {{ a.expected }} ({{ a.source }})</li>{% endfor %}</ul>Review
before use: a code read the wrong way round, a unit, confounding, collinear inputs or one
site's data{% if not d.interval %}; this model has no interval, so chance in a small study
is possible too{% endif %}.</div>{% endif %}
<p class="note" id="known-directions">{{ d.summary }}{% if d.agree %} Pointing the expected
way: {% for f, c in d.agree | dictsort %}<code>{{ f }}</code> ({{ c }}){{ "" if loop.last
else ", " }}{% endfor %}.{% endif %}</p>{% endif %}{% endwith %}
<h2>Known limitations</h2><ul>{% for l in card.limitations %}<li>{{ l }}</li>{% endfor %}</ul>
</body></html>
"""


def _effects_figure(effects: list[Mapping[str, Any]]) -> Figure:
    rows = [(f"{e['feature']}: {r['comparison']}", float(r["log_odds"]))
            for e in effects for r in e["effects"]][::-1]
    fig = Figure(figsize=(7, 0.32 * len(rows) + 1.2))
    ax = fig.add_subplot()
    names = [n if len(n) <= 48 else n[:47] + "…" for n, _ in rows]
    values = [v for _, v in rows]
    ax.barh(range(len(rows)), values,
            color=["#b03a2e" if v > 0 else "#3b6ea5" for v in values])
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.axvline(0, color="grey", lw=1)
    ax.set_xlabel("change in log-odds (> 0 raises the risk)")
    fig.tight_layout()
    return fig


def _calibration_figure(curve: Mapping[str, Any]) -> Figure | None:
    predicted, observed = curve.get("predicted"), curve.get("observed")
    if not predicted or not observed:
        return None
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.plot(predicted, observed, marker="o", color="#3b6ea5")
    ax.set_xlabel("predicted risk")
    ax.set_ylabel("observed rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def _fmt_defined(value: Any, digits: int = 3) -> str:
    """``_fmt`` that reads a metric the run did not report as absent (a dash)."""
    return _fmt(None if isinstance(value, jinja2.Undefined) else value, digits)


def _count(value: Any) -> str:
    """A count as a whole number; text (a withheld ``<5``) as it is; a dash when absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return _fmt(None)
    return f"{value:.0f}"


def render_card_html(card: Mapping[str, Any]) -> str:
    """One self-contained HTML page (figures inlined; no external URL)."""
    env = jinja2.Environment(autoescape=True)
    perf = card["performance"]
    curve = perf.get("calibration_curve") or {}
    cal_fig = _calibration_figure(curve) if isinstance(curve, Mapping) else None
    effects = card.get("feature_effects")
    comparison = sorted((k, v) for k, v in (perf.get("comparison") or {}).items())
    sources = sorted({f["source"] for f in card.get("inputs", []) if f.get("source")})
    not_recorded = any(r.get("level") == "not recorded" and r.get("reference") == "recorded"
                       for e in effects or () for r in e.get("effects", ()))
    return env.from_string(_TEMPLATE).render(
        card=card, d=card["model_details"], p=card["privacy"], fmt=_fmt_defined, count=_count,
        pooled=perf.get("pooled_test") or {}, comparison=comparison, sources=sources,
        not_recorded=not_recorded,
        outcome_words=card.get("outcome_meaning") or f"'{card.get('outcome')}'",
        calibration_png=_png(cal_fig) if cal_fig else None,
        effects_png=_png(_effects_figure(effects)) if effects else None,
    )
