"""The coordinator reports each reply as it arrives (``progress.jsonl``): what the study
lead sees live in ``fedcare study submit`` and the console, while a site is still silent
(e.g. waiting for its steward) and when one refuses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from flwr.app import Context, Message, RecordDict
from flwr.serverapp import Grid

from fedcare.exceptions import ConfigError, FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import grid as grid_module
from fedcare.federation.coordinator import run_task
from fedcare.federation.coordinator.app import _pull_interval_of, progress_grid
from fedcare.federation.coordinator.grid import GridWrapper, ProgressGrid, ProgressLog
from fedcare.federation.protocol import request
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


class _LateReplies(GridWrapper):
    """Hides every reply until the grid has been pulled ``late`` times."""

    def __init__(self, grid: InProcessGrid, late: int) -> None:
        super().__init__(grid)
        self.late, self.pulls = late, 0

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        self.pulls += 1
        return [] if self.pulls <= self.late else self._grid.pull_messages(message_ids)


def _slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(grid_module.time, "sleep", slept.append)
    return slept


def _schema_round(grid: Grid) -> list[Message]:
    messages = [request("query.schema", n, {}) for n in grid.get_node_ids()]
    return list(grid.send_and_receive(messages, timeout=60))


def test_replies_are_pulled_on_the_coordinators_schedule_not_flowers_3_s(
        heart_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = StudyConfig(**FLAMBY_PROTOCOL, data_dir=str(heart_data_dir))
    inner = InProcessGrid(client_app, [{"site": s} for s in SITES], config.to_run_config())
    inner.server_context()  # the ServerApp's identity, which new messages carry
    late = _LateReplies(inner, late=3)
    slept = _slept(monkeypatch)
    replies = _schema_round(ProgressGrid(late, None, interval=0.2))
    assert len(replies) == 4 and late.pulls == 4
    assert slept == [0.2, 0.2, 0.2]
    # without an interval: the engine grid's own (Flower's gRPC grid has none: 3 s)
    late.pulls, slept[:] = 0, []
    assert len(_schema_round(ProgressGrid(late))) == 4 and slept == [3.0, 3.0, 3.0]
    with pytest.raises(ValueError, match="pull interval must be > 0 s, got 0"):
        ProgressGrid(late, None, interval=0)


@pytest.mark.parametrize("value", ["soon", 0, -1.5])
def test_a_bad_pull_interval_is_refused_naming_the_key(value: object) -> None:
    context = Context(run_id=1, node_id=0, node_config={}, state=RecordDict(),
                      run_config={"pull-interval": value})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="run config 'pull-interval' must be a number of "
                                          "seconds > 0"):
        _pull_interval_of(context)
    context.run_config["pull-interval"] = 0.5
    assert _pull_interval_of(context) == 0.5


def test_the_servers_grid_pulls_at_the_run_configs_interval_never_slower_than_the_engines(
        tmp_path: Path) -> None:
    class Engine(InProcessGrid):  # stands for an engine grid with its own interval
        def __init__(self, interval: float) -> None:
            super().__init__(client_app, [{"site": "a"}], {})
            self.pull_interval = interval

    def context(**config: object) -> Context:
        return Context(run_id=1, node_id=0, node_config={}, state=RecordDict(),
                       run_config=config)  # type: ignore[arg-type]

    flower = GridWrapper(InProcessGrid(client_app, [{"site": "a"}], {}))  # no attribute: 3 s
    assert not hasattr(flower, "pull_interval")
    assert progress_grid(flower, context(**{"pull-interval": 0.2})).interval == 0.2
    assert progress_grid(flower, context()).interval == 0.2  # the default
    assert progress_grid(Engine(0.1), context(**{"pull-interval": 0.2})).interval == 0.1
    assert progress_grid(flower, context(**{"pull-interval": 3.0})).interval == 3.0
    assert progress_grid(flower, context()).log is None
    out = progress_grid(flower, context(**{"output-dir": str(tmp_path)}))
    assert out.log is not None and out.log.path == tmp_path / "progress.jsonl"
