"""A model whose risk factor comes out protective is flagged, never silent.

The table of settled directions (``fedcare.explain._expected``) is checked on effects
written by hand, then end to end: a SYNTHETIC three-site table in which the risk falls with
age (as if a site had coded age the wrong way, or the data were confounded) must put a
banner in the report, a line in the CLI's output and the finding in metrics.json; the
built-in heart study (real data) must point every recognised factor the expected way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fedcare.data._codebook import HEART_CODEBOOK, Meaning
from fedcare.explain._expected import check_directions, outcome_scope


def _effects(**log_odds: float) -> list[dict]:
    out = []
    for name, value in log_odds.items():
        level = None if name in ("age", "chol", "thalach", "sysbp") else "1"
        out.append({"feature": name, "effects": [
            {"comparison": "+1 step" if level is None else "1 vs 0", "level": level,
             "log_odds": value}]})
    return out


KINDS = {"age": "numeric", "chol": "numeric", "thalach": "numeric", "sysbp": "numeric",
         "sex": "binary", "smoker": "binary", "diabetes": "binary"}


def test_a_protective_risk_factor_is_found_and_named() -> None:
    report = check_directions(
        _effects(age=-0.4, chol=0.2, thalach=0.3, sysbp=0.01, smoker=0.6),
        {}, KINDS, outcome_label="death within a year", target="died")
    against = {a["feature"]: a for a in report["against"]}
    # the other factors are checked for cardiovascular outcomes only, not for death
    assert set(against) == {"age"} and not report["agree"] and not report["little_effect"]
    assert against["age"]["expected"] == "raises risk"
    assert against["age"]["learned"] == "lowers risk"
    assert "age (age: lowers risk, expected raises risk)" in report["summary"]
    cardio = check_directions(_effects(age=0.4, sysbp=0.01, smoker=0.6, chol=-0.2), {},
                              KINDS, outcome_label="myocardial infarction", target="mi")
    assert cardio["agree"] == {"age": "age", "smoker": "smoking"}
    assert cardio["little_effect"] == {"sysbp": "systolic blood pressure"}
    assert [a["feature"] for a in cardio["against"]] == ["chol"]


def test_cardiovascular_factors_apply_to_a_cardiovascular_outcome() -> None:
    report = check_directions(_effects(age=0.2, chol=-0.3, thalach=0.3, diabetes=0.5),
                              {}, KINDS, outcome_label=None, target="TenYearCHD")
    assert report["scope"] == "cardiovascular"
    assert sorted(a["feature"] for a in report["against"]) == ["chol", "thalach"]


def test_sex_needs_its_codes_and_reads_them() -> None:
    effects = _effects(sex=-0.8)
    unknown = check_directions(effects, {}, KINDS, outcome_label="heart disease",
                               target="target")
    assert "sex" in unknown["not_checked"] and not unknown["against"]
    coded = check_directions(effects, {"sex": HEART_CODEBOOK["sex"]}, KINDS,
                             outcome_label="heart disease", target="target")
    assert [a["feature"] for a in coded["against"]] == ["sex"]  # 1 = male lowers: against
    flipped = check_directions(effects, {"sex": Meaning("sex", {"0": "male",
                                                                "1": "female"})},
                               KINDS, outcome_label="heart disease", target="target")
    assert flipped["agree"] == {"sex": "male sex"}  # 1 = female lowers: as expected


def test_a_flag_coded_zero_for_present_is_read_that_way() -> None:
    meanings = {"smoker": Meaning("smoker", {"0": "yes", "1": "no"})}
    report = check_directions(_effects(smoker=0.7), meanings, KINDS,
                              outcome_label="coronary heart disease", target="chd")
    assert [a["feature"] for a in report["against"]] == ["smoker"]


def test_no_expectation_for_an_outcome_not_known_as_adverse() -> None:
    report = check_directions(_effects(age=-1.0), {}, KINDS, outcome_label=None,
                              target="y")
    assert report["scope"] is None and not report["against"]
    assert "does not read as an adverse event" in report["summary"]
    assert "'chd_10y'" in report["summary"]  # what to do: name the column for what it is
    assert outcome_scope("in-hospital death", None) == "adverse"
    assert outcome_scope(None, "stroke_1y") == "cardiovascular"
    assert outcome_scope(None, "chd_10y") == outcome_scope(None, "cvd_event") == \
        "cardiovascular"
    assert outcome_scope(None, "hospital_death") == "adverse"


def test_a_direction_within_chance_is_uncertain_not_against() -> None:
    effects = _effects(age=0.3, chol=-0.09, sysbp=-0.4)
    report = check_directions(effects, {}, KINDS, outcome_label=None, target="chd",
                              z={"age": 5.0, "chol": -0.8, "sysbp": -3.1})
    assert [a["feature"] for a in report["against"]] == ["sysbp"]
    assert report["against"][0]["z"] == -3.1
    assert report["uncertain"] == {"chol": "total or LDL cholesterol"}
    assert "95 % interval excludes no effect" in report["summary"]
    assert "within chance" in report["summary"]
    no_interval = check_directions(effects, {}, KINDS, outcome_label=None, target="chd")
    assert sorted(a["feature"] for a in no_interval["against"]) == ["chol", "sysbp"]
    assert "no interval, so chance" in no_interval["summary"]


def test_units_and_other_spellings_are_recognised_and_look_alikes_are_not() -> None:
    kinds = {"SBP_mmHg": "numeric", "bp_sys": "numeric", "AGE_YRS": "numeric",
             "Diabetes mellitus": "binary", "prevalent_stroke": "binary",
             "hdl_measured_flag": "binary", "hdl_low": "binary", "non_smoker": "binary",
             "chol_hdl_ratio": "numeric"}
    effects = [{"feature": f, "effects": [{"comparison": "x", "level": None if k == "numeric"
                                           else "1", "log_odds": 0.5}]}
               for f, k in kinds.items()]
    report = check_directions(effects, {}, kinds, outcome_label=None, target="chd_10y")
    assert set(report["agree"]) == {"SBP_mmHg", "bp_sys", "AGE_YRS", "Diabetes mellitus",
                                    "prevalent_stroke"}
    assert not report["against"] and report["not_in_table"] == 4


def test_two_text_levels_say_which_is_which() -> None:
    kinds = {"Sex": "categorical", "smoking status": "categorical"}
    effects = [
        {"feature": "Sex", "effects": [{"comparison": "M vs F", "level": "M",
                                        "reference": "F", "log_odds": -0.6}]},
        {"feature": "smoking status", "effects": [{"comparison": "yes vs no", "level": "yes",
                                                   "reference": "no", "log_odds": 0.7}]}]
    report = check_directions(effects, {}, kinds, outcome_label=None, target="mi")
    assert [a["feature"] for a in report["against"]] == ["Sex"]
    assert report["agree"] == {"smoking status": "smoking"}


def test_names_are_matched_whole_not_inside_other_words() -> None:
    kinds = {"stage": "numeric", "dosage": "numeric", "cholinesterase": "numeric"}
    effects = [{"feature": f, "effects": [{"comparison": "+1", "level": None,
                                           "log_odds": -1.0}]} for f in kinds]
    report = check_directions(effects, {}, kinds, outcome_label="heart disease",
                              target="target")
    assert not report["against"] and not report["agree"]


def _age_protective_table(path: Path) -> Path:
    """SYNTHETIC: 3 sites, the outcome's risk falling with age and rising with a lab."""
    rng = np.random.default_rng(7)
    rows = []
    for site in ("a", "b", "c"):
        n = 160
        age = rng.normal(60, 10, n)
        lab = rng.normal(5, 1, n)
        risk = 1 / (1 + np.exp(-(-0.12 * (age - 60) + 0.8 * (lab - 5))))
        rows.append(pd.DataFrame({"site": site, "age": age.round(1), "lab": lab.round(2),
                                  "died": (rng.random(n) < risk).astype(int)}))
    table = path / "synthetic_age_protective.csv"
    pd.concat(rows).to_csv(table, index=False)
    return table


