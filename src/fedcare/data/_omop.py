"""OMOP CDM v5.4 connector: person, measurement, condition_occurrence, drug_exposure.

The tables come from a folder of CSV files (``person.csv`` ...) or from a database through
SQLAlchemy (any URL it accepts: ``sqlite:///cdm.db``, ``postgresql+psycopg://...``).
From a database only the rows whose concept ids or source values the mapping could match
are fetched (the rest are counted), so a large CDM is not read whole.

Codes: the mapping's ``omop`` concept ids are matched against ``*_concept_id`` and
``*_source_concept_id``; its other codes (LOINC, ICD-10, SNOMED, RxNorm, ATC, text)
against ``*_source_value``, where ETLs keep the site's original code.  Units come from
``[omop] units`` in the mapping, then the ``concept`` table (when present), then a
built-in table of common UCUM unit concepts, then ``unit_source_value``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fedcare.data._codes import CodeMatcher
from fedcare.data._ingest import (
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    Extract,
    Ingested,
    IngestReport,
    build,
)
from fedcare.data._mapping import Mapping
from fedcare.data._table import _rows
from fedcare.exceptions import DataError, DataNotFoundError

__all__ = ["OMOP_UNIT_CONCEPTS", "read_omop"]

#: Common UCUM unit concept ids of the OHDSI vocabulary -> UCUM code (extend or override
#: with ``[omop] units`` in the mapping).
OMOP_UNIT_CONCEPTS: dict[int, str] = {
    8840: "mg/dL", 8753: "mmol/L", 8749: "umol/L", 8713: "g/dL", 8636: "g/L",
    9529: "kg", 8504: "g", 8739: "[lb_av]", 8582: "cm", 8876: "mm[Hg]", 8541: "/min",
    8554: "%", 9573: "mmol/mol", 586323: "Cel",
}
_GENDER = {8507: "male", 8532: "female", 8521: "other", 8551: "unknown"}
#: domain -> the tables that hold it, (table, column prefix, start column, end column);
#: for conditions and drugs the era table is read only where the occurrence one is absent.
_DOMAINS: dict[str, tuple[tuple[str, str, str, str | None], ...]] = {
    "observation": (("measurement", "measurement", "measurement_date", None),
                    ("observation", "observation", "observation_date", None)),
    "condition": (("condition_occurrence", "condition", "condition_start_date",
                   "condition_end_date"),
                  ("condition_era", "condition", "condition_era_start_date",
                   "condition_era_end_date")),
    "medication": (("drug_exposure", "drug", "drug_exposure_start_date",
                    "drug_exposure_end_date"),
                   ("drug_era", "drug", "drug_era_start_date", "drug_era_end_date")),
    "visit": (("visit_occurrence", "visit", "visit_start_date", "visit_end_date"),),
}
_REQUIRED = {
    "person": ("person_id", "gender_concept_id", "year_of_birth"),
    "measurement": ("person_id", "measurement_concept_id", "measurement_date"),
    "observation": ("person_id", "observation_concept_id", "observation_date"),
    "condition_occurrence": ("person_id", "condition_concept_id", "condition_start_date"),
    "condition_era": ("person_id", "condition_concept_id", "condition_era_start_date"),
    "drug_exposure": ("person_id", "drug_concept_id", "drug_exposure_start_date"),
    "drug_era": ("person_id", "drug_concept_id", "drug_era_start_date"),
    "death": ("person_id", "death_date"),
    "visit_occurrence": ("person_id", "visit_concept_id", "visit_start_date"),
    "care_site": ("care_site_id",),
    "concept": ("concept_id", "concept_code", "vocabulary_id"),
}
_VALUES = ("value_as_number", "value_as_concept_id", "unit_concept_id", "unit_source_value",
           "value_source_value")
_OPTIONAL = {
    "person": ("month_of_birth", "day_of_birth", "birth_datetime", "care_site_id",
               "person_source_value"),
    "measurement": ("measurement_datetime", *_VALUES, "measurement_source_value",
                    "measurement_source_concept_id"),
    "observation": ("observation_datetime", *_VALUES, "value_as_string",
                    "observation_source_value", "observation_source_concept_id"),
    "condition_occurrence": ("condition_start_datetime", "condition_end_date",
                             "condition_source_value", "condition_source_concept_id"),
    "condition_era": ("condition_era_end_date",),
    "drug_exposure": ("drug_exposure_start_datetime", "drug_exposure_end_date",
                      "drug_source_value", "drug_source_concept_id"),
    "drug_era": ("drug_era_end_date",),
    "death": (),
    "visit_occurrence": ("visit_end_date", "visit_source_value", "visit_source_concept_id"),
    "care_site": ("care_site_name",),
    "concept": (),
}


class _Tables:
    """A folder of CSV files or a database, read one table at a time."""

    location: str
    default_site: str

    def has(self, table: str) -> bool:
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

    def read(self, table: str, columns: list[str],
             prefilter: dict[str, Any] | None = None) -> tuple[pd.DataFrame, int]:
        """The table's ``columns`` (as text) and how many rows the table holds."""
        raise NotImplementedError

    def where(self, table: str, pos: int) -> str:
        raise NotImplementedError

    def name(self, table: str) -> str:
        """The table as error messages name it."""
        raise NotImplementedError


