"""Small-cell protection: no message a site sends describes fewer than k patients."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from fedcare.federation import run_inprocess
from fedcare.privacy import suppress_small_cells
from fedcare.privacy._small_cell import COUNT_KEYS
from fedcare.study import StudyConfig


def test_counts_below_k_are_suppressed_zero_and_large_kept() -> None:
    out = suppress_small_cells({"n-dropped": 3, "n-rows": 0, "n-test": 40,
                                "num-examples": 40}, k=5)
    assert math.isnan(out["n-dropped"]) and out["n-rows"] == 0 and out["n-test"] == 40


def test_class_figures_need_k_of_each_class() -> None:
    metrics = {"num-examples": 16, "accuracy": 0.9, "auc": 0.93, "calibration_slope": 1.1,
               "calibration_intercept": 0.2, "n-events": 15, "n-non-events": 1}
    out = suppress_small_cells(metrics, k=5)
    assert out["accuracy"] == 0.9
    assert all(math.isnan(out[k]) for k in ("auc", "calibration_slope",
                                            "calibration_intercept", "n-non-events"))
    assert suppress_small_cells(metrics, k=1) == metrics  # k = 1: protection off


def test_figures_over_fewer_than_k_rows_are_all_suppressed() -> None:
    out = suppress_small_cells({"num-examples": 3, "accuracy": 1.0, "brier": 0.1}, k=5)
    assert all(math.isnan(v) for v in out.values())


def test_no_message_reveals_a_group_smaller_than_k(tmp_path: Path) -> None:
    # synthetic: site "rare" has 2 events among 60 rows and 3 rows with a missing value;
    # site "tiny" has 4 rows.
    rng = np.random.default_rng(3)
    parts = []
    for site, rows, events in (("a", 120, 50), ("b", 90, 40), ("rare", 60, 2), ("tiny", 4, 2)):
        y = np.zeros(rows, int)
        y[:events] = 1
        x = rng.normal(size=rows) + y
        parts.append(pd.DataFrame({"site": site, "x": x, "y": y}))
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[frame.index[frame.site == "rare"][-3:], "x"] = np.nan
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    k = 5
    config = StudyConfig(data=str(path), site_column="site", target="y", rounds=3, min_cell=k)
    result, grid = run_inprocess(config, ["a", "b", "rare", "tiny"], keep_messages=True)
    assert "tiny" in result["excluded_sites"]
    seen_suppressed = 0
    for reply in grid.replies_received:
        for record in reply.content.metric_records.values():
            values = {key: float(v) for key, v in record.items()}  # type: ignore[arg-type]
            for key in COUNT_KEYS & set(values):
                assert not 0 < values[key] < k, (key, values[key])
            if min(values.get("n-events", k), values.get("n-non-events", k)) < k or math.isnan(
                    values.get("n-events", 0)):
                assert math.isnan(values.get("auc", float("nan")))
            seen_suppressed += sum(math.isnan(v) for v in values.values())
    assert seen_suppressed > 0  # the rare site's figures were really suppressed
    assert result["per_site"]["federated"]["rare"]["auc"] is None
    assert result["per_site"]["federated"]["a"]["auc"] is not None


def test_a_small_class_count_cannot_be_recovered_from_the_other() -> None:
    out = suppress_small_cells({"num-examples": 42, "n-events": 39, "n-non-events": 3,
                                "accuracy": 0.9}, k=5)
    # 42 - 39 would give the 3: both counts are withheld, the rows and accuracy are not
    assert math.isnan(out["n-events"]) and math.isnan(out["n-non-events"])
    assert out["num-examples"] == 42 and out["accuracy"] == 0.9
