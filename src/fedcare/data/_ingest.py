"""From records (FHIR resources, OMOP rows, CSV rows) to one flat row per patient.

Every connector extracts the same two tables: *patients* (key, site, birth date, sex)
and *events* (patient key, the feature or label it feeds, start and end day, value and
unit).  :func:`build` does the rest the same way for all of them: unit conversion to the
declared UCUM unit, index dates, windows, aggregation, age and sex, the label, and the
validated :class:`Cohort`.  Dates are whole days since 1970-01-01 (floats, NaN = none).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fedcare.data._codes import CodeMatcher
from fedcare.data._cohort import Cohort, level_of
from fedcare.data._mapping import Mapping
from fedcare.data._mapping_spec import (
    AgeFeature,
    AnswerFeature,
    ColumnLabel,
    ConditionLabel,
    ObservationFeature,
    ObservationLabel,
    SexFeature,
)
from fedcare.data._table import _did_you_mean, _rows, cohort_from_frame, read_frame
from fedcare.data._units import AnalyteUnknown, UnitError, convert, normalise_unit
from fedcare.exceptions import ConfigError, DataError

__all__ = ["IngestReport", "Ingested", "read_mapped_table"]

EPOCH = dt.date(1970, 1, 1).toordinal()
#: ``death``: day of death (NaN: not known dead; +inf: dead, date unknown); ``ident``: the
#: identifier a ``[link]`` pseudonym is made from (None when not asked for).
PATIENT_COLUMNS = ("key", "pid", "site", "birth", "sex", "file", "pos", "death", "ident")
#: ``until``: the day a condition ended (+inf: not ended; -inf: over, date unknown).
EVENT_COLUMNS = ("key", "target", "start", "end", "value", "unit", "file", "pos", "until")


def day_of(value: object) -> float:
    """Days since 1970-01-01 of a FHIR/OMOP date, datetime or partial date string.

    A datetime counts on its own (local) calendar day; a year alone is 1 July of that
    year, a year and month the 15th; anything else is NaN.
    """
    if isinstance(value, dt.datetime):
        return float(value.date().toordinal() - EPOCH)
    if isinstance(value, dt.date):
        return float(value.toordinal() - EPOCH)
    if isinstance(value, str):
        parts = value.strip()[:10].split("-")
        try:
            if len(parts) == 1 and len(parts[0]) == 4:
                return float(dt.date(int(parts[0]), 7, 1).toordinal() - EPOCH)
            if len(parts) == 2:
                return float(dt.date(int(parts[0]), int(parts[1]), 15).toordinal() - EPOCH)
            if len(parts) == 3:
                return float(dt.date(int(parts[0]), int(parts[1]), int(parts[2])).toordinal()
                             - EPOCH)
        except ValueError:
            return float("nan")
    return float("nan")


@dataclass
class IngestReport:
    """What an import read, used, skipped and how fast (counts only, never values).

    Attributes
    ----------
    source : str
        ``fhir``, ``omop`` or ``csv``.
    location : str
        The folder, file or database read (passwords hidden).
    files : int
        Files read (tables for a database).
    records : int
        FHIR resources, OMOP rows or CSV rows read.
    by_type : dict
        Records read per resource type or table.
    patients : int
        Patients read.
    rows : int
        Rows of the cohort (patients with every feature).
    sites : list of str
        Sites of the cohort.
    dropped : dict
        Per site, patients left out because a feature was missing.
    unmapped : dict
        Per resource type or table, records whose codes the mapping does not name.
    ignored : dict
        Per resource type, records of types no feature uses (Encounter ...).
    excluded : dict
        Records left out on purpose (``Observation entered-in-error`` ...).
    undated, unlinked, no_value, no_index : int
        Matched records without a usable date, records whose subject is not a patient
        read, measurements without a number, patients without an index date.
    quarantined, quarantine_at : dict
        Records left out because they failed validation, have no unit or a unit that
        cannot be converted: per reason, how many and where the first one is (never a
        value).  The import fails past ``max_bad_fraction`` of the records read.
    zoned : int
        Timestamps without a time zone read in the site's declared zone.
    died_before_index, censored_by_death : dict
        Per site, patients left out because they died before the index date, and
        patients left out because they died in the label window without the event.
    deceased_no_date : int
        Patients recorded as deceased without a date (kept).
    no_link_id : int
        Patients without the identifier a ``[link]`` pseudonym is made of.
    converted : dict
        Per feature, per source unit, how many values were converted.
    conversions : list of dict
        Each conversion by analyte: feature, analyte, from and to unit, count, the rule
        (unit dimensions, molar mass, IFCC master equation) and what decided the analyte
        (declared in the mapping, a LOINC code, an OMOP concept id).
    seconds : float
        Wall-clock time of the whole import.
    """

    source: str
    location: str
    files: int = 0
    records: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    patients: int = 0
    rows: int = 0
    sites: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    undated: int = 0
    unlinked: int = 0
    no_value: int = 0
    no_index: int = 0
    converted: dict[str, dict[str, int]] = field(default_factory=dict)
    conversions: list[dict[str, object]] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)
    quarantine_at: dict[str, str] = field(default_factory=dict)
    zoned: int = 0
    died_before_index: dict[str, int] = field(default_factory=dict)
    censored_by_death: dict[str, int] = field(default_factory=dict)
    deceased_no_date: int = 0
    no_link_id: int = 0
    seconds: float = 0.0

    def quarantine(self, reason: str, n: int, where: str) -> None:
        """Count ``n`` records left out for ``reason`` (first seen at ``where``)."""
        if n:
            self.quarantined[reason] = self.quarantined.get(reason, 0) + n
            self.quarantine_at.setdefault(reason, where)

    @property
    def bad(self) -> int:
        """Records left out because they failed validation or had no usable unit."""
        return sum(self.quarantined.values())

    def add_conversion(self, feature: str, spec: Any, unit: str, target: str, n: int
                       ) -> None:
        """Count ``n`` values of ``feature`` converted from ``unit`` to ``target``."""
        self.converted.setdefault(feature, {})[unit] = n
        quantity, decided = (spec.quantity_source(feature)
                             if hasattr(spec, "quantity_source") else (None, "unknown"))
        src, dst = normalise_unit(unit), normalise_unit(target)
        if quantity is not None and quantity.name == "hba1c" and {src, dst} == {"%", "mmol/mol"}:
            rule = "IFCC master equation (NGSP % = 0.09148 x mmol/mol + 2.152)"
        elif quantity is not None and quantity.molar_mass is not None and \
                ("mol" in src) != ("mol" in dst):
            rule = f"molar mass {quantity.molar_mass:g} g/mol"
        else:
            rule = "unit dimensions"
        self.conversions.append({
            "feature": feature, "analyte": quantity.name if quantity is not None else "-",
            "from": src, "to": dst, "values": n, "rule": rule, "analyte_from": decided})

    @property
    def records_per_second(self) -> float:
        """Records read per second of wall-clock time."""
        return self.records / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready copy (counts only)."""
        out = {k: v for k, v in self.__dict__.items()}
        out["records_per_second"] = self.records_per_second
        return out


