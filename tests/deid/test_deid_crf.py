"""The statistical recogniser (``fedcare.deid._crf``): its shipped models, its training, its
place below the rules, the rules' vetoes on its spans, and the switch that turns it off.

Every text here is synthetic, written for these tests (none comes from a training set).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

from fedcare.deid import _crf, deidentify_text, find_phi
from fedcare.deid._common import Span

REPO = Path(__file__).resolve().parents[2]
#: Sets still scored as blind: never among the training notes.
SEALED = ("benchmarks/deid_blind/test16/", "benchmarks/deid_blind/test17/",
          "benchmarks/deid_blind/test18/", "benchmarks/deid_blind/test19/",
          "benchmarks/deid_blind/test20/", "benchmarks/deid_blind/test21/",
          "benchmarks/deid_blind/test22/", "benchmarks/deid_blind/test23/",
          "benchmarks/deid_blind/test24/")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_shipped_models_are_those_their_manifest_names() -> None:
    manifest = json.loads((_crf.MODEL_DIR / "MANIFEST.json").read_text(encoding="utf-8"))
    for name, digest in manifest["models"].items():
        assert _sha256(_crf.MODEL_DIR / name) == digest, f"{name}: retrained, manifest not"
    files = manifest["trained_on"]["files"]
    assert len(files) == manifest["notes"]["en"] + manifest["notes"]["zh"] \
        - 2 * manifest["trained_on"]["generator"]["notes_per_language"]
    for rel, digest in files.items():
        assert not rel.startswith(SEALED), f"{rel} is sealed for scoring, not for training"
        assert _sha256(REPO / rel) == digest, f"{rel} changed after the model was trained"
    assert _crf.enabled()


def _marked(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "01_en_chat.txt").write_text(
        "seen w/ daughter {{NAME|orla quigley}} on {{DATE|3 May}}, <<BP 132/84>>\n"
        "son {{NAME|fintan}} rang {{PHONE|087 555 0199}} re <<metformin 500 mg>>\n",
        encoding="utf-8")
    (folder / "02_en_note.txt").write_text(
        "Reviewed by Dr {{NAME|Nkemelu}}; neighbour {{NAME|gerry}} helps. <<HbA1c 7.1%>>\n",
        encoding="utf-8")
    (folder / "03_zh_chat.txt").write_text(
        "女儿{{NAME|覃秀梅}}陪同，{{DATE|3月5日}}复查<<血压 146/90mmHg>>\n"
        "电话{{PHONE|139 0000 1234}}，<<二甲双胍 0.5g bid>>\n", encoding="utf-8")
    (folder / "04_zh_note.txt").write_text(
        "邻居{{NAME|韦大姐}}帮忙买菜，<<空腹血糖 7.8mmol/L>>\n", encoding="utf-8")
    return folder


def test_training_is_deterministic_and_learns(tmp_path: Path, crf_trainer: ModuleType) -> None:
    notes = crf_trainer._notes([str(_marked(tmp_path))])
    assert {n["lang"] for n in notes} == {"en", "zh"}
    a, b = tmp_path / "a", tmp_path / "b"
    assert crf_trainer.train(notes, a, 0.05, 0.01, 60) == {"en": 2, "zh": 2}
    crf_trainer.train(notes, b, 0.05, 0.01, 60)
    for lang in ("en", "zh"):
        assert (a / f"crf_{lang}.crfsuite").read_bytes() == \
            (b / f"crf_{lang}.crfsuite").read_bytes()
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(a / "crf_en.crfsuite"))
    text = notes[0]["text"]
    toks = _crf.tokens(text, "en")
    gold = [Span(s["start"], s["end"], s["type"]) for s in notes[0]["spans"]]
    gold += [Span(v["start"], v["end"], _crf.VALUE) for v in notes[0]["keep"]]
    assert tagger.tag(_crf.features(text, "en", toks)) == _crf.labels(toks, gold)


def test_training_refuses_a_set_that_is_also_scored(crf_trainer: ModuleType) -> None:
    with pytest.raises(SystemExit, match="both trained on and scored"):
        crf_trainer.main(["--sets", "dev", "--eval", "dev", "--out", "/nonexistent"])


@pytest.mark.parametrize(("lang", "text", "name"), [
    ("en", "wound reviewed by sr okonkwo, dressing changed", "okonkwo"),
    ("en", "BIBA, accompanied by her pal zeb", "zeb"),
    ("zh", "明早让小覃把化验单拿过来", "小覃"),
])
def test_the_crf_removes_names_the_rules_leave(lang: str, text: str, name: str) -> None:
    def covered(spans: list[Span]) -> bool:
        at = text.index(name)
        return all(any(s.start <= i < s.end for s in spans) for i in range(at, at + len(name)))

    assert not covered(find_phi(text, lang, statistical=False))
    assert covered(find_phi(text, lang, statistical=True))


class _FakeTagger:
    """Labels chosen by the test, every marginal probability ``prob``."""

    def __init__(self, labels: list[str], prob: float = 1.0) -> None:
        self.labels, self.prob = labels, prob

    def tag(self, _: Any) -> list[str]:
        return self.labels

    def marginal(self, _: str, __: int) -> float:
        return self.prob


def _with_labels(monkeypatch: pytest.MonkeyPatch, text: str, lang: str,
                 wanted: dict[str, str], prob: float = 1.0) -> list[Span]:
    """crf_spans on ``text`` when the CRF labels the tokens named in ``wanted``."""
    toks = _crf.tokens(text, lang)
    labels = ["O"] * len(toks)
    for word, kind in wanted.items():
        at = text.index(word)
        first = True
        for i, (s, e) in enumerate(toks):
            if s >= at and e <= at + len(word):
                labels[i] = ("B-" if first else "I-") + kind
                first = False
    monkeypatch.setattr(_crf, "_tagger", lambda _lang: _FakeTagger(labels, prob))
    return _crf.crf_spans(text, lang)


def test_the_rules_vetoes_hold_on_crf_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    text = ("IADL 2/8 on review; Ventolin lot 1K9932; born 1931; Obs stable; HIV neg; "
            "BP 138/82; HLA A*02:01; REF 1516-20-607; see p.Gln17Profs; Orla seen 3/5/2024")
    spans = _with_labels(monkeypatch, text, "en", {
        "2/8": "DATE", "1K9932": "ID", "1931": "DATE", "Obs": "NAME", "HIV": "NAME",
        "BP 138": "VEHICLE", "A*02:01": "ID", "1516-20-607": "ID", "p.Gln17Profs": "URL",
        "Orla": "NAME", "3/5/2024": "DATE"})
    assert sorted({text[s.start:s.end] for s in spans}) == ["3/5/2024", "Orla"]


def test_values_ages_and_employers_never_come_from_the_crf(
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = "aged 93, works at Kilbride Foods, HbA1c 7.1% today"
    spans = _with_labels(monkeypatch, text, "en", {
        "93": "AGE", "Kilbride Foods": "ORG", "HbA1c 7.1%": _crf.VALUE})
    assert spans == []


def test_a_weak_span_is_dropped_and_names_found_are_found_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Orla rang. Later Orla came in."
    assert _with_labels(monkeypatch, text, "en", {"Orla": "NAME"}, prob=_crf.MIN_PROB - 0.01) \
        == []
    found = _with_labels(monkeypatch, text, "en", {"Orla": "NAME"}, prob=1.0)
    assert [text[s.start:s.end] for s in sorted(found)].count("Orla") >= 2
    # a word in no name list needs more than MIN_PROB
    assert _with_labels(monkeypatch, "zorblat rang", "en", {"zorblat": "NAME"},
                        prob=(_crf.MIN_PROB + _crf._UNKNOWN_NAME_BAR) / 2) == []


def test_a_rule_span_wins_an_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Call 617-555-0134 today."
    at = text.index("617")
    monkeypatch.setattr(_crf, "crf_spans",
                        lambda t, lang: [Span(at - 5, at + 7, "NAME")])
    spans = find_phi(text, "en", statistical=True)
    phone = [s for s in spans if s.type == "PHONE"]
    assert [text[s.start:s.end] for s in phone] == ["617-555-0134"]


def test_the_crf_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any) -> list[Span]:
        raise AssertionError("the CRF ran")

    monkeypatch.setattr(_crf, "crf_spans", boom)
    text = "wound reviewed by sr okonkwo"
    find_phi(text, "en", statistical=False)
    deidentify_text(text, lang="en", statistical=False)
    monkeypatch.setenv("FEDCARE_DEID_CRF", "0")
    assert not _crf.enabled()
    find_phi(text, "en")
    deidentify_text(text, lang="en")


def test_cli_says_which_recognisers_ran(tmp_path: Path) -> None:
    from test_deid_cli import app

    note = tmp_path / "note.txt"
    note.write_text("wound reviewed by sr okonkwo, dressing changed\n", encoding="utf-8")
    runner = CliRunner()
    both = runner.invoke(app, ["deid", "--in", str(note), "--out", str(tmp_path / "a.txt")],
                         env={"COLUMNS": "200"})
    alone = runner.invoke(app, ["deid", "--in", str(note), "--out", str(tmp_path / "b.txt"),
                                "--rules-only"], env={"COLUMNS": "200"})
    assert both.exit_code == 0 and alone.exit_code == 0, both.output + alone.output
    assert "recognisers: rules + CRF" in both.output
    assert "recognisers: rules only" in alone.output
    assert "okonkwo" not in (tmp_path / "a.txt").read_text(encoding="utf-8")
    assert "okonkwo" in (tmp_path / "b.txt").read_text(encoding="utf-8")


def test_threads_get_the_spans_one_thread_gets() -> None:
    """A tagger keeps the last sequence for its marginals; calls from several threads must
    not read each other's (without the lock this fails: a thread switch every microsecond
    puts one thread's ``tag`` between another's ``tag`` and ``marginal``)."""
    import sys

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _threads_agree()
    finally:
        sys.setswitchinterval(old)


def _threads_agree() -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [("en", "wound reviewed by sr okonkwo, dressing changed, BP 132/80"),
             ("en", "BIBA, accompanied by flatmate zeb; seen 3/5/2024 by Dr Nkemelu"),
             ("zh", "明早让小覃把化验单拿过来，血压146/90"),
             ("zh", "跟12床家属龙哥说好了明天做检查")] * 8
    alone = [_crf.crf_spans(t, lang) for lang, t in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda lt: _crf.crf_spans(lt[1], lt[0]), texts))
    assert together == alone


@pytest.mark.parametrize("folder", ["test5", "test15"])
def test_the_crf_only_adds_to_what_the_rules_remove(folder: str) -> None:
    """Every letter and digit the rules alone remove is removed with the CRF too, on notes the
    rules were not written for (a CRF span inside an address once changed how its parts
    joined, and the address's first word was left)."""
    from fedcare.deid._eval import parse_marked

    notes = sorted((REPO / "benchmarks" / "deid_blind" / folder).glob("*_*_*.txt"))
    assert len(notes) >= 30
    for path in notes:
        lang = path.name.split("_")[1]
        text, _, _ = parse_marked(path.read_text(encoding="utf-8"))
        both = {i for s in find_phi(text, lang, statistical=True) for i in range(s.start, s.end)}
        rules = {i for s in find_phi(text, lang, statistical=False)
                 for i in range(s.start, s.end) if text[i].isalnum()}  # not a space between
        assert rules <= both, f"{path.name}: {len(rules - both)} characters only the rules remove"
