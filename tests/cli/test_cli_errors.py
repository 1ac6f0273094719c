"""``fedcare study run`` on bad input: exit code, one error line, no patient values, no output.

Every table here is synthetic; the error cases plant distinctive "patient" values
(an age of 987.654, a name-like string "Zyxwvut") that must never reach the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from fedcare.cli import app

PLANTED = ("987.654", "Zyxwvut")


def _frame() -> pd.DataFrame:
    """Two sites, 8 rows each, both outcomes at each site (synthetic)."""
    n = 16
    return pd.DataFrame({
        "hospital": ["alpha"] * 8 + ["beta"] * 8,
        "died": [0, 1] * 8,
        "age": [987.654] + [40.0 + i for i in range(1, n)],
        "sbp": [120.0 + 3 * i for i in range(n)],
        "ward": (["Zyxwvut", "East", "West"] * n)[:n],
    })


def _write(frame: pd.DataFrame) -> Callable[[Path], Path]:
    def write(tmp: Path) -> Path:
        path = tmp / "cohort.csv"
        frame.to_csv(path, index=False)
        return path
    return write


def _non_numeric() -> pd.DataFrame:
    frame = _frame()
    frame["sbp"] = frame["sbp"].astype(object)
    frame.loc[[2, 6], "sbp"] = "Zyxwvut"
    return frame


def _one_class() -> pd.DataFrame:
    frame = _frame()
    frame["died"] = 0
    return frame


def _missing_labels() -> pd.DataFrame:
    frame = _frame()
    frame["died"] = frame["died"].astype(float)
    frame.loc[[1, 4], "died"] = np.nan
    return frame


def _duplicate_header(tmp: Path) -> Path:
    path = tmp / "cohort.csv"
    path.write_text("hospital,died,age,age\n" + "".join(
        f"{'alpha' if i < 4 else 'beta'},{i % 2},{987.654 if i == 0 else 40 + i},Zyxwvut\n"
        for i in range(8)))
    return path


def _binary(tmp: Path) -> Path:
    path = tmp / "cohort.csv"
    path.write_bytes(b"\xff\xfe\x80Zyxwvut,987.654\x00" + bytes(range(128, 256)))
    return path


#: case -> (make the data file, extra options, exit code, text the error must contain)
CASES: dict[str, tuple[Callable[[Path], Path], list[str], int, str]] = {
    "misspelt column": (_write(_frame()), ["--site-column", "hospitl"], 3,
                        "did you mean 'hospital'?"),
    "misspelt feature": (_write(_frame()), ["--features", "agee,sbp"], 3,
                         "did you mean 'age'?"),
    "non-numeric": (_write(_non_numeric()), [], 3,
                    "column 'sbp' is mostly numeric but 2 value(s) are not numbers "
                    "(data rows 3, 7)"),
    "one class": (_write(_one_class()), [], 3, "single class"),
    "missing labels": (_write(_missing_labels()), [], 3, "missing in 2 row(s)"),
    "duplicate header": (_duplicate_header, [], 3, "duplicate column name(s) ['age']"),
    "not a table": (_binary, [], 3, "not UTF-8 text"),
    "missing file": (lambda tmp: tmp / "absent.csv", [], 4, "no such file"),
    "invalid strategy": (_write(_frame()), ["--strategy", "bogus"], 5,
                         "strategy must be one of"),
}


def _invoke(tmp_path: Path, data: Path, extra: list[str]) -> Result:
    options = {"--site-column": "hospital", "--target": "died"}
    for key, value in zip(extra[::2], extra[1::2], strict=True):
        options[key] = value
    args = ["study", "run", "--data", str(data)]
    for key, value in options.items():
        args += [key, value]
    args += ["--out", str(tmp_path / "runs"), "--json", str(tmp_path / "m.json")]
    return CliRunner().invoke(app, args)


def _assert_nothing_written(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
    assert not (tmp_path / "m.json").exists()
    assert not (tmp_path / "m.json.tmp").exists()


def _assert_clean(text: str) -> None:
    assert "Traceback" not in text
    for value in PLANTED:
        assert value.lower() not in text.lower(), text
        assert value.lower() not in text.replace("\n", "").lower(), text


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exit_code_and_message(tmp_path: Path, case: str) -> None:
    make, extra, code, expected = CASES[case]
    result = _invoke(tmp_path, make(tmp_path), extra)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    # Rich may wrap a long line (see test_error_is_a_single_line): compare unwrapped text
    unwrapped = " ".join(result.stderr.split())
    assert unwrapped.startswith("error: ")
    assert expected in unwrapped
    _assert_clean(result.output)
    _assert_nothing_written(tmp_path)


def test_error_class_is_named(tmp_path: Path) -> None:
    result = _invoke(tmp_path, tmp_path / "absent.csv", [])
    assert result.stderr.startswith("error: DataNotFoundError: ")


def test_error_is_a_single_line(tmp_path: Path) -> None:
    make, extra, _, _ = CASES["misspelt column"]
    # a path of 1000+ characters makes the message longer than any terminal is wide
    deep = tmp_path.joinpath(*[c * 200 for c in "defgh"])
    deep.mkdir(parents=True)
    result = _invoke(tmp_path, make(deep), extra)
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: DataError: ")


def test_rounds_zero_is_a_usage_error(tmp_path: Path) -> None:
    result = _invoke(tmp_path, _write(_frame())(tmp_path), ["--rounds", "0"])
    assert result.exit_code == 2
    assert "--rounds" in result.stderr
    _assert_clean(result.output)
    _assert_nothing_written(tmp_path)


def _synthetic(tmp_path: Path) -> Path:
    """Synthetic cohort: 3 sites x 60 rows from a seeded logistic model."""
    rng = np.random.default_rng(20240601)
    parts = []
    for site in ("north", "south", "east"):
        x1, x2 = rng.normal(size=60), rng.normal(size=60)
        smoker = rng.integers(0, 2, size=60)
        risk = 1.0 / (1.0 + np.exp(-(1.2 * x1 - 0.8 * x2 + smoker - 0.5)))
        parts.append(pd.DataFrame({
            "hospital": site, "age": np.round(55 + 10 * x1, 1),
            "sbp": np.round(130 + 15 * x2, 1), "smoker": smoker,
            "died": (rng.random(60) < risk).astype(int),
        }))
    path = tmp_path / "synthetic.csv"
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


def test_study_run_end_to_end(tmp_path: Path) -> None:
    data = _synthetic(tmp_path)
    result = _invoke(tmp_path, data, ["--strategy", "newton", "--rounds", "5"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    assert run.name.endswith("synthetic-newton")
    assert (run / "report.html").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert json.loads((tmp_path / "m.json").read_text()) == metrics
    assert set(metrics["sites"]) == {"north", "south", "east"}
    assert sum(s["n_train"] + s["n_test"] for s in metrics["sites"].values()) == 180
    assert set(metrics["results"]) == {"local", "federated:newton", "personalised:newton",
                                       "pooled"}
    for setting, r in metrics["results"].items():
        for key in ("per_site", "mean_client_accuracy", "pooled_test", "rounds", "seconds"):
            assert key in r, (setting, key)
        assert set(r["per_site"]) == {"north", "south", "east"}
        assert 0.0 <= r["mean_client_accuracy"] <= 1.0
    assert metrics["results"]["federated:newton"]["rounds"] == 5
    # Newton on logistic regression reaches the pooled model in a few rounds
    fed = metrics["results"]["federated:newton"]["pooled_test"]["accuracy"]
    pooled = metrics["results"]["pooled"]["pooled_test"]["accuracy"]
    assert abs(fed - pooled) <= 0.02
    assert fed > 0.6
    assert "report.html" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="fedcare"),
        pytest.param(["demo"], id="demo"),
        pytest.param(["study", "run"], id="study-run"),
        pytest.param(["benchmark", "heart"], id="benchmark-heart"),
    ],
)
def test_help_has_an_example(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_config_file_settings_are_used_unless_overridden(tmp_path: Path) -> None:
    data = _write(_frame())(tmp_path)
    study = tmp_path / "study.toml"
    study.write_text(f'data = "{data}"\nsite_column = "hospital"\ntarget = "died"\n'
                     'strategy = "fedadam"\nrounds = 3\nmin_site_rows = 4\nmin_cell = 2\n')
    args = ["study", "run", "--config", str(study), "--out", str(tmp_path / "runs"),
            "--json", str(tmp_path / "m.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["study"]["strategy"] == "fedadam" and metrics["study"]["rounds"] == 3
    assert "federated:fedadam" in metrics["results"]
    result = CliRunner().invoke(app, [*args, "--rounds", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "m.json").read_text())["study"]["rounds"] == 2


def test_a_study_file_naming_the_builtin_data_runs_and_tol_stops_newton(
        tmp_path: Path, heart_data_dir: Path) -> None:
    """`data = "builtin:heart-disease"` in a study file is data given (it was refused as
    'no data' because it equals the default); --tol stops a Newton study where its
    coefficients settle and says so."""
    study = tmp_path / "heart.toml"
    study.write_text(f'data = "builtin:heart-disease"\ndata_dir = "{heart_data_dir}"\n'
                     'site_column = "site"\ntarget = "target"\nrounds = 10\n'
                     'quality_check = "warn"\n')
    result = CliRunner().invoke(app, ["study", "run", "--config", str(study), "--tol", "1e-6",
                                      "--out", str(tmp_path / "runs"),
                                      "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    ran = json.loads((tmp_path / "m.json").read_text())["results"]["federated:newton"]["rounds"]
    assert 2 < ran < 10
    assert f"newton converged at round {ran} of 10" in " ".join(result.output.split())
    report = next((tmp_path / "runs").glob("*/report.html")).read_text(encoding="utf-8")
    assert f"Newton stopped at round {ran} of 10" in report
    empty = tmp_path / "empty.toml"
    empty.write_text('site_column = "site"\ntarget = "target"\n')
    result = CliRunner().invoke(app, ["study", "run", "--config", str(empty)])
    assert result.exit_code == 5 and "no data" in result.output


def test_unusable_json_path_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "m.json").mkdir()
    data = _write(_frame())(tmp_path)
    result = CliRunner().invoke(app, ["study", "run", "--data", str(data), "--site-column",
                                      "hospital", "--target", "died", "--out",
                                      str(tmp_path / "runs"), "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 5
    assert "is a folder" in result.stderr
    assert not (tmp_path / "runs").exists()  # nothing created before the refusal
