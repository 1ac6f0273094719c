"""The same apps on Flower's own simulation engine (Ray) give the same study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fedcare.exceptions import FederationError
from fedcare.federation import run_inprocess, run_simulation
from fedcare.study import StudyConfig
from fedcare.study._benchmark import FLAMBY_PROTOCOL

pytestmark = pytest.mark.slow


def _close(a: object, b: object) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b)
        for key in a:
            _close(a[key], b[key])
    elif isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= 1e-9, (a, b)
    else:
        assert a == b


def test_inprocess_and_flower_simulation_agree(heart_data_dir: Path, tmp_path: Path) -> None:
    config = StudyConfig(**FLAMBY_PROTOCOL,
                         data="builtin:heart-disease", data_dir=str(heart_data_dir), rounds=5)
    sites = ["cleveland", "hungary", "switzerland", "va"]
    embedded, _ = run_inprocess(config, sites)
    simulated = run_simulation(config, len(sites), workdir=tmp_path / "sim")
    for a, b in zip(embedded["arrays"], simulated["arrays"], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    _close(embedded["per_site"], simulated["per_site"])
    _close(embedded["sites"], simulated["sites"])


def test_failed_simulation_run_raises(tmp_path: Path) -> None:
    config = StudyConfig(data=str(tmp_path / "missing.csv"), rounds=1)
    with pytest.raises(FederationError, match="ended 'finished:failed'"):
        run_simulation(config, 2, workdir=tmp_path / "sim")
