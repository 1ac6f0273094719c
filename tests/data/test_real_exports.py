"""Hospital exports as they really are (issue "Hospital exports as they really are").

One test (or a few) per item: observation time from effective[x] before issued and
analyte-dependent conversions decided, never guessed (1); coded answers as features (2);
clinical context: deaths, condition status, onsetAge, medication orders and
administrations, OMOP eras (3); bad records quarantined under ``max_bad_fraction`` and
site time zones (4); a keyed pseudonym column for linking (5).  The resources are small
and hand-written; the blind-written evaluation set is ``benchmarks/blind_exports.py``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fedcare.data import parse_mapping, read_fhir, read_omop
from fedcare.data._identifiers import identifier_columns
from fedcare.data._units import AnalyteUnknown
from fedcare.exceptions import ConfigError, DataError

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOCAL = "http://hospital.example/lab"
KEY = "k" * 40

MAPPING: dict[str, Any] = {
    "index": {"date": "2024-01-01"},
    "systems": {"lab": LOCAL},
    "features": {
        "chol": {"source": "observation", "codes": {"loinc": ["2093-3"]}, "unit": "mg/dL"},
        "diabetes": {"source": "condition", "codes": {"icd10": ["E11*"]},
                     "active_at_index": True},
        "statin": {"source": "medication", "codes": {"rxnorm": ["83367"]}},
    },
    "label": {"source": "condition", "codes": {"icd10": ["I25*"]},
              "window_days": [1, 365], "name": "cad"},
}


def _patient(pid: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": "male",
            "birthDate": "1960-01-01", **extra}


def _obs(pid: str, code: str, value: Any = None, unit: str = "mg/dL", system: str = LOINC,
         **when: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Observation", "status": "final",
                           "code": {"coding": [{"system": system, "code": code}]},
                           "subject": {"reference": f"Patient/{pid}"}}
    out.update(when or {"effectiveDateTime": "2023-06-01"})
    if value is not None:
        out["valueQuantity"] = {"value": value, "unit": unit,
                                "system": "http://unitsofmeasure.org", "code": unit}
    return out


def _condition(pid: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": ICD10, "code": code}]}, **extra}


def _statin(kind: str, pid: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": kind, "subject": {"reference": f"Patient/{pid}"},
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "83367"}]},
            **extra}


def _base(pid: str) -> list[dict[str, Any]]:
    """A patient with a cholesterol, so every feature's codes occur somewhere."""
    return [_patient(pid), _obs(pid, "2093-3", 200.0)]


