"""RiskModel: fast encoding equals the cohort encoder; explanations add up (linear and SHAP)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.stats

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
    # every feature but sex is missing; those with a federated mean (imputed) or a
    # "(not recorded)" level may be
    assert sorted(f for r, f in fields if r == 1) == sorted(
        f.name for f in model.features if f.name != "sex" and f.impute is None
        and "(not recorded)" not in f.categories)
    assert "cp" in [f for r, f in fields if r == 1]


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
        else:  # the value, then "<name> missing" where the feature was imputed
            columns[f["name"]] = [encoded.index(f["name"])] + (
                [encoded.index(f"{f['name']} missing")] if f.get("impute") is not None
                else [])
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
            else:  # a value that was sent is recorded: its missing indicator is 0
                x = np.array([float(patient[name])] + [0.0] * (len(cols) - 1))
            # w_j * (x_j - mean_j) / sd_j, summed over the feature's columns
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
    # level k with probability mean of its column, a missing-value indicator ~ Bernoulli
    # of its mean): computed exactly here.
    w, _, mean, sd, columns = _by_hand(registry.model(1))
    features = {f["name"]: f for f in registry.model(1).schema["features"]}
    expected = {}
    for name, cols in columns.items():
        kind, c = features[name]["kind"], cols[0]
        if kind == "categorical":
            p_levels = np.concatenate([[1 - mean[cols].sum()], mean[cols]])
            total = 0.0
            for level, p in enumerate(p_levels):
                x = (np.arange(1, len(p_levels)) == level).astype(float)
                total += p * abs(np.sum(w[cols] * (x - mean[cols]) / sd[cols]))
            expected[name] = total
            continue
        # an imputed feature: missing with its indicator's rate q, then the value is the
        # imputed mean and the indicator 1; recorded (1 - q): a drawn value, indicator 0
        def flag(v: float, cols: list[int] = cols) -> float:
            return float(w[cols[1]] * (v - mean[cols[1]]) / sd[cols[1]]) if len(cols) > 1 else 0.0

        q = mean[cols[1]] if len(cols) > 1 else 0.0
        shift = flag(0.0)
        if kind == "numeric":  # w (x - m) / sd = a N(0, 1) + shift: a folded normal's mean
            a = abs(w[c])
            recorded = (a * np.sqrt(2 / np.pi) * np.exp(-shift**2 / (2 * a**2))
                        + shift * (1 - 2 * scipy.stats.norm.cdf(-shift / a)))
        else:
            p = mean[c]
            recorded = (p * abs(w[c] * (1 - p) / sd[c] + shift)
                        + (1 - p) * abs(w[c] * (0 - p) / sd[c] + shift))
        filled = (abs(w[c] * (features[name]["impute"] - mean[c]) / sd[c] + flag(1.0))
                  if len(cols) > 1 else 0.0)
        expected[name] = (1 - q) * recorded + q * filled
    # 400000 reference patients: the sample means are within ~0.15 % (1 SE) of these
    importance = model.global_importance(n_reference=400_000)
    assert importance == pytest.approx(expected, rel=0.005)
    # the check has power: the same figures under other feature names fail it
    names = list(expected)
    for shift in range(1, len(names)):
        moved = {n: expected[names[(i + shift) % len(names)]] for i, n in enumerate(names)}
        assert importance != pytest.approx(moved, rel=0.005)


def test_errors_of_one_patient_name_the_field_not_row_0(model: RiskModel) -> None:
    patient = {**_patients(1)[0], "cp": "9"}
    with pytest.raises(PatientInputError) as info:
        model.validate([patient])
    assert str(info.value).startswith("patient.cp: must be one of 1 (typical angina), ")
    assert info.value.errors[0].to_dict(single=True)["loc"] == ["body", "patient", "cp"]
    with pytest.raises(PatientInputError) as info:
        model.validate([_patients(1)[0], patient])
    assert str(info.value).startswith("patients[1].cp: ")
    assert info.value.errors[0].to_dict()["loc"] == ["body", "patients", 1, "cp"]
    with pytest.raises(PatientInputError) as info:  # a batch of one is still a batch
        model.validate([patient], single=False)
    assert str(info.value).startswith("patients[0].cp: ")


def test_linear_effects_are_the_coefficients_with_their_signs(model: RiskModel,
                                                              registry: Registry) -> None:
    w, _, _, sd, columns = _by_hand(registry.model(1))
    effects = {e["feature"]: e for e in model.effects()}
    assert set(effects) == {f.name for f in model.features}
    for f in model.features:
        rows = effects[f.name]["effects"]
        cols = columns[f.name]
        flags = cols[1:] if f.kind != "categorical" else []
        if f.kind == "numeric":  # one step higher
            expected = [w[cols[0]] / sd[cols[0]] * rows[0]["step"]]
        elif f.kind == "binary":  # 1 vs 0
            expected = [w[cols[0]] / sd[cols[0]]]
        else:  # each level vs the first
            expected = [w[c] / sd[c] for c in cols]
        # imputed in training: not recorded vs recorded (its missing indicator 1 vs 0)
        expected += [w[c] / sd[c] for c in flags]
        assert [r["comparison"] for r in rows[len(rows) - len(flags):]] == (
            ["not recorded vs recorded"] * len(flags))
        assert [r["log_odds"] for r in rows] == pytest.approx(expected, abs=1e-12)
        for r, value in zip(rows, expected, strict=True):
            assert r["odds_ratio"] == pytest.approx(np.exp(value), rel=1e-12)
            assert r["direction"] == ("little effect" if abs(value) < 0.05 else
                                      "raises risk" if value > 0 else "lowers risk")
    assert effects["sex"]["effects"][0]["comparison"] == "1 (male) vs 0 (female)"
    assert [r["comparison"] for r in effects["cp"]["effects"]] == [
        "2 (atypical angina) vs 1 (typical angina)", "3 (non-anginal pain) vs 1 (typical angina)",
        "4 (asymptomatic) vs 1 (typical angina)"]
    assert effects["age"]["effects"][0]["comparison"].endswith(" years")


def test_factors_of_a_known_model_have_the_right_signs() -> None:
    # one numeric input with weight +1 and one with weight -1 (standardised scale)
    schema = {"target": "died", "site_column": "site", "features": [
        {"name": "a", "kind": "numeric", "unit": None, "categories": [], "valid_range": None},
        {"name": "b", "kind": "numeric", "unit": None, "categories": [], "valid_range": None},
        {"name": "s", "kind": "binary", "unit": None, "categories": [], "valid_range": None}]}
    m = RiskModel("logistic", [[1.0, -1.0, 0.5], [0.0]],
                  {"mean": [0.0, 0.0, 0.5], "scale": [1.0, 2.0, 0.5]}, schema)
    (e,) = m.explain([{"a": 2.0, "b": 2.0, "s": 0}])
    assert e.contributions == pytest.approx({"a": 2.0, "b": -1.0, "s": -0.5}, abs=1e-12)
    assert [(f["feature"], f["contribution"], f["direction"]) for f in e.factors] == [
        ("a", 2.0, "raises risk"), ("b", -1.0, "lowers risk"), ("s", -0.5, "lowers risk")]
    assert [f["text"] for f in e.factors] == [
        "a = 2: raises the risk of 'died' (+2.00 log-odds)",
        "b = 2: lowers the risk of 'died' (-1.00 log-odds)",
        "s = 0: lowers the risk of 'died' (-0.50 log-odds)"]
    assert e.top_factors == [
        "a = 2 raises the risk of 'died' (+2.00 log-odds vs. the study's average patient)",
        "b = 2 lowers the risk of 'died' (-1.00 log-odds vs. the study's average patient)",
        "s = 0 lowers the risk of 'died' (-0.50 log-odds vs. the study's average patient)"]
    assert e.factors[2]["meaning"] is None  # no codebook for this table: nothing invented
    (small,) = m.explain([{"a": 0.01, "b": 0.0, "s": 1}])
    assert small.factors[-1]["feature"] == "b" and small.factors[-1]["direction"] == (
        "little effect")
    assert small.factors[-1]["text"] == "b = 0: barely changes the risk of 'died' (0.00 log-odds)"
    effects = {x["feature"]: x["effects"][0] for x in m.effects()}
    assert effects["a"]["direction"] == "raises risk"
    assert effects["b"]["direction"] == "lowers risk"
    assert effects["s"]["comparison"] == "1 vs 0"
    assert effects["s"]["log_odds"] == pytest.approx(0.5 / 0.5, abs=1e-12)


def test_imputed_features_with_spaces_in_their_names() -> None:
    # as federated mean imputation writes it: "<name> missing" right after the value; the
    # feature names hold spaces
    schema = {"target": "died", "site_column": "site", "features": [
        {"name": "systolic bp", "kind": "numeric", "unit": "mm[Hg]", "categories": [],
         "valid_range": [50.0, 300.0], "impute": 130.0},
        {"name": "on statin", "kind": "binary", "unit": None, "categories": [],
         "valid_range": None, "impute": 0.25},
        {"name": "smoker", "kind": "binary", "unit": None, "categories": [],
         "valid_range": None}],
        "encoded_feature_names": ["systolic bp", "systolic bp missing", "on statin",
                                  "on statin missing", "smoker"]}
    w = [0.6, 0.9, -0.3, -0.4, 0.2]
    sd = [20.0, 0.3, 0.4, 0.45, 0.5]
    m = RiskModel("logistic", [w, [0.1]],
                  {"mean": [131.0, 0.1, 0.25, 0.3, 0.4], "scale": sd}, schema)
    X = m.reference_sample(2000)
    assert np.isfinite(X).all()
    flagged = X[:, 1] == 1.0
    assert 0.05 < flagged.mean() < 0.15 and (X[flagged, 0] == 130.0).all()
    effects = {e["feature"]: {r["comparison"]: r for r in e["effects"]} for e in m.effects()}
    assert set(effects["systolic bp"]) == {"+20 mmHg", "not recorded vs recorded"}
    assert effects["systolic bp"]["+20 mmHg"]["log_odds"] == pytest.approx(0.6, abs=1e-12)
    missing = effects["systolic bp"]["not recorded vs recorded"]
    assert missing["log_odds"] == pytest.approx(0.9 / 0.3, abs=1e-12)
    assert missing["direction"] == "raises risk"
    assert effects["on statin"]["1 vs 0"]["log_odds"] == pytest.approx(-0.3 / 0.4, abs=1e-12)
    assert effects["on statin"]["not recorded vs recorded"]["log_odds"] == pytest.approx(
        -0.4 / 0.45, abs=1e-12)
    assert effects["on statin"]["not recorded vs recorded"]["direction"] == "lowers risk"
    assert set(effects["smoker"]) == {"1 vs 0"}
    assert all(np.isfinite(r["log_odds"]) for e in effects.values() for r in e.values())
    # a patient sends recorded values: the indicator is 0, the contribution sums both columns
    (e,) = m.explain([{"systolic bp": 150, "on statin": 1, "smoker": 0}])
    assert e.contributions["systolic bp"] == pytest.approx(
        0.6 * (150 - 131) / 20 + 0.9 * (0 - 0.1) / 0.3, abs=1e-12)
    assert e.factors[0]["feature"] == "on statin"
    assert e.factors[0]["text"].startswith("on statin = 1: lowers the risk of 'died'")
    with pytest.raises(PatientInputError) as info:
        m.validate([{"systolic bp": 400, "on statin": 2, "smoker": 0}])
    assert str(info.value) == "patient.systolic bp: must be between 50 and 300 mmHg (and 1 more)"
    assert [e.to_dict(single=True)["loc"] for e in info.value.errors] == [
        ["body", "patient", "systolic bp"], ["body", "patient", "on statin"]]


def test_network_effects_are_signed(model: RiskModel) -> None:
    # a network that learned: risk rises with age (column 0) and falls with thalach
    rng = np.random.default_rng(3)
    names = model.schema.feature_names
    age, thalach = names.index("age"), names.index("thalach")
    Z = rng.normal(size=(600, len(names)))
    net = make_model("mlp", epochs=40).fit(Z, (Z[:, age] - Z[:, thalach] > 0).astype(int))
    mlp = RiskModel("mlp", [a.tolist() for a in net.get_arrays()],
                    {"mean": model.standardiser.mean.tolist(),
                     "scale": model.standardiser.std.tolist()},
                    model.schema.to_dict(), codebook=model.codebook, outcome=model.outcome)
    effects = {x["feature"]: x["effects"][0] for x in mlp.effects()}
    assert effects["age"]["log_odds"] > 0.5 and effects["age"]["direction"] == "raises risk"
    assert effects["thalach"]["log_odds"] < -0.5
    assert effects["thalach"]["direction"] == "lowers risk"
    assert "average change" in mlp.effects_method


def test_an_imputed_feature_may_be_left_out_of_a_request(run_dir) -> None:  # type: ignore[no-untyped-def]
    """The demo's model imputes cholesterol (Switzerland recorded none): a patient without
    it is scored with the federated mean and the 'not recorded' flag, as in training."""
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    model = RiskModel(metrics["model"]["kind"], metrics["model"]["arrays"],
                      metrics["model"]["standardiser"], metrics["schema"])
    patient = {"age": 61, "sex": 1, "cp": 4, "trestbps": 140, "chol": 260, "fbs": 0,
               "restecg": 0, "thalach": 130, "exang": 1, "oldpeak": 1.5}
    without = {k: v for k, v in patient.items() if k != "chol"}
    risk_with, risk_without = model.predict([patient, without])
    assert 0 < risk_without < 1 and risk_with != risk_without
    factors = {f["feature"]: f for f in model.explain([without])[0].factors}
    assert factors["chol"]["value"] == "not recorded"
    # cholesterol is a risk factor in this model: 400 mg/dL scores above 100 mg/dL
    low, high = model.predict([{**patient, "chol": 100}, {**patient, "chol": 400}])
    assert high > low
    with pytest.raises(PatientInputError, match="field required"):
        model.predict([{k: v for k, v in patient.items() if k != "cp"}])


def test_values_no_plausible_patient_has_are_refused_for_a_users_own_table() -> None:
    """A model trained on a user's table (no declared ranges): cholesterol gets its known
    plausible range from its name; a feature fedcare knows nothing of is refused only
    far outside the training values. Synthetic schema and weights."""
    schema = {"target": "died", "site_column": "site", "features": [
        {"name": "chol", "kind": "numeric"}, {"name": "score", "kind": "numeric"}]}
    model = RiskModel("logistic", [[0.5, 0.2], [0.0]],
                      {"mean": [220.0, 5.0], "scale": [40.0, 2.0]}, schema)
    assert 0 < model.predict([{"chol": 240, "score": 7}])[0] < 1
    for bad in ({"chol": -9, "score": 5}, {"chol": 1e9, "score": 5},
                {"chol": 240, "score": 999}):
        with pytest.raises(PatientInputError) as info:
            model.validate([bad])
        assert str(next(v for v in bad.values() if v not in (5, 240))) not in str(info.value)
    with pytest.raises(PatientInputError, match="chol: must be between 50 and 1000"):
        model.validate([{"chol": -9, "score": 5}])
    with pytest.raises(PatientInputError, match="score: far outside the values"):
        model.validate([{"chol": 240, "score": 999}])
