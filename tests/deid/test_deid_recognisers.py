"""Each recogniser on synthetic sentences: what it must find and what it must leave alone."""

from __future__ import annotations

import pytest

from fedcare.deid import find_phi, is_valid_cn_id
from fedcare.deid._common import cn_id_checksum
from fedcare.deid.recognisers.identifiers import _cn_ids, _long_numbers


def _found(text: str, lang: str) -> list[tuple[str, str]]:
    return [(s.type, text[s.start:s.end]) for s in find_phi(text, lang)]


def _types_of(text: str, lang: str, value: str) -> set[str]:
    """Types of the spans overlapping ``value`` in ``text``."""
    start = text.index(value)
    end = start + len(value)
    return {s.type for s in find_phi(text, lang) if s.start < end and start < s.end}


# ---------------------------------------------------------------- Chinese resident ID

def _valid_id(body: str) -> str:
    return body + cn_id_checksum(body)


def test_cn_id_checksum_known_value() -> None:
    # ISO 7064 MOD 11-2 worked by hand: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
    body = "11010519491231002"
    total = sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5,
                                                  8, 4, 2), strict=True))
    assert cn_id_checksum(body) == "10X98765432"[total % 11] == "X"
    assert is_valid_cn_id(body + "X")
    assert is_valid_cn_id(body + "x")


@pytest.mark.parametrize("body", ["44030519800229123", "65280119251019724", "11010519491231002"])
def test_cn_id_valid_and_one_digit_off(body: str) -> None:
    good = _valid_id(body)
    assert is_valid_cn_id(good)
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert not is_valid_cn_id(wrong_check)
    assert not is_valid_cn_id(good[:8] + "13" + good[10:])  # month 13
    assert not is_valid_cn_id("0" + good[1:])  # no region starts with 0


def test_cn_id_in_text_needs_checksum_unless_labelled() -> None:
    good = _valid_id("32050619390720290")
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    text = f"患者证件已核对{good}，检验条码{bad}已打印。"
    # the resident-ID recogniser takes only the checksum-valid number ...
    assert [text[s:e] for s, e, _, _ in _cn_ids(text)] == [good]
    spans = find_phi(text, "zh")
    assert (spans[0].type, text[spans[0].start:spans[0].end]) == ("ID", good)
    # ... the other is caught only by the weaker bare-long-number rule (kept out of output
    # all the same, but at the lowest priority: any label or pattern overrides it)
    assert [text[s:e] for s, e, _, prio in _long_numbers(text)] == [good, bad]
    # a labelled 18-digit number is an ID even with a typo in the check digit
    assert _types_of(f"身份证号：{bad}。", "zh", bad) == {"ID"}
    assert _types_of(f"ID verified: {good}.", "en", good) == {"ID"}


# ---------------------------------------------------------------- phones, e-mail, URL, IP

@pytest.mark.parametrize("phone", ["(617) 555-0134", "617-555-0134", "617.555.0134",
                                   "+1 617 555 0134", "1-800-555-0199", "(617) 555-0134 ext. 22"])
def test_us_phones(phone: str) -> None:
    assert _found(f"Call back at {phone} tomorrow.", "en") == [("PHONE", phone)]


@pytest.mark.parametrize("phone", ["13812345678", "138-1234-5678", "138 1234 5678",
                                   "+86 13812345678", "010-87654321", "(021)62345678",
                                   "0755-8888 6666", "400-820-8820"])
def test_chinese_phones(phone: str) -> None:
    assert _found(f"联系电话{phone}，请及时回复。", "zh") == [("PHONE", phone)]


def test_numbers_that_are_not_phones() -> None:
    text = ("BP 120/80, HR 92, WBC 12.3, ICD-10 I50.22, NDC 0002-1433-80, dose 1-2 tabs, "
            "range 3.5-5.0, 2/6 murmur, lot 20210314.")
    assert _found(text, "en") == []


def test_email_url_ip() -> None:
    text = ("Mail j.smith+clinic@mail.example.org or see https://portal.example.org/pt/123; "
            "login from 192.168.1.23 and 2001:db8::1; firmware version 3.2.1.0; time 14:30:00.")
    assert _found(text, "en") == [
        ("EMAIL", "j.smith+clinic@mail.example.org"),
        ("URL", "https://portal.example.org/pt/123"),
        ("IP", "192.168.1.23"), ("IP", "2001:db8::1"),
    ]
    zh = "邮箱zhangwei@example.cn，影像链接：www.example-yy.cn/report/42电子报告已发送。"
    assert _found(zh, "zh") == [("EMAIL", "zhangwei@example.cn"),
                                ("URL", "www.example-yy.cn/report/42")]


# ---------------------------------------------------------------- labelled identifiers

