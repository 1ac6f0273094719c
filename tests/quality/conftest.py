"""Shared fixtures of the data-quality tests: the heart table, a synthetic lab table."""

from __future__ import annotations

from pathlib import Path

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


