"""Federated descriptive statistics: moments, histograms, quantiles and a Table 1.

Each site runs a ``site_*`` function on its own rows and sends back only the returned
:data:`SiteMessage` (counts, sums and sums of squared deviations); the coordinator runs
the matching ``combine_*`` function on the messages of all sites.

What never leaves a site
------------------------
- individual values, and also the minimum and maximum: an extreme *is* one patient's
  value, so they are not computed at all;
- any count of patients between 1 and ``min_cell - 1`` (default 4): such cells are
  sent as NaN and reported by the coordinator as ``"<k"``;
- the histogram behind the quantiles is sent as cumulative counts at the shared bin
  edges, and a site *merges* adjacent bins (drops the edge between them, sending NaN)
  until every released block holds 0 or at least ``min_cell`` patients. The
  coordinator then knows the pooled empirical CDF only within bounds at those edges
  and reports each quantile with a guaranteed interval; with ``min_cell=1`` the
  interval is the bin holding the order statistic(s), so the error bound is at most
  one bin width (two when the interpolated quantile straddles an edge).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from fedcare.analytics._common import (
    DEFAULT_MIN_CELL,
    SiteMessage,
    as_float_vector,
    check_min_cell,
    suppress,
)
from fedcare.exceptions import ConfigError, DataError

__all__ = [
    "DESCRIBE_COUNT_KEYS",
    "Description",
    "Quantile",
    "Table1",
    "combine_describe",
    "combine_table1",
    "site_describe",
    "site_table1",
]

#: Names (``*`` = prefix) of the count arrays in describe / Table 1 messages.
DESCRIBE_COUNT_KEYS = ("n", "n_missing", "cum_blocks", "group/n", "num/*/n", "cat/*")


def _check_edges(edges: ArrayLike) -> NDArray[np.float64]:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ConfigError("edges must be a finite, strictly increasing 1-D array of "
                          f">= 2 values, got shape {e.shape}")
    return e


def _merged_cumulative(x: NDArray[np.float64], edges: NDArray[np.float64],
                       k: int) -> NDArray[np.float64]:
    """Cumulative counts ``#(x < edges[j])``, NaN where a small block had to be merged."""
    n = x.size
    cum = np.searchsorted(np.sort(x), edges, side="left").astype(np.float64)
    # the full sequence runs from 0 (at -inf) to n (at +inf); both ends are implicit
    full = np.concatenate(([0.0], cum, [float(n)]))
    released = [0]
    for j in range(1, full.size):
        block = full[j] - full[released[-1]]
        if j == full.size - 1 or block == 0 or block >= k:
            released.append(j)
    # the last block (ending at +inf) may be small: merge it backwards
    while len(released) > 2 and 0 < full[released[-1]] - full[released[-2]] < k:
        del released[-2]
    out = np.full(full.size, np.nan)
    out[released] = full[released]
    return out[1:-1]


def site_describe(values: ArrayLike, edges: ArrayLike, *,
                  min_cell: int = DEFAULT_MIN_CELL) -> SiteMessage:
    """What one site sends to describe one numeric variable.

    Parameters
    ----------
    values : array_like of shape (n_rows,)
        The site's values; NaN marks a missing value.
    edges : array_like of shape (n_edges,)
        Shared, public bin edges (bins ``[e_j, e_{j+1})``; values below the first or
        at/above the last edge fall in open under/overflow bins).
    min_cell : int, default 5
        Smallest number of patients any released count may describe.

    Returns
    -------
    dict
        ``n`` () non-missing count, ``n_missing`` (), ``sum`` (), ``m2`` () sum of
        squared deviations from the site mean, ``cum`` (n_edges,) cumulative counts
        below each edge (NaN where merged), ``integral`` () 1 when every value is a
        whole number (an integer variable such as age in years), else 0. Everything but
        ``n_missing`` is NaN when ``n < min_cell``.
    """
    k = check_min_cell(min_cell)
    e = _check_edges(edges)
    x = as_float_vector(values, "values")
    missing = np.isnan(x)
    x = x[~missing]
    if np.any(~np.isfinite(x)):
        raise DataError(f"values hold {int(np.sum(~np.isfinite(x)))} infinite entries")
    n = x.size
    msg: SiteMessage = {"n_missing": suppress(np.array(float(missing.sum())), k)}
    if 0 < n < k:
        msg.update(n=np.array(np.nan), sum=np.array(np.nan), m2=np.array(np.nan),
                   cum=np.full(e.size, np.nan), integral=np.array(np.nan))
        return msg
    mean = float(x.mean()) if n else 0.0
    msg.update(n=np.array(float(n)), sum=np.array(float(x.sum())),
               m2=np.array(float(np.sum((x - mean) ** 2))),
               cum=_merged_cumulative(x, e, k),
               integral=np.array(float(bool(np.all(x == np.round(x))))))
    return msg