class _CsvTables(_Tables):
    def __init__(self, folder: Path) -> None:
        if not folder.exists():
            raise DataNotFoundError(f"{folder}: no such folder")
        if not folder.is_dir():
            raise DataError(f"{folder}: expected a folder of OMOP CSV files (person.csv ...) "
                            "or a database URL")
        self.folder = folder
        self.location = str(folder)
        self.default_site = folder.resolve().name
        self.files = {p.name.lower().removesuffix(".csv"): p for p in folder.iterdir()
                      if p.is_file() and p.name.lower().endswith(".csv")}

    def has(self, table: str) -> bool:
        return table in self.files

    def _header(self, table: str) -> tuple[list[str], str]:
        path = self.files[table]
        try:
            with path.open(encoding="utf-8-sig") as handle:
                header = handle.readline()
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text") from None
        sep = "\t" if "\t" in header and "," not in header else ","
        return [c.strip().strip('"').lower() for c in header.rstrip("\r\n").split(sep)], sep

    def columns(self, table: str) -> list[str]:
        return self._header(table)[0]

    def read(self, table: str, columns: list[str],
             prefilter: dict[str, Any] | None = None) -> tuple[pd.DataFrame, int]:
        path = self.files[table]
        header, sep = self._header(table)
        wanted = [c for c in header if c in columns]
        try:
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                                na_values=[""], encoding="utf-8-sig",
                                usecols=lambda c: str(c).strip().lower() in wanted)
        except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
            raise DataError(f"{path}: could not be parsed as a table ({type(exc).__name__})"
                            ) from None
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        return frame, len(frame)

    def where(self, table: str, pos: int) -> str:
        return f"{self.files[table]}:{pos + 1}"  # pos = data row (1-based), +1 for the header

    def name(self, table: str) -> str:
        return str(self.files[table])


