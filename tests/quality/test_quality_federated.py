"""The check through the Flower apps: equal to the local check, refuse/warn/off, no values."""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pytest

from fedcare.data._heart import HEART_CATEGORICAL, HEART_FEATURES, HEART_UNITS
from fedcare.exceptions import DataError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.engines.inprocess import run_quality_inprocess
from fedcare.federation.site import client_app
from fedcare.quality import check_table
from fedcare.report import write_report
from fedcare.study import StudyConfig
from fedcare.study import run_study as run_whole_study

SITES = ["cleveland", "hungary", "switzerland", "va"]


@pytest.fixture(scope="module")
def heart_config(heart_data_dir: Path) -> StudyConfig:
    # complete cases, as the local check below
    return StudyConfig(data_dir=str(heart_data_dir), rounds=1, missing="complete-case")


def test_federated_check_equals_local_check(heart_config: StudyConfig,
                                            heart: pd.DataFrame) -> None:
    result, grid = run_quality_inprocess(heart_config, SITES, keep_messages=True)
    local = check_table(heart, "site", "target", features=HEART_FEATURES,
                        categorical=HEART_CATEGORICAL, units=HEART_UNITS)
    assert result["quality"] == local.to_dict()
    assert sorted(r.metadata.message_type for r in grid.replies_received) == (
        ["query.quality"] * 4 + ["query.schema"] * 4)


def _grid(config: StudyConfig) -> InProcessGrid:
    return InProcessGrid(client_app, [{"site": s} for s in SITES],
                         {**config.to_run_config(), "num-sites": len(SITES)})


def test_refuse_stops_the_study_before_training(heart_config: StudyConfig) -> None:
    grid = _grid(heart_config.replace(quality_check="refuse"))
    with pytest.raises(DataError) as err:
        run_task(grid, grid.server_context())
    text = str(err.value)
    assert "switzerland chol: value 0 in all 123 values" in text
    assert "va chol: value 0 in 49 of 193 values" in text
    assert err.value.exit_code == 3 and "missing_codes" in text
    sent = {m.metadata.message_type for m in grid.messages_sent}
    # nothing else was asked for: every site's schema is the agreed one, so its quality
    # aggregates came with it
    assert sent == {"query.schema"}


def test_refuse_trains_when_nothing_blocks(tmp_path: Path, labs: pd.DataFrame) -> None:
    path = tmp_path / "labs.csv"
    labs.to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="site", target="event", rounds=1,
                         quality_check="refuse")
    grid = InProcessGrid(client_app, [{"site": s} for s in "abc"],
                         {**config.to_run_config(), "num-sites": 3})
    result = run_task(grid, grid.server_context())
    assert result["quality"]["summary"]["blocking"] == 0
    assert any(m.metadata.message_type.startswith("train") for m in grid.messages_sent)


def test_warn_reports_findings_in_metrics_and_html(heart_config: StudyConfig,
                                                   tmp_path: Path) -> None:
    metrics = run_whole_study(heart_config.replace(quality_check="warn"),
                              pooled=False).to_dict()
    assert any("switzerland" in line and "chol" in line for line in metrics["quality_override"])
    findings = metrics["quality"]["findings"]
    assert {"site": "switzerland", "feature": "chol", "kind": "missing_code",
            "severity": "blocking"}.items() <= findings[0].items()
    assert metrics["results"]  # the study went ahead
    html = write_report(metrics, tmp_path / "report.html").read_text()
    assert "<h2>Data quality</h2>" in html and "missing_code" in html


def test_off_sends_no_quality_message(heart_config: StudyConfig) -> None:
    grid = _grid(heart_config.replace(quality_check="off"))
    result = run_task(grid, grid.server_context())
    assert result["quality"] is None
    assert "query.quality" not in {m.metadata.message_type for m in grid.messages_sent}


def test_no_patient_value_in_any_message(tmp_path: Path, labs: pd.DataFrame) -> None:
    frame = labs
    raw = set(frame[["creat", "hba1c", "sbp"]].to_numpy().ravel().tolist())
    # an exact median would leak: with an odd count it is a patient's value
    odd = next(rows for _, rows in frame.groupby("site") if len(rows) % 2)
    assert float(np.median(odd["sbp"])) in raw
    path = tmp_path / "labs.csv"
    frame.to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="site", target="event")
    result, grid = run_quality_inprocess(config, ["a", "b", "c"], keep_messages=True)
    quartiles = 0
    for reply in grid.replies_received:
        assert not reply.has_error()
        for record in reply.content.metric_records.values():
            for key, value in record.items():
                number = float(cast(float, value))
                assert number not in raw, f"{reply.metadata.message_type} {key} leaks a value"
                quartiles += key.endswith(("/q25", "/q50", "/q75")) and math.isfinite(number)
        for site_record in reply.content.config_records.values():
            text = " ".join(str(v) for v in site_record.values())
            assert not any(f"{v:.6f}".rstrip("0") in text for v in raw)
    assert quartiles == 3 * 3 * 3  # 3 sites x 3 features x 3 quartiles were really sent
    assert result["quality"]["summary"] == {"blocking": 0, "warning": 0, "info": 0}
