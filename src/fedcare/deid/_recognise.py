"""Recognisers: where the PHI is in an English or Chinese clinical text.

Every recogniser registered in :mod:`fedcare.deid.recognisers` proposes candidate spans
with a priority; :func:`find_phi` keeps the highest-priority (then longest) candidates
that do not overlap, whatever order the recognisers were registered in.  Order of trust:
e-mail > URL > labelled identifiers ("MRN: ...", "医保卡号：...") > checksum-valid Chinese
resident IDs > SSN > IP > vehicle > phone > date > address > age > name > a bare long
number (>= 9 digits, tagged ID).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable

from fedcare.deid import _crf
from fedcare.deid._chinese import simplified
from fedcare.deid._common import Span
from fedcare.deid.recognisers import REGISTRY
from fedcare.deid.recognisers._base import PRIORITY, Cand
from fedcare.deid.recognisers.ages import age_value

__all__ = ["age_value", "detect_language", "find_phi", "simplified"]

_Cand = Cand
_LAST_RESORT = PRIORITY["FALLBACK"]
_STAT = PRIORITY["STAT"]

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


def find_phi(text: str, lang: str = "auto", *, statistical: bool | None = None) -> list[Span]:
    """The PHI spans in ``text``: sorted, non-overlapping, typed (see ``PHI_TYPES``).

    Parameters
    ----------
    text : str
        A clinical note, a table cell, any free text.
    lang : {"auto", "en", "zh"}
        The language; ``auto`` decides by the share of Chinese characters.
    statistical : bool, optional
        Also run the CRF (:mod:`fedcare.deid._crf`), its spans below every rule's; by
        default when its model is installed and ``FEDCARE_DEID_CRF`` is not 0.

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
    written = text
    if lang == "zh":
        text = simplified(text)  # same length: 黃太太 -> 黄太太 for jieba and the lists
    cands: list[_Cand] = []
    for rec in REGISTRY.values():
        if lang in rec.languages:
            cands += rec.find(text, lang)
    found = _joined(text, cands, lang)
    if statistical if statistical is not None else _crf.enabled():
        # the CRF reads the note as written: it was trained on the notes as written
        stat = [(s.start, s.end, s.type, _STAT) for s in _crf.crf_spans(written, lang)]
        if stat:
            found = _with_rules(text, _joined(text, cands + stat, lang), found)
    return found


def _joined(text: str, cands: list[_Cand], lang: str) -> list[Span]:
    found = _join_split(text, _widen(text, _resolve(cands, text), lang))
    return _join_addresses(text, found) if lang == "en" else found


def _with_rules(text: str, found: list[Span], rules: list[Span]) -> list[Span]:
    """``found`` (rules and CRF together) with every character the rules alone remove:
    the CRF only adds. A CRF span inside an address can change how the address's parts
    join ("Ruaka, Plot 42, off Limuru Road": the rules alone take it whole from its
    last part); what the rules took and the join left out is put back, joined to a
    span of its type that it touches. Both lists are sorted: each rule span looks only
    at the spans around it (linear in the number of spans)."""
    starts = [f.start for f in found]
    reach = list(itertools.accumulate((f.end for f in found), max))  # furthest end so far
    out, extra = list(found), []
    for r in rules:
        j = bisect.bisect_left(starts, r.end) - 1
        hits = []
        while j >= 0 and reach[j] > r.start:
            if found[j].end > r.start:
                hits.append(found[j])
            j -= 1
        if not hits:
            continue  # a rule span is in ``found`` unless a CRF span overlaps it
        pieces = [(r.start, r.end)]
        for f in hits:
            pieces = [part for a, b in pieces for part in _minus(a, b, f.start, f.end)]
        for a, b in pieces:
            a, b = _strip(text, a, b)
            if b <= a or not any(ch.isalnum() for ch in text[a:b]):
                continue
            after = bisect.bisect_left(starts, b)
            near = [k for k in (after, after - 1, after - 2, after - 3) if 0 <= k < len(out)]
            touch = next((k for k in near if out[k].type == r.type and (
                (out[k].start >= b and not text[b:out[k].start].strip(" ,;"))
                or (out[k].end <= a and not text[out[k].end:a].strip(" ,;")))), None)
            if touch is None:
                extra.append(Span(a, b, r.type))
            else:
                f = out[touch]
                out[touch] = Span(min(a, f.start), max(b, f.end), r.type)
    return sorted(out + extra)


