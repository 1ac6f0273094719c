"""Federated standardisation: global mean and variance from per-site sums, no rows moved."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Standardiser", "combine_moments", "site_moments"]


def site_moments(X: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """What a site sends: row count, column sums and sums of squares.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)

    Returns
    -------
    n : int
    total : ndarray of shape (n_features,)
    total_sq : ndarray of shape (n_features,)
    """
    return int(X.shape[0]), X.sum(axis=0), (X**2).sum(axis=0)


def combine_moments(
    moments: Sequence[tuple[int, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled mean and standard deviation (population, ``ddof=0``) from site sums.

    Columns with zero variance get a standard deviation of 1 (they are only centred).
    """
    n = sum(m[0] for m in moments)
    total = np.sum([m[1] for m in moments], axis=0)
    total_sq = np.sum([m[2] for m in moments], axis=0)
    mean = total / n
    var = np.maximum(total_sq / n - mean**2, 0.0)
    std = np.sqrt(var)
    std[std < 1e-12] = 1.0
    return mean, std


class Standardiser:
    """``(X - mean) / std`` with given (e.g. federated) moments.

    Parameters
    ----------
    mean, std : ndarray of shape (n_features,)
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    @classmethod
    def identity(cls, n_features: int) -> Standardiser:
        """No scaling."""
        return cls(np.zeros(n_features), np.ones(n_features))

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardiser:
        """Moments of ``X`` itself (a site's own, or pooled data)."""
        return cls(*combine_moments([site_moments(X)]))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardised copy of ``X``, shape unchanged."""
        return (X - self.mean) / self.std
