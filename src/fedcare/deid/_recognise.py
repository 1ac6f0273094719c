"""Recognisers: where the PHI is in an English or Chinese clinical text.

Every recogniser proposes candidate spans with a priority; :func:`find_phi` keeps the
highest-priority (then longest) candidates that do not overlap.  Order of trust:
e-mail > URL > labelled identifiers ("MRN: ...", "医保卡号：...") > checksum-valid Chinese
resident IDs > SSN > IP > vehicle > phone > date > address > age > name > a bare long
number (>= 9 digits, tagged ID).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

from fedcare.deid import _lexicon as L
from fedcare.deid._common import Span, is_valid_cn_id
from fedcare.deid._dates import find_dates

__all__ = ["detect_language", "find_phi"]

_Cand = tuple[int, int, str, float]

_PRIORITY = {
    "EMAIL": 100.0, "URL": 95.0, "LABELLED": 90.0, "CNID": 88.0, "SSN": 85.0, "IP": 80.0,
    "VEHICLE": 78.0, "PHONE": 70.0, "GENERIC": 65.0, "DATE": 60.0, "ADDRESS": 55.0, "AGE": 50.0,
    "NAME_STRONG": 56.0, "NAME": 40.0, "FALLBACK": 10.0,
}

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
    cands: list[_Cand] = []
    cands += _emails(text)
    cands += _urls(text)
    cands += _ips(text)
    cands += _labelled(text, lang)
    cands += _cn_ids(text)
    cands += _ssns(text)
    cands += _vehicles(text)
    cands += _phones(text)
    cands += [(d.start, d.end, "DATE", _PRIORITY["DATE"]) for d in find_dates(text, lang)]
    cands += _ages(text, lang)
    if lang == "zh":
        cands += _zh_addresses(text)
        cands += _zh_names(text)
    else:
        cands += _en_addresses(text)
        cands += _en_names(text)
    cands += _long_numbers(text)
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


def _spans(pattern: re.Pattern[str], text: str, phi_type: str, priority: str | None = None,
           group: str | int = 0) -> list[_Cand]:
    prio = _PRIORITY[priority or phi_type]
    return [(m.start(group), m.end(group), phi_type, prio) for m in pattern.finditer(text)
            if m.group(group)]


# ---------------------------------------------------------------- e-mail, URL, IP

_EMAIL = re.compile(r"(?<![A-Za-z0-9_.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*"
                    r"[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}")
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_URL = re.compile(rf"(?i)(?:(?:https?|ftp)://|www\.){_URL_CHARS}+")
_DOMAIN = re.compile(r"(?<![@A-Za-z0-9_.-])(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+"
                     r"(?:com|org|net|edu|gov|mil|"
                     rf"io|info|biz|cn|uk|us|ca|de|jp|au|health|care)(?:/{_URL_CHARS}*)?"
                     r"(?![A-Za-z0-9_@-])")
_IPV4 = re.compile(r"(?<![A-Za-z0-9_.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                   r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![A-Za-z0-9_]|\.\d)")
_IPV6 = re.compile(r"(?<![A-Za-z0-9_:])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|"
                   r"[0-9A-Fa-f]{1,4})(?![A-Za-z0-9_:])")
_VERSION_CUE = re.compile(r"(?i)(?:version|ver\.?|v|firmware|software|release|build)\s*$")


def _emails(text: str) -> list[_Cand]:
    return _spans(_EMAIL, text, "EMAIL")


def _urls(text: str) -> list[_Cand]:
    out = []
    for pattern in (_URL, _DOMAIN):
        for m in pattern.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in ".,;:!?)]}'\"":
                end -= 1
            out.append((m.start(), end, "URL", _PRIORITY["URL"]))
    return out


def _ips(text: str) -> list[_Cand]:
    out = []
    for m in _IPV4.finditer(text):
        if not _VERSION_CUE.search(text[max(0, m.start() - 12):m.start()]):
            out.append((m.start(), m.end(), "IP", _PRIORITY["IP"]))
    for m in _IPV6.finditer(text):
        value = m.group(0)
        if value.count(":") >= 2 and ("::" in value or re.search(r"[A-Fa-f]", value)):
            out.append((m.start(), m.end(), "IP", _PRIORITY["IP"]))
    return out


# ---------------------------------------------------------------- labelled identifiers

_N = r"(?:number|no\.?|num\.?|nbr|#)"
_EN_LABELS: dict[str, str] = {
    "MRN": rf"MRN|M\.R\.N\.?|MR\s?#|MR\s+{_N}|medical\s+record(?:\s+{_N})?|"
           rf"med(?:ical)?\.?\s+rec(?:ord)?\.?\s*{_N}|chart\s*(?:{_N}|ID)|hosp(?:ital)?\.?\s*(?:{_N}|ID)|EMR\s*{_N}|"
           rf"patient\s+(?:ID|identifier|{_N})|pt\.?\s+(?:ID|#)|unit\s+{_N}|record\s+{_N}|"
           rf"case\s+{_N}|accession\s+{_N}|specimen\s+(?:{_N}|ID)",
    "INSURANCE": rf"insurance\s+(?:ID|{_N}|member\s+ID|policy(?:\s+{_N})?)|"
                 rf"member\s+(?:ID|{_N})|subscriber\s+(?:ID|{_N})|policy\s+(?:{_N}|ID)|"
                 rf"gr(?:ou)?p\s*(?:/\s*ID|ID|{_N})|medicare(?:\s+(?:beneficiary\s+identifier|{_N}|ID|card))?|"
                 rf"medicaid(?:\s+(?:{_N}|ID|card))?|MBI|HICN|"
                 rf"health\s+plan\s+(?:ID|{_N}|beneficiary\s+{_N})|beneficiary\s+(?:ID|{_N})|"
                 rf"plan\s+ID|(?:BCBS|Aetna|Cigna|Humana|Kaiser|UnitedHealthcare)\s+(?:ID|#)",
    "ACCOUNT": rf"(?:bank\s+|billing\s+|hospital\s+|patient\s+|checking\s+|savings\s+)?"
               rf"account(?:\s+(?:{_N}|ID))?|acct\.?(?:\s*{_N})?|FIN|financial\s+{_N}|"
               rf"encounter\s+(?:{_N}|ID)|visit\s+(?:{_N}|ID)|credit\s+card(?:\s+{_N})?",
    "LICENSE": rf"(?:driver'?s?|driving)\s+(?:licen[cs]e|lic\.?)(?:\s+{_N})?|DL\s*#?|"
               rf"licen[cs]e\s+{_N}|"
               rf"(?:medical|nursing|state|professional)\s+licen[cs]e(?:\s+{_N})?|"
               rf"certificate\s+{_N}|DEA(?:\s+{_N})?|NPI(?:\s+{_N})?",
    "VEHICLE": rf"(?:(?:licen[cs]e|registration|tag|vehicle|car)\s+)?plate(?:\s+{_N})?|VIN|"
               rf"(?:car|vehicle|auto|parked|parking)\b[^.\n]{{0,20}}?\btag(?:\s+{_N})?|"
               rf"vehicle\s+identification\s+{_N}|vehicle\s+(?:ID|registration)(?:\s+{_N})?",
    "DEVICE": rf"serial\s*{_N}|S/N|SN\s*[:#]|device\s+(?:ID|identifier|serial(?:\s+{_N})?|{_N})|"
              rf"UDI|unique\s+device\s+identifier|implant\s+(?:ID|serial(?:\s+{_N})?|{_N})|"
              rf"model\s*/\s*serial",
    "ID": rf"passport(?:\s+{_N})?|(?:state|national|government|military|employee|student)\s+ID"
          rf"(?:\s+{_N})?|ID\s+card(?:\s+{_N})?|identity\s+(?:card\s+)?{_N}|"
          rf"alien\s+(?:registration\s+)?{_N}|green\s+card(?:\s+{_N})?|tax\s+ID|ITIN|EIN",
    "SSN": rf"SSN|SS\s?#|SS\s+{_N}|social\s+security(?:\s+{_N})?|soc\.?\s+sec\.?(?:\s+{_N})?",
}
_ZH_LABELS: dict[str, str] = {
    "MRN": "病历号|病历编号|住院号|门诊号|急诊号|病案号|就诊号|就诊卡号|诊疗卡号|登记号|患者ID|"
           "病人ID|ID号|档案号|检查号|影像号|标本号|申请单号",
    "INSURANCE": "医保卡号|医保号|医保编号|医保账号|医疗保险卡号|医疗保险号|社保卡号|社保号|"
                 "社会保障卡号|社会保障号|参保号|参保编号|新农合证号|新农合号|农合号|保单号|"
                 "保险单号|商保卡号|保险卡号|医保(?=[：:])",
    "ACCOUNT": "银行卡号|银行账号|结算账号|缴费账号|信用卡号|住院流水号|流水号|账号|账户",
    "LICENSE": "驾驶证号|驾照号|驾驶证|执业证书编号|执业证书号|执业证号|资格证书编号|资格证号|"
               "医师资格证号|医师执业证号|许可证号",
    "VEHICLE": "车牌号码|车牌号|车牌|车架号|车辆识别代号|车辆识别号|VIN码|VIN",
    "DEVICE": "设备序列号|序列号|设备编号|设备号|机身号|器械编号|植入物编号|起搏器编号|"
              "出厂编号|UDI|SN号|SN",
    "ID": "公民身份号码|身份证号码|身份证号|身份证|身份号码|证件号码|证件号|护照号码|护照号|护照|"
          "军官证号|港澳通行证号|台胞证号",
}
_EN_SEP = r"(?:[\s:#=.\-–]|\b(?:is|was|of)\b|\b(?:number|no|ID)\b)*"
_ZH_SEP = r"[\s:：#＃为是]*(?:(?:号码|编号|号|码)[\s:：#＃为是]*)?"
_VALUE = (r"(?P<v>(?=[A-Za-z0-9\-]*\d)[A-Za-z0-9](?:[A-Za-z0-9]|[-/.·](?=[A-Za-z0-9])|"
          r"[ ](?=[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d))*)")
_CN_PLATE_HEAD = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_VALUE_VEHICLE = (rf"(?P<v>[{_CN_PLATE_HEAD}]?[A-Z0-9](?:[A-Z0-9]|[-·•.](?=[A-Z0-9])|[ ](?=\d))"
                  r"{3,16}[学警挂港澳]?)(?![A-Za-z0-9])")


@functools.cache
def _label_patterns(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for phi_type, labels in (_ZH_LABELS if lang == "zh" else {}).items():
        value = _VALUE_VEHICLE if phi_type == "VEHICLE" else _VALUE
        out.append((phi_type, re.compile(rf"(?P<label>{labels})(?:{_ZH_SEP}){value}")))
    for phi_type, labels in _EN_LABELS.items():
        value = _VALUE_VEHICLE if phi_type == "VEHICLE" else _VALUE
        out.append((phi_type, re.compile(
            rf"(?<![A-Za-z])(?P<label>(?i:{labels}))(?![A-Za-z]){_EN_SEP}{value}")))
    return out


# any other "... ID#/No./number VALUE": an identifier of unknown kind (type ID, weaker)
_GENERIC_LABEL = re.compile(r"(?<![A-Za-z])(?:ID|I\.D\.|identifier|number|No\.|#)\s*[:#]?\s*"
                            r"(?P<v>(?=[A-Za-z0-9\-]*\d)[A-Za-z0-9][A-Za-z0-9\-]{4,})")
_GENERIC_ZH = re.compile(r"(?:编号|号码|卡号|证号)[:：\s]*(?P<v>[A-Za-z0-9][A-Za-z0-9\-]{4,})")
# "<Proper Name> ID# VALUE" (Acme Health ID# ..., Pinewood ID: ...): an organisation's member
# number, most often a health plan's in clinical notes, unless a word of the organisation
# names another kind of identifier (State ID#, Employee ID#, Hospital ID#) or is not a name
_ORG_ID = re.compile(r"(?<![A-Za-z&'.-])(?P<org>(?:[A-Z][A-Za-z&'.-]*\s+){0,2}[A-Z][A-Za-z&'.-]*)"
                     r"\s+(?:ID|member\s+(?:ID|#))\s*[:#]?\s*(?P<v>(?=[A-Za-z0-9\-]*\d)"
                     r"[A-Za-z0-9][A-Za-z0-9\-]{4,})")
_ORG_NOT_PAYER = L.words("""
patient pt state national government military employee student passport photo device chart
visit order specimen lab laboratory study subject accession hospital hosp encounter case
sample report requisition transaction tax record unit staff provider clinic center centre
university school college medical card badge user login network system account employer
company federal veteran va dl driver drivers driver's license licence implant serial model
lot batch claim trial research registry donor organ blood bank image imaging scan exam test
order session call ticket reference ref file document form his her their my your our its the
a an this that new old verified confirmed checked scanned provided updated primary secondary
alien green identity personal travel voter social security ssn npi dea mrn emr ehr epic
dr mr mrs ms miss prof nurse rn md do
""")


def _labelled(text: str, lang: str) -> list[_Cand]:
    out = []
    for pattern in (_GENERIC_LABEL, _GENERIC_ZH):
        for m in pattern.finditer(text):
            if re.search(r"\d", m.group("v")):
                out.append((m.start("v"), m.end("v"), "ID", _PRIORITY["GENERIC"]))
    if lang == "en":
        for m in _ORG_ID.finditer(text):
            words = [w.strip("&'.-").lower() for w in m.group("org").split()]
            if words and all(w and w not in _ORG_NOT_PAYER for w in words):
                out.append((m.start("v"), m.end("v"), "INSURANCE", _PRIORITY["GENERIC"] + 1))
    for phi_type, pattern in _label_patterns(lang):
        for m in pattern.finditer(text):
            start, end = m.span("v")
            while end > start and text[end - 1] in "-./·":
                end -= 1
            if phi_type == "ID" and re.fullmatch(r"\d{17}[\dXx]", text[start:end]):
                pass  # a labelled resident ID counts even with a wrong checksum
            prio = _PRIORITY["LABELLED"] + len(m.group("label")) / 100
            out.append((start, end, phi_type, prio))
    return out


# ---------------------------------------------------------------- national numbers

_CN_ID = re.compile(r"(?<![\dA-Za-z])([1-8]\d{5})(\s?)(\d{8})\2(\d{3}[\dXx])(?![\dA-Za-z])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}(?P<s>[- ])(?!00)\d{2}(?P=s)(?!0000)\d{4}"
                  r"(?![\d-])")
_VIN = re.compile(r"(?<![A-Za-z0-9])(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])(?=[A-HJ-NPR-Z0-9]*\d)"
                  r"[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])")
_CN_PLATE = re.compile(rf"[{_CN_PLATE_HEAD}][A-HJ-NP-Z][·•.\s]?[A-HJ-NP-Z0-9]{{4,5}}"
                       r"[A-HJ-NP-Z0-9挂学警港澳](?![A-Za-z0-9])")


def _cn_ids(text: str) -> list[_Cand]:
    out = []
    for m in _CN_ID.finditer(text):
        if is_valid_cn_id(m.group(1) + m.group(3) + m.group(4)):
            out.append((m.start(), m.end(), "ID", _PRIORITY["CNID"]))
    return out


def _ssns(text: str) -> list[_Cand]:
    out = []
    for m in _SSN.finditer(text):
        if m.group("s") == " " and not re.search(r"(?i)ss|social|security", text[max(
                0, m.start() - 30):m.start()]):
            continue
        out.append((m.start(), m.end(), "SSN", _PRIORITY["SSN"]))
    return out


def _vehicles(text: str) -> list[_Cand]:
    return _spans(_VIN, text, "VEHICLE") + _spans(_CN_PLATE, text, "VEHICLE")


# ---------------------------------------------------------------- phones

_PHONE_PATTERNS = [
    # US/NANP: (617) 555-0134, 617-555-0134, 617.555.0134, +1 617 555 0134, ext.
    re.compile(r"(?<![A-Za-z0-9_+])(?:\+?1[\s.-]?)?(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\s.-])[2-9]\d{2}"
               r"[\s.-]\d{4}(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?(?![\d-])"),
    # international with a plus: +44 20 7946 0958, +86 10 8765 4321
    re.compile(r"(?<![A-Za-z0-9_+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\d-])"),
    # Chinese mobiles: 13812345678, 138-1234-5678, +86 138 1234 5678
    re.compile(r"(?<![\d])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?![\d])"),
    # Chinese landlines: 010-87654321, (021)12345678, 0755-8888 6666, 转 extension
    re.compile(r"(?<![\d])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[\s-]|0[1-9]\d{1,2})"
               r"[2-9]\d{2,3}[\s-]?\d{4}(?:(?:-|转|分机)\d{1,5})?(?![\d])"),
    # 400/800 service numbers
    re.compile(r"(?<!\d)[48]00[\s-]?\d{3}[\s-]?\d{4}(?!\d)"),
]
_PHONE_CUE = re.compile(r"(?i)(?:phone|tel|telephone|cell|mobile|fax|pager|beeper|call|contact|"
                        r"电话|手机|联系方式|传真)[^\n\d]{0,15}?(?<!\d)(?P<n>\d{10,11})(?!\d)")


def _phones(text: str) -> list[_Cand]:
    out = []
    for pattern in _PHONE_PATTERNS:
        for m in pattern.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if 7 <= len(digits) <= 15:
                out.append((m.start(), m.end(), "PHONE", _PRIORITY["PHONE"]))
    out += _spans(_PHONE_CUE, text, "PHONE", group="n")
    return out


# ---------------------------------------------------------------- ages over 89

_SPELLED_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                  "eight": 8, "nine": 9}
_SPELLED_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
                  "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
                  "twenty": 20}
_UNIT = r"(?:one|two|three|four|five|six|seven|eight|nine)"
# an age over 89 in English words: "ninety", "ninety-three", "one hundred (and) four/ten/twenty-one"
_AGE_WORDS = (rf"\b(?:ninety(?:[\s-]{_UNIT})?|one[\s-]+hundred(?:\s+and)?(?:[\s-](?:{_UNIT}|ten|"
              rf"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|"
              rf"twenty(?:[\s-]{_UNIT})?))?)(?![a-z])")
# an age in digits or words (the value is checked to be 90..125 afterwards)
_AGE_N = rf"(?P<n>(?<![\d.,/])\d{{2,3}}(?![\d.,/]\d)|{_AGE_WORDS})"
_DASH = r"[-‐‑–]"
_NOT_AFTER = r"(?!\s+(?:ago|later|earlier|before|prior|hence|since)\b)"
_NAME_BEFORE = (r"(?P<who>\b(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+[A-Z][A-Za-z'’-]+|\b[A-Z][a-z]+\s+"
                r"[A-Z][A-Za-z'’-]+)")
# words that make "<Capitalised> <Capitalised> (93)" a heading or a place, not a name
_NOT_NAME_WORDS = frozenset({
    "day", "days", "hospital", "room", "bed", "unit", "ward", "floor", "section", "table",
    "figure", "fig", "grade", "level", "score", "scale", "stage", "page", "lot", "trial",
    "study", "week", "weeks", "month", "months", "year", "years", "visit", "dose", "test",
    "lab", "labs", "item", "note", "notes", "appendix", "chapter", "part", "step", "phase",
    "cycle", "class", "type", "group", "total", "count", "code",
})
_EN_AGE = [
    # "93-year-old", "93 yr old", "ninety-three years old", "one hundred and four-year-old"
    re.compile(rf"(?i){_AGE_N}\s*(?:{_DASH}\s*|\s)?(?:year|yr)s?(?:\s*{_DASH}\s*|\s+)old\b"),
    # "93 y/o", "93 yo", "93 y.o.", "93yrs", "93 years (of age)", "(93 y)", "ninety-three yo"
    re.compile(rf"(?i){_AGE_N}\s*{_DASH}?\s*(?:y\s?/\s?o|y\.\s?o\.?|yo|yrs?|years?|"
               rf"y(?=\s*\)|\s+old\b))(?![a-z/]){_NOT_AFTER}"),
    # "age 93", "Age: 93", "aged 93", "age of 93", "Age (years): 93", "Age/Sex: 93/F"
    re.compile(rf"(?i)\b(?:age|aged)(?:\s+of|\s*\((?:years?|yrs?|y)\)|\s*/\s*(?:sex|gender))?"
               rf"\s*[:=]?\s*{_AGE_N}(?!\d|\.\d|\s*%|st\b|nd\b|rd\b|th\b)"),
    # "93 yo M with", "93F presents"
    re.compile(r"(?<![\d.])(?P<n>\d{2,3})\s?(?:yo|y/o)?\s?(?:M|F)\b(?=\s+(?:with|w/|presents|"
               r"presenting|who|admitted|s/p|h/o|c/o|here|brought|transferred))"),
    # "Mr. Smith (93)", "John Smith (ninety-three)", "John Smith (93 y/o)": bracket after a name
    re.compile(rf"{_NAME_BEFORE}\s*\((?i:{_AGE_N})(?:\s*(?:y|yo|y/o|yrs?|years?|[MF]))?\)"),
    # "Ms. Vega, 93, fell": an age set off by commas right after a name
    re.compile(rf"{_NAME_BEFORE},\s*(?i:{_AGE_N})\s*(?=[,;]|\.(?!\d))"),
    # "patient is 93.", "she turned 93 last week", "93rd birthday"
    re.compile(rf"(?i)\b(?:(?:patient|pt|he|she)\s+is|turned)\s+{_AGE_N}"
               rf"(?=\s*(?:[,;]|\.(?!\d)|$|\s(?:last|this|in|on|yesterday|today)\b))"),
    re.compile(rf"(?i){_AGE_N}(?:st|nd|rd|th)?\s+birthday\b"),
]
_CN_AGE_NUM = (r"九十[一二三四五六七八九]?|一百(?:零[一二三四五六七八九]|一十[一二三四五六七八九]?|"
               r"[一二]十[一二三四五六七八九]?)?")
_ZH_AGE = [
    re.compile(r"(?<![\d.])(?P<n>\d{2,3})\s*(?:周岁|岁)"),
    re.compile(r"年龄[:：\s]*(?P<n>\d{2,3})(?![\d.])"),
    re.compile(rf"(?P<n>{_CN_AGE_NUM})\s*(?:周岁|岁)"),
]


def age_value(value: str) -> int | None:
    """An age written in digits, English words or Chinese numerals, as a number."""
    value = value.strip().lower()
    if value.isdigit():
        return int(value)
    words = [w for w in re.split(r"[\s-]+", value) if w and w != "and"]
    if words and words[0] in {"ninety", "one"}:
        base = 90 if words[0] == "ninety" else 100
        total = base
        for word in (w for w in words[1:] if w != "hundred"):
            total += _SPELLED_UNITS.get(word, 0) + _SPELLED_TEENS.get(word, 0)
        return total
    digits = "零一二三四五六七八九"
    if value.startswith("九十"):
        return 90 + (digits.index(value[2]) if len(value) > 2 else 0)
    if value.startswith("一百"):
        more = value[2:]
        if not more:
            return 100
        if more.startswith("零"):
            return 100 + digits.index(more[1])
        tens = 1 if more.startswith("一十") else digits.index(more[0])
        tail = more[2:]
        return 100 + tens * 10 + (digits.index(tail) if tail else 0)
    return None


def _ages(text: str, lang: str) -> list[_Cand]:
    out = []
    for pattern in (_ZH_AGE + _EN_AGE[:3]) if lang == "zh" else _EN_AGE:
        for m in pattern.finditer(text):
            if "who" in pattern.groupindex and any(
                    w.lower() in _NOT_NAME_WORDS for w in m.group("who").split()):
                continue
            age = age_value(m.group("n"))
            if age is not None and 89 < age <= 125:
                out.append((m.start("n"), m.end("n"), "AGE", _PRIORITY["AGE"]))
    return out


# ---------------------------------------------------------------- addresses

_SUFFIX = (r"(?:Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Terrace|Circle|"
           r"Parkway|Highway|Square|Trail|Alley|Plaza|Loop|Path|Pike|Crescent|Row|Run|Pass|"
           r"Point|Ridge|Heights)\b|(?:St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Cir|Pkwy|Hwy|Sq|Trl)\b"
           r"\.?")
_STATE_ABBR = "|".join(sorted(L.US_STATES))
_STATE_NAME = "|".join(n.replace(" ", r"\s+") for n in L.US_STATE_NAMES)
_CITY_WORDS = r"[A-Z][a-z]+(?:[\s-][A-Z][a-z]+){0,2}"
_ZIP = r"\d{5}(?:-\d{4})?"
_CITY_STATE = (rf"{_CITY_WORDS},?\s+(?:(?:{_STATE_ABBR})\.?(?:\s+{_ZIP})?|"
               rf"(?:{_STATE_NAME})(?:\s+{_ZIP})?)(?![A-Za-z])")
_UNIT = r"(?:,?\s*(?:Apt|Apartment|Unit|Suite|Ste|Fl|Floor|Rm|Room|Bldg|#)\.?\s*#?\s*[A-Za-z0-9-]+)"
_STREET = (rf"(?<![\w/.-])\d{{1,6}}[A-Za-z]?\s+(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)"
           rf"\.?\s+)?(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th))(?:\s+[A-Z][a-z]+){{0,3}}\s+"
           rf"(?:{_SUFFIX})(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?{_UNIT}?")
# an apartment before the street ("apt 4, 12 Elm St"), a city after it ("..., Dayton")
_UNIT_BEFORE = re.compile(r"(?i:apt|apartment|unit|suite|ste|flat)\.?\s*#?\s*[A-Za-z0-9-]+,?\s+$")
_CITY_NEXT = re.compile(r"(?:,\s*|\s+in\s+)(?P<c>[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)?)(?![A-Za-z])")
_EN_ADDRESS = [
    re.compile(rf"{_STREET}(?:,?\s+{_CITY_STATE})?"),
    re.compile(rf"(?i:P\.?\s?O\.?\s+Box)\s+\d+(?:,?\s+{_CITY_STATE})?"),
    re.compile(rf"(?<![\w,]){_CITY_WORDS},\s+(?:(?:{_STATE_ABBR})\.?\s+{_ZIP}|"
               rf"(?:{_STATE_NAME})(?:\s+{_ZIP})?)(?![A-Za-z])"),
    re.compile(r"(?i:zip(?:\s*code)?|postal\s+code)\s*[:#]?\s*(?P<z>\d{5}(?:-\d{4})?)\b"),
]
# "City, ST" only for state abbreviations that are not also credentials or words.
_SAFE_ABBR = "|".join(sorted(L.US_STATES - {"MD", "PA", "DO", "DE", "IN", "OR", "ME", "OK", "HI",
                                            "CO", "LA", "MA", "ID", "MS", "NP", "DC", "PR"}))
_CITY_ABBR = re.compile(rf"(?<![\w,])(?P<c>{_CITY_WORDS}),\s+(?:{_SAFE_ABBR})(?![A-Za-z])")
_CITY_AFTER = re.compile(r"\b(?:in|from|near|to|at|of)\s+(?P<c>[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)")
_RESIDENCE = re.compile(r"(?i:\b(?:lives|living|lived|resides|residing|resided|reside|moved|"
                        r"relocated|relocating|born|raised|grew\s+up|native|resident|home|"
                        r"originally|hometown|transferred|travell?ed|visiting)\s+(?:alone\s+|"
                        r"here\s+|back\s+|with\s+\w+\s+(?:\w+\s+)?)?(?:in|from|to|of|near|at)"
                        r"(?:\s+the)?)\s+(?P<c>[A-Z][a-z]+(?:[\s-][A-Z][a-z]+){0,2})")


def _en_addresses(text: str) -> list[_Cand]:
    out: list[_Cand] = []
    prio = _PRIORITY["ADDRESS"]
    for pattern in _EN_ADDRESS:
        group = "z" if "?P<z>" in pattern.pattern else 0
        for m in pattern.finditer(text):
            start, end = m.span(group)
            if pattern is _EN_ADDRESS[0]:
                unit = _UNIT_BEFORE.search(text, max(0, start - 20), start)
                start = unit.start() if unit else start
                city = _CITY_NEXT.match(text, end)
                if city and not any(w.lower() in L.EN_NOT_NAMES
                                    for w in city.group("c").split()):
                    end = city.end()
            out.append((start, end, "ADDRESS", prio))
    for m in _CITY_ABBR.finditer(text):
        if m.group("c").split()[0].lower() not in L.EN_NOT_NAMES:
            out.append((m.start(), m.end(), "ADDRESS", prio))
    for m in _RESIDENCE.finditer(text):
        words = m.group("c").split()
        if words[0].lower() not in L.EN_NOT_NAMES:
            out.append((m.start("c"), m.end("c"), "ADDRESS", prio))
    for m in _CITY_AFTER.finditer(text):
        place: str = m.group("c")
        first = place.split()[0]
        if place.lower().replace(" ", "_") in L.US_CITIES:
            out.append((m.start("c"), m.end("c"), "ADDRESS", prio - 1))
        elif first.lower() in L.US_CITIES:
            out.append((m.start("c"), m.start("c") + len(first), "ADDRESS", prio - 1))
    return out


_ZH_PROV = "|".join(sorted(L.CN_PROVINCES, key=len, reverse=True))
_ZH_CITY = "|".join(sorted(L.CN_CITIES, key=len, reverse=True))
_HAN = r"[\u4e00-\u9fff]"
_ZH_COMP = (rf"(?:{_HAN}{{1,8}}?(?:自治州|自治县|特别行政区|新区|街道|社区|小区|花园|公寓|大厦|"
            r"广场|"
            rf"新村|家园|开发区|工业园|省|市|地区|盟|区|县|旗|镇|乡|村|组|苑|庄|屯|里|城)|"
            rf"[\u4e00-\u9fff\dA-Za-z]{{1,10}}?(?:大街|大道|胡同|路|街|巷|弄|道)|"
            r"[\dA-Za-z一二三四五六七八九十零〇\-]+(?:号院|号楼|号|弄|栋|幢|座|单元|楼|层|室|户|组|排)"
            r"(?:之\d+)?)")
_ZH_ANCHOR = re.compile(
    rf"(?:(?:{_ZH_PROV})(?:壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)?|"
    rf"(?:{_ZH_CITY})市?)(?:{_ZH_COMP})*")
_ZH_ADDR_LABEL = re.compile(
    rf"(?:住址|地址|家住|现住|住在|居住于|居住在|户籍地|户籍所在地|户籍|籍贯|现居|暂住|住于|"
    rf"来自|通讯地址|联系地址|家庭住址)[：:\s]*(?P<a>(?:{_ZH_COMP})+)")
_ZH_COMPS = re.compile(rf"(?:{_ZH_COMP})+")
_ZH_ADMIN_END = re.compile(r"(?:省|市|区|县|镇|乡|村|路|街|道|巷|号|室|弄|栋|单元|组|里|旗)$")
_ZH_ROAD = re.compile(rf"(?P<a>{_HAN}{{2,6}}?(?:大街|大道|胡同|路|街|巷)\d+(?:号|弄)"
                      rf"(?:{_ZH_COMP})*)")


def _zh_addresses(text: str) -> list[_Cand]:
    out: list[_Cand] = []
    prio = _PRIORITY["ADDRESS"]
    for m in _ZH_ANCHOR.finditer(text):
        value = m.group(0)
        # a bare province or city name ("北京", "上海") is an address only with more parts
        if len(value) > 3 or (_ZH_ADMIN_END.search(value) and len(value) >= 3):
            if value in L.CN_PROVINCES or value in L.CN_CITIES:
                continue
            out.append((m.start(), m.end(), "ADDRESS", prio))
    for m in _ZH_ADDR_LABEL.finditer(text):
        value = m.group("a")
        parts = re.findall(_ZH_COMP, value)
        if len(parts) >= 2 or re.search(r"\d", value):
            out.append((m.start("a"), m.end("a"), "ADDRESS", prio + 0.5))
    tokens = _jieba_tokens(text)
    for start, word, flag in tokens:
        if flag == "ns" and len(word) >= 2:
            more = _ZH_COMPS.match(text, start + len(word))
            if more and (len(more.group(0)) >= 3 or re.search(r"\d", more.group(0))):
                out.append((start, more.end(), "ADDRESS", prio - 0.5))
    for m in _ZH_ROAD.finditer(text):
        start = m.start("a")
        # start the road name at a word boundary (jieba's), not inside the previous word
        bounds = {s for s, _, _ in tokens}
        while start < m.end("a") and start not in bounds:
            start += 1
        if m.end("a") - start >= 4:
            out.append((start, m.end("a"), "ADDRESS", prio - 1))
    return out


# ---------------------------------------------------------------- jieba

@functools.cache
def _posseg() -> Any:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    jieba.initialize()
    return jieba.posseg


def _jieba_tokens(text: str) -> list[tuple[int, str, str]]:
    """(start, word, POS flag) for every jieba token, positions in ``text``."""
    return _jieba_cached(text)


@functools.lru_cache(maxsize=64)
def _jieba_cached(text: str) -> list[tuple[int, str, str]]:
    out = []
    pos = 0
    for pair in _posseg().cut(text):
        word, flag = pair.word, pair.flag
        found = text.find(word, pos)
        if found < 0:
            continue
        out.append((found, word, flag))
        pos = found + len(word)
    return out


# ---------------------------------------------------------------- Chinese names

_ZH_TITLE = re.compile("|".join(L.CN_TITLES))
_KIN_ZH = ("配偶|丈夫|妻子|老伴|爱人|儿子|女儿|儿媳|女婿|孙子|孙女|外孙|外孙女|侄子|侄女|外甥|"
           "外甥女|"
           "父亲|母亲|哥哥|姐姐|弟弟|妹妹|兄长|朋友|邻居|同事|之子|之女")
_ZH_NAME_LABEL = re.compile(
    r"(?P<label>姓名|患者姓名|病人姓名|患者|病人|患儿|家属|联系人|紧急联系人|监护人|代理人|主治医师|"
    r"主治医生|住院医师|主任医师|副主任医师|责任护士|管床医生|经治医师|上级医师|记录者|记录人|"
    r"签名|医师签名|医生签名|护士签名|报告医师|审核医师|检查医师|申请医生|送检医生|操作者|"
    r"手术者|术者|助手|麻醉医师|代诉人|陈述者|见证人|授权人|签字人|记录医师|记录医生|审核医生|"
    r"审核人|审核者|审核|审阅|复核人|复核|核对人|转诊医生|转诊医师|会诊医生|会诊医师|值班医生|"
    r"值班医师|主管医生|主管医师|接诊医生|接诊医师|管床医师|主刀医生|主刀|医生|医师|护士|大夫|主任|"
    rf"{_KIN_ZH})(?P<sep>[：:\s]*)")
_STRONG_LABELS = {"姓名", "患者姓名", "病人姓名", "签名", "医师签名", "医生签名", "护士签名",
                  "联系人", "紧急联系人", "记录者", "记录人", "见证人", "签字人", "代诉人",
                  "主治医师", "住院医师", "上级医师", "主任医师", "副主任医师", "经治医师",
                  "报告医师", "审核医师", "检查医师", "记录医师", "记录医生", "审核医生",
                  "审核人", "审核者", "复核人", "核对人", *_KIN_ZH.split("|")}
# words right after a name that confirm it (家属X电话, 科X主任意见, X（妻子）)
_ZH_NAME_NEXT = re.compile(r"电话|手机|联系|（|\(|意见|查房|会诊|表示|同意|签字|签名|知情|拒绝|"
                           r"已阅|核对|审核|陪同|陪护|代诉|诉|称|述")
# "X，男，" / "X，92岁" (demographics), "X/2023-03-05" (signature), "X表示理解" (consent)
_ZH_CUES = [
    re.compile(r"(?:^|(?<=[\n，,。；;：:\s]))(?P<n>[\u4e00-\u9fff]{2,7}?)(?:先生|女士)?[，,、]\s*"
               r"(?:男|女|\d{1,3}\s*(?:周岁|岁))", re.M),
    re.compile(r"(?:^|(?<=\n))[ \t]*(?P<n>[\u4e00-\u9fff]{2,4})[ \t]*/", re.M),
    re.compile(r"(?:^|(?<=[\n。；;]))[ \t]*(?P<n>[\u4e00-\u9fff]{2,4})(?=表示|同意|签字|知情|拒绝|"
               r"要求|已阅)", re.M),
]
# characters after which a name may start even when jieba glued them to it (请程/主任)
_ZH_PARTICLES = frozenset("请经由向与和及给找问被让叫将把对跟、，。；：:（()）/ \t\n")
# department words after which a name may start before a title (神经外科X主任)
_ZH_DEPT_END = frozenset("科室")
_ZH_KIN_WORDS = frozenset(_KIN_ZH.split("|")) | L.words(
    "爷爷 奶奶 姥姥 姥爷 叔叔 阿姨 舅舅 姑姑 伯伯 大爷 大妈 老人 病人 患者 家属")
_ZH_NOT_NAMES = L.words("""
高血压 高血脂 高血糖 常规 明显 方案 方面 安静 安全 黄疸 周期 周围 周身 石膏 毛发 程度 江湖
金属 白细胞
白色 白天 张力 马上 牛奶 宫颈 谷丙 孙子 胡须 林业 邱疹 夏季 秦艽 于是 余量 杜冷丁 叶酸 苏醒 魏氏
吕氏 丁香 任何 沈默 姚黄 卢氏 姜黄 钟表 谭氏 陆续 汪洋 范围 金黄色 石头 廖氏 贾氏 夏天 韦氏 付费
方法 方式 白蛋白 孟鲁司特 熊胆 秦皮 江西 尹氏 薛氏 段落 雷诺 侯氏 龙胆 史上 陶瓷 黎明 贺氏 顾虑 毛细
郝氏 龚氏 邵氏 万分 钱款 严重 武汉 戴用 莫名 孔径 向前 汤药 常见 温度 温和 康复 施行 文件 文献 牛黄
葛根 邢台 安定 齐全 易于 乔氏 伍用 庞大 颜色 倪氏 庄重 聂氏 章节 鲁米那 岳母 翟氏 殷红 詹氏 申请
欧洲 耿直 关节 关注 兰州 焦虑 俞氏 左侧 左心 柳氮 甘油 甘露醇 祝福 包括 包块 宁可 尚可 符合 舒张
阮氏 柯氏 纪录 梅毒 童年 凌晨 毕业 单位 单纯 季节 裴氏 霍乱 涂片 成人 成分 苗条 谷氨酰 盛行 曲张
翁氏 冉氏 骆氏 蓝色 路径 游离 辛辣 靳氏 管理 管道 柴胡 蒙古 鲍氏 华法林 喻氏 祁氏 蒲公英 房颤 房间
滕氏 屈曲 饶氏 解释 解除 牟氏 艾滋 尤其 阳性 时间 时期 穆氏 农村 农药 司机 卓越 古代 吉祥 缪氏 简单
车祸 项目 连续 芦荟 麦粒 褚氏 娄氏 窦性 窦房 戚氏 景观 党员 宫缩 费用 卜氏 冷却 冷汗 晏氏 席位 卫生
米粒 柏氏 宗教 瞿氏 桂枝 全身 全血 佟氏 应用 应该 臧氏 闵氏 苟氏 邬氏 边缘 卞氏 姬氏 师傅 仇恨 栾氏
隋氏 商量 刁氏 沙丁 荣誉 巫氏 寇氏 桑叶 郎氏 丛氏 仲氏 虞氏 敖氏 巩固 佘氏 池塘 查体 查房 麻醉 麻木
苑氏 迟缓 迟发 邝氏 官方 封闭 谈话 匡氏 惠及 荆芥 乐观 冀氏 郁闷 胥氏 班级 储存 栗子 燕窝 楚氏 鄢氏
劳累 谌氏 奚氏 皮疹 皮肤 皮下 粟粒 蔺氏 楼层 盘氏 满意 位置 厉害 伊氏 仝氏 郜氏 阚氏 权衡 帅气 屠宰
豆类 朴素 练习 廉价 禹氏 井然 祖父 漆黑 巴比妥 丰富 支气管 支架 卿氏 狄氏 计划 计算 索引 宣教 晋升
初步 初次 心电图 时许 金星 高峰 方正 文明 安然 平安 建国 国庆
""")


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _surname_len(text: str, pos: int) -> int:
    if text[pos:pos + 2] in L.CN_COMPOUND_SURNAMES:
        return 2
    return 1 if pos < len(text) and text[pos] in L.CN_SURNAMES else 0


def _title_at(text: str, pos: int) -> bool:
    return _ZH_TITLE.match(text, pos) is not None


_FUNCTION_TAGS = ("v", "a", "d", "p", "c", "u", "r", "m", "q", "f", "t", "y", "e", "o")


def _dict_word(word: str, strong: bool = False) -> bool:
    """A word jieba's dictionary knows as something other than a person name.

    After a strong label (姓名：, 签名：) only function words count: a name may also be
    listed as a place (沈庆/ns) or a noun.
    """
    tag = _posseg().dt.word_tag_tab.get(word)
    if tag is None or tag.startswith("nr"):
        return False
    return tag.startswith(_FUNCTION_TAGS) if strong else True


def _bad_name(name: str, strong: bool = False) -> bool:
    return (name in _ZH_NOT_NAMES or name in _ZH_KIN_WORDS or name.endswith("氏")
            or _dict_word(name, strong) or any(k in name for k in ("医院", "科室", "病房")))


def _given_ok(chunk: str) -> bool:
    return all(_is_han(c) and c not in L.CN_NAME_STOPWORDS for c in chunk)


def _confirmed_end(text: str, end: int) -> bool:
    """A name may end here: end of text, a non-Han character, a title or a confirming word."""
    return (end == len(text) or not _is_han(text[end]) or _title_at(text, end)
            or _ZH_NAME_NEXT.match(text, end) is not None)


def _name_at(text: str, pos: int, bounds: set[int], nr_starts: set[int],
             strong: bool, separated: bool = False) -> tuple[int, int] | None:
    """The name starting at ``pos`` (after a label): surname plus one or two characters.

    ``strong``: a label that introduces a name (姓名：, 签名：, kinship words);
    ``separated``: a weaker label followed by a colon or space (医生：, 审核 ), after which
    an unlisted surname is taken when nothing Han follows the name.
    """
    if pos >= len(text) or not _is_han(text[pos]):
        return None
    s_len = _surname_len(text, pos)
    if s_len == 0:
        if text[pos] in L.CN_NAME_STOPWORDS:
            return None
        if not (strong or pos in nr_starts):
            # an unlisted surname after a weak label: only when a confirming word follows
            # the 2-4 characters (家属X电话, 家属X（妻子）)
            for end in (pos + 4, pos + 3, pos + 2):
                if (end <= len(text) and _given_ok(text[pos + 1:end])
                        and ((end < len(text) and _ZH_NAME_NEXT.match(text, end))
                             or (separated and (end == len(text) or not _is_han(text[end]))))
                        and not any(_title_at(text, i) for i in range(pos + 1, end))
                        and not _bad_name(text[pos:end])):
                    return pos, end
            return None
        # an unlisted (rare or compound) surname: the longest run of 2-4 characters that
        # ends at a word boundary
        best = None
        for end in range(pos + 2, min(pos + 4, len(text)) + 1):
            if not _given_ok(text[pos + 1:end]) or any(_title_at(text, i)
                                                        for i in range(pos + 1, end)):
                break
            if end in bounds or _confirmed_end(text, end):
                best = end
        if best is None or _bad_name(text[pos:best], strong) or \
                text[best:best + 1] in _ZH_DEPT_END:
            return None
        return pos, best
    best = None
    for given in (1, 2):
        end = pos + s_len + given
        if end > len(text):
            break
        chunk = text[pos + s_len:end]
        if not _given_ok(chunk):
            break
        if any(_title_at(text, i) for i in range(pos + s_len, end)):
            break
        if end in bounds or end == len(text) or not _is_han(text[end]) or _title_at(text, end):
            best = end
    if best is None and _title_at(text, pos + s_len):
        best = pos + s_len  # 王主任: a surname with a title
    if best is None:
        end = pos + s_len + 1
        if end <= len(text) and _given_ok(text[pos + s_len:end]):
            best = end
    if best is None or text[best:best + 1] in _ZH_DEPT_END:  # 审核人：质控科
        return None
    # a listed surname whose name is also a dictionary word (何国/r, 王国/n): kept after a
    # strong label when nothing Han follows, or when a confirming word follows (王国（女）)
    isolated = best == len(text) or not _is_han(text[best])
    confirmed = (strong and isolated) or (best < len(text) and _ZH_NAME_NEXT.match(text, best))
    if best - pos > s_len and _bad_name(text[pos:best], strong) and not (
            confirmed and text[pos:best] not in _ZH_NOT_NAMES
            and text[pos:best] not in _ZH_KIN_WORDS):
        return None
    return pos, best


def _name_before(text: str, end: int, bounds: set[int], soft: set[int]) -> tuple[int, int] | None:
    """The name ending at ``end`` (just before a title such as 医生 or 主任)."""
    best = None
    for length in (1, 2, 3, 4):
        start = end - length
        if start < 0:
            break
        chunk = text[start:end]
        if not all(_is_han(c) for c in chunk):
            break
        s_len = _surname_len(text, start)
        after_particle = start in soft or (start > 0 and text[start - 1] in _ZH_DEPT_END)
        if s_len == 0:
            if not after_particle or text[start] in L.CN_NAME_STOPWORDS:
                continue
            s_len = 1 if length < 4 else 2  # 4 characters: a compound surname (公孙/x/x)
        if length > s_len + 2 or not (start in bounds or after_particle):
            continue
        if not _given_ok(chunk[s_len:]) or (length > s_len and _bad_name(chunk)):
            continue
        if length == s_len and chunk in _ZH_KIN_WORDS:
            continue
        best = (start, end)
    return best


def _zh_names(text: str) -> list[_Cand]:
    tokens = _jieba_tokens(text)
    soft = {i for i in range(len(text) + 1) if i == 0 or text[i - 1] in _ZH_PARTICLES}
    bounds = {s for s, _, _ in tokens} | {s + len(w) for s, w, _ in tokens} | soft
    nr_starts = {s for s, _, f in tokens if f.startswith("nr")}
    found: list[tuple[int, int]] = []
    for m in _ZH_NAME_LABEL.finditer(text):
        span = _name_at(text, m.end(), bounds, nr_starts, m.group("label") in _STRONG_LABELS,
                        separated=bool(m.group("sep")))
        if span:
            found.append(span)
    for m in _ZH_TITLE.finditer(text):
        span = _name_before(text, m.start(), bounds, soft)
        if span:
            found.append(span)
    for pattern in _ZH_CUES:
        for m in pattern.finditer(text):
            name = m.group("n")
            start = m.start("n")
            # drop a label glued in front ("患者张伟，男")
            label = _ZH_NAME_LABEL.match(name)
            if label and label.end() < len(name):
                start += label.end()
                name = name[label.end():]
            if 2 <= len(name) <= 4 and _given_ok(name[1:]) and not _bad_name(name, True) \
                    and name[-1] not in "科室院部区市县省":
                found.append((start, start + len(name)))
    # jieba person names (nr), merging a split surname + given name (周/海燕, 笪/晓静)
    i = 0
    while i < len(tokens):
        start, word, flag = tokens[i]
        if not flag.startswith("nr"):
            i += 1
            continue
        end = start + len(word)
        j = i + 1
        while (j < len(tokens) and tokens[j][0] == end and tokens[j][2].startswith("nr")
               and end - start + len(tokens[j][1]) <= 4 and len(tokens[j - 1][1]) == 1):
            end += len(tokens[j][1])
            j += 1
        # a particle glued in front by jieba (经林怡): start after it
        if text[start] in _ZH_PARTICLES and end - start >= 3:
            start += 1
        name = text[start:end]
        merged = j - i > 1
        s_len = _surname_len(text, start)
        if (2 <= len(name) <= 4 and all(_is_han(c) for c in name) and not _bad_name(name)
                and _given_ok(name[max(s_len, 1):]) and not _title_at(text, start)
                and (s_len or merged)):
            trimmed = _ZH_TITLE.search(name, 1)
            end = start + trimmed.start() if trimmed else end
            if end - start >= 2 or _title_at(text, end):
                found.append((start, end))
        i = j
    found += _propagate_zh(text, found)
    return [(s, e, "NAME", _PRIORITY["NAME"]) for s, e in found]


def _propagate_zh(text: str, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    names = {text[s:e] for s, e in found if e - s >= 2}
    out = []
    for name in names:
        for m in re.finditer(re.escape(name), text):
            out.append(m.span())
    return out


# ---------------------------------------------------------------- English names

_CAPW = r"(?:(?:Mc|Mac|O['’]|D['’])?[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)*)"
_UPPW = r"(?:(?:MC|MAC|O'|D')?[A-Z]{2,}(?:[-'][A-Z]+)*)"
_INIT = r"(?:[A-Z]\.?)"
_PARTICLE = r"(?:(?:van|von|de|da|del|der|di|du|la|le|bin|ibn|al|el) (?:la |der |los )?)"
_FULL_CAP = rf"(?:{_INIT} )?{_CAPW}(?: (?:{_INIT} )?{_PARTICLE}?{_CAPW}){{0,2}}"
_FULL_UP = rf"(?:{_INIT} )?{_UPPW}(?: (?:{_INIT} )?{_UPPW}){{0,2}}"
_FULL = rf"(?:{_FULL_CAP}|{_FULL_UP})"
_LASTFIRST = (rf"(?:{_CAPW}(?:-{_CAPW})?|{_UPPW}),[ ]?(?:{_CAPW}|{_UPPW})"
              rf"(?: {_INIT}(?![A-Za-z]))?")
_TITLE = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Mister|Doctor|Sr|Sra|Srta)\.?\s+"
                    rf"(?P<n>{_FULL_CAP}|{_INIT}\s*{_CAPW}|{_FULL_UP})")
_COLON_LABELS = (r"patient(?:'s)?\s+name|patient|pt\s+name|pt|name|attending(?:\s+physician)?|"
                 r"resident|fellow|intern|pcp|primary\s+care(?:\s+(?:physician|provider))?|"
                 r"provider|physician|surgeon|nurse|rn|np|pa|referring(?:\s+(?:physician|"
                 r"provider|doctor))?|consultant|dictated\s+by|signed\s+by|electronically\s+"
                 r"signed\s+by|reviewed\s+by|transcribed\s+by|cosigned\s+by|author|cc|contact|"
                 r"emergency\s+contact|next\s+of\s+kin|nok|guardian|caregiver|interpreter|"
                 r"spouse|wife|husband|son|daughter|mother|father|brother|sister|"
                 r"health\s+care\s+proxy|hcp|poa|witness|informant|source|sign(?:ed|ature)")
_COLON = re.compile(rf"(?<![A-Za-z])(?i:{_COLON_LABELS})\s*[:–-]\s*(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?"
                    rf"(?P<n>{_LASTFIRST}|{_FULL})")
# cues after which one capitalised word is a person even when no list knows it
_KIN = (r"wife|husband|spouse|son|daughter|mother|father|mom|dad|brother|sister|niece|nephew|"
        r"grandson|granddaughter|grandmother|grandfather|grandchild|aunt|uncle|cousin|"
        r"partner|fianc[eé]e?|friend|neighbou?r|caregiver|guardian|roommate|stepson|"
        r"stepdaughter|daughter-in-law|son-in-law|call|contact|paged|notified|informed|"
        r"contacted|tell|ask|interpreter|chaplain|social\s+worker|case\s+manager")
_KIN_CUE = re.compile(rf"(?<![A-Za-z])(?i:{_KIN})\s*[,(]?\s*(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?"
                      rf"(?P<n>{_LASTFIRST}|{_FULL_CAP})")
_KIN_AFTER = re.compile(rf"(?<![A-Za-z'’-])(?P<n>{_FULL})\s*(?:\((?i:{_KIN}|resident|attending|"
                        r"fellow|intern|pcp|nurse|rn|np|pa|md|cardiology|surgery)\)|"
                        r"[(,]\s*(?:DOB|D\.O\.B\.|born|MRN|age)\b)")
_SEQ_UP = re.compile(rf"(?<![A-Za-z'’-]){_UPPW}(?: {_INIT}\.?)?(?: {_UPPW}){{1,2}}(?![A-Za-z])")
_NURSE = re.compile(rf"\b(?:Nurse|RN|NP|Sister|Brother|Father|Rev\.?|Pastor|Chaplain)\s+"
                    rf"(?P<n>{_FULL_CAP})")
# cues after which a name needs a second word or a listed word
_SOFT_LABELS = (r"patient|pt|seen\s+by|signed\s+by|dictated\s+by|reviewed\s+by|discussed\s+with|"
                r"spoke\s+with|spoke\s+to|accompanied\s+by|follows\s+with|followed\s+by|"
                r"referred\s+by|referred\s+to|written\s+by|per|by|to|from|with|cc|attending|resident|"
                r"colleague|covering|electronically\s+signed|co-signed|cosigned|and")
_SOFT = re.compile(rf"(?<![A-Za-z])(?i:{_SOFT_LABELS}),?\s+(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?"
                   rf"(?P<n>{_LASTFIRST}|{_FULL_CAP}|{_UPPW} {_UPPW}(?: {_UPPW})?)")
_CRED = re.compile(rf"(?<![A-Za-z'’-])(?P<n>{_LASTFIRST}|{_FULL}),?\s+(?:MD|M\.D\.|DO|D\.O\.|NP|"
                   r"PA-C|PA|RN|PhD|MBBS|DDS|DMD|CNM|CRNA|LPN|FNP|FNP-BC|DNP|APRN|PharmD|MSW|"
                   r"LCSW)\b(?![ \t]*\d{5})")
_INTRO = re.compile(rf"(?:^|(?<=[\n.!?;]))\s*(?P<n>{_FULL}),?\s+(?:is|was)\s+an?\s+"
                    r"(?:\d|ninety|one\s+hundred|pleasant|well|very|frail|elderly)", re.M)
_HEADER = re.compile(rf"^[ \t]*(?P<n>{_LASTFIRST})(?=[ \t]*(?:\||\n|$|\(|MRN|DOB|,[ \t]*(?:MRN|"
                     r"DOB|\d)))", re.M)
_SEQ = re.compile(rf"(?<![A-Za-z'’-]){_FULL_CAP}")
_LF = re.compile(rf"(?<![A-Za-z])(?P<n>{_LASTFIRST})")
_CREDENTIALS = L.words("md do rn np pa phd mbbs facp facs dds dmd pharmd lpn cna crna "
                       "msn bsn mph ms ma jr sr ii iii iv pa-c fnp dnp aprn msw lcsw")


def _tokens(name: str) -> list[str]:
    """The lower-case words of a name candidate, initials left out."""
    return [t.strip(".,").lower() for t in re.split(r"[\s,]+", name) if len(t.strip(".,")) > 1]


def _never(token: str, strong: bool) -> bool:
    """A word that is not a name part here (eponyms count as names only after a cue)."""
    return token in L.EN_NOT_NAMES or token in _CREDENTIALS or (
        not strong and token in L.EN_EPONYMS)


def _trim_name(text: str, start: int, end: int, strong: bool) -> tuple[int, int] | None:
    """Drop leading/trailing words that are not name parts (credentials, eponyms, labels)."""
    words = list(re.finditer(r"[^\s,]+", text[start:end]))
    while words and _never(words[-1].group(0).strip(".").lower(), strong):
        words.pop()
    while words and _never(words[0].group(0).strip(".").lower(), strong):
        words.pop(0)
    if not words:
        return None
    s, e = start + words[0].start(), start + words[-1].end()
    if text[s:e].endswith(("'s", "’s")):
        e -= 2
    elif text[s:e].endswith(".") and not re.search(r"(?:^|\s)[A-Z]\.$", text[s:e]):
        e -= 1
    return (s, e) if e > s else None


def _known(token: str) -> bool:
    return token in L.EN_FIRST_NAMES or token in L.EN_SURNAMES


def _plausible(toks: list[str], strong: bool = False) -> bool:
    """Not made only of words that are never names (labels, eponyms, credentials)."""
    return bool(toks) and not any(t in L.EN_NOT_NAMES for t in toks) and \
        not all(_never(t, strong) for t in toks)


def _weak_run(toks: list[str]) -> bool:
    """Whether capitalised words with no cue are a name, by the name lists."""
    first, last = toks[0], toks[-1]
    if any(t in L.EN_EPONYMS for t in toks) and first not in L.EN_FIRST_NAMES:
        return False
    if len(toks) == 1:
        return first in L.EN_FIRST_NAMES and first not in L.AMBIGUOUS_EN_NAMES
    first_ok = first in L.EN_FIRST_NAMES and first not in L.AMBIGUOUS_EN_NAMES
    last_ok = last in L.EN_SURNAMES and last not in L.AMBIGUOUS_EN_NAMES
    return first_ok or last_ok or (first in L.EN_FIRST_NAMES and last in L.EN_SURNAMES)


def _en_names(text: str) -> list[_Cand]:
    strong: list[tuple[int, int]] = []
    weak: list[tuple[int, int]] = []

    def add(into: list[tuple[int, int]], start: int, end: int) -> None:
        span = _trim_name(text, start, end, into is strong)
        if span:
            into.append(span)

    for m in _TITLE.finditer(text):
        add(strong, *m.span("n"))
    for pattern in (_COLON, _CRED, _INTRO, _HEADER, _KIN_CUE, _KIN_AFTER, _NURSE):
        for m in pattern.finditer(text):
            toks = _tokens(m.group("n"))
            if _plausible(toks, strong=True):
                add(strong, *m.span("n"))
    for m in _SOFT.finditer(text):
        toks = _tokens(m.group("n"))
        initial = re.match(r"[A-Z]\. ?[A-Z][a-z]", m.group("n")) is not None
        if not _plausible(toks, strong=initial):
            continue
        if initial:  # "A. Turner": an initial and a surname after a cue
            add(strong, *m.span("n"))
        elif any(_known(t) and t not in L.AMBIGUOUS_EN_NAMES for t in toks) or len(toks) >= 2:
            add(weak, *m.span("n"))
    for m in _SEQ_UP.finditer(text):
        toks = _tokens(m.group(0))
        if toks and not any(_never(t, False) for t in toks) and _weak_run(toks):
            add(weak, *m.span())
    for m in _SEQ.finditer(text):
        # split the run at words that are never names ("Nurse Carl", "Dr Smith Clinic")
        run: list[re.Match[str]] = []
        words = list(re.finditer(r"\S+", m.group(0)))
        for w in [*words, None]:
            token = w.group(0).strip(".,").lower() if w is not None else None
            if w is not None and token is not None and not _never(token, False):
                run.append(w)
                continue
            if run and _weak_run([r.group(0).strip(".,").lower() for r in run]):
                add(weak, m.start() + run[0].start(), m.start() + run[-1].end())
            run = []
    for m in _LF.finditer(text):
        last, first = (t.strip().lower() for t in m.group("n").split(",", 1))
        first = first.split()[0] if first.split() else first
        if _never(first, False) or _never(last, False):
            continue
        if first in L.EN_FIRST_NAMES or (last in L.EN_SURNAMES and
                                         last not in L.AMBIGUOUS_EN_NAMES):
            add(weak, *m.span("n"))
    weak += _propagate_en(text, strong + weak)
    out = [(s, e, "NAME", _PRIORITY["NAME_STRONG"]) for s, e in _merge_adjacent(text, strong)]
    out += [(s, e, "NAME", _PRIORITY["NAME"]) for s, e in _merge_adjacent(text, weak)]
    return out


def _propagate_en(text: str, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    words: set[str] = set()
    for s, e in found:
        for w in re.findall(r"[A-Za-z][A-Za-z'’-]+", text[s:e]):
            low = w.lower()
            if (len(w) >= 3 and not _never(low, False) and low not in L.AMBIGUOUS_EN_NAMES
                    and low not in _CREDENTIALS and w[0].isupper()):
                words.add(w)
                if w.isupper():
                    words.add(w.capitalize())
                elif not w.isupper():
                    words.add(w.upper())
    out = []
    for w in words:
        for m in re.finditer(rf"(?<![A-Za-z]){re.escape(w)}(?![a-z])", text):
            out.append(m.span())
    return out


def _merge_adjacent(text: str, spans: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    ordered = sorted(set(spans))
    current: list[int] | None = None
    for s, e in ordered:
        if current is not None and (s <= current[1] or re.fullmatch(
                r" ?(?:[A-Z]\. ?)?", text[current[1]:s])):
            current[1] = max(current[1], e)
            continue
        if current is not None:
            yield current[0], current[1]
        current = [s, e]
    if current is not None:
        yield current[0], current[1]


# ---------------------------------------------------------------- bare long numbers

_LONG_NUMBER = re.compile(r"(?<![A-Za-z0-9_.,/-])\d{9,}(?![A-Za-z0-9_.,/]|-\d)")


def _long_numbers(text: str) -> list[_Cand]:
    return _spans(_LONG_NUMBER, text, "ID", "FALLBACK")
