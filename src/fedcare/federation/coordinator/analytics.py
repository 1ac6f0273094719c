"""The coordinator of federated analytics: describe / Table 1, Kaplan-Meier, Cox.

What the ServerApp runs for ``task = "analytics"`` (the request, as JSON, in the run
config's ``analytics-request``). Each analysis is a few message rounds
(``query.analytics_setup``, then ``query.describe`` / ``query.km`` / ``query.cox`` ...,
see :mod:`fedcare.federation.site.analytics`); sums over sites (Cox's means and
stratified Newton sums; Kaplan-Meier counts) go through the run's
:class:`~.sums.SiteSums`, so that with ``secure_aggregation`` the coordinator sees only
their totals.

Kaplan-Meier has two protected modes (see :mod:`fedcare.analytics._km`):

- ``secure_aggregation`` on (>= 3 sites): every site puts its un-merged event,
  censoring and beyond-the-grid counts on the public grid into one SecAgg+ sum; the
  coordinator applies the small-cell rule to the totals
  (:func:`~fedcare.analytics._km.release_totals`, each group's intervals on its own; the
  log-rank test from one joint merging of all groups) and releases only those. Sites
  with 1..k-1 usable rows take part too (their counts are hidden in the totals).
- otherwise (fallback): each site merges grid intervals on its own counts and the
  curves use the points every site released.

The secure KM counts travel as a ``query.km`` task with ``step = "km-totals"`` through
SecAgg+ (a site answers that step only when the run is secure).

Fault tolerance: with ``min_sites_per_round`` the set-up round goes ahead without sites
that fail or stay silent (they are reported in ``excluded_sites``); every later round
needs every site taking part, since a sum over a changing set of sites would be wrong.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from flwr.app import Context, Message
from flwr.serverapp import Grid
from numpy.typing import NDArray

from fedcare.analytics import (
    KaplanMeier,
    check_request,
    combine_cox_risk_sets,
    combine_cox_strata,
    combine_describe,
    combine_km,
    combine_means,
    combine_table1,
    default_edges,
    km_grid,
    natural,
    newton_raphson,
    union_grid,
)
from fedcare.analytics._cox import Evaluation
from fedcare.analytics._cox import _result as _cox_result
from fedcare.analytics._km import KM_TOTALS_STEP, LogRank, release_totals
from fedcare.config import StudyConfig
from fedcare.data._table import MAX_LEVELS
from fedcare.exceptions import ConfigError, DataError

from ..protocol import (
    ConfigKey,
    MessageType,
    RunKey,
    named_arrays_of,
    request,
    site_of,
)
from .rounds import ask, wait_for_sites
from .sums import SiteSums, make_sums

__all__ = ["cox_names", "km_summary", "km_withheld", "run_analytics"]

_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

#: The message type the secure KM sum travels as (see the module notes).


@dataclass
class _Sites:
    """What the set-up round established."""

    nodes: list[int]                  # node ids taking part, natural order of site names
    names: list[str]
    excluded: dict[str, str]
    n_rows: dict[str, float]
    dropped: float
    dropped_suppressed: int
    text: list[str]
    levels: dict[str, list[str]]


class _Coordinator:
    """Sends the analytics rounds and keeps the replies in site order."""

    def __init__(self, grid: Grid, config: StudyConfig, request: dict[str, Any],
                 sums: SiteSums) -> None:
        self.grid = grid
        self.config = config
        self.request = request
        self.request_json = json.dumps(request, sort_keys=True)
        self.sums = sums
        self.rounds = 0

    def ask(self, nodes: list[int], message_type: str, arrays: Mapping[str, Any] | None = None,
            min_answers: int = 0, **config: str) -> list[Message]:
        named = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()} if arrays \
            else None
        replies = ask(self.grid, nodes, message_type,
                      {ConfigKey.REQUEST: self.request_json, **config}, named,
                      timeout=self.config.round_timeout, min_sites=min_answers)
        self.rounds += 1
        return sorted(replies, key=lambda r: natural(site_of(r)))

    def sum(self, nodes: list[int], message_type: str,
            arrays: Mapping[str, Any] | None = None, **config: str) -> list[Message]:
        """Like :meth:`ask` for a reply that is summed over sites: through the run's
        sums (one summed reply under SecAgg+, every site's reply in the clear)."""
        named = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()} if arrays \
            else None
        messages = [request(message_type, node, {ConfigKey.REQUEST: self.request_json,
                                                 **config}, named) for node in nodes]
        answers = self.sums.collect(self.grid, messages, {n: f"node {n}" for n in nodes},
                                    what=message_type, timeout=self.config.round_timeout)
        self.rounds += 1
        return sorted(answers.replies, key=lambda r: natural(site_of(r)))

    def setup(self, node_ids: list[int], exclude_below: int | None, what: str, *,
              retried: bool = False) -> _Sites:
        replies = self.ask(node_ids, MessageType.ANALYTICS_SETUP,
                           min_answers=self.config.min_sites_per_round)
        answered = {r.metadata.src_node_id for r in replies}
        excluded: dict[str, str] = {}
        absent = [n for n in node_ids if n not in answered]
        if absent:
            logging.getLogger("fedcare").warning("analytics: %d site(s) did not answer the "
                                                 "set-up round; going ahead without them",
                                                 len(absent))
            excluded.update({f"node {n}": "no answer in the set-up round" for n in absent})
        k = self.config.min_cell
        nodes, names, n_rows = [], [], {}
        dropped, suppressed = 0.0, 0
        text: dict[str, list[str]] = {}
        levels: dict[str, set[str]] = {}
        site_levels: list[dict[str, list[str]]] = []
        for r in replies:
            name = site_of(r)
            metrics = r.content.metric_records["metrics"]
            rows, lost = float(cast(float, metrics["n-rows"])), float(cast(float,
                                                                          metrics["n-dropped"]))
            if math.isnan(lost):
                suppressed += 1
            else:
                dropped += lost
            if rows == 0:
                continue    # nothing usable: the embedded CLI never sees such a site
            if exclude_below is not None and (math.isnan(rows) or rows < exclude_below):
                excluded[name] = f"fewer than {k} {what}"
                continue
            nodes.append(r.metadata.src_node_id)
            names.append(name)
            n_rows[name] = rows
            site_cfg = r.content.config_records["site"]
            for col in json.loads(str(site_cfg["text"])):
                text.setdefault(col, []).append(name)
            site_levels.append(dict(json.loads(str(site_cfg["levels"]))))
        column = self.config.site_column
        if exclude_below is None and len(names) < 2:
            raise DataError(f"column '{column}' (--site-column) names {len(names)} site; "
                            "federated analytics needs at least 2")
        if len(names) < 2:
            raise DataError(f"{len(names)} site(s) have at least {k} {what}; federated "
                            "analytics needs at least 2")
        mixed = {c: s for c, s in text.items() if len(s) < len(names)}
        if mixed and not retried:
            # text at some sites, numbers at others: one more set-up round, all as text
            key = "text" if self.request["analysis"] == "describe" else "categorical"
            self.request[key] = sorted(set(self.request[key]) | set(mixed))
            self.request_json = json.dumps(self.request, sort_keys=True)
            return self.setup(node_ids, exclude_below, what, retried=True)
        if mixed:
            col, where = next(iter(mixed.items()))
            raise DataError(f"column '{col}' holds text at site(s) {where} but not at the "
                            "others")
        for lv in site_levels:
            for col, names_ in lv.items():
                levels.setdefault(col, set()).update(names_)
        agreed: dict[str, list[str]] = {}
        for col, values in levels.items():
            if len(values) > MAX_LEVELS:
                raise DataError(f"column '{col}' has {len(values)} distinct values, more than "
                                f"{MAX_LEVELS}: it looks like an identifier or free text")
            if not values:
                raise DataError(f"column '{col}' has no values")
            agreed[col] = sorted(values, key=natural)
        return _Sites(nodes, names, excluded, n_rows, dropped, suppressed, sorted(text),
                      agreed)


