"""What a site does for a study, with no framework in sight.

Each task takes a :class:`SiteRequest` (the study's settings, the site's name and
units, the arrays and config the coordinator sent, the site's state across messages)
and returns a :class:`~fedcare.federation.protocol.TaskResult`: model arrays or sums,
aggregate metrics, short texts. Rows never leave a task. The Message-API handlers
(:mod:`.handlers`) and the SecAgg+ adapter (:mod:`.secure`) both call these, so a plain
and a secure study compute exactly the same things at a site.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fedcare._numeric import expit
from fedcare.config import StudyConfig
from fedcare.data._standardise import Standardiser, site_moments
from fedcare.data._study import schema_from_json, schema_to_json
from fedcare.evaluation import binary_metrics
from fedcare.exceptions import PolicyRefusal, PrivacyBudgetError
from fedcare.privacy import DPSGD, epsilon_spent, noise_for_budget

from ..protocol import (
    EVALUATION_RECORD,
    QUALITY_RECORD,
    SUMS_RECORD,
    ConfigKey,
    MessageType,
    TaskResult,
    ineligible,
)
from .data import Site, SiteSplit, cached_split, site
from .request import SiteRequest, Task

if TYPE_CHECKING:
    from fedcare.models import BatchOptimiser

# The models (scikit-learn, 1.2 s of imports) and the quality checks are imported by the
# tasks that use them, not by every ClientApp process: Flower starts one per message.

__all__ = ["TASKS", "SiteRequest", "Task"]

DP_STEPS = "dp-steps"
"""Key of the site's state holding the DP-SGD steps taken so far in this run."""




# -- the study's set-up ---------------------------------------------------------------
def _here(req: SiteRequest) -> Site:
    return site(req.config, req.name, req.units, key=req.key, missing=req.missing)


def schema(req: SiteRequest) -> TaskResult:
    """The columns, kinds and categorical levels seen here, the usable row count, and
    (without a feature list) the columns that identify people here (names and reasons,
    no values: they are refused as features). In an image study: usable slices and the
    image checks' findings (counts per kind)."""
    if req.config.images:
        from .images import image_schema

        return image_schema(req.config, req.name, req.key)
    here = _here(req)
    local = here.local_schema()
    usable = here.usable_rows(local)
    data = req.config.data
    texts = {"schema": schema_to_json(local),
             "data": "its UCI heart-disease file" if data == "builtin:heart-disease"
             else data if data.startswith("builtin:") else Path(data).name}
    if here.identifiers:
        texts["identifiers"] = json.dumps(here.identifiers, sort_keys=True)
    n_test = math.ceil(usable * req.config.test_size)
    result = TaskResult(metrics={"n-rows": usable, "n-test": n_test,
                                 "n-dropped": len(here.frame) - usable},
                        texts=texts)
    also = req.cfg.get(ConfigKey.ALSO_QUALITY)
    if also is not None and ineligible(req.config, usable, n_test) is None:
        # the quality round's answer under this site's own schema, in this reply: the
        # coordinator uses it when the agreed schema is this very one (one message round
        # fewer), and otherwise asks again under the agreed schema. Only a site the
        # eligibility rules keep sends it: an excluded site sends no aggregate.
        checked = quality(dataclasses.replace(
            req, cfg={ConfigKey.SCHEMA: texts["schema"], ConfigKey.ALSO_SUM: str(also)}))
        result.records[QUALITY_RECORD] = checked.metrics
        result.records.update(checked.records)
        result.arrays = checked.arrays
    return result


def quality(req: SiteRequest) -> TaskResult:
    """This site's data-quality aggregates (small-cell protected; docs/quality.md), its
    values first converted from its own units to the schema's (and its missing-value
    codes recoded). When the coordinator asks (:attr:`ConfigKey.ALSO_SUM`, a study in
    the clear), also the imputation sums or standardisation moments, exactly as their
    own message would give them: arrays in the reply's ``arrays``, metrics in its
    ``sums`` record; the reply passes the same mods (policy, small-cell on every metric
    record, audit)."""
    from fedcare.quality import site_quality

    here = _here(req)
    aggregates = site_quality(here.frame, schema_from_json(str(req.cfg[ConfigKey.SCHEMA])),
                              req.name, min_cell=req.config.min_cell, units=dict(req.units),
                              positive=req.config.positive or None)
    result = TaskResult(metrics=dict(aggregates))
    also = str(req.cfg.get(ConfigKey.ALSO_SUM, "") or "")
    if also:  # the next set-up round's sums, in this reply: one message round fewer
        if also not in _SUMS_WITH_QUALITY:
            raise ValueError(f"a quality message can also carry "
                             f"{sorted(_SUMS_WITH_QUALITY)}, not {also!r}")
        if req.config.secure_aggregation:  # sums only through SecAgg+ in such a study
            raise PolicyRefusal(f"site '{req.name}' refuses to send {also} sums in the "
                                "clear: the study uses secure aggregation")
        sums = _SUMS_WITH_QUALITY[also](req)
        result.arrays = sums.arrays
        result.records[SUMS_RECORD] = sums.metrics
    return result


