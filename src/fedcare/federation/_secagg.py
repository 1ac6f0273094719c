"""Secure aggregation: Flower's SecAgg+ under every horizontal strategy.

With SecAgg+ the coordinator sees only the *sum* over sites of what they send: the
standardisation moments (row count, column sums, sums of squares), Newton's gradient and
Hessian sums, and FedAvg's example-weighted arrays.  No site's own arrays, row count or
training loss reach it.

Flower 1.41 offers SecAgg+ only through its legacy API, so this module uses it: a
``NumPyClient`` per site behind :func:`flwr.client.mod.secaggplus_mod`, and on the
coordinator a legacy strategy driven by ``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow)``
in a :class:`~flwr.server.LegacyContext`.  At least 3 sites are needed.

How the sum stays exact
-----------------------
``secaggplus_mod`` scales a site's arrays by ``num_examples / max_weight``, clips them to
``[-c, c]`` (``c = clipping_range``), rounds them *stochastically* onto a grid of ``T =
quantization_range`` steps, and masks them; ``SecAggPlusWorkflow`` unmasks the sum and
divides it by the summed weights.  Here every site reports weight 1 (``max_weight`` 1), so
the coordinator gets the mean over its ``k`` sites and multiplies by ``k``.  Each float is
sent as ``L`` *limbs* (:func:`encode_limbs`): ``x`` rounded to the grid step ``2c/T``, then
the remainder times ``T`` rounded likewise, and so on.  With ``c`` and ``T`` powers of two
every limb already lies on the grid, so Flower's stochastic rounding leaves it unchanged,
and the only error is the rounding of the last limb: at most ``c / T**L`` per site and
element, i.e.

    |secure sum - plain sum| <= k * c / T**L   (+ float64 rounding, ~1e-16 relative)

``T = 2**(32 - ceil(log2(k + 1)))`` (2**29 for 4 sites: the sum of k quantised values must
stay below Flower's 2**32 mask modulus).  Training arrays: ``c = 2**27``, ``L = 2``, bound
``k * 2**-31`` (1.9e-9 for 4 sites).  Standardisation sums: ``c = 2**40``, ``L = 3``, bound
``k * 2**-47``.  A value beyond ``c`` is refused at the site (never clipped silently).

Robust aggregation (median, Krum, ...), the norm bound and coordinator-side client-level
DP need each site's update and so cannot run under SecAgg+; :func:`run_secure` refuses
them.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, cast

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord
from flwr.client import Client, NumPyClient
from flwr.client.message_handler.message_handler import handle_legacy_message_from_msgtype
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.common import (
    FitIns,
    FitRes,
    NDArrays,
    Parameters,
    Scalar,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server import LegacyContext, ServerConfig
from flwr.server.client_manager import ClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg as LegacyFedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAdam
from flwr.serverapp.strategy import FedAvg as MessageFedAvg

from fedcare.data._standardise import combine_moments, site_moments
from fedcare.exceptions import FederationError, PrivacyBudgetError
from fedcare.models import LogisticRegression, logistic_gradient_hessian, make_model, newton_update
from fedcare.study._config import StudyConfig
from fedcare.study._sites import schema_from_json

from ._audit import make_audit_mod
from ._client import (
    _config,
    _dp_spent,
    _dp_steps,
    _model,
    _optimiser,
    _prepared,
    evaluate,
    evaluate_local,
    evaluate_personalised,
    query_quality,
    query_schema,
    site_name,
    site_units,
)
from ._policy import make_policy_mod
from ._server import (
    _Participants,
    agree_schema,
    apply_quality,
    check_quality,
    final_evaluations,
    wait_for_sites,
)
from ._small_cell import make_small_cell_mod

__all__ = [
    "MODULUS_RANGE",
    "SECURE_CLIP",
    "SECURE_LIMBS",
    "decode_limbs",
    "encode_limbs",
    "error_bound",
    "legacy_client_app",
    "quantization_range",
    "run_secure",
    "secagg_client_app",
]

MODULUS_RANGE = 2**32
"""Flower's default (and largest) mask modulus."""

