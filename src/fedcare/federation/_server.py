"""The coordinator side: a Flower ServerApp running a whole fedcare study.

1. every site sends its columns and categorical levels -> one agreed schema;
2. sites too small to train or test on are excluded (reported, never merged);
3. federated standardisation from per-site sums;
4. the training strategy (Newton, FedAvg, FedProx or FedAdam) for ``rounds`` rounds,
   with the global model evaluated at every site after each round;
5. final per-site evaluation of the global, local-only and personalised models.

The result (aggregates and model arrays only) is written as JSON to the run config's
``output-dir`` (or kept in memory for the in-process runner).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.proto.node_pb2 import NodeInfo
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import (
    DifferentialPrivacyServerSideFixedClipping,
    FedAdam,
    FedAvg,
    FedMedian,
    FedProx,
    FedTrimmedAvg,
    Krum,
    MultiKrum,
    Strategy,
)

from fedcare.data._cohort import FeatureKind
from fedcare.data._standardise import combine_moments
from fedcare.exceptions import ConfigError, FederationError, PrivacyBudgetError
from fedcare.models import LogisticRegression, make_model
from fedcare.privacy import epsilon_spent, noise_for_budget
from fedcare.quality import QualityReport, combine_quality
from fedcare.study._config import StudyConfig
from fedcare.study._sites import schema_from_json, schema_to_json

from ._audit import audit_grid
from ._grid import GridWrapper, InProcessGrid
from ._newton import FedNewton
from ._records import arrays_of, number, text
from ._robust import NormBound

__all__ = ["TASKS", "check_quality", "run_quality_check", "run_quality_inprocess",
           "server_app", "submit_quality"]

server_app = ServerApp()

#: What the ServerApp runs, by the run config's ``task`` (default ``study``).
TASKS = ("study", "analytics", "quality")

class _Participants(GridWrapper):
    """The study's grid restricted to the sites taking part (excluded ones are skipped)."""

    def __init__(self, grid: Grid, node_ids: list[int]) -> None:
        super().__init__(grid)
        self._nodes = list(node_ids)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._nodes)

    def get_nodes(self) -> Iterable[NodeInfo]:
        return (NodeInfo(node_id=n) for n in self._nodes)


def _site_failure(prefix: str, failed: list[str]) -> FederationError | PrivacyBudgetError:
    """The error for failed sites: a privacy-budget refusal keeps its own type (exit 7)."""
    text = prefix + "; ".join(failed)
    if all("PrivacyBudgetError" in f for f in failed):
        return PrivacyBudgetError(text)
    return FederationError(text)


def _ask(grid: Grid, node_ids: list[int], message_type: str, config: ConfigRecord,
         arrays: ArrayRecord | None = None, timeout: float = 3600,
         min_answers: int = 0) -> list[Message]:
    """Send one message per node; raise naming the sites that failed.

    With ``min_answers`` > 0, failed or silent sites are left out as long as at least
    that many answered.
    """
    messages = []
    for node_id in node_ids:
        content = RecordDict({"config": config})
        if arrays is not None:
            content["arrays"] = arrays
        messages.append(Message(content=content, dst_node_id=node_id, message_type=message_type))
    replies = list(grid.send_and_receive(messages, timeout=timeout))
    failed = [f"node {r.metadata.src_node_id}: {r.error.reason}" for r in replies if r.has_error()]
    valid = [r for r in replies if not r.has_error()]
    if min_answers and len(valid) >= min_answers:
        return sorted(valid, key=_site_of)
    if failed:
        raise _site_failure(f"{message_type}: {len(failed)} site(s) failed: ", failed)
    if len(replies) < len(node_ids):
        raise FederationError(f"{message_type}: only {len(replies)} of {len(node_ids)} sites "
                              "answered in time")
    return sorted(replies, key=_site_of)


def _site_of(reply: Message) -> str:
    return text(reply.content, "site")


def _metrics(reply: Message) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for key in reply.content.metric_records["metrics"]:
        value = number(reply.content, key)
        out[key] = None if math.isnan(value) else (int(value) if key in {
            "num-examples", "n-train", "n-rows", "n-test", "n-dropped"} else value)
    return out


