"""`fedcare model ...`, `fedcare apikey ...`, `fedcare serve --openapi`: outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fedcare.cli import app
from fedcare.registry import Registry

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _run(*args: str, db: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--db", db])
    return result.exit_code, result.stdout, result.stderr


def test_register_list_show_card(tmp_path: Path, run_dir: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    code, out, err = _run("model", "register", str(run_dir), db=db)
    assert code == 0 and "registered: model 1" in out
    assert "limitation: switzerland" in err
    code, out, _ = _run("model", "register", str(run_dir), db=db)
    assert code == 0 and "already registered: model 1" in out
    code, out, _ = _run("model", "list", db=db)
    assert code == 0 and "1 registered model(s)" in out
    code, out, _ = _run("model", "show", "1", "--json", db=db)
    shown = json.loads(out)
    assert shown["id"] == 1 and "arrays" not in shown and shown["provenance"]["rounds"] == 4
    for suffix in ("html", "json"):
        code, _, _ = _run("model", "card", "1", "--out", str(tmp_path / f"card.{suffix}"), db=db)
        assert code == 0
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["model_details"]["id"] == 1 and card["feature_importance"]
    assert "<h2>Known limitations</h2>" in (tmp_path / "card.html").read_text()
    code, out, _ = _run("model", "retire", "1", db=db)
    assert code == 0 and "retired" in out


def test_errors_have_documented_exit_codes(tmp_path: Path, run_dir: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    code, _, err = _run("model", "register", str(tmp_path / "nope"), db=db)
    assert code == 4 and "no such run folder" in err
    code, _, err = _run("model", "show", "9", db=db)
    assert code == 4 and "no model with id 9" in err
    code, _, err = _run("apikey", "create", "--role", "boss", "--name", "x", db=db)
    assert code == 5 and "role must be one of admin, clinician, read-only" in err
    code, _, err = _run("model", "card", "1", "--out", str(tmp_path / "card.pdf"), db=db)
    assert code == 5
    code, _, err = _run("model", "list", db="nosuchdb://x")
    assert code == 5 and "is not usable" in err
    assert not (tmp_path / "card.pdf").exists()


def test_apikey_create_list_revoke(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    code, out, err = _run("apikey", "create", "--role", "clinician", "--name", "ward-7", db=db)
    secret = out.strip()
    assert code == 0 and secret.startswith("fck_") and "not shown again" in err
    registry = Registry(db)
    assert registry.authenticate(secret) is not None
    code, out, _ = _run("apikey", "list", db=db)
    assert "ward-7" in out and secret not in out and secret[:10] in out
    assert _run("apikey", "revoke", "1", db=db)[0] == 0
    assert registry.authenticate(secret) is None


def test_committed_openapi_is_current(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    code, _, _ = _run("serve", "--openapi", str(out), db=f"sqlite:///{tmp_path / 'r.db'}")
    assert code == 0
    committed = (REPO / "docs" / "openapi.json").read_text()
    assert out.read_text() == committed, (
        "docs/openapi.json is stale: fedcare serve --openapi docs/openapi.json")
