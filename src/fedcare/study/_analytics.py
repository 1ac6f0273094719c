"""Checking one table before an embedded federated analysis.

An embedded run has the whole table here, so it is checked as a whole first (columns
exist, with "did you mean"; every row has a site; numeric columns are numeric; at least
two sites), the site names are read from it, and the rows each analysis leaves out are
counted and announced as warnings. The sites then read their own rows again inside the
Flower apps and answer with protected aggregates only.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fedcare.analytics import (
    check_request,
    is_text,
    labels,
    natural,
    numeric,
    require_columns,
    survival_rows,
)
from fedcare.data._table import _rows, read_frame
from fedcare.exceptions import ConfigError, DataError

__all__ = ["AnalyticsWarning", "EmbeddedTable", "check_analytics_table", "dropped_text"]


class AnalyticsWarning(UserWarning):
    """Rows left out of a federated analysis (a missing duration, event, group or
    covariate), or an opt-in that reveals more than the default."""


@dataclass
class EmbeddedTable:
    """What the whole-table check found: the request as sent, the sites, rows left out."""

    request: dict[str, Any]
    sites: list[str]
    dropped: int


def _load(data: Path, site_column: str, columns: Mapping[str, Sequence[str]]
          ) -> pd.DataFrame:
    frame = read_frame(data)
    frame.columns = [str(c) for c in frame.columns]
    require_columns(frame, str(data), {"--site-column": [site_column], **columns})
    no_site = frame[site_column].isna().to_numpy()
    if no_site.any():
        raise DataError(f"column '{site_column}' (--site-column) is empty in "
                        f"{int(no_site.sum())} row(s) ({_rows(no_site)}); every row needs a "
                        "site")
    frame[site_column] = labels(frame[site_column])
    return frame


def _sites(frame: pd.DataFrame, site_column: str) -> list[str]:
    names = {str(v) for v in frame[site_column].dropna()}
    if len(names) < 2:
        raise DataError(f"column '{site_column}' (--site-column) names {len(names)} site; "
                        "federated analytics needs at least 2")
    return sorted(names, key=natural)


def dropped_text(request: Mapping[str, Any], dropped: int) -> str:
    """The warning for rows an analysis left out."""
    if request["analysis"] == "recalibrate":
        return (f"{dropped} row(s) left out: a missing {request['event']}, or an input of "
                f"{request['equation']} missing, implausible or outside its derivation range")
    if request["analysis"] == "describe":
        return f"{dropped} row(s) with no '{request['group']}' left out of the Table 1"
    if request["analysis"] == "km":
        group = request.get("group")
        return (f"{dropped} row(s) with a missing {request['duration']}, {request['event']}"
                + (f" or {group}" if group else "") + " left out")
    return (f"{dropped} row(s) with a missing {request['duration']}, {request['event']} or "
            "covariate left out")


def check_analytics_table(data: str | Path, site_column: str,
                          request: Mapping[str, Any]) -> EmbeddedTable:
    """Check ``data`` for ``request`` (see :func:`fedcare.analytics.check_request`).

    Text columns found in the table are added to the request (``text`` for describe,
    ``categorical`` for Cox). Rows left out are counted and announced with an
    :class:`AnalyticsWarning`.

    Raises
    ------
    DataError
        A column is missing, a numeric column holds text, a row has no site, fewer than
        two sites.
    """
    path = Path(data)
    req = check_request(request)
    analysis, group = req["analysis"], req.get("group")
    dropped = 0
    if analysis == "recalibrate":
        from fedcare.assistant import EQUATIONS
        from fedcare.assistant._validate import VERSIONS, equation_risks, profiles_from_frame

        equation = req["equation"]
        if equation not in EQUATIONS or EQUATIONS[equation].kind != "risk":
            known = sorted(n for n, e in EQUATIONS.items() if e.kind == "risk")
            raise ConfigError(f"--equation must be one of {', '.join(known)}")
        if equation in VERSIONS and req.get("version") not in VERSIONS[equation]:
            raise ConfigError(f"--version must be one of {', '.join(VERSIONS[equation])} "
                              f"for {equation} (the lipid or the office-based BMI model)")
        frame = _load(path, site_column, {"--event": [req["event"]]})
        _, ok = equation_risks(equation, profiles_from_frame(
            frame, equation, req["columns"], req["male_code"], req.get("version")))
        y = frame[req["event"]]
        usable = ok & y.notna().to_numpy()
        dropped = int((~usable).sum())
        sites = _sites(frame.loc[usable], site_column)
        if dropped:
            warnings.warn(dropped_text(req, dropped), AnalyticsWarning, stacklevel=2)
        return EmbeddedTable(req, sites, dropped)
    if analysis == "describe":
        cols = req["columns"]
        frame = _load(path, site_column, {"--columns": cols,
                                          "--group": [group] if group else []})
        text = {c for c in cols if is_text(frame, c)}
        if text and group is None:
            raise DataError(f"column(s) {sorted(text)} (--columns) are not numeric; describe "
                            "counts text columns only in a Table 1 (add --group)")
        for c in cols:
            if c not in text:
                numeric(frame, c, "--columns")
        if group is not None:
            dropped = int(labels(frame[group]).isna().sum())
        req["text"] = sorted(set(req["text"]) | text)
        sites = _sites(frame, site_column)
    else:
        duration, event = req["duration"], req["event"]
        extra = ({"--group": [group] if group else []} if analysis == "km"
                 else {"--covariates": req["covariates"]})
        frame = _load(path, site_column, {"--duration": [duration], "--event": [event],
                                          **extra})
        frame, dropped = survival_rows(frame, duration, event)
        if analysis == "km":
            if group is not None:
                no_group = labels(frame[group]).isna()
                dropped += int(no_group.sum())
                frame = frame.loc[~no_group].reset_index(drop=True)
        else:
            covs = req["covariates"]
            cats = [c for c in covs if c in req["categorical"] or is_text(frame, c)]
            for c in covs:
                frame[c] = labels(frame[c]) if c in cats else numeric(frame, c,
                                                                      "--covariates")
            complete = frame[covs].notna().all(axis=1)
            dropped += int((~complete).sum())
            frame = frame.loc[complete]
            req["categorical"] = cats
        sites = _sites(frame, site_column)
    if dropped:
        warnings.warn(dropped_text(req, dropped), AnalyticsWarning, stacklevel=3)
    return EmbeddedTable(req, sites, dropped)
