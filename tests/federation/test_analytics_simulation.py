"""Federated analytics on Flower's own simulation engine (Ray, via ``flwr run``).

The ServerApp runs analytics when the run config says ``task = "analytics"``; on the
simulation engine each supernode gets a ``partition-id`` and reads the partition-id-th
site (natural order) of the shared CSV. The Cox fit must equal the in-process one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fedcare.config import StudyConfig
from fedcare.federation import run_simulation
from fedcare.federation.engines.inprocess import run_analytics_inprocess
from fedcare.study._runs import analytics_run_config

pytestmark = pytest.mark.slow

SITES = ["1", "2", "3", "4", "5", "6"]
COX = {"analysis": "cox", "duration": "time", "event": "event",
       "categorical": ["fac_sex", "fac_tment"],
       "covariates": ["num_age", "num_bili", "num_alb", "fac_sex", "fac_tment"]}


def test_cox_on_the_simulation_engine_equals_inprocess(tmp_path: Path) -> None:
    survset = pytest.importorskip("SurvSet.data")
    path = tmp_path / "pbc3.csv"
    survset.SurvLoader().load_dataset("Pbc3")["df"].to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="fac_unit")
    simulated = run_simulation(analytics_run_config(config, COX), len(SITES),
                               workdir=tmp_path / "sim")
    inprocess, _ = run_analytics_inprocess(config, COX, SITES)
    assert simulated["analysis"] == "cox" and simulated["stratified"] is True
    assert simulated["sites"] == SITES and simulated["n"] == inprocess["n"]
    assert simulated["rounds"] == inprocess["rounds"]
    for key in ("coef", "se", "p"):
        assert simulated[key] == pytest.approx(inprocess[key], rel=0, abs=1e-12), key
    assert simulated["loglik"] == pytest.approx(inprocess["loglik"], rel=0, abs=1e-9)
    assert json.loads(str(analytics_run_config(config, COX)["analytics-request"]))[
        "analysis"] == "cox"   # the request goes as JSON
