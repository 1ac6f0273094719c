"""What every analytics message shares: its type, the small-cell rule, input checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fedcare.config import DEFAULT_MIN_CELL
from fedcare.exceptions import ConfigError, DataError

__all__ = ["DEFAULT_MIN_CELL", "SiteMessage", "small_cells", "suppress"]

#: What one site sends: a flat mapping of names to float64 arrays (an ArrayRecord's shape).
SiteMessage = dict[str, NDArray[np.float64]]

#: Smallest group of patients that any released count may describe.


def check_min_cell(k: int) -> int:
    """Validate the small-cell threshold ``k`` (``k = 1`` turns protection off)."""
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"min_cell must be an integer >= 1, got {k!r}")
    return int(k)


def suppress(counts: ArrayLike, k: int = DEFAULT_MIN_CELL) -> NDArray[np.float64]:
    """Replace every count between 1 and ``k - 1`` by NaN (0 is kept: it reveals nobody).

    Parameters
    ----------
    counts : array_like of shape (...)
        Counts of patients.
    k : int, default 5
        Smallest group that may be described.

    Returns
    -------
    ndarray of shape (...)
        float64 copy with small cells set to NaN.
    """
    k = check_min_cell(k)
    out = np.array(counts, dtype=np.float64)
    out[(out > 0) & (out < k)] = np.nan
    return out


def small_cells(message: Mapping[str, NDArray[np.float64]], keys: Sequence[str],
                k: int) -> list[str]:
    """Names of the count arrays in ``message`` that hold a value between 1 and ``k - 1``.

    Parameters
    ----------
    message : mapping of str to ndarray
        A site message.
    keys : sequence of str
        Names (or ``"prefix*"`` patterns) of the arrays that are counts of patients.
    k : int
        Small-cell threshold.
    """
    bad = []
    for name, value in message.items():
        if not any(name == key or (key.endswith("*") and name.startswith(key[:-1]))
                   for key in keys):
            continue
        arr = np.asarray(value, dtype=np.float64)
        if np.any((arr > 0) & (arr < k)):
            bad.append(name)
    return bad


def as_float_vector(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """A 1-D float64 array, or a :class:`DataError` naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"column {name!r} is not numeric") from exc
    if arr.ndim != 1:
        raise DataError(f"{name!r} must be one-dimensional, got shape {arr.shape}")
    return arr


def survival_inputs(time: ArrayLike, event: ArrayLike) -> tuple[NDArray[np.float64],
                                                                 NDArray[np.bool_]]:
    """Validated durations (finite, >= 0) and 0/1 event indicators of equal length."""
    t = as_float_vector(time, "time")
    e = as_float_vector(event, "event")
    if t.shape != e.shape:
        raise DataError(f"time has {t.size} rows but event has {e.size}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise DataError(f"time holds {int(np.sum(~np.isfinite(t) | (t < 0)))} missing, "
                        "infinite or negative values")
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise DataError(f"event holds {int(np.sum(~np.isin(e, (0.0, 1.0))))} values "
                        "other than 0/1")
    return t, e.astype(bool)


def check_grid(grid: ArrayLike) -> NDArray[np.float64]:
    """A strictly increasing, finite 1-D time grid."""
    g = np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or g.size == 0:
        raise ConfigError(f"grid must be a non-empty 1-D array, got shape {g.shape}")
    if not np.all(np.isfinite(g)) or np.any(np.diff(g) <= 0):
        raise ConfigError("grid must be finite and strictly increasing")
    return g
