"""Federated Cox proportional-hazards regression by Newton-Raphson.

Two federations, both exact (they reproduce a pooled fit to numerical precision):

Stratified by site (``stratified=True``) -- the privacy-friendly one
    Each site's partial likelihood uses only its own risk sets, so for a given
    ``beta`` a site sends its log partial likelihood (), gradient (p,) and Hessian
    (p, p), sums over all its patients (:func:`site_cox_stratum`). The coordinator adds
    them. Equals lifelines' ``CoxPHFitter(strata=[site])``.

Unstratified (``stratified=False``) -- exact, opt-in, reveals more
    The risk set at time ``t`` spans all sites, so the gradient cannot be summed per
    site. On the shared grid of all distinct event times (see
    :func:`fedcare.analytics.union_grid`), each site sends per grid time the risk-set
    sums ``S0 = sum w``, ``S1 = sum x w``, ``S2 = sum x x' w`` (``w = exp(x'beta)``,
    over its patients with ``T >= t``), its event count ``d``, and for Efron the same
    three sums over its events *at* ``t`` (``D0, D1, D2``); plus once the sum of ``x``
    over its events (:func:`site_cox_risk_sets`). The coordinator assembles the exact
    pooled log-likelihood, gradient and Hessian (:func:`combine_cox_risk_sets`).
    **What it reveals**: every event time (the grid), per-time event counts (mostly
    1), and weighted covariate sums over risk sets that shrink to a few patients at
    the tail; with a single event at ``t``, ``D1 / D0`` *is* that patient's covariate
    vector. Use only when the study accepts this (ideally under secure aggregation).

Covariates: :func:`design_matrix` one-hot encodes categorical columns with the first
(agreed) level dropped, named ``col[T.level]`` as lifelines' formula interface does.
Sites centre covariates at a shared offset (the pooled mean) so ``exp(x'beta)`` cannot
overflow; the partial likelihood is unchanged by centring.
"""

from __future__ import annotations

import time as _time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fedcare.analytics._common import (
    DEFAULT_MIN_CELL,
    SiteMessage,
    check_grid,
    check_min_cell,
    survival_inputs,
)
from fedcare.analytics._km import site_event_times, union_grid
from fedcare.exceptions import ConfigError, ConvergenceWarning, DataError, FederationError

if TYPE_CHECKING:  # a site's Cox rounds run on arrays: no pandas import for them
    import pandas as pd

__all__ = [
    "CoxResult",
    "Ties",
    "combine_cox_risk_sets",
    "combine_cox_strata",
    "combine_means",
    "design_matrix",
    "federated_cox",
    "newton_raphson",
    "site_cox_risk_sets",
    "site_cox_stratum",
    "site_means",
]

Ties = Literal["efron", "breslow"]
#: (log-likelihood, gradient (p,), Hessian (p, p)) at one beta.
Evaluation = tuple[float, NDArray[np.float64], NDArray[np.float64]]


def design_matrix(frame: pd.DataFrame, covariates: Sequence[str],
                  levels: Mapping[str, Sequence[Any]] | None = None
                  ) -> tuple[NDArray[np.float64], list[str], NDArray[np.bool_]]:
    """Numeric design matrix of the complete cases.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
    covariates : sequence of str
        Columns to use, in order.
    levels : mapping of str to sequence, optional
        Categorical columns and their agreed levels (first = reference, dropped).

    Returns
    -------
    X : ndarray of shape (n_complete, n_params)
    names : list of str
        Parameter names (``col`` or ``col[T.level]``).
    complete : ndarray of shape (n_rows,), bool
        Rows kept (no missing covariate).
    """
    levels = dict(levels or {})
    absent = [c for c in covariates if c not in frame.columns]
    if absent:
        raise DataError(f"covariate columns not found: {absent}")
    unknown = [c for c in levels if c not in covariates]
    if unknown:
        raise ConfigError(f"levels given for columns that are not covariates: {unknown}")
    complete = frame[list(covariates)].notna().all(axis=1).to_numpy()
    sub = frame.loc[complete, list(covariates)]
    blocks: list[NDArray[np.float64]] = []
    names: list[str] = []
    for col in covariates:
        if col in levels:
            lv = list(levels[col])
            values = sub[col]
            bad = ~values.isin(lv)
            if bad.any():
                raise DataError(f"column {col!r} has {int(bad.sum())} rows outside the "
                                f"{len(lv)} agreed levels")
            for lvl in lv[1:]:
                blocks.append((values == lvl).to_numpy(dtype=np.float64))
                names.append(f"{col}[T.{lvl}]")
        else:
            try:
                blocks.append(sub[col].to_numpy(dtype=np.float64))
            except (TypeError, ValueError) as exc:
                raise DataError(f"covariate {col!r} is not numeric; give its levels") from exc
            names.append(col)
    x = np.column_stack(blocks) if blocks else np.empty((len(sub), 0))
    return x, names, complete


