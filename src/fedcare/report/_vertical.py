"""A self-contained HTML report of a vertical study (``fedcare vertical train``)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

import jinja2
from matplotlib.figure import Figure

from fedcare._io import write_text_atomic
from fedcare.report._html import STYLE, _fmt, _png

__all__ = ["gain_lines", "render_vertical_report", "write_vertical_report"]

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
""" + STYLE + """</head><body>
<h1>{{ title }}</h1>
<p class="note">What this is: {{ a }} holds the label ({{ label }}) and some features,
{{ b }} other features of partly the same people. They found the people they share by
private set intersection (ECDH on X25519: neither saw the other's identifiers), then fitted
{{ how }}. The plaintext rows need
both tables in one place: they are references, possible only because one machine held
both files.</p>
<h2>Who took part</h2>
<table><thead><tr><th>party</th><th>role</th><th>rows</th><th>usable identifiers</th>
<th>identifier changes (a row may count under several)</th><th>invalid</th>
<th>features</th></tr></thead><tbody>
{% for p in parties %}<tr><td>{{ p.name }}</td><td>{{ p.role }}</td><td>{{ p.total }}</td>
<td>{{ p.usable }}</td><td>{{ p.changed }}</td><td>{{ p.invalid }}</td>
<td>{{ p.features }}</td></tr>{% endfor %}</tbody></table>
<p>Shared people: <strong>{{ overlap }}</strong> (PSI {{ psi_seconds }} s);
{{ n_train }} used for training, {{ n_test }} for testing (a keyed hash of each
identifier decides).</p>
<h2>What collaboration is worth</h2>
<table><thead><tr><th>setting</th><th>test AUC</th><th>95% CI</th><th>Brier</th>
<th>calibration slope</th><th>test n</th><th>what it is</th></tr></thead><tbody>
{% for r in rows %}<tr><td>{{ r.name }}</td><td>{{ r.auc }}</td><td>{{ r.ci }}</td>
<td>{{ r.brier }}</td><td>{{ r.slope }}</td><td>{{ r.n }}</td><td>{{ r.what }}</td></tr>
{% endfor %}</tbody></table>
{% for g in gains %}<p><strong>{{ g }}</strong></p>{% endfor %}
<p class="note">Intervals: percentile bootstrap of the test people (1,000 resamples); the
joint model's gain over the label party alone is paired (both scored on the same
resampled people). A single test split can show a gain or a loss by chance: read the
interval, not the sign.</p>
{% if leak %}<p class="banner"><strong>Possible leak:</strong> {{ leak }}</p>{% endif %}
{% if directions and directions.against %}<div class="banner" role="alert"
 id="against-known-medicine"><strong>The joint model points against known medicine:</strong>
<ul>{% for a in directions.against %}<li><code>{{ a.feature }}</code> ({{ a.concept }})
<strong>{{ a.learned }}</strong> (weight {{ "%+.3f" % a.log_odds }}); expected: {{ a.expected
}} ({{ a.source }})</li>{% endfor %}</ul>Review before use: a code read the wrong way round, a
unit, confounding or collinear inputs; the joint model has no interval, so chance in a small
study is possible too.</div>{% endif %}
{% if directions %}<p class="note" id="known-directions">{{ directions.summary }}</p>{% endif %}
{% if calibration %}<p class="banner"><strong>Calibration:</strong> {{ calibration }}</p>{% endif %}
{% if same %}<p class="note">{{ same }}</p>{% endif %}
{% for f in figures %}<figure><img src="data:image/png;base64,{{ f.png }}" alt="{{ f.alt }}">
<figcaption>Figure {{ loop.index }}. {{ f.caption }}</figcaption></figure>
{% endfor %}</body></html>
"""


def _what(name: str, a: str, b: str, trees: bool = False) -> str:
    return {"joint": "both parties' features, encrypted protocol",
            f"{a}_only": f"{a}'s features alone (fitted at {a})",
            f"{b}_only": f"{b}'s features alone (encrypted protocol; the label stays at {a})",
            "plaintext": ("scikit-learn's HistGradientBoostingClassifier on the joined table, "
                          "same trees, depth and rate (reference)" if trees else
                          "scikit-learn on the joined table (reference)"),
            "plaintext_same_algorithm": (
                "the same histogram GBDT in plaintext on the same bins" if trees else
                "the protocol's algorithm without encryption")
            }.get(name, "")


_HOW = {"logistic": "a logistic regression over both parties' features under CKKS "
                    "homomorphic encryption with the coordinator as key holder (it "
                    "decrypted only masked sums)",
        "secureboost": "gradient-boosted trees (SecureBoost): the label party encrypted each "
                       "person's gradient under Okamoto-Uchiyama, the other party summed "
                       "them per histogram bin without decrypting, and only the label party "
                       "decrypted the sums and chose the splits; the coordinator relayed "
                       "sealed messages it could not open"}


