"""Fast unit tests on mock replies: FedNewton, the sums interface, the SecAgg+ packing.

No study, no site data: each test builds the Flower messages a site would send.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from flwr.app import ConfigRecord, Error, Message, MetricRecord, RecordDict
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.supercore.task_identity import TaskIdentity

from fedcare.exceptions import FederationError, PrivacyBudgetError
from fedcare.federation.coordinator.rounds import check_replies
from fedcare.federation.coordinator.sums import PlainSums, add_up
from fedcare.federation.limbs import pack, unpack
from fedcare.federation.protocol import SECURE, MessageType, TaskResult, reply, request
from fedcare.federation.strategies import STRATEGIES, FedNewton
from fedcare.models import logistic_gradient_hessian, newton_update


@pytest.fixture(autouse=True)
def _task_identity() -> None:
    """Flower's Message reads the process-wide task identity (set by a grid normally)."""
    TaskIdentity.task_id = 1
    TaskIdentity.run_id = 1
    TaskIdentity.node_id = SUPERLINK_NODE_ID


def _reply_to(node: int, message_type: str, result: TaskResult, site: str) -> Message:
    sent = request(message_type, node, {})
    sent.metadata.__dict__["_message_id"] = f"m{node}"
    sent.metadata.__dict__["_src_node_id"] = 1
    out = reply(sent, site, result)
    out.metadata.__dict__["_src_node_id"] = node
    return out


def test_fednewton_on_mock_replies_takes_the_pooled_newton_step() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = (rng.random(90) < 0.4).astype(float)
    w = np.array([0.1, -0.2, 0.3, 0.05])
    parts = [(X[:30], y[:30]), (X[30:70], y[30:70]), (X[70:], y[70:])]
    replies = []
    for i, (Xi, yi) in enumerate(parts):
        g, h, loss = logistic_gradient_hessian(Xi, yi, w)
        replies.append(_reply_to(1000 + i, MessageType.NEWTON, TaskResult(
            [g, h], {"num-examples": len(yi), "train-loss": loss}), f"s{i}"))
    strategy = FedNewton(C=0.5)
    strategy._weights = w  # what configure_train sent
    arrays, metrics = strategy.aggregate_train(1, replies)
    assert arrays is not None and metrics is not None
    g, h, loss = logistic_gradient_hessian(X, y, w)
    want = newton_update(g, h, w, 0.5)
    got = np.concatenate([a.ravel() for a in arrays.to_numpy_ndarrays()])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert metrics["train-loss"] == pytest.approx(loss / 90)
    # one reply holding the sum (what SecAgg+ hands over) gives the same step
    summed = _reply_to(1000, MessageType.NEWTON, add_up(replies), "sum of 3 sites")
    strategy._weights = w
    arrays_secure, _ = strategy.aggregate_train(1, [summed])
    assert arrays_secure is not None
    np.testing.assert_allclose(
        np.concatenate([a.ravel() for a in arrays_secure.to_numpy_ndarrays()]), want,
        rtol=0, atol=1e-12)


def test_every_configured_strategy_has_a_builder() -> None:
    from fedcare.config import STRATEGIES as NAMES

    assert set(STRATEGIES) == set(NAMES)


def test_add_up_sums_lists_and_named_arrays_and_metrics() -> None:
    a = _reply_to(1, MessageType.MOMENTS, TaskResult([np.ones(2), np.arange(2.0)],
                                                     {"num-examples": 3}), "a")
    b = _reply_to(2, MessageType.MOMENTS, TaskResult([np.ones(2), np.arange(2.0)],
                                                     {"num-examples": 4}), "b")
    total = add_up([a, b])
    assert isinstance(total.arrays, list)
    np.testing.assert_array_equal(total.arrays[1], [0.0, 2.0])
    assert total.metrics["num-examples"] == 7
    c = _reply_to(1, MessageType.COX, TaskResult({"grad": np.ones(2), "loglik": np.array(
        [-1.0])}), "a")
    d = _reply_to(2, MessageType.COX, TaskResult({"grad": np.ones(2), "loglik": np.array(
        [-2.0])}), "b")
    named = add_up([c, d])
    assert isinstance(named.arrays, dict)
    np.testing.assert_array_equal(named.arrays["loglik"], [-3.0])


