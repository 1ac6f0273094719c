"""SecAgg+ studies: same model as the plain run, and the coordinator sees only sums."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from flwr.app import Message
from flwr.common import bytes_to_ndarray
from flwr.common.secure_aggregation.quantization import quantize
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key

from fedcare.exceptions import FederationError
from fedcare.federation import run_inprocess
from fedcare.federation._grid import InProcessGrid
from fedcare.federation._secagg import (
    SECURE_CLIP,
    SECURE_LIMBS,
    decode_limbs,
    encode_limbs,
    error_bound,
    legacy_client_app,
    quantization_range,
    run_secure,
    secagg_client_app,
)
from fedcare.study import StudyConfig

SITES = ["cleveland", "hungary", "switzerland", "va"]


@pytest.fixture(scope="module")
def heart_config(heart_dir: Path) -> StudyConfig:
    return StudyConfig(data="builtin:heart-disease", data_dir=str(heart_dir))


class _RecordingGrid(InProcessGrid):
    """Keeps a copy of every reply as it left the site (Flower's legacy code empties them)."""

    copies: list[Message]

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        done = len(self.replies_received)
        ids = super().push_messages(messages)
        self.copies = getattr(self, "copies", [])
        self.copies += [copy.deepcopy(r) for r in self.replies_received[done:]]
        return ids


def _run(config: StudyConfig, secure: bool = True) -> tuple[dict[str, Any], _RecordingGrid]:
    app = secagg_client_app if secure else legacy_client_app
    grid = _RecordingGrid(app, [{"site": s} for s in SITES],
                         {**config.to_run_config(), "num-sites": len(SITES)})
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    flwr_logger.setLevel(logging.WARNING)
    try:
        return run_secure(grid, grid.server_context(), secure=secure), grid
    finally:
        flwr_logger.setLevel(level)


def _max_diff(a: list[Any], b: list[Any]) -> float:
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b,
                                                                                  strict=True))


def test_limbs_survive_flowers_quantiser_within_the_bound() -> None:
    rng = np.random.default_rng(0)
    k, clip, limbs = 4, SECURE_CLIP["train"], SECURE_LIMBS["train"]
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


@pytest.mark.parametrize("strategy,rounds", [("newton", 6), ("fedavg", 3)])
def test_secure_study_equals_plain_study(heart_config: StudyConfig, strategy: str,
                                         rounds: int) -> None:
    config = heart_config.replace(strategy=strategy, rounds=rounds)
    plain, _ = run_inprocess(config, SITES)
    secure, _ = _run(config)
    for key in ("mean", "scale"):
        np.testing.assert_allclose(secure["standardiser"][key], plain["standardiser"][key],
                                   rtol=0, atol=1e-9)
    assert _max_diff(secure["arrays"], plain["arrays"]) < 1e-8
    for site, metrics in plain["per_site"]["federated"].items():
        assert secure["per_site"]["federated"][site]["accuracy"] == metrics["accuracy"]


def test_coordinator_never_receives_a_sites_own_arrays(heart_config: StudyConfig) -> None:
    config = heart_config.replace(strategy="newton", rounds=2)
    # What each site would send in the clear (same code without SecAgg+), quantised
    # exactly as the mod would quantise it before masking.
    clear, clear_grid = _run(config, secure=False)
    secure, grid = _run(config)
    assert _max_diff(secure["arrays"], clear["arrays"]) < 1e-8
    target = quantization_range(len(SITES))
    own: list[np.ndarray] = []
    for reply in clear_grid.copies:
        for record in reply.content.array_records.values():
            arrays = record.to_numpy_ndarrays()
            own += [a for a in arrays if a.size > 1]
            task = "moments" if len(arrays) == 3 else "train"
            own += quantize(encode_limbs(arrays, SECURE_CLIP[task], target,
                                         SECURE_LIMBS[task]), SECURE_CLIP[task], target)
    assert len(own) > 20

    train_replies = [r for r in grid.copies if r.metadata.message_type == "train"]
    masked = 0
    for reply in train_replies:
        assert not reply.has_error()
        content = reply.content
        assert all(len(record) == 0 for record in content.array_records.values())
        for metrics in content.metric_records.values():
            assert all(v in (0, 1) for v in metrics.values())  # no counts, no losses
        values = content.config_records[RECORD_KEY_CONFIGS].get(Key.MASKED_PARAMETERS, [])
        for value in cast(list[bytes], values):
            vector = bytes_to_ndarray(value)
            masked += 1
            for array in own:
                assert not (vector.shape == array.shape
                            and np.allclose(vector, array, rtol=0, atol=1e-9))
    # 4 sites x (1 moments round + 2 Newton rounds) x (1 factor + 3 or 2 limbs x arrays)
    assert masked == 4 * (1 + 3 * 3) + 2 * 4 * (1 + 2 * 4)


def test_secure_app_refuses_a_request_in_the_clear(heart_config: StudyConfig) -> None:
    grid = InProcessGrid(secagg_client_app, [{"site": s} for s in SITES],
                         {**heart_config.replace(rounds=1).to_run_config(), "num-sites": 4})
    with pytest.raises(FederationError, match="4 site\\(s\\) failed"):
        run_secure(grid, grid.server_context(), secure=False)
    assert all(r.has_error() for r in grid.replies_received
               if r.metadata.message_type == "train")


def test_secure_refuses_aggregations_that_need_each_update(heart_config: StudyConfig) -> None:
    config = heart_config.replace(strategy="fedavg", aggregation="median")
    with pytest.raises(FederationError, match="aggregation 'mean' only"):
        _run(config)


def test_secure_study_matches_plain_study_end_to_end(heart_dir: Path) -> None:
    from fedcare.study import StudyConfig, run_study

    plain = StudyConfig(data_dir=str(heart_dir), strategy="newton", rounds=6)
    a = run_study(plain).to_dict()
    b = run_study(plain.replace(secure_aggregation=True)).to_dict()
    ra, rb = a["results"]["federated:newton"], b["results"]["federated:newton+secagg"]
    assert ra["mean_client_accuracy"] == rb["mean_client_accuracy"]
    assert abs(ra["pooled_test"]["auc"] - rb["pooled_test"]["auc"]) < 1e-9
    assert a["results"]["personalised:newton"]["per_site"].keys() == b["results"][
        "personalised:newton+secagg"]["per_site"].keys()
    assert a["sites"] == b["sites"]