def _splits_figure(splits: Mapping[str, Mapping[str, int]]) -> Figure:
    items = [(f"{party}: {name}", count, i) for i, (party, counts) in enumerate(splits.items())
             for name, count in counts.items()]
    items.sort(key=lambda kv: kv[1], reverse=True)
    items = items[:20][::-1]
    fig = Figure(figsize=(7, 0.3 * len(items) + 1.2))
    ax = fig.add_subplot()
    colours = ["#08519c", "#fd8d3c"]
    ax.barh([k for k, _, _ in items], [v for _, v, _ in items],
            color=[colours[i % 2] for _, _, i in items])
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=colours[i % 2], label=party)
                       for i, party in enumerate(splits)], loc="lower right", fontsize=8)
    ax.set_xlabel("splits on this feature, all trees (which features the trees use, not "
                  "the direction of their effect)")
    return fig


def _auc_figure(rows: list[dict[str, Any]]) -> Figure:
    fig = Figure(figsize=(6.5, 0.45 * len(rows) + 1.2))
    ax = fig.add_subplot()
    names = [r["name"] for r in rows][::-1]
    values = [r["value"] for r in rows][::-1]
    hatches = ["//" if n.startswith("plaintext") else "" for n in names]
    bars = ax.barh(names, values, color="#9ecae1", edgecolor="#08519c")
    for bar, hatch, value in zip(bars, hatches, values, strict=True):
        bar.set_hatch(hatch)
        ax.text(value + 0.005, bar.get_y() + bar.get_height() / 2, f"{value:.3f}",
                va="center", fontsize=9)
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("test AUC (0.5 = chance)")
    return fig


def _weights_figure(weights: Mapping[str, Mapping[str, float]], rescaled: bool) -> Figure:
    items = [(f"{party}: {name}", value) for party, ws in weights.items()
             for name, value in ws.items() if name != "(intercept)"]
    items.sort(key=lambda kv: abs(kv[1]), reverse=True)
    items = items[:20][::-1]
    fig = Figure(figsize=(7, 0.3 * len(items) + 1.2))
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items],
            color=["#b2182b" if v > 0 else "#2166ac" for _, v in items],
            hatch=None)
    for i, (_, v) in enumerate(items):
        ax.text(v, i, " + risk" if v > 0 else " - risk", va="center", fontsize=8,
                ha="left" if v > 0 else "right")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.margins(x=0.15)
    ax.set_xlabel("log-odds per standard deviation, rescaled to the recalibrated risks"
                  if rescaled else
                  "Taylor-model weight per standard deviation (shrunk: compare signs and "
                  "order, not sizes)")
    return fig


def _render(result: Mapping[str, Any]) -> str:
    psi = result["psi"]
    roles = result["parties"]
    a = next(n for n, p in roles.items() if p["role"] != "passive")
    b = next(n for n in roles if n != a)
    parties = []
    for name in (a, b):
        report = psi["normalisation"][name]
        changed = sum(int(report.get(k, 0)) for k in (
            "width_folded", "whitespace_trimmed", "case_folded", "separators_removed",
            "country_code_removed", "upgraded_15_to_18"))
        parties.append({"name": name, "role": roles[name]["role"], "total": report["total"],
                        "usable": psi["sizes"][name], "changed": changed,
                        "invalid": report["invalid"],
                        "features": len(roles[name]["features"])})
    results = result.get("results", {})
    model = str(result.get("model", "logistic"))
    trees = model == "secureboost"
    rows, bars = [], []
    for name, m in results.items():
        ci = m.get("auc_ci95")
        rows.append({"name": name, "auc": _fmt(m.get("auc")), "brier": _fmt(m.get("brier")),
                     "ci": f"{_fmt(ci[0])}-{_fmt(ci[1])}" if ci else "-",
                     "slope": _fmt(m.get("calibration_slope")), "n": m.get("n", "-"),
                     "what": _what(name, a, b, trees)})
        if m.get("auc") is not None:
            bars.append({"name": name, "value": float(m["auc"])})
    figures = []
    specs = []
    if bars:
        specs.append((_auc_figure(bars), "Horizontal bars of test AUC per setting.",
                      "Test AUC per setting on the same test people (hatched: plaintext "
                      "references that need both tables in one place)."))
    joint = results.get("joint", {})
    if joint.get("weights"):
        rescaled = "weights_recalibrated" in joint
        specs.append((_weights_figure(joint["weights_recalibrated"] if rescaled
                                      else joint["weights"], rescaled),
                      "Horizontal bars of the joint model's largest weights, red to the "
                      "right raises risk, blue to the left lowers it.",
                      "The joint model's 20 largest weights by size (standardised "
                      "features; a text column's level against its first level in "
                      "alphabetical order), each labelled with its direction; check that "
                      "known risk factors raise risk."
                      + ("" if rescaled else " The Taylor approximation shrinks every "
                         "weight by about the same factor (about 1.7 on SUPPORT2): they are "
                         "not odds ratios; train with --recalibrate for the rescaled ones.")))
    if joint.get("splits"):
        specs.append((_splits_figure(joint["splits"]),
                      "Horizontal bars: how many splits of the joint trees use each feature, "
                      "coloured by party.",
                      "How often each feature splits a node of the joint trees (the 20 most "
                      "used; each party counts its own; where a passive feature is cut "
                      "stays with that party). Trees have no sign per feature: check the "
                      "direction of a known risk factor with a partial-dependence or "
                      "served explanation, not here."))
    for fig, alt, caption in specs:
        try:
            figures.append({"png": _png(fig), "alt": alt, "caption": caption})
        finally:
            fig.clear()
    label = result.get("label") or {}
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        title=f"fedcare vertical study: {a} + {b}", a=a, b=b,
        label=label.get("column", "-"), parties=parties, overlap=psi["overlap"],
        psi_seconds=f"{psi['seconds']:.1f}", n_train=joint.get("n_train", "-"),
        n_test=joint.get("n_test", "-"), rows=rows,
        same=_same_text(results.get("plaintext_same_algorithm")), how=_HOW[model],
        gains=gain_lines(result),
        figures=figures, calibration=_calibration_text(joint, trees),
        leak=_leak_text(results), directions=result.get("known_directions"))


