"""Submitting a study (or an analytics run, or a quality check) to a running federation."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fedcare.config import StudyConfig
from fedcare.exceptions import FederationError

from ...protocol import RunKey
from ..flwr_cli import failed_run, flower_env, write_flower_app
from .layout import CONNECTION, coordinator_settings, flwr_cli, write_toml

__all__ = ["failure", "submit"]

Progress = Callable[[str], None]

#: Consecutive ``flwr ls`` failures after which :func:`submit` reports the coordinator lost.
_UNANSWERED_POLLS = 3


_SERVERAPP_FAILED = "ServerApp failed with exception: "


def failure(run_id: str, details: str, log: Path) -> FederationError | None:
    """The error for a run whose ServerApp raised: its message, once, on one line.

    Flower's status details hold the ServerApp's exception text (``ServerApp failed
    with exception: ...``); the coordinator's own errors already name each site and its
    reason in one line (:func:`fedcare.federation.coordinator.rounds.summarise_failures`),
    so nothing of the log is repeated. None when the details say something else.
    """
    if not details.startswith(_SERVERAPP_FAILED):
        return None
    reason = " ".join(details.removeprefix(_SERVERAPP_FAILED).split())
    return FederationError(f"run {run_id} failed: {reason} (Flower's log of the run: {log})")


_TICK = 0.25
"""Seconds between looks at the run's progress and result files while ``submit`` waits."""

_ENDING = 0.5
"""Seconds between ``flwr ls`` once the ServerApp has written its result."""

_FINISH_GRACE = 30.0
"""Seconds a run may still show as running after writing its result before ``submit``
takes the result anyway."""


