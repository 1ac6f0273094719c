"""A site's encoded split cached on disk in its own folder (Flower starts a new ClientApp
process for every message, so an in-memory cache lasts one message on a deployment).

- A whole study through the site app with its mods (policy, small-cell, audit) gives the
  same result, to 1e-9, with the cache off, cold and warm; the warm run reads no table
  for its training and evaluation messages, and the cache files lie in each site's own
  folder only.
- Protections still apply on the warm path: every message is audited, a policy that
  refuses the study refuses it, the DP budget spent is the same.
- A changed table file has another hash and is read afresh; a damaged cache file is
  ignored and rewritten.
- In a fresh interpreter (as Flower runs a ClientApp), a Newton, train and evaluate
  message answered from the warm cache import neither pandas, scipy nor scikit-learn
  (FedAvg's local SGD for the logistic model is numpy), with the same
  arrays as without the cache.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fedcare.data._study as study_tables
from fedcare.config import StudyConfig
from fedcare.exceptions import FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.protocol import ConfigKey, RunKey
from fedcare.federation.site import client_app
from fedcare.federation.site import data as site_data
from fedcare.privacy import verify_log

SITES = ["east", "north", "south", "west"]


def _forget() -> None:
    """What a new ClientApp process would not have: every in-memory cache."""
    site_data._site.cache_clear()
    site_data._prepared.cache_clear()
    study_tables._read.cache_clear()


def _folders(tmp_path: Path, policy: str = "") -> list[dict[str, str | int | float]]:
    nodes: list[dict[str, str | int | float]] = []
    for name in SITES:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        (folder / "site.toml").write_text(f"[policy]\n{policy}")
        nodes.append({"site": name, "site-config": str(folder / "site.toml")})
    return nodes


def _study(config: StudyConfig, nodes: list[dict[str, str | int | float]],
           audit: Path) -> dict[str, Any]:
    run_config = {**config.to_run_config(), RunKey.NUM_SITES: len(nodes),
                  "audit-dir": str(audit)}
    grid = InProcessGrid(client_app, nodes, run_config)
    return run_task(grid, grid.server_context())


def _close(a: Any, b: Any, path: str = "") -> None:
    """``a`` and ``b`` equal, numbers to 1e-9 (NaN equal to NaN)."""
    if path.endswith(("seconds", "elapsed", "started", "finished", "run_id")):
        return
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, (int, float)):
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9, (path, a, b)
    else:
        assert a == b, (path, a, b)


def _drop_timing(out: dict[str, Any]) -> dict[str, Any]:
    """The result as JSON, without the audit folder (each run audits into its own; timings
    are skipped by :func:`_close`)."""
    clean: dict[str, Any] = json.loads(json.dumps(out, default=str))
    clean.get("config", {}).pop("audit-dir", None)
    return clean


@pytest.mark.parametrize("strategy", ["newton", "fedavg-dp"])
def test_a_study_from_the_warm_cache_equals_one_without_it(
        synthetic_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        strategy: str) -> None:
    if strategy == "newton":
        config = StudyConfig(data=str(synthetic_sites), target="event", strategy="newton",
                             rounds=3, min_cell=5)
    else:
        config = StudyConfig(data=str(synthetic_sites), target="event", strategy="fedavg",
                             rounds=3, local_steps=5, dp_epsilon=2.0, min_cell=5)
    nodes = _folders(tmp_path)
    splits: list[str] = []
    real_split = site_data.Site.split

    def counting_split(self: site_data.Site, *args: Any, **kwargs: Any) -> Any:
        splits.append(self.name)
        return real_split(self, *args, **kwargs)

    monkeypatch.setattr(site_data.Site, "split", counting_split)

    outs, reads = {}, {}
    for mode in ("off", "cold", "warm"):
        monkeypatch.setenv(site_data.CACHE_ENV, "off" if mode == "off" else "on")
        _forget()
        splits.clear()
        outs[mode] = _drop_timing(_study(config, nodes, tmp_path / f"audit-{mode}"))
        reads[mode] = len(splits)

    assert reads["off"] > 0 and reads["cold"] > 0
    assert reads["warm"] == 0  # every split came from the site's own folder
    _close(outs["off"], outs["cold"])
    _close(outs["off"], outs["warm"])

    # the cache lies in each site's own folder, nowhere else
    cached = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.npz"))
    assert cached and {p.parts[0] for p in cached} == set(SITES)
    assert all(p.parts[1:3] == ("cache", "splits") for p in cached)

    # every message of the warm run is audited, as without the cache
    for name in SITES:
        off = (tmp_path / "audit-off" / f"site-{name}.jsonl").read_text().splitlines()
        warm = (tmp_path / "audit-warm" / f"site-{name}.jsonl").read_text().splitlines()
        assert len(warm) == len(off) > 4
        assert verify_log(tmp_path / "audit-warm" / f"site-{name}.jsonl").records == len(warm)
    if strategy == "fedavg-dp":  # the same budget spent, reported by every site
        spent = [m["dp-epsilon"] for m in outs["warm"]["per_site"]["federated"].values()]
        assert spent and all(0 < e <= 2.0 + 1e-9 for e in spent)


def test_a_policy_refuses_on_the_warm_path(synthetic_sites: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(site_data.CACHE_ENV, "on")
    config = StudyConfig(data=str(synthetic_sites), target="event", strategy="fedavg",
                         rounds=2, local_steps=3, dp_epsilon=4.0)
    nodes = _folders(tmp_path)
    _forget()
    _study(config, nodes, tmp_path / "audit-1")  # warms every site's cache
    assert list((tmp_path / "north" / "cache" / "splits").glob("*.npz"))
    (tmp_path / "north" / "site.toml").write_text("[policy]\nmax_epsilon = 1.0\n")
    _forget()
    with pytest.raises(FederationError, match="north"):
        _study(config, nodes, tmp_path / "audit-2")


def test_a_changed_table_is_read_again_and_a_damaged_cache_file_rewritten(
        synthetic_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(site_data.CACHE_ENV, "on")
    table = tmp_path / "sites.csv"
    table.write_bytes(synthetic_sites.read_bytes())
    folder = tmp_path / "north"
    folder.mkdir()
    (folder / "site.toml").write_text("[policy]\n")
    cache = site_data.site_cache_dir(str(folder / "site.toml"))
    assert cache == str((folder / "cache").resolve())
    config = StudyConfig(data=str(table), target="event")
    _forget()
    schema = site_data.site(config, "north").local_schema()
    from fedcare.data._study import schema_to_json

    text = schema_to_json(schema)
    first = site_data.cached_split(config, "north", text, cache=cache)
    files = list((folder / "cache" / "splits").glob("*.npz"))
    assert len(files) == 1

    # a damaged file: ignored, the split computed again, the file rewritten
    files[0].write_bytes(files[0].read_bytes()[:40])
    _forget()
    again = site_data.cached_split(config, "north", text, cache=cache)
    np.testing.assert_array_equal(again.X_train, first.X_train)
    np.testing.assert_array_equal(again.y_test, first.y_test)
    with np.load(files[0], allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["X_train"], first.X_train)

    # the table changes (one north value): another hash, read afresh
    frame = pd.read_csv(table)
    row = frame.index[frame["site"] == "north"][0]
    frame.loc[row, "age"] = frame.loc[row, "age"] + 7
    frame.to_csv(table, index=False)
    _forget()
    changed = site_data.cached_split(config, "north", text, cache=cache)
    assert len(list((folder / "cache" / "splits").glob("*.npz"))) == 2
    both = np.vstack([changed.X_train, changed.X_test])
    before = np.vstack([first.X_train, first.X_test])
    assert not np.array_equal(both, before)
    assert abs(both[:, 0].sum() - before[:, 0].sum() - 7) < 1e-9  # age is column 0


PROBE = """
import json, sys
import numpy as np
import fedcare.federation.site.app
from fedcare.config import StudyConfig
from fedcare.federation.protocol import ConfigKey, MessageType
from fedcare.federation.site.data import config_key, site_cache_dir
from fedcare.federation.site.request import SiteRequest
from fedcare.federation.site.tasks import TASKS

