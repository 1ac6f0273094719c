"""Quality gates that gate, declared missing-value codes and federated imputation
(issue "Trust", item 1), on the real UCI heart-disease files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcare.config import StudyConfig
from fedcare.data._heart import HEART_MISSING_CODES, heart_disease_table
from fedcare.exceptions import DataError
from fedcare.federation.site.data import Site, recode_missing
from fedcare.study import run_study


@pytest.fixture(scope="module")
def imputed(heart_dir: Path) -> dict:  # type: ignore[type-arg]
    config = StudyConfig(data_dir=str(heart_dir), missing_codes=HEART_MISSING_CODES)
    return run_study(config).to_dict()


def test_a_blocking_finding_stops_the_study_by_default_and_says_how_to_go_on(
        heart_dir: Path) -> None:
    with pytest.raises(DataError) as caught:
        run_study(StudyConfig(data_dir=str(heart_dir), rounds=1))
    text = str(caught.value)
    assert caught.value.exit_code == 3
    assert "switzerland chol" in text and "blocking" in text
    for fix in ("missing_codes = {chol = 0}", '--missing-codes "chol=0"',
                "fedcare site init --missing", 'quality_check = "warn"',
                "--quality-check warn"):
        assert fix in text
    assert "\n" not in text


def test_a_conscious_override_is_recorded(heart_dir: Path) -> None:
    metrics = run_study(StudyConfig(data_dir=str(heart_dir), rounds=1,
                                    quality_check="warn")).to_dict()
    assert metrics["quality_check"] == "warn"
    assert any("switzerland" in line and "chol" in line
               for line in metrics["quality_override"])
    assert metrics["quality"]["override"] == metrics["quality_override"]


def test_declared_codes_are_recoded_before_the_check_and_imputed(imputed: dict) -> None:  # type: ignore[type-arg]
    assert imputed["quality_override"] == []
    assert imputed["quality_check"] == "refuse"  # it passed the gate
    blocking = [f for f in imputed["quality"]["findings"] if f["severity"] == "blocking"]
    assert blocking == []
    # Switzerland recorded no cholesterol: it still takes part, with an indicator
    assert "switzerland" in imputed["results"]["federated:newton"]["per_site"]
    # every row: the one without restecg gets the level "(not recorded)"
    assert imputed["sites"]["switzerland"]["n_rows"] == 123
    assert "restecg=(not recorded)" in imputed["features"]
    assert "chol missing" in imputed["features"]
    assert set(imputed["imputed"]) >= {"chol", "trestbps"}


def test_the_federated_mean_is_the_mean_of_the_observed_training_values(
        imputed: dict, heart_dir: Path) -> None:  # type: ignore[type-arg]
    config = StudyConfig(data_dir=str(heart_dir), missing_codes=HEART_MISSING_CODES)
    observed, total = 0, 0.0
    plain = _plain_schema(imputed)
    for name in ("cleveland", "hungary", "switzerland", "va"):
        split = Site(config, name).split(plain, keep_missing=True)
        column = split.X_train[:, plain.feature_names.index("chol")]
        observed += int(np.isfinite(column).sum())
        total += float(np.nansum(column))
    assert imputed["imputed"]["chol"] == pytest.approx(total / observed)
    table = heart_disease_table(str(heart_dir))
    recorded = table.loc[table.chol > 0, "chol"]
    # a mean of real measurements, not dragged down by the zeros
    assert recorded.min() < imputed["imputed"]["chol"] < recorded.max()
    assert abs(imputed["imputed"]["chol"] - recorded.mean()) < 10


def _plain_schema(metrics: dict):  # type: ignore[no-untyped-def,type-arg]
    from fedcare.data._cohort import Schema

    raw = json.loads(json.dumps(metrics["schema"]))
    for f in raw["features"]:
        f.pop("impute", None)
    return Schema.from_dict(raw)


def test_cholesterol_is_a_risk_factor_in_the_demo_model(imputed: dict) -> None:  # type: ignore[type-arg]
    names = imputed["model"]["feature_names"]
    coef = np.asarray(imputed["model"]["arrays"][0]).ravel()
    assert coef[names.index("chol")] > 0
    assert coef[names.index("age")] > 0 and coef[names.index("sex")] > 0


def test_complete_case_drops_a_site_without_the_feature(heart_dir: Path) -> None:
    metrics = run_study(StudyConfig(data_dir=str(heart_dir), rounds=1,
                                    missing_codes=HEART_MISSING_CODES,
                                    missing="complete-case")).to_dict()
    assert "switzerland" in metrics["excluded_sites"]
    assert metrics["imputed"] == {} and "chol missing" not in metrics["features"]


def test_site_codes_join_the_study_codes(heart_dir: Path) -> None:
    config = StudyConfig(data_dir=str(heart_dir), missing_codes={"trestbps": [0]})
    site = Site(config, "switzerland", missing={"chol": [0.0]})
    assert site.recoded == {"trestbps": 0, "chol": 123}
    assert site.frame["chol"].isna().all()
    assert Site(config, "switzerland").frame["chol"].eq(0).all()


def test_codes_for_unknown_or_protected_columns_are_refused() -> None:
    frame = pd.DataFrame({"site": ["a"], "y": [1], "chol": [0]})
    with pytest.raises(DataError, match=r"\['cholesterol'\]"):
        recode_missing(frame, {"cholesterol": [0]}, source="site 'a'")
    with pytest.raises(DataError, match="outcome"):
        recode_missing(frame, {"y": [0]}, source="site 'a'", protected=("site", "y"))


@pytest.mark.parametrize("text,expected", [
    ("chol=0, trestbps=0", {"chol": [0.0], "trestbps": [0.0]}),
    ("chol=0|999", {"chol": [0.0, 999.0]}),
])
def test_missing_codes_read_from_the_command_line_form(text: str, expected: dict) -> None:  # type: ignore[type-arg]
    assert StudyConfig(missing_codes=text).missing_codes == expected


def test_a_bad_missing_code_names_the_setting() -> None:
    from fedcare.exceptions import ConfigError

    with pytest.raises(ConfigError, match="missing_codes"):
        StudyConfig(missing_codes="chol=zero")


def test_drop_feature_leaves_out_what_is_missing_somewhere(heart_dir: Path) -> None:
    metrics = run_study(StudyConfig(data_dir=str(heart_dir), rounds=1,
                                    missing_codes=HEART_MISSING_CODES,
                                    missing="drop-feature")).to_dict()
    assert {"chol", "trestbps", "fbs"} <= set(metrics["features_dropped"])
    assert "chol" not in metrics["features"] and "chol missing" not in metrics["features"]
    assert metrics["imputed"] == {} and "switzerland" not in metrics["excluded_sites"]


def test_a_code_for_a_column_the_table_lacks_is_one_clear_error(heart_dir: Path) -> None:
    with pytest.raises(DataError, match=r"no column 'choll'.*did you mean 'chol'"):
        run_study(StudyConfig(data_dir=str(heart_dir), missing_codes="choll=0"))
    with pytest.raises(DataError, match="'target' is the outcome column"):
        run_study(StudyConfig(data_dir=str(heart_dir), missing_codes="target=0"))


def test_a_missing_categorical_value_is_a_level_of_its_own(tmp_path: Path) -> None:
    """Synthetic: a yes/no question left blank when it does not apply (no previous
    pregnancy) must not drop those patients: the blank is a level, never the reference."""
    rng = np.random.default_rng(3)
    n = 240
    previous = rng.choice(["Yes", "No", None], n, p=[0.3, 0.3, 0.4])
    frame = pd.DataFrame({"clinic": np.repeat(["a", "b", "c"], n // 3),
                          "age": rng.normal(28, 5, n).round(),
                          "live_ptb": previous,
                          "preterm": rng.integers(0, 2, n)})
    path = tmp_path / "synthetic.csv"
    frame.to_csv(path, index=False)
    metrics = run_study(StudyConfig(data=str(path), site_column="clinic", target="preterm",
                                    rounds=1)).to_dict()
    assert "live_ptb=(not recorded)" in metrics["features"]
    assert "live_ptb=No" not in metrics["features"]  # "No" is the reference level
    assert sum(s["n_rows"] for s in metrics["sites"].values()) == n  # nobody dropped
    complete = run_study(StudyConfig(data=str(path), site_column="clinic", target="preterm",
                                     rounds=1, missing="complete-case")).to_dict()
    assert sum(s["n_rows"] for s in complete["sites"].values()) == int(
        pd.Series(previous).notna().sum())
