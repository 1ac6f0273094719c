"""Federated Kaplan-Meier and log-rank equal lifelines on the pooled table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcare.analytics import combine_km, site_event_times, site_km, union_grid
from fedcare.analytics._km import coarsen
from fedcare.exceptions import DataError

KaplanMeierFitter = pytest.importorskip("lifelines").KaplanMeierFitter
logrank_test = pytest.importorskip("lifelines.statistics").logrank_test

TOL = 1e-6


def _exact(table, grouped=True):
    sites = table.sites()
    grid = union_grid([site_event_times(s.time, s.event) for s in sites])
    kw = dict(groups=None, group_levels=None)
    msgs = []
    for s in sites:
        if grouped:
            kw = dict(groups=s[table.group], group_levels=table.group_levels)
        msgs.append(site_km(s.time, s.event, grid, exact=True, **kw))
    return combine_km(msgs, grid, group_levels=table.group_levels if grouped else None)


def _max_diff(km, group, df):
    ref = KaplanMeierFitter().fit(df.time, df.event)
    ours = km.at(ref.survival_function_.index.to_numpy(), group)
    want = np.vstack([ref.survival_function_.to_numpy()[:, 0],
                      ref.confidence_interval_.to_numpy().T])
    return np.abs(ours - want).max()


def test_pooled_km_and_ci_equal_lifelines(table):
    km = _exact(table, grouped=False)
    assert _max_diff(km, 0, table.df) < TOL


def test_grouped_km_and_logrank_equal_lifelines(table):
    km = _exact(table)
    df = table.df
    for i, lvl in enumerate(table.group_levels):
        assert _max_diff(km, i, df[df[table.group] == lvl]) < TOL
    a, b = (df[df[table.group] == lvl] for lvl in table.group_levels)
    ref = logrank_test(a.time, b.time, a.event, b.event)
    assert km.logrank is not None
    assert abs(km.logrank.statistic - ref.test_statistic) < TOL
    assert abs(km.logrank.p_value - ref.p_value) < TOL


def _rounded_up(df, points, tail):
    """Times rounded up to ``points``; rows past the last point censored beyond it."""
    t = df.time.to_numpy()
    pos = np.searchsorted(points, t)
    inside = pos < points.size
    return (np.where(inside, points[np.minimum(pos, points.size - 1)], tail),
            df.event.to_numpy() * inside)


def _pooled_on(km, df, group=None, levels=()):
    """lifelines' KM (and log-rank) on the times rounded up to the curves' own grid."""
    tail = km.grid[-1] + 1.0
    out = []
    parts = [df] if group is None else [df[df[group] == lvl] for lvl in levels]
    for part in parts:
        t, e = _rounded_up(part, km.grid, tail)
        ref = KaplanMeierFitter().fit(t, e)
        out.append((t, e, np.vstack([ref.survival_function_at_times(km.grid).to_numpy(),
                                     ref.confidence_interval_.reindex(km.grid, method="ffill")
                                     .to_numpy().T])))
    return out


def _coarse(table, grid, min_cell, grouped):
    msgs = []
    for s in table.sites():
        kw = (dict(groups=s[table.group], group_levels=table.group_levels) if grouped
              else {})
        msgs.append(site_km(s.time, s.event, grid, min_cell=min_cell, **kw))
    return msgs, combine_km(msgs, grid, group_levels=table.group_levels if grouped else None)


@pytest.mark.parametrize("min_cell", [1, 2, 5])
def test_coarse_grid_equals_lifelines_on_rounded_times(pbc3, min_cell):
    # the curves equal a pooled KM on the times rounded up to the points every site
    # released (with k = 1, the whole public grid)
    grid = np.arange(0.0, 2000.0, 365.25)  # yearly, public; beyond: censored
    _, km = _coarse(pbc3, grid, min_cell, grouped=False)
    assert (km.released == grid.size) == (min_cell == 1)
    assert km.released >= 1 and km.grid[0] == 0.0
    np.testing.assert_array_equal(km.grid, grid[km.points])
    [(_, _, want)] = _pooled_on(km, pbc3.df)
    assert np.abs(km.survival[0] - want[0]).max() < 1e-12
    assert np.isnan(km.at([km.stop])).all()


@pytest.mark.parametrize("step", [90.0, 365.0])
def test_grouped_coarse_km_equals_pooled_km_on_the_released_grid(pbc3, step):
    # per arm, Pbc3's hospitals are too small for any k >= 2 to pass t = 0 (see
    # test_pbc3_reach); k = 1 checks the grouped pooling and log-rank on the grid
    grid = step * np.arange(61)
    _, km = _coarse(pbc3, grid, 1, grouped=True)
    assert km.released == grid.size
    ref = _pooled_on(km, pbc3.df, pbc3.group, pbc3.group_levels)
    for i, (_, _, want) in enumerate(ref):
        ours = np.vstack([km.survival[i], km.lower[i], km.upper[i]])
        assert np.abs(ours - want).max() < 1e-12
    (ta, ea, _), (tb, eb, _) = ref
    lr = logrank_test(ta, tb, ea, eb)
    assert km.logrank is not None
    assert abs(km.logrank.statistic - lr.test_statistic) < 1e-9
    assert abs(km.logrank.p_value - lr.p_value) < 1e-9


def test_pbc3_reach(pbc3):
    # merging reaches (ungrouped, k = 2) 95% of the events where the first-small-cell
    # rule stopped at t = 0; with k = 5 no rule can pass t = 0: hospitals 1, 5 and 6
    # have fewer than 5 events, so none of their intervals holding an event may be
    # released, and all other hospitals' first intervals hold 1..4 censorings
    events = pbc3.df.event.sum()
    _, km2 = _coarse(pbc3, 90.0 * np.arange(61), 2, grouped=False)
    assert km2.events.sum() >= 0.9 * events and km2.grid[-1] >= 1500
    _, km5 = _coarse(pbc3, 90.0 * np.arange(61), 5, grouped=False)
    assert km5.grid.tolist() == [0.0] and km5.events.sum() == 0
    per_site = pbc3.df.groupby(pbc3.site).event.sum()
    assert (per_site < 5).sum() == 3


def _site(rng, n, scale):
    t = rng.exponential(scale, n).round(1)
    c = rng.uniform(0, 3 * scale, n).round(1)
    return pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(float),
                         "arm": rng.integers(0, 2, n)})


def test_merging_required():
    # monthly grid, a few events per site, arm and month: many single months may not be
    # released, yet merged intervals carry the curves through most events
    rng = np.random.default_rng(2)
    sites = [_site(rng, n, 200.0) for n in (500, 300)]
    grid = 30.0 * np.arange(80)
    k = 5
    msgs = [site_km(s.time, s.event, grid, groups=s.arm, group_levels=[0, 1], min_cell=k)
            for s in sites]
    km = combine_km(msgs, grid, group_levels=[0, 1])
    fine = [site_km(s.time, s.event, grid, groups=s.arm, group_levels=[0, 1], min_cell=1)
            for s in sites]
    assert any(np.any((m["events"] > 0) & (m["events"] < k)) for m in fine)
    assert all(int(m["released"]) < grid.size for m in msgs)   # every site merged
    old_rule_stop = min(int(np.argmax((m["events"] > 0).any(axis=0)
                                      & ((m["events"] > 0) & (m["events"] < k)).any(axis=0)))
                        for m in fine)
    assert km.grid[-1] > grid[old_rule_stop]
    df = pd.concat(sites, ignore_index=True)
    covered = km.events.sum() / df.event[df.time <= grid[-1]].sum()
    assert covered > 0.8 and km.released >= 5
    for m in msgs:                      # every released count and difference: 0 or >= k
        keep = np.flatnonzero(~np.isnan(m["events"][0]))
        d, n = m["events"][:, keep], m["at_risk"][:, keep]
        cens = n - d - np.concatenate((n[:, 1:], np.zeros((2, 1))), axis=1)
        for x in (d, n, cens):
            assert not np.any((x > 0) & (x < k))
    ref = _pooled_on(km, df, "arm", [0, 1])
    for i, (_, _, want) in enumerate(ref):
        ours = np.vstack([km.survival[i], km.lower[i], km.upper[i]])
        assert np.abs(ours - want).max() < 1e-12
    (ta, ea, _), (tb, eb, _) = ref
    lr = logrank_test(ta, tb, ea, eb)
    assert km.logrank is not None
    assert abs(km.logrank.statistic - lr.test_statistic) < 1e-9


def test_coarsen_rules():
    # one group, k = 3. Point 0; (0, 2] merges 1 + 2 events (6 still at risk after);
    # (2, 3] has 3 censored and 3 at risk after; (3, 4] would hold 2 events: withheld
    d = np.array([[0, 1, 2, 0, 2]])
    c = np.array([[0, 0, 0, 3, 1]])
    assert coarsen(d, c, np.array([0]), min_cell=3).tolist() == [0, 2, 3]
    assert coarsen(d, c, np.array([0]), min_cell=1).tolist() == [0, 1, 2, 3, 4]
    # terminal interval: 1 censored + 4 beyond the grid = n - d = 5 >= k: released
    assert coarsen([[0, 3]], [[0, 1]], [4], min_cell=3).tolist() == [0, 1]
    assert coarsen([[0, 3]], [[0, 1]], [1], min_cell=3).tolist() == [0]   # n - d = 2
    assert coarsen([[1]], [[0]], [0], min_cell=3).tolist() == []           # total 1 < k


def test_event_off_grid_is_an_error(pbc3):
    s = pbc3.sites()[0]
    with pytest.raises(DataError, match="not on the grid"):
        site_km(s.time, s.event, [1.0, 2.0], exact=True)


def test_rounded_event_time_round(pbc3):
    msg = site_event_times([10, 40, 45], [1, 1, 0], resolution=30)
    assert msg["event_times"].tolist() == [30.0, 60.0]


def test_inconsistent_messages_are_refused():
    msg = site_km([1.0, 2.0, 3.0, 4.0, 5.0], [1, 1, 1, 1, 1], [0.0, 10.0])
    with pytest.raises(DataError, match="released count"):
        combine_km([{**msg, "released": np.array(1.0)}], [0.0, 10.0])
    with pytest.raises(DataError, match="grid of 3 points"):
        combine_km([msg], [0.0, 10.0, 20.0])
