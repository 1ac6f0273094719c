"""Study approval by each site: a manifest of what would leave the site, the steward's
decision, and a hash-chained log of every decision.

With ``approval = "manual"`` in the site's ``[policy]``, the first message of a study
(a Flower run) records a *pending* request with the study's manifest in the site's
``approvals.json`` and waits: the site answers nothing until its steward approves
(``fedcare site approve RUN --dir SITE``) or refuses with a reason (``fedcare site
refuse``), or the study's ``round_timeout`` passes. A refusal becomes the site's error
reply (a :class:`~fedcare.exceptions.PolicyRefusal` naming the site and the reason), which
the coordinator reports. With ``approval = "auto"`` a study that meets the policy is
recorded as approved by the policy. Every request and decision is appended to the site's
hash-chained audit log, ``audit.jsonl`` in its folder (``fedcare audit verify`` checks
it), beside its policy changes.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fedcare.config import StudyConfig
from fedcare.exceptions import ConfigError, DataNotFoundError, PolicyRefusal

__all__ = ["ApprovalBook", "manifest", "wait_for_approval"]

#: What each kind of study sends from a site (message types, arrays, metrics).
_COMMON = [("query.schema", "column names, kinds and category levels; usable row count"),
           ("query.quality", "small-cell-protected counts, missing shares and quantiles; "
                             "in a study in the clear, also the imputation sums or the "
                             "standardisation sums below, in the same reply"),
           ("query.moments", "per-feature sums and sums of squares (standardisation)"),
           ("query.impute", "per column: rows with a value and their sum, rows without "
                            "(the federated mean for missing values)")]
_EVALUATE = [("evaluate", "the global model's test metrics here: AUC, accuracy, Brier, "
                          "calibration, row and event counts"),
             ("evaluate.local", "the same metrics of a model trained on this site alone "
                                "(the model itself stays here)"),
             ("evaluate.personalised", "the same metrics of the global model adapted to "
                                       "this site (the adapted model stays here)")]
_LEAVES = {
    "newton": [*_COMMON,
               ("train.newton", "gradient (p numbers) and Hessian (p x p) of the log-loss "
                                "summed over the site's training rows, row count, loss"),
               *_EVALUATE],
    "fedavg": [*_COMMON,
               ("train", "model weights after local training (one array per layer), row "
                         "count, loss"),
               *_EVALUATE],
}


#: What each analytics request sends from a site, beyond its set-up round.
_ANALYSES = {
    "describe": ("query.describe", "per column: count, missing count, sum and sum of squared "
                                   "deviations, cumulative counts at public bin edges (small "
                                   "blocks merged); with a group, a Table 1 of counts; every "
                                   "count 0 or at least k"),
    "km": ("query.km", "event, censoring and at-risk counts on a public time grid (each 0 or "
                       "at least k, or summed under secure aggregation); with exact, every "
                       "event time"),
    "cox": ("query.cox", "per Newton round: log partial likelihood, gradient and Hessian over "
                         "the covariates, summed over the site's patients"),
    "recalibrate": ("query.recalibrate", "per Newton round: sums over the site's patients "
                                         "of the equation's linear predictor and outcome "
                                         "(gradient and Hessian of two numbers)"),
}


def _analytics_summary(request: dict[str, Any]) -> str:
    kind = request.get("analysis", "?")
    if kind == "describe":
        what = f"describe {', '.join(request.get('columns', []))}"
    elif kind in ("km", "cox"):
        what = (f"{'Kaplan-Meier' if kind == 'km' else 'Cox model'} of "
                f"{request.get('duration')} / event {request.get('event')}")
        if kind == "cox" and request.get("covariates"):
            what += f" on {', '.join(request['covariates'])}"
        if request.get("exact"):
            what += " (exact: event times leave the site)"
    elif kind == "recalibrate":
        what = (f"recalibrate {request.get('equation')} to outcome {request.get('event')}")
    else:
        what = str(kind)
    if request.get("group"):
        what += f", by {request['group']}"
    return f"analytics: {what}"


def manifest(config: StudyConfig, task: str = "study",
             request: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a study (or an analytics ``request``) would take from a site, as its steward
    reads it; ``summary`` says it in one line."""
    kind = "newton" if config.strategy == "newton" else "fedavg"
    if task == "study":
        leaves = _LEAVES[kind]
        summary = (f"study: strategy {config.strategy}, model {config.model}, "
                   f"{config.rounds} rounds, outcome {config.target}, features "
                   + (", ".join(config.features) if config.features else
                      "all usable columns"))
    else:
        request = request or {}
        leaves = [("query.analytics_setup", "usable and dropped row counts, category levels"),
                  _ANALYSES.get(str(request.get("analysis")),
                                ("query.describe / km / cox / recalibrate",
                                 "small-cell-protected aggregates of the request"))]
        summary = (_analytics_summary(request) if request else f"task {task}")
    return {
        "task": task, "summary": summary, "strategy": config.strategy, "model": config.model,
        "rounds": config.rounds, "target": config.target,
        "features": list(config.features) or "all usable columns",
        "request": request,
        "messages": [{"type": t, "sends": what} for t, what in leaves],
        "dp_epsilon": config.dp_epsilon or None, "dp_level": config.dp_level,
        "secure_aggregation": config.secure_aggregation, "min_cell": config.min_cell,
        "rows": "never: only the sums, weights and metrics above",
    }


