"""An analytics request: what to compute, checked once with the defaults filled in."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fedcare.exceptions import ConfigError

__all__ = ["ANALYSES", "check_request"]

ANALYSES = ("describe", "km", "cox", "recalibrate")


def _names(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"analytics request: '{key}' must be a list of column names")
    return list(value)


def check_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an analytics request (a JSON-ready dict) and fill in the defaults.

    Keys: ``analysis`` (describe | km | cox | recalibrate). describe: ``columns``, ``group``,
    ``text`` (columns counted per level), ``ranges`` ({column: [lo, hi]}), ``bins``.
    km: ``duration``, ``event``, ``group``, ``exact``, ``grid_step``, ``horizon``.
    cox: ``duration``, ``event``, ``covariates``, ``categorical``, ``ties``,
    ``stratified``, ``exact``, ``tol``, ``max_rounds``. recalibrate: ``equation`` (a
    :mod:`fedcare.assistant` risk equation), ``event`` (the observed outcome over the
    equation's horizon, 0/1), ``columns`` ({profile field: column}), ``male_code``, ``version``,
    ``tol``, ``max_rounds``.
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
    if analysis == "recalibrate":
        for key in ("equation", "event"):
            if not isinstance(req.get(key), str) or not req[key]:
                raise ConfigError(f"analytics request: '{key}' must be a name")
        columns = req.get("columns") or {}
        if not isinstance(columns, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
            raise ConfigError("analytics request: 'columns' must map profile fields to "
                              "column names")
        req["columns"] = dict(columns)
        male = req.get("male_code")
        req["male_code"] = None if male is None else str(male)
        version = req.get("version")
        req["version"] = None if version is None else str(version)
        req["tol"] = float(req.get("tol", 1e-9))
        req["max_rounds"] = int(req.get("max_rounds", 50))
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