def test_the_study_report_and_cli_say_the_model_contradicts_medicine(tmp_path: Path
                                                                     ) -> None:
    from fedcare.cli import app

    table = _age_protective_table(tmp_path)
    out = tmp_path / "runs"
    json_out = tmp_path / "metrics.json"
    result = CliRunner().invoke(app, ["study", "run", "--data", str(table), "--site-column",
                                      "site", "--target", "died", "--rounds", "3", "--out",
                                      str(out), "--json", str(json_out)])
    assert result.exit_code == 0, result.output
    assert "against known medicine" in result.output and "age (age)" in result.output
    import json

    metrics = json.loads(json_out.read_text(encoding="utf-8"))
    against = metrics["known_directions"]["against"]
    assert [a["feature"] for a in against] == ["age"] and against[0]["log_odds"] < -0.05
    # the Newton model has Wald intervals: age is flagged because its interval excludes 0
    assert metrics["known_directions"]["interval"] and against[0]["z"] < -1.96
    assert len(metrics["model"]["standard_errors"]) == len(metrics["features"]) + 1
    html = next(out.glob("*/report.html")).read_text(encoding="utf-8")
    assert 'id="against-known-medicine"' in html and "<code>age</code>" in html


@pytest.mark.usefixtures("heart_data_dir")
def test_the_heart_study_points_every_known_factor_the_expected_way(
        heart_data_dir: Path) -> None:
    from fedcare.config import StudyConfig
    from fedcare.data._heart import HEART_MISSING_CODES
    from fedcare.study import run_study

    metrics = run_study(StudyConfig(data_dir=str(heart_data_dir), rounds=10,
                                    missing_codes=HEART_MISSING_CODES, missing="impute"),
                        pooled=False).to_dict()
    directions = metrics["known_directions"]
    assert directions["scope"] == "cardiovascular"
    assert not directions["against"], directions["summary"]
    assert {"age", "sex", "trestbps", "chol", "fbs", "thalach", "exang", "oldpeak"} <= \
        set(directions["agree"]) | set(directions["little_effect"])


