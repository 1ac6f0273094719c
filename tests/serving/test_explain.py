"""RiskModel: fast encoding equals the cohort encoder; explanations add up (linear and SHAP)."""

from __future__ import annotations

import itertools
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


def _by_hand(record: Any) -> tuple[np.ndarray, float, np.ndarray, np.ndarray,
                                   dict[str, list[int]]]:
    """Weights, intercept, means, SDs and each feature's encoded columns, read from the
    registered record (not through RiskModel)."""
    w = np.asarray(record.arrays[0], dtype=float).ravel()
    b = float(np.ravel(record.arrays[1])[0])
    mean = np.asarray(record.standardiser["mean"], dtype=float)
    sd = np.asarray(record.standardiser["scale"], dtype=float)
    encoded = record.schema["encoded_feature_names"]
    columns = {}
    for f in record.schema["features"]:
        if f["kind"] == "categorical":  # one-hot, first level dropped
            columns[f["name"]] = [encoded.index(f"{f['name']}={lvl}")
                                  for lvl in f["categories"][1:]]
        else:
            columns[f["name"]] = [encoded.index(f["name"])]
    return w, b, mean, sd, columns


def test_linear_contributions_are_exact(model: RiskModel, registry: Registry) -> None:
    w, b, mean, sd, columns = _by_hand(registry.model(1))
    kinds = {f["name"]: f for f in registry.model(1).schema["features"]}
    patients = _patients(20)
    for patient, e in zip(patients, model.explain(patients), strict=True):
        expected = {}
        for name, cols in columns.items():
            f = kinds[name]
            if f["kind"] == "categorical":
                x = np.array([1.0 if str(patient[name]) == lvl else 0.0
                              for lvl in f["categories"][1:]])
            else:
                x = np.array([float(patient[name])])
            # w_j * (x_j - mean_j) / sd_j, summed over a categorical feature's columns
            expected[name] = float(np.sum(w[cols] * (x - mean[cols]) / sd[cols]))
        assert e.contributions == pytest.approx(expected, abs=1e-12)
        assert e.base_log_odds == pytest.approx(b, abs=1e-12)
        assert e.log_odds == pytest.approx(b + sum(expected.values()), abs=1e-12)
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


def test_global_importance_equals_its_expectation(model: RiskModel,
                                                  registry: Registry) -> None:
    # Global importance is E|contribution| over reference patients drawn from the
    # federated moments (numeric ~ normal(mean, sd), binary ~ Bernoulli(mean), categorical
    # level k with probability mean of its column): computed exactly here.
    w, _, mean, sd, columns = _by_hand(registry.model(1))
    kinds = {f["name"]: f["kind"] for f in registry.model(1).schema["features"]}
    expected = {}
    for name, cols in columns.items():
        if kinds[name] == "numeric":  # w (x - m) / sd = w N(0, 1); E|N(0, 1)| = sqrt(2/pi)
            expected[name] = abs(w[cols[0]]) * np.sqrt(2 / np.pi)
        elif kinds[name] == "binary":
            c = cols[0]
            p = mean[c]
            expected[name] = (p * abs(w[c] * (1 - p) / sd[c])
                              + (1 - p) * abs(w[c] * (0 - p) / sd[c]))
        else:
            p_levels = np.concatenate([[1 - mean[cols].sum()], mean[cols]])
            total = 0.0
            for level, p in enumerate(p_levels):
                x = (np.arange(1, len(p_levels)) == level).astype(float)
                total += p * abs(np.sum(w[cols] * (x - mean[cols]) / sd[cols]))
            expected[name] = total
    # 400000 reference patients: the sample means are within ~0.15 % (1 SE) of these
    importance = model.global_importance(n_reference=400_000)
    assert importance == pytest.approx(expected, rel=0.01)
    # the check has power: any two features' values differ by more than the tolerance,
    # so reversed or permuted feature names fail it
    values = sorted(expected.values())
    assert all(b > a * 1.012 for a, b in itertools.pairwise(values)), values
