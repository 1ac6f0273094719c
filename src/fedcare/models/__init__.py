"""Models: scikit-learn estimators whose parameter arrays are all a site ever sends."""

from fedcare.exceptions import ConfigError
from fedcare.models._base import BatchOptimiser, MinibatchSGD
from fedcare.models._logistic import (
    LogisticRegression,
    logistic_gradient_hessian,
    newton_update,
)
from fedcare.models._mlp import MLPClassifier

__all__ = [
    "BatchOptimiser",
    "LogisticRegression",
    "MLPClassifier",
    "MinibatchSGD",
    "logistic_gradient_hessian",
    "make_model",
    "newton_update",
]

MODELS = {"logistic": LogisticRegression, "mlp": MLPClassifier}


def make_model(name: str, **params: object) -> LogisticRegression | MLPClassifier:
    """Build the model called ``name`` ("logistic" or "mlp")."""
    if name not in MODELS:
        raise ConfigError(f"model must be one of {sorted(MODELS)}, got '{name}'")
    return MODELS[name](**params)
