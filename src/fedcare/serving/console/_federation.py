"""What the console shows of a live federation: its sites and the studies submitted to it.

Read from the coordinator's folder (``fedcare coordinator init``) and, while it runs, its
SuperLink (``flwr supernode list`` / ``flwr ls``, at most once per :data:`TTL` seconds):

- sites: enrolled (``coordinator.toml``), revoked, the SuperLink's status and last-seen
  time of each, and the site's policy where this console also holds the site's folder;
- studies: each submission under ``runs/<stamp>/`` (``fedcare study submit``), its run
  config, the ServerApp's ``progress.jsonl`` (every message asked, every reply as it
  came, every round) and, once done, ``out/result.json``.

Nothing here reaches a site: a site that has not answered is shown as silent, with what
the console knows of why (its steward's pending approval, when the console holds that
site's folder).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fedcare.report._svg import line_chart

__all__ = ["TTL", "Federation"]

TTL = 5.0
"""Seconds a SuperLink answer (site status, run status) is reused."""

_STAMP = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9]+-[0-9]+$")


class _Cached:
    """One value refreshed at most every ``TTL`` seconds; ``None`` while it cannot be had."""

    def __init__(self, fetch: Callable[[], Any]) -> None:
        self.fetch, self.value, self.at, self.error = fetch, None, 0.0, ""
        self.lock = threading.Lock()

    def get(self) -> Any:
        with self.lock:
            if time.monotonic() - self.at > TTL:
                from fedcare.exceptions import FedcareError

                try:
                    self.value, self.error = self.fetch(), ""
                except (FedcareError, OSError, ValueError, KeyError) as exc:
                    self.value, self.error = None, str(exc).splitlines()[0][:200]
                self.at = time.monotonic()
            return self.value


def _events(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            break  # being written
        if isinstance(entry, dict):
            out.append(entry)
    return out


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class Federation:
    """The console's view of one coordinator folder (and the site folders it also holds).

    Parameters
    ----------
    coordinator_dir : path
        The coordinator's folder.
    approvals : mapping
        Site name -> :class:`~fedcare.federation.site.approval.ApprovalBook` of the site
        folders this console holds (``fedcare serve --site``).
    policies : mapping
        Site name -> its ``[policy]`` table, for the same folders.
    """

    def __init__(self, coordinator_dir: str | Path, approvals: Mapping[str, Any],
                 policies: Mapping[str, Mapping[str, Any]]) -> None:
        from fedcare.federation.engines.deploy.layout import (
            CONNECTION,
            coordinator_settings,
            flwr_cli,
            node_status,
        )

        self.root, _ = coordinator_settings(coordinator_dir)  # ConfigError if not one
        self.approvals, self.policies = dict(approvals), dict(policies)
        self._nodes = _Cached(lambda: node_status(self.root))

        def runs() -> dict[str, str]:
            root, settings = coordinator_settings(self.root)
            listed = flwr_cli(root, settings, ["ls", CONNECTION], timeout=20).get("runs", [])
            return {str(r["run-id"]): str(r.get("status", "")) for r in listed}

        self._runs = _Cached(runs)

    # -- sites -----------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        from fedcare.federation.engines.deploy.layout import coordinator_settings

        return coordinator_settings(self.root)[1]

    def names(self) -> dict[int, str]:
        """Node id -> site name of every site ever enrolled here (revoked ones too)."""
        s = self._settings()
        out = {int(v.get("node_id", 0)): k for k, v in s.get("revoked", {}).items()}
        out.update({int(v.get("node_id", 0)): k for k, v in s.get("sites", {}).items()})
        return out

    def sites(self) -> dict[str, Any]:
        """Enrolled and revoked sites with status, last seen and (where known) policy."""
        s = self._settings()
        nodes = self._nodes.get()
        rows = []
        for name, info in sorted(s.get("sites", {}).items()):
            node = (nodes or {}).get(int(info.get("node_id", 0)), {})
            status = (str(node.get("status") or "unknown") if nodes is not None
                      else "not known")
            rows.append({
                "site": name, "node_id": info.get("node_id"),
                "fingerprint": str(info.get("fingerprint", "")),
                "enrolled": str(info.get("enrolled", "")), "status": status,
                "last_seen": ("now" if status == "online" else
                              str(node.get("offline-at") or node.get("online-at") or "")),
                "online_since": str(node.get("online-at") or ""),
                "policy": self.policies.get(name)})
        revoked = [{"site": name, **{k: str(v) for k, v in info.items()}}
                   for name, info in sorted(s.get("revoked", {}).items())
                   if name not in s.get("sites", {})]
        return {"enrolled": rows, "revoked": revoked, "superlink": nodes is not None,
                "superlink_error": self._nodes.error}

    # -- studies ---------------------------------------------------------------------------
    def _work(self, stamp: str) -> Path | None:
        if stamp.isdigit() and len(stamp) < 40:  # a Flower run id: its submission
            runs = self.root / "runs"
            for path in sorted(runs.iterdir()) if runs.is_dir() else []:
                file = path / "run_id"
                if _STAMP.match(path.name) and file.is_file() and \
                        file.read_text().strip() == stamp:
                    return path
            return None
        if not _STAMP.match(stamp):
            return None
        path = self.root / "runs" / stamp
        return path if (path / "run_id").is_file() else None

    def _state(self, work: Path, run_id: str) -> str:
        if (work / "out" / "result.json").is_file():
            return "finished"
        listed = self._runs.get()
        if listed is not None and run_id in listed:
            status = listed[run_id]  # pending, starting, running, finished:<how>
            if status == "finished:completed":
                return "finished"
            return status.split(":", 1)[1] if status.startswith("finished:") else status
        if (work / "run.log").is_file():
            return "failed"
        return "running" if listed is not None else "unknown (coordinator not answering)"

    def studies(self) -> list[dict[str, Any]]:
        """Every submission to this coordinator, newest first."""
        out: list[dict[str, Any]] = []
        runs = self.root / "runs"
        if not runs.is_dir():
            return out
        for path in sorted(runs.iterdir(), reverse=True):
            work = self._work(path.name)
            if work is None:
                continue
            out.append(self._summary(work))
        return out

    def _summary(self, work: Path) -> dict[str, Any]:
        from fedcare.federation.engines.deploy.layout import read_toml

        run_id = (work / "run_id").read_text().strip()
        try:
            config = read_toml(work / "run_config.toml")
        except (OSError, ValueError):
            config = {}
        # the state before the progress: result.json is written after the last round's
        # line, so a finished state never comes with an older round (the lead's page
        # stops polling once it reads a final state)
        state = self._state(work, run_id)
        events = _events(work / "out" / "progress.jsonl")
        rounds = [e for e in events if "event" not in e and "round" in e]
        submitted = work.name[:15]
        task = str(config.get("task", "study"))
        if task != "study":  # an analytics or quality run: no strategy, rounds, outcome
            from fedcare.federation.site.approval import _analytics_summary

            try:
                request = json.loads(str(config.get("analytics-request", "")))
            except ValueError:
                request = None
            config = {"task": task, "summary": _analytics_summary(request)
                      if isinstance(request, dict) else f"task {task}",
                      "num-sites": config.get("num-sites"),
                      "secure-aggregation": config.get("secure-aggregation")}
        return {"stamp": work.name, "run_id": run_id, "summary": config.get("summary"),
                "submitted": f"{submitted[:4]}-{submitted[4:6]}-{submitted[6:8]} "
                             f"{submitted[9:11]}:{submitted[11:13]}:{submitted[13:15]}",
                "task": str(config.get("task", "study")),
                "strategy": config.get("strategy"), "model": config.get("model"),
                "target": config.get("target"), "of": int(config.get("rounds", 0) or 0),
                "round": int(rounds[-1]["round"]) if rounds else 0,
                "n_sites": config.get("num-sites"),
                "secure_aggregation": config.get("secure-aggregation"),
                "state": state}

    def study(self, stamp: str) -> dict[str, Any] | None:
        """One submission as its study lead watches it (None: no such submission)."""
        work = self._work(stamp)
        if work is None:
            return None
        view = self._summary(work)
        events = _events(work / "out" / "progress.jsonl")
        names = self.names()
        view["sites"] = self._site_states(events, names, view["run_id"])
        rounds = [e for e in events if "event" not in e and "round" in e]
        view["rounds"] = [{"round": int(e["round"]), "seconds": _num(e.get("seconds")),
                           "sites": sorted(e.get("sites", [])),
                           "missing": sorted({s["site"] for s in view["sites"]
                                              if s["state"] == "answered"}
                                             - set(e.get("sites", []))),
                           "accuracy": _num(e.get("accuracy")),
                           "test_loss": _num(e.get("test_loss"))} for e in rounds]
        view["last_round_end"] = rounds[-1].get("at") if rounds else None
        view["charts"] = _charts(view["rounds"])
        view["result"] = _result(work / "out" / "result.json")
        view["error"] = (_error(work) if view["state"] in ("failed", "stopped") else "")
        return view

    def _site_states(self, events: list[dict[str, Any]], names: Mapping[int, str],
                     run_id: str) -> list[dict[str, Any]]:
        """Each site asked by the study's first message: answered / refused / silent, and
        (for a silent one whose folder this console holds) its steward's pending request."""
        first = next((e for e in events if e.get("event") == "asked"), None)
        if first is None:
            return []
        kind, asked_at = first.get("type"), _num(first.get("at")) or time.time()
        states: dict[int, dict[str, Any]] = {}
        for node in first.get("nodes", []):
            name = names.get(int(node), f"node {node}")
            states[int(node)] = {"site": name, "node": int(node), "state": "waiting",
                                 "detail": "", "seconds": None}
        for e in events:
            if e.get("type") != kind or int(e.get("node", -1)) not in states:
                if e.get("event") == "silent" and e.get("type") == kind:
                    for node in e.get("nodes", []):
                        if int(node) in states and states[int(node)]["state"] == "waiting":
                            states[int(node)].update(state="silent", detail=(
                                "no answer before the study's round_timeout"))
                continue
            if e.get("event") == "reply":
                row = states[int(e["node"])]
                if e.get("site"):
                    row["site"] = str(e["site"])
                row["seconds"] = _num(e.get("seconds"))
                if e.get("ok"):
                    row.update(state="answered", detail=f"after {row['seconds'] or 0:.1f} s")
                else:
                    reason = str(e.get("reason", ""))
                    row.update(state="refused" if " refuses " in reason else "failed",
                               detail=reason)
        for row in states.values():
            if row["state"] != "waiting":
                continue
            waited = time.time() - asked_at
            book = self.approvals.get(row["site"])
            entry = book.state(run_id) if book is not None else None
            if entry is not None and entry.get("state") == "pending":
                row["detail"] = (f"its steward has not decided yet ({waited:.0f} s); the "
                                 "site answers nothing until then")
                row["state"] = "awaiting approval"
            elif entry is not None and entry.get("state") == "refused":
                row["state"] = "refused"
                row["detail"] = (f"its steward ({entry.get('decided_by', '?')}) refused: "
                                 f"{entry.get('reason', '')}; the refusal is on its way to "
                                 "the coordinator")
            elif entry is not None and entry.get("state") == "approved":
                row["detail"] = (f"approved by {entry.get('decided_by', '?')}; its answer "
                                 "is on the way")
            else:
                row["detail"] = (f"no answer yet ({waited:.0f} s): waiting for its "
                                 "steward's approval, or the site is busy or offline")
        return sorted(states.values(), key=lambda r: str(r["site"]))


