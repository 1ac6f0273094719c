"""One wrapper for Flower's ``flwr`` command and the app project it runs.

Shared by the simulation engine (a private SuperLink with Ray) and the deployment
(the coordinator's SuperLink): the environment every Flower process gets, ``flwr ...
--format json`` parsed with its failure reported, the Flower app project whose
components are fedcare's apps, and the error for a run that did not complete.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from fedcare.config import StudyConfig
from fedcare.exceptions import FederationError

from ..protocol import RunKey

__all__ = ["BIN", "failed_run", "flower_env", "flwr_json", "write_flower_app"]

BIN = Path(sys.executable).parent
"""Where this Python's Flower executables are (``flwr``, ``flower-superlink``, ...)."""


def flower_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment of every Flower process: its own FLWR_HOME, no telemetry, no update
    check, no dependency installation at run time. Flower's own settings in the
    environment pass through (e.g. ``FLWR_SUPEREXEC_TASK_POLL_INTERVAL``, seconds between
    a SuperExec's asks for a ClientApp to launch; Flower's default 1 s is kept: 0.2 s
    about doubled an idle federation's CPU, 0.108 -> 0.206 cores for 4 sites, with no
    shorter round measured; ``benchmarks/deploy_waits.py``, docs/deploy.md)."""
    home.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, FLWR_HOME=str(home), FLWR_TELEMETRY_ENABLED="0",
                FLWR_DISABLE_UPDATE_CHECK="1", FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="1",
                PYTHONUNBUFFERED="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                **extra)


def flwr_json(args: list[str], env: dict[str, str], timeout: float = 120) -> dict[str, Any]:
    """Run ``flwr ARGS --format json``; the parsed answer, or a FederationError naming
    the command and Flower's message (``flwr`` exits 0 on many failures)."""
    proc = subprocess.run([str(BIN / "flwr"), *args, "--format", "json"], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    try:
        out = dict(json.loads(proc.stdout))
    except json.JSONDecodeError:
        raise FederationError(f"flwr {' '.join(args[:2])} exited {proc.returncode}: "
                              f"{(proc.stdout + proc.stderr).strip()[-500:]}") from None
    if out.get("success") is False:
        raise FederationError(f"flwr {' '.join(args[:2])} failed: "
                              f"{out.get('error-message', out)}")
    return out


def failed_run(run_id: str, connection: str, env: dict[str, str], work: Path, status: str,
               details: str) -> FederationError:
    """The error for a run that ended other than ``finished:completed``: its status, the
    last error lines of its log (saved to ``work/run.log``)."""
    log = subprocess.run([str(BIN / "flwr"), "log", run_id, connection, "--show"], env=env,
                         capture_output=True, text=True, timeout=60, check=False).stdout
    (work / "run.log").write_text(log)
    from .deploy.submit import failure  # the ServerApp's own one-line message, once

    said = failure(run_id, details, work / "run.log")
    if said is not None:
        return said
    errors = list(dict.fromkeys(
        line.strip() for line in log.splitlines() if "Error" in line or "error" in line))
    last = errors[-1][:400] if errors else ""
    return FederationError(f"run {run_id} ended '{status}': {' '.join(details.split())}"
                           + (f"; last error in its log: {last}" if last else "")
                           + f" (full log: {work / 'run.log'})")


def write_flower_app(directory: Path, *, secure: bool = False,
                     components: tuple[str, str] | None = None,
                     config: Mapping[str, str | int | float | bool] | None = None) -> Path:
    """Write a minimal Flower app project whose components are fedcare's apps.

    Its ``[tool.flwr.app.config]`` lists every study setting with its default and the
    run keys the ServerApp reads, so any of them can be overridden with ``flwr run ...
    --run-config``. Another pair of apps (``components``: serverapp, clientapp object
    paths) declares its own ``config`` (e.g. a vertical study's).
    """
    directory.mkdir(parents=True, exist_ok=True)
    project = {
        "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
        "project": {"name": "fedcare-study", "version": "1.0.0", "license": "Apache-2.0",
                    "dependencies": ["fedcare"]},
        "tool": {"hatch": {"build": {"targets": {"wheel": {"packages": ["."]}}}},
                 "flwr": {"app": {
                     "publisher": "fedcare",
                     # each process imports only its own side (a site's ClientApp
                     # process does not import the coordinator)
                     "components": (
                         {"serverapp": components[0], "clientapp": components[1]}
                         if components else
                         {"serverapp": "fedcare.federation.coordinator.app:server_app",
                          "clientapp": "fedcare.federation.site.app:"
                                       + ("secagg_client_app" if secure else "client_app")}),
                     "config": dict(config) if config is not None else
                     {**StudyConfig().to_run_config(), **RunKey.DEFAULTS}}}},
    }
    (directory / "pyproject.toml").write_text(tomli_w.dumps(project))
    return directory