def _merge_schemas(texts: list[str]) -> str:
    schemas = [schema_from_json(t) for t in texts]
    first = schemas[0]
    names = [f.name for f in first.features]
    for s in schemas[1:]:
        if [f.name for f in s.features] != names:
            raise FederationError("sites disagree on the feature columns")
    features = []
    for i, f in enumerate(first.features):
        kinds = {s.features[i].kind for s in schemas}
        kind: FeatureKind = "categorical" if "categorical" in kinds else (
            "numeric" if "numeric" in kinds else "binary")
        features.append(replace(f, kind=kind, categories=()))
    merged = replace(first, features=tuple(features))
    levels = [{f.name: list(f.categories) for f in s.features} for s in schemas]
    return schema_to_json(merged.merge_categories(levels))


def _eval_aggregate(contents: list[RecordDict], weight_key: str) -> MetricRecord:
    """Per-round curve: test accuracy and loss over all sites' test rows."""
    weights = np.array([number(c, weight_key) for c in contents])
    out: dict[str, int | float | list[int] | list[float]] = {}
    for key in ("accuracy", "test-loss"):
        values = np.array([number(c, key) for c in contents])
        out[key] = float(np.sum(values * weights) / weights.sum())
    out[weight_key] = float(weights.sum())
    return MetricRecord(out)


def _strategy(config: StudyConfig, n_sites: int) -> Strategy:
    """The training strategy, wrapped in the norm-bound check when asked for."""
    strategy: Strategy = _base_strategy(config, n_sites)
    if config.norm_bound > 0:
        strategy = NormBound(strategy, factor=config.norm_bound, action=config.norm_action)
    if config.dp_epsilon and config.dp_level == "client":
        strategy = DifferentialPrivacyServerSideFixedClipping(
            strategy, noise_multiplier=client_dp_noise(config),
            clipping_norm=config.dp_max_grad_norm, num_sampled_clients=n_sites)
    return strategy


def client_dp_noise(config: StudyConfig) -> float:
    """Noise multiplier for client-level DP: every site in every one of ``rounds`` rounds."""
    return noise_for_budget(config.dp_epsilon, config.dp_delta, 1.0, config.rounds)


def _base_strategy(config: StudyConfig, n_sites: int) -> FedAvg:
    common: dict[str, Any] = {"min_train_nodes": n_sites, "min_evaluate_nodes": n_sites,
                              "min_available_nodes": n_sites,
                              "evaluate_metrics_aggr_fn": _eval_aggregate}
    if config.strategy == "newton":
        return FedNewton(C=config.C, **common)
    if config.aggregation == "median":
        return FedMedian(**common)
    if config.aggregation == "trimmed-mean":
        return FedTrimmedAvg(beta=config.trim_fraction, **common)
    if config.aggregation == "krum":
        return Krum(num_malicious_nodes=config.expected_malicious, **common)
    if config.aggregation == "multikrum":
        return MultiKrum(num_malicious_nodes=config.expected_malicious,
                         num_nodes_to_select=max(1, n_sites - config.expected_malicious),
                         **common)
    if config.strategy == "fedprox":
        return FedProx(proximal_mu=config.prox_mu, **common)
    if config.strategy == "fedadam":
        return FedAdam(eta=config.server_lr, eta_l=config.lr, **common)
    return FedAvg(**common)


