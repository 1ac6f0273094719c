"""Generate SYNTHETIC clinical notes (English and Chinese) with gold PHI spans.

Every person, number, address and date here is invented; any resemblance to a real
person is chance.  Output: JSON lines, one note per line::

    {"id": "en-0007", "lang": "en", "synthetic": true, "text": "...",
     "spans": [{"start": 12, "end": 22, "type": "NAME"}, ...]}

The generator carries its OWN name, surname, city and label lists, written separately
from the recogniser's (``fedcare.deid._lexicon``): some of its names are common ones the
recogniser also lists, others (``*_RARE``) are deliberately absent there, so the benchmark
can report recall on unseen names separately.  Notes mix PHI with hard negatives: drug
doses, lab values, blood pressures (120/80), murmur grades (3/6), lot numbers, eponyms
(Parkinson disease), words that are also names (Will, Mark, May, Grace), department names
(心内科) and anatomical "regions" (心前区).

Usage::

    python scripts/make_phi_notes.py --n 200 --seed 0 --out notes.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["generate", "main"]

# ------------------------------------------------------------------ English lists


def _words(block: str) -> list[str]:
    return block.split()


EN_FIRST_COMMON = _words("""
James Robert Michael William David Richard Joseph Thomas Charles Daniel Matthew Anthony
Steven Paul Andrew Joshua Kevin Brian George Timothy Ronald Edward Jason Jeffrey Ryan Gary
Nicholas Eric Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Patrick Raymond
Dennis Jerry Henry Douglas Peter Walter Harold Carl Arthur Lawrence Ralph Eugene Russell
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty
Margaret Sandra Ashley Dorothy Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia
Kathleen Amy Angela Shirley Brenda Pamela Nicole Helen Catherine Christine Virginia
Evelyn Judith Gloria Teresa Frances Doris Marilyn Beverly Theresa Diana Lillian Eleanor
""")

EN_FIRST_RARE = _words("""
Oluwaseun Thandiwe Siobhan Anneliese Bartholomew Ignatius Xiomara Yevgenia Zoltan Caoimhe
Dagny Eero Folasade Giedre Halvard Ifeoma Jyoti Kaito Leilani Mireille Nnamdi Olusegun
Pilar Radhika Saoirse Tadhg Ugochi Valentijn Wojciech Ximena Zeynep Anouk Bertrand
Cosimo Desmond Eulalia Fintan Gwendolyn Hamish Isolde Jolanta Kasimir Lucinda Marisol
Niamh Ottilie Perpetua Quillon Rosalind Svetlana Torvald Ulrike Vesna Wilhelmina Yannick
Zuzana Aurelio Benedetta Cyprian Dorotea
""")

EN_LAST_COMMON = _words("""
Smith Johnson Williams Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson Harris
Sanchez Clark Ramirez Lewis Robinson Walker Allen Wright Scott Torres Nguyen Flores Adams
Nelson Hall Rivera Campbell Mitchell Roberts Gomez Phillips Evans Turner Diaz Collins
Reyes Stewart Morris Morales Murphy Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey
Reed Kelly Howard Ramos Richardson Watson Chavez Bennett Mendoza Ruiz Hughes Castillo
Sanders Patel Myers Ross Foster Jimenez Powell Jenkins Sullivan Coleman Butler Henderson
""")

EN_LAST_RARE = _words("""
Okonkwo Przybylski Nakashima Oyelaran Szczepanski Abernathy Kowalczyk Thorsdottir
Achterberg Bhattacharya Cienfuegos Dimitriou Ekwueme Gudmundsson Hakobyan Iwasaki
Jankowski Kuznetsova Lindqvist Mbeki Nwachukwu Ostrowski Papadakis Quintanilla
Tshabalala Uchenna Vukovic Wachowski Yilmaz Zielinski Abercrombie Blomqvist Castellanos
Dvorak Eisenberg Fairweather Galvanauskas Haverkamp Ingebrigtsen Jovanovic Kaczmarek
Lachowicz Marchetti Nieuwenhuis Oyenuga Pellegrino Quartermaine Rautenbach Sokolowski
Trzaskowski Urquhart Vanderbilt Wojcik Xanthopoulos Yoshimura Zavadil
""")

EN_CITIES = [
    ("Boston", "MA"), ("Worcester", "MA"), ("Springfield", "IL"), ("Dayton", "OH"),
    ("Tulsa", "OK"), ("Fresno", "CA"), ("Eugene", "OR"), ("Duluth", "MN"), ("Macon", "GA"),
    ("Peoria", "IL"), ("Scranton", "PA"), ("Bozeman", "MT"), ("Yakima", "WA"),
    ("Ogden", "UT"), ("Lubbock", "TX"), ("Burlington", "VT"), ("Bangor", "ME"),
    ("Asheville", "NC"), ("Flagstaff", "AZ"), ("Kalamazoo", "MI"), ("Pueblo", "CO"),
    ("Racine", "WI"), ("Muncie", "IN"), ("Waco", "TX"), ("Provo", "UT"), ("Tacoma", "WA"),
]
EN_STATE_NAMES = {"MA": "Massachusetts", "IL": "Illinois", "OH": "Ohio", "OK": "Oklahoma",
                  "CA": "California", "OR": "Oregon", "MN": "Minnesota", "GA": "Georgia",
                  "PA": "Pennsylvania", "MT": "Montana", "WA": "Washington", "UT": "Utah",
                  "TX": "Texas", "VT": "Vermont", "ME": "Maine", "NC": "North Carolina",
                  "AZ": "Arizona", "MI": "Michigan", "CO": "Colorado", "WI": "Wisconsin",
                  "IN": "Indiana"}
EN_STREETS = ["Oak", "Maple", "Cedar", "Elm", "Washington", "Lincoln", "Hillcrest", "Lakeview",
              "Sunset", "Park", "Highland", "Riverside", "Chestnut", "Willow", "Birchwood",
              "Juniper", "Sycamore", "Magnolia", "Orchard", "Meadowbrook", "Pleasant", "Main",
              "Church", "Mill", "Spring", "Prospect", "Franklin", "Jefferson"]
EN_STREET_TYPES = ["Street", "St.", "St", "Avenue", "Ave", "Ave.", "Road", "Rd", "Drive",
                   "Dr.", "Lane", "Ln", "Court", "Ct", "Boulevard", "Blvd", "Way", "Place",
                   "Terrace", "Circle"]
EN_INSURERS = ["Aetna", "Cigna", "Humana", "BCBS", "UnitedHealthcare", "Tufts", "Harvard Pilgrim",
               "Kaiser"]
EN_DEPTS = ["Emergency Department", "Department of Cardiology", "Internal Medicine clinic",
            "Neurology service", "the ICU", "Oncology", "Orthopedics", "the PACU",
            "General Surgery", "Endocrinology clinic", "Infectious Disease"]
EN_CONDITIONS = ["hypertension", "type 2 diabetes mellitus", "COPD", "CHF with reduced EF",
                 "Parkinson disease", "Crohn's disease", "atrial fibrillation",
                 "Hashimoto thyroiditis", "CKD stage 3", "Alzheimer dementia",
                 "Hodgkin lymphoma in remission", "Graves disease", "Bell's palsy in 2015",
                 "Down syndrome", "hyperlipidemia", "osteoarthritis", "GERD"]
EN_COMPLAINTS = ["chest pain", "shortness of breath", "a fall at home", "fever and cough",
                 "abdominal pain", "syncope", "confusion", "left leg swelling", "palpitations",
                 "dysuria", "a productive cough", "worsening fatigue"]
EN_MEDS = ["metoprolol 25 mg PO BID", "aspirin 81 mg daily", "atorvastatin 40 mg qHS",
           "lisinopril 10 mg daily", "warfarin 5 mg (INR 2.5)", "insulin glargine 20 units qHS",
           "furosemide 40 mg IV x1", "Tylenol 650 mg q6h PRN", "apixaban 5 mg BID",
           "levothyroxine 88 mcg daily", "metformin 1000 mg BID", "Lasix 20 mg PO",
           "vancomycin 1.25 g q12h", "1/2 tab of oxycodone 5 mg PRN", "Foley catheter placed"]
EN_NEGATIVE_SENTENCES = [
    "BP 120/80, HR 92, RR 18, T 98.6F, SpO2 95% on RA.",
    "BP 142/91 mmHg, pulse 92, temp 99.1 F.",
    "Labs: WBC 12.3, Hgb 10.1, Plt 245, Na 138, K 4.1, Cr 1.2, BUN 22, HbA1c 7.2%.",
    "Troponin I <0.01 x2, BNP 450, lactate 1.9.",
    "5/5 strength in all extremities; 2+ reflexes; 3/6 systolic murmur at the apex.",
    "GCS 15/15. Pupils 3 mm, equal and reactive.",
    "Will continue current regimen and reassess in 48 hours.",
    "Mark the incision site before surgery.",
    "May consider a trial of CPAP if symptoms persist.",
    "Grace period for the prior authorization expires at the end of the month.",
    "Bill to be sent after the procedure is coded.",
    "Rose to 38.5 C overnight, now afebrile.",
    "Smoked 1 ppd for 30 years, quit in 2010.",
    "Echo: EF 35-40%, moderate MR, RVSP 45 mmHg.",
    "ICD-10 I50.22; CPT 99223.",
    "Specimen lot 20210314 sent to the lab (reference range 3.5-5.0).",
    "Seen in clinic 2-3 times per year since the 1990s.",
    "Glasgow Coma Scale 14; Apgar history not available.",
    "Patient Education provided regarding low-sodium diet.",
    "Hope to transition to oral antibiotics tomorrow.",
    "Room 412, bed B. Code status: Full Code.",
    "Plan discussed at the multidisciplinary Heart Team meeting.",
    "Firmware version 3.2.1 on the infusion pump was confirmed.",
    "Mother with breast cancer at 62; father with MI at 68.",
    "Ambulating 150 feet with a rolling walker, 1:1 supervision.",
    "Dose reduced from 10 mg to 5 mg given eGFR 42.",
]

# ------------------------------------------------------------------ Chinese lists

ZH_SURNAMES_COMMON = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖"
                          "田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾")
ZH_SURNAMES_RARE = ["禤", "笪", "隗", "逯", "亓", "郗", "仉", "訾", "昝", "逄", "檀", "殳",
                    "郦", "綦", "蒯", "厍", "佴", "璩", "欧阳", "司马", "上官", "诸葛",
                    "皇甫", "第五", "公冶"]
ZH_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彬鹏"
                "辉文斌宇浩凯健俊帆帅旭晨阳佳琪欣怡雨婷梦瑶思涵子轩博文嘉诚一鸣若曦梓萱"
                "雅琳晓东海燕建国志强春梅秋菊冬生国庆淑珍宏伟振华家豪")
ZH_PROVINCES = ["河北省", "山西省", "辽宁省", "吉林省", "江苏省", "浙江省", "安徽省", "福建省",
                "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "四川省", "贵州省",
                "云南省", "陕西省", "甘肃省", "广西壮族自治区", "内蒙古自治区"]
ZH_MUNICIPALITIES = ["北京市", "上海市", "天津市", "重庆市"]
ZH_CITIES = ["保定市", "邢台市", "商丘市", "驻马店市", "黄冈市", "岳阳市", "赣州市", "上饶市",
             "六安市", "阜阳市", "曲靖市", "遵义市", "杭州市", "苏州市", "成都市", "长沙市",
             "郑州市", "济南市", "青岛市", "南昌市", "合肥市", "昆明市", "贵阳市", "南宁市",
             "石家庄市", "太原市", "宜宾市", "绵阳市", "柳州市", "包头市", "漳州市", "莆田市"]
ZH_DISTRICTS = ["朝阳区", "海淀区", "浦东新区", "天河区", "南山区", "西湖区", "武侯区", "雨花区",
                "江宁区", "历下区", "徐水区", "莲池区", "梁园区", "长安区", "金水区", "鼓楼区",
                "新城区", "滨江区", "高新区", "经开区"]
ZH_COUNTIES = ["清苑县", "定兴县", "夏邑县", "长沙县", "南昌县", "肥西县", "宁乡市", "邹平市"]
ZH_TOWNS = ["城关镇", "安肃镇", "星沙镇", "柳林镇", "大王庄乡", "东关街道", "新华街道", "马厂乡"]
ZH_VILLAGES = ["东街村", "王家庄", "李家屯", "前进村", "小河村", "后营村", "十里铺村"]
ZH_ROADS = ["建国路", "人民路", "解放大道", "中山路", "文三路", "科技园南路", "和平街", "胜利巷",
            "长江路", "学府路", "迎宾大道", "光明街", "南京东路", "五一路", "东风路", "花园路"]
ZH_COMPOUNDS = ["阳光小区", "幸福花园", "锦绣家园", "翠湖苑", "金色家园", "丽景新村"]
ZH_DEPTS = ["心内科", "呼吸与危重症医学科", "神经外科", "急诊科", "重症监护室", "消化内科",
            "内分泌科", "骨科", "肾内科", "老年医学科"]
ZH_CONDITIONS = ["高血压病3级", "2型糖尿病", "冠状动脉粥样硬化性心脏病", "慢性阻塞性肺疾病",
                 "帕金森病", "慢性肾脏病3期", "阿尔茨海默病", "心房颤动", "脑梗死后遗症"]
ZH_COMPLAINTS = ["胸痛", "反复咳嗽咳痰", "头晕伴乏力", "腹痛", "呼吸困难", "双下肢水肿",
                 "意识障碍", "发热", "心悸"]
ZH_NEGATIVE_SENTENCES = [
    "查体：血压120/80mmHg，心率92次/分，呼吸18次/分，体温36.8℃，SpO2 92%。",
    "血常规：白细胞12.3×10^9/L，血红蛋白92g/L，血小板245×10^9/L。",
    "肌酐92μmol/L，血钾4.1mmol/L，糖化血红蛋白7.2%。",
    "高血压病史10年，常规服用阿司匹林100mg qd，硝苯地平控释片30mg qd。",
    "心前区无隆起，肝区无叩痛，双肾区叩击痛阴性，麦氏点无压痛。",
    "患者咳嗽3月余，加重2周，于3天前出现发热。",
    "每日3次，每次2片，2周后门诊复查。",
    "金黄色葡萄球菌培养阳性，予万古霉素1g q12h静滴。",
    "左前臂石膏固定，张力性气胸已排除。",
    "住院部5楼3号床，12床患者病情平稳。",
    "药品批号20230305，有效期至2025年。",
    "白蛋白32g/L，明显低于正常。",
    "患者系河南人，务农。",
    "请心内科会诊，转入重症监护室进一步治疗。",
    "国庆节期间停诊，按北京时间上午8点开诊。",
    "方案：继续抗感染、化痰及对症支持治疗。",
    "常规心电图示窦性心律，ST段无明显改变。",
    "CT示右下肺炎症，建议1周后复查胸部CT。",
]


class _Note:
    """Text under construction with its gold spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[dict[str, Any]] = []
        self.length = 0

    def text(self, value: str) -> None:
        self.parts.append(value)
        self.length += len(value)

    def phi(self, phi_type: str, value: str, **extra: Any) -> None:
        self.spans.append({"start": self.length, "end": self.length + len(value),
                           "type": phi_type, **extra})
        self.text(value)

    def fill(self, template: str, slots: dict[str, Any]) -> None:
        """Append ``template``; ``{slot}`` is looked up in ``slots``.

        A slot value is either plain text or a (text, type[, extra]) tuple (a PHI span),
        or a list of those pieces.
        """
        pos = 0
        for m in re.finditer(r"\{(\w+)\}", template):
            self.text(template[pos:m.start()])
            self._put(slots[m.group(1)])
            pos = m.end()
        self.text(template[pos:])

    def _put(self, value: Any) -> None:
        if isinstance(value, list):
            for piece in value:
                self._put(piece)
        elif isinstance(value, tuple):
            self.phi(value[0], value[1], **(value[2] if len(value) > 2 else {}))
        else:
            self.text(str(value))

    def done(self) -> tuple[str, list[dict[str, Any]]]:
        return "".join(self.parts), self.spans