_YEAR = re.compile(r"(?:19|20)\d\d")
_COLUMN_GAP = re.compile(r"\n|\t|  ")


def _resolve(cands: Iterable[_Cand], text: str = "") -> list[Span]:
    """Highest priority first, then longest.  A candidate that overlaps one already kept of
    another type keeps its parts outside it (an address around a ZIP taken as an ID stays
    covered), and so does an address that overlaps addresses kept (a longer address the
    CRF found around a room a rule found: "色尼区" before "浙江中路"), but for a year alone;
    parts of fewer than two letters or digits are dropped."""
    kept: list[_Cand] = []
    for cand in sorted(cands, key=lambda c: (-c[3], -(c[1] - c[0]), c[0])):
        start, end = cand[0], cand[1]
        if end <= start:
            continue
        hits = [k for k in kept if not (end <= k[0] or start >= k[1])]
        if not hits:
            kept.append(cand)
            continue
        same = any(k[2] == cand[2] for k in hits)
        if not text or cand[3] <= _LAST_RESORT or (
                same and not (cand[2] == "ADDRESS" and all(k[2] == "ADDRESS" for k in hits))):
            continue  # a bare code or number that overlaps a found identifier is part of it
        pieces = [(start, end)]
        for k in hits:
            pieces = [part for s, e in pieces for part in _minus(s, e, k[0], k[1])]
        for s, e in pieces:
            if same and _COLUMN_GAP.search(text, s, e):
                continue  # another column of a table, another line: not this address
            s, e = _strip(text, s, e)
            if sum(ch.isalnum() for ch in text[s:e]) >= 2 and not (
                    same and _YEAR.fullmatch(text, s, e)):
                kept.append((s, e, cand[2], cand[3]))
    return sorted(Span(s, e, t) for s, e, t, _ in kept)


_CODE_TYPES = frozenset({"ID", "ACCOUNT", "MRN", "INSURANCE", "LICENSE", "DEVICE", "SSN"})
#: letters glued in front of a code's digits, or joined by a dash (W04122411822,
#: VIP0756200481, SHA-0077-4418-2309; a Chinese
#: province's abbreviation before a licence number: 冀13010023417)
_CODE_PREFIX = re.compile(r"(?:(?<![A-Za-z0-9])[A-Z]{1,4}-?|[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘"
                          r"晋蒙陕吉闽贵粤青藏川宁琼港澳台])$")
#: a province's abbreviation and the card's name before its number: "沪医保 0021 7786 4410"
_CARD_PREFIX = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
                          r"(?:医保|社保)卡?[ \t]?$")
#: letters and a dash glued before a code that starts with a letter (UR-REF-55208)
_DASHED_PREFIX = re.compile(r"(?<![A-Za-z0-9-])[A-Z]{1,5}-$")
#: a telephone extension after the number
_EXTENSION = re.compile(r"[ \t]*,?[ \t]*(?:(?i:ext\.?|extn\.?|extension)[ \t]*|x|#|"
                        r"(?:內線|内线|分机|分機|转|轉)[ \t]*)\d{1,5}(?!\d)")
#: a dash and a check digit or two after a code: "081-50-312774-6"
_CHECK_SUFFIX = re.compile(r"-[0-9A-Z]{1,2}(?![0-9A-Za-z-])")
#: a check digit in brackets after a code (a Macau or Hong Kong identity card: 1384726(3))
_CHECK_DIGIT = re.compile(r"\([0-9A-Z]\)")
#: a check letter after a space at the end of a health card's number (an Irish medical
#: card: 448 210 37 M)
_CHECK_LETTER = re.compile(r"[ ]\d?[A-Z](?![A-Za-z0-9])")


#: One or two initials right before an English name ("E. Drummond", "J.K. Rowe")
_INITIAL_BEFORE = re.compile(r"(?<![A-Za-z.])(?:[A-Z]\.[ \t]?){1,2}$")


#: A Malay, Tamil or Arabic patronymic after a name: bin, binti, bte, a/l, a/p, s/o, d/o
#: and the father's name
_PATRONYMIC = re.compile(r"[ \t]+(?:bin|binti|bte|bt\.?|a/l|a/p|s/o|d/o|ibn|bint)[ \t]+"
                         r"[A-Z][A-Za-z'’-]+(?:[ \t][A-Z][a-z'’-]+)?")
