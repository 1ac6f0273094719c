"""The mapping file: which codes make which features, in which unit, over which window.

One TOML file serves every connector (FHIR, OMOP, CSV).  It is parsed with
:mod:`tomllib` and validated strictly (unknown keys are errors) with pydantic; every
error names the key path (``features.chol.aggregate``).  The format is documented, with a
complete example, in ``docs/data.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fedcare.data._cohort import Feature, Schema
from fedcare.data._units import (
    QUANTITIES,
    Quantity,
    UnitError,
    _pint_unit,
    convert,
    default_range,
    normalise_unit,
    quantity_for,
)
from fedcare.exceptions import ConfigError, DataNotFoundError

__all__ = [
    "SYSTEMS",
    "CodeMatcher",
    "Mapping",
    "load_mapping",
    "parse_mapping",
]

#: Code systems a mapping can name, and the FHIR ``Coding.system`` URIs they stand for.
#: ``omop`` (OMOP concept ids) and ``text`` (free text) are matched differently.
SYSTEMS: dict[str, tuple[str, ...]] = {
    "loinc": ("http://loinc.org",),
    "snomed": ("http://snomed.info/sct",),
    "icd10": ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm",
              "http://hl7.org/fhir/sid/icd-10-gm", "http://hl7.org/fhir/sid/icd-10-ca"),
    "rxnorm": ("http://www.nlm.nih.gov/research/umls/rxnorm",),
    "atc": ("http://www.whocc.no/atc",),
}
_SPECIAL_SYSTEMS = ("omop", "text")
Domain = Literal["observation", "condition", "medication"]
Aggregate = Literal["last", "first", "mean", "min", "max"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_DEFAULT_WINDOWS: dict[str, tuple[int | None, int]] = {
    "observation": (-365, 0), "condition": (None, 0), "medication": (-365, 0),
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
        """The quantity declared, else the one its LOINC codes or its name suggest."""
        if self.quantity is not None:
            return QUANTITIES[self.quantity]
        for code in self.codes.get("loinc", []):
            found = quantity_for(loinc=str(code).rstrip("*"))
            if found is not None:
                return found
        return quantity_for(name)

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
    ObservationFeature | ConditionFeature | MedicationFeature | AgeFeature | SexFeature,
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


class ConditionLabel(_Coded):
    """Event = a matching condition in the window after the index date."""

    source: Literal["condition"]
    name: str = "target"
    csv: LabelCsv = Field(default_factory=LabelCsv)  # type: ignore[assignment]

    def window(self, domain: str) -> tuple[int | None, int]:
        """Default ``[0, 365]``: on the index date or in the year after."""
        return self.window_days if self.window_days is not None else (0, 365)


class ObservationLabel(_Measured):
    """Event = an aggregated measurement above (or below) a threshold in the window."""

    source: Literal["observation"]
    name: str = "target"
    aggregate: Aggregate = "max"
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


class _MappingModel(_Strict):
    version: Literal[1] = 1
    missing: Literal["drop", "error"] = "drop"
    index: IndexSpec | None = None
    site: SiteSpec = Field(default_factory=SiteSpec)
    systems: dict[str, str | list[str]] = Field(default_factory=dict)
    features: dict[str, FeatureSpec]
    label: LabelSpec
    csv: CsvSpec = Field(default_factory=CsvSpec)
    omop: OmopSpec = Field(default_factory=OmopSpec)

    @model_validator(mode="after")
    def _consistent(self) -> _MappingModel:
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
            for system in getattr(spec, "codes", {}) or {}:
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
            if not isinstance(anchor, ObservationFeature | ConditionFeature | MedicationFeature):
                raise ValueError(f"index.feature: '{self.index.feature}' is not an observation, "
                                 "condition or medication feature")
        coded = [f for f in self.features.values() if isinstance(f, _Coded)]
        if (coded or not isinstance(self.label, ColumnLabel)) and self.index is None:
            raise ValueError("[index] is missing: coded features and labels are counted in "
                             "windows around an index date")
        return self


def _format_errors(exc: ValidationError, source: str) -> str:
    tags = {"observation", "condition", "medication", "age", "sex", "column"}
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        if len(loc) >= 3 and loc[0] == "features" and loc[2] in tags:
            del loc[2]
        elif len(loc) >= 2 and loc[0] == "label" and loc[1] in tags:
            del loc[1]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and the section it is in)"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "union_tag_invalid":
            message = (f"source must be one of {sorted(tags)}".replace("'column', ", "")
                       if loc[:1] == ["features"] else message)
        lines.append(f"{'.'.join(loc)}: {message}" if loc else message)
    shown = "; ".join(lines[:8]) + (f"; and {len(lines) - 8} more" if len(lines) > 8 else "")
    return f"{source}: invalid mapping: {shown}"


def parse_mapping(raw: dict[str, Any], *, source: str = "mapping") -> Mapping:
    """Validate a parsed mapping (the TOML as a dict) into a :class:`Mapping`.

    Raises
    ------
    ConfigError
        Any unknown key, wrong type or inconsistent setting; the message names the key
        path (``features.chol.unit``).
    """
    try:
        model = _MappingModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    return Mapping(model, source)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file (TOML).

    Parameters
    ----------
    path : str or Path
        The ``.toml`` mapping file.

    Returns
    -------
    Mapping

    Raises
    ------
    DataNotFoundError
        No such file.
    ConfigError
        Not valid TOML, or not a valid mapping (the message names the key path).
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such mapping file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_mapping(raw, source=str(path))


@dataclass(frozen=True)
class Target:
    """A feature or the label, as the connectors match it."""

    name: str
    domain: Domain
    spec: Any
    is_label: bool = False


class Mapping:
    """A validated mapping file (see :func:`load_mapping`).

    Attributes
    ----------
    source : str
        Where it was read from (named in error messages).
    """

    def __init__(self, model: _MappingModel, source: str) -> None:
        self.model = model
        self.source = source

    # -- what the connectors need ---------------------------------------------------------
    @property
    def features(self) -> dict[str, Any]:
        """Feature name -> its spec, in file order."""
        return dict(self.model.features)

    @property
    def label(self) -> Any:
        """The label spec."""
        return self.model.label

    @property
    def site(self) -> SiteSpec:
        """Where site names come from."""
        return self.model.site

    @property
    def index(self) -> IndexSpec | None:
        """The index date definition."""
        return self.model.index

    @property
    def csv(self) -> CsvSpec:
        """CSV connector settings."""
        return self.model.csv

    @property
    def omop(self) -> OmopSpec:
        """OMOP connector settings."""
        return self.model.omop

    @property
    def missing(self) -> str:
        """``drop`` (count and drop incomplete rows) or ``error``."""
        return self.model.missing

    @cached_property
    def targets(self) -> list[Target]:
        """Coded features and the label (when coded), in file order, label last."""
        out = [Target(name, spec.source, spec) for name, spec in self.model.features.items()
               if isinstance(spec, ObservationFeature | ConditionFeature | MedicationFeature)]
        label = self.model.label
        if isinstance(label, ConditionLabel | ObservationLabel):
            out.append(Target(label.name, label.source, label, is_label=True))
        return out

    def system_uris(self) -> dict[str, tuple[str, ...]]:
        """Every system name (built-in and ``[systems]``) -> its URIs."""
        systems = dict(SYSTEMS)
        for name, uris in self.model.systems.items():
            systems[name] = (uris,) if isinstance(uris, str) else tuple(uris)
        return systems

    def site_name(self, raw: str) -> str:
        """The site name for a raw one (folder, organisation ...), after ``site.rename``."""
        if self.site.name is not None:
            return self.site.name
        return self.site.rename.get(raw, raw)

    def schema(self) -> Schema:
        """The :class:`Schema` every connector's cohort gets (names, kinds, units)."""
        features: list[Feature] = []
        for name, spec in self.model.features.items():
            if isinstance(spec, ObservationFeature):
                if spec.binary:
                    features.append(Feature(name, "binary"))
                    continue
                valid = spec.valid_range or _range(spec.resolved_quantity(name), spec.unit, name)
                features.append(Feature(name, "numeric", unit=spec.unit, valid_range=valid))
            elif isinstance(spec, AgeFeature):
                features.append(Feature(name, "numeric", unit="a",
                                        valid_range=spec.valid_range))
            elif isinstance(spec, SexFeature):
                values = list(dict.fromkeys(spec.levels.values()))
                if set(values) <= {0, 1} and all(isinstance(v, int) for v in values):
                    features.append(Feature(name, "binary"))
                else:
                    cats = tuple(sorted(str(v) for v in values))
                    features.append(Feature(name, "categorical", categories=cats))
            else:
                features.append(Feature(name, "binary"))
        return Schema(features=tuple(features), target=self.model.label.name,
                      site_column=self.model.site.column).merge_categories([])


