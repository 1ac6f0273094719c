"""Models: scikit-learn estimators whose parameter arrays are all a site ever sends.

The estimators (and scikit-learn) are imported when first asked for: the Newton sums and
the logistic model's local SGD of :mod:`fedcare.models._logistic_math` are all a site's
``train`` message needs for the logistic model, and Flower starts a new process for every
message.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fedcare.exceptions import ConfigError
from fedcare.models._base import BatchOptimiser, MinibatchSGD
from fedcare.models._logistic_math import logistic_gradient_hessian, newton_update

if TYPE_CHECKING:
    from fedcare.models._cnn import CNNClassifier
    from fedcare.models._logistic import LogisticRegression
    from fedcare.models._mlp import MLPClassifier

__all__ = [
    "BatchOptimiser",
    "CNNClassifier",
    "LogisticRegression",
    "MLPClassifier",
    "MinibatchSGD",
    "logistic_gradient_hessian",
    "make_model",
    "newton_update",
]

_LAZY = {"CNNClassifier": "fedcare.models._cnn",
         "LogisticRegression": "fedcare.models._logistic",
         "MLPClassifier": "fedcare.models._mlp"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "MODELS":
        return {"logistic": __getattr__("LogisticRegression"),
                "mlp": __getattr__("MLPClassifier"),
                "cnn": __getattr__("CNNClassifier")}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_model(name: str, **params: object
               ) -> LogisticRegression | MLPClassifier | CNNClassifier:
    """Build the model called ``name`` ("logistic", "mlp" or "cnn": images)."""
    models = __getattr__("MODELS")
    if name not in models:
        raise ConfigError(f"model must be one of {sorted(models)}, got '{name}'")
    model: LogisticRegression | MLPClassifier | CNNClassifier = models[name](**params)
    return model
