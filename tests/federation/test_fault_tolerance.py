"""A site that drops mid-study is skipped for those rounds and rejoins; the report says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedcare.exceptions import FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.site import client_app
from fedcare.federation.testing import make_dropout_mod, with_mods
from fedcare.report import write_report
from fedcare.study import StudyConfig, federation_result
from fedcare.study._benchmark import FLAMBY_PROTOCOL

SITES = ["cleveland", "hungary", "switzerland", "va"]


def _run(config: StudyConfig, drop_rounds: str) -> dict:  # type: ignore[type-arg]
    app = with_mods(client_app, [make_dropout_mod()])
    run_config = {**config.to_run_config(), "num-sites": 4, "drop-site": "va",
                  "drop-rounds": drop_rounds}
    grid = InProcessGrid(app, [{"site": s} for s in SITES], run_config)
    return run_task(grid, grid.server_context())


def test_dropped_site_is_skipped_and_rejoins(heart_data_dir: Path, tmp_path: Path) -> None:
    config = StudyConfig(**FLAMBY_PROTOCOL,
                         data_dir=str(heart_data_dir), strategy="fedavg", rounds=5,
                         min_sites_per_round=3)
    fed = _run(config, "2,3")
    assert fed["missing_rounds"] == {"va": [2, 3]}
    assert "va" in fed["per_site"]["federated"]  # rejoined for round 4 and the final eval
    metrics = federation_result(config, fed, 1.0).to_dict()
    assert metrics["missing_rounds"] == {"va": [2, 3]}
    html = write_report(metrics, tmp_path / "r.html").read_text()
    assert "Missing rounds" in html and "round(s)\n2, 3" in html


def test_without_fault_tolerance_a_dropped_site_stops_the_study(heart_data_dir: Path) -> None:
    config = StudyConfig(**FLAMBY_PROTOCOL,
                         data_dir=str(heart_data_dir), strategy="fedavg", rounds=3)
    with pytest.raises(FederationError, match=r"site 'va'.*dropped out in round 2"):
        _run(config, "2")


def test_too_few_sites_stops_the_study(heart_data_dir: Path) -> None:
    config = StudyConfig(**FLAMBY_PROTOCOL,
                         data_dir=str(heart_data_dir), strategy="newton", rounds=3,
                         min_sites_per_round=4)
    with pytest.raises(FederationError, match="fewer than min_sites_per_round 4"):
        _run(config, "2")
