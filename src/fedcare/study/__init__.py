"""Studies: configuration, what a site does with its rows, and whole-study runs."""

from fedcare.study._config import STRATEGIES, StudyConfig
from fedcare.study._sites import load_study_cohort
from fedcare.study._study import StudyResult, federation_result, run_study

__all__ = [
    "STRATEGIES",
    "StudyConfig",
    "StudyResult",
    "federation_result",
    "load_study_cohort",
    "run_study",
]
