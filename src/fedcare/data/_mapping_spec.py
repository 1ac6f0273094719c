"""The mapping file's specification: pydantic models of every table and key.

Strict: unknown keys are errors; every error names its key path. The loaded, ready-to-use
mapping is :class:`fedcare.data._mapping.Mapping`; matching codes to features is
:class:`fedcare.data._codes.CodeMatcher`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fedcare.data._units import (
    QUANTITIES,
    Quantity,
    _pint_unit,
    normalise_unit,
    quantity_for,
)

__all__ = ["SYSTEMS", "MappingModel"]

#: Code systems a mapping can name, and the FHIR ``Coding.system`` URIs they stand for.
#: ``omop`` (OMOP concept ids) and ``text`` (free text) are matched differently.
SYSTEMS: dict[str, tuple[str, ...]] = {
    "loinc": ("http://loinc.org",),
    "snomed": ("http://snomed.info/sct",),
    "icd10": ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm",
              "http://hl7.org/fhir/sid/icd-10-gm", "http://hl7.org/fhir/sid/icd-10-ca"),
    "rxnorm": ("http://www.nlm.nih.gov/research/umls/rxnorm",),
    "atc": ("http://www.whocc.no/atc",),
    "actcode": ("http://terminology.hl7.org/CodeSystem/v3-ActCode",),
}
_SPECIAL_SYSTEMS = ("omop", "text", "boolean")
Domain = Literal["observation", "condition", "medication", "visit"]
Aggregate = Literal["last", "first", "mean", "min", "max"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_DEFAULT_WINDOWS: dict[str, tuple[int | None, int]] = {
    "observation": (-365, 0), "condition": (None, 0), "medication": (-365, 0),
    "visit": (-365, 0),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_unit(unit: str) -> str:
    if _pint_unit(unit) is None:
        raise ValueError(f"unit '{unit}' is not a UCUM unit fedcare knows (e.g. mg/dL, "
                         "mmol/L, mm[Hg], kg, [lb_av], cm, Cel, /min, a)")
    return normalise_unit(unit)


def _window(value: Any) -> Any:
    """``[start, end]`` in days relative to the index date; ``["*", end]`` = no limit."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("window_days must be [start, end] (days relative to the index "
                         "date; \"*\" as start for no look-back limit)")
    start, end = value
    if start == "*":
        start = None
    for part in (start, end):
        if part is not None and (isinstance(part, bool) or not isinstance(part, int)):
            raise ValueError("window_days bounds must be whole numbers of days")
    if start is not None and start > end:
        raise ValueError(f"window_days start {start} is after end {end}")
    return (start, end)


class CsvColumn(_Strict):
    """How a flat table (CSV connector) holds one feature."""

    column: str | None = None
    """Column holding the feature (default: the feature's name)."""
    unit: str | None = None
    """Unit of the column's values (default: the feature's declared unit)."""
    site_units: dict[str, str] = Field(default_factory=dict)
    """Per site, the unit that site reports this column in (overrides ``unit``)."""
    unit_column: str | None = None
    """A column naming each row's unit (overrides ``site_units`` and ``unit``)."""
    levels: dict[str, float | int | str] | None = None
    """Recode the column's values: ``{ "M" = 1, "F" = 0 }``."""

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str | None) -> str | None:
        return None if value is None else _check_unit(value)

    @field_validator("site_units")
    @classmethod
    def _site_units(cls, value: dict[str, str]) -> dict[str, str]:
        return {site: _check_unit(unit) for site, unit in value.items()}


class _Coded(_Strict):
    codes: dict[str, list[str | int]]
    """System name -> codes; a trailing ``*`` makes a prefix pattern (``I25*``)."""
    window_days: Annotated[tuple[int | None, int] | None, Field(validate_default=True)] = None
    csv: CsvColumn = Field(default_factory=CsvColumn)

    @field_validator("window_days", mode="before")
    @classmethod
    def _window_days(cls, value: Any) -> Any:
        return _window(value)

    @field_validator("codes")
    @classmethod
    def _codes(cls, value: dict[str, list[str | int]]) -> dict[str, list[str | int]]:
        if not any(value.values()):
            raise ValueError("at least one code is needed")
        for system, codes in value.items():
            for code in codes:
                text = str(code).strip()
                if not text:
                    raise ValueError(f"codes.{system}: empty code")
                if "*" in text[:-1]:
                    raise ValueError(f"codes.{system}: '{text}': '*' is allowed only at the "
                                     "end (a prefix pattern such as 'I25*')")
                if system == "omop" and not text.isdigit():
                    raise ValueError(f"codes.omop: '{text}' is not a concept id (a whole "
                                     "number)")
        return value

    def window(self, domain: str) -> tuple[int | None, int]:
        """The window in days relative to the index date (the domain default if unset)."""
        return self.window_days if self.window_days is not None else _DEFAULT_WINDOWS[domain]


