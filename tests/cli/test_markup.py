"""CLI output prints bracketed text as written: no Rich markup or emoji codes are read.

Units ("mm[Hg]", "[lb_av]"), mapping sections ("[index]"), paths, site names, column
names and levels are text, wherever the CLI prints them: error lines, warnings, table
titles, captions and cells, progress lines. The CLI's own styling ("error:" in bold
red) still works. All data here are SYNTHETIC.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.table import Table
from rich.text import Text
from typer.testing import CliRunner, Result

from fedcare.cli import app
from fedcare.cli._common import console, err_console

ROOT = Path(__file__).resolve().parents[2]
#: bracketed text Rich would take for markup, plus emoji codes (":id:" is 🆔, ":x:" ❌)
TRICKY = "[index] mm[Hg] [lb_av] [bold]x[/bold] urn:id:7 :x:"
WIDE = {"COLUMNS": "250"}  # no table cell is folded in the tests' terminal


@pytest.fixture(autouse=True)
def _wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's consoles are made at import: a COLUMNS set then (as CI sets it) fixes their
    width, and CliRunner's env cannot widen them. The tests set it here, undone after each."""
    for c in (console, err_console):
        monkeypatch.setattr(c, "_width", 250)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=WIDE)


def _main(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real entry point (``fedcare.cli.main``: its warning hook too) in a new process."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("FORCE_COLOR", "NO_COLOR", "TERM")} | WIDE | env
    return subprocess.run([sys.executable, "-c", "from fedcare.cli import main; main()", *args],
                          cwd=cwd, capture_output=True, text=True, env=environ, timeout=300)


@pytest.fixture(scope="module")
def synthetic_sites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sites")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_fhir_sites.py"), str(out),
                    "--patients", "200", "--seed", "7"], check=True, capture_output=True,
                   timeout=300)
    return out


# ----------------------------------------------------------------------------- the consoles
@pytest.mark.parametrize("which", ["console", "err_console"])
def test_consoles_print_strings_and_table_cells_as_written(which: str) -> None:
    out = {"console": console, "err_console": err_console}[which]
    table = Table("unit [lb_av]", title="title [index] :id:", caption="caption [missing]")
    table.add_row(TRICKY)
    with out.capture() as captured:
        out.print(f"line {TRICKY}")
        out.print(table)
        out.print(Text.assemble(("warning:", "yellow"), f" {TRICKY}"))
    text = captured.get()
    assert text.count(TRICKY) == 3, text
    for part in ("title [index] :id:", "unit [lb_av]", "caption [missing]"):
        assert part in text, text
    assert "🆔" not in text and "❌" not in text