@dataclass(frozen=True)
class Quantile:
    """A pooled quantile: an estimate and an interval guaranteed to hold the exact one."""

    probability: float
    estimate: float
    lower: float
    upper: float

    @property
    def error_bound(self) -> float:
        """Largest possible distance between ``estimate`` and the pooled sample quantile."""
        return max(self.estimate - self.lower, self.upper - self.estimate)


@dataclass(frozen=True)
class Description:
    """Pooled description of one variable; see :func:`combine_describe`.

    Attributes
    ----------
    hist : ndarray of shape (n_edges - 1,)
        Pooled counts per bin, NaN where a site merged the bin with a neighbour.
    hist_lower, hist_upper : ndarray of shape (n_edges - 1,)
        Bounds on each pooled bin count.
    integer : bool
        Every released site's values are whole numbers (e.g. age in years): reports
        print its quantiles without decimals.
    """

    n: int
    n_missing: float
    mean: float
    var: float
    edges: NDArray[np.float64]
    hist: NDArray[np.float64]
    hist_lower: NDArray[np.float64]
    hist_upper: NDArray[np.float64]
    quantiles: tuple[Quantile, ...]
    sites: int
    sites_suppressed: int
    min_cell: int = field(default=DEFAULT_MIN_CELL)
    integer: bool = False
    missing_withheld: int = 0

    @property
    def sd(self) -> float:
        """Pooled standard deviation (ddof=1)."""
        return float(np.sqrt(self.var))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN counts are written as ``"<k"``)."""
        def count(v: float) -> float | str:
            return f"<{self.min_cell}" if np.isnan(v) else v

        n_missing: float | str = self.n_missing
        if self.missing_withheld:  # each withholding site had 1 to k-1 missing values
            low = int(self.n_missing) + self.missing_withheld
            high = int(self.n_missing) + self.missing_withheld * (self.min_cell - 1)
            n_missing = f"{low}" if low == high else f"{low}-{high}"
        return {
            "n": self.n, "n_missing": n_missing, "mean": self.mean,
            "var": self.var, "sd": self.sd, "edges": self.edges.tolist(),
            "hist": [count(float(v)) for v in self.hist],
            "quantiles": {f"{q.probability:g}": {"estimate": q.estimate, "lower": q.lower,
                                                  "upper": q.upper,
                                                  "error_bound": q.error_bound}
                          for q in self.quantiles},
            "sites": self.sites, "sites_suppressed": self.sites_suppressed,
            "integer": self.integer,
        }


def _cdf_bounds(cums: Sequence[NDArray[np.float64]],
                ns: Sequence[float]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pooled lower/upper bounds of ``#(x < e_j)`` from merged cumulative counts."""
    lower = np.zeros(cums[0].size)
    upper = np.zeros(cums[0].size)
    for cum, n in zip(cums, ns, strict=True):
        full = np.concatenate(([0.0], cum, [n]))
        idx = np.arange(full.size)
        known = ~np.isnan(full)
        prev = np.maximum.accumulate(np.where(known, idx, 0))
        nxt = np.minimum.accumulate(np.where(known, idx, full.size - 1)[::-1])[::-1]
        lower += full[prev][1:-1]
        upper += full[nxt][1:-1]
    return lower, upper