def _common(config: StudyConfig, request: Mapping[str, Any], sites: _Sites) -> dict[str, Any]:
    return {"analysis": request["analysis"], "data": Path(config.data).name,
            "site_column": config.site_column, "min_cell": config.min_cell,
            "sites": sites.names, "rows_dropped": int(sites.dropped),
            "rows_dropped_suppressed_sites": sites.dropped_suppressed}


def _describe(c: _Coordinator, node_ids: list[int]) -> dict[str, Any]:
    req, k = c.request, c.config.min_cell
    sites = c.setup(node_ids, None, "rows")
    text = sorted(set(req["text"]) | set(sites.text))
    numeric_cols = [col for col in req["columns"] if col not in text]
    grid = default_edges()
    edges = {col: (np.linspace(float(req["ranges"][col][0]), float(req["ranges"][col][1]),
                               int(req["bins"]) + 1)
                   if col in req["ranges"] else grid) for col in numeric_cols}
    group = req.get("group")
    levels = {col: sites.levels[col] for col in text + ([group] if group else [])}
    replies = c.ask(sites.nodes, MessageType.DESCRIBE,
                    {f"edges/{col}": e for col, e in edges.items()},
                    levels=json.dumps(levels))
    result = _common(c.config, req, sites)
    result["columns"] = {}
    for col in numeric_cols:
        d = combine_describe([named_arrays_of(r.content, f"describe/{col}/")
                              for r in replies], edges[col], quantiles=_QUANTILES, min_cell=k)
        result["columns"][col] = {**d.to_dict(), "edges_from": "--range"
                                  if col in req["ranges"] else "default grid"}
    if group is not None:
        t1 = combine_table1([named_arrays_of(r.content, "table1/") for r in replies], levels[group],
                            numeric=numeric_cols,
                            categorical={col: levels[col] for col in text}, min_cell=k)
        result["table1"] = {"group": group, "rows": list(t1.rows),
                            "columns": list(t1.columns), "cells": t1.to_dict()}
    return result


