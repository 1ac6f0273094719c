"""What a site's ClientApp process pays before it answers a message: imports, side by side.

Flower 1.41 starts a new ``flwr-clientapp`` process for every message a SuperNode receives
(also with ``--isolation process``), and that process imports the app named in the study's
``pyproject.toml``.  This script times, each in a fresh interpreter (median of
``--repeat`` runs, run interleaved so that a busy machine is seen by all):

- ``flwr``: ``import flwr.clientapp`` (what a bare Flower ClientApp imports);
- ``fedcare site app``: the ClientApp module fedcare's study project names now
  (``fedcare.federation.site.app``);
- with ``--src OTHER/src``: the module the other version named (``fedcare.federation.apps``),
  imported from that source tree (e.g. a ``git worktree`` of an older commit).

It also lists which heavy packages each import pulls in (torch, sklearn, scipy, pandas).

Run:  python benchmarks/site_startup.py [--repeat 7] [--src OTHER/src] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import _common as C

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sklearn", "scipy", "pandas", "matplotlib", "lifelines", "opacus")
_PROBE = """
import sys, time
if sys.argv[1]:
    sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
import importlib
importlib.import_module(sys.argv[2])
seconds = time.perf_counter() - t0
heavy = [m for m in sys.argv[3].split(",") if m in sys.modules]
import json, resource
print(json.dumps({"seconds": seconds, "heavy": heavy,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _probe(src: str, module: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PROBE, src, module, ",".join(HEAVY)],
                          check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--src", help="also time the ClientApp module of this source tree")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)

    targets = {"flwr (bare ClientApp)": ("", "flwr.clientapp"),
               "fedcare site app (this checkout)": (str(REPO / "src"),
                                                    "fedcare.federation.site.app")}
    if args.src:
        targets["fedcare apps (--src)"] = (str(Path(args.src).resolve()),
                                           "fedcare.federation.apps")
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in targets}
    for _ in range(args.repeat):
        for name, (src, module) in targets.items():
            runs[name].append(_probe(src, module))
    base = statistics.median(float(r["seconds"]) for r in runs["flwr (bare ClientApp)"])  # type: ignore[arg-type]
    rows = []
    for name, results in runs.items():
        seconds = statistics.median(float(r["seconds"]) for r in results)  # type: ignore[arg-type]
        rss = statistics.median(float(r["rss_mb"]) for r in results)  # type: ignore[arg-type]
        rows.append([name, f"{seconds:.2f}", f"{seconds / base:.2f}", f"{rss:.0f}",
                     ", ".join(results[0]["heavy"]) or "-"])  # type: ignore[arg-type]
    print(f"\nimport time of a site's ClientApp module, fresh process, median of {args.repeat}\n")
    print(C.table(["what", "import s", "x flwr", "peak RSS MB", "heavy packages imported"],
                  rows))
    if args.json:
        C.write_json(args.json, {"repeat": args.repeat, "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