@dataclass
class Ingested:
    """The result of an import: the flat table, its cohort and the report.

    Attributes
    ----------
    frame : DataFrame
        One row per patient read (before dropping incomplete rows): the site column,
        the features in mapping order and the label; the index holds patient ids.
    cohort : Cohort
        The validated, encoded cohort (incomplete rows dropped and counted).
    report : IngestReport
    """

    frame: pd.DataFrame
    _cohort: Cohort | None
    report: IngestReport
    problem: DataError | None = None
    """Why the flat table does not make a usable cohort (e.g. after dropping rows with a
    missing value one class is left); the frame is still valid to write."""

    @property
    def cohort(self) -> Cohort:
        """The cohort; raises the :class:`DataError` that kept it from being built."""
        if self._cohort is None:
            assert self.problem is not None
            raise self.problem
        return self._cohort


@dataclass
class Extract:
    """What a connector hands to :func:`build` (see the module docstring)."""

    patients: pd.DataFrame
    events: pd.DataFrame
    report: IngestReport
    where: Callable[[int, int], str]
    record: str = "record"


def frame_of(columns: Iterable[str], data: dict[str, list[Any]]) -> pd.DataFrame:
    """A DataFrame with ``columns`` from column lists (float columns as float64)."""
    out = pd.DataFrame({c: data[c] for c in columns})
    for c in ("birth", "start", "end", "value", "until", "death"):
        if c in out:
            out[c] = out[c].astype(np.float64)
    return out


