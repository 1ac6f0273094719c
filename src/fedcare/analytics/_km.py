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

``exact=False`` with secure aggregation -- a public, coarse grid; totals protected
    Times are rounded *up* to the grid (e.g. every 30 days): the count at ``t_j``
    covers ``(t_{j-1}, t_j]``. Each site sends its *un-merged* interval counts
    (:func:`site_km_counts`: events, censorings, rows beyond the grid, per group) into
    a SecAgg+ sum, so the coordinator receives only their totals over all sites. It
    then applies the small-cell rule to those totals (:func:`release_totals`, the same
    greedy merging as :func:`coarsen`, on the totals): every released total event
    count, censoring count and at-risk count is 0 or >= k. A hospital with two events
    still contributes them (inside the totals), and the curves reach as far as the
    *pooled* numbers at risk allow, not as far as the smallest site's. Each group's
    intervals are merged on its own (groups are disjoint, so a small group does not
    coarsen the others' curves); the coordinator takes a log-rank test from one set of
    points for all groups (``release_totals(..., per_group=False)``, whose counts obey
    the same rule and are not published). Each curve equals a pooled KM on its group's
    times rounded up to its released points.
    **What it reveals**: nothing per site beyond the set-up round (each site's usable
    row count, NaN when 1..k-1). The coordinator process holds the unmasked totals on
    the public grid, including small ones (a total of 1..k-1 events in some month);
    only their protected form leaves it (result, JSON, report). Anyone who could
    compare two runs on cohorts differing by one patient could learn about that
    patient from the totals, as from any published KM curve.

``exact=False`` without secure aggregation (fallback) -- per-site merging
    Times are rounded *up* to the grid as above. Each site then merges consecutive
    grid intervals greedily (:func:`coarsen`): it releases a subset of the grid points
    -- the first one, unless a count at or before it is small -- chosen so that, for
    every group, every released interval's event count ``d``, its censoring count
    ``c`` (``n_i - d_i - n_{i+1}``, derivable from the message) and every released
    at-risk count ``n`` is 0 or >= k. Points it does
    not release are NaN. Where no further interval can satisfy k (fewer than k still
    at risk), the site stops, and its last interval's ``n - d`` (censored in it or
    followed beyond it) is 0 or >= k too.

    :func:`combine_km` pools on the points every site released (the intersection):
    a site's counts over a pooled interval are sums of its released intervals, so no
    new per-site count appears. The result equals a pooled KM (and log-rank test) on
    the times rounded up to that common grid, up to its last point
    (``KaplanMeier.stop`` is the next public grid point).

    **What the grid reveals** (beyond the released 0-or->=k counts): which public grid
    points each site released. A skipped point tells the coordinator that, between the
    site's previous released point and it, the event count or the censoring count of
    some group, or the number of the group still at risk after it, lay in 1..k-1 --
    not which count, which group or how many; a site's last released point tells that
    it could form no further interval of 0 or >= k counts. Nothing data-derived builds
    the public grid itself. The price: the common grid ends where the *first* site
    stops, and a site with 1..k-1 events can release no interval holding one of them,
    so with many small sites the curves may use a single grid point (t = 0). With
    secure aggregation (>= 3 sites) use the totals mode above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

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
    "coarsen",
    "combine_km",
    "logrank",
    "release_totals",
    "site_event_times",
    "site_km",
    "site_km_counts",
    "union_grid",
]

#: Count arrays of a :func:`site_km` message.
KM_COUNT_KEYS = ("events", "at_risk")

#: The ``step`` of a KM message asking for :func:`site_km_counts` (a secure sum only).
KM_TOTALS_STEP = "km-totals"


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
        small-cell protection. False: interval counts on a coarse grid, merged by
        :func:`coarsen` so that every count is 0 or >= ``min_cell``.
    min_cell : int, default 5
        Small-cell threshold for ``exact=False``.

    Returns
    -------
    dict
        ``events`` and ``at_risk`` (n_groups, n_times): at a released grid point, the
        events in the merged interval ending there and the number at risk at its
        start; NaN at the points not released. ``released`` (): how many grid points
        were released.
    """
    k = check_min_cell(min_cell)
    t, e = survival_inputs(time, event)
    g = check_grid(grid)
    gi, n_groups = _group_index(t.size, groups, group_levels)
    if exact:
        events = np.zeros((n_groups, g.size))
        at_risk = np.zeros((n_groups, g.size))
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
    return _release(*_interval_counts(t, e, g, gi, n_groups), min_cell=k)


def _interval_counts(t: NDArray[np.float64], e: NDArray[np.bool_], g: NDArray[np.float64],
                     gi: NDArray[np.intp], n_groups: int
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Events and censorings per group in ``(t_{j-1}, t_j]``, and rows beyond the grid."""
    events = np.zeros((n_groups, g.size))
    censored = np.zeros((n_groups, g.size))
    pos = np.searchsorted(g, t, side="left")
    inside = pos < g.size
    np.add.at(events, (gi[e & inside], pos[e & inside]), 1.0)
    np.add.at(censored, (gi[~e & inside], pos[~e & inside]), 1.0)
    beyond = np.bincount(gi[~inside], minlength=n_groups).astype(np.float64)
    return events, censored, beyond


