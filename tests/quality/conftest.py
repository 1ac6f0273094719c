"""Shared fixtures of the data-quality tests: the heart table, a synthetic lab table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcare.data._heart import heart_disease_table


@pytest.fixture(scope="session")
def heart(heart_dir: Path) -> pd.DataFrame:
    """The 920-row UCI table (site, 10 features, target)."""
    return heart_disease_table(heart_dir)


@pytest.fixture(scope="session")
def heart_csv(heart: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("heart") / "heart.csv"
    heart.to_csv(path, index=False)
    return path


@pytest.fixture
def labs() -> pd.DataFrame:
    """Synthetic lab values with 6 decimals at sites a, b, c: any exact match is a leak."""
    rng = np.random.default_rng(11)
    n = 240
    frame = pd.DataFrame({
        "site": rng.choice(["a", "b", "c"], n),
        "creat": np.round(rng.normal(1.1, 0.3, n), 6),
        "hba1c": np.round(rng.normal(6.0, 1.0, n), 6),
        "sbp": np.round(rng.normal(135.0, 15.0, n), 6),
    })
    logit = 1.5 * (frame["hba1c"] - 6) + 0.02 * (frame["sbp"] - 135)
    frame["event"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame
