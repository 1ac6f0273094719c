"""Stopping ``fedcare coordinator start`` / ``fedcare site start`` as systemd or supervisord
does (SIGTERM) stops every Flower process the command started.

Flower's SuperLink and SuperNode run in their own sessions (so that a Ctrl-C in the terminal
reaches them only through fedcare); before this test's change a SIGTERM to the fedcare
command ended it and left ``flower-superlink`` / ``flower-supernode`` running.  Real
processes on loopback with TLS and node authentication, ~1 minute.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedcare.federation.engines.deploy import (
    descendants,
    enroll_site,
    init_coordinator,
    init_site,
    start_coordinator,
    stop_process,
)

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from fedcare.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _flower_processes(marker: str) -> list[int]:
    """Live Flower processes whose command line names ``marker`` (a folder of this test)."""
    out = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = entry.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmd and "flower" in cmd and state != "Z":
            out.append(int(entry.parent.name))
    return out


def _start_cli(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COLUMNS": "200"}
    with open(log, "wb") as out:
        return subprocess.Popen([*CLI, *args], stdout=out, stderr=subprocess.STDOUT, env=env)


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} within {timeout} s: {log.read_text(errors='replace')}")


def _sigterm_and_check(proc: subprocess.Popen[bytes], marker: str, log: Path) -> None:
    started = _flower_processes(marker)
    assert started, "the command started no Flower process"
    below = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text(errors="replace")
    deadline = time.monotonic() + 30
    while _flower_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _flower_processes(marker) == [], "Flower processes left after SIGTERM"
    assert not [p for p in below if Path(f"/proc/{p}").exists()
                and "Z" not in (Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1][:3])]
    assert "stopped" in log.read_text(errors="replace")


@pytest.fixture()
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fcs-", dir="/tmp"))
    yield path
    for pid in _flower_processes(str(path)):  # never leave a process behind, even on failure
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


def test_sigterm_to_coordinator_start_stops_the_superlink(root: Path) -> None:
    coordinator = root / "coord"
    init_coordinator(coordinator, port=_free_port())
    log = root / "coordinator.log"
    proc = _start_cli(["coordinator", "start", str(coordinator)], log)
    _wait_for(log, "coordinator running", proc, timeout=120)
    _sigterm_and_check(proc, str(coordinator), log)


def test_sigterm_to_site_start_stops_the_supernode(root: Path) -> None:
    port = _free_port()
    coordinator = root / "coord"
    init_coordinator(coordinator, port=port)
    link = start_coordinator(coordinator)
    try:
        site = root / "va"
        init_site(site, name="va")
        enroll_site(coordinator, site / "node.pub", name="va")
        log = root / "site.log"
        proc = _start_cli(["site", "start", str(site), "--coordinator", f"127.0.0.1:{port}",
                           "--ca-cert", str(coordinator / "ca.pem"),
                           "--port", str(_free_port())], log)
        _wait_for(log, "site va running", proc, timeout=120)
        _sigterm_and_check(proc, str(site), log)
    finally:
        stop_process(link)
