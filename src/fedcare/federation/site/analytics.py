"""The site side of federated analytics: describe / Table 1, Kaplan-Meier, Cox.

Each task reads the site's own rows of its table (``data`` of its settings), prepares
them for the request once (cached across rounds) and answers with the protected
aggregates of :mod:`fedcare.analytics` only. See
:mod:`fedcare.federation.coordinator.analytics` for the rounds.

One exception, for secure runs only: Kaplan-Meier's ``step = "km-totals"`` answers with
the site's un-merged counts on the public grid (:func:`~fedcare.analytics._km.site_km_counts`),
which go into a SecAgg+ sum; the small-cell rule is applied to the totals. A site
refuses that step unless its study settings say ``secure_aggregation = true``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fedcare.analytics import (
    design_matrix,
    is_text,
    labels,
    local_levels,
    numeric,
    require_columns,
    site_describe,
    site_event_times,
    site_km,
    site_table1,
    survival_rows,
)
from fedcare.analytics._km import KM_TOTALS_STEP, site_km_counts
from fedcare.data._study import read_study_table, table_stamp
from fedcare.data._table import _did_you_mean
from fedcare.exceptions import ConfigError, DataError

from ..protocol import ConfigKey, MessageType, TaskResult
from .data import merge_codes, recode_missing
from .request import SiteRequest

__all__ = ["TASKS", "site_table"]


@lru_cache(maxsize=8)
def _table(data: str, data_dir: str, stamp: float, site_column: str) -> pd.DataFrame:
    frame = read_study_table(data, data_dir).copy()
    frame.columns = [str(c) for c in frame.columns]
    if site_column not in frame.columns:
        raise DataError(f"{data}: column '{site_column}' (--site-column) not found"
                        + _did_you_mean(site_column, list(frame.columns)))
    frame[site_column] = labels(frame[site_column])
    return frame


def site_table(data: str, data_dir: str, site_column: str) -> pd.DataFrame:
    """The table a site reads: columns as text, the site column as labels (cached)."""
    return _table(data, data_dir, table_stamp(data), site_column)


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A site's rows prepared for one request (cached across rounds; never sent)."""

    name: str
    frame: pd.DataFrame
    dropped: int
    text: tuple[str, ...]
    levels: dict[str, list[str]]


@lru_cache(maxsize=32)
def _prepare(data: str, data_dir: str, stamp: float, site_column: str, name: str,
             request_json: str, missing_json: str = "{}") -> _Prepared:
    req = json.loads(request_json)
    table = _table(data, data_dir, stamp, site_column)
    rows = table[table[site_column] == name].reset_index(drop=True)
    if rows.empty:
        raise DataError(f"site '{name}' has no rows in {Path(data).name}")
    # the study's and the site's own "not recorded" codes (site config [missing], e.g.
    # cholesterol 0) are missing values here too, as in a study
    rows, _ = recode_missing(rows, json.loads(missing_json), source=f"site '{name}'",
                             protected=(site_column,))
    group = req.get("group")
    levels: dict[str, list[str]] = {}
    if req["analysis"] == "describe":
        cols = req["columns"]
        require_columns(rows, Path(data).name,
                        {"--columns": cols, "--group": [group] if group else []})
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
    if req["analysis"] == "recalibrate":
        return _prepare_recalibration(rows, req, name, Path(data).name)
    duration, event = req["duration"], req["event"]
    extra = ({"--group": [group] if group else []} if req["analysis"] == "km"
             else {"--covariates": req["covariates"]})
    require_columns(rows, Path(data).name, {"--duration": [duration], "--event": [event], **extra})
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


def _prepare_recalibration(rows: pd.DataFrame, req: dict[str, Any], name: str,
                           file: str) -> _Prepared:
    """The equation's risk (``p``) and the observed outcome (``y``) of each usable row."""
    from fedcare.assistant import EQUATIONS
    from fedcare.assistant._validate import VERSIONS, equation_risks, profiles_from_frame

    equation, event = req["equation"], req["event"]
    if equation not in EQUATIONS or EQUATIONS[equation].kind != "risk":
        risk = sorted(n for n, e in EQUATIONS.items() if e.kind == "risk")
        raise ConfigError(f"recalibrate: unknown risk equation '{equation[:40]}'; known: "
                          f"{', '.join(risk)}")
    if equation in VERSIONS and req.get("version") is None:
        versions = ", ".join(VERSIONS[equation])
        raise ConfigError(f"recalibrate: {equation} has versions ({versions}); name one "
                          "(--version)")
    require_columns(rows, file, {"--event": [event]})
    y = pd.to_numeric(rows[event].map(lambda v: {"true": 1, "false": 0}.get(
        str(v).strip().lower(), v)), errors="coerce")
    if not y.dropna().isin([0, 1]).all():
        raise DataError(f"{file}: column '{event}' (--event) must hold 0/1 or true/false")
    profiles = profiles_from_frame(rows, equation, req["columns"], req["male_code"],
                                   req.get("version"))
    p, ok = equation_risks(equation, profiles)
    keep = ok & y.notna().to_numpy()
    frame = pd.DataFrame({"p": p[keep], "y": y.to_numpy(dtype=float)[keep]})
    return _Prepared(name, frame, int((~keep).sum()), (), {})