SECURE_CLIP = {"moments": 2.0**40, "train": 2.0**27}
"""Clipping range ``c`` per task (a power of two): the largest absolute value a site may send."""

SECURE_LIMBS = {"moments": 3, "train": 2}
"""Limbs per float (see :func:`encode_limbs`): the error bound is ``k * c / T**limbs``."""

_CLIP_KEY, _RANGE_KEY, _LIMBS_KEY = (
    "secagg-clipping-range", "secagg-quantization-range", "secagg-limbs")


# ---------------------------------------------------------------------------- encoding
def quantization_range(n_sites: int) -> int:
    """The largest power of two ``T`` with ``n_sites * T < 2**32`` (no wrap-around of the sum)."""
    if n_sites < 3:
        raise FederationError(f"SecAgg+ needs at least 3 sites, got {n_sites}")
    return 2 ** (32 - math.ceil(math.log2(n_sites + 1)))


def error_bound(n_sites: int, clip: float, limbs: int, target: int | None = None) -> float:
    """Largest absolute error of one element of the secure sum (before float rounding)."""
    target = quantization_range(n_sites) if target is None else target
    return n_sites * clip / float(target) ** limbs


def encode_limbs(arrays: NDArrays, clip: float, target: int, limbs: int) -> NDArrays:
    """Split each float array into ``limbs`` limbs that Flower's quantiser keeps exact.

    Limb 0 is ``x`` rounded to the grid step ``2 * clip / target``; limb ``j`` is the
    remainder of limb ``j - 1`` times ``target``, rounded to the same step.  Each lies in
    ``[-clip, clip]`` on the grid, so SecAgg+'s stochastic rounding leaves it unchanged;
    ``sum_j limb_j / target**j`` recovers ``x`` to within ``clip / target**limbs``.

    Parameters
    ----------
    arrays : list of ndarray
        Any shapes; at most ``clip`` in absolute value (checked: never clipped silently).
    clip, target : float, int
        SecAgg+'s ``clipping_range`` and ``quantization_range`` (powers of two).
    limbs : int
        At least 1.

    Returns
    -------
    list of ndarray
        ``limbs * len(arrays)`` float64 arrays: every array's limb 0, then every limb 1, ...
    """
    step = 2 * clip / target
    out: list[list[np.ndarray]] = [[] for _ in range(limbs)]
    for array in arrays:
        rest = np.asarray(array, dtype=np.float64)
        if not np.all(np.isfinite(rest)) or np.any(np.abs(rest) > clip):
            raise FederationError(
                f"secure sum: a value is not finite or exceeds the clipping range {clip:g}")
        for j in range(limbs):
            limb = np.round(rest / step) * step
            out[j].append(limb)
            rest = (rest - limb) * target
    return [a for limb in out for a in limb]


def decode_limbs(encoded: NDArrays, target: int, limbs: int) -> NDArrays:
    """Inverse of :func:`encode_limbs` on (sums of) limbs: ``sum_j limb_j / target**j``."""
    m = len(encoded) // limbs
    return [sum((np.asarray(encoded[j * m + i], dtype=np.float64) / float(target) ** j
                 for j in range(limbs)), start=np.zeros(np.shape(encoded[i])))
            for i in range(m)]


