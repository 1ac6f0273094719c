"""The site side: a Flower ClientApp that trains and evaluates on the site's own rows.

Every reply holds only arrays of the model's shapes (or of the standardisation sums)
and aggregate metrics; rows never leave the handler.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from scipy.special import expit

from fedcare.data._standardise import Standardiser, site_moments
from fedcare.evaluation import binary_metrics
from fedcare.exceptions import PrivacyBudgetError
from fedcare.models import (
    BatchOptimiser,
    LogisticRegression,
    MinibatchSGD,
    logistic_gradient_hessian,
    make_model,
)
from fedcare.models._personalise import ConstantRisk, personalise
from fedcare.privacy import DPSGD, epsilon_spent, noise_for_budget
from fedcare.quality import site_quality
from fedcare.study._config import StudyConfig
from fedcare.study._policy import read_site_units
from fedcare.study._sites import Site, SiteSplit, schema_from_json, schema_to_json, site_names

from . import _analytics
from ._audit import make_audit_mod
from ._policy import make_policy_mod
from ._records import arrays_of, config_of
from ._small_cell import make_small_cell_mod

__all__ = ["client_app"]

# Mods run outermost first: the audit log records the reply after suppression, and the
# site's policy is checked before anything touches its data.
client_app = ClientApp(mods=[make_audit_mod(), make_policy_mod(), make_small_cell_mod()])


Units = tuple[tuple[str, str], ...]


@lru_cache(maxsize=64)
def _site(config_json: str, name: str, units: Units = ()) -> Site:
    return Site(StudyConfig(**json.loads(config_json)), name, dict(units))


@lru_cache(maxsize=64)
def _split(config_json: str, name: str, schema_json: str, units: Units = ()) -> SiteSplit:
    return _site(config_json, name, units).split(schema_from_json(schema_json))


@lru_cache(maxsize=16)
def _units_of(path: str, stamp: tuple[int, int]) -> Units:
    return tuple(sorted(read_site_units(path).items()))


def site_units(context: Context) -> Units:
    """This site's own units (``[units]`` of the file ``node_config['site-config']``).

    Re-read when the file changes (its modification time or size).
    """
    path = context.node_config.get("site-config")
    if not path:
        return ()
    try:
        stat = Path(str(path)).stat()
    except OSError:
        return _units_of(str(path), (0, 0))  # read_site_units names the missing file
    return _units_of(str(path), (stat.st_mtime_ns, stat.st_size))


def _config(context: Context) -> tuple[StudyConfig, str]:
    """The study's settings as this site applies them.

    In a deployment each site reads its own table: ``node_config`` may name it with
    ``data`` (a CSV/Parquet path, or ``builtin:heart-disease``) and ``data-dir``.
    """
    items = dict(context.run_config)
    for key in ("data", "data-dir"):
        if key in context.node_config:
            items[key] = context.node_config[key]
    return _config_cached(tuple(sorted(items.items())))


@lru_cache(maxsize=16)
def _config_cached(items: tuple[tuple[str, Any], ...]) -> tuple[StudyConfig, str]:
    config = StudyConfig.from_run_config(dict(items))
    return config, json.dumps(asdict(config), sort_keys=True)


@dataclass(frozen=True)
class _Prepared:
    """A site's split with its standardised copies (cached across rounds)."""

    split: SiteSplit
    std: Standardiser
    X_train: np.ndarray
    X_test: np.ndarray


@lru_cache(maxsize=64)
def _prepared(key: str, name: str, schema_json: str, mean: tuple[float, ...] | None,
              scale: tuple[float, ...] | None, standardise: str, units: Units = ()
              ) -> _Prepared:
    split = _split(key, name, schema_json, units)
    if mean is not None and scale is not None:
        std = Standardiser(np.asarray(mean), np.asarray(scale))
    elif standardise == "local":
        std = Standardiser.fit(split.X_train)
    else:
        std = Standardiser.identity(split.X_train.shape[1])
    return _Prepared(split, std, std.transform(split.X_train), std.transform(split.X_test))


def site_name(context: Context, config: StudyConfig) -> str:
    """This node's site: ``node_config['site']``, else the partition-id-th sorted site."""
    if "site" in context.node_config:
        return str(context.node_config["site"])
    return site_names(config)[int(context.node_config["partition-id"])]


def _prepare(message: Message, context: Context) -> tuple[StudyConfig, _Prepared]:
    config, key = _config(context)
    name = site_name(context, config)
    cfg = config_of(message.content)
    mean = tuple(cast(list[float], cfg["std-mean"])) if "std-mean" in cfg else None
    scale = tuple(cast(list[float], cfg["std-scale"])) if "std-scale" in cfg else None
    return config, _prepared(key, name, str(cfg["schema"]), mean, scale, config.standardise,
                             site_units(context))


