"""A personal health-management assistant: published risk equations, fedcare's own models,
what-if, a plan from cited guidelines and follow-up, in English and Simplified Chinese.

The core of the assistant: no web framework, no database (the registry stores assessments,
the API and the CLI call :func:`assess`).  Decision support, not a diagnosis.
"""

from fedcare.assistant._assess import ModelCandidate, assess, score_models, trend
from fedcare.assistant._equations import EQUATIONS, Equation, Result, Skipped, compute_all
from fedcare.assistant._plan import CITATIONS, Thresholds
from fedcare.assistant._profile import FIELDS, Profile, ProfileError, parse_profile
from fedcare.assistant._validate import Recalibration

__all__ = [
    "CITATIONS",
    "EQUATIONS",
    "FIELDS",
    "Equation",
    "ModelCandidate",
    "Profile",
    "ProfileError",
    "Recalibration",
    "Result",
    "Skipped",
    "Thresholds",
    "assess",
    "compute_all",
    "parse_profile",
    "score_models",
    "trend",
]