def natural_key(values: pd.Series) -> pd.Series:
    """Sort key for ids: numbers numerically, then text (``2`` before ``10``)."""
    text = values.astype(str)
    numeric = pd.to_numeric(text.where(text.str.fullmatch(r"\d{1,15}")), errors="coerce")
    return numeric.fillna(np.inf).astype(str).str.zfill(24).where(numeric.notna(),
                                                                 "~" + text)


def _count_resources(frame: pd.DataFrame) -> int:
    return int(frame[["file", "pos"]].drop_duplicates().shape[0]) if len(frame) else 0


def _systematic(ev: pd.DataFrame, positions: np.ndarray, name: str, sites: pd.Series,
                where: str, exc: UnitError) -> None:
    """Refuse a unit problem that is a site's practice, not a few bad records.

    When a unit fedcare cannot use holds at least 5 of a feature's values and most of
    them at some site, the mapping has to say what the unit is (``[omop] units``, a
    site's unit): leaving them out would silently empty the feature there.
    """
    site_of = ev["key"].map(sites)
    mine = site_of.iloc[positions].value_counts()
    total = site_of[ev["target"] == name].value_counts()
    for site, n in mine.items():
        if n >= 5 and n > 0.5 * total.get(site, n):
            raise UnitError(f"{where}: {exc} ({n} of site {site}'s {total.get(site, n)} "
                            f"value(s) of '{name}' are in this unit: declare what it is "
                            "rather than leaving them out)") from None


def _convert_units(ev: pd.DataFrame, mapping: Mapping, extract: Extract) -> pd.DataFrame:
    """Convert measured values to each target's declared unit (in place of ``value``).

    Values without a unit, or in a unit that is not UCUM or not of the declared kind,
    are left out and counted (quarantined); a conversion that depends on an analyte
    fedcare cannot tell is refused (:class:`AnalyteUnknown`).
    """
    measured = {t.name: t.spec for t in mapping.targets
                if t.domain == "observation" and hasattr(t.spec, "unit")}
    rows = ev[ev["target"].isin(list(measured))]
    if rows.empty:
        return ev
    values = ev["value"].to_numpy(copy=True)
    pats = extract.patients
    sites = pd.Series(pats["site"].to_numpy(), index=pats["key"].to_numpy())
    sites = sites[~sites.index.duplicated()]
    units = rows["unit"].astype(object).where(rows["unit"].notna(), "")
    groups = rows.groupby([rows["target"], units], sort=True).groups
    bad = np.zeros(len(ev), dtype=bool)
    report = extract.report
    for group, index in groups.items():
        name, unit = str(group[0]), str(group[1])  # type: ignore[index]
        spec = measured[str(name)]
        positions = ev.index.get_indexer(index)
        first = rows.loc[index[0]]
        where = extract.where(int(first["file"]), int(first["pos"]))
        if not str(unit).strip():
            bad[positions] = True
            report.quarantine(f"no unit ({name})", _count_resources(ev.iloc[positions]),
                              where)
            continue
        if normalise_unit(str(unit)) == spec.unit:
            continue
        try:
            with np.errstate(all="ignore"):  # pint's trial of a molar-mass context
                values[positions] = convert(values[positions], str(unit), spec.unit,
                                            quantity=spec.resolved_quantity(str(name)),
                                            feature=str(name))
        except AnalyteUnknown as exc:
            raise AnalyteUnknown(f"{where}: {exc} ({len(index)} value(s) in this unit)"
                                 ) from None
        except UnitError as exc:
            _systematic(ev, positions, str(name), sites, where, exc)
            bad[positions] = True
            report.quarantine(f"unit '{unit}' not convertible to {spec.unit} ({name})",
                              _count_resources(ev.iloc[positions]), where)
            continue
        report.add_conversion(str(name), spec, str(unit), spec.unit, len(index))
    ev = ev.copy()
    ev["value"] = values
    return ev[~bad].reset_index(drop=True)