def _check_site_replies(strategy: Strategy, names: dict[int, str], min_sites: int,
                        missing: dict[str, list[int]]) -> None:
    """Make a Flower strategy stop, or skip, when sites fail or do not answer a round.

    Flower's strategy loop only logs failed replies and carries on. With ``min_sites``
    0 every site must answer (a failure stops the study, naming the site and reason);
    otherwise a round goes ahead with the sites that answered, if at least
    ``min_sites`` did, and each absent site is recorded in ``missing`` (site -> rounds).
    """
    for method in ("aggregate_train", "aggregate_evaluate"):
        inner = getattr(strategy, method)

        def checked(server_round: int, replies: Iterable[Message], _inner: Any = inner,
                    _method: str = method) -> Any:
            replies = list(replies)
            failed = [f"site '{names.get(r.metadata.src_node_id, r.metadata.src_node_id)}': "
                      f"{r.error.reason}" for r in replies if r.has_error()]
            valid = [r for r in replies if not r.has_error()]
            answered = {r.metadata.src_node_id for r in valid}
            absent = sorted(site for node, site in names.items() if node not in answered)
            if not min_sites:
                if failed:
                    raise _site_failure(f"round {server_round} ({_method}): ", failed)
                if absent:
                    raise FederationError(f"round {server_round} ({_method}): no answer from "
                                          f"{absent} within round_timeout")
            elif len(valid) < min_sites:
                raise FederationError(
                    f"round {server_round} ({_method}): {len(valid)} site(s) answered, fewer "
                    f"than min_sites_per_round {min_sites}; failures: {failed or 'none'}")
            else:
                for site in absent:
                    rounds = missing.setdefault(site, [])
                    if server_round not in rounds:
                        rounds.append(server_round)
                    logging.getLogger("fedcare").warning(
                        "round %d (%s): site '%s' missing, round goes ahead with %d site(s)",
                        server_round, _method, site, len(valid))
            return _inner(server_round, valid)

        setattr(strategy, method, checked)


def agree_schema(grid: Grid, node_ids: list[int], config: StudyConfig) -> tuple[
        str, dict[str, dict[str, Any]], dict[str, str], list[int], dict[int, str]]:
    """Ask every site for its columns; merge them; apply the eligibility rules.

    Returns the agreed schema (JSON), per-site sizes, excluded sites with reasons, the
    node ids taking part and node id -> site name.
    """
    replies = _ask(grid, node_ids, "query.schema", ConfigRecord({}),
                   timeout=config.round_timeout, min_answers=config.min_sites_per_round)
    schema_json = _merge_schemas([text(r.content, "schema") for r in replies])
    sites: dict[str, dict[str, Any]] = {}
    excluded: dict[str, str] = {}
    participants: list[int] = []
    names = {r.metadata.src_node_id: _site_of(r) for r in replies}
    for r in replies:
        m, name = _metrics(r), _site_of(r)
        if m["n-rows"] is None:  # suppressed by the site: fewer than min_cell
            excluded[name] = f"fewer than min_cell {config.min_cell} usable rows"
        elif int(m["n-rows"]) < config.min_site_rows:
            excluded[name] = (f"{m['n-rows']} usable rows < min_site_rows "
                              f"{config.min_site_rows}")
        elif m["n-test"] is None or int(m["n-test"]) < max(2, config.min_cell):
            excluded[name] = (f"fewer than {max(2, config.min_cell)} test rows (small-cell "
                              "rule: a site's test metrics must describe at least min_cell "
                              "patients)")
        else:
            participants.append(r.metadata.src_node_id)
        sites[name] = {"n_rows": m["n-rows"], "n_dropped_missing": m["n-dropped"]}
    if len(participants) < 2:
        raise FederationError(
            f"a federated study needs at least 2 eligible sites, got {len(participants)} "
            f"(excluded: {excluded})"
        )
    return schema_json, sites, excluded, participants, names


def check_quality(grid: Grid, node_ids: list[int], schema_json: str,
                  config: StudyConfig) -> QualityReport:
    """Ask sites for their data-quality aggregates and combine them (docs/quality.md).

    Uses the schema round's timeout and fault tolerance: with ``min_sites_per_round``,
    sites that fail or stay silent are left out as long as that many answered.
    """
    replies = _ask(grid, node_ids, "query.quality", ConfigRecord({"schema": schema_json}),
                   timeout=config.round_timeout, min_answers=config.min_sites_per_round)
    aggregates = {_site_of(r): {key: number(r.content, key)
                                for key in r.content.metric_records["metrics"]}
                  for r in replies}
    return combine_quality(aggregates, schema_from_json(schema_json),
                           min_cell=config.min_cell)


