"""The coordinator side of a federation: rounds, sums, the study, analytics, quality.

Never imports :mod:`fedcare.federation.site`.
"""

from fedcare.federation.coordinator.app import RUNNERS, run_task, server_app
from fedcare.federation.coordinator.study import coordinate_study
from fedcare.federation.coordinator.sums import PlainSums, SecureSums, SiteSums

__all__ = ["RUNNERS", "PlainSums", "SecureSums", "SiteSums", "coordinate_study", "run_task",
           "server_app"]
