"""Binary risk-model metrics: discrimination, accuracy, Brier score, calibration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fedcare._numeric import expit, logit

__all__ = ["baseline_accuracy", "binary_metrics", "calibration_slope_intercept"]

_EPS = 1e-12


def _fit_logistic(x: np.ndarray, y: np.ndarray, offset: np.ndarray, slope: bool) -> np.ndarray:
    """Unpenalised logistic fit of y on [x, 1] (or on 1 with ``offset``) by Newton."""
    Z = np.column_stack([x, np.ones_like(x)]) if slope else np.ones((len(y), 1))
    w = np.zeros(Z.shape[1])
    for _ in range(50):
        p = expit(Z @ w + offset)
        g = Z.T @ (p - y)
        H = (Z * (p * (1 - p) + _EPS)[:, None]).T @ Z
        step = np.linalg.solve(H, g)
        w = w - step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float | None, float | None]:
    """Calibration slope and calibration-in-the-large of predicted risks.

    Slope: coefficient of ``logit(p)`` in a logistic regression of ``y`` on it (1 is
    ideal).  Intercept: the intercept with ``logit(p)`` as an offset (0 is ideal).
    ``None`` where undefined (a single class, or a separable fit).
    """
    y = np.asarray(y, dtype=np.float64)
    if len(np.unique(y)) < 2:
        return None, None
    lp = logit(np.clip(p, 1e-8, 1 - 1e-8))
    with np.errstate(all="ignore"):
        try:
            slope = _fit_logistic(lp, y, np.zeros_like(y), slope=True)[0]
            intercept = _fit_logistic(lp, y, lp, slope=False)[0]
        except np.linalg.LinAlgError:
            return None, None
    # Constant or near-0/1 predictions (e.g. a constant-prior model) make both figures
    # meaningless: report them as undefined rather than as huge numbers.
    if np.ptp(lp) < 1e-9:
        return None, None
    if not (np.isfinite(slope) and np.isfinite(intercept)) or max(abs(slope),
                                                                    abs(intercept)) > 50:
        return None, None
    return float(slope), float(intercept)


def baseline_accuracy(n_events: int | None, n: int | None) -> float | None:
    """Accuracy of a "model" that predicts the majority class for everyone.

    ``max(prevalence, 1 - prevalence)`` of the evaluated rows: the figure any accuracy
    must beat to mean something (at 80 % prevalence, always saying "event" is 80 %
    accurate).

    Parameters
    ----------
    n_events : int or None
        Rows with the outcome (class 1) among the evaluated rows.
    n : int or None
        Evaluated rows.

    Returns
    -------
    float or None
        ``None`` when a count is missing (e.g. withheld by the small-cell rule) or
        ``n`` is 0.

    Raises
    ------
    ValueError
        If ``n_events`` is negative or larger than ``n``.
    """
    if n_events is None or n is None or n == 0:
        return None
    if not 0 <= n_events <= n:
        raise ValueError(f"n_events must be within 0..n ({n}), got {n_events}")
    return max(n_events, n - n_events) / n


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | int | None]:
    """Accuracy (threshold 0.5), ROC AUC, Brier score and calibration for one test set.

    Parameters
    ----------
    y : ndarray of shape (n_rows,), values 0/1
    p : ndarray of shape (n_rows,)
        Predicted probability of class 1.

    Returns
    -------
    dict
        ``accuracy, auc, brier, calibration_slope, calibration_intercept, n``;
        ``auc`` and the calibration figures are ``None`` where the test set holds
        a single class.
    """
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    both = len(np.unique(y)) == 2
    slope, intercept = calibration_slope_intercept(y, p)
    return {
        "accuracy": float(np.mean((p > 0.5) == y)),
        "auc": float(_auc(y, p)) if both else None,
        "brier": float(np.mean((p - y) ** 2)),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "n": len(y),
    }


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic, ties counted half (equal to scikit-learn's
    ``roc_auc_score`` for binary labels, tested; numpy only, so that a site's ClientApp
    process does not import scikit-learn to evaluate a model)."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    ranks = np.empty(len(p), dtype=np.float64)
    # average ranks (1-based) of tied scores
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    ends = np.r_[starts[1:], len(p)]
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auc_bootstrap(y: np.ndarray, p: np.ndarray, p_other: np.ndarray | None = None, *,
                  resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Percentile bootstrap (people resampled) of the AUC of ``p``: ``{"auc_ci95": [lo,
    hi]}``; with ``p_other`` (another model's scores of the same people) also, from the
    same resamples, ``"other_auc_ci95"`` and the paired difference ``AUC(p) -
    AUC(p_other)`` (``"difference"``, ``"difference_ci95"``). Resamples with one outcome
    only are skipped."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=float)
    scores = [np.asarray(p, dtype=float)]
    if p_other is not None:
        scores.append(np.asarray(p_other, dtype=float))
    rng = np.random.default_rng(seed)
    aucs: list[list[float]] = []
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            aucs.append([roc_auc_score(y[idx], s[idx]) for s in scores])
    boots = np.asarray(aucs).reshape(-1, len(scores))

    def ci(values: np.ndarray) -> list[float] | None:
        return [float(v) for v in np.percentile(values, [2.5, 97.5])] if len(values) else None

    out: dict[str, Any] = {"auc_ci95": ci(boots[:, 0])}
    if p_other is not None:
        out["other_auc_ci95"] = ci(boots[:, 1])
        out["difference_ci95"] = ci(boots[:, 0] - boots[:, 1])
        out["difference"] = (float(roc_auc_score(y, scores[0]) - roc_auc_score(y, scores[1]))
                             if 0 < y.sum() < len(y) else None)
    return out


NO_SKILL_AUC = 0.6
"""Below this AUC on all test rows a model is reported as having no useful skill (0.5 is
chance): the CLI, the study report and the registry's limitations say so."""


def no_skill(results: Mapping[str, Any]) -> tuple[str, float] | None:
    """The federated setting and its AUC on all test rows when that AUC is below
    :data:`NO_SKILL_AUC` (``results``: ``metrics.json["results"]``); else None."""
    for name, result in results.items():
        if not str(name).startswith("federated"):
            continue
        auc = (result.get("pooled_test") or {}).get("auc")
        if isinstance(auc, int | float) and auc < NO_SKILL_AUC:
            return str(name), float(auc)
    return None
