"""The federated data-quality check: every site's protected aggregates, combined."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid

from fedcare.config import StudyConfig
from fedcare.data._study import schema_from_json
from fedcare.exceptions import FederationError
from fedcare.quality import QualityReport, combine_quality

from ..protocol import ConfigKey, MessageType, number, site_of
from .rounds import ask, wait_for_sites
from .setup import agree_schema

__all__ = ["apply_quality", "check_quality", "run_quality_check"]


def check_quality(grid: Grid, node_ids: list[int], schema_json: str,
                  config: StudyConfig) -> QualityReport:
    """Ask sites for their data-quality aggregates and combine them (docs/quality.md).

    Uses the round timeout and fault tolerance of the study: with
    ``min_sites_per_round``, sites that fail or stay silent are left out as long as that
    many answered. Quality aggregates are compared site by site, not summed, so they go
    in the clear (small-cell protected) in secure studies too.
    """
    replies = ask(grid, node_ids, MessageType.QUALITY, {ConfigKey.SCHEMA: schema_json},
                  timeout=config.round_timeout, min_sites=config.min_sites_per_round)
    aggregates = {site_of(r): {key: number(r.content, key)
                               for key in r.content.metric_records["metrics"]}
                  for r in replies}
    return combine_quality(aggregates, schema_from_json(schema_json), min_cell=config.min_cell)


def apply_quality(report: QualityReport, config: StudyConfig) -> None:
    """Log the findings; with ``quality_check = "refuse"``, stop on a blocking one."""
    blocking = report.blocking
    if config.quality_check == "refuse" and blocking:
        listed = "; ".join(f"site '{f.site}' feature '{f.feature}' {f.kind}: {f.detail}"
                           for f in blocking)
        raise FederationError(f"data quality check (quality_check = 'refuse'): "
                              f"{len(blocking)} blocking finding(s), training not started: "
                              f"{listed}")
    log = logging.getLogger("fedcare")
    for f in report.findings:
        if f.severity != "info":
            log.warning("data quality (%s): site '%s' feature '%s' %s: %s", f.severity,
                        f.site, f.feature, f.kind, f.detail)


def run_quality_check(grid: Grid, context: Context) -> dict[str, Any]:
    """A data-quality check on its own (``task = "quality"``): the schema round, then
    every site's aggregates.

    Returns ``quality`` (:meth:`QualityReport.to_dict`), ``schema``, ``sites`` and
    ``excluded_sites`` (as a study would exclude them; they are checked too).
    """
    config = StudyConfig.from_run_config(dict(context.run_config))
    node_ids = wait_for_sites(grid, context)
    setup = agree_schema(grid, node_ids, config)
    report = check_quality(grid, sorted(setup.names), setup.schema_json, config)
    return {"quality": report.to_dict(), "schema": json.loads(setup.schema_json),
            "sites": {k: asdict(v) for k, v in setup.sites.items()},
            "excluded_sites": setup.excluded}