class _DbTables(_Tables):
    def __init__(self, url: str, schema: str | None) -> None:
        import sqlalchemy as sa

        try:
            parsed = sa.engine.make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            raise DataError("the --omop value is neither a folder nor a database URL "
                            "SQLAlchemy understands (e.g. sqlite:///cdm.db)") from None
        self.location = parsed.render_as_string(hide_password=True)
        database = parsed.database or ""
        if parsed.get_backend_name() == "sqlite" and database not in {"", ":memory:"} and \
                not Path(database).is_file():
            raise DataNotFoundError(f"{self.location}: no such SQLite file")
        self.default_site = Path(database).stem if database else parsed.get_backend_name()
        self.schema = schema
        try:
            self.engine = sa.create_engine(parsed)
            inspector = sa.inspect(self.engine)
            self.names = {n.lower(): n for n in inspector.get_table_names(schema=schema)}
            self._columns = {}
            for key, name in self.names.items():
                if key in _REQUIRED:
                    self._columns[key] = {c["name"].lower(): c["name"]
                                          for c in inspector.get_columns(name, schema=schema)}
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            raise DataNotFoundError(f"{self.location}: cannot read the database "
                                    f"({type(exc).__name__})") from None

    def has(self, table: str) -> bool:
        return table in self._columns

    def columns(self, table: str) -> list[str]:
        return list(self._columns[table])

    def read(self, table: str, columns: list[str],
             prefilter: dict[str, Any] | None = None) -> tuple[pd.DataFrame, int]:
        import sqlalchemy as sa

        real = self._columns[table]
        wanted = [c for c in columns if c in real]
        tab = sa.table(self.names[table], *[sa.column(real[c]) for c in real],
                       schema=self.schema)
        query = sa.select(*[tab.c[real[c]].label(c) for c in wanted])
        if prefilter is not None:
            clauses = []
            for column, ids in prefilter["ids"].items():
                if column in real and ids:
                    clauses.append(tab.c[real[column]].in_(sorted(ids)))
            value_col = prefilter["value_column"]
            if value_col in real:
                norm = sa.func.lower(sa.func.replace(tab.c[real[value_col]], ".", ""))
                if prefilter["exact"]:
                    clauses.append(norm.in_(sorted(prefilter["exact"])))
                for prefix in prefilter["prefixes"]:
                    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    clauses.append(norm.like(escaped + "%", escape="\\"))
            query = query.where(sa.or_(*clauses) if clauses else sa.false())
        try:
            with self.engine.connect() as conn:
                total = int(conn.execute(sa.select(sa.func.count()).select_from(tab)).scalar_one())
                frame = pd.read_sql(query, conn)
        except sa.exc.SQLAlchemyError as exc:
            raise DataError(f"{self.location}: reading table {table} failed "
                            f"({type(exc).__name__})") from None
        for c in frame.columns:
            frame[c] = frame[c].map(lambda v: v if v is None or (isinstance(v, float) and v != v)
                                    else str(v))
        return frame.astype(object).where(frame.notna(), None), total

    def where(self, table: str, pos: int) -> str:
        return f"{self.location} table {table} (fetched row {pos})"

    def name(self, table: str) -> str:
        return f"{self.location} table {table}"


def _numbers(frame: pd.DataFrame, column: str, place: Callable[[np.ndarray], str]
             ) -> pd.Series:
    if column not in frame:
        return pd.Series(np.nan, index=frame.index)
    col = frame[column]
    numbers = pd.to_numeric(col, errors="coerce")
    bad = (numbers.isna() & col.notna()).to_numpy()
    if bad.any():
        raise DataError(f"{place(bad)}: column '{column}' must hold numbers but "
                        f"{int(bad.sum())} value(s) do not")
    return numbers.astype(np.float64)


def _days(frame: pd.DataFrame, column: str, place: Callable[[np.ndarray], str]) -> pd.Series:
    """Whole days since 1970-01-01 of a date (or date-time) column; NaN where blank."""
    if column not in frame:
        return pd.Series(np.nan, index=frame.index)
    col = frame[column]
    text = col.astype(object).where(col.notna(), None)
    parsed = pd.to_datetime(text.map(lambda v: None if v is None else str(v)[:10]),
                            errors="coerce", format="%Y-%m-%d")
    bad = (parsed.isna() & col.notna()).to_numpy()
    if bad.any():
        raise DataError(f"{place(bad)}: column '{column}' must hold dates (YYYY-MM-DD) but "
                        f"{int(bad.sum())} value(s) do not")
    days = parsed.to_numpy(dtype="datetime64[D]").astype("int64").astype(np.float64)
    days[parsed.isna().to_numpy()] = np.nan
    return pd.Series(days, index=frame.index)


def _lenient_numbers(frame: pd.DataFrame, column: str) -> tuple[pd.Series, np.ndarray]:
    """Numbers of a column and the rows whose cell is not one (to quarantine)."""
    if column not in frame:
        return pd.Series(np.nan, index=frame.index), np.zeros(len(frame), dtype=bool)
    col = frame[column]
    numbers = pd.to_numeric(col, errors="coerce")
    return numbers.astype(np.float64), (numbers.isna() & col.notna()).to_numpy()


