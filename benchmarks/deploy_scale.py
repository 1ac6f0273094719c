"""How a deployed study grows with the number of sites: 4, 8, 16, 32 SuperNodes on loopback.

Data (real, multi-centre): the Brazilian dialysis registry (SurvSet ``Dialysis``: 6805
patients at 67 centres in ``fac_center``; label ``event`` = death; features
``fac_disease``, ``num_age``, ``num_begin``; ``time`` and ``pid`` left out). With N sites,
the N largest centres take part, each a ``flower-supernode`` reading its own rows of the
CSV (``site_column = "fac_center"``). One SuperLink (TLS + SuperNode authentication) and
the N SuperNodes run on this machine, started as ``fedcare coordinator start`` / ``site
start`` do, and the study is submitted as ``fedcare study submit`` does.

Per N: the study's wall time, seconds per training round (median), the message rounds a
site received (its audit log), and memory, sampled while the study runs: the
coordinator (the SuperLink and everything it started: SuperExec, ServerApp process) and
each site (its SuperNode and what it started: ClientApp processes).

With ``--simulate 100 500`` the same study also runs on Flower's simulation engine
(``fedcare.federation.engines.simulation``: one SuperLink, Ray, 2 workers) with that many
simulated sites; the registry has 67 centres, so simulated site i holds a copy of centre
``i mod 67``'s rows (replicated: the figures measure the engine, not the model). Memory
there is everything this script started (SuperLink, Ray, its workers), sampled.

Every site on one 2-core machine: from about 8 sites on, the sites' ClientApp processes
(one per message and site) queue for the cores, so the growth here is the machine's, and
a real federation (one machine per hospital) pays only the coordinator's part.

Run:  python benchmarks/deploy_scale.py [--sites 4 8 16 32] [--simulate 100 500]
                                        [--rounds 2] [--strategy newton] [--json OUT]
                                        [--superlink-state file|memory]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _common as C

FEATURES = ["fac_disease", "num_age", "num_begin"]



def registry(path: Path) -> list[str]:
    """Write the registry to ``path``; its centres, largest first."""
    from SurvSet.data import SurvLoader

    df = SurvLoader().load_dataset("Dialysis")["df"]
    df["fac_center"] = "c" + df["fac_center"].astype(str)
    df.to_csv(path, index=False)
    return list(df["fac_center"].value_counts().index)


def one(n: int, csv: Path, centres: list[str], args: argparse.Namespace) -> dict[str, Any]:
    from fedcare.config import StudyConfig
    from fedcare.federation.engines.deploy import submit

    sites = centres[:n]
    root = Path(tempfile.mkdtemp(prefix="fcscale-", dir="/tmp"))
    try:
        with C.loopback_federation(root, sites, state=args.superlink_state) as procs:
            coordinator, site_procs = procs[0], procs[1:]
            idle = [C.rss_mb(p.pid) for p in site_procs]
            peak_sites = [0.0] * n
            peak_coord = [0.0]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak_coord[0] = max(peak_coord[0], C.rss_mb(coordinator.pid))
                    for i, p in enumerate(site_procs):
                        peak_sites[i] = max(peak_sites[i], C.rss_mb(p.pid))
                    time.sleep(0.5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            audit = root / "audit"
            config = StudyConfig(data=str(csv), site_column="fac_center", target="event",
                                 features=FEATURES, categorical=["fac_disease"],
                                 strategy=args.strategy, rounds=args.rounds,
                                 audit_dir=str(audit), round_timeout=900.0,
                                 quality_check="warn")  # measured, never blocks here
            started = time.perf_counter()
            try:
                result = submit(config, root / "coord", n_sites=n, timeout=7200)
            finally:
                done.set()
                sampler.join()
            wall = time.perf_counter() - started
        received = [json.loads(line) for line in
                    (audit / f"site-{sites[0]}.jsonl").read_text().splitlines()]
        rounds = [float(h["seconds"]) for h in result["history"]]
        return {"sites": n, "patients": sum(int(s["n_train"] or 0) + int(s["n_test"] or 0)
                                            for s in result["sites"].values()),
                "wall_seconds": wall, "round_seconds": rounds,
                "message_rounds": sum(r.get("direction") == "received" for r in received),
                "coordinator_peak_rss_mb": peak_coord[0],
                "site_idle_rss_mb": statistics.median(idle),
                "site_peak_rss_mb": statistics.median(peak_sites),
                "all_sites_peak_rss_mb": sum(peak_sites)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def simulated(n: int, csv: Path, centres: list[str], args: argparse.Namespace
              ) -> dict[str, Any]:
    """The study on Flower's simulation engine with ``n`` replicated sites."""
    import os

    import pandas as pd

    from fedcare.config import StudyConfig
    from fedcare.federation.engines.deploy import descendants
    from fedcare.federation.engines.simulation import run_simulation

    frame = pd.read_csv(csv)
    parts = [frame[frame["fac_center"] == centres[i % len(centres)]].assign(
        fac_center=f"s{i:03d}") for i in range(n)]
    table = csv.with_name(f"replicated-{n}.csv")
    pd.concat(parts).to_csv(table, index=False)
    config = StudyConfig(data=str(table), site_column="fac_center", target="event",
                         features=FEATURES, categorical=["fac_disease"],
                         strategy=args.strategy, rounds=args.rounds, round_timeout=3600.0,
                         quality_check="warn")
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], sum(C.rss_mb(p) for p in descendants(os.getpid())))
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        result = run_simulation(config, n, timeout=7200)
    finally:
        done.set()
        sampler.join()
    return {"sites": n, "rows": len(pd.concat(parts)), "wall_seconds":
            time.perf_counter() - started,
            "round_seconds": [float(h["seconds"]) for h in result["history"]],
            "peak_rss_mb": peak[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sites", type=int, nargs="*", default=[4, 8, 16, 32],
                        help="SuperNodes on loopback (none: only --simulate)")
    parser.add_argument("--simulate", type=int, nargs="*", default=[],
                        help="simulated sites on Flower's simulation engine")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--strategy", default="newton", choices=["newton", "fedavg"])
    parser.add_argument("--superlink-state", choices=["file", "memory"], default="file",
                        help="the SuperLink's state: fedcare's SQLite file (default; with 16 "
                             "SuperNodes on 2 cores its writes hit 'database is locked') or "
                             "Flower's in-memory store")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    C.flower_env()
    results: list[dict[str, Any]] = []
    simulations: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "dialysis.csv"
        centres = registry(csv)
        for n in args.sites:
            if n > len(centres):
                raise SystemExit(f"--sites {n}: the registry has {len(centres)} centres")
            r = one(n, csv, centres, args)
            results.append(r)
            print(f"{n} sites: wall {r['wall_seconds']:.1f} s, "
                  f"{statistics.median(r['round_seconds']):.1f} s/round, "
                  f"{r['message_rounds']} message rounds", flush=True)
            if args.json:  # after each size: a long run keeps what it measured
                C.write_json(args.json, {"rounds": args.rounds, "strategy": args.strategy,
                                         "runs": results, "simulations": simulations})
        for n in args.simulate:
            r = simulated(n, csv, centres, args)
            simulations.append(r)
            print(f"{n} simulated sites: wall {r['wall_seconds']:.1f} s, "
                  f"{statistics.median(r['round_seconds']):.1f} s/round", flush=True)
            if args.json:
                C.write_json(args.json, {"rounds": args.rounds, "strategy": args.strategy,
                                         "runs": results, "simulations": simulations})
    rows = [[str(r["sites"]), str(r["patients"]), f"{r['wall_seconds']:.1f}",
             f"{statistics.median(r['round_seconds']):.1f}", str(r["message_rounds"]),
             f"{r['wall_seconds'] / r['message_rounds']:.1f}",
             f"{r['coordinator_peak_rss_mb']:.0f}", f"{r['site_idle_rss_mb']:.0f}",
             f"{r['site_peak_rss_mb']:.0f}", f"{r['all_sites_peak_rss_mb'] / 1024:.1f}"]
            for r in results]
    print(f"\n{args.strategy}, {args.rounds} rounds, Dialysis registry (largest centres), "
          "loopback, TLS + node authentication, 2 cores\n")
    if rows:
        print(C.table(["sites", "patients", "study wall s", "s / training round (median)",
                       "message rounds", "s / message round", "coordinator peak RSS MB",
                       "site idle RSS MB (median)", "site peak RSS MB (median)",
                       "all sites' peak RSS GB"], rows))
    if simulations:
        print("\nFlower's simulation engine (Ray, 2 workers), replicated centres\n")
        print(C.table(["simulated sites", "rows", "study wall s",
                       "s / training round (median)", "peak RSS of everything started GB"],
                      [[str(r["sites"]), str(r["rows"]), f"{r['wall_seconds']:.1f}",
                        f"{statistics.median(r['round_seconds']):.1f}",
                        f"{r['peak_rss_mb'] / 1024:.1f}"] for r in simulations]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
