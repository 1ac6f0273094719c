"""Identifiers: labelled numbers ("MRN: ...", "医保卡号：..."), Chinese resident IDs
(checksum), SSNs, vehicles, bare long numbers."""

from __future__ import annotations

import functools
import re

from fedcare.deid import _lexicon as L
from fedcare.deid._common import fast_start, is_valid_cn_id

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser
from ._base import spans as _spans

# ---------------------------------------------------------------- labelled identifiers

_N = r"(?:number|no\.?|num\.?|nbr|#)"
# a serial-like code: letters and digits mixed, or six digits or more (with dashes)
_SERIAL = (r"(?:[A-Z0-9]*\d[A-Z0-9]*[A-Z][A-Z0-9]*|[A-Z0-9]*[A-Z][A-Z0-9]*\d[A-Z0-9]*|"
         r"\d{4,}-\d{3,}|\d{6,})(?![A-Za-z0-9])")
_EN_LABELS: dict[str, str] = {
    "MRN": rf"MRN|M\.R\.N\.?|MR\s?#|MR\s+{_N}|(?-i:URN|UR)(?:\s*{_N})?|"
           rf"unit\s+record(?:\s+{_N})?|medical\s+record(?:\s+{_N})?|"
           rf"med(?:ical)?\.?\s+rec(?:ord)?\.?\s*{_N}|chart\s*(?:{_N}|ID)|hosp(?:ital)?\.?\s*(?:{_N}|ID)|EMR\s*{_N}|"
           rf"patient\s+(?:ID|identifier|{_N})|pt\.?\s+(?:ID|#)|unit\s+{_N}|record\s+{_N}|"
           rf"case\s+{_N}|accession\s+{_N}|specimen\s+(?:{_N}|ID)|(?-i:RN)(?=\s*[:#])|"
           rf"(?-i:OP|IP|OPD|IPD)\s*(?:{_N}|#)|file\s+(?:{_N}|#)|(?-i:BHT|UHID)|clinic\s+{_N}",
    "INSURANCE": rf"insurance\s+(?:ID|{_N}|member\s+ID|policy(?:\s+{_N})?)|"
                 rf"(?-i:BPJS)(?:\s+Kesehatan)?|(?-i:CNS|SUS)(?:\s+{_N})?|Cart[ãa]o\s+SUS(?:\s+\(CNS\))?|"
                 rf"member\s+(?:ID|{_N})|member(?=\s*[:#])|(?:medical\s+)?scheme|med(?:ical)?\.?\s+aid|"
                 rf"member(?=\s*[:#]?\s*[A-Z]{{0,3}}\d{{5,}})|insurer\s+{_N}|symbol\s*/\s*{_N}|"
                 rf"membership(?:\s+(?:{_N}|ID))?|(?-i:NHIS|NHIF|SHIF|PhilHealth|HMO)(?:\s+(?:card|"
                 rf"PIN|ID|{_N}))?|"
                 rf"(?-i:[A-Z]{{2,7}})\s+card(?:\s+{_N})?|(?:health|medical|membership|benefits?)"
                 rf"\s+card(?:\s+{_N})?|subscriber\s+(?:ID|{_N})|policy\s+(?:{_N}|ID)|"
                 rf"gr(?:ou)?p\s*(?:/\s*ID|ID|{_N})|medicare(?:\s+(?:beneficiary\s+identifier|{_N}|ID|card))?|"
                 rf"medicaid(?:\s+(?:{_N}|ID|card))?|MBI|HICN|"
                 rf"health\s+plan\s+(?:ID|{_N}|beneficiary\s+{_N})|beneficiary\s+(?:ID|{_N})|"
                 rf"plan\s+ID|(?:BCBS|Aetna|Cigna|Humana|Kaiser|UnitedHealthcare)\s+(?:ID|#)|"
                 rf"(?:rx\s*)?group(?=\s*[:#]?\s*[A-Z]{{0,3}}\d{{4,}}|\s*[:#]\s*[A-Z0-9-]*\d)|"
                 rf"policy(?=\s*[:#]?\s*[A-Z]{{0,3}}[ -]?\d{{3,}})|"
                 rf"plan(?=\s*[:#]?\s*(?-i:[A-Z]{{0,4}})\s?\d{{6,}})",
    "ACCOUNT": rf"paybill|till\s+(?:{_N}|#)|a/c|(?:bank\s+|billing\s+|hospital\s+|patient\s+|"
               rf"checking\s+|savings\s+)?"
               rf"account(?:\s+(?:{_N}|ID))?|acct\.?(?:\s*{_N})?|FIN|financial\s+{_N}|"
               rf"encounter\s+(?:{_N}|ID)|encounter(?=\s*[:#])|visit\s+(?:{_N}|ID)|credit\s+card(?:\s+{_N})?|"
               rf"BSB|sort\s+code|IBAN|routing\s+{_N}|acc(?=\s*[:#]?\s*\d)",
    "LICENSE": rf"(?:driver'?s?|driving)\s+(?:licen[cs]e|lic\.?)(?:\s+{_N})?|(?<!/)(?-i:DL)\s*[#:]|"
               rf"licen[cs]e\s+{_N}|"
               rf"(?:medical|nursing|state|professional)\s+licen[cs]e(?:\s+{_N})?|"
               rf"certificate\s+{_N}|DEA(?:\s+{_N})?|NPI(?:\s+{_N})?|"
               rf"(?-i:GMC|NMC|NMBI|AHPRA|HCPC|GPhC|IMC|MCI|CPSO|PSI|MMC|SMC|MDCN|KMPDC|HPCSA|PMDC|"
               rf"MCNZ|PRC|SANC|MCZ|CRM(?:-[A-Z]{{2}})?|NHPC|SIP|SLMC|PMDC|BMDC)(?:\s+{_N})?|"
               rf"syndicate\s+{_N}|driver'?s?\s+permit(?:\s+{_N})?|"
               rf"(?:registration|reg\.?|PIN)(?=\s*[:#]?\s*[A-Z]{{0,3}}\d{{5,}})|"
               rf"(?:registration|reg\.?)(?=\s*[:#]?\s*[A-Z]{{2,6}}-\d{{3,}})|"
               rf"licen[cs]e(?=\s*[:#]?\s*[A-Z]{{0,3}}(?:[-‐ ][A-Z]{{1,3}})?[-‐ ]?"
               rf"\d[\d -]{{3,}}\d)|"
               rf"registration\s+{_N}|reg\.?\s+{_N}|award\s+{_N}|practice\s+{_N}|"
               rf"(?-i:Lic)\.?(?:\s+{_N})?|"
               rf"licen[cs]e(?=\s*[:#]?\s*[A-Z]{{1,4}}/[A-Z0-9/]*\d)|"
               rf"cert(?:ification|ificate)?(?=\s*[:#]?\s*[A-Z]{{0,5}}[-.‐ ]?\d{{3,}})|"
               rf"(?:medical|nursing|pharmacy|state)\s+(?:council|board)\s+{_N}",
    "VEHICLE": rf"(?:(?:licen[cs]e|registration|tag|vehicle|car)\s+)?plate(?:\s+{_N})?|VIN|"
               rf"(?-i:IMO|MMSI)(?=\s*[:#]?\s*\d{{7,9}}\b)|call\s+sign|"
               rf"rego(?:\s+{_N})?|(?:car|vehicle)\s+reg(?:istration)?\.?(?:\s+{_N})?|"
               rf"(?:car|vehicle|auto|parked|parking)\b[^.\n]{{0,20}}?\btag(?:\s+{_N})?|"
               rf"vehicle\s+identification\s+{_N}|vehicle\s+(?:ID|registration)(?:\s+{_N})?",
    "DEVICE": rf"serial\s*{_N}|serial(?=\s*[:#])|ser\.?\s*#|S/N|SN\s*[:#]|"
              rf"(?:serial|(?-i:SN)|(?:transmitter|receiver|sensor|pump|generator|processor|"
              rf"handset|module)(?:\s+(?:{_N}|ID|code|serial))?(?:\s+is)?)(?=\s*[:#]?\s*{_SERIAL})|"
              rf"device\s+(?:ID|identifier|serial(?:\s+{_N})?|{_N})|"
              rf"UDI(?:-DI)?|unique\s+device\s+identifier|implant\s+(?:ID|serial(?:\s+{_N})?|{_N})|"
              rf"model\s*/\s*serial|(?:pacemaker|ICD|IPG|CRT-?[DP]?|pump|generator|lead|stent|valve|"
              rf"prosthesis|hearing\s+aid|CGM|sensor|transmitter|monitor|implant)\s+(?:serial|SN|S/N)",
    "ID": rf"passport(?:\s+{_N})?|(?:state|national|government|military|employee|student|staff|"
          rf"work|badge|school|university|college|union|veteran|VA)\s+ID"
          rf"(?:\s+{_N})?|ID\s+card(?:\s+{_N})?|identity\s+(?:card\s+)?{_N}|"
          rf"(?:staff|employee|payroll|badge|student|worker|personnel)\s+{_N}|badge|"
          rf"alien\s+(?:registration\s+)?{_N}|green\s+card(?:\s+{_N})?|tax\s+ID|ITIN|EIN|"
          rf"(?:travel|entry|exit|residence|residency|work|re-?entry)\s+permit(?:\s+{_N})?|"
          rf"home\s+return\s+permit(?:\s+{_N})?|(?:mainland\s+)?travel\s+pass(?:\s+{_N})?|"
          rf"(?:HK|Hong\s+Kong|Macau|Macao|Taiwan)\s+(?:ID|identity\s+card|permit|pass|"
          rf"compatriot\s+(?:permit|pass|card))(?:\s+{_N})?|HKID|visa\s+(?:{_N}|ID)|"
          rf"birth\s+certificate(?:\s+{_N})?|permit\s+{_N}|certificate\s+of\s+identity|"
          rf"Rx\s*(?:{_N})?(?=\s*[:#]?\s*(?:[A-Z]{{1,3}}\s?)?\d{{6,}})|"
          rf"(?-i:Aadhaar|AADHAAR|ABHA|UHID|NIN|BVN|PAN|NHI|IHI|CHI|PPSN|IC|NRIC|FIN|TRN|TIN)"
          rf"(?:\s+(?:card\s+|PIN\s+)?{_N})?|prescription\s+{_N}|"
          rf"(?:booking|reservation|flight|ticket|travel)\s+(?:ref(?:erence)?|code|{_N})|"
          rf"registry\s+{_N}|matric(?:ulation)?(?:\s+{_N})?|incident(?=\s+[A-Z]{{0,3}}\d{{6,}})|"
          rf"(?-i:CPF|RG|NIK|KTP|NPWP|SINAN|NIC|NIN|EID)(?:\s+{_N})?|citizenship(?:\s+cert(?:ificate)?)?"
          rf"(?:\s+{_N})?|"
          rf"(?-i:CNIC|NICOP|B-form|NIDA|Ghana\s+Card|GHA)(?:\s+{_N})?|emp(?:loyee)?\.?\s+{_N}|"
          rf"requisition(?=\s+[A-Z]{{2,4}}\s?\d)|req(?:uisition)?\s+{_N}|"
          rf"(?:user(?:name)?|login|handle|user\s+ID)(?=\s*[:#]?\s*[a-z][a-z0-9._-]*\d)|"
          rf"(?:our|your|my)\s+ref(?:erence)?(?=\s*[:#])|"
          rf"ref(?:erence)?(?=\s*[:#]?\s*[A-Z]{{2,5}}-\d)|case(?=\s+[A-Z]{{2,5}}\s?\d{{5,}})|"
          rf"(?:group\s+member|pilgrim|crew|seaman'?s?\s+book|CDC|team\s+member)\s+(?:ID|{_N})|"
          rf"(?:claim|case|ticket|reference|ref|confirmation|order|requisition)\s+(?:{_N}|ID)|"
          rf"(?:police|incident|accident|crash|citation)\s+(?:report|case)(?:\s+{_N})?|badge",
    "SSN": rf"SSN|SS\s?#|SS\s+{_N}|social\s+security(?:\s+{_N})?|soc\.?\s+sec\.?(?:\s+{_N})?",
}
_ZH_LABELS: dict[str, str] = {
    "ADDRESS": "邮编|邮政编码|邮码",
    "MRN": "病历号|病历编号|住院号|门诊号|急诊号|病案号|就诊号|就诊卡号|诊疗卡号|登记号|患者ID|"
           "病人ID|ID号|档案号|档案编号|检查号|影像号|标本号|申请单号|体检号|检验号|样本号|条码号|"
           "报告编号|报告单号|放射号|病理号|超声号|心电号|床旁号|就诊ID|门诊ID|住院ID|挂号单号|"
           "处方号|医嘱号|会员号|健康档案号|健康档案编号",
    "INSURANCE": "医保卡号|医保号|医保编号|医保账号|医疗保险卡号|医疗保险号|社保卡号|社保号|"
                 "社会保障卡号|社会保障号|参保号|参保编号|新农合证号|新农合号|农合号|保单号|"
                 "保险单号|商保卡号|保险卡号|医保个人编号|个人编号|参保人编号|电脑号|医保(?=[：:])",
    "ACCOUNT": "银行卡号|银行账号|银行账户|结算账号|缴费账号|收款账号|信用卡号|住院流水号|流水号|"
               "支付宝账号|支付宝账户|支付宝|账号|账户|卡号|银行户口|户口(?=\\s*\\d)",
    "LICENSE": "驾驶证号|驾照号|驾驶证|执业证书编号|执业证书编码|执业证书号|执业证号|执业编号|"
               "资格证书编号|资格证号|医师资格证号|医师执业证号|许可证号|许可证编号|营业执照号|"
               "行驶证号|证书编号|证书号|执照号|作业人员证编号|上岗证号|操作证号|资格证编号",
    "VEHICLE": "车牌号码|车牌号|车牌|号牌号码|号牌|车架号|车辆识别代号|车辆识别号|VIN码|VIN",
    "DEVICE": "设备序列号|序列号|设备编号|设备号|机身号|器械编号|植入物编号|起搏器编号|"
              "出厂编号|产品编号|器械识别码|唯一标识|UDI|SN号|SN|S/N",
    "ID": "公民身份号码|身份证号码|身份证号|身份证|身份号码|证件号码|证件号|护照号码|护照号|护照|"
          "军官证号|军官证|士兵证号|士兵证|警官证号|港澳通行证号|港澳通行证|往来港澳通行证|"
          "港澳居民来往内地通行证|回乡证号|回乡证|台湾居民来往大陆通行证|台胞证号|台胞证|"
          "台湾通行证|大陆居民往来台湾通行证|通行证号|通行证|居住证号|居住证|暂住证号|暂住证|"
          "居留证号|居留证|永久居留身份证|出生医学证明编号|出生证明编号|出生证号|残疾证号|"
          "工号|员工号|员工编号|职工号|职工编号|工作证号|工牌号|胸牌号|学号|学籍号|准考证号|"
          "会员卡号|会员编号|会议号|会议ID|房间号|警号|工作证编号|订单号|交易号|申请编号|个案编号|"
          "报案号|事故认定书编号|认定书编号|案件编号|业务编号|电子客票号|客票号|机票号|车票号|票号|"
          "快递单号|运单号|物流单号|预约号|挂号序号|团员号|船员证号|海员证号|护照号码",
}
_EN_SEP = r"(?:[\s:#=.\-–]|\b(?:is|was|of)\b|\b(?:number|no|ID)\b)*"
_ZH_SEP = r"[\s:：#＃为是]*(?:(?:号码|编号|号|码)[\s:：#＃为是]*)?"
_VALUE = (r"(?P<v>(?:(?=[A-Za-z0-9\-/]*\d)|(?=[A-Z]{1,7}[ ]\d{2}))"
          r"[A-Za-z0-9](?:[A-Za-z0-9]|[-/.·](?=[A-Za-z0-9])|"
          r"[ ](?=[A-Za-z0-9-]*\d[A-Za-z0-9-]*\d|\d(?![A-Za-z0-9.,/])))*)")
