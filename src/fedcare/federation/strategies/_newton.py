"""Federated Newton (IRLS) for logistic regression, as a Flower strategy.

Sites send the gradient and Hessian of the log-loss summed over their training rows;
the server adds them up, adds the L2 penalty once and takes a Newton step.  The
iterates are exactly those of pooled Newton, so a handful of rounds reach the pooled
maximum-(penalised-)likelihood model.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from fedcare.models import newton_update

from ..protocol import MessageType, arrays_of, number

__all__ = ["FedNewton"]


class FedNewton(FedAvg):
    """Newton steps from summed site gradients and Hessians.

    Parameters
    ----------
    C : float
        Inverse L2 strength of the pooled objective (scikit-learn's ``C``).
    **kwargs
        Node sampling options of :class:`flwr.serverapp.strategy.FedAvg`.
    """

    def __init__(self, C: float = 1.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.C = C
        self._weights: np.ndarray | None = None
        self.step_sizes: list[float] = []
        #: The penalised observed information of the last round (summed site Hessians of
        #: the log-loss plus the L2 penalty / C): its inverse estimates the covariance of
        #: the coefficients (Wald standard errors).
        self.information: np.ndarray | None = None

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Send the current weights (coefficients then intercept) as one array."""
        coef, intercept = arrays.to_numpy_ndarrays()
        self._weights = np.concatenate([coef.ravel(), intercept.ravel()])
        messages = super().configure_train(
            server_round, ArrayRecord([self._weights]), config, grid
        )
        for message in messages:
            message.metadata.message_type = MessageType.NEWTON
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Sum the sites' gradients and Hessians and take one Newton step."""
        valid, _ = self._check_and_log_replies(list(replies), is_train=True)
        if not valid or self._weights is None:
            return None, None
        gradient = np.zeros_like(self._weights)
        hessian = np.zeros((len(self._weights), len(self._weights)))
        loss = 0.0
        n = 0
        for reply in valid:
            g, h = arrays_of(reply.content)
            gradient += g
            hessian += h
            loss += number(reply.content, "train-loss")
            n += int(number(reply.content, "num-examples"))
        new = newton_update(gradient, hessian, self._weights, self.C)
        penalty = np.ones_like(self._weights)
        penalty[-1] = 0.0  # the intercept is not penalised
        self.information = hessian + np.diag(penalty) / self.C
        self.step_sizes.append(float(np.max(np.abs(new - self._weights))))
        arrays = ArrayRecord([new[:-1], new[-1:]])
        return arrays, MetricRecord({"train-loss": loss / max(n, 1), "num-examples": n})


