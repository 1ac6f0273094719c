"""Federated Cox regression equals lifelines' CoxPHFitter on the pooled table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcare.analytics import design_matrix, federated_cox
from fedcare.exceptions import DataError

CoxPHFitter = pytest.importorskip("lifelines").CoxPHFitter

TOL = 1e-6
TIGHT = {"precision": 1e-12, "r_precision": 1e-14, "max_steps": 200}


def _sites(table):
    out = []
    for s in table.sites():
        x, names, keep = design_matrix(s, table.covariates, table.levels)
        out.append((x, s.time.to_numpy()[keep], s.event.to_numpy()[keep]))
    return out, names


def _pooled(table):
    x, names, keep = design_matrix(table.df, table.covariates, table.levels)
    frame = pd.DataFrame(x, columns=names)
    frame["time"] = table.df.time.to_numpy()[keep]
    frame["event"] = table.df.event.to_numpy()[keep]
    frame["site"] = table.df[table.site].to_numpy()[keep]
    return frame, names


@pytest.mark.parametrize("stratified", [False, True])
def test_efron_equals_lifelines(table, stratified):
    sites, names = _sites(table)
    fit = federated_cox(sites, names, stratified=stratified)
    frame, _ = _pooled(table)
    ref = CoxPHFitter().fit(frame if stratified else frame.drop(columns="site"), "time",
                            "event", strata=["site"] if stratified else None,
                            fit_options=TIGHT)
    assert fit.converged
    assert list(ref.params_.index) == list(fit.names)
    assert np.abs(fit.coef - ref.params_.to_numpy()).max() < TOL
    assert np.abs(fit.se - ref.standard_errors_.to_numpy()).max() < TOL
    assert abs(fit.loglik - ref.log_likelihood_) < TOL
    summary = ref.summary
    assert np.abs(fit.p_value - summary["p"].to_numpy()).max() < TOL
    assert np.abs(fit.ci_lower - summary["exp(coef) lower 95%"].to_numpy()).max() < TOL
    assert np.abs(fit.ci_upper - summary["exp(coef) upper 95%"].to_numpy()).max() < TOL
    out = fit.to_dict()
    assert set(out["coef"]) == set(out["se"]) == set(names) and out["rounds"] == fit.rounds


def test_one_hot_names_match_lifelines_formula(oropha):
    sites, names = _sites(oropha)
    fit = federated_cox(sites, names)
    df = oropha.df.copy()
    for col in oropha.levels:
        df[col] = df[col].astype("category")
    ref = CoxPHFitter().fit(df[["time", "event", *oropha.covariates]], "time", "event",
                            formula=" + ".join(oropha.covariates), fit_options=TIGHT)
    assert list(ref.params_.index) == list(fit.names)
    assert np.abs(fit.coef - ref.params_.to_numpy()).max() < TOL


def _naive_breslow(x, t, e, strata):
    """Row-by-row Breslow partial likelihood (an independent reference)."""
    def evaluate(beta):
        ll, g, h = 0.0, np.zeros(x.shape[1]), np.zeros((x.shape[1],) * 2)
        w = np.exp(x @ beta)
        for i in np.flatnonzero(e):
            risk = (t >= t[i]) & (strata == strata[i])
            s0 = w[risk].sum()
            mean = (x[risk] * w[risk, None]).sum(0) / s0
            second = (x[risk].T * w[risk]) @ x[risk] / s0
            ll += x[i] @ beta - np.log(s0)
            g += x[i] - mean
            h -= second - np.outer(mean, mean)
        return ll, g, h
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        ll, g, h = evaluate(beta)
        step = np.linalg.solve(-h, g)
        with np.errstate(all="ignore"):
            while not evaluate(beta + step)[0] >= ll - 1e-9:  # halve on decrease / overflow
                step /= 2
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    _, _, h = evaluate(beta)
    return beta, np.sqrt(np.diag(np.linalg.inv(-h)))


@pytest.mark.parametrize("stratified", [False, True])
def test_breslow_equals_naive_reference(table, stratified):
    sites, names = _sites(table)
    fit = federated_cox(sites, names, ties="breslow", stratified=stratified)
    frame, _ = _pooled(table)
    x = frame[names].to_numpy()
    x = x - x.mean(axis=0)
    strata = frame["site"].to_numpy() if stratified else np.zeros(len(frame))
    beta, se = _naive_breslow(x, frame.time.to_numpy(), frame.event.to_numpy().astype(bool),
                              strata)
    assert np.abs(fit.coef - beta).max() < TOL
    assert np.abs(fit.se - se).max() < TOL


def test_breslow_and_efron_differ_only_with_ties(oropha):
    sites, names = _sites(oropha)
    efron = federated_cox(sites, names)
    breslow = federated_cox(sites, names, ties="breslow")
    assert 0 < np.abs(efron.coef - breslow.coef).max() < 0.05  # the table has tied times
    untied = [(x, t + 1e-6 * np.arange(t.size) + 1e-3 * i, e)
              for i, (x, t, e) in enumerate(sites)]
    a = federated_cox(untied, names)
    b = federated_cox(untied, names, ties="breslow")
    assert np.abs(a.coef - b.coef).max() < 1e-9


def test_fit_counts_rounds(pbc3):
    # (how long a fit takes is measured in benchmarks/, not asserted here)
    sites, names = _sites(pbc3)
    fit = federated_cox(sites, names)
    assert 3 <= fit.rounds <= 20 and fit.setup_rounds == 2
    assert fit.seconds >= 0.0


def test_small_site_refuses_stratified_round(pbc3):
    sites, names = _sites(pbc3)
    x, t, e = sites[0]
    with pytest.raises(DataError, match="min_cell"):
        federated_cox([*sites, (x[:3], t[:3], e[:3])], names, stratified=True)
