"""The SYNTHETIC FHIR/OMOP/CSV generator of scripts/make_fhir_sites.py, for the data tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fhir_generator() -> ModuleType:
    """scripts/make_fhir_sites.py as a module (``generate(out, patients=, seed=, formats=)``)."""
    spec = importlib.util.spec_from_file_location("make_fhir_sites",
                                                  REPO / "scripts" / "make_fhir_sites.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_fhir_sites", module)
    spec.loader.exec_module(module)
    return module
