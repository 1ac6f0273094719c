"""The spine issue's figures on the FLamby Fed-Heart-Disease protocol (real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.metrics import roc_auc_score

from fedcare.data import load_heart_disease, site_split
from fedcare.models import LogisticRegression
from fedcare.study import StudyConfig, run_study
from fedcare.study._benchmark import FLAMBY_PROTOCOL, rounds_to_reference

CONFIG = dict(data="builtin:heart-disease", rounds=10, **FLAMBY_PROTOCOL)


@pytest.fixture(scope="module")
def heart(heart_dir: Path) -> dict:  # type: ignore[type-arg]
    config = StudyConfig(**CONFIG, data_dir=str(heart_dir))  # type: ignore[arg-type]
    return run_study(config).to_dict()


@pytest.fixture(scope="module")
def pooled_rows(heart_dir: Path) -> tuple[np.ndarray, ...]:
    """The pooled training and test rows, rebuilt here: each site's FLamby split, then
    (X - mean) / sd with the pooled training rows' mean and (population) SD; and C."""
    config = StudyConfig(**CONFIG, data_dir=str(heart_dir))  # type: ignore[arg-type]
    cohort = load_heart_disease(heart_dir, download=False)
    parts: dict[str, list[np.ndarray]] = {"Xtr": [], "ytr": [], "Xte": [], "yte": []}
    for site in sorted(cohort.sites):
        rows = cohort.for_site(site)
        train, test = site_split(rows.y, test_size=config.test_size, seed=config.split_seed)
        parts["Xtr"].append(rows.X[train])
        parts["ytr"].append(rows.y[train])
        parts["Xte"].append(rows.X[test])
        parts["yte"].append(rows.y[test])
    X_train, y_train, X_test, y_test = (np.concatenate(parts[k])
                                        for k in ("Xtr", "ytr", "Xte", "yte"))
    mean, sd = X_train.mean(axis=0), X_train.std(axis=0)
    return (X_train - mean) / sd, y_train, (X_test - mean) / sd, y_test, np.array(config.C)


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
    # README and docs/BENCHMARKS.md: within 0.005 of pooled accuracy and AUC from round 1
    curve = heart["convergence"]["federated:newton"]
    assert [e["round"] for e in curve] == list(range(1, 11))
    for entry in curve:
        for key in ("accuracy", "auc"):
            assert abs(entry[key] - pooled["pooled_test"][key]) <= 0.005, (entry["round"], key)
    hit = rounds_to_reference(curve, pooled["pooled_test"]["accuracy"],
                              pooled["pooled_test"]["auc"])
    assert hit == 1


def test_pooled_reference_is_scikit_learns_model(heart: dict,  # type: ignore[type-arg]
                                                 pooled_rows: tuple[np.ndarray, ...]) -> None:
    # fedcare minimises C * sum(log-loss) + ||coef||^2 / 2, intercept unpenalised:
    # scikit-learn's L2 objective, so its own solver (tight tol) is the reference.
    Z_train, y_train, Z_test, y_test, C = pooled_rows
    assert len(y_train) == sum(v["n_train"] for v in heart["sites"].values())
    assert len(y_test) == sum(v["n_test"] for v in heart["sites"].values())
    reference = SklearnLogisticRegression(C=float(C), tol=1e-12, max_iter=10_000).fit(
        Z_train, y_train)
    ours = LogisticRegression(C=float(C)).fit(Z_train, y_train)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=1e-5)
    p = reference.predict_proba(Z_test)[:, 1]
    pooled = heart["results"]["pooled"]["pooled_test"]
    assert pooled["accuracy"] == pytest.approx(float(((p > 0.5) == y_test).mean()), abs=1e-12)
    assert pooled["auc"] == pytest.approx(float(roc_auc_score(y_test, p)), abs=1e-6)


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
