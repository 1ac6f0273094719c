"""What the site and the coordinator of a quality check share: names, rules, thresholds.

Everything here is public study information (the schema, the candidate codes, the
thresholds); none of it depends on a patient row.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np

from fedcare.data._cohort import Feature
from fedcare.data._units import Quantity, default_range, quantity_for

__all__ = [
    "CANDIDATE_CODES",
    "KINDS",
    "QUARTILES",
    "SEVERITIES",
    "THRESHOLDS",
    "WITHHELD_REST",
    "apart_key",
    "code_key",
    "effective_range",
    "effective_unit",
    "feature_key",
]

Severity = Literal["blocking", "warning", "info"]
#: Severities, most serious first.
SEVERITIES: Final = ("blocking", "warning", "info")
#: Finding kinds.
KINDS: Final = ("missing", "missing_code", "out_of_range", "unit_mismatch", "prevalence",
                "leak", "small_site")

#: Values that hospital exports use for "not measured": zero, -1, the 9-family and 88 / 888
#: ("not applicable"). 8 is not one: it is an ordinary value of too many scales and units
#: (a grade, 8 mmol/L, 8 years) to be counted separately everywhere.
CANDIDATE_CODES: Final = (0.0, -1.0, -9.0, -99.0, -999.0, -9999.0, 9.0, 88.0, 99.0, 888.0,
                          999.0, 9999.0, 99999.0)
#: The quantiles a site releases (micro-aggregated, see :func:`site_quality`).
QUARTILES: Final = (0.25, 0.5, 0.75)
#: Marker for a count withheld because the rest of its total is a small cell.
WITHHELD_REST: Final = -1.0

#: The rules' thresholds (documented in docs/quality.md).
THRESHOLDS: Final = {
    # share of a site's rows with the feature missing
    "missing_info": 0.05,
    "missing_warning": 0.20,
    # a candidate code outside the valid range, or apart from the other values (below):
    # blocking from this share of present values, else a warning
    "code_blocking": 0.20,
    # apart: no other value of the site within this factor of the code (see is_apart) ...
    "apart_factor": 2.0,
    # ... and, where the values straddle zero, the code beyond this many IQRs of them
    "apart_fence": 3.0,
    # a site with fewer than k other values: the factor against the other sites' quartiles
    "apart_factor_others": 4.0,
    # a candidate code inside the valid range (or with none): a "spike" at one site ...
    "spike_share": 0.10,
    # ... that the other sites together hold in at most this share of their values (upper
    # bound: a site that does not name the code may hold it up to k-1 times) ...
    "spike_elsewhere": 0.05,
    # ... at least this many times less often than this site ...
    "spike_ratio": 10.0,
    # ... and outside the other sites' bulk: beyond this many IQRs of their quartiles
    "spike_fence": 1.5,
    # out-of-range values (not codes): blocking from this share of present values
    "range_blocking": 0.50,
    # unit mismatch: the site's quartiles are at least this factor from the others' ...
    "unit_shift": 1.6,
    # ... and within this factor of them once read as another unit of the quantity
    "unit_match": 1.3,
    # prevalence: odds ratio against the other sites pooled (or its inverse) ...
    "prevalence_odds_ratio": 4.0,
    # ... and a Wald z of at least this (two-sided p < 0.001)
    "prevalence_z": 3.29,
    # leak: a feature alone separates the outcome at a site with max(AUC, 1 - AUC) >= this
    "leak_auc": 0.90,
}


def feature_key(name: str, stat: str) -> str:
    """Key of one feature statistic in a site's message: ``feature/<name>/<stat>``."""
    return f"feature/{name}/{stat}"


def code_key(code: float) -> str:
    """Statistic name of a candidate code's count (``n-code=0``, ``n-code=-99``)."""
    return f"n-code={code:g}"


def apart_key(code: float) -> str:
    """Statistic name of a code's separation flag (``apart=999``, see :func:`is_apart`)."""
    return f"apart={code:g}"


def parse_code(stat: str, prefix: str = "n-code=") -> float | None:
    """Inverse of :func:`code_key` (or of :func:`apart_key` with ``prefix="apart="``);
    None for other statistics."""
    if not stat.startswith(prefix):
        return None
    try:
        return float(stat[len(prefix):])
    except ValueError:
        return None


def is_apart(code: float, values: np.ndarray, factor: float = 2.0,
             fence: float = 3.0) -> bool:
    """Whether a non-zero code lies far outside ``values``: a sentinel, not a measurement.

    True when no value is within ``factor`` of the code on its side of zero and all lie
    on one side of it: every value ``v`` has ``v / code < 1 / factor`` (the code is more
    than ``factor`` times as far from zero as any of them: 999 against Karnofsky scores,
    -9 against positive lab values), or every one has ``v / code > factor`` (9 against
    values of 30-100). Two guards:

    - when no value lies on the code's side of zero, either none is 0 and their extent
      exceeds ``factor`` times the code (-9 against copper of 4-588 is apart; -1 against a
      -1 / +1 coding is not), or the code is more than ``factor`` times as far from zero
      as every value (-99 against counts of 0-10). So -1 or -9 next to values that include
      0 (-1 on a -1 / 0 / 1 scale, a time of -1 before 0, 2, 4 ...) is one more step of
      the scale, not a code;
    - when the values straddle zero, the code must also lie beyond ``fence`` IQRs of their
      quartiles (9 against values of -50 to 3 is not apart).

    Parameters
    ----------
    code : float
        A candidate code (0 is never apart: it has no side of zero).
    values : ndarray
        The other values (at a site: its present values other than the code; at the
        coordinator: other sites' quartiles).
    factor, fence : float
        See above (``THRESHOLDS["apart_factor"]``, ``THRESHOLDS["apart_fence"]``).

    Returns
    -------
    bool
        False as well without values or for code 0.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if code == 0 or v.size == 0:
        return False
    ratio = v / code
    if np.all(ratio < 1.0 / factor):
        extent = float(np.max(np.abs(v)))
        if not np.any(ratio > 0) and not (
                (np.all(v != 0) and extent > factor * abs(code))
                or abs(code) > factor * extent):
            return False
    elif not np.all(ratio > factor):
        return False
    if np.any(v > 0) and np.any(v < 0):
        q25, q75 = np.quantile(v, [0.25, 0.75])
        iqr = q75 - q25
        return bool(code > q75 + fence * iqr or code < q25 - fence * iqr)
    return True


def _quantity(feature: Feature) -> Quantity | None:
    return quantity_for(feature.name)


def effective_unit(feature: Feature) -> str | None:
    """The unit values are checked in: the declared one, else the quantity's canonical unit.

    Features of an unknown quantity without a declared unit have none.
    """
    if feature.unit:
        return feature.unit
    quantity = _quantity(feature)
    return quantity.canonical if quantity is not None else None


def effective_range(feature: Feature) -> tuple[float, float] | None:
    """The valid range checked: the feature's ``valid_range``, else the quantity's default.

    Only numeric features have one.
    """
    if feature.kind != "numeric":
        return None
    if feature.valid_range is not None:
        return (float(feature.valid_range[0]), float(feature.valid_range[1]))
    unit = effective_unit(feature)
    return default_range(feature.name, unit) if unit else None


def is_code_outside(code: float, valid: tuple[float, float] | None) -> bool:
    """Whether a candidate code lies outside the valid range (False without a range)."""
    return valid is not None and not valid[0] <= code <= valid[1]


def finite(value: float) -> bool:
    """True for a finite float (a released figure), False for NaN/inf (withheld)."""
    return not (math.isnan(value) or math.isinf(value))