@pytest.mark.parametrize(("text", "value", "phi_type"), [
    ("MRN: 00482913, admitted", "00482913", "MRN"),
    ("Medical Record # A1234567.", "A1234567", "MRN"),
    ("SSN 123-45-6789 on file", "123-45-6789", "SSN"),
    ("Social security number 123 45 6789.", "123 45 6789", "SSN"),
    ("Medicare #1EG4-TE5-MK73 verified", "1EG4-TE5-MK73", "INSURANCE"),
    ("Member ID W123456789.", "W123456789", "INSURANCE"),
    ("Account #4907-9461-84.", "4907-9461-84", "ACCOUNT"),
    ("Driver's license D1234567 on file.", "D1234567", "LICENSE"),
    ("License plate: 7ABC123.", "7ABC123", "VEHICLE"),
    ("VIN 1HGCM82633A004352 recorded", "1HGCM82633A004352", "VEHICLE"),
    ("Pacemaker serial number PJN123456H.", "PJN123456H", "DEVICE"),
    ("Passport number X12345678.", "X12345678", "ID"),
])
def test_labelled_identifiers_en(text: str, value: str, phi_type: str) -> None:
    assert _types_of(text, "en", value) == {phi_type}


@pytest.mark.parametrize(("text", "value", "phi_type"), [
    ("住院号：0012345。", "0012345", "MRN"),
    ("门诊号 MZ202312345，", "MZ202312345", "MRN"),
    ("医保卡号：1101234567890。", "1101234567890", "INSURANCE"),
    ("银行卡号：6222 0212 3456 7890。", "6222 0212 3456 7890", "ACCOUNT"),
    ("医师执业证书编号110110000012345。", "110110000012345", "LICENSE"),
    ("车牌号：京A·12345。", "京A·12345", "VEHICLE"),
    ("肇事车辆粤BD12345已登记。", "粤BD12345", "VEHICLE"),
    ("起搏器序列号：PJN123456H。", "PJN123456H", "DEVICE"),
    ("护照号码E12345678。", "E12345678", "ID"),
])
def test_labelled_identifiers_zh(text: str, value: str, phi_type: str) -> None:
    assert _types_of(text, "zh", value) == {phi_type}


# ---------------------------------------------------------------- ages over 89

@pytest.mark.parametrize(("text", "age"), [
    ("A 92-year-old man with CHF.", "92"), ("She is 101 y/o.", "101"),
    ("Pt is a 95 yo female.", "95"), ("Mr. X, aged 93, reports pain.", "93"),
    ("A ninety-one-year-old woman.", "ninety-one"), ("Age: 90.", "90"),
])
def test_ages_over_89_en(text: str, age: str) -> None:
    assert ("AGE", age) in _found(text, "en")


@pytest.mark.parametrize("text", ["A 67-year-old man.", "HR 92, SpO2 95%.", "Age 89.",
                                  "Metoprolol 100 mg.", "Temp 99F overnight."])
def test_ages_not_flagged_en(text: str) -> None:
    assert "AGE" not in {t for t, _ in _found(text, "en")}


# Round 5: more ways clinicians write an age, with ages the generator does not draw
# (it uses 90-104 and spells only 90-99).
@pytest.mark.parametrize(("text", "age"), [
    ("Mrs. Okafor (ninety-seven) underwent CT.", "ninety-seven"),
    ("Mr. Li (one hundred and seven) fell.", "one hundred and seven"),
    ("Ms. Vega (117 y/o) fell at home.", "117"),
    ("Age: one hundred twelve.", "one hundred twelve"),
    ("age: ninety-seven", "ninety-seven"), ("ninety seven yo woman", "ninety seven"),
    ("a one hundred ten-year-old man", "one hundred ten"),
    ("107 years of age", "107"), ("97 y old man", "97"), ("DOB 1/2/1918 (106 y).", "106"),
    ("At the age of 97 she moved.", "97"), ("Age (years): 108", "108"),
    ("Age/Sex: 97/F", "97"), ("Pt is 106.", "106"), ("She turned 97 last week.", "97"),
    ("Celebrated her 104th birthday.", "104"), ("Ms. Vega, 97, fell at home.", "97"),
    ("A 97–year–old man.", "97"), ("104 y. o. female", "104"),
])
def test_ages_over_89_en_more_forms(text: str, age: str) -> None:
    assert ("AGE", age) in _found(text, "en")


