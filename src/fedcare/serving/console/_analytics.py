"""The console's analytics pages: results saved by ``fedcare analytics ... --json`` in
``<runs>/analytics/``, drawn as interactive SVG (Kaplan-Meier steps with CI bands, forest
plots), with the same tables and release notes as the HTML report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fedcare.report._analytics import analytics_view
from fedcare.report._svg import forest_plot, line_chart

__all__ = ["listing", "view"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.json$")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("analysis") in (
        "describe", "km", "cox") else None


def listing(root: Path) -> list[dict[str, Any]]:
    """The analytics results in ``root``, newest first (files that are not one are
    skipped)."""
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        result = _read(path) if _NAME.match(path.name) else None
        if result is None:
            continue
        out.append({"name": path.name, "analysis": result["analysis"],
                    "data": result.get("data", ""), "sites": result.get("sites", []),
                    "group": result.get("group"), "exact": bool(result.get("exact"))})
    return out


def view(path: Path) -> dict[str, Any] | None:
    """One result's tables, notes and charts (None: not an analytics result)."""
    result = _read(path)
    if result is None:
        return None
    try:
        shown = analytics_view(result)
    except (KeyError, TypeError, ValueError):
        return None
    charts = []
    if shown["curves"]:
        charts.append(line_chart(
            {k: v["points"] for k, v in shown["curves"].items()},
            bands={k: v["band"] for k, v in shown["curves"].items()},
            title="Kaplan-Meier survival (95% CI bands)", x_label=shown["duration"],
            y_label="survival", y_range=(0.0, 1.0), step=True))
    elif shown["analysis"] == "km":
        charts.append('<p class="empty">No curve is drawn: no survival estimate beyond '
                      "t = 0 could be released (this does not mean that nobody died).</p>")
    if shown["forest"]:
        charts.append(forest_plot(shown["forest"], title="Hazard ratios (95% CI)"))
    shown["charts"] = charts
    return shown
