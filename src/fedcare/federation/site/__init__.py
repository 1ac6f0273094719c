"""The site side of a federation: framework-neutral tasks, their Flower adapters, mods.

Never imports :mod:`fedcare.federation.coordinator`.
"""

from fedcare.federation.site.app import client_app, secagg_client_app
from fedcare.federation.site.request import SiteRequest, Task
from fedcare.federation.site.tasks import TASKS

__all__ = ["TASKS", "SiteRequest", "Task", "client_app", "secagg_client_app"]
