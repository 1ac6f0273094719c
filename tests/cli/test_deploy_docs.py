"""docs/deploy.md runs as written: its commands, its study file and its site policy.

Sections 1-4 are the walk-through a hospital's IT follows. Their shell blocks and the
study file (``heart.toml``) are taken from the page and run on the four UCI
heart-disease hospitals; each site's commands (written for ``va``) run once per site.
Only what cannot be the same on a test machine is replaced: the coordinator's host name
and port (loopback, a free port), ``--bind`` (loopback), each site's local ``--port``
and the data paths (``/secure/<site>_cohort.csv``: that site's rows of the UCI files).

* fast: every ``fedcare`` command of the page parses; the init and policy commands run;
  the study file is valid; the sites created by the page admit the page's study (the
  study run in-process with their ``site.toml``); the page's refusal example is what a
  site that sets ``--max-epsilon 3`` says.
* slow: the same blocks for real (one SuperLink, four SuperNodes, TLS, node
  authentication), a site made to refuse (one line in ``study submit``'s error), the
  fix the line names, then the page's study (11 minutes on 2 cores shared with other
  work: two submitted runs, the second a full 3-round Newton study with its quality round).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from fedcare.cli import app
from fedcare.config import SitePolicy, StudyConfig

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "deploy.md"
SITES = ["cleveland", "hungary", "switzerland", "va"]
WALKTHROUGH = ("1.", "2.", "3.", "4.")  # the numbered sections
FEDCARE = Path(sys.executable).parent / "fedcare"
HOST = "coord.hospital-network.org"


@dataclass
class Block:
    section: str  # heading text, e.g. "2. Each site (run by the hospital's IT)"
    lang: str
    body: str


def blocks(text: str) -> list[Block]:
    """The page's fenced code blocks with the ``##`` section each is in."""
    out, section = [], ""
    for match in re.finditer(r"^## ([^\n]+)$|^```(\w*)\n(.*?)^```$", text, re.M | re.S):
        if match.group(1) is not None:
            section = match.group(1).strip()
        else:
            out.append(Block(section, match.group(2), match.group(3)))
    return out