_CN_PLATE_HEAD = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_VALUE_VEHICLE = (rf"(?P<v>[{_CN_PLATE_HEAD}]?[A-Z0-9](?:[A-Z0-9]|[-·•.](?=[A-Z0-9])|[ ](?=\d)|"
                  r"(?<=\d)[ ](?=[A-Z]{2,4}\b))"
                  r"{3,16}[学警挂港澳]?)(?![A-Za-z0-9])")


@functools.cache
def _label_patterns(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for phi_type, labels in (_ZH_LABELS if lang == "zh" else {}).items():
        value = _VALUE_VEHICLE if phi_type == "VEHICLE" else _VALUE
        head = rf"(?P<v>(?:[{_CN_PLATE_HEAD}]|[\u4e00-\u9fff]{{2}}(?=[A-Z]\d))?"
        value = value.replace("(?P<v>", head, 1)
        out.append((phi_type, re.compile(rf"(?P<label>{labels})(?:{_ZH_SEP}){value}")))
    for phi_type, labels in _EN_LABELS.items():
        value = _VALUE_VEHICLE if phi_type == "VEHICLE" else _VALUE
        out.append((phi_type, re.compile(
            rf"(?=[A-Za-z])(?<![A-Za-z])(?P<label>(?i:{labels}))(?![A-Za-z]){_EN_SEP}{value}")))
    return out


# any other "... ID#/No./number VALUE": an identifier of unknown kind (type ID, weaker)
# ("ID No: 28810734"; a national number written in groups: "ID 900312 5804 083")
_GENERIC_LABEL = re.compile(r"(?<![A-Za-z])(?:ID|I\.D\.|identifier|number|No\.|#)"
                            r"(?:[ \t]*(?:No\.?|number|#)(?![A-Za-z]))?\s*[:#]?\s*"
                            r"(?P<v>(?=[A-Za-z0-9\-]*\d)[A-Za-z0-9][A-Za-z0-9\-]{4,}"
                            r"(?:(?<=\d)[ ]\d{2,6}(?!\d|[.,/]\d|[ ]*(?i:kg|g|mg|ml|cm|mm|years?|"
                            r"yrs?|%|units?)\b)){0,3})")
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


@recogniser("labelled", with_lang=True)
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
            if sum(ch.isalnum() for ch in text[start:end]) < 3:
                continue  # "Visit #4 of 9"
            if phi_type == "ID" and re.fullmatch(r"\d{17}[\dXx]", text[start:end]):
                pass  # a labelled resident ID counts even with a wrong checksum
            prio = _PRIORITY["LABELLED"] + len(m.group("label")) / 100
            out.append((start, end, phi_type, prio))
    return out


#: an official document's number: issuer, year in brackets, serial (苏职诊〔2024〕第0386号,
#: 东远船〔2025〕017号)
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,8}[〔\[［(（](?:19|20)\d\d[〕\]］)）]第?\d{1,6}号")


