"""A vertical study on a loopback deployment: wall time of its message rounds.

A SuperLink (TLS + node authentication) and two SuperNodes — a hospital and an insurer,
each with a SYNTHETIC table (``fedcare.vertical.examples.synthetic_parties``: 900 people,
60 % shared) — started as ``fedcare coordinator start`` / ``fedcare site start`` do; then
``fedcare vertical train`` submitted to them (``submit_vertical_study``): the encrypted
logistic model (``--epochs`` epochs) and SecureBoost (2 trees of depth 2, 8 bins), one
after the other, ``--repeat`` times each. Printed: wall seconds, message rounds (counted
in the hospital's audit log) and seconds per message round.

The vertical ServerApp runs in the Flower processes, which import fedcare from
``PYTHONPATH`` (e.g. a ``git worktree`` of an older commit's ``src``): run this script
twice, once per version, for a before/after.

Run:  PYTHONPATH=<src> python benchmarks/deploy_vertical.py [--epochs 2] [--repeat 1]
                                                            [--json OUT]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

C.flower_env()


def _messages(audit: Path) -> int:
    """Messages the hospital received (its audit log holds one line per message)."""
    path = audit / "site-hospital.jsonl"
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    import fedcare
    from fedcare.study._vertical import submit_vertical_study
    from fedcare.vertical.examples import synthetic_party_nodes

    root = Path(tempfile.mkdtemp(prefix="fcvb-", dir="/tmp"))
    configs = synthetic_party_nodes(root)
    models: dict[str, dict[str, Any]] = {
        "logistic": {"epochs": args.epochs},
        "secureboost": {"model": "secureboost",
                        "trees": {"n_trees": 2, "max_depth": 2, "max_bins": 8}}}
    out: dict[str, Any] = {"fedcare": str(Path(fedcare.__file__).parent), "runs": {}}
    try:
        started = time.perf_counter()
        with C.loopback_federation(root, list(configs), node_config=configs.__getitem__):
            print(f"coordinator + 2 parties up in {time.perf_counter() - started:.1f} s "
                  f"(fedcare from {out['fedcare']})")
            for name, settings in models.items():
                walls, rounds = [], []
                for k in range(args.repeat):
                    audit = root / f"audit-{name}-{k}"
                    t0 = time.perf_counter()
                    submit_vertical_study(root / "coord", audit_dir=str(audit), timeout=900,
                                          min_overlap=10, other_alone=False, **settings)
                    walls.append(time.perf_counter() - t0)
                    rounds.append(_messages(audit))
                out["runs"][name] = {"wall_seconds": walls, "messages": rounds}
                print(f"{name}: wall {statistics.median(walls):.1f} s, "
                      f"{rounds[0]} messages to the hospital, "
                      f"{statistics.median(walls) / max(rounds[0], 1):.2f} s per message")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        C.write_json(args.json, out)


if __name__ == "__main__":
    main()
