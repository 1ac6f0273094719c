"""Federated runs beyond an embedded study: analytics, quality checks, live submission.

Each runs fedcare's Flower apps embedded (one in-process ClientApp per site, each reading
its own rows of one table) or on a live federation (``coordinator``: the coordinator's
folder; every site reads its own table), and returns what the coordinator computed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fedcare.analytics import check_request
from fedcare.config import StudyConfig
from fedcare.data._study import study_site_names
from fedcare.federation import FederatedRun, run_inprocess, submit
from fedcare.federation.protocol import RunKey
from fedcare.study._study import StudyResult, federation_result

__all__ = ["analytics_run_config", "check_quality", "run_analytics", "submit_study"]

Progress = Callable[[str], None]


def analytics_run_config(config: StudyConfig, request: Mapping[str, Any]
                         ) -> dict[str, str | int | float | bool]:
    """The run config of an analytics run: the settings, ``task`` and the request."""
    return {**config.to_run_config(), RunKey.TASK: "analytics",
            RunKey.ANALYTICS_REQUEST: json.dumps(check_request(request), sort_keys=True)}


def run_analytics(config: StudyConfig, request: Mapping[str, Any], *,
                  sites: Sequence[str] = (), coordinator: str | Path | None = None,
                  n_sites: int | None = None, timeout: float = 1800,
                  on_progress: Progress | None = None) -> dict[str, Any]:
    """Federated describe / Kaplan-Meier / Cox (``request``, see
    :func:`fedcare.analytics.check_request`).

    Embedded (``sites``: the site names of ``config.data``): one in-process ClientApp
    per site. Live (``coordinator`` and ``n_sites``): on the running federation.
    Returns the coordinator's JSON-ready result.
    """
    run_config = analytics_run_config(config, request)
    if coordinator is None:
        result, _ = run_inprocess(run_config, list(sites))
        return result
    assert n_sites is not None
    return submit(config, coordinator, n_sites=n_sites, timeout=timeout,
                  on_progress=on_progress,
                  extra_run_config={k: run_config[k] for k in (RunKey.TASK,
                                                               RunKey.ANALYTICS_REQUEST)})


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
    assert n_sites is not None
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
