"""The study report tells the truth and scales (issue 12, items 1, 5 and 6).

Headline figures, the majority-class baseline, small-cell suppression, live-federation
reports, integer counts, the Table-1 note on n, the quality-override banner and per-site
figures at 67 sites. Every test reads the rendered HTML (or the figure it embeds).
"""

from __future__ import annotations

import base64
import copy
import pathlib
import re
import struct
from html import unescape
from typing import Any

import pytest

from fedcare.report import write_report
from fedcare.report._html import _convergence_figure, _per_site_figure


def _row(acc: float | None, auc: float | None, *, n: int = 20,
         brier: float | None = 0.2, n_events: int | str | None = "absent") -> dict[str, Any]:
    row: dict[str, Any] = {"accuracy": acc, "auc": auc, "brier": brier,
                           "calibration_slope": None if auc is None else 1.0,
                           "calibration_intercept": None if auc is None else 0.0, "n": n}
    if n_events != "absent":
        row["n_events"] = n_events
    return row


def _embedded(**events: int | None) -> dict[str, Any]:
    """An embedded study of two sites; ``events`` adds test-row event counts per site."""
    ev: dict[str, Any] = {"site-alpha": "absent", "site-beta": "absent", **events}

    def setting(acc: float, rounds: int) -> dict[str, Any]:
        return {"per_site": {"site-alpha": _row(acc, 0.8, n_events=ev["site-alpha"]),
                             "site-beta": _row(acc - 0.1, None, n_events=ev["site-beta"])},
                "mean_client_accuracy": acc - 0.05,
                "pooled_test": {"accuracy": acc, "auc": 0.81, "brier": 0.17},
                "rounds": rounds, "seconds": 1.5}

    return {
        "study": {"data": "builtin:heart-disease", "strategy": "newton", "min_cell": 5,
                  "rounds": 3, "test_size": 0.34, "missing": "impute",
                  "quality_check": "refuse"},
        "sites": {"site-alpha": {"n_rows": 80, "n_train": 60, "n_test": 20,
                                 "n_dropped_missing": 1},
                  "site-beta": {"n_rows": 70, "n_train": 50, "n_test": 20,
                                "n_dropped_missing": 0}},
        "excluded_sites": {},
        "results": {"local": setting(0.70, 0), "federated:newton": setting(0.80, 3),
                    "pooled": setting(0.82, 0)},
        "convergence": {"federated:newton": [
            {"round": r, "accuracy": 0.7 + 0.03 * r, "auc": 0.75 + 0.02 * r,
             "test_loss": 0.6 - 0.05 * r, "train_loss": 0.6, "seconds": 0.1}
            for r in (1, 2, 3)]},
        "calibration": {s: {"predicted": [0.1, 0.5, 0.9], "observed": [0.15, 0.45, 0.85],
                            "n": [10.0, 15.0, 15.0]} for s in ("federated:newton", "pooled")},
    }


def _live() -> dict[str, Any]:
    """What ``federation_result`` writes for a live federation: no pooled model, no
    calibration, no per-round AUC, pooled-test AUC and Brier None."""
    metrics = _embedded()
    del metrics["results"]["pooled"]
    for r in metrics["results"].values():
        r["pooled_test"] = {"accuracy": r["pooled_test"]["accuracy"], "auc": None,
                            "brier": None}
    metrics["calibration"] = {}
    for point in metrics["convergence"]["federated:newton"]:
        point["auc"] = None
    return metrics


def _html(metrics: dict[str, Any], tmp_path: pathlib.Path) -> str:
    """The report's HTML with entities decoded (apostrophes read as typed)."""
    return unescape(write_report(metrics, tmp_path / "report.html").read_text("utf-8"))


def _section(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[start:html.index("</table>", start)]


def _cells(row_html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html, flags=re.S)]


def _rows(table_html: str) -> dict[str, list[str]]:
    body = table_html[table_html.index("<tbody>"):]
    rows = [_cells(r) for r in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]
    return {r[0]: r[1:] for r in rows if r}


def _png_sizes(html: str) -> list[tuple[int, int]]:
    sizes = []
    for b64 in re.findall(r'src="data:image/png;base64,([^"]+)"', html):
        header = base64.b64decode(b64[:48])
        sizes.append(struct.unpack(">II", header[16:24]))
    return sizes


