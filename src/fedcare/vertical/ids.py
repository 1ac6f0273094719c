"""Normalising identifiers before private set intersection (PSI).

Before a hospital and an insurer hash their identifiers for PSI, each normalises its own
so that the same person written differently still matches.  Every kind of identifier
goes through Unicode NFKC (full-width digits and letters, the ideographic space) and
loses its surrounding whitespace; then, per kind:

``generic`` and ``mrn``
    Separators (whitespace, ``-``, ``.``, ``/``, ``_``, ``(``, ``)``) removed and letters
    upper-cased.  A medical record number is matched as written apart from case, width,
    whitespace and separators: leading zeros are kept.
``resident_id``
    A Chinese resident identity number (GB 11643-1999), separators removed, a lower-case
    ``x`` upper-cased: 17 digits and the ISO 7064 MOD 11-2 check character, with a real
    birth date (digits 7-14) from 1900-01-01 to today.  An old 15-digit number is upgraded
    to 18 digits ("19" inserted before its two-digit birth year, the check character
    appended).  Anything else is invalid.
``phone``
    Digits only.  An international number (leading ``+`` or ``00``) of mainland China,
    86 and an 11-digit mobile number starting with 1, loses the 86, as does a bare
    13-digit ``86`` + mobile number; other international numbers keep their country code
    (without the ``+`` or ``00``) and a landline's trunk ``0`` is kept as written.  Fewer
    than 7 or more than 15 digits is invalid.

Missing values (None, NaN, ``pd.NA``, blank text) are empty; an int-like float from a CSV
read (``13812345678.0``) is read as its integer.  A float that is not a whole number, or
too large for its type to hold every digit exactly (above 2**53 for a float64: an
18-digit number read as float), is invalid for every kind, since its digits cannot be
trusted; a leading zero already lost by an integer column cannot be recovered and is not
detected.

The :class:`NormalisationReport` holds counts and 1-based row numbers only: no identifier
value ever appears in a report, an exception message or a log.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from fedcare.exceptions import ConfigError, DataError

__all__ = [
    "KINDS",
    "NormalisationReport",
    "duplicate_error",
    "normalise_ids",
    "normalise_one",
    "require_unique",
]

#: The identifier kinds :func:`normalise_ids` knows.
KINDS: tuple[str, ...] = ("generic", "resident_id", "phone", "mrn")

#: At most this many duplicate row numbers are kept in a report.
MAX_DUPLICATE_ROWS = 20

_SEPARATORS = re.compile(r"[\s\-./_()]+")
_NON_DIGITS = re.compile(r"[^0-9]+")
_DIGITS = re.compile(r"[0-9]+")
_ID18 = re.compile(r"[0-9]{17}[0-9X]")
_ID15 = re.compile(r"[0-9]{15}")
_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CODES = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)
_PHONE_MIN, _PHONE_MAX = 7, 15

#: Counters a row's normalisation can set (each at most once per row).
_STEP_COUNTERS = (
    "empty", "width_folded", "whitespace_trimmed", "case_folded", "separators_removed",
    "country_code_removed", "upgraded_15_to_18", "invalid",
)


@dataclass
class NormalisationReport:
    """What normalising one party's identifiers did, in counts and row numbers only.

    A row is counted under every step that changed it, whatever its outcome (a row
    width-folded and then found invalid counts under both); each counter counts a row at
    most once.

    Attributes
    ----------
    source : str
        The file or party the identifiers came from, for messages.
    kind : str
        One of :data:`KINDS`.
    total : int
        Rows given.
    empty : int
        Rows missing or blank (normalised to None).
    width_folded : int
        Rows changed by Unicode NFKC (full-width digits or letters, ideographic space).
    whitespace_trimmed : int
        Rows that lost leading or trailing whitespace.
    case_folded : int
        Rows whose letters were upper-cased.
    separators_removed : int
        Rows that lost separators inside the value (for phones: any character other than
        a digit or a leading ``+``).
    country_code_removed : int
        Phone rows that lost the mainland China country code 86.
    upgraded_15_to_18 : int
        Resident-id rows upgraded from 15 to 18 digits.
    invalid : int
        Rows that failed the kind's format, checksum or birth-date check (normalised to
        None).
    duplicates : int
        Rows whose normalised value also occurs in an earlier row.
    duplicate_rows : list of int
        1-based row numbers of those rows, at most the first 20.
    """

    source: str
    kind: str
    total: int = 0
    empty: int = 0
    width_folded: int = 0
    whitespace_trimmed: int = 0
    case_folded: int = 0
    separators_removed: int = 0
    country_code_removed: int = 0
    upgraded_15_to_18: int = 0
    invalid: int = 0
    duplicates: int = 0
    duplicate_rows: list[int] = field(default_factory=list)

    @property
    def usable(self) -> int:
        """Rows with a normalised identifier: ``total - empty - invalid``."""
        return self.total - self.empty - self.invalid

    def add_counts(self, other: NormalisationReport) -> None:
        """Add ``other``'s row and step counts to this report (a file read in chunks;
        duplicates are not added: a chunk sees only its own rows)."""
        self.total += other.total
        for name in _STEP_COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (source, kind, counts and row numbers).

        Returns
        -------
        dict
            Every field plus ``usable``; ``duplicate_rows`` is a new list.
        """
        out = asdict(self)
        out["duplicate_rows"] = list(self.duplicate_rows)
        out["usable"] = self.usable
        return out


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown identifier kind {kind!r}: use one of {', '.join(KINDS)}")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(pd.api.types.is_scalar(value) and pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_text(value: object) -> str | None:
    """``value`` as text; None when it is a number whose digits cannot be trusted."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        bits = np.finfo(value.dtype).nmant + 1 if isinstance(value, np.floating) else 53
        if not np.isfinite(number) or not number.is_integer() or abs(number) >= 2.0**bits:
            return None
        return str(int(number))
    return str(value)


def _rows(values: Iterable[Any]) -> list[Any]:
    """The values as a list; numpy floats narrower than float64 stay numpy scalars, so
    that their precision is checked against their own type."""
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        return list(values) if values.dtype.kind == "f" and values.itemsize < 8 else (
            values.tolist())
    return list(values)


def _cn_id_check(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CODES[total % 11]


def _real_birth_date(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return _EARLIEST_BIRTH <= born <= date.today()


def _strip_separators(text: str, steps: list[str]) -> str:
    stripped = _SEPARATORS.sub("", text)
    if stripped != text:
        steps.append("separators_removed")
    return stripped


def _upper(text: str, steps: list[str]) -> str:
    upper = text.upper()
    if upper != text:
        steps.append("case_folded")
    return upper


def _resident_id(text: str, steps: list[str]) -> str | None:
    text = _upper(_strip_separators(text, steps), steps)
    if len(text) == 18 and _ID18.fullmatch(text):
        if _cn_id_check(text[:17]) != text[17] or not _real_birth_date(text[6:14]):
            return None
        return text
    if len(text) == 15 and _ID15.fullmatch(text):
        first17 = text[:6] + "19" + text[6:]
        if not _real_birth_date(first17[6:14]):
            return None
        steps.append("upgraded_15_to_18")
        return first17 + _cn_id_check(first17)
    return None


def _phone(text: str, steps: list[str]) -> str | None:
    plus = text.startswith("+")
    body = text[1:] if plus else text
    digits = _NON_DIGITS.sub("", body)
    if digits != body:
        steps.append("separators_removed")
    if not plus and digits.startswith("00"):
        digits = digits[2:]  # the international call prefix, like a leading '+'
    mainland_mobile = len(digits) == 13 and digits.startswith("861")
    if mainland_mobile:  # international (+86 / 0086) or bare 86 + 11-digit mobile
        digits = digits[2:]
        steps.append("country_code_removed")
    if not _PHONE_MIN <= len(digits) <= _PHONE_MAX:
        return None
    return digits


def _normalise(value: object, kind: str) -> tuple[str | None, list[str]]:
    """One value's normal form (None: empty or invalid) and the counters it sets."""
    steps: list[str] = []
    if _is_missing(value):
        return None, ["empty"]
    text = _as_text(value)
    if text is None:
        return None, ["invalid"]
    if not text.isascii():
        folded = unicodedata.normalize("NFKC", text)
        if folded != text:
            steps.append("width_folded")
        text = folded
    trimmed = text.strip()
    if trimmed != text:
        steps.append("whitespace_trimmed")
    if not trimmed:
        steps.append("empty")
        return None, steps
    result: str | None
    if kind == "resident_id":
        result = _resident_id(trimmed, steps)
    elif kind == "phone":
        result = _phone(trimmed, steps)
    else:  # generic, mrn
        result = _upper(_strip_separators(trimmed, steps), steps) or None
    if result is None:
        steps.append("invalid")
    return result, steps


