"""Federated Kaplan-Meier and log-rank equal lifelines on the pooled table."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fedcare.analytics import combine_km, km_grid, site_event_times, site_km, union_grid
from fedcare.analytics._km import coarsen, release_totals, site_km_counts
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


# ------------------------------------------------------------- secure totals / issue 12
def test_group_level_small_at_one_site_does_not_crash():
    # issue 12: `analytics km --group COL` crashed with an IndexError in combine_km
    # (`n[:, own][:, first]`) when one site released no grid point at all -- here site
    # b holds 3 patients of arm 1 (a group total of 1..k-1), so coarsen releases nothing
    rng = np.random.default_rng(5)
    a = _site(rng, 200, 100.0)
    b = _site(rng, 40, 100.0)
    b["arm"] = 0
    b.loc[:2, "arm"] = 1
    grid = 30.0 * np.arange(20)
    msgs = [site_km(s.time, s.event, grid, groups=s.arm, group_levels=[0, 1])
            for s in (a, b)]
    assert int(msgs[1]["released"]) == 0
    km = combine_km(msgs, grid, group_levels=[0, 1])
    assert km.released == 0 and km.survival.shape == (2, 0)
    assert km.reached() is None and km.reached(1) is None     # withheld, not "S = 1"
    assert km.quantile(0.5, 0) is None and km.logrank is None
    assert km.to_dict()["reached"] is None
    # the first released points differ between sites: pooled at the common ones
    c = _site(rng, 120, 100.0)
    msgs = [site_km(s.time, s.event, grid, groups=s.arm, group_levels=[0, 1])
            for s in (a, c)]
    own = [np.flatnonzero(~np.isnan(m["events"][0])).tolist() for m in msgs]
    km = combine_km(msgs, grid, group_levels=[0, 1])
    assert km.points.tolist() == sorted(set(own[0]) & set(own[1]))


def _sites_and_pooled(rng, sizes, scale=200.0):
    sites = [_site(rng, n, scale) for n in sizes]
    return sites, pd.concat(sites, ignore_index=True)


@pytest.mark.parametrize("grouped", [False, True])
def test_release_totals_is_the_rule_applied_to_the_pooled_counts(grouped):
    # many small sites (each with 1..k-1 events in most months): per-site merging keeps
    # little, the totals keep most of the grid; the secure sum of site_km_counts equals
    # the pooled table's counts, and release_totals equals site_km on the pooled table
    rng = np.random.default_rng(7)
    sites, pooled = _sites_and_pooled(rng, [12, 25, 40, 9, 60, 33, 18, 80])
    grid = 30.0 * np.arange(25)
    k = 5
    kw = (lambda s: {"groups": s.arm, "group_levels": [0, 1]}) if grouped else (
        lambda s: {})
    parts = [site_km_counts(s.time, s.event, grid, **kw(s)) for s in sites]
    totals = {key: sum(p[key] for p in parts) for key in ("events", "censored", "beyond")}
    whole = site_km_counts(pooled.time, pooled.event, grid, **kw(pooled))
    for key in totals:
        np.testing.assert_array_equal(totals[key], whole[key])
    noisy = {key: v + rng.uniform(-1e-9, 1e-9, v.shape) for key, v in totals.items()}
    joint = release_totals(noisy, min_cell=k, per_group=False)  # one set of points
    want = site_km(pooled.time, pooled.event, grid, min_cell=k, **kw(pooled))
    for key in ("events", "at_risk", "released"):
        np.testing.assert_array_equal(joint[key], want[key])
    released = release_totals(noisy, min_cell=k)    # each group on its own
    parts_ = [pooled[pooled.arm == lvl] for lvl in (0, 1)] if grouped else [pooled]
    for i, part in enumerate(parts_):
        want = site_km(part.time, part.event, grid, min_cell=k)
        np.testing.assert_array_equal(released["events"][i], want["events"][0])
        np.testing.assert_array_equal(released["at_risk"][i], want["at_risk"][0])
        assert released["released"][i] == want["released"]
    assert _rule_holds(released, k) and _rule_holds(joint, k)
    levels = [0, 1] if grouped else None
    secure = combine_km([released], grid, group_levels=levels)
    per_site = combine_km([site_km(s.time, s.event, grid, min_cell=k, **kw(s))
                           for s in sites], grid, group_levels=levels)
    assert secure.released > per_site.released
    assert secure.reached() > (per_site.reached() or 0.0)
    for i, part in enumerate(parts_):   # each curve: lifelines on its own released grid
        own = ~np.isnan(secure.survival[i])
        [(_, _, want_s)] = _pooled_on(SimpleNamespace(grid=secure.grid[own]), part)
        ours = np.vstack([secure.survival[i, own], secure.lower[i, own],
                          secure.upper[i, own]])
        assert np.abs(ours - want_s).max() < 1e-12
    if grouped:     # the log-rank test: on the points released for both groups
        shared = secure.grid[~np.isnan(secure.events).any(axis=0)]
        (ta, ea, _), (tb, eb, _) = _pooled_on(SimpleNamespace(grid=shared), pooled, "arm",
                                              [0, 1])
        lr = logrank_test(ta, tb, ea, eb)
        assert secure.logrank is not None
        assert abs(secure.logrank.statistic - lr.test_statistic) < 1e-9


def test_site_km_counts_exact_and_bad_totals(pbc3):
    s = pbc3.sites()[0]
    grid = np.unique(s.time[s.event == 1])
    exact = site_km(s.time, s.event, grid, exact=True)
    counts = site_km_counts(s.time, s.event, grid, exact=True)
    assert set(counts) == {"events", "at_risk"}
    np.testing.assert_array_equal(counts["events"], exact["events"])
    good = site_km_counts(s.time, s.event, 365.0 * np.arange(5))
    with pytest.raises(DataError, match="lack 'beyond'"):
        release_totals({k: v for k, v in good.items() if k != "beyond"})
    with pytest.raises(DataError, match="do not match"):
        release_totals({**good, "beyond": np.zeros(3)})
    with pytest.raises(DataError, match="negative"):
        release_totals({**good, "censored": -good["censored"] - 1})


def _rule_holds(message, k):
    """Every released event, censoring (n_i - d_i - n_{i+1}; last: n - d) and at-risk
    count of a site_km / release_totals message is 0 or >= k (each group on the points
    released for it)."""
    for d_row, n_row in zip(message["events"], message["at_risk"], strict=True):
        keep = np.flatnonzero(~np.isnan(d_row))
        d, n = d_row[keep], n_row[keep]
        cens = n - d - np.concatenate((n[1:], [0.0]))
        if any(np.any((x > 0) & (x < k)) for x in (d, n, cens)):
            return False
    return True


def _secure_totals(sites, grid, k=5, group=None, levels=None, per_group=True):
    """What the coordinator releases under SecAgg+: the sum of the sites' un-merged
    counts (SecAgg+ returns it to within ~1e-9), protected by release_totals."""
    kw = (lambda s: {"groups": s[group], "group_levels": levels}) if group else (
        lambda s: {})
    parts = [site_km_counts(s.time, s.event, grid, **kw(s)) for s in sites]
    rng = np.random.default_rng(0)
    totals = {key: sum(p[key] for p in parts) for key in ("events", "censored", "beyond")}
    totals = {key: v + rng.uniform(-1e-9, 1e-9, v.shape) for key, v in totals.items()}
    return release_totals(totals, min_cell=k, per_group=per_group)


def _lifelines_quantile(df, p):
    sf = KaplanMeierFitter().fit(df.time, df.event).survival_function_.iloc[:, 0]
    below = sf[sf <= 1 - p + 1e-12]
    return float(below.index[0]) if len(below) else None


def test_dialysis_secure_totals_reach_follow_up_and_the_exact_quantile(dialysis):
    # issue 12: on the dialysis registry (67 centres, 4..241 patients) per-site merging
    # released t = 0 alone ("1 of 61 grid points", a flat line at 1.0); the small-cell
    # rule on the secure totals keeps the curve to >= 80 % of follow-up, and its median
    # -- not reached: S stays above 0.5, so the 25 % quantile is compared -- equals the
    # exact (lifelines) KM's to one grid step
    df, sites, k = dialysis.df, dialysis.sites(), 5
    grid = km_grid(1.0, None)                                   # monthly, 0..60
    per_site = combine_km([site_km(s.time, s.event, grid, min_cell=k)
                           for s in sites if len(s) >= k], grid)   # the fallback
    assert per_site.released == 1 and per_site.reached() is None
    released = _secure_totals(sites, grid, k)
    assert _rule_holds(released, k)
    km = combine_km([released], grid)
    assert km.reached() >= 0.8 * df.time.max()
    assert km.released >= 30 and km.events.sum() >= 0.95 * df.event.sum()
    assert _lifelines_quantile(df, 0.5) is None and km.quantile(0.5) is None
    exact_q25 = _lifelines_quantile(df, 0.25)
    assert exact_q25 is not None and km.quantile(0.25) is not None
    assert abs(km.quantile(0.25) - exact_q25) <= 1.0
    # where no interval was merged the curve IS the exact KM (whole months, step 1)
    ref = KaplanMeierFitter().fit(df.time, df.event)
    exact = ref.survival_function_at_times(km.grid).to_numpy()
    unmerged = np.flatnonzero(np.diff(km.points, prepend=-1) == 1)
    np.testing.assert_allclose(km.survival[0, unmerged[:20]], exact[unmerged[:20]],
                               atol=1e-12)


def test_dialysis_by_disease_does_not_crash_and_obeys_the_rule(dialysis):
    # issue 12: `--group` crashed (IndexError in combine_km) when a centre released no
    # grid point -- here centres with 1..4 patients of a disease
    sites, k = dialysis.sites(), 5
    group, levels = dialysis.group, dialysis.group_levels
    grid = km_grid(1.0, None)
    msgs = [site_km(s.time, s.event, grid, groups=s[group], group_levels=levels, min_cell=k)
            for s in sites if len(s) >= k]
    assert any(int(m["released"]) == 0 for m in msgs)
    per_site = combine_km(msgs, grid, group_levels=levels)
    assert per_site.released == 0 and per_site.reached() is None
    assert per_site.to_dict()["groups"]["diabetes"]["reached"] is None
    # secure totals, each disease released on its own: the four large groups reach >= 80 %
    # of follow-up, congenital (142 patients) less; every 25 % quantile the released
    # curve reaches is the exact one to a grid step
    released = _secure_totals(sites, grid, k, group, levels)
    assert _rule_holds(released, k)
    km = combine_km([released], grid, group_levels=levels)
    df, top = dialysis.df, dialysis.df.time.max()
    for i, lvl in enumerate(levels):
        reached = km.reached(i)
        assert reached is not None and (lvl == "congen" or reached >= 0.8 * top), lvl
        exact_q25 = _lifelines_quantile(df[df[group] == lvl], 0.25)
        ours = km.quantile(0.25, i)
        if exact_q25 is not None and exact_q25 <= reached:
            assert ours is not None and abs(ours - exact_q25) <= 1.0, lvl
        else:
            assert ours is None, lvl
    assert km.logrank is not None and km.logrank.p_value < 0.01   # diabetes does worse
    # per group, the joint release (one set of points, the smallest group's) is coarser;
    # the coordinator takes the log-rank test from it (a test needs common points)
    joint = combine_km([_secure_totals(sites, grid, k, group, levels, per_group=False)],
                       grid, group_levels=levels)
    assert joint.reached() < km.reached() and joint.released < km.released
    assert joint.logrank is not None and joint.logrank.p_value < 1e-6
    assert joint.logrank.up_to == joint.grid[-1]


def _synthetic_two_events():
    """Synthetic: hospitals a and b (60 patients each) have 3 deaths in each of months
    1..10 and follow the others past the grid; hospital c has 4 patients, 2 of whom
    died (months 2 and 3)."""
    def hospital(n, deaths):
        times = [float(m) for m in deaths] + [100.0] * (n - len(deaths))
        return pd.DataFrame({"time": times, "event": [1.0] * len(deaths)
                             + [0.0] * (n - len(deaths))})
    monthly = [m for m in range(1, 11) for _ in range(3)]
    return [hospital(60, monthly), hospital(60, monthly), hospital(4, [2, 3])]


def test_a_centre_with_two_events_contributes_to_the_totals():
    a, b, c = _synthetic_two_events()
    grid, k = km_grid(1.0, 30.0), 5
    # per-site merging: c can release no interval holding one of its 2 deaths, nor its
    # 4 patients -- with c the curves are withheld, and without c its deaths are lost
    assert int(site_km(c.time, c.event, grid, min_cell=k)["released"]) == 0
    assert combine_km([site_km(s.time, s.event, grid, min_cell=k) for s in (a, b, c)],
                      grid).reached() is None
    without_c = combine_km([site_km(s.time, s.event, grid, min_cell=k) for s in (a, b)],
                           grid)
    assert without_c.events.sum() == 60
    # secure totals: 6 + 1 deaths in months 2 and 3 -- every month released, c included
    km = combine_km([_secure_totals([a, b, c], grid, k)], grid)
    assert km.released == grid.size and km.events.sum() == 62
    assert km.events[0, 1:5].tolist() == [6.0, 7.0, 7.0, 6.0]
    assert km.at_risk[0, 1:4].tolist() == [124.0, 118.0, 111.0]
    pooled = pd.concat([a, b, c], ignore_index=True)
    want = KaplanMeierFitter().fit(pooled.time, pooled.event).survival_function_at_times(
        km.grid).to_numpy()
    np.testing.assert_allclose(km.survival[0], want, atol=1e-12)


@pytest.mark.parametrize("k", [2, 5, 11])
@pytest.mark.parametrize("grouped", [False, True])
def test_released_totals_obey_the_rule(k, grouped):
    # many tiny hospitals, a fine grid, k up to 11: whatever the totals, every released
    # total event, censoring and at-risk count (the last interval's n - d included) is 0
    # or >= k, and the released counts add up to the pooled table's
    for seed in range(12):
        rng = np.random.default_rng(seed)
        sites = [_site(rng, int(n), 60.0) for n in rng.integers(1, 25, 15)]
        pooled = pd.concat(sites, ignore_index=True)
        grid = 10.0 * np.arange(40)
        released = _secure_totals(sites, grid, k, "arm" if grouped else None,
                                  [0, 1] if grouped else None)
        assert _rule_holds(released, k), seed
        n_groups = 2 if grouped else 1
        assert released["events"].shape == (n_groups, grid.size)
        sizes = pooled.groupby("arm").size().reindex([0, 1], fill_value=0).to_numpy() \
            if grouped else np.array([len(pooled)])
        for i in range(n_groups):   # the first released at-risk count: the whole group
            keep = np.flatnonzero(~np.isnan(released["events"][i]))
            if keep.size:
                assert released["at_risk"][i, keep[0]] == sizes[i]
                assert np.nansum(released["events"][i]) <= pooled.event.sum()