def test_the_newton_standard_errors_are_those_of_the_pooled_rows(
        synthetic_sites: Path) -> None:
    """Wald standard errors from the federated Newton rounds equal those computed from all
    sites' training rows in one place (the inverse penalised information at the final
    model): the intervals the check relies on are the pooled model's."""
    from fedcare.config import StudyConfig
    from fedcare.federation.engines.inprocess import run_inprocess
    from fedcare.federation.result import FederatedRun
    from fedcare.study._study import _splits

    config = StudyConfig(data=str(synthetic_sites), target="event", rounds=12, C=1.0)
    raw, _ = run_inprocess(config.to_run_config(), ["east", "north", "south", "west"])
    fed = FederatedRun.from_dict(raw)
    splits = _splits(config, fed.schema, sorted(fed.per_site["federated"]))
    mean = np.asarray(fed.standardiser["mean"])
    scale = np.asarray(fed.standardiser["scale"])
    X = np.concatenate([(s.X_train - mean) / scale for s in splits.values()])
    X1 = np.column_stack([X, np.ones(len(X))])
    w = np.concatenate([np.ravel(fed.arrays[0]), np.ravel(fed.arrays[1])])
    p = 1 / (1 + np.exp(-(X1 @ w)))
    information = X1.T @ (X1 * (p * (1 - p))[:, None]) + np.diag(
        [1.0 / config.C] * X.shape[1] + [0.0])
    pooled = np.sqrt(np.diag(np.linalg.inv(information)))
    assert fed.standard_errors is not None
    np.testing.assert_allclose(fed.standard_errors, pooled, rtol=1e-6)