def normalise_one(value: object, kind: str = "generic") -> str | None:
    """Normalise one identifier by the rules of :func:`normalise_ids`.

    Parameters
    ----------
    value : str, int, float or None
        The identifier as read.
    kind : str
        One of :data:`KINDS`.

    Returns
    -------
    str or None
        The normal form, or None when the value is empty or invalid.

    Raises
    ------
    ConfigError
        ``kind`` is not one of :data:`KINDS`.
    """
    _check_kind(kind)
    return _normalise(value, kind)[0]


def normalise_ids(
    values: Iterable[Any], kind: str = "generic", *, source: str = "ids",
) -> tuple[list[str | None], NormalisationReport]:
    """Normalise one party's identifiers for PSI, counting what changed.

    Parameters
    ----------
    values : list, numpy array or pandas Series
        The identifiers in row order: str, int, float, None or NaN.
    kind : str
        One of :data:`KINDS`: ``"generic"``, ``"resident_id"``, ``"phone"`` or ``"mrn"``.
    source : str
        The file or party the values come from, named in the report and in messages.

    Returns
    -------
    normalised : list of str or None
        One entry per row: the normal form, or None when the row is empty or invalid.
    report : NormalisationReport
        Counts and duplicate row numbers; never a value.

    Raises
    ------
    ConfigError
        ``kind`` is not one of :data:`KINDS`.
    TypeError
        ``values`` is a single string or bytes rather than a sequence of identifiers.
    """
    _check_kind(kind)
    if isinstance(values, str | bytes):
        raise TypeError("values must be a sequence of identifiers, not a single string")
    rows = _rows(values)
    report = NormalisationReport(source=source, kind=kind, total=len(rows))
    counts = dict.fromkeys(_STEP_COUNTERS, 0)
    normalised: list[str | None] = []
    seen: set[str] = set()
    for row, value in enumerate(rows, start=1):
        result, steps = _normalise(value, kind)
        for step in steps:
            counts[step] += 1
        normalised.append(result)
        if result is None:
            continue
        if result in seen:
            report.duplicates += 1
            if len(report.duplicate_rows) < MAX_DUPLICATE_ROWS:
                report.duplicate_rows.append(row)
        else:
            seen.add(result)
    for name, count in counts.items():
        setattr(report, name, count)
    return normalised, report


