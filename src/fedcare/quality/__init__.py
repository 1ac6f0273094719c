"""Federated data-quality checks: missingness, missing-value codes, ranges, units, labels, leaks.

Each site runs :func:`site_quality` on its own rows and sends only protected aggregates
(counts with small-cell protection, micro-aggregated quartiles); the coordinator runs
:func:`combine_quality` on those messages. :func:`check_table` does both for one table on
this machine. See docs/quality.md for what is shared and every rule.
"""

from fedcare.quality._combine import Finding, QualityReport, combine_quality
from fedcare.quality._common import (
    CANDIDATE_CODES,
    KINDS,
    SEVERITIES,
    THRESHOLDS,
    effective_range,
    effective_unit,
)
from fedcare.quality._local import check_table, split_sites
from fedcare.quality._site import protect_partition, site_quality, to_schema_units

__all__ = [
    "CANDIDATE_CODES",
    "KINDS",
    "SEVERITIES",
    "THRESHOLDS",
    "Finding",
    "QualityReport",
    "check_table",
    "combine_quality",
    "effective_range",
    "effective_unit",
    "protect_partition",
    "site_quality",
    "split_sites",
    "to_schema_units",
]
