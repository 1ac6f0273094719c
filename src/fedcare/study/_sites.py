"""What one site does with its own rows: load, agree a schema, encode, split."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from fedcare.data import Cohort, Schema, cohort_from_frame, infer_schema, site_split
from fedcare.data._heart import (
    HEART_CATEGORICAL,
    HEART_FEATURES,
    HEART_UNITS,
    heart_disease_table,
)
from fedcare.data._table import read_frame, read_table
from fedcare.exceptions import DataError
from fedcare.study._config import StudyConfig

__all__ = ["SiteSplit", "load_study_cohort", "schema_from_json", "schema_to_json", "site_names"]

HEART = "builtin:heart-disease"


def _roles(config: StudyConfig) -> dict[str, object]:
    if config.data == HEART:
        return {"site_column": "site", "target": "target", "features": HEART_FEATURES,
                "categorical": HEART_CATEGORICAL, "numeric": [], "units": HEART_UNITS}
    return {"site_column": config.site_column, "target": config.target,
            "features": config.features or None, "categorical": config.categorical,
            "numeric": config.numeric, "units": None}


@lru_cache(maxsize=4)
def _read(data: str, data_dir: str, stamp: float) -> pd.DataFrame:
    if data == HEART:
        return heart_disease_table(data_dir or None)
    return read_frame(data)


def load_study_cohort(config: StudyConfig) -> Cohort:
    """The whole table as one validated cohort (embedded studies and benchmarks only)."""
    if config.data == HEART:
        return cohort_from_frame(
            _read(HEART, config.data_dir, 0.0), site_column="site", target="target",
            features=HEART_FEATURES, categorical=HEART_CATEGORICAL, units=HEART_UNITS,
            source="UCI heart disease",
        )
    return read_table(
        config.data, site_column=config.site_column, target=config.target,
        features=config.features or None, categorical=config.categorical,
        numeric=config.numeric, positive=config.positive or None,
    )


def site_names(config: StudyConfig) -> list[str]:
    """Sorted site names of a one-table study (simulation maps partition-id onto them)."""
    return sorted(load_study_cohort(config).sites)


def schema_to_json(schema: Schema) -> str:
    """The agreed schema as sent in a ConfigRecord (names, kinds, levels; no data)."""
    return json.dumps(schema.to_dict(), sort_keys=True)


def schema_from_json(text: str) -> Schema:
    """Inverse of :func:`schema_to_json`."""
    return Schema.from_dict(json.loads(text))


@dataclass
class SiteSplit:
    """One site's encoded train and test rows (they never leave the site)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    dropped: int

    @classmethod
    def from_cohort(cls, cohort: Cohort, config: StudyConfig) -> SiteSplit:
        """Split the site's rows with the study's rule."""
        train, test = site_split(cohort.y, test_size=config.test_size, seed=config.split_seed)
        name = cohort.sites[0]
        return cls(name, cohort.X[train], cohort.y[train], cohort.X[test], cohort.y[test],
                   cohort.dropped.get(name, 0))


class Site:
    """The rows of one named site of a study table, as that site sees them.

    ``units`` is the site's own unit per numeric feature where it differs from the
    study's (its site config's ``[units]``): :meth:`split` converts those columns to the
    agreed schema's units before encoding. ``frame`` keeps the values as recorded.
    """

    def __init__(self, config: StudyConfig, name: str,
                 units: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.name = name
        self.units = dict(units or {})
        stamp = Path(config.data).stat().st_mtime if config.data != HEART else 0.0
        frame = _read(config.data, config.data_dir, stamp)
        roles = _roles(config)
        site_col = str(roles["site_column"])
        if site_col not in frame.columns:
            # infer_schema names the column and suggests a close match
            infer_schema(frame, site_column=site_col, target=str(roles["target"]))
        mask = frame[site_col].astype(str) == name
        if not mask.any():
            raise DataError(f"site '{name}' has no rows in {config.data}")
        self.frame = frame[mask].reset_index(drop=True)
        self._roles = roles

    def local_schema(self) -> Schema:
        """Columns and the categorical levels present at this site."""
        r = self._roles
        return infer_schema(
            self.frame, site_column=str(r["site_column"]), target=str(r["target"]),
            features=r["features"], categorical=r["categorical"],  # type: ignore[arg-type]
            numeric=r["numeric"], units=r["units"], source=f"site '{self.name}'",  # type: ignore[arg-type]
        )

    def split(self, schema: Schema) -> SiteSplit:
        """Convert the site's units, encode with the agreed ``schema`` and split; raises
        if too few rows."""
        from fedcare.quality import to_schema_units

        frame = to_schema_units(self.frame, schema, self.units, self.name)
        cohort = cohort_from_frame(
            frame, site_column=schema.site_column, target=schema.target, schema=schema,
            positive=self.config.positive or None, source=f"site '{self.name}'",
            allow_one_class=True,
        )
        return SiteSplit.from_cohort(cohort, self.config)