# ----------------------------------------------------------------------------- (a) errors
def test_error_message_is_printed_as_written(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import fedcare.data
    from fedcare.exceptions import DataError

    def fail(path: object) -> None:
        raise DataError(f"mapping.toml: {TRICKY}")

    monkeypatch.setattr(fedcare.data, "load_mapping", fail)
    result = _invoke("data", "import", "--csv", str(tmp_path / "in.csv"), "--mapping",
                     str(tmp_path / "mapping.toml"), "--out", str(tmp_path / "out.csv"))
    assert result.exit_code == 3, result.output
    assert result.stderr == f"error: DataError: mapping.toml: {TRICKY}\n"


def test_mapping_error_names_the_unit_as_written(synthetic_sites: Path,
                                                 tmp_path: Path) -> None:
    text = (synthetic_sites / "mapping.toml").read_text()
    assert 'unit = "mm[Hg]"' in text
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(text.replace('unit = "mm[Hg]"', 'unit = "mm[Hgx]"'))
    result = _invoke("data", "import", "--csv", str(synthetic_sites / "flat.csv"),
                     "--mapping", str(mapping), "--out", str(tmp_path / "out.csv"))
    assert result.exit_code in (3, 5), result.output
    assert result.stderr.startswith("error: ")
    assert "mm[Hgx]" in result.stderr, result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_error_line_keeps_its_style_and_the_text(tmp_path: Path) -> None:
    """With colour forced, "error:" is still bold red and the path keeps its brackets."""
    out = tmp_path / "o[index].txt"
    result = _main("data", "import", "--csv", "in.csv", "--mapping", "mapping.toml", "--out",
                   str(out), cwd=tmp_path, FORCE_COLOR="1", TERM="xterm-256color")
    assert result.returncode == 5, result.stderr
    assert "\x1b[1;31merror:\x1b[0m" in result.stderr, repr(result.stderr)
    assert f"--out {out}: the flat table is written as CSV" in result.stderr


# ----------------------------------------------------------------------------- (b) tables
def test_import_summary_shows_the_ucum_unit_as_written(
        synthetic_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short --out, so that the title is not wrapped inside it
    result = _invoke("data", "import", "--csv", str(synthetic_sites / "flat.csv"),
                     "--mapping", str(synthetic_sites / "mapping.toml"), "--out",
                     "flat[index].csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "flat[index].csv").is_file()
    assert "from [lb_av]" in result.stdout, result.stdout   # a table cell
    assert "-> flat[index].csv" in result.stdout, result.stdout      # the title


def test_site_policy_tables_show_units_and_names_as_written(tmp_path: Path) -> None:
    data = tmp_path / "site.csv"
    data.write_text("hospital,sbp\nnorth,120\n")
    site = tmp_path / "north"
    result = _invoke("site", "init", str(site), "--name", "north[index]", "--data", str(data),
                     "--unit", "weight=[lb_av]", "--unit", "sbp=mm[Hg]",
                     "--missing", "chol[mg]=0")
    assert result.exit_code == 0, result.output
    assert "site north[index] ready" in result.stdout
    result = _invoke("site", "policy", str(site))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("Policy of site north[index]" in line for line in lines), result.stdout
    assert any("Units ([units])" in line for line in lines)
    assert any("weight" in line and "[lb_av]" in line for line in lines), result.stdout
    assert any("sbp" in line and "mm[Hg]" in line for line in lines), result.stdout
    assert any("chol[mg]" in line for line in lines), result.stdout


def test_findings_table_keeps_severity_style_and_detail_text() -> None:
    from fedcare.cli._quality import findings_table

    quality = {"findings": [{"severity": "blocking", "site": "north[index]", "feature": "sbp",
                             "kind": "unit", "detail": "looks like mm[Hg] vs [lb_av]"}]}
    table = findings_table(quality, "Data quality of [study]")
    with console.capture() as captured:
        console.print(table, width=200)
    text = captured.get()
    for part in ("Data quality of [study]", "north[index]", "looks like mm[Hg] vs [lb_av]",
                 "blocking"):
        assert part in text, text
    severity = next(iter(table.columns[0].cells))
    assert isinstance(severity, Text), severity   # styled by a Style, not by markup
    assert severity.plain == "blocking" and str(severity.style) == "bold red"


# ----------------------------------------------------------------------------- (c) warnings
@pytest.fixture(scope="module")
def km_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sites, a duration column named with a bracketed unit, a bracketed level."""
    folder = tmp_path_factory.mktemp("km")
    rows = ["hospital,time [days],event,arm"]
    for i in range(120):
        time = "" if i in (3, 50) else str(20 + (i * 37) % 480)
        rows.append(f"{('north', 'south', 'east')[i // 40]},{time},{(i * 7) % 3 % 2},"
                    f"{('[placebo]', 'drug')[i % 2]}")
    (folder / "km.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_km_warning_table_and_summary_print_brackets_as_written(km_table: Path) -> None:
    result = _main("analytics", "km", "--data", "km.csv", "--site-column", "hospital",
                   "--duration", "time [days]", "--event", "event", "--group", "arm",
                   "--grid-step", "30", "--min-cell", "1", cwd=km_table)
    assert result.returncode == 0, result.stderr
    # the Python warning (fedcare.cli.main's hook) names the column as written
    assert "warning: 2 row(s) with a missing time [days], event or arm left out" \
        in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("│ [placebo]") for line in lines), result.stdout   # a cell
    assert any("t: time [days], rounded up to the grid" in line for line in lines)  # caption
    assert "median survival (first t with S <= 0.5): [placebo] t=" in result.stdout


def test_warning_hook_prints_the_message_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    from fedcare.cli import _show_warning

    _show_warning(UserWarning(TRICKY), UserWarning, "x.py", 1)
    assert capsys.readouterr().err == f"warning: {TRICKY}\n"