def impute_sums(req: SiteRequest) -> TaskResult:
    """For the federated imputation: per encoded column of the agreed schema, the
    training rows with a value and their sum, and the usable rows (train and test)
    without one. Categorical columns are never missing here (such rows are dropped)."""
    split = cached_split(req.config, req.name, str(req.cfg[ConfigKey.SCHEMA]), req.units,
                         req.missing, key=req.key, cache=req.cache, keep_missing=True)
    present = ~np.isnan(split.X_train)
    absent = np.isnan(split.X_train).sum(axis=0) + np.isnan(split.X_test).sum(axis=0)
    return TaskResult([present.sum(axis=0).astype(np.float64),
                       np.where(present, split.X_train, 0.0).sum(axis=0),
                       absent.astype(np.float64)],
                      {"num-examples": len(split.y_train)})


def moments(req: SiteRequest) -> TaskResult:
    """The training rows' count, column sums and sums of squares (standardisation)."""
    n, total, total_sq = site_moments(req.prepared().split.X_train)
    return TaskResult([total, total_sq], {"num-examples": n})


_SUMS_WITH_QUALITY: dict[str, Task] = {MessageType.IMPUTE: impute_sums,
                                       MessageType.MOMENTS: moments}
"""The sums a ``query.quality`` message may also ask for (:attr:`ConfigKey.ALSO_SUM`),
in a study in the clear: both take only the agreed schema the quality check reads."""


# -- training -------------------------------------------------------------------------
def newton_statistics(req: SiteRequest) -> TaskResult:
    """The log-loss gradient and Hessian summed over the training rows, at the weights
    sent (coefficients then intercept), and the summed loss."""
    from fedcare.models._logistic_math import logistic_gradient_hessian

    prep = req.prepared()
    gradient, hessian, loss = logistic_gradient_hessian(
        prep.X_train, prep.split.y_train.astype(np.float64), req.arrays[0])
    return TaskResult([gradient, hessian], {"num-examples": len(prep.split.y_train),
                                            "train-loss": loss})


