"""Regression floors on the independently written sets ``test4`` to ``test22``
(benchmarks/deid_blind/).

``test4``: 32 SYNTHETIC notes (16 English, 16 Chinese, two writers who had seen only the brief)
were sealed while the statistical recogniser was built and scored once at its end
(``test4-scored-once-*.txt``: recall 0.867 en / 0.927 zh with the CRF, 0.772 / 0.852 with
the rules alone).  Their clinical values touched were then read and fixed, so they are no
longer blind; the floors below sit under today's figures (en recall 0.865, characters left
0.092, 393/403 values kept; zh 0.925, 0.030, 307/318) so that a change that loses ground
fails, and the CRF must keep its lead over the rules alone.  Since 2026-12-07 (session 33)
the CRF is also trained on these notes (``scripts/train_deid_crf.py``), so its lead here is
no held-out figure: ``test5`` holds the blind one.

``test5``: 32 SYNTHETIC notes by two more writers, scored once on 2026-12-07
(``test5-scored-once-*.txt``), read since; floors under today's figures (FLOOR).

``test6``: 32 SYNTHETIC notes by two more writers, scored once on 2026-12-07 (session 35)
with no change made for them (``test6-scored-once*.txt``), read since.

``test7``: 32 SYNTHETIC notes by two more writers, scored once at the end of session 35
(``test7-scored-once-*.txt``), read since (round 6 came from its misses).

``test8``: 32 SYNTHETIC notes by two more writers, scored once in session 36 before and
after round 6 (``test8-scored-once-*.txt``), read since (round 7 came from its misses).

``test9``: sealed and unread when round 7 was made; scored once at its end
(``test9-scored-once-*.txt``), read since (round 8 came from its misses).

``test10``: sealed and unread when round 8 was made; scored once at its end
(``test10-scored-once-*.txt``), read since (round 9 came from its misses).

``test11``: sealed and unread when round 9 was made; scored once at its end
(``test11-scored-once-*.txt``), read since (round 10 came from its English misses).

``test12``: sealed and unread when round 10 was made; scored once at its end
(``test12-scored-once-*.txt``).

``test13``: sealed and unread when round 11 (a Chinese gazetteer) was made; scored once at
its end (``test13-scored-once-*.txt``), read since (round 12 came from its misses).

``test16``, ``test17``: sealed and unread until their one scoring in session 38 (the CRF
retrained with the read sets; rounds 15 and 16 came from their misses). From session 38
the CRF is trained on ``test5`` to ``test15`` too, so on those the CRF's lead is no
held-out figure.

``test18`` to ``test22``: sealed and unread until their one scoring (``test18`` in session
38, the others in session 39, each at the end of the round written while it was sealed);
read since, rounds 17 to 21 came from their misses.

``test14``: sealed and unread when rounds 11 and 12 were made; scored once at their end
(``test14-scored-once-*.txt``), read since (round 13 came from its misses).

``test15``: sealed and unread when rounds 11-13 were made; scored once at the end
(``test15-scored-once-*.txt``): the current blind figure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fedcare.deid import deidentify_text
from fedcare.deid._eval import parse_marked, score

BLIND = Path(__file__).resolve().parents[2] / "benchmarks" / "deid_blind"
QUASI = {"ORG", "HOSPITAL"}
FLOOR = {
    "test4": {"en": {"recall": 0.85, "leak": 0.10, "kept": 390, "gain": 0.05,
                     "precision": 0.93},
              "zh": {"recall": 0.91, "leak": 0.04, "kept": 305, "gain": 0.04,
                     "precision": 0.93}},
    # test5: scored once on 2026-12-07 (0.835 en / 0.924 zh with the shipped CRF; the
    # verbatim files beside it), read since; today en 0.859, leak 0.104, 315/323 kept,
    # precision 0.920; zh 0.924, 0.030, 282/283, 0.964
    "test5": {"en": {"recall": 0.85, "leak": 0.11, "kept": 314, "gain": 0.06,
                     "precision": 0.91},
              "zh": {"recall": 0.91, "leak": 0.035, "kept": 281, "gain": 0.05,
                     "precision": 0.95}},
    # test6: scored once on 2026-12-07 (session 35) on b46f7c0: en recall 0.899, leak
    # 0.068, 396/402 kept, precision 0.954, CRF gain 0.065; zh 0.911, 0.047, 309/311,
    # 0.968, 0.059 (test6-scored-once*.txt); read since, and after 3fe238e en 0.923,
    # 0.044, 396/402, 0.953; zh 0.918, 0.044, 309/311, 0.968
    "test6": {"en": {"recall": 0.91, "leak": 0.05, "kept": 395, "gain": 0.05,
                     "precision": 0.94},
              "zh": {"recall": 0.91, "leak": 0.05, "kept": 308, "gain": 0.05,
                     "precision": 0.95}},
    # test7: scored once at the end of session 35 (b46f7c0 -> d5cc373): en recall 0.868 ->
    # 0.870, leak 0.080 -> 0.076, 384/391 kept, precision 0.949, CRF gain 0.047; zh 0.937 ->
    # 0.940, 0.032, 293/301, 0.959, CRF gain 0.060 (test7-scored-once-*.txt); read since,
    # and after fd0f910 (round 6, from its misses) en 0.960, 0.021, 384/391, 0.951, gain
    # 0.045; zh 0.972, 0.010, 297/301, 0.965, gain 0.051
    "test7": {"en": {"recall": 0.94, "leak": 0.03, "kept": 383, "gain": 0.03,
                     "precision": 0.93},
              "zh": {"recall": 0.96, "leak": 0.02, "kept": 296, "gain": 0.04,
                     "precision": 0.95}},
    # test8: scored once in session 36 (d6c1da3 -> fd0f910): en recall 0.873 -> 0.888, leak
    # 0.096 -> 0.082, 362/370 kept, precision 0.935, CRF gain 0.090; zh 0.918 -> 0.921,
    # 0.040 -> 0.039, 330/333, 0.937, gain 0.057 (test8-scored-once-*.txt); read since,
    # and after round 7 (from its misses) en 0.963, 0.030, 366/370, 0.944, gain 0.084; zh
    # 0.937, 0.024, 330/333, 0.938, gain 0.057
    "test8": {"en": {"recall": 0.95, "leak": 0.035, "kept": 365, "gain": 0.06,
                     "precision": 0.93},
              "zh": {"recall": 0.92, "leak": 0.03, "kept": 329, "gain": 0.04,
                     "precision": 0.92}},
    # test9: scored once in session 36 on d6c1da3 / fd0f910 (round 6) / 9f3eabb (round
    # 7): en recall 0.814 / 0.835 / 0.851, leak 0.127 / 0.118 / 0.103, 344/348 kept,
    # precision 0.938-0.939, CRF gain 0.063; zh 0.940 / 0.947 / 0.947, 0.028 / 0.024 /
    # 0.024, 357/359, 0.972, gain 0.063 (test9-scored-once-*.txt)
    "test9": {"en": {"recall": 0.84, "leak": 0.11, "kept": 343, "gain": 0.04,
                     "precision": 0.92},
              "zh": {"recall": 0.935, "leak": 0.03, "kept": 356, "gain": 0.04,
                     "precision": 0.96}},
    # test10: scored once in session 36 on d6c1da3 / 9f3eabb (rounds 6-7) / 022c9aa (round
    # 8): en recall 0.796 / 0.824 / 0.830, leak 0.150 / 0.123 / 0.119, 319/320 kept,
    # precision 0.945 / 0.945 / 0.948, CRF gain 0.056; zh 0.896 / 0.905 / 0.905, 0.036 /
    # 0.029 / 0.029, 351/354, 0.941, gain 0.074 (test10-scored-once-*.txt); read since, and
    # after round 9 (from its misses) en 0.922, 0.055, 319/320, 0.951, gain 0.055; zh 0.926,
    # 0.025, 351/354, 0.942, gain 0.073
    "test10": {"en": {"recall": 0.91, "leak": 0.065, "kept": 318, "gain": 0.04,
                      "precision": 0.93},
               "zh": {"recall": 0.915, "leak": 0.03, "kept": 350, "gain": 0.05,
                      "precision": 0.93}},
    # test11: scored once in session 36 on d6c1da3 / 022c9aa (rounds 6-8) / 8c43b8b (round
    # 9): en recall 0.805 / 0.833 / 0.835, leak 0.135 / 0.109 / 0.106, 343/349 kept,
    # precision 0.947-0.948, CRF gain 0.062; zh 0.912 / 0.927 / 0.935, 0.054 / 0.041 /
    # 0.039, 353/353, 0.946-0.948, gain 0.060 (test11-scored-once-*.txt); read since, and
    # after round 10 (from its misses) en 0.905, 0.066, 343/349, 0.951, gain 0.060
    "test11": {"en": {"recall": 0.89, "leak": 0.075, "kept": 342, "gain": 0.04,
                      "precision": 0.93},
               "zh": {"recall": 0.92, "leak": 0.045, "kept": 352, "gain": 0.04,
                      "precision": 0.93}},
    # test12: scored once in session 36 on d6c1da3 / 8c43b8b (rounds 6-9) / 6244fa4 (round
    # 10): en recall 0.808 / 0.833 / 0.833, leak 0.155 / 0.141 / 0.141, 340/341 kept,
    # precision 0.955 / 0.958 / 0.958, CRF gain 0.074; zh 0.890 / 0.903 / 0.903, 0.043 /
    # 0.034 / 0.034, 363/363, 0.937-0.938, gain 0.044 (test12-scored-once-*.txt)
    "test12": {"en": {"recall": 0.82, "leak": 0.15, "kept": 339, "gain": 0.05,
                      "precision": 0.94},
               "zh": {"recall": 0.89, "leak": 0.04, "kept": 362, "gain": 0.03,
                      "precision": 0.92}},
    # test13: scored once in session 37 on 9ebdbd7 (before) and with round 11: en recall
    # 0.845 both, leak 0.102, 358/359 kept, precision 0.947, CRF gain 0.050; zh 0.962
    # both, 0.013, 349/353, 0.871, gain 0.063 (test13-scored-once-*.txt)
    # read since, and after round 12 (from its misses) zh precision 0.937
    "test13": {"en": {"recall": 0.835, "leak": 0.11, "kept": 357, "gain": 0.04,
                      "precision": 0.94},
               "zh": {"recall": 0.95, "leak": 0.02, "kept": 348, "gain": 0.05,
                      "precision": 0.92}},
    # test14: scored once in session 37 on 9ebdbd7 (before) and cfbb40d (rounds 11-12): en
    # recall 0.862 both, leak 0.082, 345/349 kept, precision 0.921, CRF gain 0.051; zh
    # 0.841 -> 0.844, 0.095 -> 0.093, 327/331, 0.948, gain 0.095 (test14-scored-once-*.txt)
    "test14": {"en": {"recall": 0.85, "leak": 0.09, "kept": 344, "gain": 0.04,
                      "precision": 0.91},
               "zh": {"recall": 0.835, "leak": 0.10, "kept": 326, "gain": 0.08,
                      "precision": 0.94}},
    # test15: scored once in session 37 on 9ebdbd7 (start) / 9a64edd (rounds 11-12) /
    # 807789b (round 13): en recall 0.899 all, leak 0.069, 332/333 kept, precision 0.946,
    # CRF gain 0.058; zh 0.894 all, 0.069, 338/342, 0.920 -> 0.922, gain 0.129
    "test15": {"en": {"recall": 0.89, "leak": 0.075, "kept": 331, "gain": 0.05,
                      "precision": 0.94},
               "zh": {"recall": 0.885, "leak": 0.075, "kept": 337, "gain": 0.11,
                      "precision": 0.91}},
    # test16: scored once in session 38 on 1d70386 (start) / 722072b (the CRF retrained
    # with test5-test15): en recall 0.871 -> 0.873, leak 0.088 -> 0.089, 357 -> 356/363
    # kept, precision 0.923 -> 0.919; zh 0.908 -> 0.926, 0.038 -> 0.030, 288 -> 289/290,
    # 0.934 -> 0.945 (test16-scored-once-*.txt); read since, and after round 15 (from its
    # misses) en 0.886, 0.078, 363/363, 0.926, CRF gain 0.050; zh 0.935, 0.024, 289/290,
    # 0.946, gain 0.136
    "test16": {"en": {"recall": 0.875, "leak": 0.085, "kept": 362, "gain": 0.04,
                      "precision": 0.91},
               "zh": {"recall": 0.925, "leak": 0.03, "kept": 288, "gain": 0.12,
                      "precision": 0.93}},
    # test17: scored once in session 38 on 1d70386 (start) / 722072b (the retrained CRF) /
    # e7e52b8 (round 15): en recall 0.932 / 0.937 / 0.937, leak 0.039 / 0.036 / 0.036,
    # 297/300 kept, precision 0.939 / 0.938 / 0.938; zh 0.933 all, 0.037, 296/298, 0.939 /
    # 0.936 / 0.936 (test17-scored-once-*.txt); read since, and after round 16 (from its
    # misses) en 0.948, 0.029, 298/300, 0.941, CRF gain 0.038; zh 0.939, 0.033, 296/298,
    # 0.936, gain 0.074
    "test17": {"en": {"recall": 0.93, "leak": 0.04, "kept": 297, "gain": 0.03,
                      "precision": 0.93},
               "zh": {"recall": 0.93, "leak": 0.04, "kept": 295, "gain": 0.06,
                      "precision": 0.92}},
    # test18-test22: blind figures in their *-scored-once-*.txt; after rounds 17-21 (read)
    # en / zh recall 0.966 / 0.965, 0.961 / 0.970, 0.959 / 0.953, 0.958 / 0.975,
    # 0.931 / 0.979; the floors sit just under these (session 39, 68577f6)
    "test18": {"en": {"recall": 0.955, "leak": 0.035, "kept": 271, "gain": 0.005,
                      "precision": 0.96},
               "zh": {"recall": 0.955, "leak": 0.02, "kept": 305, "gain": 0.06,
                      "precision": 0.96}},
    "test19": {"en": {"recall": 0.95, "leak": 0.035, "kept": 309, "gain": 0.03,
                      "precision": 0.93},
               "zh": {"recall": 0.96, "leak": 0.025, "kept": 302, "gain": 0.04,
                      "precision": 0.94}},
    "test20": {"en": {"recall": 0.95, "leak": 0.035, "kept": 439, "gain": 0.04,
                      "precision": 0.93},
               "zh": {"recall": 0.945, "leak": 0.025, "kept": 430, "gain": 0.03,
                      "precision": 0.965}},
    "test21": {"en": {"recall": 0.95, "leak": 0.03, "kept": 399, "gain": 0.03,
                      "precision": 0.96},
               "zh": {"recall": 0.965, "leak": 0.02, "kept": 361, "gain": 0.07,
                      "precision": 0.965}},
    "test22": {"en": {"recall": 0.92, "leak": 0.045, "kept": 328, "gain": 0.03,
                      "precision": 0.96},
               "zh": {"recall": 0.97, "leak": 0.02, "kept": 301, "gain": 0.07,
                      "precision": 0.98}},
}


def _report(name: str, statistical: bool) -> dict[str, dict]:
    notes = []
    for path in sorted((BLIND / name).glob("*.txt")):
        lang = path.stem.split("_")[1]
        text, spans, keep = parse_marked(path.read_text(encoding="utf-8"))
        predicted = [[s.start, s.end, s.type] for s in deidentify_text(
            text, lang=lang, mode="tag", dates="tag", statistical=statistical).spans]
        notes.append({"text": text, "lang": lang, "spans": spans, "keep": keep,
                      "predicted": predicted})
    assert len(notes) == 32
    result: dict[str, dict] = score(notes)
    return result


@pytest.fixture(scope="module", params=sorted(FLOOR))
def reports(request: pytest.FixtureRequest) -> tuple[str, dict[bool, dict[str, dict]]]:
    name = str(request.param)
    return name, {True: _report(name, True), False: _report(name, False)}


def _recall_and_leak(report: dict[str, dict], lang: str) -> tuple[float, float]:
    safe = [r for t, r in report[lang]["types"].items() if t not in QUASI]
    removed = sum(r["removed"] for r in safe) / sum(r["gold"] for r in safe)
    leak = sum(r["leaked_chars"] for r in safe) / sum(r["chars"] for r in safe)
    return removed, leak


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_recall_leak_and_values_hold(reports: tuple[str, dict[bool, dict[str, dict]]],
                                     lang: str) -> None:
    name, by_crf = reports
    floor = FLOOR[name][lang]
    recall, leak = _recall_and_leak(by_crf[True], lang)
    assert recall >= floor["recall"], (name, recall)
    assert leak <= floor["leak"], (name, leak)
    assert by_crf[True][lang]["kept"]["kept"] >= floor["kept"], name
    types = by_crf[True][lang]["types"].values()
    precision = sum(r["pred_any_ok"] for r in types) / sum(r["pred"] for r in types)
    assert precision >= floor["precision"], (name, precision)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_crf_carries_its_share(reports: tuple[str, dict[bool, dict[str, dict]]],
                                   lang: str) -> None:
    name, by_crf = reports
    with_crf, _ = _recall_and_leak(by_crf[True], lang)
    rules_alone, _ = _recall_and_leak(by_crf[False], lang)
    assert with_crf - rules_alone >= FLOOR[name][lang]["gain"], (name, with_crf, rules_alone)
    assert by_crf[True][lang]["kept"]["kept"] >= by_crf[False][lang]["kept"]["kept"] - 5
