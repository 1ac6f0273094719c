"""A study's table: which columns play which role, reading it once, the whole cohort.

Shared by the sites (each reads its own rows of the table) and by embedded studies and
benchmarks (which load the whole table as one cohort for the pooled reference).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from fedcare.config import StudyConfig
from fedcare.data._cohort import Cohort, Schema, level_of

if TYPE_CHECKING:
    import pandas as pd

# The table readers (pandas) are imported by the functions that read: a site's
# ClientApp process answering from its cached split needs only the schema's JSON here.

__all__ = ["HEART", "Roles", "load_study_cohort", "read_study_table", "schema_from_json",
           "schema_to_json", "study_roles", "study_site_names", "table_stamp"]

HEART = "builtin:heart-disease"
"""The ``data`` value naming the built-in four-hospital heart-disease table."""


@dataclass(frozen=True)
class Roles:
    """Which columns of a study table are the site, the target and the features."""

    site_column: str
    target: str
    features: list[str] | None
    categorical: list[str]
    numeric: list[str]
    units: dict[str, str] | None


def study_roles(config: StudyConfig) -> Roles:
    """The roles the study's settings give (the heart table's are fixed)."""
    if config.data == HEART:
        from fedcare.data._heart import HEART_CATEGORICAL, HEART_FEATURES, HEART_UNITS

        return Roles("site", "target", list(HEART_FEATURES), list(HEART_CATEGORICAL), [],
                     dict(HEART_UNITS))
    return Roles(config.site_column, config.target, list(config.features) or None,
                 list(config.categorical), list(config.numeric), None)


def table_stamp(data: str) -> float:
    """The modification time of a table file (0 for the built-in table): a cache key."""
    return 0.0 if data == HEART else Path(data).stat().st_mtime


@lru_cache(maxsize=4)
def _read(data: str, data_dir: str, stamp: float) -> pd.DataFrame:
    from fedcare.data._heart import heart_disease_table
    from fedcare.data._table import read_frame

    if data == HEART:
        return heart_disease_table(data_dir or None)
    return read_frame(data)


def read_study_table(data: str, data_dir: str = "") -> pd.DataFrame:
    """The raw table (cached per file and modification time; treat it as read-only)."""
    return _read(data, data_dir, table_stamp(data))


def load_study_cohort(config: StudyConfig, *, keep_missing: bool = False) -> Cohort:
    """The whole table as one validated cohort (embedded studies and benchmarks only;
    ``keep_missing``: rows missing a numeric or binary value are kept, as NaN)."""
    from fedcare.data._heart import HEART_CATEGORICAL, HEART_FEATURES, HEART_UNITS
    from fedcare.data._table import cohort_from_frame, read_table

    if config.data == HEART:
        return cohort_from_frame(
            read_study_table(HEART, config.data_dir), site_column="site", target="target",
            features=HEART_FEATURES, categorical=HEART_CATEGORICAL, units=HEART_UNITS,
            source="UCI heart disease", keep_missing=keep_missing,
        )
    return read_table(
        config.data, site_column=config.site_column, target=config.target,
        features=list(config.features) or None, categorical=list(config.categorical),
        numeric=list(config.numeric), positive=config.positive or None,
        keep_missing=keep_missing,
    )


def study_site_names(config: StudyConfig) -> list[str]:
    """Sorted site names of a one-table study (rows without a site are left out; each
    site checks its own rows). Cached per table file and modification time: on Flower's
    simulation engine every message of every simulated site asks for them."""
    return list(_site_names(config, table_stamp(config.data)))


@lru_cache(maxsize=8)
def _site_names(config: StudyConfig, stamp: float) -> tuple[str, ...]:
    frame = read_study_table(config.data, config.data_dir)
    column = study_roles(config).site_column
    if column not in frame.columns:
        # names the column and suggests a close match
        load_study_cohort(config)
    names = {level_of(v) for v in frame[column].dropna()}
    return tuple(sorted(n for n in names if n.strip()))


def schema_to_json(schema: Schema) -> str:
    """The agreed schema as sent in a ConfigRecord (names, kinds, levels; no data)."""
    return json.dumps(schema.to_dict(), sort_keys=True)


def schema_from_json(text: str) -> Schema:
    """Inverse of :func:`schema_to_json`."""
    return Schema.from_dict(json.loads(text))