def _index_days(ev: pd.DataFrame, keys: pd.Series, mapping: Mapping) -> pd.Series:
    index = mapping.index
    if index is None:
        return pd.Series(np.nan, index=keys.to_numpy())
    if index.date is not None:
        return pd.Series(float(index.date.toordinal() - EPOCH), index=keys.to_numpy())
    anchor = ev[ev["target"] == index.feature].groupby("key")["start"]
    days = anchor.min() if index.which == "first" else anchor.max()
    return days.reindex(keys.to_numpy())


def _aggregate(ev: pd.DataFrame, spec: Any, domain: str) -> pd.Series:
    """One value per patient key (patients without any event are absent)."""
    ev = ev[ev["idx"].notna()]
    if getattr(spec, "active_at_index", False):
        # onset on or before the index date, not ended before it
        ev = ev[(ev["start"] <= ev["idx"]) & (ev["until"] >= ev["idx"])]
        return pd.Series(1.0, index=ev["key"].unique())
    lo, hi = spec.window(domain)
    rel_start = ev["start"] - ev["idx"]
    rel_end = ev["end"] - ev["idx"]
    inside = rel_start <= hi
    if lo is not None:
        inside &= rel_end.fillna(np.inf) >= lo
    ev = ev[inside]
    if domain == "visit":
        if spec.aggregate == "count":
            return ev.groupby("key", sort=False).size().astype(np.float64)
        # days inside the window; a visit without an end runs to the window's end
        first = ev["start"] if lo is None else np.maximum(ev["start"], ev["idx"] + lo)
        last = np.minimum(ev["end"].fillna(np.inf), ev["idx"] + hi)
        days = (last - first + 1).clip(lower=0)
        return days.groupby(ev["key"], sort=False).sum().astype(np.float64)
    if domain != "observation":
        return pd.Series(1.0, index=ev["key"].unique())
    how = spec.aggregate
    if how in {"last", "first"}:
        ordered = ev.sort_values(["key", "start", "value"], kind="stable")
        grouped = ordered.groupby("key", sort=False)["value"]
        values = grouped.last() if how == "last" else grouped.first()
    else:
        values = ev.groupby("key", sort=False)["value"].agg(how)
    if getattr(spec, "above", None) is not None:
        return (values > spec.above).astype(np.float64)
    if getattr(spec, "below", None) is not None:
        return (values < spec.below).astype(np.float64)
    return values


def _age(birth: pd.Series, idx: pd.Series) -> pd.Series:
    """Completed years between two day numbers (NaN where either is missing)."""
    ok = birth.notna() & idx.notna()
    out = pd.Series(np.nan, index=birth.index)
    if ok.any():
        b = pd.to_datetime(birth[ok], unit="D")
        i = pd.to_datetime(idx[ok], unit="D")
        before = (i.dt.month < b.dt.month) | ((i.dt.month == b.dt.month) & (i.dt.day < b.dt.day))
        out[ok] = (i.dt.year - b.dt.year - before.astype(int)).astype(np.float64)
    return out


def _integer_columns(frame: pd.DataFrame, names: Iterable[str]) -> None:
    for name in names:
        col = frame[name]
        if pd.api.types.is_float_dtype(col) and (col.dropna() % 1 == 0).all():
            frame[name] = col.astype("Int64")


