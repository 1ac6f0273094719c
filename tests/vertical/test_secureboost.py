"""SecureBoost (vertical gradient-boosted trees under sf-heu's OU): lossless against its
plaintext algorithm, learning, and passing only what the protocol allows.

All data here are synthetic (no real people): 600 rows, 3 active + 3 passive standard
normal features, a logistic label whose log-odds depend on two features of each party
(one linearly, one through a step). Rows 0-399 train, 400-599 are held out. One 2048-bit OU key
pair and one secure fit are shared by the module (key generation takes seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

pytest.importorskip("heu")

from fedcare.vertical import secureboost as sb

N, N_TRAIN = 600, 400
PARAMS = sb.TreeParams(n_trees=5, max_depth=3, learning_rate=0.3, max_bins=16)


@dataclass
class Fitted:
    Xa: np.ndarray
    Xb: np.ndarray
    y: np.ndarray
    active: sb.ActiveParty
    passive: sb.PassiveParty
    secure: sb.SecureModel
    plain: sb.PlainModel
    log: list[Any]
    predict_log: list[Any]
    test_a: np.ndarray
    test_b: np.ndarray


def synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    Xa, Xb = rng.normal(size=(N, 3)), rng.normal(size=(N, 3))
    z = 2 * Xa[:, 0] + 1.5 * (Xa[:, 1] > 0) + 2 * Xb[:, 0] - 1.5 * (np.abs(Xb[:, 1]) > 1)
    y = (rng.random(N) < 1 / (1 + np.exp(-z))).astype(int)
    return Xa, Xb, y


@pytest.fixture(scope="module")
def keys() -> sb.HeKeyPair:
    return sb.HeKeyPair.generate()


@pytest.fixture(scope="module")
def fitted(keys: sb.HeKeyPair) -> Fitted:
    Xa, Xb, y = synthetic()
    active = sb.ActiveParty.from_features(Xa[:N_TRAIN], y[:N_TRAIN], PARAMS.max_bins,
                                          keys=keys)
    passive = sb.PassiveParty.from_features(Xb[:N_TRAIN], PARAMS.max_bins)
    log: list[Any] = []
    secure = sb.fit_secure(active, passive, PARAMS, log=log)
    plain = sb.fit_plain(active.codes, passive.codes, y[:N_TRAIN], PARAMS)
    test_a, test_b = active.transform(Xa[N_TRAIN:]), passive.transform(Xb[N_TRAIN:])
    predict_log: list[Any] = []
    secure.predict_proba(test_a, test_b, log=predict_log)
    return Fitted(Xa, Xb, y, active, passive, secure, plain, log, predict_log,
                  test_a, test_b)


def _payload(message: Any) -> list[Any]:
    """Every leaf value of a message's fields (tuples and lists flattened)."""
    out: list[Any] = []

    def walk(v: Any) -> None:
        if isinstance(v, tuple | list):
            for item in v:
                walk(item)
        else:
            out.append(v)

    for f in fields(message):
        walk(getattr(message, f.name))
    return out


def _training_gradients(fitted: Fitted) -> list[tuple[np.ndarray, np.ndarray]]:
    """The g and h of every tree (the plaintext model's margins on the training rows)."""
    y = fitted.y[:N_TRAIN].astype(float)
    margin = np.zeros(N_TRAIN)
    out = []
    for tree in fitted.plain.trees:
        p = 1 / (1 + np.exp(-margin))
        out.append((p - y, p * (1 - p)))
        single = sb.PlainModel([tree], 0.0, 3, 3, PARAMS.max_bins)
        margin = margin + single.decision_function(fitted.active.codes, fitted.passive.codes)
    return out


# --------------------------------------------------------------------------- lossless


