"""Finding dates in English and Chinese text and shifting them, keeping their format.

A match records which parts it has (year, month, day) and where each part sits in the
matched string, so a shifted date is written back in the same surface form: "Mar. 5th,
2021" stays "Mon. Dth, YYYY", "2023年3月5日" stays Chinese, "二〇二三年三月五日" stays in
Chinese numerals.  Partial dates shift too: month-day on a leap reference year (2000),
month-year from the 15th.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

__all__ = ["DateMatch", "find_dates", "shift_date_text"]

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}
_ABBR = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
         "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_MONTH_NAMES = [name.capitalize() for name in _MONTHS]
_month_forms = sorted({f for m in [*_MONTHS, *_ABBR] for f in (m.capitalize(), m.upper())},
                      key=len, reverse=True)
_MON = r"(?P<mon>" + "|".join(_month_forms) + r")(?P<dot>\.)?"
_Y4 = r"(?P<y>(?:19|20)\d\d)"
_DAY = r"(?P<d>3[01]|[12]\d|0?[1-9])"
_CUE = r"(?:on|since|from|until|till|through|thru|by|dated|before|after|to|and|DOS:?|[Dd]ate:?)"

_EN_PATTERNS = [
    # 2021-03-14, 2021/03/14, 2021.03.14
    rf"(?<![\d.-])(?<!\d/){_Y4}(?P<s>[-/.])(?P<m>1[0-2]|0?[1-9])(?P=s){_DAY}(?![\d/])",
    # 03/14/2021, 3-14-21, 14.03.2021 (day first when the first number exceeds 12)
    r"(?<![\d/.-])(?P<a>\d{1,2})(?P<s>[/.-])(?P<b>\d{1,2})(?P=s)(?P<y>(?:19|20)\d\d|\d\d)"
    r"(?![\d/]|\.\d)",
    # 14-Mar-2021, 14 Mar 2021, 14th of March, 2021, 5 March
    rf"(?<![\d.]){_DAY}(?P<ord>st|nd|rd|th)?(?P<sep>-|\s+(?:of\s+)?){_MON}"
    rf"(?:(?:-|,?\s+){_Y4}|-(?P<y2>\d\d)\b)?(?![\w-])",
    # March 14, 2021; Mar. 14th; March 14
    rf"\b{_MON}\s+{_DAY}(?P<ord>st|nd|rd|th)?(?:,?\s+{_Y4})?(?![\d:.]\d|\w)",
    # March 2021, Mar. 2021
    rf"\b{_MON},?\s+{_Y4}(?!\d)",
    # 03/2021
    r"(?<![\d/.-])(?P<m>1[0-2]|0?[1-9])/(?P<y>(?:19|20)\d\d)(?![\d/])",
    # "on 3/14", "from 3/14 to 3/18"
    rf"\b{_CUE}\s+(?P<date>(?P<m>1[0-2]|0?[1-9])/{_DAY})(?![\d/])",
]

_CN_DIGITS = "〇一二三四五六七八九"
_CN_NUM = r"(?:三十[一]?|二?十[一二三四五六七八九]?|[一二三四五六七八九])"
_ZH_PATTERNS = [
    r"(?<!\d)(?P<y>(?:19|20)\d\d|\d\d)\s*年\s*(?P<m>1[0-2]|0?[1-9])\s*月\s*"
    r"(?P<d>3[01]|[12]\d|0?[1-9])\s*(?P<suffix>[日号])",
    r"(?<!\d)(?P<y>(?:19|20)\d\d)\s*年\s*(?P<m>1[0-2]|0?[1-9])\s*月(?!\s*\d)(?!余|内|底前)",
    r"(?<![\d年])(?P<m>1[0-2]|0?[1-9])\s*月\s*(?P<d>3[01]|[12]\d|0?[1-9])\s*(?P<suffix>[日号])",
    rf"(?<![\d.-])(?<!\d/){_Y4}(?P<s>[-/.])(?P<m>1[0-2]|0?[1-9])(?P=s){_DAY}(?!\d)",
    r"(?P<cy>[〇零○一二三四五六七八九]{4})年(?P<cm>十[一二]?|[一二三四五六七八九])月"
    rf"(?:(?P<cd>{_CN_NUM})(?P<suffix>[日号]))?",
]

_EN = [re.compile(p) for p in _EN_PATTERNS]
_ZH = [re.compile(p) for p in _ZH_PATTERNS]


@dataclass(frozen=True)
class DateMatch:
    """A date found in text: its span, its parts and how to write a shifted one back."""

    start: int
    end: int
    year: int | None
    month: int
    day: int | None
    _match: re.Match[str]
    _day_first: bool = False

    def render(self, new: dt.date) -> str:
        """The matched text with its year/month/day replaced by ``new``'s, format kept."""
        m = self._match
        pieces: list[tuple[int, int, str]] = []

        def put(group: str, text: str) -> None:
            if m.group(group) is not None:
                pieces.append((m.start(group) - m.start(), m.end(group) - m.start(), text))

        def num(group: str, value: int) -> str:
            return f"{value:02d}" if (m.group(group) or "").startswith("0") else str(value)

        groups = m.groupdict()
        if groups.get("y") is not None:
            old = m.group("y")
            put("y", str(new.year) if len(old) == 4 else f"{new.year % 100:02d}")
        if groups.get("y2") is not None:
            put("y2", f"{new.year % 100:02d}")
        if groups.get("a") is not None:
            first, second = (new.day, new.month) if self._day_first else (new.month, new.day)
            put("a", num("a", first))
            put("b", num("b", second))
        if groups.get("m") is not None:
            put("m", num("m", new.month))
        if groups.get("d") is not None:
            put("d", num("d", new.day))
        if groups.get("mon") is not None:
            put("mon", _month_like(m.group("mon"), new.month))
        if groups.get("ord") is not None:
            put("ord", _ordinal(new.day))
        if groups.get("cy") is not None:
            put("cy", "".join(_CN_DIGITS[int(c)] for c in str(new.year)))
            put("cm", _cn_small(new.month))
            if groups.get("cd") is not None:
                put("cd", _cn_small(new.day))
        text = m.group(0)
        for begin, end, value in sorted(pieces, reverse=True):
            text = text[:begin] + value + text[end:]
        return text[self.start - m.start():len(text) - (m.end() - self.end)]

    def shifted(self, days: int) -> str:
        """The date moved by ``days``, in the original format (partial dates included)."""
        year = self.year if self.year is not None else 2000
        day = self.day if self.day is not None else 15
        return self.render(dt.date(year, self.month, day) + dt.timedelta(days=days))


