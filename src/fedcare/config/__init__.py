"""Settings: what a study and a site's policy are, validated strictly (the bottom layer).

Imports nothing of fedcare but :mod:`fedcare.exceptions`; every invalid value is a
:class:`~fedcare.exceptions.ConfigError` naming the setting, the file, what was expected
and what was received.
"""

from fedcare.config._policy import (
    SitePolicy,
    read_site_missing,
    read_site_units,
    update_policy,
)
from fedcare.config._study import (
    AGGREGATIONS,
    DEFAULT_MIN_CELL,
    DP_LEVELS,
    ENGINES,
    MODELS,
    NORM_ACTIONS,
    PERSONALISE,
    QUALITY_CHECKS,
    SECTIONS,
    STANDARDISE,
    STRATEGIES,
    StudyConfig,
    read_toml,
)

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_MIN_CELL",
    "DP_LEVELS",
    "ENGINES",
    "MODELS",
    "NORM_ACTIONS",
    "PERSONALISE",
    "QUALITY_CHECKS",
    "SECTIONS",
    "STANDARDISE",
    "STRATEGIES",
    "SitePolicy",
    "StudyConfig",
    "read_site_missing",
    "read_site_units",
    "read_toml",
    "update_policy",
]