def _release(events: NDArray[np.float64], censored: NDArray[np.float64],
             beyond: NDArray[np.float64], *, min_cell: int) -> SiteMessage:
    """Interval counts merged by :func:`coarsen`, in the message form of :func:`site_km`."""
    n_groups = events.shape[0]
    keep = coarsen(events, censored, beyond, min_cell=min_cell)
    total = events.sum(axis=1) + censored.sum(axis=1) + beyond
    cum_d = np.cumsum(events, axis=1)[:, keep]
    gone = np.cumsum(events + censored, axis=1)[:, keep]     # #(T <= released point)
    out_d = np.full_like(events, np.nan)
    out_n = np.full_like(events, np.nan)
    out_d[:, keep] = np.diff(cum_d, axis=1, prepend=0.0)
    out_n[:, keep] = total[:, None] - np.concatenate((np.zeros((n_groups, 1)),
                                                      gone[:, :-1]), axis=1)
    return {"events": out_d, "at_risk": out_n, "released": np.array(float(keep.size))}


def site_km_counts(time: ArrayLike, event: ArrayLike, grid: ArrayLike, *,
                   groups: ArrayLike | None = None, group_levels: Sequence[Any] | None = None,
                   exact: bool = False) -> SiteMessage:
    """A site's *unprotected* counts on the public grid, for a secure sum only.

    What a site puts into a SecAgg+ sum (the coordinator sees the total over all sites,
    never this message): its counts as they are, without merging, so that the
    small-cell rule can be applied to the totals (:func:`release_totals`).

    Parameters
    ----------
    time, event, grid, groups, group_levels
        As for :func:`site_km`.
    exact : bool, default False
        True: ``events`` and ``at_risk`` at the exact event times of ``grid`` (as
        :func:`site_km` with ``exact=True``).

    Returns
    -------
    dict
        ``events``, ``censored`` (n_groups, n_times): per interval ``(t_{j-1}, t_j]``;
        ``beyond`` (n_groups,): rows followed past the last grid point. With ``exact``:
        ``events`` and ``at_risk`` (n_groups, n_times).
    """
    t, e = survival_inputs(time, event)
    g = check_grid(grid)
    gi, n_groups = _group_index(t.size, groups, group_levels)
    if exact:
        msg = site_km(t, e, g, groups=groups, group_levels=group_levels, exact=True)
        return {"events": msg["events"], "at_risk": msg["at_risk"]}
    events, censored, beyond = _interval_counts(t, e, g, gi, n_groups)
    return {"events": events, "censored": censored, "beyond": beyond}


def release_totals(totals: Mapping[str, ArrayLike], *,
                   min_cell: int = DEFAULT_MIN_CELL, per_group: bool = True) -> SiteMessage:
    """The small-cell rule applied to the sum of :func:`site_km_counts` over all sites.

    Parameters
    ----------
    totals : mapping
        ``events``, ``censored`` (n_groups, n_times) and ``beyond`` (n_groups,): the
        secure sum of the sites' interval counts (rounded to whole numbers here: SecAgg+
        returns them to within ~1e-9).
    min_cell : int, default 5
        k: every released total event, censoring and at-risk count is 0 or >= k
        (consecutive grid intervals merged by :func:`coarsen`, on the totals).
    per_group : bool, default True
        Merge each group's intervals on its own (groups are disjoint sets of patients,
        so no released count of one group can be told from another's): a small group
        does not coarsen the others' curves. False: one set of points for all groups
        (as a site does in :func:`site_km`).

    Returns
    -------
    dict
        A message of the form of :func:`site_km` (``events``, ``at_risk``, NaN at the
        points not released) for :func:`combine_km`; ``released``: the number of
        released points, per group (n_groups,) with ``per_group``.
    """
    k = check_min_cell(min_cell)
    try:
        d, c = (np.rint(np.asarray(totals[key], dtype=np.float64))
                for key in ("events", "censored"))
        b = np.rint(np.asarray(totals["beyond"], dtype=np.float64)).reshape(-1)
    except KeyError as exc:
        raise DataError(f"KM totals lack {exc.args[0]!r}") from None
    if d.ndim != 2 or c.shape != d.shape or b.shape != d.shape[:1]:
        raise DataError(f"KM totals of shapes {d.shape}, {c.shape} and {b.shape} do not "
                        "match")
    if np.any(d < 0) or np.any(c < 0) or np.any(b < 0):
        raise DataError("KM totals hold negative counts")
    if not per_group:
        return _release(d, c, b, min_cell=k)
    rows = [_release(d[i:i + 1], c[i:i + 1], b[i:i + 1], min_cell=k)
            for i in range(d.shape[0])]
    return {"events": np.concatenate([r["events"] for r in rows]),
            "at_risk": np.concatenate([r["at_risk"] for r in rows]),
            "released": np.array([float(r["released"]) for r in rows])}


