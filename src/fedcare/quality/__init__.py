"""Federated data-quality checks: missingness, missing-value codes, ranges, units, labels, leaks.

Each site runs :func:`site_quality` on its own rows and sends only protected aggregates
(counts with small-cell protection, micro-aggregated quartiles); the coordinator runs
:func:`combine_quality` on those messages. :func:`check_table` does both for one table on
this machine. See docs/quality.md for what is shared and every rule.

Every name is imported when first asked for (PEP 562): a site's ClientApp process (Flower
starts one per message) that needs one light function does not pay for pandas or scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedcare._lazy import lazy_exports

if TYPE_CHECKING:
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

_LAZY = {
    'CANDIDATE_CODES': 'fedcare.quality._common',
    'Finding': 'fedcare.quality._combine',
    'KINDS': 'fedcare.quality._common',
    'QualityReport': 'fedcare.quality._combine',
    'SEVERITIES': 'fedcare.quality._common',
    'THRESHOLDS': 'fedcare.quality._common',
    'check_table': 'fedcare.quality._local',
    'combine_quality': 'fedcare.quality._combine',
    'effective_range': 'fedcare.quality._common',
    'effective_unit': 'fedcare.quality._common',
    'protect_partition': 'fedcare.quality._site',
    'site_quality': 'fedcare.quality._site',
    'split_sites': 'fedcare.quality._local',
    'to_schema_units': 'fedcare.quality._site',
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