# ------------------------------------------------------------------ shared pieces

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


def _cn_id(rng: random.Random, birth: tuple[int, int, int]) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    region = rng.choice(["110105", "310115", "440305", "130602", "410102", "510107",
                         "330106", "320506", "430111", "371302", "522401", "652801"])
    body = f"{region}{birth[0]:04d}{birth[1]:02d}{birth[2]:02d}{rng.randint(0, 999):03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(n))


def _date(rng: random.Random, lo: int = 2015, hi: int = 2024) -> tuple[int, int, int]:
    return rng.randint(lo, hi), rng.randint(1, 12), rng.randint(1, 28)


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2001:db8:{rng.randint(1, 0xffff):x}::{rng.randint(1, 0xff):x}"
    first = rng.choice([10, 172, 192, rng.randint(11, 223)])
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _vin(rng: random.Random) -> str:
    chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    vin = "".join(rng.choice(chars) for _ in range(17))
    return vin[:5] + str(rng.randint(0, 9)) + vin[6:]


# ------------------------------------------------------------------ English

def _en_name(rng: random.Random, sex: str | None = None) -> dict[str, str]:
    rare_first = rng.random() < 0.3
    rare_last = rng.random() < 0.35
    first = rng.choice(EN_FIRST_RARE if rare_first else EN_FIRST_COMMON)
    last = rng.choice(EN_LAST_RARE if rare_last else EN_LAST_COMMON)
    if rng.random() < 0.05:
        last = f"{last}-{rng.choice(EN_LAST_COMMON)}"
    middle = rng.choice("ABCDEFGHJKLMNPRSTW")
    return {"first": first, "last": last, "middle": middle}


