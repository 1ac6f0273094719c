"""Training strategies: Flower message-API strategies, one table from name to builder.

A study's ``strategy`` (and, for the FedAvg family, its robust ``aggregation``) picks a
builder here; the protections that need each site's update wrap the result the way
Flower's own DP wrappers do: :class:`NormBound` and Flower's server-side fixed-clipping
DP. Adding a strategy: one builder in :data:`STRATEGIES` (and its name in
``fedcare.config.STRATEGIES``, which a test keeps equal to this table).

Every strategy here aggregates the sites' replies with a sum (FedNewton) or an
example-weighted mean (the FedAvg family), so it works unchanged under SecAgg+, where it
gets one reply holding the sum (:mod:`fedcare.federation.coordinator.sums`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from flwr.app import MetricRecord, RecordDict
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

from fedcare.config import StudyConfig
from fedcare.privacy import noise_for_budget

from ..protocol import number
from ._newton import FedNewton
from ._norm_bound import NormBound

__all__ = ["AGGREGATIONS", "STRATEGIES", "FedNewton", "NormBound", "build_strategy",
           "client_dp_noise", "norm_bound_events"]

Builder = Callable[[StudyConfig, int, dict[str, Any]], FedAvg]


def _evaluation_curve(contents: list[RecordDict], weight_key: str) -> MetricRecord:
    """Per-round curve: test accuracy and loss over all sites' test rows."""
    weights = np.array([number(c, weight_key) for c in contents])
    out: dict[str, int | float | list[int] | list[float]] = {}
    for key in ("accuracy", "test-loss"):
        values = np.array([number(c, key) for c in contents])
        out[key] = float(np.sum(values * weights) / weights.sum())
    out[weight_key] = float(weights.sum())
    return MetricRecord(out)


STRATEGIES: dict[str, Builder] = {
    "newton": lambda c, n, common: FedNewton(C=c.C, **common),
    "fedavg": lambda c, n, common: FedAvg(**common),
    "fedprox": lambda c, n, common: FedProx(proximal_mu=c.prox_mu, **common),
    "fedadam": lambda c, n, common: FedAdam(eta=c.server_lr, eta_l=c.lr, **common),
}
"""Strategy name -> builder (settings, number of sites, Flower's common options)."""

AGGREGATIONS: dict[str, Builder] = {
    "median": lambda c, n, common: FedMedian(**common),
    "trimmed-mean": lambda c, n, common: FedTrimmedAvg(beta=c.trim_fraction, **common),
    "krum": lambda c, n, common: Krum(num_malicious_nodes=c.expected_malicious, **common),
    "multikrum": lambda c, n, common: MultiKrum(
        num_malicious_nodes=c.expected_malicious,
        num_nodes_to_select=max(1, n - c.expected_malicious), **common),
}
"""Robust aggregation name -> builder (replaces the FedAvg family's weighted mean)."""


def client_dp_noise(config: StudyConfig) -> float:
    """Noise multiplier for client-level DP: every site in every one of ``rounds`` rounds."""
    return noise_for_budget(config.dp_epsilon, config.dp_delta, 1.0, config.rounds)


def build_strategy(config: StudyConfig, n_sites: int) -> Strategy:
    """The study's strategy for ``n_sites`` sites, with the norm bound and client-level
    DP wrapped around it when the study asks for them."""
    common: dict[str, Any] = {"min_train_nodes": n_sites, "min_evaluate_nodes": n_sites,
                              "min_available_nodes": n_sites,
                              "evaluate_metrics_aggr_fn": _evaluation_curve}
    builder = (AGGREGATIONS[config.aggregation] if config.aggregation != "mean"
               else STRATEGIES[config.strategy])
    strategy: Strategy = builder(config, n_sites, common)
    if config.norm_bound > 0:
        strategy = NormBound(strategy, factor=config.norm_bound, action=config.norm_action)
    if config.dp_epsilon and config.dp_level == "client":
        strategy = DifferentialPrivacyServerSideFixedClipping(
            strategy, noise_multiplier=client_dp_noise(config),
            clipping_norm=config.dp_max_grad_norm, num_sampled_clients=n_sites)
    return strategy


def norm_bound_events(strategy: Strategy) -> Iterable[dict[str, Any]]:
    """The norm bound's recorded rejections/clips inside a (wrapped) strategy."""
    current: Any = strategy
    while current is not None:
        if isinstance(current, NormBound):
            return list(current.events)
        current = getattr(current, "strategy", None)
    return []
