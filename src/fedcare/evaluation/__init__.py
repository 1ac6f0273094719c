"""Evaluation: per-site metrics of risk models (discrimination, accuracy, calibration)."""

from fedcare.evaluation._metrics import (
    auc_bootstrap,
    baseline_accuracy,
    binary_metrics,
    calibration_slope_intercept,
)

__all__ = ["auc_bootstrap", "baseline_accuracy", "binary_metrics", "calibration_slope_intercept"]
