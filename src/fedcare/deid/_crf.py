"""A statistical recogniser: a linear-chain CRF over tokens (English) or characters (Chinese).

The rules of :mod:`fedcare.deid.recognisers` are exact on the forms they know and blind to
the others; a conditional random field (CRFsuite through ``python-crfsuite``, MIT) learns
from annotated notes which words, shapes and contexts make an identifier, and finds forms
no rule was written for ("seen w/ his daughter hope mcallister").  It is also taught the
clinical values that must stay (label ``VAL``: lab values, doses, scores, lot numbers),
so that it tells them from identifiers that look alike.  Its spans are added below every
rule (priority ``STAT``): a rule's span wins an overlap, and the CRF fills the gaps; a span
whose tokens' mean marginal probability is under :data:`MIN_PROB` is dropped.

The models (``fedcare/deid/models/crf_{en,zh}.crfsuite``) are trained by
``scripts/train_deid_crf.py`` on the synthetic notes written independently of the
recognisers that have already been read (``benchmarks/deid_blind/``; the sealed set that
is scored is never among them) — see docs/deid.md.  Without a model file (or with
``FEDCARE_DEID_CRF=0``) the rules run alone.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fedcare.deid import _lexicon as L
from fedcare.deid import _names as N
from fedcare.deid._common import Span
from fedcare.deid._dates import DATE_COLUMN_GAP

__all__ = ["MIN_PROB", "MODEL_DIR", "VALUE", "crf_spans", "enabled", "features", "labels", "tokens"]

MODEL_DIR = Path(__file__).resolve().parent / "models"
VALUE = "VAL"
"""The label of a clinical value that must stay (learnt, never replaced)."""
MIN_PROB = 0.7
"""A CRF span is kept when its tokens' mean marginal probability reaches this.  Chosen on
``test3`` with the model trained on the other sets: 0.5 / 0.7 / 0.8 gave recall 0.836 /
0.834 / 0.821 (en) and 0.901 / 0.892 / 0.889 (zh), clinical values kept 322 / 322 / 322
of 322 (en) and 320 / 321 / 322 of 325 (zh) (docs/deid.md)."""

_EN_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+|[^\w\s]|_", re.U)
_ZH_TOKEN = re.compile(r"[\u3400-\u9fff]|[A-Za-zÀ-ɏ]+|\d+|[^\w\s]|_", re.U)
_CJK = re.compile(r"[\u3400-\u9fff]")
_MONTHS = L.words("""january february march april may june july august september october
november december jan feb mar apr jun jul aug sep sept oct nov dec""")
_WEEKDAYS = L.words("""monday tuesday wednesday thursday friday saturday sunday mon tue tues
wed thu thur thurs fri sat sun""")
_TITLES = L.words("""dr dr. mr mrs ms miss mx prof sister sr nurse rn np pa md do
father fr rev""")


def enabled() -> bool:
    """Whether the CRF runs (its models are present and ``FEDCARE_DEID_CRF`` is not 0)."""
    return os.environ.get("FEDCARE_DEID_CRF", "1") != "0" and _has_model("en")


def _model_path(lang: str) -> Path:
    return MODEL_DIR / f"crf_{lang}.crfsuite"


@functools.cache
def _has_model(lang: str) -> bool:
    """Whether the model file is installed (looked up once, not for every text)."""
    return _model_path(lang).exists()


def tokens(text: str, lang: str) -> list[tuple[int, int]]:
    """(start, end) of every token: words, numbers and marks (en); characters (zh)."""
    pattern = _ZH_TOKEN if lang == "zh" else _EN_TOKEN
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _shape(word: str) -> str:
    out: list[str] = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)[:6]


class _Lines:
    """Per-line facts of one text, each computed once: the label before the last colon
    left of a position, and where a chat line's speaker ends."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._labels: dict[tuple[int, int], str] = {}
        self._speakers: dict[int, int] = {}

    def label(self, start: int) -> str:
        """The label before a colon earlier on the same line ("Next of kin: ..."), lower
        case, its last two words; empty when there is none."""
        text = self.text
        line_start = text.rfind("\n", 0, start) + 1
        at = max(text.rfind(":", line_start, start), text.rfind("：", line_start, start))
        if at < 0:
            return ""
        key = (line_start, at)
        if key not in self._labels:
            self._labels[key] = _label(text[line_start:at])
        return self._labels[key]

    def speaker_end(self, start: int) -> int:
        """Where the speaker of a chat line ends ("春花：", "[7:41] tash:"), or -1."""
        line_start = self.text.rfind("\n", 0, start) + 1
        if line_start not in self._speakers:
            m = _SPEAKER.match(self.text, line_start)
            self._speakers[line_start] = m.end("who") if m else -1
        return self._speakers[line_start]