def build(extract: Extract, mapping: Mapping, matcher: CodeMatcher, *, started: float
          ) -> Ingested:
    """Turn a connector's :class:`Extract` into the flat frame and the cohort."""
    report = extract.report
    pats = extract.patients
    if isinstance(mapping.label, ColumnLabel):
        raise ConfigError(f"{mapping.source}: label.source = 'column' works only with the "
                          "CSV connector; define the label by condition or observation codes")
    _check_bad(report, mapping)  # records quarantined while parsing
    if pats.empty:
        raise DataError(f"{report.location}: no Patient records found "
                        f"({report.records} {extract.record}s read)")
    dup = pats["key"].duplicated(keep=False).to_numpy()
    if dup.any():
        shown = pats[dup].head(2)
        places = " and ".join(extract.where(int(f), int(p))
                              for f, p in zip(shown["file"], shown["pos"], strict=True))
        raise DataError(f"{places}: {int(dup.sum())} patient records share an id within one "
                        "site; each patient must be recorded once")
    blank = pats["site"].isna() | (pats["site"].astype(str).str.strip() == "")
    if blank.any():
        first = pats[blank].iloc[0]
        raise DataError(f"{extract.where(int(first['file']), int(first['pos']))}: "
                        f"{int(blank.sum())} patient(s) have no site (site.{_site_mode(report)}); "
                        "set [site] name or rename in the mapping")
    ev = extract.events
    for target in mapping.targets:
        if not (ev["target"] == target.name).any():
            what = "label" if target.is_label else "feature"
            codes = ", ".join(matcher.codes_of[target.name][:6])
            raise DataError(
                f"{mapping.source}: {what} '{target.name}': none of its codes ({codes}) occur "
                f"in the {report.records} {extract.record}s read from {report.location}; "
                "check the codes and their code systems")
    linked = ev["key"].isin(pats["key"])
    report.unlinked = _count_resources(ev[~linked])
    ev = ev[linked]
    dated = ev["start"].notna()
    report.undated = _count_resources(ev[~dated])
    ev = ev[dated]
    measured = ev["target"].isin([t.name for t in mapping.targets if t.domain == "observation"])
    no_value = measured & ev["value"].isna()
    report.no_value = _count_resources(ev[no_value])
    ev = ev[~no_value].reset_index(drop=True)
    ev = _convert_units(ev, mapping, extract)
    _check_bad(report, mapping)
    keys = pats["key"]
    idx = _index_days(ev, keys, mapping)
    report.no_index = int(idx.isna().sum())
    death = pd.Series(pats["death"].to_numpy(dtype=np.float64), index=keys.to_numpy())
    report.deceased_no_date = int(np.isinf(death.to_numpy()).sum())
    if mapping.index is not None and mapping.index.died_before == "exclude":
        died = (death < idx).to_numpy()  # NaN (alive) and +inf (date unknown) never are
        if died.any():
            report.died_before_index = {str(k): int(v) for k, v in
                                        pats.loc[died, "site"].value_counts().items()}
            pats = pats[~died]
            keys = pats["key"]
            idx = idx[~died]
            death = death[~died]
    ev = ev.assign(idx=ev["key"].map(idx))
    by_target = dict(tuple(ev.groupby("target", sort=False)))
    columns: dict[str, pd.Series] = {}
    idx_by_row = pd.Series(idx.to_numpy(), index=keys.index)
    has_index = idx_by_row.notna().to_numpy()
    for name, spec in mapping.features.items():
        if isinstance(spec, AgeFeature):
            col = _age(pats["birth"], idx_by_row)
        elif isinstance(spec, SexFeature):
            col = pats["sex"].map(spec.levels)
        else:
            part = by_target.get(name, ev.iloc[:0])
            domain = "observation" if isinstance(spec, AnswerFeature) else spec.source
            values = _aggregate(part, spec, domain).reindex(keys.to_numpy())
            col = pd.Series(values.to_numpy(), index=keys.index)
            if isinstance(spec, AnswerFeature):
                col = col.map(dict(enumerate(spec.levels)).get)
            elif spec.source != "observation":
                col = col.fillna(0.0)
        columns[name] = col.where(has_index) if mapping.index is not None else col
    label = mapping.label
    part = by_target.get(label.name, ev.iloc[:0])
    y = _aggregate(part, label, label.source).reindex(keys.to_numpy())
    label_col = pd.Series(y.to_numpy(), index=keys.index)
    if isinstance(label, ConditionLabel):
        label_col = label_col.fillna(0.0)
    censored = np.zeros(len(pats), dtype=bool)
    if isinstance(label, ConditionLabel | ObservationLabel):
        lo, hi = label.window(label.source)
        rel = (death - idx).to_numpy()
        in_window = (rel <= hi) & (rel >= (lo if lo is not None else -np.inf))
        no_event = (label_col.fillna(0.0) == 0).to_numpy()
        if label.death == "event":
            label_col[in_window] = 1.0
        elif label.death == "no-event":
            label_col[in_window & label_col.isna().to_numpy()] = 0.0
        else:
            censored = in_window & no_event
    frame = pd.DataFrame({mapping.site.column: pats["site"].astype(str), **columns,
                          label.name: label_col})
    frame.index = pd.Index(pats["pid"].astype(str), name="patient_id")
    link = mapping.model.link
    if link is not None:
        pseudonyms = pseudonymise(pats["ident"], link.key_env, mapping.source)
        report.no_link_id = int(pseudonyms.isna().sum())
        frame.insert(1, link.column, pseudonyms.to_numpy())
    if censored.any():
        report.censored_by_death = {str(k): int(v) for k, v in
                                    frame.loc[censored, mapping.site.column]
                                    .value_counts().items()}
        frame = frame[~censored]
    # A threshold label without any measurement in its window is unknown: such rows go.
    unknown = frame[label.name].isna()
    if isinstance(label, ObservationLabel) and unknown.any():
        report.excluded["no label measurement in window"] = int(unknown.sum())
        frame = frame[~unknown]
    frame = _sorted(frame, mapping.site.column)
    schema = mapping.schema()
    _integer_columns(frame, [f.name for f in schema.features if f.kind == "binary"]
                     + [n for n, s in mapping.features.items() if isinstance(s, AgeFeature)]
                     + [label.name])
    table = frame.drop(columns=[link.column]) if link is not None else frame
    report.patients = len(extract.patients)
    return _finish(frame, table, schema, mapping, report, started)


