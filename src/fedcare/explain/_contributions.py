"""Per-feature contributions: exact for linear models, SHAP (exact enumeration) otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fedcare.explain._model import RiskModel

__all__ = ["contributions"]

#: Above this many encoded columns exact Shapley enumeration (2^p evaluations) is too slow
#: and shap's permutation explainer is used instead.
MAX_EXACT_COLUMNS = 16


def contributions(model: RiskModel, X: np.ndarray) -> tuple[float, np.ndarray, str]:
    """Base log-odds and per-feature contributions for encoded rows ``X``.

    The reference ("average") patient is the federated mean of every encoded column, so
    ``base`` is the model's log-odds there and, for each row, ``base + row.sum()`` equals
    the row's log-odds.  Columns of one categorical feature are summed into one value.

    Returns
    -------
    base : float
    per_feature : ndarray of shape (n_rows, n_features)
    method : str
    """
    groups = [cols for _, cols in model._column_groups()]
    if model.kind == "logistic":
        z = model.standardiser.transform(X)
        per_column = z * model.model.coef_.ravel()[None, :]
        base = float(model.model.intercept_[0])
        method = "exact (linear model: weight x standardised value)"
    else:
        base, per_column = _shap(model, X)
        method = ("SHAP exact enumeration" if X.shape[1] <= MAX_EXACT_COLUMNS
                  else "SHAP permutation sampling") + " against the federated mean patient"
    per_feature = np.column_stack([per_column[:, cols].sum(axis=1) for cols in groups])
    return base, per_feature, method


def _shap(model: RiskModel, X: np.ndarray) -> tuple[float, np.ndarray]:
    import warnings

    with warnings.catch_warnings():  # shap's colour maps use a deprecated matplotlib API
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    background = model.standardiser.mean[None, :]

    def f(rows: np.ndarray) -> np.ndarray:
        return model.log_odds(np.asarray(rows, dtype=np.float64))

    if model._shap is None:
        masker = shap.maskers.Independent(background, max_samples=1)
        algorithm = "exact" if X.shape[1] <= MAX_EXACT_COLUMNS else "permutation"
        model._shap = shap.Explainer(f, masker, algorithm=algorithm)
    result: Any = model._shap(X)
    values = np.asarray(result.values, dtype=np.float64).reshape(X.shape)
    base = float(np.ravel(result.base_values)[0])
    return base, values
