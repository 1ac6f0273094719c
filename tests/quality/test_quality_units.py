"""Unit mismatch between sites: detected, named, and gone once the unit is right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcare.data._units import QUANTITIES, convert
from fedcare.quality import check_table


@pytest.fixture(scope="module")
def with_metric_site(heart: pd.DataFrame) -> pd.DataFrame:
    """The heart table plus site 'lyon': Cleveland's rows with cholesterol in mmol/L."""
    lyon = heart[heart["site"] == "cleveland"].copy()
    lyon["site"] = "lyon"
    lyon["chol"] = convert(lyon["chol"], "mg/dL", "mmol/L", quantity=QUANTITIES["cholesterol"],
                           feature="chol")
    return pd.concat([heart, lyon], ignore_index=True)


def _unit_findings(report: object) -> list[tuple[str | None, str | None, str]]:
    return [(f.site, f.feature, f.detail) for f in report.findings  # type: ignore[attr-defined]
            if f.kind == "unit_mismatch"]


def test_mmol_per_litre_site_is_detected_and_named(with_metric_site: pd.DataFrame) -> None:
    report = check_table(with_metric_site, "site", "target", units={"chol": "mg/dL"})
    found = _unit_findings(report)
    assert [(s, f) for s, f, _ in found] == [("lyon", "chol")]
    detail = found[0][2]
    assert "values look like mmol/L, not mg/dL" in detail
    assert "38.6 times" in detail  # the molar-mass factor 386.65 / 10
    lyon = [f for f in report.findings if f.site == "lyon"]
    assert [(f.kind, f.severity) for f in lyon] == [("unit_mismatch", "blocking")]
    # the unit explains the out-of-range values: no separate out-of-range finding
    n_lyon = int((with_metric_site["site"] == "lyon").sum())  # 303 on the UCI files
    assert report.features["chol"]["lyon"]["n_out_of_range"] == n_lyon


def test_finding_disappears_with_the_unit_declared_and_converted(
        with_metric_site: pd.DataFrame, heart: pd.DataFrame) -> None:
    baseline = check_table(heart, "site", "target", units={"chol": "mg/dL"}).findings
    # 1. the site declares its unit: its values are converted with `convert` at the site
    declared = check_table(with_metric_site, "site", "target", units={"chol": "mg/dL"},
                           site_units={"lyon": {"chol": "mmol/L"}})
    assert _unit_findings(declared) == []
    assert [f for f in declared.findings if f.site == "lyon"] == []
    # 2. the values are converted before the check
    fixed = with_metric_site.copy()
    lyon = fixed["site"] == "lyon"
    fixed.loc[lyon, "chol"] = convert(fixed.loc[lyon, "chol"], "mmol/L", "mg/dL",
                                      quantity=QUANTITIES["cholesterol"], feature="chol")
    converted = check_table(fixed, "site", "target", units={"chol": "mg/dL"})
    assert _unit_findings(converted) == []
    assert [f for f in converted.findings if f.site == "lyon"] == []
    # Switzerland's prevalence is compared with one more site; everything else is as before
    assert ([(f.site, f.feature, f.kind) for f in converted.findings]
            == [(f.site, f.feature, f.kind) for f in baseline])


def test_pounds_site_is_named_among_three_units() -> None:
    rng = np.random.default_rng(5)
    parts = []
    for site, unit in (("a", "kg"), ("b", "kg"), ("c", "kg"), ("d", "[lb_av]")):
        kg = rng.normal(78, 14, 150)
        weight = convert(kg, "kg", unit) if unit != "kg" else kg
        parts.append(pd.DataFrame({"site": site, "weight": np.round(weight, 1),
                                   "y": rng.integers(0, 2, 150)}))
    report = check_table(pd.concat(parts, ignore_index=True), "site", "y")
    found = _unit_findings(report)
    assert [(s, f) for s, f, _ in found] == [("d", "weight")]
    assert "values look like [lb_av], not kg" in found[0][2]


def test_natural_differences_between_sites_are_not_a_unit_mismatch(heart: pd.DataFrame) -> None:
    # thalach medians differ by ~1.3x between Cleveland and VA: no finding
    assert _unit_findings(check_table(heart, "site", "target")) == []
