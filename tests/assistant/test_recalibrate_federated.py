"""Recalibration as a federated analytics run (Flower messages, in-process engine): equal
to the direct fit from the same sites' sums; bad requests refused with a clear error."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fedcare.assistant._validate import equation_risks, profiles_from_frame, recalibrate
from fedcare.config import StudyConfig
from fedcare.exceptions import ConfigError, DataError


def _table(tmp: Path, n: int = 1200) -> Path:
    """Synthetic: 3 sites, the BMI Framingham model's inputs, outcomes drawn from a known
    miscalibration of the equation (so a != 0, b != 1)."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "hospital": rng.choice(["a", "b", "c"], n), "age": rng.integers(35, 74, n),
        "sex": rng.choice(["female", "male"], n), "sbp": rng.integers(100, 180, n),
        "bp_treated": rng.integers(0, 2, n), "smoker": rng.integers(0, 2, n),
        "diabetes": (rng.random(n) < 0.1).astype(int), "bmi": rng.uniform(19, 35, n)})
    frame.loc[:4, "bmi"] = np.nan  # unusable rows, counted
    p, _ = equation_risks("framingham_cvd_2008", profiles_from_frame(
        frame, "framingham_cvd_2008", {"systolic_bp": "sbp"}))
    true = 1 - np.exp(-np.exp(0.3 + 0.9 * np.log(-np.log(1 - np.nan_to_num(p, nan=0.1)))))
    frame["event"] = (rng.random(n) < true).astype(int)
    path = tmp / "sites.csv"
    frame.to_csv(path, index=False)
    return path


def test_federated_recalibration_equals_the_direct_fit(tmp_path: Path) -> None:
    from fedcare.study import run_analytics

    path = _table(tmp_path)
    request = {"analysis": "recalibrate", "equation": "framingham_cvd_2008",
               "event": "event", "columns": {"systolic_bp": "sbp"},
               "version": "bmi"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_analytics(StudyConfig(data=str(path), site_column="hospital"), request)
    assert any("5 row(s) left out" in str(w.message) for w in caught)
    frame = pd.read_csv(path)
    sites = []
    for name in ("a", "b", "c"):
        rows = frame[frame["hospital"] == name]
        p, ok = equation_risks("framingham_cvd_2008", profiles_from_frame(
            rows, "framingham_cvd_2008", {"systolic_bp": "sbp"}))
        sites.append((p[ok], rows["event"].to_numpy(dtype=float)[ok]))
    direct = recalibrate("framingham_cvd_2008", sites)
    assert result["a"] == pytest.approx(direct.a, abs=1e-9)
    assert result["b"] == pytest.approx(direct.b, abs=1e-9)
    assert result["n"] == direct.n == 1195 and result["converged"]
    assert abs(result["observed_expected_after"] - 1) < abs(
        result["observed_expected_before"] - 1)
    assert result["sites"] == ["a", "b", "c"]


def test_unknown_equation_and_missing_column(tmp_path: Path) -> None:
    from fedcare.study import run_analytics

    path = _table(tmp_path)
    config = StudyConfig(data=str(path), site_column="hospital")
    with pytest.raises(ConfigError, match="--equation must be one of"):
        run_analytics(config, {"analysis": "recalibrate", "equation": "cdrs",
                               "event": "event"})
    with pytest.raises(DataError, match="systolic_bp"):
        run_analytics(config, {"analysis": "recalibrate", "equation": "framingham_cvd_2008",
                               "event": "event", "version": "bmi"})
    with pytest.raises(ConfigError, match="--version must be one of lipid, bmi"):
        run_analytics(config, {"analysis": "recalibrate", "equation": "framingham_cvd_2008",
                               "event": "event", "columns": {"systolic_bp": "sbp"}})


def test_cli(tmp_path: Path) -> None:
    from fedcare.cli import app

    path = _table(tmp_path)
    out = tmp_path / "r.json"
    r = CliRunner().invoke(app, ["analytics", "recalibrate", "--data", str(path),
                                 "--site-column", "hospital", "--equation",
                                 "framingham_cvd_2008", "--version", "bmi", "--event", "event",
                                 "--column", "systolic_bp=sbp", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "recalibrated" in r.output and out.exists()
    r = CliRunner().invoke(app, ["analytics", "recalibrate", "--data", str(path),
                                 "--site-column", "hospital", "--equation",
                                 "framingham_cvd_2008", "--event", "event", "--column",
                                 "systolic_bp"])
    assert r.exit_code == 5 and "FIELD=COLUMN" in r.output


def test_secure_aggregation_gives_the_same_fit(tmp_path: Path) -> None:
    """With SecAgg+ (3 sites) the coordinator sees only the totals; the fit is the same."""
    from fedcare.study import run_analytics

    path = _table(tmp_path)
    request = {"analysis": "recalibrate", "equation": "framingham_cvd_2008",
               "event": "event", "columns": {"systolic_bp": "sbp"},
               "version": "bmi"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = run_analytics(StudyConfig(data=str(path), site_column="hospital"), request)
        secure = run_analytics(StudyConfig(data=str(path), site_column="hospital",
                                           secure_aggregation=True), request)
    assert secure["a"] == pytest.approx(plain["a"], abs=1e-6)
    assert secure["b"] == pytest.approx(plain["b"], abs=1e-6)