#: A short name in brackets right after a name: "Mohammed Iqbal (Mo)"
_NICK_BRACKET = re.compile(r"[ \t]*\((?P<n>[A-Z][a-z]{1,11})\)")


#: The next administrative parts after a Chinese address found (a township, a village,
#: its group): 昭觉县|竹核乡, 会同县|若水镇团河村
_ZH_MORE_ADMIN = re.compile(r"(?:[\u4e00-\u9fff]{1,4}?(?:乡|镇|村|街道|社区)"
                            r"(?:[一二三四五六七八九十\d]{1,3}组)?)+(?![\u4e00-\u9fff]{0,6}(?:医院|"
                            r"卫生|中心|政府|派出所|小学|中学))")


def _widen(text: str, found: list[Span], lang: str) -> list[Span]:
    """Spans taken whole where a recogniser stopped short: a code with the letters glued
    before its digits or the check digit in brackets after them; a Chinese name whose
    compound surname alone was found (皇甫|立新) or whose parts a middle dot joins
    (买买提·艾力). A span is widened only over text no other span holds."""
    from fedcare.deid.recognisers.names_zh import _compound_whole, _dotted_whole

    out: list[Span] = []
    skip: set[int] = set()
    for i, span in enumerate(found):
        if i in skip:
            continue
        start, end, kind = span.start, span.end, span.type
        if kind in _CODE_TYPES | {"PHONE"} and text[start:start + 1].isdigit():
            card = _CARD_PREFIX.search(text, max(0, start - 6), start)
            m = _CODE_PREFIX.search(text, max(0, start - 5), start)
            if card is not None:  # a health-insurance card's number, whatever it looks like
                start, kind = card.start(), "INSURANCE"
            elif m is not None:  # no phone number has letters glued in front: a code
                start, kind = m.start(), "ID" if kind == "PHONE" else kind
        elif kind in _CODE_TYPES and text[start:start + 1].isupper():
            m = _DASHED_PREFIX.search(text, max(0, start - 6), start)
            if m is not None:  # "UR-REF-55208": the letters and dash before the code
                start = m.start()
        if kind == "PHONE":
            m = _EXTENSION.match(text, end)  # "030 255 0471 ext 12"
            if m is not None:
                end = m.end()
        if kind in _CODE_TYPES | {"PHONE"} and text[end:end + 1] == "-":
            m = _CHECK_SUFFIX.match(text, end)  # "081-50-312774-6": the check digit too
            if m is not None:
                end = m.end()
        if kind in _CODE_TYPES:
            m = _CHECK_DIGIT.match(text, end)
            if m is None and kind == "INSURANCE" and text[end - 1:end].isdigit():
                m = _CHECK_LETTER.match(text, end)  # "Medical card: 448 210 37 M"
            if m is not None:
                end = m.end()
        if kind == "NAME" and lang == "zh":
            start, end = _dotted_whole(text, *_compound_whole(text, start, end))
        if kind == "ADDRESS" and lang == "zh":  # 昭觉县 + 竹核乡
            m = _ZH_MORE_ADMIN.match(text, end)
            if m is not None:
                end = m.end()
        if kind == "NAME" and lang == "en":  # an initial before a surname: "E. Drummond"
            m = _INITIAL_BEFORE.search(text, max(0, start - 6), start)
            if m is not None:
                start = m.start()
            # a patronymic ("Nurul Aisyah binti Kamaruddin", "Kavitha a/p Muniandy"), a
            # nickname in brackets that begins the name ("Mohammed Iqbal (Mo)")
            m = _PATRONYMIC.match(text, end) or _NICK_BRACKET.match(text, end)
            if m is not None and (m.re is _PATRONYMIC or any(
                    w.lower().startswith(m.group("n").lower())
                    for w in text[start:end].split())):
                end = m.end()
        nxt = i + 1
        while kind == "NAME" and nxt < len(found) and found[nxt].type == "NAME" and \
                span.end < found[nxt].end <= end:
            skip.add(nxt)  # a nickname or a name's part found on its own: taken with it
            nxt += 1
        high = found[nxt].start if nxt < len(found) else len(text)
        low = out[-1].end if out else 0
        out.append(Span(max(start, low) if start < span.start else span.start,
                        min(end, high) if end > span.end else span.end, kind))
    return out


