"""The federated data-quality check: every site's protected aggregates, combined."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict
from typing import Any

from flwr.app import Context, Message
from flwr.serverapp import Grid

from fedcare.config import StudyConfig
from fedcare.data._study import schema_from_json
from fedcare.exceptions import DataError
from fedcare.quality import QualityReport, combine_quality

from ..protocol import SUMS_RECORD, ConfigKey, MessageType, number, site_of
from .rounds import ask, part_view, wait_for_sites
from .setup import agree_schema

__all__ = ["apply_quality", "check_quality", "check_quality_and_sum", "combine_quality_replies",
           "run_quality_check"]


def check_quality(grid: Grid, node_ids: list[int], schema_json: str,
                  config: StudyConfig) -> QualityReport:
    """Ask sites for their data-quality aggregates and combine them (docs/quality.md).

    Uses the round timeout and fault tolerance of the study: with
    ``min_sites_per_round``, sites that fail or stay silent are left out as long as that
    many answered. Quality aggregates are compared site by site, not summed, so they go
    in the clear (small-cell protected) in secure studies too.
    """
    return check_quality_and_sum(grid, node_ids, schema_json, config)[0]


def check_quality_and_sum(grid: Grid, node_ids: list[int], schema_json: str,
                          config: StudyConfig, also: str = "",
                          ) -> tuple[QualityReport, list[Message] | None]:
    """:func:`check_quality`, the same message also asking each site for the sums request
    ``also`` (``query.impute`` or ``query.moments``; a study in the clear): one message
    round fewer. Returns the report and, with ``also``, each answering site's sums as a
    reply of that request would hold them (arrays and ``metrics``), sorted by site;
    ``None`` when some site sent none (a site on an older fedcare ignores the request):
    the caller then asks for the sums in their own message, as before."""
    cfg = {ConfigKey.SCHEMA: schema_json, **({ConfigKey.ALSO_SUM: also} if also else {})}
    replies = ask(grid, node_ids, MessageType.QUALITY, cfg,
                  timeout=config.round_timeout, min_sites=config.min_sites_per_round)
    return combine_quality_replies(replies, schema_json, config, also)


def combine_quality_replies(replies: list[Message], schema_json: str, config: StudyConfig,
                            also: str = "") -> tuple[QualityReport, list[Message] | None]:
    """:func:`check_quality_and_sum` from replies already in hand (the quality round's,
    or those the sites sent with their schemas, ``Setup.quality_replies``)."""
    aggregates = {site_of(r): {key: number(r.content, key)
                               for key in r.content.metric_records["metrics"]}
                  for r in replies}
    report = combine_quality(aggregates, schema_from_json(schema_json),
                             min_cell=config.min_cell,
                             impute=config.missing in ("impute", "drop-feature"))
    if not also:
        return report, None
    if any(SUMS_RECORD not in r.content.metric_records for r in replies):
        logging.getLogger("fedcare").info(
            "a site sent no sums with its quality aggregates (an older fedcare): asking "
            "for them in their own message")
        return report, None
    # the sums part of each, as the sums request's own reply would hold it
    return report, [part_view(r, SUMS_RECORD) for r in replies]


#: The value a missing-code finding names ("value 0 in all 123 values").
_CODE = re.compile(r"\bvalue (-?[0-9][0-9.eE+-]*) in\b")


def _where(f: Any) -> str:
    return " ".join(p for p in (f.site or "", f.feature or "") if p) or "study"


def _fixes(blocking: list[Any]) -> str:
    """How to go on after a refusal, for the kinds of blocking findings there are."""
    kinds = {f.kind for f in blocking}
    fixes = []
    codes: dict[str, str] = {}
    for f in blocking:
        if f.kind in ("missing_code", "out_of_range") and f.feature:
            found = _CODE.search(f.detail)
            codes.setdefault(f.feature, found.group(1) if found else "CODE")
    if codes:
        table = ", ".join(f"{c} = {v}" for c, v in codes.items())
        cli = ", ".join(f"{c}={v}" for c, v in codes.items())
        fixes.append(f"declare the missing-value code: missing_codes = {{{table}}} in the "
                     f"study file, or --missing-codes \"{cli}\" (a site declares its own "
                     "with fedcare site init --missing, the [missing] table of its "
                     "site.toml)")
    if "missing" in kinds:
        fixes.append('keep missing = "impute" (the default) so the rows are imputed and '
                     "flagged")
    if "unit_mismatch" in kinds:
        fixes.append("declare the site's unit (fedcare site init --unit FEATURE=UNIT)")
    fixes.append("leave the feature out (features = [...])")
    fixes.append('or override consciously with quality_check = "warn" (--quality-check '
                 "warn; recorded in metrics.json, the report, the registry and the model "
                 "card)")
    return "; ".join(fixes)


def apply_quality(report: QualityReport, config: StudyConfig) -> None:
    """Log the findings; with ``quality_check = "refuse"`` (the default), stop on a
    blocking one with a :class:`~fedcare.exceptions.DataError` (exit 3) that lists the
    findings and says how to go on."""
    blocking = report.blocking
    if config.quality_check == "refuse" and blocking:
        shown = blocking[:6]
        listed = "; ".join(f"{_where(f)}: {f.detail}" for f in shown)
        more = f" (and {len(blocking) - len(shown)} more)" if len(blocking) > len(shown) else ""
        raise DataError(f"data quality check refused the study before training: "
                        f"{len(blocking)} blocking finding(s): {listed}{more}. To go on: "
                        f"{_fixes(blocking)}")
    log = logging.getLogger("fedcare")
    for f in report.findings:
        if f.severity == "blocking":
            log.warning("data quality (blocking, overridden by quality_check = 'warn'): "
                        "%s %s: %s", _where(f), f.kind, f.detail)
        elif f.severity != "info":
            log.warning("data quality (%s): %s %s: %s", f.severity, _where(f), f.kind,
                        f.detail)


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
