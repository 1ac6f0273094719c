"""A compact convolutional network for binary image classification (PyTorch).

Three 3x3 convolution blocks (8, 16, 32 channels, group normalisation, ReLU, 2x2
max-pooling after the first two), a global max-pool ("is there a finding anywhere in the
slice?") and one linear output: 6,033 parameters for one input channel. Group, not batch,
normalisation: it has no running statistics (nothing but weights to average) and
record-level DP-SGD (per-example gradients from opacus's ``GradSampleModule``) applies
unchanged; without it the network often never left its first plateau on projection X-ray
slices (train AUC 0.50 after 150 epochs). Inputs are slices as rows, ``(n, size *
size)`` (what every fedcare model takes and what a site's split holds), or ``(n, 1, size,
size)``.

It follows :class:`fedcare.models.MLPClassifier`'s contract (``fit``, ``predict_proba``,
``get_arrays``/``set_arrays``/``init_arrays``, ``local_update`` with FedProx and a
:class:`~fedcare.models.BatchOptimiser`), so the federation trains it with FedAvg,
FedProx or FedAdam exactly as it trains the tabular models.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from fedcare.models._base import BatchOptimiser, LogOddsMixin, MinibatchSGD

__all__ = ["CNNClassifier"]


def _centre_module() -> Any:
    from torch import nn

    class Centre(nn.Module):
        """Maps the [0, 1] window to about [-1, 3] (no parameters: nothing to send)."""

        def forward(self, x: Any) -> Any:
            return (x - 0.3) * 4.0

    return Centre()


def _side(n_features: int) -> int:
    side = math.isqrt(n_features)
    if side * side != n_features or side < 8:
        raise ValueError(f"expected square slices of at least 8 x 8 as rows of side**2 "
                         f"values, got rows of {n_features}")
    return side


class CNNClassifier(LogOddsMixin, ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Compact CNN with a sigmoid output (module docstring).

    Parameters
    ----------
    width : int, default=8
        Channels of the first block (doubled in each of the next two).
    epochs : int, default=100
        Full passes over the data in ``fit``.
    min_steps : int, default=500
        ``fit`` takes at least this many Adam steps (a site with 26 slices has one batch
        an epoch: 100 epochs would be 100 steps, too few to leave the first plateau).
    lr : float, default=0.003
        Adam learning rate.
    weight_decay : float, default=1e-4
    batch_size : int, default=32
    random_state : int, default=0
        Seeds initialisation and batch order (deterministic on CPU).
    device : str, default="auto"
        ``"auto"``: a CUDA GPU when torch sees one, else the CPU; or ``"cpu"``, ``"cuda"``.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    module_ : torch.nn.Sequential
    n_features_in_ : int
        Pixels per slice (``size * size``).
    """

    def __init__(self, width: int = 8, epochs: int = 100, lr: float = 0.003,
                 weight_decay: float = 1e-4, batch_size: int = 32,
                 random_state: int = 0, device: str = "auto", min_steps: int = 500) -> None:
        self.width = width
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.random_state = random_state
        self.device = device
        self.min_steps = min_steps

    def _device(self) -> Any:
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        return torch.device(self.device)

    # -- the network --------------------------------------------------------------------
    def _build(self) -> Any:
        import torch
        from torch import nn

        torch.manual_seed(self.random_state)
        w = self.width
        return nn.Sequential(
            _centre_module(),
            nn.Conv2d(1, w, 3, padding=1), nn.GroupNorm(2, w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.GroupNorm(2, 2 * w), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.GroupNorm(2, 4 * w), nn.ReLU(),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(4 * w, 1),
        )

    def _tensor(self, X: Any) -> Any:
        import torch

        X = np.asarray(X, dtype=np.float32)
        if X.ndim == 4:
            X = X.reshape(len(X), -1)
        if X.ndim != 2:
            raise ValueError(f"expected slices as rows (n, size*size) or (n, 1, size, size), "
                             f"got an array of shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("the images hold NaN or infinite values")
        side = _side(X.shape[1])
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} pixels per slice; the model was trained "
                             f"on {self.n_features_in_}")
        return torch.from_numpy(np.ascontiguousarray(X)).reshape(len(X), 1, side, side)

    def _train(self, X: Any, y: np.ndarray, steps: int, lr: float, batch_size: int,
               prox_mu: float, seed: int, optimiser: BatchOptimiser | None) -> None:
        import torch

        device = self._device()
        module = self.module_.to(device)
        Xt = self._tensor(X).to(device)
        yt = torch.as_tensor(np.asarray(y, dtype=np.float32)).to(device)
        params = list(module.parameters())
        anchor = [p.detach().clone() for p in params]
        adam = torch.optim.Adam(params, lr=lr, weight_decay=self.weight_decay)
        rng = np.random.default_rng(seed)
        n = len(yt)
        dp = optimiser is not None and not isinstance(optimiser, MinibatchSGD)
        if dp:
            from opacus import GradSampleModule

            sampled = GradSampleModule(module, loss_reduction="sum")
        draw = optimiser or MinibatchSGD(batch_size)
        for _ in range(steps):
            idx = torch.as_tensor(draw.batch(n, rng), dtype=torch.long, device=device)
            adam.zero_grad()
            if dp:
                self._dp_step(sampled, params, Xt[idx], yt[idx], n, rng, draw)
            else:
                if len(idx) == 0:
                    continue
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    module(Xt[idx]).squeeze(-1), yt[idx])
                loss.backward()
            if prox_mu:
                with torch.no_grad():
                    for p, a in zip(params, anchor, strict=True):
                        p.grad = (p.grad if p.grad is not None else torch.zeros_like(p)) \
                            + prox_mu * (p - a)
            adam.step()
        if dp:
            sampled._close()

    @staticmethod
    def _dp_step(sampled: Any, params: list[Any], X: Any, y: Any, n: int,
                 rng: np.random.Generator, optimiser: BatchOptimiser) -> None:
        """Per-example gradients (opacus), clipped and noised by ``optimiser``."""
        import torch

        sizes = [p.numel() for p in params]
        if len(y):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                sampled(X).squeeze(-1), y, reduction="sum")
            with warnings.catch_warnings():  # opacus's hooks on a first layer: harmless
                warnings.filterwarnings("ignore", message="Full backward hook")
                loss.backward()
            per_example = np.concatenate(
                [p.grad_sample.reshape(len(y), -1).detach().cpu().numpy() for p in params],
                axis=1)
            for p in params:
                p.grad_sample = None
        else:
            per_example = np.zeros((0, sum(sizes)), dtype=np.float32)
        gradient = optimiser.gradient(per_example.astype(np.float64), n, rng)
        start = 0
        for p, size in zip(params, sizes, strict=True):
            p.grad = torch.as_tensor(gradient[start:start + size], dtype=p.dtype,
                                     device=p.device).reshape(p.shape)
            start += size

    # -- scikit-learn -------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("width", "epochs", "batch_size", "min_steps"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

    def fit(self, X: Any, y: Any) -> CNNClassifier:
        """Train from scratch on slices ``X`` and binary labels ``y``."""
        self._check_params()
        y = np.asarray(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"y holds {len(self.classes_)} classes: a binary classifier "
                             "needs both")
        Xt = self._tensor(X)
        if len(Xt) != len(y):
            raise ValueError(f"X has {len(Xt)} slices but y has {len(y)} labels")
        self.n_features_in_ = int(Xt.shape[-1] ** 2)
        self.module_ = self._build()
        steps = max(self.min_steps, self.epochs * max(1, math.ceil(len(y) / self.batch_size)))
        self._train(Xt.reshape(len(Xt), -1).numpy(), y01, steps, self.lr, self.batch_size,
                    0.0, self.random_state, None)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of class 1, shape (n,)."""
        import torch
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        Xt = self._tensor(X)
        device = next(self.module_.parameters()).device
        out = []
        with torch.no_grad():
            for start in range(0, len(Xt), 256):
                batch = Xt[start:start + 256].to(device)
                out.append(self.module_(batch).squeeze(-1).cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    # -- federation -----------------------------------------------------------------------
    def get_arrays(self) -> list[np.ndarray]:
        """Every weight and bias, in ``module_.parameters()`` order (float64 copies)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return [p.detach().cpu().numpy().astype(np.float64)
                for p in self.module_.parameters()]

    def set_arrays(self, arrays: list[np.ndarray]) -> CNNClassifier:
        """Load arrays shaped as :meth:`get_arrays` returns them."""
        import torch

        if not hasattr(self, "module_"):
            self.module_ = self._build()
        params = list(self.module_.parameters())
        if len(arrays) != len(params):
            raise ValueError(f"expected {len(params)} arrays, got {len(arrays)}")
        with torch.no_grad():
            for param, array in zip(params, arrays, strict=True):
                array = np.asarray(array, dtype=np.float32)
                if array.shape != tuple(param.shape):
                    raise ValueError(f"array of shape {array.shape} for a parameter of shape "
                                     f"{tuple(param.shape)}")
                param.copy_(torch.from_numpy(array))
        if not hasattr(self, "classes_"):
            self.classes_ = np.array([0, 1])
        return self

    def init_arrays(self, n_features: int) -> list[np.ndarray]:
        """Seeded starting arrays for slices of ``n_features`` pixels (every site starts
        from the same model)."""
        _side(n_features)
        return [p.detach().numpy().astype(np.float64) for p in self._build().parameters()]

    def local_update(self, X: np.ndarray, y: np.ndarray, *, steps: int = 100,
                     lr: float = 0.003, batch_size: int = 32, prox_mu: float = 0.0,
                     seed: int = 0, optimiser: BatchOptimiser | None = None
                     ) -> CNNClassifier:
        """``steps`` Adam steps from the current arrays; a FedProx term if ``prox_mu``;
        with a :class:`fedcare.privacy.DPSGD` optimiser, record-level DP-SGD (each
        example's gradient clipped, Gaussian noise added to the sum)."""
        if not hasattr(self, "module_"):
            raise ValueError("local_update needs arrays first (set_arrays or fit)")
        X = np.asarray(X, dtype=np.float32)
        self.n_features_in_ = int(X.reshape(len(X), -1).shape[1])
        if isinstance(optimiser, MinibatchSGD):
            batch_size, optimiser = optimiser.batch_size, None
        self._train(X.reshape(len(X), -1), np.asarray(y), steps, lr, batch_size, prox_mu,
                    seed, optimiser)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