def _en_name_form(rng: random.Random, n: dict[str, str], forms: list[str]) -> list[Any]:
    form = rng.choice(forms)
    first, last, mid = n["first"], n["last"], n["middle"]
    if form == "full":
        return [("NAME", f"{first} {last}")]
    if form == "middle":
        return [("NAME", f"{first} {mid}. {last}")]
    if form == "lastfirst":
        return [("NAME", f"{last}, {first}")]
    if form == "upper_lastfirst":
        return [("NAME", f"{last.upper()}, {first.upper()}")]
    if form == "upper":
        return [("NAME", f"{first.upper()} {last.upper()}")]
    if form == "initial":
        return [("NAME", f"{first[0]}. {last}")]
    if form == "first":
        return [("NAME", first)]
    if form == "last":
        return [("NAME", last)]
    raise ValueError(form)


def _en_date(rng: random.Random, d: tuple[int, int, int], forms: list[str] | None = None) -> str:
    y, m, day = d
    form = rng.choice(forms or ["us", "us", "us_short", "iso", "long", "abbr", "dmy_long",
                                "dmy_abbr", "ordinal", "us_pad", "long_nocomma", "dmy_ord",
                                "us_dot", "iso_slash"])
    mon = _MONTHS[m - 1]
    suffix = "th" if 10 <= day <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    abbr = f"{mon[:3]}. {day}, {y}" if m != 5 else f"May {day}, {y}"
    return {
        "us": f"{m}/{day}/{y}", "us_pad": f"{m:02d}/{day:02d}/{y}",
        "us_short": f"{m}/{day}/{y % 100:02d}", "iso": f"{y}-{m:02d}-{day:02d}",
        "long": f"{mon} {day}, {y}", "abbr": abbr, "long_nocomma": f"{mon[:3]} {day} {y}",
        "dmy_long": f"{day} {mon} {y}", "dmy_abbr": f"{day:02d}-{mon[:3]}-{y}",
        "dmy_ord": f"{day}{suffix} {mon} {y}", "ordinal": f"{mon} {day}{suffix}",
        "monthyear": f"{mon} {y}", "md": f"{m}/{day}", "us_dot": f"{m:02d}.{day:02d}.{y}",
        "iso_slash": f"{y}/{m}/{day}",
    }[form]


