"""A study resumed from the coordinator's checkpoint loses and repeats no round."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fedcare.exceptions import ConfigError, FederationError
from fedcare.federation import run_inprocess
from fedcare.study import StudyConfig
from fedcare.study._benchmark import FLAMBY_PROTOCOL

SITES = ["cleveland", "hungary", "switzerland", "va"]


@pytest.mark.parametrize("strategy", ["fedavg", "newton"])
def test_resume_after_round_2_equals_an_uninterrupted_run(
    heart_data_dir: Path, tmp_path: Path, strategy: str
) -> None:
    base = StudyConfig(**FLAMBY_PROTOCOL, data_dir=str(heart_data_dir), strategy=strategy, rounds=5)
    reference, _ = run_inprocess(base, SITES)
    # the coordinator "crashes" after round 2: its last checkpoint is round 2
    run_inprocess(base.replace(rounds=2, checkpoint_dir=str(tmp_path / "a")), SITES)
    checkpoint = tmp_path / "a" / "checkpoint.json"
    assert json.loads(checkpoint.read_text())["round"] == 2
    resumed, _ = run_inprocess(base.replace(resume_from=str(checkpoint),
                                            checkpoint_dir=str(tmp_path / "b")), SITES)
    for a, b in zip(reference["arrays"], resumed["arrays"], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    rounds = [e["round"] for e in json.loads((tmp_path / "b" / "checkpoint.json").read_text())[
        "history"]]
    assert rounds == [1, 2, 3, 4, 5]  # none lost, none repeated
    assert [e["round"] for e in resumed["history"]] == [1, 2, 3, 4, 5]
    for site, metrics in reference["per_site"]["federated"].items():
        for key, value in metrics.items():
            got = resumed["per_site"]["federated"][site][key]
            assert got == value if not isinstance(value, float) else abs(got - value) < 1e-9


def test_checkpoint_of_another_study_is_refused(heart_data_dir: Path, tmp_path: Path) -> None:
    base = StudyConfig(**FLAMBY_PROTOCOL, data_dir=str(heart_data_dir), strategy="fedavg", rounds=2,
                       checkpoint_dir=str(tmp_path))
    run_inprocess(base, SITES)
    other = base.replace(standardise="none", rounds=4,
                         resume_from=str(tmp_path / "checkpoint.json"), checkpoint_dir="")
    with pytest.raises(FederationError, match="belongs to another study"):
        run_inprocess(other, SITES)


def test_resume_refuses_fedadam_and_dp() -> None:
    with pytest.raises(ConfigError, match="resume_from works for"):
        StudyConfig(strategy="fedadam", resume_from="c.json")