@pytest.mark.parametrize("text", [
    "HR 95, RR 22.", "Metoprolol 95 mg daily.", "Transferred to room 92.", "BP 140/90.",
    "SpO2 96% on RA.", "Glucose 104 mg/dL.", "Weight 97 kg.", "Temp 99.1.", "Hgb 9.7.",
    "FEV1 93% predicted.", "Ms. Vega, 45, fell at home.", "Mr. Smith (45) fell.",
    "Hospital Day (93) of stay.", "Grade (ninety-one) pending.", "Mr. Smith (95%) adherent.",
    "John Smith (100 mg) given.", "The clinic opened 92 years ago.", "Age 93rd percentile.",
    "She turned 90 degrees.", "He is 95 kg.", "Level 93 Y-axis.", "x 95 y 20",
    "ninety minutes later", "the ninety-day readmission", "one hundred percent",
    "Dr. Jones, 95 Main St, Boston", "lot 97M", "Plt 104, WBC 9.5.",
])
def test_ages_not_flagged_en_more(text: str) -> None:
    assert "AGE" not in {t for t, _ in _found(text, "en")}


@pytest.mark.parametrize(("text", "age"), [("患者92岁，", "92"), ("年龄：95岁", "95"),
                                           ("九十二岁高龄", "九十二"), ("101周岁", "101")])
def test_ages_over_89_zh(text: str, age: str) -> None:
    assert ("AGE", age) in _found(text, "zh")


def test_ages_not_flagged_zh() -> None:
    assert _found("心率92次/分，SpO2 92%，患者67岁，血红蛋白92g/L。", "zh") == []


# ---------------------------------------------------------------- names

@pytest.mark.parametrize(("text", "name"), [
    ("Seen by Dr. Okonkwo in clinic.", "Okonkwo"),            # not in any name list
    ("Patient: Thandiwe Przybylski", "Thandiwe Przybylski"),  # label
    ("John Smith reports chest pain.", "John Smith"),          # name lists
    ("SMITH, JOHN | MRN 12345678", "SMITH, JOHN"),             # header
    ("Call her daughter Oluwaseun at home.", "Oluwaseun"),    # kinship cue
    ("Electronically signed by Maria Gonzalez, MD", "Maria Gonzalez"),
    ("Follow up with Dr. Murphy next week.", "Murphy"),        # surname that is an eponym
])
def test_english_names(text: str, name: str) -> None:
    assert ("NAME", name) in _found(text, "en")


def test_english_name_propagates_to_later_mentions() -> None:
    text = "Dr. Okonkwo saw the patient. Okonkwo recommends rest."
    assert [v for t, v in _found(text, "en") if t == "NAME"] == ["Okonkwo", "Okonkwo"]


def test_english_words_that_are_not_names() -> None:
    text = ("Will continue lisinopril. Mark the incision site. May consider CPAP. Grace period "
            "ends soon. Parkinson disease and Crohn's disease noted; Foley catheter placed; "
            "Glasgow Coma Scale 14. Seen in the Department of Cardiology. Patient Education "
            "given. Hope to discharge.")
    assert _found(text, "en") == []


@pytest.mark.parametrize(("text", "name"), [
    ("患者张伟，男，65岁，因胸痛入院。", "张伟"),
    ("主治医师：欧阳明华", "欧阳明华"),          # compound surname
    ("姓名：禤嘉华", "禤嘉华"),                  # surname absent from the recogniser's list
    ("王主任查房后指示继续抗凝治疗。", "王"),     # surname + title
    ("由女儿周海燕陪同就诊。", "周海燕"),
    ("请程主任协助诊治。", "程"),
])
def test_chinese_names(text: str, name: str) -> None:
    assert ("NAME", name) in _found(text, "zh")


def test_chinese_words_that_are_not_names() -> None:
    text = ("高血压病史10年，常规服用阿司匹林100mg qd。心前区无隆起，肾区叩击痛阴性，麦氏点无压痛。"
            "张力性气胸已排除，金黄色葡萄球菌培养阳性，左前臂石膏固定。常规心电图示窦性心律。"
            "请心内科会诊，转入重症监护室。由孙女陪同就诊。")
    assert _found(text, "zh") == []


# Context cues for names whose surname the recogniser does not list (蹇, 鞠, 冼 are not in
# its list, nor in the benchmark generator's): a confirming word after a weak label, a label
# with a separator, a department before a title, a title between name and demographics.
@pytest.mark.parametrize(("text", "name"), [
    ("家属蹇立新电话13912345678。", "蹇立新"),          # weak label + 电话
    ("家属鞠红（妻子）已到。", "鞠红"),                 # weak label + bracket
    ("记录医师 冼志鹏，审核 蹇明", "冼志鹏"),            # signature labels with a space
    ("记录医师 冼志鹏，审核 蹇明", "蹇明"),             # ... and at the end of the text
    ("转诊医生：鞠宏。", "鞠宏"),                      # weak label + colon, nothing Han after
    ("心血管内科蹇卫东主任意见：暂不手术。", "蹇卫东"),  # department + name + title
    ("经呼延海春护士长会诊，建议转科。", "呼延海春"),    # 4 characters after a particle
    ("鞠文斌先生，93岁，因跌倒入院。", "鞠文斌"),        # title between name and age
    ("患者王国（女，77周岁）因发热入院。", "王国"),      # a dictionary word confirmed as a name
    ("医师签名：何国", "何国"),                         # ... after a strong label, alone
])
def test_chinese_names_by_context(text: str, name: str) -> None:
    assert ("NAME", name) in _found(text, "zh")


