"""Personalisation (federated transfer learning): a site adapts the shared model locally."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from scipy.special import expit
from sklearn.model_selection import StratifiedKFold

__all__ = ["ConstantRisk", "Personalised", "personalise"]

METHODS = ("auto", "intercept", "finetune", "none")
#: Fewer training rows than this: a site keeps the global model under ``auto``.
MIN_ROWS = 10


class ProbabilityModel(Protocol):
    """Anything with a log-odds output."""

    def decision_function(self, X: Any) -> np.ndarray: ...


class ConstantRisk:
    """Predicts the training prevalence for everyone (the local baseline of a one-class site).

    Parameters
    ----------
    prevalence : float
        Share of events in the training labels.
    """

    def __init__(self, prevalence: float) -> None:
        self.prevalence = float(prevalence)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Shape (n_rows, 2)."""
        p = np.full(len(X), self.prevalence)
        return np.column_stack([1 - p, p])


class Personalised:
    """The global model's log-odds plus a site-local linear correction.

    Parameters
    ----------
    base : model with ``decision_function``
        The shared (global) model.
    delta : ndarray of shape (n_features + 1,)
        Local change to the coefficients then the intercept; zeros except the last
        entry for an intercept-only personalisation.
    method : str
        How ``delta`` was chosen.
    """

    def __init__(self, base: ProbabilityModel, delta: np.ndarray, method: str) -> None:
        self.base = base
        self.delta = delta
        self.method = method

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Personalised log-odds, shape (n_rows,)."""
        return self.base.decision_function(X) + X @ self.delta[:-1] + self.delta[-1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Shape (n_rows, 2)."""
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])


def _offset_fit(
    X: np.ndarray, y: np.ndarray, offset: np.ndarray, strength: float, intercept_only: bool
) -> np.ndarray:
    """Newton fit of ``delta`` for log-odds ``offset + X delta_coef + delta_0``.

    Minimises ``sum(log_loss) + strength / 2 * ||delta||^2`` (the penalty pulls the
    site's model towards the global one; the intercept correction is penalised too,
    lightly, so that a site with one class stays finite).
    """
    Z = np.ones((len(y), 1)) if intercept_only else np.column_stack([X, np.ones(len(y))])
    penalty = np.full(Z.shape[1], strength)
    penalty[-1] = max(strength * 1e-2, 1e-3)
    d = np.zeros(Z.shape[1])
    for _ in range(100):
        p = expit(offset + Z @ d)
        g = Z.T @ (p - y) + penalty * d
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(penalty)
        step = np.linalg.solve(H, g)
        d = d - step
        if np.max(np.abs(step)) < 1e-10:
            break
    if intercept_only:
        return np.concatenate([np.zeros(X.shape[1]), d])
    return d


def _candidates() -> list[tuple[str, float, bool]]:
    return [("intercept", 0.0, True)] + [("finetune", s, False) for s in (100.0, 30.0, 10.0, 3.0)]


def personalise(
    base: ProbabilityModel, X: np.ndarray, y: np.ndarray, method: str = "auto", seed: int = 0
) -> Personalised:
    """Adapt the global model to one site's training data.

    Parameters
    ----------
    base : model with ``decision_function``
        The global model (any fedcare model).
    X : ndarray of shape (n_rows, n_features)
        The site's (standardised) training features.
    y : ndarray of shape (n_rows,)
    method : {"auto", "intercept", "finetune", "none"}
        ``intercept`` re-estimates the site's baseline risk; ``finetune`` refits every
        coefficient with a penalty towards the global ones; ``auto`` picks, by 5-fold
        cross-validated log-loss on the site's training rows, among keeping the global
        model, the intercept shift and fine-tuning at four penalty strengths. A site
        with fewer than ``MIN_ROWS`` (10) training rows keeps the global model; one with
        too few of a class to cross-validate gets the intercept shift (Steyerberg's
        "recalibration in the large", the update advised for small samples).
    """
    if method not in METHODS:
        raise ValueError(f"personalise method must be one of {METHODS}, got '{method}'")
    zero = np.zeros(X.shape[1] + 1)
    offset = base.decision_function(X)
    if method == "none" or len(y) == 0:
        return Personalised(base, zero, "none")
    if method == "intercept":
        return Personalised(base, _offset_fit(X, y, offset, 0.0, True), "intercept")
    if method == "finetune":
        return Personalised(base, _offset_fit(X, y, offset, 10.0, False), "finetune")
    if len(y) < MIN_ROWS:
        return Personalised(base, zero, "none")
    counts = np.bincount(y, minlength=2)
    folds = int(min(5, counts.min()))
    if folds < 2:  # too few of one class to cross-validate: recalibrate in the large
        return Personalised(base, _offset_fit(X, y, offset, 0.0, True), "intercept")
    options: list[tuple[str, float, bool]] = [("none", 0.0, True), *_candidates()]
    losses = np.zeros(len(options))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, valid in splitter.split(X, y):
        for i, (name, strength, only) in enumerate(options):
            if name == "none":
                d = zero
            else:
                d = _offset_fit(X[train], y[train], offset[train], strength, only)
            eta = offset[valid] + X[valid] @ d[:-1] + d[-1]
            losses[i] += float(np.sum(np.logaddexp(0.0, eta) - y[valid] * eta))
    name, strength, only = options[int(np.argmin(losses))]
    if name == "none":
        return Personalised(base, zero, "none")
    label = "intercept" if only else f"finetune(strength={strength:g})"
    return Personalised(base, _offset_fit(X, y, offset, strength, only), label)