def test_secure_predictions_and_trees_equal_the_plaintext_algorithm(fitted: Fitted) -> None:
    secure = fitted.secure.predict_proba(fitted.test_a, fitted.test_b)
    plain = fitted.plain.predict_proba(fitted.test_a, fitted.test_b)
    assert secure.shape == (N - N_TRAIN, 2)
    assert np.abs(secure - plain).max() < 1e-6
    train = fitted.secure.decision_function(fitted.active.codes, fitted.passive.codes)
    assert np.abs(train - fitted.plain.decision_function(
        fitted.active.codes, fitted.passive.codes)).max() < 1e-6
    n_passive = 0
    for s_tree, p_tree in zip(fitted.secure.trees, fitted.plain.trees, strict=True):
        assert s_tree.same_structure(p_tree)
        for node in np.flatnonzero(s_tree.party == 1):
            n_passive += 1
            # the model holder knows only the record; the passive party its own rule
            assert s_tree.feature[node] == -1 and s_tree.bin[node] == -1
            assert fitted.passive.split_rule(int(s_tree.record[node])) == (
                p_tree.feature[node], p_tree.bin[node])
    assert n_passive >= 3 and (fitted.secure.trees[0].party == 0).any()  # both split


def test_secure_equals_plaintext_when_the_parties_hold_the_same_column(
        keys: sb.HeKeyPair) -> None:
    # both parties hold the same (e.g. age) column: its splits tie exactly between them,
    # and both runs must resolve every tie the same way (to the active party)
    Xa, Xb, y = synthetic(4)
    Xa, Xb, y = Xa[:200, :1], np.column_stack([Xa[:200, 0], Xb[:200, 0]]), y[:200]
    params = sb.TreeParams(n_trees=3, max_depth=2, max_bins=8)
    active = sb.ActiveParty.from_features(Xa, y, 8, keys=keys)
    passive = sb.PassiveParty.from_features(Xb, 8)
    assert np.array_equal(active.codes[:, 0], passive.codes[:, 0])
    secure = sb.fit_secure(active, passive, params)
    plain = sb.fit_plain(active.codes, passive.codes, y, params)
    for s_tree, p_tree in zip(secure.trees, plain.trees, strict=True):
        assert s_tree.same_structure(p_tree)
        for node in np.flatnonzero(s_tree.party == 1):
            assert passive.split_rule(int(s_tree.record[node])) == (
                p_tree.feature[node], p_tree.bin[node])
    assert not any((t.party == 1).any() and (t.feature[t.party == 1] == 0).any()
                   for t in plain.trees)  # the passive copy never wins a tie
    assert np.abs(secure.decision_function(active.codes, passive.codes)
                  - plain.decision_function(active.codes, passive.codes)).max() < 1e-6


def test_encrypted_histogram_sums_are_exact(keys: sb.HeKeyPair) -> None:
    rng = np.random.default_rng(3)
    n, d, bins = 300, 2, 8
    codes_a, codes_b = rng.integers(0, bins, (n, 1)), rng.integers(0, bins, (n, d))
    y = rng.integers(0, 2, n)
    active = sb.ActiveParty(codes_a, y, keys=keys)
    passive = sb.PassiveParty(codes_b)
    bits = sb.scale_bits(n)
    g, h = rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n)  # negative gradients too
    gi, hi = np.rint(g * 2.0**bits).astype(np.int64), np.rint(h * 2.0**bits).astype(np.int64)
    passive.receive_public_key(active.public_key())
    passive.receive_gradients(active.encrypt_gradients(0, gi, hi, bits))
    rows = np.flatnonzero(rng.random(n) < 0.6)
    reply = passive.histograms(sb.HistogramRequest(0, (0,), (rows,), bins))
    (hg, hh), = active.decrypt_histograms(reply, d, bins, bits)
    for j in range(d):
        exact_g = np.bincount(codes_b[rows, j], weights=g[rows], minlength=bins)
        exact_h = np.bincount(codes_b[rows, j], weights=h[rows], minlength=bins)
        assert np.array_equal(hg[j], [gi[rows][codes_b[rows, j] == k].sum() for k in range(bins)])
        assert np.array_equal(hh[j], [hi[rows][codes_b[rows, j] == k].sum() for k in range(bins)])
        assert np.abs(hg[j] / 2.0**bits - exact_g).max() < 1e-9 * np.abs(g[rows]).sum()
        assert np.abs(hh[j] / 2.0**bits - exact_h).max() < 1e-9 * exact_h.sum()


