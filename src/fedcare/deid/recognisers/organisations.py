"""Employers and schools (quasi-identifiers: "works at Boeing", "在华为上班", "就读于实验小学").

Tagged ``ORG``.  Not one of HIPAA's 18 identifiers, but a workplace or school named with a
diagnosis often identifies a person (GB/T 37964 lists them as quasi-identifiers); they
are removed by default and kept with ``keep=("ORG",)`` (CLI ``--keep-org``).  Generic
places ("在工地上班", "works at a factory") are not names of an organisation and stay.
"""

from __future__ import annotations

import re

from fedcare.deid import _lexicon as L
from fedcare.deid import _names as N
from fedcare.deid._common import fast_start

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser

_EN_CUE = re.compile(
    r"(?<![A-Za-z])(?i:works?\s+(?:at|for)|working\s+(?:at|for)|worked\s+(?:at|for)|"
    r"employed\s+(?:at|by)|employee\s+(?:of|at)|retired\s+from|(?:a\s+)?job\s+at|"
    r"position\s+at|(?:teacher|teaches|nurse|engineer|manager|cashier|driver|clerk|intern|"
    r"technician|accountant|secretary|janitor|mechanic|cook|chef|assistant|worker|"
    r"professor|lecturer|student|studies|studying|enrolled|graduated|senior|junior|"
    r"freshman|sophomore|grade\s+\d+|\d+(?:st|nd|rd|th)\s+grade(?:r)?)\s+(?:at|from|in)|"
    r"attends|employer\s*[:\-]|workplace\s*[:\-]|school\s*[:\-]|company\s*[:\-]|"
    r"place\s+of\s+(?:work|employment)\s*[:\-])\s*(?:the\s+)?")
_EN_CUE = fast_start(_EN_CUE)
_ORG_WORD = r"(?:[A-Z][A-Za-z0-9&'’.-]*|&)"
_EN_ORG = re.compile(rf"{_ORG_WORD}(?:[ \t]+(?:(?:of|and|the|de|for|on)[ \t]+)?{_ORG_WORD}){{0,5}}")
_INITIALS = re.compile(r"(?:[A-Z]\.)+")
_ABBREVIATION = re.compile(r"Inc\.|Corp\.|Co\.|Ltd\.|Bros\.|LLC\.|PLC\.")
_TRAILING = frozenset({"&", "of", "and", "the", "for", "on", "de"})
# a capitalised name ending in a word that names a business or school, anywhere
_EN_SUFFIXED = re.compile(
    r"(?<![A-Za-z&'’-])(?:[A-Z][A-Za-z'’.-]*[ \t]+(?:&[ \t]+)?){1,4}"
    r"(?:Logistics|Services|Inc\.?|LLC|"
    r"Corp\.?|Corporation|Company|Co\.|Group|Industries|Manufacturing|Systems|Solutions|"
    r"Technologies|Foods|Farms|Motors|Airlines|Airways|Die|Works|Construction|Consulting|"
    r"Enterprises|Trucking|Freight|Supply|Electric|Plumbing|Roofing|Landscaping|Realty|"
    r"Warehouse|Distribution|Packaging|Plastics|Steel|Mills?|Bakery|Brewery|Restaurant|Diner|"
    r"Cafe|Café|Academy|Elementary|High\s+School|Middle\s+School|Elementary\s+School|"
    r"Preparatory|Prep|Kindergarten|Daycare|Montessori|(?:Community\s+)?College|University|"
    r"Bank|Credit\s+Union|Insurance|Police\s+Department|Fire\s+Department|Post\s+Office|"
    r"Library|Museum|Church|Parish|Synagogue|Temple|Mosque|Association|Foundation|Club|"
    r"LLP|PLLC|P\.?C\.|Rescue|EMS|Ambulance|Carriers|Transport|Transit|Lines|Express|"
    r"Stores?|Market|Mart|Pharmaceuticals|Labs|Laboratories|Hotel|Resort|Casino|Shipyard|"
    r"Refinery|Mine|Ranch|Dairy|Cooperative|Co-op|Agency|Authority|Lutheran|Baptist|"
    r"Methodist|Presbyterian|Episcopal|Catholic|Chapel|Cathedral)"
    r"(?:,?\s+(?:Inc|LLC|Ltd|Corp|Co)\b\.?)?(?![A-Za-z])")
# places named after a saint: "St. Peter Claver", "Saint Columba", "St. Lorenz Lutheran"
_SAINT = re.compile(r"(?<![A-Za-z])(?:St\.|Saint|Ste\.)[ \t]+[A-Z][a-z]+(?:['’]s)?(?![a-z])"
                    r"(?:[ \t]+[A-Z][a-z]+(?:['’]s)?(?![a-z])){0,2}(?![ \t]*\d)")
_EN_LOWER_ORG = re.compile(r"[a-z][a-z0-9&'’-]{2,}")
_NOT_ORG = L.words("""
home night nights weekends school work a an the this that his her their my our your
er ed icu or clinic hospital here there least most all night day days
""")

