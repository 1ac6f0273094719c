"""The quality check as a ServerApp task (``task = "quality"``) and in secure studies."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from flwr.clientapp import ClientApp

from fedcare.exceptions import ConfigError, DataError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task as run_secure
from fedcare.federation.coordinator.app import main
from fedcare.federation.engines.inprocess import run_quality_inprocess
from fedcare.federation.protocol import ConfigKey
from fedcare.federation.site import client_app, secagg_client_app
from fedcare.study import StudyConfig
from fedcare.study._benchmark import FLAMBY_PROTOCOL

SITES = ["cleveland", "hungary", "switzerland", "va"]


@pytest.fixture(scope="module")
def heart_config(heart_data_dir: Path) -> StudyConfig:
    return StudyConfig(**FLAMBY_PROTOCOL, data_dir=str(heart_data_dir), rounds=1)


def _grid(app: ClientApp, config: StudyConfig, **extra: str | int | float | bool
          ) -> InProcessGrid:
    return InProcessGrid(app, [{"site": s} for s in SITES],
                         {**config.to_run_config(), "num-sites": len(SITES), **extra})


def _main(grid: InProcessGrid) -> dict[str, Any]:
    """The Flower entry point, as a deployment runs it; returns its ``result.json``."""
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    flwr_logger.setLevel(logging.WARNING)
    try:
        context = grid.server_context()
        main(grid, context)
    finally:
        flwr_logger.setLevel(level)
    return dict(json.loads((Path(str(context.run_config["output-dir"])) / "result.json")
                           .read_text()))


def test_quality_task_answers_with_the_report(heart_config: StudyConfig,
                                              tmp_path: Path) -> None:
    expected, _ = run_quality_inprocess(heart_config, SITES)
    grid = _grid(client_app, heart_config, task="quality", **{"output-dir": str(tmp_path)})
    result = _main(grid)
    assert result == json.loads(json.dumps(expected))
    assert result["quality"]["summary"]["blocking"] == 2
    assert {m.metadata.message_type for m in grid.messages_sent} == {"query.schema",
                                                                     "query.quality"}


def test_quality_task_of_a_secure_study_runs_on_the_secure_app(heart_config: StudyConfig,
                                                               tmp_path: Path) -> None:
    config = heart_config.replace(secure_aggregation=True)
    grid = _grid(secagg_client_app, config, task="quality", **{"output-dir": str(tmp_path)})
    result = _main(grid)
    assert result["quality"]["summary"]["blocking"] == 2
    assert not any(r.has_error() for r in grid.replies_received)
    assert {m.metadata.message_type for m in grid.messages_sent} == {"query.schema",
                                                                     "query.quality"}


def test_unknown_task_is_refused(heart_config: StudyConfig, tmp_path: Path) -> None:
    grid = _grid(client_app, heart_config, task="qualty", **{"output-dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="'task' must be one of"):
        _main(grid)
    assert grid.messages_sent == [] and not (tmp_path / "result.json").exists()


def _secure(config: StudyConfig) -> tuple[dict[str, Any], InProcessGrid]:
    grid = _grid(secagg_client_app, config)
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    flwr_logger.setLevel(logging.WARNING)
    try:
        return run_secure(grid, grid.server_context()), grid
    finally:
        flwr_logger.setLevel(level)


def test_secure_study_refuses_on_a_blocking_finding(heart_config: StudyConfig) -> None:
    config = heart_config.replace(secure_aggregation=True, quality_check="refuse")
    grid = _grid(secagg_client_app, config)
    with pytest.raises(DataError) as err:
        run_secure(grid, grid.server_context())
    text = str(err.value)
    assert "refused the study before training" in text and err.value.exit_code == 3
    assert "switzerland chol: value 0 in all 123 values" in text
    assert "va chol: value 0 in 49 of 193 values" in text
    # stopped before standardisation and training: only the schema round, in the clear
    # (every site's own schema is the agreed one, so its quality aggregates came with it)
    assert {m.metadata.message_type for m in grid.messages_sent} == {"query.schema"}


def test_secure_study_warns_and_reports_findings(heart_config: StudyConfig) -> None:
    config = heart_config.replace(secure_aggregation=True, quality_check="warn",
                                  strategy="newton")
    result, grid = _secure(config)
    findings = result["quality"]["findings"]
    assert {"site": "switzerland", "feature": "chol", "kind": "missing_code",
            "severity": "blocking"}.items() <= findings[0].items()
    assert result["arrays"] and result["secure"] is not None  # the study went ahead
    sent = [m.metadata.message_type for m in grid.messages_sent]
    # the aggregates came with the schemas (every site's schema is the agreed one);
    # no sums in the clear under SecAgg+
    assert "query.quality" not in sent and "train" in sent
    schema_asks = [m for m in grid.messages_sent if m.metadata.message_type == "query.schema"]
    assert all(m.content.config_records["config"][ConfigKey.ALSO_QUALITY] == ""
               for m in schema_asks)
    off, off_grid = _secure(config.replace(quality_check="off"))
    assert off["quality"] is None
    assert "query.quality" not in {m.metadata.message_type for m in off_grid.messages_sent}
    assert all(ConfigKey.ALSO_QUALITY not in m.content.config_records["config"]
               for m in off_grid.messages_sent if m.metadata.message_type == "query.schema")


@pytest.mark.slow
def test_quality_task_on_flowers_simulation_engine(heart_config: StudyConfig,
                                                   tmp_path: Path) -> None:
    from fedcare.federation import run_simulation

    expected, _ = run_quality_inprocess(heart_config, SITES)
    result = run_simulation({**heart_config.to_run_config(), "task": "quality"}, len(SITES),
                            workdir=tmp_path, timeout=300)
    assert result["quality"] == json.loads(json.dumps(expected["quality"]))
    assert "arrays" not in result  # no training was run
