"""Scoring recognised PHI against gold spans (span-level overlap and character-level)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fedcare.deid import _lexicon as L
from fedcare.deid._common import Span
from fedcare.deid._recognise import find_phi

__all__ = ["name_in_lexicon", "score"]


def name_in_lexicon(name: str, lang: str) -> bool:
    """Whether the recogniser's own lists know this name.

    English: any of its words is a listed given name or surname.  Chinese: its surname
    (compound or single) is listed.
    """
    if lang == "zh":
        return name[:2] in L.CN_COMPOUND_SURNAMES or name[:1] in L.CN_SURNAMES
    words = [w.strip(".,").lower() for w in name.replace(",", " ").split()]
    return any(w in L.EN_FIRST_NAMES or w in L.EN_SURNAMES for w in words if len(w) > 1)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def score(notes: Iterable[Mapping[str, Any]],
          predict: Callable[[str, str], list[Span]] = find_phi) -> dict[str, Any]:
    """Precision and recall per language and PHI type.

    Span level: a predicted span is correct when it overlaps a gold span of the same type;
    a gold span is found when a predicted span of the same type overlaps it.  Character
    level: characters inside predicted spans of a type against characters inside gold spans
    of that type.  ``leak`` is the share of gold PHI characters not covered by any
    predicted span (of any type), the part of the PHI a reader would still see.

    Parameters
    ----------
    notes : iterable of mappings
        Each with ``text``, ``lang`` and ``spans`` (``start``, ``end``, ``type``).
    predict : callable
        ``(text, lang) -> spans``; the fedcare recognisers by default.

    Returns
    -------
    dict
        ``{lang: {"types": {type: counts and ratios}, "names": {...}, "leak": float}}``.
    """
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int)))
    names: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    leak: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for note in notes:
        text, lang = note["text"], note["lang"]
        gold = [Span(int(s["start"]), int(s["end"]), str(s["type"])) for s in note["spans"]]
        pred = predict(text, lang)
        c = counts[lang]
        for g in gold:
            hit = any(p.type == g.type and p.start < g.end and g.start < p.end for p in pred)
            c[g.type]["gold"] += 1
            c[g.type]["gold_found"] += hit
            if g.type == "NAME":
                key = "in_list" if name_in_lexicon(text[g.start:g.end], lang) else "not_in_list"
                names[lang][key] += 1
                names[lang][key + "_found"] += hit
        for p in pred:
            ok = any(p.type == g.type and p.start < g.end and g.start < p.end for g in gold)
            c[p.type]["pred"] += 1
            c[p.type]["pred_ok"] += ok
        covered: set[int] = set()
        for p in pred:
            covered.update(range(p.start, p.end))
        for phi_type in {s.type for s in gold} | {s.type for s in pred}:
            gchars = {i for g in gold if g.type == phi_type for i in range(g.start, g.end)}
            pchars = {i for p in pred if p.type == phi_type for i in range(p.start, p.end)}
            c[phi_type]["gold_chars"] += len(gchars)
            c[phi_type]["pred_chars"] += len(pchars)
            c[phi_type]["both_chars"] += len(gchars & pchars)
        all_gold = {i for g in gold for i in range(g.start, g.end)}
        leak[lang][0] += len(all_gold - covered)
        leak[lang][1] += len(all_gold)
    report: dict[str, Any] = {}
    for lang, per_type in counts.items():
        types = {}
        for phi_type, n in sorted(per_type.items()):
            types[phi_type] = {
                **n,
                "precision": _ratio(n["pred_ok"], n["pred"]),
                "recall": _ratio(n["gold_found"], n["gold"]),
                "char_precision": _ratio(n["both_chars"], n["pred_chars"]),
                "char_recall": _ratio(n["both_chars"], n["gold_chars"]),
            }
        nm = names[lang]
        report[lang] = {
            "types": types,
            "names": {
                "in_list": nm["in_list"], "not_in_list": nm["not_in_list"],
                "recall_in_list": _ratio(nm["in_list_found"], nm["in_list"]),
                "recall_not_in_list": _ratio(nm["not_in_list_found"], nm["not_in_list"]),
            },
            "leak": _ratio(leak[lang][0], leak[lang][1]),
        }
    return report