def _en_phone(rng: random.Random) -> str:
    area, exch, line = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    ext = rng.randint(10, 9999)
    return rng.choice([
        f"({area}) {exch}-{line:04d}", f"{area}-{exch}-{line:04d}", f"{area}.{exch}.{line:04d}",
        f"+1 {area} {exch} {line:04d}", f"1-{area}-{exch}-{line:04d}",
        f"({area}) {exch}-{line:04d} ext. {ext}", f"{area} {exch} {line:04d}",
        f"({area}){exch}-{line:04d}", f"{area}-{exch}-{line:04d} x{ext}",
    ])


def _en_address(rng: random.Random) -> tuple[str, str]:
    city, st = rng.choice(EN_CITIES)
    num = rng.randint(1, 9999)
    street = (f"{num} {rng.choice(['', '', '', 'N. ', 'West ', 'S '])}{rng.choice(EN_STREETS)} "
              f"{rng.choice(EN_STREET_TYPES)}")
    unit = rng.choice(["", "", f", Apt {rng.randint(1, 40)}{rng.choice('ABC')}",
                       f" Unit {rng.randint(1, 300)}", f", #{rng.randint(1, 30)}"])
    zipc = f"{rng.randint(1000, 99999):05d}"
    state = EN_STATE_NAMES.get(st, st)
    full = rng.choice([
        f"{street}{unit}, {city}, {st} {zipc}", f"{street}{unit}",
        f"{street}, {city}, {state}", f"{street}{unit}, {city}",
        f"P.O. Box {rng.randint(10, 9999)}, {city}, {st} {zipc}", f"{street}, {city} {st} {zipc}",
        f"apt {rng.randint(1, 40)}, {street}", f"{street} in {city}",
    ])
    return full, city


def _pick(rng: random.Random, *makers: Callable[[], str]) -> str:
    return rng.choice(makers)()


