"""``submit`` says each training round as the ServerApp reports it: number, seconds, sites."""

from __future__ import annotations

import json
from pathlib import Path

from fedcare.federation.engines.deploy.submit import _RoundProgress


def test_rounds_are_said_once_with_the_sites_that_answered(tmp_path: Path) -> None:
    said: list[str] = []
    path = tmp_path / "progress.jsonl"
    progress = _RoundProgress(path, said.append)
    progress.read()  # no file yet: nothing
    rows = [{"round": 1, "of": 3, "seconds": 12.04, "sites": ["va", "cleveland", "hungary"]},
            {"round": 2, "of": 3, "seconds": 11.5, "sites": ["cleveland", "va"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"round": 3, "of"')
    progress.read()
    progress.read()  # the half-written third line is not said, nor the first two again
    assert said == ["round 1/3: 12.0 s, 3 sites answered (cleveland, hungary, va)",
                    "round 2/3: 11.5 s, 2 sites answered (cleveland, va); missing: hungary"]
    with path.open("a") as f:
        f.write(': 3, "seconds": 9.0, "sites": ["cleveland", "hungary", "va"]}\n')
    progress.read()
    assert said[-1] == "round 3/3: 9.0 s, 3 sites answered (cleveland, hungary, va)"


def test_a_refusal_and_a_slow_answer_are_said_as_they_come(tmp_path: Path) -> None:
    # the lines the coordinator's ProgressGrid writes (tests/federation/test_progress_grid.py)
    said: list[str] = []
    path = tmp_path / "progress.jsonl"
    progress = _RoundProgress(path, said.append)
    lines = [{"event": "asked", "type": "query.schema", "nodes": [1, 2, 3]},
             {"event": "reply", "type": "query.schema", "node": 1, "site": "va",
              "seconds": 0.4, "ok": True},
             {"event": "reply", "type": "query.schema", "node": 2, "site": "cleveland",
              "seconds": 42.0, "ok": True},
             {"event": "reply", "type": "query.schema", "node": 3, "site": None,
              "seconds": 50.0, "ok": False,
              "reason": "site 'hungary' refuses this study: its steward (dr-li) said: no"},
             {"event": "silent", "type": "train.newton", "nodes": [3]}]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    progress.read()
    assert said == [
        "query.schema: site 'cleveland' answered after 42 s",
        "query.schema: site 'hungary' refuses this study: its steward (dr-li) said: no",
        "train.newton: no answer from node(s) [3] by the timeout"]
