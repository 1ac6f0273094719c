"""The logistic function and its inverse in numpy alone.

scipy.special costs a quarter of a second to import, in every ClientApp process Flower
starts (one per message); these agree with ``scipy.special.expit`` / ``logit`` to a few
units in the last place (tests/test_numeric.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["expit", "logit"]


def expit(x: Any) -> Any:
    """``1 / (1 + exp(-x))``, without overflow warnings for large ``|x|``."""
    z = np.asarray(x, dtype=np.float64)
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out[()] if out.ndim == 0 else out


def logit(p: Any) -> Any:
    """``log(p / (1 - p))`` (infinite at 0 and 1, NaN outside [0, 1])."""
    q = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(q) - np.log1p(-q)
    return out[()] if out.ndim == 0 else out
