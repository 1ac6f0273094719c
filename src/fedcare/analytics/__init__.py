"""Federated statistics and survival analysis: only aggregates leave a site.

Each analysis is a pair: ``site_*`` functions run at a site on its own rows and return
a :data:`SiteMessage` (a flat dict of float64 arrays); ``combine_*`` functions run at
the coordinator on the messages of all sites. No flwr, typer or fastapi here: the
federation layer calls the site functions inside ClientApp handlers.
"""

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