#: What may stand between two parts of one name found apart: a particle ("Cathal Ó
#: DÁLAIGH", "Ana de Souza") or a nickname in quotes ("Miguel "Migo" Lim")
_NAME_GAP = re.compile(r"[ \t]+(?:(?:Ó|Ní|Nic|Uí|Mac|Mc|Ua|de|da|do|dos|das|del|della|di|du|van|"
                       r"von|der|den|ter|al|el|Al|El|bin|binti|ibn|ap|ben|bat|[WSDCwsdc]/[Oo])|[\"“'‘][A-Z][a-z]+"
                       r"[\"”'’])[ \t]+")
#: A quote mark alone between a name and its nickname found apart ('Andres "Dodong" Cruz')
_QUOTE_GAP = re.compile(r"[ \t]*[\"“”'‘’][ \t]*")
#: A surname in capitals right after a name found ("Mohammed Irfan SHEIKH")
_CAPS_SURNAME = re.compile(r"[ \t](?P<s>[A-Z][A-Z'’-]{3,})(?![A-Za-z])")
#: A weekday in brackets after a date ("April 12 (Sat)")
_WEEKDAY_BRACKET = re.compile(r"[ \t]*\((?i:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)"
                              r"(?i:day|sday|nesday|rsday|urday)?\.?\)|"
                              r"[ \t]*[（(](?:周|星期|礼拜|週)[一二三四五六日天][）)]|"
                              r"(?<=[日号])(?:周|星期|礼拜|週)[一二三四五六日天]")


def _join_split(text: str, found: list[Span]) -> list[Span]:
    """Spans taken whole where they were found in parts: a name with a particle or a quoted
    nickname between its parts, an English name with its surname in capitals after it; a
    date with its weekday in brackets (found or not)."""
    from fedcare.deid.recognisers.names_en import _CREDENTIALS, _NOT_SIGNING_INITIALS

    out: list[Span] = []
    for i, span in enumerate(found):
        nxt = found[i + 1].start if i + 1 < len(found) else len(text)
        if span.type == "NAME":
            m = _CAPS_SURNAME.match(text, span.end, nxt)
            if m is not None and m.group("s") not in _NOT_SIGNING_INITIALS and \
                    m.group("s").lower() not in _CREDENTIALS and text[span.start].isupper() \
                    and any(c.islower() for c in text[span.start:span.end]):
                span = Span(span.start, m.end(), "NAME")
        if span.type == "DATE":
            m = _WEEKDAY_BRACKET.match(text, span.end, nxt)
            if m is not None:
                span = Span(span.start, m.end(), "DATE")
        prev = out[-1] if out else None
        if prev is not None and prev.type == span.type == "NAME" and \
                text[prev.end:span.start] in ("-", "‐", "–"):
            out[-1] = Span(prev.start, span.end, "NAME")  # NWOSU + BLAKE: one double surname
            continue
        if prev is not None and prev.type == span.type == "NAME" and (
                _NAME_GAP.fullmatch(text, prev.end, span.start)
                or _QUOTE_GAP.fullmatch(text, prev.end, span.start)):
            end = span.end
            if text[end:end + 1] in ('"', "”", "'", "’") and \
                    re.search("[\"“'‘]", text[prev.end:span.start]):
                end += 1  # the nickname's closing quote: 'Agnieszka "Aga"'
            out[-1] = Span(prev.start, end, "NAME")
            continue
        if prev is not None and prev.type == span.type == "DATE" and \
                re.fullmatch(r"[ \t]*[(（]", text[prev.end:span.start]) and \
                text[span.end:span.end + 1] in (")", "）"):
            out[-1] = Span(prev.start, span.end + 1, "DATE")  # "May 20 (Tue)"
            continue
        if prev is not None and prev.type == span.type == "DATE" and prev.end == span.start \
                and _WEEKDAY_BRACKET.fullmatch(text, span.start, span.end):
            out[-1] = Span(prev.start, span.end, "DATE")  # 2024年9月19日 + （周四）: one date
            continue
        out.append(span)
    return out