def test_pack_unpack_weighted_mean_and_named_sums() -> None:
    enc = SECURE[MessageType.TRAIN]
    sites = [TaskResult([np.full((2, 2), float(i)), np.array([i])], {"num-examples": n})
             for i, n in ((1, 10), (3, 30))]
    packed = [pack(s, enc) for s in sites]
    assert packed[0][1] == packed[1][1]  # the public layout is the same at every site
    summed = [np.sum([p[0][k] for p in packed], axis=0) for k in range(len(packed[0][0]))]
    out = unpack(summed, packed[0][1], enc)
    assert isinstance(out.arrays, list)
    np.testing.assert_allclose(out.arrays[0], np.full((2, 2), (10 * 1 + 30 * 3) / 40))
    assert out.metrics == {"num-examples": 40}
    cox = SECURE[MessageType.COX]
    res = TaskResult({"hess": np.eye(2), "grad": np.ones(2)})
    vector, layout = pack(res, cox)
    back = unpack([2 * v for v in vector], layout, cox)
    assert isinstance(back.arrays, dict)
    np.testing.assert_array_equal(back.arrays["hess"], 2 * np.eye(2))


class _Grid:
    """Answers with prepared replies (a site failing is an error reply)."""

    def __init__(self, replies: list[Message]) -> None:
        self.replies = replies

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> list[Message]:
        return self.replies


def _error(node: int, reason: str) -> Message:
    sent = request(MessageType.TRAIN, node, {})
    sent.metadata.__dict__["_message_id"] = f"m{node}"
    out = Message(Error(code=3, reason=reason), reply_to=sent)
    out.metadata.__dict__["_src_node_id"] = node
    return out


def test_plain_sums_names_failed_and_silent_sites() -> None:
    names = {1: "a", 2: "b", 3: "c"}
    ok = [_reply_to(n, MessageType.TRAIN, TaskResult([np.zeros(1)], {"num-examples": 1}),
                    names[n]) for n in (1, 2)]
    messages = [request(MessageType.TRAIN, n, {}) for n in names]
    grid = _Grid([*ok, _error(3, "ConnectionError: gone")])
    with pytest.raises(FederationError, match="site 'c': ConnectionError"):
        PlainSums().collect(grid, messages, names, what="round 2", timeout=1)  # type: ignore[arg-type]
    answers = PlainSums().collect(grid, messages, names, what="round 2", timeout=1,  # type: ignore[arg-type]
                                  min_sites=2)
    assert answers.absent == ["c"] and len(answers.replies) == 2
    with pytest.raises(FederationError, match="fewer than min_sites_per_round 3"):
        check_replies(grid.replies, names, what="round 2", min_sites=3)
    silent = _Grid(ok)
    with pytest.raises(FederationError, match=r"no answer from \['c'\]"):
        check_replies(silent.replies, names, what="round 2")
    budget = [_error(n, "PrivacyBudgetError: past its budget") for n in names]
    with pytest.raises(PrivacyBudgetError):
        check_replies(budget, names, what="round 9")


def test_requests_and_replies_carry_only_their_records() -> None:
    message = request(MessageType.EVALUATE, 7, {"schema": "{}"}, [np.ones(2)])
    assert set(message.content.config_records) == {"config"}
    assert set(message.content.array_records) == {"arrays"}
    out = _reply_to(7, MessageType.EVALUATE, TaskResult(None, {"auc": None}, {"method": "x"}),
                    "a")
    assert isinstance(out.content, RecordDict)
    assert np.isnan(float(out.content.metric_records["metrics"]["auc"]))  # type: ignore[arg-type]
    assert out.content.config_records["site"] == ConfigRecord({"site": "a", "method": "x"})
    assert not out.content.array_records
    assert isinstance(out.content.metric_records["metrics"], MetricRecord)


def test_checkpoint_accepts_float_rounding_but_not_another_study(tmp_path: Path) -> None:
    from fedcare.federation.coordinator.checkpoint import load_checkpoint, save_checkpoint
    from fedcare.federation.result import RoundRecord

    std = {"mean": [0.1 + 0.2, 5.0], "scale": [1.0, 2.0]}
    path = save_checkpoint(tmp_path, "{}", std, [RoundRecord(1, 0.1, [[0.0]])], {})
    summed_otherwise = {"mean": [0.3, 5.0], "scale": [1.0, 2.0]}   # 0.1 + 0.2 != 0.3
    assert load_checkpoint(str(path), "{}", summed_otherwise)["round"] == 1
    with pytest.raises(FederationError, match="belongs to another study"):
        load_checkpoint(str(path), "{}", {"mean": [0.4, 5.0], "scale": [1.0, 2.0]})


def test_plain_sums_add_up_in_site_order_whatever_the_arrival_order() -> None:
    names = {1: "b", 2: "a"}
    replies = [_reply_to(n, MessageType.MOMENTS, TaskResult([np.ones(1)], {"num-examples": 1}),
                         names[n]) for n in (1, 2)]
    messages = [request(MessageType.MOMENTS, n, {}) for n in names]
    answers = PlainSums().collect(_Grid(replies), messages, names, what="x", timeout=1)  # type: ignore[arg-type]
    assert [r.content.config_records["site"]["site"] for r in answers.replies] == ["a", "b"]
