"""The site side of a data-quality check: protected aggregates of the site's own rows.

What a site releases (:func:`site_quality`), as one flat mapping of names to numbers
that fits a Flower ``MetricRecord``:

- ``n-rows`` / ``num-examples``: its row count;
- ``target/n-missing``, ``target/n-events``: rows without a label, rows with the event;
- per feature ``feature/<name>/n-missing``; for numeric features also the count of each
  candidate missing-value code held by at least k values (``n-code=0``, ``n-code=-99``
  ...; a code held by fewer is not named and counts as an ordinary value), the counts of
  the other values below / above the valid range (``n-below``, ``n-above``), for each
  named non-zero code whether it lies apart from the site's other values (``apart=999``:
  1 or 0, see :func:`fedcare.quality._common.is_apart`; sent only when at least k other
  values enter it) and three quartiles ``q25``, ``q50``, ``q75``;
- per numeric or binary feature ``feature/<name>/auc``: how well the feature alone
  separates the outcome at the site, ``max(AUC, 1 - AUC)`` of its raw values against
  the label, rounded to 2 decimals (a leak check; see :func:`separation`).

Protection (``min_cell`` = k):

- every count is 0 or at least k; a count of 1..k-1 is sent as NaN;
- the counts of one feature (or of the label) partition the site's rows together with
  one unsent remainder (ordinary values, non-events). When that remainder is 1..k-1
  it could be recovered by subtraction, so the largest sent count is withheld too and
  sent as ``-1`` ("this count and a small rest make up the remainder");
- quartiles are sent only when at least k values enter them, each is the mean of the k
  order statistics around the quantile's position (micro-aggregation: never a single
  patient's value) and is rounded to 3 significant digits; codes outside the valid range
  and named codes apart from the other values are left out of them;
- an ``apart`` flag is one yes/no about at least k other values against a fixed public
  code (like a count of 0 above a public bound), never a value, minimum or maximum;
- a separation figure is sent only when at least k rows with the event and k without
  have the feature (else the key is absent); it is one rank statistic over all those
  pairs, never a value;
- a site with fewer than k rows sends nothing but NaN;
- minima, maxima and individual values are never computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from fedcare.data._cohort import Feature, Schema, level_of
from fedcare.data._table import _did_you_mean
from fedcare.data._units import convert, quantity_for
from fedcare.exceptions import ConfigError, DataError
from fedcare.quality._common import (
    CANDIDATE_CODES,
    QUARTILES,
    THRESHOLDS,
    WITHHELD_REST,
    apart_key,
    code_key,
    effective_range,
    effective_unit,
    feature_key,
    is_apart,
    is_code_outside,
)

__all__ = ["protect_partition", "separation", "site_quality", "to_schema_units"]


def _check_k(min_cell: int) -> int:
    if not isinstance(min_cell, int | np.integer) or isinstance(min_cell, bool) or min_cell < 1:
        raise ConfigError(f"min_cell must be an integer >= 1, got {min_cell!r}")
    return int(min_cell)


def protect_partition(cells: Mapping[str, int], total: int, k: int) -> dict[str, float]:
    """Protect counts that, with an unsent remainder, partition ``total`` rows.

    Parameters
    ----------
    cells : mapping of str to int
        Disjoint counts; ``total - sum(cells)`` is the remainder (not sent).
    total : int
        The site's row count (released).
    k : int
        Small-cell threshold (1 = off).

    Returns
    -------
    dict
        Each count as a float: exact when 0 or >= k, NaN when 1..k-1; when the
        remainder is 1..k-1 the largest count is also withheld, as ``-1``.
    """
    out = {name: float(n) for name, n in cells.items()}
    if k <= 1:
        return out
    for name, n in cells.items():
        if 0 < n < k:
            out[name] = float("nan")
    rest = total - sum(cells.values())
    if 0 < rest < k:
        released = [name for name, n in cells.items() if n >= k]
        if released:
            largest = max(released, key=lambda name: cells[name])
            out[largest] = WITHHELD_REST
    return out


def _quartiles(values: np.ndarray, k: int) -> list[float]:
    """Micro-aggregated quartiles: the mean of the k order statistics around each one."""
    v = np.sort(values)
    n = v.size
    out = []
    for p in QUARTILES:
        if k <= 1:
            out.append(float(np.quantile(v, p)))
            continue
        h = (n - 1) * p
        start = int(min(max(round(h - (k - 1) / 2), 0), n - k))
        q = float(v[start:start + k].mean())
        out.append(float(f"{q:.3g}") if q != 0 else 0.0)
    return out


def _numbers(frame: pd.DataFrame, feature: Feature, site: str) -> np.ndarray:
    col = frame[feature.name]
    if pd.api.types.is_bool_dtype(col):
        return col.astype(np.float64).to_numpy()
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)


def _labels(frame: pd.DataFrame, target: str, positive: str | None, site: str
            ) -> np.ndarray:
    """Each row's label: 1.0 (event), 0.0, NaN (missing); a DataError for other labels."""
    col = frame[target]
    missing = col.isna().to_numpy()
    present = col[~missing]
    y = np.full(len(col), np.nan)
    if positive is not None:
        event = (present.map(level_of) == positive).to_numpy()
    elif pd.api.types.is_bool_dtype(present):
        event = present.astype(bool).to_numpy()
    else:
        numbers = pd.to_numeric(present, errors="coerce")
        lowered = present.astype(str).str.strip().str.lower()
        if numbers.notna().all() and set(numbers.unique().tolist()) <= {0, 1}:
            event = (numbers == 1).to_numpy()
        elif set(lowered.unique().tolist()) <= {"true", "false"}:
            event = (lowered == "true").to_numpy()
        else:
            raise DataError(f"site '{site}': target '{target}' has {present.nunique()} "
                            "distinct values, not 0/1; pass the event level as positive")
    y[~missing] = event.astype(np.float64)
    return y


