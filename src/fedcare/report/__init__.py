"""Self-contained HTML reports of a study's metrics, and model cards."""

from __future__ import annotations

from fedcare.report._card import model_card, render_card_html
from fedcare.report._html import write_report

__all__ = ["model_card", "render_card_html", "write_report"]
