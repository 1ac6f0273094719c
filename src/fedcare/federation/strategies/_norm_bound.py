"""Norm-bounded aggregation: a wrapper around any Flower message-API strategy.

Each round, every valid training reply's update (reply arrays minus the global arrays
sent out, all arrays concatenated) is measured; an update whose norm exceeds
``factor`` times the median update norm of the round is rejected (dropped before
aggregation) or clipped (rescaled to ``factor`` times the median).  The inner strategy
then aggregates what is left, so the bound composes with FedAvg, FedMedian, Krum, ...
the way Flower's DP wrappers do.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy

from fedcare.config import NORM_ACTIONS
from fedcare.exceptions import ConfigError

from ..protocol import site_of

__all__ = ["NormBound"]

logger = logging.getLogger("fedcare")


class NormBound(Strategy):
    """Reject or clip training updates much larger than the round's median update.

    Parameters
    ----------
    strategy : Strategy
        The inner strategy (FedAvg, FedMedian, Krum, ...): it samples, configures and
        aggregates; this wrapper only screens the training replies in between.
    factor : float
        An update whose norm exceeds ``factor`` times the median update norm of the
        round is handled by ``action``.  Must be > 0 (values >= 1 are sensible).
    action : {"reject", "clip"}
        ``reject`` drops the reply; ``clip`` rescales its update to norm
        ``factor * median`` (direction kept).
    min_replies : int
        With fewer valid replies than this the median means little: replies pass
        through unchanged.

    Attributes
    ----------
    events : list of dict
        One entry per handled update: ``round``, ``site``, ``norm``, ``median``,
        ``action``.

    Notes
    -----
    The received reply messages are never modified: a clipped reply is a new message
    with the same metadata and a new ArrayRecord (keys preserved).  Replies carrying
    an error, no ArrayRecord, or arrays whose shapes differ from the global arrays are
    passed to the inner strategy untouched (it reports them).
    """

    def __init__(self, strategy: Strategy, factor: float, action: str = "reject",
                 min_replies: int = 3) -> None:
        if not factor > 0:
            raise ConfigError(f"factor must be > 0, got {factor!r}")
        if action not in NORM_ACTIONS:
            raise ConfigError(f"action must be one of {list(NORM_ACTIONS)}, got {action!r}")
        if not isinstance(min_replies, int) or min_replies < 1:
            raise ConfigError(f"min_replies must be an integer >= 1, got {min_replies!r}")
        self.strategy = strategy
        self.factor = float(factor)
        self.action = action
        self.min_replies = min_replies
        self.events: list[dict[str, Any]] = []
        self._global: list[np.ndarray] = []

    def __repr__(self) -> str:
        return f"NormBound({self.strategy!r}, factor={self.factor}, action={self.action!r})"

    def summary(self) -> None:
        """Log the bound, then the inner strategy's summary."""
        logger.info("norm bound: factor %s x median update norm, action %s",
                    self.factor, self.action)
        self.strategy.summary()

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        """Remember the global arrays (the reference for updates), then delegate."""
        self._global = [np.asarray(a, dtype=np.float64) for a in arrays.to_numpy_ndarrays()]
        return self.strategy.configure_train(server_round, arrays, config, grid)

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                           grid: Grid) -> Iterable[Message]:
        """Delegate to the inner strategy."""
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round: int,
                           replies: Iterable[Message]) -> MetricRecord | None:
        """Delegate to the inner strategy."""
        return self.strategy.aggregate_evaluate(server_round, replies)

    def _update(self, reply: Message) -> np.ndarray | None:
        """The reply's update as one flat vector, or None where it cannot be measured."""
        if reply.has_error() or len(reply.content.array_records) != 1:
            return None
        record = next(iter(reply.content.array_records.values()))
        local = record.to_numpy_ndarrays()
        if len(local) != len(self._global) or any(
                a.shape != g.shape for a, g in zip(local, self._global, strict=True)):
            return None
        if not self._global:
            return None
        return np.concatenate([(np.asarray(a, dtype=np.float64) - g).ravel()
                               for a, g in zip(local, self._global, strict=True)])

    def _clipped(self, reply: Message, scale: float) -> Message:
        """A copy of ``reply`` whose update is multiplied by ``scale`` (keys kept)."""
        key, record = next(iter(reply.content.array_records.items()))
        local = record.to_numpy_ndarrays()
        arrays = {
            name: Array(np.asarray(g + scale * (a - g), dtype=a.dtype))
            for name, a, g in zip(record.keys(), local, self._global, strict=True)
        }
        content = RecordDict(dict(reply.content.items()))
        content[key] = ArrayRecord(arrays)
        clipped = copy.copy(reply)  # same metadata; the received reply stays as it was
        clipped.content = content
        return clipped

    def aggregate_train(self, server_round: int, replies: Iterable[Message],
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Screen the replies' update norms, then let the inner strategy aggregate."""
        replies = list(replies)
        updates = [self._update(r) for r in replies]
        norms = {i: float(np.linalg.norm(u)) for i, u in enumerate(updates) if u is not None}
        if len(norms) < self.min_replies:
            return self.strategy.aggregate_train(server_round, replies)
        median = float(np.median(list(norms.values())))
        bound = self.factor * median
        kept: list[Message] = []
        for i, reply in enumerate(replies):
            norm = norms.get(i)
            if norm is None or norm <= bound:
                kept.append(reply)
                continue
            site = site_of(reply)
            ratio = norm / median if median > 0 else float("inf")
            self.events.append({"round": server_round, "site": site, "norm": norm,
                                "median": median, "action": self.action})
            logger.warning(
                "round %d: site '%s' sent an update of norm %.4g = %.1fx the median %.4g "
                "(bound %sx): %s", server_round, site, norm, ratio, median, self.factor,
                "rejected" if self.action == "reject" else "clipped to the bound")
            if self.action == "clip":
                kept.append(self._clipped(reply, bound / norm))
        return self.strategy.aggregate_train(server_round, kept)
