"""A site's own rows: read once, converted to the study's units, encoded, split, cached.

Nothing here leaves the site. Caches are keyed by the study's settings, the agreed
schema and the site's units, so a new study or a changed table file is read afresh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from fedcare.config import StudyConfig, read_site_units
from fedcare.data import Cohort, Schema, cohort_from_frame, infer_schema, site_split
from fedcare.data._standardise import Standardiser
from fedcare.data._study import read_study_table, schema_from_json, study_roles
from fedcare.exceptions import DataError
from fedcare.quality import to_schema_units

__all__ = ["Prepared", "Site", "SiteSplit", "Units", "config_key", "prepared", "site",
           "units_of"]

Units = tuple[tuple[str, str], ...]
"""A site's own units, ``((feature, unit), ...)`` sorted (hashable: a cache key)."""


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
        frame = read_study_table(config.data, config.data_dir)
        self.roles = study_roles(config)
        if self.roles.site_column not in frame.columns:
            # infer_schema names the column and suggests a close match
            infer_schema(frame, site_column=self.roles.site_column, target=self.roles.target)
        mask = frame[self.roles.site_column].astype(str) == name
        if not mask.any():
            raise DataError(f"site '{name}' has no rows in {config.data}")
        self.frame = frame[mask].reset_index(drop=True)

    def local_schema(self) -> Schema:
        """Columns and the categorical levels present at this site."""
        r = self.roles
        return infer_schema(
            self.frame, site_column=r.site_column, target=r.target, features=r.features,
            categorical=r.categorical, numeric=r.numeric, units=r.units,
            source=f"site '{self.name}'",
        )

    def usable_rows(self, schema: Schema) -> int:
        """Rows with every feature present."""
        names = [f.name for f in schema.features]
        return int(self.frame[names].notna().all(axis=1).sum())

    def split(self, schema: Schema) -> SiteSplit:
        """Convert the site's units, encode with the agreed ``schema`` and split."""
        frame: pd.DataFrame = to_schema_units(self.frame, schema, self.units, self.name)
        cohort = cohort_from_frame(
            frame, site_column=schema.site_column, target=schema.target, schema=schema,
            positive=self.config.positive or None, source=f"site '{self.name}'",
            allow_one_class=True,
        )
        return SiteSplit.from_cohort(cohort, self.config)


@dataclass(frozen=True)
class Prepared:
    """A site's split with its standardised copies (cached across rounds)."""

    split: SiteSplit
    std: Standardiser
    X_train: np.ndarray
    X_test: np.ndarray


@lru_cache(maxsize=64)
def _site(config_key: str, name: str, units: Units) -> Site:
    return Site(StudyConfig.from_run_config(json.loads(config_key)), name, dict(units))


def config_key(config: StudyConfig) -> str:
    """The cache key of a study's settings (its run config as JSON)."""
    return json.dumps(config.to_run_config(), sort_keys=True)


def site(config: StudyConfig, name: str, units: Units = (), key: str | None = None) -> Site:
    """This site's rows under ``config`` (cached; ``key``: :func:`config_key`)."""
    return _site(key or config_key(config), name, units)


@lru_cache(maxsize=64)
def _prepared(config_key: str, name: str, schema_json: str, mean: tuple[float, ...] | None,
              scale: tuple[float, ...] | None, units: Units) -> Prepared:
    config = StudyConfig.from_run_config(json.loads(config_key))
    split = _site(config_key, name, units).split(schema_from_json(schema_json))
    if mean is not None and scale is not None:
        std = Standardiser(np.asarray(mean), np.asarray(scale))
    elif config.standardise == "local":
        std = Standardiser.fit(split.X_train)
    else:
        std = Standardiser.identity(split.X_train.shape[1])
    return Prepared(split, std, std.transform(split.X_train), std.transform(split.X_test))


def prepared(config: StudyConfig, name: str, schema_json: str,
             mean: tuple[float, ...] | None = None, scale: tuple[float, ...] | None = None,
             units: Units = (), key: str | None = None) -> Prepared:
    """The site's split under the agreed schema, standardised as the study says (cached)."""
    return _prepared(key or config_key(config), name, schema_json, mean, scale, units)


@lru_cache(maxsize=16)
def _units_of(path: str, stamp: tuple[int, int]) -> Units:
    return tuple(sorted(read_site_units(path).items()))


def units_of(site_config: str | None) -> Units:
    """A site's own units (``[units]`` of its site config file), re-read when the file
    changes (modification time or size)."""
    if not site_config:
        return ()
    try:
        stat = Path(site_config).stat()
    except OSError:
        return _units_of(site_config, (0, 0))  # read_site_units names the missing file
    return _units_of(site_config, (stat.st_mtime_ns, stat.st_size))