def _finish(frame: pd.DataFrame, table: pd.DataFrame, schema: Any, mapping: Mapping,
            report: IngestReport, started: float) -> Ingested:
    """The cohort of ``table`` when it makes one; the frame and report either way."""
    try:
        cohort = cohort_from_frame(table.reset_index(drop=True),
                                   site_column=schema.site_column, target=schema.target,
                                   schema=schema, missing=mapping.missing,
                                   source=report.location)
    except DataError as exc:
        report.seconds = time.perf_counter() - started
        return Ingested(frame=frame, _cohort=None, report=report, problem=exc)
    report.rows = len(cohort)
    report.sites = cohort.sites
    report.dropped = dict(cohort.dropped)
    report.seconds = time.perf_counter() - started
    return Ingested(frame=frame, _cohort=cohort, report=report)


def _check_bad(report: IngestReport, mapping: Mapping) -> None:
    """Fail when more than ``max_bad_fraction`` of the records read were left out."""
    bad, total = report.bad, max(report.records, 1)
    if bad <= mapping.max_bad_fraction * total:
        return
    worst = sorted(report.quarantined.items(), key=lambda kv: -kv[1])[:3]
    reasons = "; ".join(f"{reason}: {n} (first at {report.quarantine_at.get(reason, '?')})"
                        for reason, n in worst)
    raise DataError(f"{report.location}: {bad} of {report.records} records "
                    f"({bad / total:.1%}) failed validation or have no usable unit, more "
                    f"than max_bad_fraction = {mapping.max_bad_fraction:g} allows: {reasons}. "
                    "Fix the export, or raise max_bad_fraction in the mapping "
                    "(--max-bad-fraction) to import without them")


