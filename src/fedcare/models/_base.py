"""Helpers shared by fedcare's estimators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from fedcare._numeric import expit


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


class BatchOptimiser(Protocol):
    """How local training draws a batch and turns per-example gradients into a step.

    :class:`MinibatchSGD` is the default; :class:`fedcare.privacy.DPSGD` makes the same
    training loop differentially private (privacy composes, it is not an ``if``).
    """

    def batch(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def gradient(self, per_example: np.ndarray, n: int,
                 rng: np.random.Generator) -> np.ndarray: ...


@dataclass(frozen=True)
class MinibatchSGD:
    """Plain mini-batch SGD: a fixed-size batch drawn without replacement, mean gradient.

    Parameters
    ----------
    batch_size : int
    """

    batch_size: int = 16

    def batch(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Row positions of one batch."""
        return rng.choice(n, size=min(self.batch_size, n), replace=False)

    def gradient(self, per_example: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Mean of ``per_example`` (shape (batch, n_params)) -> (n_params,)."""
        return np.asarray(per_example.mean(axis=0)) if len(per_example) else np.zeros(
            per_example.shape[1])
