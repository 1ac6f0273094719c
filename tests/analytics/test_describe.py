"""Federated moments, quantiles, histograms and Table 1 against the pooled table."""

from __future__ import annotations

import numpy as np
import pytest

from fedcare.analytics import combine_describe, combine_table1, site_describe, site_table1
from fedcare.exceptions import ConfigError

EDGES = np.arange(20.0, 81.0, 1.0)   # age, 1-year bins
STAGES = ["1", "2", "3", "4", "missing"]  # Pbc3 codes an unknown stage as a level


@pytest.mark.parametrize("min_cell", [1, 5])
def test_moments_and_quantiles_match_pooled(pbc3, min_cell):
    msgs = [site_describe(s.num_age, EDGES, min_cell=min_cell) for s in pbc3.sites()]
    probs = (0.05, 0.25, 0.5, 0.75, 0.95)
    out = combine_describe(msgs, EDGES, quantiles=probs, min_cell=min_cell)
    age = pbc3.df.num_age.to_numpy(dtype=float)
    assert out.n == age.size and out.sites_suppressed == 0
    assert abs(out.mean - age.mean()) < 1e-9
    assert abs(out.var - age.var(ddof=1)) < 1e-9
    for q in out.quantiles:
        exact = float(np.quantile(age, q.probability))
        assert q.lower <= exact <= q.upper
        assert abs(q.estimate - exact) <= q.error_bound
        if min_cell == 1:
            assert q.error_bound <= 2 * (EDGES[1] - EDGES[0])
        else:
            assert np.isfinite(q.error_bound)
    hist = np.histogram(age, EDGES)[0]
    known = ~np.isnan(out.hist)
    assert known.all() == (min_cell == 1)
    assert np.array_equal(out.hist[known], hist[known])
    assert np.all((out.hist_lower <= hist) & (hist <= out.hist_upper))


def test_small_site_is_left_out_and_reported():
    msgs = [site_describe([1.0, 2.0, 3.0], EDGES), site_describe(np.arange(30.0, 40.0), EDGES)]
    out = combine_describe(msgs, EDGES)
    assert out.sites_suppressed == 1 and out.n == 10
    assert out.to_dict()["sites_suppressed"] == 1


def test_bad_edges_are_a_config_error():
    with pytest.raises(ConfigError, match="edges"):
        site_describe([1.0], [3.0, 2.0])


def test_table1_matches_pooled_without_suppression(pbc3):
    cat = {"fac_sex": [0, 1], "fac_stage": STAGES}
    num = ["num_age", "num_alb"]
    msgs = [site_table1(s, "fac_tment", [0, 1], numeric=num, categorical=cat, min_cell=1)
            for s in pbc3.sites()]
    table = combine_table1(msgs, [0, 1], numeric=num, categorical=cat, min_cell=1)
    df = pbc3.df
    for lvl in (0, 1):
        sub = df[df.fac_tment == lvl]
        assert table.cells[("n", str(lvl))]["value"] == len(sub)
        alb = sub.num_alb.dropna()
        cell = table.cells[("num_alb, mean ± sd", str(lvl))]
        assert cell["n"] == len(alb)
        assert abs(cell["value"] - alb.mean()) < 1e-9 and abs(cell["sd"] - alb.std()) < 1e-9
        for stage in STAGES:
            got = table.cells[(f"fac_stage={stage}, n (%)", str(lvl))]["value"]
            assert got == (sub.fac_stage == stage).sum()
    overall = table.cells[("num_age, mean ± sd", "Overall")]
    assert abs(overall["value"] - df.num_age.mean()) < 1e-9
    assert table.to_frame().shape == (len(table.rows), 3)


def test_table1_suppressed_cells_print_as_less_than_k(pbc3):
    cat = {"fac_stage": STAGES}
    msgs = [site_table1(s, "fac_tment", [0, 1], categorical=cat) for s in pbc3.sites()]
    table = combine_table1(msgs, [0, 1], categorical=cat).to_frame()
    texts = " ".join(table.to_numpy().ravel())
    assert ">=" in texts  # some site suppressed a cell; the pooled count is a lower bound