def pseudonymise(values: pd.Series, key_env: str, source: str) -> pd.Series:
    """Keyed HMAC-SHA256 pseudonyms of identifiers (trimmed, upper-cased); NaN if none.

    The key is the study's secret, read from the environment variable ``key_env`` (at
    least 32 bytes): parties that share it get the same pseudonym for the same person,
    and nobody without it can recompute or reverse one.
    """
    import hmac
    import os

    secret = os.environ.get(key_env, "")
    if len(secret.encode()) < 32:
        raise ConfigError(f"{source}: [link] needs the study's secret key (at least 32 bytes) "
                          f"in the environment variable {key_env}"
                          + (" (it is shorter)" if secret else " (it is not set)"))
    key = secret.encode()

    def one(value: Any) -> Any:
        if value is None or (isinstance(value, float) and value != value):
            return np.nan
        text = str(value).strip().upper()
        if not text:
            return np.nan
        return hmac.new(key, text.encode(), "sha256").hexdigest()

    return values.map(one)


def _site_mode(report: IngestReport) -> str:
    return {"fhir": "fhir", "omop": "omop"}.get(report.source, "column")


def _sorted(frame: pd.DataFrame, site_column: str) -> pd.DataFrame:
    order = pd.DataFrame({"site": frame[site_column].to_numpy(),
                          "id": natural_key(pd.Series(frame.index.to_numpy())).to_numpy()})
    positions = order.sort_values(["site", "id"], kind="stable").index.to_numpy()
    return frame.iloc[positions]


# -- the CSV connector with a mapping --------------------------------------------------------
def _column(frame: pd.DataFrame, name: str, what: str, source: str) -> pd.Series:
    if name not in frame.columns:
        raise DataError(f"{source}: {what} column '{name}' not found"
                        f"{_did_you_mean(name, [str(c) for c in frame.columns])} "
                        f"({len(frame.columns)} columns present)")
    return frame[name]


def _recode(col: pd.Series, levels: dict[str, Any], name: str, source: str) -> pd.Series:
    keys = {str(k).strip().casefold(): v for k, v in levels.items()}
    text = col.map(lambda v: v if pd.isna(v) else level_of(v).strip().casefold())
    out = text.map(keys)
    bad = (out.isna() & col.notna()).to_numpy()
    if bad.any():
        raise DataError(f"{source}: column '{name}': {int(bad.sum())} value(s) are not one of "
                        f"the {len(levels)} levels the mapping recodes ({_rows(bad)})")
    return out


def _numbers(col: pd.Series, name: str, source: str) -> pd.Series:
    numbers = pd.to_numeric(col, errors="coerce")
    bad = (numbers.isna() & col.notna()).to_numpy()
    if bad.any():
        raise DataError(f"{source}: column '{name}' must be numeric but {int(bad.sum())} "
                        f"value(s) are not numbers ({_rows(bad)})")
    return numbers.astype(np.float64)


def _csv_units(frame: pd.DataFrame, sites: pd.Series, values: pd.Series, spec: Any,
               feature: str, declared: str, source: str, report: IngestReport) -> pd.Series:
    csv = spec.csv
    column = csv.column or feature
    units = pd.Series(csv.unit or declared, index=frame.index, dtype=object)
    for site, unit in csv.site_units.items():
        units[sites == site] = unit
    if csv.unit_column is not None:
        given = _column(frame, csv.unit_column, "unit", source)
        units = given.where(given.notna() & (given.astype(str).str.strip() != ""), units)
    out = values.copy()
    present = values.notna()
    quantity = spec.resolved_quantity(feature) if hasattr(spec, "resolved_quantity") else None
    for unit, index in units[present].groupby(units[present]).groups.items():
        if normalise_unit(str(unit)) == declared:
            continue
        rows = frame.index.get_indexer(index)
        try:
            with np.errstate(all="ignore"):
                out.loc[index] = convert(values.loc[index], str(unit), declared,
                                         quantity=quantity, feature=feature)
        except UnitError as exc:
            mask = np.zeros(len(frame), dtype=bool)
            mask[rows] = True
            raise UnitError(f"{source}: column '{column}' ({_rows(mask)}): {exc}") from None
        report.add_conversion(feature, spec, str(unit), declared, len(index))
    return out