def _range(quantity: Quantity | None, unit: str, name: str) -> tuple[float, float] | None:
    if quantity is None:
        return default_range(name, unit)
    try:
        low, high = convert(list(quantity.plausible), quantity.canonical, unit,
                            quantity=quantity, feature=name)
    except UnitError:
        return None
    return (round(float(low), 6), round(float(high), 6))


# -- matching codes ---------------------------------------------------------------------
def _icd(code: str) -> str:
    return code.replace(".", "").upper()


class CodeMatcher:
    """Which targets (features, label) a coding, a text or an OMOP value makes.

    Exact codes are looked up in a dict; prefix patterns (``I25*``) are tried in turn;
    ICD-10 codes compare without dots and case (``I25.10`` = ``i2510``); text patterns
    compare case-insensitively with the whole text (``atorvastatin*``).  Every answer is
    cached, so repeated codes cost one dict lookup.
    """

    def __init__(self, mapping: Mapping) -> None:
        self._uri_to_system: dict[str, str] = {}
        for name, uris in mapping.system_uris().items():
            for uri in uris:
                self._uri_to_system[uri] = name
        # (domain, system) -> exact code -> targets ; (domain, system) -> [(prefix, target)]
        self._exact: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._prefix: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._cache: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self.codes_of: dict[str, list[str]] = {}
        for target in mapping.targets:
            described = []
            for system, codes in target.spec.codes.items():
                for code in codes:
                    text = str(code).strip()
                    described.append(f"{system} {text}")
                    key = (target.domain, system)
                    norm = self._norm(system, text.rstrip("*"))
                    if text.endswith("*"):
                        self._prefix.setdefault(key, []).append((norm, target.name))
                    else:
                        self._exact.setdefault(key, {}).setdefault(norm, []).append(target.name)
            self.codes_of[target.name] = described

    @staticmethod
    def _norm(system: str, code: str) -> str:
        if system == "icd10":
            return _icd(code)
        if system == "text":
            return code.casefold().strip()
        return code

    def system_name(self, uri: str | None) -> str | None:
        """The mapping's name for a FHIR system URI (None when unknown)."""
        return None if uri is None else self._uri_to_system.get(uri)

    def match(self, domain: str, system: str, code: str) -> tuple[str, ...]:
        """Targets of ``code`` in ``system`` (a mapping system name)."""
        key = (domain, system, code)
        found = self._cache.get(key)
        if found is not None:
            return found
        norm = self._norm(system, code)
        hits = list(self._exact.get((domain, system), {}).get(norm, []))
        for prefix, name in self._prefix.get((domain, system), []):
            if norm.startswith(prefix):
                hits.append(name)
        result = tuple(dict.fromkeys(hits))
        self._cache[key] = result
        return result

    def match_uri(self, domain: str, uri: str | None, code: str | None) -> tuple[str, ...]:
        """Targets of a FHIR coding (system URI and code)."""
        if code is None:
            return ()
        system = self.system_name(uri)
        return () if system is None else self.match(domain, system, code)

    def match_source_value(self, domain: str, value: str) -> tuple[str, ...]:
        """Targets of an OMOP ``*_source_value``: every non-OMOP system and text."""
        key = (domain, "\x00source", value)
        found = self._cache.get(key)
        if found is not None:
            return found
        hits: list[str] = []
        systems = {system for (dom, system) in [*self._exact, *self._prefix] if dom == domain}
        for system in sorted(systems - {"omop"}):
            hits.extend(self.match(domain, system, value))
        result = tuple(dict.fromkeys(hits))
        self._cache[key] = result
        return result

    def omop_ids(self, domain: str) -> set[int]:
        """Every OMOP concept id the mapping names for ``domain``."""
        return {int(c) for c in self._exact.get((domain, "omop"), {})}

    def source_patterns(self, domain: str) -> tuple[set[str], list[str]]:
        """Exact source values and prefixes (normalised) for an SQL pre-filter."""
        exact: set[str] = set()
        prefixes: list[str] = []
        for (dom, system), codes in self._exact.items():
            if dom == domain and system != "omop":
                exact.update(codes)
        for (dom, system), pairs in self._prefix.items():
            if dom == domain and system != "omop":
                prefixes.extend(prefix for prefix, _ in pairs)
        return exact, prefixes

    def has_system(self, domain: str, system: str) -> bool:
        """Whether any target of ``domain`` names codes of ``system``."""
        return (domain, system) in self._exact or (domain, system) in self._prefix