def _lenient_days(frame: pd.DataFrame, column: str) -> tuple[pd.Series, np.ndarray]:
    """Day numbers of a date column and the rows whose cell is not a date."""
    if column not in frame:
        return pd.Series(np.nan, index=frame.index), np.zeros(len(frame), dtype=bool)
    col = frame[column]
    text = col.astype(object).where(col.notna(), None)
    parsed = pd.to_datetime(text.map(lambda v: None if v is None else str(v)[:10]),
                            errors="coerce", format="%Y-%m-%d")
    bad = (parsed.isna() & col.notna()).to_numpy()
    days = parsed.to_numpy(dtype="datetime64[D]").astype("int64").astype(np.float64)
    days[parsed.isna().to_numpy()] = np.nan
    return pd.Series(days, index=frame.index), bad


def _birth(person: pd.DataFrame, place: Callable[[np.ndarray], str]) -> pd.Series:
    """Birth day: birth_datetime, else year/month/day (month missing: 1 July; day: 15th)."""
    year = _numbers(person, "year_of_birth", place)
    month = _numbers(person, "month_of_birth", place)
    day = _numbers(person, "day_of_birth", place)
    day = day.where(month.notna() & day.notna(), np.where(month.notna(), 15, 1))
    month = month.fillna(7)
    parts = pd.DataFrame({"year": year, "month": month, "day": day})
    ok = parts.notna().all(axis=1)
    stamps = pd.to_datetime(parts[ok].astype(int), errors="coerce")
    out = pd.Series(np.nan, index=person.index)
    out[ok] = ((stamps - pd.Timestamp("1970-01-01")).dt.days).astype(np.float64)
    if "birth_datetime" in person:
        exact = _days(person, "birth_datetime", place)
        out = exact.where(exact.notna(), out)
    return out


def _units(tables: _Tables, mapping: Mapping, report: IngestReport) -> dict[str, str]:
    units = {str(k): v for k, v in OMOP_UNIT_CONCEPTS.items()}
    if tables.has("concept"):
        concept, _ = tables.read("concept", ["concept_id", "concept_code", "vocabulary_id"])
        ucum = concept[concept["vocabulary_id"].astype(str).str.upper() == "UCUM"]
        for cid, code in zip(ucum["concept_id"], ucum["concept_code"], strict=True):
            units[str(cid).strip()] = str(code)
        report.files += 1
    units.update(mapping.omop.units)
    return units