def apply_quality(report: QualityReport, config: StudyConfig) -> None:
    """Log the findings; with ``quality_check = "refuse"``, stop on a blocking one."""
    blocking = report.blocking
    if config.quality_check == "refuse" and blocking:
        listed = "; ".join(f"site '{f.site}' feature '{f.feature}' {f.kind}: {f.detail}"
                           for f in blocking)
        raise FederationError(f"data quality check (quality_check = 'refuse'): "
                              f"{len(blocking)} blocking finding(s), training not started: "
                              f"{listed}")
    log = logging.getLogger("fedcare")
    for f in report.findings:
        if f.severity != "info":
            log.warning("data quality (%s): site '%s' feature '%s' %s: %s", f.severity,
                        f.site, f.feature, f.kind, f.detail)


def run_quality_check(grid: Grid, context: Context) -> dict[str, Any]:
    """A data-quality check on its own: the schema round, then every site's aggregates.

    What the ServerApp runs for ``task = "quality"`` (also for secure-aggregation
    studies: quality aggregates are not summed, so they go in the clear like the schema).

    Returns ``quality`` (:meth:`QualityReport.to_dict`), ``schema``, ``sites`` and
    ``excluded_sites`` (as the study would exclude them; they are checked too).
    """
    config = StudyConfig.from_run_config(dict(context.run_config))
    node_ids = wait_for_sites(grid, context)
    schema_json, sites, excluded, _, names = agree_schema(grid, node_ids, config)
    report = check_quality(grid, sorted(names), schema_json, config)
    return {"quality": report.to_dict(), "schema": json.loads(schema_json), "sites": sites,
            "excluded_sites": excluded}


def run_quality_inprocess(config: StudyConfig, sites: list[str], *,
                          keep_messages: bool = False
                          ) -> tuple[dict[str, Any], InProcessGrid]:
    """:func:`run_quality_check` with one in-process ClientApp per site.

    Returns the result and the :class:`InProcessGrid` (its messages when
    ``keep_messages``).
    """
    from fedcare.federation._client import client_app
    from fedcare.federation._run import run_app

    run_config = {**config.to_run_config(), "num-sites": len(sites)}
    return run_app(client_app, run_quality_check, run_config, sites,
                   keep_messages=keep_messages)


def submit_quality(config: StudyConfig, coordinator_dir: str | Path, *, n_sites: int,
                   timeout: float = 1800, on_progress: Callable[[str], None] | None = None
                   ) -> dict[str, Any]:
    """:func:`run_quality_check` on a live federation (``task = "quality"``).

    Submitted like a study (:func:`fedcare.federation._deploy.submit`); each site reads
    its own table (``data`` in its node config, else ``config.data``) and applies its own
    declared units. Returns the ServerApp's result (as :func:`run_quality_inprocess`).
    """
    from fedcare.federation._deploy import submit

    return submit(config, coordinator_dir, n_sites=n_sites, timeout=timeout,
                  on_progress=on_progress, extra_run_config={"task": "quality"})


def final_evaluations(grid: Grid, participants: list[int], base: ConfigRecord,
                      final: ArrayRecord, sites: dict[str, dict[str, Any]],
                      min_answers: int = 0, timeout: float = 3600,
                      ) -> dict[str, dict[str, Any]]:
    """Global, local-only and personalised test metrics from every site (aggregates only).

    Also records each site's train/test sizes in ``sites``. With ``min_answers``, sites
    that fail or stay silent are left out (the study's fault tolerance).
    """
    settings: dict[str, dict[str, Any]] = {}
    for setting, message_type in (("federated", "evaluate"), ("local", "evaluate.local"),
                                  ("personalised", "evaluate.personalised")):
        per_site = {}
        for r in _ask(grid, participants, message_type, base, final, timeout=timeout,
                      min_answers=min_answers):
            metrics = _metrics(r)
            extra = {k: str(v) for k, v in r.content.config_records["site"].items()
                     if k != "site"}
            per_site[_site_of(r)] = {**metrics, **extra}
        settings[setting] = per_site
    for name, metrics in settings["federated"].items():
        sites[name].update({"n_train": metrics["n-train"], "n_test": metrics["num-examples"]})
    return settings


