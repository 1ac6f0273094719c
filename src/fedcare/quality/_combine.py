"""The coordinator side of a data-quality check: findings from the sites' aggregates only.

:func:`combine_quality` reads nothing but the messages of :func:`site_quality`
(counts, withheld counts, micro-aggregated quartiles) and the public schema. A withheld
count is handled as an interval: NaN means 1..k-1, ``-1`` means "the rest of the total
less a small cell". Rules and thresholds: :data:`fedcare.quality._common.THRESHOLDS`
and docs/quality.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from fedcare.data._cohort import Feature, Schema
from fedcare.data._units import UnitError, convert, quantity_for
from fedcare.exceptions import ConfigError
from fedcare.quality._common import (
    QUARTILES,
    SEVERITIES,
    THRESHOLDS,
    WITHHELD_REST,
    Severity,
    code_key,
    effective_range,
    effective_unit,
    finite,
    is_apart,
    is_code_outside,
    parse_code,
)

__all__ = ["Finding", "QualityReport", "combine_quality"]


@dataclass(frozen=True)
class Finding:
    """One data-quality finding.

    Attributes
    ----------
    site : str or None
        The site it concerns (None: the whole federation).
    feature : str or None
        The feature (or the target column) it concerns; None for the site as a whole.
    kind : str
        ``missing``, ``missing_code``, ``out_of_range``, ``unit_mismatch``,
        ``prevalence``, ``leak`` or ``small_site``.
    severity : {"blocking", "warning", "info"}
        ``blocking``: a model trained on these data would be wrong or the study cannot
        use the rows (``quality_check = "refuse"`` stops on it); ``warning``: worth
        fixing, the study still works; ``info``: for the record.
    detail : str
        What was seen, in aggregates (counts, shares, ratios; never a patient's value).
    """

    site: str | None
    feature: str | None
    kind: str
    severity: Severity
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """``{site, feature, kind, severity, detail}``."""
        return {"site": self.site, "feature": self.feature, "kind": self.kind,
                "severity": self.severity, "detail": self.detail}


@dataclass(frozen=True)
class QualityReport:
    """Findings and the aggregate tables behind them; see :func:`combine_quality`.

    Attributes
    ----------
    findings : tuple of Finding
        Most serious first, then by site and feature.
    sites : dict
        Per site: ``n_rows``, ``n_target_missing``, ``n_events``, ``prevalence``.
    features : dict
        Per feature, per site: ``n_missing``, ``missing_share``, ``codes`` (code ->
        count), ``n_out_of_range``, the quartiles ``q25``, ``q50``, ``q75`` and ``auc``
        (how well the feature alone separates the outcome, ``max(AUC, 1 - AUC)``;
        None when withheld).
    """

    findings: tuple[Finding, ...]
    sites: dict[str, dict[str, Any]]
    features: dict[str, dict[str, dict[str, Any]]]
    target: str
    min_cell: int
    units: dict[str, str | None] = field(default_factory=dict)
    ranges: dict[str, list[float] | None] = field(default_factory=dict)

    @property
    def blocking(self) -> list[Finding]:
        """The findings of severity ``blocking``."""
        return [f for f in self.findings if f.severity == "blocking"]

    def counts(self) -> dict[str, int]:
        """Number of findings per severity."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``findings``, ``summary``, ``sites``, ``features``, the rules used.

        Counts withheld by small-cell protection are written as ``"<k"`` (1..k-1) or
        ``"lo-hi"`` (a range), quantiles withheld as null.
        """
        return {
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.counts(),
            "sites": self.sites,
            "features": self.features,
            "target": self.target,
            "min_cell": self.min_cell,
            "units": self.units,
            "valid_ranges": self.ranges,
            "thresholds": dict(THRESHOLDS),
        }


class _Count(NamedTuple):
    """A count known within ``[lo, hi]`` (equal when it was released exactly)."""

    lo: float
    hi: float

    @property
    def exact(self) -> bool:
        return self.lo == self.hi

    def text(self, k: int) -> str:
        if self.exact:
            return f"{self.lo:.0f}"
        if self.lo == 1 and self.hi == k - 1:
            return f"fewer than {k}"
        return f"{self.lo:.0f}-{self.hi:.0f}"

    def json(self, k: int) -> int | str:
        if self.exact:
            return int(self.lo)
        if self.lo == 1 and self.hi == k - 1:
            return f"<{k}"
        return f"{self.lo:.0f}-{self.hi:.0f}"


def _bounds(cells: Mapping[str, float], total: float, k: int) -> dict[str, _Count]:
    """Intervals for counts sent by :func:`protect_partition`."""
    out: dict[str, _Count] = {}
    for name, v in cells.items():
        if math.isnan(v):
            out[name] = _Count(1.0, float(max(k - 1, 1)))
        elif v != WITHHELD_REST:
            out[name] = _Count(v, v)
    for name, v in cells.items():
        if v == WITHHELD_REST:
            others = [c for n, c in out.items() if n != name]
            lo = total - sum(c.hi for c in others) - (k - 1)
            hi = total - sum(c.lo for c in others) - 1
            out[name] = _Count(max(lo, 0.0), max(hi, 0.0))
    return out


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _natural(name: str) -> tuple[int, float, str]:
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


@dataclass
class _SiteData:
    n: float
    target: dict[str, _Count]
    counts: dict[str, dict[str, _Count]]       # feature -> stat -> count
    quartiles: dict[str, list[float] | None]   # feature -> [q25, q50, q75] or None
    separation: dict[str, float] = field(default_factory=dict)  # feature -> max(AUC, 1-AUC)
    apart: dict[str, dict[float, bool]] = field(default_factory=dict)  # feature -> code -> flag


def _parse(message: Mapping[str, float], schema: Schema, k: int) -> _SiteData | None:
    n = float(message.get("n-rows", math.nan))
    if not finite(n):
        return None
    target = {stat.split("/", 1)[1]: float(v) for stat, v in message.items()
              if stat.startswith("target/")}
    raw: dict[str, dict[str, float]] = {}
    for key, value in message.items():
        if key.startswith("feature/"):
            name, stat = key[len("feature/"):].rsplit("/", 1)
            raw.setdefault(name, {})[stat] = float(value)
    counts: dict[str, dict[str, _Count]] = {}
    quartiles: dict[str, list[float] | None] = {}
    separation: dict[str, float] = {}
    apart: dict[str, dict[float, bool]] = {}
    for f in schema.features:
        stats = raw.get(f.name)
        if stats is None:
            continue
        qs = [stats.get(f"q{round(p * 100)}", math.nan) for p in QUARTILES]
        quartiles[f.name] = qs if all(finite(q) for q in qs) else None
        counts[f.name] = _bounds({s: v for s, v in stats.items() if s.startswith("n-")}, n, k)
        auc = stats.get("auc", math.nan)
        if f.kind != "categorical" and finite(auc):
            separation[f.name] = auc
        apart[f.name] = {code: v == 1.0 for stat, v in stats.items()
                         if (code := parse_code(stat, "apart=")) is not None and finite(v)}
    return _SiteData(n, _bounds(target, n, k), counts, quartiles, separation, apart)


def combine_quality(aggregates: Mapping[str, Mapping[str, float]], schema: Schema, *,
                    min_cell: int = 5, impute: bool = False) -> QualityReport:
    """Findings from the :func:`site_quality` messages of all sites.

    Parameters
    ----------
    aggregates : mapping of str to mapping of str to float
        Site name -> the site's message.
    schema : Schema
        The schema the sites used (public: names, kinds, units, valid ranges).
    min_cell : int, default 5
        The small-cell threshold the sites applied.
    impute : bool, default False
        The study imputes missing numeric and binary values (``missing = "impute"``):
        a feature not recorded at a site is then a warning, not a blocking finding (the
        site takes part; its rows get the federated mean and a missing indicator).

    Returns
    -------
    QualityReport
        Its ``findings`` and per-site / per-feature aggregate tables.

    Raises
    ------
    ConfigError
        No site messages, or ``min_cell`` < 1.
    """
    if not isinstance(min_cell, int) or isinstance(min_cell, bool) or min_cell < 1:
        raise ConfigError(f"min_cell must be an integer >= 1, got {min_cell!r}")
    k = min_cell
    if not aggregates:
        raise ConfigError("no site aggregates to combine")
    names = sorted(aggregates, key=_natural)
    data = {s: _parse(aggregates[s], schema, k) for s in names}
    findings: list[Finding] = []
    site_table: dict[str, dict[str, Any]] = {}
    for s in names:
        d = data[s]
        if d is None:
            findings.append(Finding(s, None, "small_site", "info",
                                    f"fewer than {k} rows: the site released no aggregates"))
            site_table[s] = {"n_rows": f"<{k}"}
            continue
        site_table[s] = _site_row(d, k)
    sites = {s: d for s, d in data.items() if d is not None}
    findings += _label_findings(sites, schema.target, k)
    feature_table: dict[str, dict[str, dict[str, Any]]] = {}
    for f in schema.features:
        findings += _feature_findings(f, sites, k, impute=impute)
        findings += _leak_findings(f, sites)
        feature_table[f.name] = {s: _feature_row(f, d, k) for s, d in sites.items()
                                 if f.name in d.counts}
    order = {name: i for i, name in enumerate(names)}
    feature_order = {f.name: i for i, f in enumerate(schema.features)}
    findings.sort(key=lambda x: (SEVERITIES.index(x.severity),
                                 order.get(x.site or "", -1),
                                 feature_order.get(x.feature or "", -1), x.kind))
    return QualityReport(
        tuple(findings), site_table, feature_table, schema.target, k,
        units={f.name: effective_unit(f) for f in schema.features if f.kind == "numeric"},
        ranges={f.name: list(r) if (r := effective_range(f)) else None
                for f in schema.features if f.kind == "numeric"})


# ----------------------------------------------------------------------------- tables
def _site_row(d: _SiteData, k: int) -> dict[str, Any]:
    row: dict[str, Any] = {"n_rows": int(d.n)}
    if d.target:
        missing, events = d.target["n-missing"], d.target["n-events"]
        row["n_target_missing"] = missing.json(k)
        row["n_events"] = events.json(k)
        labelled = d.n - missing.lo
        row["prevalence"] = (round(events.lo / labelled, 4)
                             if events.exact and missing.exact and labelled > 0 else None)
    return row


def _feature_row(f: Feature, d: _SiteData, k: int) -> dict[str, Any]:
    counts = d.counts[f.name]
    missing = counts["n-missing"]
    row: dict[str, Any] = {
        "n_missing": missing.json(k),
        "missing_share": round(missing.lo / d.n, 4) if missing.exact and d.n else None}
    if f.kind != "categorical":
        row["auc"] = d.separation.get(f.name)
    if f.kind != "numeric":
        return row
    row["codes"] = {f"{code:g}": c.json(k) for stat, c in counts.items()
                    if (code := parse_code(stat)) is not None}
    below, above = counts.get("n-below"), counts.get("n-above")
    if below is not None and above is not None:
        row["n_out_of_range"] = _Count(below.lo + above.lo, below.hi + above.hi).json(k)
    qs = d.quartiles.get(f.name)
    for i, p in enumerate(QUARTILES):
        row[f"q{round(p * 100)}"] = qs[i] if qs else None
    return row


# ----------------------------------------------------------------------------- rules
def _label_findings(sites: Mapping[str, _SiteData], target: str, k: int) -> list[Finding]:
    out: list[Finding] = []
    labelled: dict[str, tuple[float, float]] = {}   # exact (events, labelled) per site
    for s, d in sites.items():
        if not d.target:
            continue
        missing, events = d.target["n-missing"], d.target["n-events"]
        if missing.hi > 0:
            out.append(Finding(s, target, "missing", "blocking",
                               f"{missing.text(k)} of {d.n:.0f} rows have no label: the study "
                               "refuses rows without a label; drop or complete them"))
        n_lab = _Count(d.n - missing.hi, d.n - missing.lo)
        if events.hi == 0 or (events.exact and n_lab.exact and events.lo == n_lab.lo):
            which = "non-events" if events.hi == 0 else "events"
            out.append(Finding(s, target, "prevalence", "warning",
                               f"only one outcome class (all {n_lab.text(k)} labelled rows "
                               f"are {which}): no site-level AUC or calibration, the local "
                               "model is a constant"))
        elif not events.exact:
            few = "events" if math.isnan(events.hi) or events.hi <= k - 1 else "non-events"
            out.append(Finding(s, target, "prevalence", "info",
                               f"fewer than {k} {few}: the site's AUC and calibration are "
                               "withheld (small-cell rule)"))
        elif n_lab.exact:
            labelled[s] = (events.lo, n_lab.lo)
    ratio, z_min = THRESHOLDS["prevalence_odds_ratio"], THRESHOLDS["prevalence_z"]
    for s, (e, n) in labelled.items():
        rest = [v for name, v in labelled.items() if name != s]
        if not rest:
            continue
        e_r, n_r = sum(v[0] for v in rest), sum(v[1] for v in rest)
        cells = [e, n - e, e_r, n_r - e_r]   # events, non-events: here, elsewhere
        if min(cells) == 0:
            cells = [v + 0.5 for v in cells]
        a, b, c, d_ = cells
        log_or = math.log(a * d_ / (b * c))
        z = abs(log_or) / math.sqrt(sum(1 / v for v in cells))
        if abs(log_or) >= math.log(ratio) and z >= z_min:
            out.append(Finding(
                s, target, "prevalence", "warning",
                f"prevalence {_pct(e / n)} ({e:.0f} of {n:.0f}) against {_pct(e_r / n_r)} at "
                f"the other sites (odds ratio {math.exp(log_or):.3g}, z = {z:.1f}): a "
                "different case mix or label definition; check the inclusion criteria, "
                "expect site-specific calibration"))
    return out


def _feature_findings(f: Feature, sites: Mapping[str, _SiteData], k: int, *,
                      impute: bool = False) -> list[Finding]:
    out: list[Finding] = []
    with_data = {s: d for s, d in sites.items() if f.name in d.counts}
    for s, d in with_data.items():
        missing = d.counts[f.name]["n-missing"]
        present_hi = d.n - missing.lo
        share = missing.lo / d.n
        if present_hi < k:
            text = (f"all {d.n:.0f} rows" if missing.exact and missing.lo == d.n else
                    f"all but fewer than {k} of {d.n:.0f} rows")
            if impute:
                filled = ("the level '(not recorded)'" if f.kind == "categorical" else
                          "the federated mean and the missing indicator")
                out.append(Finding(s, f.name, "missing", "warning",
                                   f"{text} missing: not recorded at this site; its rows "
                                   f"get {filled}, so the model learns this feature from "
                                   "the other sites"))
            else:
                out.append(Finding(s, f.name, "missing", "blocking",
                                   f"{text} missing: the site has no usable values of this "
                                   "feature (every row would be dropped)"))
        elif share >= THRESHOLDS["missing_info"]:
            severity: Severity = ("warning" if share >= THRESHOLDS["missing_warning"]
                                  else "info")
            what = ("rows with a missing feature are dropped from training" if not impute
                    else "missing values get the level '(not recorded)'"
                    if f.kind == "categorical"
                    else "missing values get the federated mean and a missing indicator")
            out.append(Finding(s, f.name, "missing", severity,
                               f"{missing.text(k)} of {d.n:.0f} rows missing ({_pct(share)}); "
                               + what))
    if f.kind != "numeric":
        return out
    unit_flags = _unit_findings(f, with_data)
    out += [finding for finding, _ in unit_flags]
    mismatched = {finding.site or "": unit for finding, unit in unit_flags}
    out += _code_and_range_findings(f, with_data, k, mismatched)
    return out


#: Feature names that read as follow-up time or the outcome itself (tokens of the name).
_AFTER_OUTCOME = re.compile(
    r"^(time|futime|fu|followup|follow|survival|surv|survtime|los|tte|"
    r"death|dead|died|deceased|censor|censored)$")


def _after_outcome_name(name: str) -> bool:
    tokens = [t.lower() for t in re.split(r"[^0-9a-zA-Z]+|(?<=[a-z])(?=[A-Z])", name) if t]
    joined = "".join(tokens)
    return any(_AFTER_OUTCOME.match(t) for t in tokens) or joined in {
        "followup", "followuptime", "timetoevent", "daystodeath", "lengthofstay",
        # the whole name only: "status" alone is the event indicator, "smoking_status" not
        "status", "event", "outcome", "vitalstatus", "eventtype"}


def _leak_findings(f: Feature, sites: Mapping[str, _SiteData]) -> list[Finding]:
    """One warning when the feature alone separates the outcome almost perfectly at any
    site (``max(AUC, 1 - AUC)`` >= ``THRESHOLDS["leak_auc"]``), or when its name reads as
    follow-up time or the outcome (``time``, ``futime``, ``los``, ``status`` ...)."""
    released = {s: d.separation[f.name] for s, d in sites.items() if f.name in d.separation}
    high = {s: v for s, v in released.items() if v >= THRESHOLDS["leak_auc"]}
    if not high and _after_outcome_name(f.name):
        top = max(released.values(), default=None)
        figure = f" (it alone gives an AUC up to {top:.2f} at a site)" if top else ""
        return [Finding(None, f.name, "leak", "warning",
                        "its name reads as follow-up time or the outcome itself, known only "
                        f"after the outcome{figure}: a likely leak; leave it out of the "
                        "features unless it is known at prediction time")]
    if not high:
        return []
    top = max(high.values())
    site: str | None = next(iter(high)) if len(high) == 1 else None
    where = (f"at site {site} (AUC {top:.2f})" if site is not None else
             f"at {len(high)} of the {len(released)} sites that report it "
             f"({', '.join(high)}; AUC up to {top:.2f})")
    return [Finding(site, f.name, "leak", "warning",
                    f"alone separates the outcome almost perfectly {where}: a likely leak "
                    "(follow-up time, a post-outcome measurement, or a code derived from the "
                    "outcome); drop it or confirm it is known at prediction time")]


def _present(d: _SiteData, name: str) -> _Count:
    missing = d.counts[name]["n-missing"]
    return _Count(d.n - missing.hi, d.n - missing.lo)


def _outside(code: float, f: Feature, valid: tuple[float, float] | None,
             site_unit: str | None) -> bool:
    """Whether a code lies outside the valid range, read in the site's (suspected) unit."""
    ref_unit = effective_unit(f)
    if site_unit is None or ref_unit is None:
        return is_code_outside(code, valid)
    try:
        value = float(convert([code], site_unit, ref_unit, quantity=quantity_for(f.name),
                              feature=f.name)[0])
    except UnitError:
        return is_code_outside(code, valid)
    return is_code_outside(value, valid)


def _code_and_range_findings(f: Feature, sites: Mapping[str, _SiteData], k: int,
                             mismatched: Mapping[str, str]) -> list[Finding]:
    """Missing-value codes and out-of-range values; ``mismatched``: site -> its unit."""
    out: list[Finding] = []
    valid = effective_range(f)
    unit = effective_unit(f) or ""
    range_text = (f"{valid[0]:g}-{valid[1]:g}{' ' + unit if unit else ''}"
                  if valid is not None else "")
    for s, d in sites.items():
        counts = d.counts[f.name]
        present = _present(d, f.name)
        if present.hi <= 0:
            continue
        small_below, small_above = _Count(0, 0), _Count(0, 0)
        for stat, c in counts.items():
            code = parse_code(stat)
            if code is None or c.hi == 0:
                continue
            share_lo = c.lo / present.hi
            severity: Severity = ("blocking" if share_lo >= THRESHOLDS["code_blocking"]
                                  else "warning")
            amount = (f"all {present.text(k)} values" if c == present
                      else f"{c.text(k)} of {present.text(k)} values")
            if _outside(code, f, valid, mismatched.get(s)):
                if c.lo >= k:
                    out.append(Finding(
                        s, f.name, "missing_code", severity,
                        f"value {code:g} in {amount} ({_pct(share_lo)}): outside the valid "
                        f"range {range_text}, so a missing-value code; recode it as missing"))
                elif valid is not None and code < valid[0]:
                    small_below = _Count(small_below.lo + c.lo, small_below.hi + c.hi)
                else:
                    small_above = _Count(small_above.lo + c.lo, small_above.hi + c.hi)
                continue
            apart = _apart(f, code, s, d, sites, k)
            if apart is not None and c.lo > 0:
                out.append(Finding(
                    s, f.name, "missing_code", severity,
                    f"value {code:g} in {amount} ({_pct(share_lo)}), {apart}: a sentinel "
                    f"for a missing value, not a measurement; declare it: "
                    f"{_declare(f.name, code)}, or, if it is a category, make the column "
                    "categorical"))
                continue
            spike = _spike(f, stat, code, s, c, present, sites, k)
            if spike is not None:
                out.append(Finding(
                    s, f.name, "missing_code", "warning",
                    f"value {code:g} in {c.text(k)} of {present.text(k)} values "
                    f"({_pct(share_lo)}) but in at most {_pct(spike)} of the other sites' "
                    "values (counts below k taken at k-1) and outside their interquartile "
                    "bulk: probably a missing-value code; check it, and if so declare it: "
                    f"{_declare(f.name, code)}"))
        if valid is None or s in mismatched:
            continue
        below = counts.get("n-below", _Count(0, 0))
        above = counts.get("n-above", _Count(0, 0))
        below = _Count(below.lo + small_below.lo, below.hi + small_below.hi)
        above = _Count(above.lo + small_above.lo, above.hi + small_above.hi)
        total = _Count(below.lo + above.lo, below.hi + above.hi)
        if total.hi == 0:
            continue
        share_lo = total.lo / present.hi
        if share_lo >= THRESHOLDS["range_blocking"]:
            severity = "blocking"
        elif total.lo >= k:
            severity = "warning"
        else:
            severity = "info"
        where = ("below" if above.hi == 0 else "above" if below.hi == 0 else "outside")
        bound = (f"{valid[0]:g}" if where == "below" else f"{valid[1]:g}"
                 if where == "above" else range_text)
        count = total.text(k) if (total.exact or total.lo >= k) else (
            f"fewer than {k}" if total.hi <= k - 1 else total.text(k))
        out.append(Finding(
            s, f.name, "out_of_range", severity,
            f"{count} of {present.text(k)} values {where} {bound}"
            f"{' ' + unit if unit and where != 'outside' else ''} (valid range {range_text}); "
            "check them at the source"))
    return out


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _declare(name: str, code: float) -> str:
    """How to declare a code: the study setting and the CLI option (a public code value)."""
    key = name if _BARE_KEY.match(name) else '"' + name.replace('"', '\\"') + '"'
    return f'missing_codes = {{{key} = {code:g}}} (--missing-codes "{name}={code:g}")'


def _apart(f: Feature, code: float, site: str, d: _SiteData,
           sites: Mapping[str, _SiteData], k: int) -> str | None:
    """Why a code inside the valid range (or without one) is a sentinel, or None.

    The site's own ``apart`` flag decides (:func:`fedcare.quality._common.is_apart`
    over its other values, at least k of them). A site with fewer than k other values
    sends no flag: the code is then judged against the other sites' released quartiles,
    with the stricter factor ``THRESHOLDS["apart_factor_others"]``.
    """
    if code == 0:
        return None
    flag = d.apart.get(f.name, {}).get(code)
    if flag is not None:
        return ("apart from every other value at the site (all on one side of it, none "
                f"within a factor {THRESHOLDS['apart_factor']:g} of it)" if flag else None)
    if _present(d, f.name).hi - d.counts[f.name][code_key(code)].lo >= k:
        return None   # no flag although k other values may exist: withheld, not judged
    quartiles = [q for s, other in sites.items() if s != site
                 for q in (other.quartiles.get(f.name) or [])]
    if quartiles and is_apart(code, np.array(quartiles), THRESHOLDS["apart_factor_others"],
                              THRESHOLDS["apart_fence"]):
        return (f"nearly every value at the site (all but fewer than {k}) is this code, and "
                f"it lies more than {THRESHOLDS['apart_factor_others']:g} times outside the "
                "other sites' quartiles")
    return None


def _spike(f: Feature, stat: str, code: float, site: str, c: _Count, present: _Count,
           sites: Mapping[str, _SiteData], k: int) -> float | None:
    """The other sites' share of a code (an upper bound), if this site's share is a spike.

    A site names a code only when at least k values hold it, so a site that does not name
    it may hold it 0..k-1 times: its count is taken at ``min(k - 1, present)``, and a
    withheld count at its upper end. The spike needs this site's share >= ``spike_share``,
    the others' upper-bound share <= ``spike_elsewhere`` and ``spike_ratio`` times
    smaller, and the code outside the other sites' bulk (beyond ``spike_fence`` IQRs of
    the median of their quartiles); without other sites' quartiles there is no spike.
    """
    share_lo = c.lo / present.hi
    if share_lo < THRESHOLDS["spike_share"]:
        return None
    hits = values = 0.0
    refs: list[list[float]] = []
    for s, d in sites.items():
        if s == site:
            continue
        p = _present(d, f.name)
        if p.lo <= 0:
            continue
        held = d.counts[f.name].get(stat)
        hits += min(held.hi if held is not None else max(k - 1, 0), p.hi)
        values += p.lo
        qs = d.quartiles.get(f.name)
        if qs:
            refs.append(qs)
    if values <= 0 or not refs:
        return None
    elsewhere = min(hits / values, 1.0)
    if (elsewhere > THRESHOLDS["spike_elsewhere"]
            or share_lo < THRESHOLDS["spike_ratio"] * elsewhere):
        return None
    q25, _, q75 = (float(np.median([q[i] for q in refs])) for i in range(len(QUARTILES)))
    iqr = q75 - q25
    if q25 - THRESHOLDS["spike_fence"] * iqr <= code <= q75 + THRESHOLDS["spike_fence"] * iqr:
        return None
    return elsewhere


def _distance(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Median absolute log-ratio of paired positive quartiles (None if none is positive)."""
    logs = [abs(math.log(x / y)) for x, y in zip(a, b, strict=True) if x > 0 and y > 0]
    return float(np.median(logs)) if logs else None


def _unit_findings(f: Feature, sites: Mapping[str, _SiteData]
                   ) -> list[tuple[Finding, str]]:
    """Unit-mismatch findings, each with the unit the site's values appear to be in."""
    quantity = quantity_for(f.name)
    ref_unit = effective_unit(f)
    if quantity is None or ref_unit is None or len(quantity.units) < 2:
        return []
    valid = effective_range(f)
    with_q = {s: d.quartiles[f.name] for s, d in sites.items() if d.quartiles.get(f.name)}
    out: list[tuple[Finding, str]] = []
    for s, qs in with_q.items():
        assert qs is not None
        others = [q for name, q in with_q.items() if name != s and q is not None]
        if not others:
            continue
        ref = [float(np.median([q[i] for q in others])) for i in range(len(QUARTILES))]
        d0 = _distance(qs, ref)
        if d0 is None or d0 < math.log(THRESHOLDS["unit_shift"]):
            continue
        best: tuple[float, str, list[float]] | None = None
        for unit in quantity.units:
            if unit == ref_unit:
                continue
            try:
                converted = [float(v) for v in convert(qs, unit, ref_unit, quantity=quantity,
                                                       feature=f.name)]
            except UnitError:
                continue
            du = _distance(converted, ref)
            if du is not None and (best is None or du < best[0]):
                best = (du, unit, converted)
        if best is None or best[0] > math.log(THRESHOLDS["unit_match"]):
            continue
        du, unit, converted = best
        if valid is not None and not valid[0] <= converted[1] <= valid[1]:
            continue
        factor = ref[1] / qs[1] if qs[1] > 0 else float("nan")
        relation = (f"about {factor:.3g} times this site's" if factor >= 1 else
                    f"about 1/{1 / factor:.3g} of this site's")
        out.append((Finding(
            s, f.name, "unit_mismatch", "blocking",
            f"values look like {unit}, not {ref_unit}: the other sites' median is {relation}, "
            f"and read as {unit} this site's quartiles match theirs; convert the values to "
            f"{ref_unit} (fedcare.data._units.convert) or declare the site's unit"), unit))
    return out
