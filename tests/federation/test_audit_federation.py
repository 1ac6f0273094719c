"""Audit logs of a real Flower round trip: sites and coordinator, structure but no values."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp.strategy import FedAvg
from typer.testing import CliRunner

from fedcare.cli._audit import audit_app
from fedcare.federation import InProcessGrid
from fedcare.federation.audit import describe
from fedcare.federation.coordinator.grid import AuditingGrid, audit_grid
from fedcare.federation.site.mods import make_audit_mod
from fedcare.privacy._audit import verify_log

PLANTED = 987.654321


def _app() -> ClientApp:
    app = ClientApp(mods=[make_audit_mod()])

    @app.train()
    def train(message: Message, context: Context) -> Message:
        arrays = message.content.array_records["arrays"].to_numpy_ndarrays()
        update = ArrayRecord([arrays[0] + PLANTED])
        metrics = MetricRecord({"num-examples": 10, "train-loss": PLANTED})
        return Message(RecordDict({"arrays": update, "metrics": metrics}), reply_to=message)

    return app


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("audit")
    inner = InProcessGrid(_app(), [{"site": "a"}, {"site": "b"}], {"audit-dir": str(folder)})
    context = inner.server_context()
    grid = audit_grid(inner, context)
    assert isinstance(grid, AuditingGrid)
    strategy = FedAvg(min_train_nodes=2, min_available_nodes=2, min_evaluate_nodes=0,
                      fraction_evaluate=0.0)
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    flwr_logger.setLevel(logging.WARNING)
    try:
        strategy.start(grid=grid, initial_arrays=ArrayRecord([np.full(3, PLANTED)]),
                       num_rounds=2)
    finally:
        flwr_logger.setLevel(level)
    yield folder


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_party_keeps_a_verified_log(audit_dir: Path) -> None:
    assert sorted(p.name for p in audit_dir.iterdir()) == [
        "coordinator.jsonl", "site-a.jsonl", "site-b.jsonl"]
    for site in ("a", "b"):
        summary = verify_log(audit_dir / f"site-{site}.jsonl")
        assert summary.records == 4  # 2 rounds x (received + sent)
        assert summary.by_direction == {"received": 2, "sent": 2}
        assert summary.by_type == {"train": 4}
        assert summary.sites == [site]
    coordinator = verify_log(audit_dir / "coordinator.jsonl")
    assert coordinator.records == 8
    assert coordinator.by_direction == {"received": 4, "sent": 4}
    assert coordinator.sites == ["node1000", "node1001"]
    site_bytes = sum(verify_log(audit_dir / f"site-{s}.jsonl").total_bytes for s in "ab")
    assert coordinator.total_bytes == site_bytes > 0


def test_records_describe_structure_and_privacy_parameters(audit_dir: Path) -> None:
    records = _records(audit_dir / "site-a.jsonl")
    received, sent = records[0], records[1]
    assert received["direction"] == "received" and sent["direction"] == "sent"
    assert [r["round"] for r in records] == [1, 1, 2, 2]  # replies inherit the round
    assert received["arrays"] == {"arrays": [{"name": "0", "shape": [3], "dtype": "float64"}]}
    assert received["privacy"] == {"config": {"server-round": 1}}
    assert sent["arrays"] == {"arrays": [{"name": "0", "shape": [3], "dtype": "float64"}]}
    assert sent["metrics"] == {"metrics": ["num-examples", "train-loss"]}
    assert sent["reply_to"] == received["message_id"]
    assert isinstance(sent["bytes"], int) and sent["bytes"] >= 3 * 8
    coordinator = _records(audit_dir / "coordinator.jsonl")
    replies = {r["reply_to"] for r in coordinator if r["direction"] == "received"}
    assert replies == {r["message_id"] for r in coordinator if r["direction"] == "sent"}
    assert sorted(r["round"] for r in coordinator) == [1] * 4 + [2] * 4


def test_no_array_or_metric_value_is_logged(audit_dir: Path) -> None:
    for path in audit_dir.iterdir():
        text = path.read_text()
        assert "987.65" not in text and "1975.3" not in text, path.name


def test_error_reply_is_described_without_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from flwr.app import Error
    from flwr.supercore.task_identity import TaskIdentity

    # Flower 1.41 stamps a message with the process's task identity (set by a run)
    for name in ("_task_id", "_run_id", "_node_id"):
        monkeypatch.setattr(TaskIdentity, name, 1)

    request = Message(RecordDict(), dst_node_id=5, message_type="train")
    reply = Message(Error(code=3, reason="ValueError: age 987.654321"), reply_to=request)
    record = describe(reply, "received")
    assert record["error"] == {"code": 3, "reason_length": 26}
    assert "987.65" not in json.dumps(record)  # "987" alone may be in a hex message id


def test_no_audit_dir_means_no_log(tmp_path: Path, labs: pd.DataFrame,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # a whole study with audit off, run from an empty working directory: neither the
    # coordinator nor any site may write a log anywhere (a hook writing ./site-a.jsonl
    # would fail here), and no audit log is even opened in this process
    from fedcare.federation import audit as audit_module
    from fedcare.federation import run_inprocess
    from fedcare.study import StudyConfig

    data = tmp_path / "data"
    data.mkdir()
    labs.to_csv(data / "labs.csv", index=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    opened = set(audit_module._logs)
    config = StudyConfig(data=str(data / "labs.csv"), site_column="site", target="event",
                         rounds=2, audit_dir="")
    run_inprocess(config, ["a", "b", "c"])
    assert list(work.rglob("*")) == []
    assert [p.name for p in data.iterdir()] == ["labs.csv"]
    assert set(audit_module._logs) == opened
    inner = InProcessGrid(_app(), [{"site": "a"}], {"audit-dir": ""})
    assert audit_grid(inner, inner.server_context()) is inner


runner = CliRunner()


def test_cli_verify_ok(audit_dir: Path) -> None:
    result = runner.invoke(audit_app, ["verify", str(audit_dir / "site-a.jsonl")])
    assert result.exit_code == 0, result.output
    assert "records" in result.output and "4" in result.output
    assert "train 4" in result.output and "received 2, sent 2" in result.output


def test_cli_verify_tampered_names_the_line(audit_dir: Path, tmp_path: Path) -> None:
    lines = (audit_dir / "coordinator.jsonl").read_text().splitlines(keepends=True)
    assert '"shape":[3]' in lines[2]
    lines[2] = lines[2].replace('"shape":[3]', '"shape":[4]', 1)
    tampered = tmp_path / "coordinator.jsonl"
    tampered.write_text("".join(lines))
    result = runner.invoke(audit_app, ["verify", str(tampered)])
    assert result.exit_code == 8
    assert "error: AuditError:" in result.output and "line 3: hash mismatch" in result.output
    assert '"shape"' not in result.output


def test_cli_help_has_an_example() -> None:
    result = runner.invoke(audit_app, ["verify", "--help"])
    assert result.exit_code == 0
    assert "Example: fedcare audit verify" in result.output