def _check_xy(x: ArrayLike, time: ArrayLike, event: ArrayLike
              ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    xa = np.asarray(x, dtype=np.float64)
    t, e = survival_inputs(time, event)
    if xa.ndim != 2 or xa.shape[0] != t.size:
        raise DataError(f"X has shape {xa.shape}, expected ({t.size}, n_params)")
    if not np.all(np.isfinite(xa)):
        raise DataError("X holds missing or infinite values; use design_matrix")
    return xa, t, e


def site_means(x: ArrayLike, *, min_cell: int = DEFAULT_MIN_CELL) -> SiteMessage:
    """Offset round: ``n`` () and the column sums ``sum`` (p,) of the site's X (n, p)."""
    k = check_min_cell(min_cell)
    xa = np.asarray(x, dtype=np.float64)
    if 0 < xa.shape[0] < k:
        raise DataError(f"site has {xa.shape[0]} complete rows, fewer than min_cell={k}")
    return {"n": np.array(float(xa.shape[0])), "sum": xa.sum(axis=0)}


def combine_means(messages: Sequence[Mapping[str, NDArray[np.float64]]]) -> NDArray[np.float64]:
    """Pooled column means, shape (p,), from :func:`site_means` messages."""
    n = sum(float(m["n"]) for m in messages)
    if n == 0:
        raise DataError("no complete rows at any site")
    return np.asarray(sum(np.asarray(m["sum"], dtype=np.float64) for m in messages) / n)


def site_cox_risk_sets(x: ArrayLike, time: ArrayLike, event: ArrayLike, grid: ArrayLike,
                       beta: ArrayLike, *, offset: ArrayLike | None = None,
                       ties: Ties = "efron") -> SiteMessage:
    """Unstratified round: the site's risk-set and event sums at one ``beta``.

    Parameters
    ----------
    x : array_like of shape (n_rows, n_params)
    time, event : array_like of shape (n_rows,)
    grid : array_like of shape (n_times,)
        All distinct event times of all sites.
    beta : array_like of shape (n_params,)
    offset : array_like of shape (n_params,), optional
        Shared centring of X (pooled mean).
    ties : {"efron", "breslow"}
        Breslow needs no event-side sums, so ``D0..D2`` are not sent.

    Returns
    -------
    dict
        ``d`` (T,), ``S0`` (T,), ``S1`` (T, p), ``S2`` (T, p, p), ``xsum`` (p,); with
        Efron also ``D0`` (T,), ``D1`` (T, p), ``D2`` (T, p, p).
    """
    xa, t, e = _check_xy(x, time, event)
    g = check_grid(grid)
    b = np.asarray(beta, dtype=np.float64)
    xc = xa - (np.zeros(xa.shape[1]) if offset is None else np.asarray(offset, np.float64))
    w = np.exp(xc @ b)
    order = np.argsort(t, kind="stable")
    ts, xs, ws = t[order], xc[order], w[order]
    outer = xs[:, :, None] * xs[:, None, :]
    # suffix sums: index i holds the sum over rows i..n-1 (all with T >= ts[i])
    def suffix(a: NDArray[np.float64]) -> NDArray[np.float64]:
        c = np.cumsum(a[::-1], axis=0)[::-1]
        return np.concatenate((c, np.zeros((1, *a.shape[1:]))), axis=0)
    start = np.searchsorted(ts, g, side="left")
    msg: SiteMessage = {
        "S0": suffix(ws)[start],
        "S1": suffix(xs * ws[:, None])[start],
        "S2": suffix(outer * ws[:, None, None])[start],
    }
    pos = np.searchsorted(g, t[e])
    if np.any((pos >= g.size) | (g[np.minimum(pos, g.size - 1)] != t[e])):
        raise DataError("some event times are not on the grid; build it with union_grid")
    d = np.zeros(g.size)
    np.add.at(d, pos, 1.0)
    msg["d"] = d
    msg["xsum"] = xc[e].sum(axis=0)
    if ties == "efron":
        p = xa.shape[1]
        d0, d1, d2 = np.zeros(g.size), np.zeros((g.size, p)), np.zeros((g.size, p, p))
        xe, we = xc[e], w[e]
        np.add.at(d0, pos, we)
        np.add.at(d1, pos, xe * we[:, None])
        np.add.at(d2, pos, xe[:, :, None] * xe[:, None, :] * we[:, None, None])
        msg.update(D0=d0, D1=d1, D2=d2)
    elif ties != "breslow":
        raise ConfigError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    return msg


def _partial_likelihood(beta: NDArray[np.float64], m: Mapping[str, NDArray[np.float64]],
                        ties: Ties) -> Evaluation:
    """Log partial likelihood, gradient and Hessian from (pooled) risk-set sums."""
    d = np.asarray(m["d"])
    live = d > 0
    d = d[live]
    s0, s1, s2 = m["S0"][live], m["S1"][live], m["S2"][live]
    if ties == "efron":
        reps = d.astype(np.intp)
        j = np.repeat(np.arange(d.size), reps)
        frac = (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)) / d[j]
        phi = s0[j] - frac * m["D0"][live][j]
        a1 = s1[j] - frac[:, None] * m["D1"][live][j]
        a2 = s2[j] - frac[:, None, None] * m["D2"][live][j]
        weight = np.ones_like(phi)
    else:
        phi, a1, a2, weight = s0, s1, s2, d
    if np.any(phi <= 0):
        raise FederationError("empty risk set at an event time: the sites' grids disagree")
    mean1 = a1 / phi[:, None]
    ll = float(m["xsum"] @ beta - np.sum(weight * np.log(phi)))
    grad = m["xsum"] - (weight[:, None] * mean1).sum(axis=0)
    hess = -(weight[:, None, None] * (a2 / phi[:, None, None]
                                       - mean1[:, :, None] * mean1[:, None, :])).sum(axis=0)
    return ll, grad, hess


