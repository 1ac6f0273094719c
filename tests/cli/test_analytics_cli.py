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
                    "--no-secure-aggregation", "--json", str(out)), out)
    assert km["exact"] is False and km["mode"] == "per-site"
    grid = np.array(km["km"]["grid"])
    assert np.allclose(grid, 365.0 * np.arange(grid.size))
    # default k = 5 on six sites: sites merge intervals; three hospitals have fewer
    # than 5 events, so no interval holding one of their events may be released
    assert km["km"]["released"] < km["km"]["n_grid"]
    assert km["km"]["released_points"] == list(range(km["km"]["released"]))[:1]
    assert km["stop"] == 365.0


def test_km_default_is_secure_totals(pbc3_csv: Path, tmp_path: Path) -> None:
    # issue 12: with >= 3 sites the default sums the counts with SecAgg+ and protects
    # the totals: the same table as above now keeps most of the yearly grid
    out = tmp_path / "km.json"
    result = _run("km", "--data", str(pbc3_csv), *SURV, "--grid-step", "365",
                  "--json", str(out))
    km = _json(result, out)
    assert km["mode"] == "secure-totals"
    assert km["km"]["released"] >= 5 and km["km"]["reached"] >= 4 * 365.0
    assert "secure aggregation" in result.stdout and "follow-up reached" in result.stdout
    assert "rows_dropped" in km


def _small_group_table(path: Path) -> Path:
    """Three synthetic sites; site 'c' holds only 2 patients of arm 'B' (1..k-1)."""
    rng = np.random.default_rng(12)
    parts = []
    for name, n in (("a", 150), ("b", 120), ("c", 40)):
        t, cens = rng.exponential(300.0, n).round(), rng.uniform(0, 900.0, n).round()
        arm = rng.choice(["A", "B"], n) if name != "c" else np.array(["A"] * (n - 2)
                                                                      + ["B"] * 2)
        parts.append(pd.DataFrame({"h": name, "t": np.minimum(t, cens) + 1,
                                   "e": (t <= cens).astype(int), "arm": arm}))
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


def test_km_group_with_a_small_level_at_one_site(tmp_path: Path) -> None:
    # issue 12: `analytics km --group COL` crashed with an IndexError in combine_km
    # (`n[:, own][:, first]`) when a site released no grid point (here: 2 patients of
    # arm B at site c). Per-site merging now says the counts were withheld (no table or
    # curve of S = 1.0); the secure default gives both curves
    data = _small_group_table(tmp_path / "t.csv")
    args = ("--data", str(data), "--site-column", "h", "--duration", "t", "--event", "e",
            "--group", "arm", "--grid-step", "30")
    out, html = tmp_path / "plain.json", tmp_path / "plain.html"
    result = _run("km", *args, "--no-secure-aggregation", "--json", str(out),
                  "--report", str(html))
    km = _json(result, out)
    assert km["km"]["released"] == 0 and km["km"]["reached"] is None
    assert "suppressed" in result.stdout and "nobody died" in result.stdout
    assert "Traceback" not in result.output and "IndexError" not in result.output
    text = html.read_text()
    assert "data:image/png" not in text and "Suppressed" in text
    assert f"0 of {km['km']['n_grid']} public grid points" in text and "nobody died" in text
    out, html = tmp_path / "secure.json", tmp_path / "secure.html"
    result = _run("km", *args, "--json", str(out), "--report", str(html))
    km = _json(result, out)
    assert km["mode"] == "secure-totals" and km["km"]["released"] >= 5
    assert km["km"]["reached"] >= 300.0
    assert all(g["reached"] for g in km["km"]["groups"].values())
    assert "logrank" in km["km"] and "log-rank" in result.stdout
    text = html.read_text()
    assert len(re.findall(r"<img src=\"data:image/png;base64,", text)) == 1
    assert "public grid points released" in text and "Follow-up reached" in text


