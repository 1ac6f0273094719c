"""Ages over 89 (English and Chinese, digits and words)."""

from __future__ import annotations

import re

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser

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
                r"[A-Z][A-Za-z'’-]+|\b(?i:wife|husband|mother|father|mum|mom|dad|sister|brother|"
                r"aunt|aunty|uncle|grandmother|grandfather|grandma|grandpa|nan|nana|nanna|"
                r"nanny|gran|granny|grandad|granddad|nonna|nonno|oma|opa|partner|spouse|"
                r"friend|neighbou?r)\s+[A-Z][a-z'’-]+)")
# words that make "<Capitalised> <Capitalised> (93)" a heading or a place, not a name
_NOT_NAME_WORDS = frozenset({
    "day", "days", "hospital", "room", "bed", "unit", "ward", "floor", "section", "table",
    "figure", "fig", "grade", "level", "score", "scale", "stage", "page", "lot", "trial",
    "study", "week", "weeks", "month", "months", "year", "years", "visit", "dose", "test",
    "lab", "labs", "item", "note", "notes", "appendix", "chapter", "part", "step", "phase",
    "cycle", "class", "type", "group", "total", "count", "code",
    "t", "temp", "temperature", "tmax", "fever", "febrile", "pyrexia", "pyrexial", "spiked",
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
    # a relative's age in a contact list: "Gurdev Singh Gill, father, 91  HIGH"
    re.compile(r"(?i)\b(?:father|mother|grandmother|grandfather|grandma|grandpa|husband|wife|"
               r"aunt|uncle|spouse|partner|neighbour|neighbor),[ \t]*(?P<n>\d{2,3})"
               r"(?=[ \t]*(?:[,;]|[ \t]{2}|$))", re.M),
    # "patient is 93.", "she turned 93 last week", "93rd birthday"
    re.compile(rf"(?i)\b(?:(?:patient|pt|he|she)\s+is|turned)\s+{_AGE_N}"
               rf"(?=\s*(?:[,;]|\.(?!\d)|$|\s(?:last|this|in|on|yesterday|today)\b))"),
    re.compile(rf"(?i){_AGE_N}(?:st|nd|rd|th)?\s+birthday\b"),
    # "for her 95th in June": an ordinal over 89 that is someone's (birthday)
    re.compile(r"(?i)\b(?:her|his|their|mum's|mom's|dad's|nan's)\s+"
               r"(?P<n>\d{2,3}(?:st|nd|rd|th))\b(?!\s+birthday)"),
    # "she is ninety-four", "turns one hundred": an age in words after a verb
    re.compile(rf"(?i)\b(?:is|was|turns|turned|turning|aged?|reached)\s+(?P<n>{_AGE_WORDS})"
               r"(?!\s*(?:percent|%|mg|kg|beats|bpm|minutes|mins|seconds|times|units))"),
    # "HARGREAVES, Leonard 91M", "Bed 3 - Ivy Moss 94F": age and sex glued after a name
    re.compile(r"(?<![A-Za-z])(?P<who>[A-Z][A-Za-z'’-]+)[ \t]+(?P<n>\d{2,3})(?:M|F)"
               r"(?![A-Za-z0-9])"),
    # "Ivy, 93, who", "his wife, 95, lives": an age between commas before a verb
    re.compile(r"(?<=[A-Za-z]),\s*(?P<n>\d{2,3})\s*(?=,\s*(?:who|is|was|and|lives|has|had|"
               r"still|now|remains)\b)"),
    # "died at 93", "passed away aged 96", "death at age 101"
    re.compile(rf"(?i)\b(?:died|passed\s+away|passed|death|deceased|dead)\s+(?:at|aged?)\s+"
               rf"(?:(?:the\s+)?age\s+(?:of\s+)?)?{_AGE_N}"),
    # "91 YOM", "93 yof", "92 YO M"
    re.compile(r"(?<![\d.])(?P<n>\d{2,3})\s?(?:YOM|YOF|yom|yof|YO\s?[MF]|yo\s?[mf])\b"),
    # "Age: ninety-four (94)": the age in digits in brackets after the age in words
    re.compile(rf"(?i){_AGE_WORDS}\s*\((?P<n>\d{{2,3}})\)"),
    # "her mother (ninety-six, in a care home)", "(94, widowed)": an age opening a bracket
    re.compile(rf"(?:\b(?i:mother|father|mum|mom|dad|grandmother|grandfather|grandma|"
               rf"grandpa|nan|nana|nanny|gran|granny|nani|dadi|lola|lolo|bibi|abuela|abuelo|gogo|"
               rf"ouma|oupa|babu|ambuya|sekuru|"
               rf"aunt|uncle|wife|husband|spouse|partner|sister|brother)|"
               rf"{_NAME_BEFORE})\s*\((?P<n>(?i:{_AGE_WORDS})|\d{{2,3}})\s*[,;)]"),
    # "a man of ninety-one", "im ninety four", "m. fourie f, ninety-two,": an age in words
    # after "a man/woman of", "I'm", or set off by commas (words over 89 carry no unit)
    re.compile(rf"(?i)\b(?:(?:man|woman|lady|gentleman|gent|patient|person|widow|widower)"
               rf"\s+of|i['’]?m|i\s+am|he['’]s|she['’]s)\s+(?P<n>{_AGE_WORDS})"),
    re.compile(rf"(?i)(?<=,)\s*(?P<n>{_AGE_WORDS})(?=\s*[,;)(]|\.(?!\d)|[ \t]*(?:\n|$))"),
    # "dob 14.08.30 (94)", "DOB 02/03/1931 (93)": the age in brackets after a birth date
    re.compile(r"(?i)\b(?:dob|d\.o\.b\.?|born|date\s+of\s+birth)[\s:]*[\d./-]{6,10}\s*"
               r"\((?P<n>\d{2,3})(?:\s*(?:y|yo|yrs?|years?))?\)"),
    # "She is 93 but says", "gran was 96 when": a person's age after "is/was" (not a
    # reading: no unit, no "on room air" after it)
    re.compile(r"(?i)\b(?:she|he|pt|patient|mum|mom|mother|dad|father|gran|granny|nan|nana|"
               r"grandma|grandpa|grandad|husband|wife|aunt|uncle)\s+(?:is|was|turns|'s|’s)"
               r"\s+(?:now\s+|nearly\s+|almost\s+)?(?P<n>\d{2,3})(?![\d/%-]|[.,]\d|\s*(?:%|percent|"
               r"mmhg|bpm|kg|lbs?|cm|mg|units?|on\s+(?:room\s+air|ra|air|o2|oxygen)|breaths|"
               r"beats|/)|[a-z])"),
    # "Rokeya Begum, who is 90, first", "ba noi is 94 and": a relative or a named person
    # "is NN" (a reading named before it vetoes: "Chloride is 98")
    re.compile(r"(?P<subj>\b(?:who|[A-Z][a-z]+|(?i:ba\s+noi|ba\s+ngoai|ong\s+noi|nani|dadi|"
               r"nanima|lola|lolo|abuela|abuelo|oma|opa|nonna|nonno|bubbe|zayde|baba|bibi|"
               r"ouma|oupa|grandma|grandpa|granny|gran|nan|nana)))\s+(?:is|was)\s+(?:now\s+)?"
               r"(?P<n>\d{2,3})(?![\d/%-]|[.,]\d|\s*(?:%|percent|mmhg|bpm|kg|lbs?|cm|mg|mmol|"
               r"units?|on\b|breaths|beats|/|[a-z]{2,}\s+(?:per|/)))"),
    # "shes 94 lol", "he's 91 and", "who you told us is 91", "said to be about 95"
    re.compile(r"(?i)\b(?P<subj>she'?s|he'?s|shes|hes|who\b[^.\n]{0,20}?\bis|(?:said\s+to\s+be|"
               r"aged?)\s+(?:about|around|nearly|almost|over))\s+(?P<n>\d{2,3})(?![\d/%-]|[.,]\d|\s*(?:%|"
               r"percent|mmhg|bpm|kg|lbs?|cm|mg|units?|on\b|breaths|beats|/|[a-z]{2,}\s+(?:per|/)))"),
    # "ninety-something", "ninety odd", "ninety-plus": an age over 89 said loosely
    re.compile(r"(?i)\bninety[- ](?:something|odd|plus|ish)\b"),
    # "I got to 92", "made it to 95", "lived to 101"
    re.compile(r"(?i)\b(?:got|made\s+it|lived|living|live)\s+to\s+(?P<n>\d{2,3})"
               r"(?![\d/%-]|[.,]\d|\s*(?:%|percent|kg|mg|units?))"),
    # "gran still going strong at 96", "still mowing lawns at 92": an age after "still"
    re.compile(r"(?i)\bstill\b(?P<mid>[^.\n;]{0,30}?)\bat\s+(?P<n>\d{2,3})(?![\d/%-]|[.,]\d|\s*(?:%|"
               r"percent|mmhg|bpm|kg|lbs?|cm|mg|units?|on\b|breaths|beats|/|[a-z]))"),
    # "DOB: 19.06.1933 - yes, 91, sharp": a bare number after a birth date on its line
    re.compile(r"(?i)\b(?:dob|d\.o\.b\.?|born|date\s+of\s+birth)\b[^\n]{0,40}?(?<![\d./:-])"
               r"(?P<n>\d{2,3})(?![\d./:-]|\s*(?:%|kg|cm|mg|units?)\b)"),
    # "WOJCIK, Stanislaw, 94 M, MRN ...", "Smith J, 91F": age and sex set off by commas
    re.compile(r"(?<=,)\s*(?P<n>\d{2,3})\s?(?:M|F|m|f|male|female)\b(?=\s*[,;)\n]|\s*$)"),
]
_CN_AGE_NUM = (r"九十[一二三四五六七八九]?|一百(?:零[一二三四五六七八九]|一十[一二三四五六七八九]?|"
               r"[一二]十[一二三四五六七八九]?)?")
_ZH_AGE = [
    re.compile(r"(?<![\d.])(?P<n>\d{2,3})\s*(?:周岁|岁|週歲|周歲|歲)"),
    re.compile(r"(?:年龄|年齡)[:：\s]*(?P<n>\d{2,3})(?![\d.])"),
    re.compile(rf"(?P<n>{_CN_AGE_NUM})\s*(?:周岁|岁|週歲|周歲|歲)"),
    # "老太太九十三了", "年过九十", "今年九十二": an age in numerals without 岁
    re.compile(rf"(?P<n>{_CN_AGE_NUM})(?=了|高龄|多了|有余|的人|的老人|咁大|咁老|高寿|高壽|岁数|歲數)"),
    # "年近百岁", "快百岁了": nearly a hundred
    re.compile(r"(?:年近|将近|接近|快|近)百岁"),
    # "外婆都91了", "奶奶今年93了": an age in digits before 了
    re.compile(r"(?:外婆|外公|奶奶|爷爷|姥姥|姥爷|老人|老太太|老爷子|母亲|父亲|老伴|她|他)"
               r"(?:都|今年|已经|已)[ \t]?(?P<n>(?:9\d|1[01]\d))(?=了|岁了)"),
    re.compile(rf"(?:年过|年逾|今年|已经|已|享年|活到|才|都|有)(?P<n>{_CN_AGE_NUM})"
               rf"(?![万千百十零一二三四五六七八九元块次天个分斤公米度点])"),
]


#: A reading named before "still ... at NN": the number is the reading, not an age
_READING = re.compile(r"(?i)\b(?:sats?|spo2|sao2|o2|oxygen|saturation|hr|pulse|heart\s+rate|bp|"
                      r"rr|resp|temp|temperature|glucose|sugar|bm|bgl|weight|wt|height|score|"
                      r"level|rate|count|ldl|hdl|hba1c|egfr|creat|creatinine|dose|chloride|cl|"
                      r"sodium|na|potassium|bicarb|hco3|urea|bun|alt|ast|alp|ggt|crp|esr|"
                      r"ferritin|b12|folate|tsh|inr|platelets?|plt|wbc|hb|hgb|mcv|albumin|"
                      r"protein|fev1|fvc|pefr|peak\s+flow|bmi|iq|volume|ef|lvef|qtc|pr|qrs|"
                      r"mmse|moca|vision|acuity|hearing|iop|percentile|centile)\b")


def age_value(value: str) -> int | None:
    """An age written in digits, English words or Chinese numerals, as a number."""
    value = re.sub(r"(?<=\d)(?:st|nd|rd|th)$", "", value.strip().lower())
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


@recogniser("age-over-89", with_lang=True)
def _ages(text: str, lang: str) -> list[_Cand]:
    out = []
    for pattern in (_ZH_AGE + _EN_AGE[:3]) if lang == "zh" else _EN_AGE:
        for m in pattern.finditer(text):
            if "n" not in pattern.groupindex:  # an age over 89 in its wording alone
                out.append((m.start(), m.end(), "AGE", _PRIORITY["AGE"]))
                continue
            if "who" in pattern.groupindex and any(
                    w.lower() in _NOT_NAME_WORDS for w in (m.group("who") or "").split()):
                continue
            if ("mid" in pattern.groupindex or "subj" in pattern.groupindex) and _READING.search(
                    text, max(0, m.start() - 30), m.start("n")):
                continue  # "sats still at 92", "HR still at 95"
            age = age_value(m.group("n"))
            if age is not None and 89 < age <= 125:
                out.append((m.start("n"), m.end("n"), "AGE", _PRIORITY["AGE"]))
    return out


