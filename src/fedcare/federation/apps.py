"""The Flower apps (``[tool.flwr.app.components]`` points here)."""

from fedcare.federation.coordinator.app import server_app
from fedcare.federation.site.app import client_app, secagg_client_app

__all__ = ["client_app", "secagg_client_app", "server_app"]
