"""What the analytics messages carry: every reply on the in-process grid is inspected.

In the default (protected) modes no reply may hold a count of 1..k-1 patients, nor a
figure summing over fewer than k patients; the opt-in exact modes are the documented
exception (tests/analytics/test_analytics_federated.py checks they alone ask for event
times). The ServerApp runs analytics when the run config says ``task = "analytics"``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flwr.app import Message

from fedcare.analytics import DESCRIBE_COUNT_KEYS, small_cells
from fedcare.config import StudyConfig
from fedcare.exceptions import ConfigError, FederationError
from fedcare.federation import InProcessGrid
from fedcare.federation.coordinator.analytics import run_analytics
from fedcare.federation.engines.inprocess import run_analytics_inprocess
from fedcare.federation.protocol import ANALYTICS_MESSAGE_TYPES
from fedcare.federation.site import client_app
from fedcare.study._runs import analytics_run_config

K = 5
SURV = {"duration": "time", "event": "event"}


@pytest.fixture(scope="module")
def pbc3_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    survset = pytest.importorskip("SurvSet.data")
    df = survset.SurvLoader().load_dataset("Pbc3")["df"]
    path = tmp_path_factory.mktemp("pbc3") / "pbc3.csv"
    df.to_csv(path, index=False)
    return path


SITES = ["1", "2", "3", "4", "5", "6"]
REQUESTS: dict[str, dict[str, Any]] = {
    "describe": {"analysis": "describe", "columns": ["num_age", "num_bili", "fac_stage"],
                 "group": "fac_tment", "text": ["fac_stage"],
                 "ranges": {"num_age": [20.0, 80.0]}, "bins": 60},
    "km": {"analysis": "km", **SURV, "group": "fac_tment", "grid_step": 180.0},
    "cox": {"analysis": "cox", **SURV, "categorical": ["fac_sex", "fac_tment"],
            "covariates": ["num_age", "num_bili", "num_alb", "fac_sex", "fac_tment"]},
}


def _small(values: np.ndarray) -> bool:
    v = np.asarray(values, dtype=np.float64)
    return bool(np.any((v > 0) & (v < K)))


def _check_reply(reply: Message) -> None:
    assert not reply.has_error(), reply.error.reason
    kind = reply.metadata.message_type
    assert kind in ANALYTICS_MESSAGE_TYPES and kind != "query.event_times"
    content = reply.content
    assert set(content.config_records) == {"site"}
    assert set(content.array_records) <= {"arrays"}
    for record in content.metric_records.values():
        assert set(record) <= {"n-rows", "n-dropped"}
        assert not _small(np.array([float(v) for v in record.values()]))  # type: ignore[arg-type]
    if "arrays" not in content.array_records:
        return
    arrays = {k: np.asarray(v.numpy(), dtype=np.float64)
              for k, v in content.array_records["arrays"].items()}
    if kind == "query.describe":
        table1 = {k[len("table1/"):]: v for k, v in arrays.items() if k.startswith("table1/")}
        assert small_cells(table1, DESCRIBE_COUNT_KEYS, K) == []
        for name, value in arrays.items():
            if name.endswith(("/n", "/n_missing")):
                assert not _small(value), name
            if name.endswith("/cum"):       # every released block: 0 or >= k patients
                n = arrays[name[:-3] + "n"]
                full = np.concatenate(([0.0], value, n.reshape(1)))
                released = full[~np.isnan(full)]
                assert not _small(np.diff(released)), name
    elif kind == "query.km":
        events, at_risk = arrays["events"], arrays["at_risk"]
        assert not _small(events) and not _small(at_risk)
        keep = np.flatnonzero(~np.isnan(events).any(axis=0))  # the released points
        assert keep.size == int(arrays["released"])
        d, n = events[:, keep], at_risk[:, keep]
        nxt = np.concatenate((n[:, 1:], np.zeros((n.shape[0], 1))), axis=1)
        assert not _small(n - d - nxt)      # censored per interval (last: n - d)
    elif kind == "query.cox":
        if "n" in arrays:                   # offset round and stratified rounds
            assert float(arrays["n"]) >= K
        assert set(arrays) <= {"n", "sum", "loglik", "grad", "hess"}
    else:
        raise AssertionError(f"unexpected reply type {kind}")


@pytest.mark.parametrize("analysis", list(REQUESTS))
def test_no_reply_describes_fewer_than_k(pbc3_csv: Path, analysis: str) -> None:
    config = StudyConfig(data=str(pbc3_csv), site_column="fac_unit", min_cell=K)
    result, grid = run_analytics_inprocess(config, REQUESTS[analysis], SITES,
                                           keep_messages=True)
    assert result["sites"] == SITES
    assert len(grid.replies_received) == len(SITES) * result["message_rounds"]
    for reply in grid.replies_received:
        _check_reply(reply)


def test_checker_catches_a_small_count() -> None:
    # the inspection above is not vacuous: an exact-mode KM reply fails it
    from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

    content = RecordDict({"arrays": ArrayRecord({"events": Array(np.array([[1.0, 0.0]])),
                                                 "at_risk": Array(np.array([[9.0, 8.0]])),
                                                 "released": Array(np.array(2.0))}),
                          "site": ConfigRecord({"site": "x"})})
    reply = Message(content=content, dst_node_id=1, message_type="query.km")
    with pytest.raises(AssertionError):
        _check_reply(reply)


def test_setup_counts_are_suppressed_by_the_mod(tmp_path: Path) -> None:
    # 3 rows dropped at one site (1..k-1) reach the coordinator only as NaN
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"h": ["a"] * 20 + ["b"] * 20, "t": rng.uniform(1, 100, 40),
                          "e": rng.integers(0, 2, 40), "x": rng.normal(size=40)})
    frame.loc[[0, 1, 2], "x"] = np.nan
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="h", min_cell=K)
    request = {"analysis": "cox", "duration": "t", "event": "e", "covariates": ["x"]}
    result, grid = run_analytics_inprocess(config, request, ["a", "b"], keep_messages=True)
    setup = [r for r in grid.replies_received
             if r.metadata.message_type == "query.analytics_setup"]
    dropped = {str(r.content.config_records["site"]["site"]):
               float(r.content.metric_records["metrics"]["n-dropped"]) for r in setup}
    assert math.isnan(dropped["a"]) and dropped["b"] == 0.0
    assert result["rows_dropped"] == 0 and result["rows_dropped_suppressed_sites"] == 1
    assert result["n"] == 37


def test_server_app_runs_analytics(pbc3_csv: Path, tmp_path: Path) -> None:
    from fedcare.federation.coordinator.app import main

    config = StudyConfig(data=str(pbc3_csv), site_column="fac_unit")
    run_config = {**analytics_run_config(config, REQUESTS["cox"]), "num-sites": 6,
                  "output-dir": str(tmp_path / "out")}
    grid = InProcessGrid(client_app, [{"site": s} for s in SITES], run_config)
    main(grid, grid.server_context())
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    direct, _ = run_analytics_inprocess(config, REQUESTS["cox"], SITES)
    assert result["coef"] == pytest.approx(direct["coef"], abs=1e-12)
    assert result["analysis"] == "cox" and result["stratified"] is True


def test_partition_ids_map_to_sites_in_natural_order(pbc3_csv: Path) -> None:
    # Flower's simulation gives nodes a partition-id, not a site name
    config = StudyConfig(data=str(pbc3_csv), site_column="fac_unit")
    run_config = {**analytics_run_config(config, REQUESTS["km"]), "num-sites": 6}
    grid = InProcessGrid(client_app, [{"partition-id": i, "num-partitions": 6}
                                      for i in range(6)], run_config)
    result = run_analytics(grid, grid.server_context())
    named, _ = run_analytics_inprocess(config, REQUESTS["km"], SITES)
    assert result["sites"] == SITES and result["km"] == named["km"]


def test_bad_requests_are_refused(pbc3_csv: Path) -> None:
    config = StudyConfig(data=str(pbc3_csv), site_column="fac_unit")
    with pytest.raises(ConfigError, match="'analysis' must be one of"):
        analytics_run_config(config, {"analysis": "anova"})
    with pytest.raises(ConfigError, match="add --exact"):
        analytics_run_config(config, {**REQUESTS["cox"], "stratified": False})
    with pytest.raises(FederationError, match="column 'num_agee' \\(--covariates\\) not found; "
                                              "did you mean 'num_age'"):
        run_analytics_inprocess(config, {**REQUESTS["cox"], "covariates": ["num_agee"]},
                                SITES)


def test_merged_km_through_messages(tmp_path: Path) -> None:
    # sites too small for monthly counts: they merge months; no reply carries a count
    # of 1..k-1, and the curves equal a pooled KM on the times rounded up to the
    # points every site released
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(2)
    parts = []
    for name, n in (("a", 500), ("b", 300)):
        t, c = rng.exponential(200.0, n).round(1), rng.uniform(0, 600.0, n).round(1)
        parts.append(pd.DataFrame({"h": name, "t": np.minimum(t, c),
                                   "e": (t <= c).astype(int), "arm": rng.integers(0, 2, n)}))
    frame = pd.concat(parts, ignore_index=True)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="h", min_cell=K)
    request = {"analysis": "km", "duration": "t", "event": "e", "group": "arm",
               "grid_step": 30.0, "horizon": 2370.0}
    result, grid = run_analytics_inprocess(config, request, ["a", "b"], keep_messages=True)
    km = result["km"]
    for reply in grid.replies_received:
        _check_reply(reply)
    kms = [r for r in grid.replies_received if r.metadata.message_type == "query.km"]
    assert all(int(r.content.array_records["arrays"]["released"].numpy()) < km["n_grid"]
               for r in kms)                                # both sites merged
    assert km["released"] >= 5 and km["released_points"][0] == 0
    points = np.array(km["grid"])
    np.testing.assert_array_equal(points, 30.0 * np.array(km["released_points"]))
    for level in ("0", "1"):
        part = frame[frame.arm == int(level)]
        pos = np.searchsorted(points, part.t.to_numpy())
        inside = pos < points.size
        t = np.where(inside, points[np.minimum(pos, points.size - 1)], points[-1] + 1)
        ref = lifelines.KaplanMeierFitter().fit(t, part.e.to_numpy() * inside)
        want = ref.survival_function_at_times(points).to_numpy()
        assert np.abs(np.array(km["groups"][level]["survival"]) - want).max() < 1e-12


def test_secure_cox_equals_plain_cox(pbc3_csv: Path) -> None:
    # the stratified fit's sums (centring sums, log-likelihood, gradient, Hessian) go
    # through SecAgg+: the coordinator sees only their totals, the fit is the same
    from fedcare.federation.limbs import error_bound
    from fedcare.federation.protocol import SECURE, MessageType

    config = StudyConfig(data=str(pbc3_csv), site_column="fac_unit")
    plain, _ = run_analytics_inprocess(config, REQUESTS["cox"], SITES)
    secure, grid = run_analytics_inprocess(config.replace(secure_aggregation=True),
                                           REQUESTS["cox"], SITES, keep_messages=True)
    enc = SECURE[MessageType.COX]
    bound = error_bound(len(SITES), enc.clip, enc.limbs)
    for name, value in plain["coef"].items():
        assert secure["coef"][name] == pytest.approx(value, abs=1e-9)
    assert secure["loglik"] == pytest.approx(plain["loglik"], abs=1e-9 + 100 * bound)
    cox_replies = [r for r in grid.replies_received if r.metadata.message_type == "train"]
    assert cox_replies and all(not rec for r in cox_replies
                               for rec in r.content.array_records.values())
    with pytest.raises(ConfigError, match="secure_aggregation applies to analytics 'cox', "
                                          "'km' and 'recalibrate'"):
        run_analytics_inprocess(config.replace(secure_aggregation=True),
                                REQUESTS["describe"], SITES)


@pytest.mark.parametrize("group", [None, "fac_tment"])
def test_secure_km_releases_protected_totals(pbc3_csv: Path, group: str | None) -> None:
    # issue 12: with secure aggregation the sites' un-merged counts are summed with
    # SecAgg+ and the small-cell rule is applied to the totals: nothing readable leaves
    # a site, each group's curve equals the rule applied to that group's pooled rows,
    # and the curves reach further than per-site merging (which stops where the first
    # hospital does)
    from fedcare.analytics import site_km
    from fedcare.analytics._km import KM_TOTALS_STEP

    config = StudyConfig(data=str(pbc3_csv), site_column="fac_unit", min_cell=K)
    request = {**REQUESTS["km"], "group": group, "grid_step": 90.0}
    plain, _ = run_analytics_inprocess(config, request, SITES)
    secure, grid = run_analytics_inprocess(config.replace(secure_aggregation=True), request,
                                           SITES, keep_messages=True)
    assert plain["mode"] == "per-site" and secure["mode"] == "secure-totals"
    sums = [r for r in grid.replies_received if r.metadata.message_type == "train"]
    assert sums and all(not rec for r in sums for rec in r.content.array_records.values())
    assert not [r for r in grid.replies_received if r.metadata.message_type == "query.km"]
    asked = [m for m in grid.messages_sent if m.metadata.message_type == "train"]
    assert any(KM_TOTALS_STEP in str(dict(rec)) for m in asked
               for rec in m.content.config_records.values())
    df = pd.read_csv(pbc3_csv)
    parts = [df] if group is None else [df[df[group] == lvl]
                                        for lvl in sorted(df[group].unique())]
    km = secure["km"]
    points = np.array(km["released_points"])
    for part, g in zip(parts, km["groups"].values(), strict=True):
        want = site_km(part.time, part.event, 90.0 * np.arange(61), min_cell=K)
        own = np.flatnonzero(~np.isnan(want["events"][0]))
        assert g["released"] == own.size and set(own) <= set(points)
        mine = np.isin(points, own)
        assert all(v is None for v in np.array(g["events"], dtype=object)[~mine])
        assert np.array(g["events"], dtype=object)[mine].tolist() == \
            want["events"][0, own].tolist()
        assert np.array(g["at_risk"], dtype=object)[mine].tolist() == \
            want["at_risk"][0, own].tolist()
        assert not _small(want["events"][0, own]) and not _small(want["at_risk"][0, own])
    if group:   # the log-rank test: from one set of points for both arms (site_km's rule)
        from fedcare.analytics import combine_km

        levels = sorted(df[group].unique())
        joint = combine_km([site_km(df.time, df.event, 90.0 * np.arange(61),
                                    groups=df[group], group_levels=levels, min_cell=K)],
                           90.0 * np.arange(61), group_levels=levels)
        assert joint.logrank is not None
        assert km["logrank"]["statistic"] == pytest.approx(joint.logrank.statistic,
                                                           abs=1e-9)
    assert km["released"] > plain["km"]["released"]
    assert km["reached"] > (plain["km"]["reached"] or 0.0)


def test_km_totals_only_into_a_secure_sum(pbc3_csv: Path) -> None:
    # a plain run's site refuses to send its un-merged counts
    from fedcare.analytics import check_request
    from fedcare.analytics._km import KM_TOTALS_STEP
    from fedcare.federation.protocol import SECURE, MessageType
    from fedcare.federation.site.analytics import km
    from fedcare.federation.site.request import SiteRequest

    assert MessageType.KM in SECURE  # summed through SecAgg+ as query.km itself
    config = StudyConfig(data=str(pbc3_csv), site_column="fac_unit", min_cell=K)
    req_json = json.dumps(check_request(REQUESTS["km"]), sort_keys=True)
    req = SiteRequest(config=config, key="k", name="1",
                      named={"grid": 90.0 * np.arange(10)},
                      cfg={"request": req_json, "step": KM_TOTALS_STEP,
                           "levels": json.dumps({"fac_tment": ["0", "1"]})})
    with pytest.raises(ConfigError, match="only into a secure sum"):
        km(req)
    secure = SiteRequest(config=config.replace(secure_aggregation=True), key="k2",
                         name="1", named=req.named, cfg=req.cfg)
    out = km(secure).arrays
    assert isinstance(out, dict) and set(out) == {"events", "censored", "beyond"}


def test_secure_km_counts_a_hospital_with_two_deaths(tmp_path: Path) -> None:
    # issue 12, synthetic: hospitals a and b (60 patients each) have 3 deaths in each of
    # months 1..10; hospital c has 4 patients, 2 of whom died (months 2 and 3). Per-site
    # merging leaves c out (fewer than k rows) and so loses its deaths; with secure
    # aggregation c takes part and its deaths are in the released totals
    monthly = [float(m) for m in range(1, 11) for _ in range(3)]
    rows = [(site, t, 1) for site in ("a", "b") for t in monthly]
    rows += [(site, 100.0, 0) for site in ("a", "b") for _ in range(30)]
    rows += [("c", 2.0, 1), ("c", 3.0, 1), ("c", 100.0, 0), ("c", 100.0, 0)]
    path = tmp_path / "synthetic.csv"
    pd.DataFrame(rows, columns=["h", "time", "event"]).to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="h", min_cell=K)
    request = {"analysis": "km", **SURV, "grid_step": 1.0, "horizon": 30.0}
    plain, _ = run_analytics_inprocess(config, request, ["a", "b", "c"])
    assert plain["sites"] == ["a", "b"] and "c" in plain["excluded_sites"]
    assert sum(plain["km"]["groups"]["all"]["events"]) == 60
    secure, _ = run_analytics_inprocess(config.replace(secure_aggregation=True), request,
                                        ["a", "b", "c"])
    assert secure["mode"] == "secure-totals" and secure["sites"] == ["a", "b", "c"]
    curve = secure["km"]["groups"]["all"]
    assert secure["km"]["released"] == 31 and sum(curve["events"]) == 62
    assert curve["events"][1:5] == [6.0, 7.0, 7.0, 6.0]
    assert "withheld" not in secure


def test_per_site_km_says_when_nothing_beyond_t0_is_released(pbc3_csv: Path) -> None:
    # per-site merging on Pbc3 with k = 5 by arm releases t = 0 alone: the result says so
    # plainly (and it is not a curve of S = 1)
    config = StudyConfig(data=str(pbc3_csv), site_column="fac_unit", min_cell=K)
    result, _ = run_analytics_inprocess(config, REQUESTS["km"], SITES)
    assert result["mode"] == "per-site" and result["km"]["reached"] is None
    assert "does not mean that nobody died" in result["withheld"]
    assert "secure_aggregation" in result["withheld"]
    assert result["summary"] == {"times": [], "groups": {}}    # no table of S = 1
