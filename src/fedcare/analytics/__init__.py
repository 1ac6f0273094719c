"""Federated statistics and survival analysis: only aggregates leave a site.

Each analysis is a pair: ``site_*`` functions run at a site on its own rows and return
a :data:`SiteMessage` (a flat dict of float64 arrays); ``combine_*`` functions run at
the coordinator on the messages of all sites. No flwr, typer or fastapi here: the
federation layer calls the site functions inside ClientApp handlers.

Every name is imported when first asked for (PEP 562): a site's ClientApp process (Flower
starts one per message) that needs one light function does not pay for pandas or scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedcare._lazy import lazy_exports

if TYPE_CHECKING:
    from fedcare.analytics._common import DEFAULT_MIN_CELL, SiteMessage, small_cells, suppress
    from fedcare.analytics._cox import (
        CoxResult,
        Ties,
        combine_cox_risk_sets,
        combine_cox_strata,
        combine_means,
        design_matrix,
        federated_cox,
        newton_raphson,
        site_cox_risk_sets,
        site_cox_stratum,
        site_means,
    )
    from fedcare.analytics._describe import (
        DESCRIBE_COUNT_KEYS,
        Description,
        Quantile,
        Table1,
        combine_describe,
        combine_table1,
        site_describe,
        site_table1,
    )
    from fedcare.analytics._km import (
        KM_COUNT_KEYS,
        KaplanMeier,
        LogRank,
        combine_km,
        logrank,
        site_event_times,
        site_km,
        union_grid,
    )
    from fedcare.analytics._request import ANALYSES, check_request
    from fedcare.analytics._table import (
        default_edges,
        is_text,
        km_grid,
        labels,
        local_levels,
        natural,
        numeric,
        require_columns,
        survival_rows,
    )

__all__ = [
    "ANALYSES",
    "DEFAULT_MIN_CELL",
    "DESCRIBE_COUNT_KEYS",
    "KM_COUNT_KEYS",
    "CoxResult",
    "Description",
    "KaplanMeier",
    "LogRank",
    "Quantile",
    "SiteMessage",
    "Table1",
    "Ties",
    "check_request",
    "combine_cox_risk_sets",
    "combine_cox_strata",
    "combine_describe",
    "combine_km",
    "combine_means",
    "combine_table1",
    "default_edges",
    "design_matrix",
    "federated_cox",
    "is_text",
    "km_grid",
    "labels",
    "local_levels",
    "logrank",
    "natural",
    "newton_raphson",
    "numeric",
    "require_columns",
    "site_cox_risk_sets",
    "site_cox_stratum",
    "site_describe",
    "site_event_times",
    "site_km",
    "site_means",
    "site_table1",
    "small_cells",
    "suppress",
    "survival_rows",
    "union_grid",
]

_LAZY = {
    'ANALYSES': 'fedcare.analytics._request',
    'CoxResult': 'fedcare.analytics._cox',
    'DEFAULT_MIN_CELL': 'fedcare.analytics._common',
    'DESCRIBE_COUNT_KEYS': 'fedcare.analytics._describe',
    'Description': 'fedcare.analytics._describe',
    'KM_COUNT_KEYS': 'fedcare.analytics._km',
    'KaplanMeier': 'fedcare.analytics._km',
    'LogRank': 'fedcare.analytics._km',
    'Quantile': 'fedcare.analytics._describe',
    'SiteMessage': 'fedcare.analytics._common',
    'Table1': 'fedcare.analytics._describe',
    'Ties': 'fedcare.analytics._cox',
    'check_request': 'fedcare.analytics._request',
    'combine_cox_risk_sets': 'fedcare.analytics._cox',
    'combine_cox_strata': 'fedcare.analytics._cox',
    'combine_describe': 'fedcare.analytics._describe',
    'combine_km': 'fedcare.analytics._km',
    'combine_means': 'fedcare.analytics._cox',
    'combine_table1': 'fedcare.analytics._describe',
    'default_edges': 'fedcare.analytics._table',
    'design_matrix': 'fedcare.analytics._cox',
    'federated_cox': 'fedcare.analytics._cox',
    'is_text': 'fedcare.analytics._table',
    'km_grid': 'fedcare.analytics._table',
    'labels': 'fedcare.analytics._table',
    'local_levels': 'fedcare.analytics._table',
    'logrank': 'fedcare.analytics._km',
    'natural': 'fedcare.analytics._table',
    'newton_raphson': 'fedcare.analytics._cox',
    'numeric': 'fedcare.analytics._table',
    'require_columns': 'fedcare.analytics._table',
    'site_cox_risk_sets': 'fedcare.analytics._cox',
    'site_cox_stratum': 'fedcare.analytics._cox',
    'site_describe': 'fedcare.analytics._describe',
    'site_event_times': 'fedcare.analytics._km',
    'site_km': 'fedcare.analytics._km',
    'site_means': 'fedcare.analytics._cox',
    'site_table1': 'fedcare.analytics._describe',
    'small_cells': 'fedcare.analytics._common',
    'suppress': 'fedcare.analytics._common',
    'survival_rows': 'fedcare.analytics._table',
    'union_grid': 'fedcare.analytics._km',
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
