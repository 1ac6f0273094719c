"""Helpers shared by fedcare's estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit


def binary_only(n_classes: int) -> str:
    """The error for a label that is not binary (wording scikit-learn's checks expect)."""
    if n_classes < 2:
        return f"y holds {n_classes} class: a risk model needs both outcomes (1 class given)"
    return f"Only binary classification is supported; y holds {n_classes} classes"


class LogOddsMixin:
    """``predict_proba`` and ``predict`` from a ``decision_function`` giving log-odds."""

    classes_: np.ndarray

    def decision_function(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_rows, 2)."""
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class at threshold 0.5, shape (n_rows,)."""
        scores = self.decision_function(X)
        return np.asarray(self.classes_[(scores > 0).astype(int)])
