"""Federated runs beyond an embedded study: analytics, quality checks, live submission.

Each runs fedcare's Flower apps embedded (one in-process ClientApp per site, each reading
its own rows of one table) or on a live federation (``coordinator``: the coordinator's
folder; every site reads its own table), and returns what the coordinator computed.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fedcare.analytics import check_request
from fedcare.config import StudyConfig
from fedcare.data._study import study_site_names
from fedcare.exceptions import ConfigError
from fedcare.federation import FederatedRun, run_inprocess, submit
from fedcare.federation.protocol import RunKey
from fedcare.study._analytics import AnalyticsWarning, check_analytics_table, dropped_text
from fedcare.study._study import StudyResult, federation_result

__all__ = ["analytics_run_config", "check_quality", "run_analytics", "submit_study"]

Progress = Callable[[str], None]


def analytics_run_config(config: StudyConfig, request: Mapping[str, Any]
                         ) -> dict[str, str | int | float | bool]:
    """The run config of an analytics run: the settings, ``task`` and the request."""
    return {**config.to_run_config(), RunKey.TASK: "analytics",
            RunKey.ANALYTICS_REQUEST: json.dumps(check_request(request), sort_keys=True)}


def run_analytics(config: StudyConfig, request: Mapping[str, Any], *,
                  sites: Sequence[str] | None = None, coordinator: str | Path | None = None,
                  n_sites: int | None = None, timeout: float = 1800,
                  on_progress: Progress | None = None) -> dict[str, Any]:
    """Federated describe / Kaplan-Meier / Cox (``request``, see
    :func:`fedcare.analytics.check_request`) on ``config.data`` by ``config.site_column``
    with small-cell ``config.min_cell``.

    Embedded (no ``coordinator``): the table is checked as a whole first
    (:func:`check_analytics_table`: columns, numeric values, two sites; rows left out
    announced as :class:`AnalyticsWarning`), then one in-process ClientApp per site
    (``sites``, default: every site of the table) reads its own rows. Live
    (``coordinator`` and ``n_sites``): on the running federation, each site reading its
    own table. Returns the coordinator's JSON-ready result with ``rows_dropped``.
    """
    if coordinator is None:
        request = dict(request)
        dropped: int | None = None
        if sites is None:
            checked = check_analytics_table(config.data, config.site_column, request)
            request, sites, dropped = checked.request, checked.sites, checked.dropped
        result, _ = run_inprocess(analytics_run_config(config, request), list(sites))
        if dropped is not None and request["analysis"] != "describe":
            result["rows_dropped"] = dropped
        return result
    if n_sites is None:
        raise ConfigError("a live federation (coordinator) needs n_sites, the sites to "
                          "wait for")
    run_config = analytics_run_config(config, request)
    result = submit(config, coordinator, n_sites=n_sites, timeout=timeout,
                    on_progress=on_progress,
                    extra_run_config={k: run_config[k] for k in (RunKey.TASK,
                                                                 RunKey.ANALYTICS_REQUEST)})
    if result.get("rows_dropped"):
        warnings.warn(dropped_text(check_request(request), int(result["rows_dropped"])),
                      AnalyticsWarning, stacklevel=2)
    return result


def check_quality(config: StudyConfig, *, coordinator: str | Path | None = None,
                  n_sites: int | None = None, timeout: float = 1800,
                  on_progress: Progress | None = None) -> dict[str, Any]:
    """The federated data-quality check of a study's sites (``task = "quality"``).

    Returns ``quality`` (the report), ``schema``, ``sites`` and ``excluded_sites``.
    """
    if coordinator is None:
        result, _ = run_inprocess({**config.to_run_config(), RunKey.TASK: "quality"},
                                  study_site_names(config))
        return result
    if n_sites is None:
        raise ConfigError("a live federation (coordinator) needs n_sites, the sites to "
                          "wait for")
    return submit(config, coordinator, n_sites=n_sites, timeout=timeout,
                  on_progress=on_progress, extra_run_config={RunKey.TASK: "quality"})


def submit_study(config: StudyConfig, coordinator: str | Path, *, n_sites: int,
                 timeout: float = 3600, on_progress: Progress | None = None) -> StudyResult:
    """Run a study on a live federation; the metrics.json layout from what the sites sent
    (no pooled model: the rows stay at the sites)."""
    started = time.perf_counter()
    raw = submit(config, coordinator, n_sites=n_sites, timeout=timeout,
                 on_progress=on_progress)
    return federation_result(config, FederatedRun.from_dict(raw),
                             time.perf_counter() - started)
