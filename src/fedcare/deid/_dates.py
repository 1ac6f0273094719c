"""Finding dates in English and Chinese text; shifting them or cutting them to the year.

A match records which parts it has (year, month, day, a time of day) and where each part
sits in the matched string, so a shifted date is written back in the same surface form:
"Mar. 5th, 2021" stays "Mon. Dth, YYYY", "04/12/1961" stays "NN/NN/YYYY" with its two
numbers in the order they were read, "2023年3月5日" stays Chinese, "二〇二三年三月五日" stays
in Chinese numerals, zero padding is kept, and a time after the date ("2021-03-14 10:30",
"2021-03-14T10:30:00Z") is kept verbatim.  Partial dates shift too: month-day on a leap
reference year (2000), month-year from the 15th.

``NN/NN/YYYY`` (also with ``-`` or ``.``) is read month first (03/04/2021 = 4 March) unless
the first number exceeds 12; with ``day_first=True`` it is read day first (03/04/2021 = 3
April) unless the second number exceeds 12.  Either way the shifted date is written in the
order it was read, so day and month never trade places.

For Safe Harbor (:func:`year_date_text`) a date becomes its year alone ("04/12/1961" ->
"1961", "1961年12月4日" -> "1961年"); a year at or before a cut-off (90 years before the
reference year) becomes the single category "<cut-off> or earlier".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from fedcare.deid._common import fast_start

__all__ = ["DateMatch", "find_dates", "shift_date_text", "year_date_text", "year_label"]

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}
_ABBR = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
         "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_MONTH_NAMES = [name.capitalize() for name in _MONTHS]
_month_forms = sorted({f for m in [*_MONTHS, *_ABBR] for f in (m.capitalize(), m.upper())}
                      # full names in lower case too ("march 3" typed in a chat), not "may"
                      | {m for m in _MONTHS if m != "may"}
                      | {"jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov"},
                      key=len, reverse=True)
_MON = r"(?P<mon>" + "|".join(_month_forms) + r")(?P<dot>\.)?"
_Y4 = r"(?P<y>(?:19|20)\d\d)"
_DAY = r"(?P<d>3[01]|[12]\d|0?[1-9])"
# a time of day right after a date, on the same line: "T10:30:00Z", " 10:30", ", 10:30 am",
# " at 14:05:09.123+08:00"; kept verbatim when the date is shifted, dropped for Safe Harbor
_TIME = (r"(?P<time>(?:T|,?[ \t]+(?:at[ \t]+)?)(?:[01]?\d|2[0-3]):[0-5]\d"
         r"(?::[0-5]\d(?:[.,]\d{1,6})?)?(?:[ \t]?(?:[AaPp][Mm]|[AaPp]\.[Mm]\.)(?![A-Za-z]))?"
         r"(?:Z|[+-][01]\d:?[0-5]\d)?(?![\d:]))?")
_ZH_TIME = (r"(?P<time>[ \t]*(?:[01]?\d|2[0-3])(?:[:：][0-5]\d(?:[:：][0-5]\d)?(?![\d:：])|"
            r"[时点](?:[0-5]?\d分)?))?")
_CUE = (r"(?:on|since|from|until|till|through|thru|by|dated|before|after|to|and|DOS:?|[Dd]ate:?|"
        r"[Ss]een|[Vv]isit(?:ed)?|[Aa]ppt\.?|[Aa]ppointment|[Aa]dmitted|[Dd]ischarged|[Rr]eturned|"
        r"[Ss]cheduled|[Dd]ue|f/u|F/U|d/c|D/C|DOB:?|dob:?|[Bb]orn|[Ss]urgery|[Ii]njury|[Oo]nset)")

_EN_PATTERNS = [
    # 2021-03-14, 2021/03/14, 2021.03.14
    rf"(?<![\d.-])(?<!\d/){_Y4}(?P<s>[-/.])(?P<m>1[0-2]|0?[1-9])(?P=s){_DAY}(?![\d/]){_TIME}",
    # 03/14/2021, 3-14-21, 14.03.2021 (see the module docstring for the order)
    r"(?<![\d/.-])(?P<a>\d{1,2})(?P<s>[/.-])(?P<b>\d{1,2})(?P=s)(?P<y>(?:19|20)\d\d|\d\d)"
    rf"(?![\d/]|\.\d){_TIME}",
    # 14-Mar-2021, 14 Mar 2021, 14th of March, 2021, 5 March
    rf"(?<![\d.]){_DAY}(?P<ord>st|nd|rd|th)?(?P<sep>-|\s+(?:of\s+)?){_MON}"
    rf"(?:(?:-|,?\s+){_Y4}|(?:-|[ \t]+['’]?)(?P<y2>\d\d)(?![\d:.,/]\d|\d|[ \t]*(?:%|(?i:mg|mcg|"
    rf"ml|kg|units?|iu|mmol|h|hrs?|hours?|min|mins|weeks?|days?|wks?|x|am|pm)\b)))?"
    rf"(?![\w-]){_TIME}",
    # Feb. 8/24: a month name, the day and the year after a slash
    rf"\b{_MON}\s+{_DAY}/(?P<y2>\d\d)(?![\d/])",
    # Aug '24, March ’23: a month with its year abbreviated
    rf"\b{_MON},?\s+['’](?P<y2>\d\d)(?!\d)",
    # March 14, 2021; Mar. 14th; March 14
    rf"\b{_MON}\s+{_DAY}(?P<ord>st|nd|rd|th)?(?:,?\s+{_Y4})?(?![\d:.]\d|\w){_TIME}",
    # March 2021, Mar. 2021
    rf"\b{_MON},?\s+{_Y4}(?!\d)",
    # Mar-03-2024, Mar/3/24, MAR.03, Mar-03
    rf"\b{_MON}(?P<s2>[-/.])(?P<d>3[01]|[12]\d|0?[1-9])(?:(?P=s2)(?:{_Y4}|(?P<y2>\d\d)))?"
    rf"(?![\w/.-]\w|\w){_TIME}",
    # 2024-Mar-03, 2024 Mar 3, 2024/Mar/03
    rf"(?<![\d.]){_Y4}(?P<s>[-/. ]){_MON}(?P=s){_DAY}(?![\w]){_TIME}",
    # 03/Mar/2024, 3.Mar.24
    rf"(?<![\d.]){_DAY}(?P<s>[/.]){_MON}(?P=s)(?:{_Y4}|(?P<y2>\d\d))(?![\w]){_TIME}",
    # 2024-03 (ISO year-month, zero-padded month)
    r"(?<![\d./-])(?P<y>(?:19|20)\d\d)-(?P<m>0[1-9]|1[0-2])(?![\d/-]|\.\d)",
    # 03/2021
    r"(?<![\d/.-])(?P<m>1[0-2]|0?[1-9])/(?P<y>(?:19|20)\d\d)(?![\d/])",
    # "on 3/14", "from 3/14 to 3/18"
    rf"\b{_CUE}\s+(?P<date>(?P<m>1[0-2]|0?[1-9])/{_DAY})(?![\d/])",
]

_CN_DIGITS = "〇一二三四五六七八九"
_CN_NUM = r"(?:三十[一]?|二?十[一二三四五六七八九]?|[一二三四五六七八九])"
_ZH_PATTERNS = [
    r"(?<!\d)(?P<y>(?:19|20)\d\d|\d\d)\s*年\s*(?P<m>1[0-2]|0?[1-9])\s*月\s*"
    rf"(?P<d>3[01]|[12]\d|0?[1-9])\s*(?P<suffix>[日号]){_ZH_TIME}",
    r"(?<!\d)(?P<y>(?:19|20)\d\d)\s*年\s*(?P<m>1[0-2]|0?[1-9])\s*月(?!\s*\d)(?!余|内|底前)",
    r"(?<![\d年])(?P<m>1[0-2]|0?[1-9])\s*月\s*(?P<d>3[01]|[12]\d|0?[1-9])\s*(?P<suffix>[日号])",
    rf"(?<![\d.-])(?<!\d/){_Y4}(?P<s>[-/.])(?P<m>1[0-2]|0?[1-9])(?P=s){_DAY}(?!\d){_TIME}",
    r"(?P<cy>[〇零○一二三四五六七八九]{4})年(?P<cm>十[一二]?|[一二三四五六七八九])月"
    rf"(?:(?P<cd>{_CN_NUM})(?P<suffix>[日号]))?",
    # 三月五日 (no year)
    rf"(?<![〇零○一二三四五六七八九十年])(?P<zm>十[一二]?|[一二三四五六七八九])月(?P<zd>{_CN_NUM})"
    r"(?P<suffix>[日号])",
]

_EN = [re.compile(p) for p in _EN_PATTERNS]
# each pattern starts with a digit or a letter: a look-ahead lets the engine skip the rest
_EN = [fast_start(p, "A-Za-z" if p.pattern.startswith(r"\b") else "0-9") for p in _EN]
_ZH = [re.compile(p) for p in _ZH_PATTERNS]
#: an English date with its month's name in a Chinese note ("Date of visit: 18 Jul 2024")
_EN_MONTH_NAMED = [p for p in _EN[2:] if "(?P<mon>" in p.pattern]


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
    #: a weekday written before the date ("Wednesday, ", "Sat "), inside the span
    _weekday: str = ""

    @property
    def time(self) -> str | None:
        """The time of day written right after the date (with its separator), if any."""
        return self._match.groupdict().get("time")

    def render(self, new: dt.date) -> str:
        """The matched text with its year/month/day replaced by ``new``'s, format kept.

        Numbers keep the order they were read in, their zero padding (padded when any
        number of the date was written with a leading zero, or when an all-numeric date has
        only two-digit numbers) and the year its length; a time after the date is kept
        verbatim.
        """
        m = self._match
        pieces: list[tuple[int, int, str]] = []
        groups = m.groupdict()
        numbers = [groups[g] for g in ("a", "b", "m", "d") if groups.get(g) is not None]
        # all-numeric dates with only two-digit numbers ("11/15/2021") are taken as padded;
        # with a month name or in Chinese ("March 14", "12月14日") days are not padded
        numeric = groups.get("mon") is None and "月" not in m.group(0)
        padded = (any(n.startswith("0") for n in numbers)
                  or (numeric and not any(len(n) == 1 for n in numbers)))

        def put(group: str, text: str) -> None:
            if m.group(group) is not None:
                pieces.append((m.start(group) - m.start(), m.end(group) - m.start(), text))

        def num(value: int) -> str:
            return f"{value:02d}" if padded else str(value)

        if groups.get("y") is not None:
            old = m.group("y")
            put("y", str(new.year) if len(old) == 4 else f"{new.year % 100:02d}")
        if groups.get("y2") is not None:
            put("y2", f"{new.year % 100:02d}")
        if groups.get("a") is not None:
            first, second = (new.day, new.month) if self._day_first else (new.month, new.day)
            put("a", num(first))
            put("b", num(second))
        if groups.get("m") is not None:
            put("m", num(new.month))
        if groups.get("d") is not None:
            put("d", num(new.day))
        if groups.get("mon") is not None:
            put("mon", _month_like(m.group("mon"), new.month))
        if groups.get("ord") is not None:
            put("ord", _ordinal(new.day))
        if groups.get("zm") is not None:
            put("zm", _cn_small(new.month))
            put("zd", _cn_small(new.day))
        if groups.get("cy") is not None:
            put("cy", "".join(_CN_DIGITS[int(c)] for c in str(new.year)))
            put("cm", _cn_small(new.month))
            if groups.get("cd") is not None:
                put("cd", _cn_small(new.day))
        text = m.group(0)
        for begin, end, value in sorted(pieces, reverse=True):
            text = text[:begin] + value + text[end:]
        core = self.start + len(self._weekday)
        text = text[core - m.start():len(text) - (m.end() - self.end)]
        if self._weekday:  # the new date's weekday, written as the old one was
            text = _weekday_like(self._weekday, new) + text
        return text

    def shifted(self, days: int) -> str:
        """The date moved by ``days``, in the original format (partial dates included).

        A weekday before a date without a year is dropped (it would pin the year down)."""
        year = self.year if self.year is not None else 2000
        day = self.day if self.day is not None else 15
        if self._weekday and self.year is None:
            return DateMatch(self.start + len(self._weekday), self.end, self.year, self.month,
                             self.day, self._match, self._day_first).shifted(days)
        return self.render(dt.date(year, self.month, day) + dt.timedelta(days=days))

    def year_only(self, cutoff: int | None = None) -> str | None:
        """Safe Harbor: the year alone (see :func:`year_label`); None without a year.

        Month, day and time are dropped; a Chinese date keeps ``年`` and its numerals.
        """
        if self.year is None:
            return None
        return year_label(self.year, cutoff, zh="年" in self._match.group(0),
                          numerals=self._match.groupdict().get("cy") is not None)


def year_label(year: int, cutoff: int | None = None, *, zh: bool = False,
               numerals: bool = False) -> str:
    """A year as Safe Harbor allows it to stay.

    Parameters
    ----------
    year : int
        The year.
    cutoff : int, optional
        Years at or before it (they may show an age over 89) become the single category
        ``"<cutoff> or earlier"`` (Chinese: ``"<cutoff>年或更早"``).
    zh : bool
        Write ``年`` after the year.
    numerals : bool
        Chinese numerals (``一九六一``) instead of digits.

    Returns
    -------
    str
        ``"1961"``, ``"1961年"``, ``"1935 or earlier"``, ``"1935年或更早"``, ...
    """
    earlier = cutoff is not None and year <= cutoff
    shown = cutoff if earlier and cutoff is not None else year
    digits = "".join(_CN_DIGITS[int(c)] for c in str(shown)) if numerals else str(shown)
    if zh:
        return digits + ("年或更早" if earlier else "年")
    return digits + (" or earlier" if earlier else "")


def _month_like(old: str, month: int) -> str:
    full = _MONTH_NAMES[month - 1]
    if old.lower() in _MONTHS:
        new = full
    elif old.lower() == "sept":
        new = "Sept" if month == 9 else full[:3]
    else:
        new = full[:3]
    if old.islower():
        return new.lower()
    return new.upper() if old.isupper() and len(old) > 1 else new


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: Weekday abbreviations, and the Indonesian / Malay weekdays (written before a date)
_WEEKDAY_ABBR = r"mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun"
_WEEKDAY_ID = r"senin|selasa|rabu|kamis|jumat|sabtu|minggu"
_WEEKDAY_BEFORE = re.compile(
    r"(?<![A-Za-z])(?P<w>(?i:monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    rf"{_WEEKDAY_ABBR}|{_WEEKDAY_ID}|"
    r"segunda|terça|quarta|quinta|sexta|sábado|domingo|lunes|martes|miércoles|jueves|"
    r"viernes)\.?)(?P<sep>,?[ \t]+|,)$")


def _weekday_like(old: str, new: dt.date) -> str:
    """``new``'s weekday written like ``old`` ("Wednesday, " -> "Friday, ", "Sat " -> "Mon ")."""
    m = _WEEKDAY_BEFORE.search(old)
    if m is None:
        return ""
    word, rest = m.group("w"), old[m.end("w"):]
    full = _WEEKDAYS[new.weekday()]
    base = word.rstrip(".")
    name = full if len(base) > 4 else full[:len(base)]
    if base.isupper():
        name = name.upper()
    elif base.islower():
        name = name.lower()
    return name + ("." if word.endswith(".") else "") + rest


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


