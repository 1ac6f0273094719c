"""A site's own slices in an image study: read, checked, de-identified, split, cached.

The site reads the files its labels table names (its rows of ``data``, under
``images``) through :func:`fedcare.imaging.read_image_cohort`: every file is checked
and de-identified (PS3.15 basic profile) before its pixels are used, and the slices are
resampled to the study's ``image_size``. They become the rows of a
:class:`~.data.SiteSplit` (one row per slice, ``image_size ** 2`` values), so that the
study's training and evaluation tasks, and every protection on them (policy, small-cell,
audit, DP budget, SecAgg+), apply to images unchanged. Nothing but counts, findings
(counts per kind) and model arrays leaves the site.
"""

from __future__ import annotations

import json
from functools import lru_cache

from fedcare.config import StudyConfig
from fedcare.config._study import parse_window
from fedcare.data._split import site_split
from fedcare.data._standardise import Standardiser

from ..protocol import TaskResult
from .data import Prepared, SiteSplit, config_key

__all__ = ["IMAGE_SCHEMA", "image_prepared", "image_schema", "image_study_sites", "modalities"]

IMAGE_SCHEMA = "image"
"""The ``kind`` of an image study's schema (``{"kind": "image", "size": n, ...}``)."""


def modalities(config: StudyConfig) -> tuple[str, ...] | None:
    """The study's accepted modalities (None: any, for ``modality = "any"``)."""
    names = tuple(m.strip().upper() for m in config.modality.split(",") if m.strip())
    return None if not names or names == ("ANY",) else names


@lru_cache(maxsize=16)
def _cohort(key: str, name: str):  # type: ignore[no-untyped-def]
    from fedcare.imaging import read_image_cohort

    config = StudyConfig.from_run_config(json.loads(key))
    return read_image_cohort(config.images, config.data, site=name,
                             file_column=config.file_column,
                             site_column=config.site_column, label_column=config.target,
                             size=config.image_size, modality=modalities(config),
                             window=parse_window(config.window),
                             positive=config.positive or None)


def _excluded(cohort) -> int:  # type: ignore[no-untyped-def]
    return sum(f.count for f in cohort.findings if f.left_out)


def image_prepared(config: StudyConfig, name: str, key: str | None = None) -> Prepared:
    """This site's slices split with the study's rule (rows: flattened slices)."""
    cohort = _cohort(key or config_key(config), name)
    train, test = site_split(cohort.y, test_size=config.test_size, seed=config.split_seed)
    X = cohort.flat()
    split = SiteSplit(name, X[train], cohort.y[train], X[test], cohort.y[test],
                      _excluded(cohort))
    return Prepared(split, Standardiser.identity(X.shape[1]), split.X_train, split.X_test)


def image_schema(config: StudyConfig, name: str, key: str | None = None) -> TaskResult:
    """The schema round of an image study: usable slices, test slices, files left out,
    and the checks' findings at this site (counts per kind, never a value)."""
    import math

    cohort = _cohort(key or config_key(config), name)
    usable = len(cohort.y)
    schema = {"kind": IMAGE_SCHEMA, "size": config.image_size, "target": config.target,
              "modality": list(modalities(config) or ["any"]), "features": [],
              "encoded_feature_names": []}
    return TaskResult(
        metrics={"n-rows": usable, "n-test": math.ceil(usable * config.test_size),
                 "n-dropped": _excluded(cohort)},
        texts={"schema": json.dumps(schema, sort_keys=True),
               "findings": json.dumps([f.to_dict() for f in cohort.findings]),
               "data": f"{len(cohort.y)} slices under its image folder"})


def image_study_sites(config: StudyConfig) -> list[str]:
    """The sites an image study's labels table names (the table checked first: a clear
    error, naming the row and column, before any site reads a file)."""
    from pathlib import Path

    from fedcare.exceptions import DataNotFoundError
    from fedcare.imaging._cohort import read_labels

    if not Path(config.images).is_dir():
        raise DataNotFoundError(f"{config.images}: image folder not found")
    rows = read_labels(Path(config.data), config.file_column, config.target,
                       config.site_column, config.positive or None)
    return sorted({str(r[config.site_column]).strip() for r in rows})