def _label(before_colon: str) -> str:
    label = before_colon.strip().lower()
    if len(label) > 40:
        label = label[-40:]
    words = re.findall(r"[^\W\d_]+", label)
    if _CJK.search(label):
        return label[-4:]
    return " ".join(words[-2:])


_SPEAKER = re.compile(r"[ \t]*(?:[\[(（][^\])）\n]{1,20}[\])）][ \t]*)?"
                      r"(?P<who>[^:：\n]{1,16}?)[ \t]*[:：]")


def features(text: str, lang: str, toks: Sequence[tuple[int, int]] | None = None
             ) -> list[list[str]]:
    """The features of every token (see :func:`tokens`)."""
    toks = tokens(text, lang) if toks is None else toks
    if lang == "zh":
        return _zh_features(text, toks)
    return _en_features(text, toks)


@functools.cache
def _lexicons() -> tuple[frozenset[str], ...]:
    from fedcare.deid.recognisers.addresses import _world_cities

    cued, _ = _world_cities()
    return N.given_names(), N.surnames(), N.common_words(), cued


def _en_word(word: str) -> list[str]:
    given, family, common, cities = _lexicons()
    low = word.lower()
    out = [f"sh={_shape(word)}"]
    if word.isalpha():
        out += [f"s3={low[-3:]}", f"p2={low[:2]}"]
        out += [flag for flag, words in (("given", given), ("sur", family), ("common", common),
                                         ("city", cities), ("month", _MONTHS),
                                         ("weekday", _WEEKDAYS), ("title", _TITLES))
                if low in words]
    elif word.isdigit():
        out.append(f"nd={min(len(word), 12)}")
    return out


def _en_features(text: str, toks: Sequence[tuple[int, int]]) -> list[list[str]]:
    words = [text[s:e] for s, e in toks]
    lows = [w.lower() for w in words]
    per = [_en_word(w) for w in words]
    lines = _Lines(text)
    n = len(toks)
    out: list[list[str]] = []
    for i, (s, _) in enumerate(toks):
        f = ["b", f"w={lows[i]}", *per[i]]
        gap = text[toks[i - 1][1]:s] if i else "\n"
        if "\n" in gap:
            f.append("bol")
        elif not gap:
            f.append("glued")
        for d in (-2, -1, 1, 2):
            j = i + d
            if 0 <= j < n:
                f.append(f"w{d}={lows[j]}")
                if d in (-1, 1):
                    f += [f"{d}:{x}" for x in per[j] if not x.startswith(("s3=", "p2="))]
            else:
                f.append(f"w{d}=<>")
        label = lines.label(s)
        if label:
            f.append(f"lab={label}")
        if s < lines.speaker_end(s):
            f.append("spk")
        out.append(f)
    return out


@functools.cache
def _surname_chars() -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(L.CN_SURNAMES), frozenset(L.CN_COMPOUND_SURNAMES)


