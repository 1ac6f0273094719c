"""Model cards: inputs with units and code meanings, signed effects, overridden quality."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from fedcare.registry import ModelRecord
from fedcare.report import model_card, render_card_html

#: A hand-made logistic model over four heart inputs: coefficients on the standardised
#: scale, so the effect of a comparison is coef / SD x step (exactly).
FEATURES: list[dict[str, Any]] = [
    {"name": "age", "kind": "numeric", "unit": "a", "categories": [],
     "valid_range": [0.0, 120.0]},
    {"name": "sex", "kind": "binary", "unit": None, "categories": [], "valid_range": None},
    {"name": "cp", "kind": "categorical", "unit": None, "categories": ["1", "2", "3", "4"],
     "valid_range": None},
    {"name": "thalach", "kind": "numeric", "unit": "/min", "categories": [],
     "valid_range": [20.0, 300.0]},
]
ENCODED = ["age", "sex", "cp=2", "cp=3", "cp=4", "thalach"]
COEF = [0.5, 0.4, -0.2, 0.1, 0.8, -0.6]
MEAN = [50.0, 0.5, 0.2, 0.3, 0.4, 150.0]
SD = [10.0, 0.5, 0.4, 0.46, 0.49, 20.0]


def _record(data: str = "builtin:heart-disease", features: list[dict[str, Any]] | None = None,
            metrics: dict[str, Any] | None = None) -> ModelRecord:
    schema = {"target": "target", "site_column": "site", "features": features or FEATURES,
              "encoded_feature_names": ENCODED}
    return ModelRecord(
        id=1, name="heart test", created_at=datetime(2026, 1, 1, tzinfo=UTC),
        content_hash="ab" * 32, kind="logistic", status="active",
        intended_use="testing", hyperparameters={"C": 1.0},
        arrays=[COEF, [-0.1]], standardiser={"mean": MEAN, "scale": SD}, schema=schema,
        provenance={"strategy": "newton", "rounds": 3, "settings": {"data": data},
                    "sites": {"a": {"n_train": 60, "n_test": 30}}, "privacy": {}},
        metrics=metrics if metrics is not None else {"federated": {"per_site": {}}},
        limitations=["a limitation"])


def _inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in card["inputs"]}


def test_heart_inputs_say_what_each_code_means() -> None:
    card = model_card(_record())
    inputs = _inputs(card)
    assert inputs["sex"]["codes"] == [{"code": "0", "meaning": "female"},
                                      {"code": "1", "meaning": "male"}]
    assert inputs["cp"]["label"] == "chest pain type"
    assert inputs["cp"]["codes"] == [
        {"code": "1", "meaning": "typical angina"}, {"code": "2", "meaning": "atypical angina"},
        {"code": "3", "meaning": "non-anginal pain"}, {"code": "4", "meaning": "asymptomatic"}]
    assert inputs["cp"]["reference_level"] == "1" and inputs["cp"]["codes_documented"]
    assert inputs["age"]["unit_display"] == "years" and inputs["age"]["codes"] is None
    assert inputs["age"]["accepted"] == "0 to 120 years"
    assert inputs["thalach"]["accepted"] == "20 to 300 /min"
    assert card["outcome_meaning"] == "heart disease"
    html = render_card_html(card)
    inputs_html = html[html.index("<h2>Inputs"):html.index("<h2>Data sources")]
    for text in ("<code>0</code> = female", "<code>1</code> = male",
                 "<code>4</code> = asymptomatic", "<code>1</code> = typical angina",
                 "chest pain type", "years"):
        assert text in inputs_html, text


def test_a_sites_own_table_says_codes_not_documented() -> None:
    card = model_card(_record(data="cohort.csv"))
    inputs = _inputs(card)
    assert inputs["sex"]["codes"] is None and inputs["sex"]["codes_documented"] is False
    assert inputs["sex"]["accepted"] == "0 or 1 (codes not documented)"
    assert inputs["cp"]["accepted"] == "1, 2, 3, 4 (codes not documented)"
    assert inputs["cp"]["label"] is None
    html = render_card_html(card)
    assert "female" not in html and "angina" not in html
    assert "1, 2, 3, 4 (codes not documented)" in html


def test_codes_declared_in_the_schema_are_used() -> None:
    declared = [dict(f) for f in FEATURES]
    declared[1] = {**declared[1], "label": "sex at birth", "codes": {"0": "F", "1": "M"}}
    declared[2] = {**declared[2], "codes": {"1": "a", "2": "b"}}  # incomplete: not shown
    inputs = _inputs(model_card(_record(data="cohort.csv", features=declared)))
    assert inputs["sex"]["label"] == "sex at birth"
    assert inputs["sex"]["accepted"] == "0 = F; 1 = M"
    assert inputs["cp"]["codes"] is None
    assert inputs["cp"]["accepted"] == "1, 2, 3, 4 (codes not documented)"


def test_a_codebook_that_does_not_fit_the_levels_is_not_used() -> None:
    odd = [dict(f) for f in FEATURES]
    odd[2] = {**odd[2], "categories": ["1", "2", "3", "9"]}  # 9 is no UCI chest-pain code
    inputs = _inputs(model_card(_record(features=odd)))
    assert inputs["cp"]["codes"] is None
    assert inputs["cp"]["accepted"] == "1, 2, 3, 9 (codes not documented)"


def test_effects_are_signed_with_odds_ratios() -> None:
    card = model_card(_record())
    effects = {e["feature"]: e for e in card["feature_effects"]}
    # the steps: age SD 10 -> 10 years, thalach SD 20 -> 20 /min
    age = effects["age"]["effects"][0]
    assert age["comparison"] == "+10 years"
    assert age["log_odds"] == pytest.approx(0.5 / 10 * 10, abs=1e-12)
    assert age["odds_ratio"] == pytest.approx(math.exp(0.5), abs=1e-12)
    assert age["direction"] == "raises risk"
    thalach = effects["thalach"]["effects"][0]
    assert thalach["comparison"] == "+20 /min"
    assert thalach["log_odds"] == pytest.approx(-0.6, abs=1e-12)
    assert thalach["direction"] == "lowers risk" and thalach["odds_ratio"] < 1
    sex = effects["sex"]["effects"][0]
    assert sex["comparison"] == "1 (male) vs 0 (female)"
    assert sex["log_odds"] == pytest.approx(0.4 / 0.5, abs=1e-12)
    cp = {r["level"]: r for r in effects["cp"]["effects"]}
    assert cp["2"]["log_odds"] == pytest.approx(-0.2 / 0.4, abs=1e-12)
    assert cp["2"]["direction"] == "lowers risk"
    assert cp["4"]["log_odds"] == pytest.approx(0.8 / 0.49, abs=1e-12)
    assert cp["4"]["comparison"] == "4 (asymptomatic) vs 1 (typical angina)"
    assert cp["4"]["direction"] == "raises risk"
    assert [e["feature"] for e in card["feature_effects"]] == sorted(
        effects, key=lambda n: -effects[n]["importance"])
    html = render_card_html(card)
    section = html[html.index("What drives the predictions"):]
    assert re.search(r"4 \(asymptomatic\) vs 1 \(typical angina\)</td>\s*<td>\+1\.633</td>"
                     r"<td>5\.12</td>\s*<td[^>]*>raises risk", section)
    assert re.search(r"\+20 /min</td>\s*<td>-0\.600</td><td>0\.55</td>\s*<td[^>]*>lowers risk",
                     section)


def test_overridden_quality_findings_show_a_banner() -> None:
    quiet = render_card_html(model_card(_record()))
    assert 'class="banner"' not in quiet
    finding = "switzerland: chol: missing_code (value 0 in all 123 values)"
    card = model_card(_record(metrics={"federated": {"per_site": {}}, "quality_check": "warn",
                                       "quality_override": [finding]}))
    assert card["data_quality"] == {"quality_check": "warn", "overridden": [finding]}
    html = render_card_html(card)
    assert 'class="banner"' in html and finding in html
    assert html.index('class="banner"') < html.index("<h2>Intended use")


def test_identifier_site_and_outcome_columns_are_never_inputs() -> None:
    # the study refused an identifier column; the UCI codebook's neighbours (its "id" and
    # "dataset" columns in some copies) must not turn into inputs with meanings either
    record = _record()
    record.schema["identifiers_refused"] = {"id": "unique per row at site 'a'",
                                            "dataset": "looks like a site name"}
    card = model_card(record)
    names = [f["name"] for f in card["inputs"]]
    assert names == ["age", "sex", "cp", "thalach"]
    assert [e["feature"] for e in card["feature_effects"]] != [] and {
        e["feature"] for e in card["feature_effects"]} == set(names)
    html = render_card_html(card)
    inputs_html = html[html.index("<h2>Inputs"):html.index("<h2>Data sources")]
    for column in ("<code>id</code>", "<code>dataset</code>", "<code>site</code>"):
        assert column not in inputs_html
    from fedcare.data._codebook import HEART_CODEBOOK, codebook_for

    assert not {"id", "dataset", "site", "num", "target"} & set(HEART_CODEBOOK)
    # a feature named like a refused identifier gets no meaning from any codebook
    schema = {"target": "target", "site_column": "site", "identifiers_refused": ["sex"],
              "features": [dict(f) for f in FEATURES]}
    meanings = codebook_for(schema, "builtin:heart-disease")
    assert meanings["sex"].label is None and not meanings["sex"].codes
    assert meanings["cp"].label == "chest pain type"


def test_imputed_inputs_say_so_and_their_missing_effect_is_signed() -> None:
    # federated mean imputation: thalach was missing at some sites, filled with 140 /min
    # and flagged in "thalach missing" (a column name with a space)
    features = [dict(f) for f in FEATURES]
    features[3] = {**features[3], "impute": 140.0}
    encoded = [*ENCODED, "thalach missing"]
    record = dataclasses.replace(
        _record(features=features), arrays=[[*COEF, 0.3], [-0.1]],
        standardiser={"mean": [*MEAN, 0.2], "scale": [*SD, 0.4]})
    record.schema["encoded_feature_names"] = encoded
    card = model_card(record)
    thalach = _inputs(card)["thalach"]
    assert thalach["imputed_with"] == 140.0
    assert thalach["imputed"] == ("where missing in training, the federated mean (140 /min) "
                                  "was filled in and flagged as not recorded")
    assert _inputs(card)["age"]["imputed"] is None
    # a yes/no input's filled-in value is the share of 1s, said so (the schema-level
    # "imputed" mapping, feature -> mean, is read as well)
    shares = model_card(_record(features=[dict(f) for f in FEATURES]))
    assert _inputs(shares)["sex"]["imputed"] is None
    record_sex = _record()
    record_sex.schema["imputed"] = {"sex": 0.68}
    assert _inputs(model_card(record_sex))["sex"]["imputed"] == (
        "where missing in training, the federated share of 1s (0.68) was filled in and "
        "flagged as not recorded")
    rows = {r["comparison"]: r for e in card["feature_effects"] if e["feature"] == "thalach"
            for r in e["effects"]}
    assert rows["+20 /min"]["log_odds"] == pytest.approx(-0.6, abs=1e-12)
    assert rows["not recorded vs recorded"]["log_odds"] == pytest.approx(0.3 / 0.4, abs=1e-12)
    assert rows["not recorded vs recorded"]["direction"] == "raises risk"
    html = render_card_html(card)
    assert "flagged as not recorded" in html
    assert "mostly reflects which hospitals lacked the value" in html
    assert "mostly reflects" not in render_card_html(model_card(_record()))


def test_the_card_says_effects_are_associations_not_causes() -> None:
    html = render_card_html(model_card(_record()))
    section = html[html.index("What drives the predictions"):html.index("Known limitations")]
    assert "they are not causes" in section
    assert "Exact for this logistic model" in section
    assert "raises risk</strong> (odds\nratio above 1)" in section


def test_a_card_flags_an_input_pointing_against_known_medicine() -> None:
    # the hand-made model: age raises, thalach (maximum heart rate) lowers, male sex raises:
    # all as expected for heart disease; with age's coefficient negated, age is flagged
    card = model_card(_record())
    assert not card["known_directions"]["against"]
    assert set(card["known_directions"]["agree"]) == {"age", "sex", "thalach"}
    assert 'id="against-known-medicine"' not in render_card_html(card)
    flipped = dataclasses.replace(_record(), arrays=[[-0.5, *COEF[1:]], [-0.1]])
    card = model_card(flipped)
    against = card["known_directions"]["against"]
    assert [(a["feature"], a["learned"], a["expected"]) for a in against] == [
        ("age", "lowers risk", "raises risk")]
    html = render_card_html(card)
    assert 'id="against-known-medicine"' in html and "<code>age</code> (age)" in html
