"""ONE study, plain or secure: schema -> quality -> standardise -> train -> evaluate.

1. every site sends its columns and categorical levels -> one agreed schema; sites too
   small to train or test on are excluded (reported, never merged);
2. the data-quality round (protected aggregates; ``quality_check`` refuse/warn/off);
   with ``missing = "impute"``, the imputation round: the sum of the sites' counts and
   sums of observed values gives the mean for every feature missing anywhere;
3. federated standardisation from the sum of the sites' moments;
4. ``rounds`` rounds of the study's Flower strategy: its training replies are collected
   through the study's :class:`~.sums.SiteSums` (in the clear, or SecAgg+ so that the
   strategy only ever sees their sum), the global model is then evaluated at every site;
   a checkpoint after every round;
5. final per-site evaluation of the global, local-only and personalised models.

Every setting means the same in a plain and a secure study: ``round_timeout`` bounds
every round (SecAgg+ stages included), ``min_sites_per_round`` lets a round go ahead
without sites that fail or stay silent (and names them), ``checkpoint_dir`` and
``resume_from`` work alike. Only aggregates and model arrays reach the coordinator.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from fedcare.config import StudyConfig
from fedcare.data._standardise import combine_moments
from fedcare.data._study import schema_from_json, schema_to_json
from fedcare.exceptions import DataError, FederationError
from fedcare.models import LogisticRegression, make_model
from fedcare.privacy import epsilon_spent

from ..protocol import EVALUATION_RECORD, ConfigKey, MessageType, metrics_of, request, site_of
from ..result import FederatedRun, RoundRecord
from ..strategies import build_strategy, client_dp_noise, norm_bound_events
from .checkpoint import load_checkpoint, save_checkpoint
from .grid import Participants
from .imaging import agree_images, image_quality
from .quality import apply_quality, check_quality_and_sum, combine_quality_replies
from .rounds import ask, check_replies, wait_for_sites, with_content
from .setup import Setup, agree_schema
from .sums import SiteSums, add_up, make_sums

__all__ = ["SETTINGS", "coordinate_study", "impute", "standardise", "train"]

log = logging.getLogger("fedcare")

SETTINGS = {"federated": MessageType.EVALUATE, "local": MessageType.EVALUATE_LOCAL,
            "personalised": MessageType.EVALUATE_PERSONALISED}
"""The final evaluation: setting -> the message type asking for it."""

RoundHook = Callable[[RoundRecord], None]


def _summed(grid: Grid, setup: Setup, sums: SiteSums, config: StudyConfig,
            message_type: str, what: str, replies: list[Message] | None = None) -> Any:
    """Ask every participant for ``message_type`` under the agreed schema; the sum of
    their replies (in the clear or through SecAgg+, as the study says). ``replies``:
    already answered, with the quality check (:func:`.quality.check_quality_and_sum`)."""
    if replies is not None:
        return add_up(replies)
    names = setup.participant_names
    messages = [request(message_type, node, {ConfigKey.SCHEMA: setup.schema_json})
                for node in names]
    answers = sums.collect(grid, messages, names, what=what, timeout=config.round_timeout,
                           min_sites=config.min_sites_per_round)
    return add_up(answers.replies)


def standardise(grid: Grid, setup: Setup, sums: SiteSums, config: StudyConfig,
                replies: list[Message] | None = None) -> dict[str, list[float]]:
    """Global mean and scale from the sum of the sites' row counts, sums and squares
    (``replies``: the sites' moments, already answered with the quality check)."""
    total = _summed(grid, setup, sums, config, MessageType.MOMENTS, "standardisation",
                    replies)
    arrays = cast(list[np.ndarray], total.arrays)
    mean, std = combine_moments([(int(cast(float, total.metrics["num-examples"])), arrays[0],
                                  arrays[1])])
    return {"mean": mean.tolist(), "scale": std.tolist()}


def impute(grid: Grid, setup: Setup, sums: SiteSums, config: StudyConfig,
           replies: list[Message] | None = None) -> dict[str, float]:
    """Federated mean imputation (``missing = "impute"``; with ``"drop-feature"`` such
    features are left out instead, in ``setup.dropped_features``): every numeric or
    binary feature missing in some usable row of some site gets the mean of its observed
    training values over all sites (from the sum of the sites' counts and sums) and a
    missing indicator;
    ``setup.schema_json`` is replaced by the schema carrying them. Returns feature ->
    mean (empty when nothing is missing anywhere). ``replies``: the sites' sums, already
    answered with the quality check.

    Raises
    ------
    DataError
        A feature has no recorded value in any site's training rows.
    """
    total = _summed(grid, setup, sums, config, MessageType.IMPUTE, "imputation sums", replies)
    observed, summed, absent = (np.asarray(a, dtype=np.float64)
                                for a in cast(list[np.ndarray], total.arrays))
    schema = schema_from_json(setup.schema_json)
    means: dict[str, float] = {}
    features = []
    for i, f in enumerate(schema.features):
        column = schema.feature_names.index(f.encoded_names[0]) if f.encoded_names else i
        if f.kind != "categorical" and round(float(absent[column])) > 0:
            if config.missing == "drop-feature":
                setup.dropped_features[f.name] = "missing at some site"
                continue
            if round(float(observed[column])) == 0:
                raise DataError(f"feature '{f.name}' has no recorded value in any site's "
                                "training rows: it cannot be imputed; drop it from the "
                                "features")
            means[f.name] = float(summed[column] / observed[column])
            f = dataclasses.replace(f, impute=means[f.name])
        features.append(f)
    if means or setup.dropped_features:
        if not features:
            raise DataError("missing = 'drop-feature' leaves no feature: every one is "
                            "missing at some site; use missing = 'impute'")
        setup.schema_json = schema_to_json(dataclasses.replace(schema,
                                                               features=tuple(features)))
    return means


@dataclasses.dataclass
class _Trained:
    """A round trained and aggregated whose model's evaluation is not back yet."""

    label: int
    server_round: int
    arrays: ArrayRecord
    train_metrics: MetricRecord | None
    absent: list[str]


def _evaluation_view(reply: Message) -> Message:
    """A ``train`` reply's ``evaluation`` record, taken out of it (the strategy's
    ``aggregate_train`` accepts one MetricRecord), as an evaluation reply of the same
    site for its ``aggregate_evaluate``."""
    content = reply.content
    evaluation = content.pop(EVALUATION_RECORD, None)
    if not isinstance(evaluation, MetricRecord):
        raise FederationError(f"site '{site_of(reply)}' sent no evaluation of the model "
                              "it received (a site running an older fedcare?)")
    return with_content(reply, RecordDict({"metrics": evaluation,
                                            "site": content.config_records["site"]}))


def _metrics_view(reply: Message) -> Message:
    """A reply with only its ``metrics`` and ``site`` records (what a strategy's
    ``aggregate_evaluate`` accepts: one MetricRecord)."""
    content = reply.content
    return with_content(reply, RecordDict({"metrics": content.metric_records["metrics"],
                                            "site": content.config_records["site"]}))


def train(grid: Grid, strategy: Strategy, sums: SiteSums, names: dict[int, str],
          initial: list[np.ndarray], config: StudyConfig, base: dict[str, Any], *,
          first_round: int = 1, offset: int = 0, missing: dict[str, list[int]],
          on_round: RoundHook | None = None, last_config: dict[str, Any] | None = None
          ) -> tuple[ArrayRecord, list[RoundRecord], list[Message]]:
    """The training rounds: configure, collect (through ``sums``), aggregate, evaluate.

    Rounds are numbered ``first_round..config.rounds - offset`` for the strategy and
    recorded as ``round + offset`` (a resumed study continues its numbering).

    In the clear, round r's model is evaluated by the next round's ``train`` messages
    (which carry it; each site evaluates it before training, see
    ``ConfigKey.EVALUATE_RECEIVED``), so that a training round is one message round, not
    two; round r's record is written when they are back. The last round's model, and
    every round of a secure study (whose ``train`` replies are masked sums), get their
    own ``evaluate`` messages; ``last_config`` is added to the last one's config (e.g.
    ``ConfigKey.ALSO_EVALUATE``). With ``config.tol`` (Newton), the round whose step
    changed no coefficient by ``tol`` or more is the last. Returns the final model, the
    rounds' records and the valid replies to the last ``evaluate`` (the final model on
    every site's test rows).
    """
    arrays = ArrayRecord(initial)
    history: list[RoundRecord] = []
    together = not sums.secure
    last_round = config.rounds - offset
    clock = time.perf_counter()
    pending: _Trained | None = None
    final_replies: list[Message] = []

    def evaluated(done: _Trained, replies: list[Message], absent: list[str]) -> None:
        nonlocal clock
        curve = strategy.aggregate_evaluate(done.server_round,
                                            [_metrics_view(r) for r in replies])
        for site in sorted(set(done.absent) | set(absent)):
            rounds = missing.setdefault(site, [])
            if done.label not in rounds:
                rounds.append(done.label)
        now = time.perf_counter()
        record = RoundRecord(
            round=done.label, seconds=now - clock,
            arrays=[a.tolist() for a in done.arrays.to_numpy_ndarrays()],
            accuracy=_metric(curve, "accuracy"), test_loss=_metric(curve, "test-loss"),
            train_loss=_metric(done.train_metrics, "train-loss"),
            sites=sorted(site_of(r) for r in replies))
        clock = now
        history.append(record)
        if on_round is not None:
            on_round(record)

    for server_round in range(first_round, last_round + 1):
        label = server_round + offset
        cfg = dict(base)
        if pending is not None:
            cfg[ConfigKey.EVALUATE_RECEIVED] = True
        messages = list(strategy.configure_train(server_round, arrays, ConfigRecord(cfg),
                                                 grid))
        trained = sums.collect(grid, messages, names, what=f"round {label} (train)",
                               timeout=config.round_timeout,
                               min_sites=config.min_sites_per_round, server_round=label)
        if pending is not None:
            # a site absent now is recorded for this round; round r's record lists the
            # sites whose evaluation its curve holds
            evaluated(pending, [_evaluation_view(r) for r in trained.replies], [])
            pending = None
        new, train_metrics = strategy.aggregate_train(server_round, trained.replies)
        if new is None:
            raise FederationError(f"round {label}: the strategy produced no model")
        arrays = new
        pending = _Trained(label, server_round, arrays, train_metrics, list(trained.absent))
        if converged(strategy, config.tol):
            last_round = server_round
        if not together or server_round == last_round:
            cfg = {**base, **(last_config or {})} if server_round == last_round else base
            evaluations = list(strategy.configure_evaluate(server_round, arrays,
                                                           ConfigRecord(cfg), grid))
            answers = check_replies(grid.send_and_receive(evaluations,
                                                          timeout=config.round_timeout),
                                    names, what=f"round {label} (evaluate)",
                                    min_sites=config.min_sites_per_round)
            evaluated(pending, answers.replies, list(answers.absent))
            pending = None
            final_replies = answers.replies
        if server_round == last_round:
            break
    return arrays, history, final_replies


def converged(strategy: Strategy, tol: float) -> bool:
    """Whether the Newton strategy's last step changed no coefficient by ``tol`` or more
    (``tol = 0``: never; other strategies: never)."""
    steps = getattr(strategy, "step_sizes", None)
    return bool(tol > 0 and steps and steps[-1] < tol)


def _metric(record: MetricRecord | None, key: str) -> float | None:
    if record is None or key not in record:
        return None
    return float(cast(float, record[key]))


def final_evaluations(grid: Grid, setup: Setup, base: dict[str, Any], final: ArrayRecord,
                      config: StudyConfig, missing: dict[str, list[int]],
                      federated: list[Message] | None = None
                      ) -> dict[str, dict[str, dict[str, Any]]]:
    """Global, local-only and personalised test metrics from every site (aggregates
    only); records each site's train/test sizes in ``setup.sites``.

    ``federated``: the replies to the last round's ``evaluate`` (the final model, with
    ``ConfigKey.ALSO_EVALUATE`` naming the other settings). A setting every site answered
    there is read from them; any other is asked for in its own message, as before."""
    names = setup.participant_names
    answered = {r.metadata.src_node_id for r in federated or []}
    settings: dict[str, dict[str, Any]] = {}
    for setting, message_type in SETTINGS.items():
        record = "metrics" if setting == "federated" else setting
        if (federated and answered == set(names)
                and all(record in r.content.metric_records for r in federated)):
            replies, prefix = sorted(federated, key=site_of), f"{setting}."
        else:
            replies = ask(grid, list(names), message_type, base, final,
                          timeout=config.round_timeout,
                          min_sites=config.min_sites_per_round, names=names)
            record, prefix = "metrics", ""
        per_site = {}
        for r in replies:
            texts = {k[len(prefix):]: str(v)
                     for k, v in r.content.config_records["site"].items()
                     if k != "site" and (k.startswith(prefix) if setting != "federated"
                                         else "." not in k)}
            per_site[site_of(r)] = {**metrics_of(r, record), **texts}
        settings[setting] = per_site
    for name, metrics in settings["federated"].items():
        setup.sites[name].n_train = metrics["n-train"]
        setup.sites[name].n_test = metrics["num-examples"]
    for site in sorted(set(names.values()) - set(settings["federated"])):
        missing.setdefault(site, []).append(config.rounds + 1)
    return settings


def _client_privacy(config: StudyConfig) -> dict[str, Any] | None:
    if not (config.dp_epsilon and config.dp_level == "client"):
        return None
    sigma = client_dp_noise(config)
    return {"level": "client (each site's update clipped and noised at the coordinator)",
            "target_epsilon": config.dp_epsilon, "delta": config.dp_delta,
            "clipping_norm": config.dp_max_grad_norm, "noise_multiplier": sigma,
            "epsilon_spent": epsilon_spent(sigma, 1.0, config.rounds, config.dp_delta)}


def coordinate_study(grid: Grid, context: Context, *, on_round: RoundHook | None = None
              ) -> FederatedRun:
    """The study, start to finish (``task = "study"``), plain or secure."""
    started = time.perf_counter()
    config = StudyConfig.from_run_config(dict(context.run_config))
    imputing = config.missing in ("impute", "drop-feature") and not config.images
    # in the clear, the quality message also asks for the next set-up round's sums (the
    # sites answer both in one process): one message round fewer; under SecAgg+ the sums
    # are a protocol of their own. With quality_check = "refuse" a refused study has then
    # received these sums too (aggregates of the columns the quality check describes)
    also = ("" if config.secure_aggregation or config.quality_check == "off" else MessageType.IMPUTE
            if imputing else MessageType.MOMENTS if config.standardise == "federated" else "")
    if config.images:  # an image study: no table schema, quality round or standardising
        setup = agree_images(grid, wait_for_sites(grid, context), config)
    else:
        # the schema message also asks each site for the quality round's answer under
        # its own schema: used when the agreed schema is every participant's own
        setup = agree_schema(grid, wait_for_sites(grid, context), config,
                             also_quality=None if config.quality_check == "off" else also)
    if config.secure_aggregation and len(setup.participants) < 3:
        raise FederationError(f"secure aggregation (SecAgg+) needs at least 3 eligible "
                              f"sites, got {len(setup.participants)} (excluded: "
                              f"{setup.excluded})")
    study_grid = Participants(grid, setup.participants)
    names = setup.participant_names
    sums = make_sums(config.secure_aggregation, len(setup.participants), context,
                     config.min_sites_per_round)

    answered: list[Message] | None = None
    quality: dict[str, Any] | None = None
    if config.images:  # the image checks ran at each site as it read its files
        quality = image_quality(setup, config)
    elif config.quality_check != "off":
        if setup.quality_replies is not None:  # sent with the schemas
            report, answered = combine_quality_replies(setup.quality_replies,
                                                       setup.schema_json, config, also)
        else:
            report, answered = check_quality_and_sum(study_grid, setup.participants,
                                                     setup.schema_json, config, also)
        apply_quality(report, config)
        quality = report.to_dict()
        quality["check"] = config.quality_check
        quality["override"] = (
            [f"site '{f.site or 'all'}'" + (f", feature '{f.feature}'" if f.feature else "")
             + f" ({f.kind}): {f.detail}" for f in report.blocking]
            if config.quality_check == "warn" else [])

    imputed: dict[str, float] = {}
    if imputing:
        imputed = impute(study_grid, setup, sums, config,
                         answered if answered is not None and also == MessageType.IMPUTE
                         else None)

    base: dict[str, Any] = {ConfigKey.SCHEMA: setup.schema_json}
    standardiser = None
    if config.standardise == "federated":
        standardiser = standardise(study_grid, setup, sums, config,
                                   answered if answered is not None
                                   and also == MessageType.MOMENTS else None)
        base[ConfigKey.STD_MEAN] = standardiser["mean"]
        base[ConfigKey.STD_SCALE] = standardiser["scale"]

    n_features = (config.image_size ** 2 if config.images
                  else len(schema_from_json(setup.schema_json).feature_names))
    if config.model == "logistic":
        initial = LogisticRegression(C=config.C).init_arrays(n_features)
    else:
        initial = make_model(config.model, random_state=config.seed).init_arrays(n_features)
    missing: dict[str, list[int]] = {}
    history: list[RoundRecord] = []
    offset = 0
    if config.resume_from:
        checkpoint = load_checkpoint(config.resume_from, setup.schema_json, standardiser)
        offset = int(checkpoint["round"])
        if offset >= config.rounds:
            raise FederationError(f"{config.resume_from}: already at round {offset} of "
                                  f"{config.rounds}; nothing to resume")
        initial = [np.asarray(a, dtype=np.float64) for a in checkpoint["arrays"]]
        history = list(checkpoint["history"])
        missing.update(checkpoint.get("missing_rounds", {}))
        base[ConfigKey.ROUND_OFFSET] = offset

    def after_round(record: RoundRecord) -> None:
        history.append(record)
        if config.checkpoint_dir:
            save_checkpoint(Path(config.checkpoint_dir), setup.schema_json, standardiser,
                            history, missing)
        if on_round is not None:
            on_round(record)

    strategy = build_strategy(config, len(setup.participants))
    train_started = time.perf_counter()
    final, _, last_evaluation = train(study_grid, strategy, sums, names, initial, config,
                                      base, offset=offset, missing=missing,
                                      on_round=after_round, last_config={
                                          ConfigKey.ALSO_EVALUATE: ",".join(
                                              s for s in SETTINGS if s != "federated")})
    train_seconds = time.perf_counter() - train_started

    per_site = final_evaluations(study_grid, setup, base, final, config, missing,
                                 federated=last_evaluation)
    schema = dict(json.loads(setup.schema_json))
    schema["missing"] = config.missing
    schema["imputed"] = imputed
    schema["identifiers_refused"] = setup.identifiers
    schema["features_dropped"] = setup.dropped_features
    return FederatedRun(
        config=config.to_run_config(), schema=schema,
        sites=setup.sites,
        excluded_sites=setup.excluded, standardiser=standardiser,
        arrays=[a.tolist() for a in final.to_numpy_ndarrays()], history=history,
        per_site=per_site, quality=quality, missing_rounds=missing,
        privacy=_client_privacy(config), secure=sums.summary(),
        norm_bound_events=list(norm_bound_events(strategy)), rounds=config.rounds,
        seconds=time.perf_counter() - started, train_seconds=train_seconds,
        standard_errors=_standard_errors(strategy),
        converged_round=(history[-1].round if history and converged(strategy, config.tol)
                         else None))


def _standard_errors(strategy: Strategy) -> list[float] | None:
    """Wald standard errors from the Newton strategy's last information matrix (None for
    other strategies, or when it is singular)."""
    information = getattr(strategy, "information", None)
    if information is None:
        return None
    try:
        covariance = np.linalg.inv(np.asarray(information, dtype=np.float64))
    except np.linalg.LinAlgError:
        return None
    diagonal = np.diag(covariance)
    if not np.all(np.isfinite(diagonal)) or np.any(diagonal <= 0):
        return None
    return [float(v) for v in np.sqrt(diagonal)]
