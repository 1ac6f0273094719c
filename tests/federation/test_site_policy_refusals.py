"""A refusal names the rule and the fix in one line; failures are one line per reason.

A site whose policy demands record-level DP can never take part in a Newton study: it
says so, with the study setting and the ``fedcare site policy`` command that would let
it. However Flower wraps a site's error (in-process, simulation, deployment), the
coordinator reports each reason once, without class reprs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from fedcare.config import SitePolicy
from fedcare.data._heart import HEART_MISSING_CODES
from fedcare.exceptions import FederationError, PrivacyBudgetError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.coordinator.rounds import (
    check_replies,
    failure_line,
    site_failure,
    summarise_failures,
)
from fedcare.federation.engines.deploy.layout import set_site_policy
from fedcare.federation.engines.deploy.submit import failure
from fedcare.federation.site import client_app
from fedcare.study import StudyConfig

SITES = ["cleveland", "hungary", "switzerland", "va"]

NEWTON_REFUSAL = (
    "its policy requires record-level DP (max_epsilon = 3), which strategy 'newton' cannot "
    "use; use strategy = 'fedavg' with dp_level = 'record' and dp_epsilon <= 3, or change "
    "the site policy: fedcare site policy {folder} --set max_epsilon=none")


def _site_toml(root: Path, site: str, policy: str) -> Path:
    folder = root / site
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "site.toml"
    path.write_text(f'[site]\nname = "{site}"\n\n[policy]\n{policy}')
    return path


def _run(config: StudyConfig, configs: dict[str, Path]) -> dict[str, Any]:
    from fedcare.federation.site import mods

    mods._policy_at.cache_clear()  # each test writes its own policies at the same paths
    nodes: list[dict[str, str | int | float]] = [
        {"site": s, **({"site-config": str(configs[s])} if s in configs else {})}
        for s in SITES]
    grid = InProcessGrid(client_app, nodes, {**config.to_run_config(), "num-sites": 4})
    flwr = logging.getLogger("flwr")
    level = flwr.level
    flwr.setLevel(logging.WARNING)
    try:
        return dict(run_task(grid, grid.server_context()))
    finally:
        flwr.setLevel(level)


# -- (c) the rule and the fix ---------------------------------------------------------------
def test_newton_study_at_a_dp_site_names_rule_and_fix(tmp_path: Path) -> None:
    policy = SitePolicy.from_toml(_site_toml(tmp_path, "va", "max_epsilon = 3\n"))
    assert policy.violations(StudyConfig(strategy="newton")) == [
        NEWTON_REFUSAL.format(folder="va/")]
    # a DP-capable study without DP is told what to set instead
    (reason,) = policy.violations(StudyConfig(strategy="fedavg"))
    assert "(study: no DP); set dp_epsilon <= 3 with dp_level = 'record'" in reason
    assert reason.endswith("fedcare site policy va/ --set max_epsilon=none")
    (reason,) = policy.violations(StudyConfig(strategy="fedavg", dp_epsilon=2.0,
                                              dp_level="client"))
    assert "(study: client-level DP)" in reason
    assert policy.violations(StudyConfig(strategy="fedavg", dp_epsilon=2.0)) == []
    # every other rule names its fix as well
    strict = SitePolicy.from_toml(_site_toml(
        tmp_path, "vb", 'models = ["logistic"]\nstrategies = ["fedavg"]\nmin_cell = 10\n'
        "require_secure_aggregation = true\n"))
    reasons = strict.violations(StudyConfig(strategy="fedprox", model="mlp"))
    assert [r.rsplit("--set ", 1)[1] for r in reasons] == [
        "models=logistic,mlp", "strategies=fedavg,fedprox", "min_cell=5",
        "require_secure_aggregation=false"]
    assert all("fedcare site policy vb/ --set" in r for r in reasons)


def test_refusal_reaches_the_coordinator_as_one_line(heart_data_dir: Path,
                                                     tmp_path: Path) -> None:
    config = StudyConfig(data_dir=str(heart_data_dir), rounds=2,
                         missing_codes=HEART_MISSING_CODES)
    va = _site_toml(tmp_path, "va", "max_epsilon = 3\n")
    with pytest.raises(FederationError) as err:
        _run(config, {"va": va})
    message = str(err.value)
    assert "\n" not in message and "<class" not in message
    assert f"site 'va' refuses this study: {NEWTON_REFUSAL.format(folder='va/')}" in message
    assert message.count("refuses") == 1
    # the fix the message names works: the same study then runs
    set_site_policy(va.parent, ["max_epsilon=none"])
    assert "va" in _run(config, {"va": va})["per_site"]["federated"]


# -- (d) one line per reason -----------------------------------------------------------------
def test_every_site_refusing_alike_is_said_once(heart_data_dir: Path, tmp_path: Path) -> None:
    config = StudyConfig(data_dir=str(heart_data_dir), rounds=2)
    configs = {s: _site_toml(tmp_path, s, "max_epsilon = 3\n") for s in SITES}
    with pytest.raises(FederationError) as err:
        _run(config, configs)
    message = str(err.value)
    assert "all 4 sites refuse this study: " + NEWTON_REFUSAL.format(
        folder="<site folder>") in message
    assert message.count("its policy requires") == 1
    assert "\n" not in message and "<class" not in message and len(message) < 400


REASON = "site '{s}' refuses this study: " + NEWTON_REFUSAL
# How each engine hands a site's PolicyRefusal to the coordinator (Flower 1.41)
WRAPPED = {
    "inprocess": "PolicyRefusal: {text}",
    "simulation": "<class 'flwr.clientapp.client_app.ClientAppException'>:<'\nException "
                  "ClientAppException occurred. Message: {text}'>",
    "deployment": "<class 'fedcare.exceptions.PolicyRefusal'>:<'{text}'>",
}


@pytest.mark.parametrize("engine", list(WRAPPED))
def test_wrapped_reasons_become_readable_lines(engine: str) -> None:
    lines = [failure_line(f"node {i}", WRAPPED[engine].format(
        text=REASON.format(s=s, folder=f"{s}/"))) for i, s in enumerate(SITES)]
    assert lines[3] == REASON.format(s="va", folder="va/")
    assert summarise_failures(lines, asked=4) == (
        "all 4 sites refuse this study: " + NEWTON_REFUSAL.format(folder="<site folder>"))
    assert summarise_failures(lines[:2], asked=4) == (
        "sites 'cleveland' and 'hungary' refuse this study: "
        + NEWTON_REFUSAL.format(folder="<site folder>"))


def test_other_failures_keep_the_error_name_not_its_repr() -> None:
    deployed = "<class 'fedcare.exceptions.DataError'>:<'column 'chol' not found'>"
    assert failure_line("va", deployed) == "site 'va': DataError: column 'chol' not found"
    assert failure_line("va", "ConnectionError: gone") == "site 'va': ConnectionError: gone"
    assert failure_line("va", "<class 'KeyError'>:<''x''>") == "site 'va': KeyError: 'x'"
    traceback = "ValueError: bad\n  line 2\n" + "x" * 1000
    line = failure_line("va", traceback)
    assert "\n" not in line and len(line) < 450 and line.endswith("...")
    mixed = [failure_line("a", deployed), failure_line("b", deployed),
             failure_line("c", REASON.format(s="c", folder="c/")),
             failure_line("d", "DataError: site 'd' has no rows in t.csv"),
             failure_line("e", "DataError: site 'e' has no rows in t.csv")]
    assert summarise_failures(mixed, asked=5) == (
        "sites 'a' and 'b': DataError: column 'chol' not found | "
        + REASON.format(s="c", folder="c/")
        + " | sites 'd' and 'e': DataError: the site has no rows in t.csv")
    budget = [failure_line(s, "<class 'fedcare.exceptions.PrivacyBudgetError'>:<'spent'>")
              for s in "ab"]
    error = site_failure("round 2: ", budget, 2)
    assert isinstance(error, PrivacyBudgetError)
    assert str(error) == "round 2: all 2 sites: PrivacyBudgetError: spent"


def test_check_replies_reports_one_line() -> None:
    from flwr.app import Error, Message

    from fedcare.federation.protocol import MessageType, request

    def error(node: int, reason: str) -> Message:
        sent = request(MessageType.TRAIN, node, {})
        sent.metadata.__dict__["_message_id"] = f"m{node}"
        out = Message(Error(code=3, reason=reason), reply_to=sent)
        out.metadata.__dict__["_src_node_id"] = node
        return out

    names = {1: "a", 2: "b", 3: "c"}
    replies = [error(n, "<class 'fedcare.exceptions.DataError'>:<'no rows'>") for n in names]
    with pytest.raises(FederationError) as err:
        check_replies(replies, names, what="round 2 (train)")
    assert str(err.value) == "round 2 (train): all 3 sites: DataError: no rows"
    with pytest.raises(FederationError) as err:
        check_replies(replies, names, what="round 2 (train)", min_sites=1)
    assert str(err.value).endswith("failures: all 3 sites: DataError: no rows")


def test_a_deployed_run_failure_is_said_once(tmp_path: Path) -> None:
    details = ("ServerApp failed with exception: query.schema: all 4 sites refuse this "
               "study: " + NEWTON_REFUSAL.format(folder="<site folder>"))
    error = failure("7", details, tmp_path / "run.log")
    assert error is not None
    assert str(error) == (f"run 7 failed: {details.split(': ', 1)[1]} (Flower's log of the "
                          f"run: {tmp_path / 'run.log'})")
    assert failure("7", "No heartbeat received from the task", tmp_path / "run.log") is None
