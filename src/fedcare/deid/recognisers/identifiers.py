"""Identifiers: labelled numbers ("MRN: ...", "医保卡号：..."), Chinese resident IDs
(checksum), SSNs, vehicles, bare long numbers."""

from __future__ import annotations

import functools
import re

from fedcare.deid import _lexicon as L
from fedcare.deid._common import is_valid_cn_id

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser
from ._base import spans as _spans

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


@recogniser("cn-resident-id")
def _cn_ids(text: str) -> list[_Cand]:
    out = []
    for m in _CN_ID.finditer(text):
        if is_valid_cn_id(m.group(1) + m.group(3) + m.group(4)):
            out.append((m.start(), m.end(), "ID", _PRIORITY["CNID"]))
    return out


@recogniser("ssn")
def _ssns(text: str) -> list[_Cand]:
    out = []
    for m in _SSN.finditer(text):
        if m.group("s") == " " and not re.search(r"(?i)ss|social|security", text[max(
                0, m.start() - 30):m.start()]):
            continue
        out.append((m.start(), m.end(), "SSN", _PRIORITY["SSN"]))
    return out


@recogniser("vehicle")
def _vehicles(text: str) -> list[_Cand]:
    return _spans(_VIN, text, "VEHICLE") + _spans(_CN_PLATE, text, "VEHICLE")


# ---------------------------------------------------------------- bare long numbers

_LONG_NUMBER = re.compile(r"(?<![A-Za-z0-9_.,/-])\d{9,}(?![A-Za-z0-9_.,/]|-\d)")


@recogniser("long-number")
def _long_numbers(text: str) -> list[_Cand]:
    return _spans(_LONG_NUMBER, text, "ID", "FALLBACK")


