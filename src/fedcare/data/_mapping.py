"""The mapping file: which codes make which features, in which unit, over which window.

One TOML file serves every connector (FHIR, OMOP, CSV). Three modules: the
specification (:mod:`fedcare.data._mapping_spec`, pydantic models), the loaded mapping
(here: :func:`load_mapping` -> :class:`Mapping`), and the code matcher
(:mod:`fedcare.data._codes`).  It is parsed with
:mod:`tomllib` and validated strictly (unknown keys are errors) with pydantic; every
error names the key path (``features.chol.aggregate``).  The format is documented, with a
complete example, in ``docs/data.md``.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fedcare.data._cohort import Feature, Schema
from fedcare.data._mapping_spec import (
    SYSTEMS,
    AgeFeature,
    AnswerFeature,
    ConditionFeature,
    ConditionLabel,
    CsvSpec,
    Domain,
    IndexSpec,
    MappingModel,
    MedicationFeature,
    ObservationFeature,
    ObservationLabel,
    OmopSpec,
    SexFeature,
    SiteSpec,
    VisitFeature,
)
from fedcare.data._units import (
    Quantity,
    UnitError,
    convert,
    default_range,
)
from fedcare.exceptions import ConfigError, DataNotFoundError

__all__ = [
    "SYSTEMS",
    "Mapping",
    "Target",
    "load_mapping",
    "parse_mapping",
]


def _format_errors(exc: ValidationError, source: str) -> str:
    tags = {"observation", "condition", "medication", "answer", "visit", "age", "sex", "column"}
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
        model = MappingModel.model_validate(raw)
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

    def __init__(self, model: MappingModel, source: str) -> None:
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

    def with_max_bad_fraction(self, value: float) -> Mapping:
        """A copy whose ``max_bad_fraction`` is ``value`` (the CLI's override)."""
        return Mapping(self.model.model_copy(update={"max_bad_fraction": value}), self.source)

    @property
    def max_bad_fraction(self) -> float:
        """The share of bad records (left out, counted) above which an import fails."""
        return self.model.max_bad_fraction

    @property
    def missing(self) -> str:
        """``drop`` (count and drop incomplete rows) or ``error``."""
        return self.model.missing

    @cached_property
    def targets(self) -> list[Target]:
        """Coded features and the label (when coded), in file order, label last."""
        out = [Target(name, "observation" if isinstance(spec, AnswerFeature) else spec.source,
                      spec) for name, spec in self.model.features.items()
               if isinstance(spec, ObservationFeature | ConditionFeature | MedicationFeature
                             | AnswerFeature | VisitFeature)]
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
            elif isinstance(spec, VisitFeature):
                features.append(Feature(name, "numeric",
                                        unit="d" if spec.aggregate == "days" else None,
                                        valid_range=(0.0, 366.0 if spec.aggregate == "days"
                                                     else 1000.0)))
            elif isinstance(spec, AnswerFeature):
                features.append(Feature(name, "categorical",
                                        categories=tuple(sorted(spec.levels))))
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