def _month_like(old: str, month: int) -> str:
    full = _MONTH_NAMES[month - 1]
    if old.lower() in _MONTHS:
        new = full
    elif old.lower() == "sept":
        new = "Sept" if month == 9 else full[:3]
    else:
        new = full[:3]
    return new.upper() if old.isupper() and len(old) > 1 else new


def _ordinal(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _cn_small(value: int) -> str:
    tens, units = divmod(value, 10)
    if tens == 0:
        return _CN_DIGITS[units]
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return head + "十" + (_CN_DIGITS[units] if units else "")


def _cn_value(text: str) -> int:
    if "十" not in text:
        return int("".join(str(_CN_DIGITS.index(c)) if c in _CN_DIGITS else "0" for c in text))
    head, _, tail = text.partition("十")
    return (_CN_DIGITS.index(head) if head else 1) * 10 + (_CN_DIGITS.index(tail) if tail else 0)


def _parts(m: re.Match[str]) -> tuple[int | None, int, int | None, bool] | None:
    g = m.groupdict()
    day_first = False
    if g.get("cy") is not None:
        year: int | None = _cn_value(g["cy"].replace("零", "〇").replace("○", "〇"))
        month = _cn_value(g["cm"])
        day = _cn_value(g["cd"]) if g.get("cd") else None
    elif g.get("a") is not None:
        a, b = int(g["a"]), int(g["b"])
        if a > 12:
            day_first, (month, day) = True, (b, a)
        else:
            month, day = a, b
        year = int(g["y"])
    else:
        if g.get("mon") is not None:
            key = g["mon"].lower()
            month = _MONTHS.get(key) or _ABBR[key]
        else:
            month = int(g["m"])
        year = int(g["y"]) if g.get("y") else int(g["y2"]) if g.get("y2") else None
        day = int(g["d"]) if g.get("d") else None
    if year is not None and year < 100:
        year += 2000 if year < 50 else 1900
    try:
        dt.date(year if year is not None else 2000, month, day if day is not None else 15)
    except ValueError:
        return None
    return year, month, day, day_first


def find_dates(text: str, lang: str) -> list[DateMatch]:
    """Non-overlapping dates in ``text`` (longest first where two candidates overlap)."""
    found: list[DateMatch] = []
    patterns = _ZH + _EN[:2] if lang == "zh" else _EN
    for pattern in patterns:
        for m in pattern.finditer(text):
            parts = _parts(m)
            if parts is None:
                continue
            year, month, day, day_first = parts
            span = m.span("date") if m.groupdict().get("date") is not None else m.span()
            found.append(DateMatch(span[0], span[1], year, month, day, m, day_first))
    found.sort(key=lambda d: (-(d.end - d.start), d.start))
    kept: list[DateMatch] = []
    for cand in found:
        if all(cand.end <= k.start or cand.start >= k.end for k in kept):
            kept.append(cand)
    return sorted(kept, key=lambda d: d.start)


_COMPACT = re.compile(r"\s*((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\s*")


def shift_date_text(value: str, lang: str, days: int) -> str | None:
    """``value`` (a whole date) shifted by ``days``; None when it is not a date we parse.

    Besides the formats of :func:`find_dates`, a whole value may be a compact
    ``YYYYMMDD`` (common in table columns and DICOM).
    """
    compact = _COMPACT.fullmatch(value)
    if compact:
        try:
            day = dt.date(*(int(g) for g in compact.groups())) + dt.timedelta(days=days)
        except ValueError:
            return None
        return value.replace(value.strip(), day.strftime("%Y%m%d"))
    for match in find_dates(value, lang):
        if match.start == 0 and match.end == len(value.rstrip()):
            return match.shifted(days) + value[len(value.rstrip()):]
    stripped = value.strip()
    if stripped != value:
        inner = shift_date_text(stripped, lang, days)
        if inner is not None:
            return value.replace(stripped, inner, 1)
    return None
