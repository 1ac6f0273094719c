"""De-identification throughput on 10,000 SYNTHETIC notes: notes/s and MB/s, two versions.

The notes come from ``scripts/make_phi_notes.py`` (5,000 English and 5,000 Chinese by
default, seed 300).  Each version de-identifies every note in tag mode with shifted dates
(``deidentify_text``, the function ``fedcare deid`` runs per text file) in its own
process, one core, after a warm-up note (jieba's dictionary and the name lists are loaded
once per process; that load is timed separately).  With ``--src OTHER/src`` an older
version (e.g. a ``git worktree`` of an earlier commit) runs in the same session, in the
order old, new, old, new (``--rounds``), so that a busy machine is seen in both.

Run:  python benchmarks/deid_speed.py [--n 5000] [--src OTHER/src] [--rounds 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as C

REPO = Path(__file__).resolve().parents[1]

_TIMER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from fedcare.deid import deidentify_text
notes = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
deidentify_text(notes[0]["text"], lang=notes[0]["lang"], key="k" * 16)
deidentify_text(notes[-1]["text"], lang=notes[-1]["lang"], key="k" * 16)
load = time.perf_counter() - t0
out = {}
for lang in ("en", "zh"):
    group = [n for n in notes if n["lang"] == lang]
    t0 = time.perf_counter()
    for n in group:
        deidentify_text(n["text"], lang=lang, key="k" * 16)
    seconds = time.perf_counter() - t0
    out[lang] = {"notes": len(group), "seconds": seconds,
                 "mb": sum(len(n["text"].encode("utf-8")) for n in group) / 1e6}
out["load"] = load
print(json.dumps(out))
"""


def _generate(n: int, seed: int, path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_phi_notes",
                                                  REPO / "scripts" / "make_phi_notes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--n", str(n), "--seed", str(seed), "--out", str(path)])


def _time(src: Path, notes: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _TIMER, str(src), str(notes)], check=True,
                          capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="SYNTHETIC notes per language")
    parser.add_argument("--seed", type=int, default=300)
    parser.add_argument("--src", help="also time the fedcare in this source folder")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)

    versions = {"this checkout": REPO / "src"}
    if args.src:
        versions = {f"other ({args.src})": Path(args.src), **versions}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in versions}
    with tempfile.TemporaryDirectory() as tmp:
        notes = Path(tmp) / "notes.jsonl"
        _generate(args.n, args.seed, notes)
        for r in range(args.rounds):
            for name, src in versions.items():
                runs[name].append(_time(src, notes))
                print(f"round {r + 1}: {name} done", file=sys.stderr)
    rows = []
    for name, results in runs.items():
        for lang in ("en", "zh", "all"):
            rates, mbs = [], []
            for res in results:
                parts = [res[lang]] if lang != "all" else [res["en"], res["zh"]]
                seconds = sum(p["seconds"] for p in parts)
                rates.append(sum(p["notes"] for p in parts) / seconds)
                mbs.append(sum(p["mb"] for p in parts) / seconds)
            rows.append([name, lang, " / ".join(f"{x:,.0f}" for x in rates),
                         " / ".join(f"{x:.3f}" for x in mbs),
                         f"{statistics.median(rates):,.0f}", f"{statistics.median(mbs):.3f}"])
        rows.append([name, "load (s)", " / ".join(f"{res['load']:.2f}" for res in results),
                     "", "", ""])
    print(f"\n{2 * args.n:,} SYNTHETIC notes (seed {args.seed}), tag mode, dates shifted, "
          f"one process per version and round\n")
    print(C.table(["version", "lang", "notes/s per round", "MB/s per round", "median notes/s",
                   "median MB/s"], rows))
    if args.json:
        C.write_json(args.json, {"n": args.n, "seed": args.seed, "synthetic": True,
                                 "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