def _parts(m: re.Match[str], day_first: bool = False
           ) -> tuple[int | None, int, int | None, bool] | None:
    g = m.groupdict()
    read_day_first = False
    if g.get("cy") is not None:
        year: int | None = _cn_value(g["cy"].replace("零", "〇").replace("○", "〇"))
        month = _cn_value(g["cm"])
        day = _cn_value(g["cd"]) if g.get("cd") else None
    elif g.get("zm") is not None:
        year, month, day = None, _cn_value(g["zm"]), _cn_value(g["zd"])
    elif g.get("a") is not None:
        a, b = int(g["a"]), int(g["b"])
        # the preferred order, unless its month would exceed 12 (then the date can only
        # be read the other way); the date is written back in the order it was read
        read_day_first = (b <= 12) if day_first else (a > 12)
        day, month = (a, b) if read_day_first else (b, a)
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
    return year, month, day, read_day_first


# "3/14" without a year: a date after a cue, a weekday or before a time; elsewhere unless it
# reads as a score or fraction (5/5 strength, 2/6 murmur, 7/10 pain, 1/2 tab, BP 120/80)
_BARE_MD = re.compile(r"(?<![\d/.:,-])(?P<m>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])"
                      r"(?![\d/]|\.\d|:\d|-\d)")
_MD_CUE = re.compile(r"(?i)(?:\b(?:on|since|from|until|till|through|thru|by|dated|before|after|"
                     r"to|and|dos|date|seen|visit(?:ed)?|appt\.?|appointment|admitted|"
                     r"discharged|returned|scheduled|due|f/u|d/c|dob|born|surgery|injury|onset|"
                     r"completed|ended|ends|started|starting|stopped|held|drawn|collected|done|"
                     r"cultures?|last|next|repeat|recheck|rechecked|planned|booked|expires?|"
                     r"review|reviewed|tca|f/up|follow-?up|clinic|fitted|implanted|check|"
                     r"given|adm|today|theatre|graft|fixation|operated|op|debrided|"
                     r"checked|scan|scanned|delivered|delivery|"
                     rf"{_WEEKDAY_ABBR}|{_WEEKDAY_ID})|[\[(]|^|(?<=[已于於在])|(?<=[于於]))[\s:.,]*$")
