"""Shared fixtures: the UCI heart-disease files in ../shared, Flower's environment."""

from __future__ import annotations

import os
from pathlib import Path

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