def coarsen(events: ArrayLike, censored: ArrayLike, beyond: ArrayLike, *,
            min_cell: int = DEFAULT_MIN_CELL) -> NDArray[np.intp]:
    """The grid points a site releases: consecutive grid intervals merged greedily.

    Walking the grid, the site releases a point as soon as the interval from its
    previous released point has, in every group, an event count and a censoring count
    of 0 or >= k, and the number still at risk after the point is 0 or >= k (it is
    the next interval's at-risk count). Where no further point qualifies, the site
    stops; its last released point may then instead satisfy the weaker terminal rule
    (events 0 or >= k, and censored-or-beyond ``n - d`` 0 or >= k), the latest such
    point being taken.

    Parameters
    ----------
    events, censored : array_like of shape (n_groups, n_times)
        Events and censorings per group in ``(t_{j-1}, t_j]`` (the first: ``<= t_0``).
    beyond : array_like of shape (n_groups,)
        Rows followed beyond the last grid point.
    min_cell : int, default 5
        k.

    Returns
    -------
    ndarray of shape (n_released,)
        Increasing indices of the released grid points (empty if a group's total is
        1..k-1).
    """
    k = check_min_cell(min_cell)
    d = np.asarray(events, dtype=np.float64)
    c = np.asarray(censored, dtype=np.float64)
    b = np.asarray(beyond, dtype=np.float64)
    if d.ndim != 2 or c.shape != d.shape or b.shape != d.shape[:1]:
        raise DataError(f"coarsen: counts of shapes {d.shape}, {c.shape} and {b.shape} "
                        "do not match")
    zero = np.zeros((d.shape[0], 1))
    cum_d = np.concatenate((zero, np.cumsum(d, axis=1)), axis=1)
    cum_c = np.concatenate((zero, np.cumsum(c, axis=1)), axis=1)
    total = cum_d[:, -1] + cum_c[:, -1] + b

    def ok(x: NDArray[np.float64]) -> bool:
        return bool(np.all((x == 0) | (x >= k)))

    released: list[int] = []
    if not ok(total):
        return np.array(released, dtype=np.intp)
    start, terminal = 0, -1          # start: cum index after the last released point
    for j in range(d.shape[1]):
        dj = cum_d[:, j + 1] - cum_d[:, start]
        if not ok(dj):
            continue
        cj = cum_c[:, j + 1] - cum_c[:, start]
        after = total - cum_d[:, j + 1] - cum_c[:, j + 1]
        if ok(cj) and ok(after):
            released.append(j)
            start, terminal = j + 1, -1
        elif ok(cj + after):
            terminal = j
    if terminal >= start:
        released.append(terminal)
    return np.array(released, dtype=np.intp)


@dataclass(frozen=True)
class LogRank:
    """Log-rank test of equal survival across groups (``up_to``: the last grid time of
    the counts it used, set by :func:`combine_km`)."""

    statistic: float
    p_value: float
    df: int
    observed: NDArray[np.float64]
    expected: NDArray[np.float64]
    up_to: float = float("nan")


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
    from scipy import stats  # on first use (see _cox)

    return LogRank(stat, float(stats.chi2.sf(stat, df)), df, observed, expected)


