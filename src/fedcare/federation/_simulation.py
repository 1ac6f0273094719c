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
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from fedcare.exceptions import FederationError
from fedcare.study._config import StudyConfig

__all__ = ["run_simulation", "write_flower_app"]

_BIN = Path(sys.executable).parent
_EXTRA_KEYS: dict[str, str | int | float | bool] = {
    "num-sites": 0, "output-dir": "", "wait-for-sites": 60.0,
    # "study", "analytics" (fedcare.federation._analytics) or "quality" (the check alone)
    "task": "study", "analytics-request": "",
}


def write_flower_app(directory: Path, *, secure: bool = False) -> Path:
    """Write a minimal Flower app project whose components are fedcare's apps.

    Its ``[tool.flwr.app.config]`` lists every study setting with its default, so
    any of them can be overridden with ``flwr run ... --run-config``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    project = {
        "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
        "project": {"name": "fedcare-study", "version": "1.0.0", "license": "Apache-2.0",
                    "dependencies": ["fedcare"]},
        "tool": {"hatch": {"build": {"targets": {"wheel": {"packages": ["."]}}}},
                 "flwr": {"app": {
                     "publisher": "fedcare",
                     "components": {"serverapp": "fedcare.federation.apps:server_app",
                                    "clientapp": "fedcare.federation.apps:"
                                                 + ("secagg_client_app" if secure
                                                    else "client_app")},
                     "config": {**StudyConfig().to_run_config(), **_EXTRA_KEYS}}}},
    }
    (directory / "pyproject.toml").write_text(tomli_w.dumps(project))
    return directory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _flwr(args: list[str], env: dict[str, str], timeout: float = 120) -> dict[str, Any]:
    proc = subprocess.run([str(_BIN / "flwr"), *args, "--format", "json"], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    try:
        return dict(json.loads(proc.stdout))
    except json.JSONDecodeError:
        raise FederationError(f"flwr {args[0]} exited {proc.returncode}: "
                              f"{(proc.stdout + proc.stderr)[-500:]}") from None


def run_simulation(
    config: StudyConfig, n_sites: int, *, workdir: str | Path | None = None,
    timeout: float = 600, extra_run_config: Mapping[str, str | int | float | bool] | None = None,
) -> dict[str, Any]:
    """Run the study on Flower's Ray simulation with ``n_sites`` supernodes.

    Supernode ``i`` is the ``i``-th site in sorted order (``partition-id``).
    Returns the ServerApp's result (as :func:`run_inprocess` does).
    ``extra_run_config`` adds keys the app declares (e.g. ``{"task": "quality"}``).

    Raises
    ------
    FederationError
        The SuperLink did not start, ``flwr run`` refused the run, or the run ended in
        any state other than ``finished:completed`` (the message holds its details).
    """
    import httpx

    owned = workdir is None
    work = Path(tempfile.mkdtemp(prefix="fedcare-sim-") if owned else str(workdir)).resolve()
    app_dir = write_flower_app(work / "app", secure=config.secure_aggregation)
    port = _free_port()
    # Ray's socket paths must stay under 107 bytes: its temp dir is short and separate.
    ray_tmp = tempfile.mkdtemp(prefix="fcray-", dir="/tmp" if os.path.isdir("/tmp") else None)
    env = dict(os.environ, FLWR_HOME=str(work / "flwr-home"), RAY_TMPDIR=ray_tmp,
               FLWR_TELEMETRY_ENABLED="0", FLWR_DISABLE_UPDATE_CHECK="1",
               FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1",
               FLWR_LOCAL_SUPERLINK_HTTP_API_PORT=str(port),
               PATH=f"{_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    (work / "flwr-home").mkdir(exist_ok=True)
    out_dir = work / "out"
    run_config = {**config.to_run_config(), "num-sites": n_sites, "output-dir": str(out_dir),
                  **(extra_run_config or {})}
    overrides = work / "run_config.toml"
    overrides.write_text(tomli_w.dumps(run_config))
    log_file = work / "superlink.log"
    link = subprocess.Popen(
        [str(_BIN / "flower-superlink"), "--insecure", "--simulation", "--isolation",
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
        submitted = _flwr(["run", str(app_dir), "local", "--run-config", str(overrides),
                           "--federation-config", f"num-supernodes={n_sites}",
                           "--federation-config", "client-resources-num-cpus=1"], env)
        if not submitted.get("success"):
            raise FederationError(f"flwr run refused the study: {submitted}")
        run_id = str(submitted["run-id"])
        deadline = time.monotonic() + timeout
        while True:
            listing = _flwr(["ls", "local", "--run-id", run_id], env)
            if not listing.get("runs"):  # seen under load: an answer without the run yet
                if time.monotonic() > deadline:
                    raise FederationError(f"run {run_id}: `flwr ls` never listed it")
                time.sleep(1)
                continue
            status = str(listing["runs"][0]["status"])
            if status.startswith("finished"):
                break
            if time.monotonic() > deadline:
                _flwr(["stop", run_id, "local"], env)
                raise FederationError(f"run {run_id} still '{status}' after {timeout:.0f} s")
            time.sleep(0.5)
        if status != "finished:completed":
            logs = subprocess.run([str(_BIN / "flwr"), "log", run_id, "local", "--show"],
                                  env=env, capture_output=True, text=True, timeout=60,
                                  check=False).stdout
            (work / "run.log").write_text(logs)
            errors = [line.strip() for line in logs.splitlines()
                      if "Error" in line or "error" in line][-3:]
            raise FederationError(f"run {run_id} ended '{status}': "
                                  f"{listing['runs'][0].get('status-details')} "
                                  f"{' | '.join(errors)} "
                                  f"(full log: {work / 'run.log'})")
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