def _site(req: SiteRequest) -> tuple[dict[str, Any], _Prepared, int]:
    """The request, this site's prepared rows and the small-cell threshold."""
    config = req.config
    request_json = str(req.cfg[ConfigKey.REQUEST])
    codes = merge_codes(config.missing_codes, {k: list(v) for k, v in req.missing})
    prep = _prepare(config.data, config.data_dir, table_stamp(config.data), config.site_column,
                    req.name, request_json, json.dumps(codes, sort_keys=True))
    return json.loads(request_json), prep, config.min_cell


def _agreed(req: SiteRequest) -> dict[str, list[str]]:
    return dict(json.loads(str(req.cfg.get(ConfigKey.LEVELS, "{}"))))


def setup(req: SiteRequest) -> TaskResult:
    """Usable and dropped row counts, level names, text columns."""
    _, prep, _ = _site(req)
    return TaskResult(None, {"n-rows": len(prep.frame), "n-dropped": prep.dropped},
                      {"text": json.dumps(list(prep.text)), "levels": json.dumps(prep.levels)})


def describe(req: SiteRequest) -> TaskResult:
    """Protected moments and cumulative counts per numeric column; a protected Table 1."""
    request, prep, k = _site(req)
    rows, levels = prep.frame, _agreed(req)
    numeric_cols = [c for c in request["columns"] if c not in prep.text]
    out: dict[str, NDArray[np.float64]] = {}
    for c in numeric_cols:
        msg = site_describe(rows[c].to_numpy(dtype=np.float64), req.named[f"edges/{c}"],
                            min_cell=k)
        out.update({f"describe/{c}/{key}": v for key, v in msg.items()})
    group = request.get("group")
    if group is not None:
        msg = site_table1(rows[rows[group].notna()], group, levels[group],
                          numeric=numeric_cols,
                          categorical={c: levels[c] for c in sorted(prep.text)}, min_cell=k)
        out.update({f"table1/{key}": v for key, v in msg.items()})
    return TaskResult(out)


def event_times(req: SiteRequest) -> TaskResult:
    """Opt-in exact modes only: the site's distinct event times."""
    request, prep, _ = _site(req)
    rows = prep.frame
    return TaskResult(dict(site_event_times(rows[request["duration"]], rows[request["event"]])))


def km(req: SiteRequest) -> TaskResult:
    """Events and numbers at risk on the agreed grid (protected unless exact); with
    ``step = "km-totals"`` (secure runs only) the un-merged counts for a secure sum."""
    request, prep, k = _site(req)
    rows, group = prep.frame, request.get("group")
    levels = _agreed(req).get(group) if group else None
    if str(req.cfg.get(ConfigKey.STEP, "")) == KM_TOTALS_STEP:
        if request["analysis"] != "km":
            raise ConfigError(f"query.km: step '{KM_TOTALS_STEP}' needs a km request")
        if not req.config.secure_aggregation:
            raise ConfigError("query.km: un-merged counts go only into a secure sum, and "
                              "this study does not use secure aggregation")
        return TaskResult(dict(site_km_counts(
            rows[request["duration"]], rows[request["event"]], req.named["grid"],
            groups=rows[group] if group else None, group_levels=levels,
            exact=bool(request["exact"]))), {})
    msg = site_km(rows[request["duration"]], rows[request["event"]], req.named["grid"],
                  groups=rows[group] if group else None, group_levels=levels,
                  exact=bool(request["exact"]), min_cell=k)
    return TaskResult(dict(msg))


@lru_cache(maxsize=32)
def _design(prep: _Prepared, request_json: str, levels_json: str
            ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    req = json.loads(request_json)
    x, _, _ = design_matrix(prep.frame, req["covariates"], json.loads(levels_json))
    return (x, prep.frame[req["duration"]].to_numpy(dtype=np.float64),
            prep.frame[req["event"]].to_numpy(dtype=np.float64))


def cox(req: SiteRequest) -> TaskResult:
    """The centring sums (``step = "means"``), or the site's Newton contribution at the
    coordinator's ``beta`` (``step = "eval"``); the design matrix is stored in the site's
    cache for the next messages (:mod:`.cox`)."""
    from .cox import cox_answer, save_design

    _, prep, _ = _site(req)
    design = _design(prep, str(req.cfg[ConfigKey.REQUEST]),
                     str(req.cfg.get(ConfigKey.LEVELS, "{}")))
    save_design(req, design)
    return cox_answer(req, design)


def recalibrate(req: SiteRequest) -> TaskResult:
    """The sums of one Fisher-scoring step of the equation's recalibration at the
    coordinator's ``params`` (a, b), and the expected events before and after: sums over
    the site's rows only."""
    from fedcare.assistant._validate import site_sums

    _, prep, k = _site(req)
    if len(prep.frame) < k:
        raise DataError(f"site '{prep.name}' has fewer than {k} usable rows (--min-cell)")
    p, y = prep.frame["p"].to_numpy(), prep.frame["y"].to_numpy()
    params = np.asarray(req.named["params"], dtype=np.float64)
    sums = site_sums(p, y, params)
    from fedcare.assistant._validate import Recalibration

    after = Recalibration("", float(params[0]), float(params[1]), 0, 0, 0, 0).apply(p)
    return TaskResult({"score": np.asarray(sums["score"]),
                       "information": np.asarray(sums["information"]).ravel(),
                       "totals": np.array([sums["n"], sums["events"], sums["loglik"],
                                           float(p.sum()), float(after.sum())])})


TASKS = {
    MessageType.ANALYTICS_SETUP: setup,
    MessageType.DESCRIBE: describe,
    MessageType.EVENT_TIMES: event_times,
    MessageType.KM: km,
    MessageType.COX: cox,
    MessageType.RECALIBRATE: recalibrate,
}