def km_summary(km: KaplanMeier, exact: bool) -> tuple[list[float], dict[str, Any]]:
    """Survival (95% CI) of each group at up to 6 times."""
    followed = np.flatnonzero((np.nansum(km.at_risk, axis=0) > 0) & (km.grid > 0))
    if followed.size == 0:
        return [], {}
    end = float(km.grid[followed[-1]])
    if exact:   # round times: the exact event times need not be printed
        times = sorted({float(f"{t:.2g}") for t in np.linspace(0, end, 6)[1:]})
    else:       # public grid points
        idx = np.unique(np.linspace(0, followed.size - 1, 5).round().astype(int))
        times = [float(km.grid[followed[i]]) for i in idx]
    out = {}
    for i, lvl in enumerate(km.group_levels):
        if km.reached(i) is None:   # withheld (or empty): S = 1 would read "nobody died"
            out[str(lvl)] = {key: [None] * len(times) for key in ("survival", "lower",
                                                                   "upper")}
            continue
        s = km.at(times, i)
        out[str(lvl)] = {"survival": s[0].tolist(), "lower": s[1].tolist(),
                         "upper": s[2].tolist()}
    return times, out


def km_withheld(km: KaplanMeier, mode: str, min_cell: int) -> str | None:
    """The plain statement that the curves are withheld, or ``None`` when they are not.

    Parameters
    ----------
    km : KaplanMeier
        The released curves.
    mode : str
        ``per-site`` or ``secure-totals`` (``exact*`` modes are never withheld).
    min_cell : int
        k.

    Returns
    -------
    str or None
        Set when no survival estimate beyond t = 0 could be released: the counts are
        withheld, which does not mean that nobody died (the result's ``withheld``; the
        CLI and the report say so instead of showing S = 1).
    """
    if km.reached() is not None:
        return None
    text = (f"no survival estimate beyond t = 0 could be released: the curves use "
            f"{km.released} of {km.n_grid} grid points, because every released event, "
            f"censoring and at-risk count must be 0 or >= {min_cell}. This does not mean "
            "that nobody died")
    if mode == "per-site":
        text += ("; each site merged grid intervals on its own counts. With secure "
                 "aggregation (secure_aggregation = true, --secure-aggregation; >= 3 sites) "
                 "the rule is applied to the totals over all sites instead")
    return text + "."