@pytest.fixture(scope="module")
def dialysis_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    survset = pytest.importorskip("SurvSet.data")
    df = survset.SurvLoader().load_dataset("Dialysis")["df"]
    path = tmp_path_factory.mktemp("dialysis") / "dialysis.csv"
    df.to_csv(path, index=False)
    return path


DIALYSIS = ("--site-column", "fac_center", "--duration", "time", "--event", "event",
            "--grid-step", "1")


@pytest.mark.parametrize("group", [None, "fac_disease"])
def test_km_without_secure_aggregation_on_dialysis_says_withheld(
        dialysis_csv: Path, tmp_path: Path, group: str | None) -> None:
    # issue 12: per-site merging on the dialysis registry (67 centres) released t = 0
    # alone and printed/drew S = 1.0, as if nobody had died; with --group it crashed
    # (IndexError). Now: no table, no figure, a plain statement (and no patient value)
    out, html = tmp_path / "km.json", tmp_path / "km.html"
    args = ("--group", group) if group else ()
    result = _run("km", "--data", str(dialysis_csv), *DIALYSIS, *args,
                  "--no-secure-aggregation", "--json", str(out), "--report", str(html))
    km = _json(result, out)
    assert km["mode"] == "per-site" and km["km"]["reached"] is None
    assert "IndexError" not in result.output
    assert "Kaplan-Meier survival" not in result.stdout and "1.000" not in result.stdout
    flat = " ".join(result.stdout.split())
    assert "suppressed: no survival estimate beyond t = 0" in flat
    assert "does not mean that nobody died" in flat and "--secure-aggregation" in flat
    text = html.read_text()
    assert "data:image/png" not in text and "Suppressed" in text
    assert "With secure aggregation (at least 3 sites)" in text


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


def test_describe_report_shows_integers_as_integers_and_explains_n(
        pbc3_csv: Path, tmp_path: Path) -> None:
    # issue 12, item 6: an integer variable (age in whole years) has no "55.000"
    # quantiles in the report, counts are whole numbers, and both tables say what n is
    out, html = tmp_path / "d.json", tmp_path / "d.html"
    res = _json(_run("describe", "--data", str(pbc3_csv), "--site-column", "fac_unit",
                     "--columns", "num_age,num_bili,num_alb", "--group", "fac_tment",
                     "--json", str(out), "--report", str(html)), out)
    df = pd.read_csv(pbc3_csv)
    assert (df.num_age == df.num_age.round()).all() and res["columns"]["num_age"]["integer"]
    assert not res["columns"]["num_alb"]["integer"]      # albumin has decimals
    text = html.read_text()
    rows = {r[0]: r for r in (re.findall(r"<td>(.*?)</td>", row) for row in
                              re.findall(r"<tr>(.*?)</tr>", text, flags=re.S))
            if r}
    age = rows["num_age"]
    assert age[1] == "349" and age[2] == "0"               # n, missing: whole numbers
    assert re.fullmatch(r"\d+\.\d", age[3])                # mean to one decimal
    assert all(re.fullmatch(r"\d+ \[\d+, \d+\]", q) for q in age[5:10]), age
    assert re.fullmatch(r"\d+\.\d{3} \[.*\]", rows["num_alb"][6])  # decimals kept
    assert re.fullmatch(r"\d+\.\d ± \d+\.\d \(n=\d+\)", rows["num_age, mean ± sd"][1])
    assert "n = patients with the value recorded" in text
    assert "n (first row) = patients in the fac_tment group" in text
    assert "(n=…) after a mean ± sd = patients with the value recorded" in text


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
    elif case == "two sites":
        frame.loc[frame["hospital"] == "gamma", "hospital"] = "beta"
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
    "secure with two sites": ("two sites", ["km", *BASE, "--grid-step", "30",
                                            "--secure-aggregation"], 5,
                              "--secure-aggregation needs at least 3 sites"),
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
