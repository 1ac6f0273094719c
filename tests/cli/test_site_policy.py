"""``fedcare site policy``: show a site's policy, change it (validated, atomic, audited);
``fedcare site init --missing``: the site's missing-value codes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fedcare.cli import app
from fedcare.config import SitePolicy, read_site_missing, update_policy
from fedcare.exceptions import ConfigError
from fedcare.privacy._audit import verify_log

runner = CliRunner()


def _fedcare(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def site(tmp_path: Path) -> Path:
    data = tmp_path / "va.csv"
    data.write_text("site,age,chol,target\nva,61,0,1\nva,52,230,0\n")
    code, out = _fedcare("site", "init", str(tmp_path / "va"), "--name", "va", "--data",
                         str(data), "--max-epsilon", "3", "--min-cohort", "50",
                         "--models", "logistic", "--unit", "chol=mmol/L",
                         "--missing", "chol=0", "--missing", "ca=9|-1")
    assert code == 0, out
    return tmp_path / "va"


def _policy(site: Path) -> dict[str, object]:
    return dict(tomllib.loads((site / "site.toml").read_text())["policy"])


def _audit(site: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (site / "audit.jsonl").read_text().splitlines()]


def test_init_writes_the_missing_table_the_site_reads(site: Path) -> None:
    assert read_site_missing(site / "site.toml") == {"chol": [0.0], "ca": [9.0, -1.0]}
    assert tomllib.loads((site / "site.toml").read_text())["missing"] == {
        "chol": [0.0], "ca": [9.0, -1.0]}
    init = _audit(site)[0]
    assert init["type"] == "site.init" and init["site"] == "va"
    assert init["missing"] == {"chol": [0.0], "ca": [9.0, -1.0]}


@pytest.mark.parametrize("spec", ["chol", "chol=", "=0", "chol=zero", "chol=0|x", "chol=inf"])
def test_init_refuses_bad_missing_codes_before_writing(tmp_path: Path, spec: str) -> None:
    data = tmp_path / "va.csv"
    data.write_text("site,chol,target\nva,0,1\n")
    code, out = _fedcare("site", "init", str(tmp_path / "va"), "--name", "va", "--data",
                         str(data), "--missing", spec)
    assert code == 5, out
    assert "--missing expects COLUMN=CODE" in out and len(out.strip().splitlines()) == 1
    assert not (tmp_path / "va").exists()


@pytest.mark.parametrize(
    ("table", "match"),
    [("chol = \"zero\"", r"missing\.chol: expected a number or a list of numbers"),
     ("chol = []", r"missing\.chol: expected"),
     ("chol = [0, true]", r"missing\.chol: expected"),
     ("chol = nan", r"missing\.chol: expected"),
     ("chol = {a = 1}", r"missing\.chol: expected")],
)
def test_read_site_missing_names_file_and_key(tmp_path: Path, table: str, match: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(f'[site]\nname = "va"\n\n[missing]\n{table}\n')
    with pytest.raises(ConfigError, match=match) as err:
        read_site_missing(path)
    assert str(path) in str(err.value)
    path.write_text('[site]\nname = "va"\nmissing = 3\n')
    assert read_site_missing(path) == {}  # [site].missing is not the [missing] table
    path.write_text('missing = 3\n')
    with pytest.raises(ConfigError, match="expected a table"):
        read_site_missing(path)
    path.write_text('[policy]\nmin_cell = 5\n\n[missing]\nchol = 0\n')
    assert read_site_missing(path) == {"chol": [0.0]}  # one number: a one-code list
    path.write_text('[policy]\nmin_cell = 5\n')
    assert read_site_missing(path) == {}


def test_show_lists_policy_units_and_missing(site: Path) -> None:
    code, out = _fedcare("site", "policy", str(site))
    assert code == 0, out
    for text in ("Policy of site va", "max_epsilon", "3", "min_cohort", "50",
                 "fedadam", "(default)", "[units]", "mmol/L",
                 "[missing]", "9, -1"):
        assert text in out, text
    assert len(_audit(site)) == 1  # showing changes nothing


def test_set_changes_the_policy_atomically_and_audits_each_change(site: Path) -> None:
    before = (site / "site.toml").read_text()
    code, out = _fedcare("site", "policy", str(site), "--set", "max_epsilon=none",
                         "--set", "min_cell=10", "--set", "models=all")
    assert code == 0, out
    assert "max_epsilon: 3 -> none (no limit)" in out and "min_cell: 5 -> 10" in out
    policy = _policy(site)
    assert "max_epsilon" not in policy and "models" not in policy and policy["min_cell"] == 10
    assert SitePolicy.from_toml(site / "site.toml").max_epsilon is None
    # everything else in site.toml is kept
    after = tomllib.loads((site / "site.toml").read_text())
    assert after["site"] == tomllib.loads(before)["site"]
    assert after["units"] == {"chol": "mmol/L"} and after["missing"]["chol"] == [0.0]
    records = _audit(site)[1:]
    assert [(r["type"], r["key"], r["old"], r["new"]) for r in records] == [
        ("policy.set", "models", ["logistic"], None),
        ("policy.set", "max_epsilon", 3.0, None),
        ("policy.set", "min_cell", 5, 10)]
    assert all(r["site"] == "va" and "@" in str(r["who"]) and r["time"] for r in records)
    assert verify_log(site / "audit.jsonl").records == 4
    code, out = _fedcare("site", "policy", str(site), "--set", "min_cell=10")
    assert code == 0 and "no change" in out and len(_audit(site)) == 4


@pytest.mark.parametrize(
    ("spec", "message"),
    [("max_epsilon=-1", "policy.max_epsilon: expected a number > 0, got -1.0"),
     ("max_epsilon=three", "--set max_epsilon: expected a number > 0 or none (no limit), "
                           "got 'three'"),
     ("min_cell=2.5", "--set min_cell: expected an integer >= 1, got '2.5'"),
     ("min_cohort=0", "policy.min_cohort: expected an integer >= 1, got 0"),
     ("require_secure_aggregation=maybe",
      "--set require_secure_aggregation: expected true or false, got 'maybe'"),
     ("models=logistc", "policy.models must list some of ['logistic', 'mlp', 'cnn'], got "
                        "['logistc']"),
     ("max_eps=1", "--set max_eps: unknown policy setting; did you mean 'max_epsilon'?"),
     ("max_epsilon", "--set expects KEY=VALUE (e.g. max_epsilon=none), got 'max_epsilon'")],
)
def test_bad_values_change_nothing(site: Path, spec: str, message: str) -> None:
    before = (site / "site.toml").read_bytes()
    log_before = (site / "audit.jsonl").read_bytes()
    # a valid change next to the bad one is not applied either
    code, out = _fedcare("site", "policy", str(site), "--set", "min_cell=7", "--set", spec)
    assert code == 5, out
    assert message in out, out
    assert len(out.strip().splitlines()) == 1  # one line
    assert (site / "site.toml").read_bytes() == before
    assert (site / "audit.jsonl").read_bytes() == log_before
    assert not [p for p in site.iterdir() if p.name.startswith(".site.toml")]  # no temp file


def test_a_tampered_audit_log_stops_the_change(site: Path) -> None:
    log = site / "audit.jsonl"
    log.write_text(log.read_text().replace('"va"', '"vb"', 1))
    before = (site / "site.toml").read_bytes()
    code, out = _fedcare("site", "policy", str(site), "--set", "max_epsilon=none")
    assert code == 8, out  # AuditError: nothing is changed without its audit record
    assert (site / "site.toml").read_bytes() == before


def test_not_a_site_folder(tmp_path: Path) -> None:
    code, out = _fedcare("site", "policy", str(tmp_path))
    assert code == 5 and "not a site folder" in out


def test_help_has_an_example() -> None:
    code, out = _fedcare("site", "policy", "--help")
    assert code == 0
    assert "fedcare site policy va/ --set max_epsilon=none" in " ".join(out.split())
    assert "Exit codes" in out


def test_update_policy_does_not_touch_its_input() -> None:
    table = {"max_epsilon": 3.0, "min_cell": 5}
    new, changes = update_policy(table, ["max_epsilon=none", "strategies=newton,fedavg"])
    assert table == {"max_epsilon": 3.0, "min_cell": 5}
    assert new == {"min_cell": 5, "strategies": ["newton", "fedavg"]}
    assert changes == [("strategies", None, ["newton", "fedavg"]), ("max_epsilon", 3.0, None)]


def test_site_init_with_a_missing_table_is_data_not_found(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fedcare.cli import app

    result = CliRunner().invoke(app, ["site", "init", str(tmp_path / "va"), "--name", "va",
                                      "--data", str(tmp_path / "nowhere.csv")])
    assert result.exit_code == 4 and "no such file" in result.output
    assert not (tmp_path / "va").exists()
