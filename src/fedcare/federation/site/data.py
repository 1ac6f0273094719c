"""A site's own rows: read once, converted to the study's units, encoded, split, cached.

Nothing here leaves the site. Caches are keyed by the study's settings, the agreed
schema and the site's units, so a new study or a changed table file is read afresh.

Flower starts a new ClientApp process for every message, so an in-memory cache lives for
one message only on a deployment. There the encoded split is also kept on disk, in the
site's own folder (``<site folder>/cache/splits/``, beside its ``site.toml``), keyed by
the table file's content hash, the study's settings, the agreed schema and the site's
units and missing-value codes: a training or evaluation message then loads a few arrays
instead of importing pandas and re-reading, validating and encoding the table. A changed
file has another hash and is read afresh; a damaged cache file is ignored and rewritten.
``FEDCARE_SITE_CACHE=off`` turns the disk cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fedcare._io import write_bytes_atomic
from fedcare.config import StudyConfig, read_site_units
from fedcare.data._cohort import MISSING_LEVEL, Cohort, Schema
from fedcare.data._split import site_split
from fedcare.data._standardise import Standardiser
from fedcare.data._study import HEART, read_study_table, schema_from_json, study_roles
from fedcare.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Missing", "Prepared", "Site", "SiteSplit", "Units", "cached_split", "config_key",
           "file_stamp", "missing_of", "prepared", "site", "site_cache_dir", "table_digest",
           "units_of"]

CACHE_ENV = "FEDCARE_SITE_CACHE"
"""Environment variable: ``off`` turns the on-disk split cache off."""

_CACHE_FORMAT = 1
"""Part of every cache key: a new layout of the cached arrays gets new files."""

Units = tuple[tuple[str, str], ...]
"""A site's own units, ``((feature, unit), ...)`` sorted (hashable: a cache key)."""

