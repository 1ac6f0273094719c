"""Self-contained HTML reports of a study's metrics."""

from __future__ import annotations

from fedcare.report._html import write_report

__all__ = ["write_report"]