class _Measured(_Coded):
    unit: str
    """The declared UCUM unit; values in other units are converted to it."""
    aggregate: Aggregate = "last"
    above: float | None = None
    below: float | None = None
    quantity: str | None = None
    """A quantity of :data:`fedcare.data._units.QUANTITIES` (for molar masses); default:
    the one its LOINC codes measure."""

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        return _check_unit(value)

    @field_validator("quantity")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and value not in QUANTITIES:
            raise ValueError(f"unknown quantity '{value}'; known: {sorted(QUANTITIES)}")
        return value

    @model_validator(mode="after")
    def _threshold(self) -> _Measured:
        if self.above is not None and self.below is not None:
            raise ValueError("give 'above' or 'below', not both")
        return self

    def resolved_quantity(self, name: str) -> Quantity | None:
        """The quantity declared, else the one its LOINC codes or OMOP concept ids measure.

        Never a guess from the feature's name: conversions that depend on the analyte
        (mg/dL <-> mmol/L, HbA1c % <-> mmol/mol) are refused when this is None.
        """
        return self.quantity_source(name)[0]

    def quantity_source(self, name: str) -> tuple[Quantity | None, str]:
        """The resolved quantity and what decided it (``declared``, ``LOINC 4548-4`` ...)."""
        if self.quantity is not None:
            return QUANTITIES[self.quantity], "declared in the mapping"
        for code in self.codes.get("loinc", []):
            found = quantity_for(loinc=str(code).rstrip("*"))
            if found is not None:
                return found, f"LOINC {str(code).rstrip('*')}"
        for code in self.codes.get("omop", []):
            found = quantity_for(omop=code)
            if found is not None:
                return found, f"OMOP concept {code}"
        return None, "unknown"

    @property
    def binary(self) -> bool:
        """A threshold makes the feature 0/1."""
        return self.above is not None or self.below is not None


class ObservationFeature(_Measured):
    """A measured value (FHIR Observation, OMOP measurement), aggregated over a window."""

    source: Literal["observation"]
    valid_range: tuple[float, float] | None = None


class ConditionFeature(_Coded):
    """1 when the patient has a matching condition in the window, else 0."""

    source: Literal["condition"]
    active_at_index: bool = False
    """Count only a condition active at the index date: onset on or before it, and not
    resolved before it (a resolved, inactive or remitted condition whose abatement date
    is before the index date, or that has no abatement date, is history, not current)."""

    @model_validator(mode="after")
    def _active_window(self) -> ConditionFeature:
        if self.active_at_index and self.window_days is not None:
            raise ValueError("active_at_index counts conditions active at the index date; "
                             "it takes no window_days")
        return self


class VisitFeature(_Coded):
    """Visits (FHIR Encounter, OMOP visit_occurrence) of the coded classes in the window.

    ``codes`` name the kind of visit: the Encounter's ``class`` (system ``actcode``:
    ``IMP`` inpatient, ``EMER``, ``AMB`` ...) or ``type``, OMOP ``visit_concept_id``
    (9201 inpatient, 9203 emergency ...).  ``aggregate = "count"``: visits overlapping the
    window; ``"days"``: days spent in them inside the window.  A visit without an end
    date is still going on: it counts up to the end of the window.
    """

    source: Literal["visit"]
    aggregate: Literal["count", "days"] = "count"


class AnswerFeature(_Coded):
    """A coded answer (smoking status ...) recoded to levels: a categorical feature.

    ``codes`` name the question (LOINC 72166-2, an OMOP observation concept);
    ``answers`` map each level to the answer codes that make it (FHIR
    ``valueCodeableConcept``, ``valueBoolean`` as system ``boolean``, ``valueString`` as
    ``text``; OMOP ``value_as_concept_id`` as ``omop``, ``value_source_value``,
    ``value_as_string``).
    """

    source: Literal["answer"]
    answers: dict[str, dict[str, list[str | int | bool]]]
    aggregate: Literal["last", "first"] = "last"

    @field_validator("answers")
    @classmethod
    def _answers(cls, value: dict[str, dict[str, list[str | int | bool]]]
                 ) -> dict[str, dict[str, list[str | int | bool]]]:
        if len(value) < 2:
            raise ValueError("answers needs at least two levels (level = { system = [codes] })")
        for level, systems in value.items():
            if not systems or not any(systems.values()):
                raise ValueError(f"answers.{level}: at least one answer code is needed")
            for system, codes in systems.items():
                for code in codes:
                    if system == "boolean" and not isinstance(code, bool):
                        raise ValueError(f"answers.{level}.boolean: use true or false")
                    if system == "omop" and not str(code).strip().isdigit():
                        raise ValueError(f"answers.{level}.omop: '{code}' is not a concept id")
        return value

    @property
    def levels(self) -> list[str]:
        """The levels, in file order."""
        return list(self.answers)


