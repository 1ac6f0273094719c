"""Federated Kaplan-Meier curves and the log-rank test from per-site counts on a grid.

Sites send, for every point ``t_j`` of a shared time grid and every group, the number
of events ``d_j`` and the number at risk ``n_j``; the coordinator adds them up and
computes exactly what a pooled analysis would. Two kinds of grid:

``exact=True`` (opt-in) -- grid = every distinct event time of every site
    Built in a first round (:func:`site_event_times` then :func:`union_grid`). Counts
    are per exact event time: ``d_j = #(T = t_j, event)``, ``n_j = #(T >= t_j)``. The
    pooled curve, its CI and the log-rank test equal lifelines' on the pooled data.
    **What it reveals**: every event time of every site (the grid round shows which
    site had an event when), and per time point the site's event count (usually 1)
    and at-risk count (near the tail, a handful). No small-cell protection is
    possible here: the study must opt in, ideally under secure aggregation so the
    coordinator sees only the sums across sites (which a published KM plot shows
    anyway).

``exact=False`` (default) -- a public, coarse grid (e.g. every 90 days)
    Times are rounded *up* to the grid: ``d_j`` counts events in ``(t_{j-1}, t_j]``
    and ``n_j = #(T > t_{j-1})``. The result equals lifelines on the rounded-up
    times. Nothing data-derived builds the grid. Small cells: a site releases its
    counts only up to the first grid point where an event count, an at-risk count or
    an implied censoring count (``n_j - d_j - n_{j+1}``) of any group would lie in
    1..k-1; later points are NaN and the pooled curve stops at the earliest such
    point over all sites (``KaplanMeier.released``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from fedcare.analytics._common import (
    DEFAULT_MIN_CELL,
    SiteMessage,
    check_grid,
    check_min_cell,
    survival_inputs,
)
from fedcare.exceptions import ConfigError, DataError

__all__ = [
    "KM_COUNT_KEYS",
    "KaplanMeier",
    "LogRank",
    "combine_km",
    "logrank",
    "site_event_times",
    "site_km",
    "union_grid",
]

#: Count arrays of a :func:`site_km` message.
KM_COUNT_KEYS = ("events", "at_risk")


def site_event_times(time: ArrayLike, event: ArrayLike, *,
                     resolution: float | None = None) -> SiteMessage:
    """Grid round: the site's distinct event times (rounded up to ``resolution``).

    Parameters
    ----------
    time, event : array_like of shape (n_rows,)
        Durations and 0/1 event indicators.
    resolution : float, optional
        Round times up to multiples of this (e.g. 30 days); ``None`` = exact times.

    Returns
    -------
    dict
        ``event_times`` (n_times,): sorted, distinct. This reveals when the site's
        events happened (to ``resolution``); see the module notes.
    """
    t, e = survival_inputs(time, event)
    times = t[e]
    if resolution is not None:
        if not resolution > 0:
            raise ConfigError(f"resolution must be > 0, got {resolution!r}")
        times = np.ceil(times / resolution) * resolution
    return {"event_times": np.unique(times)}


def union_grid(messages: Sequence[Mapping[str, NDArray[np.float64]]]) -> NDArray[np.float64]:
    """Coordinator of the grid round: the sorted union of all sites' event times.

    Returns
    -------
    ndarray of shape (n_times,)
    """
    parts = [np.asarray(m["event_times"], dtype=np.float64) for m in messages]
    grid = np.unique(np.concatenate(parts)) if parts else np.empty(0)
    if grid.size == 0:
        raise DataError("no site reported an event: the grid is empty")
    return grid


def _group_index(n: int, groups: ArrayLike | None,
                 group_levels: Sequence[Any] | None) -> tuple[NDArray[np.intp], int]:
    if groups is None:
        return np.zeros(n, dtype=np.intp), 1
    g = np.asarray(groups)
    if g.shape != (n,):
        raise DataError(f"groups has shape {g.shape}, expected ({n},)")
    if group_levels is None:
        raise ConfigError("group_levels (shared across sites) is required with groups")
    levels = list(group_levels)
    lookup = {lvl: i for i, lvl in enumerate(levels)}
    idx = np.array([lookup.get(v, -1) for v in g.tolist()], dtype=np.intp)
    if np.any(idx < 0):
        raise DataError(f"groups has {int(np.sum(idx < 0))} rows outside the "
                        f"{len(levels)} agreed levels")
    return idx, len(levels)


def site_km(time: ArrayLike, event: ArrayLike, grid: ArrayLike, *,
            groups: ArrayLike | None = None, group_levels: Sequence[Any] | None = None,
            exact: bool = False, min_cell: int = DEFAULT_MIN_CELL) -> SiteMessage:
    """What one site sends for Kaplan-Meier curves and the log-rank test.

    Parameters
    ----------
    time, event : array_like of shape (n_rows,)
        Durations (>= 0) and 0/1 event indicators.
    grid : array_like of shape (n_times,)
        Shared, strictly increasing time grid (see the module notes).
    groups : array_like of shape (n_rows,), optional
        Group of each row (for per-group curves and the log-rank test).
    group_levels : sequence, optional
        Shared levels of ``groups``; required with ``groups``.
    exact : bool, default False
        True: counts at exact event times (every event time must be on the grid), no
        small-cell protection. False: interval counts on a coarse grid, truncated
        at the first small cell.
    min_cell : int, default 5
        Small-cell threshold for ``exact=False``.

    Returns
    -------
    dict
        ``events`` and ``at_risk`` (n_groups, n_times), NaN from the first withheld
        grid point on; ``released`` () how many grid points were released.
    """
    k = check_min_cell(min_cell)
    t, e = survival_inputs(time, event)
    g = check_grid(grid)
    gi, n_groups = _group_index(t.size, groups, group_levels)
    events = np.zeros((n_groups, g.size))
    at_risk = np.zeros((n_groups, g.size))
    if exact:
        pos = np.searchsorted(g, t[e])
        on_grid = (pos < g.size) & (g[np.minimum(pos, g.size - 1)] == t[e])
        if not np.all(on_grid):
            raise DataError(f"{int(np.sum(~on_grid))} event times are not on the grid; "
                            "build it with site_event_times/union_grid")
        np.add.at(events, (gi[e], pos), 1.0)
        for j in range(n_groups):
            tj = np.sort(t[gi == j])
            at_risk[j] = tj.size - np.searchsorted(tj, g, side="left")
        return {"events": events, "at_risk": at_risk, "released": np.array(float(g.size))}
    # interval counts: (t_{j-1}, t_j]; times beyond the grid are censored past its end
    pos = np.searchsorted(g, t, side="left")
    inside = pos < g.size
    censored = np.zeros_like(events)
    np.add.at(events, (gi[e & inside], pos[e & inside]), 1.0)
    np.add.at(censored, (gi[~e & inside], pos[~e & inside]), 1.0)
    for j in range(n_groups):
        tj = np.sort(t[gi == j])
        prev = np.concatenate(([-np.inf], g[:-1]))
        at_risk[j] = tj.size - np.searchsorted(tj, prev, side="right")

    def small(a: NDArray[np.float64]) -> NDArray[np.bool_]:
        return np.asarray(((a > 0) & (a < k)).any(axis=0), dtype=np.bool_)

    bad = small(events) | small(at_risk)
    bad[1:] |= small(censored)[:-1]
    released = int(np.argmax(bad)) if bad.any() else g.size
    events[:, released:] = np.nan
    at_risk[:, released:] = np.nan
    return {"events": events, "at_risk": at_risk, "released": np.array(float(released))}


@dataclass(frozen=True)
class LogRank:
    """Log-rank test of equal survival across groups."""

    statistic: float
    p_value: float
    df: int
    observed: NDArray[np.float64]
    expected: NDArray[np.float64]


def logrank(events: ArrayLike, at_risk: ArrayLike) -> LogRank:
    """Log-rank test from pooled counts (as lifelines' ``multivariate_logrank_test``).

    Parameters
    ----------
    events, at_risk : array_like of shape (n_groups, n_times)
        Pooled events and numbers at risk per group and grid time.
    """
    d_g = np.asarray(events, dtype=np.float64)
    n_g = np.asarray(at_risk, dtype=np.float64)
    if d_g.shape != n_g.shape or d_g.ndim != 2 or d_g.shape[0] < 2:
        raise DataError(f"log-rank needs >= 2 groups of equal-shaped counts, got "
                        f"{d_g.shape} and {n_g.shape}")
    d, n = d_g.sum(axis=0), n_g.sum(axis=0)
    live = n > 0
    d_g, n_g, d, n = d_g[:, live], n_g[:, live], d[live], n[live]
    frac = n_g / n
    expected = (frac * d).sum(axis=1)
    observed = d_g.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, (n - d) / (n - 1), 1.0) * d
    cov = -(frac * factor) @ frac.T
    cov[np.diag_indices_from(cov)] += (frac * factor).sum(axis=1)
    z = (observed - expected)[:-1]
    stat = float(z @ np.linalg.pinv(cov[:-1, :-1]) @ z)
    df = d_g.shape[0] - 1
    return LogRank(stat, float(stats.chi2.sf(stat, df)), df, observed, expected)


@dataclass(frozen=True)
class KaplanMeier:
    """Pooled Kaplan-Meier curves; see :func:`combine_km`.

    Attributes
    ----------
    grid : ndarray of shape (n_released,)
        Grid points the curves are known at.
    survival, lower, upper, greenwood : ndarray of shape (n_groups, n_released)
        S(t), its exponential-Greenwood ("log(-log)") CI, and sum d/(n(n-d)).
    events, at_risk : ndarray of shape (n_groups, n_released)
        Pooled counts.
    released, n_grid : int
        Grid points released by every site, and in all.
    stop : float
        First withheld grid time (inf when the whole grid was released); the curves
        are unknown from there on.
    """

    grid: NDArray[np.float64]
    survival: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    greenwood: NDArray[np.float64]
    events: NDArray[np.float64]
    at_risk: NDArray[np.float64]
    group_levels: tuple[Any, ...]
    released: int
    n_grid: int
    stop: float
    logrank: LogRank | None

    def at(self, times: ArrayLike, group: int = 0) -> NDArray[np.float64]:
        """Survival, lower and upper CI as step functions at ``times``.

        Returns
        -------
        ndarray of shape (3, n_times)
            Value at the last grid point <= t (1 before the first); NaN past the last
            released point of a truncated curve.
        """
        t = np.asarray(times, dtype=np.float64)
        pos = np.searchsorted(self.grid, t, side="right") - 1
        out = np.ones((3, t.size))
        rows = np.stack([self.survival[group], self.lower[group], self.upper[group]])
        hit = pos >= 0
        out[:, hit] = rows[:, pos[hit]]
        out[:, t >= self.stop] = np.nan
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready curves and test."""
        out: dict[str, Any] = {
            "grid": self.grid.tolist(), "released": self.released, "n_grid": self.n_grid,
            "groups": {str(lvl): {"survival": self.survival[i].tolist(),
                                  "lower": self.lower[i].tolist(),
                                  "upper": self.upper[i].tolist(),
                                  "events": self.events[i].tolist(),
                                  "at_risk": self.at_risk[i].tolist()}
                       for i, lvl in enumerate(self.group_levels)},
        }
        if self.logrank is not None:
            out["logrank"] = {"statistic": self.logrank.statistic,
                              "p_value": self.logrank.p_value, "df": self.logrank.df}
        return out


def combine_km(messages: Sequence[Mapping[str, NDArray[np.float64]]], grid: ArrayLike, *,
               group_levels: Sequence[Any] | None = None, alpha: float = 0.05) -> KaplanMeier:
    """Pool :func:`site_km` messages into KM curves, CIs and a log-rank test.

    Parameters
    ----------
    messages : sequence of dict
        One :func:`site_km` message per site.
    grid : array_like of shape (n_times,)
        The grid the sites used.
    group_levels : sequence, optional
        The group levels the sites used (labels only).
    alpha : float, default 0.05
        1 - confidence level of the pointwise CI.
    """
    g = check_grid(grid)
    if not messages:
        raise DataError("no site messages to combine")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha!r}")
    released = int(min(float(m["released"]) for m in messages))
    events = np.stack([np.asarray(m["events"], dtype=np.float64)[:, :released]
                       for m in messages]).sum(axis=0)
    at_risk = np.stack([np.asarray(m["at_risk"], dtype=np.float64)[:, :released]
                        for m in messages]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(at_risk > 0, 1.0 - events / at_risk, 1.0)
        term = np.where((at_risk > 0) & (at_risk > events),
                        events / (at_risk * (at_risk - events)), 0.0)
        surv = np.cumprod(step, axis=1).astype(np.float64)
        gw = np.cumsum(term, axis=1)
        z = stats.norm.ppf(1 - alpha / 2)
        v = np.log(surv)
        lower = np.exp(-np.exp(np.log(-v) - z * np.sqrt(gw) / v))
        upper = np.exp(-np.exp(np.log(-v) + z * np.sqrt(gw) / v))
    lower, upper = np.nan_to_num(lower, nan=1.0), np.nan_to_num(upper, nan=1.0)
    levels = tuple(group_levels) if group_levels is not None else tuple(
        range(events.shape[0]))
    test = logrank(events, at_risk) if events.shape[0] >= 2 and released > 0 else None
    stop = float(g[released]) if released < g.size else float("inf")
    return KaplanMeier(g[:released], surv, lower, upper, gw, events, at_risk, levels,
                       released, g.size, stop, test)