def test_ties_go_to_the_active_party_then_lower_feature_then_lower_bin() -> None:
    Xa, _, y = synthetic(1)
    codes, _ = sb.bin_features(Xa[:, :1], 16)
    # the same column at both parties, and twice at the passive party: every best split
    # ties between them and must go to the active copy
    model = sb.fit_plain(codes, np.hstack([codes, codes]), y, PARAMS)
    assert all(((t.party == 0) | (t.party == -1)).all() for t in model.trees)
    passive_only = sb.fit_plain(np.empty((N, 0), int), np.hstack([codes, codes]), y, PARAMS)
    splits = [t for t in passive_only.trees if (t.party == 1).any()]
    assert splits and all((t.feature[t.party == 1] == 0).all() for t in splits)


# --------------------------------------------------------------------------- learning


def test_joint_model_learns_and_beats_each_party_alone(fitted: Fitted) -> None:
    y_test = fitted.y[N_TRAIN:]
    joint = roc_auc_score(y_test, fitted.secure.predict_proba(fitted.test_a,
                                                              fitted.test_b)[:, 1])
    none_a = np.empty((N_TRAIN, 0), int)
    active_alone = sb.fit_plain(fitted.active.codes, none_a, fitted.y[:N_TRAIN], PARAMS)
    passive_alone = sb.fit_plain(fitted.passive.codes, none_a, fitted.y[:N_TRAIN], PARAMS)
    empty = np.empty((N - N_TRAIN, 0), int)
    auc_a = roc_auc_score(y_test, active_alone.predict_proba(fitted.test_a, empty)[:, 1])
    auc_b = roc_auc_score(y_test, passive_alone.predict_proba(fitted.test_b, empty)[:, 1])
    assert joint > 0.75
    assert joint > auc_a + 0.03 and joint > auc_b + 0.03, (joint, auc_a, auc_b)


# --------------------------------------------------------------------------- what crosses


def test_the_passive_party_never_receives_plaintext_labels_or_gradients(
        fitted: Fitted) -> None:
    to_passive = [m for m in fitted.log + fitted.predict_log if m.receiver == "passive"]
    kinds = {type(m).__name__ for m in to_passive}
    assert kinds == {"PublicKeyMessage", "EncryptedGradients", "HistogramRequest",
                     "SplitRequest", "DecisionRequest"}
    secrets = [fitted.y[:N_TRAIN], fitted.y[:N_TRAIN].astype(float)]
    for g, h in _training_gradients(fitted):
        bits = sb.scale_bits(N_TRAIN)
        secrets += [g, h, np.rint(g * 2.0**bits), np.rint(h * 2.0**bits)]
    for message in to_passive:
        for value in _payload(message):
            assert isinstance(value, bytes | int | np.ndarray), type(value)
            if isinstance(value, np.ndarray):
                assert np.issubdtype(value.dtype, np.integer)  # row indices only
                assert not any(value.shape == s.shape and np.array_equal(value, s)
                               for s in secrets)
            if isinstance(value, bytes):
                assert not any(s.tobytes() in value for s in secrets)
    # the gradients travel as sf-heu ciphertexts that only the active party can open
    from heu import numpy as hnp

    blobs = [m.ciphertexts for m in to_passive if isinstance(m, sb.EncryptedGradients)]
    assert len(blobs) == PARAMS.n_trees
    cipher = hnp.CiphertextArray.load_from(blobs[0])
    assert (cipher.rows, cipher.cols) == (N_TRAIN, 1)
    bits = sb.scale_bits(N_TRAIN)
    opened = fitted.active.keys.kit.decryptor().decrypt(cipher).to_numpy(
        fitted.active.keys.kit.batch_float_encoder(scale=2**bits, padding_bits=32))
    g0, h0 = _training_gradients(fitted)[0]
    assert np.abs(opened[:, 0] - g0).max() < 1e-9 and np.abs(opened[:, 1] - h0).max() < 1e-9


