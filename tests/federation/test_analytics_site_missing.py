"""A site's own "not recorded" codes (its site config's ``[missing]``, e.g. a cholesterol
of 0 in the heart-disease table) are missing values in federated analytics too, as they
are in a study: found by a new user, whose pooled cholesterol mean came out 231 mg/dL
with a 5% quantile of 0 instead of 247 mg/dL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fedcare.analytics import check_request
from fedcare.config import StudyConfig
from fedcare.data._heart import heart_disease_table
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.protocol import RunKey
from fedcare.federation.site import client_app

SITES = ["cleveland", "hungary", "switzerland", "va"]


def test_describe_recodes_each_sites_missing_codes(heart_data_dir: Path,
                                                   tmp_path: Path) -> None:
    table = heart_disease_table(heart_data_dir)
    csv = tmp_path / "heart.csv"
    table.to_csv(csv, index=False)
    site_toml = tmp_path / "site.toml"
    site_toml.write_text("[missing]\nchol = [0]\ntrestbps = [0]\n")
    request = check_request({"analysis": "describe", "columns": ["chol", "trestbps"],
                             "ranges": {"chol": [0.0, 700.0], "trestbps": [0.0, 250.0]},
                             "bins": 70})
    config = StudyConfig(data=str(csv), site_column="site", min_cell=5)
    run_config = {**config.to_run_config(), RunKey.TASK: "analytics", RunKey.NUM_SITES: 4,
                  RunKey.ANALYTICS_REQUEST: json.dumps(request, sort_keys=True)}
    nodes: list[dict[str, str | int | float]] = [
        {"site": s, "site-config": str(site_toml)} for s in SITES]
    grid = InProcessGrid(client_app, nodes, run_config)
    result = run_task(grid, grid.server_context())
    pooled = table[["chol", "trestbps"]].apply(pd.to_numeric, errors="coerce").replace(0, np.nan)
    assert (table["chol"] == 0).sum() > 100  # the codes are there to recode
    for column in ("chol", "trestbps"):
        got = result["columns"][column]
        assert got["n"] == int(pooled[column].notna().sum())
        assert abs(got["mean"] - pooled[column].mean()) < 1e-9
        # a site with 1 to k-1 missing values withholds its count: the total is a range
        # that holds the true one, never "<5" for 60 missing values
        true = int(pooled[column].isna().sum())
        low, _, high = str(got["n_missing"]).partition("-")
        assert int(float(low)) <= true <= int(float(high or low)), (got["n_missing"], true)
    assert result["columns"]["chol"]["quantiles"]["0.05"]["estimate"] > 100