def _same_text(same: Mapping[str, Any] | None) -> str:
    if not same:
        return ""
    if "max_weight_difference" in same:
        return (f"The encrypted model's weights differ from the same algorithm run without "
                f"encryption by at most {same['max_weight_difference']:.1e} (CKKS "
                f"precision).")
    return (f"Lossless: the encrypted trees' test AUC differs from the same histogram GBDT "
            f"in plaintext on the same bins by {same['auc_difference']:.1e} and the Brier "
            f"score by {same['brier_difference']:.1e} (floating-point summation order).")


def gain_lines(result: Mapping[str, Any]) -> list[str]:
    """The joint model against the label party alone: the paired difference and its
    interval, said plainly (a single split can show either way by chance)."""
    out = []
    for name, metrics in result.get("results", {}).items():
        gain = metrics.get("joint_gain") or {}
        diff, ci = gain.get("auc_difference"), gain.get("ci95")
        if diff is None or not ci:
            continue
        verdict = ("the joint model is better" if ci[0] > 0 else
                   "the joint model is worse" if ci[1] < 0 else
                   "no clear difference on these test people")
        out.append(f"joint minus {name}: AUC {diff:+.3f} (95% CI {ci[0]:+.3f} to "
                   f"{ci[1]:+.3f}, paired bootstrap of the test people): {verdict}")
    return out


def _leak_text(results: Mapping[str, Any]) -> str:
    near = [f"{name} (AUC {float(m['auc']):.3f})" for name, m in results.items()
            if name.endswith("_only") and (m.get("auc") or 0) > 0.98]
    if not near:
        return ""
    return (", ".join(near) + " predicts the label almost perfectly: does that party hold "
            "the label, or a copy or consequence of it? Such a column makes the joint model "
            "look good and predict nothing new.")


def _calibration_text(joint: Mapping[str, Any], trees: bool = False) -> str:
    slope = joint.get("calibration_slope")
    if trees:
        if slope is not None and not 0.8 <= float(slope) <= 1.25:
            return (f"the joint trees' calibration slope on the test people is "
                    f"{float(slope):.2f} (1 is ideal): "
                    + ("too few trees or too low a learning rate leave the risks "
                       "compressed towards the average" if float(slope) > 1 else
                       "the trees overfit the training people (fewer or shallower trees)")
                    + ". Read the probabilities as scores, not risks.")
        return ""
    if joint.get("recalibration"):
        r = joint["recalibration"]
        return (f"the joint score was rescaled to risks on the training people (Platt "
                f"slope {r['slope']:.2f}, intercept {r['intercept']:.2f}); test calibration "
                f"slope {_fmt(slope)}.")
    if slope is not None and not 0.8 <= float(slope) <= 1.25:
        return (f"the joint model's calibration slope on the test people is {float(slope):.2f} "
                "(1 is ideal): the Taylor approximation of the logistic loss shrinks the "
                "weights, so the model ranks people as well as plaintext but its "
                "probabilities are compressed towards the average. Read them as scores, not "
                "risks, or train with --recalibrate.")
    return ""


def render_vertical_report(result: Mapping[str, Any]) -> str:
    """The HTML report of a ``fedcare vertical train`` result."""
    return _render(result)


def write_vertical_report(result: dict[str, Any], path: pathlib.Path | str) -> pathlib.Path:
    """Write the HTML report of a ``fedcare vertical train`` result (atomically)."""
    path = pathlib.Path(path)
    write_text_atomic(path, _render(result))
    return path
