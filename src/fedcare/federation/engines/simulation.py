"""Run a study's Flower apps on Flower's own simulation engine (Ray), via ``flwr run``.

A private SuperLink is started on a free loopback port with its state under a work
directory, the study is submitted with ``flwr run``, and the run's final status is read
with ``flwr ls`` (``flwr run`` itself exits 0 even when the run fails).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from fedcare.config import StudyConfig
from fedcare.exceptions import FederationError

from ..protocol import RunKey
from .flwr_cli import BIN, failed_run, flower_env, flwr_json, write_flower_app

__all__ = ["run_simulation"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_simulation(
    run_config: Mapping[str, str | int | float | bool] | StudyConfig, n_sites: int, *,
    workdir: str | Path | None = None, timeout: float = 600,
) -> dict[str, Any]:
    """Run the ServerApp's task on Flower's Ray simulation with ``n_sites`` supernodes.

    Supernode ``i`` is the ``i``-th site in sorted order (``partition-id``).
    Returns the ServerApp's JSON result (as :func:`.inprocess.run_inprocess` does).

    Raises
    ------
    FederationError
        The SuperLink did not start, ``flwr run`` refused the run, or the run ended in
        any state other than ``finished:completed`` (the message holds its details).
    """
    import httpx

    if isinstance(run_config, StudyConfig):
        run_config = run_config.to_run_config()

    owned = workdir is None
    work = Path(tempfile.mkdtemp(prefix="fedcare-sim-") if owned else str(workdir)).resolve()
    app_dir = write_flower_app(work / "app", secure=bool(run_config.get(RunKey.SECURE)))
    port = _free_port()
    # Ray's socket paths must stay under 107 bytes: its temp dir is short and separate.
    ray_tmp = tempfile.mkdtemp(prefix="fcray-", dir="/tmp" if os.path.isdir("/tmp") else None)
    env = flower_env(work / "flwr-home", RAY_TMPDIR=ray_tmp,
                     FLWR_LOCAL_SUPERLINK_HTTP_API_PORT=str(port))
    out_dir = work / "out"
    run_config = {**run_config, RunKey.NUM_SITES: n_sites, RunKey.OUTPUT_DIR: str(out_dir)}
    overrides = work / "run_config.toml"
    overrides.write_text(tomli_w.dumps(run_config))
    log_file = work / "superlink.log"
    link = subprocess.Popen(
        [str(BIN / "flower-superlink"), "--insecure", "--simulation", "--isolation",
         "subprocess", "--host", "127.0.0.1", "--port", str(port),
         "--disable-runtime-dependency-installation", "--log-file", str(log_file)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if link.poll() is not None:
                raise FederationError(f"the SuperLink exited {link.returncode}; see {log_file}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise FederationError(f"the SuperLink did not start in 60 s; see {log_file}")
            time.sleep(0.2)
        submitted = flwr_json(["run", str(app_dir), "local", "--run-config", str(overrides),
                           "--federation-config", f"num-supernodes={n_sites}",
                           "--federation-config", "client-resources-num-cpus=1"], env)
        run_id = str(submitted["run-id"])
        deadline = time.monotonic() + timeout
        while True:
            listing = flwr_json(["ls", "local", "--run-id", run_id], env)
            if not listing.get("runs"):  # seen under load: an answer without the run yet
                if time.monotonic() > deadline:
                    raise FederationError(f"run {run_id}: `flwr ls` never listed it")
                time.sleep(1)
                continue
            status = str(listing["runs"][0]["status"])
            if status.startswith("finished"):
                break
            if time.monotonic() > deadline:
                flwr_json(["stop", run_id, "local"], env)
                raise FederationError(f"run {run_id} still '{status}' after {timeout:.0f} s")
            time.sleep(0.5)
        if status != "finished:completed":
            raise failed_run(run_id, "local", env, work, status,
                             str(listing["runs"][0].get("status-details", "")))
        result = dict(json.loads((out_dir / "result.json").read_text()))
        if owned:
            shutil.rmtree(work, ignore_errors=True)
        return result
    finally:
        if link.poll() is None:
            link.terminate()
            try:
                link.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(link.pid, signal.SIGKILL)
                link.wait()
        shutil.rmtree(ray_tmp, ignore_errors=True)
