"""Model cards (JSON and HTML) generated from a registry record.

Sections after Mitchell et al., "Model Cards for Model Reporting" (2019): model details,
intended use, data sources (sites and sizes, never rows), performance per site with
calibration, comparison with each site alone and with pooling, privacy guarantees,
feature importance, known limitations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from matplotlib.figure import Figure

from fedcare.explain._model import say_unit
from fedcare.report._html import STYLE, _fmt, _png

__all__ = ["model_card", "render_card_html"]


def model_card(record: Any, importance: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The card of a :class:`fedcare.registry.ModelRecord` as a JSON-ready dict."""
    prov, metrics = record.provenance, record.metrics
    fed = metrics.get("federated", {})
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
        "inputs": [
            {"name": f["name"], "kind": f["kind"], "unit": f.get("unit"),
             "unit_display": say_unit(f.get("unit")) or None,
             "valid_range": f.get("valid_range"), "levels": f.get("categories") or None}
            for f in record.schema.get("features", [])
        ],
        "outcome": record.schema.get("target"),
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
<h2>Intended use</h2><p>{{ card.intended_use }}</p>
<h2>Inputs</h2>
<table><thead><tr><th>feature</th><th>kind</th><th>unit</th><th>accepted</th></tr></thead>
<tbody>{% for f in card.inputs %}<tr><td>{{ f.name }}</td><td>{{ f.kind }}</td>
<td>{{ f.unit_display or "–" }}</td><td>{% if f.valid_range %}{{ f.valid_range[0] }} –
{{ f.valid_range[1] }}{% elif f.levels %}{{ f.levels | join(", ") }}
{% elif f.kind == "binary" %}0 or 1{% else %}any number{% endif %}</td></tr>
{% endfor %}</tbody></table>
<p class="note">Outcome: <code>{{ card.outcome }}</code> = 1.</p>
<h2>Data sources</h2>
<p class="note">Patient rows never left their hospital; these are the counts each site
reported.</p>
<table><thead><tr><th>site</th><th>train</th><th>test</th><th>left out (missing values)</th>
</tr></thead>
<tbody>{% for name, s in card.data_sources.sites.items() %}<tr><td>{{ name }}</td>
<td>{{ s.n_train }}</td><td>{{ s.n_test }}</td><td>{{ s.n_dropped_missing }}</td></tr>
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
{% if importance_png %}<h2>What drives the predictions</h2>
<figure><img src="data:image/png;base64,{{ importance_png }}" alt="Global feature importance">
<figcaption>Mean absolute contribution to the log-odds over a synthetic reference sample
drawn from the federated means and SDs.</figcaption></figure>{% endif %}
<h2>Known limitations</h2><ul>{% for l in card.limitations %}<li>{{ l }}</li>{% endfor %}</ul>
</body></html>
"""


def _importance_figure(importance: Mapping[str, float]) -> Figure:
    names = list(importance)[::-1]
    fig = Figure(figsize=(6, 0.35 * len(names) + 1))
    ax = fig.add_subplot()
    ax.barh(names, [importance[n] for n in names], color="#3b6ea5")
    ax.set_xlabel("mean |contribution| (log-odds)")
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


def render_card_html(card: Mapping[str, Any]) -> str:
    """One self-contained HTML page (figures inlined; no external URL)."""
    env = jinja2.Environment(autoescape=True)
    perf = card["performance"]
    curve = perf.get("calibration_curve") or {}
    cal_fig = _calibration_figure(curve) if isinstance(curve, Mapping) else None
    importance = card.get("feature_importance")
    comparison = sorted((k, v) for k, v in (perf.get("comparison") or {}).items())
    return env.from_string(_TEMPLATE).render(
        card=card, d=card["model_details"], p=card["privacy"], fmt=_fmt,
        pooled=perf.get("pooled_test") or {}, comparison=comparison,
        calibration_png=_png(cal_fig) if cal_fig else None,
        importance_png=_png(_importance_figure(importance)) if importance else None,
    )