_GENERIC_ZH = L.words("""
家 家里 家中 本院 我院 外地 当地 本地 老家 农村 城里 附近 国外 海外 南方 北方 工地 工厂 公司 学校
医院 单位 超市 饭店 餐厅 银行 外企 国企 私企 体制内 厂里 厂 店里 车间 田里 地里 市场 菜场 学校里
一家公司 一家工厂 某公司 某单位 某厂 某学校 私营企业 个体 外面 城市 大城市 南边 北边 上海 北京
""")
_ZH_CUE_BEFORE = re.compile(
    r"(?:在|于)(?P<o>[\u4e00-\u9fffA-Za-z0-9（）()·]{2,20}?)(?:工作(?![天日])|上班|任职|打工|就职|上学|读书|"
    r"就读|当老师|当护士|当司机|做工|务工|实习|做会计|做保安|当保安|当教师)")
_ZH_CUE_AFTER = re.compile(
    r"(?:就职于|任职于|供职于|工作于|毕业于|就读于|受雇于|服务于|退休于|退休前在|退休前于|"
    r"(?:工作|就职|所在|就读|所在)?单位(?:名称)?[：:]|雇主[：:]|(?:就读|所在)?学校[：:]|"
    r"工作地点[：:])\s*(?P<o>[\u4e00-\u9fffA-Za-z0-9（）()·]{2,25})")
_ZH_SUFFIXED = re.compile(
    r"(?:(?<=[系是为在于任从去到、，。；：:\s（(])|^)"
    r"(?P<o>[\u4e00-\u9fffA-Za-z0-9·]{2,15}?(?:有限责任公司|有限公司|股份公司|集团|公司|工厂|"
    r"实验小学|小学|中学|高中|初中|大学|学院|幼儿园|银行|研究所|研究院|设计院|事务所|派出所|"
    r"医药公司|物流|快递|厂))(?:的)?(?=员工|职工|职员|工人|教师|老师|学生|会计|司机|保安|"
    r"工程师|经理|退休|上班|工作|任职|就读|读书)", re.M)
_ZH_PLAIN_COMPANY = re.compile(
    r"(?:(?<=[（(、在])|(?<=工作于)|(?<=就职于))(?P<o>[\u4e00-\u9fff]{3,14}?(?:公司|集团|工厂|厂|银行|"
    r"超市|酒店|学校|小学|中学|大学|学院|幼儿园))(?=[，,。；;）)、]|做|当|任|上班|工作|打工)")
_ZH_TRIM = re.compile(r"(?:工作|上班|的|任职|担任.*|从事.*|做.*)$")


def _zh_org(value: str) -> bool:
    return (len(value) >= 2 and value not in _GENERIC_ZH
            and not re.match(r"[\d一二三四五六七八九十几两数]+[个天日周月年]", value)  # 于7个工作天
            and not value.startswith(("一家", "一个", "某", "本院", "我院", "家里", "附近"))
            and not value.endswith(("医院", "卫生院", "门诊")))


@recogniser("org", ("en", "zh"), with_lang=True)
def _organisations(text: str, lang: str) -> list[_Cand]:
    out: list[_Cand] = []
    prio = _PRIORITY["ADDRESS"] + 0.5  # "Lincoln High School" is the school, not the city
    for cue in _EN_CUE.finditer(text):
        m = _EN_ORG.match(text, cue.end())
        if m:
            words = []
            for word in m.group(0).split():
                if word.endswith(".") and not _INITIALS.fullmatch(word):
                    # "Acme Corp." ends the name; "School." ends the sentence
                    words.append(word if _ABBREVIATION.fullmatch(word) else word[:-1])
                    break
                words.append(word)
            while words and words[-1].lower() in _TRAILING:
                words.pop()
            if words and not all(w.lower() in _NOT_ORG or w.lower() in L.EN_NOT_NAMES
                                 for w in words):
                last = words[-1]
                end = text.index(last, m.start() + sum(len(w) for w in words[:-1])) + len(last)
                suffix = re.match(r",?\s+(?:Inc|LLC|Ltd|Corp|Co|LLP)\b\.?", text[end:])
                end += suffix.end() if suffix else 0
                out.append((m.start(), end, "ORG", prio))
            continue
        low = _EN_LOWER_ORG.match(text, cue.end())
        if low and low.group(0) not in N.common_words() and low.group(0) not in _NOT_ORG:
            out.append((low.start(), low.end(), "ORG", prio))
    for m in _SAINT.finditer(text):
        out.append((m.start(), m.end(), "ORG", _PRIORITY["NAME_STRONG"] + 1))
    for m in _EN_SUFFIXED.finditer(text):
        words = m.group(0).split()
        if any(w.endswith(".") and not _INITIALS.fullmatch(w) for w in words[:-1]):
            continue  # a sentence ends inside
        if not all(w.lower() in L.EN_NOT_NAMES or w.lower() in N.common_words()
                   for w in words[:-1]):
            out.append((m.start(), m.end(), "ORG", prio - 1))
    if lang != "zh":
        return out
    for pattern in (_ZH_CUE_BEFORE, _ZH_CUE_AFTER, _ZH_SUFFIXED, _ZH_PLAIN_COMPANY):
        for m in pattern.finditer(text):
            start, end = m.span("o")
            value = _ZH_TRIM.sub("", m.group("o"))
            lead = len(value) - len(value.lstrip("系是为在于任从去到"))
            start, value = start + lead, value[lead:]
            end = start + len(value)
            if _zh_org(value):
                out.append((start, end, "ORG", prio))
    return out
