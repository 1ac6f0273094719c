"""Sums over sites, in the clear or through SecAgg+: one interface, two implementations.

Everything a study adds up over sites — standardisation moments, Newton's gradients and
Hessians, FedAvg-family model updates (example-weighted), Cox sums — is collected with
:meth:`SiteSums.collect`: messages in (one per site, as a strategy configures them),
replies out. :class:`PlainSums` returns each site's reply, and the strategy adds them
up; :class:`SecureSums` runs Flower's SecAgg+ protocol and returns ONE reply holding the
sum (or, for the FedAvg family, the weighted mean with the summed ``num-examples``), so
an unchanged Flower strategy aggregates it as it would the sites' own replies: the
coordinator only ever sees the sum.

This module is the only coordinator code that imports Flower's legacy workflow API
(SecAgg+ exists only there in flwr 1.41).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import flwr.compat.common.recorddict_compat as compat
import numpy as np
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.common import (
    FitIns,
    FitRes,
    Parameters,
    Scalar,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server import LegacyContext
from flwr.server.client_manager import ClientManager, SimpleClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg as LegacyFedAvg
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.serverapp import Grid

from fedcare.exceptions import FederationError

from ..limbs import MODULUS_RANGE, decode_limbs, error_bound, quantization_range, unpack
from ..protocol import SECURE, ConfigKey, TaskResult, arrays_of, config_of, reply, site_of
from ..result import SecureSummary
from .rounds import Answers, check_replies

__all__ = ["PlainSums", "SecureSums", "SiteSums", "add_up", "make_sums"]

_SECURE_KEYS = ("secagg-clipping-range", "secagg-quantization-range", "secagg-limbs")
_LAYOUT_KEY = "secagg-layout"
_CONFIG_KEY, _NAMES_KEY = "fedcare-config", "fedcare-array-names"


class SiteSums(ABC):
    """How the coordinator collects what sites send for a sum."""

    secure: bool = False

    @abstractmethod
    def collect(self, grid: Grid, messages: Sequence[Message], names: Mapping[int, str], *,
                what: str, timeout: float, min_sites: int = 0,
                server_round: int = 0) -> Answers:
        """Send ``messages`` (one per site) and return the replies to be added up.

        ``names`` maps node ids to site names; ``what`` names the round in errors. See
        :func:`~fedcare.federation.coordinator.rounds.check_replies` for ``min_sites``.
        The replies' ``absent`` lists the sites whose contribution is not in the sum.
        """

    def summary(self) -> SecureSummary | None:
        """How the sums were protected (None in the clear)."""
        return None


class PlainSums(SiteSums):
    """Sites reply in the clear; the caller adds the replies up."""

    def collect(self, grid: Grid, messages: Sequence[Message], names: Mapping[int, str], *,
                what: str, timeout: float, min_sites: int = 0,
                server_round: int = 0) -> Answers:
        replies = grid.send_and_receive(list(messages), timeout=timeout)
        answers = check_replies(replies, {m.metadata.dst_node_id: names.get(
            m.metadata.dst_node_id, f"node {m.metadata.dst_node_id}") for m in messages},
            what=what, min_sites=min_sites)
        # replies arrive in any order on a deployment: sums in site order are reproducible
        answers.replies.sort(key=site_of)
        return answers


def add_up(replies: Sequence[Message]) -> TaskResult:
    """The element-wise sum of the replies' arrays (by name when named) and metrics."""
    first = replies[0].content.array_records.get("arrays")
    named = first is not None and not all(k.isdigit() for k in first)
    metrics: dict[str, float | int | None] = {}
    for r in replies:
        for key, value in r.content.metric_records.get("metrics", {}).items():
            metrics[key] = cast(float, metrics.get(key, 0)) + cast(float, value)
    if named:
        sums: dict[str, np.ndarray] = {}
        for r in replies:
            for k, v in r.content.array_records["arrays"].items():
                a = np.asarray(v.numpy(), dtype=np.float64)
                sums[k] = sums[k] + a if k in sums else a.copy()
        return TaskResult(sums, metrics)
    lists = [arrays_of(r.content) for r in replies]
    return TaskResult([np.sum([x[i] for x in lists], axis=0) for i in range(len(lists[0]))],
                      metrics)


class _OneSum(LegacyFedAvg):
    """The legacy strategy SecAgg+ drives for one sum: hands out the prepared FitIns and
    keeps what the workflow aggregated."""

    def __init__(self, fit_ins: Mapping[int, FitIns], proxies: Mapping[int, ClientProxy]) -> None:
        super().__init__(fraction_evaluate=0.0, accept_failures=True)
        self.fit_ins = dict(fit_ins)
        self.proxies = dict(proxies)
        self.summed: list[np.ndarray] | None = None
        self.contributors: list[int] = []
        self.layouts: set[str] = set()

    def configure_fit(self, server_round: int, parameters: Parameters,
                      client_manager: ClientManager) -> list[tuple[ClientProxy, FitIns]]:
        return [(self.proxies[node], ins) for node, ins in self.fit_ins.items()]

    def aggregate_fit(self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
                      failures: list[Any]) -> tuple[Parameters | None, dict[str, Scalar]]:
        if results:
            # every result holds the same unmasked mean (weights 1): the sum over k sites
            mean = parameters_to_ndarrays(results[0][1].parameters)
            self.summed = [np.asarray(a, dtype=np.float64) * len(results) for a in mean]
            self.contributors = [proxy.node_id for proxy, _ in results]
            self.layouts = {str(res.metrics.get(_LAYOUT_KEY, "")) for _, res in results}
        return None, {}


