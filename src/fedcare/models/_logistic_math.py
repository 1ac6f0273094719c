"""The arithmetic of federated logistic regression, with numpy and scipy.special only.

A site's ``train`` message for a Newton study needs only these sums, and a FedAvg-family
study's only :func:`sgd_local_update`; they live apart from the scikit-learn-compatible
:class:`fedcare.models.LogisticRegression` so that a site's ClientApp process (one per
message under Flower) does not import scikit-learn for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fedcare._numeric import expit

if TYPE_CHECKING:
    from fedcare.models._base import BatchOptimiser

__all__ = ["logistic_gradient_hessian", "newton_update", "penalised", "sgd_local_update"]


def _design(X: np.ndarray) -> np.ndarray:
    return np.column_stack([X, np.ones(X.shape[0])])


def logistic_gradient_hessian(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Sums over rows of the log-loss gradient and Hessian (what a site sends).

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,), values 0/1
    weights : ndarray of shape (n_features + 1,)
        Coefficients followed by the intercept.
    sample_weight : ndarray of shape (n_rows,), optional

    Returns
    -------
    gradient : ndarray of shape (n_features + 1,)
    hessian : ndarray of shape (n_features + 1, n_features + 1)
    loss : float
        Summed log-loss.
    """
    Z = _design(X)
    eta = Z @ weights
    p = expit(eta)
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    gradient = Z.T @ (sw * (p - y))
    hessian = (Z * (sw * p * (1.0 - p))[:, None]).T @ Z
    loss = float(np.sum(sw * (np.logaddexp(0.0, eta) - y * eta)))
    return gradient, hessian, loss


def penalised(
    gradient: np.ndarray, hessian: np.ndarray, weights: np.ndarray, C: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of ``C * sum(loss) + ||coef||^2 / 2`` (intercept unpenalised)."""
    penalty = np.ones_like(weights)
    penalty[-1] = 0.0
    return C * gradient + penalty * weights, C * hessian + np.diag(penalty)


def newton_update(
    gradient: np.ndarray, hessian: np.ndarray, weights: np.ndarray, C: float
) -> np.ndarray:
    """One Newton step on the penalised objective from summed site statistics.

    Parameters
    ----------
    gradient : ndarray of shape (n_features + 1,)
        Sum over all rows (all sites) of the log-loss gradient.
    hessian : ndarray of shape (n_features + 1, n_features + 1)
        Sum over all rows of the log-loss Hessian.
    weights : ndarray of shape (n_features + 1,)
        Current coefficients then intercept.
    C : float
        Inverse regularisation strength, as in scikit-learn.

    Returns
    -------
    ndarray of shape (n_features + 1,)
    """
    g, H = penalised(gradient, hessian, weights, C)
    try:
        step = np.linalg.solve(H, g)
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(H, g, rcond=None)[0]
    return np.asarray(weights - step)


def sgd_local_update(weights: np.ndarray, X: np.ndarray, y: np.ndarray, *, C: float,
                     steps: int, lr: float, optimiser: BatchOptimiser, prox_mu: float = 0.0,
                     seed: int = 0) -> np.ndarray:
    """Mini-batch SGD from ``weights`` (coefficients then intercept): a site's FedAvg /
    FedProx local training of the logistic model.

    Minimises the mean log-loss plus ``||coef||^2 / (2 C n)`` (the pooled objective
    divided by ``C n``) plus FedProx's ``prox_mu / 2 ||w - w_start||^2``. ``optimiser``
    draws batches and combines per-example gradients (:class:`~fedcare.models.MinibatchSGD`,
    or :class:`fedcare.privacy.DPSGD` for DP-SGD).

    Returns
    -------
    ndarray of shape (n_features + 1,)
        The weights after ``steps`` steps.
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(weights, dtype=np.float64).copy()
    anchor = w.copy()
    n = len(y)
    reg = 1.0 / (float(C) * n) if np.isfinite(C) else 0.0
    penalty = np.ones_like(w)
    penalty[-1] = 0.0
    Z = _design(X)
    for _ in range(steps):
        idx = optimiser.batch(n, rng)
        p = expit(Z[idx] @ w)
        per_example = Z[idx] * (p - y[idx])[:, None]
        grad = optimiser.gradient(per_example, n, rng) + reg * penalty * w
        if prox_mu:
            grad = grad + prox_mu * (w - anchor)
        w = w - lr * grad
    return w
