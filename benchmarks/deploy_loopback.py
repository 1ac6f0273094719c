"""Wall time of a real Flower deployment on loopback: Newton against FedAvg.

Setup: one ``flower-superlink`` (TLS, SuperNode authentication) and four
``flower-supernode`` processes (the UCI heart-disease hospitals, each enrolled by its
public key, each reading its own rows), started with ``fedcare.federation.engines.deploy``; the
study is submitted with ``flwr run`` and polled with ``flwr ls``.  The same processes
serve both runs.

For each strategy: wall seconds per training round (train + evaluate round-trips, from
the ServerApp's history), total wall time of ``submit`` (incl. schema agreement,
federated standardisation and the three final evaluation round-trips), and the first
round whose global model is within 0.005 of the pooled model (all rows in one place) in
pooled-test accuracy and in AUC -- and the first round from which it stays within.
Per-round pooled-test figures are computed here from the arrays each round produced
(the same evaluation as ``fedcare.study.run_study``).

Flower 1.41 polls every 3 s on both sides and starts one ClientApp process per message,
so a message round-trip costs ~12 s on a 2-core machine whatever the model size.  To
keep the whole benchmark under 5 minutes the defaults are 3 Newton and 3 FedAvg rounds;
``--project-rounds`` adds a projection for FedAvg from an in-process run of that many
rounds (bit-identical arithmetic) times the measured deployed seconds per round.

Run:  .venv/bin/python benchmarks/deploy_loopback.py [--newton-rounds 3 --fedavg-rounds 3
      --project-rounds 20 --json OUT]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import _common as C

TOL = 0.005
SITES = ["cleveland", "hungary", "switzerland", "va"]


def pooled_curve(config: Any, result: dict[str, Any]) -> list[dict[str, float]]:
    """Pooled-test accuracy and AUC of each round's global model (as run_study does)."""
    from fedcare.data._standardise import Standardiser
    from fedcare.evaluation import binary_metrics
    from fedcare.study._study import _predict, _splits

    included = sorted(result["per_site"]["federated"])
    splits = _splits(config, result["schema"], included)
    std = Standardiser(np.asarray(result["standardiser"]["mean"]),
                       np.asarray(result["standardiser"]["scale"]))
    X = np.concatenate([std.transform(splits[s].X_test) for s in included])
    y = np.concatenate([splits[s].y_test for s in included])
    out = []
    for entry in result["history"]:
        m = binary_metrics(y, _predict(config, [np.asarray(a) for a in entry["arrays"]], X))
        out.append({"round": entry["round"], "accuracy": float(m["accuracy"]),
                    "auc": float(m["auc"]), "seconds": float(entry["seconds"])})
    return out


def to_target(curve: list[dict[str, float]], pooled: dict[str, float]) -> dict[str, Any]:
    """First round within TOL of pooled (accuracy and AUC), and first round it stays so."""
    ok = [abs(c["accuracy"] - pooled["accuracy"]) <= TOL and abs(c["auc"] - pooled["auc"]) <= TOL
          for c in curve]
    first = next((i for i, good in enumerate(ok) if good), None)
    stays = next((i for i in range(len(ok)) if all(ok[i:])), None)

    def at(i: int | None) -> dict[str, Any] | None:
        if i is None:
            return None
        return {"round": int(curve[i]["round"]),
                "training_seconds": sum(c["seconds"] for c in curve[: i + 1])}

    return {"first_within": at(first), "stays_within": at(stays)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    C.flower_env()
    from fedcare.config import StudyConfig
    from fedcare.federation import run_inprocess
    from fedcare.federation.engines.deploy import submit
    from fedcare.study import run_study

    base = StudyConfig(data="builtin:heart-disease", data_dir=str(C.HEART_DIR),
                       **C.flamby_protocol())
    with C.quiet_flower():
        pooled = run_study(base.replace(rounds=1)).to_dict()["results"]["pooled"]["pooled_test"]
    print(f"pooled model, pooled test: accuracy {pooled['accuracy']:.4f} AUC {pooled['auc']:.4f}")

    root = Path(tempfile.mkdtemp(prefix="fcb-", dir="/tmp"))
    out: dict[str, Any] = {"pooled_test": pooled, "tolerance": TOL, "runs": {}}
    t0 = time.perf_counter()
    try:
        with C.loopback_federation(root, SITES):
            out["setup_seconds"] = time.perf_counter() - t0
            print(f"coordinator + {len(SITES)} sites up in {out['setup_seconds']:.1f} s")
            for strategy, rounds in (("newton", args.newton_rounds),
                                     ("fedavg", args.fedavg_rounds)):
                config = base.replace(strategy=strategy, rounds=rounds)
                started = time.perf_counter()
                result = submit(config, root / "coord", n_sites=len(SITES), timeout=900,
                                on_progress=lambda line: print("  " + line) if args.verbose
                                else None)
                wall = time.perf_counter() - started
                curve = pooled_curve(config, result)
                per_round = [c["seconds"] for c in curve]
                entry = {"rounds": rounds, "wall_seconds": wall,
                         "seconds_per_round": per_round,
                         "mean_seconds_per_round": statistics.fmean(per_round),
                         "overhead_seconds": wall - sum(per_round), "curve": curve,
                         **to_target(curve, pooled)}
                if strategy == "fedavg" and args.project_rounds > rounds:
                    with C.quiet_flower():
                        ref, _ = run_inprocess(config.replace(rounds=args.project_rounds), SITES)
                    projected = to_target(pooled_curve(config, ref), pooled)
                    for value in projected.values():
                        if value is not None:
                            value["training_seconds"] = (value["round"]
                                                         * entry["mean_seconds_per_round"])
                    entry["projected"] = {"rounds": args.project_rounds, **projected}
                out["runs"][strategy] = entry
                print(f"{strategy}: {rounds} rounds, {wall:.1f} s wall "
                      f"({entry['mean_seconds_per_round']:.1f} s/round: "
                      f"{', '.join(f'{s:.1f}' for s in per_round)}; "
                      f"{entry['overhead_seconds']:.1f} s outside training)")
                for c in curve:
                    print(f"  round {c['round']}: accuracy {c['accuracy']:.4f} AUC {c['auc']:.4f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out["total_seconds"] = time.perf_counter() - t0

    def fmt(t: dict[str, Any] | None) -> str:
        return "never" if t is None else f"round {t['round']} ({t['training_seconds']:.0f} s)"

    rows = []
    for strategy, r in out["runs"].items():
        rows.append([strategy, str(r["rounds"]), C.fmt(r["mean_seconds_per_round"], 1),
                     C.fmt(r["wall_seconds"], 1), fmt(r["first_within"]),
                     fmt(r["stays_within"])])
        if "projected" in r:
            p = r["projected"]
            rows.append([f"{strategy} (projected)", str(p["rounds"]), "", "",
                         fmt(p["first_within"]), fmt(p["stays_within"])])
    print()
    print(C.table(["strategy", "rounds", "s/round", "wall s", f"first within {TOL}",
                   f"stays within {TOL}"], rows))
    print(f"total {out['total_seconds']:.1f} s (setup {out['setup_seconds']:.1f} s)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--newton-rounds", type=int, default=3)
    parser.add_argument("--fedavg-rounds", type=int, default=3)
    parser.add_argument("--project-rounds", type=int, default=20,
                        help="FedAvg rounds for the in-process projection (0: none)")
    parser.add_argument("--verbose", action="store_true", help="print every poll")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    out = run(args)
    if args.json:
        C.write_json(args.json, out)


if __name__ == "__main__":
    main()