@recogniser("document-number", ("zh",))
def _document_numbers(text: str) -> list[_Cand]:
    return [(m.start(), m.end(), "ID", _PRIORITY["GENERIC"]) for m in _DOC_NUMBER.finditer(text)]


# ---------------------------------------------------------------- national numbers

_CN_ID = re.compile(r"(?<![\dA-Za-z])([1-8]\d{5})(\s?)(\d{8})\2(\d{3}[\dXx])(?![\dA-Za-z])")
_SSN = re.compile(r"(?<![\d-])(?!000|666)\d{3}(?P<s>[- ])(?!00)\d{2}(?P=s)(?!0000)\d{4}"
                  r"(?![\d-])")
_VIN = re.compile(r"(?<![A-Za-z0-9])(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])(?=[A-HJ-NPR-Z0-9]*\d)"
                  r"[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])")
_CN_PLATE = re.compile(rf"[{_CN_PLATE_HEAD}][A-HJ-NP-Z][·•.\s]?[A-HJ-NP-Z0-9]{{4,5}}"
                       r"[A-HJ-NP-Z0-9挂学警港澳](?![A-Za-z0-9])")


@recogniser("cn-resident-id")
def _cn_ids(text: str) -> list[_Cand]:
    out = []
    for m in _CN_ID.finditer(text):
        if is_valid_cn_id(m.group(1) + m.group(3) + m.group(4)):
            out.append((m.start(), m.end(), "ID", _PRIORITY["CNID"]))
    return out