# ---------------------------------------------------------------------------- site side
class _SecureSite(NumPyClient):
    """One site: computes what the fit config's ``task`` asks for, as arrays to be summed.

    ``moments``: ``[n, column sums, column sums of squares]`` of the training rows;
    ``newton``: ``[gradient sum, Hessian sum, loss sum, n]`` at the sent weights;
    ``fedavg``: ``[n * array for each local-SGD array] + [n]``.
    The example count is always 1 (the weight SecAgg+ sees); the metrics are empty.
    """

    def __init__(self, context: Context) -> None:
        self._context = context

    def fit(self, parameters: NDArrays, config: dict[str, Scalar]
            ) -> tuple[NDArrays, int, dict[str, Scalar]]:
        context = self._context
        study, key = _config(context)
        name = site_name(context, study)
        mean = tuple(json.loads(str(config["std-mean"]))) if "std-mean" in config else None
        scale = tuple(json.loads(str(config["std-scale"]))) if "std-scale" in config else None
        prep = _prepared(key, name, str(config["schema"]), mean, scale, study.standardise,
                         site_units(context))
        split = prep.split
        n = float(len(split.y_train))
        task = str(config["task"])
        if task == "moments":
            count, total, total_sq = site_moments(split.X_train)
            arrays = [np.array([float(count)]), total, total_sq]
        elif task == "newton":
            gradient, hessian, loss = logistic_gradient_hessian(
                prep.X_train, split.y_train.astype(np.float64), parameters[0])
            arrays = [gradient, hessian, np.array([loss * n]), np.array([n])]
        elif task == "fedavg":
            arrays = [n * np.asarray(a, dtype=np.float64)
                      for a in self._local_sgd(study, prep, parameters, config)]
            arrays.append(np.array([n]))
        else:
            raise FederationError(f"unknown secure task '{task}'")
        if _CLIP_KEY in config:
            arrays = encode_limbs(arrays, float(config[_CLIP_KEY]), int(config[_RANGE_KEY]),
                                  int(config[_LIMBS_KEY]))
        return arrays, 1, {}

    def _local_sgd(self, study: StudyConfig, prep: Any, parameters: NDArrays,
                   config: dict[str, Scalar]) -> NDArrays:
        """The plain app's local training (same seeds), returning the updated arrays."""
        split = prep.split
        model = _model(study, list(parameters))
        server_round = int(config.get("server-round", 0))
        optimiser = _optimiser(study, len(split.y_train))
        steps = _dp_steps(self._context) + study.local_steps
        if _dp_spent(study, optimiser, steps) and steps > study.rounds * study.local_steps:
            raise PrivacyBudgetError(f"site '{split.name}': round {server_round} would take "
                                     "DP-SGD past its budget")
        model.local_update(
            prep.X_train, split.y_train, steps=study.local_steps, lr=study.lr,
            batch_size=study.batch_size, prox_mu=float(config.get("proximal-mu", 0.0)),
            seed=study.seed * 100_003 + server_round * 1_009 + sum(map(ord, split.name)),
            optimiser=optimiser,
        )
        self._context.state["dp"] = MetricRecord({"steps": steps})
        return cast(NDArrays, model.get_arrays())


def _client_fn(context: Context) -> Client:
    return _SecureSite(context).to_client()


def _legacy_train(message: Message, context: Context) -> Message:
    return handle_legacy_message_from_msgtype(_client_fn, message, context)


def _register_plain_handlers(app: ClientApp) -> None:
    """The plain app's schema and quality queries and evaluations (aggregates, small-cell
    protected)."""
    app.query("schema", mods=[make_small_cell_mod()])(query_schema)
    app.query("quality", mods=[make_small_cell_mod()])(query_quality)
    app.evaluate(mods=[make_small_cell_mod()])(evaluate)
    app.evaluate("local", mods=[make_small_cell_mod()])(evaluate_local)
    app.evaluate("personalised", mods=[make_small_cell_mod()])(evaluate_personalised)


secagg_client_app = ClientApp(mods=[make_audit_mod(), make_policy_mod()])
"""A site's app for secure studies: ``train`` only through SecAgg+ (a plain ``train``
request fails at the mod), plus the plain app's schema and quality queries and evaluation."""
secagg_client_app.train(mods=[secaggplus_mod])(_legacy_train)
_register_plain_handlers(secagg_client_app)

legacy_client_app = ClientApp(mods=[make_audit_mod()])
"""The same site code *without* SecAgg+ (sites reply in the clear): the baseline that the
round-time overhead is measured against.  Never deploy it for a secure study."""
legacy_client_app.train()(_legacy_train)
_register_plain_handlers(legacy_client_app)


