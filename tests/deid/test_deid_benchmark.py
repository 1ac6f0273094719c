"""Recall, precision and leaked characters on SYNTHETIC annotated notes; the scorer is right.

The notes come from ``scripts/make_phi_notes.py`` (its own name/place lists, hard
negatives), on the held-out seeds 100-102 of docs/deid.md (never used to develop the
recognisers), 100 notes per language per seed (the benchmark uses 200; 100 keeps this
test near 20 s).  Goal per PHI type and language: span-level recall >= 0.98 and
precision >= 0.90.  This can fail: a type with 10 gold spans fails on one miss.
Span recall counts a partly covered span as found, so the share of gold PHI characters
left uncovered by any prediction (what stays readable in the output) is bounded too.
The full benchmark (200 notes per language) is ``benchmarks/deid_eval.py``.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from fedcare.deid import Span, score

RECALL_GOAL, PRECISION_GOAL = 0.98, 0.90
#: Measured gaps (docs/deid.md), checked against a lower floor instead of the goal.  None
#: at present: en INSURANCE recall, en ID precision and zh NAME recall, once below the goal,
#: met it on the held-out seeds 100-102 (docs/deid.md), so they are held to the goal.
KNOWN_GAPS: dict[tuple[str, str, str], float] = {}
HELD_OUT_SEEDS = (100, 101, 102)
NOTES_PER_LANGUAGE = 100
#: Bound on the share of gold PHI characters left uncovered, per language and seed.
#: Measured on seeds 100-102: en 0.0026-0.0048 and zh <= 0.0005 at 200 notes, en <= 0.0061
#: and zh <= 0.0018 at 50; the English bound of 1 % is about twice the worst of those
#: (and the 1.1 % of round 3 in docs/deid.md, before its fixes, would have failed it).
LEAK_BOUND = {"en": 0.01, "zh": 0.005}


@pytest.fixture(scope="module", params=HELD_OUT_SEEDS, ids=lambda s: f"seed{s}")
def report(request: pytest.FixtureRequest, phi_notes: ModuleType) -> dict[str, object]:
    notes = phi_notes.generate(NOTES_PER_LANGUAGE, seed=request.param)
    assert {n["lang"] for n in notes} == {"en", "zh"} and len(notes) == 2 * NOTES_PER_LANGUAGE
    assert all(n["synthetic"] for n in notes)
    return score(notes)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_leaked_characters_are_bounded(report: dict[str, dict[str, float]], lang: str) -> None:
    assert report[lang]["leak"] <= LEAK_BOUND[lang]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_goal_per_type(report: dict[str, dict[str, dict[str, dict[str, float]]]],
                       lang: str) -> None:
    types = report[lang]["types"]
    expected = {"NAME", "ADDRESS", "DATE", "AGE", "PHONE", "EMAIL", "URL", "IP", "ID", "MRN",
                "INSURANCE", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE"}
    if lang == "en":
        expected.add("SSN")
    assert {t for t, r in types.items() if r["gold"]} == expected
    below = {}
    for phi_type, r in types.items():
        for metric, goal, n in (("recall", RECALL_GOAL, r["gold"]),
                                ("precision", PRECISION_GOAL, r["pred"])):
            floor = KNOWN_GAPS.get((lang, phi_type, metric), goal)
            if n and r[metric] < floor:
                below[(phi_type, metric)] = (r[metric], floor)
    assert below == {}


def test_generator_is_deterministic_and_spans_are_exact(phi_notes: ModuleType) -> None:
    one, two = phi_notes.generate(5, seed=3), phi_notes.generate(5, seed=3)
    assert one == two
    assert one != phi_notes.generate(5, seed=4)
    for note in one:
        for span in note["spans"]:
            value = note["text"][span["start"]:span["end"]]
            assert value and value == value.strip(), (note["id"], span)


def test_generator_has_names_unknown_to_the_recogniser(phi_notes: ModuleType) -> None:
    from fedcare.deid._eval import name_in_lexicon

    notes = phi_notes.generate(50, seed=7)
    names = [(n["text"][s["start"]:s["end"]], n["lang"]) for n in notes for s in n["spans"]
             if s["type"] == "NAME"]
    unseen = {lang for name, lang in names if not name_in_lexicon(name, lang)}
    assert unseen == {"en", "zh"}


def test_scorer_counts_an_identifier_removed_only_when_no_character_is_left() -> None:
    text = "John Smith called 617-555-0134 on 3/4/2021 (BP 120/80)."
    gold = [{"start": 0, "end": 10, "type": "NAME"}, {"start": 18, "end": 30, "type": "PHONE"},
            {"start": 34, "end": 42, "type": "DATE"}]
    keep = [{"start": 47, "end": 53}]
    predicted = [Span(5, 10, "NAME"),      # "Smith" only: "John" is left, a leak
                 Span(18, 30, "ID"),       # removed under another tag
                 Span(11, 17, "NAME"),     # no identifier there: a false positive
                 Span(50, 53, "DATE")]     # touches the blood pressure: a value lost

    def predict(_text: str, _lang: str) -> list[Span]:
        return predicted

    rep = score([{"text": text, "lang": "en", "spans": gold, "keep": keep, "id": "n1"}],
                predict=predict, details=True)["en"]
    name, phone, date, ident = (rep["types"][t] for t in ("NAME", "PHONE", "DATE", "ID"))
    assert (name["recall"], name["typed_recall"]) == (0.0, 1.0)
    assert (name["precision"], name["typed_precision"]) == (0.5, 0.5)
    assert (phone["recall"], phone["typed_recall"]) == (1.0, 0.0)
    assert (ident["precision"], ident["typed_precision"]) == (1.0, 0.0)
    assert date["recall"] == 0.0 and rep["types"]["DATE"]["precision"] == 0.0
    assert name["char_recall"] == 0.5
    assert rep["leak"] == pytest.approx((4 + 8) / (9 + 12 + 8))   # spaces are not counted
    assert rep["kept"] == {"values": 1, "kept": 0, "retention": 0.0}
    assert [(m["type"], m["left"]) for m in rep["misses"]] == [("NAME", "John"),
                                                               ("DATE", "3/4/2021")]
    assert [f["text"] for f in rep["false_positives"]] == ["called", "/80"]
    assert [v["text"] for v in rep["lost"]] == ["120/80"]


def test_marked_notes_are_parsed_into_text_spans_and_values() -> None:
    from fedcare.deid._eval import MarkupError, parse_marked

    text, spans, keep = parse_marked("Seen w/ {{NAME|hope mcallister}} on {{DATE|Mar-03}}; "
                                     "<<HbA1c 7.2%>>.", types={"NAME", "DATE"})
    assert text == "Seen w/ hope mcallister on Mar-03; HbA1c 7.2%."
    assert [text[s["start"]:s["end"]] for s in spans] == ["hope mcallister", "Mar-03"]
    assert [text[v["start"]:v["end"]] for v in keep] == ["HbA1c 7.2%"]
    for bad in ("{{NAME|x", "x}} y", "{{PET|x}}", "<<>>", "a << b"):
        with pytest.raises(MarkupError):
            parse_marked(bad, types={"NAME"})