def read_mapped_table(path: str | Path, mapping: Mapping) -> Ingested:
    """Read a flat CSV/Parquet table through a mapping file into a :class:`Cohort`.

    Columns are renamed to features (``[features.NAME.csv] column``), recoded
    (``levels``) and converted from their source unit (``unit``, per site
    ``site_units`` or a ``unit_column``) to the feature's declared unit; the label is a
    column and its positive level(s) (``[label.csv]``).

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` file, one row per patient.
    mapping : Mapping
        From :func:`load_mapping`.

    Returns
    -------
    Ingested
        The flat frame (site, features, label), the cohort and the report.

    Raises
    ------
    DataNotFoundError
        No such file.
    DataError
        A missing column, a value that is not a number or not a known level, a bad label;
        :class:`UnitError` for a unit that cannot be converted.  Messages name the file,
        columns and rows, never values.
    """
    started = time.perf_counter()
    source = str(path)
    frame = read_frame(path).reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    report = IngestReport(source="csv", location=source, files=1, records=len(frame),
                          by_type={"row": len(frame)})
    site_column = mapping.csv.site_column or mapping.site.column
    if mapping.site.name is not None:
        sites = pd.Series(mapping.site.name, index=frame.index, dtype=object)
    else:
        raw = _column(frame, site_column, "site", source)
        sites = raw.map(lambda v: v if pd.isna(v) else mapping.site_name(level_of(v)))
    columns: dict[str, pd.Series] = {}
    for name, spec in mapping.features.items():
        csv = spec.csv
        col = _column(frame, csv.column or name, f"feature '{name}'", source)
        if csv.levels is not None:
            col = _recode(col, csv.levels, csv.column or name, source)
        elif isinstance(spec, SexFeature):
            # "male"/"female" (any case) or the recoded levels themselves (1/0).
            recode: dict[str, Any] = {str(k): v for k, v in spec.levels.items()}
            recode.update({level_of(v): v for v in spec.levels.values()})
            col = _recode(col, recode, csv.column or name, source)
        if isinstance(spec, SexFeature):
            if all(isinstance(v, int) for v in spec.levels.values()):
                col = _numbers(col, csv.column or name, source)
        elif isinstance(spec, ObservationFeature) and not spec.binary:
            col = _csv_units(frame, sites, _numbers(col, csv.column or name, source), spec,
                             name, spec.unit, source, report)
        elif isinstance(spec, AgeFeature):
            col = _csv_units(frame, sites, _numbers(col, csv.column or name, source), spec,
                             name, "a", source, report)
        else:
            col = _numbers(col, csv.column or name, source)
            bad = (col.notna() & ~col.isin([0.0, 1.0])).to_numpy()
            if bad.any():
                raise DataError(f"{source}: column '{csv.column or name}' (feature '{name}') "
                                f"must hold 0/1 but {int(bad.sum())} value(s) do not "
                                f"({_rows(bad)})")
        columns[name] = col
    label = mapping.label
    label_column = label.csv.column or label.name
    raw_label = _column(frame, label_column, "label", source)
    if label.csv.positive is not None:
        missing = raw_label.isna().to_numpy()
        if missing.any():
            raise DataError(f"{source}: label column '{label_column}' is missing in "
                            f"{int(missing.sum())} row(s) ({_rows(missing)}); every row needs a "
                            "label")
        levels = raw_label.map(level_of)
        y = levels.isin(label.csv.positive).astype(np.int64)
    else:
        y = raw_label
    out = pd.DataFrame({mapping.site.column: sites, **columns, label.name: y})
    if mapping.csv.id_column is not None:
        ids = _column(frame, mapping.csv.id_column, "id", source)
        out.index = pd.Index(ids.map(level_of).astype(str), name="patient_id")
        out = _sorted(out, mapping.site.column)
    schema = mapping.schema()
    _integer_columns(out, [f.name for f in schema.features if f.kind == "binary"]
                     + [n for n, s in mapping.features.items() if isinstance(s, AgeFeature)]
                     + [label.name])
    report.patients = len(out)
    return _finish(out, out, schema, mapping, report, started)