def combine_cox_risk_sets(messages: Sequence[Mapping[str, NDArray[np.float64]]],
                          beta: ArrayLike, *, ties: Ties = "efron") -> Evaluation:
    """Exact pooled log-likelihood, gradient (p,) and Hessian (p, p) at ``beta``.

    Adds the :func:`site_cox_risk_sets` messages and applies the Efron (or Breslow)
    formulas to the pooled risk sets.
    """
    if not messages:
        raise FederationError("no site messages to combine")
    keys = ["d", "S0", "S1", "S2", "xsum"] + (["D0", "D1", "D2"] if ties == "efron" else [])
    try:
        pooled = {k: np.sum([np.asarray(m[k], dtype=np.float64) for m in messages], axis=0)
                  for k in keys}
    except KeyError as exc:
        raise FederationError(f"a site message lacks {exc.args[0]!r}") from exc
    return _partial_likelihood(np.asarray(beta, dtype=np.float64), pooled, ties)


def site_cox_stratum(x: ArrayLike, time: ArrayLike, event: ArrayLike, beta: ArrayLike, *,
                     offset: ArrayLike | None = None, ties: Ties = "efron",
                     min_cell: int = DEFAULT_MIN_CELL) -> SiteMessage:
    """Stratified round: the site's own log-likelihood, gradient and Hessian at ``beta``.

    Parameters
    ----------
    x : array_like of shape (n_rows, n_params)
    time, event : array_like of shape (n_rows,)
    beta : array_like of shape (n_params,)
    offset : array_like of shape (n_params,), optional
    ties : {"efron", "breslow"}
    min_cell : int, default 5
        A site with fewer complete rows than this refuses (DataError). The event count
        is not sent; every figure sent sums over all the site's rows.

    Returns
    -------
    dict
        ``loglik`` (), ``grad`` (p,), ``hess`` (p, p), ``n`` ().
    """
    k = check_min_cell(min_cell)
    xa, t, e = _check_xy(x, time, event)
    if t.size < k:
        raise DataError(f"site has {t.size} complete rows, fewer than min_cell={k}")
    if not e.any():
        p = xa.shape[1]
        return {"loglik": np.array(0.0), "grad": np.zeros(p), "hess": np.zeros((p, p)),
                "n": np.array(float(t.size))}
    grid = site_event_times(t, e)["event_times"]
    sums = site_cox_risk_sets(xa, t, e, grid, beta, offset=offset, ties=ties)
    ll, grad, hess = _partial_likelihood(np.asarray(beta, dtype=np.float64), sums, ties)
    return {"loglik": np.array(ll), "grad": grad, "hess": hess, "n": np.array(float(t.size))}


