"""Evaluation: per-site metrics of risk models (discrimination, accuracy, calibration)."""

from fedcare.evaluation._metrics import (
    baseline_accuracy,
    binary_metrics,
    calibration_slope_intercept,
)

__all__ = ["baseline_accuracy", "binary_metrics", "calibration_slope_intercept"]
