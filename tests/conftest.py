"""Shared fixtures: the UCI heart-disease files in ../shared, Flower's environment."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
HEART_DIR = (REPO / ".." / "shared" / "datasets" / "uci-heart-disease").resolve()

# Flower reads these; keep its state out of the home directory and never install at run time.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
os.environ.setdefault("FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION", "1")


@pytest.fixture(scope="session")
def heart_dir() -> Path:
    """Directory holding the four UCI processed.*.data files."""
    if not (HEART_DIR / "processed.cleveland.data").is_file():
        pytest.skip(f"UCI heart-disease files not found at {HEART_DIR}")
    return HEART_DIR


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
