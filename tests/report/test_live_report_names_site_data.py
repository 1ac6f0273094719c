"""A live federation's report names each site's own data (as the site names it), not the
coordinator's settings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fedcare.config import StudyConfig
from fedcare.federation import run_inprocess
from fedcare.report import write_report
from fedcare.study import federation_result


def test_each_site_names_its_own_table(tmp_path: Path) -> None:
    # synthetic: three sites, one table file here (each site reads its rows of it)
    rows = [{"site": s, "age": 40 + (i * 7) % 40, "sbp": 110 + (i * 13) % 60,
             "y": int((i * 7) % 40 + (i * 13) % 60 > 50)} for s in "abc" for i in range(60)]
    table = tmp_path / "north_cohort.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    config = StudyConfig(data=str(table), site_column="site", target="y", rounds=1)
    raw, _ = run_inprocess(config, ["a", "b", "c"])
    assert {info["data"] for info in raw["sites"].values()} == {"north_cohort.csv"}
    metrics = federation_result(config, raw, 1.0).to_dict()
    assert metrics["federation"] == "live"
    html = write_report(metrics, tmp_path / "report.html").read_text()
    assert "a (north_cohort.csv)" in html and str(tmp_path) not in html