# an SSN masked but for its last four digits ("xxx-xx-6613", "***-**-6613"): the digits left
# are still the person's
_SSN_MASKED = re.compile(r"(?i)(?<![\w*•])(?:x{3}|\*{3}|•{3})[- ](?:x{2}|\*{2}|•{2})[- ]\d{4}"
                         r"(?!\d)")


@recogniser("ssn")
def _ssns(text: str) -> list[_Cand]:
    out = _spans(_SSN_MASKED, text, "SSN")
    for m in _SSN.finditer(text):
        if m.group("s") == " " and not re.search(r"(?i)ss|social|security", text[max(
                0, m.start() - 30):m.start()]):
            continue
        out.append((m.start(), m.end(), "SSN", _PRIORITY["SSN"]))
    return out


# an IBAN (ISO 13616): country, two check digits, up to 30 letters and digits, written in
# groups of four or run together; kept only when its mod-97 check holds
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?"
                   r"(?![A-Za-z0-9])")


def _iban_valid(value: str) -> bool:
    code = value.replace(" ", "")
    if not 15 <= len(code) <= 34:
        return False
    digits = "".join(str(int(ch, 36)) for ch in code[4:] + code[:4])
    return int(digits) % 97 == 1


@recogniser("iban")
def _ibans(text: str) -> list[_Cand]:
    # above the labelled rule, whose value stops at the first space ("IBAN IE64 ...")
    return [(m.start(), m.end(), "ACCOUNT", _PRIORITY["LABELLED"] + 1) for m in _IBAN.finditer(text)
            if _iban_valid(m.group(0)) or _IBAN_LABEL.search(text, max(0, m.start() - 12),
                                                              m.start())]


