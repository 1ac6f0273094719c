"""The spine issue's figures on the FLamby Fed-Heart-Disease protocol (real data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedcare.study import StudyConfig, run_study
from fedcare.study._benchmark import rounds_to_reference


@pytest.fixture(scope="module")
def heart(heart_dir: Path) -> dict:  # type: ignore[type-arg]
    config = StudyConfig(data="builtin:heart-disease", data_dir=str(heart_dir), rounds=10)
    return run_study(config).to_dict()


def test_flamby_split_sizes(heart: dict) -> None:  # type: ignore[type-arg]
    sizes = {s: (v["n_train"], v["n_test"]) for s, v in heart["sites"].items()}
    assert sizes == {"cleveland": (199, 104), "hungary": (172, 89), "switzerland": (30, 16),
                     "va": (85, 45)}


def test_newton_reaches_pooled_model(heart: dict) -> None:  # type: ignore[type-arg]
    fed = heart["results"]["federated:newton"]
    pooled = heart["results"]["pooled"]
    assert fed["mean_client_accuracy"] >= 0.80
    assert fed["pooled_test"]["accuracy"] >= 0.79
    assert fed["pooled_test"]["auc"] >= 0.88
    for key in ("accuracy", "auc"):
        assert abs(fed["pooled_test"][key] - pooled["pooled_test"][key]) <= 0.005
    assert abs(fed["mean_client_accuracy"] - pooled["mean_client_accuracy"]) <= 0.005
    curve = heart["convergence"]["federated:newton"]
    hit = rounds_to_reference(curve, pooled["pooled_test"]["accuracy"],
                              pooled["pooled_test"]["auc"])
    assert hit is not None and hit <= 10


def test_personalised_beats_or_matches_local_and_global(heart: dict) -> None:  # type: ignore[type-arg]
    res = heart["results"]
    pers = res["personalised:newton"]
    assert pers["mean_client_accuracy"] >= 0.82
    for site, m in pers["per_site"].items():
        n = m["n"]
        best = max(res["local"]["per_site"][site]["accuracy"],
                   res["federated:newton"]["per_site"][site]["accuracy"])
        worse_patients = round((best - m["accuracy"]) * n)
        assert worse_patients <= 1, (site, worse_patients)


def test_rounds_to_reference_requires_staying_close() -> None:
    curve = [{"round": 1, "accuracy": 0.8, "auc": 0.9}, {"round": 2, "accuracy": 0.7, "auc": 0.9},
             {"round": 3, "accuracy": 0.8, "auc": 0.899}]
    assert rounds_to_reference(curve, 0.8, 0.9) == 3
    assert rounds_to_reference(curve[:2], 0.8, 0.9) is None