def _zh_features(text: str, toks: Sequence[tuple[int, int]]) -> list[list[str]]:
    from fedcare.deid.recognisers._jieba import _jieba_tokens

    surname, compound = _surname_chars()
    # each character's jieba word, its part-of-speech flag and its place in the word
    pos_of: dict[int, tuple[str, str, str]] = {}
    for start, word, flag in _jieba_tokens(text):
        for k in range(len(word)):
            place = "S" if len(word) == 1 else "B" if k == 0 else "E" if k == len(word) - 1 \
                else "M"
            pos_of[start + k] = (flag, place, word if len(word) <= 4 else "")
    chars = [text[s:e] for s, e in toks]
    lines = _Lines(text)
    n = len(toks)
    out: list[list[str]] = []
    given = _lexicons()[0]
    for i, (s, _) in enumerate(toks):
        c = chars[i]
        kind = "h" if _CJK.match(c) else "d" if c.isdigit() else "a" if c.isalpha() else "p"
        f = ["b", f"c={c if kind != 'd' else 'D'}", f"k={kind}"]
        if kind == "d":
            f.append(f"nd={min(len(c), 12)}")
        elif kind == "a":
            f += [f"sh={_shape(c)}", f"w={c.lower()}"]
            if c.lower() in given:
                f.append("given")
        flag, place, word = pos_of.get(s, ("x", "S", ""))
        f += [f"pos={flag}", f"pp={flag}{place}"]
        if word:
            f.append(f"jw={word}")
        if c in surname:
            f.append("sur")
        if i + 1 < n and c + chars[i + 1] in compound:
            f.append("sur2")
        gap = text[toks[i - 1][1]:s] if i else "\n"
        if "\n" in gap:
            f.append("bol")
        for d in (-2, -1, 1, 2):
            j = i + d
            if 0 <= j < n:
                f.append(f"c{d}={chars[j]}")
            else:
                f.append(f"c{d}=<>")
        if i:
            f.append(f"bg-={chars[i - 1]}{c}")
        if i + 1 < n:
            f.append(f"bg+={c}{chars[i + 1]}")
        if 0 < i < n - 1:
            f.append(f"tg={chars[i - 1]}{c}{chars[i + 1]}")
        if i >= 2:
            f.append(f"bg--={chars[i - 2]}{chars[i - 1]}")
        if i + 2 < n:
            f.append(f"bg++={chars[i + 1]}{chars[i + 2]}")
        label = lines.label(s)
        if label:
            f.append(f"lab={label}")
        end = lines.speaker_end(s)
        if s < end:
            f.append(f"spk{min(end - s, 4)}")
        out.append(f)
    return out


def labels(toks: Sequence[tuple[int, int]], gold: Sequence[Span]) -> list[str]:
    """BIO labels of the tokens from gold spans (a token touching a span is inside it;
    the first span to claim a token keeps it)."""
    out = ["O"] * len(toks)
    for g in sorted(gold):
        first = True
        for i, (s, e) in enumerate(toks):
            if s < g.end and g.start < e and out[i] == "O":
                out[i] = ("B-" if first else "I-") + g.type
                first = False
    return out


_TAGGING = threading.Lock()
"""A CRFsuite tagger keeps the last sequence for its marginals: one sequence at a time
(``deidentify_text`` may be called from several threads)."""


@functools.cache
def _tagger(lang: str) -> Any:
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(_model_path(lang)))
    return tagger


def crf_spans(text: str, lang: str, min_prob: float | None = None) -> list[Span]:
    """The spans the CRF finds in ``text`` (positions in ``text``, PHI types): runs of
    tokens labelled with one type, kept when their mean marginal probability is at least
    ``min_prob`` (:data:`MIN_PROB` by default), and the other mentions of the names among
    them."""
    if not _has_model(lang):
        return []
    toks = tokens(text, lang)
    if not toks:
        return []
    xseq = features(text, lang, toks)
    threshold = MIN_PROB if min_prob is None else min_prob
    tagger = _tagger(lang)
    with _TAGGING:
        predicted = tagger.tag(xseq)
        runs: list[tuple[int, int, str]] = []  # first token, last token + 1, type
        for i, lab in enumerate(predicted):
            if lab == "O":
                continue
            kind = lab[2:]
            if lab.startswith("I-") and runs and runs[-1][1] == i and runs[-1][2] == kind:
                runs[-1] = (runs[-1][0], i + 1, kind)
            else:
                runs.append((i, i + 1, kind))
        runs = [part for run in runs for part in _cut_run(text, toks, run)]
        out = []
        for first, last, kind in runs:
            if kind in _NOT_FROM_CRF:
                continue
            span = Span(toks[first][0], toks[last - 1][1], kind)
            bar = _bar(text, span, lang, threshold)
            if bar > 1:
                continue
            if bar > 0:
                prob = sum(tagger.marginal(predicted[i], i) for i in range(first, last)) \
                    / (last - first)
                if prob < bar:
                    continue
            out.append(span)
    return out + _elsewhere(text, lang, out)


