"""Evaluation: per-site metrics of risk models (discrimination, accuracy, calibration)."""

from fedcare.evaluation._metrics import binary_metrics, calibration_slope_intercept

__all__ = ["binary_metrics", "calibration_slope_intercept"]
