"""No count of 1..k-1 patients appears in any message a site sends (k = 5).

The exception, by design and opt-in only: ``site_km(exact=True)`` and
``site_cox_risk_sets`` (unstratified exact Cox) send per-event-time counts and sums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcare.analytics import (
    DESCRIBE_COUNT_KEYS,
    KM_COUNT_KEYS,
    design_matrix,
    site_cox_stratum,
    site_describe,
    site_event_times,
    site_km,
    site_means,
    site_table1,
    small_cells,
    suppress,
    union_grid,
)
from fedcare.exceptions import DataError

K = 5
STAGES = ["1", "2", "3", "4", "missing"]  # Pbc3 codes an unknown stage as a level


def _messages_clean(messages, keys):
    return all(not small_cells(m, keys, K) for m in messages)


def _random_site(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "arm": rng.choice(["a", "b", "c"], n, p=[0.6, 0.35, 0.05]),
        "sex": rng.choice(["f", "m", None], n, p=[0.5, 0.45, 0.05]),
        "age": np.where(rng.random(n) < 0.03, np.nan, rng.normal(60, 12, n)),
        "time": rng.exponential(500, n).round(),
        "event": rng.random(n) < 0.6,
    })


SITES = [_random_site(seed, n) for seed, n in enumerate([3, 12, 40, 150])]


def test_suppress_rule():
    assert np.array_equal(suppress([0, 1, 4, 5, 9]), [0, np.nan, np.nan, 5, 9],
                          equal_nan=True)


def test_describe_and_table1_messages_have_no_small_cells(pbc3):
    edges = np.arange(0.0, 120.0, 0.5)
    msgs = [site_describe(s.age, edges, min_cell=K) for s in SITES]
    msgs += [site_describe(s.num_bili, np.arange(0.0, 600.0, 2.0)) for s in pbc3.sites()]
    msgs += [site_table1(s, "arm", ["a", "b", "c"], numeric=["age"],
                         categorical={"sex": ["f", "m"]}, min_cell=K) for s in SITES]
    msgs += [site_table1(s, "fac_tment", [0, 1], numeric=["num_alb"],
                         categorical={"fac_stage": STAGES}) for s in pbc3.sites()]
    assert _messages_clean(msgs, DESCRIBE_COUNT_KEYS)
    for m in msgs:  # bins between released cumulative counts hold 0 or >= k patients
        if "cum" in m:
            cum = m["cum"][~np.isnan(m["cum"])]
            blocks = np.diff(np.concatenate(([0.0], cum, [float(np.nan_to_num(m["n"]))])))
            assert not np.any((blocks > 0) & (blocks < K))


def test_single_suppressed_cell_cannot_be_recovered_from_the_total():
    site = pd.DataFrame({"g": ["x"] * 20, "c": ["p"] * 12 + ["q"] * 6 + ["r"] * 2})
    row = site_table1(site, "g", ["x"], categorical={"c": ["p", "q", "r"]})["cat/c"][0]
    assert np.isnan(row[2]) and np.isnan(row[1]) and row[0] == 12   # q hidden too


def test_coarse_km_messages_have_no_small_cells(pbc3):
    grid = np.arange(0.0, 2500.0, 180.0)
    msgs = [site_km(s.time, s.event, grid, groups=s.arm, group_levels=["a", "b", "c"])
            for s in SITES]
    msgs += [site_km(s.time, s.event, grid, groups=s.fac_tment, group_levels=[0, 1])
             for s in pbc3.sites()]
    assert _messages_clean(msgs, KM_COUNT_KEYS)
    for m in msgs:  # nor derived: censored n_i - d_i - n_{i+1} (last: n - d)
        keep = np.flatnonzero(~np.isnan(m["events"][0]))
        assert keep.size == int(m["released"])
        d, n = m["events"][:, keep], m["at_risk"][:, keep]
        cens = n - d - np.concatenate((n[:, 1:], np.zeros((n.shape[0], 1))), axis=1)
        assert not np.any((cens > 0) & (cens < K))


def test_exact_km_is_the_documented_opt_in_exception(pbc3):
    sites = pbc3.sites()
    grid = union_grid([site_event_times(s.time, s.event) for s in sites])
    msg = site_km(sites[0].time, sites[0].event, grid, exact=True)
    assert small_cells(msg, KM_COUNT_KEYS, K) == ["events", "at_risk"]


def test_stratified_cox_messages_have_no_small_cells(pbc3):
    cov, lv = pbc3.covariates, pbc3.levels
    for s in pbc3.sites():
        x, _, keep = design_matrix(s, cov, lv)
        msg = site_cox_stratum(x, s.time[keep], s.event[keep], np.zeros(x.shape[1]))
        assert set(msg) == {"loglik", "grad", "hess", "n"} and msg["n"] >= K
        assert not small_cells(site_means(x), ["n"], K)
    with pytest.raises(DataError, match="min_cell"):
        site_cox_stratum(x[:4], s.time[keep][:4], s.event[keep][:4], np.zeros(x.shape[1]))