_IBAN_LABEL = re.compile(r"(?i)\biban\s*(?:no\.?|number|#)?[\s:#]*$")


@recogniser("vehicle")
def _vehicles(text: str) -> list[_Cand]:
    return _spans(_VIN, text, "VEHICLE") + _spans(_CN_PLATE, text, "VEHICLE")


# ---------------------------------------------------------------- bare long numbers

_LONG_NUMBER = re.compile(r"(?<![A-Za-z0-9_.,/-])\d{9,}(?![A-Za-z0-9_.,/]|-\d)")


@recogniser("long-number")
def _long_numbers(text: str) -> list[_Cand]:
    return _spans(_LONG_NUMBER, text, "ID", "FALLBACK")




# ---------------------------------------------------------------- messaging and social IDs

_MESSAGING = (r"(?i:we-?chat|weixin|wx|QQ|weibo|twitter|instagram|insta|IG|facebook|FB|telegram|"
              r"whats-?app|snapchat|snap|tik-?tok|douyin|skype|discord|line|signal|kakao(?:talk)?|"
              r"linkedin|reddit|threads|x\.com|mastodon|xiaohongshu|RED|dingtalk)"
              r"(?:\s*(?:ID|id|handle|account|username|user\s*name|number|no\.?|#))?|"
              r"(?i:handle|username|user\s*name|screen\s*name|user\s+ID|login|profile\s+name|"
              r"user(?=[ \t]+[a-z][a-z0-9]*[_.][a-z0-9_.]*\d)|"
              r"(?:proxy|portal|online|app)\s+account)|"
              r"微信号|微信|加微信|微信ID|企业微信|QQ号|QQ|微博号|微博|抖音号|抖音|快手号|快手|小红书号|"
              r"小红书|钉钉号|钉钉|支付宝|网名|昵称|账号名|用户名")
_HANDLE = re.compile(
    rf"(?<![A-Za-z])(?P<label>{_MESSAGING})(?P<sep>\s*(?:[:：=]|\b(?:is|was)\b|是|为|[-–]|\()?\s*)"
    r"(?P<v>@?[A-Za-z0-9](?:[A-Za-z0-9_.]|-(?=[A-Za-z0-9])){3,40})(?<![.])")
_HANDLE = fast_start(_HANDLE, "A-Za-z\u4e00-\u9fff")
_AT_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z_][A-Za-z0-9_.]{2,30}(?<![.])(?![\w@]|\.[A-Za-z])")
_WXID = re.compile(r"(?i)(?<![\w])wxid_[a-z0-9]{4,}(?![\w])")
_PLAIN_WORDS = L.words("""
call calls called calling video voice message messages messaged chat chats group groups
me him her them us you today tomorrow yesterday later again only also with from and the
account app application number reply replied contact contacted voice photo photos picture
pictures post posts page friend friends live story
""")


@recogniser("messaging-id")
def _messaging(text: str) -> list[_Cand]:
    """WeChat / QQ / social-media IDs and handles: after a label, ``@handle``, ``wxid_``."""
    out = []
    for m in _HANDLE.finditer(text):
        value = m.group("v")
        explicit = bool(re.search(r"[:：=]|is|was|是|为", m.group("sep"))) or re.search(
            r"(?i)ID|号|handle|name|名|#", m.group("label")) is not None
        marked = re.search(r"[\d_@]", value) is not None
        if value.lower().strip("@") in _PLAIN_WORDS:
            continue
        if re.fullmatch(r"[\d\s+-]{7,}", value) and len(re.sub(r"\D", "", value)) >= 10:
            continue  # a phone number after "WhatsApp": the phone recogniser's
        if value.isdigit() and re.match(r"[ -]\d{2,}", text[m.end("v"):m.end("v") + 4]):
            continue  # "direct line 0491 570 156": the first group of a phone number
        if marked or explicit:
            out.append((m.start("v"), m.end("v"), "ID", _PRIORITY["LABELLED"]))
    out += _spans(_AT_HANDLE, text, "ID", "GENERIC")
    out += _spans(_WXID, text, "ID", "LABELLED")
    return out


