"""Study approval by a site, end to end on a loopback deployment (TLS, node keys).

Cleveland's policy says ``approval = "manual"``; the other three approve by policy.
A first study waits, with nothing answered by Cleveland, until its steward approves it
in the console's Approvals page (in Debian's chromium), and then runs to the end; a second
study is refused by the steward with a reason in the same page, and the coordinator
reports that refusal (without a browser: ``fedcare site approve`` / ``refuse``). Every
request and decision is in the sites' hash-chained audit logs. Throughout, the study lead watches in
the console (``fedcare serve --coordinator DIR --site DIR``): Cleveland awaiting its
steward, then answered; the second study refused with the steward's reason.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fedcare.cli import app
from fedcare.config import StudyConfig
from fedcare.data._heart import HEART_MISSING_CODES
from fedcare.federation.engines.deploy import (
    enroll_site,
    init_coordinator,
    init_site,
    start_coordinator,
    start_site,
    stop_process,
    submit,
)
from fedcare.federation.engines.deploy.layout import set_site_policy
from fedcare.federation.site.approval import ApprovalBook
from fedcare.privacy import verify_log
from fedcare.registry import Registry
from fedcare.serving import create_app

pytestmark = pytest.mark.slow

SITES = ["cleveland", "hungary", "switzerland", "va"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def federation(heart_data_dir: Path) -> Iterator[dict[str, Any]]:
    root = Path(tempfile.mkdtemp(prefix="fca-", dir="/tmp"))
    port = free_port()
    coordinator = root / "coord"
    init_coordinator(coordinator, port=port)
    processes = []
    try:
        processes.append(start_coordinator(coordinator))
        for name in SITES:
            init_site(root / name, name=name)
            enroll_site(coordinator, root / name / "node.pub", name=name)
        set_site_policy(root / "cleveland", ["approval=manual"])
        for name in SITES:
            processes.append(start_site(
                root / name, coordinator_address=f"127.0.0.1:{port}",
                ca_cert=coordinator / "ca.pem",
                data_node_config={"site": name,
                                  "site-config": str(root / name / "site.toml")},
                clientappio_port=free_port()))
        yield {"root": root, "coordinator": coordinator}
    finally:
        for proc in reversed(processes):
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


def _run(federation: dict[str, Any], config: StudyConfig) -> tuple[threading.Thread,
                                                                    dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def go() -> None:
        try:
            outcome["result"] = submit(config, federation["coordinator"], n_sites=4,
                                       timeout=600)
        except Exception as exc:  # checked by the test
            outcome["error"] = exc

    thread = threading.Thread(target=go)
    thread.start()
    return thread, outcome


ARTIFACTS = Path(os.environ.get("FEDCARE_ARTIFACTS", Path(__file__).resolve().parents[2]
                                / "test-artifacts")) / "console"
CHROMIUM = os.environ.get("FEDCARE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def _browsers(app: Any) -> Iterator[dict[str, Any] | None]:
    """The console served on loopback (uvicorn in a thread) and, where Debian's chromium
    and Playwright are installed (``.ci/browser.sh``; required under ``make test``), one
    signed-in browser page each for the study lead and Cleveland's steward."""
    if not (Path(CHROMIUM).exists() and importlib.util.find_spec("playwright")):
        if os.environ.get("FEDCARE_REQUIRE_DATA") == "1":
            pytest.fail("chromium or playwright missing: eval \"$(.ci/browser.sh)\"")
        yield None
        return
    import uvicorn
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                          log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            pages = {"base": base}
            for name in ("lead", "dr-wang"):
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.goto(f"{base}/console/login")
                page.fill("#name", name)
                page.fill("#password", "correct-horse-battery")
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/console/")
                pages[name] = page
            yield pages
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)


def _console(federation: dict[str, Any]) -> dict[str, Any]:
    """A console that watches this federation and holds Cleveland's folder, with its
    study lead and Cleveland's steward signed in (each with their own session)."""
    registry = Registry(f"sqlite:///{federation['root'] / 'console.db'}")
    registry.create_user("lead", "study-lead", "correct-horse-battery")
    registry.create_user("dr-wang", "site-steward", "correct-horse-battery", site="cleveland")
    app = create_app(registry, runs_dir=federation["root"] / "runs",
                     site_dirs=[federation["root"] / "cleveland"],
                     coordinator_dir=federation["coordinator"])
    out: dict[str, Any] = {"app": app}
    for name in ("lead", "dr-wang"):
        client = TestClient(app)
        r = client.post("/console/login", data={"name": name,
                                                "password": "correct-horse-battery"},
                        follow_redirects=False)
        assert r.status_code == 303
        out[name] = client
    return out