def combine_describe(messages: Sequence[Mapping[str, NDArray[np.float64]]], edges: ArrayLike,
                     *, quantiles: Sequence[float] = (0.25, 0.5, 0.75),
                     min_cell: int = DEFAULT_MIN_CELL) -> Description:
    """Pool the :func:`site_describe` messages of all sites.

    Mean and variance (ddof=1) are exact for the sites that were not suppressed
    (Chan et al.'s pairwise update). Quantiles follow numpy's default (linear)
    definition; ``lower``/``upper`` bracket the order statistics it interpolates.

    Parameters
    ----------
    messages : sequence of dict
        One :func:`site_describe` message per site.
    edges : array_like of shape (n_edges,)
        The edges the sites used.
    quantiles : sequence of float, default (0.25, 0.5, 0.75)
        Probabilities in [0, 1].
    min_cell : int, default 5
        The threshold the sites used (for reporting ``"<k"``).
    """
    k = check_min_cell(min_cell)
    e = _check_edges(edges)
    if not messages:
        raise DataError("no site messages to combine")
    if any(not 0.0 <= p <= 1.0 for p in quantiles):
        raise ConfigError(f"quantiles must lie in [0, 1], got {list(quantiles)}")
    kept = [m for m in messages if not np.isnan(float(m["n"]))]
    ns = [float(m["n"]) for m in kept]
    n_total = float(sum(ns))
    # a site withholds a missing count of 1 to k-1: the total is then a range
    missing = [float(m["n_missing"]) for m in messages]
    withheld = int(sum(np.isnan(missing)))
    n_missing = float(np.nansum(missing))
    if n_total == 0:
        nan_e = np.full(e.size - 1, np.nan)
        return Description(0, n_missing, float("nan"), float("nan"), e, nan_e, nan_e, nan_e,
                           (), len(messages), len(messages) - len(kept), k,
                           missing_withheld=withheld)
    sums = np.array([float(m["sum"]) for m in kept])
    mean = float(sums.sum() / n_total)
    site_means = np.divide(sums, ns, out=np.zeros_like(sums), where=np.array(ns) > 0)
    m2 = float(sum(float(m["m2"]) for m in kept)
               + np.sum(np.array(ns) * (site_means - mean) ** 2))
    var = m2 / (n_total - 1) if n_total > 1 else float("nan")
    lower, upper = _cdf_bounds([np.asarray(m["cum"], dtype=np.float64) for m in kept], ns)
    exact = lower == upper
    hist = np.where(exact[1:] & exact[:-1], np.diff(upper), np.nan)
    hist_lower = np.maximum(lower[1:] - upper[:-1], 0.0)
    hist_upper = upper[1:] - lower[:-1]
    # sentinels at -inf/+inf: 0 and n patients lie below them
    xs = np.concatenate(([-np.inf], e, [np.inf]))
    lo_c = np.concatenate(([0.0], lower, [n_total]))
    hi_c = np.concatenate(([0.0], upper, [n_total]))
    qs = []
    for p in quantiles:
        h = (n_total - 1) * p
        k1, k2 = np.floor(h) + 1, np.ceil(h) + 1
        below = xs[hi_c < k1]          # certainly fewer than k1 values below: x_(k1) >= edge
        above = xs[lo_c >= k2]         # certainly k2 values below: x_(k2) < edge
        q_lo = float(below.max()) if below.size else -np.inf
        q_hi = float(above.min()) if above.size else np.inf
        mid = (lower + upper) / 2.0
        est = float(np.interp(h + 0.5, mid, e))
        est = float(np.clip(est, q_lo, q_hi))
        qs.append(Quantile(float(p), est, q_lo, q_hi))
    # an integer variable (every released site's values whole numbers): printed so
    integer = all(float(m.get("integral", np.nan)) == 1.0 for m in kept)
    return Description(int(n_total), n_missing, mean, var, e, hist, hist_lower, hist_upper,
                       tuple(qs), len(messages), len(messages) - len(kept), k, integer,
                       missing_withheld=withheld)


# --------------------------------------------------------------------------- Table 1

def _secondary(row: NDArray[np.float64], raw: NDArray[np.float64]) -> NDArray[np.float64]:
    """If exactly one cell of a row with a known total is suppressed, hide one more."""
    if int(np.isnan(row).sum()) == 1:
        candidates = np.where(~np.isnan(row) & (raw > 0))[0]
        if candidates.size:
            row = row.copy()
            row[candidates[np.argmin(raw[candidates])]] = np.nan
    return row