# ---------------------------------------------------------------- safe default

# a code made of letters and digits (inner - _ / . allowed), at least 4 digits and a letter:
# a serial, permit, staff, member or account number of a kind no recogniser names.
_CODE = re.compile(r"(?<![\w@./\\-])(?=[\w./-]*\d)(?=[\w./-]*[A-Za-z])[A-Za-z0-9]"
                   r"(?:[A-Za-z0-9]|[-_/.](?=[A-Za-z0-9])){4,39}(?![\w@]|[-/.][A-Za-z0-9])",
                   re.ASCII)
# ... that a clinical note writes as a value: an ICD-10 code, a number with its unit, a
# gene/variant or rs number, a date-like or dose-like token
_CLINICAL_CODE = re.compile(
    r"[A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?|"                      # ICD-10 (S22.42XA)
    r"\d+(?:[./:x-]\d+)*(?:mg|mcg|ug|µg|ng|g|kg|lb|lbs|ml|mL|l|L|dl|dL|mmol|umol|mEq|IU|iu|u|U|"
    r"units?|cm|mm|km|m|in|ft|h|hr|hrs|min|mins|s|sec|d|wk|wks|w|mo|y|yr|yrs|bpm|kcal|x|X|"
    r"mmHg|Fr|F|G|g/dL|mg/dL|mmol/L|mg/kg|mL/h|ml/h|L/min|°C|C|%|pm|am|th|st|nd|rd|s)(?:/\w+)?|"
    r"\d{4}s|(?:19|20)\d\d[-/](?:19|20)?\d\d|"                 # 1990s, 2019-20, 2019/2020
    r"rs\d+|[cpg]\.\S+|NM_\d+(?:\.\d+)?|"                       # variants
    r"[A-Z]{1,6}\d{1,3}[A-Z]?|[A-Z]{1,5}-\d{1,3}[A-Z]?|"          # CA19, COVID-19, IL-6, CD4
    r"\d{1,3}[A-Z]{1,4}\d?|"                                     # 22C3, 3T, 4B
    r"(?:\d+s-?)+|"                                              # 70s-80s
    r"[\w./-]*(?i:mL|min|mg|kg|mmol|umol|m2|dL|mcg|ug|IU|hr|mmHg|bpm)\b[\w./-]*",  # units
    re.ASCII)


_UNIT_AFTER = re.compile(r"\s?(?:cm|mm|m|mg|ml|mL|g|kg|mcg|µg|μg|IU|U|units?|mmHg|Fr|F|h|"
                         r"min|片|粒|支|袋|瓶|次|个|毫克|毫升|克)(?![A-Za-z])")


@recogniser("code-like")
def _codes(text: str) -> list[_Cand]:
    """Unclassified identifier-like codes, removed as ``ID`` (a safe default)."""
    out = []
    for m in _CODE.finditer(text):
        value = m.group(0)
        digits = sum(ch.isdigit() for ch in value)
        if digits < 5 or _CLINICAL_CODE.fullmatch(value) or _UNIT_AFTER.match(text, m.end()):
            continue  # a model number (PM2272, 2088TC/52 cm), a protocol (CCCG-ALL-2020)
        if _LOT_BEFORE.search(text, max(0, m.start() - 16), m.start()):
            continue  # a drug or consumable lot (batch), not a person's: kept

        out.append((m.start(), m.end(), "ID", _PRIORITY["FALLBACK"]))
    for m in _DIGIT_GROUPS.finditer(text):
        groups = m.group(0).split()
        if sum(map(len, groups)) >= 10 and max(map(len, groups)) >= 4 and \
                not _UNIT_AFTER.match(text, m.end()):
            out.append((m.start(), m.end(), "ID", _PRIORITY["FALLBACK"]))
    return out


# the lot (batch) label of a drug or a consumable: "lot 2311A0462", "批号KT0B2204"
_LOT_BEFORE = re.compile(r"(?i:\blot|\bbatch)(?:\s*(?:no\.?|number|#))?[\s:#.]*$|批[号號][：:\s]*$")


# a number written in spaced groups with no label: "350102 8866 3321", "2951 64738 1"
_DIGIT_GROUPS = re.compile(r"(?<![\d.,:/-])\d{3,6}(?:[ ]\d{3,6}){1,3}(?:[ ]\d)?(?![\d.,:/%-])")


# an Indian registration plate: TN 59 G 1182, KA-05-MX-4471 (state, district, series, number)
_IN_PLATE = re.compile(r"(?<![A-Za-z0-9-])(?:AN|AP|AR|AS|BR|CG|CH|DD|DL|DN|GA|GJ|HP|HR|JH|JK|KA|"
                       r"KL|LA|LD|MH|ML|MN|MP|MZ|NL|OD|OR|PB|PY|RJ|SK|TN|TR|TS|UK|UP|WB)[ -]?"
                       r"\d{1,2}[ -]?[A-Z]{1,3}[ -]?\d{4}(?![A-Za-z0-9-])")
