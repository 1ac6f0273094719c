"""Compatibility shim: a study's settings now live in :mod:`fedcare.config`.

Import from ``fedcare.config`` in new code; this module goes once every import moved.
"""

from fedcare.config._study import (
    AGGREGATIONS,
    DP_LEVELS,
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
    "DP_LEVELS",
    "MODELS",
    "NORM_ACTIONS",
    "PERSONALISE",
    "QUALITY_CHECKS",
    "SECTIONS",
    "STANDARDISE",
    "STRATEGIES",
    "StudyConfig",
    "read_toml",
]