def _en_admin(rng: random.Random, pt: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Administrative identifier sentences; each (template, slots)."""
    d, a = _digits, _letters
    ssn = f"{rng.randint(100, 665):03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}"
    ins = _pick(rng, lambda: f"{a(rng, 3)}{d(rng, 9)}", lambda: f"W{d(rng, 9)}",
                lambda: f"{rng.randint(1, 9)}{a(rng, 2)}{rng.randint(1, 9)}-{a(rng, 2)}"
                        f"{rng.randint(1, 9)}-{a(rng, 2)}{d(rng, 2)}")
    acct = _pick(rng, lambda: d(rng, 10), lambda: f"{d(rng, 4)}-{d(rng, 4)}-{d(rng, 2)}",
                 lambda: d(rng, 7))
    lic = _pick(rng, lambda: f"{a(rng, 1)}{d(rng, 7)}", lambda: d(rng, 9),
                lambda: f"S{d(rng, 3)}-{d(rng, 4)}-{d(rng, 4)}")
    plate = _pick(rng, lambda: f"{rng.randint(1, 9)}{a(rng, 3)}{d(rng, 3)}",
                  lambda: f"{a(rng, 3)}-{d(rng, 4)}")
    dev = _pick(rng, lambda: f"{a(rng, 3)}{d(rng, 6)}{a(rng, 1)}", lambda: d(rng, 14),
                lambda: f"{a(rng, 2)}{d(rng, 7)}H")
    url = _pick(rng, lambda: f"https://portal.example.org/patient/{d(rng, 6)}",
                lambda: f"www.example-health.com/{pt['last'].lower()}",
                lambda: f"http://pacs.example.net/study?id={d(rng, 8)}")
    ident = _pick(rng, lambda: f"{a(rng, 1)}{d(rng, 8)}", lambda: d(rng, 9))
    return [
        (rng.choice(["SSN: {v}. ", "Social Security No. {v}. ", "SS# {v}. ", "SSN {v}. "]),
         {"v": [("SSN", ssn if rng.random() < 0.8 else ssn.replace("-", " "))]}),
        (rng.choice(["Insurance: {ins} member ID {v}. ", "{ins} ID# {v}. ", "Medicare #{v}. ",
                     "Policy number {v} ({ins}). ", "Subscriber ID {v}. ",
                     "Ins: {ins}, grp/ID {v}. ", "Medicaid {v}. "]),
         {"v": [("INSURANCE", ins)], "ins": rng.choice(EN_INSURERS)}),
        (rng.choice(["Account #{v}. ", "Billing acct {v}. ", "Acct No. {v}. ",
                     "Hospital account number {v}. ", "Guarantor account: {v}. "]),
         {"v": [("ACCOUNT", acct)]}),
        (rng.choice(["Driver's license {v} on file. ", "DL# {v}. ",
                     "Licence no. {v} verified at registration. ", "Drivers lic {v}. "]),
         {"v": [("LICENSE", lic)]}),
        (rng.choice(["Vehicle plate {v} (parking validation). ", "License plate: {v}. ",
                     "Parked car, tag {v}. "]),
         {"v": [("VEHICLE", plate)]}),
        (rng.choice(["VIN {v} recorded for the MVC report. ", "Car VIN: {v}. "]),
         {"v": [("VEHICLE", _vin(rng))]}),
        (rng.choice(["Pacemaker serial number {v}. ", "Insulin pump S/N {v}. ",
                     "Device ID {v} (ICD). ", "Implant serial #{v}. ", "ICD model/serial {v}. "]),
         {"v": [("DEVICE", dev)]}),
        (rng.choice(["Portal: {v} ", "Records requested via {v} ", "See {v} for images. "]),
         {"v": [("URL", url)]}),
        (rng.choice(["Telehealth session from IP {v}. ", "Login from {v} flagged. ",
                     "Remote access (IP address {v}). "]),
         {"v": [("IP", _ip(rng))]}),
        (rng.choice(["Passport number {v} copied for travel letter. ", "State ID {v}. ",
                     "Passport # {v}. "]),
         {"v": [("ID", ident)]}),
    ]


def _en_note(rng: random.Random, idx: int) -> _Note:
    note = _Note()
    sex = rng.choice(["M", "F"])
    pt = _en_name(rng, sex)
    doc = _en_name(rng)
    doc2 = _en_name(rng)
    rel = _en_name(rng)
    rel["last"] = pt["last"] if rng.random() < 0.5 else rel["last"]
    old = rng.random() < 0.35
    age = rng.randint(90, 104) if old else rng.randint(18, 89)
    dob = (2023 - age, rng.randint(1, 12), rng.randint(1, 28))
    visit = _date(rng, 2018, 2024)
    d = _digits
    mrn = _pick(rng, lambda: d(rng, 8), lambda: f"{d(rng, 4)}-{d(rng, 4)}",
                lambda: f"{rng.choice('AEHM')}{d(rng, 7)}", lambda: d(rng, 7),
                lambda: f"{d(rng, 3)}-{d(rng, 2)}-{d(rng, 2)}")
    honor = "Mr." if sex == "M" else rng.choice(["Ms.", "Mrs."])
    he, his = ("He", "his") if sex == "M" else ("She", "her")
    s: dict[str, Any] = {
        "pt": _en_name_form(rng, pt, ["full", "full", "middle", "upper"]),
        "pt_lf": _en_name_form(rng, pt, ["lastfirst", "upper_lastfirst"]),
        "pt_last": [("NAME", pt["last"])], "pt_first": [("NAME", pt["first"])],
        "honor": honor, "he": he, "his": his,
        "doc": _en_name_form(rng, doc, ["full", "middle", "initial"]),
        "doc_last": [("NAME", doc["last"])],
        "doc2": _en_name_form(rng, doc2, ["full", "middle", "lastfirst"]),
        "nurse": [("NAME", doc2["first"])],
        "rel": _en_name_form(rng, rel, ["full", "full", "first"]),
        "rel_first": [("NAME", rel["first"])],
        "relation": rng.choice(["daughter", "son", "wife", "husband", "niece", "brother",
                                "sister", "partner", "neighbor"]),
        "mrn": [("MRN", mrn)], "dob": [("DATE", _en_date(rng, dob))],
        "visit": [("DATE", _en_date(rng, visit))],
        "visit2": [("DATE", _en_date(rng, _date(rng, 2018, 2024)))],
        "cond": rng.choice(EN_CONDITIONS), "cond2": rng.choice(EN_CONDITIONS),
        "complaint": rng.choice(EN_COMPLAINTS), "dept": rng.choice(EN_DEPTS),
        "med": rng.choice(EN_MEDS), "med2": rng.choice(EN_MEDS),
        "sexw": "man" if sex == "M" else "woman", "sex": sex,
        "age": [("AGE", str(age))] if old else str(age),
    }
    age_forms = ["{age}-year-old", "{age} y/o", "{age} yo", "{age} year old", "{age}-yr-old",
                 "{age} years old", "{age} y.o.", "{age}yo"]
    age_phrase = rng.choice(age_forms)
    if old and "year" in age_phrase and rng.random() < 0.2:
        words = {90: "ninety", 91: "ninety-one", 92: "ninety-two", 93: "ninety-three",
                 94: "ninety-four", 95: "ninety-five", 96: "ninety-six", 97: "ninety-seven",
                 98: "ninety-eight", 99: "ninety-nine"}
        if age in words:
            s["age"] = [("AGE", words[age])]

    note.fill(rng.choice([
        "Patient: {pt}    MRN: {mrn}    DOB: {dob}\n",
        "NAME: {pt_lf}\nMED REC #: {mrn}\nDATE OF SERVICE: {visit}\n",
        "{pt_lf} | Hosp # {mrn} | {sex} | DOB {dob}\n",
        "Medical Record Number {mrn}\nDate of admission: {visit}\n",
        "MR #: {mrn}   Visit date: {visit}\n",
        "Chart ID {mrn} / {pt_lf}\n",
        "Unit No: {mrn}   DOB: {dob} (age {age})\n",
        "MRN#{mrn} {pt}\n",
        "",
    ]), s)
    note.text("\n")
    note.fill(rng.choice([
        "HPI: {honor} {pt_last} is a " + age_phrase + " {sexw} with a history of {cond} who "
        "presents with {complaint}. ",
        "{pt} is a " + age_phrase + " {sexw} with {cond} and {cond2}, admitted on {visit} "
        "for {complaint}. ",
        "This is a " + age_phrase + " with {cond} who was brought in by {his} {relation} "
        "{rel} after {complaint}. ",
        "Pt is " + age_phrase.replace("{age}", "a {age}") + " with {cond}; seen in the {dept} "
        "on {visit} for {complaint}. ",
        "{honor} {pt_last}, aged {age}, reports {complaint} since {visit}. ",
        "{pt} (DOB {dob}) presented to the {dept} with {complaint}. Age " + "{age}. ",
        "Pt {pt}, " + age_phrase + ", {sexw}, with {cond}. ",
        "Met with patient and {relation} ({rel_first}) at bedside; patient is " + age_phrase
        + " with {complaint}. ",
        "{pt_first} is here today with {his} {relation}, {rel}; " + age_phrase + ". ",
        "On {visit}, {honor} {pt_last} ({age}) underwent CT for {complaint}. ",
    ]), s)
    note.fill(rng.choice([
        "{he} was evaluated by Dr. {doc_last} in the {dept}. ",
        "Case discussed with {doc2} from {dept}. ",
        "{he} follows with {doc} (PCP). ",
        "Seen by Dr. {doc} on {visit2}. ",
        "{he} denies fevers. ",
        "Spoke with Dr {doc_last} (cardiology) by phone. ",
        "Nurse {nurse} reports the patient slept well. ",
        "Referring: {doc}. ",
        "Seen at bedside with interpreter {doc2}. ",
        "{honor} {pt_last}'s {relation} {rel} called on {visit2}. ",
    ]), s)
    note.text("\n")
    for _ in range(rng.randint(2, 4)):
        note.text(rng.choice(EN_NEGATIVE_SENTENCES) + " ")
    note.fill("Meds: {med}; {med2}.\n", s)

    addr, city = _en_address(rng)
    s["addr"] = [("ADDRESS", addr)]
    s["city"] = [("ADDRESS", city)]
    s["phone"] = [("PHONE", _en_phone(rng))]
    s["phone2"] = [("PHONE", _en_phone(rng))]
    user = rng.choice([pt["first"].lower(), pt["first"][0].lower() + pt["last"].lower(),
                       f"{pt['first'].lower()}.{pt['last'].lower()}", f"pt{d(rng, 4)}"])
    domain = rng.choice(["example.com", "mail.example.org", "example.net", "clinic.example.edu"])
    email = f"{user}{rng.choice(['', '', str(rng.randint(1, 99))])}@{domain}"
    s["email"] = [("EMAIL", email.upper() if rng.random() < 0.1 else email)]
    note.fill(rng.choice([
        "SOCIAL: Lives with {his} {relation}, {rel}, at {addr}. ",
        "Lives alone in {city}; {relation} {rel} checks in daily. ",
        "Resides at {addr}. Retired teacher. ",
        "Home address: {addr}. ",
        "Recently moved from {city} to be closer to family. ",
        "Lives in a nursing facility; contact {relation} {rel}. ",
        "Address on file: {addr}. Patient's {relation}, {rel}, is the HCP. ",
        "Originally from {city}; now lives at {addr}. ",
        "Mailing address - {addr}. ",
        "Home: {addr}; phone {phone}. ",
    ]), s)
    note.fill(rng.choice([
        "Contact: {phone}. ",
        "Best number {phone}; alternate {phone2}. ",
        "The {relation} can be reached at {phone} or {email}. ",
        "Cell {phone}, fax {phone2}. ",
        "Patient email: {email}. ",
        "Call {rel} at {phone} with results. ",
        "Callback number: {phone}. ",
        "{rel} ({relation}) - {phone}. ",
        "Pt's email address is {email}. ",
    ]), s)
    note.text("\n")
    admin = _en_admin(rng, pt)
    rng.shuffle(admin)
    for tmpl, slots in admin[:rng.randint(1, 4)]:
        note.fill(tmpl, slots)
    note.text("\n")

    s["fu"] = [("DATE", _en_date(rng, _date(rng, 2019, 2025), ["long", "us", "ordinal",
                                                                 "monthyear", "abbr"]))]
    s["md"] = [("DATE", _en_date(rng, visit, ["md"]))]
    note.fill(rng.choice([
        "PLAN: Follow up with Dr. {doc_last} on {fu}. ",
        "Plan: repeat labs on {md}; call {pt_first} with results. ",
        "Return to clinic in {dept} in 2 weeks ({fu}). ",
        "Discussed plan with {his} {relation} {rel}, who agrees. ",
        "F/u appt {fu} with {doc}. ",
    ]), s)
    note.text(rng.choice(EN_NEGATIVE_SENTENCES) + "\n")
    note.fill(rng.choice([
        "Electronically signed by {doc}, MD on {visit2} 14:32",
        "-- {doc}, NP",
        "Dictated by: {doc2}\nTranscribed: {visit2}",
        "Attending: {doc2}, MD",
        "{doc}, PA-C",
        "Note written by {doc} (resident) and reviewed with {doc2}.",
        "cc: {doc}; {doc2}",
    ]), s)
    return note


def _zh_name(rng: random.Random) -> dict[str, str]:
    rare = rng.random() < 0.3
    surname = rng.choice(ZH_SURNAMES_RARE if rare else ZH_SURNAMES_COMMON)
    given = "".join(rng.choice(ZH_GIVEN) for _ in range(rng.choice([1, 2, 2, 2])))
    return {"surname": surname, "given": given, "full": surname + given}


def _zh_date(rng: random.Random, d: tuple[int, int, int], forms: list[str] | None = None) -> str:
    y, m, day = d
    digits = "〇一二三四五六七八九"

    def cn_small(v: int) -> str:
        t, u = divmod(v, 10)
        return (digits[u] if t == 0 else ("" if t == 1 else digits[t]) + "十" +
                (digits[u] if u else ""))

    form = rng.choice(forms or ["ymd", "ymd", "iso", "slash", "dot", "md", "ymd_pad", "cn",
                                "hao", "ymd_time"])
    return {
        "ymd": f"{y}年{m}月{day}日", "ymd_pad": f"{y}年{m:02d}月{day:02d}日",
        "iso": f"{y}-{m:02d}-{day:02d}", "slash": f"{y}/{m}/{day}",
        "dot": f"{y}.{m:02d}.{day:02d}", "md": f"{m}月{day}日", "ym": f"{y}年{m}月",
        "cn": "".join(digits[int(c)] for c in str(y)) + f"年{cn_small(m)}月{cn_small(day)}日",
        "hao": f"{m}月{day}号", "ymd_time": f"{y}年{m}月{day}日",
    }[form]


def _zh_phone(rng: random.Random) -> str:
    mobile = f"1{rng.choice('3456789')}{_digits(rng, 9)}"
    area = rng.choice(["010", "021", "022", "023", "0311", "0371", "0755", "020", "0731"])
    local = f"{rng.randint(2, 8)}{_digits(rng, 7 if len(area) == 3 else 6)}"
    return rng.choice([mobile, mobile, f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
                       f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}", f"+86 {mobile}",
                       f"{area}-{local}", f"({area}){local}", f"{area} {local}"])


def _zh_address(rng: random.Random) -> str:
    num = f"{rng.randint(1, 300)}号"
    unit = rng.choice(["", f"{rng.randint(1, 20)}号楼{rng.randint(1, 6)}单元"
                           f"{rng.randint(1, 30)}0{rng.randint(1, 4)}室",
                       f"{rng.randint(1, 12)}栋{rng.randint(101, 2804)}室"])
    prov = rng.choice(ZH_PROVINCES)
    city = rng.choice(ZH_CITIES)
    muni = rng.choice(ZH_MUNICIPALITIES)
    dist = rng.choice(ZH_DISTRICTS)
    road = rng.choice(ZH_ROADS)
    town, village = rng.choice(ZH_TOWNS), rng.choice(ZH_VILLAGES)
    compound = rng.choice(ZH_COMPOUNDS)
    return rng.choice([
        f"{prov}{city}{dist}{road}{num}{unit}",
        f"{muni}{dist}{road}{num}{unit}",
        f"{prov}{city}{rng.choice(ZH_COUNTIES)}{town}{village}",
        f"{city}{dist}{road}{num}",
        f"{dist}{road}{num}{unit}",
        f"{compound}{rng.randint(1, 20)}栋{rng.randint(1, 6)}单元{rng.randint(101, 2804)}室",
        f"{muni}{dist}{town}{compound}",
        f"{prov[:-1] if prov.endswith('省') else prov}{city}{dist}{road}{num}",
        f"{muni[:-1]}{dist}{road}{num}",
    ])


def _zh_admin(rng: random.Random, s: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    d, a = _digits, _letters
    ins = _pick(rng, lambda: d(rng, 10), lambda: f"1{d(rng, 17)}X",
                lambda: f"{a(rng, 1)}{d(rng, 9)}", lambda: d(rng, 12))
    acct = _pick(rng, lambda: f"6222 {d(rng, 4)} {d(rng, 4)} {d(rng, 4)}",
                 lambda: f"62{d(rng, 17)}", lambda: d(rng, 12))
    lic = _pick(rng, lambda: d(rng, 15), lambda: f"1{d(rng, 14)}", lambda: d(rng, 12))
    head = rng.choice("京沪粤浙苏川豫冀鲁湘")
    plate = _pick(rng, lambda: f"{head}{a(rng, 1)}{rng.choice(['', '·'])}"
                               f"{rng.randint(10000, 99999)}",
                  lambda: f"{head}{a(rng, 1)}D{rng.randint(10000, 99999)}", lambda: _vin(rng))
    dev = _pick(rng, lambda: f"{a(rng, 3)}{d(rng, 6)}{a(rng, 1)}", lambda: f"SN{d(rng, 10)}",
                lambda: d(rng, 14))
    email = _pick(rng, lambda: f"{a(rng, 2).lower()}{d(rng, 6)}@example.cn",
                  lambda: f"user{d(rng, 4)}@mail.example.com")
    url = _pick(rng, lambda: f"https://pacs.example.cn/view?id={d(rng, 8)}",
                lambda: f"www.example-yy.cn/report/{d(rng, 6)}")
    return [
        (rng.choice(["身份证号：{v}。", "身份证号码 {v}。", "公民身份号码{v}，", "证件号：{v}。",
                     "患者身份证{v}已核对。", "身份证：{v}。"]), {"v": s["idno"]}),
        (rng.choice(["医保卡号：{v}。", "社保卡号{v}。", "医保号 {v}。", "新农合证号：{v}。",
                     "商业保险保单号{v}。", "医保：{v}。"]), {"v": [("INSURANCE", ins)]}),
        (rng.choice(["银行卡号：{v}。", "退费账号{v}。", "缴费账号：{v}。", "退款至账户{v}。"]),
         {"v": [("ACCOUNT", acct)]}),
        (rng.choice(["驾驶证号：{v}。", "医师执业证书编号{v}。", "执业证号：{v}。"]),
         {"v": [("LICENSE", lic)]}),
        (rng.choice(["车牌号：{v}。", "肇事车辆{v}已登记。", "车架号{v}。",
                     "陪护车辆{v}停于地下车库。"]),
         {"v": [("VEHICLE", plate)]}),
        (rng.choice(["起搏器序列号：{v}。", "胰岛素泵设备编号{v}。", "植入物编号：{v}。",
                     "呼吸机SN：{v}。"]), {"v": [("DEVICE", dev)]}),
        (rng.choice(["电子邮箱：{v}。", "邮箱 {v}。", "E-mail：{v}。"]), {"v": [("EMAIL", email)]}),
        (rng.choice(["检查报告可在{v}查询。", "影像链接：{v}"]), {"v": [("URL", url)]}),
        (rng.choice(["远程会诊终端IP：{v}。", "登录地址{v}。"]), {"v": [("IP", _ip(rng))]}),
    ]


def _zh_note(rng: random.Random, idx: int) -> _Note:
    note = _Note()
    sex = rng.choice(["男", "女"])
    pt = _zh_name(rng)
    doc = _zh_name(rng)
    doc2 = _zh_name(rng)
    rel = _zh_name(rng)
    if rng.random() < 0.5:
        rel = {**rel, "surname": pt["surname"], "full": pt["surname"] + rel["given"]}
    old = rng.random() < 0.35
    age = rng.randint(90, 104) if old else rng.randint(18, 89)
    birth = (2023 - age, rng.randint(1, 12), rng.randint(1, 28))
    visit = _date(rng, 2018, 2024)
    cn_numbers = {90: "九十", 91: "九十一", 92: "九十二", 93: "九十三", 95: "九十五", 96: "九十六",
                  98: "九十八", 100: "一百", 101: "一百零一"}
    age_text = cn_numbers[age] if old and age in cn_numbers and rng.random() < 0.2 else str(age)
    d = _digits
    mrn = _pick(rng, lambda: d(rng, 7), lambda: f"ZY{d(rng, 8)}", lambda: d(rng, 10),
                lambda: f"MZ{visit[0]}{d(rng, 5)}", lambda: f"{d(rng, 6)}-{d(rng, 2)}")
    s: dict[str, Any] = {
        "pt": [("NAME", pt["full"])], "pt_surname": [("NAME", pt["surname"])],
        "doc": [("NAME", doc["full"])], "doc_s": [("NAME", doc["surname"])],
        "doc2": [("NAME", doc2["full"])], "rel": [("NAME", rel["full"])],
        "relation": rng.choice(["儿子", "女儿", "妻子", "丈夫", "孙女", "侄子", "老伴"]),
        "sex": sex, "age": [("AGE", age_text)] if old else age_text,
        "mrn": [("MRN", mrn)],
        "visit": [("DATE", _zh_date(rng, visit))],
        "visit2": [("DATE", _zh_date(rng, _date(rng, 2018, 2024)))],
        "birth": [("DATE", _zh_date(rng, birth, ["ymd", "iso", "ymd_pad", "dot"]))],
        "cond": rng.choice(ZH_CONDITIONS), "complaint": rng.choice(ZH_COMPLAINTS),
        "dept": rng.choice(ZH_DEPTS),
        "title": rng.choice(["主任", "医生", "医师", "教授", "护士长", "大夫"]),
        "idno": [("ID", _cn_id(rng, birth))],
        "addr": [("ADDRESS", _zh_address(rng))],
        "phone": [("PHONE", _zh_phone(rng))], "phone2": [("PHONE", _zh_phone(rng))],
        "honor": "先生" if sex == "男" else "女士",
    }
    note.fill(rng.choice([
        "姓名：{pt}  性别：{sex}  年龄：{age}岁  住院号：{mrn}\n",
        "患者姓名：{pt}，{sex}，{age}岁，病案号{mrn}，入院日期：{visit}\n",
        "病历号：{mrn}\n出生日期：{birth}\n",
        "门诊号 {mrn}  就诊时间 {visit}\n",
        "患者，{sex}，{age}岁，姓名：{pt}，ID号：{mrn}\n",
        "",
    ]), s)
    age_form = rng.choice(["{age}岁", "{age}周岁", "{age}岁"])
    note.fill(rng.choice([
        "患者{pt}，{sex}，" + age_form + "，因“{complaint}”于{visit}入院。",
        "{pt}，" + age_form + "，既往{cond}病史，{visit}因{complaint}来我院{dept}就诊。",
        "患者" + age_form + "高龄，{cond}病史多年，此次因{complaint}由{relation}{rel}陪同就诊。",
        "患者于{visit}无明显诱因出现{complaint}，年龄" + age_form + "。",
        "{pt}{honor}，" + age_form + "，{visit}上午10时来诊，主诉{complaint}。",
        "老年{sex}性，" + age_form + "，{cond}，本次入院时间{visit}。",
        "患者{pt}（{sex}，" + age_form + "）因{complaint}于{visit}就诊。",
        "{relation}{rel}代诉病史：患者" + age_form + "，{visit}起{complaint}。",
    ]), s)
    note.text("\n")
    for _ in range(rng.randint(2, 4)):
        note.text(rng.choice(ZH_NEGATIVE_SENTENCES))
    note.text("\n")
    note.fill(rng.choice([
        "家住{addr}，联系电话{phone}。",
        "住址：{addr}。联系人：{rel}（{relation}），电话{phone}。",
        "现住{addr}，手机{phone}，{relation}电话{phone2}。",
        "户籍地：{addr}。",
        "家属{rel}（{relation}）手机：{phone}。",
        "紧急联系人：{rel}，{phone}。",
        "患者长期居住于{addr}，联系方式：{phone}。",
        "通讯地址：{addr}；{relation}{rel}，{phone}。",
        "联系地址为{addr}，出生于{birth}。",
        "住院号{mrn}，床号12，家属{rel}电话{phone}。",
    ]), s)
    note.text("\n")
    admin = _zh_admin(rng, s)
    rng.shuffle(admin)
    for tmpl, slots in admin[:rng.randint(1, 4)]:
        note.fill(tmpl, slots)
    note.text("\n")
    note.fill(rng.choice([
        "{doc_s}{title}查房后指示：继续目前治疗，{visit2}复查。",
        "经{doc}{title}会诊，建议转{dept}。",
        "上级医师{doc}查看患者，同意目前诊疗方案。",
        "{rel}表示理解并签字。",
        "请{doc_s}{title}协助诊治。",
        "已与患者{relation}{rel}沟通病情。",
        "{dept}{doc}{title}意见：暂不手术。",
        "转诊医生：{doc}。",
        "{doc}医师于{visit2}完成手术。",
    ]), s)
    note.text("\n")
    note.fill(rng.choice([
        "记录者：{doc2}  {visit2}",
        "医师签名：{doc}",
        "主治医师：{doc}  住院医师：{doc2}",
        "{doc2}/{visit2}",
        "签名：{doc2}",
        "记录医师 {doc2}，审核 {doc}",
    ]), s)
    return note


def generate(n: int, seed: int = 0, langs: tuple[str, ...] = ("en", "zh")) -> list[dict[str, Any]]:
    """``n`` synthetic notes per language with gold spans (deterministic given ``seed``)."""
    out = []
    for lang in langs:
        rng = random.Random(f"{seed}-{lang}")
        make: Callable[[random.Random, int], _Note] = _en_note if lang == "en" else _zh_note
        for i in range(n):
            text, spans = make(rng, i).done()
            out.append({"id": f"{lang}-{i:04d}", "lang": lang, "synthetic": True,
                        "text": text, "spans": spans})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="notes per language")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lang", choices=["en", "zh", "both"], default="both")
    parser.add_argument("--out", type=Path, help="JSON-lines file (default: stdout)")
    args = parser.parse_args(argv)
    langs = ("en", "zh") if args.lang == "both" else (args.lang,)
    notes = generate(args.n, args.seed, langs)
    lines = "".join(json.dumps(note, ensure_ascii=False) + "\n" for note in notes)
    if args.out:
        args.out.write_text(lines, encoding="utf-8")
        print(f"wrote {len(notes)} synthetic notes to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
