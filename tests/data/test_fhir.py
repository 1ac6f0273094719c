"""FHIR R4 connector: the SYNTHETIC three-site set ingests to the same cohort as OMOP and CSV.

The data come from ``scripts/make_fhir_sites.py`` (SYNTHETIC, 150 patients, seeded), whose
``truth.csv`` holds what every connector must produce.  The bad-input cases are small
hand-written resources that plant distinctive values ("987.654", "Zyxwvut") which must
never appear in an error message.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fedcare.data import (
    Cohort,
    load_mapping,
    parse_mapping,
    read_fhir,
    read_mapped_table,
    read_omop,
)
from fedcare.exceptions import ConfigError, DataError, DataNotFoundError

REPO = Path(__file__).resolve().parents[2]
PLANTED = ("987.654", "Zyxwvut")
FEATURES = ["age", "sex", "trestbps", "chol", "thalach", "weight", "fbs", "diabetes",
            "statin", "cad"]


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory,
          fhir_generator: ModuleType) -> dict[str, Any]:
    """150 SYNTHETIC patients over 3 sites in every format."""
    return dict(fhir_generator.generate(tmp_path_factory.mktemp("synthetic"), patients=150,
                                      seed=11))


@pytest.fixture(scope="module")
def ndjson(sites: dict[str, Any]) -> Any:
    return read_fhir(sites["ndjson"], load_mapping(sites["mapping"]))


def _assert_same(a: Cohort, b: Cohort, exact: bool = True) -> None:
    assert a.schema == b.schema
    assert np.array_equal(a.y, b.y)
    assert np.array_equal(a.site, b.site)
    assert a.dropped == b.dropped
    if exact:
        assert np.array_equal(a.X, b.X)
    else:
        np.testing.assert_allclose(a.X, b.X, rtol=0, atol=1e-9)


def _no_values(message: str) -> None:
    for value in PLANTED:
        assert value.lower() not in message.lower(), message


# -- the same cohort from every format ------------------------------------------------------
def test_ndjson_matches_the_truth(sites: dict[str, Any], ndjson: Any) -> None:
    truth = sites["truth"].loc[ndjson.frame.index, FEATURES]
    for column in FEATURES:
        got = ndjson.frame[column].astype(float).to_numpy()
        want = truth[column].astype(float).to_numpy()
        both_missing = np.isnan(got) & np.isnan(want)
        assert (np.isclose(got, want, rtol=0, atol=1e-9) | both_missing).all(), column
    assert list(ndjson.frame.columns) == ["site", *FEATURES]
    assert ndjson.cohort.sites == ["synthetic-a", "synthetic-b", "synthetic-c"]
    assert sum(ndjson.cohort.dropped.values()) == int(truth["chol"].isna().sum()
                                                      + truth["sex"].isna().sum()
                                                      - (truth["chol"].isna()
                                                         & truth["sex"].isna()).sum())
    assert 0 < ndjson.cohort.y.mean() < 0.7


def test_bundles_csv_and_omop_give_the_same_cohort(sites: dict[str, Any], ndjson: Any
                                                   ) -> None:
    mapping = load_mapping(sites["mapping"])
    bundles = read_fhir(sites["bundles"], mapping)
    omop = read_omop(sites["omop"], mapping)
    flat = read_mapped_table(sites["csv"], mapping)
    _assert_same(ndjson.cohort, bundles.cohort)
    _assert_same(ndjson.cohort, omop.cohort)
    _assert_same(ndjson.cohort, flat.cohort, exact=False)
    assert ndjson.report.patients == bundles.report.patients == omop.report.patients == 150


def test_sites_from_managing_organization_equal_sites_from_folders(
        sites: dict[str, Any], ndjson: Any) -> None:
    by_org = read_fhir(sites["ndjson"], load_mapping(sites["mapping_by_organization"]))
    _assert_same(ndjson.cohort, by_org.cohort)


def test_parallel_validation_gives_the_same_cohort(sites: dict[str, Any], ndjson: Any
                                                   ) -> None:
    parallel = read_fhir(sites["ndjson"], load_mapping(sites["mapping"]), workers=2)
    _assert_same(ndjson.cohort, parallel.cohort)
    assert parallel.report.records == ndjson.report.records


def test_mmol_site_is_converted_to_mg_dl(sites: dict[str, Any], ndjson: Any) -> None:
    """synthetic-c reports cholesterol in mmol/L and weight in [lb_av]."""
    raw = [json.loads(line) for line in
           (sites["ndjson"] / "synthetic-c" / "Observation.ndjson").read_text().splitlines()]
    units = {o["valueQuantity"]["code"] for o in raw
             if o["code"]["coding"][0]["code"] == "2093-3"}
    assert units == {"mmol/L"}
    site_c = ndjson.frame[ndjson.frame["site"] == "synthetic-c"]
    truth = sites["truth"].loc[site_c.index]
    present = truth["chol"].notna()
    assert present.sum() > 10
    np.testing.assert_allclose(site_c.loc[present, "chol"].astype(float),
                               truth.loc[present, "chol"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(site_c["weight"].astype(float), truth["weight"], rtol=0,
                               atol=1e-9)
    assert site_c["chol"].dropna().between(100, 450).all()  # mg/dL, not mmol/L
    assert set(ndjson.report.converted) == {"chol", "fbs", "weight"}


def test_report_counts_unmapped_ignored_and_excluded(sites: dict[str, Any], ndjson: Any
                                                     ) -> None:
    report = ndjson.report
    assert report.unmapped["Observation"] == 150  # one haemoglobin per patient
    assert report.ignored == {"Encounter": 300}
    assert report.records == sum(report.by_type.values())
    assert report.records_per_second > 0
    assert set(report.excluded) <= {"Observation entered-in-error", "Condition refuted",
                                    "MedicationStatement not-taken"}


# -- bad input ------------------------------------------------------------------------------
MINI_MAPPING = {
    "index": {"date": "2024-01-01"},
    "features": {
        "age": {"source": "age"},
        "chol": {"source": "observation", "codes": {"loinc": ["2093-3"]}, "unit": "mg/dL"},
    },
    "label": {"source": "condition", "codes": {"icd10": ["I25*"]}},
}


def _patient(pid: int) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": str(pid), "gender": "female",
            "birthDate": "1960-05-01", "name": [{"family": "Zyxwvut"}]}


def _chol(pid: int, value: float = 987.654, unit: str = "mg/dL") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2093-3"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2023-06-01",
            "valueQuantity": {"value": value, "unit": unit,
                              "system": "http://unitsofmeasure.org", "code": unit}}


def _cad(pid: int) -> dict[str, Any]:
    return {"resourceType": "Condition",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I25.1"}]},
            "subject": {"reference": f"Patient/{pid}"}, "onsetDateTime": "2024-03-01"}


def _mini(tmp_path: Path, *extra: Any, site: str = "alpha") -> Path:
    """Two sites with 4 patients each; ``extra`` lines go at the end of alpha's file."""
    root = tmp_path / "fhir"
    for name in ("alpha", "beta"):
        lines: list[Any] = []
        for pid in range(1, 5):
            lines += [_patient(pid), _chol(pid, 180.0 + pid)]
            if pid % 2:
                lines.append(_cad(pid))
        if name == site:
            lines += list(extra)
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "export.ndjson").write_text(
            "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return root


def _error(tmp_path: Path, *extra: Any, mapping: dict[str, Any] | None = None,
           kind: type[Exception] = DataError) -> str:
    """The error of reading the mini set plus ``extra`` with no bad record tolerated."""
    root = _mini(tmp_path, *extra)
    strict = {**(mapping or MINI_MAPPING), "max_bad_fraction": 0.0}
    with pytest.raises(kind) as caught:
        read_fhir(root, parse_mapping(strict))
    message = str(caught.value)
    _no_values(message)
    return message


def test_mini_set_reads(tmp_path: Path) -> None:
    result = read_fhir(_mini(tmp_path), parse_mapping(MINI_MAPPING))
    assert len(result.cohort) == 8
    assert result.cohort.y.tolist() == [1, 0, 1, 0] * 2
    assert result.frame["age"].tolist() == [63] * 8


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    message = _error(tmp_path, '{"resourceType": "Patient", "id": "9", "name": "Zyxwvut"')
    assert "malformed JSON line: 1 (first at " in message
    assert "alpha/export.ndjson:11)" in message and "max_bad_fraction = 0" in message


def test_malformed_bundle_names_file_and_line(tmp_path: Path) -> None:
    root = _mini(tmp_path)
    (root / "alpha" / "bundle.json").write_text('{"resourceType": "Bundle",\n "type": '
                                                '"collection",\n "entry": [Zyxwvut]}')
    with pytest.raises(DataError, match=r"bundle\.json:3: malformed JSON") as caught:
        read_fhir(root, parse_mapping(MINI_MAPPING))
    _no_values(str(caught.value))


def test_unknown_resource_type(tmp_path: Path) -> None:
    message = _error(tmp_path, {"resourceType": "Patientt", "id": "9",
                                "name": [{"family": "Zyxwvut"}]})
    assert "export.ndjson:11" in message and "unknown resource type (not FHIR R4)" in message


def test_missing_resource_type(tmp_path: Path) -> None:
    message = _error(tmp_path, {"id": "9", "name": [{"family": "Zyxwvut"}]})
    assert "no resourceType: 1 (first at " in message and "export.ndjson:11)" in message


def test_invalid_resource_names_element_not_value(tmp_path: Path) -> None:
    bad = _chol(9)
    bad["valueQuantity"]["value"] = "987.654x"
    message = _error(tmp_path, bad)
    assert "invalid Observation: valueQuantity.value (not a JSON number): 1 (first at " in message
    assert "export.ndjson:11)" in message
    bad_date = {**_patient(9), "birthDate": "987.654"}
    assert "invalid Patient: birthDate" in _error(tmp_path / "2", bad_date)
    bad_gender = {**_patient(9), "gender": "Zyxwvut"}
    assert "invalid Patient: gender" in _error(tmp_path / "3", bad_gender)


def test_invalid_bundle_entry_is_named(tmp_path: Path) -> None:
    root = _mini(tmp_path)
    bad = {**_patient(9), "birthDate": "Zyxwvut"}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": _patient(8)}, {"resource": bad}]}
    (root / "beta" / "b.json").write_text(json.dumps(bundle))
    strict = {**MINI_MAPPING, "max_bad_fraction": 0.0}
    with pytest.raises(DataError, match=r"invalid Patient: birthDate: 1 \(first at \S*b\.json: "
                                        r"Bundle\.entry\[1\]\)") as caught:
        read_fhir(root, parse_mapping(strict))
    _no_values(str(caught.value))


def test_unknown_unit_names_feature_unit_and_place(tmp_path: Path) -> None:
    message = _error(tmp_path, _chol(2, unit="mg/dLx"))
    assert "export.ndjson:11" in message and "(chol)" in message
    assert "'mg/dLx'" in message


def test_unconvertible_unit(tmp_path: Path) -> None:
    message = _error(tmp_path, _chol(2, unit="kg"))
    assert "(chol)" in message and "'kg'" in message and "mg/dL" in message


def test_value_without_unit(tmp_path: Path) -> None:
    bad = _chol(2)
    del bad["valueQuantity"]["unit"], bad["valueQuantity"]["code"]
    message = _error(tmp_path, bad)
    assert "no unit (chol): 1" in message


def test_feature_whose_codes_never_occur(tmp_path: Path) -> None:
    mapping = json.loads(json.dumps(MINI_MAPPING))
    mapping["features"]["hdl"] = {"source": "observation", "codes": {"loinc": ["2085-9"]},
                                  "unit": "mg/dL"}
    message = _error(tmp_path, mapping=mapping)
    assert "feature 'hdl'" in message and "loinc 2085-9" in message


def test_unmapped_codes_are_counted_not_errors(tmp_path: Path) -> None:
    hgb = _chol(1)
    hgb["code"]["coding"][0]["code"] = "718-7"
    result = read_fhir(_mini(tmp_path, hgb, hgb, {"resourceType": "Encounter",
                                                  "status": "finished"}),
                       parse_mapping(MINI_MAPPING))
    assert result.report.unmapped == {"Observation": 2}
    assert result.report.ignored == {"Encounter": 1}


def test_duplicate_patient_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, _patient(3))
    assert "export.ndjson:6 and" in message and "export.ndjson:11" in message