def _wait(seconds: float, progress: _RoundProgress, result_file: Path) -> None:
    """Up to ``seconds``, saying each progress line as it comes; sooner once the
    ServerApp has written its result."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(_TICK, max(0.0, end - time.monotonic())))
        progress.read()
        if result_file.exists():
            return


def submit(
    config: StudyConfig | None, coordinator_dir: str | Path, *, n_sites: int,
    timeout: float = 1800, wait_for_sites: float = 120, on_progress: Progress | None = None,
    poll_every: float = 5.0, extra_run_config: Mapping[str, str | int | float | bool] | None = None,
    app: tuple[tuple[str, str], Mapping[str, str | int | float | bool]] | None = None,
) -> dict[str, Any]:
    """Run a study on the running coordinator's SuperLink and the connected sites.

    Writes the Flower app and the run config under ``runs/<stamp>/`` in the coordinator
    directory, submits with ``flwr run``, polls ``flwr ls`` until the run finishes and
    returns the ServerApp's ``result.json``.

    Parameters
    ----------
    config : StudyConfig
    coordinator_dir : str or Path
    n_sites : int
        Sites the ServerApp waits for (``num-sites``), up to ``wait_for_sites`` seconds.
    timeout : float
        Seconds before the run is stopped (``flwr stop``) and reported as failed.
    on_progress : callable, optional
        Called with one line per poll (status and elapsed seconds) and per stage.
    poll_every : float
        Seconds between ``flwr ls`` polls (each starts a ``flwr`` process: about 1 s of
        CPU). Between them the run's ``progress.jsonl`` and ``result.json`` (written by
        the ServerApp on this machine) are looked at every 0.25 s, and the status asked
        at once when the result appears.
    extra_run_config : mapping, optional
        Further run-config keys the app declares (e.g. ``task`` and
        ``analytics-request`` for :func:`fedcare.study.run_analytics`).
    app : ((serverapp, clientapp), config defaults), optional
        Other Flower apps than the study's (e.g. a vertical study's); ``config`` is then
        None and ``extra_run_config`` holds the run's settings.

    Raises
    ------
    FederationError
        ``flwr run`` refused, the run ended other than ``finished:completed`` (its
        status details and the last error lines of its log are in the message), or it
        ran past ``timeout``.
    """
    say = on_progress or (lambda _line: None)
    root, settings = coordinator_settings(coordinator_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    work = root / "runs" / stamp
    if (config is None) == (app is None):
        raise ValueError("submit needs either a study config or another app, not both")
    app_dir = write_flower_app(work / "app",
                               secure=bool(config and config.secure_aggregation),
                               components=app[0] if app else None,
                               config=app[1] if app else None)
    out_dir = work / "out"
    run_config = {**(config.to_run_config() if config else {}), RunKey.NUM_SITES: n_sites,
                  RunKey.OUTPUT_DIR: str(out_dir), RunKey.WAIT_FOR_SITES: float(wait_for_sites),
                  **(extra_run_config or {})}
    overrides = work / "run_config.toml"
    write_toml(overrides, run_config)
    started = time.monotonic()
    submitted = flwr_cli(root, settings, ["run", str(app_dir), CONNECTION,
                                      "--run-config", str(overrides)], timeout=300)
    run_id = str(submitted["run-id"])
    task = str((extra_run_config or {}).get(RunKey.TASK, "study"))
    what = (f"{config.label}, {config.rounds} rounds" if task == "study" and config
            else f"task {task}")
    say(f"run {run_id} submitted ({what}, {n_sites} sites)")
    (work / "run_id").write_text(run_id)
    status, details, unanswered = "submitted", "", 0
    progress = _RoundProgress(out_dir / "progress.jsonl", say)
    last_said, said_at = "", 0.0
    result_file = out_dir / "result.json"
    written_at: float | None = None  # when the ServerApp's result appeared
    while True:
        if written_at is None and result_file.exists():
            written_at = time.monotonic()
        try:
            runs = flwr_cli(root, settings, ["ls", CONNECTION, "--run-id", run_id])["runs"]
        except (FederationError, subprocess.TimeoutExpired) as exc:
            # The SuperLink stopped answering: it crashed or was stopped. The ServerApp
            # cannot go on without it (and a restarted SuperLink marks the run failed and
            # refuses it), so the run cannot finish: say so rather than wait.
            unanswered += 1
            if unanswered < _UNANSWERED_POLLS:
                say(f"run {run_id}: the coordinator did not answer ({unanswered})")
                time.sleep(poll_every)
                continue
            resume = (f"; once it runs again, resume the study from "
                      f"{Path(config.checkpoint_dir) / 'checkpoint.json'}"
                      if config and config.checkpoint_dir else "")
            raise FederationError(
                f"run {run_id}: lost the coordinator while the run was '{status}' "
                f"(its SuperLink did not answer {unanswered} polls: "
                f"{str(exc).strip()[-300:]}){resume}") from exc
        unanswered = 0
        status = str(runs[0]["status"])
        details = str(runs[0].get("status-details", "") or "")
        elapsed = time.monotonic() - started
        progress.read()
        # the status when it changes, else every 30 s (rounds are said as they finish)
        if status != last_said or elapsed - said_at >= 30:
            say(f"run {run_id}: {status} ({elapsed:.0f} s)")
            last_said, said_at = status, elapsed
        if status.startswith("finished"):
            break
        if written_at is not None and time.monotonic() - written_at > _FINISH_GRACE:
            # the ServerApp wrote its whole result and then did not end: take the result
            say(f"run {run_id}: result written {_FINISH_GRACE:.0f} s ago, run still "
                f"'{status}'; taking the result")
            status = "finished:completed"
            break
        if elapsed > timeout:
            with contextlib.suppress(FederationError):
                flwr_cli(root, settings, ["stop", run_id, CONNECTION])
            raise FederationError(f"run {run_id} still '{status}' after {timeout:.0f} s "
                                  "(stopped)")
        # result written: the run is ending, ask again soon; else watch the files
        _wait(_ENDING if written_at is not None else poll_every, progress, result_file)
    if status != "finished:completed":
        env = flower_env(Path(settings["coordinator"]["cli_home"]))
        error = failed_run(run_id, CONNECTION, env, work, status, details)  # saves run.log
        raise failure(run_id, details, work / "run.log") or error
    try:
        result = dict(json.loads((out_dir / "result.json").read_text()))
    except FileNotFoundError:
        raise FederationError(f"run {run_id} completed but wrote no {out_dir / 'result.json'}"
                              ) from None
    say(f"run {run_id}: finished:completed in {time.monotonic() - started:.1f} s")
    return result


class _RoundProgress:
    """Say each training round the ServerApp reports (its ``progress.jsonl``): number,
    seconds and which sites answered (and which that answered before did not); and, as
    they happen, a site's failed reply (a refusal with its reason), a reply that took
    longer than :attr:`SLOW` seconds (e.g. after the steward's approval) and the sites
    still silent at a message's timeout."""

    SLOW = 10.0

    def __init__(self, path: Path, say: Progress) -> None:
        self.path, self.say, self.seen, self.sites = path, say, 0, set[str]()

    def read(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines[self.seen:]:
            try:
                entry = json.loads(line)
            except ValueError:
                break  # a line being written: read it next time
            self.seen += 1
            if "event" in entry:
                self._event(entry)
                continue
            answered = sorted(entry.get("sites", []))
            self.sites.update(answered)
            missing = sorted(self.sites - set(answered))
            of = f"/{entry['of']}" if entry.get("of") else ""
            self.say(f"round {entry['round']}{of}: {float(entry['seconds']):.1f} s, "
                     f"{len(answered)} sites answered ({', '.join(answered)})"
                     + (f"; missing: {', '.join(missing)}" if missing else ""))

    def _event(self, entry: dict[str, Any]) -> None:
        kind = entry.get("type", "?")
        if entry["event"] == "reply" and not entry.get("ok"):
            self.say(f"{kind}: {entry.get('reason', 'failed')}")
        elif entry["event"] == "reply" and float(entry.get("seconds", 0)) > self.SLOW:
            who = entry.get("site") or f"node {entry.get('node')}"
            self.say(f"{kind}: site '{who}' answered after {float(entry['seconds']):.0f} s")
        elif entry["event"] == "silent":
            self.say(f"{kind}: no answer from node(s) {entry.get('nodes')} by the timeout")