def _km(c: _Coordinator, node_ids: list[int]) -> dict[str, Any]:
    req, k = c.request, c.config.min_cell
    secure = c.sums.secure
    # secure: a site's counts are hidden in the totals, so small sites take part too
    sites = c.setup(node_ids, None if secure else k, "usable rows")
    group = req.get("group")
    levels = [sites.levels[group]] if group else []
    levels_json = json.dumps({group: levels[0]} if group else {})
    exact = bool(req["exact"])
    if exact:
        grid = union_grid([named_arrays_of(r.content)
                           for r in c.ask(sites.nodes, MessageType.EVENT_TIMES)])
    else:
        grid = km_grid(float(req["grid_step"]),
                       None if req.get("horizon") is None else float(req["horizon"]))
    test: LogRank | None = None
    if secure:
        if len(sites.nodes) < 3:
            raise ConfigError(f"secure aggregation needs at least 3 sites with usable rows, "
                              f"got {len(sites.nodes)}; run without it (per-site merging)")
        replies = c.sum(sites.nodes, MessageType.KM, {"grid": grid}, step=KM_TOTALS_STEP,
                        levels=levels_json)
        totals = named_arrays_of(replies[0].content)
        if exact:       # opted in: the exact counts, summed
            message = {"events": np.rint(totals["events"]),
                       "at_risk": np.rint(totals["at_risk"]),
                       "released": np.array(float(grid.size))}
        else:   # each group's intervals merged on its own (see release_totals)
            message = release_totals(totals, min_cell=k)
            if group:   # the log-rank test: from one set of points for all groups
                joint = release_totals(totals, min_cell=k, per_group=False)
                test = combine_km([joint], grid, group_levels=levels[0]).logrank
        messages = [message]
        mode = "exact-secure" if exact else "secure-totals"
    else:
        replies = c.ask(sites.nodes, MessageType.KM, {"grid": grid}, levels=levels_json)
        messages = [named_arrays_of(r.content) for r in replies]
        mode = "exact" if exact else "per-site"
    fit = combine_km(messages, grid, group_levels=levels[0] if levels else ["all"])
    if test is not None:
        fit = replace(fit, logrank=test)
    times, at = km_summary(fit, exact)
    result = {**_common(c.config, req, sites), "duration": req["duration"],
              "event": req["event"], "group": group, "exact": exact, "mode": mode,
              "grid_step": req.get("grid_step"), "excluded_sites": sites.excluded,
              "stop": fit.stop, "km": fit.to_dict(),
              "summary": {"times": times, "groups": at}}
    withheld = km_withheld(fit, mode, k)
    if withheld is not None:
        result["withheld"] = withheld
    return result


def cox_names(covariates: Sequence[str], levels: Mapping[str, Sequence[str]]) -> list[str]:
    """Parameter names as :func:`design_matrix` gives them."""
    names: list[str] = []
    for col in covariates:
        names += ([f"{col}[T.{lvl}]" for lvl in levels[col][1:]] if col in levels else [col])
    return names


def _cox(c: _Coordinator, node_ids: list[int]) -> dict[str, Any]:
    req = c.request
    sites = c.setup(node_ids, c.config.min_cell, "complete rows")
    covs = req["covariates"]
    cat = [col for col in covs if col in req["categorical"] or col in sites.text]
    levels = {col: sites.levels[col] for col in cat}
    names = cox_names(covs, levels)
    levels_json = json.dumps(levels, sort_keys=True)
    ties, stratified = req["ties"], bool(req["stratified"])
    started = time.perf_counter()
    offset = combine_means([named_arrays_of(r.content) for r in c.sum(
        sites.nodes, MessageType.COX, step="means", levels=levels_json)])
    setup = 1
    fixed: dict[str, NDArray[np.float64]] = {"offset": offset}
    if not stratified:
        fixed["grid"] = union_grid([named_arrays_of(r.content) for r in c.ask(sites.nodes,
                                                              MessageType.EVENT_TIMES)])
        setup += 1

    def evaluate(beta: NDArray[np.float64]) -> Evaluation:
        fixed_beta = {**fixed, "beta": beta}
        replies = (c.sum(sites.nodes, MessageType.COX, fixed_beta, step="eval",
                         levels=levels_json) if stratified else
                   c.ask(sites.nodes, MessageType.COX, fixed_beta, step="eval",
                         levels=levels_json))
        msgs = [named_arrays_of(r.content) for r in replies]
        if stratified:
            return combine_cox_strata(msgs)
        return combine_cox_risk_sets(msgs, beta, ties=ties)

    beta, ev, rounds, converged = newton_raphson(evaluate, len(names), tol=req["tol"],
                                                 max_rounds=req["max_rounds"])
    fit = _cox_result(names, beta, ev, rounds, setup, time.perf_counter() - started, ties,
                      stratified, converged, 0.05)
    out = fit.to_dict()
    out["ci"] = {n: [out["ci_lower"][n], out["ci_upper"][n]] for n in names}
    return {**_common(c.config, req, sites), "duration": req["duration"],
            "event": req["event"], "covariates": covs, "levels": levels,
            "exact": bool(req["exact"]), "excluded_sites": sites.excluded,
            "n": int(sum(sites.n_rows.values())), **out}