# national numbers in their own shape, with no label: a Pakistani CNIC / B-form
# (35202-1178450-2), a Malaysian identity card (560814-07-5231); an official letter's
# number (东远船〔2025〕017号)
_NATIONAL_SHAPE = re.compile(r"(?<![\d.-])(?:\d{5}-\d{7}-\d|\d{6}-\d{2}-\d{4}|"
                             r"\d{3}\.\d{3}\.\d{3}-\d{2}|\d{2}-\d{2}-\d{2}-\d{5})(?![\d-])|"
                             r"[\u4e00-\u9fff]{1,6}〔(?:19|20)\d\d〕\d{1,4}号")
# a telephone number read out in words: "nine six eight seven, two three one four";
# "一三八 幺二五七 六六零三"
_SPOKEN_DIGITS = re.compile(
    r"(?i)\b(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double\s+\w+)[ ,-]+){6,}"
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b|"
    r"(?<![一二三四五六七八九零〇幺两十百千万])[一二三四五六七八九零〇幺]{3,4}[ \t]?"
    r"[一二三四五六七八九零〇幺]{4}[ \t]?[一二三四五六七八九零〇幺]{4}"
    r"(?![一二三四五六七八九零〇幺])")


# a Brazilian telephone number: (53) 3242-7719, (11) 98765-4321
_BR_PHONE = re.compile(r"(?<![\d)])\(\d{2}\)[ ]?\d{4,5}-\d{4}(?![\d-])")


@recogniser("national-shape-spoken", ("en", "zh"))
def _national_shape(text: str) -> list[_Cand]:
    return (_spans(_NATIONAL_SHAPE, text, "ID", "LABELLED")
            + [(m.start(), m.end(), "PHONE", _PRIORITY["PHONE"]) for m in _BR_PHONE.finditer(text)]
            + [(m.start(), m.end(), "VEHICLE", _PRIORITY["VEHICLE"])
               for m in _IN_PLATE.finditer(text)]
            + [(m.start(), m.end(), "PHONE", _PRIORITY["PHONE"])
               for m in _SPOKEN_DIGITS.finditer(text)])


# ---------------------------------------------------------------- card numbers, plates, UDIs

# payment card numbers in groups: 4-4-4-4(-3), 4-6-5 (Amex)
_CARD = re.compile(r"(?<![\d-])(?:\d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{4}(?:(?P=s)\d{1,3})?|"
                   r"\d{4}(?P<t>[ -])\d{6}(?P=t)\d{5})(?![\d-])")
# a plate after a vehicle word: "maroon Buick sedan, WA BSK 8840", "LA plate 738 BKD"
_PLATE_CUE = re.compile(r"(?<![A-Za-z])(?i:sedan|car|truck|suv|van|vehicle|pickup|minivan|"
                        r"motorcycle|coupe|hatchback|jeep|plates?|tags?|registration|rego|ute|drives|"
                        r"drove|driving|lorry|taxi|motorbike|scooter|tuk-tuk|bakkie|ambulance|"
                        r"campervan|trailer|boda|jeepney|tricycle|pick-up|bus|matatu|"
                        r"three-wheeler|rickshaw|auto-rickshaw|tuk|"
                        r"minibus)s?\b[^.;\n]{0,30}?"
                        r"(?<![A-Za-z0-9])(?P<v>(?:[A-Z]{2}\s+)?(?=[A-Z0-9 -]*\d)[A-Z0-9]{2,4}"
                        r"[ -]?[A-Z0-9]{2,4}(?:(?<=\d)[ -][A-Z]{1,3}(?![A-Za-z0-9]))?)"
                        r"(?![A-Za-z0-9]|/\d|[ -]\d)")
_PLATE_CUE = fast_start(_PLATE_CUE)
#: A plate's shape after a vehicle word, whatever else it might read as: DQX82R, LKT482
_PLATE_SHAPE = re.compile(r"[A-Z]{2,3}[ -]?\d{2,4}[ -]?[A-Z]{0,3}")
# an aircraft's registration after its cue: "reg C-FJTX", "tail number N4471K"
_AIRCRAFT = re.compile(r"(?i:\breg(?:istration|istered)?|tail(?:\s+(?:number|no\.?))?|aircraft|"
                       r"plane|floatplane|cessna|piper|beechcraft)\b[^.\n]{0,20}?(?<![A-Za-z0-9-])"
                       r"(?P<v>[A-Z0-9]{1,2}-[A-Z]{3,4}|N\d{1,5}[A-Z]{0,2})(?![A-Za-z0-9-])")
# SSN written with spaced dashes after its label: "SSN: 229 - 56 - 8831"
_SSN_SPACED = re.compile(r"(?i:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)\s*[:#]?\s*"
                         r"(?P<v>\d{3}\s*[-–]\s*\d{2}\s*[-–]\s*\d{4})(?!\d)")
