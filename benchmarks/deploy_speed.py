"""A bare Flower app beside fedcare's, on one loopback deployment (TLS + node authentication).

Setup: one ``flower-superlink`` and four ``flower-supernode`` processes (the UCI heart-disease
hospitals), started with ``fedcare.federation.engines.deploy`` exactly as ``fedcare
coordinator start`` / ``fedcare site start`` do.  On these same processes, in this order:

1. **bare Flower**: a plain ``ServerApp`` that sends an array of ``--size`` floats (14: the
   Newton model of the heart study) to every site ``--rounds`` times and averages the
   replies; the plain ``ClientApp`` adds 1.  No fedcare import anywhere in its processes.
   Run twice: with ``grid.send_and_receive`` (Flower's 3-s pulls), then pulling every
   ``--pull-interval`` seconds.
2. **fedcare**: the heart study, ``--rounds`` Newton (or ``--strategy fedavg``) rounds,
   submitted like ``fedcare study submit`` (schema, standardisation, rounds, final evaluations).

Per message round: wall seconds from the ServerApp's send to the last reply.  Bare: timed
in its ServerApp.  fedcare: the study's wall time divided by the number of message rounds
it took, counted in a site's audit log (``audit_dir``: every message a site received),
so that trees which send a different number of messages per training round (before and
after evaluating inside ``train``) compare fairly; also seconds per training round (the
training phase's seconds / rounds) and the message types a site received.  Also the
time to the first round (submit to the first reply), the study's wall time, and each site
process's resident memory (the SuperNode with what it started, read from ``/proc``).

With ``--src OTHER/src`` the Flower processes import fedcare from that source tree (e.g. a
``git worktree`` of an older commit) while this script drives them: a before/after in the
same session (the bare app is run again for that deployment, as its baseline).
``study submit``'s own polling is this checkout's in both.

Flower 1.41 polls every 3 s on both sides and starts a new ClientApp process for every
message.  fedcare's coordinator pulls replies itself through the grid's public
``push_messages`` / ``pull_messages`` every ``pull-interval`` seconds (0.2 by default), so the
bare app is also run a second time pulling as often (``--pull-interval``): the first bare run
is what a plain Flower app gets, the second the floor for any app on this machine while
the SuperNode still waits 3 s between its own pulls.

With ``--tol 1e-6`` the study is also submitted with Newton's ``tol`` on this checkout's
deployment: it stops after the round whose step moved no coefficient by 1e-6 or more.

Run:  python benchmarks/deploy_speed.py [--rounds 10] [--size 14] [--strategy newton]
                                        [--src OTHER/src] [--tol 1e-6] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

SITES = ["cleveland", "hungary", "switzerland", "va"]

BARE_APP = '''"""A bare Flower app: the same message sizes as a Newton round, no fedcare."""
import json
import time
from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

client_app = ClientApp()


@client_app.train()
def train(msg: Message, context: Context) -> Message:
    x = msg.content["arrays"].to_numpy_ndarrays()[0]
    return Message(content=RecordDict({"arrays": ArrayRecord([x + 1.0])}), reply_to=msg)


server_app = ServerApp()


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    rounds, n, size = int(cfg["rounds"]), int(cfg["num-sites"]), int(cfg["size"])
    pull_interval = float(cfg["pull-interval"])
    started = time.time()
    while len(list(grid.get_node_ids())) < n:
        time.sleep(0.2)
    x = np.zeros(size)
    seconds, first = [], None
    for _ in range(rounds):
        t0 = time.time()
        messages = [Message(content=RecordDict({"arrays": ArrayRecord([x])}),
                            dst_node_id=node, message_type="train")
                    for node in grid.get_node_ids()]
        if pull_interval > 0:  # its own loop over the grid's public push/pull calls
            pending = set(grid.push_messages(messages))
            replies = []
            deadline = time.time() + 600
            while pending:
                got = list(grid.pull_messages(pending))
                replies += got
                pending -= {r.metadata.reply_to_message_id for r in got}
                if pending and time.time() > deadline:
                    raise RuntimeError(f"{len(pending)} sites silent for 600 s")
                if pending:
                    time.sleep(pull_interval)
        else:  # Flower's own: pulls every 3 s
            replies = list(grid.send_and_receive(messages))
        seconds.append(time.time() - t0)
        if first is None:
            first = time.time() - started
        x = np.mean([r.content["arrays"].to_numpy_ndarrays()[0] for r in replies], axis=0)
    out = Path(str(cfg["output-dir"]))
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(
        {"seconds": seconds, "first_round": first, "replies": len(replies),
         "x0": float(x[0])}))
'''


def write_bare_app(directory: Path) -> Path:
    import tomli_w

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bare_app.py").write_text(BARE_APP)
    project = {
        "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
        "project": {"name": "bare-flower", "version": "1.0.0", "license": "Apache-2.0",
                    "dependencies": ["flwr"]},
        "tool": {"hatch": {"build": {"targets": {"wheel": {"packages": ["."]}}}},
                 "flwr": {"app": {"publisher": "bench",
                                  "components": {"serverapp": "bare_app:server_app",
                                                 "clientapp": "bare_app:client_app"},
                                  "config": {"rounds": 10, "num-sites": 4, "size": 14,
                                             "pull-interval": 0.0, "output-dir": ""}}}},
    }
    (directory / "pyproject.toml").write_text(tomli_w.dumps(project))
    return directory


def run_bare(coordinator: Path, rounds: int, size: int, work: Path,
             pull_interval: float = 0.0) -> dict[str, Any]:
    """Submit the bare app with ``flwr run`` and wait for its result (``pull_interval``
    > 0: its ServerApp pulls replies itself every so many seconds, as fedcare's does)."""
    from fedcare.federation.engines.deploy.layout import (
        CONNECTION,
        coordinator_settings,
        flwr_cli,
        write_toml,
    )

    root, settings = coordinator_settings(coordinator)
    app = write_bare_app(work / "bare-app")
    out = work / f"bare-out-{pull_interval}"
    overrides = work / f"bare-{pull_interval}.toml"
    write_toml(overrides, {"rounds": rounds, "num-sites": len(SITES), "size": size,
                           "pull-interval": pull_interval, "output-dir": str(out)})
    started = time.perf_counter()
    run_id = str(flwr_cli(root, settings, ["run", str(app), CONNECTION, "--run-config",
                                           str(overrides)], timeout=300)["run-id"])
    while True:
        status = str(flwr_cli(root, settings, ["ls", CONNECTION, "--run-id", run_id])
                     ["runs"][0]["status"])
        if status.startswith("finished"):
            break
        time.sleep(1.0)
    wall = time.perf_counter() - started
    if status != "finished:completed":
        raise SystemExit(f"the bare Flower run ended {status}")
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    result["wall_seconds"] = wall
    return result



def deployment(args: argparse.Namespace, label: str) -> dict[str, Any]:
    """The bare app, then the fedcare study, on one fresh loopback federation."""
    root = Path(tempfile.mkdtemp(prefix="fcs-", dir="/tmp"))
    out: dict[str, Any] = {"label": label}
    try:
        with C.loopback_federation(root, SITES) as procs:
            sites = procs[1:]
            out["idle_site_rss_mb"] = [C.rss_mb(p.pid) for p in sites]
            bare = run_bare(root / "coord", args.rounds, args.size, root)
            out["bare"] = bare
            print(f"[{label}] bare Flower: {args.rounds} rounds, median "
                  f"{statistics.median(bare['seconds']):.2f} s/round, first round after "
                  f"{bare['first_round']:.1f} s, wall {bare['wall_seconds']:.1f} s")
            fast = run_bare(root / "coord", args.rounds, args.size, root,
                            pull_interval=args.pull_interval)
            out["bare_fast_pull"] = fast
            print(f"[{label}] bare Flower pulling every {args.pull_interval} s: median "
                  f"{statistics.median(fast['seconds']):.2f} s/round, wall "
                  f"{fast['wall_seconds']:.1f} s")
            out["fedcare"] = run_fedcare(args, root, sites, label, 0.0)
            if args.tol and not args.src_deployment:
                out["fedcare_tol"] = run_fedcare(args, root, sites, label, args.tol)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def run_fedcare(args: argparse.Namespace, root: Path, sites: list[Any], label: str,
                tol: float) -> dict[str, Any]:
    """The heart study submitted to the running deployment, timed (``tol``: Newton stops
    once its coefficients settle; 0: every round)."""
    from fedcare.federation.engines.deploy import submit
    from fedcare.study import StudyConfig

    audit = root / f"audit-{tol:g}"
    config = StudyConfig(data="builtin:heart-disease", data_dir=str(C.HEART_DIR),
                         audit_dir=str(audit),
                         **{**C.flamby_protocol(), "strategy": args.strategy,
                            "rounds": args.rounds, **({"tol": tol} if tol else {})})
    peak = [0.0] * len(SITES)
    started = time.perf_counter()
    result = submit(config, root / "coord", n_sites=len(SITES), timeout=1800,
                    on_progress=lambda _line: _sample(sites, peak))
    wall = time.perf_counter() - started
    per_round = [float(h["seconds"]) for h in result["history"]]
    received = [json.loads(line) for line in
                (audit / f"site-{SITES[0]}.jsonl").read_text().splitlines()]
    types = [r["message_type"] for r in received if r.get("direction") == "received"]
    fed = {"wall_seconds": wall, "seconds": per_round, "tol": tol,
           "rounds_run": len(per_round), "train_seconds": float(result["train_seconds"]),
           "message_rounds": len(types),
           "message_types": dict(sorted({t: types.count(t) for t in set(types)}.items())),
           "site_peak_rss_mb_sampled": peak}
    print(f"[{label}] fedcare {args.strategy}{f' tol {tol:g}' if tol else ''}: "
          f"{len(per_round)} of {args.rounds} rounds, {len(types)} message rounds "
          f"{fed['message_types']}, study wall {wall:.1f} s")
    return fed


def _sample(procs: list[Any], peak: list[float]) -> None:
    for i, proc in enumerate(procs):
        peak[i] = max(peak[i], C.rss_mb(proc.pid))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--size", type=int, default=14, help="floats per message")
    parser.add_argument("--strategy", default="newton", choices=["newton", "fedavg"],
                        help="the fedcare study's strategy")
    parser.add_argument("--src", help="a second deployment whose Flower processes import "
                                      "fedcare from this source tree")
    parser.add_argument("--pull-interval", type=float, default=0.2,
                        help="the second bare run's ServerApp pulls replies this often, "
                             "as fedcare's coordinator does (run config pull-interval)")
    parser.add_argument("--tol", type=float, default=0.0,
                        help="also submit the study with this Newton tol (this checkout's "
                             "deployment only): it stops once the coefficients settle")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    C.flower_env()
    args.src_deployment = False
    results = [deployment(args, "this checkout")]
    if args.src:
        os.environ["PYTHONPATH"] = str(Path(args.src).resolve())  # the child processes only
        args.src_deployment = True
        try:
            results.append(deployment(args, f"--src {args.src}"))
        finally:
            os.environ.pop("PYTHONPATH", None)
    rows = []
    runs = [(r["label"], r, r["fedcare"]) for r in results] + [
        (f"{r['label']}, tol {args.tol:g}", r, r["fedcare_tol"])
        for r in results if "fedcare_tol" in r]
    for label, r, fed in runs:
        bare = r["bare"]["seconds"]
        fast = r["bare_fast_pull"]["seconds"]
        per_message = fed["wall_seconds"] / fed["message_rounds"]
        # a steady training round: one message round (round 1 holds two, the last the
        # final evaluate)
        steady = statistics.median(fed["seconds"][1:-1] or fed["seconds"])
        rows.append([label, f"{statistics.median(bare):.2f} / {max(bare):.2f}",
                     f"{statistics.median(fast):.2f} / {max(fast):.2f}",
                     f"{fed['train_seconds'] / len(fed['seconds']):.2f}",
                     f"{steady:.2f} ({steady / statistics.median(bare):.2f})",
                     f"{fed['message_rounds']} ({len(fed['seconds'])} training)",
                     f"{per_message:.2f}",
                     f"{per_message / statistics.median(bare):.2f}",
                     f"{per_message / statistics.median(fast):.2f}",
                     f"{r['bare']['first_round']:.1f}", f"{r['bare']['wall_seconds']:.1f}",
                     f"{fed['wall_seconds']:.1f}",
                     f"{statistics.median(r['idle_site_rss_mb']):.0f}",
                     f"{max(fed['site_peak_rss_mb_sampled']):.0f}"])
    print(f"\n{args.rounds} rounds, 4 sites, TLS + node authentication, loopback\n")
    print(C.table(["fedcare in the site processes", "bare Flower s/message round (median / max)",
                   f"bare Flower pulling every {args.pull_interval} s (median / max)",
                   f"fedcare {args.strategy} s/training round",
                   "median training round 2..N-1 s (÷ bare median)", "fedcare message rounds",
                   "fedcare s/message round (study wall / message rounds)",
                   "ratio per message round (to bare)",
                   "ratio to bare pulling as often", "bare first round s", "bare wall s",
                   "fedcare study wall s", "idle site RSS MB", "site peak RSS MB (sampled)"],
                  rows))
    if args.json:
        C.write_json(args.json, {"rounds": args.rounds, "size": args.size, "runs": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
