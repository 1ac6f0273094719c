"""Helpers shared by fedcare's estimators."""

from __future__ import annotations


def binary_only(n_classes: int) -> str:
    """The error for a label that is not binary (wording scikit-learn's checks expect)."""
    if n_classes < 2:
        return f"y holds {n_classes} class: a risk model needs both outcomes (1 class given)"
    return f"Only binary classification is supported; y holds {n_classes} classes"