def _watch(client: TestClient, run: str, site: str, states: set[str],
           deadline: float) -> dict[str, Any]:
    """The console's live view of run ``run`` once ``site`` is in one of ``states``."""
    stamp = None
    while time.time() < deadline:
        if stamp is None:
            page = client.get("/console/federation").text
            stamp = next((s for s in re.findall(r'href="/console/federation/([0-9-]+)"', page)
                          if _run_id(client, s) == run), None)
        if stamp is not None:
            view = client.get(f"/console/api/federation/{stamp}").json()
            if view["sites"].get(site) in states:
                view["stamp"] = stamp
                return dict(view)
        time.sleep(0.5)
    pytest.fail(f"the console never showed {site} as {states} for run {run}")


def _run_id(client: TestClient, stamp: str) -> str:
    page = client.get(f"/console/federation/{stamp}").text
    found = re.search(r"<h1>Study run (\d+)", page)
    return found.group(1) if found else ""


def _pending(book: ApprovalBook, seen: set[str], deadline: float) -> str:
    while time.time() < deadline:
        for run, entry in book.entries().items():
            if entry["state"] == "pending" and run not in seen:
                return str(run)
        time.sleep(0.5)
    pytest.fail("no approval request reached the site")


def test_a_site_approves_one_study_and_refuses_another(federation: dict[str, Any],
                                                        heart_data_dir: Path) -> None:
    cleveland = federation["root"] / "cleveland"
    book = ApprovalBook(cleveland)
    config = StudyConfig(data="builtin:heart-disease", data_dir=str(heart_data_dir),
                         strategy="newton", rounds=2, missing_codes=HEART_MISSING_CODES,
                         round_timeout=300)
    runner = CliRunner()
    console = _console(federation)
    with _browsers(console["app"]) as browsers:
        _approve_then_refuse(federation, config, book, runner, console, browsers)

    # every request and decision is in Cleveland's hash-chained audit log
    summary = verify_log(cleveland / "audit.jsonl")
    assert summary.records >= 4
    audit = console["lead"].get("/console/audit").text
    assert "site cleveland" in audit and "chain intact" in audit