@lru_cache(maxsize=64)
def _dp_plan(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    return noise_for_budget(epsilon, delta, sample_rate, steps)


def optimiser(config: StudyConfig, n_train: int) -> BatchOptimiser:
    """Plain mini-batch SGD, or DP-SGD calibrated to spend the study's budget exactly
    over ``rounds`` x ``local_steps`` steps."""
    from fedcare.models import MinibatchSGD

    if not config.dp_epsilon or config.dp_level != "record":
        return MinibatchSGD(config.batch_size)
    rate = min(1.0, config.batch_size / n_train)
    sigma = _dp_plan(config.dp_epsilon, config.dp_delta, rate, config.rounds * config.local_steps)
    return DPSGD(noise_multiplier=sigma, max_grad_norm=config.dp_max_grad_norm,
                 sample_rate=rate)


def _spent(config: StudyConfig, opt: BatchOptimiser, steps: int) -> float:
    if not isinstance(opt, DPSGD):
        return 0.0
    return epsilon_spent(opt.noise_multiplier, opt.sample_rate, steps, config.dp_delta)


def model_of(config: StudyConfig, arrays: list[np.ndarray]) -> Any:
    """The study's model with the given arrays."""
    from fedcare.models import LogisticRegression, make_model

    if config.model == "logistic":
        return LogisticRegression(C=config.C).set_arrays(arrays)
    return make_model(config.model, random_state=config.seed).set_arrays(arrays)


def train(req: SiteRequest) -> TaskResult:
    """FedAvg / FedProx / FedAdam local training from the global arrays (DP-SGD when the
    study asks for record-level DP; refused past the budget)."""
    config, prep = req.config, req.prepared()
    split = prep.split
    # rounds continue across a resumed study, so that seeds never repeat
    server_round = int(req.cfg.get(ConfigKey.SERVER_ROUND, 0)) + int(
        req.cfg.get(ConfigKey.ROUND_OFFSET, 0))
    opt = optimiser(config, len(split.y_train))
    steps = int(req.state.get(DP_STEPS, 0)) + config.local_steps
    if isinstance(opt, DPSGD) and steps > config.rounds * config.local_steps:
        raise PrivacyBudgetError(
            f"site '{split.name}': round {server_round} would take DP-SGD past its budget "
            f"(epsilon {config.dp_epsilon}, planned for {config.rounds} rounds)")
    prox_mu = float(req.cfg.get(ConfigKey.PROXIMAL_MU, 0.0))
    seed = config.seed * 100_003 + server_round * 1_009 + sum(map(ord, split.name))
    if config.model == "logistic":  # numpy only: no scikit-learn in this process
        from fedcare.models._logistic_math import sgd_local_update

        coef, intercept = (np.asarray(a, dtype=np.float64).ravel() for a in req.arrays)
        w = sgd_local_update(np.concatenate([coef, intercept]), prep.X_train,
                             split.y_train, C=config.C, steps=config.local_steps,
                             lr=config.lr, optimiser=opt, prox_mu=prox_mu, seed=seed)
        arrays = [w[:-1].copy(), w[-1:].copy()]
    else:
        model = model_of(config, req.arrays)
        model.local_update(prep.X_train, split.y_train, steps=config.local_steps,
                           lr=config.lr, batch_size=config.batch_size, prox_mu=prox_mu,
                           seed=seed, optimiser=opt)
        arrays = model.get_arrays()
    metrics: dict[str, float | int | None] = {"num-examples": len(split.y_train)}
    if isinstance(opt, DPSGD):
        req.state[DP_STEPS] = steps
        metrics["dp-epsilon"] = _spent(config, opt, steps)
    return TaskResult(arrays, metrics)


# -- evaluation -----------------------------------------------------------------------
def _risk(config: StudyConfig, arrays: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    if config.model == "logistic":
        coef, intercept = arrays
        return np.asarray(expit(X @ coef.ravel() + intercept[0]))
    return np.asarray(model_of(config, arrays).predict_proba(X)[:, 1])


def _evaluated(split: SiteSplit, p: np.ndarray, **texts: str) -> TaskResult:
    metrics: dict[str, float | int | None] = dict(binary_metrics(split.y_test, p))
    eps = 1e-12
    metrics["test-loss"] = float(
        -np.mean(split.y_test * np.log(p + eps) + (1 - split.y_test) * np.log(1 - p + eps)))
    metrics["num-examples"] = metrics.pop("n")
    metrics["n-train"] = len(split.y_train)
    metrics["n-events"] = int(split.y_test.sum())
    metrics["n-non-events"] = int(len(split.y_test) - split.y_test.sum())
    return TaskResult(metrics=metrics, texts={k: v for k, v in texts.items() if v})


def evaluate(req: SiteRequest) -> TaskResult:
    """Test-set metrics of the global model here, and the DP budget spent so far."""
    config, prep = req.config, req.prepared()
    result = _evaluated(prep.split, _risk(config, req.arrays, prep.X_test))
    opt = optimiser(config, len(prep.split.y_train))
    if isinstance(opt, DPSGD):
        result.metrics["dp-epsilon"] = _spent(config, opt, int(req.state.get(DP_STEPS, 0)))
        result.metrics["dp-noise-multiplier"] = opt.noise_multiplier
    return result


def evaluate_local(req: SiteRequest) -> TaskResult:
    """A model trained on this site's rows alone (own standardisation), tested here."""
    from fedcare.models import LogisticRegression, make_model
    from fedcare.models._personalise import ConstantRisk

    config, split = req.config, req.prepared().split
    # slices are windowed to [0, 1] as they are read: no per-pixel standardisation
    own = Standardiser.identity(split.X_train.shape[1]) if config.images \
        else Standardiser.fit(split.X_train)
    if len(np.unique(split.y_train)) < 2:
        p = ConstantRisk(float(np.mean(split.y_train))).predict_proba(split.X_test)[:, 1]
        return _evaluated(split, p, model="constant-prior")
    if config.model == "logistic":
        model: Any = LogisticRegression(C=config.C)
    else:
        model = make_model(config.model, random_state=config.seed)
    model.fit(own.transform(split.X_train), split.y_train)
    return _evaluated(split, model.predict_proba(own.transform(split.X_test))[:, 1],
                      model=config.model)


def evaluate_personalised(req: SiteRequest) -> TaskResult:
    """The global model adapted to this site's training rows, tested here."""
    from fedcare.models._personalise import personalise

    config, prep = req.config, req.prepared()
    adapted = personalise(model_of(config, req.arrays), prep.X_train, prep.split.y_train,
                          method=personalise_method(config), seed=config.seed)
    return _evaluated(prep.split, adapted.predict_proba(prep.X_test)[:, 1],
                      method=adapted.method)


def personalise_method(config: StudyConfig) -> str:
    """The study's personalisation; for a CNN, ``auto`` and ``finetune`` (a penalised
    logistic model over every pixel) become ``intercept``: the site's baseline risk
    re-estimated over the global network's output (recalibration in the large)."""
    if config.model == "cnn" and config.personalise in ("auto", "finetune"):
        return "intercept"
    return config.personalise


def _evaluating_first(task: Task, model: Callable[[list[np.ndarray]], list[np.ndarray]]
                      ) -> Task:
    """``task``, preceded (when the coordinator asks, with
    :attr:`~fedcare.federation.protocol.ConfigKey.EVALUATE_RECEIVED`) by :func:`evaluate`
    of the model the message carries, i.e. the previous round's global model: its metrics
    come back in the reply's ``evaluation`` record. The same figures as an ``evaluate``
    message with that model, one ClientApp process and one message round fewer; the
    reply passes the same mods (policy, small-cell on every metric record, audit)."""

    def run(req: SiteRequest) -> TaskResult:
        evaluation = None
        if req.cfg.get(ConfigKey.EVALUATE_RECEIVED):  # before training changes the state
            evaluation = evaluate(dataclasses.replace(req, arrays=model(req.arrays)))
        result = task(req)
        if evaluation is not None:
            result.records[EVALUATION_RECORD] = evaluation.metrics
        return result

    run.__name__ = run.__qualname__ = task.__name__
    run.__doc__ = task.__doc__
    return run


def _newton_model(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Newton weights (coefficients then intercept, one array) as model arrays."""
    weights = arrays[0].ravel()
    return [weights[:-1], weights[-1:]]


FINAL_SETTINGS: dict[str, Task] = {"local": evaluate_local,
                                   "personalised": evaluate_personalised}
"""The final evaluation's settings beside the global model, each also its own message."""


def evaluate_with_settings(req: SiteRequest) -> TaskResult:
    """:func:`evaluate`, and the settings of :data:`FINAL_SETTINGS` the coordinator names
    in :attr:`~fedcare.federation.protocol.ConfigKey.ALSO_EVALUATE` (the final
    evaluation in one message): each setting's metrics in the reply's record of that
    name, its texts as ``<setting>.<text>``."""
    result = evaluate(req)
    for setting in filter(None, str(req.cfg.get(ConfigKey.ALSO_EVALUATE, "")).split(",")):
        if setting not in FINAL_SETTINGS:
            raise ValueError(f"unknown evaluation setting {setting!r}; expected one of "
                             f"{sorted(FINAL_SETTINGS)}")
        extra = FINAL_SETTINGS[setting](req)
        result.records[setting] = extra.metrics
        result.texts.update({f"{setting}.{k}": v for k, v in extra.texts.items()})
    return result


ANALYTICS_TYPES = (MessageType.ANALYTICS_SETUP, MessageType.DESCRIBE,
                   MessageType.EVENT_TIMES, MessageType.KM, MessageType.COX,
                   MessageType.RECALIBRATE)
"""The analytics message types (:mod:`.analytics` answers them)."""


def _analytics(kind: str) -> Task:
    """The analytics task for ``kind``, imported when a message asks for it (it reads
    the table with pandas; a study's ClientApp process never needs it)."""

    def run(req: SiteRequest) -> TaskResult:
        if kind == MessageType.COX:  # a Cox round from the design cached by the last one
            from .cox import cached_design, cox_answer

            design = cached_design(req)
            if design is not None:
                return cox_answer(req, design)
        from . import analytics

        return analytics.TASKS[kind](req)

    run.__name__ = run.__qualname__ = kind.replace(".", "_")
    return run


TASKS: dict[str, Task] = {
    MessageType.SCHEMA: schema,
    MessageType.QUALITY: quality,
    MessageType.IMPUTE: impute_sums,
    MessageType.MOMENTS: moments,
    MessageType.NEWTON: _evaluating_first(newton_statistics, _newton_model),
    MessageType.TRAIN: _evaluating_first(train, list),
    MessageType.EVALUATE: evaluate_with_settings,
    MessageType.EVALUATE_LOCAL: evaluate_local,
    MessageType.EVALUATE_PERSONALISED: evaluate_personalised,
    **{kind: _analytics(kind) for kind in ANALYTICS_TYPES},
}
"""Every site task by the message type that asks for it."""
