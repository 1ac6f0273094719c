"""A site's Cox design matrix cached in its own folder (:mod:`fedcare.federation.site.cox`).

On a deployment every message is a new ClientApp process, so without a disk cache every
Cox round imports pandas and reads the table again. Checked here:

- a federated Cox fit through the site app with its mods gives the same coefficients and
  standard errors (to 1e-12) with the cache off, cold and warm; the design files lie in
  each site's own folder only; every message is audited alike;
- a changed table file is read afresh (another key); a damaged cache file is ignored;
- in a fresh interpreter, an ``eval`` message answered from the warm cache imports no
  pandas and sends the same arrays as one answered from the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fedcare.data._study as study_tables
from fedcare.config import StudyConfig
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator.analytics import run_analytics
from fedcare.federation.site import analytics as site_analytics
from fedcare.federation.site import client_app
from fedcare.federation.site import data as site_data
from fedcare.privacy import verify_log
from fedcare.study._runs import analytics_run_config

SITES = ["east", "north", "south", "west"]
COX = {"analysis": "cox", "duration": "time", "event": "died", "covariates": ["age", "sbp",
                                                                           "smoker"]}


@pytest.fixture
def survival_sites(tmp_path: Path) -> Path:
    """SYNTHETIC survival table: 4 sites, time to death rising with age and smoking."""
    import pandas as pd

    rng = np.random.default_rng(11)
    parts = []
    for k, (site, n) in enumerate(zip(SITES, (150, 120, 90, 60), strict=True)):
        age = rng.normal(62 + k, 9, n).round(0)
        sbp = rng.normal(135, 15, n).round(0)
        smoker = (rng.random(n) < 0.3).astype(int)
        hazard = np.exp(0.04 * (age - 60) + 0.5 * smoker + 0.01 * (sbp - 135))
        time = rng.exponential(1000 / hazard).round(0) + 1
        died = (time < 1500).astype(int)
        parts.append(pd.DataFrame({"site": site, "age": age, "sbp": sbp, "smoker": smoker,
                                   "time": np.minimum(time, 1500), "died": died}))
    path = tmp_path / "synthetic_survival.csv"
    pd.concat(parts).to_csv(path, index=False)
    return path


def _forget() -> None:
    """What a new ClientApp process would not have: the in-memory caches."""
    site_analytics._table.cache_clear()
    site_analytics._prepare.cache_clear()
    for cached in (site_analytics._design, DESIGN):
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()
    study_tables._read.cache_clear()


DESIGN = site_analytics._design


def _values(named: dict[str, float]) -> list[float]:
    return [named[k] for k in sorted(named)]


def _nodes(tmp_path: Path) -> list[dict[str, str | int | float]]:
    nodes: list[dict[str, str | int | float]] = []
    for name in SITES:
        folder = tmp_path / "sites" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "site.toml").write_text("[policy]\n")
        nodes.append({"site": name, "site-config": str(folder / "site.toml")})
    return nodes


def _cox(table: Path, tmp_path: Path, audit: Path, *, forget_each: bool = False
         ) -> dict[str, Any]:
    config = StudyConfig(data=str(table), site_column="site")
    run_config = {**analytics_run_config(config, COX), "num-sites": len(SITES),
                  "audit-dir": str(audit)}
    grid = InProcessGrid(client_app, _nodes(tmp_path), run_config)
    return run_analytics(grid, grid.server_context())


def test_a_cox_fit_from_the_warm_cache_equals_one_without_it(
        survival_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = site_analytics._design.__wrapped__

    def counting(*args: Any) -> Any:
        built.append("x")
        return real(*args)

    monkeypatch.setattr(site_analytics, "_design", counting)
    outs, builds = {}, {}
    for mode in ("off", "cold", "warm"):
        monkeypatch.setenv(site_data.CACHE_ENV, "off" if mode == "off" else "on")
        _forget()
        built.clear()
        outs[mode] = _cox(survival_sites, tmp_path, tmp_path / f"audit-{mode}")
        builds[mode] = len(built)
    assert builds["off"] > 0 and builds["cold"] > 0
    assert builds["warm"] == 0  # every Cox round came from the sites' own folders
    for mode in ("cold", "warm"):
        assert sorted(outs[mode]["coef"]) == ["age", "sbp", "smoker"]
        np.testing.assert_allclose(_values(outs[mode]["coef"]), _values(outs["off"]["coef"]),
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(_values(outs[mode]["se"]), _values(outs["off"]["se"]),
                                   rtol=0, atol=1e-12)
    # the design files lie in the sites' own folders only
    homes = {p.relative_to(tmp_path / "sites").parts[:3] for p in tmp_path.rglob("*.npz")}
    assert homes == {(name, "cache", "cox") for name in SITES}
    # every message of the warm run is audited (and the log verifies), as without the cache
    logs = {mode: {name: tmp_path / f"audit-{mode}" / f"site-{name}.jsonl" for name in SITES}
            for mode in ("off", "warm")}
    counts = {mode: {name: verify_log(path).records for name, path in paths.items()}
              for mode, paths in logs.items()}
    assert counts["warm"] == counts["off"] and min(counts["off"].values()) > 3


def test_a_changed_table_is_read_again_and_a_damaged_file_ignored(
        survival_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    monkeypatch.setenv(site_data.CACHE_ENV, "on")
    _forget()
    first = _cox(survival_sites, tmp_path, tmp_path / "audit-1")
    files = sorted(tmp_path.rglob("cox/*.npz"))
    for f in files:
        f.write_bytes(b"not an npz")
    _forget()
    again = _cox(survival_sites, tmp_path, tmp_path / "audit-2")
    np.testing.assert_allclose(_values(again["coef"]), _values(first["coef"]), rtol=0,
                               atol=1e-12)
    assert all(np.load(f)["x"].ndim == 2 for f in files)  # rewritten
    frame = pd.read_csv(survival_sites)
    frame["age"] = frame["age"] + 10 * (frame["smoker"] == 1)  # another table
    frame.to_csv(survival_sites, index=False)
    _forget()
    changed = _cox(survival_sites, tmp_path, tmp_path / "audit-3")
    assert not np.allclose(_values(changed["coef"]), _values(first["coef"]))
    assert len(list(tmp_path.rglob("cox/*.npz"))) > len(files)


PROBE = r"""
import json, sys
from fedcare.config import StudyConfig
from fedcare.federation.protocol import ConfigKey
from fedcare.federation.site.request import SiteRequest
from fedcare.federation.site.tasks import TASKS
import numpy as np
import os
table, cache, cfg, beta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
cache = None if os.environ.get("FEDCARE_SITE_CACHE") == "off" else cache  # as site_cache_dir
req = SiteRequest(config=StudyConfig(data=table, site_column="site"), key="k", name="north",
                  cfg=cfg, named={"beta": np.array(beta), "offset": np.zeros(len(beta))},
                  cache=cache)