def separation(x: np.ndarray, y: np.ndarray, k: int) -> float | None:
    """How well one feature alone separates the outcome: ``max(AUC, 1 - AUC)``.

    Parameters
    ----------
    x : ndarray of shape (n,)
        The feature's values (NaN: missing).
    y : ndarray of shape (n,)
        The labels, 1.0 / 0.0 (NaN: missing).
    k : int
        Small-cell threshold: the figure needs at least k events and k non-events among
        the rows with both a value and a label.

    Returns
    -------
    float or None
        The AUC of the raw values against the label (Mann-Whitney, ties counted half),
        folded to 0.5-1 and rounded to 2 decimals; None when either class has fewer
        than ``max(k, 1)`` rows.
    """
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    events = int((y == 1).sum())
    non_events = int(y.size - events)
    if min(events, non_events) < max(k, 1):
        return None
    ranks = pd.Series(x).rank(method="average").to_numpy()
    auc = (ranks[y == 1].sum() - events * (events + 1) / 2) / (events * non_events)
    return round(float(max(auc, 1.0 - auc)), 2)


def site_quality(frame: pd.DataFrame, schema: Schema, site: str, *, min_cell: int = 5,
                 units: Mapping[str, str] | None = None,
                 positive: str | None = None) -> dict[str, float]:
    """What one site sends for a data-quality check: protected aggregates only.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        The site's own rows; it must hold every feature of ``schema``. Values that are
        not numbers in a numeric feature count as missing. Without the target column,
        no label figures are sent.
    schema : Schema
        The study's features (kinds, units, valid ranges) and target.
    site : str
        The site's name (for error messages).
    min_cell : int, default 5
        Smallest number of patients any released count or quantile may describe.
    units : mapping of str to str, optional
        This site's own unit per feature where it differs from the schema's; values
        are converted to the schema's unit with :func:`fedcare.data._units.convert`
        before anything is computed (candidate codes are recognised before converting).
    positive : str, optional
        The target level meaning "event" when the target is not 0/1 or true/false.

    Returns
    -------
    dict of str to float
        See the module docstring; every value is a count (0, >= k, NaN or -1), or a
        micro-aggregated quartile (NaN when fewer than k values).

    Raises
    ------
    DataError
        A feature column is absent (named, with a close match), or the target has other
        levels than two.
    ConfigError
        ``min_cell`` is not an integer >= 1, or ``units`` names a column that is not a
        numeric feature.
    UnitError
        A unit in ``units`` cannot be converted to the schema's.
    """
    k = _check_k(min_cell)
    columns = [str(c) for c in frame.columns]
    for f in schema.features:
        if f.name not in columns:
            raise DataError(f"site '{site}': feature column '{f.name}' not found"
                            f"{_did_you_mean(f.name, columns)}")
    units = dict(units or {})
    _check_units(schema, units, site)
    n = len(frame)
    out: dict[str, float] = {"n-rows": float(n), "num-examples": float(n)}
    y: np.ndarray | None = None
    if schema.target in columns:
        y = _labels(frame, schema.target, positive, site)
        n_missing, n_events = int(np.isnan(y).sum()), int((y == 1).sum())
        out.update({f"target/{stat}": v for stat, v in protect_partition(
            {"n-missing": n_missing, "n-events": n_events}, n, k).items()})
    for f in schema.features:
        if f.kind != "numeric":
            missing = int(frame[f.name].isna().sum())
            out.update({feature_key(f.name, s): v for s, v in protect_partition(
                {"n-missing": missing}, n, k).items()})
            if f.kind == "binary" and y is not None:
                auc = separation(_numbers(frame, f, site), y, k)
                if auc is not None:
                    out[feature_key(f.name, "auc")] = auc
            continue
        out.update(_numeric(f, _numbers(frame, f, site), n, k, units.get(f.name), site, y))
    if 0 < n < k:  # nothing about fewer than k patients
        out = dict.fromkeys(out, float("nan"))
    return out