@pytest.mark.parametrize("text", [
    "医生：建议手术治疗。", "主任：考虑社区获得性肺炎。", "护士 测血压130/80mmHg。",
    "家属联系电话已登记。", "家属要求出院。", "审核 通过。", "审核人：质控科。",
    "护士：静滴头孢曲松钠2g。", "神经外科主任意见：暂不手术。", "急诊科值班医生电话通知。",
    "会诊医生意见：同意转科。", "骨科主任查房后指示：继续目前治疗。", "家属代诉病史。",
    "审核 2023年3月5日",
])
def test_chinese_label_contexts_without_names(text: str) -> None:
    assert [t for t, _ in _found(text, "zh") if t == "NAME"] == []


def test_organisation_member_ids_are_insurance() -> None:
    text = "Pinewood Mutual ID# 7788123. Acme Health Plan ID: XK12345678."
    assert _types_of(text, "en", "7788123") == {"INSURANCE"}
    assert _types_of(text, "en", "XK12345678") == {"INSURANCE"}
    for other, value in (("Photo ID# 12345678 checked.", "12345678"),
                         ("State ID 123456789 on file.", "123456789"),
                         ("Employee ID# A123456.", "A123456"),
                         ("Study ID 2021-0042 enrolled.", "2021-0042"),
                         ("Seen by Dr. Smith ID 1234567.", "1234567")):
        assert "INSURANCE" not in _types_of(other, "en", value), other


# ---------------------------------------------------------------- addresses and dates

def test_addresses() -> None:
    en = "Lives at 45 Oak Ave., Apt 3B, Springfield, IL 62704 with her son."
    assert ("ADDRESS", "45 Oak Ave., Apt 3B, Springfield, IL 62704") in _found(en, "en")
    zh = "家住上海市浦东新区张江路123弄4号502室，务农。"
    assert ("ADDRESS", "上海市浦东新区张江路123弄4号502室") in _found(zh, "zh")


@pytest.mark.parametrize(("text", "date"), [
    ("seen on 03/14/2021.", "03/14/2021"), ("on 2021-03-14 at noon", "2021-03-14"),
    ("since March 14, 2021,", "March 14, 2021"), ("on 14-Mar-2021", "14-Mar-2021"),
    ("labs on 3/14 were", "3/14"), ("in March 2021 she", "March 2021"),
])
def test_dates_en(text: str, date: str) -> None:
    assert ("DATE", date) in _found(text, "en")


@pytest.mark.parametrize(("text", "date"), [
    ("于2023年3月5日入院", "2023年3月5日"), ("复查2023-03-05", "2023-03-05"),
    ("3月5日出院", "3月5日"), ("二〇二三年三月五日签字", "二〇二三年三月五日"),
])
def test_dates_zh(text: str, date: str) -> None:
    assert ("DATE", date) in _found(text, "zh")


def test_date_like_numbers_are_not_dates() -> None:
    assert _found("BP 120/80, 5/5 strength, 3/6 murmur, 1/2 tab, in 2019.", "en") == []
    assert _found("咳嗽3月余，每日3次，2周后复查，病史10年。", "zh") == []


def test_registry_order_does_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """find_phi runs every registered recogniser; the spans kept do not depend on the order
    of registration (priority, then length, then position decide)."""
    from fedcare.deid import find_phi
    from fedcare.deid.recognisers import REGISTRY

    notes = [
        "Seen 03/12/2024, Mr John Carter (MRN: 88213456), 92 years old, 12 Oak Street, "
        "Springfield, IL 62704; call 217-555-0134 or mail j.carter@example.org.",
        "患者张伟，男，93岁，身份证号11010519491231002X，住北京市朝阳区建国路88号，电话13800138000。",
    ]
    expected = [find_phi(n) for n in notes]
    assert {"email", "date", "name-en", "name-zh", "cn-resident-id"} <= set(REGISTRY)
    reversed_registry = dict(reversed(list(REGISTRY.items())))
    monkeypatch.setattr("fedcare.deid._recognise.REGISTRY", reversed_registry)
    assert [find_phi(n) for n in notes] == expected
    assert all(expected)  # something was found in each note


def test_a_drug_before_its_form_is_no_name() -> None:
    """甘 is a surname; 甘精胰岛素 (insulin glargine) is a drug (found by a new user)."""
    assert _found("予门冬胰岛素 6U tid，甘精胰岛素 14U qn。", "zh") == []
    assert _found("改用地塞米松注射液 5mg。", "zh") == []
    assert [v for _, v in _found("患者甘建国，男，68岁。", "zh")] == ["甘建国"]
