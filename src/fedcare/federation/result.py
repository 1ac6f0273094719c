"""The typed result of a federated run: what the coordinator learnt, aggregates only.

A study's coordinator returns a :class:`FederatedRun`; on Flower's simulation and
deployment engines it travels as ``result.json`` (:meth:`FederatedRun.to_dict` /
:meth:`FederatedRun.from_dict`). The study layer reads these attributes, never
untyped dicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["FederatedRun", "RoundRecord", "SecureSummary", "SiteInfo"]


@dataclass
class SiteInfo:
    """A site's sizes: usable rows, rows dropped for a missing value, train/test split."""

    n_rows: int | None = None
    n_dropped_missing: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    data: str | None = None     # the site's own table, as it names it (file name only)


@dataclass
class RoundRecord:
    """One training round: the global model after it and what the sites reported."""

    round: int
    seconds: float
    arrays: list[Any]
    accuracy: float | None = None
    test_loss: float | None = None
    train_loss: float | None = None
    sites: list[str] = field(default_factory=list)

    def numpy(self) -> list[np.ndarray]:
        """The model arrays as numpy arrays."""
        return [np.asarray(a, dtype=np.float64) for a in self.arrays]


@dataclass
class SecureSummary:
    """How SecAgg+ summed: grid, limbs and the stated error bound per message type."""

    quantization_range: int
    modulus_range: int
    clipping_range: dict[str, float]
    limbs: dict[str, int]
    error_bound: dict[str, float]
    reconstruction_threshold: int


@dataclass
class FederatedRun:
    """A whole federated study as the coordinator saw it.

    Attributes
    ----------
    config : dict
        The run config (study settings, flat).
    schema : dict
        The agreed schema (names, kinds, levels).
    sites : dict of str to SiteInfo
        Every site that answered the schema round, excluded or not.
    excluded_sites : dict of str to str
        Site -> why it was left out.
    standardiser : dict or None
        ``{"mean": [...], "scale": [...]}`` from the federated sums, None otherwise.
    arrays : list
        The final model arrays.
    history : list of RoundRecord
    per_site : dict
        Setting (``federated``, ``local``, ``personalised``) -> site -> the metrics it
        sent for its test rows (small-cell protected: a withheld figure is None).
    quality : dict or None
        The data-quality report (None with ``quality_check = "off"``).
    missing_rounds : dict of str to list of int
        Site -> rounds it did not answer (``rounds + 1``: the final evaluation).
    privacy : dict or None
        Client-level DP: what the coordinator spent. Record-level DP is in the sites'
        evaluation metrics.
    secure : SecureSummary or None
        Set for a SecAgg+ study.
    norm_bound_events : list of dict
        Updates the norm bound rejected or clipped: ``round``, ``site``, ``norm``,
        ``median``, ``action``.
    rounds, seconds, train_seconds : int, float, float
    standard_errors : list of float or None
        Wald standard errors of the coefficients then the intercept, from the Newton
        strategy's last summed Hessian (None for other strategies).
    converged_round : int or None
        Newton with ``tol``: the round whose largest coefficient change fell below
        ``tol``, where the study stopped (``history`` ends there); None otherwise.
    """

    config: dict[str, Any]
    schema: dict[str, Any]
    sites: dict[str, SiteInfo]
    excluded_sites: dict[str, str]
    standardiser: dict[str, list[float]] | None
    arrays: list[Any]
    history: list[RoundRecord]
    per_site: dict[str, dict[str, dict[str, Any]]]
    quality: dict[str, Any] | None = None
    missing_rounds: dict[str, list[int]] = field(default_factory=dict)
    privacy: dict[str, Any] | None = None
    secure: SecureSummary | None = None
    norm_bound_events: list[dict[str, Any]] = field(default_factory=list)
    rounds: int = 0
    seconds: float = 0.0
    train_seconds: float = 0.0
    standard_errors: list[float] | None = None
    converged_round: int | None = None

    def numpy(self) -> list[np.ndarray]:
        """The final model arrays as numpy arrays."""
        return [np.asarray(a, dtype=np.float64) for a in self.arrays]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``result.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FederatedRun:
        """Inverse of :meth:`to_dict`."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["sites"] = {k: SiteInfo(**v) for k, v in data["sites"].items()}
        kwargs["history"] = [RoundRecord(**r) for r in data["history"]]
        if data.get("secure"):
            kwargs["secure"] = SecureSummary(**data["secure"])
        return cls(**kwargs)
