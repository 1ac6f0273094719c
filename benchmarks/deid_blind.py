"""De-identification scored on notes written independently of the recognisers.

The notes (**synthetic**: invented people, numbers and places) were written by someone who
had not seen fedcare's recognisers or its note generator, from a list of identifier types
and a description of clinical notes only (the brief: ``benchmarks/deid_blind/BRIEF.md``),
in styles the generator does not produce: discharge summaries, telehealth notes, community
health records, nursing notes, free-typed chat, referral letters, and more.  Each note marks
its identifiers ``{{TYPE|text}}`` and the clinical values that must stay ``<<text>>``.

Scoring is span-exact: an identifier counts as removed only when none of its (non-space)
characters is left in the output, whatever the tag (``recall``); ``typed recall`` also asks
for the right tag.  ``precision``: replaced spans that touch an identifier.  ``kept``:
clinical values that no replacement touches.  ``leak``: identifier characters left.
``ORG`` (employer, school) and ``HOSPITAL`` (care facility) are quasi-identifiers, shown
apart from the Safe Harbor types.

Sets (benchmarks/deid_blind/README.md): ``dev``, ``test``, ``test2``, ``test3`` (each sealed,
scored once, then read and used in development and to train the statistical recogniser),
``train``, ``train2`` and ``train3`` (written as training data), ``test4`` to ``test22``
(each scored once, then read: rounds of rules came from their misses), ``test23`` (scored
once at the end of session 39: the current blind figure), ``test24`` (sealed and unread:
score the next change on it once).

Run:  python benchmarks/deid_blind.py [--set test23|test22|...|dev|DIR] [--src OTHER/src] [--list]
                                      [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _common as C

HERE = Path(__file__).resolve().parent
RECALL_GOAL, PRECISION_GOAL = 0.98, 0.90
TYPES = ("NAME", "ADDRESS", "DATE", "AGE", "PHONE", "EMAIL", "URL", "IP", "SSN", "MRN",
         "INSURANCE", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "ID", "ORG", "HOSPITAL")
QUASI = ("ORG", "HOSPITAL")


def load(folder: Path) -> list[dict[str, Any]]:
    """The marked notes of ``folder`` (``NN_en_style.txt`` / ``NN_zh_style.txt``)."""
    from fedcare.deid._eval import MarkupError, parse_marked

    notes = []
    for path in sorted(folder.glob("*.txt")):
        parts = path.stem.split("_")
        lang = parts[1] if len(parts) > 1 and parts[1] in ("en", "zh") else None
        if lang is None:
            raise SystemExit(f"{path.name}: the name must be NN_en_style.txt or NN_zh_style.txt")
        try:
            text, spans, keep = parse_marked(path.read_text(encoding="utf-8"), TYPES)
        except MarkupError as exc:
            raise SystemExit(f"{path.name}: {exc}") from None
        notes.append({"id": path.name, "lang": lang, "style": "_".join(parts[2:]),
                      "text": text, "spans": spans, "keep": keep})
    if not notes:
        raise SystemExit(f"{folder}: no NN_en_*.txt / NN_zh_*.txt notes")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--set", default="test23",
                        help="'test24' (sealed: score the next change on it once), 'test23' "
                             "(the current blind figure), 'test22', 'test21', 'test20', "
                             "'test19', 'test18', "
                             "'test17', 'test16', 'test15', 'test14', 'test13', "
                             "'test12', 'test11', 'test10', 'test9', 'test8', "
                             "'test7', 'test6', 'test5', 'test4', 'test3', 'test2', 'test', "
                             "'train', 'train2', 'train3', "
                             "'dev' (under benchmarks/deid_blind/) or a folder")
    parser.add_argument("--src", help="score the fedcare in this source folder instead "
                                      "(e.g. a git worktree of an older commit: its src/)")
    parser.add_argument("--list", action="store_true",
                        help="list every identifier left, false positive and value lost")
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args(argv)

    named = ("test", "test2", "test3", "test4", "test5", "test6", "test7", "test8", "test9",
             "test10", "test11", "test12", "test13", "test14", "test15", "test16", "test17",
             "test18", "test19", "test20", "test21", "test22", "test23", "test24", "train",
             "train2", "train3", "dev")
    folder = HERE / "deid_blind" / args.set if args.set in named else Path(args.set)
    notes = load(folder)
    started = time.perf_counter()
    predicted = C.deid_spans([(n["text"], n["lang"]) for n in notes], args.src)
    seconds = time.perf_counter() - started
    for note, spans in zip(notes, predicted, strict=True):
        note["predicted"] = spans

    from fedcare.deid._eval import score

    report = score(notes, details=True)
    per_lang = Counter(n["lang"] for n in notes)
    styles = Counter(n["style"] for n in notes)
    print(f"{folder}: {dict(per_lang)} SYNTHETIC notes, {len(styles)} styles; "
          f"fedcare from {args.src or 'this checkout'}; {seconds:.1f} s\n")
    rows, below = [], []
    for lang in sorted(report):
        rep = report[lang]
        for phi_type, r in rep["types"].items():
            if not r["gold"] and not r["pred"]:
                continue
            quasi = " (quasi)" if phi_type in QUASI else ""
            rows.append([lang, phi_type + quasi, str(r["gold"]), str(r["removed"]),
                         C.fmt(r["recall"]), C.fmt(r["typed_recall"]), str(r["pred"]),
                         C.fmt(r["precision"]), str(r["leaked_chars"])])
            if phi_type in QUASI:
                continue
            if r["gold"] and (r["recall"] or 0) < RECALL_GOAL:
                below.append(f"{lang} {phi_type}: recall {C.fmt(r['recall'])} "
                             f"({r['gold'] - r['removed']} of {r['gold']} left)")
            if r["pred"] and (r["precision"] or 0) < PRECISION_GOAL:
                below.append(f"{lang} {phi_type}: precision {C.fmt(r['precision'])}")
    print(C.table(["lang", "type", "gold", "removed", "recall", "typed recall", "replaced",
                   "precision", "chars left"], rows))
    print()
    summary = []
    for lang in sorted(report):
        rep = report[lang]
        safe = {t: r for t, r in rep["types"].items() if t not in QUASI}
        gold = sum(r["gold"] for r in safe.values())
        removed = sum(r["removed"] for r in safe.values())
        pred = sum(r["pred"] for r in rep["types"].values())
        ok = sum(r["pred_any_ok"] for r in rep["types"].values())
        chars = sum(r["chars"] for r in safe.values())
        left = sum(r["leaked_chars"] for r in safe.values())
        summary.append([lang, str(gold), C.fmt(removed / gold if gold else None),
                        C.fmt(ok / pred if pred else None),
                        C.fmt(left / chars if chars else None, 4),
                        C.fmt(rep["leak"], 4),
                        f"{rep['kept']['kept']}/{rep['kept']['values']}"])
        rep["safe_harbor"] = {"identifiers": gold, "removed": removed, "chars": chars,
                              "chars_left": left}
    print(C.table(["lang", "identifiers (Safe Harbor types)", "recall", "precision (all)",
                   "chars leaked (Safe Harbor)", "chars leaked (with quasi)",
                   "clinical values kept"], summary))
    print()
    if below:
        print("Below the goal (recall >= 0.98, precision >= 0.90 per type):")
        for line in below:
            print(f"  {line}")
    else:
        print("Every Safe Harbor type meets the goal in both languages.")
    if args.list:
        for lang in sorted(report):
            rep = report[lang]
            for title, key in (("left in the output", "misses"),
                               ("replaced, not an identifier", "false_positives"),
                               ("clinical values touched", "lost")):
                print(f"\n{lang}: {title} ({len(rep[key])})")
                for item in rep[key]:
                    what = f"{item.get('type', '')} {item['text']!r}"
                    if item.get("left") and item["left"] != item["text"].replace(" ", ""):
                        what += f" (left {item['left']!r})"
                    print(f"  {item['id']}: {what}  | ...{item['context']!r}...")
    if args.json:
        C.write_json(args.json, {"set": str(folder), "synthetic": True, "src": args.src,
                                 "notes": dict(per_lang), "report": report})
    return 0


if __name__ == "__main__":
    sys.exit(main())
