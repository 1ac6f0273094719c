"""A site declares its own units in its site config: converted before the check and training."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fedcare.config import read_site_units
from fedcare.data._heart import HEART_CATEGORICAL, HEART_FEATURES
from fedcare.data._units import QUANTITIES, convert
from fedcare.exceptions import ConfigError, DataError, FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.coordinator.quality import run_quality_check
from fedcare.federation.site import client_app
from fedcare.study import StudyConfig

SITES = ["cleveland", "hungary", "lyon"]


@pytest.fixture(scope="module")
def lyon_csv(heart: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cleveland, Hungary, and Lyon: Cleveland's rows with cholesterol in mmol/L."""
    lyon = heart[heart["site"] == "cleveland"].assign(site="lyon")
    lyon["chol"] = convert(lyon["chol"], "mg/dL", "mmol/L", quantity=QUANTITIES["cholesterol"])
    path = tmp_path_factory.mktemp("lyon") / "t.csv"
    pd.concat([heart[heart["site"].isin(["cleveland", "hungary"])], lyon]).to_csv(path,
                                                                                  index=False)
    return path


def _config(path: Path) -> StudyConfig:
    return StudyConfig(data=str(path), site_column="site", target="target",
                       features=HEART_FEATURES, categorical=HEART_CATEGORICAL, rounds=2,
                       strategy="newton")


def _site_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"site-{len(list(tmp_path.iterdir()))}.toml"
    path.write_text(f'[site]\nname = "lyon"\n\n{text}')
    return path


def _grid(config: StudyConfig, lyon: dict[str, Any]) -> InProcessGrid:
    nodes: list[dict[str, str | int | float]] = [{"site": "cleveland"}, {"site": "hungary"},
                                                 {"site": "lyon", **lyon}]
    return InProcessGrid(client_app, nodes, {**config.to_run_config(), "num-sites": 3})


def _run(runner: Any, grid: InProcessGrid) -> dict[str, Any]:
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    flwr_logger.setLevel(logging.WARNING)
    try:
        return dict(runner(grid, grid.server_context()))
    finally:
        flwr_logger.setLevel(level)


def _lyon_kinds(result: dict[str, Any]) -> list[str]:
    return [f["kind"] for f in result["quality"]["findings"] if f["site"] == "lyon"]


def test_declared_unit_resolves_the_mismatch_in_the_federated_check(
        lyon_csv: Path, tmp_path: Path) -> None:
    config = _config(lyon_csv)
    assert _lyon_kinds(_run(run_quality_check, _grid(config, {}))) == ["unit_mismatch"]
    site_config = _site_config(tmp_path, '[units]\nchol = "mmol/L"\n')
    assert _lyon_kinds(_run(run_quality_check,
                            _grid(config, {"site-config": str(site_config)}))) == []


def test_declared_unit_converts_values_before_training(lyon_csv: Path, tmp_path: Path) -> None:
    config = _config(lyon_csv)
    site_config = _site_config(tmp_path, '[units]\nchol = "mmol/L"\n')
    converted = _run(run_task, _grid(config, {"site-config": str(site_config)}))
    fed = converted["per_site"]["federated"]
    # Lyon's rows are Cleveland's once converted: same split, same test metrics
    for key in ("accuracy", "auc", "test-loss"):
        assert fed["lyon"][key] == pytest.approx(fed["cleveland"][key], abs=1e-9), key
    with pytest.raises(DataError, match="lyon chol: values look like mmol/L"):
        _run(run_task, _grid(config, {}))   # the quality gate stops the study by default
    raw = _run(run_task, _grid(config.replace(quality_check="warn"), {}))
    # unconverted, Lyon's cholesterol is read as mg/dL: the shared model sees other rows
    assert raw["per_site"]["federated"]["lyon"]["test-loss"] != pytest.approx(
        raw["per_site"]["federated"]["cleveland"]["test-loss"], abs=1e-6)
    assert not np.allclose(raw["standardiser"]["mean"], converted["standardiser"]["mean"])


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # pint, kg -> mg/dL
def test_bad_units_are_refused_naming_the_site(lyon_csv: Path, tmp_path: Path) -> None:
    config = _config(lyon_csv)
    bad = _site_config(tmp_path, '[units]\nchol = 5\n')
    with pytest.raises(ConfigError, match="must map feature names to unit codes"):
        read_site_units(bad)
    unknown = _site_config(tmp_path, '[units]\ncholesterol = "mmol/L"\n')
    with pytest.raises(FederationError, match="site 'lyon': units given for "
                                              "\\['cholesterol'\\], which are not features"):
        _run(run_quality_check, _grid(config, {"site-config": str(unknown)}))
    wrong = _site_config(tmp_path, '[units]\nchol = "kg"\n')
    with pytest.raises(FederationError, match="cannot convert cholesterol from 'kg'"):
        _run(run_quality_check, _grid(config, {"site-config": str(wrong)}))


def test_no_units_table_means_the_studys_units(tmp_path: Path) -> None:
    assert read_site_units(_site_config(tmp_path, "[policy]\nmin_cell = 5\n")) == {}


def test_site_init_writes_the_units_the_client_reads(tmp_path: Path, lyon_csv: Path) -> None:
    from typer.testing import CliRunner

    from fedcare.cli._deploy import site_app

    runner = CliRunner()
    site = tmp_path / "lyon"
    result = runner.invoke(site_app, ["init", str(site), "--name", "lyon", "--data",
                                      str(lyon_csv), "--unit", "chol=mmol/L"])
    assert result.exit_code == 0, result.output
    assert read_site_units(site / "site.toml") == {"chol": "mmol/L"}
    result = runner.invoke(site_app, ["init", str(tmp_path / "bad"), "--name", "bad",
                                      "--data", str(lyon_csv), "--unit", "chol"])
    assert result.exit_code == 5 and "--unit expects FEATURE=UNIT" in result.output
    assert not (tmp_path / "bad").exists()  # refused before anything was written