out = TASKS["query.cox"](req)
print(json.dumps({"pandas": "pandas" in sys.modules,
                  "arrays": {k: np.asarray(v).tolist() for k, v in out.arrays.items()}}))
"""


def test_a_warm_cox_message_imports_no_pandas(survival_sites: Path, tmp_path: Path) -> None:
    from fedcare.analytics._request import check_request
    from fedcare.federation.protocol import ConfigKey

    request = json.dumps(check_request({**COX, "stratified": True}), sort_keys=True)
    cfg = {ConfigKey.REQUEST: request, ConfigKey.STEP: "eval", ConfigKey.LEVELS: "{}"}
    beta = [0.03, 0.005, 0.4]
    cache = tmp_path / "north" / "cache"
    runs = []
    for mode in ("off", "on", "on"):  # without; cold (writes); warm (reads)
        done = subprocess.run([sys.executable, "-c", PROBE, str(survival_sites), str(cache),
                               json.dumps(cfg), json.dumps(beta)], capture_output=True,
                              text=True, check=False,
                              env={**os.environ, site_data.CACHE_ENV: mode})
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    off, cold, warm = runs
    assert off["pandas"] and cold["pandas"] and not warm["pandas"]
    assert sorted(warm["arrays"]) == sorted(off["arrays"])
    for key, value in off["arrays"].items():
        np.testing.assert_allclose(warm["arrays"][key], value, rtol=0, atol=1e-12)