def read_omop(source: str | Path, mapping: Mapping) -> Ingested:
    """Read OMOP CDM v5.4 tables into the flat table and a :class:`Cohort`.

    Parameters
    ----------
    source : str or Path
        A folder of CSV files named after the tables (``person.csv``,
        ``measurement.csv``, ``condition_occurrence.csv``, ``drug_exposure.csv``,
        optionally ``care_site.csv`` and ``concept.csv``), or a SQLAlchemy database URL
        (``sqlite:///cdm.db``); ``[omop] schema`` in the mapping names its schema.
    mapping : Mapping
        From :func:`load_mapping`.  ``[site] omop = "care_site"`` (default) names each
        person's site by ``care_site.care_site_name``; ``"database"`` uses ``[site] name``
        (default: the folder or database name).

    Returns
    -------
    Ingested
        The flat frame, the cohort and the report (``records`` = rows in the tables read).

    Raises
    ------
    DataNotFoundError
        No such folder or SQLite file, a database that cannot be read, or a table the
        mapping needs is missing.
    DataError
        A required column is missing, ids, numbers or dates that do not parse (table,
        column and rows named), a feature whose codes never occur; :class:`UnitError`
        for a unit that cannot be converted.
    """
    started = time.perf_counter()
    text = str(source)
    tables: _Tables = (_DbTables(text, mapping.omop.schema_) if "://" in text
                       else _CsvTables(Path(source)))
    matcher = CodeMatcher(mapping)
    if not tables.has("person"):
        raise DataNotFoundError(f"{tables.location}: OMOP table 'person' not found "
                                f"(needed by the mapping {mapping.source})")
    domains = list(dict.fromkeys(t.domain for t in mapping.targets))
    chosen: dict[str, list[tuple[str, str, str, str | None]]] = {}
    for domain in domains:
        options = _DOMAINS[domain]
        available = [o for o in options if tables.has(o[0])]
        if domain != "observation":  # an era table only where the occurrences are absent
            available = available[:1]
        if not available:
            wanted = " or ".join(f"'{o[0]}'" for o in options)
            raise DataNotFoundError(f"{tables.location}: OMOP table {wanted} not found "
                                    f"(needed by the mapping {mapping.source})")
        chosen[domain] = available
    needed = ["person"] + [o[0] for d in domains for o in chosen[d]]
    if tables.has("death"):
        needed.append("death")
    for table in needed:
        present = set(tables.columns(table))
        for column in _REQUIRED[table]:
            if column not in present:
                raise DataError(f"{tables.location}: table '{table}' has no column "
                                f"'{column}' (OMOP CDM v5.4)")
    report = IngestReport(source="omop", location=tables.location)
    files: list[str] = []

    def place_of(table: str) -> Callable[[np.ndarray], str]:
        return lambda mask: f"{tables.name(table)} ({_rows(mask)})"

    # -- persons and sites
    person, total = tables.read("person", [*_REQUIRED["person"], *_OPTIONAL["person"]])
    report.files += 1
    report.by_type["person"] = total
    place = place_of("person")
    pid = _numbers(person, "person_id", place)
    if pid.isna().any():
        raise DataError(f"{place(pid.isna().to_numpy())}: person_id is empty")
    gender = _numbers(person, "gender_concept_id", place)
    if mapping.site.name is not None or mapping.site.omop == "database":
        sites = pd.Series(mapping.site_name(tables.default_site), index=person.index)
    else:
        care = _numbers(person, "care_site_id", place)
        names: dict[float, str] = {}
        if tables.has("care_site"):
            care_site, n = tables.read("care_site", ["care_site_id", "care_site_name"])
            report.files += 1
            report.by_type["care_site"] = n
            site_ids = _numbers(care_site, "care_site_id", place_of("care_site"))
            label = care_site.get("care_site_name", pd.Series(None, index=care_site.index))
            for cid, name in zip(site_ids, label, strict=True):
                names[cid] = str(name) if name is not None and name == name else f"{cid:.0f}"
        sites = care.map(lambda c: None if c != c else mapping.site_name(
            names.get(c, f"care_site {c:.0f}")))
    files.append("person")
    death = pd.Series(np.nan, index=person.index)
    if tables.has("death"):
        deaths, n = tables.read("death", list(_REQUIRED["death"]))
        report.files += 1
        report.by_type["death"] = n
        files.append("death")
        who, bad_who = _lenient_numbers(deaths, "person_id")
        when, bad_when = _lenient_days(deaths, "death_date")
        bad = bad_who | bad_when | who.isna().to_numpy()
        _quarantine_rows(report, "death: person_id or death_date not readable", bad,
                         lambda i: tables.where("death", i + 1))
        # a death row without a date: dead, date unknown (+inf)
        days = when.where(when.notna(), np.inf)[~bad]
        first = days.groupby(who[~bad].to_numpy()).min()
        death = pid.map(first).astype(np.float64)
    ident = None
    link = mapping.model.link
    if link is not None:
        source_ids = person.get("person_source_value", pd.Series(None, index=person.index))
        ident = source_ids.where(source_ids.notna(), pid.map(lambda v: f"{v:.0f}"))
    patients = pd.DataFrame({
        "key": "\x1f" + pid.map(lambda v: f"{v:.0f}"),
        "pid": pid.map(lambda v: f"{v:.0f}"),
        "site": sites,
        "birth": _birth(person, place),
        "sex": gender.map(lambda g: _GENDER.get(int(g)) if g == g else None),
        "file": 0,
        "pos": np.arange(1, len(person) + 1),
        "death": death.to_numpy(dtype=np.float64),
        "ident": None if ident is None else ident.to_numpy(dtype=object),
    })[list(PATIENT_COLUMNS)]
    # -- events
    units = _units(tables, mapping, report) if "observation" in domains else {}
    events = [pd.DataFrame({c: [] for c in EVENT_COLUMNS})]
    for domain in domains:
        for table, prefix, start_col, end_col in chosen[domain]:
            files.append(table)
            events.append(_events(tables, table, prefix, start_col, end_col, domain,
                                  len(files) - 1, matcher, mapping, units, report))
    report.records = sum(report.by_type.values())
    extract = Extract(patients=patients, events=pd.concat(events, ignore_index=True),
                      report=report, where=lambda f, p: tables.where(files[f], p), record="row")
    return build(extract, mapping, matcher, started=started)