_MD_TIME_AFTER = re.compile(r"(?i)[ \t]*(?:@|at)?[ \t]*"
                            r"(?:[01]?\d|2[0-3])"
                            r"(?::[0-5]\d|[ \t]?[ap]\.?m\b)")
_MD_NOT_AFTER = re.compile(r"(?i)[ \t]*(?:片|粒|支|袋|瓶|次|个|剂|份|杯|pain|strength|murmur|"
                           r"tab|tabs|"
                           r"tablet|of|mg|ml|x|kg|g|mcg|"
                           r"l|h|hr|hrs|min|mmol|mmhg|cm|mm|in|ft|lb|lbs|"
                           r"scale|score|%|units?|reflex|power|motor|grade|stars?|times|"
                           r"days?|weeks?|doses?|servings?|cups?|glasses)\b")
_MD_NOT_BEFORE = re.compile(r"(?i)(?:(?:bp|pain|score|ratio|strength|power|motor|murmur|va|"
                            r"vision|acuity|visual|"
                            r"grade|take|took|give|gave|total|scored|apgars?|gcs|又|评分|分数|肌力|"
                            r"肌张力|视力|比例)[\s:=]*|"
                            r"(?<![:\d])\d+[ \t]+)$")  # a number on the same line ("take 2 1/2")


#: an event right after a year-less month/day in a Chinese note: "8/6由骨科…", "3/5凌晨入院"
_ZH_EVENT_AFTER = re.compile(r"[ \t]?(?:入院|出院|手术|术后|复查|复诊|就诊|由|行|起|开始|凌晨|抽血|"
                             r"住院|转入|转出)")
#: a weekday right after a year-less month/day: "11/11（周一）", "3/5 (Wed)", "3/5 周二"
_WEEKDAY_AFTER = re.compile(r"[ \t]?[（(]?(?:周|週|星期|礼拜)[一二三四五六日天]|"
                            r"[ \t]?\((?i:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?\)")
#: a 24-hour time just before a year-less month/day: "next due 1400 3/10"
_TIME_BEFORE = re.compile(r"(?<!\d)(?:[01]\d|2[0-3])[0-5]\d[ \t]+$")
#: a month/day and "to" just before: the other end of a range of dates ("6/3至6/6")
_RANGE_FROM_DATE = re.compile(r"(?<![\d/.])(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])[ \t]*"
                              r"(?:至|到|～|~|to|until|till)[ \t]*$")
#: a range of two day/month dates joined by a dash, one of them plainly day-first
#: ("23/10-27/10", "q6h 3/11-14/11")
_DM_RANGE = re.compile(r"(?<![\d/.:,-])(?P<d>3[01]|[12]\d|0?[1-9])/(?P<m>1[0-2]|0?[1-9])"
                       r"[ \t]?[-–][ \t]?"
                       r"(?P<d2>3[01]|[12]\d|0?[1-9])/(?P<m2>1[0-2]|0?[1-9])(?![\d/]|\.\d)")
#: a year-less date with a zero-padded part ("01/05", "3/07")
_ZERO_PADDED = re.compile(r"0[1-9]/\d\d?|\d\d?/0[1-9]")


_SCORE_BEFORE = re.compile(r"(?i)(?:apgar|score|gcs|nihss|评分|分数|比分)[^\n\d]{0,6}$")


# "19/6", "14/10": the first number exceeds 12, so only day/month reads as a date
_BARE_DM = re.compile(r"(?<![\d/.:,-])(?P<d>3[01]|2\d|1[3-9])/(?P<m>1[0-2]|0?[1-9])"
                      r"(?![\d/]|\.\d|:\d|-\d)")
# day.month after a cue: "Review 29.11", "seen 3.12" (not a dose or a reading)
_DOTTED_DM_CUE = re.compile(r"(?i)\b(?:review|reviewed|seen|due|appt|appointment|recheck|"
                            r"follow-?up|f/u|tca|booked|planned|theatre|operated|debrided|"
                            r"admitted|discharged|referral|referred|letter|labs?|bloods|"
                            r"x-?ray|scan|mri|swab)[ \t:]+"
                            r"(?P<d>3[01]|[12]\d|0?[1-9])\.(?P<m>1[0-2]|0?[1-9])"
                            r"(?!\d|\.\d|[ \t]*(?:mg|mcg|g|ml|kg|mmol|units?|%|cm|mm|h|hrs?|l)\b)")
# a log line that starts with day.month: "10.06  R. Lund. Ulcer 3.8 x 2.9 cm"
_LOG_DM = re.compile(r"^[ \t]*(?P<d>3[01]|[12]\d|0?[1-9])\.(?P<m>1[0-2]|0[1-9])(?=[ \t]{2,}|\t)",
                     re.M)
# a Chinese examination's date in brackets: "颈部增强CT（4.17，影像号…）", "X线（5-10）"
_ZH_EXAM_MD = re.compile(r"(?:CT|MRI|MR|X线|X光|DR|B超|彩超|超声|胃镜|肠镜|心电图|造影|检查|"
                         r"复查|片)[ \t]?"
                         r"[（(](?P<m>1[0-2]|[1-9])[.\-/](?P<d>3[01]|[12]\d|[1-9])(?=[，,）)；; ])")
# a table row that starts with a Chinese month.day: "6.21　　　0°　…"
_ZH_LOG_MD = re.compile(r"^[ \t]*(?P<m>1[0-2]|[1-9])\.(?P<d>3[01]|[12]\d|[1-9])"
                        r"(?=[ \t\u3000]{2,}|\t)", re.M)
# Chinese month.day before an event: "11.2入院", "3.15手术"
_ZH_MD_EVENT = re.compile(r"(?<![\d.])(?P<m>1[0-2]|[1-9])\.(?P<d>3[01]|[12]\d|[1-9])"
                          r"(?=入院|出院|手术|术后|复查|就诊|起|开始|转入|转出|返院|住院)")
# month.day right after "this time", "last time" (a period, a visit): "这次是11.2 上次10.4"
_ZH_MD_AFTER_TIME = re.compile(r"(?:这次是?|上次是?|末次(?:月经)?是?|下次是?|上回是?|这回是?|"
                               r"(?:上|下|本|这)?(?:周|星期|礼拜)[一二三四五六日天])[ \t]?"
                               r"(?P<m>1[0-2]|[1-9])\.(?P<d>3[01]|[12]\d|[1-9])"
                               r"(?![\d.]|[ \t]*(?:[A-Za-z%℃°]|次|分|岁|元|斤|公斤|厘米|毫米))")
