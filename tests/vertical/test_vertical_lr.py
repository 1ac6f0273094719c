"""Vertical logistic regression under CKKS: equal to its plaintext algorithm, close to
scikit-learn on the joined table, clinically sensible, and failing cleanly."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from flwr.app import Message

from fedcare.exceptions import FederationError
from fedcare.federation.engines.inprocess import InProcessGrid
from fedcare.federation.vertical import party_app, run_vertical
from fedcare.study._vertical import Party, run_vertical_study
from fedcare.vertical import lr


def test_encrypted_epochs_equal_the_plaintext_algorithm() -> None:
    rng = np.random.default_rng(1)
    n = 5000  # two CKKS chunks, the second one partly padding
    XA = np.hstack([np.ones((n, 1)), rng.normal(size=(n, 3))])
    XB = rng.normal(size=(n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-(XA[:, 1] + XB[:, 0])))).astype(float)
    use = (rng.random(n) < 0.7).astype(float)
    keys = lr.HeKeys.generate()
    secret, public = lr.context(keys.secret), lr.context(keys.public)
    assert not public.has_secret_key()
    lam = 1e-3
    iA, iB = lr.newton_block(XA, use, lam), lr.newton_block(XB, np.ones(n), lam)
    wA, wB = np.zeros(4), np.zeros(2)
    for _ in range(3):
        enc_d = lr.residual(public, lr.encrypt_vector(public, XB @ wB), XA @ wA, y, use)
        masks = rng.uniform(-lr.MASK, lr.MASK, 6)
        gA = lr.decrypt_sums(secret, lr.gradient_sums(public, enc_d, XA, masks[:4])) - masks[:4]
        gB = lr.decrypt_sums(secret, lr.gradient_sums(public, enc_d, XB, masks[4:])) - masks[4:]
        wA = wA - iA @ (gA / use.sum() + lam * wA)
        wB = wB - iB @ (gB / use.sum() + lam * wB)
    rA, rB = lr.plaintext_reference(XA, XB, y, use, epochs=3, lam=lam)
    assert np.abs(wA - rA).max() < 1e-4 and np.abs(wB - rB).max() < 1e-4
    assert np.abs(rA).max() > 0.1  # it did learn something


def _parties(h: Path, i: Path) -> list[Party]:
    return [Party("hospital", h, "patient_id", label="event"),
            Party("insurer", i, "member_id")]


def test_joint_model_against_each_party_alone_and_plaintext(
        party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, shared = party_files
    result = run_vertical_study(_parties(h, i), epochs=8, min_overlap=10)
    res = result["results"]
    assert set(res) == {"joint", "hospital_only", "insurer_only", "plaintext",
                        "plaintext_same_algorithm"}
    assert result["psi"]["overlap"] == len(shared)
    assert res["joint"]["n_train"] + res["joint"]["n_test"] == len(shared)
    # lossless against its own algorithm, close to scikit-learn on the joined table
    assert res["plaintext_same_algorithm"]["max_weight_difference"] < 1e-4
    assert abs(res["joint"]["auc"] - res["plaintext"]["auc"]) < 0.01
    # both parties bring signal: the joint model beats each alone
    assert res["joint"]["auc"] > res["hospital_only"]["auc"]
    assert res["joint"]["auc"] > res["insurer_only"]["auc"]
    # the simulated risk factors raise risk in the joint model (no silent sign flip)
    weights = res["joint"]["weights"]
    assert weights["hospital"]["bp"] > 0 and weights["hospital"]["chol"] > 0
    assert weights["insurer"]["claims"] > 0
    json.dumps(result)  # JSON-ready


def test_recalibration_brings_the_calibration_slope_towards_one(
        party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, _ = party_files
    plain = run_vertical_study(_parties(h, i), epochs=6, min_overlap=10, other_alone=False,
                               references=False)["results"]["joint"]
    recal = run_vertical_study(_parties(h, i), epochs=6, min_overlap=10, other_alone=False,
                               references=False, recalibrate=True)["results"]["joint"]
    assert abs(recal["auc"] - plain["auc"]) < 1e-6  # a monotone rescaling keeps the ranking
    assert abs(recal["calibration_slope"] - 1) < abs(plain["calibration_slope"] - 1)
    assert recal["recalibration"]["slope"] > 1  # the Taylor loss shrank the weights
    slope = recal["recalibration"]["slope"]
    rescaled = recal["weights_recalibrated"]
    assert rescaled["insurer"]["claims"] == pytest.approx(recal["weights"]["insurer"]["claims"]
                                                          * slope)
    assert "weights_recalibrated" not in plain


class _Silent(InProcessGrid):
    """A grid on which the passive party stops answering at its first backward pass."""

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        messages = list(messages)
        if messages and messages[0].metadata.message_type == "train.vbackward":
            return []
        return super().send_and_receive(messages, timeout=timeout)


def test_a_party_missing_mid_training_stops_the_study_cleanly(
        party_files: tuple[Path, Path, set[str]]) -> None:
    h, i, _ = party_files
    grid = _Silent(party_app, [p.node_config() for p in _parties(h, i)],
                   {"vertical-epochs": 3, "vertical-min-overlap": 10})
    with pytest.raises(FederationError, match=r"train\.vbackward: no answer from party "
                                              r"'insurer'"):
        run_vertical(grid, grid.server_context())
