"""The console's security: every page and action refused without a session (401) or with a
lower role (403), CSRF checked on every form and JSON action, a session cookie that cannot
be replayed after logout, the login rate limit; and the pages themselves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fedcare.registry import Registry
from fedcare.serving import create_app

PASSWORD = "correct-horse-battery"
ROLES = ("admin", "study-lead", "site-steward", "clinician", "read-only")

#: (method, path, action the role needs)
PAGES = [("GET", "/console/", "read"), ("GET", "/console/runs", "read"),
         ("GET", "/console/models", "read"), ("GET", "/console/models/1", "read"),
         ("GET", "/console/studies/new", "studies"), ("GET", "/console/assess", "assess")]
ACTIONS = [("POST", "/console/studies", "studies"), ("POST", "/console/assess", "assess"),
           ("POST", "/console/models/1/status", "models.manage"),
           ("POST", "/console/api/assess", "assess")]


@pytest.fixture
def console(registry: Registry, run_dir: Path) -> tuple[Registry, Any]:
    for role in ROLES:
        registry.create_user(role.replace("-", ""), role, PASSWORD,
                             site="cleveland" if role == "site-steward" else None)
    return registry, create_app(registry, runs_dir=run_dir.parent)


def _login(app: Any, name: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    r = client.post("/console/login", data={"name": name, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/console/").text
    csrf = re.search(r'name="csrf" content="([^"]+)"', page)
    assert csrf is not None
    return client, csrf.group(1)


def test_everything_needs_a_session(console: tuple[Registry, Any]) -> None:
    _, app = console
    client = TestClient(app)
    for method, path, _ in PAGES + ACTIONS:
        r = client.request(method, path)
        assert r.status_code == 401, (method, path, r.status_code)
    assert "Sign in" in client.get("/console/runs").text  # the 401 page links to sign in


def test_roles(console: tuple[Registry, Any]) -> None:
    from fedcare.registry import CONSOLE_ROLES

    _, app = console
    for role in ROLES:
        client, csrf = _login(app, role.replace("-", ""))
        for method, path, action in PAGES + ACTIONS:
            data = {"csrf": csrf, "status": "active", "rounds": "1"}
            r = (client.get(path) if method == "GET" else
                 client.post(path, data=data, headers={"X-CSRF-Token": csrf},
                             follow_redirects=False) if "api" not in path else
                 client.post(path, json={"profile": {"age": 50}},
                             headers={"X-CSRF-Token": csrf}))
            allowed = action in CONSOLE_ROLES[role]
            assert (r.status_code != 403) == allowed, (role, method, path, r.status_code)


def test_csrf_is_checked(console: tuple[Registry, Any]) -> None:
    _, app = console
    client, csrf = _login(app, "admin")
    assert client.post("/console/models/1/status", data={"status": "retired"}).status_code \
        == 403
    assert client.post("/console/models/1/status", data={"status": "retired",
                                                          "csrf": "x" * 43}).status_code == 403
    assert client.post("/console/api/assess", json={"profile": {}}).status_code == 403
    assert client.post("/console/logout", data={}).status_code == 403
    r = client.post("/console/models/1/status", data={"status": "retired", "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303


def test_a_cookie_cannot_be_replayed_after_logout(console: tuple[Registry, Any]) -> None:
    _, app = console
    client, csrf = _login(app, "clinician")
    cookie = client.cookies.get("fedcare_session")
    assert cookie
    assert client.post("/console/logout", data={"csrf": csrf},
                       follow_redirects=False).status_code == 303
    thief = TestClient(app)
    thief.cookies.set("fedcare_session", cookie, path="/console")
    assert thief.get("/console/assess").status_code == 401
    forged = TestClient(app)
    forged.cookies.set("fedcare_session", cookie[:-2] + "xx", path="/console")
    assert forged.get("/console/").status_code == 401


def test_login_rate_limit_and_wrong_password(console: tuple[Registry, Any]) -> None:
    _, app = console
    client = TestClient(app)
    codes = [client.post("/console/login", data={"name": "admin", "password": "wrong-pw!"},
                         follow_redirects=False).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    r = client.post("/console/login", data={"name": "admin", "password": PASSWORD})
    assert r.status_code == 429  # the name stays limited for the window


def test_cookie_flags_and_headers(console: tuple[Registry, Any]) -> None:
    _, app = console
    client = TestClient(app)
    r = client.post("/console/login", data={"name": "readonly", "password": PASSWORD},
                    follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    page = client.get("/console/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "https://" not in page.text and "http://" not in page.text.replace(
        "http://testserver", "")  # no CDN: every asset is served by fedcare


def test_passwords_are_argon2id_and_accounts_can_be_disabled(
        console: tuple[Registry, Any]) -> None:
    registry, app = console
    from sqlalchemy import text

    with registry.engine.connect() as c:
        hashes = [row[0] for row in c.execute(text("select password_hash from users"))]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    client, _ = _login(app, "studylead")
    registry.set_user_disabled("studylead", True)
    app.state.console_auth._cache.clear()
    assert client.get("/console/").status_code == 401


def test_run_and_assessment_pages(console: tuple[Registry, Any], run_dir: Path) -> None:
    _, app = console
    client, csrf = _login(app, "admin")
    run = client.get(f"/console/runs/{run_dir.name}")
    assert run.status_code == 200
    for words in ("local", "federated", "pooled", "Membership-inference AUC", "<svg"):
        assert words in run.text
    assert client.get("/console/runs/..%2Fetc").status_code == 404
    form = {"csrf": csrf, "lang": "zh", "age": "58", "sex": "male", "systolic_bp": "148",
            "bp_treated": "false", "total_cholesterol": "5.8",
            "total_cholesterol__unit": "mmol/L", "hdl_cholesterol": "1.1",
            "hdl_cholesterol__unit": "mmol/L", "smoker": "true", "diabetes": "false",
            "egfr": "85", "statin": "false", "person_id": "hm-console-1"}
    page = client.post("/console/assess", data=form)
    assert page.status_code == 200 and "风险评分" in page.text and 'id="w-sbp"' in page.text
    bad = client.post("/console/assess", data={**form, "systolic_bp": "20.5"})
    assert bad.status_code == 422 and "60-300" in bad.text and "20.5" not in bad.text.replace(
        'value="20.5"', "")
    moved = client.post("/console/api/assess", headers={"X-CSRF-Token": csrf},
                        json={"profile": {"age": 58, "sex": "male", "systolic_bp": 120,
                                          "bp_treated": False, "smoker": False,
                                          "diabetes": False, "bmi": 27}, "lang": "en"})
    assert moved.status_code == 200 and moved.json()["gauge"].startswith("<svg")


def test_site_stewards_approve_or_refuse_their_own_sites_studies(
        registry: Registry, run_dir: Path, tmp_path: Path) -> None:
    from fedcare.config import StudyConfig
    from fedcare.federation.engines.deploy import init_site
    from fedcare.federation.engines.deploy.layout import set_site_policy
    from fedcare.federation.site.approval import ApprovalBook, manifest

    for name in ("cleveland", "va"):
        init_site(tmp_path / name, name=name)
        ApprovalBook(tmp_path / name).request("77", name, manifest(StudyConfig()),
                                              auto=False)
    set_site_policy(tmp_path / "cleveland", ["approval=manual", "min_cell=10"])
    registry.create_user("stewcle", "site-steward", PASSWORD, site="cleveland")
    registry.create_user("reader", "read-only", PASSWORD)
    app = create_app(registry, runs_dir=run_dir.parent,
                     site_dirs=[tmp_path / "cleveland", tmp_path / "va"])
    reader, csrf_r = _login(app, "reader")
    page = reader.get("/console/approvals").text
    assert "cleveland · run 77" in page and "train.newton" in page and "Approve" not in page
    # what the site's policy says, beside the manifest
    assert "approval manual; small-cell k ≥ 10" in page and "meets every rule" in page
    assert reader.post("/console/approvals/cleveland/77", data={
        "decision": "approve", "csrf": csrf_r}).status_code == 403
    steward, csrf = _login(app, "stewcle")
    page = steward.get("/console/approvals").text
    assert page.count('value="approve"') == 1  # only Cleveland's request has the form
    assert steward.post("/console/approvals/va/77", data={
        "decision": "approve", "csrf": csrf}).status_code == 403
    no_reason = steward.post("/console/approvals/cleveland/77", data={
        "decision": "refuse", "csrf": csrf})
    assert no_reason.status_code == 400  # a refusal needs a reason: said on a page
    assert "This cannot be done" in no_reason.text and "reason field" in no_reason.text
    r = steward.post("/console/approvals/cleveland/77", data={
        "decision": "approve", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    entry = ApprovalBook(tmp_path / "cleveland").state("77")
    assert entry is not None and entry["state"] == "approved" and entry["decided_by"] == \
        "stewcle"
    assert "approved by stewcle" in steward.get("/console/approvals").text
