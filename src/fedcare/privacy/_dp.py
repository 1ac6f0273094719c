"""Record-level differential privacy: DP-SGD steps and their accounting.

The mechanism (per-example clipping, Poisson sampling, Gaussian noise) is a few lines of
numpy for fedcare's linear models; the accounting is opacus's RDP accountant, so the
epsilon reported is the one opacus would report for the same run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fedcare.exceptions import PrivacyBudgetError

__all__ = ["DPSGD", "epsilon_spent", "noise_for_budget"]

#: Renyi orders searched by the accountant (opacus's defaults extended upwards, so that
#: small budgets with many steps still find their optimal order).
ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + [
    64, 80, 96, 128, 160, 192, 256, 384, 512, 768, 1024]


@dataclass(frozen=True)
class DPSGD:
    """DP-SGD (Abadi et al. 2016): Poisson-sampled batches, each example's gradient
    clipped to ``max_grad_norm``, Gaussian noise of std ``noise_multiplier *
    max_grad_norm`` added to the sum, divided by the expected batch size.
    A drop-in for :class:`fedcare.models.MinibatchSGD` in ``local_update``.

    Parameters
    ----------
    noise_multiplier : float
    max_grad_norm : float
    sample_rate : float
        Probability that a row is in a batch (expected batch size / rows).
    """

    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float

    def batch(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Poisson sampling: each row independently with probability ``sample_rate``."""
        return np.flatnonzero(rng.random(n) < self.sample_rate)

    def gradient(self, per_example: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Clipped, noised gradient estimate, shape (n_params,)."""
        norms = np.linalg.norm(per_example, axis=1, keepdims=True)
        clipped = per_example / np.maximum(1.0, norms / self.max_grad_norm)
        total = clipped.sum(axis=0) if len(clipped) else np.zeros(per_example.shape[1])
        noise = rng.normal(0.0, self.noise_multiplier * self.max_grad_norm, total.shape)
        return np.asarray((total + noise) / max(self.sample_rate * n, 1.0))


def noise_for_budget(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """Smallest noise multiplier meeting (``epsilon``, ``delta``) after ``steps`` steps.

    Raises
    ------
    PrivacyBudgetError
        No noise level meets the budget (opacus's search fails).
    """
    from opacus.accountants.utils import get_noise_multiplier

    if not (epsilon > 0 and 0 < delta < 1):
        raise PrivacyBudgetError(f"need epsilon > 0 and 0 < delta < 1, got {epsilon}, {delta}")
    try:
        return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                          sample_rate=sample_rate, steps=steps,
                                          accountant="rdp", epsilon_tolerance=0.005,
                                          alphas=ALPHAS))
    except ValueError as exc:
        raise PrivacyBudgetError(f"no noise level reaches epsilon {epsilon} ({exc})") from None


@lru_cache(maxsize=1024)
def epsilon_spent(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """Epsilon after ``steps`` DP-SGD steps (opacus RDP accountant); 0 for no steps."""
    from opacus.accountants import RDPAccountant

    if steps <= 0:
        return 0.0
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    value = float(accountant.get_epsilon(delta, alphas=ALPHAS))
    return value if math.isfinite(value) else float("inf")