def _quarantine_rows(report: IngestReport, reason: str, bad: np.ndarray,
                     where: Callable[[int], str]) -> None:
    if bad.any():
        report.quarantine(reason, int(bad.sum()), where(int(np.flatnonzero(bad)[0])))


def _events(tables: _Tables, table: str, prefix: str, start_col: str, end_col: str | None,
            domain: str, file_index: int, matcher: CodeMatcher, mapping: Mapping,
            units: dict[str, str], report: IngestReport) -> pd.DataFrame:
    """The events of one OMOP table: rows a target matches, bad rows quarantined."""
    exact, prefixes = matcher.source_patterns(domain)
    ids = matcher.omop_ids(domain)
    prefilter = {
        "ids": {f"{prefix}_concept_id": ids, f"{prefix}_source_concept_id": ids},
        "value_column": f"{prefix}_source_value",
        "exact": {e.replace(".", "").lower() for e in exact}
        if mapping.omop.source_values else set(),
        "prefixes": [p.replace(".", "").lower() for p in prefixes]
        if mapping.omop.source_values else [],
    }
    frame, total = tables.read(table, [*_REQUIRED[table], *_OPTIONAL[table]], prefilter)
    report.files += 1
    report.by_type[table] = total
    matched = _match(frame, domain, prefix, matcher, mapping.omop.source_values)
    report.unmapped[table] = total - int(frame.index.isin(matched["row"]).sum()) \
        if len(frame) else total
    rows = frame.loc[matched["row"].to_numpy()]
    targets = matched["target"].to_numpy()
    positions = matched["row"].to_numpy()

    def where(i: int) -> str:
        return tables.where(table, int(positions[i]) + 1)

    start, bad_start = _lenient_days(rows, start_col)
    bad_start = bad_start | start.isna().to_numpy()
    _quarantine_rows(report, f"{table}: {start_col} not a date", bad_start, where)
    end, bad = (_lenient_days(rows, end_col) if end_col is not None
                else (start, np.zeros(len(rows), dtype=bool)))
    until = pd.Series(np.inf, index=rows.index)
    if domain == "condition":  # a condition's end date: the day it ended
        until = end.where(end.notna() & ~bad, np.inf)
        end = start
    if domain != "visit":  # a visit without an end date is still going on
        end = end.where(end.notna() & ~bad, start)
    person_ids, bad_person = _lenient_numbers(rows, "person_id")
    bad_person = bad_person | person_ids.isna().to_numpy()
    _quarantine_rows(report, f"{table}: person_id not a number", bad_person & ~bad_start, where)
    dropped = bad_start | bad_person
    value = pd.Series(np.nan, index=rows.index)
    unit = pd.Series(None, index=rows.index, dtype=object)
    if domain == "observation":
        value, bad_value = _lenient_numbers(rows, "value_as_number")
        _quarantine_rows(report, f"{table}: value_as_number not a number",
                         bad_value & ~dropped, where)
        dropped = dropped | bad_value
        unit_ids = rows.get("unit_concept_id", pd.Series(None, index=rows.index))
        by_concept = unit_ids.map(lambda u: None if u is None or u != u
                                  else units.get(str(u).strip().split(".")[0]))
        raw = rows.get("unit_source_value", pd.Series(None, index=rows.index))
        unknown = unit_ids.map(lambda u: None if u is None or u != u or
                               str(u).strip() in {"", "0"} else f"unit_concept_id {u}")
        unit = by_concept.where(by_concept.notna(), raw.where(raw.notna(), unknown))
        answer = np.array([matcher.is_answer(t) for t in targets], dtype=bool)
        if answer.any():
            value = value.copy()
            value[answer] = _answers(rows[answer], targets[answer], matcher, report, table)
            unit = unit.copy()
            unit[answer] = None
    keep = ~dropped
    return pd.DataFrame({
        "key": "\x1f" + person_ids[keep].map(lambda v: f"{v:.0f}").to_numpy(),
        "target": targets[keep],
        "start": start[keep].to_numpy(), "end": end[keep].to_numpy(),
        "value": value[keep].to_numpy(), "unit": unit[keep].to_numpy(dtype=object),
        "file": file_index, "pos": positions[keep] + 1,
        "until": until[keep].to_numpy(dtype=np.float64),
    })


