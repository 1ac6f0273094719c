"""Numbers as clinicians read them in tables and reports."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence

__all__ = ["did_you_mean", "format_p", "reference_levels"]


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


def did_you_mean(name: str, names: Sequence[str]) -> str:
    """``; did you mean 'x'?`` for a close (or case-insensitive) match among ``names``,
    else ``""``."""
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in names}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""
