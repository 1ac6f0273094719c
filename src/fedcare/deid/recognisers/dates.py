"""Dates (every written form; see :mod:`fedcare.deid._dates`)."""

from __future__ import annotations

from fedcare.deid._dates import find_dates, find_vague_dates

from ._base import PRIORITY, Cand, recogniser


@recogniser("date", with_lang=True)
def dates(text: str, lang: str) -> list[Cand]:
    """Every date found by :func:`fedcare.deid._dates.find_dates`."""
    out = [(d.start, d.end, "DATE", PRIORITY["DATE"])
           for d in find_dates(text, lang, with_time=False)]
    return out + [(s, e, "DATE", PRIORITY["DATE"]) for s, e in find_vague_dates(text, lang)]
