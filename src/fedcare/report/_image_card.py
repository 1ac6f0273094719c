"""The model card of a registered image model (JSON and HTML).

What a radiologist or a reviewer asks of an image classifier: what it reads (modality,
grid, window) and what it refuses, where it was trained (slices per site), how it did at
each site beside each site alone and the pooled reference, its privacy, and its limits,
the first of which, for the synthetic studies, is that its images were generated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from fedcare.config._study import window_text
from fedcare.report._html import STYLE, _fmt

__all__ = ["image_card", "render_image_card_html"]


def image_card(record: Any) -> dict[str, Any]:
    """The card of an image :class:`fedcare.registry.ModelRecord` as a JSON-ready dict."""
    prov, metrics = record.provenance, record.metrics
    fed = metrics.get("federated", {})
    images = prov.get("images") or {}
    comparison = metrics.get("comparison", {})
    per_site: dict[str, dict[str, Any]] = {}
    for site, m in (fed.get("per_site") or {}).items():
        per_site[site] = {"federated": {k: m.get(k) for k in ("auc", "brier", "accuracy",
                                                               "n")}}
        for setting, other in comparison.items():
            per_site[site][setting.split(":")[0]] = {
                "auc": (other.get("per_site_auc") or {}).get(site),
                "accuracy": (other.get("per_site_accuracy") or {}).get(site)}
    return {
        "model_details": {
            "id": record.id, "name": record.name, "kind": record.kind,
            "status": record.status, "registered": record.created_at.isoformat(),
            "content_hash": record.content_hash, "strategy": prov.get("strategy"),
            "rounds": prov.get("rounds"), "run": prov.get("run"),
            "versions": prov.get("versions", {}), "settings": prov.get("settings", {}),
            "hyperparameters": record.hyperparameters},
        "intended_use": record.intended_use,
        "synthetic": bool(images.get("synthetic")),
        "inputs": {
            "format": "one DICOM file: a single greyscale 2-D slice",
            "modality": images.get("modality"), "grid": images.get("size"),
            "window": window_text(str((record.hyperparameters or {}).get("window")
                                      or "auto")),
            "refused": ["unreadable", "modality", "not-a-slice", "no-pixels", "undecodable",
                        "burned-in"],
            "de_identification": "DICOM PS3.15 E.1-1 basic profile before the pixels are read"},
        "outcome": record.schema.get("target"),
        "data_sources": {"sites": prov.get("sites", {}),
                         "excluded_sites": prov.get("excluded_sites", {})},
        "performance": {"per_site": per_site, "pooled_test": fed.get("pooled_test"),
                        "comparison": {k: {"pooled_test": v.get("pooled_test")}
                                       for k, v in comparison.items()}},
        "privacy": prov.get("privacy", {}),
        "explanation": "occlusion saliency (MONAI OcclusionSensitivity) with each prediction",
        "limitations": record.limitations,
    }


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Model card: {{ d.name }}</title>
""" + STYLE + """</head><body>
<h1>Model card: {{ d.name }}</h1>
<p class="note">Model {{ d.id }} · {{ d.kind }} · {{ d.strategy }} · {{ d.rounds }} rounds ·
status <strong>{{ d.status }}</strong> · registered {{ d.registered }} · content hash
<code>{{ d.content_hash[:16] }}…</code></p>
{% if card.synthetic %}<div class="banner" id="synthetic-images"><strong>Synthetic
images.</strong> This model was trained and measured on generated slices, not patients'
images: its figures show the method, not clinical accuracy.</div>{% endif %}
<h2>Intended use</h2><p>{{ card.intended_use }}</p>
<h2>Input</h2><p>{{ card.inputs.format }}, modality {{ card.inputs.modality }},
resampled to {{ card.inputs.grid }} x {{ card.inputs.grid }} pixels after windowing
({{ card.inputs.window }}); de-identified ({{
card.inputs.de_identification }}). Refused: {{ card.inputs.refused | join(', ') }}.
POST the file to <code>/v1/models/{{ d.id }}/predict/dicom</code>; the answer holds the
probability and an occlusion saliency map.</p>
<h2>Performance per site (test slices)</h2>
<table><thead><tr><th>site</th><th>train slices</th><th>test slices</th>
<th>federated AUC</th><th>federated Brier</th><th>federated accuracy</th>
{% for s in settings %}<th>{{ s }} AUC</th>{% endfor %}</tr></thead><tbody>
{% for site, row in card.performance.per_site.items() %}<tr><td>{{ site }}</td>
<td>{{ sites.get(site, {}).get('n_train', '–') }}</td>
<td>{{ sites.get(site, {}).get('n_test', '–') }}</td>
<td>{{ fmt(row.federated.auc) }}</td><td>{{ fmt(row.federated.brier) }}</td>
<td>{{ fmt(row.federated.accuracy) }}</td>
{% for s in settings %}<td>{{ fmt(row.get(s, {}).get('auc')) }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<p class="note">local = each site's own model on its own slices; pooled = all sites'
slices in one place (a reference only an embedded study can compute).</p>
<h2>Privacy</h2><p>{% if card.privacy.differential_privacy %}DP-SGD ({{
card.privacy.dp_level }} level): target epsilon {{ card.privacy.target_epsilon }}, delta
{{ card.privacy.delta }}{% if card.privacy.epsilon_max %}, spent at most {{
fmt(card.privacy.epsilon_max) }}{% endif %}.{% else %}No differential privacy:
the network's weights are not formally protected against membership inference{% if
card.privacy.membership_inference_auc %} (measured attack AUC {{
fmt(card.privacy.membership_inference_auc) }}, 0.5 = chance){% endif %}.{% endif %}
{% if card.privacy.secure_aggregation %} Updates summed with SecAgg+.{% endif %} Only the
network's weights and aggregate metrics left the sites; slices and their headers never
did.</p>
<h2>Known limitations</h2><ul>{% for note in card.limitations %}<li>{{ note }}</li>
{% endfor %}</ul>
</body></html>
"""


def render_image_card_html(card: Mapping[str, Any]) -> str:
    """One self-contained HTML page."""
    env = jinja2.Environment(autoescape=True)
    settings = sorted({s for row in card["performance"]["per_site"].values() for s in row
                       if s != "federated"})
    return env.from_string(_TEMPLATE).render(
        card=card, d=card["model_details"], fmt=_fmt, settings=settings,
        sites=card["data_sources"]["sites"])
