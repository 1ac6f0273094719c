"""A site's ``[policy]`` applies to vertical studies: manual approval waits for the
steward, a minimum cohort and a DP or SecAgg+ requirement refuse (a rule that would
not block would be worse than none)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fedcare.exceptions import PolicyRefusal
from fedcare.federation.engines.deploy import init_site
from fedcare.federation.engines.deploy.layout import set_site_policy
from fedcare.federation.engines.inprocess import run_vertical_inprocess
from fedcare.federation.site.approval import ApprovalBook
from fedcare.study._vertical import Party

CONFIG = {"vertical-mode": "train", "vertical-epochs": 1, "vertical-min-overlap": 10,
          "vertical-other-alone": False, "round-timeout": 60.0}


def _nodes(h: Path, i: Path, insurer_site: Path) -> list[dict[str, Any]]:
    hospital = Party("hospital", h, "patient_id", label="event").node_config()
    insurer = {**Party("insurer", i, "member_id").node_config(),
               "site-config": str(insurer_site / "site.toml")}
    return [hospital, insurer]


@pytest.mark.parametrize(("rule", "says"), [
    ("max_epsilon=3", "requires record-level DP"),
    ("require_secure_aggregation=true", "requires SecAgg+"),
    ("min_cohort=5000", "minimum cohort 5000")])
def test_a_rule_the_study_cannot_meet_refuses_it(
        party_files: tuple[Path, Path, set[str]], tmp_path: Path, rule: str,
        says: str) -> None:
    h, i, _ = party_files
    init_site(tmp_path / "ins", name="insurer")
    set_site_policy(tmp_path / "ins", [rule])
    with pytest.raises(PolicyRefusal, match=f"site 'insurer' refuses this study: .*{says}"):
        run_vertical_inprocess(_nodes(h, i, tmp_path / "ins"), CONFIG)


class _Waiting:
    """A vertical study started in a thread against an insurer whose policy asks its
    steward; returns once the site's approval request is recorded."""

    def __init__(self, h: Path, i: Path, site: Path) -> None:
        init_site(site, name="insurer")
        set_site_policy(site, ["approval=manual"])
        self.book = ApprovalBook(site)
        self.result: dict[str, Any] | None = None
        self.errors: list[BaseException] = []
        self.worker = threading.Thread(target=self._run, args=(_nodes(h, i, site),))
        self.worker.start()
        deadline = time.monotonic() + 30
        while not self.book.entries() and time.monotonic() < deadline:
            time.sleep(0.1)
        ((self.run_id, self.entry),) = self.book.entries().items()

    def _run(self, nodes: list[dict[str, Any]]) -> None:
        try:
            self.result, _ = run_vertical_inprocess(nodes, CONFIG)
        except BaseException as exc:
            self.errors.append(exc)

    def decide(self, approve: bool, reason: str = "") -> None:
        self.book.decide(self.run_id, approve, by="steward", reason=reason)
        self.worker.join(120)


def test_manual_approval_waits_for_the_steward(
        party_files: tuple[Path, Path, set[str]], tmp_path: Path) -> None:
    h, i, _ = party_files
    waiting = _Waiting(h, i, tmp_path / "ins")
    assert waiting.entry["state"] == "pending" and waiting.result is None  # nothing ran
    assert waiting.entry["manifest"]["task"] == "vertical"
    assert "PSI, then a vertical logistic model" in waiting.entry["manifest"]["summary"]
    waiting.decide(True)
    assert waiting.result is not None and not waiting.errors
    assert waiting.result["psi"]["overlap"] > 0 and "joint" in waiting.result["results"]


def test_a_refused_vertical_study_stops(party_files: tuple[Path, Path, set[str]],
                                        tmp_path: Path) -> None:
    h, i, _ = party_files
    waiting = _Waiting(h, i, tmp_path / "ins")
    waiting.decide(False, reason="not in our data-sharing agreement")
    assert waiting.errors and isinstance(waiting.errors[0], PolicyRefusal)
    assert "not in our data-sharing agreement" in str(waiting.errors[0])


def test_the_steward_reads_a_vertical_request(party_files: tuple[Path, Path, set[str]],
                                              tmp_path: Path) -> None:
    """`fedcare site approvals` shows a waiting vertical study (its manifest differs from
    a horizontal study's)."""
    from typer.testing import CliRunner

    from fedcare.cli import app

    h, i, _ = party_files
    waiting = _Waiting(h, i, tmp_path / "ins")
    shown = CliRunner().invoke(app, ["site", "approvals", str(tmp_path / "ins")])
    waiting.decide(False, reason="test over")
    assert shown.exit_code == 0, shown.output
    assert "vertical study: PSI, then a vertical logistic model" in shown.output
    assert "small-cell k -" in shown.output and "query.vpsi" in shown.output
    assert waiting.errors and isinstance(waiting.errors[0], PolicyRefusal)
