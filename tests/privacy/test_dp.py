"""Record-level DP-SGD: the mechanism, the accounting, the budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fedcare.exceptions import ConfigError, PrivacyBudgetError
from fedcare.federation import run_inprocess
from fedcare.models import LogisticRegression
from fedcare.privacy import DPSGD, epsilon_spent, membership_inference_auc, noise_for_budget
from fedcare.study import StudyConfig


def test_noise_for_budget_spends_the_budget() -> None:
    sigma = noise_for_budget(1.0, 1e-5, 0.1, 400)
    spent = epsilon_spent(sigma, 0.1, 400, 1e-5)
    assert 0.98 <= spent <= 1.0
    assert epsilon_spent(sigma, 0.1, 800, 1e-5) > 1.2  # twice the steps: over budget
    assert noise_for_budget(8.0, 1e-5, 0.1, 400) < sigma


def test_clipping_bounds_each_example() -> None:
    rng = np.random.default_rng(0)
    dp = DPSGD(noise_multiplier=0.0, max_grad_norm=1.0, sample_rate=1.0)
    per_example = np.array([[30.0, 40.0], [0.3, 0.4]])  # norms 50 and 0.5
    g = dp.gradient(per_example, n=2, rng=rng)
    np.testing.assert_allclose(g, (np.array([0.6, 0.8]) + np.array([0.3, 0.4])) / 2)


def test_noise_has_the_calibrated_scale() -> None:
    rng = np.random.default_rng(1)
    dp = DPSGD(noise_multiplier=2.0, max_grad_norm=0.5, sample_rate=0.5)
    draws = np.array([dp.gradient(np.zeros((0, 3)), n=100, rng=rng) for _ in range(4000)])
    # sum noise std = 2.0 * 0.5 = 1.0, divided by the expected batch size 50
    assert abs(draws.std() - 1.0 / 50) < 0.001


def test_dp_training_is_noisier_than_plain(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 3))
    y = (rng.random(400) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    start = [np.zeros(3), np.zeros(1)]
    plain = LogisticRegression().set_arrays(start).local_update(X, y, steps=50, seed=4)
    dp = DPSGD(noise_multiplier=50.0, max_grad_norm=1.0, sample_rate=0.04)
    noisy = LogisticRegression().set_arrays(start).local_update(X, y, steps=50, seed=4,
                                                                optimiser=dp)
    assert not np.allclose(plain.weights_, noisy.weights_)


def test_study_reports_epsilon_spent_per_site(heart_dir: Path) -> None:
    config = StudyConfig(data_dir=str(heart_dir), strategy="fedavg", rounds=3, local_steps=5,
                         dp_epsilon=2.0)
    result, _ = run_inprocess(config, ["cleveland", "hungary", "switzerland", "va"])
    for site, m in result["per_site"]["federated"].items():
        assert 1.95 <= m["dp-epsilon"] <= 2.0, site
        assert m["dp-noise-multiplier"] > 0


def test_training_past_the_budget_is_refused(heart_dir: Path) -> None:
    # Sites plan their noise for 1 round; a coordinator asking for a 2nd round is refused.
    from fedcare.federation._client import client_app
    from fedcare.federation._grid import InProcessGrid
    from fedcare.federation._server import run_study

    planned = StudyConfig(data_dir=str(heart_dir), strategy="fedavg", rounds=1, local_steps=5,
                          dp_epsilon=2.0)
    grid = InProcessGrid(client_app, [{"site": "cleveland"}, {"site": "hungary"}],
                         {**planned.to_run_config(), "num-sites": 2})
    context = grid.server_context()
    context.run_config["rounds"] = 2
    with pytest.raises(PrivacyBudgetError, match="round 2 would take DP-SGD past its budget"):
        run_study(grid, context)


def test_dp_needs_the_fedavg_family() -> None:
    with pytest.raises(ConfigError, match="DP-SGD"):
        StudyConfig(strategy="newton", dp_epsilon=1.0)


def test_membership_inference_auc() -> None:
    y = np.array([1, 0, 1, 0])
    assert membership_inference_auc(y, np.array([0.99, 0.01, 0.99, 0.01]), y,
                                    np.array([0.4, 0.6, 0.4, 0.6])) == 1.0
    assert membership_inference_auc(y, np.full(4, 0.5), y, np.full(4, 0.5)) == 0.5


def test_client_level_dp_wraps_the_strategy_and_reports_epsilon(heart_dir: Path) -> None:
    from fedcare.study import run_study

    config = StudyConfig(data_dir=str(heart_dir), strategy="fedavg", rounds=4, local_steps=5,
                         dp_epsilon=4.0, dp_level="client")
    np.random.seed(0)
    result = run_study(config, pooled=False).to_dict()
    privacy = result["results"]["federated:fedavg+dp-client-eps=4"]["privacy"]
    assert privacy["level"].startswith("client")
    assert 3.95 <= privacy["epsilon_spent"] <= 4.0
    assert privacy["noise_multiplier"] > 0.5