def test_the_active_party_never_receives_passive_values_or_bin_edges(
        fitted: Fitted) -> None:
    to_active = [m for m in fitted.log + fitted.predict_log if m.receiver == "active"]
    assert {type(m).__name__ for m in to_active} == {
        "PassiveHello", "EncryptedHistograms", "SplitResponse", "DecisionResponse"}
    edges = [e for e in fitted.passive._edges or [] if e.size]
    assert edges
    columns = [fitted.Xb[:N_TRAIN, j] for j in range(3)] + [
        fitted.Xb[N_TRAIN:, j] for j in range(3)]
    for message in to_active:
        for value in _payload(message):
            assert isinstance(value, bytes | int | np.ndarray), type(value)
            if isinstance(value, np.ndarray):
                assert value.dtype == bool or np.issubdtype(value.dtype, np.integer)
                assert not any(np.array_equal(value, c) for c in columns + edges)
            if isinstance(value, bytes):
                assert not any(e.tobytes() in value for e in edges)
                assert not any(c[:4].tobytes() in value for c in columns)
    # the model the active party holds keeps no passive threshold
    for tree in fitted.secure.trees:
        passive_nodes = tree.party == 1
        assert (tree.feature[passive_nodes] == -1).all()
        assert (tree.bin[passive_nodes] == -1).all()


# --------------------------------------------------------------------------- errors


def test_wrong_shapes_raise_clear_value_errors(keys: sb.HeKeyPair) -> None:
    rng = np.random.default_rng(0)
    a, b, y = rng.integers(0, 8, (50, 2)), rng.integers(0, 8, (50, 3)), rng.integers(0, 2, 50)
    with pytest.raises(ValueError, match="codes_b has 49 rows, expected 50"):
        sb.fit_plain(a, b[:49], y, PARAMS)
    with pytest.raises(ValueError, match="y has 49 rows"):
        sb.fit_plain(a, b, y[:49], PARAMS)
    with pytest.raises(ValueError, match="must be 2-D"):
        sb.fit_plain(a[:, 0], b, y, PARAMS)
    with pytest.raises(ValueError, match=r"bin codes must be in \[0, 16\)"):
        sb.fit_plain(a + 20, b, y, PARAMS)
    with pytest.raises(ValueError, match="0/1 labels"):
        sb.fit_plain(a, b, y + 1, PARAMS)
    model = sb.fit_plain(a, b, y, PARAMS)
    with pytest.raises(ValueError, match="codes_b has 2 columns, the model was trained on 3"):
        model.predict_proba(a, b[:, :2])
    with pytest.raises(ValueError, match="passive party has 49 rows, the active party 50"):
        sb.fit_secure(sb.ActiveParty(a, y, keys=keys), sb.PassiveParty(b[:49]), PARAMS)
    with pytest.raises(ValueError, match="max_bins"):
        sb.TreeParams(max_bins=200)
    with pytest.raises(ValueError, match="X has 2 columns but the bins were made for 3"):
        sb.PassiveParty.from_features(rng.normal(size=(50, 3)), 8).transform(
            rng.normal(size=(5, 2)))


def test_bins_are_quantiles_of_the_training_rows_with_missing_values_on_their_own() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1000, 2))
    X[::10, 1] = np.nan
    codes, edges = sb.bin_features(X, 8)
    assert codes.dtype == np.int32 and codes.max() < 8
    assert len(edges[0]) == 6 and np.allclose(
        np.bincount(codes[:, 0]), 1000 / 7, rtol=0.05)
    missing = np.isnan(X[:, 1])
    assert (codes[missing, 1] == len(edges[1]) + 1).all()
    assert codes[~missing, 1].max() == len(edges[1])
    assert np.array_equal(sb.apply_bins(X, edges), codes)
    constant, cuts = sb.bin_features(np.ones((20, 1)), 8)
    assert (constant == 0).all() and cuts[0].size == 0