@dataclass(frozen=True)
class KaplanMeier:
    """Pooled Kaplan-Meier curves; see :func:`combine_km`.

    Attributes
    ----------
    grid : ndarray of shape (n_released,)
        Grid points the curves are known at (for some group).
    survival, lower, upper, greenwood : ndarray of shape (n_groups, n_released)
        S(t), its exponential-Greenwood ("log(-log)") CI, and sum d/(n(n-d)); NaN at
        a point not released for that group.
    events, at_risk : ndarray of shape (n_groups, n_released)
        Pooled counts (NaN where not released for the group).
    released, n_grid : int
        Grid points released (by every site; for some group), and in all.
    stop : float
        The public grid point after the last released one (inf when that is the grid's
        last); the curves are unknown from there on.
    points : ndarray of shape (n_released,)
        Indices of the released grid points in the public grid.
    stops : ndarray of shape (n_groups,)
        ``stop`` per group (groups released on their own, see :func:`release_totals`).
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
    points: NDArray[np.intp]
    stops: NDArray[np.float64]

    def reached(self, group: int | None = None) -> float | None:
        """How far the released curves reach.

        Parameters
        ----------
        group : int, optional
            Index of a group; ``None`` = any group.

        Returns
        -------
        float or None
            The last released grid time > 0 with anyone at risk. ``None`` when no
            such time was released: the counts were withheld (this does *not* mean
            that nobody died, and S = 1 must not be drawn or printed as a result).
        """
        n = np.nan_to_num(self.at_risk if group is None else self.at_risk[group:group + 1])
        live = np.flatnonzero((n.sum(axis=0) > 0) & (self.grid > 0))
        return float(self.grid[live[-1]]) if live.size else None

    def quantile(self, p: float = 0.5, group: int = 0) -> float | None:
        """A survival-time quantile read off the released curve.

        Parameters
        ----------
        p : float, default 0.5
            Share of events: the first released grid time with S(t) <= 1 - p (the
            median for 0.5, the 25 % quantile for 0.25).
        group : int, default 0
            Index of the group.

        Returns
        -------
        float or None
            That grid time; ``None`` if the released curve stays above 1 - p (not
            reached within the released follow-up, see :meth:`reached`).
        """
        if not 0 < p < 1:
            raise ConfigError(f"p must lie in (0, 1), got {p!r}")
        below = np.flatnonzero(self.survival[group] <= 1 - p + 1e-12)
        return float(self.grid[below[0]]) if below.size else None

    def at(self, times: ArrayLike, group: int = 0) -> NDArray[np.float64]:
        """Survival, lower and upper CI as step functions at ``times``.

        Returns
        -------
        ndarray of shape (3, n_times)
            Value at the group's last released grid point <= t (1 before the first);
            NaN from the group's ``stop`` on.
        """
        t = np.asarray(times, dtype=np.float64)
        own = ~np.isnan(self.survival[group])
        pos = np.searchsorted(self.grid[own], t, side="right") - 1
        out = np.ones((3, t.size))
        rows = np.stack([self.survival[group], self.lower[group], self.upper[group]])[:, own]
        hit = pos >= 0
        out[:, hit] = rows[:, pos[hit]]
        out[:, t >= self.stops[group]] = np.nan
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready curves and test (NaN as null), with :meth:`reached` (overall and per
        group; null: withheld), each group's ``released`` points and ``stop``, the median
        and the 25 % quantile (:meth:`quantile`; null: not reached)."""
        def listed(row: NDArray[np.float64]) -> list[float | None]:
            return [None if np.isnan(v) else float(v) for v in row]

        def finite(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        out: dict[str, Any] = {
            "grid": self.grid.tolist(), "released": self.released, "n_grid": self.n_grid,
            "released_points": self.points.tolist(),
            "reached": self.reached(),
            "groups": {str(lvl): {"survival": listed(self.survival[i]),
                                  "lower": listed(self.lower[i]),
                                  "upper": listed(self.upper[i]),
                                  "events": listed(self.events[i]),
                                  "at_risk": listed(self.at_risk[i]),
                                  "released": int(np.sum(~np.isnan(self.events[i]))),
                                  "reached": self.reached(i),
                                  "stop": finite(float(self.stops[i])),
                                  "median": self.quantile(0.5, i),
                                  "quantile_25": self.quantile(0.25, i)}
                       for i, lvl in enumerate(self.group_levels)},
        }
        if self.logrank is not None:
            out["logrank"] = {"statistic": self.logrank.statistic,
                              "p_value": self.logrank.p_value, "df": self.logrank.df,
                              "up_to": finite(self.logrank.up_to)}
        return out


def _pool_on(d: NDArray[np.float64], n: NDArray[np.float64], own: NDArray[np.intp],
             points: NDArray[np.intp]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Counts released at grid points ``own`` (a superset of ``points``) pooled over the
    intervals between ``points``: events summed, at risk at each interval's start."""
    pos = np.searchsorted(own, points)          # each point among the released ones
    cum = np.cumsum(d[own])[pos]
    first = np.concatenate(([0], pos[:-1] + 1)).astype(np.intp)
    return np.diff(cum, prepend=0.0), n[own][first]


def combine_km(messages: Sequence[Mapping[str, NDArray[np.float64]]], grid: ArrayLike, *,
               group_levels: Sequence[Any] | None = None, alpha: float = 0.05) -> KaplanMeier:
    """Pool :func:`site_km` messages into KM curves, CIs and a log-rank test.

    Parameters
    ----------
    messages : sequence of dict
        One :func:`site_km` message per site, or the one :func:`release_totals`
        message of a secure sum.
    grid : array_like of shape (n_times,)
        The grid the sites used. Each group's curve uses the points every site released
        for it; a site's counts over an interval of them are sums of its released
        intervals. The log-rank test uses the points released for every group, with
        the counts summed likewise (nothing new about any site or group).
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
    counts = []
    for m in messages:
        d = np.asarray(m["events"], dtype=np.float64)
        n = np.asarray(m["at_risk"], dtype=np.float64)
        if d.ndim != 2 or n.shape != d.shape or d.shape[1] != g.size:
            raise DataError(f"a site sent counts of shapes {d.shape} and {n.shape} for a "
                            f"grid of {g.size} points")
        mask = ~(np.isnan(d) | np.isnan(n))
        count = np.asarray(m["released"], dtype=np.float64)
        if count.ndim == 0:             # one set of points for every group
            mask[:] = mask.all(axis=0)
            ok = int(mask[0].sum()) == int(count)
        else:
            ok = count.shape == (d.shape[0],) and mask.sum(axis=1).tolist() == [
                int(r) for r in count]
        if not ok:
            raise DataError("a site's released count does not match its counts")
        counts.append((d, n, mask))
    if len({d.shape for d, _, _ in counts}) > 1:
        raise DataError("sites sent counts for different numbers of groups")
    n_groups = counts[0][0].shape[0]
    common = np.logical_and.reduce([mask for _, _, mask in counts])    # (groups, grid)
    points = np.flatnonzero(common.any(axis=0))
    released = int(points.size)
    events = np.full((n_groups, released), np.nan)
    at_risk = np.full_like(events, np.nan)
    for i in range(n_groups):
        mine = np.flatnonzero(common[i])
        if mine.size == 0:  # some site released no point for this group (1..k-1 of it)
            continue        # nothing to pool (indexing its own points would fail)
        cols = np.searchsorted(points, mine)
        events[i, cols] = at_risk[i, cols] = 0.0
        for d, n, mask in counts:
            de, nr = _pool_on(d[i], n[i], np.flatnonzero(mask[i]), mine)
            events[i, cols] += de
            at_risk[i, cols] += nr
    known = ~np.isnan(events)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(known & (at_risk > 0), 1.0 - events / at_risk, 1.0)
        term = np.where(known & (at_risk > 0) & (at_risk > events),
                        events / (at_risk * (at_risk - events)), 0.0)
        surv = np.cumprod(step, axis=1).astype(np.float64)
        gw = np.cumsum(term, axis=1)
        from scipy import stats  # on first use (see _cox)

        z = stats.norm.ppf(1 - alpha / 2)
        v = np.log(surv)
        lower = np.exp(-np.exp(np.log(-v) - z * np.sqrt(gw) / v))
        upper = np.exp(-np.exp(np.log(-v) + z * np.sqrt(gw) / v))
    lower, upper = np.nan_to_num(lower, nan=1.0), np.nan_to_num(upper, nan=1.0)
    surv, lower, upper, gw = (np.where(known, x, np.nan) for x in (surv, lower, upper, gw))
    levels = tuple(group_levels) if group_levels is not None else tuple(range(n_groups))
    test = None
    shared = np.flatnonzero(known.all(axis=0))      # released for every group
    if n_groups >= 2 and shared.size:
        pooled = [_pool_on(events[i], at_risk[i], np.flatnonzero(known[i]), shared)
                  for i in range(n_groups)]
        test = replace(logrank(np.stack([p[0] for p in pooled]),
                               np.stack([p[1] for p in pooled])),
                       up_to=float(g[points[shared[-1]]]))

    def stop_after(last: int) -> float:
        return float(g[last + 1]) if last + 1 < g.size else float("inf")

    stops = np.array([stop_after(int(np.flatnonzero(common[i])[-1])) if common[i].any()
                      else float(g[0]) for i in range(n_groups)])
    stop = stop_after(int(points[-1])) if released else float(g[0])
    return KaplanMeier(g[points], surv, lower, upper, gw, events, at_risk, levels,
                       released, g.size, stop, test, points, stops)
