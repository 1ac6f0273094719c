"""Shared pieces of the de-identification tests (every text and table here is synthetic)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def phi_notes() -> ModuleType:
    """``scripts/make_phi_notes.py`` (the synthetic annotated-note generator) as a module."""
    return _script("make_phi_notes")


@pytest.fixture(scope="session")
def crf_trainer() -> ModuleType:
    """``scripts/train_deid_crf.py`` (trains the de-identification CRF) as a module."""
    return _script("train_deid_crf")