def _charts(rounds: list[dict[str, Any]]) -> dict[str, str]:
    if not rounds:
        return {}
    loss = [(float(r["round"]), r["test_loss"]) for r in rounds if r["test_loss"] is not None]
    acc = [(float(r["round"]), r["accuracy"]) for r in rounds if r["accuracy"] is not None]
    secs = [(float(r["round"]), r["seconds"]) for r in rounds if r["seconds"] is not None]
    out = {}
    if loss:
        out["loss"] = line_chart({"test log-loss": loss}, title="Test loss by round",
                                 x_label="round", y_label="log-loss")
    if acc:
        out["accuracy"] = line_chart({"test accuracy": acc}, title="Test accuracy by round",
                                     x_label="round", y_label="accuracy")
    if secs:
        out["seconds"] = line_chart({"seconds per round": secs}, title="Time per round",
                                    x_label="round", y_label="seconds")
    return out


def _result(path: Path) -> dict[str, Any] | None:
    """The finished study's headline: sites, exclusions, per-site test metrics."""
    try:
        r = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(r, dict):
        return None
    per_site = r.get("per_site") or {}
    settings = [s for s in ("federated", "personalised", "local") if s in per_site]
    sites = sorted(set().union(*(per_site[s] for s in settings)) if settings else
                   (r.get("sites") or {}))
    table = [{"site": site, "n": ((r.get("sites") or {}).get(site) or {}).get("n_rows"),
              **{s: {"auc": _num((per_site[s].get(site) or {}).get("auc")),
                     "accuracy": _num((per_site[s].get(site) or {}).get("accuracy"))}
                 for s in settings}} for site in sites]
    withheld = any(row[s]["auc"] is None for row in table for s in settings)
    return {"settings": settings, "table": table, "withheld": withheld,
            "excluded": r.get("excluded_sites") or {},
            "seconds": _num(r.get("seconds")), "rounds": r.get("rounds"),
            "privacy": r.get("privacy"), "secure": bool(r.get("secure")),
            "missing_rounds": r.get("missing_rounds") or {}}


def _error(work: Path) -> str:
    """Why a failed run failed, from the ServerApp's failed replies (never the log)."""
    events = _events(work / "out" / "progress.jsonl")
    reasons = [str(e["reason"]) for e in events if e.get("event") == "reply"
               and not e.get("ok") and e.get("reason")]
    return " | ".join(dict.fromkeys(reasons)) or "the run failed; see run.log in its folder"