# a UK driving licence number: NAKAG 912097 S99LK (surname, birth date, initials, check)
_UK_LICENCE = re.compile(r"(?<![A-Za-z0-9])[A-Z9]{5}[ ]?\d{6}[ ]?[A-Z0-9]{2}\d[A-Z]{2}"
                         r"(?:[ ]?\d{2})?(?![A-Za-z0-9])")
# a certificate's number in the Chinese form: "台医字第038512号", "鲁离字第04417号"
_ZH_CERTIFICATE = re.compile(r"[\u4e00-\u9fff]{1,4}字第[ \t]*[0-9A-Z]{3,14}[ \t]*[号號]")
# GS1 UDI: (01)00643169907158(17)220331(21)RNB418802S
_UDI = re.compile(r"(?:\(\d{2,4}\)[A-Za-z0-9]+){2,}")


@recogniser("cards-plates-udi")
def _cards_plates(text: str) -> list[_Cand]:
    out = _spans(_CARD, text, "ACCOUNT", "LABELLED")
    for m in _PLATE_CUE.finditer(text):
        value = m.group("v")
        if not re.fullmatch(r"\d+(?:[ -]\d+)?", value) and (
                not _CLINICAL_CODE.fullmatch(value) or _PLATE_SHAPE.fullmatch(value)):
            out.append((m.start("v"), m.end("v"), "VEHICLE", _PRIORITY["VEHICLE"]))
    out += [(m.start("v"), m.end("v"), "SSN", _PRIORITY["LABELLED"] + 1)
            for m in _SSN_SPACED.finditer(text)]
    out += [(m.start("v"), m.end("v"), "VEHICLE", _PRIORITY["VEHICLE"])
            for m in _AIRCRAFT.finditer(text)]
    out += _spans(_UDI, text, "DEVICE", "LABELLED")
    out += _spans(_UK_LICENCE, text, "LICENSE", "LABELLED")
    out += _spans(_ZH_CERTIFICATE, text, "LICENSE", "LABELLED")
    return out


# the last digits of a card or account: "尾号0096的银行卡", "card ending in 4821"
_CARD_END = re.compile(r"(?:尾号|末四位|后四位|末四码|末四碼|末四位數|"
                       r"(?i:ending(?:\s+(?:in|with))?|last\s+(?:4|four)(?:\s+digits)?(?:\s+of)?\)?|ends\s+in))\s*[:：]?\s*(?P<v>\d{3,6})(?!\d)")
# a card masked but for its last digits: "card **** 2210", "xxxx-xxxx-xxxx-4471"
_CARD_MASKED = re.compile(r"(?<![\w*•])(?:(?:\*{4}|[xX]{4}|•{4})[ -]?){1,3}\d{4}(?!\d)")
# a Hong Kong identity card number with its check digit in brackets: K123456(7)
_HKID = re.compile(r"(?<![A-Za-z0-9])[A-Z]{1,2}\d{6}\([0-9A]\)")
# Chinese company names: "杭州蓝途即时配送有限公司", "安和康泰人寿保险股份有限公司"
_CN_COMPANY = re.compile(r"(?:(?<=[\s，。；：:（(、“\"《\u3000])|^)"
                         r"(?P<v>[\u4e00-\u9fffA-Za-z0-9]{2,24}?"
                         r"(?:股份有限公司|有限责任公司|集团有限公司|有限公司))", re.M)
_CN_COMPANY_LEAD = re.compile(r"^(?:在|于|系|是|为|任|从|到|工作单位|单位|就职于|任职于|父亲|母亲|"
                              r"丈夫|妻子|职业[^（(]*)")


# Chinese schools by their ending: "小红帽幼儿园", "实验小学", "江城职业技术学院"
_CN_SCHOOL = re.compile(r"(?:(?<=[\s，。；：:（(、“\"《\u3000在于读念上])|^)"
                        r"(?P<v>(?:(?![在于读念上去到送是的了和与就])[\u4e00-\u9fff]){2,10}?"
                        r"(?:幼儿园|小学|中学|高中|初中|大学|学院))"
                        r"(?![\u4e00-\u9fff]*(?:医院|附属))", re.M)


@recogniser("card-end-company", ("en", "zh"))
def _card_end(text: str) -> list[_Cand]:
    out = _spans(_CARD_END, text, "ACCOUNT", "LABELLED", group="v")
    out += _spans(_CARD_MASKED, text, "ACCOUNT", "LABELLED")
    out += [(m.start(), m.end(), "ID", _PRIORITY["LABELLED"] + 2) for m in _HKID.finditer(text)]
    for m in _CN_SCHOOL.finditer(text):
        if m.group("v")[:2] not in ("这个", "那个", "哪个", "一个", "附近", "当地", "本地"):
            out.append((m.start("v"), m.end("v"), "ORG", _PRIORITY["ADDRESS"] + 0.5))
    for m in _CN_COMPANY.finditer(text):
        start = m.start("v") + (_CN_COMPANY_LEAD.match(m.group("v")).end()  # type: ignore[union-attr]
                                if _CN_COMPANY_LEAD.match(m.group("v")) else 0)
        if m.end("v") - start >= 6:
            out.append((start, m.end("v"), "ORG", _PRIORITY["ADDRESS"] + 0.5))
    return out