def _duplicate_rows(normalised: list[str | None]) -> list[int]:
    seen: set[str] = set()
    rows = []
    for row, value in enumerate(normalised, start=1):
        if value is None:
            continue
        if value in seen:
            rows.append(row)
        seen.add(value)
    return rows


def require_unique(normalised: list[str | None], report: NormalisationReport) -> None:
    """Refuse identifiers that occur in more than one row after normalisation.

    PSI matches one row per person; two rows with the same normalised identifier (the
    same person twice, or two people written alike) would match ambiguously.  The check
    is made on ``normalised`` itself, so a list de-duplicated after :func:`normalise_ids`
    passes; ``report`` names the source.

    Parameters
    ----------
    normalised : list of str or None
        The first result of :func:`normalise_ids`.
    report : NormalisationReport
        Its report.

    Raises
    ------
    DataError
        Some identifier occurs more than once; the message names the source, the number
        of such rows and the first row numbers (1-based), never a value.
    """
    rows = _duplicate_rows(normalised)
    if not rows:
        return
    first: dict[str, int] = {}
    for row, value in enumerate(normalised, start=1):
        if value is not None:
            first.setdefault(value, row)
    earlier = sorted({first[v] for v in (normalised[r - 1] for r in rows[:MAX_DUPLICATE_ROWS])
                      if v is not None})
    raise duplicate_error(report.source, len(rows), rows[:MAX_DUPLICATE_ROWS], earlier)


def duplicate_error(source: str, count: int, rows: list[int], earlier: list[int]
                    ) -> DataError:
    """The error for ``count`` rows repeating an earlier row's normalised identifier:
    ``rows`` the first (at most :data:`MAX_DUPLICATE_ROWS`) such rows, ``earlier`` the
    rows they repeat (1-based row numbers; never a value)."""
    shown = ", ".join(str(r) for r in rows[:MAX_DUPLICATE_ROWS])
    shown = f"first rows {shown}, ..." if count > MAX_DUPLICATE_ROWS else f"rows {shown}"
    return DataError(
        f"{source}: {count} identifier(s) occur more than once after "
        f"normalisation ({shown}), repeating the identifier of row(s) "
        f"{', '.join(str(r) for r in sorted(set(earlier)))}; each person must have one row"
    )
