"""Rounds and wall time of the federated Cox fit on PBC3 (SurvSet ``Pbc3``, 349 patients,
6 hospitals in ``fac_unit``; covariates age, bilirubin, albumin, sex, treatment).

Engines:

direct
    ``fedcare.analytics.federated_cox``: the site functions called in one process, no
    Flower messages.
in-process
    fedcare's ServerApp and ClientApps on the in-process Grid
    (``run_analytics_inprocess``): every round is a ``query.*`` message per site through
    the audit, policy and small-cell mods; each site reads its own rows of the CSV.
loopback deployment (``--deploy``)
    one ``flower-superlink`` (TLS, SuperNode authentication) and six
    ``flower-supernode`` processes on loopback, each enrolled by its key and reading the
    CSV through its node config; submitted with ``flwr run`` (``submit_analytics``).
    Flower 1.41 polls every few seconds and starts one ClientApp process per message,
    so each message round costs seconds, whatever its size.

"Newton rounds" are likelihood evaluations (one message per site each); "message
rounds" add the set-up round (row counts, level names), the centring round and, for the
unstratified fit, the event-time round. Times are medians of ``--repeat`` runs (the
deployment: one run).

Run:  .venv/bin/python benchmarks/analytics_cox.py [--repeat 5] [--deploy] [--json OUT]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import _common as C

COVARIATES = ["num_age", "num_bili", "num_alb", "fac_sex", "fac_tment"]
CATEGORICAL = ["fac_sex", "fac_tment"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(stratified: bool) -> dict[str, Any]:
    return {"analysis": "cox", "duration": "time", "event": "event",
            "covariates": COVARIATES, "categorical": CATEGORICAL,
            "stratified": stratified, "exact": not stratified}


def _direct(df: Any, stratified: bool) -> tuple[dict[str, Any], float]:
    from fedcare.analytics import design_matrix, federated_cox

    started = time.perf_counter()
    sites = []
    levels = {c: [0, 1] for c in CATEGORICAL}
    for _, s in df.groupby("fac_unit"):
        x, names, keep = design_matrix(s, COVARIATES, levels)
        sites.append((x, s.time.to_numpy()[keep], s.event.to_numpy()[keep]))
    fit = federated_cox(sites, names, stratified=stratified)
    wall = time.perf_counter() - started
    return {"coef": dict(zip(names, fit.coef.tolist(), strict=True)), "rounds": fit.rounds,
            "setup_rounds": fit.setup_rounds, "message_rounds": None}, wall


def run(args: argparse.Namespace) -> dict[str, Any]:
    C.flower_env()
    import pandas as pd
    from SurvSet.data import SurvLoader

    from fedcare.config import StudyConfig
    from fedcare.federation.engines.inprocess import run_analytics_inprocess
    from fedcare.study import run_analytics

    work = Path(tempfile.mkdtemp(prefix="fca-", dir="/tmp"))
    df = SurvLoader().load_dataset("Pbc3")["df"]
    csv = work / "pbc3.csv"
    df.to_csv(csv, index=False)
    df = pd.read_csv(csv)
    sites = [str(s) for s in sorted(df.fac_unit.unique())]
    config = StudyConfig(data=str(csv), site_column="fac_unit")
    rows: list[dict[str, Any]] = []
    reference: dict[bool, dict[str, float]] = {}
    try:
        for stratified in (True, False):
            fit_kind = "stratified" if stratified else "unstratified (--exact)"
            times = []
            for _ in range(args.repeat):
                fit, wall = _direct(df, stratified)
                times.append(wall)
            reference[stratified] = fit["coef"]
            rows.append({"fit": fit_kind, "engine": "direct", **fit,
                         "wall_seconds": statistics.median(times), "max_abs_diff": 0.0})
            times = []
            with C.quiet_flower():
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    res, _ = run_analytics_inprocess(config, _request(stratified), sites)
                    times.append(time.perf_counter() - started)
            rows.append({"fit": fit_kind, "engine": "in-process Flower", **_pick(res),
                         "wall_seconds": statistics.median(times),
                         "max_abs_diff": _diff(res["coef"], reference[stratified])})
        if args.deploy:
            rows += _deploy(args, work, csv, sites, config, reference, run_analytics)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = [[r["fit"], r["engine"], str(r["rounds"]), str(r["setup_rounds"]),
              "-" if r["message_rounds"] is None else str(r["message_rounds"]),
              C.fmt(r["wall_seconds"], 3 if r["wall_seconds"] < 10 else 1),
              f"{r['max_abs_diff']:.1e}"] for r in rows]
    print(C.table(["fit", "engine", "Newton rounds", "set-up rounds", "message rounds",
                   "wall s", "max |coef diff| vs direct"], table))
    return {"rows": rows, "repeat": args.repeat}


def _pick(res: dict[str, Any]) -> dict[str, Any]:
    return {k: res[k] for k in ("coef", "rounds", "setup_rounds", "message_rounds")}


def _diff(a: dict[str, float], b: dict[str, float]) -> float:
    return float(np.max(np.abs(np.array([a[k] for k in b]) - np.array(list(b.values())))))


def _deploy(args: argparse.Namespace, work: Path, csv: Path, sites: list[str], config: Any,
            reference: dict[bool, dict[str, float]], submit_analytics: Any
            ) -> list[dict[str, Any]]:
    from fedcare.federation.engines.deploy import (
        enroll_site,
        init_coordinator,
        init_site,
        start_coordinator,
        start_site,
        stop_process,
    )

    procs = []
    out = []
    t0 = time.perf_counter()
    try:
        port = free_port()
        init_coordinator(work / "coord", port=port)
        procs.append(start_coordinator(work / "coord"))
        for name in sites:
            init_site(work / f"site{name}", name=f"hospital-{name}")
            enroll_site(work / "coord", work / f"site{name}" / "node.pub",
                        name=f"hospital-{name}")
            procs.append(start_site(work / f"site{name}",
                                    coordinator_address=f"127.0.0.1:{port}",
                                    ca_cert=work / "coord" / "ca.pem",
                                    data_node_config={"site": name, "data": str(csv)},
                                    clientappio_port=free_port()))
        print(f"coordinator + {len(sites)} sites up in {time.perf_counter() - t0:.1f} s")
        for stratified in (True, False) if args.deploy_exact else (True,):
            started = time.perf_counter()
            res = submit_analytics(config, _request(stratified), coordinator=work / "coord",
                                   n_sites=len(sites), timeout=900,
                                   on_progress=(lambda line: print("  " + line))
                                   if args.verbose else None)
            wall = time.perf_counter() - started
            out.append({"fit": "stratified" if stratified else "unstratified (--exact)",
                        "engine": "loopback deployment", **_pick(res),
                        "wall_seconds": wall, "server_seconds": res["wall_seconds"],
                        "max_abs_diff": _diff(res["coef"], reference[stratified])})
            print(f"deployed {'stratified' if stratified else 'unstratified'} fit: "
                  f"{wall:.1f} s wall ({res['wall_seconds']:.1f} s in the ServerApp, "
                  f"{res['message_rounds']} message rounds)")
    finally:
        for proc in reversed(procs):
            stop_process(proc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per embedded engine")
    parser.add_argument("--deploy", action="store_true",
                        help="also run the stratified fit on a loopback deployment")
    parser.add_argument("--deploy-exact", action="store_true",
                        help="with --deploy: the unstratified fit too")
    parser.add_argument("--verbose", action="store_true", help="print every poll")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    out = run(args)
    if args.json:
        C.write_json(args.json, out)


if __name__ == "__main__":
    main()
