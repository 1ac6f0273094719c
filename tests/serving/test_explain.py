"""RiskModel: fast encoding equals the cohort encoder; explanations add up (linear and SHAP)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from fedcare.data._cohort import encode
from fedcare.explain import PatientInputError, RiskModel
from fedcare.models import make_model
from fedcare.registry import Registry


def _patients(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [{"age": int(rng.integers(30, 80)), "sex": int(rng.integers(0, 2)),
             "cp": str(rng.integers(1, 5)), "trestbps": float(rng.integers(100, 180)),
             "chol": float(rng.integers(150, 400)), "fbs": int(rng.integers(0, 2)),
             "restecg": str(rng.integers(0, 3)), "thalach": float(rng.integers(90, 200)),
             "exang": int(rng.integers(0, 2)), "oldpeak": float(rng.uniform(0, 4))}
            for _ in range(n)]


@pytest.fixture
def model(registry: Registry) -> RiskModel:
    return RiskModel.from_record(registry.model(1))


def test_validate_encodes_like_the_cohort(model: RiskModel) -> None:
    patients = _patients(300)
    X = model.validate(patients)
    assert np.array_equal(X, encode(pd.DataFrame(patients), model.schema))
    sklearn_z = model.model.decision_function(model.standardiser.transform(X))
    assert np.abs(model.log_odds(X) - sklearn_z).max() < 1e-12


def test_every_error_is_reported_once(model: RiskModel) -> None:
    bad = [{**_patients(1)[0], "cp": "9", "age": 200}, {"sex": 1}]
    with pytest.raises(PatientInputError) as info:
        model.validate(bad)
    fields = [(e.row, e.field) for e in info.value.errors]
    assert fields[:2] == [(0, "age"), (0, "cp")]
    assert sorted(f for r, f in fields if r == 1) == sorted(
        f.name for f in model.features if f.name != "sex")


def test_linear_contributions_are_exact(model: RiskModel) -> None:
    for e in model.explain(_patients(20)):
        assert e.base_log_odds + sum(e.contributions.values()) == pytest.approx(e.log_odds,
                                                                                abs=1e-12)


def test_shap_for_a_network_adds_up(model: RiskModel) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, len(model.schema.feature_names)))
    net = make_model("mlp", epochs=30).fit(X, (X[:, 0] + X[:, 5] > 0).astype(int))
    mlp = RiskModel("mlp", [a.tolist() for a in net.get_arrays()],
                    {"mean": model.standardiser.mean.tolist(),
                     "scale": model.standardiser.std.tolist()},
                    model.schema.to_dict())
    explanations = mlp.explain(_patients(3))
    for e in explanations:
        assert "SHAP" in e.method
        assert e.base_log_odds + sum(e.contributions.values()) == pytest.approx(e.log_odds,
                                                                                abs=1e-9)
    # the base is the network at the federated mean patient
    mean = model.standardiser.mean[None, :]
    assert explanations[0].base_log_odds == pytest.approx(float(mlp.log_odds(mean)[0]))


def test_global_importance_ranks_features(model: RiskModel) -> None:
    importance = model.global_importance()
    assert list(importance) == sorted(importance, key=lambda k: -importance[k])
    assert set(importance) == {f.name for f in model.features}
    assert all(v >= 0 for v in importance.values())
