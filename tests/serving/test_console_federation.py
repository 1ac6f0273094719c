"""The console's federation, audit and analytics pages, read from real folders: a
coordinator folder (``fedcare coordinator init``) whose SuperLink is not running, the
progress a real in-process study wrote, a site folder's approvals and audit log, and
analytics results written by ``fedcare analytics ... --json`` on the PBC3 trial.

The live view against a running SuperLink, with a steward approving and refusing, is
tested on the loopback deployment (tests/integration/test_deploy_approval.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fedcare.cli._analytics import analytics_app
from fedcare.federation.engines.deploy.layout import write_toml
from fedcare.federation.site.approval import ApprovalBook
from fedcare.registry import Registry
from fedcare.serving import create_app

PASSWORD = "correct-horse-battery"
SITES = ["cleveland", "hungary", "switzerland", "va"]
#: the submissions of the federation_folders fixture (tests/serving/conftest.py)
STAMP_OK, STAMP_REFUSED = "20261206-101500-4242-1", "20261206-102000-4243-2"


def _lead(folders: dict[str, Any], runs: Path) -> TestClient:
    registry = Registry(f"sqlite:///{runs.parent / 'console.db'}")
    registry.create_user("lead", "study-lead", PASSWORD)
    client = TestClient(create_app(registry, runs_dir=runs, site_dirs=[folders["site"]],
                                   coordinator_dir=folders["coordinator"]))
    assert client.post("/console/login", data={"name": "lead", "password": PASSWORD},
                       follow_redirects=False).status_code == 303
    return client


def test_sites_and_studies(federation_folders: dict[str, Any], tmp_path: Path) -> None:
    lead = _lead(federation_folders, tmp_path / "runs")
    page = lead.get("/console/federation").text
    assert "does not answer" in page  # no SuperLink running: said, not hidden
    for name in SITES:
        assert f"<td>{name}</td>" in page
    assert "approval manual" in page and "kept at the site" in page
    assert "oldsite" in page and "it@coord" in page
    assert STAMP_OK in page and STAMP_REFUSED in page

    view = lead.get(f"/console/api/federation/{STAMP_OK}").json()
    assert view["state"] == "finished" and view["round"] == 3 and view["of"] == 3
    assert view["sites"] == dict.fromkeys(SITES, "answered")
    html = lead.get(f"/console/federation/{STAMP_OK}").text
    assert "Test loss by round" in html and "Time per round" in html
    assert len(re.findall(r"<title>test log-loss: round", html)) == 3  # hover values
    assert "federated AUC" in html

    refused = lead.get(f"/console/api/federation/{STAMP_REFUSED}").json()
    assert refused["state"] == "failed" and refused["round"] == 0
    assert refused["sites"]["switzerland"] == "refused"
    assert [s for s, v in refused["sites"].items() if v == "answered"] == [
        "cleveland", "hungary", "va"]
    assert "small-cell k 5 is below the site&#39;s minimum 10" in refused["html"]
    assert lead.get("/console/federation/20261206-000000-1-1").status_code == 404
    by_run_id = lead.get("/console/federation/111")  # the Flower run id works too
    assert by_run_id.status_code == 200 and "Study run 111" in by_run_id.text
    assert lead.get("/console/federation/999").status_code == 404
    assert lead.get("/console/federation/..%2f..%2fetc").status_code == 404


def test_a_silent_site_is_shown_waiting_for_its_steward(federation_folders: dict[str, Any],
                                                        tmp_path: Path) -> None:
    # the first message asked cleveland, which has not answered; its folder (on this
    # console) holds a pending request for the run: the study lead reads why
    work = federation_folders["coordinator"] / "runs" / "20261206-103000-4244-3"
    (work / "out").mkdir(parents=True)
    (work / "run_id").write_text("333")
    write_toml(work / "run_config.toml", {"task": "study", "rounds": 3})
    lines = (federation_folders["coordinator"] / "runs" / STAMP_OK / "out" / "progress.jsonl"
             ).read_text().splitlines()
    asked = json.loads(lines[0])
    replies = [line for line in lines[1:5] if '"cleveland"' not in line]
    (work / "out" / "progress.jsonl").write_text("\n".join([lines[0], *replies]) + "\n")
    ApprovalBook(federation_folders["site"]).request("333", "cleveland", {"task": "study"},
                                                     auto=False)
    lead = _lead(federation_folders, tmp_path / "runs")
    view = lead.get("/console/api/federation/20261206-103000-4244-3").json()
    assert asked["event"] == "asked" and view["sites"]["cleveland"] == "awaiting approval"
    assert "its steward has not decided yet" in view["html"]
    assert view["state"] == "unknown (coordinator not answering)"
    # refused by its steward: said at once, before the refusal reaches the coordinator
    ApprovalBook(federation_folders["site"]).decide("333", False, by="dr-x",
                                                   reason="no ethics approval")
    view = lead.get("/console/api/federation/20261206-103000-4244-3").json()
    assert view["sites"]["cleveland"] == "refused"
    assert "its steward (dr-x) refused: no ethics approval" in view["html"]
    shutil.rmtree(work)


def test_audit_logs_are_verified(federation_folders: dict[str, Any], tmp_path: Path) -> None:
    lead = _lead(federation_folders, tmp_path / "runs")
    page = lead.get("/console/audit").text
    assert "site cleveland" in page and "chain intact" in page
    key = re.search(r'href="/console/audit/(\d+)">site cleveland', page)
    assert key is not None
    detail = lead.get(f"/console/audit/{key.group(1)}").text
    assert "approved" in detail and "dr-li" in detail and "requested" in detail
    # a record altered after it was written: the page names the line
    log = federation_folders["site"] / "audit.jsonl"
    original = log.read_text()
    lines = original.splitlines()
    lines[0] = lines[0].replace('"requested"', '"approved"', 1) if '"requested"' in lines[0] \
        else lines[0].replace('"policy', '"Policy', 1)
    log.write_text("\n".join(lines) + "\n")
    try:
        page = lead.get("/console/audit").text
        assert "line 1: hash mismatch" in page and "chain intact" not in page
    finally:
        log.write_text(original)
    assert lead.get("/console/audit/999").status_code == 404


def _analytics(*args: str) -> None:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.add_typer(analytics_app, name="analytics")

    @app.callback()
    def _root() -> None:
        """Test wrapper."""

    result = CliRunner().invoke(app, ["analytics", *args])
    assert result.exit_code == 0, result.output


def test_analytics_pages(tmp_path: Path) -> None:
    survset = pytest.importorskip("SurvSet.data")
    df = survset.SurvLoader().load_dataset("Pbc3")["df"]
    csv = tmp_path / "pbc3.csv"
    df.to_csv(csv, index=False)
    out = tmp_path / "runs" / "analytics"
    out.mkdir(parents=True)
    surv = ("--data", str(csv), "--site-column", "fac_unit", "--duration", "time",
            "--event", "event")
    _analytics("km", *surv, "--group", "fac_tment", "--grid-step", "90", "--json",
               str(out / "km.json"))
    _analytics("cox", *surv, "--covariates", "num_age,num_bili,fac_tment",
               "--categorical", "fac_tment", "--json", str(out / "cox.json"))
    # three synthetic sites, one with 2 patients of arm B: per-site release withholds
    rng = np.random.default_rng(12)
    parts = []
    for name, n in (("a", 150), ("b", 120), ("c", 40)):
        t, cens = rng.exponential(300.0, n).round(), rng.uniform(0, 900.0, n).round()
        arm = rng.choice(["A", "B"], n) if name != "c" else np.array(["A"] * (n - 2)
                                                                      + ["B"] * 2)
        parts.append(pd.DataFrame({"h": name, "t": np.minimum(t, cens) + 1,
                                   "e": (t <= cens).astype(int), "arm": arm}))
    pd.concat(parts).to_csv(tmp_path / "small.csv", index=False)
    _analytics("km", "--data", str(tmp_path / "small.csv"), "--site-column", "h",
               "--duration", "t", "--event", "e", "--group", "arm", "--grid-step", "30",
               "--no-secure-aggregation", "--json", str(out / "withheld.json"))
    (out / "notes.json").write_text('{"not": "a result"}')

    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    registry.create_user("ro", "read-only", PASSWORD)
    client = TestClient(create_app(registry, runs_dir=tmp_path / "runs"))
    client.post("/console/login", data={"name": "ro", "password": PASSWORD})
    listing = client.get("/console/analytics").text
    assert "km.json" in listing and "cox.json" in listing and "notes.json" not in listing

    km = json.loads((out / "km.json").read_text())
    page = client.get("/console/analytics/km.json").text
    assert "Kaplan-Meier survival" in page and "95% CI" in page
    for level in km["km"]["groups"]:  # each curve drawn and hoverable, labelled by group
        assert f"<title>fac_tment = {level}: time" in page
    assert "survival 1" in page  # S(0) = 1 at t = 0

    cox = json.loads((out / "cox.json").read_text())
    page = client.get("/console/analytics/cox.json").text
    assert "Hazard ratios (95% CI)" in page
    for name, hr in cox["hr"].items():
        assert f"<title>{name}: {hr:.3g} (95% CI" in page

    page = client.get("/console/analytics/withheld.json").text
    withheld = json.loads((out / "withheld.json").read_text())
    assert withheld["km"]["reached"] is None  # per-site release withholds every point
    assert "nobody died" in page and "Suppressed" in page
    assert "<svg" not in page.split("</h1>", 1)[1]  # no curve at S = 1 is drawn
    assert client.get("/console/analytics/notes.json").status_code == 404
    assert client.get("/console/analytics/..%2fx.json").status_code == 404
