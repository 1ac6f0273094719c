"""Embedded studies started from the console: one background thread per study, its
progress (round, seconds per round, sites) read by the job page every half second."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Job", "Jobs"]


@dataclass
class Job:
    """One embedded study: the four-hospital heart-disease demo with the chosen settings."""

    id: str
    rounds: int
    strategy: str
    by: str
    started: float = field(default_factory=time.time)
    state: str = "starting"  # starting | running | finished | failed
    stage: str = ""
    round: int = 0
    round_ends: list[float] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    run: str | None = None
    error: str | None = None
    finished_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def view(self) -> dict[str, Any]:
        with self.lock:
            ends = list(self.round_ends)
            starts = [self.started, *ends[:-1]] if ends else []
            seconds = [b - a for a, b in zip(starts, ends, strict=True)]
            return {"id": self.id, "rounds": self.rounds, "strategy": self.strategy,
                    "by": self.by, "state": self.state, "stage": self.stage,
                    "round": self.round, "round_seconds": seconds, "sites": self.sites,
                    "run": self.run, "error": self.error,
                    "last_round_end": ends[-1] if ends else None,
                    "elapsed": (self.finished_at or time.time()) - self.started}


class Jobs:
    """The console's embedded study jobs (kept in memory; run folders under ``runs``)."""

    def __init__(self, runs: Path) -> None:
        self.runs = runs
        self._jobs: dict[str, Job] = {}

    def list(self) -> list[dict[str, Any]]:
        return [j.view() for j in sorted(self._jobs.values(), key=lambda j: -j.started)]

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def start(self, *, rounds: int, strategy: str, by: str) -> str:
        job = Job(secrets.token_hex(6), rounds, strategy, by)
        self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), name=f"study-{job.id}",
                         daemon=True).start()
        return job.id

    def _run(self, job: Job) -> None:
        import logging

        from fedcare.data._heart import HEART_MISSING_CODES
        from fedcare.exceptions import FedcareError
        from fedcare.report._run_folder import write_outputs
        from fedcare.study import StudyConfig, run_study

        def progress(text: str) -> None:
            with job.lock:
                job.stage = text
                if text.startswith("federated study"):
                    job.state = "running"

        def on_round() -> None:
            with job.lock:
                job.round += 1
                job.round_ends.append(time.time())

        try:
            config = StudyConfig(data="builtin:heart-disease", rounds=job.rounds,
                                 strategy=job.strategy, missing_codes=HEART_MISSING_CODES)
            from fedcare.data._study import study_site_names

            with job.lock:
                job.sites = list(study_site_names(config))
            metrics = run_study(config, progress=progress, on_round=on_round).to_dict()
            run = write_outputs(metrics, self.runs, f"heart-{job.strategy}")
            with job.lock:
                job.state, job.run, job.stage = "finished", run.name, "finished"
        except FedcareError as exc:
            with job.lock:
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug: say so without a traceback on the page
            logging.getLogger("fedcare").exception("console study job failed")
            with job.lock:
                job.state, job.error = "failed", f"unexpected error ({type(exc).__name__})"
        finally:
            with job.lock:
                job.finished_at = time.time()
