"""E-mail addresses, URLs, IP addresses and phone numbers."""

from __future__ import annotations

import re

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser
from ._base import spans as _spans

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


@recogniser("email")
def _emails(text: str) -> list[_Cand]:
    return _spans(_EMAIL, text, "EMAIL")


@recogniser("url")
def _urls(text: str) -> list[_Cand]:
    out = []
    for pattern in (_URL, _DOMAIN):
        for m in pattern.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in ".,;:!?)]}'\"":
                end -= 1
            out.append((m.start(), end, "URL", _PRIORITY["URL"]))
    return out


@recogniser("ip")
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
               r"[2-9]\d{2,3}[\s-]?\d{4}"
               r"(?:-\d{1,5}|[ \t]?(?:转|轉|分机|分機)[ \t]?\d{1,5})?(?![\d])"),
    # 400/800 service numbers, with an extension (转3)
    re.compile(r"(?<!\d)[48]00[\s-]?\d{3}[\s-]?\d{4}(?:(?:转|分机|-)\d{1,5})?(?!\d)"),
    # Chinese landlines grouped otherwise: 0592-5523 108, 0535 6213 409
    re.compile(r"(?<![\d])0\d{2,3}[\s-](?=(?:\d[\s-]?){6,7}\d(?![\d]))[2-9](?:[\s-]?\d){6,7}"
               r"(?:(?:转|分机)\d{1,5})?"),
]
# national numbers with a trunk 0 (UK, Ireland, Australia, Europe): 01632 960 558,
# 07700 900412, 0491 570 156, 020 7946 0958 (10-11 digits, groups of 2-6)
_TRUNK_ZERO = re.compile(r"(?<![\d.,/:])0[1-9]\d{1,3}(?:[ -]\d{2,6}){1,3}(?![\d/:%]|[.,]\d)")
# an extension written alone ("Bev, ext 4417", "(ext 4629)"), or after a number the other
# patterns end before ("0800 555 012 ext 4471"): four or five digits (a knee's "ext 10" is
# a range of movement, not a phone)
_EXTENSION = re.compile(r"(?i)(?<![A-Za-z])(?:ext|extn|extension)\.?[ \t]*(?:no\.?[ \t]*)?"
                        r"\d{4,5}(?![\d.,]\d|\d|[ \t]*(?:°|deg|degrees)\b)")
_PHONE_CUE = re.compile(r"(?i)(?:phone|tel|telephone|cell|mobile|fax|pager|beeper|call|contact|"
                        r"电话|手机|联系方式|传真)[^\n\d]{0,15}?(?<!\d)(?P<n>\d{10,11})(?!\d)")
#: a hospital's internal short number: "短号662031", "分机 4412", "內線 206"
_SHORT_NUMBER = re.compile(r"(?<![\d][ \t])(?<!\d)(?:短号|短號|分机|分機|内线|內線)[ \t:：]*"
                           r"(?P<n>\d{3,6})(?!\d)")
#: an eight-digit number (Hong Kong, Macau, Singapore: "2388 6142", "6612-3456") right after
#: a phone or fax label
_EIGHT_DIGIT_CUE = re.compile(r"(?i)(?:電話|电话|手機|手机|傳真|传真|聯絡|联络|聯繫|联系|tel|phone|"
                              r"\bcall\b|直线|直線|直綫|"
                              r"(?-i:HP)|"
                              r"fax|mobile)[^\n\d]{0,6}?(?<![\d-])"
                              r"(?P<n>[2-9]\d{3}[ -]?\d{4})(?![\d-])")


@recogniser("phone")
def _phones(text: str) -> list[_Cand]:
    out = []
    for pattern in _PHONE_PATTERNS:
        for m in pattern.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if 7 <= len(digits) <= 15:
                out.append((m.start(), m.end(), "PHONE", _PRIORITY["PHONE"]))
    for m in _TRUNK_ZERO.finditer(text):
        if 10 <= sum(ch.isdigit() for ch in m.group(0)) <= 11 and not re.search(
                r"-\d{1,2}$", m.group(0)):  # an NDC code (0002-1433-80) is no phone
            out.append((m.start(), m.end(), "PHONE", _PRIORITY["PHONE"]))
    out += _spans(_PHONE_CUE, text, "PHONE", group="n")
    out += _spans(_EIGHT_DIGIT_CUE, text, "PHONE", group="n")
    out += _spans(_SHORT_NUMBER, text, "PHONE", group="n")
    out += _spans(_EXTENSION, text, "PHONE")
    return out