def _minus(start: int, end: int, k0: int, k1: int) -> list[tuple[int, int]]:
    if end <= k0 or start >= k1:
        return [(start, end)]
    return [(s, e) for s, e in ((start, k0), (k1, end)) if e > s]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """Without the spaces and separators left at a piece's ends."""
    if not text:
        return start, end
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum() and text[end - 1] not in ".)":
        end -= 1
    return start, end



#: What may stand before an address's first part found: a unit, lot, block, level, box or
#: rural route and its number, and a named building after a unit ("Unit 4/17 ...", "Apt 9,
#: Castle View, ...", "RR 3 Box 118, ..."); or the word alone before a part that starts with
#: its number ("Lot 12 Tarcutta Rd", "Blk 456 Jurong West Street")
_UNIT_WORD = (r"(?<![A-Za-z])(?i:apt|apartment|unit|flat|suite|ste|lot|blk|block|level|floor|"
              r"rm|room|rr|rural[ \t]+route|box|plot|no|house|hse|km|stand|erf|building|bldg|"
              r"purok|sitio|cabin|villa)\.?[ \t]*(?:no\.?[ \t]*)?#?[ \t]*")
_ADDRESS_BEFORE = re.compile(
    r"(?:(?<![A-Za-z])[A-Z][a-z]+(?:[ \t][A-Z][a-z]+){0,2}[ \t]*,[ \t]*)?"
    rf"(?:{_UNIT_WORD}(?:[A-Za-z]{{0,2}}\d{{1,5}}[A-Za-z]?(?:[/-][A-Za-z0-9]{{1,5}})?|[A-Z](?![a-z]))"
    r"[ \t]*,?[ \t]*)+"
    r"(?:[A-Z][a-z]+(?:[ \t][A-Z][a-z]+){0,2}[ \t]*,[ \t]*)?(?:off[ \t]+)?$")
_ADDRESS_WORD_BEFORE = re.compile(rf"{_UNIT_WORD}$")
#: What may lie between two address parts found on one line: commas, names of places (one
#: to three capitalised words each), a province or state code, a rural delivery number, a
#: postcode, "via"; nothing else ("..., Naas, Co. Kildare")
_ADDRESS_GAP = re.compile(
    r"[ \t]*,?[ \t]*(?:(?:[A-Z][a-z'’-]+(?:[ \t][A-Z][a-z'’-]+){0,2}|[A-Z]{2,3}|"
    r"RD[ \t]*\d{1,2}|\d{1,6}|via|off|#|\d{1,2}(?:st|nd|rd|th)[ \t]+(?:Block|Stage|Phase|"
    r"Sector|Cross|Main)|(?:Brgy|Barangay|Purok|Sitio)\.?[ \t]+[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?|"
    r"(?:Sta|Sto|Mt|Ft|St)\.[ \t]+[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?|"
    r"(?:Block|Blk|Phase|Sector)[ \t]+[A-Z0-9]{1,3})[ \t]*,?[ \t]*){0,4}")
#: A unit or street number that another recogniser took for a code or a date between two
#: address parts, or before a street ("Street 42, #08-215, Singapore", "Unit 4/17
#: Kooringal St")
_UNIT_NUMBER = re.compile(r"#?\d{1,4}[-/]\d{1,4}")
#: A town another recogniser took for a name between two address parts ("Mill Road,
#: Ennis, Co. Clare")
_PLACE = re.compile(r"(?:(?:St\.?|Saint|Mt\.?|Port|Fort)[ \t])?[A-Z][a-z'’-]+"
                    r"(?:[ \t][A-Z][a-z'’-]+){0,2}")
#: A postcode: 5-6 digits, or 4 that are not a year
_POSTCODE = r"(?:\d{5,6}|(?!19|20)\d{4})(?!\d|[.,/:%]\d)"
#: A street's number after its name ("Jurong West Street 42"), a Dublin postal district
_STREET_NUMBER = re.compile(r"(?:(?<=Street|Avenue|Dublin)|(?<=Phase|Stage|Block)|(?<=Sector))"
                            r"[ \t]+\d{1,4}[A-Z]?(?![A-Za-z\d]|[.,/:%]\d)")