# a lab test, a dose or a measurement named just before: the number is a value
_LAB_BEFORE = re.compile(r"[A-Z][A-Za-z0-9]{1,5}|血|糖|剂量|体重|体温|评分|用量|浓度|压|率|值|指数")
# a comma and "上次" with another decimal: a series of values
_ANOTHER_DECIMAL = re.compile(r"[ \t]*[，,、][ \t]*(?:上次|这次|上回)是?[ \t]?\d+\.\d")
# a stay written as a range of month.day in brackets: "住院11天（6.21—7.2）"
_ZH_MD_RANGE = re.compile(r"(?<=[（(])(?P<m>1[0-2]|[1-9])\.(?P<d>3[01]|[12]\d|[1-9])[—–~～至-]{1,2}"
                          r"(?P<m2>1[0-2]|[1-9])\.(?P<d2>3[01]|[12]\d|[1-9])(?=[）)])")
_ZH_MD_AT = re.compile(r"(?P<m>1[0-2]|[1-9])\.(?P<d>3[01]|[12]\d|[1-9])")
_DM_AT = re.compile(r"(?P<d>3[01]|[12]\d|0?[1-9])/(?P<m>1[0-2]|0?[1-9])")
# a chat's date header, month.day alone on its line with a weekday ("3.5 周二"), between
# dashes ("—— 10.9 ——"), or before a chat line ("3.6" then "豆豆妈：..." or "阿珍 09:12");
# not a reading alone on its line under its label ("血钾\n3.6")
_ZH_MD_LINE = re.compile(r"^[ \t—–-]*(?P<date>(?:1[0-2]|[1-9])\.(?:3[01]|[12]\d|[1-9]))"
                         r"(?=[ \t]*(?:周|週|星期)[一二三四五六日天][ \t—–-]*$|[ \t]*[—–-]+[ \t]*$|"
                         r"[ \t]*\n[^\n：:\d]{1,12}[：:]|"
                         r"[ \t]*\n[^\n\d]{1,12}[ \t]+(?:[01]?\d|2[0-3]):[0-5]\d)", re.M)
# the forms that need no blank line before them: a weekday or dashes on the line
_ZH_MD_LINE_STRONG = re.compile(r"[ \t]*(?:周|週|星期)[一二三四五六日天][ \t—–-]*$|"
                                r"[ \t]*[—–-]+[ \t]*$", re.M)
_ZH_STAY_CUE = re.compile(r"(?:住院|入院|出院|日期|期间|天|休假|病假)[^\n]{0,8}$")
_SCORE_OUT_OF_TEN = re.compile(r"(?<!\d)(?:10|\d)/10\b[^\n]{0,30}$")


# a scale or test named just before its score: "IADL 2/8", "画钟试验 2/4", "GDS: 3/15"
_SCALE_BEFORE = re.compile(r"(?i)(?:\b(?:i?adl|gds|phq-?\d*|gad-?\d*|mmse|moca|nihss|ecog|kps|"
                           r"mrc|amt|4at|cam|audit|epds|braden|waterlow|morse|must|news2?|"
                           r"qsofa|curb-?65|chads2?|has-?bled|epworth|ess|scat\d?|m?bess|sac|"
                           r"errors?|recall|symptoms?(?:\s+(?:number|count|score))?|severity|"
                           r"nodes?|lymph\s+nodes?|cores?|positive|inattention|inattentive|"
                           r"hyperactivity|hyperactive|impulsivity|baseline|subscale|items?|"
                           r"domains?|criteria|vanderbilt|snap-?iv|conners)|试验|測試|测试|量表|指数|指數|"
                           r"评分|評分|淋巴结|阳性)"
                           r"[\s:：=]*$")
# a scale then "now" or "was" before its score: "Epworth now 5/24"
_SCALE_THEN_WORD = re.compile(r"(?i)\b(?:epworth|ess|mmse|moca|ace-?(?:iii|3)?|phq-?9|gad-?7|"
                              r"edinburgh|epds|audit)[ \t:]+(?:now|was|today|down\s+to|up\s+to)"
                              r"[ \t:]*$")
# a booking before "for": "Surgery scheduled for 6/7", "Appointment made for 3/7"
_BOOKED_BEFORE = re.compile(r"(?i)\b(?:scheduled|booked|planned|appointment|appt|made|set|"
                            r"arranged|listed|due|surgery|review|clinic)\b[^\n]{0,20}\bfor[ \t]*$")
# "x 4/7", "for 3/52": a duration in British shorthand
_DURATION_BEFORE = re.compile(r"(?i)(?:\bx|\bfor|×|\bin|\bover|\bpast|\blast|\bwithin|\bafter|"
                              r"\baged?)[ \t]*$")
# a row of scores: an abbreviation or a word, a score, two spaces, the next: "TJC 12/28  SJC 8/28",
# "Attention 14/18  Memory 11/26"
_SCORE_ROW = re.compile(r"(?:(?:^|[ \t]{2,}|\n)[ \t]*[A-Za-z][A-Za-z-]{1,14}|,[ \t]*[A-Z]{2,6})"
                        r"[ \t]*:?[ \t]*$")
_SCORE_ROW_AFTER = re.compile(r"(?:[ \t]{2,}[A-Za-z][A-Za-z -]{1,20}|,[ \t]*[A-Z]{2,6}(?:-\d)?)"
                              r"[ \t]*:?[ \t]*\d{1,3}/\d{1,3}")
_SCORE_ROW_BEFORE = re.compile(r"\d/\d{1,3}(?:[ \t]{2,}[A-Za-z][A-Za-z-]{1,14}|,[ \t]*[A-Z]{2,6})"
                               r"[ \t]*:?[ \t]*$")
# pain or relief scored out of ten earlier in the phrase: "relief to 3/10", "疼痛评分 4/10"
_PAIN_BEFORE = re.compile(r"(?i)(?:pain|relief|sore|ache|severity|vas|nrs|疼痛|痛)[^\n]{0,30}$")
# a Snellen visual acuity (6/9, 6/18, 3/24): after an acuity word, or beside an eye when
# no date cue comes first ("6/24 right", "右 6/18"; not "admitted 6/12 right after")
_ACUITY_WORD = re.compile(r"(?i)(?:acuity|\bva\b|vision|visual|snellen|视力|視力|矫正|矯正)")
_EYE_AFTER = re.compile(r"(?i)[ \t]*(?:right|left|r|l|od|os|ou|\(r\)|\(l\)|eye)\b")
_EYE_BEFORE = re.compile(r"(?i)(?:[右左]|\bo[dsu]|\br|\bl|right|left)[ \t:：]*$")
_STRONG_CUE = re.compile(r"(?i)\b(?:on|since|from|until|admitted|discharged|seen|dob|born|"
                         r"visit(?:ed)?|appt|appointment|scheduled|due|dated|date)[\s:.,]*$")
_SNELLEN = frozenset({(3, 6), (3, 9), (3, 12), (3, 18), (3, 24), (6, 5), (6, 6), (6, 9),
                      (6, 12), (6, 18), (6, 24)})