Missing = tuple[tuple[str, tuple[float, ...]], ...]
"""A site's own missing-value codes, ``((column, (code, ...)), ...)`` sorted (a cache key)."""


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
    agreed schema's units before encoding. ``missing`` holds the site's own
    missing-value codes (its site config's ``[missing]``); with the study's
    ``missing_codes`` they are recoded to missing in ``frame`` (``recoded`` counts them
    per column), before the quality check and training. ``frame`` otherwise keeps the
    values as recorded.
    """

    def __init__(self, config: StudyConfig, name: str,
                 units: Mapping[str, str] | None = None,
                 missing: Mapping[str, Sequence[float]] | None = None) -> None:
        self.config = config
        self.name = name
        self.units = dict(units or {})
        frame = read_study_table(config.data, config.data_dir)
        self.roles = study_roles(config)
        if self.roles.site_column not in frame.columns:
            from fedcare.data._table import infer_schema

            # infer_schema names the column and suggests a close match
            infer_schema(frame, site_column=self.roles.site_column, target=self.roles.target)
        mask = frame[self.roles.site_column].astype(str) == name
        if not mask.any():
            raise DataError(f"site '{name}' has no rows in {config.data}")
        self.frame, self.recoded = recode_missing(
            frame[mask].reset_index(drop=True),
            merge_codes(config.missing_codes, missing or {}),
            source=f"site '{name}'", protected=(self.roles.site_column, self.roles.target))

    @cached_property
    def identifiers(self) -> dict[str, str]:
        """Without a feature list: the columns that identify people here (column ->
        reason, never a value); they are not used as features."""
        r = self.roles
        if r.features is not None:
            return {}
        from fedcare.data._identifiers import identifier_columns

        candidates = [str(c) for c in self.frame.columns
                      if str(c) not in (r.site_column, r.target)]
        return dict(identifier_columns(self.frame, candidates))

    def local_schema(self, exclude: Sequence[str] = ()) -> Schema:
        """Columns and the categorical levels present at this site (without a feature
        list: every column but the site, the outcome, the identifiers and ``exclude``)."""
        from fedcare.data._table import infer_schema

        r = self.roles
        features = r.features
        if features is None:
            dropped = {*self.identifiers, *exclude, r.site_column, r.target}
            features = [str(c) for c in self.frame.columns if str(c) not in dropped]
        schema = infer_schema(
            self.frame, site_column=r.site_column, target=r.target, features=features,
            categorical=r.categorical, numeric=r.numeric, units=r.units,
            source=f"site '{self.name}'",
        )
        if self.config.missing != "impute":
            return schema
        # a missing categorical value becomes a level of its own (never the reference)
        return replace(schema, features=tuple(
            replace(f, categories=(*f.categories, MISSING_LEVEL))
            if f.kind == "categorical" and self.frame[f.name].isna().any()
            and MISSING_LEVEL not in f.categories else f
            for f in schema.features))

    def usable_rows(self, schema: Schema) -> int:
        """Rows with every feature present (with ``missing = "impute"``: every
        categorical feature; numeric and binary ones may be imputed)."""
        impute = self.config.missing in ("impute", "drop-feature")
        names = [f.name for f in schema.features
                 if not (impute and f.kind != "categorical")
                 and MISSING_LEVEL not in f.categories]
        return int(self.frame[names].notna().all(axis=1).sum())

    def split(self, schema: Schema, *, keep_missing: bool = False) -> SiteSplit:
        """Convert the site's units, encode with the agreed ``schema`` and split
        (``keep_missing``: rows missing a numeric or binary value kept, as NaN)."""
        from fedcare.data._table import cohort_from_frame
        from fedcare.quality._site import to_schema_units

        frame: pd.DataFrame = to_schema_units(self.frame, schema, self.units, self.name)
        cohort = cohort_from_frame(
            frame, site_column=schema.site_column, target=schema.target, schema=schema,
            positive=self.config.positive or None, source=f"site '{self.name}'",
            allow_one_class=True, keep_missing=keep_missing,
        )
        return SiteSplit.from_cohort(cohort, self.config)


def merge_codes(*tables: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    """The union of missing-value code tables (the study's, then the site's own)."""
    out: dict[str, list[float]] = {}
    for table in tables:
        for column, codes in table.items():
            merged = out.setdefault(str(column), [])
            merged.extend(float(c) for c in codes if float(c) not in merged)
    return out


def recode_missing(frame: pd.DataFrame, codes: Mapping[str, Sequence[float]], *,
                   source: str, protected: Sequence[str] = ()
                   ) -> tuple[pd.DataFrame, dict[str, int]]:
    """``frame`` with the values in ``codes`` (column -> numbers meaning "not recorded")
    replaced by missing, and how many were recoded per column.

    A code for a column the table lacks is a :class:`DataError` naming it, as is a code
    for the site or outcome column. Values are compared as numbers (``"0"`` and ``0.0``
    are both code ``0``); text that is not a number is left alone.
    """
    if not codes:
        return frame, {}
    import pandas as pd

    unknown = sorted(c for c in codes if c not in frame.columns)
    if unknown:
        raise DataError(f"{source}: missing-value codes name column(s) {unknown} that the "
                        "table lacks (missing_codes / site config [missing])")
    refused = sorted(c for c in codes if c in protected)
    if refused:
        raise DataError(f"{source}: missing-value codes for {refused}: the site and outcome "
                        "columns cannot be recoded (a row without them is dropped anyway)")
    out = frame.copy()
    recoded: dict[str, int] = {}
    for column, values in codes.items():
        numbers = pd.to_numeric(out[column], errors="coerce")
        hit = numbers.isin([float(v) for v in values]).to_numpy()
        recoded[column] = int(hit.sum())
        if hit.any():
            out[column] = out[column].mask(hit)
    return out, recoded


@dataclass(frozen=True)
class Prepared:
    """A site's split with its standardised copies (cached across rounds)."""

    split: SiteSplit
    std: Standardiser
    X_train: np.ndarray
    X_test: np.ndarray


@lru_cache(maxsize=1024)
def _site(config_key: str, name: str, units: Units, missing: Missing = ()) -> Site:
    return Site(StudyConfig.from_run_config(json.loads(config_key)), name, dict(units),
                dict(missing))


def config_key(config: StudyConfig) -> str:
    """The cache key of a study's settings (its run config as JSON)."""
    return json.dumps(config.to_run_config(), sort_keys=True)


def site(config: StudyConfig, name: str, units: Units = (), key: str | None = None,
         missing: Missing = ()) -> Site:
    """This site's rows under ``config`` (cached; ``key``: :func:`config_key`)."""
    return _site(key or config_key(config), name, units, missing)


def site_cache_dir(site_config: str | None) -> str | None:
    """The site's own cache folder: ``cache/`` beside its ``site.toml`` (``None``
    without a site config, or when ``FEDCARE_SITE_CACHE=off``)."""
    if not site_config or os.environ.get(CACHE_ENV, "").lower() in ("off", "0", "no"):
        return None
    return str(Path(site_config).resolve().parent / "cache")


def table_digest(config: StudyConfig) -> str | None:
    """SHA-256 of the bytes the study's table is read from: the table file, or for the
    built-in heart-disease table the four UCI files of its ``data_dir`` (``None`` when
    they are not known without reading the table: then nothing is cached on disk)."""
    if config.data == HEART:
        if not config.data_dir:
            return None
        files = sorted(Path(config.data_dir).glob("processed.*.data"))
        if not files:
            return None
    elif config.data.startswith("builtin:"):
        return None
    else:
        files = [Path(config.data)]
    digest = hashlib.sha256()
    try:
        for file in files:
            digest.update(file.name.encode() + b"\0")
            with open(file, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    except OSError:
        return None  # the reader names the missing file
    return digest.hexdigest()


_NOT_IN_SPLIT = frozenset({
    "aggregation", "audit-dir", "batch-size", "C", "checkpoint-dir", "dp-delta",
    "dp-epsilon", "dp-level", "dp-max-grad-norm", "expected-malicious", "local-steps", "lr",
    "min-cell", "min-site-rows", "min-sites-per-round", "model", "norm-action",
    "norm-bound", "personalise", "prox-mu", "quality-check", "resume-from",
    "round-timeout", "rounds", "secure-aggregation", "seed", "server-lr", "standardise",
    "strategy", "trim-fraction"})
"""Study settings that never change a site's encoded split (training, privacy, output):
left out of the disk cache's key, so that a new study of the same table and schema
reuses it. Every other setting, including any added later, is part of the key."""


def _split_path(cache: str, config: StudyConfig, name: str, schema_json: str,
                units: Units, missing: Missing, keep_missing: bool) -> Path | None:
    table = table_digest(config)
    if table is None:
        return None
    settings = {k: v for k, v in config.to_run_config().items() if k not in _NOT_IN_SPLIT}
    parts = json.dumps([_CACHE_FORMAT, table, settings, name, schema_json, units, missing,
                        keep_missing], sort_keys=True)
    return Path(cache) / "splits" / f"{hashlib.sha256(parts.encode()).hexdigest()}.npz"


def _load_split(path: Path, name: str) -> SiteSplit | None:
    try:
        with np.load(path, allow_pickle=False) as saved:
            return SiteSplit(name, saved["X_train"], saved["y_train"], saved["X_test"],
                             saved["y_test"], int(saved["dropped"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # absent or damaged: computed again and rewritten


def _save_split(path: Path, split: SiteSplit) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, X_train=split.X_train, y_train=split.y_train, X_test=split.X_test,
             y_test=split.y_test, dropped=np.asarray(split.dropped))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())


def cached_split(config: StudyConfig, name: str, schema_json: str, units: Units = (),
                 missing: Missing = (), *, key: str | None = None, cache: str | None = None,
                 keep_missing: bool = False) -> SiteSplit:
    """The site's split under the agreed schema (:meth:`Site.split`), from the site's
    disk cache ``cache`` when it holds this table, study, schema, units and codes;
    computed and stored there otherwise (``cache=None``: computed)."""
    key = key or config_key(config)
    path = None if cache is None else _split_path(cache, config, name, schema_json, units,
                                                  missing, keep_missing)
    if path is not None:
        found = _load_split(path, name)
        if found is not None:
            return found
    split = _site(key, name, units, missing).split(schema_from_json(schema_json),
                                                   keep_missing=keep_missing)
    if path is not None:
        with contextlib.suppress(OSError):  # a read-only site folder: no cache, same answer
            _save_split(path, split)
    return split


@lru_cache(maxsize=1024)
def _prepared(config_key: str, name: str, schema_json: str, mean: tuple[float, ...] | None,
              scale: tuple[float, ...] | None, units: Units, missing: Missing = (),
              cache: str | None = None) -> Prepared:
    config = StudyConfig.from_run_config(json.loads(config_key))
    split = cached_split(config, name, schema_json, units, missing, key=config_key,
                         cache=cache)
    if mean is not None and scale is not None:
        std = Standardiser(np.asarray(mean), np.asarray(scale))
    elif config.standardise == "local":
        std = Standardiser.fit(split.X_train)
    else:
        std = Standardiser.identity(split.X_train.shape[1])
    return Prepared(split, std, std.transform(split.X_train), std.transform(split.X_test))


def prepared(config: StudyConfig, name: str, schema_json: str,
             mean: tuple[float, ...] | None = None, scale: tuple[float, ...] | None = None,
             units: Units = (), key: str | None = None, missing: Missing = (),
             cache: str | None = None) -> Prepared:
    """The site's split under the agreed schema, standardised as the study says (cached
    in memory, and on disk in ``cache``: :func:`cached_split`)."""
    return _prepared(key or config_key(config), name, schema_json, mean, scale, units,
                     missing, cache)


@lru_cache(maxsize=16)
def _units_of(path: str, stamp: tuple[int, int]) -> Units:
    return tuple(sorted(read_site_units(path).items()))


def file_stamp(path: str) -> tuple[int, int]:
    """A site config file's modification time and size: a cache key that changes when
    the file does (``(0, 0)`` for a missing file, whose reader then names it)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def units_of(site_config: str | None) -> Units:
    """A site's own units (``[units]`` of its site config file), re-read when the file
    changes (modification time or size)."""
    return _units_of(site_config, file_stamp(site_config)) if site_config else ()


@lru_cache(maxsize=16)
def _missing_of(path: str, stamp: tuple[int, int]) -> Missing:
    from fedcare.config import read_site_missing

    return tuple(sorted((k, tuple(v)) for k, v in read_site_missing(path).items()))


def missing_of(site_config: str | None) -> Missing:
    """A site's own missing-value codes (``[missing]`` of its site config file), re-read
    when the file changes."""
    return _missing_of(site_config, file_stamp(site_config)) if site_config else ()
