"""``data check`` and ``study check`` on a local Typer app: tables, outputs, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fedcare.cli._quality import register

_data, _study = typer.Typer(), typer.Typer()
register(_data, _study)
app = typer.Typer()
app.add_typer(_data, name="data")
app.add_typer(_study, name="study")
runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "220"})
    return result.exit_code, result.output


def test_data_check_on_heart_prints_findings_and_fails_on_blocking(heart_csv: Path) -> None:
    code, out = _invoke("data", "check", "--data", str(heart_csv), "--site-column", "site",
                        "--target", "target")
    assert code == 3
    assert "│ blocking │ switzerland │ chol     │ missing_code │ value 0 in all 123 values" in out
    assert "2 blocking, 6 warning, 2 info" in out
    assert "error: DataError: data quality: 2 finding(s) of severity blocking" in out


def test_data_check_writes_json_and_report(heart_csv: Path, tmp_path: Path) -> None:
    json_out, report = tmp_path / "q.json", tmp_path / "q.html"
    code, out = _invoke("data", "check", "--data", str(heart_csv), "--site-column", "site",
                        "--target", "target", "--json", str(json_out), "--report", str(report),
                        "--fail-on", "never")
    assert code == 0, out
    payload = json.loads(json_out.read_text())
    assert payload["source"] == str(heart_csv)
    assert {"site": "switzerland", "feature": "chol", "kind": "missing_code",
            "severity": "blocking"}.items() <= payload["findings"][0].items()
    assert all(set(f) == {"site", "feature", "kind", "severity", "detail"}
               for f in payload["findings"])
    assert payload["sites"]["switzerland"]["prevalence"] == pytest.approx(115 / 123, abs=1e-4)
    assert payload["features"]["chol"]["va"]["codes"] == {"0": 49}
    html = report.read_text()
    assert "<h2>Data quality</h2>" in html and "switzerland" in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.html", "q.json"]  # no temp files


def test_declared_site_unit_resolves_the_mismatch(heart: pd.DataFrame, tmp_path: Path) -> None:
    from fedcare.data._units import QUANTITIES, convert

    lyon = heart[heart["site"] == "cleveland"].assign(site="lyon")
    lyon["chol"] = convert(lyon["chol"], "mg/dL", "mmol/L", quantity=QUANTITIES["cholesterol"])
    path = tmp_path / "t.csv"
    pd.concat([heart, lyon]).to_csv(path, index=False)
    out_json = tmp_path / "q.json"
    base = ("data", "check", "--data", str(path), "--site-column", "site", "--target", "target",
            "--unit", "chol=mg/dL", "--fail-on", "never", "--json", str(out_json))

    def lyon_findings() -> list[tuple[str, str]]:
        findings = json.loads(out_json.read_text())["findings"]
        return [(f["kind"], f["detail"]) for f in findings if f["site"] == "lyon"]

    code, _ = _invoke(*base)  # the table wraps with the terminal's width: read the JSON
    assert code == 0
    assert [k for k, d in lyon_findings() if d.startswith("values look like mmol/L, not "
                                                          "mg/dL")] == ["unit_mismatch"]
    code, _ = _invoke(*base, "--site-unit", "lyon:chol=mmol/L")
    assert code == 0 and lyon_findings() == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--data", "{tmp}/nope.csv", "--site-column", "site"), 4, "nope.csv: no such file"),
        (("--data", "{heart}", "--site-column", "sites", "--target", "target"), 3,
         "site column 'sites' not found; did you mean 'site'?"),
        (("--data", "{heart}", "--site-column", "site", "--target", "outcome"), 3,
         "target column 'outcome' not found"),
        (("--data", "{heart}", "--site-column", "site", "--unit", "chol"), 5,
         "--unit expects FEATURE=UNIT"),
        (("--data", "{heart}", "--site-column", "site", "--fail-on", "sometimes"), 5,
         "--fail-on must be one of"),
        (("--data", "{heart}", "--site-column", "site", "--json", "{tmp}/x",
          "--report", "{tmp}/x"), 5, "--json and --report name the same file"),
        (("--data", "{heart}", "--site-column", "site", "--json", "{tmp}/no/x.json"), 5,
         "does not exist or is not writable"),
    ],
)
def test_bad_input_gives_one_clear_error(heart_csv: Path, tmp_path: Path, args: tuple[str, ...],
                                         code: int, message: str) -> None:
    filled = [a.format(tmp=tmp_path, heart=heart_csv) for a in args]
    exit_code, out = _invoke("data", "check", *filled)
    assert exit_code == code, out
    assert message in out
    assert "Traceback" not in out and out.count("error:") == 1
    assert list(tmp_path.iterdir()) == []


def test_study_check_runs_the_federation(heart_data_dir: Path, tmp_path: Path) -> None:
    study = tmp_path / "study.toml"
    study.write_text(f'data_dir = "{heart_data_dir}"\nquality_check = "refuse"\n')
    json_out = tmp_path / "q.json"
    code, out = _invoke("study", "check", str(study), "--json", str(json_out))
    assert code == 3
    assert "│ blocking │ switzerland │ chol     │ missing_code │" in out
    payload = json.loads(json_out.read_text())
    assert payload["study"] == str(study) and payload["excluded_sites"] == {}
    assert len(payload["findings"]) == 10


def test_help_has_an_example_and_the_exit_codes() -> None:
    for group in ("data", "study"):
        code, out = _invoke(group, "check", "--help")
        assert code == 0 and "Example: fedcare" in out and "Exit codes: 0 success" in out


def test_study_check_bad_study_file(tmp_path: Path) -> None:
    study = tmp_path / "study.toml"
    study.write_text('quality_check = "sometimes"\n')
    code, out = _invoke("study", "check", str(study))
    assert code == 5 and "quality_check must be one of ['refuse', 'warn', 'off']" in out
    code, out = _invoke("study", "check", str(tmp_path / "none.toml"))
    assert code == 5 and "no such study file" in out


def test_study_check_live_cli_path_with_submission_mocked_prints_and_fails_like_embedded(
        heart_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fedcare.federation.engines.inprocess import run_quality_inprocess

    study = tmp_path / "study.toml"
    study.write_text(f'data_dir = "{heart_data_dir}"\n')
    (tmp_path / "coord").mkdir()
    calls: list[tuple[str, int, float]] = []

    def fake_submit(config: object, coordinator: Path, *, n_sites: int, timeout: float,
                    on_progress: object = None,
                    extra_run_config: object = None) -> dict[str, object]:
        calls.append((str(coordinator), n_sites, timeout))
        result, _ = run_quality_inprocess(config, ["cleveland", "hungary",  # type: ignore[arg-type]
                                                           "switzerland", "va"])
        return json.loads(json.dumps(result))  # as read back from result.json

    from fedcare.study import _runs

    monkeypatch.setattr(_runs, "submit", fake_submit)
    embedded_json, live_json = tmp_path / "e.json", tmp_path / "l.json"
    code_e, out_e = _invoke("study", "check", str(study), "--json", str(embedded_json))
    code_l, out_l = _invoke("study", "check", str(study), "--json", str(live_json),
                            "--coordinator", str(tmp_path / "coord"), "--sites", "4",
                            "--timeout", "90")
    assert calls == [(str(tmp_path / "coord"), 4, 90.0)]
    assert code_e == code_l == 3
    first_l, _, rest_l = out_l.partition("\n")
    first_e, _, rest_e = out_e.partition("\n")
    assert first_l.startswith("data-quality check over 4 sites (live federation: ")
    assert first_e == "data-quality check over 4 sites (in-process)"
    # the first line names the coordinator folder and may wrap: compare from the tables on
    rest_l, rest_e = rest_l[rest_l.index("Sites"):], rest_e[rest_e.index("Sites"):]
    assert rest_l.replace(str(live_json), "J") == rest_e.replace(str(embedded_json), "J")
    assert json.loads(live_json.read_text()) == json.loads(embedded_json.read_text())
    code, _ = _invoke("study", "check", str(study), "--coordinator", str(tmp_path / "coord"),
                      "--sites", "4", "--fail-on", "never")
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--sites", "3"), "--sites applies only with --coordinator"),
     (("--coordinator", "{tmp}"), "--coordinator needs --sites N"),
     (("--coordinator", "{tmp}/nowhere", "--sites", "3"), "nowhere: no such folder")])
def test_study_check_live_options(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    study = tmp_path / "study.toml"
    study.write_text("rounds = 1\n")
    code, out = _invoke("study", "check", str(study), *[a.format(tmp=tmp_path) for a in args])
    assert code == 5 and message in out and out.count("error:") == 1