def site_table1(frame: pd.DataFrame, group: str, group_levels: Sequence[Any], *,
                numeric: Sequence[str] = (), categorical: Mapping[str, Sequence[Any]] | None = None,
                min_cell: int = DEFAULT_MIN_CELL) -> SiteMessage:
    """What one site sends for a baseline-characteristics table ("Table 1") by group.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        The site's rows.
    group : str
        Column defining the table's columns (e.g. treatment arm).
    group_levels : sequence
        Shared, agreed levels of ``group``; rows with other values are an error.
    numeric : sequence of str
        Numeric columns (described by n, mean and sd).
    categorical : mapping of str to sequence
        Categorical columns and their shared levels (described by counts and %).
    min_cell : int, default 5
        Smallest number of patients any released count may describe.

    Returns
    -------
    dict
        ``group/n`` (n_groups,); per numeric ``v``: ``num/v/n``, ``num/v/sum``,
        ``num/v/m2`` (n_groups,); per categorical ``c``: ``cat/c`` (n_groups,
        n_levels + 1), the last column counting missing values. Cells of 1..k-1
        patients are NaN, plus one more per row where a single suppressed cell could be
        recovered from the row total (secondary suppression).
    """
    k = check_min_cell(min_cell)
    categorical = dict(categorical or {})
    needed = [group, *numeric, *categorical]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise DataError(f"columns not found: {absent}")
    g = frame[group]
    unknown = ~g.isin(list(group_levels))
    if unknown.any():
        raise DataError(f"column {group!r} has {int(unknown.sum())} rows outside the "
                        f"{len(group_levels)} agreed levels")
    raw_n = np.array([float((g == lvl).sum()) for lvl in group_levels])
    n_g = _secondary(suppress(raw_n, k), raw_n)
    msg: SiteMessage = {"group/n": n_g}
    hidden = np.isnan(n_g)
    for col in numeric:
        x = as_float_vector(pd.to_numeric(frame[col], errors="coerce"), col)
        out = np.full((3, len(group_levels)), np.nan)
        for i, lvl in enumerate(group_levels):
            xi = x[(g == lvl).to_numpy()]
            xi = xi[~np.isnan(xi)]
            n_miss = raw_n[i] - xi.size
            if hidden[i] or 0 < xi.size < k or 0 < n_miss < k:
                continue
            mean = float(xi.mean()) if xi.size else 0.0
            out[:, i] = (xi.size, xi.sum(), np.sum((xi - mean) ** 2))
        msg[f"num/{col}/n"], msg[f"num/{col}/sum"], msg[f"num/{col}/m2"] = out
    for col, levels in categorical.items():
        values = frame[col]
        bad = values.notna() & ~values.isin(list(levels))
        if bad.any():
            raise DataError(f"column {col!r} has {int(bad.sum())} rows outside the "
                            f"{len(levels)} agreed levels")
        table = np.full((len(group_levels), len(levels) + 1), np.nan)
        for i, glvl in enumerate(group_levels):
            if hidden[i]:
                continue
            vi = values[g == glvl]
            raw = np.array([float((vi == lvl).sum()) for lvl in levels]
                           + [float(vi.isna().sum())])
            table[i] = _secondary(suppress(raw, k), raw)
        msg[f"cat/{col}"] = table
    return msg