def _score_not_date(text: str, start: int, end: int, month: int, day: int) -> bool:
    """Whether a year-less ``month/day`` is a score or an acuity instead: after a scale's
    name ("IADL 2/8"), pain out of ten ("relief to 3/10"), or a Snellen fraction beside an
    eye or an acuity word ("6/24 right", "右 6/18"); one of a row of scores ("TJC 12/28
    SJC 8/28"); a duration in days or weeks ("discharge x 4/7", "pain 5/7")."""
    if _SCALE_BEFORE.search(text, max(0, start - 24), start) or \
            _SCALE_THEN_WORD.search(text, max(0, start - 24), start):
        return True
    before = text[max(0, start - 40):start]
    written = re.findall(r"\d+", text[start:end])
    num, den = (int(written[0]), int(written[-1])) if len(written) >= 2 else (0, 0)
    cue = _DURATION_BEFORE.search(text, max(0, start - 8), start)
    # "in 3/12" may be a date (12 March): "in" makes a duration only of weeks or of more
    # than twelve months
    word = cue.group(0).strip().lower() if cue is not None else ""
    if word == "in" and not (den == 52 or (den == 12 and num > 12)):
        cue = None
    if word == "for" and (den == 12 or _BOOKED_BEFORE.search(text, max(0, start - 40), start)):
        cue = None  # "scheduled for 6/7", "booked for 14/12": a date
    duration = (den in (7, 52) and num <= den) or (den == 12 and num <= 24)
    if duration and (cue is not None or (den == 7 and _PAIN_BEFORE.search(before))) \
            and not _STRONG_CUE.search(text, max(0, start - 24), start):
        return True  # British shorthand: 4/7 is four days, 3/52 three weeks
    if num <= den and _SCORE_ROW.search(text, max(0, start - 16), start) and \
            not _MD_CUE.search(text, max(0, start - 24), start) and (
            _SCORE_ROW_AFTER.match(text, end)
            or _SCORE_ROW_BEFORE.search(text, max(0, start - 30), start)):
        return True
    if day == 10 and _PAIN_BEFORE.search(text, max(0, start - 40), start) \
            and not _STRONG_CUE.search(text, max(0, start - 24), start):
        return True  # "relief to 3/10"; not "swelling + pain from 3/10"
    if (month, day) not in _SNELLEN:
        return False
    if _ACUITY_WORD.search(text, max(0, start - 40), start):
        return True
    before = text[max(0, start - 24):start]
    return (_EYE_AFTER.match(text, end) is not None or _EYE_BEFORE.search(before) is not None) \
        and not _STRONG_CUE.search(before)


def _bare_md_is_date(text: str, m: re.Match[str]) -> bool:
    month, day = int(m.group("m")), int(m.group("d"))
    before = text[max(0, m.start() - 24):m.start()]
    not_before = _MD_NOT_BEFORE.search(before)
    if not_before is not None and re.fullmatch(r"\d+[ \t]+", not_before.group(0)) and (
            _ZERO_PADDED.fullmatch(m.group(0)) or _TIME_BEFORE.search(before)
            or _WEEKDAY_AFTER.match(text, m.end())):
        not_before = None  # "(02) 6925 1184 02/06", "next due 1400 3/10": a number, a date
    if not_before or _MD_NOT_AFTER.match(text, m.end()):
        return False
    if _score_not_date(text, m.start(), m.end(), month, day):
        return False
    if m.group(0).endswith("/10") and int(m.group(0).split("/")[0]) <= 10 and \
            _SCORE_OUT_OF_TEN.search(
            text, max(0, m.start() - 40), m.start()):
        return False  # "pain 3/10 at rest and 6/10 on turning"
    if _MD_CUE.search(before) or _MD_TIME_AFTER.match(text, m.end()):
        return True
    if _ZH_EVENT_AFTER.match(text, m.end()) or _WEEKDAY_AFTER.match(text, m.end()) or \
            _TIME_BEFORE.search(before):
        return True  # "11/11（周一）", "3/5 (Wed)", "next due 1400 3/10" (after the vetoes)
    if _RANGE_FROM_DATE.search(before):
        return True  # "6/3至6/6": the end of a stay that starts on a date
    if _ZERO_PADDED.fullmatch(m.group(0)):
        return True  # "Labs 01/05:", "Esophagram 01/06": no score or fraction is written so
    return day not in (4, 5, 6, 10) and not (month < day <= 4)


def _with_weekday(text: str, date: DateMatch) -> DateMatch:
    """The date with a weekday written just before it taken into its span."""
    m = _WEEKDAY_BEFORE.search(text, max(0, date.start - 12), date.start)
    if m is None or m.end() != date.start:
        return date
    return DateMatch(m.start(), date.end, date.year, date.month, date.day, date._match,
                     date._day_first, text[m.start():date.start])

_WEEKDAY_BEFORE = fast_start(_WEEKDAY_BEFORE)
_BARE_MD, _BARE_DM = fast_start(_BARE_MD, "0-9"), fast_start(_BARE_DM, "0-9")


#: a tab or a column of spaces: no date's parts are written across one (a line break may
#: be a wrapped line: "on March\n14, 2021")
DATE_COLUMN_GAP = re.compile(r"\t| {3,}")
_YEAR_IN = re.compile(r"(?:19|20)\d\d")


def find_dates(text: str, lang: str, day_first: bool = False, with_time: bool = True
               ) -> list[DateMatch]:
    """Non-overlapping dates in ``text`` (longest first where two candidates overlap).

    ``day_first`` only changes how ``NN/NN/YYYY`` is read (see the module docstring), not
    which spans are found.  ``with_time=False``: a time of day written after a date stays
    outside its span (in free text: a time is not an identifier and is kept as written).
    """
    found: list[DateMatch] = []
    patterns = _ZH + _EN[:2] + _EN_MONTH_NAMED if lang == "zh" else _EN
    for pattern in patterns:
        for m in pattern.finditer(text):
            if lang == "zh" and pattern in _EN_MONTH_NAMED and m.group("mon").isupper() \
                    and not _YEAR_IN.search(m.group(0)):
                continue  # "OCT 12 次随访": the eye scan, not October
            gap = DATE_COLUMN_GAP.search(text, m.start(), m.end())
            if gap is not None:  # "12-Mar      8   131": a table's next column, no day
                m = pattern.match(text, m.start(), gap.start())  # type: ignore[assignment]
                if m is None:
                    continue
            parts = _parts(m, day_first)
            if parts is None:
                continue
            year, month, day, read_day_first = parts
            if m.groupdict().get("mon") is None and _SCORE_BEFORE.search(
                    text, max(0, m.start() - 12), m.start()):
                continue  # "Apgar 9-10-10", "评分 9-10-10分"
            if year is None and m.group(0).endswith("/10") and _SCORE_OUT_OF_TEN.search(
                    text, max(0, m.start() - 40), m.start()):
                continue  # "pain 3/10 at rest and 6/10 on turning"
            if (year is None and day is not None and m.groupdict().get("mon") is None
                    and "/" in m.group(0)
                    and _score_not_date(text, m.start(), m.end(), month, day)):
                continue  # "and 6/9 left" (an acuity), "relief to 3/10"
            span = m.span("date") if m.groupdict().get("date") is not None else m.span()
            if m.groupdict().get("time") and not with_time:
                span = (span[0], m.start("time"))
            found.append(_with_weekday(text, DateMatch(span[0], span[1], year, month, day, m,
                                                       read_day_first)))
    bare = [*_BARE_MD.finditer(text), *_BARE_DM.finditer(text)] if lang != "zh" else \
        [*_BARE_MD.finditer(text)]
    for m in [*_LOG_DM.finditer(text), *_ZH_MD_EVENT.finditer(text)]:
        parts = _parts(m)
        if parts is not None:
            found.append(DateMatch(m.start(), m.end(), None, parts[1], parts[2], m))
    for m in _DM_RANGE.finditer(text) if lang != "zh" else ():
        if (m.group("m") == m.group("m2") and m.group("m") in ("7", "07")) or \
                _MD_NOT_BEFORE.search(text, max(0, m.start() - 24), m.start()):
            continue  # "antibiotics 7/7-14/7": days of a course, not July
        if int(m.group("d")) > 12 or int(m.group("d2")) > 12:
            for at in (m.start("d"), m.start("d2")):
                part = _BARE_DM.match(text, at) or _DM_AT.match(text, at)
                if part is not None:
                    found.append(DateMatch(part.start(), part.end(), None, int(part.group("m")),
                                           int(part.group("d")), part))
    for m in [*_ZH_EXAM_MD.finditer(text), *_ZH_LOG_MD.finditer(text)] if lang == "zh" else ():
        found.append(DateMatch(m.start("m"), m.end("d"), None, int(m.group("m")),
                               int(m.group("d")), m))
    for m in _BARE_DM.finditer(text) if lang == "zh" else ():
        if _MD_TIME_AFTER.match(text, m.end()):  # "XR(16/2 02:35 …)": day/month then a time
            found.append(DateMatch(m.start(), m.end(), None, int(m.group("m")),
                                   int(m.group("d")), m))
    for m in _ZH_MD_AFTER_TIME.finditer(text) if lang == "zh" else ():
        if _LAB_BEFORE.search(text, max(0, m.start() - 6), m.start()) or \
                _ANOTHER_DECIMAL.match(text, m.end()):
            continue  # "糖化血红蛋白这次是7.2，上次是8.1", "华法林剂量：周一2.5"
        part = _ZH_MD_AT.match(text, m.start("m"))
        if part is not None:
            found.append(DateMatch(part.start(), part.end(), None, int(part.group("m")),
                                   int(part.group("d")), part))
    for m in _DOTTED_DM_CUE.finditer(text) if lang != "zh" else ():
        parts = _parts(m)
        if parts is not None:
            found.append(DateMatch(m.start("d"), m.end(), None, parts[1], parts[2], m))
    if lang == "zh":
        for line in _ZH_MD_LINE.finditer(text):
            part = _ZH_MD_AT.match(text, line.start("date"))
            before = text[:line.start()].rstrip(" \t")
            if part is not None and (_ZH_MD_LINE_STRONG.match(text, part.end())
                                     or not before or before.endswith("\n\n")):
                found.append(DateMatch(part.start(), part.end(), None, int(part.group("m")),
                                       int(part.group("d")), part))
        for m in _ZH_MD_RANGE.finditer(text):
            if _ZH_STAY_CUE.search(text, max(0, m.start() - 12), m.start() - 1):
                for at in (m.start("m"), m.start("m2")):  # each end of the stay
                    part = _ZH_MD_AT.match(text, at)
                    if part is not None:
                        found.append(DateMatch(part.start(), part.end(), None,
                                               int(part.group("m")), int(part.group("d")), part))
    for m in bare:
        if _bare_md_is_date(text, m):
            parts = _parts(m)
            if parts is not None:
                found.append(_with_weekday(text, DateMatch(m.start(), m.end(), None, parts[1],
                                                           parts[2], m)))
    # minutes are no day: "21:14  jan kowalczyk" (a chat line's time, then its speaker)
    found = [d for d in found if not (d.start >= 2 and text[d.start - 1] == ":"
                                      and text[d.start - 2].isdigit())]
    found.sort(key=lambda d: (-(d.end - d.start), d.start))
    kept: list[DateMatch] = []
    for cand in found:
        if all(cand.end <= k.start or cand.start >= k.end for k in kept):
            kept.append(cand)
    return sorted(kept, key=lambda d: d.start)


