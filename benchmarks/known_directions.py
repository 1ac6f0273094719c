"""How often the known-directions check cries wolf, and how often it catches a flip.

On ``--tables`` SYNTHETIC three-site tables (150 rows per site; outcome ``chd_10y``) where
only age acts on the outcome (log-odds 0.06 per year) and five recognised factors —
``sysbp``, ``totchol``, ``hdl``, ``current_smoker``, ``diabetes`` — have no effect at all,
a Newton study (8 rounds, embedded) is run per table and its ``known_directions`` read:

- **null factors flagged**: a factor with no true effect shown as "against known
  medicine" (a false alarm; with Wald intervals about 2.5 % each is expected by chance);
- **listed as within chance**: the same factors pointing the other way with an interval
  that includes no effect (shown, not flagged);
- **flip caught**: the same tables with ``current_smoker`` acting strongly (log-odds +0.9)
  but exported inverted (1 = non-smoker) at every site: how often the check flags it.

Run:  python benchmarks/known_directions.py [--tables 20] [--json OUT]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import _common as C

C.flower_env()

NULL = ("sysbp", "totchol", "hdl", "current_smoker", "diabetes")


def _table(path: Path, seed: int, smoking_flipped: bool) -> Path:
    import pandas as pd

    rng = np.random.default_rng(seed)
    parts = []
    for site in ("a", "b", "c"):
        n = 150
        age = rng.normal(60, 10, n)
        smoker = (rng.random(n) < 0.3).astype(int)
        frame = pd.DataFrame({
            "site": site, "age": age.round(1), "sysbp": rng.normal(135, 18, n).round(0),
            "totchol": rng.normal(210, 40, n).round(0), "hdl": rng.normal(50, 12, n).round(0),
            "current_smoker": 1 - smoker if smoking_flipped else smoker,
            "diabetes": (rng.random(n) < 0.12).astype(int)})
        logit = -1.0 + 0.06 * (age - 60) + (0.9 * smoker if smoking_flipped else 0.0)
        frame["chd_10y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        parts.append(frame)
    out = path / f"synthetic_{seed}_{int(smoking_flipped)}.csv"
    pd.concat(parts).to_csv(out, index=False)
    return out


def _directions(table: Path) -> dict[str, Any]:
    from fedcare.config import StudyConfig
    from fedcare.study import run_study

    config = StudyConfig(data=str(table), site_column="site", target="chd_10y", rounds=8)
    directions: dict[str, Any] = run_study(config, pooled=False).to_dict()["known_directions"]
    return directions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    started = time.perf_counter()
    null_flags = uncertain = caught = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.tables):
            d = _directions(_table(Path(tmp), seed, smoking_flipped=False))
            null_flags += sum(a["feature"] in NULL for a in d["against"])
            uncertain += sum(f in NULL for f in d["uncertain"])
            flipped = _directions(_table(Path(tmp), seed, smoking_flipped=True))
            caught += any(a["feature"] == "current_smoker" for a in flipped["against"])
    n_null = args.tables * len(NULL)
    rows = [["null factors flagged against medicine", f"{null_flags} of {n_null}"],
            ["null factors listed as within chance", f"{uncertain} of {n_null}"],
            ["inverted smoking flagged", f"{caught} of {args.tables}"]]
    print(f"{args.tables} SYNTHETIC 3-site tables x 2, Newton 8 rounds, "
          f"{time.perf_counter() - started:.0f} s\n")
    print(C.table(["", "count"], rows))
    if args.json:
        C.write_json(args.json, {"tables": args.tables, "null_flagged": null_flags,
                                 "null_factors": n_null, "null_uncertain": uncertain,
                                 "flip_caught": caught})


if __name__ == "__main__":
    main()