config = StudyConfig(data=sys.argv[1], target="event", strategy="newton")
cache = site_cache_dir(sys.argv[2])
cfg = json.loads(sys.argv[3])
n = len(cfg[ConfigKey.STD_MEAN])

def ask(kind, arrays):
    req = SiteRequest(config, config_key(config), "south", cfg=cfg, cache=cache,
                      arrays=[np.asarray(a) for a in arrays])
    return TASKS[kind](req)

w = np.linspace(-0.3, 0.3, n + 1)
newton = ask(MessageType.NEWTON, [w]).arrays
evaluate = ask(MessageType.EVALUATE, [w[:-1].reshape(1, -1), w[-1:]]).metrics
train = ask(MessageType.TRAIN, [w[:-1].reshape(1, -1), w[-1:]]).arrays  # FedAvg's local SGD
heavy = [m for m in ("pandas", "scipy", "sklearn", "torch") if m in sys.modules]
print(json.dumps({"heavy": heavy, "newton": [a.ravel().tolist() for a in newton],
                  "train": [a.ravel().tolist() for a in train], "auc": evaluate["auc"]}))
"""


def test_a_warm_message_imports_neither_pandas_nor_scipy_nor_sklearn(
        synthetic_sites: Path, tmp_path: Path) -> None:
    folder = tmp_path / "south"
    folder.mkdir()
    (folder / "site.toml").write_text("[policy]\n")
    config = StudyConfig(data=str(synthetic_sites), target="event", strategy="newton")
    _forget()
    from fedcare.data._study import schema_to_json

    text = schema_to_json(site_data.site(config, "south").local_schema())
    n = len(site_data.cached_split(config, "south", text).X_train[0])
    cfg = {ConfigKey.SCHEMA: text, ConfigKey.STD_MEAN: [0.0] * n,
           ConfigKey.STD_SCALE: [1.0] * n}
    runs = []
    for cache in ("off", "on", "on"):  # without; cold (writes); warm (reads)
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(synthetic_sites), str(folder / "site.toml"),
             json.dumps(cfg)], capture_output=True, text=True, check=False,
            env={**os.environ, site_data.CACHE_ENV: cache})
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    off, cold, warm = runs
    assert "pandas" in off["heavy"] and "pandas" in cold["heavy"]
    assert warm["heavy"] == []
    for key in ("newton", "train"):
        for a, b in zip(off[key], warm[key], strict=True):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)
    assert warm["auc"] == pytest.approx(off["auc"], abs=1e-12)
