"""``fedcare deid`` through Typer: summary without values, exit codes, one-line errors.

The command is registered on a local Typer app here (the lead wires it into the main app).
Every input is synthetic; planted values ("Zyxwvut", a phone) must never reach the terminal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from fedcare.cli._common import EXIT_CODES
from fedcare.cli._deid import deid

PLANTED = ("Zyxwvut", "617-555-0134", "00482913")

app = typer.Typer(pretty_exceptions_enable=False)
app.command("deid", epilog=EXIT_CODES)(deid)


@app.callback()
def _root() -> None:
    """Test wrapper around the deid command."""


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["deid", *args], env=env)


def _note(tmp_path: Path) -> Path:
    path = tmp_path / "note.txt"
    path.write_text("Patient: Zyxwvut Okafor  MRN: 00482913\nCall 617-555-0134 on 3/4/2021.\n",
                    encoding="utf-8")
    return path


def _no_values(result: Result) -> None:
    for value in PLANTED:
        assert value not in result.output


def test_success_prints_counts_only(tmp_path: Path) -> None:
    key = tmp_path / "deid.key"
    key.write_text("synthetic-test-key-0123456789abcdef\n")
    out = tmp_path / "note-deid.txt"
    result = _run("--in", str(_note(tmp_path)), "--out", str(out), "--mode", "pseudonym",
                  "--key-file", str(key), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "NAME" in result.output and "PHONE" in result.output and "MRN" in result.output
    _no_values(result)
    text = out.read_text(encoding="utf-8")
    assert "[NAME-" in text and "[MRN-" in text
    for value in PLANTED:
        assert value not in text


def test_tag_mode_without_key_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEDCARE_DEID_KEY", raising=False)
    result = _run("--in", str(_note(tmp_path)), "--out", str(tmp_path / "o.txt"))
    assert result.exit_code == 0, result.output
    assert "random key" in result.output


@pytest.mark.parametrize(("make", "extra", "code", "message"), [
    (lambda p: p / "missing.txt", [], 4, "DataNotFoundError"),
    (lambda p: _note(p), ["--mode", "pseudonym"], 5, "needs a key"),
    (lambda p: _note(p), ["--key-file", "/nonexistent/deid.key"], 5, "key file"),
    (lambda p: _latin(p), [], 3, "not UTF-8"),
    (lambda p: _ragged(p), [], 3, "not a readable CSV"),
    (lambda p: _fake_dicom(p), [], 3, "not a DICOM file"),
])
def test_errors_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: object,
                           extra: list[str], code: int, message: str) -> None:
    monkeypatch.delenv("FEDCARE_DEID_KEY", raising=False)
    source = make(tmp_path)  # type: ignore[operator]
    out = tmp_path / ("out" + source.suffix)
    result = _run("--in", str(source), "--out", str(out), *extra, env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    _no_values(result)
    assert not out.exists()


def test_out_equal_in_or_existing(tmp_path: Path) -> None:
    note = _note(tmp_path)
    same = _run("--in", str(note), "--out", str(note), env={"COLUMNS": "200"})
    assert same.exit_code == 5 and "input itself" in same.output
    existing = tmp_path / "exists.txt"
    existing.write_text("keep me")
    again = _run("--in", str(note), "--out", str(existing), env={"COLUMNS": "200"})
    assert again.exit_code == 5 and "--overwrite" in again.output
    assert existing.read_text() == "keep me"
    replaced = _run("--in", str(note), "--out", str(existing), "--overwrite")
    assert replaced.exit_code == 0 and "Zyxwvut" not in existing.read_text()


def test_help_has_example_and_exit_codes() -> None:
    result = CliRunner().invoke(app, ["deid", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example: fedcare deid" in result.output and "Exit codes" in result.output


def _latin(tmp_path: Path) -> Path:
    path = tmp_path / "cohort.csv"
    path.write_bytes("name,sbp\nZyxwvut Müller,120\n".encode("latin-1"))
    return path


def _ragged(tmp_path: Path) -> Path:
    path = tmp_path / "ragged.csv"
    path.write_text("name,sbp\nZyxwvut,120\nZyxwvut,1,2,3\n", encoding="utf-8")
    return path


def _fake_dicom(tmp_path: Path) -> Path:
    path = tmp_path / "scan.dcm"
    path.write_bytes(b"Zyxwvut")
    return path


def test_summary_shows_share_replaced_and_keep_org(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Patient Zyxwvut Okafor works at Northgate Plumbing Ltd. HbA1c 7.2%.\n",
                    encoding="utf-8")
    removed, kept = tmp_path / "removed.txt", tmp_path / "kept.txt"
    default = _run("--in", str(note), "--out", str(removed), env={"COLUMNS": "200"})
    assert default.exit_code == 0, default.output
    assert "text replaced" in default.output and "%" in default.output
    assert "Northgate" not in removed.read_text(encoding="utf-8")
    with_org = _run("--in", str(note), "--out", str(kept), "--keep-org", env={"COLUMNS": "200"})
    assert with_org.exit_code == 0, with_org.output
    text = kept.read_text(encoding="utf-8")
    assert "Northgate Plumbing Ltd" in text and "Zyxwvut" not in text and "HbA1c 7.2%" in text
    _no_values(default)
    _no_values(with_org)


def test_dates_written_day_first_but_read_month_first_warn(tmp_path: Path) -> None:
    """A Sydney discharge summary: 02/01 to 09/01 is a week; read month first it is seven
    months. The file's own 23/07/1948 shows the order, so the command says so."""
    from fedcare.deid._dates import date_order_doubt

    text = ("Admitted 02/01/2024, discharged 09/01/2024. DOB 23/07/1948.\n"
            "Patient: Zyxwvut Okafor  MRN: 00482913\n")
    assert date_order_doubt(text, day_first=False)
    assert not date_order_doubt(text, day_first=True)
    assert not date_order_doubt("Seen 02/01/2024 and 03/15/2024.", day_first=False)
    assert date_order_doubt("Seen 02/01/2024 and 03/15/2024.", day_first=True)
    note = tmp_path / "sydney.txt"
    note.write_text(text, encoding="utf-8")
    read_wrong = _run("--in", str(note), "--out", str(tmp_path / "a.txt"),
                      env={"COLUMNS": "200"})
    read_right = _run("--in", str(note), "--out", str(tmp_path / "b.txt"), "--day-first",
                      env={"COLUMNS": "200"})
    assert read_wrong.exit_code == 0 and read_right.exit_code == 0
    assert "write NN/NN/YYYY dates day first" in read_wrong.output
    assert "rerun with --day-first" in read_wrong.output
    assert "NN/NN/YYYY dates" not in read_right.output
    _no_values(read_wrong)
    assert "23/07/1948" not in read_wrong.output