def _check_units(schema: Schema, units: Mapping[str, str], site: str) -> dict[str, Feature]:
    """The numeric features named in a site's ``units`` (ConfigError for any other name)."""
    features = {f.name: f for f in schema.features}
    unknown = sorted(set(units) - set(features))
    if unknown:
        raise ConfigError(f"site '{site}': units given for {unknown}, which are not features")
    not_numeric = sorted(name for name in units if features[name].kind != "numeric")
    if not_numeric:
        raise ConfigError(f"site '{site}': units given for {not_numeric}, which are not "
                          "numeric features")
    return {name: features[name] for name in units}


def to_schema_units(frame: pd.DataFrame, schema: Schema, units: Mapping[str, str] | None,
                    site: str) -> pd.DataFrame:
    """A site's rows with its declared units converted to the schema's (before training).

    Parameters
    ----------
    frame : DataFrame
        The site's own rows (never changed; a converted copy is returned).
    schema : Schema
        The agreed schema; each feature is converted to its effective unit (the declared
        one, else its quantity's canonical unit), as :func:`site_quality` does.
    units : mapping of str to str, optional
        The site's own unit per numeric feature (e.g. ``{"chol": "mmol/L"}``).
    site : str
        Named in error messages.

    Returns
    -------
    DataFrame
        ``frame`` itself when there is nothing to convert, else a copy whose named
        columns hold floats in the schema's unit (values that are not numbers become
        missing; candidate missing-value codes are converted like any value).

    Raises
    ------
    ConfigError
        ``units`` names a column that is not a numeric feature, or a feature without a
        unit to convert to.
    UnitError
        A unit cannot be converted to the schema's.
    """
    if not units:
        return frame
    out = frame.copy()
    for name, f in _check_units(schema, units, site).items():
        target_unit = effective_unit(f)
        if target_unit is None:
            raise ConfigError(f"site '{site}': feature '{name}' has no declared unit to "
                              f"convert '{units[name]}' to")
        if name not in out.columns:
            continue  # reported by the data loading, which names the missing column
        values = pd.to_numeric(out[name], errors="coerce").to_numpy(dtype=np.float64)
        out[name] = convert(values, units[name], target_unit, quantity=quantity_for(name),
                            feature=name)
    return out


def _numeric(f: Feature, x: np.ndarray, n: int, k: int, site_unit: str | None,
             site: str, y: np.ndarray | None = None) -> dict[str, float]:
    missing = np.isnan(x)
    present = x[~missing]
    valid = effective_range(f)
    codes = {c: present == c for c in CANDIDATE_CODES}
    # a code is named only when at least k values hold it (never "some patient has 99")
    named = {c: mask for c, mask in codes.items() if mask.sum() >= k}
    is_named = np.zeros(present.size, dtype=bool)
    for mask in named.values():
        is_named |= mask
    values = present
    target_unit = effective_unit(f)
    if site_unit is not None and present.size:
        if target_unit is None:
            raise ConfigError(f"site '{site}': feature '{f.name}' has no declared unit to "
                              f"convert '{site_unit}' to")
        values = present.copy()
        values[~is_named] = convert(present[~is_named], site_unit, target_unit,
                                    quantity=quantity_for(f.name), feature=f.name)
    other = values[~is_named]
    cells: dict[str, int] = {"n-missing": int(missing.sum())}
    for c, mask in named.items():
        cells[code_key(c)] = int(mask.sum())
    if valid is not None:
        cells["n-below"] = int((other < valid[0]).sum())
        cells["n-above"] = int((other > valid[1]).sum())
    out = {feature_key(f.name, s): v for s, v in protect_partition(cells, n, k).items()}
    # is each named code apart from the site's other values (a sentinel)? one flag, sent
    # only when at least k other values enter it; a larger candidate code on the same
    # side of zero (9999 beside 999) and codes outside the valid range are no "other
    # values" (they are codes themselves, however few)
    apart: set[float] = set()
    for c in named:
        if c == 0:
            continue
        others = ~codes[c]
        for d, mask in codes.items():
            if d / c > 1 or is_code_outside(d, valid):
                others &= ~mask
        if others.sum() >= max(k, 1):
            flag = is_apart(c, present[others], THRESHOLDS["apart_factor"],
                            THRESHOLDS["apart_fence"])
            out[feature_key(f.name, apart_key(c))] = 1.0 if flag else 0.0
            if flag:
                apart.add(c)
    # quartiles of the measured values: candidate codes outside the valid range (however
    # few) and named codes apart from the other values are not measurements: left out
    keep = np.ones(values.size, dtype=bool)
    for c, mask in codes.items():
        if is_code_outside(c, valid) or c in apart:
            keep &= ~mask
    measured = values[keep]
    quartiles = (_quartiles(measured, k) if measured.size >= max(k, 1) and measured.size
                 else [math.nan] * len(QUARTILES))
    for p, q in zip(QUARTILES, quartiles, strict=True):
        out[feature_key(f.name, f"q{round(p * 100)}")] = q
    if y is not None:  # separation of the measured values (codes left out, as above)
        auc = separation(measured, y[~missing][keep], k)
        if auc is not None:
            out[feature_key(f.name, "auc")] = auc
    return out