def test_site_folders_and_missing_paths(tmp_path: Path) -> None:
    root = _mini(tmp_path)
    (root / "stray.ndjson").write_text(json.dumps(_patient(7)) + "\n")
    with pytest.raises(DataError, match="directly in it"):
        read_fhir(root, parse_mapping(MINI_MAPPING))
    with pytest.raises(DataNotFoundError):
        read_fhir(tmp_path / "nowhere", parse_mapping(MINI_MAPPING))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="no FHIR files"):
        read_fhir(tmp_path / "empty", parse_mapping(MINI_MAPPING))


def test_windows_status_and_references(tmp_path: Path) -> None:
    """Only values inside the window count; withdrawn records never; urn:uuid resolves."""
    late = _chol(1, 400.0)
    late["effectiveDateTime"] = "2024-02-01"  # after the index date
    withdrawn = {**_chol(1, 987.654), "status": "entered-in-error"}
    refuted = {**_cad(2), "verificationStatus": {"coding": [{"code": "refuted"}]}}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:5b0c", "resource": {**_patient(5), "id": "5"},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:77aa",
         "resource": {**_chol(5, 190.0), "subject": {"reference": "urn:uuid:5b0c"}},
         "request": {"method": "POST", "url": "Observation"}}]}
    root = _mini(tmp_path, late, withdrawn, refuted)
    (root / "beta" / "5.json").write_text(json.dumps(bundle))
    result = read_fhir(root, parse_mapping(MINI_MAPPING))
    frame = result.frame
    alpha = frame[frame["site"] == "alpha"]
    assert alpha["chol"].tolist() == [181.0, 182.0, 183.0, 184.0]
    assert alpha["target"].tolist() == [1, 0, 1, 0]
    beta = frame[frame["site"] == "beta"]
    assert beta.loc["5", "chol"] == 190.0
    assert result.report.excluded == {"Observation entered-in-error": 1,
                                      "Condition refuted": 1}


