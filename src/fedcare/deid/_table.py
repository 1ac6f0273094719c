"""De-identifying tables: identifier columns by name, date columns, free-text columns."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fedcare.deid._common import Mode
from fedcare.deid._dates import shift_date_text, year_label
from fedcare.deid._recognise import age_value, detect_language
from fedcare.deid._text import DateMode, Replacer, check_date_mode, make_keyed, person_key
from fedcare.exceptions import DataError

__all__ = ["FrameReport", "classify_columns", "deidentify_frame", "read_csv"]

# (PHI type, pattern on the normalised column name); first match wins.
_ID_COLUMNS: list[tuple[str, str]] = [
    ("EMAIL", r"e?mail|邮箱|电子邮件"),
    ("IP", r"^ip$|ipaddr|ipaddress|ip地址"),
    ("URL", r"^url$|website|homepage|weblink|网址|链接"),
    ("SSN", r"^ssn$|socialsecurity|^ss#?$"),
    ("ID", r"^(?:national|govt|government|state)?id(?:card)?(?:number|no|num)$|nationalid|"
           r"passport|身份证|证件号|护照|公民身份"),
    ("MRN", r"^mrn|medicalrecord|^(?:patient|pt)(?:id|number|no)$|hospital(?:number|no|id)|"
            r"chart(?:number|no)|recordnumber|病历号|住院号|门诊号|病案号|就诊卡号|登记号|患者id|"
            r"病人id|档案号"),
    ("INSURANCE", r"insurance|memberid|subscriber|policy(?:number|no|id)|medicare|medicaid|"
                  r"医保|社保|保单|参保|新农合"),
    ("ACCOUNT", r"account|^acct|bankcard|creditcard|银行卡|账号|账户"),
    ("LICENSE", r"licen[cs]e(?!plate)|^dl(?:number|no)?$|驾驶证|执业证|资格证"),
    ("VEHICLE", r"plate|^vin$|vehicle|车牌|车架号"),
    ("DEVICE", r"serial|deviceid|^udi$|序列号|设备编号|设备号"),
    ("PHONE", r"phone|^tel|mobile|^cell|fax|pager|contactnumber|电话|手机|传真|联系方式"),
    ("ADDRESS", r"address|^addr|street|^city$|^town$|^county$|^zip|postcode|postalcode|"
                r"住址|地址|邮编|居住地|籍贯|户籍"),
    ("NAME", r"^(?:patient|pt|full|first|last|given|family|middle|sur|maiden|mother'?s|"
             r"father'?s|contact|nextofkin|kin|guardian|spouse|physician|doctor|provider|"
             r"attending|nurse|surgeon|referring|pcp)?name$|^(?:physician|doctor|provider|"
             r"attending|nurse|surgeon|referringphysician|pcp|guardian|nextofkin|"
             r"emergencycontact)$|^(?:患者|病人|家属|联系人|紧急联系人|医生|医师)?姓名$|^名字$|"
             r"^(?:紧急)?联系人$|^监护人$|^(?:主治|经治|住院|主任|责任|管床)?(?:医生|医师|护士)$"),
]
_DATE_NAME = re.compile(r"date|^dob$|birth|admit|admission|discharge|^dod$|death|visit|"
                        r"日期|出生|入院|出院|就诊时间|手术时间|死亡")
_AGE_NAME = re.compile(r"^age(?:years|yrs|atadmission|atvisit)?$|^年龄")
_YEAR_NAME = re.compile(r"year|^yob$|^yr|年份|出生年")
_YEAR_VALUE = re.compile(r"\s*(?:18|19|20)\d\d\s*")


def _norm_column(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    return re.sub(r"[\s_\-.()/]+", "", text)


def _numeric(values: pd.Series) -> bool:
    filled = values[values.str.strip() != ""]
    if filled.empty:
        return False
    return bool(pd.to_numeric(filled.str.strip(), errors="coerce").notna().all())


def classify_columns(frame: pd.DataFrame, lang: str = "auto") -> dict[str, str]:
    """The role of each column of a table.

    Identifier columns are recognised by name (English and Chinese, e.g. ``name``,
    ``mrn``, ``phone``, ``姓名``, ``身份证号``); date columns by name (with at least half
    of the values dates) or by content (at least 80 %); year columns by name (a date or
    year word: ``birth_year``, ``yob``, ``dob``, ``出生年份``) with at least 80 % four-digit
    years; numeric columns are kept; any other string column is free text.

    Parameters
    ----------
    frame : DataFrame
        The table (strings; see :func:`read_csv`).
    lang : {"auto", "en", "zh"}
        Language used to parse dates.

    Returns
    -------
    dict
        Column name -> a PHI type (``NAME``, ``MRN``, ...), ``DATE``, ``YEAR``, ``AGE``,
        ``TEXT`` or ``KEEP``.
    """
    roles: dict[str, str] = {}
    for column in frame.columns:
        norm = _norm_column(column)
        values = frame[column].astype(str)
        role = next((t for t, pattern in _ID_COLUMNS if re.search(pattern, norm)), None)
        if role is None:
            filled = values[values.str.strip() != ""]
            sample = filled.head(200)
            dates = sum(shift_date_text(v, lang if lang != "auto" else detect_language(v),
                                        1) is not None for v in sample)
            share = dates / len(sample) if len(sample) else 0.0
            years = sum(bool(_YEAR_VALUE.fullmatch(v)) for v in sample)
            year_share = years / len(sample) if len(sample) else 0.0
            if _AGE_NAME.search(norm):
                role = "AGE"
            elif share >= 0.8 or (_DATE_NAME.search(norm) and share >= 0.5):
                role = "DATE"
            elif year_share >= 0.8 and (_DATE_NAME.search(norm) or _YEAR_NAME.search(norm)):
                role = "YEAR"
            elif _numeric(values) or not len(sample):
                role = "KEEP"
            else:
                role = "TEXT"
        roles[str(column)] = role
    return roles


@dataclass
class FrameReport:
    """What :func:`deidentify_frame` did: column roles and PHI counts (never values).

    ``dates`` is the date mode used (``shift``, ``safe-harbor`` or ``tag``).
    """

    roles: dict[str, str]
    counts: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    dates: str = "shift"
    chars: int = 0
    replaced_chars: int = 0


def deidentify_frame(frame: pd.DataFrame, lang: str = "auto", mode: Mode = "tag",
                     key: bytes | str | None = None, dates: DateMode = "shift",
                     replacer: Replacer | None = None, day_first: bool = False,
                     reference_year: int | None = None, keep: Iterable[str] = (),
                     statistical: bool | None = None) -> tuple[pd.DataFrame, FrameReport]:
    """De-identify a table.

    Identifier columns (by name) are replaced whole: every non-empty cell becomes its tag
    or keyed pseudonym.  Date columns follow the date mode: ``shift`` moves them by the
    row's person offset in their own format (the person is the row's MRN, else national
    ID/SSN, else insurance number, else name; without any identifier column one offset for
    the whole table); ``safe-harbor`` keeps the year alone (years at or before
    ``reference_year - 90`` grouped, as are such values in year columns such as
    ``birth_year``); ``tag`` writes ``[DATE]``.  Year columns are kept in the other modes.
    Age columns: values over 89 become ``90+``.  Other string columns go through the
    free-text de-identifier; numeric columns are untouched.

    Parameters
    ----------
    frame : DataFrame
        The table; read it with ``dtype=str`` to keep formats (leading zeros) intact.
    lang, mode, key, dates, day_first, reference_year, keep, statistical
        As for :func:`deidentify_text`.
    replacer : Replacer, optional
        Share one key/offset policy across several tables (used by :func:`deidentify_path`);
        it then sets ``mode``, ``dates``, ``day_first``, ``reference_year``, ``keep`` and
        ``statistical``.

    Returns
    -------
    (DataFrame, FrameReport)
        A new frame (the input is not modified) and the column roles and PHI counts.
    """
    if replacer is None:
        check_date_mode(dates)
        keyed, _ = make_keyed(key, mode)
        replacer = Replacer(keyed, mode, dates, day_first, reference_year, keep, statistical)
    out = frame.copy().astype(object)
    roles = classify_columns(frame, lang)
    report = FrameReport(roles=roles, rows=len(frame), dates=replacer.dates)
    person_col = next((c for t in ("MRN", "ID", "SSN", "INSURANCE", "NAME")
                       for c, r in roles.items() if r == t), None)
    columns = [str(c) for c in frame.columns]
    for i in range(len(frame)):
        person = ""
        if person_col is not None:
            value = _cell(frame.iat[i, columns.index(person_col)])
            if value:
                person = person_key(roles[person_col], value)
        for j, column in enumerate(columns):
            role = roles[column]
            value = _cell(frame.iat[i, j])
            if role == "KEEP" or not value.strip():
                continue
            report.chars += len(value)
            cell_lang = lang if lang != "auto" else detect_language(value)
            if role == "TEXT":
                result = replacer.text(value, cell_lang, person)
                out.iat[i, j] = result.text
                report.counts.update(result.counts)
                report.replaced_chars += result.replaced_chars
            elif role == "AGE":
                age = age_value(value) if value.strip().isdigit() else _float_age(value)
                if age is not None and age > 89:
                    out.iat[i, j] = "90+"
                    report.counts["AGE"] += 1
                    report.replaced_chars += len(value)
            elif role == "YEAR":
                if (replacer.dates == "safe-harbor" and _YEAR_VALUE.fullmatch(value)
                        and int(value) <= replacer.cutoff):
                    out.iat[i, j] = value.replace(value.strip(),
                                                  year_label(int(value), replacer.cutoff))
                    report.counts["DATE"] += 1
                    report.replaced_chars += len(value)
            else:
                out.iat[i, j] = replacer.replace(role, value, cell_lang, person)
                report.counts[role] += 1
                report.replaced_chars += len(value)
    return out, report


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _float_age(value: str) -> int | None:
    try:
        return int(float(value))
    except ValueError:
        return None


def read_csv(path: Path) -> pd.DataFrame:
    """Read a UTF-8 CSV (``.tsv``: tab-separated) as strings, so formats are kept.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    DataFrame
        Every column as ``str``; empty cells are ``""``.

    Raises
    ------
    DataError
        The file is unreadable, not UTF-8, empty or ragged; the message names the file
        (and line), never a value.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({type(exc).__name__})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    if not text.strip():
        raise DataError(f"{path}: empty CSV file")
    import io

    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    _check_fields(path, text, sep)
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep,
                           index_col=False)
    except pd.errors.ParserError as exc:
        line = re.search(r"line (\d+)", str(exc))
        where = f" at line {line.group(1)}" if line else ""
        raise DataError(f"{path}: not a readable CSV{where} (rows have different numbers of "
                        "fields)") from None
    except (pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV ({type(exc).__name__})") from None


def _check_fields(path: Path, text: str, sep: str) -> None:
    """No row has more fields than the header: pandas would otherwise take a row with one
    field more as having an index column and shift every column of the table by one, or
    drop the extra fields, without a word.  (A shorter row is read with empty cells.)"""
    import csv
    import io

    try:
        rows = csv.reader(io.StringIO(text), delimiter=sep)
        header = next(rows, None)
        if header is None:
            return
        for row in rows:
            if len(row) > len(header):
                raise DataError(f"{path}: not a readable CSV at line {rows.line_num} (a row of "
                                f"{len(row)} fields under a header of {len(header)}; quote "
                                "fields that contain the separator)")
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV ({type(exc).__name__})") from None
