"""Replacement: tags, keyed pseudonyms, per-person date shifts, keys (synthetic texts)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fedcare.deid import deidentify_text, load_key, person_key
from fedcare.deid._common import Keyed
from fedcare.exceptions import ConfigError

KEY = b"synthetic-test-key-0123456789abcdef"

NOTE_EN = ("Patient: Thandiwe Okafor  MRN: 00482913\nMs. Okafor, a 93-year-old woman, was "
           "admitted on March 3, 2021 and discharged on 03/10/2021. Call (617) 555-0134 or "
           "t.okafor@example.org. Lives at 45 Oak Ave., Springfield, IL 62704.")
NOTE_ZH = ("姓名：张伟  住院号：0012345\n患者92岁，于2023年3月5日入院，2023-03-12出院。"
           "联系电话13812345678，家住北京市朝阳区建国路88号。")
PHI_EN = ["Thandiwe", "Okafor", "00482913", "March 3, 2021", "03/10/2021", "555-0134",
          "t.okafor@example.org", "45 Oak Ave", "62704", "93-year"]
PHI_ZH = ["张伟", "0012345", "92岁", "2023年3月5日", "2023-03-12", "13812345678", "建国路88号"]


@pytest.mark.parametrize("mode", ["tag", "pseudonym"])
def test_no_phi_value_survives(mode: str) -> None:
    for note, values, lang in ((NOTE_EN, PHI_EN, "en"), (NOTE_ZH, PHI_ZH, "zh")):
        out = deidentify_text(note, lang=lang, mode=mode, key=KEY).text  # type: ignore[arg-type]
        for value in values:
            assert value not in out, (lang, mode, value)


def test_tag_mode_output() -> None:
    result = deidentify_text("Seen by Dr. Smith, call (617) 555-0134.", lang="en", key=KEY)
    assert result.text == "Seen by Dr. [NAME], call [PHONE]."
    assert result.counts == {"NAME": 1, "PHONE": 1}
    assert result.lang == "en"


def test_auto_language() -> None:
    assert deidentify_text(NOTE_ZH, key=KEY).lang == "zh"
    assert deidentify_text(NOTE_EN, key=KEY).lang == "en"


def test_pseudonyms_are_keyed_and_consistent() -> None:
    one = deidentify_text("Call (617) 555-0134. Mr. Okafor agrees.", lang="en",
                          mode="pseudonym", key=KEY).text
    two = deidentify_text("Phone 617-555-0134 for okafor? Dr. Okafor.", lang="en",
                          mode="pseudonym", key=KEY).text
    other_key = deidentify_text("Call (617) 555-0134.", lang="en", mode="pseudonym",
                                key=b"another-synthetic-key-0123456789").text
    phone = re.search(r"\[PHONE-[0-9a-f]{12}\]", one)
    name = re.search(r"\[NAME-[0-9a-f]{12}\]", one)
    assert phone and name
    assert phone.group(0) in two and name.group(0) in two  # surface variants, one pseudonym
    assert phone.group(0) not in other_key
    different = deidentify_text("Call (617) 555-0199.", lang="en", mode="pseudonym", key=KEY)
    assert phone.group(0) not in different.text


def _dates(text: str) -> list[dt.date]:
    out = []
    for m in re.finditer(r"(\d{4})-(\d{2})-(\d{2})", text):
        out.append(dt.date(*map(int, m.groups())))
    return out


def test_dates_shift_consistently_per_person() -> None:
    text_a1 = "MRN 11111111. Admitted 2021-03-03, discharged 2021-03-10."
    text_a2 = "MRN 11111111. Clinic visit 2021-04-01."
    text_b = "MRN 22222222. Admitted 2021-03-03, discharged 2021-03-10."
    a1 = _dates(deidentify_text(text_a1, lang="en", key=KEY).text)
    a2 = _dates(deidentify_text(text_a2, lang="en", key=KEY).text)
    b = _dates(deidentify_text(text_b, lang="en", key=KEY).text)
    shift_a = (a1[0] - dt.date(2021, 3, 3)).days
    assert a1[1] - a1[0] == dt.timedelta(days=7)  # interval kept
    assert (a2[0] - dt.date(2021, 4, 1)).days == shift_a  # same person, other note
    assert shift_a != 0 and 1 <= abs(shift_a) <= 365
    assert b[1] - b[0] == dt.timedelta(days=7)
    assert (b[0] - dt.date(2021, 3, 3)).days != shift_a  # another person, another offset
    keyed = Keyed(KEY)
    assert keyed.day_offset(person_key("MRN", "11111111")) == shift_a


def test_date_formats_are_kept() -> None:
    out = deidentify_text(NOTE_EN, lang="en", key=KEY).text
    assert re.search(r"admitted on [A-Z][a-z]+ \d{1,2}, \d{4} and discharged on "
                     r"\d{2}/\d{2}/\d{4}", out)
    zh = deidentify_text(NOTE_ZH, lang="zh", key=KEY).text
    assert re.search(r"于\d{4}年\d{1,2}月\d{1,2}日入院，\d{4}-\d{2}-\d{2}出院", zh)
    shifted = re.search(r"于(\d{4})年(\d{1,2})月(\d{1,2})日入院，(\d{4})-(\d{2})-(\d{2})出院", zh)
    assert shifted
    g = list(map(int, shifted.groups()))
    assert dt.date(*g[3:]) - dt.date(*g[:3]) == dt.timedelta(days=7)


def test_dates_tag_policy_and_ages() -> None:
    out = deidentify_text("A 93-year-old seen 2021-03-03.", lang="en", key=KEY, dates="tag")
    assert out.text == "A 90+-year-old seen [DATE]."
    assert deidentify_text("患者九十二岁。", lang="zh", key=KEY).text == "患者90+岁。"


def test_keys() -> None:
    with pytest.raises(ConfigError, match="key"):
        deidentify_text("x", mode="pseudonym")
    with pytest.raises(ConfigError, match="16 bytes"):
        deidentify_text("x", key="short")
    with pytest.raises(ConfigError, match="unknown mode"):
        deidentify_text("x", mode="mask", key=KEY)  # type: ignore[arg-type]


def test_load_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEDCARE_DEID_KEY", raising=False)
    assert load_key() is None
    with pytest.raises(ConfigError, match="FEDCARE_DEID_KEY"):
        load_key(required=True)
    monkeypatch.setenv("FEDCARE_DEID_KEY", "environment-key-0123456789")
    assert load_key() == b"environment-key-0123456789"
    key_file = tmp_path / "deid.key"
    key_file.write_bytes(KEY + b"\n")
    assert load_key(key_file) == KEY  # the file wins over the environment
    with pytest.raises(ConfigError, match=r"missing\.key") as missing:
        load_key(tmp_path / "missing.key")
    assert "secrets.token_hex(32)" in str(missing.value)  # how to make one
    (tmp_path / "short.key").write_text("abc")
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        load_key(tmp_path / "short.key")
