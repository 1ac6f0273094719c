"""Table helpers shared by federated analytics at the sites and the embedded checks.

Values as text labels, numeric columns with row-naming errors, survival columns, level
names, the public default bin grid of ``describe`` and the KM time grid. No flwr here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fedcare.data._table import MAX_LEVELS, _did_you_mean, _rows
from fedcare.exceptions import ConfigError, DataError

__all__ = ["default_edges", "is_text", "km_grid", "labels", "local_levels", "natural",
           "numeric", "require_columns", "survival_rows"]

_DEFAULT_EXPONENTS = range(-4, 5)


def default_edges() -> NDArray[np.float64]:
    """The public default bin grid of ``describe``: the same for every data set.

    Every number with two significant digits from 0.001 to 990000, their negatives and
    0 (1621 edges): bins are 1 wide in [10, 100), 10 wide in [100, 1000), and so on, so
    a quantile's error bound is at most ~10% of its magnitude (more where sites merged
    small bins). Values beyond +-990000 fall in open end bins.
    """
    pos = np.array(sorted({float(f"{m}e{e}") for e in _DEFAULT_EXPONENTS
                           for m in range(10, 100)}))
    return np.concatenate((-pos[::-1], [0.0], pos))


def natural(level: str) -> tuple[int, float, str]:
    """Sort key: numbers by value first, then text."""
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def labels(series: pd.Series) -> pd.Series:
    """Values as text labels (integral numbers without ``.0``), missing kept as NaN."""
    def label(v: Any) -> Any:
        if pd.isna(v):
            return np.nan
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v)
    return series.astype(object).map(label)


def numeric(frame: pd.DataFrame, col: str, option: str) -> pd.Series:
    """``col`` as float (NaN = missing), or a DataError naming the offending rows."""
    raw = frame[col]
    if raw.dtype == bool:
        return raw.astype(np.float64)
    values = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & values.isna()).to_numpy()
    if bad.any():
        raise DataError(f"column '{col}' ({option}) is not numeric: {int(bad.sum())} "
                        f"value(s) are not numbers ({_rows(bad)})")
    return values.astype(np.float64)


def is_text(frame: pd.DataFrame, col: str, *, strict: bool = True) -> bool:
    """True for a text column.

    ``strict``: a mostly numeric column with a few stray values is a DataError (the
    whole table's check); a site checks its own rows with ``strict=False``, since at a
    small site a few codes such as "missing" may well be 10% of the rows.
    """
    raw = frame[col]
    if raw.dtype == bool or pd.api.types.is_numeric_dtype(raw):
        return False
    values = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & values.isna()).to_numpy()
    n = int(raw.notna().sum())
    if strict and bad.any() and n and bad.sum() <= 0.1 * n:
        raise DataError(f"column '{col}' is mostly numeric but {int(bad.sum())} value(s) are "
                        f"not numbers ({_rows(bad)}); fix them, or list it in --categorical")
    return bool(bad.any())


def survival_rows(frame: pd.DataFrame, duration: str, event: str) -> tuple[pd.DataFrame, int]:
    """Validated float ``duration`` and 0/1 ``event``; rows missing either are dropped."""
    frame = frame.copy()
    t = numeric(frame, duration, "--duration")
    negative = (t < 0).to_numpy() | np.isinf(t.to_numpy())
    if negative.any():
        raise DataError(f"column '{duration}' (--duration) holds {int(negative.sum())} "
                        f"negative or infinite value(s) ({_rows(negative)})")
    raw = frame[event]
    if raw.dtype == bool:
        e = raw.astype(np.float64)
    else:
        text = raw.astype(object).map(lambda v: str(v).strip().lower() if pd.notna(v) else v)
        mapped = text.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0,
                           "0.0": 0.0})
        bad = (raw.notna() & mapped.isna()).to_numpy()
        if bad.any():
            raise DataError(f"column '{event}' (--event) holds {int(bad.sum())} value(s) "
                            f"other than 0/1 or true/false ({_rows(bad)})")
        e = mapped.astype(np.float64)
    frame[duration], frame[event] = t, e
    keep = frame[duration].notna() & frame[event].notna()
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def local_levels(frame: pd.DataFrame, col: str, option: str) -> list[str]:
    """This site's level names of ``col`` (naturally sorted)."""
    found = {str(v) for v in frame[col].dropna().unique()}
    if len(found) > MAX_LEVELS:
        raise DataError(f"column '{col}' ({option}) has {len(found)} distinct values, more "
                        f"than {MAX_LEVELS}: it looks like an identifier or free text")
    return sorted(found, key=natural)


def km_grid(grid_step: float, horizon: float | None) -> NDArray[np.float64]:
    """The public coarse grid 0, S, 2S, ... up to the horizon (default 60 steps)."""
    steps = math.ceil((horizon if horizon is not None else 60 * grid_step) / grid_step)
    if steps > 100_000:
        raise ConfigError("--horizon / --grid-step gives more than 100000 grid points")
    return grid_step * np.arange(0, steps + 1, dtype=np.float64)


def require_columns(frame: pd.DataFrame, source: str,
                    columns: Mapping[str, Sequence[str]]) -> None:
    """Every column named by an option (``{"--duration": ["time"]}``) exists in ``frame``;
    else a DataError naming ``source``, the option and a close match."""
    names = [str(c) for c in frame.columns]
    for option, cols in columns.items():
        for col in cols:
            if col not in frame.columns:
                raise DataError(f"{source}: column '{col}' ({option}) not found"
                                + _did_you_mean(col, names))