def test_truth_frame_is_what_the_csv_says(sites: dict[str, Any]) -> None:
    """The flat CSV really is in per-site units (so the CSV test is not trivial)."""
    flat = pd.read_csv(sites["csv"])
    c = flat[flat["hospital"] == "synthetic-c"]["cholesterol"].dropna()
    a = flat[flat["hospital"] == "synthetic-a"]["cholesterol"].dropna()
    assert c.max() < 15 < a.min()


def test_index_date_from_each_patients_first_measurement(tmp_path: Path) -> None:
    mapping = json.loads(json.dumps(MINI_MAPPING))
    mapping["index"] = {"feature": "chol", "which": "first"}
    mapping["label"]["window_days"] = [1, 300]
    no_chol = _patient(9)
    result = read_fhir(_mini(tmp_path, no_chol), parse_mapping(mapping))
    # index 2023-06-01: CAD on 2024-03-01 is day 274 (inside), age 63 at the index
    assert result.cohort.y.tolist() == [1, 0, 1, 0] * 2
    assert result.report.no_index == 1
    assert result.cohort.dropped == {"alpha": 1, "beta": 0}
    mapping["label"]["window_days"] = [1, 200]
    one_class = read_fhir(_mini(tmp_path / "2"), parse_mapping(mapping))
    assert len(one_class.frame) == 8  # the flat table is still there to write
    with pytest.raises(DataError, match="single class"):
        one_class.cohort  # noqa: B018 - the cohort is not


def test_label_from_a_measurement_above_a_threshold(tmp_path: Path) -> None:
    mapping = json.loads(json.dumps(MINI_MAPPING))
    mapping["label"] = {"source": "observation", "name": "high_chol",
                        "codes": {"loinc": ["2093-3"]}, "unit": "mmol/L", "above": 4.72,
                        "window_days": [-365, 0]}
    result = read_fhir(_mini(tmp_path), parse_mapping(mapping))
    # 181..184 mg/dL = 4.681..4.759 mmol/L: the last two of each site are above 4.72
    assert result.cohort.y.tolist() == [0, 0, 1, 1] * 2
    assert list(result.frame.columns) == ["site", "age", "chol", "high_chol"]


def test_a_column_label_needs_the_csv_connector(tmp_path: Path) -> None:
    mapping = json.loads(json.dumps(MINI_MAPPING))
    mapping["label"] = {"source": "column", "csv": {"column": "outcome"}}
    with pytest.raises(ConfigError, match="works only with the CSV connector"):
        read_fhir(_mini(tmp_path), parse_mapping(mapping))
