"""Study approval by a site, in-process: a site on ``approval = "manual"`` answers nothing
until its steward decides; the manifest the steward reads says what the request takes
(for an analytics request: the analysis and its columns, not a study's strategy); a
refusal's reason reaches the coordinator. (On the loopback deployment:
tests/integration/test_deploy_approval.py.)"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fedcare.analytics import check_request
from fedcare.config import StudyConfig
from fedcare.data._heart import heart_disease_table
from fedcare.exceptions import FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator import run_task
from fedcare.federation.protocol import RunKey
from fedcare.federation.site import client_app
from fedcare.federation.site.approval import ApprovalBook

SITES = ["cleveland", "hungary", "switzerland", "va"]


def _start(heart_data_dir: Path, tmp_path: Path) -> tuple[threading.Thread, dict[str, Any]]:
    csv = tmp_path / "heart.csv"
    heart_disease_table(heart_data_dir).to_csv(csv, index=False)
    request = check_request({"analysis": "describe", "columns": ["age", "chol"],
                             "group": "sex", "ranges": {"age": [0.0, 100.0],
                                                        "chol": [0.0, 700.0]}})
    config = StudyConfig(data=str(csv), site_column="site", round_timeout=120)
    run_config = {**config.to_run_config(), RunKey.TASK: "analytics", RunKey.NUM_SITES: 4,
                  RunKey.ANALYTICS_REQUEST: json.dumps(request, sort_keys=True)}
    nodes: list[dict[str, str | int | float]] = []
    for site in SITES:
        folder = tmp_path / site
        folder.mkdir()
        (folder / "site.toml").write_text(
            "[policy]\n" + ('approval = "manual"\n' if site == "cleveland" else ""))
        nodes.append({"site": site, "site-config": str(folder / "site.toml")})
    grid = InProcessGrid(client_app, nodes, run_config)
    outcome: dict[str, Any] = {}

    def go() -> None:
        try:
            outcome["result"] = run_task(grid, grid.server_context())
        except Exception as exc:  # checked by the test
            outcome["error"] = exc

    thread = threading.Thread(target=go)
    thread.start()
    return thread, outcome


def _pending(book: ApprovalBook) -> tuple[str, dict[str, Any]]:
    deadline = time.time() + 60
    while time.time() < deadline:
        for run, entry in book.entries().items():
            if entry["state"] == "pending":
                return run, entry
        time.sleep(0.1)
    pytest.fail("no request reached the manual site")


def test_the_manual_site_waits_for_its_steward(heart_data_dir: Path, tmp_path: Path) -> None:
    thread, outcome = _start(heart_data_dir, tmp_path)
    book = ApprovalBook(tmp_path / "cleveland")
    run, entry = _pending(book)
    m = entry["manifest"]
    assert m["summary"] == "analytics: describe age, chol, by sex"
    assert [x["type"] for x in m["messages"]] == ["query.analytics_setup", "query.describe"]
    assert "cumulative counts at public bin edges" in m["messages"][1]["sends"]
    time.sleep(1.0)
    assert thread.is_alive() and not outcome  # nothing answered while pending
    book.decide(run, True, by="dr-li")
    thread.join(120)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"]["columns"]["age"]["n"] == 920
    for site in ("hungary", "switzerland", "va"):  # approved by their policy, and say so
        other = ApprovalBook(tmp_path / site).state(run)
        assert other is not None and other["decided_by"] == "policy (approval = auto)"


def test_a_refusal_reaches_the_coordinator(heart_data_dir: Path, tmp_path: Path) -> None:
    thread, outcome = _start(heart_data_dir, tmp_path)
    book = ApprovalBook(tmp_path / "cleveland")
    run, _ = _pending(book)
    with pytest.raises(Exception, match="needs a reason"):
        book.decide(run, False, by="dr-li")
    book.decide(run, False, by="dr-li", reason="not the outcome we agreed")
    thread.join(120)
    assert isinstance(outcome.get("error"), FederationError)
    text = str(outcome["error"])
    assert "site 'cleveland' refuses this study" in text and "dr-li" in text
    assert "not the outcome we agreed" in text
