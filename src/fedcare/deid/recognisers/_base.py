"""The recogniser registry: each recogniser proposes typed candidate spans with a priority.

Recognisers register themselves with :func:`recogniser` (its languages and a name);
:func:`fedcare.deid.find_phi` runs every registered recogniser for the text's language and
keeps the highest-priority (then longest) candidates that do not overlap, so the order in
which recognisers are registered does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PRIORITY", "REGISTRY", "Cand", "Recogniser", "recogniser", "spans"]

Cand = tuple[int, int, str, float]
"""A candidate span: start, end, PHI type, priority."""

PRIORITY = {
    "EMAIL": 100.0, "URL": 95.0, "LABELLED": 90.0, "CNID": 88.0, "SSN": 85.0, "IP": 80.0,
    "VEHICLE": 78.0, "PHONE": 70.0, "GENERIC": 65.0, "DATE": 60.0, "ADDRESS": 55.0, "AGE": 50.0,
    "NAME_STRONG": 56.0, "NAME": 40.0, "STAT": 30.0, "FALLBACK": 10.0,
}
"""Order of trust: e-mail > URL > labelled identifiers > checksum-valid Chinese resident
IDs > SSN > IP > vehicle > phone > date > address > age > name > the statistical
recogniser's spans (:mod:`fedcare.deid._crf`) > a bare long number."""


@dataclass(frozen=True)
class Recogniser:
    """A registered recogniser: ``find(text, lang)`` -> candidates, for ``languages``."""

    name: str
    languages: frozenset[str]
    find: Callable[[str, str], list[Cand]]


REGISTRY: dict[str, Recogniser] = {}
"""Every recogniser by name (filled when :mod:`fedcare.deid.recognisers` is imported)."""


def recogniser(name: str, languages: tuple[str, ...] = ("en", "zh"), *, with_lang: bool = False
               ) -> Callable[[Callable[..., list[Cand]]], Callable[..., list[Cand]]]:
    """Register a function finding candidates: ``f(text)``, or ``f(text, lang)`` with
    ``with_lang``."""

    def register(fn: Callable[..., list[Cand]]) -> Callable[..., list[Cand]]:
        if name in REGISTRY:
            raise ValueError(f"a recogniser named {name!r} is already registered")

        def find(text: str, lang: str) -> list[Cand]:
            return list(fn(text, lang) if with_lang else fn(text))

        REGISTRY[name] = Recogniser(name, frozenset(languages), find)
        return fn

    return register


def spans(pattern: re.Pattern[str], text: str, phi_type: str, priority: str | None = None,
          group: str | int = 0) -> list[Cand]:
    """Candidates for every match of ``pattern`` (or of its ``group``)."""
    prio = PRIORITY[priority or phi_type]
    return [(m.start(group), m.end(group), phi_type, prio) for m in pattern.finditer(text)
            if m.group(group)]