class ApprovalBook:
    """A site's approval requests and decisions (``approvals.json`` in the site folder,
    every change also in the site's hash-chained ``audit.jsonl``)."""

    def __init__(self, site_dir: str | Path) -> None:
        self.dir = Path(site_dir)
        self.path = self.dir / "approvals.json"
        # the site's own hash-chained audit log (SITE_AUDIT_LOG of the deployment layout,
        # where policy changes go too)
        self.log_path = self.dir / "audit.jsonl"

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".approvals.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                book = json.loads(self.path.read_text()) if self.path.exists() else {}
            except ValueError:
                raise ConfigError(f"{self.path}: not valid JSON; restore it from "
                                  "approvals.jsonl") from None
            before = json.dumps(book, sort_keys=True)
            yield book
            if json.dumps(book, sort_keys=True) != before:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(book, indent=2, sort_keys=True))
                tmp.replace(self.path)
            fcntl.flock(lock, fcntl.LOCK_UN)

    def _log(self, record: dict[str, Any]) -> None:
        from fedcare.privacy import AuditLog

        AuditLog(self.log_path).append(record)

    def entries(self) -> dict[str, Any]:
        """Every request, by run id."""
        with self._locked() as book:
            return dict(book)

    def state(self, run: str) -> dict[str, Any] | None:
        with self._locked() as book:
            entry = book.get(run)
            return None if entry is None else dict(entry)

    def request(self, run: str, site: str, study: dict[str, Any], *, auto: bool) -> str:
        """Record the request (once) and, under ``auto``, its approval by the policy;
        returns the current state."""
        now = datetime.now(UTC).isoformat()
        with self._locked() as book:
            if run in book:
                return str(book[run]["state"])
            entry = {"run": run, "site": site, "requested_at": now, "manifest": study,
                     "state": "approved" if auto else "pending"}
            if auto:
                entry.update(decided_by="policy (approval = auto)", decided_at=now,
                             reason="the study meets the site's policy")
            book[run] = entry
        self._log({"event": "requested", "run": run, "site": site, "manifest": study})
        if auto:
            self._log({"event": "approved", "run": run, "site": site,
                       "by": "policy (approval = auto)"})
        return str(entry["state"])

    def decide(self, run: str, approve: bool, *, by: str, reason: str = "") -> dict[str, Any]:
        """The steward's decision on a pending request."""
        if not approve and not reason.strip():
            raise ConfigError("a refusal needs a reason (the study lead sees it): write "
                              "it in the reason field, or pass --reason")
        with self._locked() as book:
            entry = book.get(run)
            if entry is None:
                raise DataNotFoundError(f"no approval request for run {run} in {self.path}")
            if entry["state"] != "pending":
                raise ConfigError(f"run {run} is already {entry['state']} (by "
                                  f"{entry.get('decided_by')})")
            entry.update(state="approved" if approve else "refused", decided_by=by,
                         decided_at=datetime.now(UTC).isoformat(), reason=reason.strip())
            out = dict(entry)
        self._log({"event": out["state"], "run": run, "site": out["site"], "by": by,
                   "reason": out["reason"]})
        return out


def wait_for_approval(book: ApprovalBook, run: str, site: str, study: dict[str, Any], *,
                      auto: bool, timeout: float, poll: float = 0.5) -> None:
    """Record the request and block until it is approved (return) or refused or timed
    out (:class:`PolicyRefusal`)."""
    state = book.request(run, site, study, auto=auto)
    deadline = time.monotonic() + timeout
    while state == "pending" and time.monotonic() < deadline:
        time.sleep(poll)
        entry = book.state(run)
        state = str(entry["state"]) if entry else "pending"
    if state == "approved":
        return
    entry = book.state(run) or {}
    if state == "refused":
        raise PolicyRefusal(f"site '{site}' refuses this study: its steward "
                            f"({entry.get('decided_by')}) said: {entry.get('reason')}")
    raise PolicyRefusal(f"site '{site}' did not approve this study within "
                        f"{timeout:g} s (its steward has not decided)")
