"""The forms people actually write, one per item of the de-identification issue.

Each case is a short SYNTHETIC sentence (invented people and numbers): the identifier must be
removed span-exact (no character of it left in the output, whatever the tag), and the
clinical values beside it must stay untouched.  The cases are written from the issue's list
of forms, not from the recognisers' patterns; the forms first seen in the independently
written development notes (benchmarks/deid_blind/dev) are marked so.
"""

from __future__ import annotations

import itertools

import pytest

from fedcare.deid import deidentify_text, find_phi
from fedcare.deid._common import Span


def _left(text: str, value: str, spans: list[Span]) -> str:
    """Characters of ``value`` (first occurrence in ``text``) no span covers."""
    start = text.index(value)
    covered = {i for s in spans for i in range(s.start, s.end)}
    return "".join(ch for i, ch in enumerate(value, start)
                   if i not in covered and not ch.isspace())


def _touched(text: str, value: str, spans: list[Span]) -> bool:
    start = text.index(value)
    end = start + len(value)
    return any(s.start < end and start < s.end for s in spans)


CASES = [
    # names: lower case, common words, months, initials, titles alone, staff in passing
    ("en", "seen w/ his daughter hope mcallister today, BP <<142/88>>", "hope mcallister"),
    ("en", "Pt Jan Kowalski, 67M, on <<metformin 500 mg bid>>", "Jan Kowalski"),
    ("en", "Discussed with Dr. Brown; <<INR 2.3>> this morning", "Brown"),
    ("en", "wife Rose-Marie Dubois-Lefèvre called re <<warfarin 5 mg>>",
     "Rose-Marie Dubois-Lefèvre"),
    ("en", "Reviewed by J.K. (nurse) and Will, the ward clerk. <<SpO2 94%>>", "J.K."),
    ("en", "Son Mark drove her in; <<glucose 11.2 mmol/L>>", "Mark"),
    # Chinese names: compound surnames, 小王/老李, titles
    ("zh", "家属欧阳明华陪同，<<血压148/92mmHg>>", "欧阳明华"),
    ("zh", "今日由小王护士换药，<<体温37.8℃>>", "王"),
    ("zh", "老李说昨晚睡得不好，<<阿托伐他汀20mg>>继续", "李"),
    ("zh", "司马雯医生查房，<<肌酐132μmol/L>>", "司马雯"),
    # dates: orders, separators, month names, no year, weekdays, Chinese numerals, relative
    ("en", "Admitted Mar-03-2024 with <<CRP 88 mg/L>>", "Mar-03-2024"),
    ("en", "Follow-up on 3rd of March, <<HbA1c 7.2%>>", "3rd of March"),
    ("en", "seen Tue 3/5 for <<eGFR 58>>", "3/5"),
    ("en", "Surgery 2024-03-05; <<Hb 10.1 g/dL>>", "2024-03-05"),
    ("en", "Symptoms began last March; <<BMI 31.4>>", "March"),
    ("zh", "3月12日复查，<<糖化血红蛋白7.2%>>", "3月12日"),
    ("zh", "二〇二四年三月五日入院，<<白细胞12.3×10^9/L>>", "二〇二四年三月五日"),
    ("zh", "去年3月开始胸闷，<<心率96次/分>>", "3月"),
    ("zh", "2024/03/05出院，<<血红蛋白98g/L>>", "2024/03/05"),
    # devices, accounts, licences, staff numbers, permits, messaging IDs, URLs, IPs, vehicles
    ("en", "Pacemaker serial PJN804512H implanted; <<paced rate 60>>", "PJN804512H"),
    ("en", "Billing account 4410-2298-7731 on file; <<co-pay $25>>", "4410-2298-7731"),
    ("en", "Driver's licence D1234-56789-01234 shown; <<BAC 0.02>>", "D1234-56789-01234"),
    ("en", "Passport no. 534219876, travelling next week; <<Hep A dose 1>>", "534219876"),
    ("en", "Portal https://mychart.example.org/p/884213 for results, <<K 4.1>>",
     "https://mychart.example.org/p/884213"),
    ("en", "Remote login from 192.168.14.201, <<HR 72>>", "192.168.14.201"),
    ("en", "Arrived in a car with plate 7ABC123, VIN 1HGCM82633A004352; <<GCS 15>>", "7ABC123"),
    ("en", "Arrived in a car with plate 7ABC123, VIN 1HGCM82633A004352; <<GCS 15>>",
     "1HGCM82633A004352"),
    ("zh", "护士工号：N20318，<<输液速度40滴/分>>", "N20318"),
    ("zh", "港澳通行证C12345678，<<血糖6.1mmol/L>>", "C12345678"),
    ("zh", "加我微信 wxid_lh8823a 发报告，<<尿蛋白++>>", "wxid_lh8823a"),
    ("zh", "台胞证号码：12345678，<<尿酸512μmol/L>>", "12345678"),
    ("zh", "车牌粤B·12345，<<血压150/95mmHg>>", "粤B·12345"),
    # employers and schools (quasi-identifiers, removed by default)
    ("en", "Works at Harbor Freight Logistics LLC as a forklift driver; <<FEV1 72%>>",
     "Harbor Freight Logistics LLC"),
    ("zh", "就职于深圳市腾远科技有限公司，<<总胆固醇5.8mmol/L>>", "深圳市腾远科技有限公司"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_identifier_removed_and_values_kept(lang: str, marked: str, value: str) -> None:
    from fedcare.deid._eval import parse_marked

    text, _, keep = parse_marked(marked)
    spans = find_phi(text, lang)
    assert _left(text, value, spans) == "", f"left of {value!r}: {spans}"
    for k in keep:
        assert not _touched(text, text[k["start"]:k["end"]], spans), text[k["start"]:k["end"]]


def test_employer_kept_when_asked() -> None:
    text = "Works at Harbor Freight Logistics LLC; son Mark visits."
    out_default = deidentify_text(text, lang="en", key="k" * 16)
    out_kept = deidentify_text(text, lang="en", key="k" * 16, keep=("ORG",))
    assert "Harbor Freight" not in out_default.text
    assert "Harbor Freight Logistics LLC" in out_kept.text
    assert "Mark" not in out_kept.text


@pytest.mark.parametrize("mode", ["tag", "pseudonym"])
def test_unclassified_code_is_removed_not_kept(mode: str) -> None:
    """The safe default: a code that looks like an identifier but has no label is removed."""
    text = "Ref QX7731920 noted; <<HbA1c 7.2%>> and <<LDL 3.4 mmol/L>>."
    from fedcare.deid._eval import parse_marked

    plain, _, _ = parse_marked(text)
    out = deidentify_text(plain, lang="en", key="k" * 16, mode=mode)
    assert "7731920" not in out.text
    assert "HbA1c 7.2%" in out.text and "LDL 3.4 mmol/L" in out.text


def test_summary_counts_types_and_share_of_text_changed() -> None:
    text = "Pt Jan Kowalski seen 3/5/2024, MRN 00482913, phone 617-555-0143. <<INR 2.3>>"
    from fedcare.deid._eval import parse_marked

    plain, _, _ = parse_marked(text)
    out = deidentify_text(plain, lang="en", key="k" * 16)
    counts = dict(out.counts)
    assert counts.get("NAME") == 1 and counts.get("MRN") == 1 and counts.get("PHONE") == 1
    assert 0 < out.replaced_chars < len(plain)
    assert "INR 2.3" in out.text


# Round 2: forms seen on the no-longer-sealed test set (benchmarks/deid_blind/test), each
# written here as a new invented sentence (not copied from the notes).
CASES_2 = [
    # chat speakers written "name: message" (no time), a kinship word before the name
    ("en", "kemi: dad had a bad night\nola: did they check sugar\n"
           "kemi: yes <<glucose 9.4>>\nuncle bayo: pls update\nola: will do", "ola"),
    ("en", "kemi: dad had a bad night\nola: did they check sugar\n"
           "kemi: yes <<glucose 9.4>>\nuncle bayo: pls update\nola: will do", "bayo"),
    # lower-case names no list knows after a title or role
    ("en", "the doctor is dr okorafor, started <<furosemide 40 mg>>", "okorafor"),
    ("en", "nurse adaeze said the <<sodium 129>> again", "adaeze"),
    ("en", "social worker is mrs adebayo-clarke, <<MoCA 22/30>>", "adebayo-clarke"),
    # capitals with particles, Mc, quoted nicknames, a middle initial; initials kept whole
    ("en", 'Pt: CORNELIA "NELL" VAN DEN BERG   <<Hb 98 g/L>>', 'CORNELIA "NELL" VAN DEN BERG'),
    ("en", "Patient: McINTYRE-FOLAU, Teresa   <<K 3.2>>", "McINTYRE-FOLAU"),
    ("en", "TOBIAS R. OYELOWO-BRANDT\n12 Larch Way\n<<A1c 8.1%>>", "TOBIAS R. OYELOWO-BRANDT"),
    ("en", "Referred to Dr B. Venkataraghavan for <<EEG>>", "B. Venkataraghavan"),
    ("en", "Seen by ASHA worker Sr. Kavitha M. today; <<Hb 9.8 g/dL>>", "Kavitha M."),
    ("en", "Patient: Ibáñez Soto, Rocío    <<BP 130/80>>", "Ibáñez Soto, Rocío"),
    ("en", "E. Marchetti, CPNP\n<<TIR 64%>>", "E. Marchetti"),
    # addresses outside the US: Australian states, unit/number, Indian villages, plots,
    # Canadian postal codes, world cities after a cue or alone, labelled address lines
    ("en", "Home: 3/22 Kurrajong Ave, Blacktown NSW 2148   <<SpO2 96%>>",
     "3/22 Kurrajong Ave, Blacktown NSW 2148"),
    ("en", "Address: 9/14 Lilly Pilly Close, Mount Druitt   <<BSL 7.2>>",
     "9/14 Lilly Pilly Close, Mount Druitt"),
    ("en", "Lives in Hebbal village, Devanahalli taluk, Karnataka 562110; <<Hb 10.4>>",
     "Devanahalli taluk, Karnataka 562110"),
    ("en", "House at Plot 7, Kofo Street, Garki, Abuja; <<MUAC 21 cm>>",
     "Plot 7, Kofo Street, Garki, Abuja"),
    ("en", "Locked Bag 4021, Wollongong NSW 2500\n<<eGFR 61>>", "Locked Bag 4021"),
    # a labelled address ends with its sentence: the clinical value after it is kept
    ("en", "Home address: 48 Ironbark Rd, Dubbo NSW 2830. <<Hb 131 g/L>> on review",
     "48 Ironbark Rd, Dubbo NSW 2830"),
    ("en", "Verified with postal code K2P 1L4 today; <<HbA1c 6.9%>>", "K2P 1L4"),
    ("en", "Her brother flew in from Mombasa last week; <<CRP 41>>", "Mombasa"),
    ("en", "Crash on Highway 17 at dusk; <<GCS 14>>", "Highway 17"),
    # device serials after "serial" / "SN" / a device word, Medicare with a final digit, URN,
    # Aadhaar-type national numbers, encounter labels, Hong Kong IDs with a check digit
    ("en", "Insulin pump, serial 5520931, <<basal 0.8 u/h>>", "5520931"),
    ("en", "tibial tray SN 7730281K placed; <<EBL 200 mL>>", "7730281K"),
    ("en", "CGM transmitter 4KQ8T2 replaced; <<TIR 58%>>", "4KQ8T2"),
    ("en", "URN 3390 118   Medicare 2291 44018 3\n<<Hb 121>>", "2291 44018 3"),
    ("en", "URN 3390 118   Medicare 2291 44018 3\n<<Hb 121>>", "3390 118"),
    ("en", "Aadhaar 7731 0294 5518 on file; <<BP 148/92>>", "7731 0294 5518"),
    ("en", "Encounter: ENC 250107-3391   <<Temp 37.9>>", "ENC 250107-3391"),
    ("en", "HKID R482913(7) checked; <<eGFR 44>>", "R482913(7)"),
    ("en", "SSN (last four): 8841; <<Na 134>>", "8841"),
    # ages over 89: glued to sex after a name, in words after a verb, an ordinal, after kin
    ("en", "Bed 4 - OKAFOR, Bernard 93F  <<NEWS2 3>>", "93"),
    ("en", "grandad is ninety-six and still drives; <<BP 150/84>>", "ninety-six"),
    ("en", "planning her 97th next month; <<weight 48 kg>>", "97th"),
    ("en", "husband Colm (92) visits daily; <<MMSE 24>>", "92"),
    ("zh", "年齡：95歲，<<血壓150/90mmHg>>", "95"),
    # holidays written alone, Minguo calendar dates, festivals of a named year
    ("en", "Last flare Anzac Day, <<CRP 61>>", "Anzac Day"),
    ("en", "her mother died Christmas Day 2019; <<PHQ-9 14>>", "Christmas Day 2019"),
    ("zh", "随访日期：民国112年8月9日，<<空腹血糖6.8mmol/L>>", "112年8月9日"),
    ("zh", "外公去年冬至走的，<<心率88次/分>>", "去年冬至"),
    # Chinese chat speakers "X：" with a kinship word before the name
    ("zh", "二姐罗晓燕：爸住院了\n小舅孔立军：哪家医院\n二姐罗晓燕：<<肌酐150μmol/L>>\n"
           "小舅孔立军：我明天来", "罗晓燕"),
    ("zh", "二姐罗晓燕：爸住院了\n小舅孔立军：哪家医院\n二姐罗晓燕：<<肌酐150μmol/L>>\n"
           "小舅孔立军：我明天来", "孔立军"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_2,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_2])
def test_identifier_removed_round_2(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_2 = [
    # field labels of a note are not chat speakers; words after a role are not names
    ("en", "Plan: <<metoprolol 25 mg>> bd\nMeds: <<aspirin 75 mg>>\nPlan: review\nMeds: same"),
    ("en", "nurse practitioner visit, <<INR 2.4>>; dr said <<warfarin 3 mg>>"),
    ("en", "Community midwife follow-up via the clinic; <<Hb 11.2 g/dL>>"),
    ("en", "Vitamin D. Take <<colecalciferol 1000 units>> daily"),
    # respiratory rate, scales named after cities, a car model, units after a state code
    ("en", "Obs <<RR 22>>, <<HR 104>>; <<Glasgow Coma Scale 13>>; drives a Toyota Yaris"),
    ("en", "Give 2 SA <<4000 units>> as charted; <<Ottawa ankle rules>> negative"),
    ("en", "serial troponins and serial ECGs; <<pump rate 2 mL/h>>; christmas tree at home"),
    ("en", "<<Temp 101F>> overnight, <<T 100F>> this morning"),
    # a side of the body and a drug before its dose are not names
    ("zh", "听阈<<右耳 35dBHL>>、<<左耳 60dBHL>>，<<左膝>>肿胀"),
    ("zh", "<<布地奈德福莫特罗 160/4.5μg>> bid，<<美金刚 10mg>> qd，<<乳酸林格液 500ml>>"),
    ("zh", "诊断：肺炎\n处理：抗感染\n诊断：同上\n处理：观察 <<CRP 35mg/L>>"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_2)
def test_clinical_values_survive_round_2(lang: str, marked: str) -> None:
    from fedcare.deid._eval import parse_marked

    text, _, keep = parse_marked(marked)
    spans = find_phi(text, lang)
    for k in keep:
        assert not _touched(text, text[k["start"]:k["end"]], spans), (text[k["start"]:k["end"]],
                                                                      spans)
    assert not [text[s.start:s.end] for s in spans if s.type in ("NAME", "ADDRESS")], spans


# Round 3: forms seen on the second sealed set (benchmarks/deid_blind/test2, no longer
# sealed since), each written here as a new invented sentence.
CASES_3 = [
    # letters beyond Latin-1 in a name; Irish and Maori particles; a title then particles
    ("en", "Witnessed by: Bożena Wróblewska, HCA. <<BP 128/76>>", "Bożena Wróblewska"),
    ("en", "Re: Siobhán Ní Bhriain   <<eGFR 52>>", "Siobhán Ní Bhriain"),
    ("en", "Re: Tomás Ó Ceallaigh   <<eGFR 52>>", "Tomás Ó Ceallaigh"),
    ("en", "Reviewed with Mrs. de la Fuente today; <<HbA1c 7.9%>>", "de la Fuente"),
    ("en", "Signed: R. van den Akker, MD   <<LDL 3.1>>", "R. van den Akker"),
    # an initial before a surname found elsewhere, and a signature line
    ("en", "K. Te Rangi / 14.02.25\n<<BP 140/90>>", "K. Te Rangi"),
    ("en", "<<Na 131>> noted.\nJ. Abernethy EN   03/02/2025 06:10", "J. Abernethy"),
    ("en", "<<INR 2.9>>, dose held.\nL-P Nguyen, PharmD 12/01/25", "L-P Nguyen"),
    # a role before a given name alone
    ("en", "- diabetes nurse Keisha to phone on Monday; <<HbA1c 8.4%>>", "Keisha"),
    ("en", "case mgr Colleen ext 5512 aware; <<MoCA 21/30>>", "Colleen"),
    # chat lines with the time (and date) first
    ("en", "[8:02] fi: mum is in ed again\n[8:05] dan: which one\n[8:06] fi: <<sats 88%>>\n"
           "[8:10] dan: omw", "fi"),
    ("en", "[8:02] fi: mum is in ed again\n[8:05] dan: which one\n[8:06] fi: <<sats 88%>>\n"
           "[8:10] dan: omw", "dan"),
    ("en", "03/11 21:40  priya nair:\nhi its priya nair, <<bp 162/101>> tonight\n"
           "03/11 21:52  priya nair:\nsorry", "priya nair"),
    # a date next to an eye word after a date cue is still a date
    ("en", "admitted 6/12 right after the fall; <<Hb 102 g/L>>", "6/12"),
    ("en", "dob 6/9, <<BP 150/95>> R arm", "6/9"),
    # Chinese: a familiar form in a chat (X哥, 大X), a family chat with kinship speakers
    ("zh", "6月2日 20:11\n军哥：周医生在吗\n周海涛：在\n军哥：<<血糖11.2>>高不高\n周海涛：偏高",
     "军哥"),
    ("zh", "大斌: 爸怎么样\n三姐: 刚做完透析\n大斌: <<钾5.9>>要紧吗\n三姐: 医生说要控制", "大斌"),
    # an English given name with a Chinese surname, 阿 with an English name
    ("zh", "陪同：女儿Grace林（联系电话另附），<<血压132/84mmHg>>", "Grace林"),
    ("zh", "寄件人：Vivian黃（理賠部），<<住院5日>>", "Vivian黃"),
    ("zh", "同事阿Tom送来急诊，<<心率112次/分>>", "阿Tom"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_3,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_3])
def test_identifier_removed_round_3(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_3 = [
    # a role before a word that is not a given name; clinical words after a capital
    ("en", "Seen by the nurse Practitioner; clerk Office closed; <<INR 2.2>>"),
    ("en", "The nurse Manager agreed with <<furosemide 40 mg>>; mgr Approval pending"),
    ("en", "[09:10] Plan: <<paracetamol 1 g>> qds\n[09:40] Plan: review\n[10:00] Obs: stable"),
    # visual acuities, scale scores and pain out of ten written as fractions; drug and
    # consumable lots (values seen touched on the third sealed set, after its scoring)
    ("en", "Acuity was <<6/24 right>> and <<6/9 left>>; <<R 6/12>>, <<L 6/18>>"),
    ("en", "<<IADL 2/8>>, <<GDS 3/15>>; <<GTN 0.4 mg>> with relief to <<3/10>>"),
    ("en", "dialyser <<FX80 lot 2311A0462>>; <<Ventolin lot 1K9932>>; pod <<lot L5521-0983>>"),
    ("zh", "矫正视力 <<右 6/18>> <<左 6/9>>；<<IADL 2/8>>；<<画钟试验 2/4>>；药品<<批号KT0B2204>>"),
    # instrument and scale names with Latin letters beside Chinese
    ("zh", "Holter动态心电图，<<Barthel指数60分>>，Ki67阳性，<<Apgar评分9分>>，CT值45"),
    ("zh", "诊断：胃炎\n处理：观察\n诊断：复查\n处理：随访 <<CRP 8mg/L>>"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_3)
def test_clinical_values_survive_round_3(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 4: forms seen on the fourth sealed set (benchmarks/deid_blind/test4, read after its
# one scoring), each written here as a new invented sentence.
CASES_4 = [
    # a compound surname the segmenter tags alone, in simplified and traditional forms
    ("zh", "团队组长端木志远\n签约编号：QX-0311，<<血压136/84mmHg>>", "端木志远"),
    ("zh", "学生：司徒佳怡  女  <<身高152cm>>", "司徒佳怡"),
    ("zh", "致：康寧醫務中心 諸葛醫生\n<<血紅蛋白 112g/L>>", "諸葛"),
    # a transliterated name whose parts a middle dot joins
    ("zh", "陪诊家属：阿依努尔·买合木提  女  <<血糖 9.1mmol/L>>", "阿依努尔·买合木提"),
    ("zh", "同来同事迪丽娜尔·艾买提（电话另附），<<心率88次/分>>", "迪丽娜尔·艾买提"),
    # letters or a province glued before a code's digits; a check digit in brackets
    ("zh", "输血袋号：X07231940551，<<血型 B Rh+>>", "X07231940551"),
    ("zh", "会员号：CLUB0391847266，<<二甲双胍 0.5g>>", "CLUB0391847266"),
    ("zh", "（执法证号苏32050019231）核查，<<住院7天>>", "苏32050019231"),
    ("zh", "澳门身份证：5190823(4)，<<血压150/95>>", "5190823(4)"),
    # an extension written alone, or after a number
    ("en", "Call the ward clerk, ext 6712, re <<INR 3.4>>", "6712"),
    ("en", "ACC case owner, ph 0800 444 219 ext 3308; <<VAS 6/10>>", "ext 3308"),
    # an age in words, then in digits; an age opening a bracket; Chinese numerals without 岁
    ("en", "Age: ninety-two (92)   <<MMSE 22/30>>", "92"),
    ("en", "carer for his father (ninety-seven, lives alone); <<BP 144/90>>", "ninety-seven"),
    ("en", "his uncle Tane Whaanga (103, ex-navy) in Napier; <<Hb 121>>", "103"),
    ("zh", "老爷子九十四了今天还能下地，<<血氧 95%>>", "九十四"),
    # an age in words after "a woman of", "I'm" or between commas; in brackets after a DOB
    ("en", "I told Bernadette, a woman of ninety-three, not to drive. <<MoCA 19/30>>",
     "ninety-three"),
    ("en", "she laughs \"im ninety six dear\" and <<BP 150/70>>", "ninety six"),
    ("en", "bed 4: j. koekemoer m, ninety-one, <<Hb 98>>", "ninety-one"),
    ("en", "dob 03.02.31 (93)\n<<BMI 19.2>>", "93"),
    # an SSN masked but for its last four digits; a national number written in groups
    ("en", "SSN on file XXX-XX-4471; <<A1c 7.9%>>", "XXX-XX-4471"),
    ("en", "ID 880214 5120 087, <<GCS 15>>", "880214 5120 087"),
    ("en", "NHIF: 5530129   ID No: 31904477\n<<K 3.1>>", "31904477"),
    # a card masked but for its last digits; a licence in letter and digit groups
    ("en", "Paid by card **** 8834 at reception; <<INR 2.6>>", "**** 8834"),
    ("en", "form for licence NZ 118 440 927 sent; <<MMSE 26/30>>", "NZ 118 440 927"),
    # an IBAN in groups of four after its label
    ("en", "Refund to IBAN DE44 5001 0517 5407 3249 31 by Friday; <<HbA1c 6.8%>>",
     "DE44 5001 0517 5407 3249 31"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_4,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_4])
def test_identifier_removed_round_4(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_4 = [
    # a scale's score written as a fraction after its name; a knee's range of movement
    ("en", "<<Epworth 9/24>> today; <<SCAT6 symptom number 8/22>>, <<mBESS errors 6/30>>"),
    ("en", "R knee <<ext 10>> <<flex 95>>; L knee <<ext 0>>; <<recall 7/10>>"),
    ("zh", "病理pT2N1M0，<<淋巴结 2/14>>，<<阳性 1/3>>"),
    # a number after a non-name in brackets is no age
    ("en", "the patient (91 kg, <<BMI 33>>) and Total Score (95, high)"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_4)
def test_clinical_values_survive_round_4(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


def test_a_widened_code_keeps_clear_of_the_identifier_before_it() -> None:
    """A code taken whole with the letters glued before it never runs into a span found
    before it (the widening stops where another identifier ends)."""
    text = "unit W07231940551, donor MRN 55120934, bag ABW07231940552"
    spans = find_phi(text, "en")
    assert not _left(text, "W07231940551", spans) and not _left(text, "ABW07231940552", spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


# Round 5, from the misses of the sixth sealed set (test6, scored once before any of this):
# addresses found in parts, a comma left between them; the sentences are new.
CASES_5 = [
    # a lot, unit or block before the street; a state and postcode after the town
    ("en", "Address: Lot 7 Bellbird Rd, via Tumbarumba NSW 2653; <<eGFR 48>>",
     "Lot 7 Bellbird Rd, via Tumbarumba NSW 2653"),
    ("en", "son lives Unit 2/9 Wattle St, Orange NSW 2800, <<Na 131>>",
     "Unit 2/9 Wattle St, Orange NSW 2800"),
    ("en", "Flat 3, Harbour View, Mill Road, Ennis, Co. Clare V95 T2X4\n<<BP 150/85>>",
     "Flat 3, Harbour View, Mill Road, Ennis, Co. Clare V95 T2X4"),
    ("en", "home: Blk 118 Bedok North Street 3, #05-412, Singapore 460118. <<Hb 9.8>>",
     "Blk 118 Bedok North Street 3, #05-412, Singapore 460118"),
    ("en", "post to 7 Jalan Kemuning Indah, Singapore 457211 please; <<CRP 14>>",
     "7 Jalan Kemuning Indah, Singapore 457211"),
    ("en", "stays at 88 Kowhai Road, RD 4, Rangiora 7474 with her son; <<SpO2 93%>>",
     "88 Kowhai Road, RD 4, Rangiora 7474"),
    ("en", "lived at RR 2 Box 41, Cuero, TX 77954 until May; <<Cr 1.4>>",
     "RR 2 Box 41, Cuero, TX 77954"),
    ("en", "Gastro Unit, Mercy Hospital\nMain Street, Dublin 15\n<<ALT 84>>", "Dublin 15"),
    # a relative's age in brackets after her name; Chinese ages over 89 in words
    ("en", "her nana Ivy (94) minds the baby; <<Temp 38.4>>", "94"),
    ("zh", "外公快百岁了，<<血压 150/90mmHg>>", "快百岁"),
    ("zh", "婆婆都九十四的人了，<<空腹血糖 7.8mmol/L>>", "九十四"),
    # initials signing a note off; an initial before a surname found
    ("en", "<<Hb 102>>, review in 2/52.\n\nKT / reg\n", "KT"),
    ("en", "Plan as above, <<sats 95%>>.\nRB\n", "RB"),
    ("en", "Electronically signed 03/02/2025 09:15   DM\n", "DM"),
    ("en", "Kind regards,\nP. Oyelaran\nClinical Nurse Specialist", "P. Oyelaran"),
    # a nurse's or aide's title, a Malay honorific before a name
    ("en", "fed by CNA Ruby and LPN Adeyemi, <<intake 60%>>", "Adeyemi"),
    ("en", "letters c/o Puan Zaleha, <<HbA1c 8.1%>>", "Zaleha"),
    # lunar days without 农历, 廿 for twenty, a day in Chinese numerals before what happens
    ("zh", "奶奶说正月初六生日，<<血钾 3.4mmol/L>>", "正月初六"),
    ("zh", "理赔部\n二〇二五年三月廿二日\n<<住院 7 天>>", "二〇二五年三月廿二日"),
    ("zh", "我二十号请假去陪床，<<体温 38.2℃>>", "二十号"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_5,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_5])
def test_identifier_removed_round_5(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_5 = [
    # a clinical abbreviation on the last line is no signature; a ward bed is no date
    ("en", "Chest clear, <<RR 16>>.\nNAD\n"),
    ("en", "<<insulin 6 units>>\ngiven 08:00 SC\n"),
    ("zh", "住<<十五号床>>，<<血红蛋白 98g/L>>"),
    # a number in brackets after a measurement is no age (see also the year after a town)
    ("en", "Sats (96) and <<Hb 96>> on the ward, <<RR 18>>"),
    ("zh", "<<血小板 100>>，<<百岁>>"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_5)
def test_clinical_values_survive_round_5(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


def test_a_year_after_an_address_is_no_postcode() -> None:
    """A town's 4-digit postcode is taken with it, a year is not ("Dubbo 2019")."""
    text = "seen at 14 Elm St, Dubbo 2019 and at 3 Oak Rd, Orange 2800 in June"
    spans = [text[s.start:s.end] for s in find_phi(text, "en") if s.type == "ADDRESS"]
    assert "3 Oak Rd, Orange 2800" in spans
    assert not any("2019" in s for s in spans)


# Round 6, from the misses of the seventh sealed set (test7, scored once before any of
# this); the sentences are new.
CASES_6 = [
    # addresses: a building wing, "No." and "off" (India, Nigeria, Kenya), a phase number,
    # a kilometre post, a Glasgow flat number, a PIN after a dash
    ("en", "Radiology, Birchwood Wing, Hollins Road, Hemel HP2 4AD\n<<TSH 0.02>>",
     "Birchwood Wing, Hollins Road, Hemel HP2 4AD"),
    ("en", "Clinic: No. 9, 2nd Cross, 4th Main, Jayanagar, Mysuru - 570011\n<<FT4 31>>",
     "No. 9, 2nd Cross, 4th Main, Jayanagar, Mysuru - 570011"),
    ("en", "Home: Ruaka, Plot 42, off Limuru Road, Kiambu\n<<Hb 10.2>>",
     "Ruaka, Plot 42, off Limuru Road"),
    ("en", "Plot 11, Bourdillon Way, Ikoyi Phase 2\n<<BP 132/80>>",
     "Plot 11, Bourdillon Way, Ikoyi Phase 2"),
    ("en", "Km 62 Maharlika Highway, Tiaong\n<<Na 134>>", "Km 62 Maharlika Highway"),
    ("en", "new flat is 3/2, 17 Dumbarton Road, Partick G11 6AB so <<CO 4 ppm>>",
     "3/2, 17 Dumbarton Road, Partick G11 6AB"),
    # codes: a letter prefix joined by a dash, a member number after "member:", a card
    # named by its scheme, a scheme's name, national numbers, a booking reference
    ("en", "SHIF no. SHIF-0042-7781-0093; <<K 5.1>>", "SHIF-0042-7781-0093"),
    ("en", "BUPA member: BP-7719204, <<INR 2.4>>", "BP-7719204"),
    ("en", "MRN: KLH-0044718 admitted, <<lactate 3.1>>", "KLH-0044718"),
    ("en", "her GMS card: B22 871 604 and <<Hb 11.1>>", "B22 871 604"),
    ("en", "Medical card 612 447 91 K, <<eGFR 52>>", "612 447 91 K"),
    ("en", "medical aid: Bonitas Medical Scheme BMS 77201834, <<ALT 40>>", "BMS 77201834"),
    ("en", "NRIC: 781203-14-6629 verified; <<Cr 88>>", "781203-14-6629"),
    ("en", "booking ref ZK4QTN moved to Friday; <<SpO2 97%>>", "ZK4QTN"),
    # dates: a two-digit year after the month, an apostrophe year, a review date, a month
    # alone
    ("en", "Reviewed Tue 4 Mar 25 by Dr Ngata; <<urate 0.52>>", "Tue 4 Mar 25"),
    ("en", "on levothyroxine since Nov '23, <<TSH 3.1>>", "Nov '23"),
    ("en", "<<Hb 104>>, review 19/05", "19/05"),
    ("en", "Echo Oct: <<EF 35%>>", "Oct"),
    # ages over 89: after "she is", "still ... at", a bare number after a birth date
    ("en", "She is 94 and walks daily, <<BP 128/70>>", "94"),
    ("en", "dad still swimming at 91, <<HR 64>>", "91"),
    ("en", "DOB: 02.11.1931 - 93, lives alone\n<<MMSE 27/30>>", "93"),
    ("zh", "阿嫲九十五咁大，<<血压 140/80mmHg>>", "九十五"),
    # vehicles: after a verb of driving, an aircraft registration, a plate with letters after
    ("en", "still drives his Axio (KDA 118J) to market; <<HbA1c 7.4%>>", "KDA 118J"),
    ("en", "flies a Piper Cub, reg C-GQTX\n<<FEV1 88%>>", "C-GQTX"),
    ("en", "vehicle LSR 409 KJ seen leaving; <<GCS 14>>", "LSR 409 KJ"),
    # names: lower case after "typed by", a greeting, a verb of speech; alone after
    # "thanks"; two lower-case words before an age; a patronymic; a nickname in brackets;
    # initials ending the rows of a dated log
    ("en", "dictated, typed by shannon, <<K 4.4>>", "shannon"),
    ("en", "hiya gareth, the patches are ok\n<<CO 6 ppm>>", "gareth"),
    ("en", "patches ok, brenda says the itching is better <<Hb 12.0>>", "brenda"),
    ("en", "<<BP 122/78>> fine\nthanks\nwiola\n", "wiola"),
    ("en", "diver hiroshi tanaka 38y/o, <<SpO2 96%>>", "hiroshi tanaka"),
    ("en", "Seen by Dr Siti Hajar binti Rosli, <<Hb 9.9>>", "Siti Hajar binti Rosli"),
    ("en", "SN Priya a/p Ganesan checked, <<T 37.9>>", "Priya a/p Ganesan"),
    ("en", "Patient: Alexander Brookes (Alex)   <<INR 3.1>>", "Alexander Brookes (Alex)"),
    ("en", "03/02/25    2.1    3 mg daily     TMcK\n10/02/25    2.6    3 mg daily     TMcK\n",
     "TMcK"),
    ("en", "Consultant (MMC 51842), <<Na 138>>", "51842"),
    # Chinese: a village and its group, a hotel room, a holiday's days off, a year before
    # a lunar date, a surname given alone, a weekday that is an appointment, a ticket
    ("zh", "3     李桂兰      51     石板村二组        <<BI-RADS 3>>", "石板村二组"),
    ("zh", "住宿：某某路12号云海大酒店816房，<<心率 88次/分>>", "云海大酒店816房"),
    ("zh", "国庆假期摔倒，<<血红蛋白 96g/L>>", "国庆假期"),
    ("zh", "出生：1941年农历八月十五，<<血钾 3.9mmol/L>>", "1941年农历八月十五"),
    ("zh", "她姓欧阳，<<尿酸 480μmol/L>>", "欧阳"),
    ("zh", "周三早上空腹来抽血，<<ALT 56U/L>>", "周三"),
    ("zh", "机票（票号880-2271046615）改签，<<血氧 95%>>", "880-2271046615"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_6,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_6])
def test_identifier_removed_round_6(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_6 = [
    # readings after "still ... at", "is", a birth date; vitals after "drives" or "irreg"
    ("en", "<<sats still at 92>> on air, <<HR still at 95>>"),
    ("en", "She is <<92% adherent>>; he is <<95 kg>>"),
    ("en", "DOB 12/03/1951, <<weight 95 kg>>"),
    ("en", "still drives; <<BP 150/84>>"),
    ("en", "<<HR 104 irreg>>   <<BP 98/56>>   <<RR 22>>"),
    # "thanks" then a field of the note; a kinship word before "says"
    ("en", "thanks\n<<plan>>: <<INR 2.5>>"),
    ("en", "nan says the <<amlodipine 5 mg>> helps"),
    # a schedule, not a date: 每周一、三、五, a clinic's weekdays
    ("zh", "<<每周一、三、五透析>>，周二、周四上午门诊"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_6)
def test_clinical_values_survive_round_6(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 7, from the misses of the eighth sealed set (test8, scored once before any of
# this); the sentences are new.
CASES_7 = [
    # names: honorifics of South Asia, the Philippines, the Gulf; a scribe; a particle or a
    # quoted nickname between two parts; a surname in capitals; a month name that acts;
    # the initials of a dictation reference
    ("en", "Father: Md. Rafiqul Islam, driver; <<Hb 11.2>>", "Rafiqul Islam"),
    ("en", "Patient: Smt. LAKSHMAMMA K.   <<IOP 21 mmHg>>", "LAKSHMAMMA K."),
    ("en", "group leader Hajja Fatma Soliman, <<BP 150/90>>", "Fatma Soliman"),
    ("en", "Scribe: Tomasz Nowak\n<<EF 30%>>", "Tomasz Nowak"),
    ("en", "Re: Niamh Ní Bhraonáin, <<Na 136>>", "Niamh Ní Bhraonáin"),
    ("en", "mom of Andres \"Dodong\" Cruz, <<Ferritin 12>>", "Andres \"Dodong\" Cruz"),
    ("en", "Name: Ahmed Yusuf QURESHI    Age/Sex: 41/M", "Ahmed Yusuf QURESHI"),
    ("en", "April fills the dosette box on Sundays; <<INR 2.2>>", "April"),
    ("en", "Typed: 02/04/2025   RKD/jm\n", "RKD"),
    # ages over 89: a relative's "is", "who is", "got to"
    ("en", "her nani is 93 and lives with them, <<HbA1c 6.1%>>", "93"),
    ("en", "Grandmother Amina, who is 91, noticed it; <<Hb 9.9>>", "91"),
    ("en", "he said he got to 95 without doctors; <<eGFR 40>>", "95"),
    # codes: membership, HMO and NHIS numbers, a practice number, a licence with a dashed
    # prefix, a CNIC, an employee number, a requisition, a user name, a ship's IMO number
    ("en", "Membership no.:   GEMS 00914472, <<PSA 8.1>>", "GEMS 00914472"),
    ("en", "NHIS no.: 77120493; <<Hb 10.4>>", "77120493"),
    ("en", "Dr P. Naidoo, practice no. 0331182; <<Cr 110>>", "0331182"),
    ("en", "DHA licence DHA-P-0071234, <<K 4.0>>", "DHA-P-0071234"),
    ("en", "mother CNIC 42101-5583927-4; <<Hb 10.1>>", "42101-5583927-4"),
    ("en", "emp no. KTM-2231 at the mill; <<FEV1 71%>>", "KTM-2231"),
    ("en", "requisition REQ 4410927 for bloods; <<CRP 31>>", "REQ 4410927"),
    ("en", "last login 10:02 from home, user jdmensah77\n", "jdmensah77"),
    ("en", "Vessel: MV Northern Star, IMO 9321457; <<SpO2 94%>>", "9321457"),
    ("en", "ref CL-INV-88213 for the claim; <<ALT 33>>", "CL-INV-88213"),
    # dates: a weekday in brackets, a check date, holidays and Islamic months
    ("en", "Next appointment May 20 (Tue), 10:00; <<Hb 12.1>>", "May 20 (Tue)"),
    ("en", "Hb 9.8 at the postnatal check 9/5.", "9/5"),
    ("en", "tired since Eid al-Adha; <<TSH 7.9>>", "Eid al-Adha"),
    ("en", "lost 4 kg since Labour Weekend; <<Hb 11>>", "Labour Weekend"),
    ("en", "fasted in Ramadan, Umrah during Shawwal last year; <<BG 7.1>>", "Shawwal"),
    # addresses: a block letter, a building, a barangay, a PO box with a bare postcode,
    # a lawn, a hyphenated street, a township after its county (zh)
    ("en", "Add: House 14, Block D, Gulberg, Lahore\n<<BP 110/70>>", "House 14, Block D"),
    ("en", "Home address:   Purok 5, Brgy. San Roque, Tarlac\n", "Purok 5, Brgy. San Roque"),
    ("en", "PO Box 2281, Parklands, 2121   Tel 011 555 0192", "PO Box 2281, Parklands, 2121"),
    ("en", "22 Oakfield Lawn, Bishopstown, Cork T12 X8P1\n<<Hb 13>>",
     "22 Oakfield Lawn, Bishopstown, Cork T12 X8P1"),
    ("en", "9 Abu-Bakr St., Dokki, Giza\n<<HbA1c 8.4%>>", "9 Abu-Bakr St."),
    ("zh", "婆婆在美姑县巴普镇老家，<<血压 130/80mmHg>>", "美姑县巴普镇"),
    # phone numbers read out in words; Chinese numerals; a Pakistani CNIC and an official
    # letter's number
    ("en", "call me back, four five two one, eight eight zero three. <<BP 120/80>>",
     "four five two one, eight eight zero three"),
    ("zh", "家属电话一三九 幺七七二 八零四一，<<血钾 3.5mmol/L>>", "一三九 幺七七二 八零四一"),
    ("zh", "南洋船〔2024〕088号\n关于船员的函，<<心率 72次/分>>", "南洋船〔2024〕088号"),
    # zh: 下週三, an appointment after 约, a holiday next month
    ("zh", "他說下週三覆診，<<尿酸 420μmol/L>>", "下週三"),
    ("zh", "约周五上午做胃镜，<<ALT 40U/L>>", "周五"),
    ("zh", "下个月端午回老家，<<血糖 6.8mmol/L>>", "下个月端午"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_7,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_7])
def test_identifier_removed_round_7(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_7 = [
    # a lab named before "is NN" is a reading; a unit after "/" is no typist; rating
    # scales out of nine are no dates; a hospital's name is not a name with a surname
    ("en", "<<Chloride is 98>>, <<Sodium is 139>>"),
    ("en", "<<glucose 5.5 mmol/L>>   <<IU/ml 40>>"),
    ("en", "Teacher form: <<inattention 4/9>>, <<hyperactivity 3/9>>, <<baseline 8/9>>"),
    ("en", "Baseline per carer: <<Clinical Frailty Scale 6>>"),
    ("zh", "来访者说比上个月好一点，<<PHQ-9 12分>>"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_7)
def test_clinical_values_survive_round_7(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 8, from the misses of the ninth sealed set (test9, scored once before any of
# this); the sentences are new.
CASES_8 = [
    # a plate after a vehicle word even when it reads like a code; an Indian plate
    ("en", "borrowed his car, rego KQP71T; <<Hb 13.2>>", "KQP71T"),
    ("en", "their ute MXR512 in the car park; <<BGL 9.1>>", "MXR512"),
    ("en", "brought by ambulance KA 05 MX 4471, <<GCS 14>>", "KA 05 MX 4471"),
    # numbers: a card named by a long acronym, a plan with letters, OP numbers, a
    # slashed licence, a card's trailing check characters, a phone extension
    ("en", "PMJAY card: PMJAY 44-0912-77310, <<Hb 8.9>>", "PMJAY 44-0912-77310"),
    ("en", "Supp plan: ABX 55102934-02; <<LDH 410>>", "ABX 55102934-02"),
    ("en", "OP No: 25-1104-2291   <<Temp 38.9>>", "25-1104-2291"),
    ("en", "trek licence TG/SB/0731 checked; <<SpO2 88%>>", "TG/SB/0731"),
    ("en", "GMS card: K-4471 902 3X; <<eGFR 61>>", "K-4471 902 3X"),
    ("en", "Tel 021 447 8812 ext 214\n<<INR 2.8>>", "021 447 8812 ext 214"),
    # dates: month, day and a two-digit year after a slash
    ("en", "Date seen: Mar. 14/25\n<<ESR 44>>", "Mar. 14/25"),
    # names: a sign-off with a blank line before the name, also a word; honorifics;
    # kin words; "X lives with"; a patronymic marker; a lower-case name after "madam"
    ("en", "Kind regards\n\nThandeka\nCase Manager", "Thandeka"),
    ("en", "Yours sincerely\n\nHope\n\nDr Hope Mensah", "Hope"),
    ("en", "supervisor Engr. Bilal 0301-555 7721; <<Temp 40.1>>", "Bilal"),
    ("en", "Nurse: Sis. Marcia   <<PASI 14>>", "Marcia"),
    ("en", "her girlfriend Tamika asked for a note; <<BSA 20%>>", "Tamika"),
    ("en", "Isabelle lives with her father, <<FEV1 80%>>", "Isabelle"),
    ("en", "Name: Lakshmi W/o Venkatesan   Age/Sex: 44/F", "Lakshmi W/o Venkatesan"),
    ("en", "ok thank u madam grace, see you fri", "grace"),
    # an age in brackets after a relative
    ("en", "since granny (95, stays in the village) fell; <<Hb 10>>", "95"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_8,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_8])
def test_identifier_removed_round_8(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_8 = [
    # "Ate" before food is a verb; a team signing off is no name
    ("en", "Ate <<pizza>> at a party, missed <<bolus>>"),
    ("en", "Kind regards\n\nThe Team\n<<Hb 12>>"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_8)
def test_clinical_values_survive_round_8(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 9, from the misses of the tenth sealed set (test10, scored once before any of
# this); the sentences are new.
CASES_9 = [
    # chat speakers after the time ("21:07 - kyle"), "its" before a lower-case name
    ("en", "21:07 - maddie\nhi its maddie again\n08:50 - maddie\nok <<rash 6 cm>>",
     "maddie"),
    # other calendars and languages; a weekday before a date in Indonesian; ranges
    ("en", "last dose Yekatit 14; <<rifampicin 600 mg>>", "Yekatit 14"),
    ("en", "SDR-PEP on 3 Ginbot; <<BI 2+>>", "3 Ginbot"),
    ("en", "DOB: 12 Shawwal 1409 (17 May 1989)", "12 Shawwal 1409"),
    ("en", "Sent: Kamis, 06-06-2024 09:10\n<<T 38.4>>", "Kamis, 06-06-2024"),
    ("en", "Itaqui, 14 de março\n<<Hb 10.1>>", "14 de março"),
    ("en", "Month: Mar-Apr, <<MB 7 lesions>>", "Mar-Apr"),
    ("en", "Summit night of 20/21 May, <<SpO2 71%>>", "20/21 May"),
    ("en", "- Review 30.11. <<INR 2.1>>", "30.11"),
    # ages: "shes 93", "said to be about 96", "ninety-something"
    ("en", "my nan was there too, shes 93 lol; <<rash 5 cm>>", "93"),
    ("en", "Mother, said to be about 96, examined at home; <<no lesions>>", "96"),
    ("en", "Great-grandad (ninety-something) wants to visit", "ninety-something"),
    # names: a nursing officer, a nickname label, a dash signature, "ask for", a rep
    ("en", "Night shift (N/O Chiamaka)\n<<T 39.1>>", "Chiamaka"),
    ("en", "Nickname: Bebot\nSex: M    Age: 9", "Bebot"),
    ("en", "<<Hb 9.9>>, thanks.\n-- RK\n", "RK"),
    ("en", "book with radiology (ask for Kamau); <<NBM from 0600>>", "Kamau"),
    # numbers: a CPF, a Brazilian phone, SUS card, SINAN, CRM, a Nepali citizenship
    # number, a file number, a paybill, BPJS
    ("en", "CPF: 512.338.901-44, <<Hb 12.2>>", "512.338.901-44"),
    ("en", "Tel. (51) 98231-4470\n<<ALT 55>>", "(51) 98231-4470"),
    ("en", "Cartão SUS (CNS): 700 1234 5678 9012; <<eosinophils 9%>>",
     "700 1234 5678 9012"),
    ("en", "notified, SINAN no. 3304557-2024-01122. <<cyst 8 cm>>", "3304557-2024-01122"),
    ("en", "Dr Paula Rech - CRM-SP 112.408\n<<Hb 13>>", "112.408"),
    ("en", "Citizenship cert no: 41-02-71-00934\n<<SpO2 90%>>", "41-02-71-00934"),
    ("en", "bring sara's file no RPC-ISB-2025-0071 tomorrow", "RPC-ISB-2025-0071"),
    ("en", "pay via M-PESA paybill 400200, <<Hb 8>>", "400200"),
    ("en", "BPJS Kesehatan: 0002 5518 2201 9\n<<T 38.0>>", "0002 5518 2201 9"),
    # vehicles: a pick-up, an aircraft with a digit in its prefix
    ("en", "uncle's pick-up KCB 902P can bring them; <<Hb 11>>", "KCB 902P"),
    ("en", "Aircraft 9N-AMK landed 10:55; <<SpO2 84%>>", "9N-AMK"),
    # addresses: a house and street in lower case, a phase, a town, a sub-county, a kebele
    ("en", "pick up from house 14 street 3 gulberg at 8", "house 14 street 3 gulberg"),
    ("en", "works at a BPO in Hinjewadi Phase 3; <<Hb 12>>", "Hinjewadi Phase 3"),
    ("en", "matatu stage at Kikuyu town; <<Hb 10.4>>", "Kikuyu town"),
    ("en", "lives Gitaru village, Kikuyu sub-county\n<<HC 41 cm>>",
     "Gitaru village, Kikuyu sub-county"),
    ("en", "Address: Kebele 07, Dessie\n<<BI 2+>>", "Kebele 07"),
    # zh: a weekday glued to a date, a signer of two table rows, 才九十二
    ("zh", "3月12日周二请心内科会诊，<<BNP 880pg/ml>>", "3月12日周二"),
    ("zh", "1    11.2    <<IV级>>    针刺    黎\n2    11.9    <<III级>>    针刺    黎\n", "黎"),
    ("zh", "老人说自己才九十三，<<体温 35.1℃>>", "九十三"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_9,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_9])
def test_identifier_removed_round_9(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_9 = [
    # a lab trend is no date; a transformation zone and a "zone" are no address
    ("en", "<<HbA1c 8.9>> up from <<7.8>>, <<LVD 19.3%>> up from <<14.1%>>"),
    ("en", "<<Transformation zone type 2>>, <<Lugol's negative>>"),
    ("zh", "护理交班记录\n<<体温 36.8℃>>"),
    ("zh", "<<才九十分>>，<<血压 120/80mmHg>>"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_9)
def test_clinical_values_survive_round_9(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 10, from the misses of the eleventh sealed set (test11, scored once before any of
# this); the sentences are new.
CASES_10 = [
    # names: a given name before a surname in capitals, "Deceased:", "SN", "W/o X",
    # initials with a grade, mixed initials
    ("en", "Deceased: Viliami FONUA, DOB 02/02/1990", "Viliami FONUA"),
    ("en", "Assist: SN Siti Hawa, <<Hb 12.4>>", "Siti Hawa"),
    ("en", "Name: Mrs. P. Kamala, W/o Selvam      <<CA-125 88>>", "Selvam"),
    ("en", "<<Na 131>>, for repeat.\n\nKO (SpR)\n", "KO"),
    ("en", "update the tracker.\nJMcK\n", "JMcK"),
    # an age in brackets after a grandmother's word
    ("en", "his gogo (93) lives with them; <<CRP 140>>", "93"),
    # dates: Japanese era dates, surgery dates after "theatre", "given"
    ("en", "Admitted: R6.2.11     Discharged: R6.2.20", "R6.2.11"),
    ("en", "debrided in theatre 14.03, <<Hb 9.1>>", "14.03"),
    ("en", "contacts given 12/10, <<ciprofloxacin 500 mg>>", "12/10"),
    # numbers: member, incident, registry, syndicate, insurer and symbol numbers; a/c,
    # matric, driver's permit, SLMC, BHT and clinic numbers
    ("en", "VHI member 55120934; <<BP 96/60>>", "55120934"),
    ("en", "Garda incident 22817730 noted; <<GCS 13>>", "22817730"),
    ("en", "LCR registry no. 2025-2281; <<Hb 14>>", "2025-2281"),
    ("en", "Renal Centre, syndicate no. 61442\n", "61442"),
    ("en", "insurer no. 01229841, symbol/no. 2210-14; <<CRP 8>>", "01229841"),
    ("en", "refund to SB a/c 10029938771; <<Hb 10>>", "10029938771"),
    ("en", "City College, matric 2310442; <<WBC 18>>", "2310442"),
    ("en", "his driver's permit DP 2204187 was noted; <<burn 9% TBSA>>", "DP 2204187"),
    ("en", "Dr. Anjali Perera (SLMC 30117); <<Hb 8.2>>", "30117"),
    ("en", "Clinic no WTU/204        BHT 25/1187", "25/1187"),
    # a three-wheeler's plate; a Japanese address
    ("en", "comes by three-wheeler WP KA-2291; <<Hb 7.9>>", "WP KA-2291"),
    ("en", "Address: 3-8-12 Shimouma, Setagaya-ku, Tokyo 154-0002\n", "Setagaya-ku"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_10,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_10])
def test_identifier_removed_round_10(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_10 = [
    # a ward abbreviation on the last line is no initials; "member of the team" is no label
    ("en", "<<Hb 12>> stable.\nNAD\n"),
    ("en", "a member of the <<MDT 4>> team"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_10)
def test_clinical_values_survive_round_10(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 11 (session 37): a gazetteer, not a writer's forms. Chinese county towns,
# districts and townships from GeoNames (three characters or more, 5,000 people or more)
# named alone; chosen on the read sets test5-test12 together (+4 addresses, no false
# positive), before test13 was scored.
CASES_11 = [
    ("zh", "外婆一直住在乌兰浩特，<<血压 150/90 mmHg>>", "乌兰浩特"),
    ("zh", "家属说下周从伊宁市过来签字，<<肌酐 132 μmol/L>>", "伊宁市"),
    ("zh", "他老家二连浩特的，<<空腹血糖 7.8 mmol/L>>", "二连浩特"),
    ("zh", "阿图什来的患者，<<体温 38.5℃>>", "阿图什"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_11,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_11])
def test_identifier_removed_round_11(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


def test_the_shipped_place_names_are_what_the_script_writes_from_geonames() -> None:
    from fedcare.deid.recognisers.addresses import ZH_PLACES_FILE, build_zh_places

    shipped = [line for line in ZH_PLACES_FILE.read_text(encoding="utf-8").splitlines()
               if line and not line.startswith("#")]
    assert shipped == build_zh_places()  # else: python scripts/make_zh_places.py
    assert 2000 < len(shipped) < 4000 and "锡林浩特" in shipped


PRECISION_11 = [
    # a GeoNames village whose name is an everyday word; a drug named after it
    ("zh", "院子里有棵银杏树，<<银杏叶片 19.2 mg tid>>"),
    # two-character GeoNames names are left to the rules (太平, 新华 are words)
    ("zh", "<<血压 132/80>>，一切太平，在新华书店买了本书"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_11)
def test_clinical_values_survive_round_11(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 12 (session 37, from test13's misses, read after its one scoring): a chat speaker
# written by a role or a kinship (家属, 助理, 大女, 细佬, 二家姐, 孙女) is no name; speakers
# written by name still are.
PRECISION_12 = [
    ("zh", "家属 19:02\n医生好 我爸今天吐了两次\n\n助理 19:20\n<<昂丹司琼 8mg bid>>\n\n"
           "家属 19:25\n好的\n"),
    ("zh", "大妹 08:01\n阿爷今朝<<血糖 11.2>>\n\n细佬 08:03\n咁高\n\n二家姐 08:10\n我听日返\n\n"
           "大妹 08:12\n好\n"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_12)
def test_clinical_values_survive_round_12(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


def test_chat_speakers_written_by_name_are_still_names() -> None:
    from fedcare.deid import find_phi

    text = ("秀云 19:55\n奶奶今天<<血压 150/90>>\n\n志强 20:01\n我明天过去\n\n"
            "秀云 20:03\n好\n").replace("<<", "").replace(">>", "")
    found = {text[s.start:s.end] for s in find_phi(text) if s.type == "NAME"}
    assert {"秀云", "志强"} <= found


# Round 13 (session 37, from test14's misses, read after its scoring): a chat's date
# header, month.day alone on its line (with a weekday, between dashes, or after a blank
# line before a chat line); a bare month/day before a time after a line ending in a number
CASES_13 = [
    ("zh", "3.8 周五\n妈妈：今天<<体温 38.5℃>>\n\n3.9\n妈妈：退了", "3.8"),
    ("zh", "妈妈：今天<<体温 38.5℃>>\n\n3.9\n妈妈：退了", "3.9"),
    ("zh", "—— 11.2 ——\n护士 08:10\n<<血压 120/80 mmHg>>", "11.2"),
    ("zh", "联系电话 0755-2345 6789\n\n11/3 06:20 早班\n<<SpO2 95%>>", "11/3"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_13,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_13])
def test_identifier_removed_round_13(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_13 = [
    # a reading alone on its line under its label, also before a "label：" line
    ("zh", "血钾\n<<3.6>>\n钠 135"),
    ("zh", "血钾\n<<3.6>>\n脉搏：88"),
    ("en", "take 2 <<1/2>> tabs"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_13)
def test_clinical_values_survive_round_13(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 14 (session 38, with the CRF retrained on the read sets test5-test15): a name's
# familiar form X哥/X姐 after 家属/朋友/同事 (the retrained CRF no longer found 龙哥)
CASES_14 = [
    ("zh", "跟12床家属龙哥说好了明天做检查，<<血压 132/84>>", "龙哥"),
    ("zh", "同事芳姐陪同来诊，<<心率 96次/分>>", "芳姐"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_14,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_14])
def test_identifier_removed_round_14(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_14 = [
    # a kinship word is nobody's name
    ("zh", "家属大哥说明天来，<<血压 120/80>>"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_14)
def test_clinical_values_survive_round_14(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# a CRF name run stops at a column gap and at a digit, and a measurement named after a
# name stays ("IOP 21", "Hb 98", "K 3.2"); the name itself goes
NAMED_THEN_MEASURED = [
    ("en", "Patient: Smt. LAKSHMAMMA K.   <<IOP 21 mmHg>>", "LAKSHMAMMA K."),
    ("en", "Pt: CORNELIA VAN DEN BERG   <<Hb 98 g/L>>", "CORNELIA VAN DEN BERG"),
    ("en", "Patient: McINTYRE-FOLAU, Teresa   <<K 3.2>>", "McINTYRE-FOLAU"),
    ("en", "Nurse: Sis. Marcia   <<PASI 14>>", "Marcia"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), NAMED_THEN_MEASURED,
                         ids=[c[2] for c in NAMED_THEN_MEASURED])
def test_a_name_run_stops_before_a_measurement(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


# Round 15 (session 38, from test16's misses, read after its scoring): a date's parts are
# never written across a table's column or a line; a measurement with its unit is no date;
# a Glasgow coma score written unspaced is no Canadian postcode; a lower-case street stays
# on its line; an age over 89 in English words before a bracket or
# at a line's end; a Chinese certificate number (X字第N号), a card's last digits (末四码),
# a registration or award number with letters
CASES_15 = [
    ("en", "Date     Plt\n12-Mar      <<8>>       131\n", "12-Mar"),
    ("en", 'Mr. Cleveland Dwyer, ninety-four (DOB 14 Apr 1930), <<Na 124>>', "ninety-four"),
    ("en", "BED 8  miss ivy brissett, ninety-three\n  <<Na 121>>", "ninety-three"),
    ("zh", "郑雅文 敬上\u3000医师证书 台医字第038512号\n<<体温 37.2℃>>", "038512"),
    ("zh", "医保：离休医疗证 鲁离字第04417号", "04417"),
    ("zh", "当天刷卡NT$1,880（卡号末四码6632），<<体温 38.1℃>>", "6632"),
    ("en", "dr meera (locum)  reg no KMC 88214\n<<T 38.6 C>>", "KMC 88214"),
    ("en", "Optometrist, OPCB Reg. No. OPT 01137\n<<IOP 18>>", "OPT 01137"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_15,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_15])
def test_identifier_removed_round_15(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_15 = [
    ("en", "Date     Plt     Hb\n12-Mar      <<8>>       <<131>>\n13-Mar      <<21>>      <<128>>"),
    ("en", "age 2y 10m   M   wt <<13.2 kg>>\nT 38.6"),
    ("en", "drowsy but talking. <<GCS 13 (E3V4M6)>>. temp 30.8 C."),
    ("en", "fitness cert for leave x <<2 days>> given\n\ndr on call reviewed"),
    ("en", "she walked for ninety minutes"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_15)
def test_clinical_values_survive_round_15(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 16 (session 38, from test17's misses, read after its one scoring): an English date
# with its month's name inside a Chinese note; a month that is a surname after a title
# ("Dr March"); an IP address is four numbers to 255 (a SNP address is none); the surname
# after a title, a given name and a nickname in brackets ('Mr William ("Bill") TREGENZA')
CASES_16 = [
    ("zh", "銀行櫃員\nDate of visit: 18 Jul 2024\n<<Breslow 3.2 mm>>", "18 Jul 2024"),
    ("zh", " - Oct 2023 WLE + SLNB：<<Breslow 3.2 mm>>", "Oct 2023"),
    ("en", "the rota named Dr March as the consultant on call; <<Hb 84>>", "March"),
    ("en", 'Re: Mr William ("Bill") TREGENZA   DOB 19.06.1958\n<<Hb 131>>', "TREGENZA"),
    ("en", "Patient: Mrs Winifred (Winnie) CALLOWAY\nAge 91, <<Hb 98 g/L>>", "CALLOWAY"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_16,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_16])
def test_identifier_removed_round_16(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_16 = [
    ("en", "reference lab reports <<SNP address 1.1.1.1.291.387.%>> - matches a cluster."),
    ("en", "We march on; <<Hb 84>> stable"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_16)
def test_clinical_values_survive_round_16(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# A review of rounds 14-16 (session 38, by a helper reading the code, not the notes): a date
# wrapped onto the next line is still one date; a surname in capitals before an age and
# sex or a phone is still a name; an unspaced postcode is still one outside a GCS
REVIEWED_16 = [
    ("en", "Seen in clinic on March\n14, 2021 by the team, <<Hb 84>>", "March\n14, 2021"),
    ("zh", "入院日期为2024年3月\n5日，<<血压 120/80>>", "2024年3月\n5日"),
    ("en", "WARD LIST\nBed 12: TAN 78F, hx COPD, <<SpO2 91%>>", "TAN"),
    ("en", "Bed 14: KHAN 64M, <<CRP 88>>", "KHAN"),
    ("en", "Next of kin: son ABEL 0412 555 123\n<<Na 131>>", "ABEL"),
    ("en", "lives in Edmundston, E3V3M5. <<BMI 31>>", "E3V3M5"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), REVIEWED_16,
                         ids=[f"{c[0]}:{c[2]}" for c in REVIEWED_16])
def test_identifier_removed_after_review_16(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


REVIEWED_16_PRECISION = [
    ("zh", "黄斑水肿，<<OCT 12 次>>随访均稳定"),
    ("zh", "家属：其姐，<<血压 120/80>>"),
    ("zh", "家属：胞姐陪同，<<心率 88>>"),
    ("zh", "家属他哥说已缴费，<<体温 36.8℃>>"),
]


@pytest.mark.parametrize(("lang", "marked"), REVIEWED_16_PRECISION)
def test_clinical_values_survive_after_review_16(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


def test_a_widened_name_takes_every_part_found_inside_it() -> None:
    """A name widened over its patronymic holds the parts found on their own: one span,
    one replacement (two nested spans gave "[NAME][NAME]" and two pseudonyms)."""
    text = "Name: Aarav s/o Rohit Shenoy\nFather: Rohit\nSurname: Shenoy\n"
    spans = find_phi(text, "en")
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans)), spans
    out = deidentify_text(text, lang="en", mode="tag").text
    assert out.startswith("Name: [NAME]\n"), out


# Round 17 (session 39, from test18's misses, read after its one scoring): a doubled name
# speaking in a chat (乐乐：), year-less dates (zero-padded, a day over ten before /10,
# "pain from 3/10", day.month after a referral or labs); and words that are not names: a
# frequent dictionary word jieba tags as a name (毛巾, 安抚), a function word or the next
# field's label after a weak label, a word after 患者 before 同意
CASES_17 = [
    ("zh", "群聊：一家人\n乐乐：今天烧到<<38.9℃>>了\n外婆：吃药没\n乐乐：吃了<<布洛芬 5ml>>\n"
     "外婆：好", "乐乐"),
    ("en", "Swelling + pain from 4/10, then the other side 4/12. <<T 38.4>>", "4/10"),
    ("en", "Lotion used 16/10 and 23/10; <<no live lice>> today", "23/10"),
    ("en", "Labs 02/03: <<Hb 10.9 g/dL>>", "02/03"),
    ("en", "Seen by physio, referral 03.08\n<<ROM 0-110>>", "03.08"),
    ("zh", "接诊：上官明哲　主治医师　<<执业证书>>见附件", "上官明哲"),
    ("zh", "陪同：老公鄭家豪 <<血压 118/76>>", "鄭家豪"),
    # Hong Kong and Macau notes in traditional characters, read through OpenCC's t2s
    ("zh", "如有疑問請致電。\n\n曾嘉敏 RN\n註冊護士編號 RN0912345\n<<體溫 37.9℃>>", "曾嘉敏"),
    ("zh", "診所地址略\n電話 2577 3306　傳真 2577 3307\n<<血壓 132/84>>", "2577 3306"),
    ("zh", "理赔专员：覃某\n电话：020-6555 3172 转 8021\n<<赔付比例 80%>>",
     "020-6555 3172 转 8021"),
    ("zh", "轉介病人：CHAN, Siu-ming（陳小明）\n<<HbA1c 7.4%>>", "CHAN, Siu-ming"),
    ("en", "Our ref: OH/25/1180     Your ref: HR-REF-2231\n<<BMI 27>>", "HR-REF-2231"),
    ("en", "Proxy account: dana.kell77 (mother)\n<<Hb 121>>", "dana.kell77"),
    ("en", "Secretary: Ailsa Drummond 01632 960 411\n<<HbA1c 48>>", "Ailsa Drummond"),
    ("zh", "李醫生家庭醫學診所\n九龍油麻地彌敦道512號好景中心二期9樓903室\n<<BMI 24.1>>",
     "九龍油麻地彌敦道512號好景中心二期9樓903室"),
    ("zh", "我：对 这次是9.28 上次8.30\n医生：好 <<痛经评分 6分>>", "9.28"),
    ("zh", "末次月经3.15，<<血红蛋白 102g/L>>", "3.15"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_17,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_17])
def test_identifier_removed_round_17(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_17 = [
    ("zh", "嘱<<毛巾>>单独使用，碗筷开水烫"),
    ("zh", "夜间烦躁，家属陪伴<<安抚>>后入睡，<<心率 88>>"),
    ("zh", "值班医生：很好，继续<<布洛芬 0.2g>>"),
    ("zh", "患者知情同意，<<阿莫西林 0.5g>> tid"),
    ("zh", "主任　　护理记录：<<Braden 14分>>"),
    ("en", "Pain <<3/10>> at rest and <<6/10>> walking; relief to <<2/10>>"),
    ("en", "LVD up from <<14.1%>>, PCR positive, <<Ct 19.6>>, now on <<1.5 litres a day>>"),
    ("zh", "賠款將於<<7個工作天>>內轉入閣下登記之銀行帳戶"),
    ("zh", "媽媽收工返屋企，見女兒喺房嘔咗兩次，<<必理痛 500mg>>空錫紙2排"),
    ("zh", "孕妇由丈夫驾车送入，<<出血约200 mL>>"),
    ("zh", "已向父亲交代手术风险，<<头孢呋辛 0.75g>>"),
    ("zh", "如有疑問，請聯絡理賠主任，<<賠付比例 80%>>"),
    ("zh", "上次<<3.5分>>，这次<<4.5分>>；上次<<10.4 mmol/L>>"),
    ("zh", "胃镜：<<食道3号位置>>见溃疡"),
    ("en", "Dx: bilateral Osgood-Schlatter disease; <<naproxen 250 mg>> prn"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_17)
def test_clinical_values_survive_round_17(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


def test_a_weekday_in_brackets_is_part_of_its_date() -> None:
    """A date and the weekday in brackets after it are one span, not two (the weekday
    alone is no date to score or to shift)."""
    for text in ("复诊日期：2024年9月19日（週四）\n",
                 "登记日期：二〇二三年十一月二十日（周一）　值班"):
        dates = [text[s.start:s.end] for s in find_phi(text, "zh") if s.type == "DATE"]
        assert len(dates) == 1 and dates[0].endswith("）"), dates


def test_traditional_text_is_read_in_simplified_with_the_same_positions() -> None:
    from fedcare.deid._recognise import simplified

    text = "轉介病人：劉文傑，電話 2388 6142"
    out = simplified(text)
    assert len(out) == len(text) and out.startswith("转介病人：刘文杰"), out
    spans = find_phi(text, "zh")
    assert [text[s.start:s.end] for s in spans if s.type == "NAME"] == ["劉文傑"], spans


# Round 18 (session 39, from test19's misses, read after its one scoring): parents who
# speak in a family chat by their child's name (糖糖妈-小雯：) and the child elsewhere; an
# English given name before a surname and a title (Jenny 何护士), a relative speaking by an
# English name (小姨Coco：), an English title in a Chinese note (Dr. Tsang); romanised
# mainland surnames (LIU, Chen); more compound surnames (濮阳) and titles (教练, 主席); a
# province's health-insurance card (沪医保 0021 ...); dates: ranges (23/10-27/10, 6/3至6/6),
# 5月中; English: signing initials, a double surname across a hyphen, a chat speaker after
# a weekday, a date and a time ("mon 7/8 21:14  jan kowalczyk:")
CASES_18 = [
    ("zh", "豆豆妈-小芸：今天带豆豆去打针了\n外婆：哭了没\n豆豆爸 阿峰：我晚点到\n"
     "豆豆妈-小芸：<<体温 37.2℃>>", "豆豆妈-小芸"),
    ("zh", "随访电话由Kelly 郑护士拨打，<<伤口无渗液>>", "Kelly 郑"),
    ("zh", "小姨Mandy：宝宝好点没\n外婆：好多了 <<体温 36.8℃>>", "Mandy"),
    ("zh", "寄件者：Dr. Ho <kwho@example.hk>\n<<血鈣 3.1 mmol/L>>", "Dr. Ho"),
    ("zh", "▲ 5床  ZHANG, Wei（张伟）  男  <<WBC 0.6>>", "ZHANG, Wei"),
    ("zh", "濮阳医生（值班）下了医嘱：<<万古霉素 1g q12h>>", "濮阳"),
    ("zh", "已与彭教练电话沟通，<<VAS 3分>>", "彭"),
    ("zh", "医保：沪医保 0031 2286 4410\n<<血钾 3.2>>", "沪医保 0031 2286 4410"),
    ("zh", "本次为骨科医院6/3至6/6的住院，<<VAS 2分>>", "6/6"),
    ("zh", "我是5月中来看的，<<包块 1.5 cm>>", "5月中"),
    ("en", "pip-tazo 4.5 g IV q6h 23/10-27/10, <<afebrile from day 2>>", "27/10"),
    ("en", "Call duration 22 min.\nMF / typed by Kaz (admin)\n<<VAS 4>>", "MF"),
    ("en", "Initials: SNB / checked PD\n<<weight 5.1 kg>>", "PD"),
    ("en", "Child's surname: NWOSU-BLAKE        First names: Ezekiel\n<<Hb 121>>",
     "NWOSU-BLAKE"),
    ("en", "mon 7/8 21:14  jan kowalczyk:\nhi its jan\n\ntue 08:40  jan kowalczyk:\n"
     "<<temp 37.9>>", "jan kowalczyk"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_18,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_18])
def test_identifier_removed_round_18(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_18 = [
    ("zh", "爸爸：好的\n妈妈：嗯 <<体温 36.5℃>>\n孩子妈：好\n孩子妈：<<吃了半碗>>"),
    ("zh", "在精密机械有限公司任厂长，<<吸烟 20支/日>>"),
    ("zh", "哭声响亮，可短暂被<<安抚>>，前囟平软"),
    ("en", "referred by GP\n<<BP 150/90>>"),
    ("en", "19:07  jan\nyep <<lantus at 6>>\n\n19:31  jan\nin the car"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_18)
def test_clinical_values_survive_round_18(lang: str, marked: str) -> None:
    from fedcare.deid._eval import parse_marked

    text, _, keep = parse_marked(marked)
    spans = find_phi(text, lang)
    for k in keep:
        assert not _touched(text, text[k["start"]:k["end"]], spans), (text[k["start"]:k["end"]],
                                                                      spans)
    # a chat's speakers may be names; nothing else here is
    assert not [text[s.start:s.end] for s in spans if s.type in ("NAME", "ADDRESS")
                and text[s.start:s.end] not in ("jan",)], spans


def test_a_column_header_after_initials_is_no_name() -> None:
    """A table's header "Initials  NHI" names columns: NHI is no one's initials (nor is the
    "NHI" inside "NHIG", the immunoglobulin)."""
    from fedcare.deid._eval import parse_marked

    text, _, keep = parse_marked("Case  Initials  <<NHI>>       Age\n<<NHIG 0.6 mL/kg>> within "
                                 "6 days")
    spans = find_phi(text, "en")
    for k in keep:
        assert not _touched(text, text[k["start"]:k["end"]], spans), spans


# Round 19 (session 39, from test20's misses, read after its one scoring): a ward's bed
# before the patient (34床毛国庆), a parent introducing themselves by the child (我是宇轩的
# 妈妈), ranked relatives as labels (小妹周雯) but speakers at the start of a chat line, a
# weekday after a year-less date (11/11（周一）), a 24-hour time before one (1400 3/10), a
# zero-padded date after a phone number; handles after "user" and "profile name", "ref"
# codes, registrations with letters (NZAS-1187), a relative's age in a contact list, a
# lower-case name before a credential (j. oduya RN); and what is not an identifier:
# prescriptions written "Tab." and "Cap.", organisms (M. tuberculosis), a row of scores
# (TJC 12/28  SJC 8/28), British durations (x 4/7), a fraction's range (1/2–2/3), a drug's
# stem after a surname-like syllable (米诺环素), 戴约6小时, a role before 签字
CASES_19 = [
    ("zh", "另：34床毛国庆（2410-05790）今天出院，<<出院带药 3天>>", "毛国庆"),
    ("zh", "杨医师您好：\n我是宇轩的妈妈，<<氟伏沙明 50mg>>吃了两周", "宇轩"),
    ("zh", "群成员：大姐周慧、小妹周雯\n<<血钠 128mmol/L>>", "周雯"),
    ("zh", "5 11/11（周一）复诊拆引流条，<<甲硝唑 0.2g>>", "11/11"),
    ("en", "ceftriaxone 1 g IV q24h next due 1400 3/10\n<<NS at 75 mL/hr>>", "3/10"),
    ("en", "GP notified by fax (02) 6925 1184 02/06, <<albumin 28 g/L>>", "02/06"),
    ("en", "Continue DOT (video DOT app, user hgill_vdot79). <<rifampin 600 mg>>", "hgill_vdot79"),
    ("en", "met via app (profile name bluewave_brighton), <<NAAT positive>>", "bluewave_brighton"),
    ("en", "re PIP renewal letter (DWP ref PIP-5581 032 76)\n<<Hb 118>>", "PIP-5581 032 76"),
    ("en", "Audiologist: T. Whaanga, MNZAS, reg NZAS-1187\n<<PTA 45 dB>>", "NZAS-1187"),
    ("en", "3  Gurdev Singh Gill, father, 91  HIGH - household\n<<IGRA pending>>", "91"),
    ("en", "given by j. oduya RN   taken by tess m. RN\n<<haloperidol 0.5 mg>>", "j. oduya"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_19,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_19])
def test_identifier_removed_round_19(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_19 = [
    ("en", "Rx\n1. <<Tab. Methotrexate 15 mg once a week>>\n2. <<Cap. Omeprazole 20 mg OD>>"),
    ("en", "culture <<M. tuberculosis>>, pan-sensitive; <<S. aureus>> not grown"),
    ("en", "<<TJC 12/28>>  <<SJC 8/28>>  Pt global 7/10"),
    ("en", "  Attention 14/18  <<Memory 11/26>>  <<Fluency 6/14>>  Language 22/26"),
    ("en", "- Epworth now <<5/24>>\n- home BP fine"),
    ("en", "PC: urethral discharge x <<4/7>>, dysuria; toothache <<3/52>>"),
    ("zh", "X线：牙槽骨吸收至根长<<1/2–2/3>>，根尖周未见暗影"),
    ("zh", "袋内置<<盐酸米诺环素软膏>>，每天戴<<约6小时>>"),
    ("zh", "家属签字：（空）\n护士签字：（空）\n<<Braden 12分>>"),
    ("zh", "22:47 大姐：医生说<<安眠药>>不能随便吃\n22:50 二哥：<<押金>>我转了\n"
     "22:52 大姐：好"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_19)
def test_clinical_values_survive_round_19(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 20 (session 39, from test21's misses, read after its one scoring): "baby of" a
# mother, a chat speaker with a role in brackets, "med aid", Singapore blocks and postal
# codes, counties, "Thanks so much" before a name, initials with a role, case numbers,
# a unit then a dash then a street, Mc and 's in street names, initials closing a note;
# in Chinese: 1-character parents in a chat (磊妈：), dates (中華民國, 21日18:00, 于3/5,
# 8/6由, CT（4.17, table rows, 16/2 02:35, 上周六1.11), row signers of dated rows (于),
# romanised Cantonese names (Lam Chi Fai, KY Wong), # extensions, check digits after a
# dash, official document numbers (苏职诊〔2024〕第0386号)
CASES_20 = [
    ("en", "Baby: Aroha, baby of Hinemoa Tapsell\n<<BGL 2.1 mmol/L>>", "Hinemoa Tapsell"),
    ("en", "07:45  Shireen (reception): Hi, note ready\n07:50  Thandeka Mokoena: ok thanx\n"
     "07:52  Thandeka Mokoena: <<temp 38.9>>", "Shireen"),
    ("en", "yes same adress. med aid DHM 4471 20938, <<CRP 188>>", "DHM 4471 20938"),
    ("en", "nurse: Blk 612B Edgefield Plains #14-203 S(822612)\n<<INR 4.2>>",
     "Blk 612B Edgefield Plains #14-203 S(822612)"),
    ("en", "Kessler County Health Department - <<norovirus GII>> confirmed", "Kessler County"),
    ("en", "if I can work.\n\nThanks so much\nHope\n<<splint 6 weeks>>", "Hope"),
    ("en", "Wed 12/2   reviewed by AM (ANP) w/ Mr Stirling\n<<angulation 40 deg>>", "AM"),
    ("en", "hpzone case HPZ 2514477 - <<urinary antigen positive>>", "HPZ 2514477"),
    ("en", "Suite 610 - 1125 Howe Street, Vancouver, BC V6Z 2K8\n<<FEV1 2.1 L>>",
     "Suite 610 - 1125 Howe Street"),
    ("en", "Bush Medical, 71 McDowall St, Roma QLD 4455\n<<phase II IgG 1:800>>", "71 McDowall St"),
    ("en", "cons aware we are investigating\n\nk.b.\n", "k.b."),
    ("zh", "王磊：宝宝血糖低\n磊妈：严不严重\n王磊：<<血糖 1.9 mmol/L>>\n磊妈：我明天过去", "磊妈"),
    ("zh", "發文日期：中華民國113年9月5日\n<<賠付 14,000元>>", "中華民國113年9月5日"),
    ("zh", "注意：球囊计划21日18:00前后取出，<<缩宫素 10U>>", "21日"),
    ("zh", "患者已于3/5凌晨入院，<<血钾 3.1 mmol/L>>", "3/5"),
    ("zh", "颈部增强CT（4.17，影像号略）示<<低密度灶 2.8 cm>>", "4.17"),
    ("zh", "XR(16/2 02:35): <<R 5th MC neck fracture>>", "16/2"),
    ("zh", "5/17　　　10°　　　轻度浸渍　　于\n5/31　　　5°　　　正常　　　于\n<<DIP 0°>>", "于"),
    ("zh", "同組同事Lam Chi Fai同梁偉強都有發燒，<<T 39.0℃>>", "Lam Chi Fai"),
    ("zh", "轉錄：分流護士KY Wong，<<Hb 98 g/L>>", "KY Wong"),
    ("zh", "電話：(02)2758-6600 #3127　<<賠付 80%>>", "(02)2758-6600 #3127"),
    ("zh", "匯入您指定之帳戶（帳號081-50-312774-6）。<<門診 12次>>", "081-50-312774-6"),
    ("zh", "编号：苏职诊〔2024〕第0386号\n<<FEV1 68%>>", "苏职诊〔2024〕第0386号"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_20,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_20])
def test_identifier_removed_round_20(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_20 = [
    ("en", "PATIENT VISIT RECORD\nVisit date: pending, <<pain score 7/10>>"),
    ("en", "PAEDIATRIC TRIAGE\nTriage RN on shift; <<HR 128>>"),
    ("zh", "每日痰量约<<80 ml>>，黄绿色。"),
    ("zh", "查虎红<<平板凝集试验阳性>>，试管凝集 1:400"),
    ("zh", "值班医生：先别慌 身体前倾，<<INR 3.6>>"),
    ("zh", "幺爸：莫慌\n幺爸：钱我出 <<胆红素 41>>"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_20)
def test_clinical_values_survive_round_20(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


# Round 21 (session 39, from test22's misses, read after its one scoring): a middle initial
# without a dot at the end of a header's name, three-word lower-case chat speakers,
# checklist rows signed by initials, a typist's initials in brackets; British durations
# "in 18/12" and "review in 6/52" (not "joined in 3/12", a date), rows of scores with
# commas (WPI 13/19, SSS 9/12); Chinese: an age before 了 (外婆都91了), a speaker's given
# name used to address them (：小鱼 复诊…), internal short numbers, a double married
# surname before 女士, Minguo dates with slashes, initials before a name in brackets, a
# doubled child's name before its full name or 说, bank accounts (户口), 直线 phones,
# districts after 至; not names: Sr. Na, 奶奶说, 婆婆说, 微信, 性別, 左移, 路易斯湖评分
CASES_21 = [
    ("en", "Patient: DELANEY, MARISOL A    DOB: 04/23/1979\n<<FIQR 61>>", "DELANEY, MARISOL A"),
    ("en", "8:41 PM  jhun dela cruz: gud eve doc\n8:47 PM  jhun dela cruz: only when eating\n"
     "<<stone 4 mm>>", "jhun dela cruz"),
    ("en", "  Consent signed          Y     KL\n  Fasted                  Y     KL\n"
     "  EMLA cream              Y     KL\n<<paracetamol 320 mg>>", "KL"),
    ("en", "Typed: 13/11/2024 (CM)\n<<opening pressure 32 cm>>", "CM"),
    ("en", "L side joined in 3/12. <<T 38.1>>", "3/12"),
    ("zh", "二舅：外婆都91了 吃这么多药受的了吗\n<<铁蛋白 42>>", "91"),
    ("zh", "江小鱼：我没事的\n舅妈汤丽萍：小鱼 复诊那天我开车\n江小鱼：好\n<<铁蛋白 42>>", "小鱼"),
    ("zh", "通知值班医生（工号Y2031，短号662031）。<<眼压 32 mmHg>>", "662031"),
    ("zh", "受保人：莫何玉蓮女士\n<<眼科手術 1次>>", "莫何玉蓮"),
    ("zh", "112/09/04    OD     <<52.8 D>>", "112/09/04"),
    ("zh", "pt: WZX (王梓轩) M 14y <<Haller 3.8>>", "WZX"),
    ("zh", "浩浩（雷浩然）感冒第4天\n浩浩说想吃肉夹馍。<<T 36.9>>", "浩浩"),
    ("zh", "存入閣下指定之銀行戶口 024-558-203117-883。<<合共 HK$41,350>>", "024-558-203117-883"),
    ("zh", "請致電個案主任，直線 2833 6241，<<賠付 80%>>", "2833 6241"),
    ("zh", "建议下撤至泸定县或者住院观察，<<SpO2 90%>>", "泸定县"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), CASES_21,
                         ids=[f"{c[0]}:{c[2]}" for c in CASES_21])
def test_identifier_removed_round_21(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


PRECISION_21 = [
    ("en", "HbA1c 7.4%, <<Sr. Na 131 mEq/L>>, <<Sr. creatinine 0.8 mg/dl>>"),
    ("en", "- 3 episodes in <<18/12>>: review in <<6/52>>"),
    ("en", "Scores: WPI 13/19, SSS <<9/12>>, FIQR 61"),
    ("zh", "<<奶奶说>>孩子去年也犯过，<<婆婆说>>加奶粉"),
    ("zh", "随访小结已推送至患者<<微信>>（见附件）"),
    ("zh", "Echo: EF 66%，<<心脏左移>>受压"),
    ("zh", "<<路易斯湖评分 9分>>（重度）"),
    ("zh", "如對此有異議，可於<<30日內>>提交"),
]


@pytest.mark.parametrize(("lang", "marked"), PRECISION_21)
def test_clinical_values_survive_round_21(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


def test_a_numeral_compound_surname_survives_the_word_vetoes() -> None:
    """第五 is a numeral in jieba's dictionary and a compound surname: the vetoes against
    dictionary words glued to a label (session 39) must not drop 第五敏文 or 第五鹏玲 (the
    generator's held-out seed 102 found this), nor make 第五天 a name."""
    for text, name in (("消化内科第五敏文大夫意见：暂不手术", "第五敏文"),
                       ("记录医师 谭帆，审核 第五鹏玲", "第五鹏玲")):
        assert name in [text[s.start:s.end] for s in find_phi(text, "zh")], text
    text = "患者第五天出现发热，左手第五指屈曲受限"
    assert not [s for s in find_phi(text, "zh") if s.type == "NAME"], text


# A review of rounds 17-21 (session 39, by a helper reading the code, not the notes): what
# the new rules had broken, each checked on the code before the fixes
REVIEWED_21 = [
    ("zh", "病人獨居於土瓜灣，由社工跟進。<<血壓 150/90>>", "土瓜灣"),
    ("zh", "今天李娜来院复诊，<<体温 37.8℃>>", "李娜"),
    ("zh", "张宁今晨体温<<37.8℃>>。", "张宁"),
    ("zh", "<<血压 120/80>>\n科室：骨科　联系人 张宁 关系：丈夫", "张宁"),
    ("en", "Bloods 14/11  Echo 18/11  Clinic 22/11\n<<Hb 98>>", "18/11"),
    ("en", "Surgery scheduled for 6/7. <<INR 1.1>>", "6/7"),
    ("en", "Follow-up booked for 14/12, <<CRP 12>>", "14/12"),
    ("en", "Marie Bouchard phoned re <<INR 3.4>>", "Bouchard"),
]


@pytest.mark.parametrize(("lang", "marked", "value"), REVIEWED_21,
                         ids=[f"{c[0]}:{c[2]}" for c in REVIEWED_21])
def test_identifier_removed_after_review_21(lang: str, marked: str, value: str) -> None:
    test_identifier_removed_and_values_kept(lang, marked, value)


REVIEWED_21_PRECISION = [
    ("en", "<<GU Exam normal>>. Plan: <<FU Clinic in 6 weeks>>."),
    ("en", "AF confirmed by <<ECG>>. <<COVID-19 confirmed by PCR>>. <<Checked BSL 7.8>>"),
    ("en", "Paracetamol 1g   <<PO>>\nOndansetron 4mg   <<IV>>\nMorphine 2.5mg   <<SC>>\n"
     "Cyclizine 50mg   <<PO>>"),
    ("en", "Pain scores: 0800 <<7/10>>, 1200 <<4/10>>; oral antibiotics <<7/7-14/7>>"),
    ("en", "<<AV Block 2 Mobitz Type II>>"),
    ("zh", "<<WBC（白细胞）12.3>>，<<TG（甘油三酯）2.1>>"),
    ("zh", "左下肢<<肌力4/5>> 行走不稳；<<疼痛评分6/10>> 晚上加重"),
    ("zh", "<<糖化血红蛋白这次是7.2>>，上次是8.1"),
    ("zh", "<<12床 腹痛>>，<<凝血四项 PT 11.2秒>>"),
    ("zh", "胸痛放射至<<心前区>>；<<宝宝心率有110了>>；<<体重都95了>>"),
]


@pytest.mark.parametrize(("lang", "marked"), REVIEWED_21_PRECISION)
def test_clinical_values_survive_after_review_21(lang: str, marked: str) -> None:
    test_clinical_values_survive_round_2(lang, marked)


def test_checklist_initials_after_a_long_gap() -> None:
    """Initials after a very long column gap are found once, and a gap that ends in lower
    case is no signer. (The lookbehind added by the review keeps the pattern from retrying
    at every space of a failing gap: 40,000 spaces took 14.7 s before, measured by hand; no
    timing is asserted here.)"""
    from fedcare.deid.recognisers.names_en import _ROW_INITIALS

    found = list(_ROW_INITIALS.finditer("Consent" + " " * 40000 + "KL\n"))
    assert [m.group("n") for m in found] == ["KL"]
    assert found[0].start() == len("Consent")
    assert _ROW_INITIALS.search("x" + " " * 40000 + "y\n") is None
