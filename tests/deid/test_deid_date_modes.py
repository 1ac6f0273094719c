"""Date modes: shifted dates keep their format and day/month order; Safe Harbor keeps years.

Every value here is synthetic.  Expected outputs are built independently of the code under
test: the shift is the keyed offset of the person (``Keyed.day_offset``), applied with
``datetime`` and written with ``strftime``, so a changed format, a lost zero, or day and
month trading places fails the exact comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fedcare.cli._common import EXIT_CODES
from fedcare.cli._deid import deid
from fedcare.deid import classify_columns, deidentify_frame, deidentify_path, deidentify_text
from fedcare.deid._common import Keyed
from fedcare.deid._dates import shift_date_text, year_date_text
from fedcare.exceptions import ConfigError

KEY = b"synthetic-test-key-0123456789abcdef"
PERSON = "MRN:11111111"
OFFSET = Keyed(KEY).day_offset(PERSON)
REF = 2025  # Safe Harbor reference year in these tests: years <= 1935 are grouped


def _moved(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=OFFSET)


# (value as written, language, day_first, the date it means, how it must be written back)
SHAPES: list[tuple[str, str, bool, dt.date, Callable[[dt.date], str]]] = [
    ("04/12/1961", "en", True, dt.date(1961, 12, 4), lambda d: d.strftime("%d/%m/%Y")),
    ("04/12/1961", "en", False, dt.date(1961, 4, 12), lambda d: d.strftime("%m/%d/%Y")),
    ("14.03.2021", "en", False, dt.date(2021, 3, 14), lambda d: d.strftime("%d.%m.%Y")),
    ("3/4/2021", "en", True, dt.date(2021, 4, 3), lambda d: f"{d.day}/{d.month}/{d.year}"),
    ("1961-12-04", "en", False, dt.date(1961, 12, 4), lambda d: d.isoformat()),
    ("4 Dec 1961", "en", False, dt.date(1961, 12, 4),
     lambda d: f"{d.day} {d.strftime('%b')} {d.year}"),
    ("December 4, 1961", "en", False, dt.date(1961, 12, 4),
     lambda d: f"{d.strftime('%B')} {d.day}, {d.year}"),
    ("1961年12月4日", "zh", False, dt.date(1961, 12, 4),
     lambda d: f"{d.year}年{d.month}月{d.day}日"),
    ("2023年03月05日", "zh", False, dt.date(2023, 3, 5),
     lambda d: f"{d.year}年{d.month:02d}月{d.day:02d}日"),
    ("2021-03-14 10:30", "en", False, dt.date(2021, 3, 14),
     lambda d: f"{d.isoformat()} 10:30"),
    ("2021-03-14T10:30:00Z", "en", False, dt.date(2021, 3, 14),
     lambda d: f"{d.isoformat()}T10:30:00Z"),
    ("03/14/2021 9:05 am", "en", False, dt.date(2021, 3, 14),
     lambda d: f"{d.strftime('%m/%d/%Y')} 9:05 am"),
    ("2023年3月5日 14:30", "zh", False, dt.date(2023, 3, 5),
     lambda d: f"{d.year}年{d.month}月{d.day}日 14:30"),
]


def _shape_id(case: tuple[object, ...]) -> str:
    return f"{case[0]}-{'dayfirst' if case[2] else 'default'}"


@pytest.mark.parametrize("case", SHAPES, ids=[_shape_id(c) for c in SHAPES])
def test_shifted_text_dates_keep_their_format(
        case: tuple[str, str, bool, dt.date, Callable[[dt.date], str]]) -> None:
    value, lang, day_first, meant, write = case
    prefix, suffix = ("复诊日期：", "。") if lang == "zh" else ("Seen ", ".")
    out = deidentify_text(prefix + value + suffix, lang=lang, key=KEY, person=PERSON,
                          day_first=day_first)
    assert out.text == prefix + write(_moved(meant)) + suffix
    assert out.counts == {"DATE": 1}


@pytest.mark.parametrize("case", SHAPES, ids=[_shape_id(c) for c in SHAPES])
def test_shifted_table_dates_keep_their_format(
        case: tuple[str, str, bool, dt.date, Callable[[dt.date], str]]) -> None:
    value, _, day_first, meant, write = case
    frame = pd.DataFrame({"mrn": ["11111111", "11111111"], "visit_date": [value, value]},
                         dtype=str)
    out, report = deidentify_frame(frame, key=KEY, day_first=day_first)
    assert report.roles["visit_date"] == "DATE"
    assert list(out["visit_date"]) == [write(_moved(meant))] * 2
    assert report.dates == "shift"


def test_day_and_month_never_trade_places() -> None:
    # day first: both dates read as December, ten days apart, and written back day first
    out = deidentify_text("Admitted 04/12/1961, discharged 14/12/1961.", lang="en", key=KEY,
                          person=PERSON, day_first=True).text
    first, second = _moved(dt.date(1961, 12, 4)), _moved(dt.date(1961, 12, 14))
    assert out == f"Admitted {first:%d/%m/%Y}, discharged {second:%d/%m/%Y}."
    # a date that cannot be day first (25 is no month) is read and written month first
    assert shift_date_text("12/25/2021", "en", 10, day_first=True) == "01/04/2022"
    # the same for the default order: 25/12/2021 can only be day first, and stays so
    assert shift_date_text("25/12/2021", "en", 10) == "04/01/2022"
    # default month first: 04/12/1961 is 12 April, so +1 day is 04/13, never 05/12
    assert shift_date_text("04/12/1961", "en", 1) == "04/13/1961"
    assert shift_date_text("04/12/1961", "en", 1, day_first=True) == "05/12/1961"


def test_zero_padding_and_numerals_are_kept() -> None:
    # 2021-03-04 + 30 days: a padded ISO date stays padded (not 2021-4-3)
    assert shift_date_text("2021-03-04", "en", 30) == "2021-04-03"
    assert shift_date_text("3/4/2021", "en", 30) == "4/3/2021"
    assert shift_date_text("11/15/2021", "en", 30) == "12/15/2021"
    assert shift_date_text("March 14", "en", 54) == "May 7"  # a month name: day not padded
    assert shift_date_text("Mar. 05, 2021", "en", 3) == "Mar. 08, 2021"
    assert shift_date_text("2023年12月14日", "zh", 54) == "2024年2月6日"
    assert shift_date_text("二〇二三年三月五日", "zh", 10) == "二〇二三年三月十五日"
    assert shift_date_text(" 19610412 ", "en", 10) == " 19610422 "


def test_safe_harbor_text() -> None:
    text = ("DOB 04/12/1961, a 95-year-old, age 89. Seen 2021-03-14 10:30, "
            "4 Dec 1999 and on March 14. Born 1925; mother DOB 12/01/1930; father born 1936.")
    out = deidentify_text(text, lang="en", key=KEY, dates="safe-harbor", reference_year=REF)
    # a time of day is not an identifier: it stays after the year
    assert out.text == ("DOB 1961, a 90+-year-old, age 89. Seen 2021 10:30, 1999 and on [DATE]. "
                        "Born 1935 or earlier; mother DOB 1935 or earlier; father born 1936.")
    assert out.counts == {"DATE": 6, "AGE": 1}


def test_safe_harbor_text_chinese() -> None:
    text = "患者1925年出生，出生于1930年，1961年12月4日就诊，2023年3月5日 14:30入院，95岁，89岁。"
    out = deidentify_text(text, lang="zh", key=KEY, dates="safe-harbor", reference_year=REF)
    assert out.text == ("患者1935年或更早出生，出生于1935年或更早，1961年就诊，2023年 14:30入院，"
                        "90+岁，89岁。")
    assert deidentify_text("一九六一年十二月四日", lang="zh", dates="safe-harbor",
                           reference_year=REF).text == "一九六一年"


def test_safe_harbor_whole_values() -> None:
    assert year_date_text("04/12/1961", "en", 1935) == "1961"
    assert year_date_text("1961-12-04T10:30:00Z", "en", 1935) == "1961"
    assert year_date_text("3-14-21", "en", 1935) == "2021"
    assert year_date_text("19300102", "en", 1935) == "1935 or earlier"
    assert year_date_text("1935-12-31", "en", 1935) == "1935 or earlier"
    assert year_date_text("1936-01-01", "en", 1935) == "1936"
    assert year_date_text("March 14", "en", 1935) is None  # no year: nothing may stay


def test_safe_harbor_table() -> None:
    frame = pd.DataFrame({
        "mrn": ["001", "002", "003"],
        "dob": ["1930-01-02", "04/12/1961", "1936-07-08"],
        "admit": ["2021-03-14 10:30", "4 Dec 2021", "2021年3月5日"],
        "birth_year": ["1925", "1961", "1936"],
        "age": ["95", "89", "90"],
    }, dtype=str)
    out, report = deidentify_frame(frame, key=KEY, dates="safe-harbor", reference_year=REF)
    assert report.roles == {"mrn": "MRN", "dob": "DATE", "admit": "DATE",
                            "birth_year": "YEAR", "age": "AGE"}
    assert list(out["dob"]) == ["1935 or earlier", "1961", "1936"]
    assert list(out["admit"]) == ["2021", "2021", "2021年"]
    assert list(out["birth_year"]) == ["1935 or earlier", "1961", "1936"]
    assert list(out["age"]) == ["90+", "89", "90+"]
    assert report.dates == "safe-harbor"
    # the other modes keep a year column as it is
    shifted, _ = deidentify_frame(frame, key=KEY, dates="shift", reference_year=REF)
    assert list(shifted["birth_year"]) == ["1925", "1961", "1936"]


def test_modes_differ() -> None:
    text = "MRN 11111111. DOB 04/12/1961, admitted 2021-03-14."
    outputs = {mode: deidentify_text(text, lang="en", key=KEY, dates=mode,  # type: ignore[arg-type]
                                     reference_year=REF).text
               for mode in ("shift", "safe-harbor", "tag")}
    born, admitted = _moved(dt.date(1961, 4, 12)), _moved(dt.date(2021, 3, 14))
    assert outputs == {
        "shift": f"MRN [MRN]. DOB {born:%m/%d/%Y}, admitted {admitted:%Y-%m-%d}.",
        "safe-harbor": "MRN [MRN]. DOB 1961, admitted 2021.",
        "tag": "MRN [MRN]. DOB [DATE], admitted [DATE].",
    }
    assert classify_columns(pd.DataFrame({"yob": ["1925"]}, dtype=str)) == {"yob": "YEAR"}


def test_unknown_date_mode() -> None:
    with pytest.raises(ConfigError, match="unknown date mode 'year'"):
        deidentify_text("x", key=KEY, dates="year")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown date mode"):
        deidentify_frame(pd.DataFrame({"a": ["x"]}), key=KEY, dates="year")  # type: ignore[arg-type]


def test_summary_records_the_modes(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Seen 04/12/1961.", encoding="utf-8")
    summary = deidentify_path(note, tmp_path / "out.txt", key=KEY, dates="safe-harbor",
                              reference_year=REF)
    assert (summary.mode, summary.dates, summary.day_first, summary.reference_year) == (
        "tag", "safe-harbor", False, REF)
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "Seen 1961."
    default = deidentify_path(note, tmp_path / "out2.txt", key=KEY, day_first=True)
    assert (default.dates, default.day_first) == ("shift", True)
    assert default.reference_year == dt.date.today().year


# ---------------------------------------------------------------------------- CLI

app = typer.Typer(pretty_exceptions_enable=False)
app.command("deid", epilog=EXIT_CODES)(deid)


@app.callback()
def _root() -> None:
    """Test wrapper around the deid command."""


NOTE = "Patient: Zyxwvut Okafor  MRN: 00482913\nSeen 04/12/1961 and 2021-03-14.\n"


def _cli(tmp_path: Path, *extra: str) -> tuple[str, str]:
    source = tmp_path / "note.txt"
    source.write_text(NOTE, encoding="utf-8")
    key = tmp_path / "deid.key"
    key.write_text(KEY.decode())
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.txt"
    result = CliRunner().invoke(app, ["deid", "--in", str(source), "--out", str(out),
                                      "--key-file", str(key), *extra],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output, out.read_text(encoding="utf-8")


def test_cli_safe_harbor(tmp_path: Path) -> None:
    printed, text = _cli(tmp_path, "--dates", "safe-harbor")
    assert text == "Patient: [NAME]  MRN: [MRN]\nSeen 1961 and 2021.\n"
    cutoff = dt.date.today().year - 90
    assert (f"mode: tag; dates: safe-harbor (year only; years <= {cutoff} grouped, "
            f"reference year {cutoff + 90})") in printed
    assert "Zyxwvut" not in printed and "1961" not in printed


def test_cli_safe_harbor_with_pseudonyms_notes_the_rule(tmp_path: Path) -> None:
    printed, text = _cli(tmp_path, "--dates", "safe-harbor", "--mode", "pseudonym")
    assert "164.514(c)" in printed and "--mode tag" in printed
    assert "Seen 1961 and 2021." in text
    plain, _ = _cli(tmp_path, "--dates", "safe-harbor")
    assert "164.514(c)" not in plain


def test_cli_shift_day_first(tmp_path: Path) -> None:
    printed, text = _cli(tmp_path, "--day-first")
    offset = dt.timedelta(days=Keyed(KEY).day_offset("MRN:00482913"))
    born, seen = dt.date(1961, 12, 4) + offset, dt.date(2021, 3, 14) + offset
    assert text == f"Patient: [NAME]  MRN: [MRN]\nSeen {born:%d/%m/%Y} and {seen:%Y-%m-%d}.\n"
    assert "mode: tag; dates: shift; NN/NN/YYYY read day first" in printed
    _, month_first = _cli(tmp_path)
    born = dt.date(1961, 4, 12) + offset
    assert month_first == (f"Patient: [NAME]  MRN: [MRN]\nSeen {born:%m/%d/%Y} and "
                           f"{seen:%Y-%m-%d}.\n")


def test_cli_help_explains_each_date_mode() -> None:
    result = CliRunner().invoke(app, ["deid", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    lines = [line.strip() for line in result.output.splitlines()]
    assert ("shift (default): a person's dates move by one keyed offset, format kept; "
            "not Safe Harbor.") in lines
    assert ("safe-harbor: dates cut to the year (04/12/1961 -> 1961), years showing age > 89 "
            "grouped.") in lines
    assert "tag: every date becomes [DATE]." in lines
    assert "[shift|safe-harbor|tag]" in result.output and "--day-first" in result.output


def test_cli_rejects_an_unknown_date_mode(tmp_path: Path) -> None:
    source = tmp_path / "note.txt"
    source.write_text(NOTE, encoding="utf-8")
    result = CliRunner().invoke(app, ["deid", "--in", str(source), "--out",
                                      str(tmp_path / "o.txt"), "--dates", "year"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert not (tmp_path / "o.txt").exists()
