"""FHIR R4 connector: Bundles and NDJSON of Patient, Observation, Condition, MedicationStatement.

Every resource a feature, the label or the site can use is validated strictly with the
``fhir.resources`` models (``fhir.resources.R4B``: FHIR 4.3, which for these resources
is R4 plus clarifications).  Other valid FHIR resource types (Encounter, Practitioner ...)
are counted and skipped; a resource type FHIR does not define is an error.  Records are
then matched against the mapping file and handed to :func:`fedcare.data._ingest.build`.

Error messages name the file and line (NDJSON), the file and ``Bundle.entry[i]``, the
resource type, the element path and the feature; never a value of the data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import zoneinfo
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fedcare.data._codes import CodeMatcher
from fedcare.data._ingest import (
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    Extract,
    Ingested,
    IngestReport,
    build,
    day_of,
    frame_of,
)
from fedcare.data._mapping import Mapping
from fedcare.exceptions import DataError, DataNotFoundError

__all__ = ["FHIR_SUFFIXES", "read_fhir"]

#: Files read: NDJSON (one resource per line) and JSON (a Bundle or one resource).
FHIR_SUFFIXES = (".ndjson", ".jsonl", ".json")
_UCUM = "http://unitsofmeasure.org"
_OBSERVATION_EXCLUDED = frozenset({"registered", "cancelled", "entered-in-error"})
_CONDITION_EXCLUDED = frozenset({"refuted", "entered-in-error"})
_MEDICATION_EXCLUDED = {
    "MedicationStatement": frozenset({"entered-in-error", "not-taken"}),
    "MedicationRequest": frozenset({"entered-in-error", "cancelled", "draft"}),
    "MedicationAdministration": frozenset({"entered-in-error", "not-done"}),
}
_ENCOUNTER_EXCLUDED = frozenset({"planned", "cancelled", "entered-in-error"})
#: Clinical statuses that say a condition is over (history, not current).
_CONDITION_OVER = frozenset({"inactive", "remission", "resolved"})
_AGE_DAYS = {"a": 365.25, "mo": 30.4375, "wk": 7.0, "d": 1.0, "h": 1 / 24, "min": 1 / 1440}
#: A date-time with a time but no zone (invalid FHIR unless the site declares its zone).
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
#: Required bindings of the elements read (fhir.resources checks types, not code lists).
_CODES = {
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Observation", "status"): frozenset({"registered", "preliminary", "final", "amended",
                                          "corrected", "cancelled", "entered-in-error",
                                          "unknown"}),
    ("MedicationStatement", "status"): frozenset({"active", "completed", "entered-in-error",
                                                  "intended", "stopped", "on-hold", "unknown",
                                                  "not-taken"}),
    ("MedicationRequest", "status"): frozenset({"active", "on-hold", "cancelled", "completed",
                                                "entered-in-error", "stopped", "draft",
                                                "unknown"}),
    ("MedicationAdministration", "status"): frozenset({"in-progress", "not-done", "on-hold",
                                                       "completed", "entered-in-error",
                                                       "stopped", "unknown"}),
}


@cache
def _models() -> dict[str, Any]:
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.condition import Condition
    from fhir.resources.R4B.encounter import Encounter
    from fhir.resources.R4B.medication import Medication
    from fhir.resources.R4B.medicationadministration import MedicationAdministration
    from fhir.resources.R4B.medicationrequest import MedicationRequest
    from fhir.resources.R4B.medicationstatement import MedicationStatement
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.organization import Organization
    from fhir.resources.R4B.patient import Patient

    return {"Patient": Patient, "Observation": Observation, "Condition": Condition,
            "MedicationStatement": MedicationStatement, "Medication": Medication,
            "MedicationRequest": MedicationRequest,
            "MedicationAdministration": MedicationAdministration,
            "Organization": Organization, "Bundle": Bundle, "Encounter": Encounter}


@cache
def _is_fhir_type(name: str) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(name)
    except (ValueError, AttributeError):
        return False
    return getattr(model, "__resource_type__", None) == name and name[:1].isupper()


def _problems(exc: Exception, *, paths_only: bool = False) -> str:
    """A pydantic ValidationError as element paths and messages, without input values.

    ``paths_only``: just the element paths (a stable reason to count records under).
    """
    errors = getattr(exc, "errors", None)
    if errors is None:
        return type(exc).__name__
    if paths_only:
        locs = sorted({".".join(str(p) for p in e["loc"] if not isinstance(p, int)) or
                       "(resource)" for e in errors(include_url=False)})
        return ", ".join(locs[:3]) + (f" and {len(locs) - 3} more" if len(locs) > 3 else "")
    parts = []
    listed = errors(include_url=False, include_input=True)
    for error in listed[:3]:
        loc = ".".join(str(p) for p in error["loc"]) or "(resource)"
        message = str(error["msg"]).removeprefix("Value error, ")
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            message = "not an element of this resource type"
        elif not isinstance(value, dict | list) and value is not None and (
                str(value) in message or repr(value) in message):
            message = str(error["type"]).replace("_", " ")
        parts.append(f"{loc}: {message[:160]}")
    more = len(listed) - 3
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _ref_id(reference: Any, kind: str, urls: dict[str, str]) -> str | None:
    """The id a reference points at (``Patient/1``, a full URL, or a bundle's urn:uuid)."""
    text = getattr(reference, "reference", None) if reference is not None else None
    if not text:
        return None
    if text in urls:
        return urls[text]
    if text.startswith("urn:uuid:"):
        return text[9:]
    parts = text.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[:parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == kind:
        return parts[-1]
    return None


@dataclass
class _Partial:
    """What parsing one group of files produced (merged across groups)."""

    patients: dict[str, list[Any]] = field(
        default_factory=lambda: {c: [] for c in (*PATIENT_COLUMNS, "org", "org_display")})
    events: dict[str, list[Any]] = field(
        default_factory=lambda: {c: [] for c in (*EVENT_COLUMNS, "age", "until_age")})
    by_type: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    unlinked: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    quarantine_at: dict[str, str] = field(default_factory=dict)
    zoned: int = 0
    medications: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    pending: list[tuple[Any, ...]] = field(default_factory=list)
    organizations: dict[str, str] = field(default_factory=dict)

    def merge(self, other: _Partial) -> None:
        for name, values in other.patients.items():
            self.patients[name].extend(values)
        for name, values in other.events.items():
            self.events[name].extend(values)
        self.by_type.update(other.by_type)
        self.unmapped.update(other.unmapped)
        self.ignored.update(other.ignored)
        self.excluded.update(other.excluded)
        self.unlinked += other.unlinked
        self.quarantined.update(other.quarantined)
        for reason, place in other.quarantine_at.items():
            self.quarantine_at.setdefault(reason, place)
        self.zoned += other.zoned
        self.medications.update(other.medications)
        self.pending.extend(other.pending)
        self.organizations.update(other.organizations)


def _codings(concept: Any) -> tuple[tuple[str, ...], ...]:
    """``(system, code, display)`` of each coding, then ``("", "", text)``."""
    if concept is None:
        return ()
    out = [(c.system or "", c.code or "", c.display or "") for c in concept.coding or ()]
    if concept.text:
        out.append(("", "", concept.text))
    return tuple(out)


class _Parser:
    """Parses files of one group (a site folder, a file, or everything) into a _Partial."""

    def __init__(self, mapping: Mapping, files: list[str]) -> None:
        self.mapping = mapping
        self.matcher = CodeMatcher(mapping)
        self.files = files
        self.models = _models()
        self.out = _Partial()
        self.text = {d: self.matcher.has_system(d, "text")
                     for d in ("observation", "condition", "medication", "visit")}
        self.zones: dict[str, zoneinfo.ZoneInfo | None] = {}
        self.visits = any(t.domain == "visit" for t in mapping.targets)

    def quarantine(self, reason: str, file: int, pos: int) -> None:
        """Leave one record out, counted under ``reason`` (never a value)."""
        self.out.quarantined[reason] += 1
        self.out.quarantine_at.setdefault(reason, self.where(file, pos))

    def zone(self, site: str) -> zoneinfo.ZoneInfo | None:
        if site not in self.zones:
            name = self.mapping.site.zone_of(site)
            self.zones[site] = zoneinfo.ZoneInfo(name) if name else None
        return self.zones[site]

    def localise(self, raw: Any, zone: zoneinfo.ZoneInfo) -> Any:
        """``raw`` with every date-time that has no zone read in ``zone`` (counted)."""
        if isinstance(raw, dict):
            return {k: self.localise(v, zone) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.localise(v, zone) for v in raw]
        if isinstance(raw, str) and len(raw) >= 16 and raw[10:11] == "T" and _NAIVE.match(raw):
            try:
                stamp = dt.datetime.fromisoformat(raw).replace(tzinfo=zone)
            except ValueError:
                return raw
            self.out.zoned += 1
            return stamp.isoformat()
        return raw

    # -- locations ---------------------------------------------------------------------
    def where(self, file: int, pos: int) -> str:
        return where(self.files, file, pos)

    # -- matching ----------------------------------------------------------------------
    def targets(self, domain: str, codings: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
        hits: list[str] = []
        match_uri, match = self.matcher.match_uri, self.matcher.match
        text = self.text[domain]
        for system, code, display in codings:
            if code:
                hits.extend(match_uri(domain, system, code))
            if text and display:
                hits.extend(match(domain, "text", display))
        return tuple(dict.fromkeys(hits)) if len(hits) > 1 else tuple(hits)

    def add_event(self, key: str, target: str, start: float, end: float, value: float,
                  unit: str | None, file: int, pos: int, until: float = np.inf,
                  age: float = np.nan, until_age: float = np.nan) -> None:
        ev = self.out.events
        ev["key"].append(key)
        ev["target"].append(target)
        ev["start"].append(start)
        ev["end"].append(end)
        ev["value"].append(value)
        ev["unit"].append(unit)
        ev["file"].append(file)
        ev["pos"].append(pos)
        ev["until"].append(until)
        ev["age"].append(age)
        ev["until_age"].append(until_age)

    # -- files -------------------------------------------------------------------------
    def parse(self, file: int, ns: str, site: str, part: int = 0, parts: int = 1) -> None:
        """Parse one file (of NDJSON, only lines ``part``, ``part + parts`` ...)."""
        path = Path(self.files[file])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
        if path.suffix.lower() in {".ndjson", ".jsonl"}:
            for lineno, line in enumerate(text.splitlines(), 1):
                if (parts > 1 and (lineno - 1) % parts != part) or not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    self.quarantine("malformed JSON line", file, lineno)
                    continue
                self.resource(raw, file, lineno, ns, site, {})
        else:
            if not text.strip():
                raise DataError(f"{path}: the file is empty")
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg} at column "
                                f"{exc.colno})") from None
            self.resource(raw, file, 0, ns, site, {})

    def bundle(self, raw: dict[str, Any], file: int, pos: int, ns: str, site: str) -> None:
        entries = raw.get("entry") or []
        if not isinstance(entries, list):
            raise DataError(f"{self.where(file, pos)}: invalid Bundle: entry: must be a list")
        shell = {**raw, "entry": [{k: v for k, v in e.items() if k != "resource"}
                                  if isinstance(e, dict) else e for e in entries]}
        try:
            self.models["Bundle"].model_validate(shell)
        except Exception as exc:
            raise DataError(f"{self.where(file, pos)}: invalid Bundle: {_problems(exc)}"
                            ) from None
        urls: dict[str, str] = {}
        for entry in entries:
            resource = entry.get("resource")
            full = entry.get("fullUrl")
            if isinstance(resource, dict) and isinstance(full, str):
                rid = resource.get("id")
                urls[full] = rid if isinstance(rid, str) and rid else full.rsplit(":", 1)[-1]
        for i, entry in enumerate(entries):
            resource = entry.get("resource")
            if resource is None:
                continue
            full = entry.get("fullUrl")
            self.resource(resource, file, pos if pos > 0 else -(i + 1), ns, site, urls,
                          full_url=full if isinstance(full, str) else None)

    def resource(self, raw: Any, file: int, pos: int, ns: str, site: str,
                 urls: dict[str, str], full_url: str | None = None) -> None:
        if not isinstance(raw, dict):
            self.quarantine("not a FHIR resource (a JSON object)", file, pos)
            return
        rtype = raw.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            self.quarantine("no resourceType", file, pos)
            return
        if rtype == "Bundle":
            self.bundle(raw, file, pos, ns, site)
            return
        if rtype not in self.models or (rtype == "Encounter" and not self.visits):
            if not _is_fhir_type(rtype):
                self.quarantine("unknown resource type (not FHIR R4)", file, pos)
                return
            self.out.by_type[rtype] += 1
            self.out.ignored[rtype] += 1
            return
        self.out.by_type[rtype] += 1
        if rtype == "Observation" and not _numbers_are_numbers(raw):
            self.quarantine("invalid Observation: valueQuantity.value (not a JSON number)",
                            file, pos)
            return
        zone = self.zone(site)
        if zone is not None:
            raw = self.localise(raw, zone)
        try:
            res = self.models[rtype].model_validate(raw)
        except Exception as exc:
            self.quarantine(f"invalid {rtype}: {_problems(exc, paths_only=True)}", file, pos)
            return
        for (kind, element), allowed in _CODES.items():
            if kind == rtype:
                value = getattr(res, element)
                if value is not None and value not in allowed:
                    self.quarantine(f"invalid {rtype}: {element} not a FHIR R4 code", file, pos)
                    return
        getattr(self, "_" + rtype.lower())(res, file, pos, ns, site, urls, full_url)

    # -- resource types ------------------------------------------------------------------
    def _patient(self, res: Any, file: int, pos: int, ns: str, site: str,
                 urls: dict[str, str], full_url: str | None) -> None:
        pid = res.id or (full_url.rsplit(":", 1)[-1].rsplit("/", 1)[-1] if full_url else None)
        if not pid:
            raise DataError(f"{self.where(file, pos)}: Patient without an id; references "
                            "to it could not be resolved")
        org = res.managingOrganization
        p = self.out.patients
        p["key"].append(f"{ns}\x1f{pid}")
        p["pid"].append(pid)
        p["site"].append(site)
        p["birth"].append(day_of(res.birthDate))
        p["sex"].append(res.gender)
        p["ident"].append(self.identifier(res, pid))
        if res.deceasedDateTime is not None:
            p["death"].append(day_of(res.deceasedDateTime))
        else:  # deceased without a date: +inf (dead, when unknown); alive: NaN
            p["death"].append(np.inf if res.deceasedBoolean else np.nan)
        p["file"].append(file)
        p["pos"].append(pos)
        p["org"].append(_ref_id(org, "Organization", urls) if org is not None else None)
        p["org_display"].append(org.display if org is not None else None)

    def identifier(self, res: Any, pid: str) -> str | None:
        """What a ``[link]`` pseudonym is made of: ``Patient.identifier`` or the id."""
        link = self.mapping.model.link
        if link is None:
            return None
        if link.identifier is None:
            return pid
        for ident in res.identifier or ():
            if ident.system == link.identifier and ident.value:
                return str(ident.value)
        return None

    def _subject(self, res: Any, ns: str, urls: dict[str, str]) -> str | None:
        """The patient key of ``res.subject`` (None, counted as unlinked, if unresolved)."""
        pid = _ref_id(res.subject, "Patient", urls)
        if pid is None:
            self.out.unlinked += 1
            return None
        return f"{ns}\x1f{pid}"

    def _observation(self, res: Any, file: int, pos: int, ns: str, site: str,
                     urls: dict[str, str], full_url: str | None) -> None:
        if res.status in _OBSERVATION_EXCLUDED:
            self.out.excluded[f"Observation {res.status}"] += 1
            return
        found = [(self.targets("observation", _codings(res.code)), res)]
        for component in res.component or ():
            found.append((self.targets("observation", _codings(component.code)), component))
        if not any(targets for targets, _ in found):
            self.out.unmapped["Observation"] += 1
            return
        key = self._subject(res, ns, urls)
        if key is None:
            return
        # The clinically relevant time is effective[x]; issued (when the result was
        # released) only when there is none.
        when = res.effectiveDateTime or res.effectiveInstant
        if when is None and res.effectivePeriod is not None:
            when = res.effectivePeriod.start or res.effectivePeriod.end
        if when is None:
            when = res.issued
        start = day_of(when)
        for targets, holder in found:
            quantity = holder.valueQuantity
            value, unit = float("nan"), None
            if quantity is not None:
                if quantity.value is not None:
                    value = float(quantity.value)
                if quantity.code and quantity.system in (None, _UCUM):
                    unit = quantity.code
                else:
                    unit = quantity.unit or quantity.code
            for target in targets:
                if self.matcher.is_answer(target):
                    level = self.answer_of(target, holder)
                    self.add_event(key, target, start, start, level, None, file, pos)
                else:
                    self.add_event(key, target, start, start, value, unit, file, pos)

    def answer_of(self, target: str, holder: Any) -> float:
        """The level index of an Observation's (or component's) coded answer, NaN if none."""
        answer = self.matcher.answer_uri
        concept = holder.valueCodeableConcept
        if concept is not None:
            for coding in concept.coding or ():
                level = answer(target, coding.system, coding.code)
                if level is not None:
                    return float(level)
            for text in [c.display for c in concept.coding or ()] + [concept.text]:
                if text:
                    level = self.matcher.answer(target, "text", text)
                    if level is not None:
                        return float(level)
        if holder.valueBoolean is not None:
            level = self.matcher.answer(target, "boolean", str(holder.valueBoolean).lower())
            if level is not None:
                return float(level)
        if holder.valueString:
            level = self.matcher.answer(target, "text", holder.valueString)
            if level is not None:
                return float(level)
        has_answer = concept is not None or holder.valueBoolean is not None or \
            bool(holder.valueString)
        if has_answer:
            self.out.unmapped["Observation answer"] += 1
        return float("nan")

    def _encounter(self, res: Any, file: int, pos: int, ns: str, site: str,
                   urls: dict[str, str], full_url: str | None) -> None:
        if res.status in _ENCOUNTER_EXCLUDED:
            self.out.excluded[f"Encounter {res.status}"] += 1
            return
        cls = res.class_fhir if hasattr(res, "class_fhir") else getattr(res, "class", None)
        codings: list[tuple[str, ...]] = []
        if cls is not None:
            codings.append((cls.system or "", cls.code or "", cls.display or ""))
        for concept in res.type or ():
            codings.extend(_codings(concept))
        targets = self.targets("visit", tuple(codings))
        if not targets:
            self.out.unmapped["Encounter"] += 1
            return
        key = self._subject(res, ns, urls)
        if key is None:
            return
        period = res.period
        start = day_of(period.start) if period is not None else float("nan")
        end = day_of(period.end) if period is not None and period.end else float("nan")
        for target in targets:  # end NaN: still going on
            self.add_event(key, target, start, end, float("nan"), None, file, pos)

    def _condition(self, res: Any, file: int, pos: int, ns: str, site: str,
                   urls: dict[str, str], full_url: str | None) -> None:
        status = res.verificationStatus
        codes = {c.code for c in status.coding or ()} if status is not None else set()
        if codes & _CONDITION_EXCLUDED:
            self.out.excluded[f"Condition {sorted(codes & _CONDITION_EXCLUDED)[0]}"] += 1
            return
        targets = self.targets("condition", _codings(res.code))
        if not targets:
            self.out.unmapped["Condition"] += 1
            return
        key = self._subject(res, ns, urls)
        if key is None:
            return
        when = res.onsetDateTime
        if when is None and res.onsetPeriod is not None:
            when = res.onsetPeriod.start or res.onsetPeriod.end
        age = _age_days(res.onsetAge) if when is None else float("nan")
        if when is None and age != age:
            when = res.recordedDate
        start = day_of(when)
        # until: the day it ended (abatement); +inf still active; -inf over, date unknown.
        clinical = {c.code for c in res.clinicalStatus.coding or ()} \
            if res.clinicalStatus is not None else set()
        until, until_age = float(np.inf), float("nan")
        abated = res.abatementDateTime
        if abated is None and res.abatementPeriod is not None:
            abated = res.abatementPeriod.end or res.abatementPeriod.start
        if abated is not None:
            until = day_of(abated)
        elif res.abatementAge is not None:
            until_age = _age_days(res.abatementAge)
        elif res.abatementString or clinical & _CONDITION_OVER:
            until = float(-np.inf)
        if clinical and not clinical & _CONDITION_OVER:  # active, recurrence, relapse
            until, until_age = float(np.inf), float("nan")
        for target in targets:
            self.add_event(key, target, start, start, float("nan"), None, file, pos,
                           until=until, age=age, until_age=until_age)

    def _medicationstatement(self, res: Any, file: int, pos: int, ns: str, site: str,
                             urls: dict[str, str], full_url: str | None) -> None:
        start = end = day_of(res.effectiveDateTime)
        if res.effectiveDateTime is None and res.effectivePeriod is not None:
            start = day_of(res.effectivePeriod.start)
            end = day_of(res.effectivePeriod.end) if res.effectivePeriod.end else start
        if start != start:  # NaN: no effective time, fall back on the assertion date
            start = end = day_of(res.dateAsserted)
        open_ended = res.effectivePeriod is not None and res.effectivePeriod.start is not None \
            and res.effectivePeriod.end is None
        self.medication_use(res, "MedicationStatement", start, end, file, pos, ns, urls,
                            open_ended)

    def _medicationadministration(self, res: Any, file: int, pos: int, ns: str, site: str,
                                  urls: dict[str, str], full_url: str | None) -> None:
        start = end = day_of(res.effectiveDateTime)
        if res.effectiveDateTime is None and res.effectivePeriod is not None:
            start = day_of(res.effectivePeriod.start)
            end = day_of(res.effectivePeriod.end) if res.effectivePeriod.end else start
        open_ended = res.effectivePeriod is not None and res.effectivePeriod.start is not None \
            and res.effectivePeriod.end is None
        self.medication_use(res, "MedicationAdministration", start, end, file, pos, ns, urls,
                            open_ended)

    def _medicationrequest(self, res: Any, file: int, pos: int, ns: str, site: str,
                           urls: dict[str, str], full_url: str | None) -> None:
        if res.intent == "proposal":
            self.out.excluded["MedicationRequest proposal"] += 1
            return
        # An order covers its validity period, else the day it was written, extended by
        # the expected supply duration when one is given.
        start = end = day_of(res.authoredOn)
        dispense = res.dispenseRequest
        validity = dispense.validityPeriod if dispense is not None else None
        if validity is not None and validity.start is not None:
            start = day_of(validity.start)
            end = day_of(validity.end) if validity.end else start
        supply = dispense.expectedSupplyDuration if dispense is not None else None
        if supply is not None and start == start and end == start:
            days = _age_days(supply)
            if days == days and days > 0:
                end = start + float(np.ceil(days)) - 1
        self.medication_use(res, "MedicationRequest", start, end, file, pos, ns, urls,
                            validity is not None and validity.start is not None
                            and validity.end is None)

    def medication_use(self, res: Any, rtype: str, start: float, end: float, file: int,
                       pos: int, ns: str, urls: dict[str, str], open_ended: bool = False
                       ) -> None:
        """A MedicationStatement, -Request or -Administration: an exposure in [start, end]."""
        if res.status in _MEDICATION_EXCLUDED[rtype]:
            self.out.excluded[f"{rtype} {res.status}"] += 1
            return
        if open_ended and res.status == "active":  # still taken when exported
            end = float(np.inf)
        if res.medicationCodeableConcept is not None:
            codings = _codings(res.medicationCodeableConcept)
        else:
            ref = getattr(res.medicationReference, "reference", None) or ""
            contained = {c.id: c for c in res.contained or ()
                         if getattr(c, "resource_type", None) == "Medication"}
            if ref.startswith("#") and ref[1:] in contained:
                codings = _codings(contained[ref[1:]].code)
            else:
                mid = _ref_id(res.medicationReference, "Medication", urls)
                pid = _ref_id(res.subject, "Patient", urls)
                self.out.pending.append((ns, mid, None if pid is None else f"{ns}\x1f{pid}",
                                         start, end, file, pos, rtype))
                return
        targets = self.targets("medication", codings)
        if not targets:
            self.out.unmapped[rtype] += 1
            return
        self.medication_event(targets, self._subject(res, ns, urls), start, end, file, pos)

    def medication_event(self, targets: tuple[str, ...], key: str | None, start: float,
                         end: float, file: int, pos: int) -> None:
        """Events of one mapped MedicationStatement."""
        if key is None:
            return
        for target in targets:
            self.add_event(key, target, start, end, float("nan"), None, file, pos)

    def _medication(self, res: Any, file: int, pos: int, ns: str, site: str,
                    urls: dict[str, str], full_url: str | None) -> None:
        mid = res.id or (full_url.rsplit(":", 1)[-1] if full_url else None)
        if mid:
            self.out.medications[f"{ns}\x1f{mid}"] = list(_codings(res.code))

    def _organization(self, res: Any, file: int, pos: int, ns: str, site: str,
                      urls: dict[str, str], full_url: str | None) -> None:
        oid = res.id or (full_url.rsplit(":", 1)[-1] if full_url else None)
        if oid and res.name:
            self.out.organizations[f"{ns}\x1f{oid}"] = res.name

    def resolve_pending(self, pending: list[tuple[Any, ...]],
                        medications: dict[str, list[tuple[str, ...]]]) -> None:
        """Medication uses that reference a Medication resource read elsewhere."""
        for ns, mid, key, start, end, file, pos, rtype in pending:
            targets = self.targets("medication", tuple(medications.get(f"{ns}\x1f{mid}", ())))
            if not targets:
                self.out.unmapped[rtype] += 1
            elif key is None:
                self.out.unlinked += 1
            else:
                self.medication_event(targets, key, start, end, file, pos)


def _numbers_are_numbers(raw: dict[str, Any]) -> bool:
    """FHIR JSON writes decimals as numbers: ``"7.1"`` (a string) is invalid."""
    holders = [raw, *[c for c in raw.get("component") or () if isinstance(c, dict)]]
    for holder in holders:
        quantity = holder.get("valueQuantity")
        if isinstance(quantity, dict) and "value" in quantity:
            value = quantity["value"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
    return True


def _age_days(age: Any) -> float:
    """An Age (value, UCUM unit a/mo/wk/d) in days; NaN when it cannot be read."""
    if age is None or age.value is None:
        return float("nan")
    factor = _AGE_DAYS.get(str(age.code or age.unit or "a").strip().lower().rstrip("s"),
                           _AGE_DAYS.get({"year": "a", "month": "mo", "week": "wk",
                                          "day": "d"}.get(str(age.unit or "").strip().lower()
                                                          .rstrip("s"), ""), float("nan")))
    return float(age.value) * factor


def where(files: list[str], file: int, pos: int) -> str:
    """``file:line`` (NDJSON), ``file: Bundle.entry[i]`` or ``file``."""
    if pos > 0:
        return f"{files[file]}:{pos}"
    if pos < 0:
        return f"{files[file]}: Bundle.entry[{-pos - 1}]"
    return files[file]


def _files(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith(".") and name.lower().endswith(FHIR_SUFFIXES):
                yield Path(root) / name


def _groups(path: Path, mapping: Mapping) -> list[tuple[str, str, list[Path]]]:
    """``(namespace, raw site name, files)`` per group, as ``[site] fhir`` says."""
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file or folder")
    mode = mapping.site.fhir
    if path.is_file():
        files = [path]
        mode = "file" if mode == "folder" else mode
    else:
        files = list(_files(path))
    if not files:
        raise DataNotFoundError(f"{path}: no FHIR files ({', '.join(FHIR_SUFFIXES)}) found")
    if mapping.site.name is not None or mode == "organization":
        return [("", "", files)]
    if mode == "file":
        return [(str(f), f.name.split(".")[0], [f]) for f in files]
    top = [f for f in files if f.parent == path]
    if top:
        raise DataError(f"{path}: site.fhir = 'folder' reads one sub-folder per site, but "
                        f"{len(top)} file(s) lie directly in it (e.g. {top[0].name}); move "
                        "them into site folders or set site.fhir = 'file' or 'organization'")
    groups: dict[str, list[Path]] = {}
    for f in files:
        site = f.relative_to(path).parts[0]
        groups.setdefault(site, []).append(f)
    return [(site, site, group) for site, group in groups.items()]


#: NDJSON files larger than this are split across workers (by interleaved lines).
_SPLIT_BYTES = 1 << 18
Job = tuple[int, int, int, str, str]  # file index, part, parts, namespace, site


def _parse_jobs(mapping: Mapping, files: list[str], jobs: list[Job]) -> _Partial:
    parser = _Parser(mapping, files)
    for file, part, parts, ns, site in jobs:
        parser.parse(file, ns, site, part, parts)
    return parser.out


def _jobs(files: list[str], groups: list[tuple[list[int], str, str]], workers: int
          ) -> list[Job]:
    jobs: list[Job] = []
    for indices, ns, site in groups:
        for i in indices:
            split = workers > 1 and files[i].lower().endswith((".ndjson", ".jsonl")) and \
                os.path.getsize(files[i]) > _SPLIT_BYTES
            parts = workers if split else 1
            jobs.extend((i, k, parts, ns, site) for k in range(parts))
    return jobs


def read_fhir(path: str | Path, mapping: Mapping, *, workers: int = 1) -> Ingested:
    """Read FHIR R4 Bundles and NDJSON into the flat table and a :class:`Cohort`.

    Parameters
    ----------
    path : str or Path
        A folder (searched recursively for ``.ndjson``, ``.jsonl`` and ``.json`` files)
        or one file.  With ``[site] fhir = "folder"`` (default) each sub-folder is one
        site; ``"file"``: each file is one site (named after the file); ``"organization"``:
        ``Patient.managingOrganization`` names the site.
    mapping : Mapping
        From :func:`load_mapping`.
    workers : int
        Parse and validate in this many processes (files, and large NDJSON files by
        lines, are shared out; every resource is still validated); 1 = in this process.

    Returns
    -------
    Ingested
        The flat frame, the cohort and the report (``records`` = resources read).

    Raises
    ------
    DataNotFoundError
        No such path, or no FHIR files in it.
    DataError
        Malformed JSON (file and line), an unknown resource type, a resource that fails
        FHIR validation (file, line or bundle entry, element path), a feature whose codes
        never occur; :class:`UnitError` for a unit that cannot be converted.
    """
    started = time.perf_counter()
    path = Path(path)
    groups = _groups(path, mapping)
    files: list[str] = []
    jobs: list[tuple[list[int], str, str]] = []
    for ns, raw_site, group in groups:
        start = len(files)
        files.extend(str(f) for f in group)
        site = mapping.site_name(raw_site) if mapping.site.fhir != "organization" or \
            mapping.site.name is not None else ""
        jobs.append((list(range(start, len(files))), ns, site))
    merged = _Partial()
    work = _jobs(files, jobs, workers)
    if workers > 1 and len(work) > 1:
        _models()  # imported once here, inherited by forked workers
        batches = [work[k::workers] for k in range(min(workers, len(work)))]
        with ProcessPoolExecutor(max_workers=len(batches)) as pool:
            for partial in pool.map(_parse_jobs, [mapping] * len(batches),
                                    [files] * len(batches), batches):
                merged.merge(partial)
    else:
        merged.merge(_parse_jobs(mapping, files, work))
    resolver = _Parser(mapping, files)
    resolver.resolve_pending(merged.pending, merged.medications)
    merged.pending = []
    merged.merge(resolver.out)
    patients = merged.patients
    if mapping.site.fhir == "organization" and mapping.site.name is None:
        patients["site"] = [
            mapping.site_name(merged.organizations.get(f"\x1f{org}") or display or org)
            if (org or display) else None
            for org, display in zip(patients["org"], patients["org_display"], strict=True)]
    events = frame_of((*EVENT_COLUMNS, "age", "until_age"), merged.events)
    aged = events["age"].notna() | events["until_age"].notna()
    if aged.any():  # onsetAge / abatementAge: days after the patient's birth
        births = pd.Series(patients["birth"], index=patients["key"], dtype=np.float64)
        birth = events.loc[aged, "key"].map(births[~births.index.duplicated()])
        onset = events.loc[aged, "age"].notna()
        events.loc[onset[onset].index, "start"] = \
            (birth + np.floor(events.loc[aged, "age"]))[onset]
        events.loc[onset[onset].index, "end"] = events.loc[onset[onset].index, "start"]
        ended = events.loc[aged, "until_age"].notna()
        events.loc[ended[ended].index, "until"] = \
            (birth + np.floor(events.loc[aged, "until_age"]))[ended]
    report = IngestReport(
        source="fhir", location=str(path), files=len(files),
        records=sum(merged.by_type.values()) + merged.quarantined.total()
        - sum(merged.quarantined[r] for r in merged.quarantined if r.startswith("invalid ")),
        by_type=dict(sorted(merged.by_type.items())),
        unmapped=dict(sorted(merged.unmapped.items())),
        ignored=dict(sorted(merged.ignored.items())),
        excluded=dict(sorted(merged.excluded.items())),
        quarantined=dict(merged.quarantined), quarantine_at=dict(merged.quarantine_at),
        zoned=merged.zoned)
    extract = Extract(
        patients=frame_of(PATIENT_COLUMNS, patients),
        events=events[list(EVENT_COLUMNS)],
        report=report, where=lambda f, p: where(files, f, p), record="resource")
    ingested = build(extract, mapping, CodeMatcher(mapping), started=started)
    ingested.report.unlinked += merged.unlinked
    return ingested