_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
                   r"(?:[:/]\d{1,5})?")
_MEASURED = re.compile(r"[A-Z]{2,5}")
# a reading after the word: up to three digits, not an age and sex ("TAN 78F"), a phone
# ("ABEL 0412 555 123") or a time ("JM 06:20")
_NUMBER_AFTER = re.compile(r"[ \t]*[:=]?[ \t]*\d{1,3}(?:[.,]\d+)?(?![\d:]|[ \t]?[MFmf]\b|[ \t]+\d)")
_NAME_BREAK = re.compile(r"\n|\t|  ")


def _cut_run(text: str, toks: Sequence[tuple[int, int]], run: tuple[int, int, str]
             ) -> list[tuple[int, int, str]]:
    """A run of tokens the CRF labelled, cut where its kind does not go on. A DATE ends
    at a table's column (the date rules' :data:`DATE_COLUMN_GAP`). A NAME ends at a token
    with a digit (it and the rest dropped) and is split at a line break, tab or column
    gap ("Sis. Marcia   PASI 14": the score after the nurse's name is no part of it)."""
    first, last, kind = run
    if kind == "DATE":
        cut = next((i for i in range(first + 1, last) if DATE_COLUMN_GAP.search(
            text, toks[i - 1][1], toks[i][0])), last)
        return [(first, cut, kind)]
    if kind != "NAME":
        return [run]
    parts: list[tuple[int, int, str]] = []
    start = first
    for i in range(first, last):
        digit = any(ch.isdigit() for ch in text[toks[i][0]:toks[i][1]])
        gap = i > first and _NAME_BREAK.search(text, toks[i - 1][1], toks[i][0]) is not None
        if digit or gap:
            if i > start:
                parts.append((start, i, kind))
            if digit:
                return parts  # what follows a number is no part of this name ("64M, CAP")
            start = i
    if last > start:
        parts.append((start, last, kind))
    return parts


_NOT_FROM_CRF = frozenset({VALUE, "AGE", "ORG"})
"""Labels the CRF learns but never removes: clinical values; ages (an age is PHI only over
89, and the age rules read the value); employers and schools (a quasi-identifier that
``keep=("ORG",)`` may keep: left to the rules, whose precision on them is measured)."""
_YEAR_ALONE = re.compile(r"(?:19|20)\d\d年?")
_NUMERIC_MD = re.compile(r"(?P<a>\d{1,6})(?P<sep>[/.])(?P<b>\d{1,6})")
_HLA = re.compile(r"[A-Z]{1,4}\d?\*\d{2,3}(?::\d{2,3}){0,3}")
_PRODUCT_LABEL = re.compile(r"(?i:\bref\b|\bcat(?:alog(?:ue)?)?\.?\s*(?:no\.?|#)?|\bmodel\b)"
                            r"[\s:#.]*$|(?:型号|规格)[：:\s]*$")
_LOT_INSIDE = re.compile(r"(?i:\blot\b|\bbatch\b)|批[号號]")
_UNKNOWN_NAME_BAR = 0.75
_FRACTIONS = re.compile(r"\d{1,3}/\d{1,3}(?:\s+\d{1,3}/\d{1,3})+")
# a word right before a number: what was measured ("INR 2.3", "Hb: 12.5", "钾 3.5")
_VALUE_NAME_BEFORE = re.compile(r"(?:[A-Za-z][A-Za-z0-9]{0,9}|[\u4e00-\u9fff]{1,6})"
                                r"[ \t]*[:=：]?[ \t]*$")
