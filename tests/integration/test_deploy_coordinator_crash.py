"""The coordinator crashes mid-study and the study resumes: no round lost or repeated.

A loopback federation like ``test_deploy.py`` (one SuperLink, the four UCI heart-disease
hospitals as SuperNodes, TLS and SuperNode authentication) runs a 4-round Newton study
with checkpoints. When the checkpoint says round 2 is done, the coordinator's process
tree (SuperLink, SuperExec, ServerApp) is killed with SIGKILL -- a crash, no clean
shutdown. The ``submit`` watching the run must fail with a clear error; the SuperLink is
restarted from the same folder (its ``state.db`` keeps the enrolled sites), the sites
reconnect by themselves (started as ``fedcare site start`` starts them: retrying
forever) and the study is resumed from the checkpoint. ~4-5 minutes on 2 cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fedcare.config import StudyConfig
from fedcare.exceptions import FederationError
from fedcare.federation import run_inprocess
from fedcare.federation.engines.deploy import (
    descendants,
    enroll_site,
    enrolled_sites,
    init_coordinator,
    init_site,
    run_status,
    site_status,
    start_coordinator,
    start_site,
    stop_process,
    submit,
)

pytestmark = pytest.mark.slow

SITES = ["cleveland", "hungary", "switzerland", "va"]
ROUNDS = 3  # the crash after round 2, the resumed run does round 3
KILL_AFTER = 2  # the coordinator dies once the checkpoint holds this round


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def checkpoint_round(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["round"])
    except (OSError, ValueError, KeyError):
        return 0  # not written yet (written atomically, so never half-read)


def log_since(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


@dataclass
class Federation:
    root: Path
    coordinator: Path
    address: str
    ca_cert: Path
    superlink: subprocess.Popen[bytes] | None = None
    sites: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stray: list[int] = field(default_factory=list)  # processes of the killed coordinator


@pytest.fixture
def federation(heart_data_dir: Path) -> Iterator[Federation]:
    root = Path(tempfile.mkdtemp(prefix="fcc-", dir="/tmp"))
    port = free_port()
    coordinator = root / "coord"
    init_coordinator(coordinator, port=port)
    fed = Federation(root, coordinator, f"127.0.0.1:{port}", coordinator / "ca.pem")
    try:
        fed.superlink = start_coordinator(coordinator)
        for name in SITES:
            init_site(root / name, name=name)
            enroll_site(coordinator, root / name / "node.pub", name=name)
        for name in SITES:
            # max_retries=None: what `fedcare site start` passes. With a retry limit the
            # SuperNode gives up within seconds of the SuperLink going away.
            fed.sites[name] = start_site(
                root / name, coordinator_address=fed.address, ca_cert=fed.ca_cert,
                data_node_config={"site": name}, clientappio_port=free_port(),
                max_retries=None)
        yield fed
    finally:
        processes = [*fed.sites.values(), *([fed.superlink] if fed.superlink else [])]
        for proc in processes:
            stop_process(proc)
        for pid in fed.stray:
            if running(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        assert all(p.poll() is not None for p in processes)
        assert not [pid for pid in fed.stray if running(pid)]
        shutil.rmtree(root, ignore_errors=True)


def test_coordinator_crash_after_round_2_resumes_without_losing_or_repeating_a_round(
    federation: Federation, heart_data_dir: Path,
) -> None:
    fed = federation
    started = time.monotonic()
    checkpoints = fed.root / "checkpoints"
    checkpoint = checkpoints / "checkpoint.json"
    config = StudyConfig(data="builtin:heart-disease", data_dir=str(heart_data_dir),
                         strategy="newton", rounds=ROUNDS, checkpoint_dir=str(checkpoints),
                         quality_check="off")  # one message round trip less per run
    outcome: dict[str, Any] = {}
    progress: list[str] = []

    def run() -> None:
        try:
            outcome["result"] = submit(config, fed.coordinator, n_sites=len(SITES),
                                       timeout=900, poll_every=1.0,
                                       on_progress=progress.append)
        except Exception as exc:  # checked below
            outcome["error"] = exc

    watcher = threading.Thread(target=run, daemon=True)
    watcher.start()

    # 1. the study runs until the coordinator has checkpointed round 2
    deadline = time.monotonic() + 300
    while checkpoint_round(checkpoint) < KILL_AFTER:
        assert watcher.is_alive(), f"the study ended before round {KILL_AFTER}: {outcome}"
        assert time.monotonic() < deadline, f"no round {KILL_AFTER} checkpoint: {progress}"
        time.sleep(0.1)

    round_k_at = time.monotonic() - started

    # 2. crash: SIGKILL to the SuperLink and everything it started (SuperExec, ServerApp)
    assert fed.superlink is not None
    below = descendants(fed.superlink.pid)
    fed.stray = below
    commands = {pid: command_line(pid) for pid in below}
    assert any("flwr-serverapp" in c for c in commands.values()), commands
    stop_process(fed.superlink, timeout=5, kill=True)
    killed_at = time.monotonic()
    at_kill = checkpoint.read_bytes()  # the checkpoint as the crash left it
    (fed.root / "checkpoint-at-kill.json").write_bytes(at_kill)
    saved = json.loads(at_kill)
    k = int(saved["round"])
    assert KILL_AFTER <= k < ROUNDS
    assert [h["round"] for h in saved["history"]] == list(range(1, k + 1))
    assert not [pid for pid in below if running(pid)], "part of the coordinator survived"

    # 3. the submit watching the run fails, clearly and soon (no hang, no success)
    watcher.join(120)
    assert not watcher.is_alive(), f"submit still waiting 120 s after the crash: {progress}"
    assert "result" not in outcome
    error = outcome.get("error")
    assert isinstance(error, FederationError), repr(error)
    assert "lost the coordinator" in str(error)
    assert str(checkpoint) in str(error)  # it says where to resume from
    failed_after = time.monotonic() - killed_at
    run_ids = [p.read_text() for p in (fed.coordinator / "runs").glob("*/run_id")]
    assert len(run_ids) == 1
    interrupted = run_ids[0]

    # 4. restart from the same folder: the enrolled sites are still registered
    sizes = {name: (fed.root / name / "supernode.log").stat().st_size for name in SITES}
    fed.superlink = start_coordinator(fed.coordinator)
    assert sorted(enrolled_sites(fed.coordinator)) == SITES
    statuses = site_status(fed.coordinator)
    assert sorted(statuses) == SITES
    assert all(s in {"online", "offline"} for s in statuses.values()), statuses

    # ... and the sites, never restarted, reconnect by themselves
    deadline = time.monotonic() + 120
    while True:
        assert all(p.poll() is None for p in fed.sites.values()), "a site gave up"
        logs = {name: log_since(fed.root / name / "supernode.log", sizes[name])
                for name in SITES}
        back = [n for n, text in logs.items() if "Connection successful after" in text]
        if sorted(back) == SITES:
            break
        assert time.monotonic() < deadline, f"sites not back after 120 s: {back}"
        time.sleep(1)
    reconnected_after = time.monotonic() - killed_at
    assert checkpoint.read_bytes() == at_kill  # nothing of the old run went on

    # 5. resume (what `fedcare study resume` does)
    resume_started = time.monotonic()
    resumed = submit(config.replace(resume_from=str(checkpoint)), fed.coordinator,
                     n_sites=len(SITES), timeout=900)
    resume_seconds = time.monotonic() - resume_started

    # no round lost, none repeated; the rounds before the crash are the checkpoint's
    assert [h["round"] for h in resumed["history"]] == list(range(1, ROUNDS + 1))
    assert resumed["history"][:k] == saved["history"]
    final = json.loads(checkpoint.read_text())
    assert [h["round"] for h in final["history"]] == list(range(1, ROUNDS + 1))
    assert final["history"][:k] == saved["history"]
    assert resumed["missing_rounds"] == {}
    assert sorted(resumed["per_site"]["federated"]) == SITES

    # the same model, round by round, as an uninterrupted in-process run
    reference, _ = run_inprocess(config.replace(checkpoint_dir=""), SITES)
    assert [h["round"] for h in reference["history"]] == list(range(1, ROUNDS + 1))
    for got, want in zip(resumed["history"], reference["history"], strict=True):
        for a, b in zip(got["arrays"], want["arrays"], strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)
    for a, b in zip(resumed["arrays"], reference["arrays"], strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)

    # the restarted SuperLink reports the interrupted run as failed, not completed
    status, details = run_status(fed.coordinator, interrupted)
    assert status == "finished:failed", (status, details)
    print(f"\nround {k} checkpointed {round_k_at:.0f} s in (crash); submit failed "
          f"{failed_after:.1f} s and the sites were back {reconnected_after:.1f} s after the "
          f"kill; resumed run {resume_seconds:.0f} s; old run {status} ({details}); "
          f"test body {time.monotonic() - started:.0f} s")
