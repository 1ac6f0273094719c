"""Numbers as clinicians read them in tables and reports."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["format_p", "reference_levels"]


def format_p(p: float | None) -> str:
    """A p-value: ``< 0.0001`` below 1e-4, else 2 significant digits (``0.032``);
    ``–`` when missing."""
    if p is None or not math.isfinite(p):
        return "–"
    if p < 1e-4:
        return "< 0.0001"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}".rstrip("0").rstrip(".") or "0"


def reference_levels(levels: Mapping[str, Sequence[str]]) -> str:
    """``reference levels: sex = 1, arm = placebo`` for one-hot coded covariates."""
    if not levels:
        return ""
    return "reference levels: " + ", ".join(f"{col} = {lv[0]}" for col, lv in levels.items()
                                            if lv)