# ... unless the word says when: a date's label or an event ("复查日期 3.5", "入院 3.5")
_ZH_WHEN_BEFORE = re.compile(r"(?:日期|时间|时|日|于|在|入院|出院|复查|随访|就诊|手术|术后|开始|至)"
                             r"[ \t]*[:：]?[ \t]*$")
# what a span of the type must hold to be one at all
_SHAPE = {"IP": re.compile(r"\d\.\d|[0-9a-fA-F]:[0-9a-fA-F]"), "EMAIL": re.compile("@"),
          "PHONE": re.compile(r"(?:\d\D{0,2}){6}"),
          "URL": re.compile(r"://|www\.|[A-Za-z0-9-]\.(?:com|org|net|edu|gov|io|info|health|"
                            r"app|me|co|cn|uk|au|nz|ca|in|sg|hk|tw|mo|za|ng|ke|ie|ph|my)\b"),
          **dict.fromkeys(("SSN", "MRN", "INSURANCE", "ACCOUNT", "LICENSE", "DEVICE",
                           "VEHICLE"), re.compile(r"\d"))}
# what an address never holds and a run of clinical values does ("Labs: WBC 12.3, Hgb 10.1,
# Plt 245", "3/6 murmur, 1/2 tab"): a decimal, a number with a unit, a lab or dose word
_DECIMAL = re.compile(r"\d[.,]\d")
_UNIT = re.compile(r"\d\s*(?:mg|mcg|µg|μg|g|kg|ml|mL|l|L|mmol|umol|µmol|μmol|mmHg|IU|U|%|"
                   r"次|分|毫克|毫升|克|升|片|粒|支|元)(?![A-Za-z])")
_CLINICAL_WORDS = L.words("""
wbc hgb hb hct plt na k cl co2 cr creat bun inr ptt aptt alt ast alp ggt ldh bnp tsh ft4
hba1c ldl hdl tg egfr gfr crp esr lactate troponin trop ua urine bp hr rr spo2 sao2 temp
gcs murmur strength power tab tabs tablet tablets dose doses mg mcg ml units bid tid qid
qd prn po iv im sc od bd tds nocte mane labs lab vitals obs score scale hiv hbv hcv hla
capsule capsules meals snacks antigen antigens
""")
_CODE_TYPES = frozenset({"ID", "LICENSE", "DEVICE", "MRN", "INSURANCE", "ACCOUNT", "SSN"})


