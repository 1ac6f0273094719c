"""Study settings: TOML files, Flower run config round trip, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedcare.exceptions import ConfigError
from fedcare.study import StudyConfig


def test_run_config_round_trip() -> None:
    config = StudyConfig(data="x.csv", features=["a", "b"], categorical=["b"], rounds=7, C=0.5,
                         strategy="fedprox", personalise="intercept")
    flat = config.to_run_config()
    assert flat["features"] == "a,b" and flat["rounds"] == 7
    assert StudyConfig.from_run_config(flat) == config


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('[study]\nstrategy = "fedavg"\nrounds = 25\nfeatures = ["age", "sbp"]\n')
    config = StudyConfig.from_toml(path)
    assert (config.strategy, config.rounds, config.features) == ("fedavg", 25, ["age", "sbp"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('strategy = "fedsgd"', "strategy must be one of"),
        ("rounds = 0", "rounds must be an integer >= 1"),
        ("roundz = 3", r"unknown setting\(s\) \['roundz'\]"),
        ("rounds = ", "not valid TOML"),
        ('model = "mlp"\nstrategy = "newton"', "needs model 'logistic'"),
        ("test_size = 0.99", "test_size must be within"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "study.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=match):
        StudyConfig.from_toml(path)


def test_missing_study_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such study file"):
        StudyConfig.from_toml(tmp_path / "absent.toml")


def test_privacy_table(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('strategy = "fedavg"\n\n[privacy]\ndp_epsilon = 3.0\nmin_cell = 10\n')
    config = StudyConfig.from_toml(path)
    assert (config.dp_epsilon, config.min_cell, config.strategy) == (3.0, 10, "fedavg")
    path.write_text('[privacy]\nrounds = 3\n')
    with pytest.raises(ConfigError, match="not privacy settings"):
        StudyConfig.from_toml(path)
