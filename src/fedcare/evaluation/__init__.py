"""Evaluation: per-site metrics of risk models (discrimination, accuracy, calibration)."""

from fedcare.evaluation._metrics import (
    NO_SKILL_AUC,
    auc_bootstrap,
    baseline_accuracy,
    binary_metrics,
    calibration_slope_intercept,
    no_skill,
)

__all__ = ["NO_SKILL_AUC", "auc_bootstrap", "baseline_accuracy", "binary_metrics",
           "calibration_slope_intercept", "no_skill"]