def _bar(text: str, span: Span, lang: str, threshold: float) -> float:
    """The marginal probability a CRF span needs, or 2 when the rules' own vetoes refuse
    it: a span without the shape of its type (a phone without six digits, an IP without
    numbers, a URL without a domain), a year alone, a bare fraction or decimal that is no
    calendar date or that the date rules read as a score ("Epworth 7/24": the rules decide
    fractions), a drug's lot or a product's catalogue number, a clinical code (an HLA
    allele, a variant, an ICD code), a name made of clinical or common words only, an
    address or code holding clinical values or clinical words."""
    value = text[span.start:span.end]
    shape = _SHAPE.get(span.type)
    if shape is not None and not shape.search(value):
        return 2.0
    if span.type == "IP" and "." in value and not _IPV4.fullmatch(value):
        return 2.0  # "SNP address 1.1.1.1.291.387.%": four numbers to 255, or no IP
    if span.type == "NAME":
        if (_MEASURED.fullmatch(value) or value.lower() in _CLINICAL_WORDS) and \
                _NUMBER_AFTER.match(text, span.end):
            return 2.0  # "PASI 14", "IOP 21", "Hb 98", "K 3.2": what was measured
        return _name_bar(value, lang, threshold)
    if span.type == "DATE":
        if _UNIT.search(value) or re.fullmatch(r"\d{1,2}", value):
            return 2.0  # "wt 13.2 kg", a day alone: a measurement, a table's number
        return 2.0 if _date_vetoed(text, span, value) else threshold
    if (_UNIT.search(value) or any(w.lower() in _CLINICAL_WORDS
                                   for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", value))
            or any(_clinical_code(w) for w in re.split(r"[\s,;()（）]+", value) if w)):
        return 2.0
    if span.type == "ADDRESS" and _DECIMAL.search(value):
        return 2.0
    if span.type in _CODE_TYPES:
        from fedcare.deid.recognisers.identifiers import _LOT_BEFORE

        if _LOT_BEFORE.search(text, max(0, span.start - 16), span.start) or \
                _PRODUCT_LABEL.search(text, max(0, span.start - 16), span.start) or \
                _LOT_INSIDE.search(value):
            return 2.0
    return threshold


def _clinical_code(word: str) -> bool:
    from fedcare.deid.recognisers.identifiers import _CLINICAL_CODE

    return bool(_CLINICAL_CODE.fullmatch(word) or _HLA.fullmatch(word))


def _date_vetoed(text: str, span: Span, value: str) -> bool:
    from fedcare.deid import _dates as D

    if _YEAR_ALONE.fullmatch(value):
        return True
    if span.start >= 2 and text[span.start - 1] == ":" and text[span.start - 2].isdigit():
        return True  # "19:31  jan": the minutes of a time, not a day
    if _FRACTIONS.fullmatch(value):
        return True  # "18/50   27/50", "6/9   6/12": a table's scores, the rules' to decide
    lead = re.match(r"[^\W\d_][^\d]*?\s+(?=\d)", value)  # "Epworth 7/24": words, then a number
    if lead is not None and not any(w.lower() in _MONTHS or w.lower() in _WEEKDAYS
                                    for w in re.findall(r"[^\W\d_]+", lead.group(0))):
        return _date_vetoed(text, Span(span.start + lead.end(), span.end, span.type),
                            value[lead.end():])
    m = _NUMERIC_MD.fullmatch(value)
    if m is None:
        return False
    if m.group("sep") == "/" or D._MD_NOT_AFTER.match(text, span.end):
        return True  # a bare fraction: the date rules decide (scores, acuities, doses)
    a, b = int(m.group("a")), int(m.group("b"))
    before = text[max(0, span.start - 24):span.start]
    if m.group("sep") == "." and _VALUE_NAME_BEFORE.search(before) and \
            not D._MD_CUE.search(before) and not _ZH_WHEN_BEFORE.search(before):
        return True  # "INR 2.3", "BAC 0.02", "钾 3.5": a measurement after its name
    return not ((1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)) or \
        bool(D._MD_NOT_BEFORE.search(before))


def _name_bar(value: str, lang: str, threshold: float) -> float:
    if lang == "zh" and _CJK.search(value):
        from fedcare.deid.recognisers.names_zh import _FAMILIAR_WORDS

        return 2.0 if value in L.CN_NAME_STOPWORDS or value in _FAMILIAR_WORDS else threshold
    from fedcare.deid.recognisers.names_en import _never

    words = [w.lower() for w in re.findall(r"[^\W\d_]+", value)]
    if not words:
        return 2.0
    names, common = N.all_names(), N.common_words()
    if all(_never(w, False) or (w in common and w not in names) for w in words):
        return 2.0
    if not any(w in names for w in words):
        if re.fullmatch(r"[A-Z]{2,4}", value):
            return 2.0  # an acronym ("HIV", "NRIC", "HPB"), not a listed name
        return max(threshold, _UNKNOWN_NAME_BAR)
    return threshold


def _elsewhere(text: str, lang: str, found: Sequence[Span]) -> list[Span]:
    """The other mentions in the note of the names the CRF found (the rules' propagation:
    "春花：" on one line, 春花 everywhere)."""
    from fedcare.deid.recognisers.names_en import _propagate_en
    from fedcare.deid.recognisers.names_zh import _propagate_zh

    names = [(s.start, s.end) for s in found if s.type == "NAME"]
    if not names:
        return []
    more = _propagate_zh(text, names) if lang == "zh" else _propagate_en(text, names)
    return [Span(s, e, "NAME") for s, e in more]
