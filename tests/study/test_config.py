"""Study settings: TOML files and sections, Flower run config round trip, clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fedcare.config import SECTIONS, SitePolicy, StudyConfig
from fedcare.exceptions import ConfigError
from fedcare.study import StudyConfig as ShimStudyConfig


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text + "\n")
    return path


def test_shim_is_the_same_class() -> None:
    assert ShimStudyConfig is StudyConfig


def test_run_config_round_trip() -> None:
    config = StudyConfig(data="x.csv", features=["a", "b"], categorical=["b"], rounds=7, C=0.5,
                         strategy="fedprox", personalise="intercept", secure_aggregation=True)
    flat = config.to_run_config()
    assert flat["features"] == "a,b" and flat["rounds"] == 7 and flat["local-steps"] == 100
    assert flat["secure-aggregation"] is True
    assert all(isinstance(v, str | int | float | bool) for v in flat.values())
    assert StudyConfig.from_run_config(flat) == config
    assert StudyConfig.from_run_config({**flat, "num-sites": 4, "task": "x"}) == config


def test_run_config_keeps_types_strict() -> None:
    flat = StudyConfig().to_run_config()
    with pytest.raises(ConfigError, match=r"run config: secure-aggregation: expected true or "
                                          r"false, got 'no'"):
        StudyConfig.from_run_config({**flat, "secure-aggregation": "no"})
    with pytest.raises(ConfigError, match=r"run config: local-steps: expected an integer"):
        StudyConfig.from_run_config({**flat, "local-steps": "3"})
    assert StudyConfig.from_run_config({**flat, "C": 2}).C == 2.0


def test_to_dict_is_json_ready_and_complete() -> None:
    config = StudyConfig(features="age, sbp")
    plain = config.to_dict()
    assert set(plain) == set(StudyConfig.model_fields)
    assert plain["features"] == ["age", "sbp"] and plain["rounds"] == 10
    assert json.loads(json.dumps(plain)) == plain
    plain["features"].append("x")  # a copy: the config is untouched
    assert config.features == ["age", "sbp"]
    assert StudyConfig(**config.to_dict()) == config


def test_frozen_and_hashable() -> None:
    config = StudyConfig()
    with pytest.raises(ConfigError, match="frozen"):
        config.rounds = 3
    with pytest.raises(ConfigError, match="frozen"):
        del config.rounds
    assert config.rounds == 10
    assert hash(config) == hash(StudyConfig()) and {config: 1}[StudyConfig()] == 1
    assert hash(config) != hash(config.replace(rounds=3))


def test_replace_validates() -> None:
    config = StudyConfig(strategy="fedavg")
    assert config.replace(rounds=3).rounds == 3 and config.rounds == 10
    with pytest.raises(ConfigError, match=r"rounds: expected an integer >= 1, got 0"):
        config.replace(rounds=0)
    with pytest.raises(ConfigError, match="needs model 'logistic'"):
        config.replace(model="mlp", strategy="newton")
    with pytest.raises(ConfigError, match=r"roundz: unknown setting; did you mean 'rounds'"):
        config.replace(roundz=3)


def test_label() -> None:
    assert StudyConfig().label == "newton"
    config = StudyConfig(strategy="fedavg", aggregation="median", norm_bound=3.0,
                         dp_epsilon=2.0, dp_level="client")
    assert config.label == "fedavg+median+normbound-reject+dp-client-eps=2"
    assert StudyConfig(strategy="fedavg", secure_aggregation=True).label == "fedavg+secagg"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"secure_aggregation": "no"}, "secure_aggregation: expected true or false, got 'no'"),
        ({"secure_aggregation": "yes"}, "secure_aggregation: expected true or false"),
        ({"secure_aggregation": 1}, "secure_aggregation: expected true or false, got 1"),
        ({"secure_aggregation": "true"}, "secure_aggregation: expected true or false"),
        ({"rounds": 2.5}, "rounds: expected an integer >= 1, got 2.5"),
        ({"rounds": "3"}, "rounds: expected an integer >= 1, got '3'"),
        ({"rounds": True}, "rounds: expected an integer"),
        ({"seed": 1.0}, "seed: expected an integer, got 1.0"),
        ({"min_cell": 2.0}, "min_cell: expected an integer >= 1"),
        ({"C": "1"}, "C: expected a number > 0, got '1'"),
        ({"dp_epsilon": True}, "dp_epsilon: expected a number >= 0, got True"),
        ({"lr": float("nan")}, "lr: expected a number > 0, got nan"),
        ({"data": 3}, "data: expected text, got 3"),
        ({"features": 3}, "features: expected a list of column names or a comma-separated "
                          "string, got 3"),
        ({"features": ["a", 1]}, "features.1: expected text, got 1"),
    ],
)
def test_types_are_strict(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        StudyConfig(**settings)
    assert str(err.value) == message or str(err.value).startswith(message)


def test_numbers_accept_ints_and_lists_accept_comma_strings() -> None:
    config = StudyConfig(C=2, dp_delta=1e-6, round_timeout=60, features="age, sbp,,chol",
                         categorical=["cp"], numeric="")
    assert config.C == 2.0 and isinstance(config.C, float) and config.round_timeout == 60.0
    assert (config.features, config.categorical, config.numeric) == (
        ["age", "sbp", "chol"], ["cp"], [])


def test_long_values_are_not_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        StudyConfig(strategy="x" * 500)
    assert "x" * 50 not in str(err.value) and "strategy must be one of" in str(err.value)


def test_several_errors_are_joined_on_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        StudyConfig(rounds=0, C=-1.0)
    assert str(err.value) == ("C: expected a number > 0, got -1.0; "
                              "rounds: expected an integer >= 1, got 0")
    assert "\n" not in str(err.value)


def test_errors_are_never_pydantic_errors() -> None:
    from pydantic import ValidationError

    for bad in ({"rounds": "x"}, {"strategy": "x"}, {"model": "mlp"}, {"nope": 1}):
        with pytest.raises(ConfigError) as err:
            StudyConfig(**bad)
        assert not isinstance(err.value, ValidationError)
        assert err.value.__cause__ is None and err.value.__suppress_context__


# -- one test per rule: each fails if its rule is removed --------------------------------
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"strategy": "fedsgd"}, "strategy must be one of ['newton', 'fedavg', 'fedprox', "
                                 "'fedadam'], got 'fedsgd'"),
        ({"model": "forest"}, "model must be one of"),
        ({"standardise": "global"}, "standardise must be one of"),
        ({"personalise": "all"}, "personalise must be one of"),
        ({"aggregation": "avg", "strategy": "fedavg"}, "aggregation must be one of"),
        ({"norm_action": "drop"}, "norm_action must be one of"),
        ({"dp_level": "site"}, "dp_level must be one of"),
        ({"quality_check": "sometimes"}, "quality_check must be one of ['refuse', 'warn', "
                                         "'off'], got 'sometimes'"),
        ({"rounds": 0}, "rounds: expected an integer >= 1"),
        ({"local_steps": 0}, "local_steps: expected an integer >= 1"),
        ({"batch_size": 0}, "batch_size: expected an integer >= 1"),
        ({"min_site_rows": 0}, "min_site_rows: expected an integer >= 1"),
        ({"min_cell": 0}, "min_cell: expected an integer >= 1"),
        ({"min_sites_per_round": -1}, "min_sites_per_round: expected an integer >= 0"),
        ({"C": 0.0}, "C: expected a number > 0"),
        ({"lr": 0.0}, "lr: expected a number > 0"),
        ({"server_lr": -1.0}, "server_lr: expected a number > 0"),
        ({"prox_mu": -0.1}, "prox_mu: expected a number >= 0"),
        ({"round_timeout": 0.0}, "round_timeout: expected a number > 0"),
        ({"test_size": 0.99}, "test_size: expected a number within [0.05, 0.9], got 0.99"),
        ({"test_size": 0.01}, "test_size: expected a number within [0.05, 0.9]"),
        ({"trim_fraction": 0.5}, "trim_fraction: expected a number within [0, 0.5)"),
        ({"trim_fraction": -0.1}, "trim_fraction: expected a number within [0, 0.5)"),
        ({"dp_epsilon": -1.0}, "dp_epsilon: expected a number >= 0"),
        ({"dp_delta": 1.0}, "dp_delta: expected a number within (0, 1)"),
        ({"dp_delta": 0.0}, "dp_delta: expected a number within (0, 1)"),
        ({"dp_max_grad_norm": 0.0}, "dp_max_grad_norm: expected a number > 0"),
        ({"norm_bound": 0.5, "strategy": "fedavg"}, "norm_bound must be 0 (off) or >= 1"),
        ({"norm_bound": -1.0, "strategy": "fedavg"}, "norm_bound: expected 0 (off) or a "
                                                      "number >= 1"),
        # rules across settings
        ({"model": "mlp", "strategy": "newton"}, "strategy 'newton' needs model 'logistic'"),
        ({"aggregation": "median"}, "aggregation 'median' applies to the FedAvg family"),
        ({"norm_bound": 3.0}, "norm_bound applies to the FedAvg family, not strategy 'newton'"),
        ({"tol": 1e-6, "strategy": "fedavg"}, "tol (stop once the coefficients settle) "
                                              "applies to strategy 'newton', not 'fedavg'"),
        ({"tol": -1.0}, "tol: expected a number >= 0"),
        ({"dp_epsilon": 1.0}, "record-level DP-SGD (dp_epsilon > 0) is available for models "
                              "'logistic' and 'cnn' with strategy fedavg"),
        ({"dp_epsilon": 1.0, "model": "mlp", "strategy": "fedavg"}, "record-level DP-SGD"),
        ({"secure_aggregation": True, "strategy": "fedavg", "aggregation": "median"},
         "secure_aggregation hides each site's update"),
        ({"secure_aggregation": True, "strategy": "fedavg", "norm_bound": 2.0},
         "secure_aggregation hides each site's update"),
        ({"secure_aggregation": True, "strategy": "fedavg", "dp_epsilon": 1.0,
          "dp_level": "client"}, "secure_aggregation hides each site's update"),
        ({"resume_from": "c.json", "strategy": "fedadam"}, "resume_from works for newton"),
        ({"resume_from": "c.json", "strategy": "fedavg", "dp_epsilon": 1.0},
         "resume_from works for newton"),
    ],
)
def test_each_rule(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        StudyConfig(**settings)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "settings",
    [
        {"strategy": "fedavg", "model": "mlp"},
        {"strategy": "fedavg", "aggregation": "krum", "norm_bound": 1.0, "norm_action": "clip"},
        {"strategy": "fedprox", "dp_epsilon": 1.0, "dp_level": "client"},
        {"strategy": "fedavg", "secure_aggregation": True, "dp_epsilon": 1.0},
        {"strategy": "newton", "secure_aggregation": True},
        {"strategy": "fedprox", "resume_from": "c.json"},
        {"test_size": 0.05, "trim_fraction": 0.0, "min_sites_per_round": 0, "prox_mu": 0.0},
    ],
)
def test_valid_combinations(settings: dict[str, Any]) -> None:
    assert StudyConfig(**settings).to_dict().items() >= settings.items()


# -- TOML files ---------------------------------------------------------------------------
def test_toml_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[study]\nstrategy = "fedavg"\nrounds = 25\nfeatures = ["age", "sbp"]')
    config = StudyConfig.from_toml(path)
    assert (config.strategy, config.rounds, config.features) == ("fedavg", 25, ["age", "sbp"])
    config = StudyConfig.from_toml(_toml(tmp_path, 'strategy = "fedavg"\nfeatures = "a, b"'))
    assert (config.strategy, config.features) == ("fedavg", ["a", "b"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('strategy = "fedsgd"', "study.toml: strategy must be one of"),
        ("rounds = 0", r"study.toml: rounds: expected an integer >= 1, got 0"),
        ("rounds = 2.5", r"study.toml: rounds: expected an integer >= 1, got 2.5"),
        ('rounds = "3"', r"study.toml: rounds: expected an integer >= 1, got '3'"),
        ('secure_aggregation = "no"',
         "study.toml: secure_aggregation: expected true or false, got 'no'"),
        ("roundz = 3", r"study.toml: roundz: unknown setting \(did you mean 'rounds'\?\); "
                       "known: C, aggregation"),
        ("rounds = ", "not valid TOML"),
        ('model = "mlp"\nstrategy = "newton"', "study.toml: strategy 'newton' needs model "
                                               "'logistic'"),
        ("test_size = 0.99", r"study.toml: test_size: expected a number within \[0.05, 0.9\]"),
        ('[study]\nrounds = "x"', r"study.toml: study.rounds: expected an integer"),
        ('[training]\nrounds = 0', r"study.toml: training.rounds: expected an integer >= 1"),
    ],
)
def test_bad_settings_name_the_setting_and_file(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        StudyConfig.from_toml(_toml(tmp_path, text))


def test_missing_study_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such study file"):
        StudyConfig.from_toml(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        StudyConfig.from_toml(tmp_path)


def test_privacy_table(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'strategy = "fedavg"\n\n[privacy]\ndp_epsilon = 3.0\nmin_cell = 10')
    config = StudyConfig.from_toml(path)
    assert (config.dp_epsilon, config.min_cell, config.strategy) == (3.0, 10, "fedavg")
    path = _toml(tmp_path, '[study]\nstrategy = "fedavg"\n[study.privacy]\ndp_epsilon = 2.0')
    assert StudyConfig.from_toml(path).dp_epsilon == 2.0
    with pytest.raises(ConfigError, match=r"privacy.rounds: not a privacy setting; it belongs "
                                          r"in \[training\]"):
        StudyConfig.from_toml(_toml(tmp_path, "[privacy]\nrounds = 3"))


def test_sections_cover_every_setting_once() -> None:
    keys = [k for section in SECTIONS.values() for k in section]
    assert sorted(keys) == sorted(StudyConfig.model_fields)
    assert set(SECTIONS) == {"data", "split", "training", "privacy", "fault_tolerance",
                             "quality"}
    for section in SECTIONS:  # the class docstring documents every section
        assert f"``[{section}]``" in (StudyConfig.__doc__ or "")


def test_every_section(tmp_path: Path) -> None:
    path = _toml(tmp_path, "\n".join([
        '[data]', 'data = "x.csv"', 'site_column = "hospital"', 'features = "age, sbp"',
        '[split]', 'test_size = 0.25', 'split_seed = 7',
        '[training]', 'strategy = "fedavg"', 'rounds = 4', 'C = 2',
        '[privacy]', 'secure_aggregation = true', 'dp_epsilon = 1.0',
        '[fault_tolerance]', 'min_sites_per_round = 2', 'round_timeout = 30',
        '[quality]', 'quality_check = "off"']))
    config = StudyConfig.from_toml(path)
    assert (config.data, config.site_column, config.features) == (
        "x.csv", "hospital", ["age", "sbp"])
    assert (config.test_size, config.split_seed, config.strategy, config.rounds, config.C) == (
        0.25, 7, "fedavg", 4, 2.0)
    assert (config.secure_aggregation, config.dp_epsilon, config.min_sites_per_round,
            config.round_timeout, config.quality_check) == (True, 1.0, 2, 30.0, "off")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[training]\nmin_cell = 3", r"study.toml: training.min_cell: not a training "
                                      r"setting; it belongs in \[privacy\]"),
        ("[data]\nrounds = 3", r"data.rounds: not a data setting; it belongs in \[training\]"),
        ("[quality]\nroundz = 3", r"quality.roundz: unknown setting; \[quality\] holds "
                                  "quality_check"),
        ("[trainig]\nrounds = 3", r"study.toml: \[trainig\]: unknown section; sections: "
                                  "data, split, training, privacy, fault_tolerance, quality"),
        ("[study.trainig]\nrounds = 3", r"\[study.trainig\]: unknown section"),
        ("privacy = 3", r"privacy: expected a table of settings \(\[privacy\]\), got 3"),
        ("study = 3", "study: expected a table of settings, got 3"),
        ("rounds = 3\n[training]\nrounds = 4", r"training.rounds: set twice \(also as rounds\)"),
        ('[privacy]\nsecure_aggregation = "no"',
         "study.toml: privacy.secure_aggregation: expected true or false, got 'no'"),
    ],
)
def test_section_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        StudyConfig.from_toml(_toml(tmp_path, text))


def test_construction_is_fast() -> None:
    import timeit

    flat = StudyConfig().to_run_config()
    seconds = min(timeit.repeat(lambda: StudyConfig.from_run_config(flat), number=200,
                                repeat=3)) / 200
    assert seconds < 1e-3  # ~30 µs on a laptop; generous for loaded CI machines


# -- the site policy ----------------------------------------------------------------------
def test_site_policy(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[policy]\nmodels = ["logistic"]\nmax_epsilon = 4\nmin_cell = 10\n')
    policy = SitePolicy.from_toml(path)
    assert (policy.models, policy.max_epsilon, policy.min_cell) == (["logistic"], 4.0, 10)
    with pytest.raises(ConfigError, match="SitePolicy is frozen"):
        policy.min_cell = 3
    study = StudyConfig(strategy="fedavg", dp_epsilon=2.0, min_cell=10)
    assert policy.violations(study) == []
    # each reason: the rule, then (after ";") the fix
    assert [r.split(";")[0] for r in policy.violations(
        study.replace(model="mlp", dp_epsilon=0.0))] == [
        "model 'mlp' is not allowed (allowed: ['logistic'])",
        "its policy requires record-level DP (max_epsilon = 4), which model 'mlp' cannot use"]
    assert SitePolicy.from_toml(tmp_path / "site.toml").violations(study, usable_rows=0) == [
        "fewer usable patients than the site's minimum cohort 1"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("max_eps = 1", r"unknown policy setting\(s\) \['max_eps'\]"),
        ('require_secure_aggregation = "yes"',
         "site.toml: policy.require_secure_aggregation: expected true or false, got 'yes'"),
        ("min_cohort = 2.5", "site.toml: policy.min_cohort: expected an integer >= 1"),
        ('models = ["logistc"]', r"policy.models must list some of \['logistic', 'mlp', 'cnn'\]"),
    ],
)
def test_site_policy_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text("[policy]\n" + text + "\n")
    with pytest.raises(ConfigError, match=match):
        SitePolicy.from_toml(path)


def test_config_is_the_bottom_layer() -> None:
    import subprocess
    import sys

    code = ("import sys, fedcare.config; print(' '.join(m for m in sys.modules "
            "if m.split('.')[0] in {'fedcare', 'flwr', 'typer', 'fastapi', 'pandas'}))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert loaded - {"fedcare", "fedcare.exceptions"} == {
        "fedcare.config", "fedcare.config._study", "fedcare.config._policy"}
