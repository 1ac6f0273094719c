"""Safe feature sets (issue "Trust", item 2): without a feature list, columns that
identify people are refused as features, named, and the features used are recorded.
The table is synthetic (three sites, made up here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcare.config import StudyConfig
from fedcare.study import run_study


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    n = 360
    age = rng.normal(60, 10, n).round()
    sbp = rng.normal(135, 18, n).round()
    risk = 1 / (1 + np.exp(-(0.05 * (age - 60) + 0.03 * (sbp - 135))))
    frame = pd.DataFrame({
        "patient_no": rng.permutation(np.arange(10_000, 10_000 + n)),   # unique integers
        "mrn": [f"MRN{v:07d}" for v in rng.choice(9_999_999, n, replace=False)],
        "hospital": np.repeat(["north", "south", "east"], n // 3),
        "age": age, "sbp": sbp,
        "smoker": rng.integers(0, 2, n),
        "died": (rng.random(n) < risk).astype(int),
    })
    # follow-up time: known only after the outcome (shorter for those who died)
    frame["futime"] = np.where(frame.died == 1, rng.uniform(10, 400, n),
                               rng.uniform(300, 2000, n)).round(1)
    path = tmp_path_factory.mktemp("safe") / "synthetic.csv"
    frame.to_csv(path, index=False)
    return path


def test_identifiers_are_refused_named_and_the_features_recorded(table: Path) -> None:
    metrics = run_study(StudyConfig(data=str(table), site_column="hospital", target="died",
                                    rounds=2)).to_dict()
    assert set(metrics["identifiers_refused"]) == {"patient_no", "mrn"}
    assert all("north" in why or "south" in why or "east" in why
               for why in metrics["identifiers_refused"].values())
    assert metrics["features"] == ["age", "sbp", "smoker", "futime"]
    assert metrics["schema"]["encoded_feature_names"] == metrics["features"]
    leaks = [f for f in metrics["quality"]["findings"] if f["kind"] == "leak"]
    assert [f["feature"] for f in leaks] == ["futime"]
    assert leaks[0]["severity"] == "warning" and "likely leak" in leaks[0]["detail"]


def test_a_feature_list_is_taken_as_given(table: Path) -> None:
    metrics = run_study(StudyConfig(data=str(table), site_column="hospital", target="died",
                                    features=["age", "patient_no"], rounds=1)).to_dict()
    assert metrics["features"] == ["age", "patient_no"]
    assert metrics["identifiers_refused"] == {}


def test_a_likely_leak_is_a_banner_at_the_top_of_the_report(table: Path, tmp_path: Path) -> None:
    from fedcare.report import write_report

    metrics = run_study(StudyConfig(data=str(table), site_column="hospital", target="died",
                                    rounds=1)).to_dict()
    html = write_report(metrics, tmp_path / "r.html").read_text()
    banner = html.index('id="likely-leaks"')
    assert banner < html.index("<h2>") and "futime" in html[banner:html.index("<h2>")]
    chosen = run_study(StudyConfig(data=str(table), site_column="hospital", target="died",
                                   features=["age", "sbp", "smoker"], rounds=1)).to_dict()
    assert 'id="likely-leaks"' not in write_report(chosen, tmp_path / "c.html").read_text()
