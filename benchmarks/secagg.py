"""Round time and exactness of SecAgg+ studies against plain ones.

Engine: fedcare's in-process Grid (``fedcare.federation.InProcessGrid``), 4 UCI
heart-disease hospitals, all runs in one process, interleaved, ``--repeats`` times.

secagg  ``run_secure`` on ``secagg_client_app``: every sum over sites (standardisation
        moments, Newton gradient/Hessian sums, FedAvg's example-weighted arrays) through
        Flower 1.41's SecAgg+ (``SecAggPlusWorkflow`` + ``secaggplus_mod``: key agreement,
        Shamir shares, masked vectors, unmasking: 4 message exchanges a round).
clear   the same legacy code on ``legacy_client_app``: one exchange a round, sites reply
        in the clear.  secagg/clear is the protocol's own overhead.
plain   fedcare's ordinary study (``run_inprocess``); its per-round time also includes
        evaluating the global model at every site after each round, which the two
        legacy runs skip, so secagg/plain understates the cost of SecAgg+ itself.

Per-round seconds: ``secagg``/``clear`` from the strategy's configure_fit to the end of
aggregate_fit; ``plain`` between successive calls of its ``evaluate_fn``.  Medians over
all rounds of all repeats.  "max |dw|" is the largest absolute difference between the
final SecAgg+ model and the plain one; "bound" is the stated per-element bound on the
secure sums (k c / T**limbs, before float rounding).

Run:  .venv/bin/python benchmarks/secagg.py [--rounds 6 --repeats 5 --json OUT]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np

import _common as C

SITES = ["cleveland", "hungary", "switzerland", "va"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--strategies", nargs="+", default=["newton", "fedavg"])
    parser.add_argument("--json", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    C.flower_env()

    from fedcare.federation import run_inprocess
    from fedcare.study import StudyConfig

    def secure_run(config: StudyConfig, secure: bool) -> dict[str, Any]:
        # one study flow: "clear" is the same run with its sums in the clear (= plain)
        out, _ = run_inprocess(config.replace(secure_aggregation=secure), SITES)
        return out

    report: dict[str, Any] = {"rounds": args.rounds, "repeats": args.repeats,
                              "sites": SITES, "strategies": {}}
    rows = []
    for strategy in args.strategies:
        config = StudyConfig(**C.flamby_protocol(), data="builtin:heart-disease",
                             data_dir=str(C.HEART_DIR),
                             strategy=strategy, rounds=args.rounds)
        seconds: dict[str, list[float]] = {"plain": [], "clear": [], "secagg": []}
        moments: dict[str, list[float]] = {"clear": [], "secagg": []}
        diffs, std_diffs = [], []
        with C.quiet_flower():
            secure_run(config, True)  # warm caches (site loading) before timing
            run_inprocess(config, SITES)
            for _ in range(args.repeats):
                plain, _ = run_inprocess(config, SITES)
                seconds["plain"] += [h["seconds"] for h in plain["history"]]
                for name, secure in (("clear", False), ("secagg", True)):
                    out = secure_run(config, secure)
                    seconds[name] += [h["seconds"] for h in out["history"]]
                    moments[name].append(float("nan"))
                    if secure:
                        bound = {"train": out["secure"]["error_bound"]["train"]}
                        diffs.append(max(float(np.max(np.abs(np.subtract(a, b))))
                                         for a, b in zip(out["arrays"], plain["arrays"],
                                                         strict=True)))
                        std_diffs.append(max(float(np.max(np.abs(np.subtract(
                            out["standardiser"][k], plain["standardiser"][k]))))
                            for k in ("mean", "scale")))
        med = {k: statistics.median(v) for k, v in seconds.items()}
        med_moments = {k: float("nan") for k in moments}  # not timed separately now
        figures = {
            "round_seconds_median": med,
            "standardisation_round_seconds_median": med_moments,
            "ratio_secagg_to_clear": med["secagg"] / med["clear"],
            "ratio_secagg_to_plain": med["secagg"] / med["plain"],
            "max_abs_weight_diff": max(diffs),
            "max_abs_standardiser_diff": max(std_diffs),
            "error_bound": bound,
        }
        report["strategies"][strategy] = figures
        rows.append([strategy, C.fmt(med["plain"], 4), C.fmt(med["clear"], 4),
                     C.fmt(med["secagg"], 4), C.fmt(figures["ratio_secagg_to_clear"], 1),
                     C.fmt(figures["ratio_secagg_to_plain"], 1),
                     C.fmt(med_moments["secagg"], 4), f"{max(diffs):.1e}",
                     f"{max(std_diffs):.1e}", f"{bound['train']:.1e}"])
    header = ["strategy", "plain s/rnd", "clear s/rnd", "secagg s/rnd", "x clear", "x plain",
              "secagg std s", "max |dw|", "max |d std|", "bound"]
    print(f"SecAgg+ on the in-process grid: 4 sites, {args.rounds} rounds, "
          f"{args.repeats} interleaved repeats, medians")
    print(C.table(header, rows))
    if args.json:
        C.write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