# ---------------------------------------------------------------------------- coordinator
class _SecureSum(LegacyFedAvg):
    """Legacy strategy: ask every site for ``task``'s arrays, act on their sum only.

    Subclasses turn the summed arrays into the next global arrays (:meth:`update`).
    """

    task = ""

    def __init__(self, n_sites: int, config: dict[str, Scalar], initial: NDArrays,
                 clip: float | None, target: int, limbs: int) -> None:
        super().__init__(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=n_sites,
                         min_available_clients=n_sites, accept_failures=False,
                         initial_parameters=ndarrays_to_parameters(initial))
        self.n_sites = n_sites
        self.clip, self.target, self.limbs = clip, target, limbs
        self.config = {**config, "task": self.task}
        if clip is not None:
            self.config.update({_CLIP_KEY: clip, _RANGE_KEY: target, _LIMBS_KEY: limbs})
        self.current: NDArrays = list(initial)
        self.last: NDArrays = list(initial)
        self.round_seconds: list[float] = []
        self.snapshots: list[NDArrays] = []
        self._started = 0.0

    def configure_fit(self, server_round: int, parameters: Parameters,
                      client_manager: ClientManager) -> list[tuple[ClientProxy, FitIns]]:
        self._started = time.perf_counter()
        self.current = parameters_to_ndarrays(parameters)
        pairs = super().configure_fit(server_round, parameters, client_manager)
        for _, ins in pairs:
            ins.config = {**self.config, "server-round": server_round}
        return pairs

    def aggregate_fit(self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
                      failures: list[Any]) -> tuple[Parameters | None, dict[str, Scalar]]:
        if failures or len(results) < self.n_sites:
            raise FederationError(
                f"secure round {server_round} ({self.task}): {len(failures)} site(s) failed, "
                f"{len(results)} of {self.n_sites} answered")
        if self.clip is not None:  # SecAgg+: every result holds the same (mean) arrays
            mean = parameters_to_ndarrays(results[0][1].parameters)
            sums = decode_limbs([a * len(results) for a in mean], self.target, self.limbs)
        else:
            replies = [parameters_to_ndarrays(r.parameters) for _, r in results]
            sums = [np.sum([r[i] for r in replies], axis=0) for i in range(len(replies[0]))]
        new = self.update(server_round, sums)
        self.last = new
        self.snapshots.append([np.asarray(a).copy() for a in new])
        self.round_seconds.append(time.perf_counter() - self._started)
        return ndarrays_to_parameters(new), {}

    def update(self, server_round: int, sums: NDArrays) -> NDArrays:
        raise NotImplementedError


class _MomentsSum(_SecureSum):
    task = "moments"

    def update(self, server_round: int, sums: NDArrays) -> NDArrays:
        self.moments = (round(float(sums[0][0])), sums[1], sums[2])
        return self.current


class _NewtonSum(_SecureSum):
    """Newton steps from the summed gradient and Hessian (see :class:`FedNewton`)."""

    task = "newton"

    def __init__(self, C: float, *args: Any) -> None:
        super().__init__(*args)
        self.C = C
        self.train_loss: list[float] = []

    def update(self, server_round: int, sums: NDArrays) -> NDArrays:
        gradient, hessian, loss, n = sums
        self.train_loss.append(float(loss[0] / max(n[0], 1.0)))
        return [newton_update(gradient, hessian, self.current[0], self.C)]


class _AverageSum(_SecureSum):
    """FedAvg / FedProx: the example-weighted mean of the sites' local models."""

    task = "fedavg"

    def update(self, server_round: int, sums: NDArrays) -> NDArrays:
        total = float(sums[-1][0])
        return [s / total for s in sums[:-1]]


