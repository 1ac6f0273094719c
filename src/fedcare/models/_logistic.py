"""L2-penalised logistic regression, fitted by Newton's method (IRLS).

The same objective is minimised pooled (``LogisticRegression.fit``) and federated
(sites send :func:`logistic_gradient_hessian` sums, the server takes
:func:`newton_update`), so the federated fit reaches the pooled solution exactly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fedcare.exceptions import ConvergenceWarning
from fedcare.models._base import BatchOptimiser, LogOddsMixin, MinibatchSGD
from fedcare.models._base import binary_only as _binary_only
from fedcare.models._logistic_math import (
    logistic_gradient_hessian,
    newton_update,
    sgd_local_update,
)

__all__ = ["LogisticRegression", "logistic_gradient_hessian", "newton_update"]


class LogisticRegression(LogOddsMixin, ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Binary logistic regression with an L2 penalty, fitted by Newton-IRLS.

    Minimises ``C * sum(log_loss) + ||coef||^2 / 2`` (the intercept is not penalised),
    scikit-learn's objective, so the solution equals
    ``sklearn.linear_model.LogisticRegression(C=C)``'s to solver tolerance.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength; ``np.inf`` for plain maximum likelihood.
    max_iter : int, default=100
        Newton iterations at most.
    tol : float, default=1e-10
        Stop when the largest absolute step is below ``tol``.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)
    n_iter_ : int
    """

    def __init__(self, C: float = 1.0, max_iter: int = 100, tol: float = 1e-10) -> None:
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def _check_params(self) -> None:
        if not (isinstance(self.C, int | float) and self.C > 0):
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter!r}")

    def fit(
        self, X: Any, y: Any, sample_weight: np.ndarray | None = None
    ) -> LogisticRegression:
        """Fit on ``X`` of shape (n_rows, n_features) and binary ``y`` of shape (n_rows,)."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(_binary_only(len(self.classes_)))
        sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        if sw.shape != (len(y),) or (sw < 0).any() or sw.sum() <= 0:
            raise ValueError("sample_weight must be non-negative, one per row, not all zero")
        C = float(self.C)
        weights = np.zeros(X.shape[1] + 1)
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            self.n_iter_ += 1
            g, H, _ = logistic_gradient_hessian(X, y01, weights, sw)
            new = newton_update(g, H, weights, C if np.isfinite(C) else 1e12)
            step = np.max(np.abs(new - weights))
            weights = new
            if step < self.tol:
                break
        else:
            warnings.warn(f"Newton-IRLS did not converge in {self.max_iter} iterations "
                          f"(last step {step:.3g} > tol {self.tol:g})", ConvergenceWarning,
                          stacklevel=2)
        self._set_weights(weights)
        return self

    def _set_weights(self, weights: np.ndarray) -> None:
        self.coef_ = weights[None, :-1].copy()
        self.intercept_ = weights[-1:].copy()

    @property
    def weights_(self) -> np.ndarray:
        """Coefficients followed by the intercept, shape (n_features + 1,)."""
        check_is_fitted(self)
        return np.concatenate([self.coef_.ravel(), self.intercept_])

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of class 1, shape (n_rows,)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.asarray(X @ self.coef_.ravel() + self.intercept_[0])

    # -- federation: arrays are the only thing a site sends -------------------------
    def get_arrays(self) -> list[np.ndarray]:
        """``[coef (n_features,), intercept (1,)]``."""
        check_is_fitted(self)
        return [self.coef_.ravel().copy(), self.intercept_.copy()]

    def set_arrays(self, arrays: list[np.ndarray]) -> LogisticRegression:
        """Load ``[coef, intercept]`` (e.g. the global model); classes become ``[0, 1]``."""
        coef, intercept = (np.asarray(a, dtype=np.float64) for a in arrays)
        self.coef_ = coef.reshape(1, -1)
        self.intercept_ = intercept.reshape(1)
        self.n_features_in_ = self.coef_.shape[1]
        if not hasattr(self, "classes_"):
            self.classes_ = np.array([0, 1])
        return self

    def init_arrays(self, n_features: int) -> list[np.ndarray]:
        """Zero starting arrays for ``n_features`` inputs."""
        return [np.zeros(n_features), np.zeros(1)]

    def local_update(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        steps: int = 100,
        lr: float = 0.1,
        batch_size: int = 16,
        prox_mu: float = 0.0,
        seed: int = 0,
        optimiser: BatchOptimiser | None = None,
    ) -> LogisticRegression:
        """Mini-batch SGD from the current arrays (FedAvg/FedProx local training).

        Minimises the mean log-loss plus ``||coef||^2 / (2 C n)`` (the pooled objective
        divided by ``C n``) plus FedProx's ``prox_mu / 2 ||w - w_start||^2``.
        ``optimiser`` draws batches and combines per-example gradients (default
        ``MinibatchSGD(batch_size)``; pass :class:`fedcare.privacy.DPSGD` for DP-SGD).
        """
        check_is_fitted(self)
        w = sgd_local_update(self.weights_, X, y, C=float(self.C), steps=steps, lr=lr,
                             optimiser=optimiser or MinibatchSGD(batch_size),
                             prox_mu=prox_mu, seed=seed)
        self._set_weights(w)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