_COMPACT = re.compile(r"((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])")


@dataclass(frozen=True)
class _CompactDate:
    """A whole value ``YYYYMMDD`` (table columns, DICOM)."""

    date: dt.date

    def shifted(self, days: int) -> str:
        return (self.date + dt.timedelta(days=days)).strftime("%Y%m%d")

    def year_only(self, cutoff: int | None = None) -> str | None:
        return year_label(self.date.year, cutoff)


def _whole(value: str, lang: str, day_first: bool
           ) -> tuple[str, DateMatch | _CompactDate, str] | None:
    """``value`` as leading space, one whole date, trailing space; None if it is not one."""
    stripped = value.strip()
    if not stripped:
        return None
    lead = value[:len(value) - len(value.lstrip())]
    trail = value[len(value.rstrip()):]
    compact = _COMPACT.fullmatch(stripped)
    if compact:
        try:
            return lead, _CompactDate(dt.date(*(int(g) for g in compact.groups()))), trail
        except ValueError:
            return None
    for match in find_dates(stripped, lang, day_first):
        if match.start == 0 and match.end == len(stripped):
            return lead, match, trail
    return None


def shift_date_text(value: str, lang: str, days: int, day_first: bool = False) -> str | None:
    """``value`` (a whole date) shifted by ``days``; None when it is not a date we parse.

    Besides the formats of :func:`find_dates`, a whole value may be a compact
    ``YYYYMMDD`` (common in table columns and DICOM).  Surrounding spaces are kept.
    """
    whole = _whole(value, lang, day_first)
    if whole is None:
        return None
    lead, date, trail = whole
    return lead + date.shifted(days) + trail


def year_date_text(value: str, lang: str, cutoff: int | None = None,
                   day_first: bool = False) -> str | None:
    """Safe Harbor: ``value`` (a whole date) cut to its year (see :func:`year_label`).

    None when ``value`` is not a date we parse or has no year ("March 14", "3月5日").
    """
    whole = _whole(value, lang, day_first)
    if whole is None:
        return None
    lead, date, trail = whole
    year = date.year_only(cutoff)
    return None if year is None else lead + year + trail


# ---------------------------------------------------------------- dates that are not shifted

_EN_MONTH_WORD = (r"(?:January|February|March|April|May|June|July|August|September|October|"
                  r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec|"
                  r"january|february|april|june|july|august|september|october|november|"
                  r"december|jan|feb|apr|jun|jul|aug|sept|sep|oct|nov)(?:(?<=Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.|(?<=Sept)\.)?")
_WEEKDAY_ANY = (r"(?i:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|weds?|"
                r"thu(?:rs?)?|fri|sat|sun)")
#: Months of the Ethiopian, Hijri and Nepali calendars, and in Indonesian, Portuguese and
#: Spanish (written with a day or a year only: alone, several are words)
_OTHER_MONTHS = (r"(?:Meskerem|Tikimt|Tikemt|Hidar|Hedar|Tahsas|Tir|Yekatit|Megabit|Miyazya|"
                 r"Ginbot|Sene|Hamle|Nehase|Pagume|Muharram|Safar|Rabi['’]?\s+al-?(?:Awwal|Thani)|"
                 r"Jumada\s+al-?(?:Ula|Akhirah)|Rajab|Sha['’]?ban|Ramadan|Shawwal|"
                 r"Dhu\s?l-?Qa['’]?dah|Dhu\s?l-?Hijjah|Januari|Februari|Maret|Mei|Juni|Juli|"
                 r"Agustus|Oktober|Desember|janeiro|fevereiro|março|abril|maio|junho|julho|agosto|"
                 r"setembro|outubro|novembro|dezembro|enero|febrero|marzo|mayo|junio|julio|"
                 r"septiembre|octubre|noviembre|diciembre|Baisakh|Jestha|Asar|Shrawan|Bhadra|"
                 r"Ashwin|Kartik|Mangsir|Poush|Magh|Falgun|Chaitra)")
