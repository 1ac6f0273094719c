"""Federated Kaplan-Meier and log-rank equal lifelines on the pooled table."""

from __future__ import annotations

import numpy as np
import pytest

from fedcare.analytics import combine_km, site_event_times, site_km, union_grid
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


@pytest.mark.parametrize("min_cell", [1, 5])
def test_coarse_grid_equals_lifelines_on_rounded_times(pbc3, min_cell):
    grid = np.arange(0.0, 2000.0, 365.25)  # yearly, public; beyond: censored
    msgs = [site_km(s.time, s.event, grid, min_cell=min_cell) for s in pbc3.sites()]
    km = combine_km(msgs, grid)
    assert (km.released == grid.size) == (min_cell == 1)
    assert km.released >= 1
    df = pbc3.df
    pos = np.searchsorted(grid, df.time.to_numpy())
    inside = pos < grid.size
    rounded = np.where(inside, grid[np.minimum(pos, grid.size - 1)], grid[-1] + 1)
    ref = KaplanMeierFitter().fit(rounded, df.event.to_numpy() * inside)
    want = ref.survival_function_at_times(km.grid).to_numpy()
    assert np.abs(km.survival[0] - want).max() < TOL
    assert np.isnan(km.at([km.stop])).all() or km.released == grid.size


def test_event_off_grid_is_an_error(pbc3):
    s = pbc3.sites()[0]
    with pytest.raises(DataError, match="not on the grid"):
        site_km(s.time, s.event, [1.0, 2.0], exact=True)


def test_rounded_event_time_round(pbc3):
    msg = site_event_times([10, 40, 45], [1, 1, 0], resolution=30)
    assert msg["event_times"].tolist() == [30.0, 60.0]
