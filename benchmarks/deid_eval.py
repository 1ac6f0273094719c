"""Precision and recall of fedcare's PHI recognisers on SYNTHETIC annotated notes.

Notes come from ``scripts/make_phi_notes.py`` (generated here, deterministic per seed,
written to a temporary folder) or from ``--notes FILE`` (JSON lines with ``text``,
``lang``, ``spans``).  The generator keeps its own name/place lists; names whose words the
recogniser's lists do not contain are reported separately ("unseen names").

Span level, span-exact: a gold span is removed only when none of its characters is left
(whatever the tag); a predicted span is correct when it overlaps a gold span.  Character
level: characters of predicted vs gold spans per type.  "leak": share of gold PHI
characters (not spaces) left uncovered by any prediction.  ``--src OTHER/src`` scores
another version of fedcare (e.g. a ``git worktree`` of an older commit) with this scorer.
Goal per type and language: recall >= 0.98, precision >= 0.90 (span level).

With ``--seeds 0 1 2`` each seed is generated and scored on its own; after the per-seed
tables a summary gives, per language and type, the mean and the minimum of span recall and
precision over the seeds (and which types miss the goal on any seed).

Run:  .venv/bin/python benchmarks/deid_eval.py [--n 200 --seed 0 | --seeds 0 1 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

REPO = Path(__file__).resolve().parents[1]
RECALL_GOAL, PRECISION_GOAL = 0.98, 0.90


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_phi_notes",
                                                  REPO / "scripts" / "make_phi_notes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    if args.notes:
        lines = Path(args.notes).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "notes.jsonl"
        _generator().main(["--n", str(args.n), "--seed", str(seed), "--out", str(path)])
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _summary(reports: dict[int, dict[str, Any]]) -> list[str]:
    """Mean and minimum span recall/precision over seeds per language and type."""
    rows, below = [], []
    keys = sorted({(lang, t) for rep in reports.values() for lang, r in rep.items()
                   for t in r["types"]})
    for lang, phi_type in keys:
        cells = [lang, phi_type]
        for metric, count, goal in (("recall", "gold", RECALL_GOAL),
                                    ("precision", "pred", PRECISION_GOAL)):
            values = [rep[lang]["types"][phi_type][metric] for rep in reports.values()
                      if phi_type in rep.get(lang, {}).get("types", {})
                      and rep[lang]["types"][phi_type][count]]
            values = [v for v in values if v is not None]
            mean = sum(values) / len(values) if values else None
            low = min(values) if values else None
            cells += [C.fmt(mean), C.fmt(low)]
            if low is not None and low < goal:
                below.append(f"{lang} {phi_type}: {metric} min {C.fmt(low)} "
                             f"(mean {C.fmt(mean)}) < {goal}")
        gold = sum(rep[lang]["types"][phi_type]["gold"] for rep in reports.values()
                   if phi_type in rep.get(lang, {}).get("types", {}))
        rows.append([*cells[:2], str(gold), *cells[2:]])
    print(C.table(["lang", "type", "gold", "R mean", "R min", "P mean", "P min"], rows))
    print()
    name_rows = []
    for lang in sorted({lang for rep in reports.values() for lang in rep}):
        for key in ("recall_in_list", "recall_not_in_list"):
            values = [rep[lang]["names"][key] for rep in reports.values()
                      if lang in rep and rep[lang]["names"][key] is not None]
            name_rows.append([lang, key.replace("recall_", "names ").replace("_", " "),
                              C.fmt(sum(values) / len(values) if values else None),
                              C.fmt(min(values) if values else None)])
    print(C.table(["lang", "subset", "R mean", "R min"], name_rows))
    print()
    return below


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="synthetic notes per language")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+",
                        help="several seeds: score each, then summarise mean/min per type")
    parser.add_argument("--notes", help="read annotated notes (JSON lines) instead")
    parser.add_argument("--json", help="write the figures here as JSON")
    parser.add_argument("--src", help="score the fedcare in this source folder instead (e.g. a "
                                      "git worktree of an older commit: its src/), with "
                                      "this checkout's scorer")
    args = parser.parse_args(argv)

    from fedcare.deid._eval import score

    seeds = args.seeds or [args.seed]
    reports: dict[int, dict[str, Any]] = {}
    for seed in seeds:
        reports[seed] = _one_seed(args, seed, score)
    if len(seeds) > 1:
        print(f"=== summary over seeds {seeds} (span level) ===\n")
        below = _summary(reports)
        if below:
            print("Below the goal on some seed (recall >= 0.98, precision >= 0.90):")
            for line in below:
                print(f"  {line}")
        else:
            print("Every type meets the goal on every seed.")
    if args.json:
        payload: dict[str, Any] = {"n": args.n, "synthetic": True}
        if len(seeds) == 1:
            payload |= {"seed": seeds[0], "report": reports[seeds[0]]}
        else:
            payload |= {"seeds": seeds, "reports": {str(k): v for k, v in reports.items()}}
        C.write_json(args.json, payload)
    return 0


def _one_seed(args: argparse.Namespace, seed: int, score: Any) -> dict[str, Any]:
    notes = _load(args, seed)
    started = time.perf_counter()
    predicted = C.deid_spans([(n["text"], n["lang"]) for n in notes], args.src)
    seconds = time.perf_counter() - started
    for note, spans in zip(notes, predicted, strict=True):
        note["predicted"] = spans
    report: dict[str, Any] = score(notes)
    per_lang = {lang: sum(1 for n in notes if n["lang"] == lang) for lang in report}
    print(f"SYNTHETIC notes: {per_lang} (seed {seed}); recognition {seconds:.1f} s "
          f"({1000 * seconds / max(1, len(notes)):.0f} ms/note)\n")
    rows = []
    misses = []
    for lang, rep in report.items():
        for phi_type, r in rep["types"].items():
            rows.append([lang, phi_type, str(r["gold"]), str(r["pred"]),
                         C.fmt(r["precision"]), C.fmt(r["recall"]),
                         C.fmt(r["char_precision"]), C.fmt(r["char_recall"])])
            p, rc = r["precision"], r["recall"]
            if r["gold"] and (rc is None or rc < RECALL_GOAL):
                misses.append(f"{lang} {phi_type}: recall {C.fmt(rc)} < {RECALL_GOAL}")
            if r["pred"] and (p is None or p < PRECISION_GOAL):
                misses.append(f"{lang} {phi_type}: precision {C.fmt(p)} < {PRECISION_GOAL}")
    print(C.table(["lang", "type", "gold", "pred", "span P", "span R", "char P", "char R"],
                  rows))
    print()
    name_rows = []
    for lang, rep in report.items():
        nm = rep["names"]
        name_rows.append([lang, str(nm["in_list"]), C.fmt(nm["recall_in_list"]),
                          str(nm["not_in_list"]), C.fmt(nm["recall_not_in_list"]),
                          C.fmt(rep["leak"], 4)])
    print(C.table(["lang", "names in lexicon", "recall", "unseen names", "recall",
                   "PHI chars leaked"], name_rows))
    print()
    if misses:
        print("Below the goal (recall >= 0.98, precision >= 0.90):")
        for line in misses:
            print(f"  {line}")
    else:
        print("Every type meets the goal (recall >= 0.98, precision >= 0.90).")
    return report


if __name__ == "__main__":
    sys.exit(main())
