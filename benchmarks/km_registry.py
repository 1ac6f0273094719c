"""Small-cell protected Kaplan-Meier on a real multi-centre registry: before and after.

Data: the Brazilian dialysis registry (SurvSet ``Dialysis``: 6805 patients at 67
centres in ``fac_center``, ``time`` in months, max 44; ``event`` = death), one site per
centre, grid step 1 month (61 public grid points, 0..60), k = 5, embedded in-process
federation (fedcare's ServerApp and one ClientApp per centre).

Modes:

per-site (before)
    no secure aggregation: each centre merges grid intervals on its own counts; the
    curves use the points *every* centre released (centres with < k rows excluded).
    Before this change it was the only protected mode (the coordinator refused
    ``secure_aggregation`` for km), and with ``--group`` it crashed (IndexError in
    ``combine_km`` when a centre released no grid point); the row is today's code.
secure totals (after)
    ``secure_aggregation = true``: centres' un-merged counts are summed with SecAgg+; the
    coordinator applies the small-cell rule to the totals.
exact
    the exact KM (lifelines on the pooled table), the reference.

"Grid points released": per group with ``--group`` (secure totals release each group on
its own). "Follow-up reached" is the last released grid time with anyone at risk, as a
share of the longest follow-up in the table ("withheld": nothing beyond t = 0 released).
"max |S - S_exact|" compares the released curve with the exact KM at the released grid
points: 0 where no interval was merged (times are whole months), not 0 at the end of a
merged interval (censorings inside it count as at risk for the whole interval). The
median is not reached in this registry (S stays above 0.58), so the 25 % survival-time
quantile (first t with S(t) <= 0.75) is also compared. With ``--group fac_disease`` the
same is done per primary disease.

Run:  .venv/bin/python benchmarks/km_registry.py [--group fac_disease] [--json OUT]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import _common as C

C.flower_env()

STEP, K = 1.0, 5


def _exact(df: Any, group: str | None) -> dict[str, dict[str, Any]]:
    from lifelines import KaplanMeierFitter

    out: dict[str, dict[str, Any]] = {}
    parts = [("all", df)] if group is None else [
        (str(lvl), df[df[group] == lvl]) for lvl in sorted(df[group].unique())]
    for name, part in parts:
        fit = KaplanMeierFitter().fit(part.time, part.event)
        sf = fit.survival_function_.iloc[:, 0]

        def q(p: float, sf: Any = sf) -> float | None:
            below = sf[sf <= 1 - p + 1e-12]
            return float(below.index[0]) if len(below) else None

        out[name] = {"median": q(0.5), "q25": q(0.25), "sf": sf,
                     "reached": float(part.time.max())}
    return out


def _fed(path: Path, secure: bool, group: str | None) -> tuple[dict[str, Any], float]:
    from fedcare.config import StudyConfig
    from fedcare.study import run_analytics

    config = StudyConfig(data=str(path), site_column="fac_center", min_cell=K,
                         secure_aggregation=secure)
    started = time.perf_counter()
    with C.quiet_flower():
        result = run_analytics(config, {"analysis": "km", "duration": "time",
                                        "event": "event", "group": group,
                                        "grid_step": STEP})
    return result, time.perf_counter() - started


def _quantile(grid: np.ndarray, surv: np.ndarray, p: float) -> float | None:
    below = np.flatnonzero(surv <= 1 - p + 1e-12)
    return float(grid[below[0]]) if below.size else None


def _show(value: float | None, withheld: bool = False) -> str:
    if withheld:        # nothing beyond t = 0 released: not "not reached", unknown
        return "withheld"
    return "not reached" if value is None else f"{value:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--group", default=None, help="also per level of this column")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from SurvSet.data import SurvLoader

    df = SurvLoader().load_dataset("Dialysis")["df"]
    max_t = float(df.time.max())
    exact = _exact(df, args.group)
    rows: list[list[str]] = []
    tests: list[str] = []
    record: dict[str, Any] = {"patients": len(df), "centres": int(df.fac_center.nunique()),
                              "max_follow_up": max_t, "grid_step": STEP, "min_cell": K,
                              "group": args.group, "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dialysis.csv"
        df.to_csv(path, index=False)
        for label, secure in (("per-site merging (before)", False),
                              ("secure totals (after)", True)):
            try:
                result, seconds = _fed(path, secure, args.group)
            except Exception as exc:    # the grouped per-site run crashed before the fix
                rows.append([label, f"error: {type(exc).__name__}", "", "", "", "", "", ""])
                continue
            km = result["km"]
            grid = np.asarray(km["grid"], dtype=np.float64)
            if "logrank" in km:
                tests.append(f"{label}: log-rank chi2 = {km['logrank']['statistic']:.2f}, "
                             f"df = {km['logrank']['df']}, p = {km['logrank']['p_value']:.2g}"
                             f" (up to t = {km['logrank'].get('up_to')})")
            for name, g in km["groups"].items():
                # a group's own released points (groups may be released on their own)
                surv = np.array([np.nan if v is None else v for v in g["survival"]])
                own = ~np.isnan(surv)
                ref = exact[name]
                reached = g["reached"]
                want = ref["sf"].reindex(grid, method="ffill").fillna(1.0).to_numpy()
                diff = float(np.abs(surv - want)[own].max()) if own.any() else math.nan
                q25 = _quantile(grid[own], surv[own], 0.25)
                gone = reached is None
                released = g.get("released", km["released"])
                rows.append([
                    label if args.group is None else f"{label} {args.group}={name}",
                    f"{released} / {km['n_grid']}",
                    "withheld (t = 0 only)" if gone else
                    f"{reached:g} ({100 * reached / max_t:.0f} %)",
                    f"{_show(g['median'], gone)} vs {_show(ref['median'])}",
                    f"{_show(q25, gone)} vs {_show(ref['q25'])}",
                    "–" if gone else f"{diff:.2g}", f"{len(result['sites'])}",
                    f"{seconds:.1f}"])
                record["modes"].setdefault(label, {})[name] = {
                    "released": released, "n_grid": km["n_grid"], "reached": reached,
                    "median": g["median"], "exact_median": ref["median"], "q25": q25,
                    "exact_q25": ref["q25"], "max_abs_survival_diff": diff,
                    "sites": len(result["sites"]), "seconds": seconds}
    if args.group is not None:
        from lifelines.statistics import multivariate_logrank_test

        lr = multivariate_logrank_test(df.time, df[args.group], df.event)
        tests.append(f"exact (lifelines): log-rank chi2 = {lr.test_statistic:.2f}, "
                     f"p = {lr.p_value:.2g}")
    for name, ref in exact.items():
        rows.append([f"exact (lifelines){'' if args.group is None else ' ' + name}",
                     "every event time", f"{ref['reached']:g} (100 %)",
                     f"{_show(ref['median'])}", f"{_show(ref['q25'])}", "0", "pooled", ""])
    print(f"Dialysis registry: {len(df)} patients, {df.fac_center.nunique()} centres, "
          f"max follow-up {max_t:g} months; grid step {STEP:g}, k = {K}")
    print(C.table(["mode", "grid points released", "follow-up reached (months, % of max)",
                   "median vs exact", "25 % quantile vs exact", "max |S - S_exact|",
                   "sites", "seconds"], rows))
    for line in tests:
        print(line)
    if args.json is not None:
        C.write_json(args.json, record)


if __name__ == "__main__":
    main()
