"""Write a SYNTHETIC three-hospital data set as FHIR R4, OMOP CDM v5.4 and a flat CSV.

Every patient, value and date here is made up by a random number generator (seeded, so
the same seed gives the same files).  Nothing is derived from real patients.  The codes
(LOINC, ICD-10, SNOMED CT, RxNorm, ATC, OMOP concept ids) are chosen to look like a real
export; check them against your own vocabulary before reusing the mapping.

The three synthetic sites differ as hospitals do:

* ``synthetic-a``: blood pressure as separate Observations, ICD-10-CM conditions with
  dots, RxNorm-coded MedicationStatements, date-times with a +01:00 offset;
* ``synthetic-b``: blood pressure as a panel (85354-9) with components, conditions coded
  in SNOMED CT and ICD-10 without dots, MedicationStatements that reference Medication
  resources, plain dates;
* ``synthetic-c``: cholesterol and glucose in mmol/L, weight in [lb_av], SNOMED-only
  conditions, medications as free text only; its OMOP ETL left some measurement concept
  ids at 0 (only the source value names the LOINC code).

Realistic mess: repeated measurements, measurements outside the look-back window and after
the index date, missing cholesterol (those patients are dropped), unknown gender, entered-
in-error and not-taken records (FHIR only: an ETL drops them), refuted diagnoses, codes no
feature uses (haemoglobin, asthma, metformin, Encounters).

Written under OUT::

    fhir-ndjson/<site>/{Patient,Organization,Observation,Condition,Medication,
                        MedicationStatement,Encounter}.ndjson   (Bulk Data style)
    fhir-bundles/<site>/<patient>.json                           (a transaction Bundle each)
    omop/{person,care_site,observation_period,measurement,condition_occurrence,
          drug_exposure}.csv
    flat.csv                      one row per patient, per-site units (synthetic-c: mmol/L, lb)
    truth.csv                     the expected features, all in the declared units
    mapping.toml                  one mapping for all three connectors
    mapping-by-organization.toml  the same, sites from Patient.managingOrganization
    README.txt

Run:  .venv/bin/python scripts/make_fhir_sites.py OUT [--patients 1000] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

INDEX = dt.date(2024, 1, 1)
SITES: dict[str, dict[str, Any]] = {
    "synthetic-a": {"share": 0.45, "chol": "mg/dL", "glucose": "mg/dL", "weight": "kg",
                    "bp": "separate", "conditions": "icd10cm", "medication": "rxnorm",
                    "time": "T08:30:00+01:00", "org": "org-a", "care_site_id": 1},
    "synthetic-b": {"share": 0.35, "chol": "mg/dL", "glucose": "mg/dL", "weight": "kg",
                    "bp": "panel", "conditions": "snomed+icd10", "medication": "reference",
                    "time": "", "org": "org-b", "care_site_id": 2},
    "synthetic-c": {"share": 0.20, "chol": "mmol/L", "glucose": "mmol/L", "weight": "[lb_av]",
                    "bp": "separate", "conditions": "snomed", "medication": "text",
                    "time": "T14:05:00Z", "org": "org-c", "care_site_id": 3},
}
CHOL_MG_PER_MMOL = 38.665      # cholesterol, 386.65 g/mol
GLUCOSE_MG_PER_MMOL = 18.0156  # glucose, 180.156 g/mol
KG_PER_LB = 0.45359237

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"

#: LOINC code -> (display, OMOP concept id, UCUM unit in the canonical unit)
LABS = {
    "8480-6": ("Systolic blood pressure", 3004249),
    "8462-4": ("Diastolic blood pressure", 3012888),
    "2093-3": ("Cholesterol [Mass/volume] in Serum or Plasma", 3027114),
    "8867-4": ("Heart rate", 3027018),
    "29463-7": ("Body weight", 3025315),
    "2345-7": ("Glucose [Mass/volume] in Serum or Plasma", 3004501),
    "718-7": ("Hemoglobin [Mass/volume] in Blood", 3000963),
}
UNIT_CONCEPTS = {"mg/dL": 8840, "mmol/L": 8753, "kg": 9529, "[lb_av]": 8739, "mm[Hg]": 8876,
                 "/min": 8541, "g/dL": 8713}
#: condition -> (ICD-10 code, SNOMED code, display, OMOP concept id)
CONDITIONS = {
    "diabetes": ("E11.9", "44054006", "Type 2 diabetes mellitus", 201826),
    "cad": ("I25.10", "53741008", "Coronary arteriosclerosis", 317576),
    "asthma": ("J45.909", "195967001", "Asthma", 317009),
}
#: drug -> (RxNorm code, ATC code, text, OMOP ingredient concept id)
DRUGS = {
    "atorvastatin": ("617310", "C10AA05", "Atorvastatin 20 MG Oral Tablet", 1545958),
    "simvastatin": ("312961", "C10AA01", "Simvastatin 20 MG Oral Tablet", 1539403),
    "metformin": ("860975", "A10BA02", "Metformin 500 MG Oral Tablet", 1503297),
}
FEATURES = ["age", "sex", "trestbps", "chol", "thalach", "weight", "fbs", "diabetes", "statin"]


# -- simulation ---------------------------------------------------------------------------
def _days(rng: np.random.Generator, low: int, high: int, k: int) -> list[int]:
    """``k`` distinct day offsets in [low, high], in time order."""
    return sorted(int(d) for d in rng.choice(np.arange(low, high + 1), size=k, replace=False))


def _date(offset: int) -> dt.date:
    return INDEX + dt.timedelta(days=offset)


def simulate(n_patients: int, seed: int) -> list[dict[str, Any]]:
    """SYNTHETIC patients with their records (values in each site's units)."""
    rng = np.random.default_rng(seed)
    names = list(SITES)
    shares = np.array([SITES[s]["share"] for s in names])
    counts = np.floor(shares * n_patients).astype(int)
    counts[0] += n_patients - counts.sum()
    patients = []
    pid = 1000
    for site, count in zip(names, counts, strict=True):
        style = SITES[site]
        for _ in range(int(count)):
            pid += 1
            patients.append(_patient(rng, pid, site, style))
    return patients


def _patient(rng: np.random.Generator, pid: int, site: str, style: dict[str, Any]
             ) -> dict[str, Any]:
    age_years = int(rng.integers(30, 81))
    birth = dt.date(INDEX.year - age_years - 1, int(rng.integers(1, 13)),
                    int(rng.integers(1, 29)))
    male = bool(rng.random() < 0.55)
    gender = "unknown" if rng.random() < 0.01 else ("male" if male else "female")
    obs: list[dict[str, Any]] = []
    truth: dict[str, Any] = {}

    def add(loinc: str, day: int, value: float, unit: str, *, status: str = "final",
            window: bool = True) -> None:
        obs.append({"loinc": loinc, "day": day, "value": value, "unit": unit,
                    "status": status, "window": window})

    # systolic blood pressure: mean of 1-4 in the year before the index date
    sbp_level = rng.normal(132, 17)
    days = _days(rng, -360, -1, int(rng.integers(1, 5)))
    sbp = [float(round(rng.normal(sbp_level, 6))) for _ in days]
    for day, value in zip(days, sbp, strict=True):
        add("8480-6", day, value, "mm[Hg]")
    if rng.random() < 0.3:
        add("8480-6", int(rng.integers(-700, -400)), float(round(rng.normal(sbp_level, 6))),
            "mm[Hg]", window=False)
    truth["trestbps"] = float(np.mean(sbp))
    # cholesterol: last of 0-2 (6% have none: their row is dropped)
    n_chol = 0 if rng.random() < 0.06 else int(rng.integers(1, 3))
    chol_level = float(np.clip(rng.normal(215, 40), 120, 400))
    truth["chol"] = float("nan")
    for day in _days(rng, -360, -1, n_chol):
        mg = float(np.clip(round(rng.normal(chol_level, 12)), 110, 420))
        if style["chol"] == "mmol/L":
            value = round(mg / CHOL_MG_PER_MMOL, 2)
            truth["chol"] = value * CHOL_MG_PER_MMOL
        else:
            value = mg
            truth["chol"] = mg
        add("2093-3", day, value, style["chol"])
    if rng.random() < 0.2:  # a measurement after the index date: outside the window
        add("2093-3", int(rng.integers(10, 60)), 250.0 if style["chol"] == "mg/dL" else 6.47,
            style["chol"], window=False)
    if rng.random() < 0.05:  # a mistaken entry, withdrawn: must not count
        add("2093-3", -5, 9999.0, style["chol"], status="entered-in-error", window=False)
    # maximum heart rate: max of 1-3
    hr = [float(np.clip(round(rng.normal(150 - 0.6 * (age_years - 55), 18)), 70, 210))
          for _ in range(int(rng.integers(1, 4)))]
    for day, value in zip(_days(rng, -360, -1, len(hr)), hr, strict=True):
        add("8867-4", day, value, "/min")
    truth["thalach"] = max(hr)
    # weight: last of 1-2
    kg_level = rng.normal(80 + (8 if male else 0), 14)
    for day in _days(rng, -360, -1, int(rng.integers(1, 3))):
        kg = round(float(np.clip(rng.normal(kg_level, 1.5), 35, 200)), 1)
        if style["weight"] == "[lb_av]":
            lb = round(kg / KG_PER_LB, 1)
            add("29463-7", day, lb, "[lb_av]")
            truth["weight"] = lb * KG_PER_LB
        else:
            add("29463-7", day, kg, "kg")
            truth["weight"] = kg
    # fasting glucose: one measurement; fbs = glucose > 120 mg/dL
    while True:
        mg = float(np.clip(round(rng.lognormal(np.log(100), 0.22)), 50, 400))
        value = round(mg / GLUCOSE_MG_PER_MMOL, 1) if style["glucose"] == "mmol/L" else mg
        true_mg = value * GLUCOSE_MG_PER_MMOL if style["glucose"] == "mmol/L" else value
        if abs(true_mg - 120.0) > 0.05:
            break
    add("2345-7", int(rng.integers(-360, 0)), value, style["glucose"])
    truth["fbs"] = int(true_mg > 120.0)
    add("718-7", int(rng.integers(-360, 0)), round(float(rng.normal(14, 1.4)), 1), "g/dL")
    if style["bp"] == "panel":
        for o in [o for o in obs if o["loinc"] == "8480-6"]:
            o["diastolic"] = float(round(o["value"] * 0.62 + rng.normal(0, 5)))
    # conditions
    conditions: list[dict[str, Any]] = []
    diabetic = rng.random() < 0.10 + 0.35 * truth["fbs"]
    if diabetic:
        conditions.append({"name": "diabetes", "day": int(rng.integers(-4000, -30))})
    elif rng.random() < 0.03:  # diagnosed after the index date: not a feature
        conditions.append({"name": "diabetes", "day": int(rng.integers(30, 300))})
    truth["diabetes"] = int(diabetic)
    if rng.random() < 0.08:
        conditions.append({"name": "asthma", "day": int(rng.integers(-3000, -1))})
    # medications
    meds: list[dict[str, Any]] = []
    on_statin = False
    if rng.random() < 0.15 + 0.25 * (truth["chol"] > 240 if truth["chol"] == truth["chol"]
                                      else 0):
        start = int(rng.integers(-900, -20))
        end = start + int(rng.integers(60, 900))
        drug = "atorvastatin" if rng.random() < 0.6 else "simvastatin"
        meds.append({"name": drug, "start": start, "end": end, "status": "active"})
        on_statin = end >= -365
    if rng.random() < 0.03:
        meds.append({"name": "atorvastatin", "start": -100, "end": -10, "status": "not-taken"})
    if diabetic and rng.random() < 0.6:
        meds.append({"name": "metformin", "start": int(rng.integers(-2000, -30)), "end": 30,
                     "status": "active"})
    truth["statin"] = int(on_statin)
    # the label: coronary artery disease diagnosed within a year after the index date
    chol_for_risk = truth["chol"] if truth["chol"] == truth["chol"] else 215.0
    logit = (-2.3 + 0.05 * (age_years - 55) + 0.7 * male + 0.02 * (truth["trestbps"] - 132)
             + 0.012 * (chol_for_risk - 215) - 0.02 * (truth["thalach"] - 150)
             + 0.7 * diabetic - 0.4 * on_statin)
    cad = bool(rng.random() < 1 / (1 + np.exp(-logit)))
    if cad:
        conditions.append({"name": "cad", "day": int(rng.integers(1, 366))})
    if rng.random() < 0.05:  # known before the index date: history, not the outcome
        conditions.append({"name": "cad", "day": int(rng.integers(-2000, -10))})
    if rng.random() < 0.03:  # after the one-year window
        conditions.append({"name": "cad", "day": int(rng.integers(380, 700))})
    if rng.random() < 0.02:  # ruled out: must not count
        conditions.append({"name": "cad", "day": int(rng.integers(1, 366)), "refuted": True})
    truth["cad"] = int(cad)
    ident = uuid.UUID(bytes=rng.bytes(16), version=4)
    truth.update(age=_age(birth, INDEX), sex=(1 if gender == "male" else 0
                                              if gender == "female" else float("nan")))
    return {"pid": pid, "uuid": str(ident), "site": site, "birth": birth, "gender": gender,
            "obs": obs, "conditions": conditions, "meds": meds, "truth": truth,
            "encounters": _days(rng, -360, -1, 2)}


def _age(birth: dt.date, index: dt.date) -> int:
    return index.year - birth.year - ((index.month, index.day) < (birth.month, birth.day))


# -- FHIR ---------------------------------------------------------------------------------
def _when(style: dict[str, Any], day: int) -> str:
    return _date(day).isoformat() + style["time"]


def _fhir(p: dict[str, Any], subject: str) -> Iterator[dict[str, Any]]:
    """The FHIR R4 resources of one SYNTHETIC patient (Patient first)."""
    style = SITES[p["site"]]
    pid = str(p["pid"])
    ref = {"reference": subject}
    yield {"resourceType": "Patient", "id": pid,
           "meta": {"tag": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                             "code": "HTEST", "display": "test health data (synthetic)"}]},
           "identifier": [{"system": f"urn:synthetic:{p['site']}:mrn", "value": f"S{pid}"}],
           "gender": p["gender"], "birthDate": p["birth"].isoformat(),
           "managingOrganization": {"reference": f"Organization/{style['org']}",
                                    "display": p["site"]}}
    for k, o in enumerate(p["obs"]):
        display = LABS[o["loinc"]][0]
        res: dict[str, Any] = {
            "resourceType": "Observation", "id": f"obs-{pid}-{k}", "status": o["status"],
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs" if o["loinc"] in {"8480-6", "8867-4", "29463-7"}
                else "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": o["loinc"], "display": display}],
                     "text": display},
            "subject": ref, "effectiveDateTime": _when(style, o["day"])}
        quantity = {"value": o["value"], "unit": o["unit"], "system": UCUM, "code": o["unit"]}
        if "diastolic" in o:
            res["code"] = {"coding": [{"system": LOINC, "code": "85354-9",
                                       "display": "Blood pressure panel"}]}
            res["component"] = [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                 "valueQuantity": quantity},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                 "valueQuantity": {"value": o["diastolic"], "unit": "mm[Hg]", "system": UCUM,
                                   "code": "mm[Hg]"}}]
        else:
            res["valueQuantity"] = quantity
        yield res
    for k, c in enumerate(p["conditions"]):
        icd, snomed, display, _ = CONDITIONS[c["name"]]
        if style["conditions"] == "icd10cm":
            coding = [{"system": ICD10CM, "code": icd, "display": display}]
        elif style["conditions"] == "snomed+icd10":
            coding = [{"system": SNOMED, "code": snomed, "display": display},
                      {"system": ICD10, "code": icd.replace(".", "")}]
        else:
            coding = [{"system": SNOMED, "code": snomed, "display": display}]
        verification = "refuted" if c.get("refuted") else "confirmed"
        yield {"resourceType": "Condition", "id": f"cond-{pid}-{k}",
               "clinicalStatus": {"coding": [{
                   "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                   "code": "active"}]},
               "verificationStatus": {"coding": [{
                   "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                   "code": verification}]},
               "code": {"coding": coding, "text": display}, "subject": ref,
               "onsetDateTime": _when(style, c["day"]),
               "recordedDate": _when(style, c["day"])}
    for k, m in enumerate(p["meds"]):
        rxnorm, _, text, _ = DRUGS[m["name"]]
        res = {"resourceType": "MedicationStatement", "id": f"med-{pid}-{k}",
               "status": m["status"], "subject": ref,
               "effectivePeriod": {"start": _when(style, m["start"]),
                                   "end": _when(style, m["end"])}}
        if style["medication"] == "rxnorm":
            res["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": rxnorm,
                                                            "display": text}]}
        elif style["medication"] == "text":
            res["medicationCodeableConcept"] = {"text": text.replace(" MG Oral Tablet",
                                                                     " mg tablet")}
        else:
            res["medicationReference"] = {"reference": f"Medication/{m['name']}"}
        yield res
    for k, day in enumerate(p["encounters"]):
        yield {"resourceType": "Encounter", "id": f"enc-{pid}-{k}", "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                         "code": "AMB"},
               "subject": ref, "period": {"start": _when(style, day), "end": _when(style, day)}}


def _medications() -> list[dict[str, Any]]:
    return [{"resourceType": "Medication", "id": name,
             "code": {"coding": [{"system": RXNORM, "code": rx, "display": text},
                                 {"system": ATC, "code": atc}], "text": text}}
            for name, (rx, atc, text, _) in DRUGS.items()]


def _organization(site: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": SITES[site]["org"], "active": True,
            "name": site}


def write_ndjson(patients: list[dict[str, Any]], out: Path) -> int:
    """Bulk-Data-style NDJSON, one folder per site; returns the number of resources."""
    n = 0
    for site in SITES:
        folder = out / site
        folder.mkdir(parents=True, exist_ok=True)
        by_type: dict[str, list[str]] = {"Organization": [json.dumps(_organization(site))]}
        if SITES[site]["medication"] == "reference":
            by_type["Medication"] = [json.dumps(m) for m in _medications()]
        for p in patients:
            if p["site"] == site:
                for res in _fhir(p, f"Patient/{p['pid']}"):
                    by_type.setdefault(res["resourceType"], []).append(json.dumps(res))
        for rtype, lines in by_type.items():
            (folder / f"{rtype}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
            n += len(lines)
    return n


def write_bundles(patients: list[dict[str, Any]], out: Path) -> int:
    """One transaction Bundle per patient (urn:uuid references); returns resources."""
    n = 0
    for p in patients:
        folder = out / p["site"]
        folder.mkdir(parents=True, exist_ok=True)
        subject = f"urn:uuid:{p['uuid']}"
        entries = []
        resources = list(_fhir(p, subject))
        if SITES[p["site"]]["medication"] == "reference":
            resources += _medications()
        for k, res in enumerate(resources):
            full = subject if k == 0 else f"urn:uuid:{uuid.uuid5(uuid.UUID(p['uuid']), str(k))}"
            if res["resourceType"] == "Medication":  # per bundle, referenced by urn:uuid
                for other in resources:
                    if other.get("medicationReference", {}).get("reference") == \
                            f"Medication/{res['id']}":
                        other["medicationReference"]["reference"] = full
            entries.append({"fullUrl": full, "resource": res,
                            "request": {"method": "POST", "url": res["resourceType"]}})
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        (folder / f"{p['pid']}.json").write_text(json.dumps(bundle, indent=1),
                                                 encoding="utf-8")
        n += len(entries)
    return n


# -- OMOP ---------------------------------------------------------------------------------
def write_omop(patients: list[dict[str, Any]], out: Path) -> int:
    """OMOP CDM v5.4 tables as CSV (an ETL drops entered-in-error and not-taken records)."""
    out.mkdir(parents=True, exist_ok=True)
    person: list[dict[str, Any]] = []
    measurement: list[dict[str, Any]] = []
    condition: list[dict[str, Any]] = []
    drug: list[dict[str, Any]] = []
    period: list[dict[str, Any]] = []
    for p in patients:
        style = SITES[p["site"]]
        pid = p["pid"]
        birth = p["birth"]
        person.append({
            "person_id": pid,
            "gender_concept_id": {"male": 8507, "female": 8532}.get(p["gender"], 8551),
            "year_of_birth": birth.year, "month_of_birth": birth.month,
            "day_of_birth": birth.day, "birth_datetime": f"{birth.isoformat()} 00:00:00",
            "race_concept_id": 0, "ethnicity_concept_id": 0, "location_id": "",
            "provider_id": "", "care_site_id": style["care_site_id"],
            "person_source_value": f"S{pid}", "gender_source_value": p["gender"],
            "gender_source_concept_id": 0, "race_source_value": "",
            "race_source_concept_id": 0, "ethnicity_source_value": "",
            "ethnicity_source_concept_id": 0})
        period.append({"observation_period_id": pid, "person_id": pid,
                       "observation_period_start_date": _date(-1200).isoformat(),
                       "observation_period_end_date": _date(720).isoformat(),
                       "period_type_concept_id": 32817})
        for o in p["obs"]:
            if o["status"] != "final":
                continue
            parts = [(o["loinc"], o["value"], o["unit"])]
            if "diastolic" in o:
                parts.append(("8462-4", o["diastolic"], "mm[Hg]"))
            for loinc, value, unit in parts:
                concept = LABS[loinc][1]
                if p["site"] == "synthetic-c" and loinc == "2093-3" and pid % 2:
                    concept = 0  # this ETL did not map every local lab code
                measurement.append({
                    "measurement_id": len(measurement) + 1, "person_id": pid,
                    "measurement_concept_id": concept,
                    "measurement_date": _date(o["day"]).isoformat(),
                    "measurement_datetime": "", "measurement_time": "",
                    "measurement_type_concept_id": 32817, "operator_concept_id": "",
                    "value_as_number": value, "value_as_concept_id": "",
                    "unit_concept_id": UNIT_CONCEPTS[unit], "range_low": "", "range_high": "",
                    "provider_id": "", "visit_occurrence_id": "", "visit_detail_id": "",
                    "measurement_source_value": loinc, "measurement_source_concept_id": 0,
                    "unit_source_value": unit, "unit_source_concept_id": 0,
                    "value_source_value": "", "measurement_event_id": "",
                    "meas_event_field_concept_id": ""})
        for c in p["conditions"]:
            if c.get("refuted"):
                continue
            icd, snomed, _, concept = CONDITIONS[c["name"]]
            source = icd if style["conditions"] == "icd10cm" else snomed
            condition.append({
                "condition_occurrence_id": len(condition) + 1, "person_id": pid,
                "condition_concept_id": concept,
                "condition_start_date": _date(c["day"]).isoformat(),
                "condition_start_datetime": "", "condition_end_date": "",
                "condition_end_datetime": "", "condition_type_concept_id": 32817,
                "condition_status_concept_id": 0, "stop_reason": "", "provider_id": "",
                "visit_occurrence_id": "", "visit_detail_id": "",
                "condition_source_value": source, "condition_source_concept_id": 0,
                "condition_status_source_value": ""})
        for m in p["meds"]:
            if m["status"] != "active":
                continue
            _, _, text, concept = DRUGS[m["name"]]
            drug.append({
                "drug_exposure_id": len(drug) + 1, "person_id": pid, "drug_concept_id": concept,
                "drug_exposure_start_date": _date(m["start"]).isoformat(),
                "drug_exposure_start_datetime": "",
                "drug_exposure_end_date": _date(m["end"]).isoformat(),
                "drug_exposure_end_datetime": "", "verbatim_end_date": "",
                "drug_type_concept_id": 32838, "stop_reason": "", "refills": "",
                "quantity": "", "days_supply": m["end"] - m["start"], "sig": "",
                "route_concept_id": 4132161, "lot_number": "", "provider_id": "",
                "visit_occurrence_id": "", "visit_detail_id": "", "drug_source_value": text,
                "drug_source_concept_id": 0, "route_source_value": "oral",
                "dose_unit_source_value": ""})
    care_site = [{"care_site_id": s["care_site_id"], "care_site_name": name,
                  "place_of_service_concept_id": 8756, "location_id": "",
                  "care_site_source_value": s["org"], "place_of_service_source_value": ""}
                 for name, s in SITES.items()]
    tables = {"person": person, "care_site": care_site, "observation_period": period,
              "measurement": measurement, "condition_occurrence": condition,
              "drug_exposure": drug}
    for name, rows in tables.items():
        pd.DataFrame(rows).to_csv(out / f"{name}.csv", index=False)
    return sum(len(rows) for rows in tables.values())


# -- flat CSV and truth ---------------------------------------------------------------------
def truth_frame(patients: list[dict[str, Any]]) -> pd.DataFrame:
    """The features every connector must produce, all in the declared units."""
    rows = [{"patient_id": str(p["pid"]), "site": p["site"],
             **{f: p["truth"][f] for f in FEATURES}, "cad": p["truth"]["cad"]}
            for p in patients]
    return pd.DataFrame(rows).set_index("patient_id")


def write_flat(patients: list[dict[str, Any]], path: Path) -> int:
    """The equivalent flat table: site units (synthetic-c: mmol/L and [lb_av]), renamed."""
    rows = []
    for p in patients:
        t = dict(p["truth"])
        style = SITES[p["site"]]
        if style["chol"] == "mmol/L" and t["chol"] == t["chol"]:
            t["chol"] = [o["value"] for o in p["obs"] if o["loinc"] == "2093-3"
                         and o["window"]][-1]
        if style["weight"] == "[lb_av]":
            t["weight"] = [o["value"] for o in p["obs"] if o["loinc"] == "29463-7"][-1]
        rows.append({
            "patient_id": p["pid"], "hospital": p["site"], "age_years": t["age"],
            "gender": "" if p["gender"] == "unknown" else p["gender"],
            "systolic_bp": t["trestbps"], "cholesterol": t["chol"],
            "max_heart_rate": t["thalach"], "body_weight": t["weight"],
            "fasting_glucose_high": t["fbs"], "diabetes": t["diabetes"],
            "on_statin": t["statin"], "cad_within_1y": "yes" if t["cad"] else "no"})
    pd.DataFrame(rows).to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return len(rows)


# -- mapping ------------------------------------------------------------------------------
MAPPING = """\
# fedcare mapping file for the SYNTHETIC three-hospital data set (scripts/make_fhir_sites.py).
# One file for all connectors: FHIR (LOINC, ICD-10, SNOMED CT, RxNorm, ATC, text),
# OMOP (concept ids, and the source values), and the flat CSV ([features.*.csv]).
version = 1
missing = "drop"

[index]
date = 2024-01-01            # every window is relative to this date

[site]
column = "site"
fhir = "{fhir}"
omop = "care_site"

[csv]
site_column = "hospital"
id_column = "patient_id"

[features.age]
source = "age"
csv = {{ column = "age_years" }}

[features.sex]
source = "sex"
levels = {{ male = 1, female = 0 }}
csv = {{ column = "gender" }}

[features.trestbps]
source = "observation"
codes = {{ loinc = ["8480-6"], omop = [3004249] }}
unit = "mm[Hg]"
aggregate = "mean"
window_days = [-365, 0]
csv = {{ column = "systolic_bp" }}

[features.chol]
source = "observation"
codes = {{ loinc = ["2093-3", "14647-2"], omop = [3027114] }}
unit = "mg/dL"
aggregate = "last"
window_days = [-365, 0]

[features.chol.csv]
column = "cholesterol"
site_units = {{ synthetic-c = "mmol/L" }}

[features.thalach]
source = "observation"
codes = {{ loinc = ["8867-4"], omop = [3027018] }}
unit = "/min"
aggregate = "max"
csv = {{ column = "max_heart_rate" }}

[features.weight]
source = "observation"
codes = {{ loinc = ["29463-7", "3141-9"], omop = [3025315] }}
unit = "kg"
aggregate = "last"
csv = {{ column = "body_weight", site_units = {{ synthetic-c = "[lb_av]" }} }}

[features.fbs]                # fasting blood sugar > 120 mg/dL (0/1)
source = "observation"
codes = {{ loinc = ["2345-7"], omop = [3004501] }}
unit = "mg/dL"
aggregate = "last"
above = 120
csv = {{ column = "fasting_glucose_high" }}

[features.diabetes]           # any diagnosis up to the index date
source = "condition"
codes = {{ icd10 = ["E11*"], snomed = ["44054006"], omop = [201826] }}
csv = {{ column = "diabetes" }}

[features.statin]             # a statin taken at any time in the year before
source = "medication"
window_days = [-365, 0]
csv = {{ column = "on_statin" }}

[features.statin.codes]
rxnorm = ["617310", "312961", "83367", "36567"]
atc = ["C10AA*"]
text = ["atorvastatin*", "simvastatin*"]
omop = [1545958, 1539403]

[label]                       # coronary artery disease diagnosed within a year after
name = "cad"
source = "condition"
codes = {{ icd10 = ["I25*"], snomed = ["53741008"], omop = [317576] }}
window_days = [1, 365]
csv = {{ column = "cad_within_1y", positive = "yes" }}
"""


def write_mappings(out: Path) -> None:
    """``mapping.toml`` (sites = FHIR folders) and ``mapping-by-organization.toml``."""
    (out / "mapping.toml").write_text(MAPPING.format(fhir="folder"), encoding="utf-8")
    (out / "mapping-by-organization.toml").write_text(MAPPING.format(fhir="organization"),
                                                       encoding="utf-8")


def generate(out: str | Path, patients: int = 1000, seed: int = 7,
             formats: tuple[str, ...] = ("ndjson", "bundles", "omop", "csv")
             ) -> dict[str, Any]:
    """Write the SYNTHETIC data set under ``out``; returns paths, counts and the truth."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    people = simulate(patients, seed)
    counts: dict[str, int] = {}
    if "ndjson" in formats:
        counts["ndjson"] = write_ndjson(people, out / "fhir-ndjson")
    if "bundles" in formats:
        counts["bundles"] = write_bundles(people, out / "fhir-bundles")
    if "omop" in formats:
        counts["omop"] = write_omop(people, out / "omop")
    if "csv" in formats:
        counts["csv"] = write_flat(people, out / "flat.csv")
    truth = truth_frame(people)
    truth.to_csv(out / "truth.csv")
    write_mappings(out)
    (out / "README.txt").write_text(
        f"SYNTHETIC data: {patients} made-up patients at three made-up hospitals (seed "
        f"{seed}), written by scripts/make_fhir_sites.py. No real patient is described.\n",
        encoding="utf-8")
    return {"out": out, "counts": counts, "truth": truth,
            "mapping": out / "mapping.toml",
            "mapping_by_organization": out / "mapping-by-organization.toml",
            "ndjson": out / "fhir-ndjson", "bundles": out / "fhir-bundles",
            "omop": out / "omop", "csv": out / "flat.csv"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write into")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = generate(args.out, args.patients, args.seed)
    print(f"SYNTHETIC data for {args.patients} patients over {len(SITES)} sites in "
          f"{args.out}: " + ", ".join(f"{k} {v} records" for k, v in result["counts"].items()))


if __name__ == "__main__":
    main()
