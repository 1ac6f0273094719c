"""``fedcare analytics``: results equal lifelines/pandas on a real multi-centre table.

The PBC3 trial (SurvSet ``Pbc3``, 349 patients, 6 hospitals in ``fac_unit``) is written to
a CSV and split by the CLI; the pooled references are computed on the same CSV. The
bad-input cases are synthetic and plant distinctive values that must never be printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner, Result

from fedcare.analytics import default_edges
from fedcare.cli._analytics import analytics_app

TOL = 1e-6
TIGHT = {"precision": 1e-12, "r_precision": 1e-14, "max_steps": 200}
COVARIATES = ["num_age", "num_bili", "num_alb", "fac_sex", "fac_tment"]
PLANTED = ("987.654", "Zyxwvut")

app = typer.Typer(pretty_exceptions_enable=False)
app.add_typer(analytics_app, name="analytics")


@app.callback()
def _root() -> None:
    """Test wrapper around the analytics group."""


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["analytics", *args])


@pytest.fixture(scope="module")
def pbc3_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    survset = pytest.importorskip("SurvSet.data")
    df = survset.SurvLoader().load_dataset("Pbc3")["df"]
    path = tmp_path_factory.mktemp("pbc3") / "pbc3.csv"
    df.to_csv(path, index=False)
    return path


def _json(result: Result, path: Path) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return dict(json.loads(path.read_text()))


SURV = ("--site-column", "fac_unit", "--duration", "time", "--event", "event")


@pytest.mark.parametrize("stratified", [False, True])
def test_cox_equals_lifelines(pbc3_csv: Path, tmp_path: Path, stratified: bool) -> None:
    lifelines = pytest.importorskip("lifelines")
    out = tmp_path / "cox.json"
    result = _run("cox", "--data", str(pbc3_csv), *SURV, "--covariates", ",".join(COVARIATES),
                  "--categorical", "fac_sex,fac_tment", "--json", str(out),
                  *([] if stratified else ["--exact"]))
    fit = _json(result, out)
    assert fit["stratified"] is stratified
    if not stratified:
        assert "--exact" in result.stderr and "reveal" in result.stderr
    df = pd.read_csv(pbc3_csv).dropna(subset=COVARIATES)
    pooled = df[["time", "event", "num_age", "num_bili", "num_alb"]].copy()
    pooled["fac_sex[T.1]"] = (df.fac_sex == 1).astype(float)
    pooled["fac_tment[T.1]"] = (df.fac_tment == 1).astype(float)
    if stratified:
        pooled["site"] = df.fac_unit
    ref = lifelines.CoxPHFitter().fit(pooled, "time", "event",
                                      strata=["site"] if stratified else None,
                                      fit_options=TIGHT)
    names = list(ref.params_.index)
    assert list(fit["coef"]) == names
    assert np.abs(np.array([fit["coef"][n] for n in names]) - ref.params_.to_numpy()).max() < TOL
    assert np.abs(np.array([fit["se"][n] for n in names])
                  - ref.standard_errors_.to_numpy()).max() < TOL
    summary = ref.summary
    assert np.abs(np.array([fit["p"][n] for n in names]) - summary["p"].to_numpy()).max() < TOL
    ci = np.array([fit["ci"][n] for n in names])
    assert np.abs(ci[:, 0] - summary["exp(coef) lower 95%"].to_numpy()).max() < TOL
    assert np.abs(ci[:, 1] - summary["exp(coef) upper 95%"].to_numpy()).max() < TOL
    assert fit["rounds"] >= 2 and fit["seconds"] >= 0 and fit["n"] == len(df)
    assert set(fit["hr"]) == set(names)
    assert "HR" in result.stdout and "fac_tment[T.1]" in result.stdout


def test_km_exact_equals_lifelines(pbc3_csv: Path, tmp_path: Path) -> None:
    lifelines = pytest.importorskip("lifelines")
    out = tmp_path / "km.json"
    result = _run("km", "--data", str(pbc3_csv), *SURV, "--group", "fac_tment", "--exact",
                  "--json", str(out))
    km = _json(result, out)
    assert "--exact" in result.stderr and "event times" in result.stderr
    df = pd.read_csv(pbc3_csv)
    grid = np.array(km["km"]["grid"])
    assert np.array_equal(grid, np.unique(df.time[df.event == 1]))
    for level in ("0", "1"):
        sub = df[df.fac_tment == int(level)]
        ref = lifelines.KaplanMeierFitter().fit(sub.time, sub.event)
        got = km["km"]["groups"][level]
        want = ref.survival_function_at_times(grid).to_numpy()
        assert np.abs(np.array(got["survival"]) - want).max() < TOL
        ci = ref.confidence_interval_.reindex(grid, method="ffill").fillna(1.0).to_numpy()
        assert np.abs(np.array(got["lower"]) - ci[:, 0]).max() < TOL
        assert np.abs(np.array(got["upper"]) - ci[:, 1]).max() < TOL
    a, b = (df[df.fac_tment == v] for v in (0, 1))
    lr = lifelines.statistics.logrank_test(a.time, b.time, a.event, b.event)
    assert abs(km["km"]["logrank"]["statistic"] - lr.test_statistic) < TOL
    assert abs(km["km"]["logrank"]["p_value"] - lr.p_value) < TOL
    assert "log-rank" in result.stdout


def test_km_coarse_grid_is_protected(pbc3_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "km.json"
    km = _json(_run("km", "--data", str(pbc3_csv), *SURV, "--grid-step", "365",
                    "--json", str(out)), out)
    assert km["exact"] is False
    grid = np.array(km["km"]["grid"])
    assert np.allclose(grid, 365.0 * np.arange(grid.size))
    # default k = 5 on six sites: sites merge intervals; three hospitals have fewer
    # than 5 events, so no interval holding one of their events may be released
    assert km["km"]["released"] < km["km"]["n_grid"]
    assert km["km"]["released_points"] == list(range(km["km"]["released"]))[:1]
    assert km["stop"] == 365.0


def test_describe_means_equal_pandas(pbc3_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "describe.json"
    cols = ["num_age", "num_bili", "num_alb", "time"]
    res = _json(_run("describe", "--data", str(pbc3_csv), "--site-column", "fac_unit",
                     "--columns", ",".join(cols), "--range", "num_age:20:80",
                     "--min-cell", "1", "--json", str(out)), out)
    df = pd.read_csv(pbc3_csv)
    for col in cols:
        d = res["columns"][col]
        x = df[col].dropna().to_numpy(dtype=float)
        assert d["n"] == x.size
        assert abs(d["mean"] - x.mean()) < 1e-9
        assert abs(d["sd"] - x.std(ddof=1)) < 1e-9
        for p, q in d["quantiles"].items():
            exact = float(np.quantile(x, float(p)))
            assert q["lower"] <= exact <= q["upper"]
    assert res["columns"]["num_age"]["edges_from"] == "--range"
    assert res["columns"]["time"]["edges_from"] == "default grid"
    assert res["columns"]["num_age"]["quantiles"]["0.5"]["error_bound"] <= 2 * 60 / 50


def test_describe_table1(pbc3_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "t1.json"
    res = _json(_run("describe", "--data", str(pbc3_csv), "--site-column", "fac_unit",
                     "--columns", "num_age,fac_stage", "--group", "fac_tment",
                     "--min-cell", "1", "--json", str(out)), out)
    df = pd.read_csv(pbc3_csv)
    cells = res["table1"]["cells"]
    for level in (0, 1):
        sub = df[df.fac_tment == level]
        assert cells["n"][str(level)]["value"] == len(sub)
        assert abs(cells["num_age, mean ± sd"][str(level)]["value"] - sub.num_age.mean()) < 1e-9
        assert cells["fac_stage=4, n (%)"][str(level)]["value"] == (sub.fac_stage == "4").sum()


def test_default_edges_are_fixed() -> None:
    edges = default_edges()
    assert np.all(np.diff(edges) > 0) and edges.size == 1621
    assert {10.0, 11.0, 99.0, 100.0, 110.0, 0.0, -0.5} <= set(edges.tolist())


@pytest.mark.parametrize("command", ["cox", "km"])
def test_report_has_one_figure(pbc3_csv: Path, tmp_path: Path, command: str) -> None:
    html = tmp_path / f"{command}.html"
    extra = (["--covariates", "num_age,num_bili,fac_tment"] if command == "cox"
             else ["--group", "fac_tment", "--exact"])
    result = _run(command, "--data", str(pbc3_csv), *SURV, *extra, "--report", str(html))
    assert result.exit_code == 0, result.output
    text = html.read_text()
    assert len(re.findall(r"<img src=\"data:image/png;base64,", text)) == 1
    assert "http" not in text.replace("http-equiv", "")
    assert ("hazard ratio" in text.lower()) if command == "cox" else ("Log-rank" in text)
    assert not list(tmp_path.glob(".*.tmp"))


# --------------------------------------------------------------------------- bad input
def _frame() -> pd.DataFrame:
    """Three synthetic sites of 10 rows with events at every site."""
    n = 30
    return pd.DataFrame({
        "hospital": ["alpha"] * 10 + ["beta"] * 10 + ["gamma"] * 10,
        "days": [987.654] + [float(10 + 7 * i) for i in range(1, n)],
        "died": [i % 2 for i in range(n)],
        "age": [40.0 + i for i in range(n)],
        "ward": (["Zyxwvut", "East", "West"] * n)[:n],
    })


def _planted(case: str) -> pd.DataFrame:
    frame = _frame()
    if case == "duration":
        frame["days"] = frame["days"].astype(object)
        frame.loc[[3, 17], "days"] = "Zyxwvut"
    elif case == "event":
        frame["died"] = frame["died"].astype(float)
        frame.loc[[4], "died"] = 987.654
    elif case == "one site":
        frame["hospital"] = "alpha"
    return frame


BASE = ["--site-column", "hospital", "--duration", "days", "--event", "died"]

#: case -> (frame variant, command line after --data, exit code, expected text)
CASES: dict[str, tuple[str, list[str], int, str]] = {
    "misspelt duration": ("", ["km", "--site-column", "hospital", "--duration", "dayz",
                               "--event", "died", "--exact"], 3,
                          "column 'dayz' (--duration) not found; did you mean 'days'?"),
    "misspelt covariate": ("", ["cox", *BASE, "--covariates", "agee"], 3,
                           "did you mean 'age'?"),
    "misspelt site column": ("", ["describe", "--site-column", "hospitl", "--columns",
                                  "age"], 3, "did you mean 'hospital'?"),
    "non-numeric duration": ("duration", ["km", *BASE, "--exact"], 3,
                             "column 'days' (--duration) is not numeric: 2 value(s) are "
                             "not numbers (data rows 4, 18)"),
    "event not 0/1": ("event", ["cox", *BASE, "--covariates", "age"], 3,
                      "column 'died' (--event) holds 1 value(s) other than 0/1"),
    "too few sites": ("one site", ["km", *BASE, "--grid-step", "30"], 3,
                      "names 1 site; federated analytics needs at least 2"),
    "text in describe": ("", ["describe", "--site-column", "hospital", "--columns",
                              "age,ward"], 3, "['ward'] (--columns) are not numeric"),
    "no grid": ("", ["km", *BASE], 5, "pass --grid-step"),
    "unstratified without opt-in": ("", ["cox", *BASE, "--covariates", "age",
                                         "--no-stratify-by-site"], 5, "add --exact"),
    "bad range": ("", ["describe", "--site-column", "hospital", "--columns", "age",
                       "--range", "age:80:20"], 5, "need finite LO < HI"),
    "bad ties": ("", ["cox", *BASE, "--covariates", "age", "--ties", "exact"], 5,
                 "--ties must be efron or breslow"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(tmp_path: Path, case: str) -> None:
    variant, args, code, expected = CASES[case]
    data = tmp_path / "cohort.csv"
    _planted(variant).to_csv(data, index=False)
    out, html = tmp_path / "out.json", tmp_path / "out.html"
    result = _run(args[0], "--data", str(data), *args[1:], "--json", str(out),
                  "--report", str(html))
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    unwrapped = " ".join(result.stderr.split())
    assert "error: " in unwrapped and expected in unwrapped, unwrapped
    assert "Traceback" not in result.output
    for value in PLANTED:
        assert value.lower() not in result.output.replace("\n", "").lower()
    assert not out.exists() and not html.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]


def test_missing_file_is_exit_4(tmp_path: Path) -> None:
    result = _run("describe", "--data", str(tmp_path / "absent.csv"), "--site-column", "h",
                  "--columns", "age")
    assert result.exit_code == 4
    assert "no such file" in result.stderr
