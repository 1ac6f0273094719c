"""The quality report on the UCI heart-disease data: every finding, and nothing else."""

from __future__ import annotations

import pandas as pd

from fedcare.quality import check_table

#: Every finding the four UCI hospitals produce (site, feature, kind, severity).
EXPECTED = [
    ("switzerland", "chol", "missing_code", "blocking"),
    ("va", "chol", "missing_code", "blocking"),
    ("switzerland", "target", "prevalence", "warning"),
    ("switzerland", "fbs", "missing", "warning"),
    ("va", "trestbps", "missing", "warning"),
    ("va", "thalach", "missing", "warning"),
    ("va", "exang", "missing", "warning"),
    ("va", "oldpeak", "missing", "warning"),
    ("hungary", "chol", "missing", "info"),
    ("va", "trestbps", "out_of_range", "info"),
]


def test_switzerland_cholesterol_is_a_missing_value_code(heart: pd.DataFrame) -> None:
    report = check_table(heart, "site", "target")
    swiss = [f for f in report.findings if (f.site, f.feature) == ("switzerland", "chol")]
    assert len(swiss) == 1
    finding = swiss[0]
    assert (finding.kind, finding.severity) == ("missing_code", "blocking")
    assert "value 0 in all 123 values (100.0%)" in finding.detail
    assert "valid range 50-1000 mg/dL" in finding.detail
    assert finding in report.blocking
    # no quartiles for a site whose every value is the code
    assert report.features["chol"]["switzerland"]["q50"] is None
    assert report.features["chol"]["switzerland"]["codes"] == {"0": 123}


def test_every_heart_finding_is_listed_and_sensible(heart: pd.DataFrame) -> None:
    report = check_table(heart, "site", "target")
    got = [(f.site, f.feature, f.kind, f.severity) for f in report.findings]
    assert got == EXPECTED
    details = {(f.site, f.feature, f.kind): f.detail for f in report.findings}
    assert details[("va", "chol", "missing_code")].startswith("value 0 in 49 of 193 values")
    assert "93.5% (115 of 123)" in details[("switzerland", "target", "prevalence")]
    assert details[("switzerland", "fbs", "missing")].startswith("75 of 123 rows missing")
    # a single zero blood pressure at VA is reported without its count (small cell)
    assert details[("va", "trestbps", "out_of_range")].startswith("fewer than 5 of 144 values "
                                                                  "below 50 mm[Hg]")
    # oldpeak is 0 for 28-64% of every site's rows: a real value, not a code
    assert not any(f.feature == "oldpeak" and f.kind == "missing_code" for f in report.findings)
    assert report.counts() == {"blocking": 2, "warning": 6, "info": 2}


def test_declared_heart_units_give_the_same_findings(heart: pd.DataFrame) -> None:
    from fedcare.data._heart import HEART_CATEGORICAL, HEART_FEATURES, HEART_UNITS

    inferred = check_table(heart, "site", "target")
    declared = check_table(heart, "site", "target", features=HEART_FEATURES,
                           categorical=HEART_CATEGORICAL, units=HEART_UNITS)
    assert declared.findings == inferred.findings
