"""What a site allows (the tasks it accepts, the privacy it insists on) and its units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from fedcare.config._study import (
    MODELS,
    STRATEGIES,
    FrozenSettings,
    InvalidSettings,
    StudyConfig,
    describe_errors,
    expectations,
    read_toml,
    show,
)
from fedcare.exceptions import ConfigError

__all__ = ["SitePolicy", "read_site_units"]


def read_site_units(path: str | Path) -> dict[str, str]:
    """The ``[units]`` table of a site's config file: feature -> the unit the site records.

    E.g. ``[units]`` with ``chol = "mmol/L"``: this site's cholesterol is in mmol/L; its
    values are converted to the study's unit before the quality check and training.
    A missing table means the site uses the study's units.
    """
    table: Any = read_toml(Path(path), "site config").get("units", {})
    if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in table.items()):
        raise ConfigError(f"{path}: [units] must map feature names to unit codes, e.g. "
                          'chol = "mmol/L"')
    return {k: v.strip() for k, v in table.items()}


class SitePolicy(FrozenSettings):
    """A site's rules, checked against every study before it does anything (frozen).

    Parameters
    ----------
    models : list of str
        Model types the site trains (default: all).
    strategies : list of str
        Training strategies it takes part in (default: all).
    max_epsilon : float or None
        If set (> 0), the site only trains with record-level DP at epsilon <= this.
    min_cell : int
        Smallest small-cell k it accepts (the study's ``min_cell`` must be >= this).
    min_cohort : int
        The site takes part only if at least this many of its patients are usable.
    require_secure_aggregation : bool
        The site only trains when its updates are summed with SecAgg+.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    models: list[str] = Field(default_factory=lambda: list(MODELS))
    strategies: list[str] = Field(default_factory=lambda: list(STRATEGIES))
    max_epsilon: float | None = Field(None, gt=0)
    min_cell: int = Field(1, ge=1)
    min_cohort: int = Field(1, ge=1)
    require_secure_aggregation: bool = False

    def __init__(self, **settings: Any) -> None:
        try:
            super().__init__(**settings)
        except ValidationError as exc:
            raise InvalidSettings(exc, _EXPECTED, what="policy setting") from None

    @field_validator("models", "strategies")
    @classmethod
    def _known(cls, value: list[str], info: ValidationInfo) -> list[str]:
        allowed = MODELS if info.field_name == "models" else STRATEGIES
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise ValueError(f"must list some of {list(allowed)}, got {show(unknown)}")
        return value

    @classmethod
    def from_toml(cls, path: str | Path) -> SitePolicy:
        """Read the ``[policy]`` table of a site's config file (missing table: allow all)."""
        table: Any = read_toml(Path(path), "site config").get("policy", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: policy: expected a table of settings ([policy]), "
                              f"got {show(table)}")
        unknown = sorted(set(table) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"{path}: unknown policy setting(s) {unknown}; known: "
                              f"{sorted(cls.model_fields)}")
        try:
            return cls(**table)
        except InvalidSettings as exc:
            where = {name: f"policy.{name}" for name in cls.model_fields}
            message = describe_errors(exc.validation_error, _EXPECTED, where,
                                      what="policy setting")
            raise ConfigError(f"{path}: {message}") from None

    def violations(self, study: StudyConfig, usable_rows: int | None = None) -> list[str]:
        """Why this site refuses ``study`` (empty list: it accepts)."""
        out = []
        if study.model not in self.models:
            out.append(f"model '{study.model}' is not allowed (allowed: {self.models})")
        if study.strategy not in self.strategies:
            out.append(f"strategy '{study.strategy}' is not allowed "
                       f"(allowed: {self.strategies})")
        if self.max_epsilon is not None and not (
                study.dp_epsilon and study.dp_level == "record"
                and study.dp_epsilon <= self.max_epsilon):
            out.append(f"record-level DP with epsilon <= {self.max_epsilon} is required "
                       f"(study: {study.dp_epsilon or 'no DP'})")
        if study.min_cell < self.min_cell:
            out.append(f"small-cell k {study.min_cell} is below the site's minimum "
                       f"{self.min_cell}")
        if self.require_secure_aggregation and not study.secure_aggregation:
            out.append("secure aggregation is required")
        if usable_rows is not None and usable_rows < self.min_cohort:
            out.append(f"fewer usable patients than the site's minimum cohort "
                       f"{self.min_cohort}")
        return out


_EXPECTED = expectations(SitePolicy)
