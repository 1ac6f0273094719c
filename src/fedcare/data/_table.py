"""CSV/Parquet connector: any table with a site column, a target and features."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fedcare._format import did_you_mean
from fedcare.data._cohort import (
    MISSING_LEVEL,
    Cohort,
    Feature,
    FeatureKind,
    Schema,
    encode,
    level_of,
)
from fedcare.data._units import default_range
from fedcare.exceptions import DataError, DataNotFoundError

__all__ = ["cohort_from_frame", "infer_schema", "read_table"]

_MAX_ROWS_NAMED = 5


def _rows(mask: np.ndarray) -> str:
    """Name the first few offending data rows (1-based, header excluded), never values."""
    positions = np.flatnonzero(mask) + 1
    shown = ", ".join(str(p) for p in positions[:_MAX_ROWS_NAMED])
    more = len(positions) - _MAX_ROWS_NAMED
    return f"data row{'s' if len(positions) > 1 else ''} {shown}" + (
        f" and {more} more" if more > 0 else ""
    )


_did_you_mean = did_you_mean


_NA = ["?", "NA", "NaN", ""]
#: A categorical feature with more levels than this looks like an identifier or free text.
MAX_LEVELS = 50


def _delimiter(first_line: str) -> str:
    """Comma unless the header holds none and a semicolon or tab instead (Excel exports)."""
    if "," not in first_line:
        for candidate in (";", "\t"):
            if candidate in first_line:
                return candidate
    return ","


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV (comma, semicolon or tab separated, UTF-8) or Parquet file as text cells.

    Raises
    ------
    DataNotFoundError
        No such file.
    DataError
        Not a file, an unsupported suffix, not UTF-8, empty, header only, duplicate or
        unparseable columns; the message never quotes the file's content.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a .csv or .parquet file")
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq", ".txt", ".tsv"}:
        raise DataError(f"{path}: expected a .csv or .parquet file, got '{suffix or 'no suffix'}'")
    if suffix in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        try:
            header = list(pq.read_schema(path).names)
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    else:
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                first = handle.readline()
                sep = _delimiter(first)
                header = next(csv.reader([first], delimiter=sep), [])
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text; save it as 'CSV UTF-8'") from None
        except (csv.Error, OSError) as exc:
            raise DataError(f"{path}: could not be read as CSV ({type(exc).__name__})") from None
        if not first.strip():
            raise DataError(f"{path}: the file is empty")
        try:
            frame = pd.read_csv(path, sep=sep, na_values=_NA, keep_default_na=True,
                                low_memory=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
            # The parser's message can quote a line of the file: keep only its kind.
            raise DataError(f"{path}: could not be parsed as a table ({type(exc).__name__})"
                            ) from None
    dupes = sorted(name for name, count in Counter(header).items() if count > 1)
    if dupes:
        raise DataError(f"{path}: duplicate column name(s) {dupes}; each column must be unique")
    if frame.empty:
        raise DataError(f"{path}: the table has no data rows (header only)")
    return frame


def read_table(
    path: str | Path,
    *,
    site_column: str,
    target: str,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    positive: str | None = None,
    units: dict[str, str] | None = None,
    missing: str = "drop",
    keep_missing: bool = False,
) -> Cohort:
    """Read a CSV or Parquet table into a validated :class:`Cohort`.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (comma-separated, one header line) or ``.parquet`` file.
    site_column : str
        Column naming each row's hospital.
    target : str
        Binary outcome column: values 0/1, true/false, or two levels with ``positive``.
    features : sequence of str, optional
        Feature columns; default every column except the site and target columns.
    categorical, numeric : sequence of str
        Override the inferred type of these columns.
    positive : str, optional
        The level of ``target`` that means "event" when it is not 0/1 or true/false.
    units : dict, optional
        Unit of each feature, recorded in the schema.
    missing : {"drop", "error"}
        Rows with a missing feature value are dropped (and counted per site) or refused.

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    DataError
        Any problem with the columns, values, labels or sites; the message names the
        file, columns, rows and counts, never a value.
    """
    frame = read_frame(path)
    return cohort_from_frame(
        frame,
        site_column=site_column,
        target=target,
        features=features,
        categorical=categorical,
        numeric=numeric,
        positive=positive,
        units=units,
        missing=missing,
        source=str(path),
        keep_missing=keep_missing,
    )


def infer_schema(
    frame: pd.DataFrame,
    *,
    site_column: str,
    target: str,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    units: dict[str, str] | None = None,
    source: str = "table",
) -> Schema:
    """Check the columns of ``frame`` and infer each feature's kind.

    Numeric columns holding only 0/1 are ``binary`` (unless ``units`` gives them a unit:
    a measurement); text columns are ``categorical``.
    Categorical levels are those present in ``frame``; across sites they are merged
    with :meth:`Schema.merge_categories`.
    """
    columns = [str(c) for c in frame.columns]
    for role, name in (("site column", site_column), ("target column", target)):
        if name not in columns:
            raise DataError(
                f"{source}: {role} '{name}' not found{_did_you_mean(name, columns)} "
                f"({len(columns)} columns present)"
            )
    if features is None:
        features = [c for c in columns if c not in {site_column, target}]
    features = list(features)
    for name in [*features, *categorical, *numeric]:
        if name not in columns:
            raise DataError(f"{source}: feature column '{name}' not found"
                            f"{_did_you_mean(name, columns)}")
    repeated = sorted(n for n, c in Counter(features).items() if c > 1)
    if repeated:
        raise DataError(f"{source}: feature(s) {repeated} listed more than once")
    if site_column == target:
        raise DataError(f"{source}: the site column and the target are both '{target}'")
    clash = {site_column, target} & set(features)
    if clash:
        raise DataError(f"{source}: {sorted(clash)} cannot be both a feature and the site/target")
    both = set(categorical) & set(numeric)
    if both:
        raise DataError(f"{source}: {sorted(both)} declared both categorical and numeric")
    if not features:
        raise DataError(f"{source}: no feature columns (the table holds only site and target)")
    units = units or {}
    specs: list[Feature] = []
    for name in features:
        col = frame[name]
        kind: FeatureKind
        if name in categorical:
            kind = "categorical"
        elif name in numeric or pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(
            col
        ):
            numbers = pd.to_numeric(col, errors="coerce")
            bad = numbers.isna().to_numpy() & col.notna().to_numpy()
            if bad.any():
                raise DataError(
                    f"{source}: column '{name}' must be numeric but {int(bad.sum())} value(s) "
                    f"are not numbers ({_rows(bad)}); declare it categorical or fix the values"
                )
            present = set(numbers.dropna().unique().tolist())
            # a column with a unit is a measurement, even where it holds only 0 and 1
            # (a site that recorded no cholesterol writes 0 throughout)
            kind = ("binary" if present and present <= {0, 1} and not units.get(name)
                    else "numeric")
        else:
            # A text column: numbers written as text are still numeric.
            numbers = pd.to_numeric(col, errors="coerce")
            bad = numbers.isna().to_numpy() & col.notna().to_numpy()
            if not bad.any():
                kind = "numeric"
            elif bad.sum() < col.notna().sum() * 0.5:
                raise DataError(
                    f"{source}: column '{name}' is mostly numeric but {int(bad.sum())} value(s) "
                    f"are not numbers ({_rows(bad)}); fix them or declare the column "
                    "categorical"
                )
            else:
                kind = "categorical"
        levels: tuple[str, ...] = ()
        if kind == "categorical":
            levels = tuple(sorted({level_of(v) for v in col.dropna().tolist()}))
            if len(levels) > MAX_LEVELS or (len(levels) > 10 and len(levels) > 0.5 * len(col)):
                raise DataError(
                    f"{source}: column '{name}' has {len(levels)} distinct text values in "
                    f"{len(col)} rows: it looks like an identifier or free text, which must "
                    "not become a feature; leave it out (--features) or recode it"
                )
        unit = units.get(name)
        specs.append(Feature(name=name, kind=kind, unit=unit, categories=levels,
                             valid_range=default_range(name, unit) if kind == "numeric"
                             else None))
    schema = Schema(features=tuple(specs), target=target, site_column=site_column)
    return schema.merge_categories([])  # sorts the levels


def _labels(frame: pd.DataFrame, target: str, positive: str | None, source: str) -> np.ndarray:
    col = frame[target]
    missing = col.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"{source}: target '{target}' is missing in {int(missing.sum())} row(s) "
            f"({_rows(missing)}); every row needs a label"
        )
    if positive is not None:
        levels = col.map(level_of)
        distinct = set(levels)
        if positive not in distinct:
            raise DataError(f"{source}: --positive '{positive}' is not one of the "
                            f"{len(distinct)} levels of target '{target}'")
        if len(distinct) != 2:
            raise DataError(f"{source}: target '{target}' has {len(distinct)} distinct levels; "
                            "a binary outcome needs exactly 2 (check spelling and case)")
        return (levels == positive).to_numpy(dtype=np.int64)
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=np.int64)
    numbers = pd.to_numeric(col, errors="coerce")
    if numbers.notna().all() and set(numbers.unique().tolist()) <= {0, 1}:
        return numbers.to_numpy(dtype=np.int64)
    lowered = col.astype(str).str.strip().str.lower()
    if set(lowered.unique().tolist()) <= {"true", "false"}:
        return (lowered == "true").to_numpy(dtype=np.int64)
    n_levels = col.nunique()
    raise DataError(
        f"{source}: target '{target}' has {n_levels} distinct values, not 0/1; "
        "pass the event level as positive (CLI: --positive LEVEL)"
    )


def cohort_from_frame(
    frame: pd.DataFrame,
    *,
    site_column: str,
    target: str,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    positive: str | None = None,
    units: dict[str, str] | None = None,
    missing: str = "drop",
    schema: Schema | None = None,
    source: str = "table",
    allow_one_class: bool = False,
    keep_missing: bool = False,
) -> Cohort:
    """Validate a DataFrame and encode it into a :class:`Cohort`.

    Parameters are those of :func:`read_table`; ``schema`` (e.g. agreed across sites)
    replaces the inferred one; ``allow_one_class`` accepts a label with one class
    (one site of a federation may have only events). A row missing a feature that has
    an ``impute`` value is kept (the value is filled and flagged); ``keep_missing``
    keeps rows missing any numeric or binary feature, as NaN in ``X`` (the sums of the
    federated imputation round).
    """
    if missing not in {"drop", "error"}:
        raise DataError(f"missing must be 'drop' or 'error', got '{missing}'")
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    dupes = sorted(n for n, c in Counter(frame.columns).items() if c > 1)
    if dupes:
        raise DataError(f"{source}: duplicate column name(s) {dupes}")
    if schema is None:
        schema = infer_schema(
            frame, site_column=site_column, target=target, features=features,
            categorical=categorical, numeric=numeric, units=units, source=source,
        )
    sites = frame[schema.site_column]
    blank = sites.isna().to_numpy() | (sites.astype(str).str.strip() == "").to_numpy()
    if blank.any():
        raise DataError(
            f"{source}: site column '{schema.site_column}' is empty in {int(blank.sum())} "
            f"row(s) ({_rows(blank)}); every row must name its site"
        )
    y = _labels(frame, schema.target, positive, source)
    if len(np.unique(y)) < 2 and not allow_one_class:
        raise DataError(
            f"{source}: target '{schema.target}' has a single class over all "
            f"{len(y)} rows; a risk model needs both outcomes"
        )
    names = [f.name for f in schema.features]
    for f in schema.features:
        if f.kind != "categorical":
            frame[f.name] = pd.to_numeric(frame[f.name], errors="coerce")
    required = [f.name for f in schema.features if f.impute is None
                and not (keep_missing and f.kind != "categorical")
                and MISSING_LEVEL not in f.categories]
    incomplete = frame[required].isna().any(axis=1).to_numpy()
    site_names = sites.map(level_of).to_numpy(dtype=object)
    if incomplete.any() and missing == "error":
        counts = frame[required].isna().sum()
        worst = ", ".join(f"'{c}' {int(n)}" for c, n in counts[counts > 0].items())
        raise DataError(
            f"{source}: {int(incomplete.sum())} row(s) have missing feature values "
            f"(per column: {worst}; {_rows(incomplete)})"
        )
    dropped = {
        str(s): int(incomplete[site_names == s].sum()) for s in dict.fromkeys(site_names)
    }
    empty = [s for s in dropped if not (~incomplete & (site_names == s)).any()]
    if empty:
        raise DataError(
            f"{source}: site(s) {empty} have no usable rows (every row has a missing "
            "feature value); exclude those sites or fill the values"
        )
    keep = ~incomplete
    if len(np.unique(y[keep])) < 2 and not allow_one_class:
        raise DataError(
            f"{source}: after dropping {int(incomplete.sum())} row(s) with missing features, "
            f"target '{schema.target}' has a single class; a risk model needs both outcomes"
        )
    X = encode(frame.loc[keep, names], schema)
    return Cohort(X=X, y=y[keep], site=site_names[keep], schema=schema, dropped=dropped)