class _GivenAverage(MessageFedAvg):
    """Message-API FedAvg whose 'aggregate' is an average computed elsewhere."""

    given: ArrayRecord | None = None

    def aggregate_train(self, server_round: int, replies: Any
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        return self.given, None


class _AdamStep(FedAdam, _GivenAverage):
    """Flower's FedAdam server step applied to the securely computed average."""

    def step(self, server_round: int, current: NDArrays, average: NDArrays) -> NDArrays:
        self.current_arrays = {str(i): np.asarray(a) for i, a in enumerate(current)}
        self.given = ArrayRecord({str(i): Array(np.asarray(a)) for i, a in enumerate(average)})
        arrays, _ = self.aggregate_train(server_round, [])
        assert arrays is not None
        return [arrays[str(i)].numpy() for i in range(len(current))]


class _AdamSum(_AverageSum):
    def __init__(self, eta: float, eta_l: float, *args: Any) -> None:
        super().__init__(*args)
        self.adam = _AdamStep(eta=eta, eta_l=eta_l)

    def update(self, server_round: int, sums: NDArrays) -> NDArrays:
        return self.adam.step(server_round, self.current, super().update(server_round, sums))


def _run_rounds(grid: Grid, context: Context, strategy: _SecureSum, rounds: int,
                secure: bool) -> NDArrays:
    """Run ``rounds`` legacy rounds (SecAgg+ or in the clear); returns the final arrays."""
    workflow = DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(
        num_shares=strategy.n_sites, reconstruction_threshold=max(2, strategy.n_sites - 1),
        max_weight=1.0, clipping_range=cast(float, strategy.clip),
        quantization_range=strategy.target, modulus_range=MODULUS_RANGE,
    ) if secure else None)
    workflow(grid, LegacyContext(context, config=ServerConfig(num_rounds=rounds),
                                 strategy=strategy))
    if len(strategy.round_seconds) != rounds:  # SecAgg+ halts a round without raising
        raise FederationError(f"secure aggregation ({strategy.task}) completed "
                              f"{len(strategy.round_seconds)} of {rounds} rounds")
    return strategy.last