def combine_cox_strata(messages: Sequence[Mapping[str, NDArray[np.float64]]]) -> Evaluation:
    """Sum of the sites' :func:`site_cox_stratum` contributions."""
    if not messages:
        raise FederationError("no site messages to combine")
    return (float(sum(float(m["loglik"]) for m in messages)),
            np.sum([m["grad"] for m in messages], axis=0),
            np.sum([m["hess"] for m in messages], axis=0))


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model.

    Attributes
    ----------
    names : tuple of str, length p
    coef, se, z, p_value : ndarray of shape (p,)
    hazard_ratio, ci_lower, ci_upper : ndarray of shape (p,)
        exp(coef) and its (1 - alpha) Wald CI.
    loglik : float
        Log partial likelihood at ``coef``.
    rounds : int
        Newton-Raphson evaluation rounds (one message from each site each).
    setup_rounds : int
        Rounds before Newton-Raphson (offset; grid when unstratified).
    seconds : float
        Wall time of the fit.
    """

    names: tuple[str, ...]
    coef: NDArray[np.float64]
    se: NDArray[np.float64]
    z: NDArray[np.float64]
    p_value: NDArray[np.float64]
    hazard_ratio: NDArray[np.float64]
    ci_lower: NDArray[np.float64]
    ci_upper: NDArray[np.float64]
    loglik: float
    rounds: int
    setup_rounds: int
    seconds: float
    ties: str
    stratified: bool
    converged: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result: ``coef``, ``se``, ``hr``, ``ci``, ``z``, ``p``, ``rounds``..."""
        def named(a: NDArray[np.float64]) -> dict[str, float]:
            return {n: float(v) for n, v in zip(self.names, a, strict=True)}
        return {"coef": named(self.coef), "se": named(self.se),
                "hr": named(self.hazard_ratio), "ci_lower": named(self.ci_lower),
                "ci_upper": named(self.ci_upper), "z": named(self.z),
                "p": named(self.p_value), "loglik": self.loglik, "rounds": self.rounds,
                "setup_rounds": self.setup_rounds, "seconds": self.seconds,
                "ties": self.ties, "stratified": self.stratified,
                "converged": self.converged}


