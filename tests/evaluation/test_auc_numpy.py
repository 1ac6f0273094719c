"""fedcare's ROC AUC (numpy only, so that a site process need not import scikit-learn)
equals scikit-learn's ``roc_auc_score`` on binary labels, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fedcare.evaluation import binary_metrics


@pytest.mark.parametrize("seed", range(20))
def test_auc_equals_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    p = rng.random(n) if seed % 2 else np.round(rng.random(n), 1)  # many ties when rounded
    assert binary_metrics(y, p)["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_auc_of_a_perfect_and_a_reversed_ranking() -> None:
    y = np.array([0, 0, 1, 1])
    assert binary_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["auc"] == 1.0
    assert binary_metrics(y, np.array([0.9, 0.8, 0.2, 0.1]))["auc"] == 0.0
    assert binary_metrics(y, np.full(4, 0.5))["auc"] == 0.5