def run_secure(grid: Grid, context: Context, *, secure: bool = True) -> dict[str, Any]:
    """A horizontal study whose every sum over sites goes through SecAgg+.

    Steps: the schema query (in the clear, as in the plain study: column names and
    categorical levels); the data-quality round (in the clear too: its aggregates are
    small-cell protected counts and micro-aggregated quartiles that are compared site by
    site, not summed; ``quality_check`` warn/refuse/off as in the plain study);
    federated standardisation from secure sums; ``rounds`` rounds of
    the study's strategy (newton, fedavg, fedprox, fedadam) from secure sums; the final
    model evaluated at every site (aggregate test metrics, as in the plain study).
    Site exclusion (``min_site_rows``) is not applied: every connected site takes part.

    Parameters
    ----------
    grid : flwr.serverapp.Grid
        Nodes running :data:`secagg_client_app` (or :data:`legacy_client_app` with
        ``secure=False``).
    context : flwr.app.Context
        Its ``run_config`` is the study's.
    secure : bool
        False runs the same rounds in the clear (the overhead baseline).

    Returns
    -------
    dict
        ``quality`` (the data-quality report, None when ``quality_check = "off"``),
        ``standardiser`` (and ``standardisation_seconds``, its round), ``arrays``
        (final model), ``history`` (per round: ``seconds``, and ``train_loss`` for
        Newton), ``per_site`` (``federated`` test metrics), ``secagg``
        (``clipping_range``, ``limbs``, ``quantization_range``, ``error_bound``),
        ``rounds``, ``seconds``.
    """
    started = time.perf_counter()
    config = StudyConfig.from_run_config(dict(context.run_config))
    if config.aggregation != "mean" or config.norm_bound or (
            config.dp_epsilon and config.dp_level == "client"):
        raise FederationError("SecAgg+ hides each site's update: aggregation 'mean' only, "
                              "no norm_bound, no client-level DP")
    node_ids = wait_for_sites(grid, context)
    schema_json, sites, excluded, nodes, _ = agree_schema(grid, node_ids, config)
    if len(nodes) < 3:
        raise FederationError(f"SecAgg+ needs at least 3 eligible sites, got {len(nodes)}")
    grid = _Participants(grid, nodes)
    quality: dict[str, Any] | None = None
    if config.quality_check != "off":  # in the clear, like the schema (not summed)
        report = check_quality(grid, nodes, schema_json, config)
        apply_quality(report, config)
        quality = report.to_dict()
    target = quantization_range(len(nodes))
    n_features = len(schema_from_json(schema_json).feature_names)
    base: dict[str, Scalar] = {"schema": schema_json}

    def clip(task: str) -> float | None:
        return SECURE_CLIP[task] if secure else None

    standardiser: dict[str, list[float]] | None = None
    moments_seconds = None
    if config.standardise == "federated":
        moments = _MomentsSum(len(nodes), base, [np.zeros(1)], clip("moments"), target,
                              SECURE_LIMBS["moments"])
        _run_rounds(grid, context, moments, 1, secure)
        moments_seconds = moments.round_seconds[0]
        mean, std = combine_moments([moments.moments])
        standardiser = {"mean": mean.tolist(), "scale": std.tolist()}
        base["std-mean"] = json.dumps(standardiser["mean"])
        base["std-scale"] = json.dumps(standardiser["scale"])

    if config.model == "logistic":
        init = LogisticRegression(C=config.C).init_arrays(n_features)
    else:
        init = make_model(config.model, random_state=config.seed).init_arrays(n_features)
    limbs = SECURE_LIMBS["train"]
    args = (len(nodes), base, init, clip("train"), target, limbs)
    strategy: _SecureSum
    if config.strategy == "newton":
        strategy = _NewtonSum(config.C, len(nodes), base, [np.concatenate(init)],
                              clip("train"), target, limbs)
    elif config.strategy == "fedadam":
        strategy = _AdamSum(config.server_lr, config.lr, *args)
    else:
        if config.strategy == "fedprox":
            base = {**base, "proximal-mu": config.prox_mu}
            args = (len(nodes), base, init, clip("train"), target, limbs)
        strategy = _AverageSum(*args)
    final = _run_rounds(grid, context, strategy, config.rounds, secure)
    if config.strategy == "newton":
        final = [final[0][:-1], final[0][-1:]]

    eval_config = ConfigRecord({"schema": schema_json})
    if standardiser is not None:
        eval_config["std-mean"] = standardiser["mean"]
        eval_config["std-scale"] = standardiser["scale"]
    settings = final_evaluations(grid, nodes, eval_config, ArrayRecord(final), sites)

    def as_model(arrays: NDArrays) -> list[list[float]]:
        if config.strategy == "newton":
            arrays = [arrays[0][:-1], arrays[0][-1:]]
        return [np.asarray(a).tolist() for a in arrays]

    history: list[dict[str, Any]] = [
        {"round": i + 1, "seconds": s, "arrays": as_model(a)}
        for i, (s, a) in enumerate(zip(strategy.round_seconds, strategy.snapshots,
                                       strict=True))]
    if isinstance(strategy, _NewtonSum):
        for entry, loss in zip(history, strategy.train_loss, strict=True):
            entry["train_loss"] = loss
    return {
        "quality": quality,
        "config": config.to_run_config(),
        "schema": json.loads(schema_json),
        "sites": sites,
        "excluded_sites": excluded,
        "privacy": None,
        "standardiser": standardiser,
        "standardisation_seconds": moments_seconds,
        "arrays": [np.asarray(a).tolist() for a in final],
        "history": history,
        "per_site": settings,
        "secagg": None if not secure else {
            "clipping_range": SECURE_CLIP, "limbs": SECURE_LIMBS,
            "quantization_range": target, "modulus_range": MODULUS_RANGE,
            "error_bound": {task: error_bound(len(nodes), c, SECURE_LIMBS[task], target)
                            for task, c in SECURE_CLIP.items()}},
        "rounds": config.rounds,
        "seconds": time.perf_counter() - started,
    }
