"""Scoring recognised PHI against gold spans: span-exact removal, characters, kept values.

Also reads notes written with inline markup (:func:`parse_marked`): ``{{TYPE|text}}`` for an
identifier, ``<<text>>`` for a clinical value that must stay; the format of the
independently written evaluation notes (``benchmarks/deid_blind.py``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fedcare.deid import _lexicon as L
from fedcare.deid._common import Span
from fedcare.deid._recognise import find_phi

__all__ = ["MarkupError", "name_in_lexicon", "parse_marked", "score"]

_MARK = re.compile(r"\{\{(?P<type>[A-Z]+)\|(?P<phi>.*?)\}\}|<<(?P<keep>.*?)>>", re.S)


class MarkupError(ValueError):
    """A marked note that cannot be read (unbalanced or unknown markup)."""


def parse_marked(marked: str, types: Iterable[str] | None = None
                 ) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """The plain text of a marked note, its identifier spans and its clinical values.

    Parameters
    ----------
    marked : str
        Text with ``{{TYPE|text}}`` around each identifier and ``<<text>>`` around each
        clinical value that must stay.
    types : iterable of str, optional
        The identifier types allowed (any upper-case word when not given).

    Returns
    -------
    tuple
        ``(text, spans, keep)``: spans as ``{"start", "end", "type"}``, clinical values as
        ``{"start", "end"}``, positions in ``text``.

    Raises
    ------
    MarkupError
        Markup left over after parsing (``{{``, ``}}``, ``<<``, ``>>`` or ``|`` of a broken
        mark), an unknown type or an empty mark; the message gives the character offset.
    """
    allowed = set(types) if types is not None else None
    pieces: list[str] = []
    spans: list[dict[str, Any]] = []
    keep: list[dict[str, Any]] = []
    pos = length = 0
    for m in _MARK.finditer(marked):
        between = marked[pos:m.start()]
        _check_clean(between, pos)
        pieces.append(between)
        length += len(between)
        inner = m.group("phi") if m.group("type") else m.group("keep")
        _check_clean(inner, m.start())
        if not inner.strip():
            raise MarkupError(f"offset {m.start()}: empty mark")
        if m.group("type"):
            if allowed is not None and m.group("type") not in allowed:
                raise MarkupError(f"offset {m.start()}: unknown type {m.group('type')!r}")
            spans.append({"start": length, "end": length + len(inner), "type": m.group("type")})
        else:
            keep.append({"start": length, "end": length + len(inner)})
        pieces.append(inner)
        length += len(inner)
        pos = m.end()
    _check_clean(marked[pos:], pos)
    pieces.append(marked[pos:])
    return "".join(pieces), spans, keep


def _check_clean(text: str, offset: int) -> None:
    for token in ("{{", "}}", "<<", ">>"):
        at = text.find(token)
        if at >= 0:
            raise MarkupError(f"offset {offset + at}: stray {token!r}")


def name_in_lexicon(name: str, lang: str) -> bool:
    """Whether the recogniser's own lists know this name.

    English: any of its words is a listed given name or surname.  Chinese: its surname
    (compound or single) is listed.
    """
    if lang == "zh":
        return name[:2] in L.CN_COMPOUND_SURNAMES or name[:1] in L.CN_SURNAMES
    words = [w.strip(".,").lower() for w in name.replace(",", " ").split()]
    return any(w in L.EN_FIRST_NAMES or w in L.EN_SURNAMES for w in words if len(w) > 1)


_COUNTS = ("gold", "removed", "gold_found", "leaked_chars", "chars", "pred", "pred_any_ok",
           "pred_ok", "gold_chars", "pred_chars", "both_chars")


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _chars(text: str, start: int, end: int) -> set[int]:
    """The positions of the non-space characters of ``text[start:end]``."""
    return {i for i in range(start, end) if not text[i].isspace()}


def score(notes: Iterable[Mapping[str, Any]],
          predict: Callable[[str, str], list[Span]] = find_phi,
          details: bool = False) -> dict[str, Any]:
    """Recall, precision, leaked characters and kept clinical values per language and type.

    * ``recall``: span-exact removal.  A gold identifier counts as removed only when every
      one of its (non-space) characters lies inside some predicted span, whatever its tag;
      a partly covered identifier is a leak.
    * ``typed_recall``: a predicted span of the same type overlaps it (the tag is right).
    * ``precision``: predicted spans that overlap a gold identifier (any type).
    * ``typed_precision``: predicted spans that overlap a gold identifier of their type.
    * ``char_precision`` / ``char_recall``: characters of the type's predicted against its
      gold spans.
    * ``leak`` (per language): the share of gold identifier characters (non-space) outside
      every predicted span: what a reader of the output still sees.
    * ``kept`` (per language): clinical values (``keep`` spans, when notes have them) that
      no predicted span touches.

    Parameters
    ----------
    notes : iterable of mappings
        Each with ``text``, ``lang`` and ``spans`` (``start``, ``end``, ``type``); optional
        ``keep`` (``start``, ``end``) and ``id``.
    predict : callable
        ``(text, lang) -> spans``; the fedcare recognisers by default.  Notes that carry
        ``predicted`` (a list of spans) are scored on those instead.
    details : bool
        Also list, per language, the identifiers not removed (``misses``: id, type, text,
        the characters left), the predicted spans that touch no identifier
        (``false_positives``) and the clinical values touched (``lost``).  Texts are
        quoted: use it on synthetic notes only.

    Returns
    -------
    dict
        ``{lang: {"types": {type: counts and ratios}, "names": {...}, "leak": float,
        "kept": {...}}}``.
    """
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int)))
    names: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    leak: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    kept: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    listed: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: {"misses": [], "false_positives": [], "lost": []})
    for note in notes:
        text, lang = note["text"], note["lang"]
        gold = [Span(int(s["start"]), int(s["end"]), str(s["type"])) for s in note["spans"]]
        pred = ([Span(int(p[0]), int(p[1]), str(p[2])) for p in note["predicted"]]
                if "predicted" in note else list(predict(text, lang)))
        ident = note.get("id", "")
        covered: set[int] = set()
        for p in pred:
            covered.update(range(p.start, p.end))
        c = counts[lang]
        for g in gold:
            chars = _chars(text, g.start, g.end)
            left = chars - covered
            typed = any(p.type == g.type and p.start < g.end and g.start < p.end for p in pred)
            c[g.type]["gold"] += 1
            c[g.type]["removed"] += not left
            c[g.type]["gold_found"] += typed
            c[g.type]["leaked_chars"] += len(left)
            c[g.type]["chars"] += len(chars)
            if left and details:
                listed[lang]["misses"].append({
                    "id": ident, "type": g.type, "text": text[g.start:g.end],
                    "left": "".join(text[i] for i in sorted(left)),
                    "context": text[max(0, g.start - 30):g.end + 30]})
            if g.type == "NAME":
                key = "in_list" if name_in_lexicon(text[g.start:g.end], lang) else "not_in_list"
                names[lang][key] += 1
                names[lang][key + "_found"] += not left
        for p in pred:
            hits = [g for g in gold if p.start < g.end and g.start < p.end]
            c[p.type]["pred"] += 1
            c[p.type]["pred_any_ok"] += bool(hits)
            c[p.type]["pred_ok"] += any(g.type == p.type for g in hits)
            if not hits and details:
                listed[lang]["false_positives"].append({
                    "id": ident, "type": p.type, "text": text[p.start:p.end],
                    "context": text[max(0, p.start - 30):p.end + 30]})
        for phi_type in {s.type for s in gold} | {s.type for s in pred}:
            gchars = {i for g in gold if g.type == phi_type for i in range(g.start, g.end)}
            pchars = {i for p in pred if p.type == phi_type for i in range(p.start, p.end)}
            c[phi_type]["gold_chars"] += len(gchars)
            c[phi_type]["pred_chars"] += len(pchars)
            c[phi_type]["both_chars"] += len(gchars & pchars)
        all_gold = set().union(*(_chars(text, g.start, g.end) for g in gold)) if gold else set()
        leak[lang][0] += len(all_gold - covered)
        leak[lang][1] += len(all_gold)
        for v in note.get("keep", ()):
            start, end = int(v["start"]), int(v["end"])
            touched = any(p.start < end and start < p.end for p in pred)
            kept[lang][0] += not touched
            kept[lang][1] += 1
            if touched and details:
                listed[lang]["lost"].append({"id": ident, "text": text[start:end],
                                             "context": text[max(0, start - 30):end + 30]})
    report: dict[str, Any] = {}
    for lang, per_type in counts.items():
        types = {}
        for phi_type, found in sorted(per_type.items()):
            n = {k: found.get(k, 0) for k in _COUNTS}
            types[phi_type] = {
                **n,
                "recall": _ratio(n["removed"], n["gold"]),
                "typed_recall": _ratio(n["gold_found"], n["gold"]),
                "precision": _ratio(n["pred_any_ok"], n["pred"]),
                "typed_precision": _ratio(n["pred_ok"], n["pred"]),
                "char_precision": _ratio(n["both_chars"], n["pred_chars"]),
                "char_recall": _ratio(n["both_chars"], n["gold_chars"]),
                "leak": _ratio(n["leaked_chars"], n["chars"]),
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
            "leaked_chars": leak[lang][0],
            "kept": {"values": kept[lang][1], "kept": kept[lang][0],
                     "retention": _ratio(kept[lang][0], kept[lang][1])},
        }
        if details:
            report[lang] |= listed[lang]
    return report
