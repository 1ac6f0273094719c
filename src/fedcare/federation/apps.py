"""The Flower apps (``[tool.flwr.app.components]`` points here)."""

from fedcare.federation._client import client_app
from fedcare.federation._secagg import secagg_client_app
from fedcare.federation._server import server_app

__all__ = ["client_app", "secagg_client_app", "server_app"]
