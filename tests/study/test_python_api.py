"""The public Python API does what the CLI does, without the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcare.config import StudyConfig
from fedcare.data._heart import HEART_MISSING_CODES
from fedcare.exceptions import ConfigError, DataError
from fedcare.study import AnalyticsWarning, check_quality, run_analytics, run_study


@pytest.fixture
def survival_csv(tmp_path: Path) -> Path:
    """Synthetic survival table: 3 sites, a few rows missing the covariate."""
    rng = np.random.default_rng(3)
    n = 240
    frame = pd.DataFrame({"site": rng.choice(["x", "y", "z"], n),
                          "age": np.round(rng.normal(60, 8, n), 1),
                          "time": np.round(rng.exponential(400, n), 0),
                          "event": rng.integers(0, 2, n)})
    frame.loc[:4, "age"] = np.nan
    path = tmp_path / "surv.csv"
    frame.to_csv(path, index=False)
    return path


def test_run_analytics_checks_the_table_and_warns_about_left_out_rows(
        survival_csv: Path) -> None:
    config = StudyConfig(data=str(survival_csv), site_column="site")
    with pytest.warns(AnalyticsWarning, match="5 row"):
        result = run_analytics(config, {"analysis": "cox", "duration": "time",
                                        "event": "event", "covariates": ["age"]})
    assert result["sites"] == ["x", "y", "z"] and result["rows_dropped"] == 5
    assert result["n"] == 235 and "age" in result["coef"]
    with pytest.raises(DataError, match=r"column 'agee' .* did you mean 'age'"):
        run_analytics(config, {"analysis": "cox", "duration": "time", "event": "event",
                               "covariates": ["agee"]})
    with pytest.raises(ConfigError, match="n_sites"):
        run_analytics(config, {"analysis": "describe", "columns": ["age"]},
                      coordinator=survival_csv.parent)


def test_run_study_refuses_a_misspelt_engine(labs: pd.DataFrame, tmp_path: Path) -> None:
    labs.to_csv(tmp_path / "labs.csv", index=False)
    config = StudyConfig(data=str(tmp_path / "labs.csv"), site_column="site", target="event")
    with pytest.raises(ConfigError, match="engine must be one of"):
        run_study(config, engine="simluation")
    quality = check_quality(config)
    assert sorted(quality["sites"]) == ["a", "b", "c"] and "findings" in quality["quality"]


def test_a_one_site_table_is_a_data_error_and_leaves_no_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fedcare.cli import app

    rng = np.random.default_rng(0)
    table = tmp_path / "one.csv"
    pd.DataFrame({"site": ["a"] * 60, "x": rng.normal(size=60),
                  "y": rng.integers(0, 2, 60)}).to_csv(table, index=False)
    with pytest.raises(DataError, match="names 1 site"):
        run_study(StudyConfig(data=str(table), site_column="site", target="y"))
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["study", "run", "--data", str(table), "--site-column",
                                      "site", "--target", "y", "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert not out.exists()  # a failing run leaves no empty output folder


def test_pooled_reference_obeys_the_small_cell_rule(heart_data_dir: Path) -> None:
    # Switzerland's test rows hold fewer than 5 negatives: the sites withhold its AUC in
    # every setting, and the pooled reference must not show it either
    metrics = run_study(StudyConfig(data_dir=str(heart_data_dir), rounds=2,
                                    missing_codes=HEART_MISSING_CODES)).to_dict()
    results = metrics["results"]
    assert results["federated:newton"]["per_site"]["switzerland"]["auc"] is None
    assert results["pooled"]["per_site"]["switzerland"]["auc"] is None
    assert results["pooled"]["per_site"]["cleveland"]["auc"] is not None


def test_p_values_and_reference_levels_are_written_for_clinicians() -> None:
    from fedcare._format import format_p, reference_levels

    assert format_p(3e-7) == "< 0.0001" and format_p(0.0321) == "0.032"
    assert reference_levels({"sex": ["1", "2"], "arm": ["placebo", "drug"]}) == (
        "reference levels: sex = 1, arm = placebo")
