"""Recognisers: where the PHI is in an English or Chinese clinical text.

Every recogniser registered in :mod:`fedcare.deid.recognisers` proposes candidate spans
with a priority; :func:`find_phi` keeps the highest-priority (then longest) candidates
that do not overlap, whatever order the recognisers were registered in.  Order of trust:
e-mail > URL > labelled identifiers ("MRN: ...", "医保卡号：...") > checksum-valid Chinese
resident IDs > SSN > IP > vehicle > phone > date > address > age > name > a bare long
number (>= 9 digits, tagged ID).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fedcare.deid._common import Span
from fedcare.deid.recognisers import REGISTRY
from fedcare.deid.recognisers._base import Cand
from fedcare.deid.recognisers.ages import age_value

__all__ = ["age_value", "detect_language", "find_phi"]

_Cand = Cand

#: Full-width digits and letters (０１２, ＡＢＣ) and the marks inside numbers and addresses
#: (＋ － ． ／ ＠ ＿), one character each.  Chinese punctuation (：，（）) stays as written:
#: it ends an identifier.
_FULL_WIDTH = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                       *range(0xFF41, 0xFF5B), *map(ord, "＋－．／＠＿")]}

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> str:
    """The language of ``text`` for the recognisers.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        ``"zh"`` when at least a tenth of its letters are Chinese characters, else ``"en"``.
    """
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    return "zh" if cjk and cjk >= 0.1 * (cjk + latin) else "en"


def find_phi(text: str, lang: str = "auto") -> list[Span]:
    """The PHI spans in ``text``: sorted, non-overlapping, typed (see ``PHI_TYPES``).

    Parameters
    ----------
    text : str
        A clinical note, a table cell, any free text.
    lang : {"auto", "en", "zh"}
        The language; ``auto`` decides by the share of Chinese characters.

    Returns
    -------
    list of Span
        Positions in ``text``.
    """
    if lang == "auto":
        lang = detect_language(text)
    if lang not in {"en", "zh"}:
        raise ValueError(f"unknown language {lang!r}; expected en, zh or auto")
    if not text.strip():
        return []
    text = text.translate(_FULL_WIDTH)  # same length: positions stay those of the original
    cands: list[_Cand] = []
    for rec in REGISTRY.values():
        if lang in rec.languages:
            cands += rec.find(text, lang)
    return _resolve(cands)


def _resolve(cands: Iterable[_Cand]) -> list[Span]:
    kept: list[_Cand] = []
    for cand in sorted(cands, key=lambda c: (-c[3], -(c[1] - c[0]), c[0])):
        start, end = cand[0], cand[1]
        if end <= start:
            continue
        if all(end <= k[0] or start >= k[1] for k in kept):
            kept.append(cand)
    return sorted(Span(s, e, t) for s, e, t, _ in kept)