# -- headline figures and the majority-class baseline ------------------------------------
def test_auc_and_brier_lead_and_accuracy_stands_beside_its_baseline(
        tmp_path: pathlib.Path) -> None:
    html = _html(_embedded(**{"site-alpha": 8, "site-beta": 6}), tmp_path)
    table = _section(html, "comparison")
    head = table[:table.index("</thead>")]
    order = [head.index(h) for h in ("AUC", "Brier score", "accuracy",
                                     "majority-class baseline accuracy")]
    assert order == sorted(order)
    # 14 events among 40 test rows: always predicting "no event" is right for 26 of 40
    assert _rows(table)["federated:newton"][:4] == ["0.810", "0.170", "0.800", "0.650"]
    per_site = _rows(_section(html, "per-site"))
    assert per_site["site-alpha"][4] == "0.600"  # 8 of 20: 12/20
    assert per_site["site-beta"][4] == "0.700"  # 6 of 20: 14/20
    assert "shows no skill" in html


def test_an_explicit_baseline_is_used_as_it_is(tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    for r in metrics["results"].values():
        r["pooled_test"]["baseline_accuracy"] = 0.9125
    assert _rows(_section(_html(metrics, tmp_path), "comparison"))["local"][3] == "0.912"


def test_without_test_event_counts_the_baseline_is_marked_approximate(
        tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    metrics["quality"] = {"min_cell": 5, "summary": {}, "findings": [],
                          "sites": {"site-alpha": {"n_rows": 100, "n_events": 30,
                                                   "prevalence": 0.3},
                                    "site-beta": {"n_rows": 100, "n_events": 50,
                                                  "prevalence": 0.5}}}
    html = _html(metrics, tmp_path)
    assert _rows(_section(html, "comparison"))["local"][3] == "≈0.600"
    assert _rows(_section(html, "per-site"))["site-alpha"][4] == "≈0.700"
    assert "≈: from the sites' prevalence" in html


def test_a_withheld_event_count_suppresses_the_baseline(tmp_path: pathlib.Path) -> None:
    html = _html(_embedded(**{"site-alpha": 8, "site-beta": None}), tmp_path)
    assert _rows(_section(html, "per-site"))["site-beta"][4] == "suppressed"


# -- suppressed, never blank ---------------------------------------------------------------
def test_a_suppressed_auc_says_so_in_the_table_and_the_figure(tmp_path: pathlib.Path) -> None:
    html = _html(_embedded(), tmp_path)
    beta = _rows(_section(html, "per-site"))["site-beta"]
    # AUC of every setting (5th, 8th, 11th column after the site) is suppressed
    assert [beta[i] for i in (5, 8, 11)] == ["suppressed"] * 3
    assert 'class="sup"' in _section(html, "per-site")
    assert "suppressed (fewer than 5 …): withheld by the small-cell rule" in html
    caption = re.search(r"Figure 1\.(.*?)</figcaption>", html, flags=re.S)
    assert caption is not None and "suppressed (fewer than 5 events" in caption.group(1)


def test_a_site_with_too_few_test_patients_has_every_figure_suppressed(
        tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    for r in metrics["results"].values():
        r["per_site"]["site-beta"] = _row(None, None, brier=None, n=3)
    beta = _rows(_section(_html(metrics, tmp_path), "per-site"))["site-beta"]
    assert beta[5:] == ["suppressed"] * 9
    assert "nan" not in " ".join(beta).lower()


def test_without_small_cell_protection_a_missing_auc_is_undefined(
        tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    metrics["study"]["min_cell"] = 1
    html = _html(metrics, tmp_path)
    assert _rows(_section(html, "per-site"))["site-beta"][5] == "undefined (one class)"
    assert "suppressed" not in _section(html, "per-site")


def test_a_panel_without_any_released_figure_is_left_out_and_said_why(
        tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    for r in metrics["results"].values():
        r["per_site"]["site-alpha"]["auc"] = None
    html = _html(metrics, tmp_path)
    assert "No per-site AUC panel: no site released one (each was withheld by the " \
           "small-cell rule: fewer than 5 events" in html
    assert "Dot plot of per-site Brier score, accuracy" in html


# -- live federation ---------------------------------------------------------------------
def test_live_report_names_the_sites_data_and_no_pooled_model(tmp_path: pathlib.Path) -> None:
    html = _html(_live(), tmp_path)
    assert "builtin:heart-disease" not in html
    assert "pooled" not in html.lower()
    assert "live federation" in html
    assert "site-alpha, site-beta — each site's own data" in html
    # AUC over all test rows is not available; the Brier score is exact from the sites
    row = _rows(_section(html, "comparison"))["federated:newton"]
    assert row[:3] == ["not available", "0.200", "0.800"]


def test_live_report_shows_each_sites_data_description_when_present(
        tmp_path: pathlib.Path) -> None:
    metrics = _live()
    metrics["sites"]["site-alpha"]["data"] = "alpha_cohort_2024.csv"
    metrics["sites"]["site-beta"]["data"] = "beta EHR extract"
    html = _html(metrics, tmp_path)
    assert "site-alpha (alpha_cohort_2024.csv); site-beta (beta EHR extract)" in html


def test_a_live_image_study_s_report_says_where_its_maps_are_and_counts_slices(
        tmp_path: pathlib.Path) -> None:
    """A deployed image study's report has no saliency maps (no slice leaves a site): it
    says so and where a site finds them; its rows are slices, not patients."""
    metrics = _live()
    metrics["study"]["images"] = "dicom/"
    html = _html(metrics, tmp_path)
    assert 'id="images"' in html and "No saliency maps here" in html
    assert "predict/dicom" in html
    assert "test slices" in html and "test patients" not in html
    table = _html(_live(), tmp_path)  # a table study keeps its wording, no image section
    assert 'id="images"' not in table and "test patients" in table


def test_live_report_has_no_empty_panel(tmp_path: pathlib.Path) -> None:
    html = _html(_live(), tmp_path)
    assert len(_png_sizes(html)) == 2  # per-site and convergence; no calibration
    assert "No per-round AUC panel: it needs every prediction in one place" in html
    assert "No calibration plot" in html
    metrics = _live()
    fig, _, caption, omitted = _convergence_figure(metrics["convergence"], None,
                                                   {"federated:newton": "C1"}, live=True)
    assert fig is not None
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy, the sites' test rows",
                                                    "test log loss, the sites' test rows"]
    assert all(ax.has_data() for ax in fig.axes)
    assert "pooled" not in caption.lower() and len(omitted) == 1


@pytest.mark.parametrize("rounds", [2, 3, 7])
def test_round_axes_are_whole_numbers(rounds: int) -> None:
    conv = {"federated:newton": [{"round": r, "accuracy": 0.7 + 0.01 * r, "auc": None,
                                  "test_loss": 0.5 - 0.01 * r} for r in range(1, rounds + 1)]}
    fig, *_ = _convergence_figure(conv, None, {}, live=True)
    assert fig is not None
    fig.canvas.draw()
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_a_flat_curve_is_not_drawn_as_a_dramatic_one() -> None:
    conv = {"f": [{"round": r, "accuracy": 0.7927 + 0.0001 * r, "auc": None,
                   "test_loss": None} for r in (1, 2, 3)]}
    fig, *_ = _convergence_figure(conv, None, {}, live=True)
    assert fig is not None
    lo, hi = fig.axes[0].get_ylim()
    assert hi - lo >= 0.1


# -- integers and Table 1's n ------------------------------------------------------------
def test_counts_are_whole_numbers(tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    metrics["sites"]["site-alpha"].update(n_rows=80.0, n_train=60.0, n_test=20.0)
    metrics["quality"] = {"min_cell": 5, "summary": {"blocking": 0}, "findings": [],
                          "sites": {"site-alpha": {"n_rows": 303.0, "n_events": 139.0,
                                                   "prevalence": 0.4587},
                                    "site-beta": {"n_rows": 51, "n_events": "<5",
                                                  "prevalence": None}}}
    html = _html(metrics, tmp_path)
    alpha = _rows(_section(html, "per-site"))["site-alpha"]
    assert alpha[:4] == ["80", "60", "20", "1"]
    assert _rows(_section(html, "comparison"))["federated:newton"][5] == "3"
    assert "303.0" not in html and "139.0" not in html and ">303<" in html
    assert re.search(r"<td>site-beta</td>\s*<td>51</td><td><5</td>\s*<td class=\"sup\"",
                     html)


def test_table_one_explains_n(tmp_path: pathlib.Path) -> None:
    html = _html(_embedded(), tmp_path)
    note = html[html.index('id="per-site"'):]
    assert "n rows: the site's rows the study used, after leaving out (dropped)" in note
    assert "n rows = n train + n test" in note and "34% of n rows" in note
    complete = _embedded()
    complete["study"]["missing"] = "complete-case"
    assert "or any other missing value (missing = complete-case)" in _html(complete, tmp_path)


def test_sites_are_sorted_numerically(tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    for name in ("site 10", "site 2"):
        metrics["sites"][name] = dict(metrics["sites"]["site-alpha"])
        for r in metrics["results"].values():
            r["per_site"][name] = _row(0.7, 0.7)
    names = list(_rows(_section(_html(metrics, tmp_path), "per-site")))
    assert names.index("site 2") < names.index("site 10")


# -- the quality-override banner ---------------------------------------------------------
def test_an_overridden_quality_check_shows_a_banner_at_the_top(tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    metrics["quality_check"] = "warn"
    metrics["quality_override"] = [
        "site 'va' feature 'chol' missing_code: value 0 in 49 of 193 values (25.4%)",
        "site 'switzerland' feature 'chol' missing_code: value 0 in all 123 values"]
    html = _html(metrics, tmp_path)
    banner = html.index('id="quality-override"')
    assert banner < html.index("<h2")
    assert banner < html.index("value 0 in 49 of 193 values") < html.index("<h2")
    assert "Data-quality check overridden" in html
    assert 'quality_check = "warn"' in html and "2 blocking problems" in html


def test_blocking_findings_run_with_warn_show_the_banner_too(tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    metrics["study"]["quality_check"] = "warn"
    metrics["quality"] = {"min_cell": 5, "summary": {"blocking": 1}, "sites": {},
                          "findings": [{"severity": "blocking", "site": "va",
                                        "feature": "chol", "kind": "missing_code",
                                        "detail": "value 0 in 49 of 193 values"}]}
    html = _html(metrics, tmp_path)
    assert html.index('id="quality-override"') < html.index("<h2")
    assert "site 'va', feature 'chol' (missing_code): value 0 in 49 of 193 values" in html


def test_no_banner_without_an_override(tmp_path: pathlib.Path) -> None:
    metrics = _embedded()
    metrics["quality"] = {"min_cell": 5, "summary": {"blocking": 1}, "sites": {},
                          "findings": [{"severity": "blocking", "site": "va",
                                        "feature": "chol", "kind": "missing_code",
                                        "detail": "value 0"}]}
    assert "quality-override" not in _html(metrics, tmp_path)  # quality_check = refuse


# -- 67 sites ----------------------------------------------------------------------------
def _many(n_sites: int) -> dict[str, Any]:
    metrics = copy.deepcopy(_embedded())
    names = [str(100 + 37 * i) for i in range(n_sites)]
    metrics["sites"] = {s: {"n_rows": 100, "n_train": 66, "n_test": 34,
                            "n_dropped_missing": 0} for s in names}
    for r in metrics["results"].values():
        r["per_site"] = {s: _row(0.6 + 0.005 * (i % 60), None if i % 17 == 0 else
                                 0.5 + (i * 7919 % 67) / 140, n=34, n_events=10)
                         for i, s in enumerate(names)}
    return metrics


def test_per_site_figure_grows_with_the_number_of_sites(tmp_path: pathlib.Path) -> None:
    (_w4, h4), *_ = _png_sizes(_html(_many(4), tmp_path))
    (w67, h67), *_ = _png_sizes(_html(_many(67), tmp_path))
    assert h4 < 500
    # at least 20 px per site row at the page's width (no 60-pixel strip)
    assert h67 >= 67 * 20 * max(1.0, w67 / 1100)
    assert w67 <= 1.2 * 1100


def test_per_site_rows_are_sorted_by_the_federated_auc() -> None:
    metrics = _many(67)
    results = metrics["results"]
    sites = list(metrics["sites"])
    fig, _, caption, _ = _per_site_figure(results, list(results), sites, {}, 5)
    assert fig is not None
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == sorted(sites)
    per_site = results["federated:newton"]["per_site"]
    aucs = [per_site[s]["auc"] for s in labels]
    released = [a for a in aucs if a is not None]
    assert released == sorted(released, reverse=True)
    assert aucs[len(released):] == [None] * (len(aucs) - len(released))  # withheld last
    assert f"{len(aucs) - len(released)} site(s) whose AUC was suppressed" in caption
    assert "sorted by the federated:newton AUC (highest first)" in caption
