"""The mapping file: strict validation with key paths, schema, code matching (all synthetic)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fedcare.data import Feature, load_mapping, parse_mapping
from fedcare.data._codes import CodeMatcher
from fedcare.exceptions import ConfigError, DataNotFoundError

BASE: dict[str, Any] = {
    "index": {"date": "2024-01-01"},
    "features": {
        "age": {"source": "age"},
        "sex": {"source": "sex"},
        "chol": {"source": "observation", "codes": {"loinc": ["2093-3"], "omop": [3027114]},
                 "unit": "mg/dl", "aggregate": "mean", "window_days": [-365, 0]},
        "fbs": {"source": "observation", "codes": {"loinc": ["2345-7"]}, "unit": "mg/dL",
                "above": 120},
        "diabetes": {"source": "condition",
                     "codes": {"icd10": ["E11*"], "snomed": ["44054006"]}},
        "statin": {"source": "medication",
                   "codes": {"atc": ["C10AA*"], "text": ["Atorvastatin*"],
                             "local": ["STAT-1"]}},
    },
    "systems": {"local": "http://hospital.example/drugs"},
    "label": {"source": "condition", "name": "cad", "codes": {"icd10": ["I25*"]}},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """BASE with ``value`` at the dotted ``path`` (None deletes the key)."""
    raw = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        del node[last]
    else:
        node[last] = value
    return raw


def test_base_mapping_and_its_schema() -> None:
    mapping = parse_mapping(BASE)
    schema = mapping.schema()
    assert [f.name for f in schema.features] == ["age", "sex", "chol", "fbs", "diabetes",
                                                 "statin"]
    assert schema.target == "cad" and schema.site_column == "site"
    chol = schema.feature("chol")
    assert chol == Feature("chol", "numeric", unit="mg/dL", valid_range=(50.0, 1000.0))
    assert schema.feature("age").unit == "a"
    assert {schema.feature(n).kind for n in ("sex", "fbs", "diabetes", "statin")} == {"binary"}
    assert mapping.features["diabetes"].window("condition") == (None, 0)
    assert mapping.label.window("condition") == (0, 365)
    unlimited = parse_mapping(_with("features.chol.window_days", ["*", 0]))
    assert unlimited.features["chol"].window("observation") == (None, 0)


def test_text_sex_levels_make_a_categorical_feature() -> None:
    raw = _with("features.sex.levels", {"male": "M", "female": "F", "other": "X"})
    assert parse_mapping(raw).schema().feature("sex").categories == ("F", "M", "X")


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("features.chol.agregate", "mean", r"features\.chol\.agregate: unknown key"),
    ("features.chol.aggregate", "median", r"features\.chol\.aggregate: Input should be"),
    ("features.chol.unit", "mg/dLx", r"features\.chol\.unit: unit 'mg/dLx' is not a UCUM"),
    ("features.chol.unit", None, r"features\.chol\.unit: required key is missing"),
    ("features.chol.codes", {"lonic": ["2093-3"]},
     r"features\.chol\.codes\.lonic: unknown code system"),
    ("features.chol.codes", {"loinc": []}, r"features\.chol\.codes: .*at least one code"),
    ("features.chol.codes", {"omop": ["LOINC:2093-3"]}, r"codes\.omop: .* not a concept id"),
    ("features.chol.codes", {"icd10": ["I*25"]}, r"only at the end"),
    ("features.chol.window_days", [0, -365], r"window_days: .*start 0 is after end -365"),
    ("features.chol.window_days", [-365], r"window_days must be \[start, end\]"),
    ("features.chol.source", "lab", r"features\.chol: source must be one of"),
    ("features.fbs.below", 70, r"features\.fbs: .*'above' or 'below', not both"),
    ("features.chol.quantity", "cholesterin", r"unknown quantity 'cholesterin'"),
    ("features.cad", {"source": "age"}, r"share its name with the label"),
    ("features.bad name", {"source": "age"}, r"feature names are letters"),
    ("index", None, r"\[index\] is missing"),
    ("index.feature", "chol", r"index: .*either 'date'"),
    ("label.source", "observation", r"label\.unit: required key is missing"),
    ("site.fhir", "folders", r"site\.fhir: Input should be"),
    ("systems.loinc", "http://loinc.org", r"systems\.loinc: 'loinc' is built in"),
    ("version", 2, r"version: Input should be 1"),
    ("omop.units", {"mg": "mg/dL"}, r"omop\.units: .*not a unit concept id"),
    ("features.chol.csv", {"site_units": {"b": "mmol/X"}}, r"site_units: unit 'mmol/X'"),
])
def test_errors_name_the_key_path(path: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_mapping(_with(path, value))


def test_observation_label_needs_a_threshold() -> None:
    label = {"source": "observation", "codes": {"loinc": ["4548-4"]}, "unit": "%"}
    with pytest.raises(ConfigError, match=r"label: .*needs 'above' or 'below'"):
        parse_mapping(_with("label", label))
    parsed = parse_mapping(_with("label", {**label, "above": 6.5}))
    assert parsed.label.aggregate == "max" and parsed.label.name == "target"


def test_index_from_a_feature() -> None:
    mapping = parse_mapping(_with("index", {"feature": "chol", "which": "last"}))
    assert mapping.index is not None and mapping.index.feature == "chol"
    with pytest.raises(ConfigError, match="'age' is not an observation"):
        parse_mapping(_with("index", {"feature": "age"}))


def test_load_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no such mapping file"):
        load_mapping(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[features\nchol = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_mapping(bad)
    good = tmp_path / "good.toml"
    good.write_text('[index]\ndate = 2024-01-01\n[features.age]\nsource = "age"\n'
                    '[label]\nsource = "condition"\ncodes = { snomed = ["53741008"] }\n')
    assert list(load_mapping(good).features) == ["age"]
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[features.age]\nsource = "age"\nunit = "a"\n[label]\nsource = "column"\n')
    with pytest.raises(ConfigError, match=r"wrong.toml: invalid mapping: features\.age\.unit"):
        load_mapping(wrong)


def test_code_matcher() -> None:
    matcher = CodeMatcher(parse_mapping(_with("label.codes", {"icd10": ["I25*", "I21.4"]})))
    icd10 = "http://hl7.org/fhir/sid/icd-10-cm"
    assert matcher.match_uri("condition", icd10, "I25.10") == ("cad",)
    assert matcher.match_uri("condition", icd10, "i2510") == ("cad",)
    assert matcher.match_uri("condition", icd10, "I214") == ("cad",)
    assert matcher.match_uri("condition", icd10, "I21.9") == ()
    assert matcher.match_uri("condition", icd10, "E11.9") == ("diabetes",)
    assert matcher.match_uri("condition", "http://snomed.info/sct", "E11.9") == ()
    assert matcher.match_uri("condition", "http://example.org/other", "I25.10") == ()
    assert matcher.match_uri("observation", "http://loinc.org", "2093-3") == ("chol",)
    assert matcher.match_uri("condition", "http://loinc.org", "2093-3") == ()  # wrong domain
    assert matcher.match("medication", "text", "ATORVASTATIN 20 mg tablet") == ("statin",)
    assert matcher.match("medication", "text", "simvastatin") == ()
    assert matcher.match_uri("medication", "http://hospital.example/drugs", "STAT-1") == (
        "statin",)
    assert matcher.match_source_value("condition", "I25.10") == ("cad",)
    assert matcher.match_source_value("medication", "C10AA05") == ("statin",)
    assert matcher.match("observation", "omop", "3027114") == ("chol",)
    assert matcher.omop_ids("observation") == {3027114}
