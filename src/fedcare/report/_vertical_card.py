"""The model card of a registered vertical model (JSON and HTML).

A vertical model's parameters are split between its parties, so the card says who holds
what: each party's role and features, the people they shared, the comparison with each
party alone and with the plaintext model on the joined table, and the limitations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from fedcare.report._html import STYLE, _fmt

__all__ = ["render_vertical_card_html", "vertical_card"]


def vertical_card(record: Any) -> dict[str, Any]:
    """The card of a vertical :class:`fedcare.registry.ModelRecord` as a JSON-ready dict."""
    prov, schema = record.provenance, record.schema
    return {
        "model_details": {
            "id": record.id, "name": record.name, "kind": record.kind,
            "status": record.status, "registered": record.created_at.isoformat(),
            "content_hash": record.content_hash, "model_id": prov.get("model_id"),
            "settings": prov.get("settings", {}), "versions": prov.get("versions", {})},
        "intended_use": record.intended_use,
        "outcome": schema.get("target"),
        "label_party": schema.get("label_party"),
        "parties": {name: {**p, "rows": (prov.get("sites", {}).get(name) or {}).get("n_rows")}
                    for name, p in (schema.get("parties") or {}).items()},
        "shared_people": (prov.get("psi") or {}).get("overlap"),
        "where_the_parameters_are": {
            name: f"{name}'s own model folder, {prov.get('model_id')}.json"
            for name in prov.get("saved_by", [])},
        "performance": record.metrics.get("vertical", {}),
        "limitations": record.limitations,
    }


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Model card: {{ d.name }}</title>
""" + STYLE + """</head><body>
<h1>Model card: {{ d.name }}</h1>
<p class="note">Model {{ d.id }} · {{ d.kind }} · vertical model {{ d.model_id }} · status
<strong>{{ d.status }}</strong> · registered {{ d.registered }} · content hash
<code>{{ d.content_hash[:16] }}…</code></p>
<div class="banner">A vertical model: its parameters are split between its parties and
never stored here. It predicts only with both parties (<code>fedcare vertical
predict --model-id {{ d.model_id }}</code>); the prediction API refuses it.</div>
<h2>Intended use</h2><p>{{ card.intended_use }}</p>
<h2>Parties</h2>
<table><thead><tr><th>party</th><th>role</th><th>rows</th><th>features</th>
<th>holds its part at</th></tr></thead><tbody>
{% for name, p in card.parties.items() %}<tr><td>{{ name }}</td><td>{{ p.role }}{% if
p.role == 'label' %} (holds {{ card.outcome }}){% endif %}</td><td>{{ p.rows }}</td>
<td style="text-align:left">{{ p.features | join(', ') }}</td>
<td style="text-align:left">{{ card.where_the_parameters_are.get(name, 'not saved') }}</td>
</tr>{% endfor %}</tbody></table>
<p class="note">Shared people (private set intersection): {{ card.shared_people }}.</p>
<h2>What collaboration is worth (the same test people)</h2>
<table><thead><tr><th>setting</th><th>AUC</th><th>95% CI</th><th>Brier</th>
<th>calibration slope</th><th>test n</th></tr></thead><tbody>
{% for name, m in card.performance.items() %}<tr><td>{{ name }}</td><td>{{ fmt(m.auc) }}</td>
<td>{% if m.auc_ci95 %}{{ fmt(m.auc_ci95[0]) }}-{{ fmt(m.auc_ci95[1]) }}{% else %}–{% endif %}</td>
<td>{{ fmt(m.brier) }}</td><td>{{ fmt(m.calibration_slope) }}</td><td>{{ m.n or '–' }}</td>
</tr>{% endfor %}</tbody></table>
{% for g in gains %}<p><strong>{{ g }}</strong></p>{% endfor %}
<p class="note">joint = this model; &lt;party&gt;_only = that party's features alone;
plaintext = the same people's joined table in one place (a reference only an embedded
run can compute).</p>
<h2>Known limitations</h2><ul>{% for note in card.limitations %}<li>{{ note }}</li>
{% endfor %}</ul>
</body></html>
"""


def render_vertical_card_html(card: Mapping[str, Any]) -> str:
    """One self-contained HTML page."""
    env = jinja2.Environment(autoescape=True)
    from fedcare.report._vertical import gain_lines

    gains = gain_lines({"results": card.get("performance", {})})
    return env.from_string(_TEMPLATE).render(card=card, d=card["model_details"], fmt=_fmt,
                                             gains=gains)