#: What may follow an address's last part found: a state code and postcode ("… NSW 2650"),
#: a postcode after a place, and after a comma a unit (#08-215), a rural delivery number,
#: a town and its postcode ("…, Amberley 7482", "…, Singapore 640456")
_ADDRESS_AFTER = re.compile(
    rf"(?:[ \t]+(?:[A-Z]{{2,3}}[ \t]+)?{_POSTCODE}|[ \t]*[-–][ \t]*\d{{6}}(?!\d))?"
    rf"(?:,[ \t]*(?:#\d{{1,3}}-\d{{1,4}}|RD[ \t]*\d{{1,2}}|(?:[A-Z][a-z'’-]+(?:[ \t][A-Z]"
    rf"[a-z'’-]+){{0,2}}|[A-Z]{{2,3}})[ \t]+{_POSTCODE}))*")


def _join_addresses(text: str, found: list[Span]) -> list[Span]:
    """An English address taken whole where parts of it were found apart: a unit, lot or
    box number before its first part, the places, codes and commas between parts found on
    one line (and a unit number or town another recogniser took for a code, date or
    name), a unit, rural delivery number or town and postcode after its last part. A
    comma left between
    "Naas" and "Co. Kildare" keeps nobody's address, but span-exact scoring (and a reader)
    counts what is left between two parts as part of it. Only text no other span holds
    is taken."""
    out: list[Span] = []
    was: dict[int, str] = {}  # a unit number's start -> the type it was found as
    for span in found:
        prev = out[-1] if out else None
        if span.type != "ADDRESS":
            if prev is not None and prev.type == "ADDRESS" and (
                    (span.type in ("ID", "DATE") and _UNIT_NUMBER.fullmatch(
                        text, span.start - (text[span.start - 1:span.start] == "#"), span.end))
                    or (span.type in ("NAME", "ORG")
                        and _PLACE.fullmatch(text, span.start, span.end))):
                was[span.start] = span.type
                out.append(Span(span.start, span.end, "UNIT?"))  # decided by what follows
            else:
                out.append(span)
            continue
        start, end = span.start, span.end
        line_start = text.rfind("\n", 0, start) + 1
        if prev is not None and prev.type == "UNIT?":  # a unit number between two parts
            before = out[-2] if len(out) > 1 else None
            if (before is not None and before.end >= line_start
                    and _ADDRESS_GAP.fullmatch(text, before.end, prev.start)
                    and _ADDRESS_GAP.fullmatch(text, prev.end, start)):
                out[-2:] = [Span(before.start, end, "ADDRESS")]
                continue
        if prev is not None and prev.type == "DATE" and prev.end >= line_start and \
                _UNIT_NUMBER.fullmatch(text, prev.start, prev.end) and \
                re.fullmatch(r",?[ \t]+|-", text[prev.end:start]) and (
                    text[start:start + 1].isupper() or text[start:start + 1].isdigit()):
            start = prev.start  # "4/17 Kooringal St": a unit and street number, no date
            out.pop()
            prev = out[-1] if out else None
        low = max(line_start, prev.end if prev else 0)
        m = _ADDRESS_BEFORE.search(text, low, start)
        if m is None and text[start:start + 1].isdigit():
            m = _ADDRESS_WORD_BEFORE.search(text, low, start)
        if m is not None and text[m.start():start].strip():
            start = m.start()
        if (prev is not None and prev.type == "ADDRESS" and prev.end >= line_start
                and start - prev.end <= 40 and _ADDRESS_GAP.fullmatch(text, prev.end, start)):
            out[-1] = Span(prev.start, end, "ADDRESS")
        else:
            out.append(Span(start, end, "ADDRESS"))
    out = [Span(s.start, s.end, was[s.start]) if s.type == "UNIT?" else s for s in out]
    # after the last part: only up to the next span and the end of the line
    joined: list[Span] = []
    for i, span in enumerate(out):
        if span.type == "ADDRESS":
            high = out[i + 1].start if i + 1 < len(out) else len(text)
            line_end = text.find("\n", span.end)
            high = min(high, line_end if line_end >= 0 else len(text))
            end = span.end
            number = _STREET_NUMBER.match(text, end, high)
            if number is not None:
                end = number.end()
            m = _ADDRESS_AFTER.match(text, end, high)
            end = max(end, m.end() if m is not None else end)
            if end > span.end:
                span = Span(span.start, end, "ADDRESS")
        joined.append(span)
    return joined
