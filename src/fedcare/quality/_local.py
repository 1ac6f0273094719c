"""A data-quality check of one table on this machine: each site's rows on their own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from fedcare.data._cohort import Schema, level_of
from fedcare.data._table import _did_you_mean, _rows, infer_schema
from fedcare.exceptions import DataError
from fedcare.quality._combine import QualityReport, combine_quality
from fedcare.quality._site import site_quality

__all__ = ["check_table", "split_sites"]

_NO_TARGET = "\x00no-target"


def split_sites(frame: pd.DataFrame, site_column: str, source: str = "table"
                ) -> dict[str, pd.DataFrame]:
    """Each site's own rows, keyed by site name (``2.0`` and ``2`` are the same site).

    Raises
    ------
    DataError
        The site column is absent (with a close match) or empty in some rows.
    """
    columns = [str(c) for c in frame.columns]
    if site_column not in columns:
        raise DataError(f"{source}: site column '{site_column}' not found"
                        f"{_did_you_mean(site_column, columns)} ({len(columns)} columns "
                        "present)")
    sites = frame[site_column]
    blank = sites.isna().to_numpy() | (sites.astype(str).str.strip() == "").to_numpy()
    if blank.any():
        raise DataError(f"{source}: site column '{site_column}' is empty in "
                        f"{int(blank.sum())} row(s) ({_rows(blank)}); every row must name "
                        "its site")
    names = sites.map(level_of)
    return {str(name): rows.reset_index(drop=True)
            for name, rows in frame.groupby(names, sort=True)}


def check_table(
    frame: pd.DataFrame,
    site_column: str,
    target: str | None,
    *,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    units: Mapping[str, str] | None = None,
    site_units: Mapping[str, Mapping[str, str]] | None = None,
    positive: str | None = None,
    min_cell: int = 5,
    schema: Schema | None = None,
    source: str = "table",
) -> QualityReport:
    """Run the federated data-quality check on one table, site by site, on this machine.

    Each site's rows go through :func:`site_quality` on their own; only the resulting
    aggregates reach :func:`combine_quality`, exactly as in a federation.

    Parameters
    ----------
    frame : DataFrame
        Every site's rows, with a site column.
    site_column : str
        Column naming each row's hospital.
    target : str or None
        Binary outcome column (None: no label figures).
    features, categorical, numeric : sequence of str
        As for :func:`fedcare.data.infer_schema` (default: every other column).
    units : mapping of str to str, optional
        Declared unit of each feature (sets its valid range); features of a known
        quantity without one are checked in the quantity's canonical unit.
    site_units : mapping of str to mapping, optional
        ``site -> feature -> unit`` where a site records a feature in another unit; its
        values are converted to the study's unit before the check.
    positive : str, optional
        The target level meaning "event" when the target is not 0/1 or true/false.
    min_cell : int, default 5
        Small-cell threshold the sites apply.
    schema : Schema, optional
        Use this schema instead of inferring one.
    source : str
        Named in error messages.

    Returns
    -------
    QualityReport

    Raises
    ------
    DataError
        An absent column (with a did-you-mean), an empty site cell, a non-numeric value
        in a numeric column, a target that is not binary.
    """
    sites = split_sites(frame, site_column, source)
    if schema is None:
        if target is None:
            schema = infer_schema(frame.assign(**{_NO_TARGET: 0}), site_column=site_column,
                                  target=_NO_TARGET, features=features,
                                  categorical=categorical, numeric=numeric,
                                  units=dict(units or {}), source=source)
        else:
            schema = infer_schema(frame, site_column=site_column, target=target,
                                  features=features, categorical=categorical,
                                  numeric=numeric, units=dict(units or {}), source=source)
    site_units = dict(site_units or {})
    unknown = sorted(set(site_units) - set(sites))
    if unknown:
        raise DataError(f"{source}: units given for site(s) {unknown}, which have no rows "
                        f"(sites: {sorted(sites)})")
    aggregates = {name: site_quality(rows, replace(schema), name, min_cell=min_cell,
                                     units=site_units.get(name), positive=positive)
                  for name, rows in sites.items()}
    return combine_quality(aggregates, schema, min_cell=min_cell)