def _answers(rows: pd.DataFrame, targets: np.ndarray, matcher: CodeMatcher,
             report: IngestReport, table: str) -> np.ndarray:
    """Level indexes of coded answers: value_as_concept_id, value_source_value, string."""
    out = np.full(len(rows), np.nan)
    columns = [("omop", "value_as_concept_id"), ("source", "value_source_value"),
               ("text", "value_as_string")]
    unmapped = 0
    for i, target in enumerate(targets):
        row = rows.iloc[i]
        seen = False
        for system, column in columns:
            cell = row.get(column)
            if cell is None or cell != cell or not str(cell).strip() or \
                    (system == "omop" and str(cell).strip().split(".")[0] in {"", "0"}):
                continue
            seen = True
            text = str(cell).strip()
            level = (matcher.answer(target, "omop", text.split(".")[0]) if system == "omop"
                     else matcher.answer_source_value(target, text) if system == "source"
                     else matcher.answer(target, "text", text))
            if level is not None:
                out[i] = level
                break
        unmapped += int(seen and out[i] != out[i])
    if unmapped:
        report.unmapped[f"{table} answer"] = report.unmapped.get(f"{table} answer", 0) + unmapped
    return out


def _match(frame: pd.DataFrame, domain: str, prefix: str, matcher: CodeMatcher,
           source_values: bool) -> pd.DataFrame:
    """``(row, target)`` for every row of ``frame`` a mapping target matches."""
    cols = [c for c in (f"{prefix}_concept_id", f"{prefix}_source_concept_id",
                        f"{prefix}_source_value") if c in frame]
    if frame.empty:
        return pd.DataFrame({"row": np.array([], dtype=np.int64), "target": []})
    keys = frame[cols[0]].fillna("").astype(str)
    for c in cols[1:]:
        keys = keys + "\x1f" + frame[c].fillna("").astype(str)
    codes, uniques = pd.factorize(keys)
    lookup_u: list[int] = []
    lookup_t: list[str] = []
    for u, key in enumerate(uniques):
        parts = dict(zip(cols, str(key).split("\x1f"), strict=True))
        hits: list[str] = []
        for c in cols:
            if c.endswith("_concept_id"):
                value = parts.get(c, "").strip().split(".")[0]
                if value and value != "0":
                    hits.extend(matcher.match(domain, "omop", value))
        value = parts.get(f"{prefix}_source_value", "").strip()
        if source_values and value:
            hits.extend(matcher.match_source_value(domain, value))
        for target in dict.fromkeys(hits):
            lookup_u.append(u)
            lookup_t.append(target)
    rows = pd.DataFrame({"u": codes, "row": np.arange(len(frame))})
    found = rows.merge(pd.DataFrame({"u": lookup_u, "target": lookup_t}), on="u")
    return found.sort_values(["row", "target"], kind="stable")[["row", "target"]]