def newton_raphson(evaluate: Callable[[NDArray[np.float64]], Evaluation], n_params: int, *,
                   tol: float = 1e-10, max_rounds: int = 100
                   ) -> tuple[NDArray[np.float64], Evaluation, int, bool]:
    """Maximise a concave log-likelihood by Newton-Raphson with step halving.

    Parameters
    ----------
    evaluate : callable
        ``beta (p,) -> (loglik, gradient (p,), Hessian (p, p))``; one federated round.
    n_params : int
    tol : float, default 1e-10
        Stop when the Newton step's max-norm falls below ``tol``.
    max_rounds : int, default 100
        Most calls of ``evaluate``.

    Returns
    -------
    beta : ndarray of shape (p,)
    evaluation : tuple
        The last ``evaluate`` call's result: at the returned ``beta`` less its last step,
        which moved no coefficient by ``tol`` (the standard errors from its Hessian
        differ from those at the returned ``beta`` by about ``tol``).
    rounds : int
    converged : bool
    """
    beta = np.zeros(n_params)
    current = evaluate(beta)
    rounds = 1
    while rounds < max_rounds:
        ll, grad, hess = current
        try:
            delta = np.linalg.solve(-hess, grad)
        except np.linalg.LinAlgError as exc:
            raise DataError("the Hessian is singular: a covariate is constant or "
                            "collinear with others") from exc
        if np.max(np.abs(delta), initial=0.0) < tol:
            # converged: a step this small needs no line search, nor a round to check it
            # (on a federation, one message round fewer); the evaluation returned is at
            # ``beta``, within ``tol`` of the estimate
            return beta + delta, current, rounds, True
        step = 1.0
        while True:
            trial = evaluate(beta + step * delta)
            rounds += 1
            if (np.isfinite(trial[0]) and trial[0] >= ll - 1e-12 * abs(ll)) \
                    or step < 1e-6 or rounds >= max_rounds:
                break
            step /= 2.0
        beta = beta + step * delta
        current = trial
        if np.max(np.abs(step * delta), initial=0.0) < tol:
            return beta, current, rounds, True
    warnings.warn(f"Newton-Raphson did not converge in {rounds} rounds (max_rounds "
                  f"{max_rounds}, tol {tol:g}): the estimates may be inaccurate",
                  ConvergenceWarning, stacklevel=2)
    return beta, current, rounds, False


def _result(names: Sequence[str], beta: NDArray[np.float64], ev: Evaluation, rounds: int,
            setup: int, seconds: float, ties: str, stratified: bool, converged: bool,
            alpha: float) -> CoxResult:
    cov = np.linalg.inv(-ev[2])
    se = np.sqrt(np.diag(cov))
    z = beta / se
    from scipy import stats  # on first use: 2 s of imports a site process rarely needs

    q = stats.norm.ppf(1 - alpha / 2)
    return CoxResult(tuple(names), beta, se, z, 2 * stats.norm.sf(np.abs(z)), np.exp(beta),
                     np.exp(beta - q * se), np.exp(beta + q * se), float(ev[0]), rounds,
                     setup, seconds, ties, stratified, converged)


def federated_cox(sites: Sequence[tuple[ArrayLike, ArrayLike, ArrayLike]],
                  names: Sequence[str], *, ties: Ties = "efron", stratified: bool = False,
                  tol: float = 1e-10, max_rounds: int = 100, alpha: float = 0.05,
                  min_cell: int = DEFAULT_MIN_CELL) -> CoxResult:
    """Run the whole federated fit in-process: what a ServerApp would orchestrate.

    Parameters
    ----------
    sites : sequence of (X, time, event)
        Per site: X (n_rows, p), time (n_rows,), event (n_rows,). Only the messages of
        the ``site_*`` functions cross from a site to the coordinator.
    names : sequence of str, length p
    ties : {"efron", "breslow"}, default "efron"
    stratified : bool, default False
        Stratify the baseline hazard by site.
    tol, max_rounds : see :func:`newton_raphson`
    alpha : float, default 0.05
    min_cell : int, default 5
        Small-cell threshold (offset round; stratified rounds).
    """
    if ties not in ("efron", "breslow"):
        raise ConfigError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    if not sites:
        raise ConfigError("no sites given")
    started = _time.perf_counter()
    p = len(names)
    offset = combine_means([site_means(s[0], min_cell=min_cell) for s in sites])
    setup = 1
    if stratified:
        def evaluate(beta: NDArray[np.float64]) -> Evaluation:
            return combine_cox_strata([site_cox_stratum(x, t, e, beta, offset=offset,
                                                        ties=ties, min_cell=min_cell)
                                       for x, t, e in sites])
    else:
        grid = union_grid([site_event_times(t, e) for _, t, e in sites])
        setup += 1

        def evaluate(beta: NDArray[np.float64]) -> Evaluation:
            return combine_cox_risk_sets([site_cox_risk_sets(x, t, e, grid, beta,
                                                             offset=offset, ties=ties)
                                          for x, t, e in sites], beta, ties=ties)
    beta, ev, rounds, converged = newton_raphson(evaluate, p, tol=tol, max_rounds=max_rounds)
    return _result(names, beta, ev, rounds, setup, _time.perf_counter() - started, ties,
                   stratified, converged, alpha)