def _approve_then_refuse(federation: dict[str, Any], config: StudyConfig, book: ApprovalBook,
                         runner: CliRunner, console: dict[str, Any],
                         browsers: dict[str, Any] | None) -> None:
    cleveland = federation["root"] / "cleveland"
    lead = console["lead"]

    # 1. a study waits for Cleveland's steward, then runs once approved
    thread, outcome = _run(federation, config)
    run = _pending(book, set(), time.time() + 240)
    waiting = _watch(lead, run, "cleveland", {"awaiting approval"}, time.time() + 60)
    assert "its steward has not decided yet" in waiting["html"]
    listed = runner.invoke(app, ["site", "approvals", str(cleveland)])
    assert listed.exit_code == 0 and f"run {run}" in listed.output
    assert "train.newton" in listed.output and "patient rows: never" in listed.output
    time.sleep(5)  # the site holds its answer while the request is pending
    assert thread.is_alive() and "result" not in outcome
    if browsers is not None:  # the steward approves in the Approvals page ...
        watching = browsers["lead"]  # ... while the study lead has the study's page open
        watching.goto(f"{browsers['base']}/console/federation/{run}")
        watching.wait_for_selector("tr.site-awaiting-approval[data-site=cleveland]")
        steward = browsers["dr-wang"]
        steward.goto(f"{browsers['base']}/console/approvals")
        steward.click(f"#h-cleveland-{run} ~ form button[value=approve]")
        steward.wait_for_selector("text=approved by dr-wang")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        steward.screenshot(path=str(ARTIFACTS / "deploy-approvals-1280.png"), full_page=True)
    else:
        approved = runner.invoke(app, ["site", "approve", str(cleveland), run, "--by",
                                       "dr-wang"])
        assert approved.exit_code == 0, approved.output
    # each round's end -> the console's live API showing it (printed, not asserted; the
    # page itself polls this API every second)
    latencies, shown = [], 0
    while thread.is_alive():
        view = lead.get(f"/console/api/federation/{waiting['stamp']}").json()
        if view["round"] > shown and view["last_round_end"]:
            latencies.append(round(time.time() - float(view["last_round_end"]), 3))
            shown = view["round"]
        time.sleep(0.2)
    thread.join(600)
    print(f"deployed study, round end -> console API: {latencies} s")
    assert "error" not in outcome, outcome.get("error")
    assert sorted(outcome["result"]["per_site"]["federated"]) == SITES
    if browsers is not None:  # the lead's page (polling) shows the study run to its end
        watching.wait_for_selector("#live[data-state=finished]", timeout=30000)
        watching.wait_for_selector("tr.site-answered[data-site=cleveland]")
        assert "Round 2 of 2" in watching.inner_text("#live")
        watching.screenshot(path=str(ARTIFACTS / "deploy-study-1280.png"), full_page=True)
    done = _watch(lead, run, "cleveland", {"answered"}, time.time() + 30)
    assert done["state"] == "finished" and done["round"] == 2 and done["of"] == 2
    assert set(done["sites"].values()) == {"answered"}
    page = lead.get(f"/console/federation/{done['stamp']}").text
    assert "Test loss by round" in page and "federated AUC" in page
    sites_page = lead.get("/console/federation").text
    for name in SITES:
        assert f"<td>{name}</td>" in sites_page
    assert "approval manual" in sites_page  # the policy of the site folder it holds
    for name in ("hungary", "switzerland", "va"):  # approved by their policy, and say so
        entry = ApprovalBook(federation["root"] / name).state(run)
        assert entry is not None and entry["decided_by"] == "policy (approval = auto)"

    # 2. the next study is refused with a reason (in the console, or fedcare site refuse
    # without a browser), and both the
    # coordinator and the study lead's page report it
    thread, outcome = _run(federation, config)
    second = _pending(book, {run}, time.time() + 240)
    if browsers is not None:
        watching.goto(f"{browsers['base']}/console/federation/{second}")
        watching.wait_for_selector("tr.site-awaiting-approval[data-site=cleveland]")
    reason = "no ethics approval for this outcome yet"
    if browsers is not None:  # the steward refuses in the Approvals page, with a reason
        refuser = "dr-wang"
        steward.goto(f"{browsers['base']}/console/approvals")
        steward.fill(f"#reason-cleveland-{second}", reason)
        steward.click(f"#h-cleveland-{second} ~ form button[value=refuse]")
        steward.wait_for_selector(f"text=refused by {refuser}")
        steward.screenshot(path=str(ARTIFACTS / "deploy-refusing-1280.png"), full_page=True)
    else:  # fedcare site refuse (also tested alone: tests/cli/test_site_approvals.py)
        refuser = "dr-li"
        refused = runner.invoke(app, ["site", "refuse", str(cleveland), second, "--reason",
                                      reason, "--by", refuser])
        assert refused.exit_code == 0, refused.output
    if browsers is not None:
        watching.wait_for_selector("tr.site-refused[data-site=cleveland]", timeout=30000)
        assert "no ethics approval for this outcome yet" in watching.inner_text("#live")
        watching.wait_for_selector("#live[data-state=failed]", timeout=60000)
        watching.screenshot(path=str(ARTIFACTS / "deploy-refused-1280.png"), full_page=True)
    thread.join(600)
    refusal = _watch(lead, second, "cleveland", {"refused"}, time.time() + 30)
    assert "no ethics approval for this outcome yet" in refusal["html"]
    assert refusal["state"] in ("failed", "finished:failed")
    assert "error" in outcome
    assert "cleveland" in str(outcome["error"]) and "no ethics approval" in str(
        outcome["error"])
    assert book.state(second)["state"] == "refused"  # type: ignore[index]
    assert book.state(second)["decided_by"] == refuser  # type: ignore[index]
    assert book.state(run)["decided_by"] == "dr-wang"  # type: ignore[index]

