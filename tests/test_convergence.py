"""Non-convergence is a ConvergenceWarning in the core, not only a line in the CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fedcare.analytics import newton_raphson
from fedcare.exceptions import ConvergenceWarning
from fedcare.models import LogisticRegression


def test_logistic_fit_stopped_early_warns() -> None:
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        LogisticRegression(max_iter=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        LogisticRegression().fit(X, y)  # converges: no warning


def test_newton_raphson_stopped_early_warns() -> None:
    # a concave quadratic log-likelihood with its maximum at 3: Newton gets there in one
    # step; with one round allowed it stops after evaluating the start only
    def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return float(-((beta - 3.0) ** 2).sum()), -2 * (beta - 3.0), -2 * np.eye(len(beta))

    with pytest.warns(ConvergenceWarning, match="did not converge"):
        _, _, _, converged = newton_raphson(evaluate, 2, max_rounds=1)
    assert not converged
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        beta, _, _, converged = newton_raphson(evaluate, 2)
    assert converged and np.allclose(beta, 3.0)
