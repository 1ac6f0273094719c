"""Studies: whole federated runs on the engines, as a Python user calls them.

``run_study`` runs an embedded study (the Flower apps in-process, or on Flower's
simulation) beside local-only and pooled references; ``federation_result`` turns a live
federation's result into the same layout. See the README's Python section.
"""

from fedcare.config import STRATEGIES, StudyConfig
from fedcare.data._study import load_study_cohort
from fedcare.data._study import study_site_names as site_names
from fedcare.study._analytics import AnalyticsWarning, check_analytics_table
from fedcare.study._runs import check_quality, run_analytics, submit_study
from fedcare.study._study import ENGINES, StudyResult, federation_result, run_study

__all__ = [
    "ENGINES",
    "STRATEGIES",
    "AnalyticsWarning",
    "StudyConfig",
    "StudyResult",
    "check_analytics_table",
    "check_quality",
    "federation_result",
    "load_study_cohort",
    "run_analytics",
    "run_study",
    "site_names",
    "submit_study",
]
