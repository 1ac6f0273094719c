"""A small PyTorch multilayer perceptron for binary risk prediction."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fedcare.models._base import BatchOptimiser, LogOddsMixin, MinibatchSGD
from fedcare.models._base import binary_only as _binary_only

__all__ = ["MLPClassifier"]


class MLPClassifier(LogOddsMixin, ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """One-hidden-layer ReLU network with a sigmoid output, trained with Adam.

    Parameters
    ----------
    hidden : int, default=16
        Width of the hidden layer.
    epochs : int, default=200
        Full passes over the data in ``fit``.
    lr : float, default=0.01
        Adam learning rate.
    weight_decay : float, default=1e-4
        L2 penalty on all weights.
    batch_size : int, default=64
    random_state : int, default=0
        Seeds initialisation and batch order (results are deterministic on CPU).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    module_ : torch.nn.Sequential
    """

    def __init__(
        self,
        hidden: int = 16,
        epochs: int = 200,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.random_state = random_state

    def _build(self, n_features: int) -> Any:
        import torch

        torch.manual_seed(self.random_state)
        return torch.nn.Sequential(
            torch.nn.Linear(n_features, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, 1),
        ).double()

    def _train(
        self, X: np.ndarray, y: np.ndarray, steps: int, lr: float, batch_size: int,
        prox_mu: float, seed: int,
    ) -> None:
        import torch

        module = self.module_
        generator = torch.Generator().manual_seed(seed)
        Xt = torch.as_tensor(X, dtype=torch.float64)
        yt = torch.as_tensor(y, dtype=torch.float64)
        anchor = [p.detach().clone() for p in module.parameters()]
        optimiser = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        n = len(y)
        for _ in range(steps):
            idx = torch.randperm(n, generator=generator)[: min(batch_size, n)]
            optimiser.zero_grad()
            loss = loss_fn(module(Xt[idx]).squeeze(-1), yt[idx])
            if prox_mu:
                loss = loss + prox_mu / 2 * sum(
                    ((p - a) ** 2).sum() for p, a in zip(module.parameters(), anchor, strict=True)
                )
            loss.backward()
            optimiser.step()

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train from scratch on ``X`` (n_rows, n_features) and binary ``y`` (n_rows,)."""
        for name in ("hidden", "epochs", "batch_size"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(_binary_only(len(self.classes_)))
        self.module_ = self._build(X.shape[1])
        steps = self.epochs * max(1, int(np.ceil(len(y) / self.batch_size)))
        self._train(X, y01.astype(np.float64), steps, self.lr, self.batch_size, 0.0,
                    self.random_state)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of class 1, shape (n_rows,)."""
        import torch

        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        with torch.no_grad():
            out = self.module_(torch.as_tensor(X, dtype=torch.float64)).squeeze(-1)
        return np.asarray(out.numpy(), dtype=np.float64).reshape(len(X))

    # -- federation ------------------------------------------------------------------
    def get_arrays(self) -> list[np.ndarray]:
        """Weights and biases of both layers, in ``module_.parameters()`` order."""
        check_is_fitted(self)
        return [p.detach().numpy().copy() for p in self.module_.parameters()]

    def set_arrays(self, arrays: list[np.ndarray]) -> MLPClassifier:
        """Load arrays shaped as :meth:`get_arrays` returns them."""
        import torch

        n_features = int(np.asarray(arrays[0]).shape[1])
        if getattr(self, "n_features_in_", None) != n_features or not hasattr(self, "module_"):
            self.module_ = self._build(n_features)
            self.n_features_in_ = n_features
        with torch.no_grad():
            for param, array in zip(self.module_.parameters(), arrays, strict=True):
                param.copy_(torch.as_tensor(np.asarray(array), dtype=torch.float64))
        if not hasattr(self, "classes_"):
            self.classes_ = np.array([0, 1])
        return self

    def init_arrays(self, n_features: int) -> list[np.ndarray]:
        """Seeded random starting arrays (every site starts from the same model)."""
        return [p.detach().numpy().copy() for p in self._build(n_features).parameters()]

    def local_update(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        steps: int = 100,
        lr: float = 0.01,
        batch_size: int = 16,
        prox_mu: float = 0.0,
        seed: int = 0,
        optimiser: BatchOptimiser | None = None,
    ) -> MLPClassifier:
        """``steps`` Adam steps from the current arrays (FedProx term if ``prox_mu``).

        ``optimiser`` may only be plain :class:`MinibatchSGD` (its batch size is used):
        DP-SGD for the MLP is not implemented.
        """
        check_is_fitted(self)
        if optimiser is not None:
            if not isinstance(optimiser, MinibatchSGD):
                raise ValueError("MLPClassifier.local_update supports MinibatchSGD only")
            batch_size = optimiser.batch_size
        self._train(np.asarray(X, np.float64), np.asarray(y, np.float64), steps, lr, batch_size,
                    prox_mu, seed)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