def _risk(config: StudyConfig, arrays: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    """Predicted risk of the model given by ``arrays`` (no input re-validation)."""
    if config.model == "logistic":
        coef, intercept = arrays
        return np.asarray(expit(X @ coef.ravel() + intercept[0]))
    return np.asarray(_model(config, arrays).predict_proba(X)[:, 1])


def _model(config: StudyConfig, arrays: list[np.ndarray]) -> Any:
    if config.model == "logistic":
        return LogisticRegression(C=config.C).set_arrays(arrays)
    return make_model(config.model, random_state=config.seed).set_arrays(arrays)


def _reply(message: Message, name: str, metrics: dict[str, float | int | None],
           arrays: list[np.ndarray] | None = None, **extra: str) -> Message:
    record = RecordDict()
    if arrays is not None:
        record["arrays"] = ArrayRecord(arrays)
    record["metrics"] = MetricRecord(
        {k: (float("nan") if v is None else v) for k, v in metrics.items()}
    )
    record["site"] = ConfigRecord({"site": name, **extra})
    return Message(content=record, reply_to=message)


@client_app.query("schema")
def query_schema(message: Message, context: Context) -> Message:
    """Send the columns, kinds and categorical levels seen here, and the usable row count."""
    config, key = _config(context)
    name = site_name(context, config)
    site = _site(key, name)
    schema = site.local_schema()
    names = [f.name for f in schema.features]
    usable = int(site.frame[names].notna().all(axis=1).sum())
    n_test = math.ceil(usable * config.test_size)
    return _reply(message, name, {"n-rows": usable, "n-test": n_test,
                                  "n-dropped": len(site.frame) - usable},
                  schema=schema_to_json(schema))


@client_app.query("quality")
def query_quality(message: Message, context: Context) -> Message:
    """Send this site's data-quality aggregates (small-cell protected; docs/quality.md).

    Values recorded in the site's own units (its site config's ``[units]``) are
    converted to the schema's first.
    """
    config, key = _config(context)
    name = site_name(context, config)
    schema = schema_from_json(str(config_of(message.content)["schema"]))
    aggregates = site_quality(_site(key, name).frame, schema, name, min_cell=config.min_cell,
                              units=dict(site_units(context)),
                              positive=config.positive or None)
    return _reply(message, name, dict(aggregates))


@client_app.query("moments")
def query_moments(message: Message, context: Context) -> Message:
    """Send the training rows' count, column sums and sums of squares (standardisation)."""
    _, prep = _prepare(message, context)
    n, total, total_sq = site_moments(prep.split.X_train)
    return _reply(message, prep.split.name, {"num-examples": n}, [total, total_sq])


@lru_cache(maxsize=64)
def _dp_plan(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    return noise_for_budget(epsilon, delta, sample_rate, steps)


def _optimiser(config: StudyConfig, n_train: int) -> BatchOptimiser:
    """Plain mini-batch SGD, or DP-SGD calibrated to spend the study's budget exactly."""
    if not config.dp_epsilon or config.dp_level != "record":
        return MinibatchSGD(config.batch_size)
    rate = min(1.0, config.batch_size / n_train)
    sigma = _dp_plan(config.dp_epsilon, config.dp_delta, rate, config.rounds * config.local_steps)
    return DPSGD(noise_multiplier=sigma, max_grad_norm=config.dp_max_grad_norm,
                 sample_rate=rate)


def _dp_steps(context: Context) -> int:
    record = context.state.metric_records.get("dp")
    return int(cast(int, record["steps"])) if record is not None else 0


def _dp_spent(config: StudyConfig, optimiser: BatchOptimiser, steps: int) -> float:
    if not isinstance(optimiser, DPSGD):
        return 0.0
    return epsilon_spent(optimiser.noise_multiplier, optimiser.sample_rate, steps,
                         config.dp_delta)


@client_app.train()
def train(message: Message, context: Context) -> Message:
    """FedAvg / FedProx / FedAdam local training from the global arrays."""
    config, prep = _prepare(message, context)
    split = prep.split
    cfg = config_of(message.content)
    model = _model(config, arrays_of(message.content))
    # rounds continue across a resumed study, so that seeds never repeat
    server_round = int(cast(int, cfg.get("server-round", 0))) + int(
        cast(int, cfg.get("round-offset", 0)))
    optimiser = _optimiser(config, len(split.y_train))
    steps = _dp_steps(context) + config.local_steps
    if isinstance(optimiser, DPSGD) and steps > config.rounds * config.local_steps:
        raise PrivacyBudgetError(
            f"site '{split.name}': round {server_round} would take DP-SGD past its budget "
            f"(epsilon {config.dp_epsilon}, planned for {config.rounds} rounds)")
    model.local_update(
        prep.X_train, split.y_train, steps=config.local_steps, lr=config.lr,
        batch_size=config.batch_size, prox_mu=float(cast(float, cfg.get("proximal-mu", 0.0))),
        seed=config.seed * 100_003 + server_round * 1_009 + sum(map(ord, split.name)),
        optimiser=optimiser,
    )
    metrics: dict[str, float | int | None] = {"num-examples": len(split.y_train)}
    if isinstance(optimiser, DPSGD):
        context.state["dp"] = MetricRecord({"steps": steps})
        metrics["dp-epsilon"] = _dp_spent(config, optimiser, steps)
    return _reply(message, split.name, metrics, model.get_arrays())


@client_app.train("newton")
def train_newton(message: Message, context: Context) -> Message:
    """Send the log-loss gradient and Hessian summed over this site's training rows."""
    _, prep = _prepare(message, context)
    split = prep.split
    weights = arrays_of(message.content)[0]
    gradient, hessian, loss = logistic_gradient_hessian(
        prep.X_train, split.y_train.astype(np.float64), weights
    )
    return _reply(message, split.name, {"num-examples": len(split.y_train), "train-loss": loss},
                  [gradient, hessian])


def _evaluate_reply(message: Message, split: SiteSplit, p: np.ndarray, method: str = "",
                    model: str = "") -> Message:
    metrics: dict[str, float | int | None] = dict(binary_metrics(split.y_test, p))
    eps = 1e-12
    metrics["test-loss"] = float(
        -np.mean(split.y_test * np.log(p + eps) + (1 - split.y_test) * np.log(1 - p + eps))
    )
    metrics["num-examples"] = metrics.pop("n")
    metrics["n-train"] = len(split.y_train)
    metrics["n-events"] = int(split.y_test.sum())
    metrics["n-non-events"] = int(len(split.y_test) - split.y_test.sum())
    extra = {k: v for k, v in (("method", method), ("model", model)) if v}
    return _reply(message, split.name, metrics, None, **extra)


@client_app.evaluate()
def evaluate(message: Message, context: Context) -> Message:
    """Test-set metrics of the global model at this site, and the epsilon it spent."""
    config, prep = _prepare(message, context)
    p = _risk(config, arrays_of(message.content), prep.X_test)
    reply = _evaluate_reply(message, prep.split, p)
    optimiser = _optimiser(config, len(prep.split.y_train))
    if isinstance(optimiser, DPSGD):
        reply.content.metric_records["metrics"]["dp-epsilon"] = _dp_spent(
            config, optimiser, _dp_steps(context))
        reply.content.metric_records["metrics"]["dp-noise-multiplier"] = (
            optimiser.noise_multiplier)
    return reply


@client_app.evaluate("local")
def evaluate_local(message: Message, context: Context) -> Message:
    """Train a model on this site's rows alone (own standardisation) and test it."""
    config, prep = _prepare(message, context)
    split = prep.split
    own = Standardiser.fit(split.X_train)
    if len(np.unique(split.y_train)) < 2:
        p = ConstantRisk(float(np.mean(split.y_train))).predict_proba(split.X_test)[:, 1]
        return _evaluate_reply(message, split, p, model="constant-prior")
    if config.model == "logistic":
        model: Any = LogisticRegression(C=config.C)
    else:
        model = make_model(config.model, random_state=config.seed)
    model.fit(own.transform(split.X_train), split.y_train)
    p = model.predict_proba(own.transform(split.X_test))[:, 1]
    return _evaluate_reply(message, split, p, model=config.model)


@client_app.evaluate("personalised")
def evaluate_personalised(message: Message, context: Context) -> Message:
    """Adapt the global model to this site's training rows, then test it."""
    config, prep = _prepare(message, context)
    model = _model(config, arrays_of(message.content))
    adapted = personalise(model, prep.X_train, prep.split.y_train,
                          method=config.personalise, seed=config.seed)
    p = adapted.predict_proba(prep.X_test)[:, 1]
    return _evaluate_reply(message, prep.split, p, method=adapted.method)


# Federated analytics (fedcare.federation._analytics): protected aggregates only.
client_app.query("analytics_setup")(_analytics.handle_setup)
client_app.query("describe")(_analytics.handle_describe)
client_app.query("event_times")(_analytics.handle_event_times)
client_app.query("km")(_analytics.handle_km)
client_app.query("cox")(_analytics.handle_cox)
