"""The Flower apps run in-process: exactness, what leaves a site, failures."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from fedcare.data._standardise import Standardiser
from fedcare.exceptions import DataError, FederationError, PolicyRefusal
from fedcare.federation import run_inprocess
from fedcare.federation.protocol import QUALITY_RECORD, ConfigKey
from fedcare.federation.site.data import SiteSplit, config_key
from fedcare.models import LogisticRegression
from fedcare.study import StudyConfig, load_study_cohort
from fedcare.study._benchmark import FLAMBY_PROTOCOL

SITES = ["cleveland", "hungary", "switzerland", "va"]


@pytest.fixture(scope="module")
def heart_config(heart_data_dir: Path) -> StudyConfig:
    # FLamby's protocol (complete cases, no missing codes): the pooled reference below
    # reads the table the same way
    return StudyConfig(data="builtin:heart-disease", data_dir=str(heart_data_dir),
                       **FLAMBY_PROTOCOL)


def _pooled_train(config: StudyConfig) -> tuple[np.ndarray, np.ndarray]:
    cohort = load_study_cohort(config)
    splits = [SiteSplit.from_cohort(cohort.for_site(s), config) for s in SITES]
    return (np.concatenate([s.X_train for s in splits]),
            np.concatenate([s.y_train for s in splits]))


def test_federated_standardisation_equals_pooled(heart_config: StudyConfig) -> None:
    result, _ = run_inprocess(heart_config.replace(rounds=1), SITES)
    X, _ = _pooled_train(heart_config)
    np.testing.assert_allclose(result["standardiser"]["mean"], X.mean(axis=0), rtol=0,
                               atol=1e-9)
    np.testing.assert_allclose(result["standardiser"]["scale"], X.std(axis=0), rtol=0,
                               atol=1e-9)


def test_newton_equals_pooled_solution(heart_config: StudyConfig) -> None:
    result, _ = run_inprocess(heart_config.replace(strategy="newton", rounds=8), SITES)
    X, y = _pooled_train(heart_config)
    pooled = LogisticRegression(C=heart_config.C).fit(Standardiser.fit(X).transform(X), y)
    coef, intercept = (np.asarray(a) for a in result["arrays"])
    np.testing.assert_allclose(coef, pooled.coef_.ravel(), atol=1e-6)
    np.testing.assert_allclose(intercept, pooled.intercept_, atol=1e-6)


@pytest.mark.parametrize("strategy", ["newton", "fedavg", "fedprox", "fedadam"])
def test_sites_send_only_model_shaped_arrays_and_aggregates(
    heart_config: StudyConfig, strategy: str
) -> None:
    result, grid = run_inprocess(heart_config.replace(strategy=strategy, rounds=2), SITES,
                                 keep_messages=True)
    p = len(result["schema"]["encoded_feature_names"])
    allowed_shapes = {
        (p,), (1,),  # model coefficients, intercept; standardisation sums are (p,)
        (p + 1,), (p + 1, p + 1),  # Newton: gradient and Hessian sums
    }
    allowed_metrics = {
        "num-examples", "train-loss", "test-loss", "accuracy", "auc", "brier",
        "calibration_slope", "calibration_intercept", "n-train", "n-rows", "n-test",
        "n-dropped", "dp-epsilon", "dp-noise-multiplier", "n-events", "n-non-events",
    }
    min_rows = min(info["n_train"] for info in result["sites"].values())
    assert grid.replies_received
    for reply in grid.replies_received:
        assert not reply.has_error()
        if reply.metadata.message_type == "query.quality":
            continue  # data-quality aggregates: their small-cell rules are tested in tests/quality
        content = reply.content
        assert set(content.array_records) <= {"arrays"}
        for record in content.array_records.values():
            for array in record.to_numpy_ndarrays():
                assert array.shape in allowed_shapes, array.shape
                assert array.size < min_rows or array.shape == (p + 1, p + 1)
        for name, record in content.metric_records.items():
            if name == QUALITY_RECORD:  # the quality aggregates sent with the schema
                assert reply.metadata.message_type == "query.schema"
                continue
            assert set(record) <= allowed_metrics
            assert all(isinstance(v, int | float) for v in record.values())
        assert set(content.config_records) == {"site"}
        assert set(content.config_records["site"]) <= {
            "site", "schema", "method", "model", "data", "identifiers", "local.model",
            "personalised.method"}


@pytest.mark.parametrize("strategy", ["newton", "fedavg"])
def test_a_training_round_is_one_message_round(heart_config: StudyConfig,
                                               strategy: str) -> None:
    """Round r's model is evaluated by round r + 1's train messages, and the last round's
    evaluate is the final federated setting: 3 rounds send each site 3 train and 1
    evaluate messages (6 and 4 before), and that evaluate carries the local and
    personalised settings (their own messages before). Every round's accuracy and test
    loss are still those of that round's model on all sites' test rows, computed here
    from the pooled test rows."""
    rounds = 3
    result, grid = run_inprocess(heart_config.replace(strategy=strategy, rounds=rounds),
                                 SITES, keep_messages=True)
    sent = Counter(m.metadata.message_type for m in grid.messages_sent)
    assert sent["train.newton" if strategy == "newton" else "train"] == rounds * len(SITES)
    assert sent["evaluate"] == len(SITES)
    assert sent["evaluate.local"] == sent["evaluate.personalised"] == 0
    assert set(result["per_site"]) == {"federated", "local", "personalised"}
    for setting in result["per_site"].values():
        assert set(setting) == set(SITES)
    # each setting keeps its own texts (a one-class site's local model is the prior)
    assert {m["model"] for m in result["per_site"]["local"].values()} <= {
        "logistic", "constant-prior"}
    assert all(m.get("method") for m in result["per_site"]["personalised"].values())

    cohort = load_study_cohort(heart_config)
    splits = [SiteSplit.from_cohort(cohort.for_site(s), heart_config) for s in SITES]
    mean, scale = (np.asarray(result["standardiser"][k]) for k in ("mean", "scale"))
    X = (np.concatenate([s.X_test for s in splits]) - mean) / scale
    y = np.concatenate([s.y_test for s in splits])
    assert [r["round"] for r in result["history"]] == [1, 2, 3]
    for record in result["history"]:
        coef, intercept = (np.asarray(a) for a in record["arrays"])
        p = expit(X @ coef.ravel() + intercept[0])
        loss = -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
        assert record["accuracy"] == pytest.approx(np.mean((p > 0.5) == y), abs=1e-9)
        assert record["test_loss"] == pytest.approx(loss, abs=1e-9)
    final = result["per_site"]["federated"]
    assert sum(m["num-examples"] for m in final.values()) == len(y)
    for split in splits:  # the local setting, carried by the final evaluate, recomputed
        got = result["per_site"]["local"][split.name]
        if len(np.unique(split.y_train)) < 2:
            assert got["model"] == "constant-prior"
            continue
        own = Standardiser.fit(split.X_train)
        alone = LogisticRegression(C=heart_config.C).fit(own.transform(split.X_train),
                                                         split.y_train)
        p = alone.predict_proba(own.transform(split.X_test))[:, 1]
        assert got["accuracy"] == pytest.approx(np.mean((p > 0.5) == split.y_test),
                                                abs=1e-9)
    last = result["history"][-1]
    assert sum(m["accuracy"] * m["num-examples"] for m in final.values()) / len(y) \
        == pytest.approx(last["accuracy"], abs=1e-9)


@pytest.mark.parametrize("missing", ["complete-case", "impute"])
def test_the_quality_message_also_carries_the_next_set_up_sums(
        heart_config: StudyConfig, missing: str) -> None:
    """In the clear, the quality message also asks each site for the next set-up round's
    sums (the imputation sums when imputing, else the standardisation moments): one
    message round fewer, and the same study as with those sums asked on their own (the
    quality check off sends them in their own message)."""
    config = heart_config.replace(rounds=2, missing=missing, quality_check="warn")
    if missing == "impute":
        config = config.replace(missing_codes={"chol": 0.0})  # so that there is some
    merged, grid = run_inprocess(config, SITES, keep_messages=True)
    apart, grid_apart = run_inprocess(config.replace(quality_check="off"), SITES,
                                      keep_messages=True)
    sent = Counter(m.metadata.message_type for m in grid.messages_sent)
    sent_apart = Counter(m.metadata.message_type for m in grid_apart.messages_sent)
    both = "query.impute" if missing == "impute" else "query.moments"
    # complete cases: every site's own schema is the agreed one, so the quality answer
    # (with the sums) came with the schema; imputing, restecg's "(not recorded)" level is
    # not at every site: the quality message asks again under the agreed schema
    early = missing == "complete-case"
    assert sent["query.quality"] == (0 if early else len(SITES)) and sent[both] == 0
    assert sent_apart["query.quality"] == 0 and sent_apart[both] == len(SITES)
    if missing == "impute":  # the moments follow the imputation: their own message
        assert sent["query.moments"] == sent_apart["query.moments"] == len(SITES)
        assert merged["schema"]["imputed"] and \
            merged["schema"]["imputed"] == pytest.approx(apart["schema"]["imputed"],
                                                         rel=1e-12)
    # the quality message took the sums' place, or the schema message took both
    assert sum(sent.values()) == sum(sent_apart.values()) - (len(SITES) if early else 0)
    for key in ("mean", "scale"):
        np.testing.assert_allclose(merged["standardiser"][key], apart["standardiser"][key],
                                   rtol=1e-12, atol=0)
    for a, b in zip(merged["arrays"], apart["arrays"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert merged["quality"]["findings"]


def test_a_site_that_sends_no_sums_with_its_quality_gets_the_sums_message(
        heart_config: StudyConfig) -> None:
    """A site on an older fedcare ignores the request for sums in the quality message:
    the coordinator then asks for them in their own message, and the study is the
    same."""
    from flwr.app import Message
    from flwr.serverapp import Grid

    from fedcare.federation.coordinator import run_task
    from fedcare.federation.coordinator.grid import GridWrapper
    from fedcare.federation.engines.inprocess import run_app
    from fedcare.federation.site import client_app

    class OlderVa(GridWrapper):  # va's replies as an older fedcare's would be
        def send_and_receive(self, messages: Any, *, timeout: float | None = None
                             ) -> list[Message]:
            replies = list(self._grid.send_and_receive(messages, timeout=timeout))
            for r in replies:
                if r.content.config_records["site"]["site"] != "va":
                    continue
                if r.metadata.message_type == "query.schema":  # no quality with it
                    for key in (QUALITY_RECORD, "sums", "arrays"):
                        del r.content[key]
                if r.metadata.message_type == "query.quality":  # and no sums with that
                    del r.content["sums"]
                    del r.content["arrays"]
            return replies

    def older(grid: Grid, context: Any) -> dict[str, Any]:
        return run_task(OlderVa(grid), context)

    config = heart_config.replace(rounds=2, quality_check="warn")
    run_config = {**config.to_run_config(), "num-sites": len(SITES)}
    mixed, grid = run_app(client_app, older, run_config, SITES, keep_messages=True)
    merged, _ = run_inprocess(config, SITES)
    sent = Counter(m.metadata.message_type for m in grid.messages_sent)
    assert sent["query.quality"] == sent["query.moments"] == len(SITES)
    for key in ("mean", "scale"):
        np.testing.assert_allclose(mixed["standardiser"][key], merged["standardiser"][key],
                                   rtol=1e-12, atol=0)
    for a, b in zip(mixed["arrays"], merged["arrays"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_newton_with_tol_stops_in_the_round_the_coefficients_settle(
        heart_config: StudyConfig) -> None:
    """``tol``: the study stops after the first round whose Newton step moved no
    coefficient by ``tol`` or more, then evaluates that model as a full study evaluates
    its last; without it every round is run."""
    config = heart_config.replace(strategy="newton", rounds=10)
    full, grid_full = run_inprocess(config, SITES, keep_messages=True)
    early, grid = run_inprocess(config.replace(tol=1e-6), SITES, keep_messages=True)
    weights = [np.zeros(len(full["arrays"][0]) + 1)] + [
        np.concatenate([np.ravel(a) for a in h["arrays"]]) for h in full["history"]]
    steps = [float(np.max(np.abs(b - a))) for a, b in itertools.pairwise(weights)]
    settled = next(r for r, step in enumerate(steps, start=1) if step < 1e-6)
    assert full["converged_round"] is None and len(full["history"]) == 10
    assert early["converged_round"] == settled and 2 < settled < 10
    assert [h["round"] for h in early["history"]] == list(range(1, settled + 1))
    for a, b in zip(early["arrays"], full["history"][settled - 1]["arrays"], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(early["arrays"], full["arrays"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    sent = Counter(m.metadata.message_type for m in grid.messages_sent)
    sent_full = Counter(m.metadata.message_type for m in grid_full.messages_sent)
    assert sent["train.newton"] == settled * len(SITES)
    assert sent["evaluate"] == sent_full["evaluate"] == len(SITES)  # the final evaluation
    assert set(early["per_site"]) == set(full["per_site"]) == {"federated", "local",
                                                               "personalised"}


def _without_early_quality(grid: Any) -> Any:
    """``grid`` with the quality aggregates taken out of every schema reply (as sites on
    an older fedcare send them): the coordinator then asks in a quality message."""
    from flwr.app import Message

    from fedcare.federation.coordinator.grid import GridWrapper

    class Stripped(GridWrapper):
        def send_and_receive(self, messages: Any, *, timeout: float | None = None
                             ) -> list[Message]:
            replies = list(self._grid.send_and_receive(messages, timeout=timeout))
            for r in replies:
                if r.metadata.message_type == "query.schema":
                    for key in (QUALITY_RECORD, "sums", "arrays"):
                        if key in r.content:
                            del r.content[key]
            return replies

    return Stripped(grid)


@pytest.mark.parametrize("check", ["warn", "refuse"])
def test_quality_sent_with_the_schema_is_the_quality_round_s_answer(
        heart_config: StudyConfig, check: str) -> None:
    """The quality aggregates and moments a site sends with its schema (under its own
    schema, which here is the agreed one) give the same quality report, standardiser and
    model as the quality message they replace; a blocking finding still refuses."""
    from fedcare.federation.coordinator import run_task
    from fedcare.federation.engines.inprocess import run_app
    from fedcare.federation.site import client_app

    config = heart_config.replace(rounds=2, quality_check=check)
    run_config = {**config.to_run_config(), "num-sites": len(SITES)}
    if check == "refuse":
        for app in (run_task, lambda grid, ctx: run_task(_without_early_quality(grid), ctx)):
            with pytest.raises(DataError, match="refused the study before training"):
                run_app(client_app, app, run_config, SITES)
        return
    early, grid = run_app(client_app, run_task, run_config, SITES, keep_messages=True)
    asked, grid_asked = run_app(client_app,
                                lambda g, ctx: run_task(_without_early_quality(g), ctx),
                                run_config, SITES, keep_messages=True)
    sent = Counter(m.metadata.message_type for m in grid.messages_sent)
    sent_asked = Counter(m.metadata.message_type for m in grid_asked.messages_sent)
    assert sent["query.quality"] == 0 and sent_asked["query.quality"] == len(SITES)
    assert sum(sent.values()) == sum(sent_asked.values()) - len(SITES)  # one round fewer
    assert early["quality"] == asked["quality"] and early["quality"]["findings"]
    for key in ("mean", "scale"):
        np.testing.assert_array_equal(early["standardiser"][key], asked["standardiser"][key])
    for a, b in zip(early["arrays"], asked["arrays"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_imputation_sums_sent_with_the_schema_give_the_same_study(tmp_path: Path) -> None:
    """Imputing, with every site's schema the agreed one (SYNTHETIC table: the same
    levels everywhere, numeric values missing at random): the imputation sums that come
    with the schemas give the same imputed means, standardiser and model as the quality
    message that carries them otherwise."""
    from fedcare.federation.coordinator import run_task
    from fedcare.federation.engines.inprocess import run_app
    from fedcare.federation.site import client_app

    rng = np.random.default_rng(7)
    n = 240
    frame = pd.DataFrame({"site": np.repeat(["a", "b", "c"], n // 3),
                          "x": rng.normal(50, 10, n), "z": rng.normal(0, 1, n),
                          "group": rng.choice(["p", "q", "r"], n),
                          "y": rng.integers(0, 2, n)})
    frame.loc[rng.random(n) < 0.15, "x"] = np.nan
    path = tmp_path / "synthetic.csv"
    frame.to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="site", target="y", rounds=2,
                         missing="impute", quality_check="warn")
    run_config = {**config.to_run_config(), "num-sites": 3}
    early, grid = run_app(client_app, run_task, run_config, ["a", "b", "c"],
                          keep_messages=True)
    asked, _ = run_app(client_app, lambda g, ctx: run_task(_without_early_quality(g), ctx),
                       run_config, ["a", "b", "c"])
    sent = Counter(m.metadata.message_type for m in grid.messages_sent)
    assert sent["query.quality"] == sent["query.impute"] == 0  # both came with the schema
    assert early["schema"]["imputed"] and early["schema"]["imputed"] == asked["schema"]["imputed"]
    for key in ("mean", "scale"):
        np.testing.assert_array_equal(early["standardiser"][key], asked["standardiser"][key])
    for a, b in zip(early["arrays"], asked["arrays"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_excluded_site_sends_no_aggregate_with_its_schema(
        heart_config: StudyConfig) -> None:
    """A site the eligibility rules exclude sends its counts only, no quality aggregate
    or sum, with its schema; the others' answers are then the quality round's."""
    config = heart_config.replace(rounds=1, quality_check="warn", min_site_rows=100)
    result, grid = run_inprocess(config, SITES, keep_messages=True)
    assert set(result["excluded_sites"]) == {"switzerland"}
    schemas = {r.content.config_records["site"]["site"]: r for r in grid.replies_received
               if r.metadata.message_type == "query.schema"}
    assert set(schemas) == set(SITES)
    for site_name, reply in schemas.items():
        sent_more = (QUALITY_RECORD in reply.content.metric_records,
                     "sums" in reply.content.metric_records, bool(reply.content.array_records))
        assert sent_more == ((False,) * 3 if site_name == "switzerland" else (True,) * 3)
    assert "query.quality" not in {m.metadata.message_type for m in grid.messages_sent}
    assert set(result["quality"]["sites"]) == set(SITES) - {"switzerland"}


def test_a_secure_study_never_asks_for_set_up_sums_in_the_clear(
        heart_config: StudyConfig) -> None:
    """Under SecAgg+ the moments keep their own (masked) message: the quality message
    asks for nothing more, and a site refuses a quality message that asks for sums in
    the clear in a secure study."""
    config = heart_config.replace(rounds=1, quality_check="warn", secure_aggregation=True)
    result, grid = run_inprocess(config, SITES, keep_messages=True)
    # the quality answers come with the schemas (every site's is the agreed one)
    asks = [m for m in grid.messages_sent if m.metadata.message_type == "query.schema"]
    assert len(asks) == len(SITES)
    assert all(m.content.config_records["config"][ConfigKey.ALSO_QUALITY] == ""
               for m in asks)
    answers = [r for r in grid.replies_received if r.metadata.message_type == "query.schema"]
    assert len(answers) == len(SITES)  # with quality aggregates, none with sums in the clear
    assert all(QUALITY_RECORD in r.content.metric_records and not r.content.array_records
               and "sums" not in r.content.metric_records for r in answers)
    assert result["standardiser"]["mean"]  # through SecAgg+ (legacy `train` messages)

    from fedcare.data._study import schema_to_json
    from fedcare.federation.site.data import site
    from fedcare.federation.site.request import SiteRequest
    from fedcare.federation.site.tasks import TASKS

    text = schema_to_json(site(config, "cleveland").local_schema())
    req = SiteRequest(config, config_key(config), "cleveland",
                      cfg={ConfigKey.SCHEMA: text, ConfigKey.ALSO_SUM: "query.moments"})
    with pytest.raises(PolicyRefusal, match=r"refuses to send query\.moments sums in the "
                                            r"clear: the study uses secure aggregation"):
        TASKS["query.quality"](req)
    plain = dataclasses.replace(req, config=config.replace(secure_aggregation=False),
                                key=config_key(config.replace(secure_aggregation=False)))
    assert len(TASKS["query.quality"](plain).arrays or []) == 2  # sums, sums of squares


def test_site_error_is_reported_with_site_and_without_values(tmp_path: Path) -> None:
    # synthetic table: site "b" has a text value in a numeric column
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"site": ["a"] * 40 + ["b"] * 40, "x": rng.normal(size=80),
                          "y": rng.integers(0, 2, 80)})
    frame["x"] = frame["x"].astype(object)
    frame.loc[45, "x"] = "Zyxwvut"
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="site", target="y", rounds=2)
    with pytest.raises(FederationError) as err:
        run_inprocess(config, ["a", "b"])
    text = str(err.value)
    assert "site 'b'" in text and "column 'x'" in text and "Zyxwvut" not in text


def test_one_class_site_gets_constant_prior_and_small_site_is_excluded(tmp_path: Path) -> None:
    # synthetic: site "pure" has only events; site "tiny" has 6 rows (< min_site_rows 10)
    rng = np.random.default_rng(1)
    n = {"a": 80, "b": 60, "pure": 30, "tiny": 6}
    parts = []
    for site, rows in n.items():
        x = rng.normal(size=rows)
        y = np.ones(rows, int) if site == "pure" else (rng.random(rows) < 1 / (1 + np.exp(-x)))
        parts.append(pd.DataFrame({"site": site, "x": x, "y": y.astype(int)}))
    path = tmp_path / "t.csv"
    pd.concat(parts).to_csv(path, index=False)
    config = StudyConfig(data=str(path), site_column="site", target="y", rounds=5)
    result, _ = run_inprocess(config, sorted(n))
    assert set(result["excluded_sites"]) == {"tiny"}
    assert "6 usable rows" in result["excluded_sites"]["tiny"]
    local = result["per_site"]["local"]
    assert local["pure"]["model"] == "constant-prior"
    assert local["pure"]["accuracy"] == 1.0
    assert local["pure"]["auc"] is None
    assert set(result["per_site"]["federated"]) == {"a", "b", "pure"}
