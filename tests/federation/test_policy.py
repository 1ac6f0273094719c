"""A site refuses what its config does not allow, and the coordinator says who and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedcare.config import SitePolicy
from fedcare.exceptions import ConfigError, FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.site import client_app
from fedcare.study import StudyConfig
from fedcare.study._benchmark import FLAMBY_PROTOCOL

SITES = ["cleveland", "hungary", "switzerland", "va"]


def _run(config: StudyConfig, policies: dict[str, Path]) -> dict:  # type: ignore[type-arg]
    nodes: list[dict[str, str | int | float]] = []
    for site in SITES:
        node: dict[str, str | int | float] = {"site": site}
        if site in policies:
            node["site-config"] = str(policies[site])
        nodes.append(node)
    grid = InProcessGrid(client_app, nodes, {**config.to_run_config(), "num-sites": 4})
    return run_task(grid, grid.server_context())


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text("[policy]\n" + text)
    return path


@pytest.mark.parametrize(
    ("policy", "study", "reason"),
    [
        ('models = ["logistic"]\n', {"model": "mlp", "strategy": "fedavg"},
         "model 'mlp' is not allowed"),
        ("max_epsilon = 3.0\n", {"strategy": "fedavg"},
         "record-level DP with epsilon <= 3.0 is required"),
        ("min_cell = 10\n", {}, "small-cell k 5 is below the site's minimum 10"),
        ("min_cohort = 100\n", {}, "fewer usable patients than its minimum cohort 100"),
    ],
)
def test_site_refuses_and_coordinator_names_it(heart_data_dir: Path, tmp_path: Path, policy: str,
                                               study: dict, reason: str) -> None:  # type: ignore[type-arg]
    config = StudyConfig(**FLAMBY_PROTOCOL, data_dir=str(heart_data_dir), rounds=2, **study)
    with pytest.raises(FederationError) as err:
        _run(config, {"switzerland": _policy(tmp_path, policy)})
    message = str(err.value)
    assert "site 'switzerland' refuses this study" in message and reason in message


def test_site_accepts_a_study_within_its_policy(heart_data_dir: Path, tmp_path: Path) -> None:
    policy = _policy(tmp_path, 'models = ["logistic"]\nmax_epsilon = 8.0\nmin_cohort = 40\n')
    config = StudyConfig(**FLAMBY_PROTOCOL,
                         data_dir=str(heart_data_dir), strategy="fedavg", rounds=2, local_steps=5,
                         dp_epsilon=4.0)
    result = _run(config, {"switzerland": policy})
    assert "switzerland" in result["per_site"]["federated"]


def test_policy_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown policy setting"):
        SitePolicy.from_toml(_policy(tmp_path, "max_eps = 1\n"))