class MedicationFeature(_Coded):
    """1 when the patient takes a matching medication in the window, else 0."""

    source: Literal["medication"]


class AgeFeature(_Strict):
    """Completed years from the birth date to the index date."""

    source: Literal["age"]
    valid_range: tuple[float, float] | None = (0.0, 120.0)
    csv: CsvColumn = Field(default_factory=CsvColumn)


Gender = Literal["male", "female", "other", "unknown"]


def _default_sex_levels() -> dict[Gender, int | str]:
    return {"male": 1, "female": 0}


class SexFeature(_Strict):
    """Administrative sex (FHIR ``Patient.gender``, OMOP ``gender_concept_id``), recoded."""

    source: Literal["sex"]
    levels: dict[Gender, int | str] = Field(default_factory=_default_sex_levels)
    csv: CsvColumn = Field(default_factory=CsvColumn)

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        kinds = {type(v) for v in value.values()}
        if not value or len(kinds) > 1:
            raise ValueError("levels must map gender codes to all numbers or all text")
        return value


FeatureSpec = Annotated[
    ObservationFeature | ConditionFeature | MedicationFeature | AnswerFeature | VisitFeature
    | AgeFeature | SexFeature,
    Field(discriminator="source"),
]


class LabelCsv(_Strict):
    """The label in a flat table: a column and the level(s) that mean "event"."""

    column: str | None = None
    positive: list[str] | None = None

    @field_validator("positive", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            value = [value]
        if isinstance(value, list):
            value = [_level(v) for v in value]
        return value


def _level(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


DeathRule = Literal["censor", "no-event", "event"]


class ConditionLabel(_Coded):
    """Event = a matching condition in the window after the index date."""

    source: Literal["condition"]
    name: str = "target"
    death: DeathRule = "censor"
    """A patient who died in the label window without the event: ``censor`` (left out and
    counted: the event might have come), ``no-event`` (label 0), ``event`` (death counts
    as the event: a composite outcome)."""
    csv: LabelCsv = Field(default_factory=LabelCsv)  # type: ignore[assignment]

    def window(self, domain: str) -> tuple[int | None, int]:
        """Default ``[0, 365]``: on the index date or in the year after."""
        return self.window_days if self.window_days is not None else (0, 365)


class ObservationLabel(_Measured):
    """Event = an aggregated measurement above (or below) a threshold in the window."""

    source: Literal["observation"]
    name: str = "target"
    aggregate: Aggregate = "max"
    death: DeathRule = "censor"
    csv: LabelCsv = Field(default_factory=LabelCsv)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _needs_threshold(self) -> ObservationLabel:
        if not self.binary:
            raise ValueError("an observation label needs 'above' or 'below' (the threshold "
                             "that makes an event)")
        return self

    def window(self, domain: str) -> tuple[int | None, int]:
        """Default ``[0, 365]``: on the index date or in the year after."""
        return self.window_days if self.window_days is not None else (0, 365)


class ColumnLabel(_Strict):
    """A label that only a flat table holds (CSV connector only)."""

    source: Literal["column"]
    name: str = "target"
    csv: LabelCsv = Field(default_factory=LabelCsv)


LabelSpec = Annotated[ConditionLabel | ObservationLabel | ColumnLabel,
                      Field(discriminator="source")]


class IndexSpec(_Strict):
    """The index date every window is relative to: one date, or per patient."""

    date: dt.date | None = None
    feature: str | None = None
    which: Literal["first", "last"] = "first"
    died_before: Literal["exclude", "keep"] = "exclude"
    """Patients who died before their index date: left out and counted (default), or
    kept."""

    @model_validator(mode="after")
    def _one(self) -> IndexSpec:
        if (self.date is None) == (self.feature is None):
            raise ValueError("give either 'date' (one index date for everyone) or 'feature' "
                             "(each patient's first or last record of that feature)")
        return self


class SiteSpec(_Strict):
    """Where each patient's site name comes from."""

    column: str = "site"
    """Name of the site column in the flat table."""
    fhir: Literal["folder", "file", "organization"] = "folder"
    omop: Literal["care_site", "database"] = "care_site"
    name: str | None = None
    """One site name for everything read (a single-site export)."""
    rename: dict[str, str] = Field(default_factory=dict)
    """Raw site name (folder, file stem, organisation, care site, CSV value) -> site name."""
    timezone: str | None = None
    """IANA time zone (``Asia/Shanghai``) of timestamps written without one, every site."""
    timezones: dict[str, str] = Field(default_factory=dict)
    """Per site (its name after ``rename``), the time zone of timestamps without one."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    @field_validator("timezones")
    @classmethod
    def _zones(cls, value: dict[str, str]) -> dict[str, str]:
        return {site: _check_zone(zone) for site, zone in value.items()}

    def zone_of(self, site: str) -> str | None:
        """The declared time zone of ``site`` (None: timestamps need their own offset)."""
        return self.timezones.get(site, self.timezone)


def _check_zone(value: str) -> str:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. Asia/Shanghai, "
                         "Europe/Berlin, UTC)") from None
    return value


class LinkSpec(_Strict):
    """A pseudonymised patient identifier kept in the output, for linking with others."""

    column: str = "link_id"
    """Name of the pseudonym column in the flat table."""
    identifier: str | None = None
    """FHIR ``Patient.identifier.system`` whose value is pseudonymised (a national or
    insurance number shared with the other party); default: the record's own id
    (FHIR ``Patient.id``, OMOP ``person_source_value`` else ``person_id``)."""
    key_env: str = "FEDCARE_LINK_KEY"
    """Environment variable holding the study's secret HMAC key (at least 32 bytes)."""


class CsvSpec(_Strict):
    """Table-level settings of the CSV connector."""

    site_column: str | None = None
    """Column naming each row's site (default: ``site.column``)."""
    id_column: str | None = None
    """Patient id column: rows are then ordered by site and id, like FHIR and OMOP."""


class OmopSpec(_Strict):
    """Settings of the OMOP connector."""

    schema_: str | None = Field(default=None, alias="schema")
    """Database schema holding the CDM tables."""
    units: dict[str, str] = Field(default_factory=dict)
    """Unit concept id -> UCUM code, added to (and overriding) the built-in ones."""
    source_values: bool = True
    """Also match ``*_source_value`` columns against the non-OMOP codes."""

    @field_validator("units")
    @classmethod
    def _units(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, unit in value.items():
            if not key.strip().isdigit():
                raise ValueError(f"'{key}' is not a unit concept id (a whole number)")
            out[key.strip()] = _check_unit(unit)
        return out


class MappingModel(_Strict):
    version: Literal[1] = 1
    missing: Literal["drop", "error"] = "drop"
    max_bad_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    """Records that fail validation or have no usable unit are left out and counted; the
    import fails when more than this share of the records read are bad."""
    link: LinkSpec | None = None
    index: IndexSpec | None = None
    site: SiteSpec = Field(default_factory=SiteSpec)
    systems: dict[str, str | list[str]] = Field(default_factory=dict)
    features: dict[str, FeatureSpec]
    label: LabelSpec
    csv: CsvSpec = Field(default_factory=CsvSpec)
    omop: OmopSpec = Field(default_factory=OmopSpec)

    @model_validator(mode="after")
    def _consistent(self) -> MappingModel:
        if not self.features:
            raise ValueError("[features] is empty: declare at least one feature")
        for name in self.features:
            if not _NAME.match(name):
                raise ValueError(f"features.{name}: feature names are letters, digits, '_', "
                                 "'.' and '-', starting with a letter or '_'")
        for name in self.systems:
            if name in SYSTEMS or name in _SPECIAL_SYSTEMS:
                raise ValueError(f"systems.{name}: '{name}' is built in; choose another name")
        known = set(SYSTEMS) | set(_SPECIAL_SYSTEMS) | set(self.systems)
        specs: list[tuple[str, Any]] = [(f"features.{n}", f) for n, f in self.features.items()]
        specs.append(("label", self.label))
        for path, spec in specs:
            systems = list(getattr(spec, "codes", {}) or {})
            for answer in (getattr(spec, "answers", {}) or {}).values():
                systems += list(answer)
            for system in systems:
                if system not in known:
                    raise ValueError(f"{path}.codes.{system}: unknown code system; built in: "
                                     f"{sorted(SYSTEMS) + list(_SPECIAL_SYSTEMS)}, or declare "
                                     "it under [systems]")
        clash = {self.label.name, self.site.column} & set(self.features)
        if clash:
            raise ValueError(f"{sorted(clash)}: a feature cannot share its name with the "
                             "label or the site column")
        if self.label.name == self.site.column:
            raise ValueError(f"label.name and site.column are both '{self.site.column}'")
        if self.index is not None and self.index.feature is not None:
            anchor = self.features.get(self.index.feature)
            if not isinstance(anchor, ObservationFeature | ConditionFeature | MedicationFeature
                              | VisitFeature):
                raise ValueError(f"index.feature: '{self.index.feature}' is not an observation, "
                                 "condition or medication feature")
        coded = [f for f in self.features.values() if isinstance(f, _Coded)]
        if (coded or not isinstance(self.label, ColumnLabel)) and self.index is None:
            raise ValueError("[index] is missing: coded features and labels are counted in "
                             "windows around an index date")
        return self
