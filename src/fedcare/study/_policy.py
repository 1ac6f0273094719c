"""What a site allows (the tasks it accepts, the privacy it insists on) and its units."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fedcare.exceptions import ConfigError
from fedcare.study._config import StudyConfig, read_toml

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


@dataclass(frozen=True)
class SitePolicy:
    """A site's rules, checked against every study before it does anything.

    Parameters
    ----------
    models : list of str
        Model types the site trains (default: all).
    strategies : list of str
        Training strategies it takes part in (default: all).
    max_epsilon : float or None
        If set, the site only trains with record-level DP at epsilon <= this.
    min_cell : int
        Smallest small-cell k it accepts (the study's ``min_cell`` must be >= this).
    min_cohort : int
        The site takes part only if at least this many of its patients are usable.
    require_secure_aggregation : bool
        The site only trains when its updates are summed with SecAgg+.
    """

    models: list[str] = field(default_factory=lambda: ["logistic", "mlp"])
    strategies: list[str] = field(
        default_factory=lambda: ["newton", "fedavg", "fedprox", "fedadam"])
    max_epsilon: float | None = None
    min_cell: int = 1
    min_cohort: int = 1
    require_secure_aggregation: bool = False

    @classmethod
    def from_toml(cls, path: str | Path) -> SitePolicy:
        """Read the ``[policy]`` table of a site's config file (missing table: allow all)."""
        table = read_toml(Path(path), "site config").get("policy", {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown policy setting(s) {unknown}; known: "
                              f"{sorted(known)}")
        return cls(**table)

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
