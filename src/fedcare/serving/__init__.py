"""Serving: the prediction API over the model registry (the only fastapi importer)."""

from fedcare.serving._app import create_app

__all__ = ["create_app"]
