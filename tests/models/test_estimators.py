"""Estimator contract (scikit-learn's own checks) and equality with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fedcare.models import LogisticRegression, MLPClassifier, logistic_gradient_hessian
from fedcare.models._personalise import ConstantRisk, personalise


@parametrize_with_checks([LogisticRegression(), MLPClassifier(epochs=5)])
def test_sklearn_contract(estimator, check):  # type: ignore[no-untyped-def]
    check(estimator)


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    data = load_breast_cancer()
    return StandardScaler().fit_transform(data.data), data.target


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_logistic_matches_sklearn(cancer: tuple[np.ndarray, np.ndarray], C: float) -> None:
    X, y = cancer
    ours = LogisticRegression(C=C).fit(X, y)
    ref = SkLogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=2e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=2e-5)
    assert ours.n_iter_ < 20


def test_gradient_hessian_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = (rng.random(50) < 0.4).astype(float)
    w = rng.normal(size=4)
    g, H, loss = logistic_gradient_hessian(X, y, w)
    eps = 1e-6
    for i in range(4):
        step = np.zeros(4)
        step[i] = eps
        up = logistic_gradient_hessian(X, y, w + step)
        down = logistic_gradient_hessian(X, y, w - step)
        assert abs((up[2] - down[2]) / (2 * eps) - g[i]) < 1e-5
        np.testing.assert_allclose((up[0] - down[0]) / (2 * eps), H[:, i], atol=1e-5)
    assert loss > 0


@pytest.mark.parametrize("make", [LogisticRegression, lambda: MLPClassifier(epochs=20)])
def test_arrays_round_trip(cancer: tuple[np.ndarray, np.ndarray], make) -> None:  # type: ignore[no-untyped-def]
    X, y = cancer
    fitted = make().fit(X, y)
    arrays = fitted.get_arrays()
    fresh = make().set_arrays([a.copy() for a in arrays])
    np.testing.assert_array_equal(fresh.predict_proba(X), fitted.predict_proba(X))
    assert [a.shape for a in fresh.get_arrays()] == [a.shape for a in arrays]


def test_local_update_reduces_loss(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = cancer
    model = LogisticRegression().set_arrays([np.zeros(X.shape[1]), np.zeros(1)])
    before = logistic_gradient_hessian(X, y, np.zeros(X.shape[1] + 1))[2]
    model.local_update(X, y, steps=200, lr=0.1, batch_size=16, seed=1)
    after = logistic_gradient_hessian(X, y, model.weights_)[2]
    assert after < 0.5 * before


def test_prox_term_keeps_update_closer_to_start(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = cancer
    start = [np.zeros(X.shape[1]), np.zeros(1)]
    free = LogisticRegression().set_arrays(start).local_update(X, y, steps=100, seed=3)
    tied = LogisticRegression().set_arrays(start).local_update(X, y, steps=100, prox_mu=5.0,
                                                               seed=3)
    assert np.linalg.norm(tied.weights_) < 0.8 * np.linalg.norm(free.weights_)


def test_one_class_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="1 class"):
        LogisticRegression().fit(np.zeros((5, 2)), np.ones(5))


def test_constant_risk_predicts_training_prevalence() -> None:
    p = ConstantRisk(1.0).predict_proba(np.zeros((3, 2)))
    np.testing.assert_array_equal(p[:, 1], [1.0, 1.0, 1.0])


def test_personalise_intercept_recovers_a_site_shift() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 2))
    coef = np.array([1.0, -1.0])
    base = LogisticRegression().set_arrays([coef, np.array([0.0])])
    y = (rng.random(400) < 1 / (1 + np.exp(-(X @ coef + 1.5)))).astype(int)
    adapted = personalise(base, X, y, method="intercept")
    assert abs(adapted.delta[-1] - 1.5) < 0.35
    np.testing.assert_array_equal(adapted.delta[:-1], 0.0)
    auto = personalise(base, X, y, method="auto")
    assert auto.method != "none"  # a 1.5 log-odds shift must be picked up by CV