@dataclass(frozen=True)
class Table1:
    """Pooled baseline characteristics by group; see :func:`combine_table1`.

    ``cells`` maps (row label, group label) to a dict with ``value`` (count or mean),
    ``sd``, ``n``, ``lower`` (the pooled count is at least this), ``complete`` (no site
    suppressed this cell) and ``text`` (the cell as printed).
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: dict[tuple[str, str], dict[str, Any]]

    def to_frame(self) -> pd.DataFrame:
        """The printable table: one row per characteristic, one column per group."""
        return pd.DataFrame([[self.cells[(r, c)]["text"] for c in self.columns]
                             for r in self.rows], index=list(self.rows),
                            columns=list(self.columns))

    def to_dict(self) -> dict[str, dict[str, dict[str, Any]]]:
        """JSON-ready cells, nested by row then column."""
        return {r: {c: self.cells[(r, c)] for c in self.columns} for r in self.rows}


def _pool_counts(arrays: Sequence[NDArray[np.float64]]) -> tuple[NDArray[np.float64],
                                                                  NDArray[np.bool_]]:
    stacked = np.stack(arrays)
    complete = np.asarray(~np.isnan(stacked).any(axis=0), dtype=np.bool_)
    return np.nansum(stacked, axis=0), complete


def _count_text(value: float, complete: bool, k: int, denominator: float | None) -> str:
    if not complete and value == 0:
        return f"<{k}"
    text = f"{value:.0f}" if complete else f">={value:.0f}"
    if denominator and complete:
        text += f" ({100.0 * value / denominator:.1f}%)"
    return text


def combine_table1(messages: Sequence[Mapping[str, NDArray[np.float64]]],
                   group_levels: Sequence[Any], *, numeric: Sequence[str] = (),
                   categorical: Mapping[str, Sequence[Any]] | None = None,
                   min_cell: int = DEFAULT_MIN_CELL) -> Table1:
    """Pool :func:`site_table1` messages into a Table 1 with an "Overall" column.

    A count some site suppressed is reported as ``">=x"`` (``x`` = what the other sites
    sent) or ``"<k"`` when nothing was released; a numeric cell lists mean ± sd over the
    sites that released it, marked ``*`` when any site was left out.
    """
    k = check_min_cell(min_cell)
    categorical = dict(categorical or {})
    if not messages:
        raise DataError("no site messages to combine")
    columns = (*[str(v) for v in group_levels], "Overall")
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    rows: list[str] = ["n"]

    def with_overall(values: NDArray[np.float64],
                     complete: NDArray[np.bool_]) -> tuple[NDArray[np.float64],
                                                          NDArray[np.bool_]]:
        return (np.concatenate((values, values.sum(axis=0, keepdims=True))),
                np.concatenate((complete, complete.all(axis=0, keepdims=True))))

    n_g, ok_g = with_overall(*_pool_counts([m["group/n"] for m in messages]))
    for j, col in enumerate(columns):
        cells[("n", col)] = {"value": float(n_g[j]), "lower": float(n_g[j]),
                             "complete": bool(ok_g[j]),
                             "text": _count_text(float(n_g[j]), bool(ok_g[j]), k, None)}
    for var in numeric:
        label = f"{var}, mean ± sd"
        rows.append(label)
        per = np.stack([np.stack([m[f"num/{var}/n"], m[f"num/{var}/sum"],
                                  m[f"num/{var}/m2"]]) for m in messages])  # (S, 3, G)
        for j, col in enumerate(columns):
            overall = j == len(group_levels)   # Overall: every released (site, group) cell
            parts = per.transpose(0, 2, 1).reshape(-1, 3) if overall else per[:, :, j]
            complete = not np.isnan(parts[:, 0]).any()
            parts = parts[~np.isnan(parts[:, 0])]
            n = float(parts[:, 0].sum())
            if n == 0:
                cells[(label, col)] = {"value": float("nan"), "sd": float("nan"), "n": 0.0,
                                       "complete": complete, "text": f"n<{k}"}
                continue
            mean = float(parts[:, 1].sum() / n)
            sm = np.divide(parts[:, 1], parts[:, 0], out=np.zeros(len(parts)),
                           where=parts[:, 0] > 0)
            m2 = float(parts[:, 2].sum() + np.sum(parts[:, 0] * (sm - mean) ** 2))
            sd = float(np.sqrt(m2 / (n - 1))) if n > 1 else float("nan")
            text = f"{mean:.2f} ± {sd:.2f} (n={n:.0f})" + ("" if complete else "*")
            cells[(label, col)] = {"value": mean, "sd": sd, "n": n, "complete": complete,
                                   "text": text}
    for var, levels in categorical.items():
        counts, ok = _pool_counts([m[f"cat/{var}"] for m in messages])  # (G, L+1)
        counts, ok = with_overall(counts, ok)
        labels = [f"{var}={lvl}, n (%)" for lvl in levels] + [f"{var} missing, n (%)"]
        for li, label in enumerate(labels):
            rows.append(label)
            for j, col in enumerate(columns):
                v, c = float(counts[j, li]), bool(ok[j, li])
                denom = float(n_g[j]) if ok_g[j] else None
                cells[(label, col)] = {"value": v, "lower": v, "complete": c,
                                       "text": _count_text(v, c, k, denom)}
    return Table1(tuple(rows), columns, cells)
