"""The coordinator reports each reply as it arrives (``progress.jsonl``): what the study
lead sees live in ``fedcare study submit`` and the console, while a site is still silent
(e.g. waiting for its steward) and when one refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fedcare.exceptions import FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.coordinator.grid import ProgressGrid, ProgressLog
from fedcare.federation.site import client_app
from fedcare.study import StudyConfig
from fedcare.study._benchmark import FLAMBY_PROTOCOL

SITES = ["cleveland", "hungary", "switzerland", "va"]


def _run(config: StudyConfig, out: Path, policy: Path | None = None) -> dict[str, Any]:
    nodes: list[dict[str, str | int | float]] = [
        {"site": s, **({"site-config": str(policy)} if policy and s == "switzerland" else {})}
        for s in SITES]
    grid = InProcessGrid(client_app, nodes, {**config.to_run_config(), "num-sites": 4,
                                             "output-dir": str(out)})
    log = ProgressLog(out / "progress.jsonl")
    return run_task(ProgressGrid(grid, log), grid.server_context())


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]


def test_every_reply_and_every_round_is_reported(heart_data_dir: Path, tmp_path: Path) -> None:
    config = StudyConfig(**FLAMBY_PROTOCOL, data_dir=str(heart_data_dir), rounds=3)
    _run(config, tmp_path)
    lines = _lines(tmp_path)
    asked = [e for e in lines if e.get("event") == "asked"]
    assert asked[0]["type"] == "query.schema" and len(asked[0]["nodes"]) == 4
    for a in asked:  # each message: one reply per node asked, each naming its site
        replies = [e for e in lines if e.get("event") == "reply" and e["type"] == a["type"]]
        assert len(replies) % len(a["nodes"]) == 0
    schema = [e for e in lines if e.get("event") == "reply" and e["type"] == "query.schema"]
    assert sorted(e["site"] for e in schema) == SITES and all(e["ok"] for e in schema)
    assert all(e["seconds"] >= 0 for e in schema)
    rounds = [e for e in lines if "event" not in e]
    assert [r["round"] for r in rounds] == [1, 2, 3] and all(r["of"] == 3 for r in rounds)
    assert all(r["test_loss"] > 0 and 0 < r["accuracy"] <= 1 for r in rounds)
    assert sorted(rounds[-1]["sites"]) == SITES
    times = [e["at"] for e in lines]
    assert times == sorted(times)
    assert not any(e.get("event") == "silent" for e in lines)


def test_a_refusal_is_reported_with_its_reason(heart_data_dir: Path, tmp_path: Path) -> None:
    policy = tmp_path / "site.toml"
    policy.write_text("[policy]\nmin_cell = 10\n")
    config = StudyConfig(**FLAMBY_PROTOCOL, data_dir=str(heart_data_dir), rounds=2)
    with pytest.raises(FederationError):
        _run(config, tmp_path, policy)
    schema = [e for e in _lines(tmp_path) if e.get("event") == "reply"]
    refused = [e for e in schema if not e["ok"]]
    assert len(refused) == 1 and len(schema) == 4
    assert "site 'switzerland' refuses this study" in refused[0]["reason"]
    assert "small-cell k 5 is below the site's minimum 10" in refused[0]["reason"]
    assert not any("round" in e for e in _lines(tmp_path))