def wait_for_sites(grid: Grid, context: Context) -> list[int]:
    """Node ids once ``num-sites`` have connected (or ``wait-for-sites`` seconds passed)."""
    expected = int(cast(int, context.run_config.get("num-sites", 0)))
    deadline = time.time() + float(cast(float, context.run_config.get("wait-for-sites", 60)))
    node_ids = sorted(grid.get_node_ids())
    while (len(node_ids) < max(expected, 1)) and time.time() < deadline:
        time.sleep(0.2)
        node_ids = sorted(grid.get_node_ids())
    if not node_ids:
        raise FederationError("no site connected")
    return node_ids


def save_checkpoint(directory: Path, schema_json: str, standardiser: Any,
                    history: list[dict[str, Any]], missing: dict[str, list[int]]) -> Path:
    """Write ``checkpoint.json`` atomically: the last round, its arrays, the history."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {"round": history[-1]["round"], "arrays": history[-1]["arrays"],
             "history": history, "schema": json.loads(schema_json),
             "standardiser": standardiser, "missing_rounds": missing}
    tmp = directory / "checkpoint.json.tmp"
    tmp.write_text(json.dumps(state))
    tmp.replace(directory / "checkpoint.json")
    return directory / "checkpoint.json"


def load_checkpoint(path: str, schema_json: str, standardiser: Any) -> dict[str, Any]:
    """Read a checkpoint and check it belongs to this study (same schema, same scaling)."""
    try:
        state = dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError):
        raise FederationError(f"{path}: not a readable fedcare checkpoint") from None
    if state.get("schema") != json.loads(schema_json) or state.get(
            "standardiser") != standardiser:
        raise FederationError(f"{path}: the checkpoint's schema or standardisation differs "
                              "from this study's; it belongs to another study")
    return state


def run_study(grid: Grid, context: Context) -> dict[str, Any]:
    """The study, start to finish; returns the JSON-ready result."""
    started = time.perf_counter()
    config = StudyConfig.from_run_config(dict(context.run_config))
    node_ids = wait_for_sites(grid, context)

    # 1. schema and eligibility
    schema_json, sites, excluded, participants, names = agree_schema(grid, node_ids, config)
    study_grid = _Participants(grid, participants)
    base = ConfigRecord({"schema": schema_json})

    # 1b. data quality of the sites taking part (aggregates only)
    quality: dict[str, Any] | None = None
    if config.quality_check != "off":
        report = check_quality(study_grid, participants, schema_json, config)
        apply_quality(report, config)
        quality = report.to_dict()

    # 2. federated standardisation
    n_features = len(schema_from_json(schema_json).feature_names)
    standardiser: dict[str, list[float]] | None = None
    if config.standardise == "federated":
        replies = _ask(study_grid, participants, "query.moments", base,
                       timeout=config.round_timeout, min_answers=config.min_sites_per_round)
        moments = []
        for r in replies:
            total, total_sq = arrays_of(r.content)
            moments.append((int(number(r.content, "num-examples")), total, total_sq))
        mean, std = combine_moments(moments)
        standardiser = {"mean": mean.tolist(), "scale": std.tolist()}
        base["std-mean"] = standardiser["mean"]
        base["std-scale"] = standardiser["scale"]

    # 3. training
    if config.model == "logistic":
        init = LogisticRegression(C=config.C).init_arrays(n_features)
    else:
        init = make_model(config.model, random_state=config.seed).init_arrays(n_features)
    strategy = _strategy(config, len(participants))
    missing: dict[str, list[int]] = {}
    study_names = {node: names[node] for node in participants}
    _check_site_replies(strategy, study_names, config.min_sites_per_round, missing)
    history: list[dict[str, Any]] = []
    offset = 0
    if config.resume_from:
        checkpoint = load_checkpoint(config.resume_from, schema_json, standardiser)
        offset = int(checkpoint["round"])
        if offset >= config.rounds:
            raise FederationError(f"{config.resume_from}: already at round {offset} of "
                                  f"{config.rounds}; nothing to resume")
        init = [np.asarray(a, dtype=np.float64) for a in checkpoint["arrays"]]
        history = list(checkpoint["history"])
        missing.update(checkpoint.get("missing_rounds", {}))
        base["round-offset"] = offset
    round_started = [time.perf_counter()]

    def track(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        now = time.perf_counter()
        if server_round > 0:
            history.append({"round": server_round + offset, "seconds": now - round_started[0],
                            "arrays": [a.tolist() for a in arrays.to_numpy_ndarrays()]})
            if config.checkpoint_dir:
                save_checkpoint(Path(config.checkpoint_dir), schema_json, standardiser,
                                history, missing)
        round_started[0] = now
        return None

    train_started = time.perf_counter()
    result = strategy.start(grid=study_grid, initial_arrays=ArrayRecord(init),
                            num_rounds=config.rounds - offset,
                            train_config=ConfigRecord(dict(base)),
                            evaluate_config=ConfigRecord(dict(base)), evaluate_fn=track,
                            timeout=config.round_timeout)
    train_seconds = time.perf_counter() - train_started
    for entry in history:
        r = entry["round"] - offset  # Flower numbers this run's rounds from 1
        curve = result.evaluate_metrics_clientapp.get(r)
        if curve is not None:
            entry["accuracy"] = float(cast(float, curve["accuracy"]))
            entry["test_loss"] = float(cast(float, curve["test-loss"]))
        trained = result.train_metrics_clientapp.get(r)
        if trained is not None and "train-loss" in trained:
            entry["train_loss"] = float(cast(float, trained["train-loss"]))
    final = result.arrays

    # 4. final per-site evaluation
    settings = final_evaluations(study_grid, participants, base, final, sites,
                                 min_answers=config.min_sites_per_round,
                                 timeout=config.round_timeout)
    for site in sorted(set(names[n] for n in participants) - set(settings["federated"])):
        missing.setdefault(site, []).append(config.rounds + 1)  # the final evaluation
    if config.dp_epsilon and config.dp_level == "client":
        sigma = client_dp_noise(config)
        privacy: dict[str, Any] | None = {
            "level": "client (each site's update clipped and noised at the coordinator)",
            "target_epsilon": config.dp_epsilon, "delta": config.dp_delta,
            "clipping_norm": config.dp_max_grad_norm, "noise_multiplier": sigma,
            "epsilon_spent": epsilon_spent(sigma, 1.0, config.rounds, config.dp_delta)}
    else:
        privacy = None
    out = {
        "quality": quality,
        "missing_rounds": missing,
        "privacy": privacy,
        "config": config.to_run_config(),
        "schema": json.loads(schema_json),
        "sites": sites,
        "excluded_sites": excluded,
        "standardiser": standardiser,
        "arrays": [a.tolist() for a in final.to_numpy_ndarrays()],
        "history": history,
        "per_site": settings,
        "rounds": config.rounds,
        "train_seconds": train_seconds,
        "seconds": time.perf_counter() - started,
    }
    return out


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """Flower entry point: run the study (or analytics, or the quality check alone),
    write ``result.json``."""
    task = str(context.run_config.get("task", "study"))
    if task not in TASKS:
        raise ConfigError(f"run config 'task' must be one of {list(TASKS)}, got '{task}'")
    if task == "analytics":
        from fedcare.federation._analytics import run_analytics

        out = run_analytics(audit_grid(grid, context), context)
    elif task == "quality":
        out = run_quality_check(audit_grid(grid, context), context)
    elif bool(context.run_config.get("secure-aggregation", False)):
        from fedcare.federation._secagg import run_secure

        out = run_secure(audit_grid(grid, context), context)
    else:
        out = run_study(audit_grid(grid, context), context)
    output_dir = str(context.run_config.get("output-dir", ""))
    if output_dir:
        path = Path(output_dir)
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / "result.json.tmp"
        tmp.write_text(json.dumps(out))
        tmp.replace(path / "result.json")
