"""Analytics through Flower messages (in-process engine) equal the direct combine_* results
and lifelines on the pooled table: Pbc3 (6 hospitals) and d.oropha.rec (6 institutions).

Every figure here crossed from a ClientApp to the ServerApp as a ``query.*`` reply; the
sites read their own rows from a CSV of the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from fedcare.analytics import (
    combine_describe,
    combine_km,
    design_matrix,
    federated_cox,
    site_describe,
    site_km,
)
from fedcare.config import StudyConfig
from fedcare.federation.engines.inprocess import run_analytics_inprocess

lifelines = pytest.importorskip("lifelines")

TOL = 1e-6
EXACT = 1e-10   # same sums in the same order: equal up to rounding
TIGHT = {"precision": 1e-12, "r_precision": 1e-14, "max_steps": 200}


def _config(table: Any, tmp_path_factory: pytest.TempPathFactory, **kw: Any) -> StudyConfig:
    path = tmp_path_factory.mktemp(table.name.replace(".", "-")) / "table.csv"
    if not path.exists():
        table.df.to_csv(path, index=False)
    return StudyConfig(data=str(path), site_column=table.site, **kw)


def _site_names(table: Any) -> list[str]:
    return [str(s) for s in sorted(table.df[table.site].unique())]


def _run(table: Any, tmp_path_factory: pytest.TempPathFactory, request: dict[str, Any],
         **kw: Any) -> dict[str, Any]:
    result, _ = run_analytics_inprocess(_config(table, tmp_path_factory, **kw), request,
                                        _site_names(table))
    return result


def _cox_request(table: Any, **kw: Any) -> dict[str, Any]:
    return {"analysis": "cox", "duration": "time", "event": "event",
            "covariates": table.covariates, "categorical": list(table.levels), **kw}


@pytest.mark.parametrize(("stratified", "ties"), [(True, "efron"), (False, "efron"),
                                                   (True, "breslow")])
def test_cox_through_messages_equals_direct_and_lifelines(table, tmp_path_factory,
                                                          stratified, ties):
    fed = _run(table, tmp_path_factory, _cox_request(table, stratified=stratified,
                                                     exact=not stratified, ties=ties))
    sites = []
    for s in table.sites():
        x, names, keep = design_matrix(s, table.covariates, table.levels)
        sites.append((x, s.time.to_numpy()[keep], s.event.to_numpy()[keep]))
    direct = federated_cox(sites, names, stratified=stratified, ties=ties)
    assert list(fed["coef"]) == names
    coef = np.array([fed["coef"][n] for n in names])
    se = np.array([fed["se"][n] for n in names])
    assert np.abs(coef - direct.coef).max() < EXACT
    assert np.abs(se - direct.se).max() < EXACT
    assert fed["rounds"] == direct.rounds and fed["setup_rounds"] == direct.setup_rounds
    # message rounds: set-up + offset (+ event times) + one per Newton evaluation
    assert fed["message_rounds"] == 1 + direct.setup_rounds + direct.rounds
    x, names, keep = design_matrix(table.df, table.covariates, table.levels)
    pooled = pd.DataFrame(x, columns=names)
    pooled["time"] = table.df.time.to_numpy()[keep]
    pooled["event"] = table.df.event.to_numpy()[keep]
    if stratified:
        pooled["site"] = table.df[table.site].to_numpy()[keep]
    ref = lifelines.CoxPHFitter().fit(pooled, "time", "event",
                                      strata=["site"] if stratified else None,
                                      fit_options=TIGHT) if ties == "efron" else None
    if ref is not None:
        assert np.abs(coef - ref.params_.to_numpy()).max() < TOL
        assert np.abs(se - ref.standard_errors_.to_numpy()).max() < TOL
        assert abs(fed["loglik"] - ref.log_likelihood_) < TOL
    assert fed["n"] == int(keep.sum()) and fed["excluded_sites"] == {}


def test_km_exact_through_messages_equals_lifelines(table, tmp_path_factory):
    fed = _run(table, tmp_path_factory, {"analysis": "km", "duration": "time",
                                         "event": "event", "group": table.group,
                                         "exact": True})
    df = table.df
    grid = np.array(fed["km"]["grid"])
    assert np.array_equal(grid, np.unique(df.time[df.event == 1]))
    for level in table.group_levels:
        sub = df[df[table.group] == level]
        ref = lifelines.KaplanMeierFitter().fit(sub.time, sub.event)
        got = fed["km"]["groups"][str(level)]
        assert np.abs(np.array(got["survival"])
                      - ref.survival_function_at_times(grid).to_numpy()).max() < TOL
        ci = ref.confidence_interval_.reindex(grid, method="ffill").fillna(1.0).to_numpy()
        assert np.abs(np.array(got["lower"]) - ci[:, 0]).max() < TOL
        assert np.abs(np.array(got["upper"]) - ci[:, 1]).max() < TOL
    a, b = (df[df[table.group] == lvl] for lvl in table.group_levels)
    lr = lifelines.statistics.logrank_test(a.time, b.time, a.event, b.event)
    assert abs(fed["km"]["logrank"]["statistic"] - lr.test_statistic) < TOL
    assert abs(fed["km"]["logrank"]["p_value"] - lr.p_value) < TOL
    assert fed["message_rounds"] == 3   # set-up, event times, counts


def test_km_coarse_grid_through_messages_equals_direct(table, tmp_path_factory):
    step = 365.0 if table.name == "Pbc3" else 0.5
    fed = _run(table, tmp_path_factory, {"analysis": "km", "duration": "time",
                                         "event": "event", "group": table.group,
                                         "grid_step": step}, min_cell=3)
    grid = step * np.arange(61)
    msgs = [site_km(s.time, s.event, grid, groups=s[table.group],
                    group_levels=table.group_levels, min_cell=3) for s in table.sites()]
    direct = combine_km(msgs, grid, group_levels=table.group_levels)
    assert fed["km"]["released"] == direct.released
    for i, level in enumerate(table.group_levels):
        got = fed["km"]["groups"][str(level)]
        np.testing.assert_array_equal(got["events"], direct.events[i])
        np.testing.assert_array_equal(got["at_risk"], direct.at_risk[i])
        assert np.abs(np.array(got["survival"]) - direct.survival[i]).max() < EXACT
    assert abs(fed["km"]["logrank"]["statistic"] - direct.logrank.statistic) < EXACT
    assert fed["message_rounds"] == 2   # no event times leave a site


def test_describe_through_messages_equals_direct(table, tmp_path_factory):
    fed = _run(table, tmp_path_factory, {"analysis": "describe", "columns": ["num_age"],
                                         "ranges": {"num_age": [0.0, 100.0]}, "bins": 50})
    edges = np.linspace(0.0, 100.0, 51)
    direct = combine_describe([site_describe(s.num_age.to_numpy(dtype=float), edges)
                               for s in table.sites()], edges,
                              quantiles=(0.05, 0.25, 0.5, 0.75, 0.95))
    got = fed["columns"]["num_age"]
    assert got["n"] == direct.n and got["sites_suppressed"] == direct.sites_suppressed
    assert abs(got["mean"] - table.df.num_age.mean()) < 1e-9
    assert abs(got["sd"] - table.df.num_age.std()) < 1e-9
    for p, q in direct.to_dict()["quantiles"].items():
        assert got["quantiles"][p] == q


def test_small_sites_are_excluded_by_the_setup_round(pbc3, tmp_path_factory):
    # Pbc3's hospitals 1 and 5 have 23 patients each: with k = 25 they are left out
    fed = _run(pbc3, tmp_path_factory, _cox_request(pbc3), min_cell=25)
    assert fed["excluded_sites"] == {"1": "fewer than 25 complete rows",
                                     "5": "fewer than 25 complete rows"}
    assert fed["sites"] == ["2", "3", "4", "6"]
    kept = pbc3.df[pbc3.df.fac_unit.isin([2, 3, 4, 6])]
    sites = []
    for _, s in kept.groupby("fac_unit"):
        x, names, keep = design_matrix(s, pbc3.covariates, pbc3.levels)
        sites.append((x, s.time.to_numpy()[keep], s.event.to_numpy()[keep]))
    direct = federated_cox(sites, names, stratified=True, min_cell=25)
    assert np.abs(np.array(list(fed["coef"].values())) - direct.coef).max() < EXACT


def test_event_times_round_only_in_exact_modes(pbc3, tmp_path_factory):
    config = _config(pbc3, tmp_path_factory)
    for request, expected in [
            (_cox_request(pbc3), False), (_cox_request(pbc3, exact=True, stratified=False), True),
            ({"analysis": "km", "duration": "time", "event": "event", "grid_step": 90.0}, False),
            ({"analysis": "km", "duration": "time", "event": "event", "exact": True}, True)]:
        _, grid = run_analytics_inprocess(config, request, _site_names(pbc3),
                                          keep_messages=True)
        types = {m.metadata.message_type for m in grid.messages_sent}
        assert ("query.event_times" in types) is expected, request


@pytest.mark.parametrize(("args", "expected"), [
    ([], "pass --data FILE (embedded) or --coordinator DIR --sites N"),
    (["--data", "x.csv", "--sites", "3"], "--sites applies only with --coordinator"),
    (["--coordinator", "."], "--coordinator needs --sites N"),
    (["--coordinator", "no-such-folder", "--sites", "3"], "no such folder"),
])
def test_cli_engine_options(args, expected):
    import typer
    from typer.testing import CliRunner

    from fedcare.cli._analytics import analytics_app

    app = typer.Typer()
    app.add_typer(analytics_app, name="analytics")

    @app.callback()
    def _root() -> None:
        """Test wrapper."""

    result = CliRunner().invoke(app, ["analytics", "cox", "--site-column", "h", "--duration",
                                      "t", "--event", "e", "--covariates", "x", *args])
    assert result.exit_code == 5, result.output
    assert expected in " ".join(result.stderr.split())
