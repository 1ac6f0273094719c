"""Where a deployed message round waits: the coordinator's pull interval, and idle CPU.

Setup: the loopback federation of ``deploy_speed.py`` (one SuperLink, four SuperNodes
for the UCI heart-disease hospitals, TLS + node authentication), all on this machine.

``--pull-intervals 3 1 0.5 0.2``: for each value, a fresh federation runs the ``--rounds``
Newton heart study with the run config ``pull-interval`` set to it (3 is Flower's own
``send_and_receive``), and the rounds are read from the run's ``progress.jsonl`` (when each
message left and each reply came) and each site's audit log (when its ClientApp received
the message and answered): per message round, the seconds from asking to the last reply;
per reply, ask -> the site's ClientApp has the message, received -> answered (fedcare's
work with its mods), answered -> the coordinator has the reply.

``--idle``: the CPU used by the coordinator and four idle sites (every process they
started, from ``/proc``) over ``--seconds``, with the environment's
``FLWR_SUPEREXEC_TASK_POLL_INTERVAL`` (Flower's default 1 s when unset); run it again with
the variable set to compare.

Run:  python benchmarks/deploy_waits.py [--pull-intervals 3 0.2] [--rounds 6]
                                        [--idle] [--seconds 20] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import _common as C

SITES = ["cleveland", "hungary", "switzerland", "va"]


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def idle_cpu(seconds: float) -> dict[str, Any]:
    """Cores used by the coordinator and four idle sites (after 8 s to settle)."""
    from fedcare.federation.engines.deploy import descendants

    root = Path(tempfile.mkdtemp(prefix="fcw-", dir="/tmp"))
    try:
        with C.loopback_federation(root, SITES) as procs:
            time.sleep(8)
            pids = [q for p in procs for q in [p.pid, *descendants(p.pid)]]
            before, started = _cpu_seconds(pids), time.time()
            time.sleep(seconds)
            used = _cpu_seconds(pids) - before
            return {"cores": used / (time.time() - started), "processes": len(pids),
                    "superexec_poll": os.environ.get("FLWR_SUPEREXEC_TASK_POLL_INTERVAL",
                                                     "(Flower's default, 1 s)")}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _at(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["time"]).timestamp()


def waits(interval: float, rounds: int) -> dict[str, Any]:
    """The study with ``pull-interval = interval``; where its message rounds waited."""
    from fedcare.config import StudyConfig
    from fedcare.federation.engines.deploy import submit

    root = Path(tempfile.mkdtemp(prefix="fcw-", dir="/tmp"))
    try:
        with C.loopback_federation(root, SITES):
            audit = root / "audit"
            config = StudyConfig(data="builtin:heart-disease", data_dir=str(C.HEART_DIR),
                                 audit_dir=str(audit),
                                 **{**C.flamby_protocol(), "strategy": "newton",
                                    "rounds": rounds})
            started = time.perf_counter()
            submit(config, root / "coord", n_sites=len(SITES), timeout=1800,
                   extra_run_config={"pull-interval": interval})
            wall = time.perf_counter() - started
            progress = next(root.glob("coord/runs/*/out/progress.jsonl"))
            lines = [json.loads(line) for line in progress.read_text().splitlines()]
            asked = [e["at"] for e in lines if e.get("event") == "asked"]
            pulled: dict[str, list[float]] = {}
            for e in lines:
                if e.get("event") == "reply":
                    pulled.setdefault(e["site"], []).append(e["at"])
            to_site, work, to_coordinator = [], [], []
            for site in SITES:
                records = [json.loads(line) for line in
                           (audit / f"site-{site}.jsonl").read_text().splitlines()]
                got = [_at(r) for r in records if r["direction"] == "received"]
                sent = [_at(r) for r in records if r["direction"] == "sent"]
                for i, ask in enumerate(asked):
                    to_site.append(got[i] - ask)
                    work.append(sent[i] - got[i])
                    to_coordinator.append(pulled[site][i] - sent[i])
            last = [max(p[i] for p in pulled.values()) - ask for i, ask in enumerate(asked)]
            return {"pull_interval": interval, "study_wall": wall, "message_rounds": len(asked),
                    "round": last, "to_site": to_site, "work": work,
                    "to_coordinator": to_coordinator}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _mm(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--pull-intervals", type=float, nargs="*", default=[3.0, 0.2],
                        help="run config pull-interval values to compare (3: Flower's own)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--idle", action="store_true", help="also measure idle CPU")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    C.flower_env()
    out: dict[str, Any] = {"runs": []}
    if args.idle:
        out["idle"] = idle_cpu(args.seconds)
        print(f"idle: {out['idle']['cores']:.3f} cores for the coordinator and 4 sites "
              f"({out['idle']['processes']} processes; SuperExec task poll "
              f"{out['idle']['superexec_poll']})", flush=True)
    rows = []
    for interval in args.pull_intervals:
        r = waits(interval, args.rounds)
        out["runs"].append(r)
        rows.append([f"{interval:g}", str(r["message_rounds"]), f"{r['study_wall']:.1f}",
                     _mm(r["round"]), _mm(r["to_site"]), _mm(r["work"]),
                     _mm(r["to_coordinator"])])
        print(f"pull-interval {interval:g}: study {r['study_wall']:.1f} s", flush=True)
    if rows:
        print(f"\nNewton heart study, {args.rounds} rounds, 4 sites, loopback, TLS + node "
              "authentication; seconds, median / max\n")
        print(C.table(["pull-interval s", "message rounds", "study wall s",
                       "ask -> last reply", "ask -> site has it", "site's work",
                       "answered -> coordinator has it"], rows))
    if args.json:
        C.write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
