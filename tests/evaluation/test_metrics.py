"""Metrics against scikit-learn and known cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from fedcare.evaluation import baseline_accuracy, binary_metrics, calibration_slope_intercept


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 * y + rng.random(200) * 0.7, 0.01, 0.99)
    m = binary_metrics(y, p)
    assert m["auc"] == roc_auc_score(y, p)
    assert abs(m["brier"] - brier_score_loss(y, p)) < 1e-12  # type: ignore[operator]
    assert m["accuracy"] == np.mean((p > 0.5) == y)
    assert m["n"] == 200


def test_perfectly_calibrated_risks_have_slope_one_intercept_zero() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, 200_000)
    y = (rng.random(p.size) < p).astype(int)
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope is not None and intercept is not None
    assert abs(slope - 1) < 0.02 and abs(intercept) < 0.02


def test_overconfident_risks_have_slope_below_one() -> None:
    rng = np.random.default_rng(2)
    true = rng.uniform(0.2, 0.8, 50_000)
    y = (rng.random(true.size) < true).astype(int)
    logit = np.log(true / (1 - true))
    slope, _ = calibration_slope_intercept(y, 1 / (1 + np.exp(-2 * logit)))
    assert slope is not None and abs(slope - 0.5) < 0.03


def test_single_class_test_set_has_no_auc_or_calibration() -> None:
    m = binary_metrics(np.ones(5, int), np.full(5, 0.7))
    assert m["auc"] is None and m["calibration_slope"] is None
    assert m["accuracy"] == 1.0


def test_constant_predictions_have_no_calibration_figures() -> None:
    y = np.array([0, 1, 1, 1, 0])
    assert calibration_slope_intercept(y, np.full(5, 0.6)) == (None, None)
    assert calibration_slope_intercept(y, np.ones(5)) == (None, None)


def test_baseline_accuracy_is_the_majority_class_share() -> None:
    assert baseline_accuracy(8, 20) == 0.6
    assert baseline_accuracy(15, 20) == 0.75
    assert baseline_accuracy(0, 7) == 1.0
    assert baseline_accuracy(None, 20) is None  # withheld count: no baseline
    assert baseline_accuracy(3, 0) is None


def test_baseline_accuracy_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="n_events"):
        baseline_accuracy(21, 20)
    with pytest.raises(ValueError, match="n_events"):
        baseline_accuracy(-1, 20)


def test_auc_bootstrap_pairs_the_two_models_on_the_same_resamples() -> None:
    from fedcare.evaluation import auc_bootstrap

    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(float)
    strong = y + rng.normal(0, 0.8, 300)
    weak = y + rng.normal(0, 2.0, 300)
    same = auc_bootstrap(y, strong, strong, resamples=200)
    assert same["difference"] == 0.0 and same["difference_ci95"] == [0.0, 0.0]
    assert same["other_auc_ci95"] == same["auc_ci95"]
    both = auc_bootstrap(y, strong, weak, resamples=400)
    assert both["difference"] == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak))
    lo, hi = both["difference_ci95"]
    assert 0 < lo < both["difference"] < hi  # the stronger model, clearly
    assert both["auc_ci95"] == auc_bootstrap(y, strong, resamples=400)["auc_ci95"]