_ERA = r"(?:\s+(?:EC|E\.C\.|BS|B\.S\.|AH|A\.H\.))?"
_EN_VAGUE = [
    # "last March", "early Sept", "end of June", "in March", "since Feb", "March of last year"
    re.compile(r"(?<![A-Za-z])(?:(?P<cue>(?i:in|since|until|till|by|from|during|around|before|"
               r"after|through|thru)\s+)?)(?P<v>(?P<lead>(?i:last|next|this|early|mid|late|"
               r"(?:the\s+)?(?:end|beginning|start|middle)\s+of)[\s-]+)?"
               rf"{_EN_MONTH_WORD}(?![A-Za-z])(?:\s+(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?\b)?"
               r"(?P<tail>,?\s+(?:of\s+)?(?i:last|this|next)\s+year)?)"),
    # "tues the 9th", "thurs 11th", "Mon 4th": a weekday with a day of the month
    re.compile(rf"(?<![A-Za-z])(?P<v>{_WEEKDAY_ANY}\.?,?\s+(?:the\s+)?(?:3[01]|[12]\d|0?[1-9])"
               r"(?:st|nd|rd|th))\b"),
    # a weekday after a cue: "on Thursday", "recheck thurs", "next Tues", "since Monday"
    re.compile(r"(?<![A-Za-z])(?i:on|last|next|this|since|by|until|till|from|recheck|review|"
               r"due|booked\s+for|see\s+you|until|before|after|visit|appt)\s+"
               rf"(?P<v>{_WEEKDAY_ANY})\.?(?![A-Za-z])(?!\s+(?:morning|afternoon|evening|night)s\b)"),
    # a day of the month after a cue: "next INR 24th", "due the 3rd", "booked for 14th"
    re.compile(r"(?<![A-Za-z])(?i:next|due|recheck|review|booked\s+for|until|till)\b"
               r"[^.\n\d]{0,12}?(?<![A-Za-z])(?:the\s+)?(?P<v>(?:3[01]|[12]\d|0?[1-9])"
               r"(?:st|nd|rd|th))\b(?!\s+(?:day|week|month|year|dose|cycle|floor|time|attempt|"
               r"visit|percentile|centile|birthday|line|of\s+(?:the\s+)?(?:month|day)))"),
    # "at xmas", "over Xmas"
    re.compile(r"(?<![A-Za-z])(?i:since|after|before|over|at|on|around|until|till|by|during|"
               r"from|for|last|this|next)\s+(?P<v>(?i:x-?mas)(?:\s+(?:eve|day))?)(?![A-Za-z])"),
    # "on the 3rd", "Thursday the 6th", "since the 14th"
    re.compile(r"(?:\b(?:[Oo]n|[Ss]ince|[Bb]y|[Uu]ntil|[Bb]efore|[Aa]fter|[Ff]rom)\s+|(?=(?i:monday|"
               r"tuesday|wednesday|thursday|friday|saturday|sunday)\b))(?P<v>(?:(?i:monday|tuesday|"
               r"wednesday|thursday|friday|saturday|sunday),?\s+)?the\s+(?:3[01]|[12]\d|0?[1-9])"
               r"(?:st|nd|rd|th))\b(?!\s+(?:day|week|month|year|dose|cycle|floor|time|attempt|"
               r"visit|of\s+(?:the\s+)?(?:month|day)))"),
    # holidays as dates: "since Labor Day", "at Christmas", "over Thanksgiving 2023"
    re.compile(r"(?:\b(?i:since|after|before|over|at|on|around|until|till|by|during|from|"
               r"through|for)\s+|(?=(?i:last|this|next)\s))"
               r"(?P<v>(?:(?i:last|this|next)\s+)?(?:Labor|Memorial|Veterans|Independence|"
               r"Presidents|Columbus|Mother's|Father's|Valentine's|New\s+Year's|Boxing)\s+Day|"
               r"(?:(?i:last|this|next)\s+)?(?:Christmas(?:\s+Eve|\s+Day)?|Thanksgiving|Easter|"
               r"Halloween|Hanukkah|Passover|Ramadan|Diwali|Lunar\s+New\s+Year|New\s+Year's"
               r"(?:\s+Eve)?|Eid(?:\s+(?:al|ul)[- ](?:Fitr|Adha))?|Labou?r\s+Weekend|"
               r"Good\s+Friday|Easter\s+Monday|Rajab|Sha'?ban|Shawwal|Muharram|Dhul[- ]"
               r"(?:Hijjah|Qa'?dah)|Holi|Pongal|Onam|Songkran|Vesak|Deepavali|Hari\s+Raya"
               r"(?:\s+(?:Puasa|Haji|Aidilfitri))?)(?!\s+(?:disease|factor|tree|card))"
               r"(?:,?\s+(?:19|20)\d\d)?)"),
    # a holiday that names one day, written alone: "Last crisis Boxing Day", "died Christmas
    # Eve 2018", "lost 4kg since christmas"
    re.compile(r"(?<![A-Za-z])(?P<v>(?:(?:Boxing|Anzac|Australia|Canada|Bastille|Guy\s+Fawkes|"
               r"St\.?\s+Patrick's|Labor|Labour|Memorial|Veterans|Independence|Remembrance)\s+Day|"
               r"(?i:christmas|xmas|new\s+year's)\s+(?i:eve|day)|(?:Christmas|Thanksgiving|"
               r"Diwali|Hanukkah|Halloween|(?:(?<=since\s)|(?<=after\s)|(?<=until\s)|(?<=over\s)|(?<=before\s))(?i:christmas|"
               r"thanksgiving|diwali|hanukkah|halloween))(?!\s+(?i:disease|factor|tree|card|cactus|"
               r"rose|pudding|cake|lights?|dinner|lunch|party|gifts?|presents?|shopping|"
               r"holidays?|break|period|season)))(?:,?\s+(?:19|20)\d\d)?)(?![A-Za-z])"),
]
_ZH_MONTH = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九]|正|腊|冬)月"
_ZH_DAY = (r"(?:3[01]|[12]\d|0?[1-9]|三十[一]?|二?十[一二三四五六七八九]?|[一二三四五六七八九]|"
           r"初[一二三四五六七八九十])[日号]?")
_ZH_PART = (r"(?:份(?:初|中旬|上旬|下旬|底|末)?|初|中旬|上旬|下旬|底|末|"
            r"中(?=来|起|开始|时|左右|前后|[，,。 ]))")
