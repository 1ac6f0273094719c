"""Federated analytics over Flower messages: describe / Table 1, Kaplan-Meier, Cox.

The same ``site_*`` and ``combine_*`` functions as :mod:`fedcare.analytics`, but each
site runs its part inside the ClientApp on its own rows (loaded as the training
handlers load them: ``data``/``data-dir`` from the run config or the node config) and
replies with the protected aggregates only. The coordinator side is
:func:`run_analytics`, which the ServerApp runs when the run config says
``task = "analytics"`` (the request, as JSON, in ``analytics-request``), so one set of
apps serves the in-process engine (:func:`run_analytics_inprocess`), Flower's
simulation and a live deployment (:func:`submit_analytics`).

Messages (all ``query.*``; each carries the request as JSON in its config):

``query.analytics_setup``
    The site prepares its rows for the request (survival columns, complete cases,
    labels) and sends ``n-rows`` and ``n-dropped`` (small-cell suppressed by the
    ClientApp's mod: 1..k-1 becomes NaN) and the *names* of the levels of its group and
    categorical columns (as the schema round of a study does). Sites with fewer than
    ``min_cell`` usable rows are excluded (km, cox), as the embedded CLI does.
``query.describe``
    :func:`site_describe` per numeric column on the public bin edges, and
    :func:`site_table1` with the agreed levels.
``query.event_times``
    Opt-in exact modes only (KM ``--exact``, unstratified Cox): the site's event times.
``query.km``
    :func:`site_km` on the agreed grid: by default the site's counts on the grid points
    ending its merged intervals (NaN elsewhere); the coordinator pools on the points
    every site released (``km.released_points``).
``query.cox``
    ``step = "means"``: :func:`site_means` (the centring offset); ``step = "eval"``: at
    the coordinator's ``beta``, :func:`site_cox_stratum` (stratified by site) or
    :func:`site_cox_risk_sets` (unstratified, opt-in). One message per Newton round.

Fault tolerance: with ``min_sites_per_round`` the set-up round goes ahead without sites
that fail or stay silent (they are reported in ``excluded_sites``); every later round
needs every site taking part, since a sum over a changing set of sites would be wrong.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from numpy.typing import NDArray

from fedcare.analytics import (
    KaplanMeier,
    combine_cox_risk_sets,
    combine_cox_strata,
    combine_describe,
    combine_km,
    combine_means,
    combine_table1,
    design_matrix,
    newton_raphson,
    site_cox_risk_sets,
    site_cox_stratum,
    site_describe,
    site_event_times,
    site_km,
    site_means,
    site_table1,
    union_grid,
)
from fedcare.analytics._cox import Evaluation
from fedcare.analytics._cox import _result as _cox_result
from fedcare.data._table import MAX_LEVELS, _did_you_mean, _rows
from fedcare.exceptions import ConfigError, DataError, FederationError
from fedcare.study._config import StudyConfig

from ._grid import InProcessGrid
from ._server import _ask, wait_for_sites

__all__ = [
    "ANALYSES",
    "ANALYTICS_MESSAGE_TYPES",
    "REQUEST_KEY",
    "TASK_KEY",
    "analytics_run_config",
    "default_edges",
    "run_analytics",
    "run_analytics_inprocess",
    "submit_analytics",
]

TASK_KEY = "task"
"""Run-config key choosing what the ServerApp runs: ``study`` (default) or ``analytics``."""
REQUEST_KEY = "analytics-request"
"""Run-config key holding the analytics request as JSON."""
ANALYSES = ("describe", "km", "cox")
ANALYTICS_MESSAGE_TYPES = ("query.analytics_setup", "query.describe", "query.event_times",
                           "query.km", "query.cox")
_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_DEFAULT_EXPONENTS = range(-4, 5)


# ----------------------------------------------------------------------------- table helpers
def default_edges() -> NDArray[np.float64]:
    """The public default bin grid of ``describe``: the same for every data set.

    Every number with two significant digits from 0.001 to 990000, their negatives and
    0 (1621 edges): bins are 1 wide in [10, 100), 10 wide in [100, 1000), and so on, so
    a quantile's error bound is at most ~10% of its magnitude (more where sites merged
    small bins). Values beyond +-990000 fall in open end bins.
    """
    pos = np.array(sorted({float(f"{m}e{e}") for e in _DEFAULT_EXPONENTS
                           for m in range(10, 100)}))
    return np.concatenate((-pos[::-1], [0.0], pos))


def natural(level: str) -> tuple[int, float, str]:
    """Sort key: numbers by value first, then text."""
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def labels(series: pd.Series) -> pd.Series:
    """Values as text labels (integral numbers without ``.0``), missing kept as NaN."""
    def label(v: Any) -> Any:
        if pd.isna(v):
            return np.nan
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v)
    return series.astype(object).map(label)


def numeric(frame: pd.DataFrame, col: str, option: str) -> pd.Series:
    """``col`` as float (NaN = missing), or a DataError naming the offending rows."""
    raw = frame[col]
    if raw.dtype == bool:
        return raw.astype(np.float64)
    values = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & values.isna()).to_numpy()
    if bad.any():
        raise DataError(f"column '{col}' ({option}) is not numeric: {int(bad.sum())} "
                        f"value(s) are not numbers ({_rows(bad)})")
    return values.astype(np.float64)


def is_text(frame: pd.DataFrame, col: str, *, strict: bool = True) -> bool:
    """True for a text column.

    ``strict``: a mostly numeric column with a few stray values is a DataError (the
    whole table's check); a site checks its own rows with ``strict=False``, since at a
    small site a few codes such as "missing" may well be 10% of the rows.
    """
    raw = frame[col]
    if raw.dtype == bool or pd.api.types.is_numeric_dtype(raw):
        return False
    values = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & values.isna()).to_numpy()
    n = int(raw.notna().sum())
    if strict and bad.any() and n and bad.sum() <= 0.1 * n:
        raise DataError(f"column '{col}' is mostly numeric but {int(bad.sum())} value(s) are "
                        f"not numbers ({_rows(bad)}); fix them, or list it in --categorical")
    return bool(bad.any())


def survival_rows(frame: pd.DataFrame, duration: str, event: str) -> tuple[pd.DataFrame, int]:
    """Validated float ``duration`` and 0/1 ``event``; rows missing either are dropped."""
    frame = frame.copy()
    t = numeric(frame, duration, "--duration")
    negative = (t < 0).to_numpy() | np.isinf(t.to_numpy())
    if negative.any():
        raise DataError(f"column '{duration}' (--duration) holds {int(negative.sum())} "
                        f"negative or infinite value(s) ({_rows(negative)})")
    raw = frame[event]
    if raw.dtype == bool:
        e = raw.astype(np.float64)
    else:
        text = raw.astype(object).map(lambda v: str(v).strip().lower() if pd.notna(v) else v)
        mapped = text.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0,
                           "0.0": 0.0})
        bad = (raw.notna() & mapped.isna()).to_numpy()
        if bad.any():
            raise DataError(f"column '{event}' (--event) holds {int(bad.sum())} value(s) "
                            f"other than 0/1 or true/false ({_rows(bad)})")
        e = mapped.astype(np.float64)
    frame[duration], frame[event] = t, e
    keep = frame[duration].notna() & frame[event].notna()
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def local_levels(frame: pd.DataFrame, col: str, option: str) -> list[str]:
    """This site's level names of ``col`` (naturally sorted)."""
    found = {str(v) for v in frame[col].dropna().unique()}
    if len(found) > MAX_LEVELS:
        raise DataError(f"column '{col}' ({option}) has {len(found)} distinct values, more "
                        f"than {MAX_LEVELS}: it looks like an identifier or free text")
    return sorted(found, key=natural)


# ----------------------------------------------------------------------------- the request
def _names(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"analytics request: '{key}' must be a list of column names")
    return list(value)


def check_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an analytics request (a JSON-ready dict) and fill in the defaults.

    Keys: ``analysis`` (describe | km | cox). describe: ``columns``, ``group``,
    ``text`` (columns counted per level), ``ranges`` ({column: [lo, hi]}), ``bins``.
    km: ``duration``, ``event``, ``group``, ``exact``, ``grid_step``, ``horizon``.
    cox: ``duration``, ``event``, ``covariates``, ``categorical``, ``ties``,
    ``stratified``, ``exact``, ``tol``, ``max_rounds``.
    """
    req = dict(request)
    analysis = req.get("analysis")
    if analysis not in ANALYSES:
        raise ConfigError(f"analytics request: 'analysis' must be one of {list(ANALYSES)}, "
                          f"got {analysis!r}")
    req.setdefault("group", None)
    if analysis == "describe":
        req["columns"] = _names(req.get("columns"), "columns")
        req["text"] = _names(req.get("text", []), "text")
        req.setdefault("ranges", {})
        req["bins"] = int(req.get("bins", 50))
        if not req["columns"]:
            raise ConfigError("analytics request: 'columns' names no column")
        return req
    for key in ("duration", "event"):
        if not isinstance(req.get(key), str):
            raise ConfigError(f"analytics request: '{key}' must name a column")
    req["exact"] = bool(req.get("exact", False))
    if analysis == "km":
        if not req["exact"]:
            step = req.get("grid_step")
            if not isinstance(step, int | float) or not (math.isfinite(step) and step > 0):
                raise ConfigError("pass --grid-step S (a public time grid, in the unit of "
                                  "--duration) or opt in to --exact")
        return req
    req["covariates"] = _names(req.get("covariates"), "covariates")
    req["categorical"] = _names(req.get("categorical", []), "categorical")
    req.setdefault("ties", "efron")
    if req["ties"] not in ("efron", "breslow"):
        raise ConfigError(f"--ties must be efron or breslow, got '{req['ties']}'")
    req["stratified"] = bool(req.get("stratified", not req["exact"]))
    if not req["stratified"] and not req["exact"]:
        raise ConfigError("an unstratified fit (--no-stratify-by-site) reveals each "
                          "site's risk-set sums at every event time: add --exact to "
                          "accept this")
    req["tol"] = float(req.get("tol", 1e-10))
    req["max_rounds"] = int(req.get("max_rounds", 100))
    return req


def analytics_run_config(config: StudyConfig, request: Mapping[str, Any]
                         ) -> dict[str, str | int | float | bool]:
    """The run config of an analytics run: the study settings, ``task`` and the request."""
    return {**config.to_run_config(), TASK_KEY: "analytics",
            REQUEST_KEY: json.dumps(check_request(request), sort_keys=True)}


# ----------------------------------------------------------------------------- site side
def _site_config(context: Context) -> StudyConfig:
    """The run's settings with the site's own ``data``/``data-dir`` from its node config."""
    items = dict(context.run_config)
    for key in ("data", "data-dir"):
        if key in context.node_config:
            items[key] = context.node_config[key]
    return StudyConfig.from_run_config(items)


def _stamp(data: str) -> float:
    from fedcare.study._sites import HEART

    return 0.0 if data == HEART else Path(data).stat().st_mtime


@lru_cache(maxsize=8)
def _table(data: str, data_dir: str, stamp: float, site_column: str) -> pd.DataFrame:
    """The table a site reads, columns as text, the site column as labels."""
    from fedcare.study._sites import _read

    frame = _read(data, data_dir, stamp).copy()
    frame.columns = [str(c) for c in frame.columns]
    if site_column not in frame.columns:
        raise DataError(f"{data}: column '{site_column}' (--site-column) not found"
                        + _did_you_mean(site_column, list(frame.columns)))
    frame[site_column] = labels(frame[site_column])
    return frame


def _site_name(context: Context, config: StudyConfig) -> str:
    """``node_config['site']``, else the partition-id-th site (natural order)."""
    if "site" in context.node_config:
        return str(context.node_config["site"])
    frame = _table(config.data, config.data_dir, _stamp(config.data), config.site_column)
    names = sorted({str(v) for v in frame[config.site_column].dropna()}, key=natural)
    return names[int(cast(int, context.node_config["partition-id"]))]


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A site's rows prepared for one request (cached across rounds; never sent)."""

    name: str
    frame: pd.DataFrame
    dropped: int
    text: tuple[str, ...]
    levels: dict[str, list[str]]


def _require(frame: pd.DataFrame, data: str, columns: Mapping[str, Sequence[str]]) -> None:
    names = [str(c) for c in frame.columns]
    for option, cols in columns.items():
        for col in cols:
            if col not in frame.columns:
                raise DataError(f"{Path(data).name}: column '{col}' ({option}) not found"
                                + _did_you_mean(col, names))


@lru_cache(maxsize=32)
def _prepare(data: str, data_dir: str, stamp: float, site_column: str, name: str,
             request_json: str) -> _Prepared:
    req = json.loads(request_json)
    table = _table(data, data_dir, stamp, site_column)
    rows = table[table[site_column] == name].reset_index(drop=True)
    if rows.empty:
        raise DataError(f"site '{name}' has no rows in {Path(data).name}")
    group = req.get("group")
    levels: dict[str, list[str]] = {}
    if req["analysis"] == "describe":
        cols = req["columns"]
        _require(rows, data, {"--columns": cols, "--group": [group] if group else []})
        text = [c for c in cols if c in req["text"] or is_text(rows, c, strict=False)]
        if text and group is None:
            raise DataError(f"column(s) {sorted(text)} (--columns) are not numeric; describe "
                            "counts text columns only in a Table 1 (add --group)")
        for c in cols:
            rows[c] = labels(rows[c]) if c in text else numeric(rows, c, "--columns")
        dropped = 0
        if group is not None:
            rows[group] = labels(rows[group])
            dropped = int(rows[group].isna().sum())
            levels = {c: local_levels(rows, c, "--columns") for c in text}
            levels[group] = local_levels(rows, group, "--group")
        return _Prepared(name, rows, dropped, tuple(text), levels)
    duration, event = req["duration"], req["event"]
    extra = ({"--group": [group] if group else []} if req["analysis"] == "km"
             else {"--covariates": req["covariates"]})
    _require(rows, data, {"--duration": [duration], "--event": [event], **extra})
    rows, dropped = survival_rows(rows, duration, event)
    if req["analysis"] == "km":
        if group is not None:
            rows[group] = labels(rows[group])
            missing = rows[group].isna()
            dropped += int(missing.sum())
            rows = rows.loc[~missing].reset_index(drop=True)
            levels[group] = local_levels(rows, group, "--group")
        return _Prepared(name, rows, dropped, (), levels)
    covs = req["covariates"]
    text = [c for c in covs if c in req["categorical"] or is_text(rows, c, strict=False)]
    for c in covs:
        rows[c] = labels(rows[c]) if c in text else numeric(rows, c, "--covariates")
    complete = rows[covs].notna().all(axis=1)
    dropped += int((~complete).sum())
    rows = rows.loc[complete].reset_index(drop=True)
    levels = {c: local_levels(rows, c, "--covariates") for c in text}
    return _Prepared(name, rows, dropped, tuple(text), levels)


def _site(message: Message, context: Context) -> tuple[dict[str, Any], _Prepared, int]:
    """The request, this site's prepared rows and the small-cell threshold."""
    config = _site_config(context)
    name = _site_name(context, config)
    request_json = str(message.content.config_records["config"]["request"])
    prep = _prepare(config.data, config.data_dir, _stamp(config.data), config.site_column,
                    name, request_json)
    return json.loads(request_json), prep, config.min_cell


def _received(message: Message) -> dict[str, NDArray[np.float64]]:
    record = message.content.array_records.get("arrays")
    if record is None:
        return {}
    return {k: np.asarray(v.numpy(), dtype=np.float64) for k, v in record.items()}


def _agreed(message: Message) -> dict[str, list[str]]:
    return dict(json.loads(str(message.content.config_records["config"].get("levels", "{}"))))


def _site_reply(message: Message, name: str, arrays: Mapping[str, NDArray[np.float64]],
                metrics: Mapping[str, float] | None = None, **extra: str) -> Message:
    record = RecordDict()
    if arrays:
        record["arrays"] = ArrayRecord({k: Array(np.array(v, dtype=np.float64, order="C"))
                                        for k, v in arrays.items()})
    if metrics is not None:
        record["metrics"] = MetricRecord(dict(metrics))
    record["site"] = ConfigRecord({"site": name, **extra})
    return Message(content=record, reply_to=message)


def handle_setup(message: Message, context: Context) -> Message:
    """``query.analytics_setup``: usable and dropped row counts, level names, text columns."""
    _, prep, _ = _site(message, context)
    return _site_reply(message, prep.name, {},
                       {"n-rows": len(prep.frame), "n-dropped": prep.dropped},
                       text=json.dumps(list(prep.text)), levels=json.dumps(prep.levels))


def handle_describe(message: Message, context: Context) -> Message:
    """``query.describe``: protected moments and cumulative counts; a protected Table 1."""
    req, prep, k = _site(message, context)
    rows, arrays = prep.frame, _received(message)
    levels = _agreed(message)
    numeric_cols = [c for c in req["columns"] if c not in prep.text]
    out: dict[str, NDArray[np.float64]] = {}
    for c in numeric_cols:
        msg = site_describe(rows[c].to_numpy(dtype=np.float64), arrays[f"edges/{c}"],
                            min_cell=k)
        out.update({f"describe/{c}/{key}": v for key, v in msg.items()})
    group = req.get("group")
    if group is not None:
        msg = site_table1(rows[rows[group].notna()], group, levels[group],
                          numeric=numeric_cols,
                          categorical={c: levels[c] for c in sorted(prep.text)}, min_cell=k)
        out.update({f"table1/{key}": v for key, v in msg.items()})
    return _site_reply(message, prep.name, out)


def handle_event_times(message: Message, context: Context) -> Message:
    """``query.event_times`` (opt-in exact modes): the site's distinct event times."""
    req, prep, _ = _site(message, context)
    rows = prep.frame
    return _site_reply(message, prep.name,
                       site_event_times(rows[req["duration"]], rows[req["event"]]))


def handle_km(message: Message, context: Context) -> Message:
    """``query.km``: events and numbers at risk on the agreed grid (protected unless exact)."""
    req, prep, k = _site(message, context)
    rows, group = prep.frame, req.get("group")
    levels = _agreed(message).get(group) if group else None
    msg = site_km(rows[req["duration"]], rows[req["event"]], _received(message)["grid"],
                  groups=rows[group] if group else None, group_levels=levels,
                  exact=bool(req["exact"]), min_cell=k)
    return _site_reply(message, prep.name, msg)


@lru_cache(maxsize=32)
def _design(prep: _Prepared, request_json: str, levels_json: str
            ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    req = json.loads(request_json)
    x, _, _ = design_matrix(prep.frame, req["covariates"], json.loads(levels_json))
    return (x, prep.frame[req["duration"]].to_numpy(dtype=np.float64),
            prep.frame[req["event"]].to_numpy(dtype=np.float64))


def handle_cox(message: Message, context: Context) -> Message:
    """``query.cox``: the centring sums, or the site's Newton contribution at ``beta``."""
    req, prep, k = _site(message, context)
    cfg = message.content.config_records["config"]
    x, t, e = _design(prep, str(cfg["request"]), str(cfg.get("levels", "{}")))
    step = str(cfg.get("step", ""))
    if step == "means":
        return _site_reply(message, prep.name, site_means(x, min_cell=k))
    if step != "eval":
        raise ConfigError(f"query.cox: unknown step {step!r}")
    arrays = _received(message)
    if req["stratified"]:
        msg = site_cox_stratum(x, t, e, arrays["beta"], offset=arrays["offset"],
                               ties=req["ties"], min_cell=k)
    else:
        msg = site_cox_risk_sets(x, t, e, arrays["grid"], arrays["beta"],
                                 offset=arrays["offset"], ties=req["ties"])
    return _site_reply(message, prep.name, msg)


# ----------------------------------------------------------------------------- coordinator
@dataclass
class _Sites:
    """What the set-up round established."""

    nodes: list[int]                  # node ids taking part, natural order of site names
    names: list[str]
    excluded: dict[str, str]
    n_rows: dict[str, float]
    dropped: float
    dropped_suppressed: int
    text: list[str]
    levels: dict[str, list[str]]


class _Coordinator:
    """Sends the analytics rounds and keeps the replies in site order."""

    def __init__(self, grid: Grid, config: StudyConfig, request: dict[str, Any]) -> None:
        self.grid = grid
        self.config = config
        self.request = request
        self.request_json = json.dumps(request, sort_keys=True)
        self.rounds = 0

    def ask(self, nodes: list[int], message_type: str, arrays: Mapping[str, Any] | None = None,
            min_answers: int = 0, **config: str) -> list[Message]:
        record = ArrayRecord({k: Array(np.array(v, dtype=np.float64, order="C"))
                              for k, v in arrays.items()}) if arrays else None
        replies = _ask(self.grid, nodes, message_type,
                       ConfigRecord({"request": self.request_json, **config}), record,
                       timeout=self.config.round_timeout, min_answers=min_answers)
        self.rounds += 1
        if not min_answers and len(replies) < len(nodes):
            raise FederationError(f"{message_type}: only {len(replies)} of {len(nodes)} "
                                  "sites answered")
        return sorted(replies, key=lambda r: natural(_name(r)))

    def setup(self, node_ids: list[int], exclude_below: int | None, what: str, *,
              retried: bool = False) -> _Sites:
        replies = self.ask(node_ids, "query.analytics_setup",
                           min_answers=self.config.min_sites_per_round)
        answered = {r.metadata.src_node_id for r in replies}
        excluded: dict[str, str] = {}
        absent = [n for n in node_ids if n not in answered]
        if absent:
            logging.getLogger("fedcare").warning("analytics: %d site(s) did not answer the "
                                                 "set-up round; going ahead without them",
                                                 len(absent))
            excluded.update({f"node {n}": "no answer in the set-up round" for n in absent})
        k = self.config.min_cell
        nodes, names, n_rows = [], [], {}
        dropped, suppressed = 0.0, 0
        text: dict[str, list[str]] = {}
        levels: dict[str, set[str]] = {}
        site_levels: list[dict[str, list[str]]] = []
        for r in replies:
            name = _name(r)
            metrics = r.content.metric_records["metrics"]
            rows, lost = float(cast(float, metrics["n-rows"])), float(cast(float,
                                                                          metrics["n-dropped"]))
            if math.isnan(lost):
                suppressed += 1
            else:
                dropped += lost
            if rows == 0:
                continue    # nothing usable: the embedded CLI never sees such a site
            if exclude_below is not None and (math.isnan(rows) or rows < exclude_below):
                excluded[name] = f"fewer than {k} {what}"
                continue
            nodes.append(r.metadata.src_node_id)
            names.append(name)
            n_rows[name] = rows
            site_cfg = r.content.config_records["site"]
            for col in json.loads(str(site_cfg["text"])):
                text.setdefault(col, []).append(name)
            site_levels.append(dict(json.loads(str(site_cfg["levels"]))))
        column = self.config.site_column
        if exclude_below is None and len(names) < 2:
            raise DataError(f"column '{column}' (--site-column) names {len(names)} site; "
                            "federated analytics needs at least 2")
        if len(names) < 2:
            raise DataError(f"{len(names)} site(s) have at least {k} {what}; federated "
                            "analytics needs at least 2")
        mixed = {c: s for c, s in text.items() if len(s) < len(names)}
        if mixed and not retried:
            # text at some sites, numbers at others: one more set-up round, all as text
            key = "text" if self.request["analysis"] == "describe" else "categorical"
            self.request[key] = sorted(set(self.request[key]) | set(mixed))
            self.request_json = json.dumps(self.request, sort_keys=True)
            return self.setup(node_ids, exclude_below, what, retried=True)
        if mixed:
            col, where = next(iter(mixed.items()))
            raise DataError(f"column '{col}' holds text at site(s) {where} but not at the "
                            "others")
        for lv in site_levels:
            for col, names_ in lv.items():
                levels.setdefault(col, set()).update(names_)
        agreed: dict[str, list[str]] = {}
        for col, values in levels.items():
            if len(values) > MAX_LEVELS:
                raise DataError(f"column '{col}' has {len(values)} distinct values, more than "
                                f"{MAX_LEVELS}: it looks like an identifier or free text")
            if not values:
                raise DataError(f"column '{col}' has no values")
            agreed[col] = sorted(values, key=natural)
        return _Sites(nodes, names, excluded, n_rows, dropped, suppressed, sorted(text),
                      agreed)


def _name(reply: Message) -> str:
    return str(reply.content.config_records["site"]["site"])


def _arrays(reply: Message, prefix: str = "") -> dict[str, NDArray[np.float64]]:
    record = reply.content.array_records["arrays"]
    return {k[len(prefix):]: np.asarray(v.numpy(), dtype=np.float64)
            for k, v in record.items() if k.startswith(prefix)}


def _common(config: StudyConfig, request: Mapping[str, Any], sites: _Sites) -> dict[str, Any]:
    return {"analysis": request["analysis"], "data": Path(config.data).name,
            "site_column": config.site_column, "min_cell": config.min_cell,
            "sites": sites.names, "rows_dropped": int(sites.dropped),
            "rows_dropped_suppressed_sites": sites.dropped_suppressed}


def _describe(c: _Coordinator, node_ids: list[int]) -> dict[str, Any]:
    req, k = c.request, c.config.min_cell
    sites = c.setup(node_ids, None, "rows")
    text = sorted(set(req["text"]) | set(sites.text))
    numeric_cols = [col for col in req["columns"] if col not in text]
    grid = default_edges()
    edges = {col: (np.linspace(float(req["ranges"][col][0]), float(req["ranges"][col][1]),
                               int(req["bins"]) + 1)
                   if col in req["ranges"] else grid) for col in numeric_cols}
    group = req.get("group")
    levels = {col: sites.levels[col] for col in text + ([group] if group else [])}
    replies = c.ask(sites.nodes, "query.describe",
                    {f"edges/{col}": e for col, e in edges.items()},
                    levels=json.dumps(levels))
    result = _common(c.config, req, sites)
    result["columns"] = {}
    for col in numeric_cols:
        d = combine_describe([_arrays(r, f"describe/{col}/") for r in replies], edges[col],
                             quantiles=_QUANTILES, min_cell=k)
        result["columns"][col] = {**d.to_dict(), "edges_from": "--range"
                                  if col in req["ranges"] else "default grid"}
    if group is not None:
        t1 = combine_table1([_arrays(r, "table1/") for r in replies], levels[group],
                            numeric=numeric_cols,
                            categorical={col: levels[col] for col in text}, min_cell=k)
        result["table1"] = {"group": group, "rows": list(t1.rows),
                            "columns": list(t1.columns), "cells": t1.to_dict()}
    return result


def km_summary(km: KaplanMeier, exact: bool) -> tuple[list[float], dict[str, Any]]:
    """Survival (95% CI) of each group at up to 6 times."""
    followed = np.flatnonzero((km.at_risk.sum(axis=0) > 0) & (km.grid > 0))
    if followed.size == 0:
        return [], {}
    end = float(km.grid[followed[-1]])
    if exact:   # round times: the exact event times need not be printed
        times = sorted({float(f"{t:.2g}") for t in np.linspace(0, end, 6)[1:]})
    else:       # public grid points
        idx = np.unique(np.linspace(0, followed.size - 1, 5).round().astype(int))
        times = [float(km.grid[followed[i]]) for i in idx]
    out = {}
    for i, lvl in enumerate(km.group_levels):
        s = km.at(times, i)
        out[str(lvl)] = {"survival": s[0].tolist(), "lower": s[1].tolist(),
                         "upper": s[2].tolist()}
    return times, out


def km_grid(grid_step: float, horizon: float | None) -> NDArray[np.float64]:
    """The public coarse grid 0, S, 2S, ... up to the horizon (default 60 steps)."""
    steps = math.ceil((horizon if horizon is not None else 60 * grid_step) / grid_step)
    if steps > 100_000:
        raise ConfigError("--horizon / --grid-step gives more than 100000 grid points")
    return grid_step * np.arange(0, steps + 1, dtype=np.float64)


def _km(c: _Coordinator, node_ids: list[int]) -> dict[str, Any]:
    req = c.request
    sites = c.setup(node_ids, c.config.min_cell, "usable rows")
    group = req.get("group")
    levels = [sites.levels[group]] if group else []
    exact = bool(req["exact"])
    if exact:
        grid = union_grid([_arrays(r) for r in c.ask(sites.nodes, "query.event_times")])
    else:
        grid = km_grid(float(req["grid_step"]),
                       None if req.get("horizon") is None else float(req["horizon"]))
    replies = c.ask(sites.nodes, "query.km", {"grid": grid},
                    levels=json.dumps({group: levels[0]} if group else {}))
    fit = combine_km([_arrays(r) for r in replies], grid,
                     group_levels=levels[0] if levels else ["all"])
    times, at = km_summary(fit, exact)
    return {**_common(c.config, req, sites), "duration": req["duration"],
            "event": req["event"], "group": group, "exact": exact,
            "grid_step": req.get("grid_step"), "excluded_sites": sites.excluded,
            "stop": fit.stop, "km": fit.to_dict(), "summary": {"times": times, "groups": at}}


def cox_names(covariates: Sequence[str], levels: Mapping[str, Sequence[str]]) -> list[str]:
    """Parameter names as :func:`design_matrix` gives them."""
    names: list[str] = []
    for col in covariates:
        names += ([f"{col}[T.{lvl}]" for lvl in levels[col][1:]] if col in levels else [col])
    return names


def _cox(c: _Coordinator, node_ids: list[int]) -> dict[str, Any]:
    req = c.request
    sites = c.setup(node_ids, c.config.min_cell, "complete rows")
    covs = req["covariates"]
    cat = [col for col in covs if col in req["categorical"] or col in sites.text]
    levels = {col: sites.levels[col] for col in cat}
    names = cox_names(covs, levels)
    levels_json = json.dumps(levels, sort_keys=True)
    ties, stratified = req["ties"], bool(req["stratified"])
    started = time.perf_counter()
    offset = combine_means([_arrays(r) for r in c.ask(sites.nodes, "query.cox",
                                                      step="means", levels=levels_json)])
    setup = 1
    fixed: dict[str, NDArray[np.float64]] = {"offset": offset}
    if not stratified:
        fixed["grid"] = union_grid([_arrays(r) for r in c.ask(sites.nodes,
                                                              "query.event_times")])
        setup += 1

    def evaluate(beta: NDArray[np.float64]) -> Evaluation:
        replies = c.ask(sites.nodes, "query.cox", {**fixed, "beta": beta}, step="eval",
                        levels=levels_json)
        msgs = [_arrays(r) for r in replies]
        if stratified:
            return combine_cox_strata(msgs)
        return combine_cox_risk_sets(msgs, beta, ties=ties)

    beta, ev, rounds, converged = newton_raphson(evaluate, len(names), tol=req["tol"],
                                                 max_rounds=req["max_rounds"])
    fit = _cox_result(names, beta, ev, rounds, setup, time.perf_counter() - started, ties,
                      stratified, converged, 0.05)
    out = fit.to_dict()
    out["ci"] = {n: [out["ci_lower"][n], out["ci_upper"][n]] for n in names}
    return {**_common(c.config, req, sites), "duration": req["duration"],
            "event": req["event"], "covariates": covs, "levels": levels,
            "exact": bool(req["exact"]), "excluded_sites": sites.excluded,
            "n": int(sum(sites.n_rows.values())), **out}


_RUNNERS: dict[str, Callable[[_Coordinator, list[int]], dict[str, Any]]] = {
    "describe": _describe, "km": _km, "cox": _cox}


def run_analytics(grid: Grid, context: Context) -> dict[str, Any]:
    """The coordinator of an analytics run (``task = "analytics"``).

    Returns the JSON-ready result (as ``fedcare analytics ... --json`` writes it) with
    ``message_rounds`` (every message round, set-up included) and ``wall_seconds``.
    """
    started = time.perf_counter()
    config = StudyConfig.from_run_config(dict(context.run_config))
    if REQUEST_KEY not in context.run_config:
        raise ConfigError(f"run config has no '{REQUEST_KEY}'")
    try:
        request = check_request(json.loads(str(context.run_config[REQUEST_KEY])))
    except json.JSONDecodeError:
        raise ConfigError(f"run config '{REQUEST_KEY}' is not JSON") from None
    node_ids = wait_for_sites(grid, context)
    coordinator = _Coordinator(grid, config, request)
    result = _RUNNERS[request["analysis"]](coordinator, node_ids)
    result["message_rounds"] = coordinator.rounds
    result["wall_seconds"] = time.perf_counter() - started
    return result


def run_analytics_inprocess(config: StudyConfig, request: Mapping[str, Any],
                            sites: Sequence[str], *, keep_messages: bool = False
                            ) -> tuple[dict[str, Any], InProcessGrid]:
    """:func:`run_analytics` with one in-process ClientApp per site (the embedded engine).

    Each node gets ``node_config = {"site": name}`` and reads its rows from
    ``config.data`` itself. Returns the result and the grid (its messages when
    ``keep_messages``).
    """
    from fedcare.federation._client import client_app
    from fedcare.federation._run import run_app

    run_config = {**analytics_run_config(config, request), "num-sites": len(sites)}
    return run_app(client_app, run_analytics, run_config, sites, keep_messages=keep_messages)


def submit_analytics(config: StudyConfig, request: Mapping[str, Any],
                     coordinator_dir: str | Path, *, n_sites: int, timeout: float = 1800,
                     on_progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run an analytics request on a live federation (as ``_deploy.submit`` runs a study).

    Each site reads its own table (``data`` in its node config, else ``config.data``).
    """
    from fedcare.federation._deploy import submit

    extra = analytics_run_config(config, request)
    return submit(config, coordinator_dir, n_sites=n_sites, timeout=timeout,
                  on_progress=on_progress,
                  extra_run_config={TASK_KEY: extra[TASK_KEY], REQUEST_KEY: extra[REQUEST_KEY]})
