"""Columns that identify people: never features, whatever their values predict.

A per-patient id or a row index used as a feature lets a model memorise rows (and, in a
registry numbered by enrolment date, learn the calendar time). :func:`identifier_columns`
finds them from the column's values and name alone; its reasons never quote a value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from fedcare._format import did_you_mean
from fedcare.exceptions import DataError

__all__ = ["ID_RULES", "identifier_columns"]

#: Thresholds of the rules (documented in docs/quality.md, "Safe feature sets").
ID_RULES: Final = {
    # value rules need at least this many values (smaller tables: by name only)
    "min_rows": 50,
    # all-unique integers: flagged when this many coinciding pairs would be expected if
    # the values were independent measurements spread over their observed span
    "expected_ties": 5.0,
    # sequential integers: share of consecutive sorted values exactly 1 apart
    "sequential_share": 0.90,
    # text: share of distinct values among the present ones
    "text_unique": 0.90,
    # an identifier-like name: share of distinct values among the present ones
    "name_unique": 0.50,
}

# Tokens that mean "identifier" wherever they stand in a name (patient_id, MRN, nhs_no).
_ID_TOKENS: Final = frozenset({
    "id", "ids", "identifier", "uid", "uuid", "guid", "mrn", "ssn", "nhs", "nhsno", "pid",
    "ptid", "patid", "subjid", "seqn"})
# Names that identify people or rows on their own (``Unnamed: 0`` is a saved pandas index,
# ``rownames`` R's).
_ID_NAMES: Final = frozenset({
    "patient", "patients", "subject", "participant", "respondent", "record", "index", "idx",
    "rownames", "rowname", "rownum", "unnamed0"})
# <who> followed by <number word>: patient_no, record_number, case_nr, study_id ...
_WHO: Final = ("patient", "pat", "pt", "subject", "subj", "person", "participant", "record",
               "rec", "case", "chart", "member", "client", "encounter", "admission", "hadm",
               "episode", "specimen", "sample", "study", "row", "respondent", "medicalrecord")
_NUMBER_WORDS: Final = ("id", "no", "nr", "num", "number", "key", "code", "ref",
                        "identifier", "index", "idx")
_WHO_NUMBER: Final = re.compile(f"^({'|'.join(_WHO)})({'|'.join(_NUMBER_WORDS)})$")
_SPLIT: Final = re.compile(r"[^0-9a-zA-Z]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _tokens(name: str) -> list[str]:
    return [t.lower() for t in _SPLIT.split(name) if t]


def _id_like_name(name: str) -> bool:
    """Whether a column name reads as an identifier (``patient_id``, ``MRN``, ``caseNo``)."""
    tokens = _tokens(name)
    if not tokens:
        return False
    compact = "".join(tokens)
    if compact in _ID_NAMES or _WHO_NUMBER.match(compact):
        return True
    return any(t in _ID_TOKENS for t in tokens)


def _as_numbers(col: pd.Series) -> np.ndarray | None:
    """The present values that are numbers, as floats, when they are most of them (text
    such as ``"."`` or ``"<5"`` among numbers does not make a column text); else None."""
    if pd.api.types.is_numeric_dtype(col):
        return col.dropna().to_numpy(dtype=np.float64)
    present = col.dropna()
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = present.astype(object)
    numbers = pd.to_numeric(present, errors="coerce").dropna()
    if len(numbers) < 0.5 * len(present):
        return None
    return numbers.to_numpy(dtype=np.float64)


def _reason(name: str, col: pd.Series) -> str | None:
    """Why ``col`` identifies people, or None."""
    if (pd.api.types.is_bool_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)
            or pd.api.types.is_timedelta64_dtype(col)):
        return None
    present = col.dropna()
    n = len(present)
    if n == 0:
        return None
    x = _as_numbers(col)
    if x is not None:
        n = len(x)
    enough = n >= ID_RULES["min_rows"]
    if x is not None:
        if not np.isfinite(x).all() or not np.array_equal(x, np.round(x)):
            return None  # a measurement (non-integral values): never an identifier
        v = np.sort(x)
        distinct = int(np.count_nonzero(np.diff(v))) + 1
        if enough:
            steps = np.diff(v)
            if np.mean(steps == 1) >= ID_RULES["sequential_share"]:
                return "sequential integers"
            span = float(v[-1] - v[0]) + 1.0
            if distinct == n and math.comb(n, 2) / span >= ID_RULES["expected_ties"]:
                return "unique per row (integer)"
    else:
        distinct = int(present.astype(str).nunique())
        share = distinct / n
        if enough and share >= ID_RULES["text_unique"]:
            return f"text, {math.floor(100 * share)}% of rows unique"
    if _id_like_name(name) and distinct / n >= ID_RULES["name_unique"]:
        return f"name looks like an identifier ({name})"
    return None


def identifier_columns(frame: pd.DataFrame, columns: Sequence[str] | None = None
                       ) -> dict[str, str]:
    """The columns of ``frame`` that identify people (or rows), each with a short reason.

    A column is an identifier when, over its present values:

    - it holds **sequential integers**: sorted, at least 90% of consecutive values are
      exactly 1 apart (a row index, an enrolment number);
    - it holds integers, **all unique**, packed so densely that a measurement would
      repeat: with n values over a span of s integers, ``n (n - 1) / 2 / s >= 5``
      coinciding pairs would be expected of independent measurements (fewer than 1 in
      100 such columns would be all unique by chance). All-unique integers spread over
      a wide span (follow-up days in a small table, a random 8-digit number) are not
      told apart from measurements by their values;
    - it holds **text** with at least 90% distinct values;
    - its **name** reads as an identifier (a token ``id``, ``mrn``, ``ssn``, ``nhs``,
      ``pid``, ``uuid`` ...; ``patient``, ``subject``, ``record``, ``index``, a saved
      ``Unnamed: 0``; ``patient_no``, ``record_number``, ``case_nr``, ``study_id`` ...)
      and at least 50% of its values are distinct.

    The value rules need at least 50 present values; smaller tables are judged by the
    name rule only. Values that are not all integral (a lab value, even if every one is
    unique) are never an identifier, nor are booleans, dates and durations. Text holding
    that is mostly numbers is judged by its numbers. Thresholds: :data:`ID_RULES`.

    Parameters
    ----------
    frame : DataFrame
        The table (one site's rows, or a pooled table).
    columns : sequence of str, optional
        The columns to judge (default: every column).

    Returns
    -------
    dict of str to str
        Column name -> reason (``"sequential integers"``, ``"unique per row (integer)"``,
        ``"text, 97% of rows unique"``, ``"name looks like an identifier (mrn)"``), in
        the frame's column order. Reasons never quote a value.

    Raises
    ------
    DataError
        A name in ``columns`` is not a column of ``frame`` (with a close match).
    """
    names = [str(c) for c in frame.columns]
    wanted = names if columns is None else [str(c) for c in columns]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DataError(f"column '{missing[0]}' not found{did_you_mean(missing[0], names)} "
                        f"({len(names)} columns present)")
    chosen = set(wanted)
    out: dict[str, str] = {}
    for i, name in enumerate(names):
        if name in chosen and name not in out:
            reason = _reason(name, frame.iloc[:, i])
            if reason is not None:
                out[name] = reason
    return out