def commands(body: str) -> list[list[str]]:
    """A shell block's commands: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [args for line in joined.splitlines() if (args := shlex.split(line, comments=True))]


def walkthrough() -> list[Block]:
    return [b for b in blocks(PAGE.read_text()) if b.section.startswith(WALKTHROUGH)]


def study_file() -> str:
    (toml,) = [b.body for b in walkthrough() if b.lang == "toml"]
    assert toml.startswith("# heart.toml"), "the study file's block names its file"
    return toml


def for_site(args: list[str], site: str, data: Path) -> list[str]:
    """A command written for site va, for ``site`` (its folder, name and table)."""
    out = []
    for arg in args:
        arg = arg.replace("/secure/va_cohort.csv", str(data / f"{site}_cohort.csv"))
        out.append(site if arg == "va" else site + arg[2:] if arg.startswith("va/") else arg)
    return out


def is_per_site(args: list[str]) -> bool:
    return any(a == "va" or a.startswith(("va/", "/secure/va_")) for a in args)


def on_loopback(args: list[str], port: int) -> list[str]:
    """The coordinator on 127.0.0.1:``port`` instead of the page's host and port 8000."""
    text = shlex.join(args).replace(f"{HOST}:8000", f"127.0.0.1:{port}")
    text = text.replace("--bind 0.0.0.0", "--bind 127.0.0.1").replace(
        "--port 8000", f"--port {port}")
    return shlex.split(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tables(heart_data_dir: Path, tmp_path: Path) -> Path:
    """Each hospital's own table, as /secure/<site>_cohort.csv would hold it."""
    from fedcare.data._heart import heart_disease_table

    table = heart_disease_table(heart_data_dir, download=False)
    data = tmp_path / "secure"
    data.mkdir()
    for site in SITES:
        table[table["site"] == site].to_csv(data / f"{site}_cohort.csv", index=False)
    return data


# -- fast --------------------------------------------------------------------------------
def _click_command(args: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = typer.main.get_command(app)
    rest = args[1:]
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    return command, rest


def test_every_command_on_the_page_parses() -> None:
    """Every option and argument the page shows exists (the whole page, not only 1-4)."""
    shown = [args for b in blocks(PAGE.read_text()) if b.lang == "bash"
             for args in commands(b.body)]
    assert len(shown) >= 15
    for args in shown:
        assert args[0] == "fedcare", args
        command, rest = _click_command(args)
        assert not isinstance(command, click.Group), args
        command.make_context(args[0], rest)  # raises on an unknown option or argument


def test_the_page_shows_the_study_it_submits() -> None:
    submitted = [args for b in walkthrough() if b.lang == "bash" for args in commands(b.body)
                 if args[1:3] == ["study", "submit"]]
    assert submitted and all(args[3] == "heart.toml" for args in submitted)
    assert tomllib.loads(study_file())  # valid TOML, read below as a study


def test_the_pages_sites_admit_the_pages_study(tables: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran = []
    for block in walkthrough():
        if block.lang != "bash":
            continue
        for args in commands(block.body):
            if args[1:3] in (["coordinator", "init"], ["site", "init"], ["site", "policy"]):
                for site in SITES if is_per_site(args) else [""]:
                    line = on_loopback(for_site(args, site, tables) if site else args,
                                       free_port())
                    result = runner.invoke(app, line[1:])
                    assert result.exit_code == 0, (line, result.output)
                    ran.append(line[1:3])
    assert ["site", "init"] in ran and ["site", "policy"] in ran
    (tmp_path / "heart.toml").write_text(study_file())
    study = StudyConfig.from_toml(tmp_path / "heart.toml")
    for site in SITES:
        assert SitePolicy.from_toml(tmp_path / site / "site.toml").violations(study) == []
    # the study itself, in-process, at sites configured as `fedcare site start` does
    from fedcare.federation import InProcessGrid
    from fedcare.federation.coordinator import run_task
    from fedcare.federation.engines.inprocess import quiet_flower
    from fedcare.federation.site import client_app, mods

    mods._policy_at.cache_clear()
    nodes: list[dict[str, str | int | float]] = []
    for site in SITES:
        settings = tomllib.loads((tmp_path / site / "site.toml").read_text())["site"]
        nodes.append({"site": settings["name"], "data": settings["data"],
                      "site-config": str(tmp_path / site / "site.toml")})
    grid = InProcessGrid(client_app, nodes, {**study.to_run_config(), "num-sites": 4})
    with quiet_flower():
        result = run_task(grid, grid.server_context())
    assert sorted(result["per_site"]["federated"]) == SITES
    assert result["excluded_sites"] == {}


def test_the_pages_refusal_example_is_what_a_site_says(tmp_path: Path) -> None:
    text = PAGE.read_text()
    (example,) = [b.body.strip() for b in blocks(text) if b.lang == "text"
                  and "refuses this study" in b.body]
    (tmp_path / "heart.toml").write_text(study_file())
    study = StudyConfig.from_toml(tmp_path / "heart.toml")
    site = tmp_path / "va"
    site.mkdir()
    (site / "site.toml").write_text('[site]\nname = "va"\n\n[policy]\nmax_epsilon = 3.0\n')
    reasons = SitePolicy.from_toml(site / "site.toml").violations(study)
    assert example == "site 'va' refuses this study: " + "; ".join(reasons)


# -- slow: for real ----------------------------------------------------------------------
@dataclass
class Federation:
    root: Path
    port: int
    processes: list[subprocess.Popen[bytes]]


def _fedcare(root: Path, args: list[str], timeout: float = 300
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FEDCARE), *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _start(fed: Federation, args: list[str], name: str) -> None:
    """A foreground `start` command in the background, once it says it runs."""
    log = fed.root / f"{name}.out"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(FEDCARE), *args], cwd=fed.root, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    fed.processes.append(proc)
    deadline = time.monotonic() + 180
    while "running (pid" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{shlex.join(args)} did not start: {log.read_text(errors='replace')}")
        time.sleep(0.5)


@pytest.fixture
def federation(tables: Path, tmp_path: Path) -> Iterator[Federation]:
    from fedcare.federation.engines.deploy import stop_process

    fed = Federation(tmp_path, free_port(), [])
    try:
        yield fed
    finally:
        for proc in reversed(fed.processes):
            stop_process(proc)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_walkthrough_runs_for_real(federation: Federation, tables: Path) -> None:
    fed = federation
    (fed.root / "heart.toml").write_text(study_file())
    submitted = 0

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        result = _fedcare(fed.root, args[1:], timeout=900)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    for block in walkthrough():
        if block.lang != "bash":
            continue
        for written in commands(block.body):
            for site in SITES if is_per_site(written) else [""]:
                args = on_loopback(for_site(written, site, tables) if site else written,
                                   fed.port)
                if args[1:3] == ["coordinator", "start"]:
                    _start(fed, args[1:], "coordinator")
                    (fed.root / "ca.pem").write_bytes((fed.root / "coord" / "ca.pem")
                                                      .read_bytes())  # sent to the sites
                elif args[1:3] == ["site", "start"]:
                    _start(fed, [*args[1:], "--port", str(free_port())], site)
                elif args[1:3] == ["study", "submit"]:
                    _refused_then_fixed(fed)
                    result = run(args)
                    assert "report:" in result.stdout
                    submitted += 1
                elif args[1:3] == ["coordinator", "revoke"] and site and site != "va":
                    continue  # the page revokes va only
                else:
                    run(args)
    assert submitted == 1
    (metrics,) = (fed.root / "runs").glob("*/metrics.json")
    assert metrics.stat().st_size > 0
    from fedcare.federation.engines.deploy import enrolled_sites

    assert sorted(enrolled_sites(fed.root / "coord")) == ["cleveland", "hungary",
                                                          "switzerland"]  # va revoked


def _refused_then_fixed(fed: Federation) -> None:
    """Before the page's submit: va insists on DP; the study fails with one line naming
    the rule and the fix; the fix (run as the line says) lets the study through."""
    va = fed.root / "va"
    assert _fedcare(fed.root, ["site", "policy", "va/", "--set", "max_epsilon=3"]
                    ).returncode == 0
    refused = _fedcare(fed.root, ["study", "submit", "heart.toml", "--coordinator", "coord/",
                                  "--sites", "4", "--timeout", "600"], timeout=900)
    assert refused.returncode == 6, (refused.stdout, refused.stderr)
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, refused.stderr
    (error,) = errors
    assert "site 'va' refuses this study: its policy requires record-level DP " \
           "(max_epsilon = 3), which strategy 'newton' cannot use" in error
    assert error.count("refuses") == 1 and "<class" not in error
    assert not [line for line in refused.stderr.splitlines()[refused.stderr.splitlines()
                .index(error) + 1:] if line.strip()], "the error is one line"
    fix = error.split("or change the site policy: ", 1)[1].split(" (Flower's log")[0]
    assert fix == "fedcare site policy va/ --set max_epsilon=none"
    assert _fedcare(fed.root, shlex.split(fix)[1:]).returncode == 0
    assert os.path.getsize(va / "audit.jsonl") > 0