def _write(tmp_path: Path, sites: dict[str, list[Any]]) -> Path:
    root = tmp_path / "fhir"
    for site, lines in sites.items():
        (root / site).mkdir(parents=True, exist_ok=True)
        (root / site / "export.ndjson").write_text(
            "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return root


def _filler() -> list[dict[str, Any]]:
    """Patients with and without every coded feature (both label classes)."""
    out: list[dict[str, Any]] = []
    for i in range(4):
        pid = f"f{i}"
        out += _base(pid)
        out.append(_condition(pid, "E11.9", onsetDateTime="2010-01-01",
                              clinicalStatus={"coding": [{"code": "active"}]}))
        out.append(_statin("MedicationStatement", pid, status="active",
                           effectiveDateTime="2023-05-01"))
        if i % 2:
            out.append(_condition(pid, "I25.10", onsetDateTime="2024-03-01"))
    return out


def _read(tmp_path: Path, lines: list[Any], mapping: dict[str, Any] | None = None,
          site: str = "north") -> Any:
    return read_fhir(_write(tmp_path, {site: lines + _filler()}),
                     parse_mapping(mapping or MAPPING))


# -- 1. no silent wrong value --------------------------------------------------------------
def test_observation_time_is_effective_not_issued(tmp_path: Path) -> None:
    """240 measured on 2023-12-20 (released 2024-01-05) is the last one before the index."""
    lines = [_patient("p"),
             _obs("p", "2093-3", 180.0, effectiveDateTime="2023-11-01"),
             _obs("p", "2093-3", 240.0, effectivePeriod={"start": "2023-12-20T08:00:00Z",
                                                         "end": "2023-12-20T09:00:00Z"},
                  issued="2024-01-05T10:00:00Z"),
             # measured after the index date, released before it: not in the window
             _obs("p", "2093-3", 999.0, effectiveInstant="2024-01-03T08:00:00Z",
                  issued="2023-12-31T10:00:00Z")]
    result = _read(tmp_path, lines)
    assert result.frame.loc["p", "chol"] == 240.0
    only_issued = [_patient("q"), _obs("q", "2093-3", 210.0, issued="2023-10-01T10:00:00Z")]
    assert _read(tmp_path / "2", only_issued).frame.loc["q", "chol"] == 210.0


def _hba1c_mapping(codes: dict[str, list[Any]], **extra: Any) -> dict[str, Any]:
    mapping = copy.deepcopy(MAPPING)
    mapping["features"]["hba1c"] = {"source": "observation", "codes": codes, "unit": "%",
                                    **extra}
    return mapping


def test_hba1c_mmol_per_mol_under_a_local_code_is_refused_until_declared(
        tmp_path: Path) -> None:
    lines = [_patient("p"), _obs("p", "HBA1C-IFCC", 39.0, unit="mmol/mol", system=LOCAL)]
    with pytest.raises(AnalyteUnknown) as caught:
        _read(tmp_path, lines, _hba1c_mapping({"lab": ["HBA1C-IFCC"]}))
    # the file's path is named; pytest's temporary directory may itself hold "39"
    message = str(caught.value).replace(str(tmp_path), "<tmp>")
    assert 'quantity = "hba1c"' in message and "[features.hba1c]" in message
    assert "39" not in message
    declared = _read(tmp_path / "2", lines,
                     _hba1c_mapping({"lab": ["HBA1C-IFCC"]}, quantity="hba1c"))
    assert declared.frame.loc["p", "hba1c"] == pytest.approx(0.09148 * 39 + 2.152)  # 5.72 %
    [conversion] = declared.report.conversions[-1:]
    assert conversion["analyte"] == "hba1c" and conversion["from"] == "mmol/mol"
    assert conversion["rule"].startswith("IFCC master equation")
    assert conversion["analyte_from"] == "declared in the mapping"
    # a recognised code decides it too: LOINC 4548-4 beside the local code
    by_loinc = _read(tmp_path / "3", lines,
                     _hba1c_mapping({"lab": ["HBA1C-IFCC"], "loinc": ["4548-4"]}))
    assert by_loinc.frame.loc["p", "hba1c"] == pytest.approx(5.7197, abs=1e-4)
    assert by_loinc.report.conversions[-1]["analyte_from"] == "LOINC 4548-4"


def test_mass_to_amount_needs_the_analyte(tmp_path: Path) -> None:
    lines = [_patient("p"), _obs("p", "CHOL-T", 5.0, unit="mmol/L", system=LOCAL)]
    mapping = copy.deepcopy(MAPPING)
    mapping["features"]["chol"]["codes"] = {"lab": ["CHOL-T"]}
    with pytest.raises(AnalyteUnknown, match="molar mass"):
        _read(tmp_path, lines, mapping)
    mapping["features"]["chol"]["codes"] = {"lab": ["CHOL-T"], "omop": [3027114]}
    ok = _read(tmp_path / "2", lines, mapping)
    assert ok.frame.loc["p", "chol"] == pytest.approx(5.0 * 38.665)
    assert ok.report.conversions[0]["analyte_from"] == "OMOP concept 3027114"


# -- 2. coded values as features -----------------------------------------------------------
SMOKING = {"source": "answer", "codes": {"loinc": ["72166-2"], "omop": [4275495]},
           "window_days": ["*", 0],
           "answers": {"never": {"snomed": ["266919005"], "omop": [45879404],
                                 "text": ["never smoker"]},
                       "former": {"snomed": ["8517006"], "omop": [45883458],
                                  "text": ["ex-smoker"]},
                       "current": {"snomed": ["77176002", "449868002"],
                                   "omop": [45881517], "boolean": [True]}}}


def _smoking(pid: str, answer: dict[str, Any], day: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": day, **answer}


def test_smoking_answers_become_a_categorical_feature(tmp_path: Path) -> None:
    mapping = copy.deepcopy(MAPPING)
    mapping["features"]["smoking"] = SMOKING
    snomed = {"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "449868002"}]}}
    lines = [*_base("a"), _smoking("a", {"valueCodeableConcept": {"text": "Never smoker"}},
                                   "2015-01-01"),
             _smoking("a", snomed, "2023-03-01"),
             *_base("b"), _smoking("b", {"valueString": "Ex-smoker"}, "2020-01-01"),
             # after the index date: not used
             _smoking("b", snomed, "2024-02-01"),
             *_base("c"), _smoking("c", {"valueBoolean": True}, "2023-01-01"),
             *_base("d"), _smoking("d", {"valueCodeableConcept": {"text": "vapes"}},
                                   "2023-01-01")]
    result = _read(tmp_path, lines, mapping)
    got = result.frame["smoking"]
    assert got["a"] == "current" and got["b"] == "former" and got["c"] == "current"
    assert pd.isna(got["d"])
    assert result.report.unmapped["Observation answer"] == 1
    feature = next(f for f in parse_mapping(mapping).schema().features
                   if f.name == "smoking")
    assert feature.kind == "categorical"
    assert feature.categories == ("current", "former", "never")


def _omop(tmp_path: Path, *, eras: bool = False) -> Path:
    folder = tmp_path / "omop"
    folder.mkdir(parents=True)
    people = [(1, 8507, 1960), (2, 8532, 1970), (3, 8507, 1950), (4, 8532, 1955)]
    pd.DataFrame(people, columns=["person_id", "gender_concept_id", "year_of_birth"]).assign(
        care_site_id=1).to_csv(folder / "person.csv", index=False)
    pd.DataFrame({"care_site_id": [1], "care_site_name": ["north"]}).to_csv(
        folder / "care_site.csv", index=False)
    pd.DataFrame({"person_id": [1, 2, 3, 4], "measurement_concept_id": [3027114] * 4,
                  "measurement_date": ["2023-05-01"] * 4, "value_as_number": [200] * 4,
                  "unit_concept_id": [8840] * 4}).to_csv(folder / "measurement.csv",
                                                         index=False)
    pd.DataFrame({"person_id": [1, 2, 3], "observation_concept_id": [4275495] * 3,
                  "observation_date": ["2022-01-01"] * 3,
                  "value_as_concept_id": [45879404, 45881517, 45883458]}).to_csv(
        folder / "observation.csv", index=False)
    pd.DataFrame({"person_id": [4], "death_date": ["2023-07-01"]}).to_csv(
        folder / "death.csv", index=False)
    conditions = pd.DataFrame({
        "person_id": [1, 2, 3, 1],
        "condition_concept_id": [201826, 201826, 317576, 317576],
        "start": ["2010-01-01", "2012-01-01", "2024-04-01", "2024-06-01"],
        "end": ["", "2020-01-01", "", ""]})
    drugs = pd.DataFrame({"person_id": [1, 3], "drug_concept_id": [1545958, 1545958],
                          "start": ["2023-06-01", "2020-01-01"],
                          "end": ["2023-12-01", "2020-06-01"]})
    if eras:
        conditions.rename(columns={"start": "condition_era_start_date",
                                   "end": "condition_era_end_date"}).to_csv(
            folder / "condition_era.csv", index=False)
        drugs.rename(columns={"start": "drug_era_start_date",
                              "end": "drug_era_end_date"}).to_csv(folder / "drug_era.csv",
                                                                  index=False)
    else:
        conditions.rename(columns={"start": "condition_start_date",
                                   "end": "condition_end_date"}).to_csv(
            folder / "condition_occurrence.csv", index=False)
        drugs.rename(columns={"start": "drug_exposure_start_date",
                              "end": "drug_exposure_end_date"}).to_csv(
            folder / "drug_exposure.csv", index=False)
    return folder


def _omop_mapping() -> dict[str, Any]:
    mapping = copy.deepcopy(MAPPING)
    mapping["features"]["chol"]["codes"] = {"omop": [3027114]}
    mapping["features"]["diabetes"]["codes"] = {"omop": [201826]}
    mapping["features"]["statin"]["codes"] = {"omop": [1545958]}
    mapping["features"]["smoking"] = SMOKING
    mapping["label"]["codes"] = {"omop": [317576]}
    return mapping


@pytest.mark.parametrize("eras", [False, True], ids=["occurrences", "eras only"])
def test_omop_observation_answers_death_end_dates_and_eras(tmp_path: Path, eras: bool
                                                           ) -> None:
    result = read_omop(_omop(tmp_path, eras=eras), parse_mapping(_omop_mapping()))
    frame = result.frame
    assert list(frame.index) == ["1", "2", "3"]  # person 4 died before the index date
    assert result.report.died_before_index == {"north": 1}
    assert frame["smoking"].tolist() == ["never", "current", "former"]
    assert frame["diabetes"].tolist() == [1, 0, 0]  # person 2's ended in 2020: history
    assert frame["statin"].tolist() == [1, 0, 0]
    assert frame["cad"].tolist() == [1, 0, 1]


# -- 3. clinical context --------------------------------------------------------------------
def test_deaths_condition_status_onset_age_and_medication_orders(tmp_path: Path) -> None:
    active = {"coding": [{"code": "active"}]}
    resolved = {"coding": [{"code": "resolved"}]}
    lines = [
        # died before the index date: left out, counted
        _patient("dead", deceasedDateTime="2023-10-01"), _obs("dead", "2093-3", 200.0),
        # died in the label window without CAD: censored (left out, counted)
        _patient("later", deceasedDateTime="2024-04-01"), _obs("later", "2093-3", 200.0),
        # diabetes resolved before the index date: history, not current
        *_base("r1"), _condition("r1", "E11.9", onsetDateTime="2015-01-01",
                                 clinicalStatus=resolved, abatementDateTime="2022-01-01"),
        # resolved after the index date: current at the index date
        *_base("r2"), _condition("r2", "E11.9", onsetDateTime="2015-01-01",
                                 clinicalStatus=resolved, abatementDateTime="2024-03-01"),
        # resolved with no date: not current
        *_base("r3"), _condition("r3", "E11.9", onsetDateTime="2015-01-01",
                                 clinicalStatus=resolved),
        # onset given as an age (50 years: 2010), active
        *_base("age"), _condition("age", "E11.9", clinicalStatus=active,
                                  onsetAge={"value": 50, "unit": "years",
                                            "system": "http://unitsofmeasure.org",
                                            "code": "a"}),
        # onset as an age after the index date: not yet
        *_base("young"), _condition("young", "E11.9", clinicalStatus=active,
                                    onsetAge={"value": 70, "code": "a"}),
        # a statin order (MedicationRequest) and an administration
        *_base("req"), _statin("MedicationRequest", "req", status="active", intent="order",
                               authoredOn="2023-12-31"),
        *_base("adm"), _statin("MedicationAdministration", "adm", status="completed",
                               effectiveDateTime="2023-08-01T10:00:00+02:00"),
        *_base("cancel"), _statin("MedicationRequest", "cancel", status="cancelled",
                                  intent="order", authoredOn="2023-12-31"),
        # an active statement still open-ended: still taken at the index date
        *_base("open"), _statin("MedicationStatement", "open", status="active",
                                effectivePeriod={"start": "2018-05-01"}),
    ]
    result = _read(tmp_path, lines)
    frame = result.frame
    assert "dead" not in frame.index and "later" not in frame.index
    assert result.report.died_before_index == {"north": 1}
    assert result.report.censored_by_death == {"north": 1}
    got = frame["diabetes"].to_dict()
    assert (got["r1"], got["r2"], got["r3"], got["age"], got["young"]) == (0, 1, 0, 1, 0)
    got = frame["statin"].to_dict()
    assert (got["req"], got["adm"], got["cancel"], got["open"]) == (1, 1, 0, 1)
    assert result.report.excluded["MedicationRequest cancelled"] == 1
    # death in the label window as "no-event" keeps the patient with label 0
    mapping = copy.deepcopy(MAPPING)
    mapping["label"]["death"] = "no-event"
    kept = _read(tmp_path / "2", lines, mapping)
    assert kept.frame.loc["later", "cad"] == 0
    mapping["index"]["died_before"] = "keep"
    assert "dead" in _read(tmp_path / "3", lines, mapping).frame.index


# -- 4. bad records quarantined, time zones --------------------------------------------------
def test_bad_records_are_left_out_and_counted_up_to_the_threshold(tmp_path: Path) -> None:
    lines = [*_base("p"),
             _obs("p", "2093-3", 999.0, effectiveDateTime="2023-12-30T23:00:00"),  # no zone
             {**_obs("p", "2093-3"), "valueQuantity": {"value": ""}},  # an empty string
             {**_obs("p", "2093-3"), "valueQuantity": {"value": 300}},  # no unit
             '{"resourceType": "Observation", "status": ']  # a broken line
    result = _read(tmp_path, lines, {**MAPPING, "max_bad_fraction": 0.2})
    assert result.frame.loc["p", "chol"] == 200.0  # none of the bad values was used
    assert result.report.quarantined == {
        "invalid Observation: effectiveDateTime": 1,
        "invalid Observation: valueQuantity.value (not a JSON number)": 1,
        "no unit (chol)": 1, "malformed JSON line": 1}
    mapping = {**MAPPING, "max_bad_fraction": 0.1}
    with pytest.raises(DataError) as caught:
        _read(tmp_path / "2", lines, mapping)
    message = str(caught.value)
    assert "3 of 24 records (12.5%)" in message and "max_bad_fraction = 0.1" in message
    assert "export.ndjson:3" in message and "999" not in message


def test_a_sites_time_zone_reads_timestamps_without_one(tmp_path: Path) -> None:
    """23:30 local on 31 Dec in Shanghai is inside the window; declared, it is read."""
    lines = [*_base("p"),
             _obs("p", "2093-3", 250.0, effectiveDateTime="2023-12-31T23:30:00")]
    mapping = copy.deepcopy(MAPPING)
    mapping["site"] = {"timezones": {"south": "Asia/Shanghai"}}
    result = _read(tmp_path, lines, mapping, site="south")
    assert result.frame.loc["p", "chol"] == 250.0
    assert result.report.zoned == 1 and not result.report.quarantined
    undeclared = _read(tmp_path / "2", lines, site="south")
    assert undeclared.frame.loc["p", "chol"] == 200.0
    assert undeclared.report.quarantined == {"invalid Observation: effectiveDateTime": 1}
    mapping["site"] = {"timezone": "Mars/Olympus"}
    with pytest.raises(ConfigError, match=r"site\.timezone: 'Mars/Olympus' is not an IANA"):
        parse_mapping(mapping)


# -- 5. linking ---------------------------------------------------------------------------------
def test_a_keyed_pseudonym_links_without_exposing_the_id(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    system = "urn:oid:2.16.840.1.113883.2.4.6.3"
    ident = [{"system": system, "value": " ab123456 "}]
    other_ident = [{"system": system, "value": "AB123456"}]
    sites = {"north": [_patient("n1", identifier=ident), _obs("n1", "2093-3", 200.0),
                       *_filler()],
             "south": [_patient("s9", identifier=other_ident), _obs("s9", "2093-3", 210.0),
                       *_filler()]}
    mapping = {**MAPPING, "link": {"identifier": system}}
    monkeypatch.delenv("FEDCARE_LINK_KEY", raising=False)
    with pytest.raises(ConfigError, match="FEDCARE_LINK_KEY"):
        read_fhir(_write(tmp_path, sites), parse_mapping(mapping))
    monkeypatch.setenv("FEDCARE_LINK_KEY", KEY)
    result = read_fhir(_write(tmp_path / "2", sites), parse_mapping(mapping))
    frame = result.frame
    assert list(frame.columns)[:2] == ["site", "link_id"]
    north = frame.loc[frame["site"] == "north", "link_id"]
    south = frame.loc[frame["site"] == "south", "link_id"]
    assert north["n1"] == south["s9"]  # the same person at two parties, after normalising
    assert len(north["n1"]) == 64 and "AB123456" not in frame.to_csv()
    assert result.report.no_link_id == 8  # the filler patients have no such identifier
    assert "link_id" not in [f.name for f in result.cohort.schema.features]
    monkeypatch.setenv("FEDCARE_LINK_KEY", "x" * 40)
    other = read_fhir(_write(tmp_path / "3", sites), parse_mapping(mapping))
    assert other.frame.loc["n1", "link_id"] != north["n1"]  # keyed per study
    # a study reading the flat table refuses the column as a feature
    assert "link_id" in identifier_columns(frame.reset_index(drop=True))


# -- 3. visits, with and without an end date ---------------------------------------------------
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def _visit(pid: str, cls: str, start: str, end: str | None = None,
           status: str = "finished") -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {"resourceType": "Encounter", "status": status,
            "class": {"system": ACT, "code": cls},
            "subject": {"reference": f"Patient/{pid}"}, "period": period}


def test_hospital_visits_counted_and_open_stays_run_to_the_index_date(tmp_path: Path
                                                                       ) -> None:
    mapping = copy.deepcopy(MAPPING)
    mapping["features"]["admissions"] = {"source": "visit",
                                         "codes": {"actcode": ["IMP", "EMER"],
                                                   "omop": [9201, 9203]}}
    mapping["features"]["bed_days"] = {"source": "visit", "aggregate": "days",
                                       "codes": {"actcode": ["IMP"], "omop": [9201]}}
    lines = [*_base("p"),
             _visit("p", "IMP", "2023-03-01", "2023-03-05"),       # 5 days
             _visit("p", "EMER", "2023-06-01T22:00:00+08:00"),     # no end: still counted
             _visit("p", "AMB", "2023-07-01", "2023-07-01"),       # not a class it names
             _visit("p", "IMP", "2023-12-20"),                     # open: 13 days to 1 Jan
             _visit("p", "IMP", "2023-09-01", status="planned"),   # never happened
             _visit("p", "IMP", "2022-12-30", "2023-01-03"),       # 3 of its days inside
             *_base("q")]
    frame = _read(tmp_path, lines, mapping).frame
    assert frame.loc["p", "admissions"] == 4
    assert frame.loc["p", "bed_days"] == 5 + 13 + 3
    assert frame.loc["q", "admissions"] == 0 and frame.loc["q", "bed_days"] == 0
    folder = _omop(tmp_path / "omop")
    pd.DataFrame({"person_id": [1, 1, 2], "visit_concept_id": [9201, 9203, 9202],
                  "visit_start_date": ["2023-12-20", "2023-06-01", "2023-06-01"],
                  "visit_end_date": ["", "2023-06-01", "2023-06-02"]}).to_csv(
        folder / "visit_occurrence.csv", index=False)
    omop_mapping = _omop_mapping()
    omop_mapping["features"]["admissions"] = {"source": "visit", "codes": {"omop": [9201, 9203]}}
    omop_mapping["features"]["bed_days"] = {"source": "visit", "aggregate": "days",
                                            "codes": {"omop": [9201]}}
    omop = read_omop(folder, parse_mapping(omop_mapping)).frame
    assert omop["admissions"].tolist() == [2, 0, 0]
    assert omop["bed_days"].tolist() == [13, 0, 0]
