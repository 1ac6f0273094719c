"""The leak warning: a feature that alone separates the outcome at a site (aggregates only)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

from fedcare.data import infer_schema
from fedcare.data._heart import HEART_CATEGORICAL, HEART_FEATURES, HEART_UNITS
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator.app import main
from fedcare.federation.engines.inprocess import quiet_flower
from fedcare.federation.site import client_app, secagg_client_app
from fedcare.quality import THRESHOLDS, check_table, combine_quality, site_quality
from fedcare.quality._site import separation
from fedcare.study import StudyConfig

HEART_SITES = ("cleveland", "hungary", "switzerland", "va")


def _sites(seed: int = 8, rows: int = 150) -> pd.DataFrame:
    """Three sites; ``stay`` is recorded after the outcome (days in hospital, longer for
    an event) and separates it almost perfectly, ``sbp`` and ``diabetic`` modestly."""
    rng = np.random.default_rng(seed)
    frames = []
    for site in ("a", "b", "c"):
        y = rng.integers(0, 2, rows)
        frames.append(pd.DataFrame({
            "site": site,
            "sbp": np.round(rng.normal(130 + 6 * y, 15), 6),
            "diabetic": (rng.random(rows) < 0.2 + 0.2 * y).astype(int),
            "stay": np.round(rng.normal(4 + 8 * y, 1.5), 6),
            "ward": rng.choice(["x", "y", "z"], rows),
            "y": y}))
    return pd.concat(frames, ignore_index=True)


def test_separation_is_a_folded_rank_auc() -> None:
    y = np.array([0, 0, 0, 1, 1, 1], dtype=float)
    assert separation(np.array([1, 2, 3, 4, 5, 6.0]), y, 3) == 1.0
    assert separation(np.array([6, 5, 4, 3, 2, 1.0]), y, 3) == 1.0   # folded
    assert separation(np.ones(6), y, 3) == 0.5                        # ties count half
    assert separation(np.array([1, 2, 4, 3, 5, 6.0]), y, 3) == round(8 / 9, 2)
    assert separation(np.array([1, 2, 3, 4, 5, 6.0]), y, 4) is None   # 3 events < k
    x = np.array([1, 2, np.nan, 4, 5, 6.0])
    assert separation(x, y, 3) is None                                # 2 non-events left
    assert separation(x, y, 2) == 1.0
    assert separation(np.array([1, 2, 3, 4, 5, 6.0]),
                      np.array([0, 0, np.nan, 1, 1, 1]), 2) == 1.0


def test_site_sends_a_rounded_figure_only_with_k_of_each_class() -> None:
    frame = _sites()
    schema = infer_schema(frame, site_column="site", target="y")
    rows = frame[frame["site"] == "a"].reset_index(drop=True)
    msg = site_quality(rows, schema, "a", min_cell=5)
    for name in ("sbp", "diabetic", "stay"):   # numeric and binary features
        value = msg[f"feature/{name}/auc"]
        assert 0.5 <= value <= 1.0 and value == round(value, 2)
    assert msg["feature/stay/auc"] >= 0.99
    assert not any(key.startswith("feature/ward/") and key.endswith("/auc") for key in msg)
    # 4 events at the site: below k, nothing sent about the ranking of its patients
    few = pd.concat([rows[rows["y"] == 0], rows[rows["y"] == 1].head(4)], ignore_index=True)
    assert not [key for key in site_quality(few, schema, "a", min_cell=5) if "auc" in key]
    assert "feature/stay/auc" in site_quality(few, schema, "a", min_cell=4)
    # without the target column, no figure at all
    assert not [key for key in site_quality(rows.drop(columns="y"), schema, "a")
                if "auc" in key]


def test_a_leaking_feature_is_one_warning_naming_the_sites() -> None:
    frame = _sites()
    report = check_table(frame, "site", "y")
    leaks = [f for f in report.findings if f.kind == "leak"]
    assert [(f.site, f.feature, f.severity) for f in leaks] == [(None, "stay", "warning")]
    detail = leaks[0].detail
    top = max(report.features["stay"][s]["auc"] for s in "abc")
    assert detail.startswith(f"alone separates the outcome almost perfectly at 3 of the 3 "
                             f"sites that report it (a, b, c; AUC up to {top:.2f}): a likely "
                             "leak")
    assert "drop it or confirm it is known at prediction time" in detail
    assert report.blocking == []          # a warning: the study still runs
    # the figures behind it are in the per-feature table, categorical features have none
    assert all(report.features["sbp"][s]["auc"] < THRESHOLDS["leak_auc"] for s in "abc")
    assert "auc" not in report.features["ward"]["a"]
    # no patient value in any finding
    raw = set(frame[["sbp", "stay"]].to_numpy().ravel().tolist())
    text = json.dumps(report.to_dict())
    assert not any(f"{v:.6f}".rstrip("0") in text for v in raw)


def test_a_leak_at_one_site_names_that_site() -> None:
    frame = _sites()
    rng = np.random.default_rng(1)
    elsewhere = frame["site"] != "b"
    frame.loc[elsewhere, "stay"] = np.round(rng.normal(6, 3, int(elsewhere.sum())), 6)
    report = check_table(frame, "site", "y")
    leaks = [f for f in report.findings if f.kind == "leak"]
    assert [(f.site, f.feature) for f in leaks] == [("b", "stay")]
    assert leaks[0].detail.startswith("alone separates the outcome almost perfectly at site "
                                      "b (AUC ")


def test_the_threshold_is_inclusive_and_withheld_figures_are_ignored() -> None:
    frame = _sites()
    schema = infer_schema(frame, site_column="site", target="y")
    messages = {s: site_quality(frame[frame["site"] == s].reset_index(drop=True), schema, s)
                for s in ("a", "b", "c")}
    for s in messages:
        messages[s] = {**messages[s], "feature/stay/auc": 0.6}
    messages["a"]["feature/sbp/auc"] = 0.9
    messages["b"]["feature/sbp/auc"] = 0.89
    del messages["c"]["feature/sbp/auc"]     # withheld (fewer than k of a class)
    report = combine_quality(messages, schema)
    leaks = [(f.site, f.feature, f.detail) for f in report.findings if f.kind == "leak"]
    assert leaks == [("a", "sbp", leaks[0][2])] and "(AUC 0.90)" in leaks[0][2]
    assert report.features["sbp"]["c"]["auc"] is None


def test_no_heart_feature_separates_the_outcome_at_any_site(heart: pd.DataFrame) -> None:
    report = check_table(heart, "site", "target", features=HEART_FEATURES,
                         categorical=HEART_CATEGORICAL, units=HEART_UNITS)
    assert not [f for f in report.findings if f.kind == "leak"]
    figures = {(name, s): row["auc"] for name, by_site in report.features.items()
               for s, row in by_site.items() if row.get("auc") is not None}
    assert {s for _, s in figures} == set(HEART_SITES)
    assert len(figures) == 8 * 4 - 2   # switzerland: no measured chol, < k fbs non-events
    assert max(figures.values()) < THRESHOLDS["leak_auc"]


def _grid(app: Any, config: StudyConfig, sites: list[str], **extra: Any) -> InProcessGrid:
    return InProcessGrid(app, [{"site": s} for s in sites],
                         {**config.to_run_config(), "num-sites": len(sites), **extra})


@pytest.mark.parametrize("secure", [False, True])
def test_federated_leak_warning_plain_and_secure(tmp_path: Path, secure: bool) -> None:
    frame = _sites()
    path = tmp_path / "sites.csv"
    frame.to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="site", target="y", rounds=1,
                         secure_aggregation=secure)
    grid = _grid(secagg_client_app if secure else client_app, config, ["a", "b", "c"],
                 task="quality", **{"output-dir": str(tmp_path)})
    with quiet_flower():
        context = grid.server_context()
        main(grid, context)
    result = json.loads((Path(str(context.run_config["output-dir"])) / "result.json")
                        .read_text())
    local = check_table(frame, "site", "y")
    assert result["quality"] == json.loads(json.dumps(local.to_dict()))
    leaks = [f for f in result["quality"]["findings"] if f["kind"] == "leak"]
    assert [(f["feature"], f["severity"]) for f in leaks] == [("stay", "warning")]
    # the figures went through the site's small-cell mod unchanged, in the clear
    sent = [float(cast(float, v)) for r in grid.replies_received
            for record in r.content.metric_records.values()
            for key, v in record.items() if key.endswith("/auc")]
    assert len(sent) == 3 * 3 and all(math.isfinite(v) for v in sent)


@pytest.mark.parametrize(("name", "flagged"), [
    ("time", True), ("futime", True), ("follow_up", True), ("days_to_death", True),
    ("length_of_stay", True), ("LOS", True), ("survival_months", True),
    ("smoking_status", False), ("diabetes_duration", False), ("num_age", False),
    ("status", True), ("vital_status", True), ("prior_event_count", False),
    ("lifetime_smoker", False), ("chol", False), ("timeline", False)])
def test_a_name_that_reads_as_follow_up_time_is_flagged(name: str, flagged: bool) -> None:
    from fedcare.quality._combine import _after_outcome_name

    assert _after_outcome_name(name) is flagged
