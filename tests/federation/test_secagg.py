"""SecAgg+ studies: the same study flow as the plain run, the coordinator sees only sums."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flwr.common.secure_aggregation.quantization import quantize

from fedcare.config import StudyConfig
from fedcare.exceptions import ConfigError, FederationError
from fedcare.federation import run_inprocess
from fedcare.federation.coordinator import sums as sums_module
from fedcare.federation.limbs import decode_limbs, encode_limbs, error_bound, quantization_range
from fedcare.federation.protocol import SECURE, MessageType
from fedcare.federation.site import secagg_client_app
from fedcare.federation.testing import make_dropout_mod, with_mods
from fedcare.study._benchmark import FLAMBY_PROTOCOL

SITES = ["cleveland", "hungary", "switzerland", "va"]
TRAIN = SECURE[MessageType.TRAIN]
NEWTON = SECURE[MessageType.NEWTON]


@pytest.fixture(scope="module")
def heart_config(heart_data_dir: Path) -> StudyConfig:
    return StudyConfig(data="builtin:heart-disease", data_dir=str(heart_data_dir),
                       missing=FLAMBY_PROTOCOL["missing"], quality_check="off")


def _secure(config: StudyConfig, **run: Any) -> tuple[dict[str, Any], Any]:
    return run_inprocess({**config.replace(secure_aggregation=True).to_run_config(), **run},
                         SITES, keep_messages=True)


def _max_diff(a: list[Any], b: list[Any]) -> float:
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
               for x, y in zip(a, b, strict=True))


def test_limbs_survive_flowers_quantiser_within_the_bound() -> None:
    rng = np.random.default_rng(0)
    k, clip, limbs = 4, TRAIN.clip, TRAIN.limbs
    target = quantization_range(k)
    sites = [[rng.normal(scale=100, size=(5, 5)), rng.normal(size=3)] for _ in range(k)]
    encoded = [encode_limbs(s, clip, target, limbs) for s in sites]
    for arrays in encoded:  # already on the grid: stochastic rounding changes nothing
        for a in arrays:
            q = quantize([a], clip, target)[0]
            np.testing.assert_array_equal(q, (a + clip) * target / (2 * clip))
    summed = [np.sum([e[i] for e in encoded], axis=0) for i in range(len(encoded[0]))]
    got = decode_limbs(summed, target, limbs)
    for i in range(2):
        want = np.sum([s[i] for s in sites], axis=0)
        assert np.max(np.abs(got[i] - want)) <= error_bound(k, clip, limbs, target) + 1e-12


def test_value_beyond_clipping_range_is_refused_not_clipped() -> None:
    with pytest.raises(FederationError, match="clipping range"):
        encode_limbs([np.array([2.0**28])], 2.0**27, 2**29, 2)
    with pytest.raises(FederationError, match="at least 3 sites"):
        quantization_range(2)


@pytest.mark.parametrize("strategy,rounds", [("newton", 6), ("fedavg", 3), ("fedadam", 3)])
def test_secure_study_equals_plain_study_within_the_stated_bound(
        heart_config: StudyConfig, strategy: str, rounds: int) -> None:
    config = heart_config.replace(strategy=strategy, rounds=rounds)
    plain, _ = run_inprocess(config, SITES)
    secure, _ = _secure(config)
    bound = secure["secure"]["error_bound"]
    assert bound[MessageType.NEWTON] == error_bound(4, NEWTON.clip, NEWTON.limbs)
    for key in ("mean", "scale"):
        np.testing.assert_allclose(secure["standardiser"][key], plain["standardiser"][key],
                                   rtol=0, atol=bound[MessageType.MOMENTS])
    assert _max_diff(secure["arrays"], plain["arrays"]) <= bound[MessageType.TRAIN]
    for setting in ("federated", "local", "personalised"):  # by value, not by keys
        for site, metrics in plain["per_site"][setting].items():
            got = secure["per_site"][setting][site]
            for key in ("accuracy", "auc", "brier"):
                assert got[key] == pytest.approx(metrics[key], abs=1e-9), (setting, site, key)
    assert [r["round"] for r in secure["history"]] == list(range(1, rounds + 1))


def test_coordinator_never_receives_a_sites_own_arrays(heart_config: StudyConfig) -> None:
    _, grid = _secure(heart_config.replace(rounds=2))
    train_replies = [r for r in grid.replies_received if r.metadata.message_type == "train"]
    assert train_replies
    for r in train_replies:  # SecAgg+ replies: keys, shares, masked ints; never arrays
        for record in r.content.array_records.values():
            assert len(record) == 0
    for m in grid.messages_sent:
        assert m.metadata.message_type != MessageType.NEWTON  # never asked in the clear


def test_round_timeout_reaches_secagg(heart_config: StudyConfig,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float | None] = []
    original = sums_module.SecAggPlusWorkflow

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)

    monkeypatch.setattr(sums_module, "SecAggPlusWorkflow", recording)
    _secure(heart_config.replace(rounds=2, round_timeout=42.0))
    assert seen and set(seen) == {42.0}


def test_a_site_dropping_mid_round_is_named_and_the_study_completes(
        heart_config: StudyConfig) -> None:
    config = heart_config.replace(rounds=4, min_sites_per_round=3, secure_aggregation=True)
    app = with_mods(secagg_client_app, [make_dropout_mod()])
    out, _ = run_inprocess({**config.to_run_config(), "drop-site": "va", "drop-rounds": "2"},
                           SITES, app=app)
    assert out["missing_rounds"] == {"va": [2]}
    assert [r["round"] for r in out["history"]] == [1, 2, 3, 4]
    strict, _ = run_inprocess(config.replace(rounds=3).to_run_config(), SITES)
    assert strict["missing_rounds"] == {}
    with pytest.raises(FederationError, match="va"):
        run_inprocess({**config.replace(min_sites_per_round=0).to_run_config(),
                       "drop-site": "va", "drop-rounds": "2"}, SITES, app=app)


def test_checkpoint_and_resume_in_a_secure_study(heart_config: StudyConfig,
                                                 tmp_path: Path) -> None:
    config = heart_config.replace(strategy="fedavg", rounds=4, secure_aggregation=True)
    whole, _ = run_inprocess(config, SITES)
    first = config.replace(rounds=2, checkpoint_dir=str(tmp_path / "ck"))
    run_inprocess(first, SITES)
    state = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert state["round"] == 2
    resumed, _ = run_inprocess(config.replace(
        resume_from=str(tmp_path / "ck" / "checkpoint.json")), SITES)
    assert [r["round"] for r in resumed["history"]] == [1, 2, 3, 4]
    assert _max_diff(resumed["arrays"], whole["arrays"]) <= 1e-9


def test_settings_that_need_each_sites_update_are_refused_up_front() -> None:
    for changes in ({"aggregation": "median", "strategy": "fedavg"},
                    {"norm_bound": 3.0, "strategy": "fedavg"},
                    {"dp_epsilon": 1.0, "dp_level": "client", "strategy": "fedavg"}):
        with pytest.raises(ConfigError, match="secure_aggregation"):
            StudyConfig(secure_aggregation=True, **changes)  # type: ignore[arg-type]


def test_the_error_bound_reaches_metrics_report_registry_and_card(
        heart_config: StudyConfig, tmp_path: Path) -> None:
    from fedcare.registry._provenance import model_from_run
    from fedcare.report import write_report
    from fedcare.study import run_study

    metrics = run_study(heart_config.replace(rounds=2, secure_aggregation=True)).to_dict()
    secure = metrics["results"]["federated:newton+secagg"]["secure_aggregation"]
    stated = error_bound(4, NEWTON.clip, NEWTON.limbs)
    assert secure["error_bound"][MessageType.NEWTON] == stated
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(metrics))
    write_report(metrics, run / "report.html")
    assert f"{stated:.1e}" in (run / "report.html").read_text()
    provenance = model_from_run(run)["provenance"]
    assert provenance["privacy"]["secure_aggregation_error_bound"] == stated


def test_federated_imputation_through_secagg_equals_the_plain_one(
        heart_config: StudyConfig) -> None:
    from fedcare.data._heart import HEART_MISSING_CODES

    config = heart_config.replace(missing="impute", missing_codes=HEART_MISSING_CODES,
                                  rounds=2)
    plain, _ = run_inprocess(config, SITES)
    secure, grid = _secure(config)
    means = {f["name"]: f["impute"] for f in plain["schema"]["features"] if "impute" in f}
    assert {"chol", "trestbps"} <= set(means)  # Switzerland's cholesterol is imputed
    got = {f["name"]: f["impute"] for f in secure["schema"]["features"] if "impute" in f}
    assert got.keys() == means.keys()
    bound = secure["secure"]["error_bound"][MessageType.IMPUTE]
    for name, mean in means.items():
        # a ratio of two sums, each within the bound
        assert got[name] == pytest.approx(mean, abs=100 * bound), name
    for m in grid.messages_sent:  # the counts and sums went only through SecAgg+
        assert m.metadata.message_type != MessageType.IMPUTE