def _recalibrate(c: _Coordinator, node_ids: list[int]) -> dict[str, Any]:
    """Fisher scoring of cloglog(p_new) = a + b cloglog(p_equation) from the sites' sums
    (SCORE2's regional recalibration; :mod:`fedcare.assistant._validate`)."""
    req = c.request
    sites = c.setup(node_ids, c.config.min_cell, "usable rows")
    started = time.perf_counter()

    def evaluate(params: NDArray[np.float64]) -> dict[str, Any]:
        msgs = [named_arrays_of(r.content) for r in c.sum(
            sites.nodes, MessageType.RECALIBRATE, {"params": params}, step="eval")]
        return {key: np.sum([m[key] for m in msgs], axis=0)
                for key in ("score", "information", "totals")}

    params = np.array([0.0, 1.0])
    first = current = evaluate(params)
    converged, rounds = False, 1
    while rounds < req["max_rounds"]:
        step = np.linalg.solve(np.asarray(current["information"]).reshape(2, 2),
                               np.asarray(current["score"]))
        params = params + step
        current = evaluate(params)
        rounds += 1
        if float(np.max(np.abs(step))) < req["tol"]:
            converged = True
            break
    n, events, loglik, expected_before, expected_after = (float(v) for v in current["totals"])
    if not converged:
        logging.getLogger("fedcare").warning("recalibration of %s did not converge in %d "
                                             "rounds", req["equation"], rounds)
    return {**_common(c.config, req, sites), "equation": req["equation"],
            "version": req.get("version"), "event": req["event"], "columns": req["columns"],
            "excluded_sites": sites.excluded, "n": int(n), "events": int(events),
            "a": float(params[0]), "b": float(params[1]), "loglik": loglik,
            "loglik_unrecalibrated": float(first["totals"][2]),
            "observed_expected_before": events / expected_before,
            "observed_expected_after": events / expected_after,
            "expected_before": expected_before, "expected_after": expected_after,
            "rounds": rounds, "setup_rounds": 1, "converged": converged,
            "seconds": time.perf_counter() - started,
            "method": "cloglog(p_new) = a + b * cloglog(p_equation) (SCORE2's regional "
                      "recalibration), Fisher scoring from the sites' sums"}


_RUNNERS: dict[str, Callable[[_Coordinator, list[int]], dict[str, Any]]] = {
    "describe": _describe, "km": _km, "cox": _cox, "recalibrate": _recalibrate}


def run_analytics(grid: Grid, context: Context) -> dict[str, Any]:
    """The coordinator of an analytics run (``task = "analytics"``).

    Returns the JSON-ready result (as ``fedcare analytics ... --json`` writes it) with
    ``message_rounds`` (every message round, set-up included) and ``wall_seconds``.
    """
    started = time.perf_counter()
    config = StudyConfig.from_run_config(dict(context.run_config))
    if RunKey.ANALYTICS_REQUEST not in context.run_config:
        raise ConfigError(f"run config has no '{RunKey.ANALYTICS_REQUEST}'")
    try:
        request_ = check_request(json.loads(str(context.run_config[RunKey.ANALYTICS_REQUEST])))
    except json.JSONDecodeError:
        raise ConfigError(f"run config '{RunKey.ANALYTICS_REQUEST}' is not JSON") from None
    if config.secure_aggregation and request_["analysis"] not in ("cox", "km",
                                                                  "recalibrate"):
        raise ConfigError(f"secure_aggregation applies to analytics 'cox', 'km' and "
                          f"'recalibrate' (their "
                          f"sums); '{request_['analysis']}' combines per-site protected "
                          "counts")
    node_ids = wait_for_sites(grid, context)
    sums = make_sums(config.secure_aggregation, len(node_ids), context)
    coordinator = _Coordinator(grid, config, request_, sums)
    result = _RUNNERS[request_["analysis"]](coordinator, node_ids)
    result["message_rounds"] = coordinator.rounds
    result["wall_seconds"] = time.perf_counter() - started
    return result