_ZH_VAGUE = [
    # 去年3月, 今年三月初, 前年的5月12日
    re.compile(r"(?:去年|今年|前年|明年|后年|上年|本年|同年|当年|次年|翌年|大前年)(?:的)?"
               rf"{_ZH_MONTH}(?:{_ZH_PART}|{_ZH_DAY})?"),
    # 3月份, 三月初, 2024年3月底
    re.compile(r"(?<![\d〇零一二三四五六七八九十个第每孕近满半两数几余])"
               rf"(?:(?:19|20)\d\d\s*年\s*)?{_ZH_MONTH}{_ZH_PART}"),
    # 于3月, 自五月 (the month after a preposition of time)
    re.compile(rf"(?<=[于在自从至到])(?:{_ZH_MONTH})(?![\d余龄个内])"),
    # 春节前, 去年国庆, 中秋节
    re.compile(r"(?:(?:去年|今年|前年|明年|上个|(?:19|20)\d\d年)(?:的)?(?:春节|元旦|国庆节?|中秋节?|"
               r"端午节?|清明节?|元宵节?|除夕|重阳节?|七夕|劳动节|五一|十一)|(?:春节|元旦|国庆节?|"
               r"中秋节?|端午节?|清明节?|元宵节?|除夕|重阳节?|劳动节|冬至)(?=前后|前|后|时|当天|那天|左右|"
               r"回家|回来|走的|去世|过世|那几天))"),
    # 下个月端午: a holiday of the month before or after
    re.compile(r"(?<![\d一二三四五六七八九十几每两])(?:上上个|上个|下个|這個|上個|下個)月"
               r"(?:的)?(?:春节|元旦|国庆节?|中秋节?|端午节?|清明节?|元宵节?|重阳节?|國慶節?|"
               r"中秋節?|端午節?|清明節?)"),
    # 约周四上午, 改到周五: a weekday after a word that makes it an appointment
    re.compile(r"(?<=约|定|改|挂|到|在|等)(?:周|星期|礼拜|週)[一二三四五六日天]"
               r"(?![一二三四五六日天、]|周|星期|礼拜)"),
    # 清明假期, 国庆小长假: a holiday's days off
    re.compile(r"(?:春节|元旦|国庆|中秋|端午|清明|元宵|重阳|劳动节|五一|十一)节?"
               r"(?:假期|小长假|长假|放假期间|假)(?![\u4e00-\u9fff]{0,1}(?:制度|政策))"),
    # 周五才坐诊, 周一早上空腹: a weekday of this or next week (not 每周一, a schedule)
    re.compile(r"(?<![每隔逢双单、和或至到])(?<!每个)(?:周|星期|礼拜)[一二三四五六日天]"
               r"(?![一二三四五六日天、]|周|星期|礼拜)"
               r"(?=早上|晚上|才|再|来|去|到|复诊|复查|手术|入院|出院|从|空腹|返|回|开始)"),
    # 前年冬至, 去年中秋: a festival of a named year
    re.compile(r"(?:去年|今年|前年|明年|大前年)(?:的)?(?:冬至|夏至|立春|立秋|七夕|小年|腊八)"),
    # the Minguo calendar with slashes, in a table: "112/09/04"
    re.compile(r"(?<![\d/.])(?:1[01]\d|[89]\d)/(?:0[1-9]|1[0-2])/(?:0[1-9]|[12]\d|3[01])(?![\d/])"),
    # the Minguo (Republic of China) calendar: 民国113年5月3日, 113年5月3日
    re.compile(r"(?:(?:中华|中華)?(?:民国|民國))?(?<!\d)(?:1[0-2]\d|[89]\d)年(?:1[0-2]|0?[1-9])月"
               r"(?:3[01]|[12]\d|0?[1-9])[日号]"),
    # 农历三月初八, 阴历腊月廿三
    re.compile(r"(?:(?:19|20)\d\d年)?(?:农历|阴历|旧历)(?:(?:19|20)\d\d年|[〇零一二三四五六七八九]{2,4}年)?"
               r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九]|正|腊|冬)月"
               r"(?:初[一二三四五六七八九十]|十[一二三四五六七八九]?|二十[一二三四五六七八九]?|"
               r"廿[一二三四五六七八九]?|三十|\d{1,2}[日号]?)?"),
    # 19号, 11号 as a day of the month, in context: 周三（19号）, 吃到22号, 11号复诊
    re.compile(r"(?:(?<=[到至于（(])|(?<=周[一二三四五六日天])|(?<=礼拜[一二三四五六日天])|"
               r"(?<=星期[一二三四五六日天]))"
               r"(?:3[01]|[12]\d|0?[1-9])[号日](?![楼床室院线门位栋单元房机窗诊柜厅口车道街路巷弄内內以])"),
    re.compile(r"(?<![\d第])(?:3[01]|[12]\d|0?[1-9])号(?=复诊|复查|手术|入院|出院|来院|来|去|前|后|"
               r"之前|以后|左右|上午|下午|晚上|早上|中午|当天|那天|再来|随访|拆线|换药|请假|过来|"
               r"回来|回家|过生日|生日|开学|放假)"),
    # a day with a time or a part of the day after it: "21日18:00前后", "6日凌晨", "9號晚"
    re.compile(r"(?<![\d第月/.-])(?:3[01]|[12]\d|0?[1-9])[日号號]"
               r"(?=[ \t]?(?:[01]?\d|2[0-3])[:：][0-5]\d|"
               r"凌晨|上午|下午|晚上|早上|中午|傍晚|夜间|晚(?![期餐饭])|夜(?!班))"),
    # the same in Chinese numerals: 十五号请假, 二十三号复查
    re.compile(r"(?<![\d〇零一二三四五六七八九十第])(?:三十一?|二十[一二三四五六七八九]?|"
               r"十[一二三四五六七八九]?|[一二三四五六七八九])号(?=复诊|复查|手术|入院|出院|来院|"
               r"来|去|前|后|之前|以后|左右|上午|下午|晚上|早上|中午|当天|那天|再来|随访|拆线|换药|"
               r"请假|过来|回来|回家|过生日|生日|开学|放假)"),
    # a lunar day without 农历: 腊月初八, 正月十五, 冬月廿三; 廿 for twenty: 五月廿日
    re.compile(r"(?:(?:(?:19|20)\d\d|[〇零一二三四五六七八九]{4})\s*年\s*)?(?:正|腊|冬)月"
               r"(?:初[一二三四五六七八九十]|十[一二三四五六七八九]?|二十[一二三四五六七八九]?|"
               r"廿[一二三四五六七八九]?|三十)(?![\d个天])"),
    re.compile(r"(?:(?:(?:19|20)\d\d|[〇零一二三四五六七八九]{4})\s*年\s*)?"
               r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])月廿[一二三四五六七八九]?[日号]?"),
    # the weekday in brackets after a date: 8月19日（周一）
    re.compile(r"(?<=[日号])[（(](?:周|星期|礼拜)[一二三四五六日天][）)]"),
    # 下周一, 上个星期五, 这礼拜三 (a weekday of a named week)
    re.compile(r"(?:上上|下下|上|下|本|这|這)(?:个|個)?(?:周|週|星期|礼拜|禮拜)[一二三四五六日天]"
               r"(?:(?:3[01]|[12]\d|0?[1-9])[号日])?"),
    # 本月15号, 上个月3日
    re.compile(r"(?:本月|上月|上个月|下月|下个月|这个月|当月|次月|同月)(?:的)?"
               r"(?:3[01]|[12]\d|0?[1-9]|三十[一]?|二?十[一二三四五六七八九]?|[一二三四五六七八九])[日号]"),
]

_EN_VAGUE = [fast_start(p) for p in _EN_VAGUE]  # each starts with a letter
_EN_VAGUE += [
    # a Japanese era date: "R6.11.14" (Reiwa 6), "H30.4.1" (Heisei 30)
    re.compile(r"(?<![A-Za-z0-9.])(?P<v>[RHS]\d{1,2}\.(?:1[0-2]|0?[1-9])\.(?:3[01]|[12]\d|0?[1-9]))"
               r"(?![\d.]\d|\d)"),
    # months of other calendars and languages with a day or a year: "Tir 12", "22 Hamle",
    # "7 Rajab 1413", "1 Juni", "9 de outubro", "Tir 2016 EC"
    re.compile(rf"(?<![A-Za-z])(?P<v>(?:3[01]|[12]\d|0?[1-9])(?:\s+de)?\s+{_OTHER_MONTHS}"
               rf"(?:(?:\s+de)?\s+\d{{4}})?{_ERA}|{_OTHER_MONTHS}\s+\d{{1,4}}{_ERA})"
               r"(?![A-Za-z\d])"),
    # a range of two months or of two days before a month: "Jan-Feb", "18/19 May"
    re.compile(rf"(?<![A-Za-z])(?P<v>{_EN_MONTH_WORD}[-–/]{_EN_MONTH_WORD})(?![A-Za-z])"),
    re.compile(r"(?<![\d/.])(?P<v>(?:3[01]|[12]\d|0?[1-9])[/–-](?=(?:3[01]|[12]\d|0?[1-9])\s+"
               r"(?:January|February|March|April|May|June|July|August|September|October|"
               r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b))"),
]


#: A month alone that is no word, name or abbreviation of anything else in a note: taken
#: without a cue ("DEXA Feb: T-score -3.1"); not May, March, June, July, August, April or
#: Jan (words and given names) nor "Jun" (a given name)
_BARE_MONTH = re.compile(r"(?:Feb|Apr|Jul|Aug|Sept?|Oct|Nov|Dec)\.?|January|February|September|"
                         r"October|November|December")


def find_vague_dates(text: str, lang: str) -> list[tuple[int, int]]:
    """Date elements that cannot be shifted: a month alone after a cue, relative months
    ("last March", "去年3月", "3月底"), "on the 3rd", "本月15号".  They are replaced as
    ``[DATE]`` in every date mode."""
    out = []
    for pattern in [*_ZH_VAGUE, *_EN_VAGUE] if lang == "zh" else _EN_VAGUE:
        for m in pattern.finditer(text):
            groups = m.groupdict()
            if "lead" in groups and not (groups["lead"] or groups["cue"] or groups["tail"]) \
                    and not _BARE_MONTH.fullmatch(m.group("v")):
                continue  # a month name with no cue: "May" the verb, "Jan" the name
            out.append(m.span("v") if "v" in groups else m.span())
    return out


_NUMERIC_DATE = re.compile(r"(?<!\d)(?<!\d[/.-])(?P<a>\d{1,2})(?P<s>[/.-])(?P<b>\d{1,2})(?P=s)"
                           r"(?:19|20)?\d\d(?!\d|[/.-]\d)")


def date_order_doubt(text: str, day_first: bool) -> bool:
    """Whether ``text`` writes its ``NN/NN/YYYY`` dates in the other order than the one
    they are read in: read month first, some date has a first number over 12 (``23/07/1948``)
    and none a second number over 12; or read day first, the reverse.  Ambiguous dates of
    such a text (``02/01/2024``) are then shifted in the wrong order and intervals break
    (a week becomes seven months)."""
    first_big = second_big = False
    for m in _NUMERIC_DATE.finditer(text):
        a, b = int(m.group("a")), int(m.group("b"))
        first_big |= 12 < a <= 31 and 1 <= b <= 12
        second_big |= 12 < b <= 31 and 1 <= a <= 12
    return (first_big and not second_big) if not day_first else (second_big and not first_big)
