"""What a site sends: no count of 1..k-1 patients, no quartile of fewer than k values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fedcare.data import infer_schema
from fedcare.quality import combine_quality, protect_partition, site_quality


def _is_count(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith("n-") or key == "num-examples"


def _site(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"site": "s", "sbp": np.round(rng.normal(130, 15, rows), 6),
                         "score": rng.integers(1, 6, rows).astype(float),
                         "y": (np.arange(rows) % 2).astype(int)})


@pytest.fixture(scope="module")
def schema() -> object:
    return infer_schema(_site(60), site_column="site", target="y", units={"sbp": "mm[Hg]"})


def test_partition_protection() -> None:
    # 1..k-1 withheld as NaN; 0 and >= k exact
    out = protect_partition({"n-missing": 3, "n-code=0": 0, "n-below": 12}, 100, 5)
    assert math.isnan(out["n-missing"]) and out["n-code=0"] == 0 and out["n-below"] == 12
    # a remainder of 1..k-1 would follow by subtraction: the largest count is withheld
    out = protect_partition({"n-missing": 97}, 100, 5)
    assert out == {"n-missing": -1.0}
    assert protect_partition({"n-missing": 3}, 100, 1) == {"n-missing": 3.0}


def test_no_count_below_k_and_no_quartile_of_few_values(schema: object) -> None:
    k = 5
    frame = _site(60)
    frame.loc[:2, "sbp"] = np.nan          # 3 missing
    frame.loc[3:5, "sbp"] = 999.0          # 3 sentinel values: fewer than k, not named
    frame.loc[6:7, "sbp"] = 20.0           # 2 values below the valid range
    frame.loc[:55, "score"] = np.nan       # all but 4 missing: the rest is a small cell
    frame.loc[:1, "y"] = np.nan            # 2 rows without a label
    msg = site_quality(frame, schema, "s", min_cell=k)  # type: ignore[arg-type]
    counts = {key: v for key, v in msg.items() if _is_count(key)}
    assert counts, "the site sends counts"
    for key, value in counts.items():
        assert not 0 < value < k, (key, value)
    assert math.isnan(msg["feature/sbp/n-missing"])
    assert "feature/sbp/n-code=999" not in msg        # a rare value is never named
    assert math.isnan(msg["feature/sbp/n-below"])     # 2 low values (k-1 at most)
    assert msg["feature/score/n-missing"] == -1.0      # 56 of 60, with a rest of 4
    assert math.isnan(msg["target/n-missing"])
    assert all(math.isnan(msg[f"feature/score/q{p}"]) for p in (25, 50, 75))  # 4 values < k
    assert all(math.isfinite(msg[f"feature/sbp/q{p}"]) for p in (25, 50, 75))
    # the coordinator reads the withheld counts as intervals
    report = combine_quality({"s": msg, "t": site_quality(_site(80, 1), schema, "t")},  # type: ignore[arg-type]
                             schema, min_cell=k)  # type: ignore[arg-type]
    kinds = {(f.site, f.feature, f.kind): f for f in report.findings}
    assert kinds[("s", "score", "missing")].severity == "blocking"
    assert "all but fewer than 5 of 60 rows" in kinds[("s", "score", "missing")].detail
    assert kinds[("s", "y", "missing")].detail.startswith("fewer than 5 of 60 rows")
    assert kinds[("s", "sbp", "out_of_range")].severity == "info"
    assert report.features["sbp"]["s"]["n_missing"] == "<5"


def test_quartiles_are_averages_of_k_values_not_patient_values(schema: object) -> None:
    frame = _site(61)                      # odd: the exact median would be a patient's value
    values = set(frame["sbp"].tolist())
    assert float(np.median(frame["sbp"])) in values
    msg = site_quality(frame, schema, "s", min_cell=5)  # type: ignore[arg-type]
    for p in (25, 50, 75):
        assert msg[f"feature/sbp/q{p}"] not in values


def test_a_site_with_fewer_than_k_rows_sends_nothing(schema: object) -> None:
    msg = site_quality(_site(4), schema, "tiny", min_cell=5)  # type: ignore[arg-type]
    assert all(math.isnan(v) for v in msg.values())
    report = combine_quality({"tiny": msg, "big": site_quality(_site(80), schema, "big")},  # type: ignore[arg-type]
                             schema)  # type: ignore[arg-type]
    assert [(f.site, f.kind, f.severity) for f in report.findings] == [
        ("tiny", "small_site", "info")]