class _Proxy(ClientProxy):
    """A node as the legacy strategy API names it (never called: the workflow sends)."""

    def get_properties(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def get_parameters(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def reconnect(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@dataclass
class SecureSums(SiteSums):
    """Sums through Flower's SecAgg+ (at least 3 sites).

    Parameters
    ----------
    n_sites : int
        Sites taking part (sets the quantisation grid, see :mod:`fedcare.federation.limbs`).
    context : flwr.app.Context
        The ServerApp's context (run id and config for the legacy context).
    min_sites : int
        0: a sum needs every site; else the reconstruction threshold is
        ``max(2, min(n_sites - 1, min_sites))`` so that a sum survives sites dropping
        out as long as that many contribute.
    """

    n_sites: int
    context: Context
    min_sites: int = 0
    secure: bool = True
    round_seconds: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.target = quantization_range(self.n_sites)
        wanted = self.min_sites or self.n_sites - 1
        self.threshold = max(2, min(self.n_sites - 1, wanted))
        self._round = 0

    def summary(self) -> SecureSummary:
        return SecureSummary(
            quantization_range=self.target, modulus_range=MODULUS_RANGE,
            clipping_range={t: e.clip for t, e in SECURE.items()},
            limbs={t: e.limbs for t, e in SECURE.items()},
            error_bound={t: error_bound(self.n_sites, e.clip, e.limbs, self.target)
                         for t, e in SECURE.items()},
            reconstruction_threshold=self.threshold)

    def collect(self, grid: Grid, messages: Sequence[Message], names: Mapping[int, str], *,
                what: str, timeout: float, min_sites: int = 0,
                server_round: int = 0) -> Answers:
        started = time.perf_counter()
        message_type = messages[0].metadata.message_type
        if message_type not in SECURE:
            raise FederationError(f"{what}: '{message_type}' replies cannot be summed "
                                  "securely")
        encoding = SECURE[message_type]
        fit_ins: dict[int, FitIns] = {}
        for m in messages:
            record = m.content.array_records.get("arrays")
            keys = list(record.keys()) if record is not None else []
            # legacy FitIns configs hold scalars only: the message's config travels as JSON
            config: dict[str, Scalar] = {
                _CONFIG_KEY: json.dumps(dict(config_of(m.content))),
                ConfigKey.TASK: message_type, _NAMES_KEY: json.dumps(keys),
                _SECURE_KEYS[0]: encoding.clip, _SECURE_KEYS[1]: self.target,
                _SECURE_KEYS[2]: encoding.limbs}
            arrays = arrays_of(m.content)
            fit_ins[m.metadata.dst_node_id] = FitIns(ndarrays_to_parameters(arrays), config)
        proxies = {node: _Proxy(str(node)) for node in fit_ins}
        for node, proxy in proxies.items():
            proxy.node_id = node
        strategy = _OneSum(fit_ins, proxies)
        manager = SimpleClientManager()
        for proxy in proxies.values():
            manager.register(proxy)
        self._round = server_round or self._round + 1
        legacy = LegacyContext(Context(run_id=self.context.run_id, node_id=self.context.node_id,
                                       node_config={}, state=RecordDict(),
                                       run_config=self.context.run_config),
                               strategy=strategy, client_manager=manager)
        legacy.state[MAIN_CONFIGS_RECORD] = ConfigRecord({WorkflowKey.CURRENT_ROUND:
                                                          self._round})
        legacy.state[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
            ndarrays_to_parameters([]), keep_input=True)
        workflow = SecAggPlusWorkflow(
            num_shares=len(fit_ins), reconstruction_threshold=self.threshold, max_weight=1.0,
            clipping_range=encoding.clip, quantization_range=self.target,
            modulus_range=MODULUS_RANGE, timeout=timeout)
        workflow(grid, legacy)
        all_names = {n: names.get(n, f"node {n}") for n in fit_ins}
        absent = sorted(all_names[n] for n in fit_ins if n not in strategy.contributors)
        need = min_sites or len(fit_ins)
        if strategy.summed is None or len(strategy.contributors) < need:
            raise FederationError(
                f"{what} (secure sum): {len(strategy.contributors)} of {len(fit_ins)} sites "
                f"contributed, {need} needed; missing: {absent or 'unknown'} (SecAgg+ stops "
                f"a sum when fewer than {self.threshold} sites stay; see the log)")
        if len(strategy.layouts) != 1:
            raise FederationError(f"{what} (secure sum): sites sent differently shaped "
                                  "arrays")
        summed = decode_limbs(strategy.summed, self.target, encoding.limbs)
        result = unpack(summed, strategy.layouts.pop(), encoding)
        contributors = ", ".join(sorted(all_names[n] for n in strategy.contributors))
        result.texts = {"sites": contributors}
        out = reply(messages[0], f"sum of {len(strategy.contributors)} sites", result)
        self.round_seconds.append(time.perf_counter() - started)
        return Answers([out], absent, [])


def make_sums(secure: bool, n_sites: int, context: Context, min_sites: int = 0) -> SiteSums:
    """The study's sums: SecAgg+ when ``secure``, else in the clear."""
    return SecureSums(n_sites, context, min_sites) if secure else PlainSums()
