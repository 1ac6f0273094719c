"""SecureBoost driven by messages (fedcare.vertical.boost): the replayed step function
gives exactly the in-process / plaintext trees, and the passive party is asked about
all of its rows, never only the shared ones."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("heu")

from fedcare.vertical import secureboost as sb
from fedcare.vertical.boost import (
    ActiveRun,
    pack,
    passive_answer,
    passive_decide,
    probability,
    unpack,
    walk_margin,
)


def _data(seed: int = 0, n_passive: int = 400, n_shared: int = 260):
    rng = np.random.default_rng(seed)
    Xa = rng.normal(size=(n_shared, 3))
    Xb = rng.normal(size=(n_passive, 4))
    shared = np.sort(rng.choice(n_passive, n_shared, replace=False))
    logit = 1.2 * Xa[:, 0] - 0.8 * Xb[shared, 1] + 0.6 * Xb[shared, 2] * Xa[:, 1]
    y = (rng.random(n_shared) < 1 / (1 + np.exp(-logit))).astype(float)
    return Xa, Xb, shared, y


def _run(Xa, Xb, shared, y, params, *, keys=None, through_bytes=True):
    keys = keys or sb.HeKeyPair.generate(1024)
    codes_a, _ = sb.bin_features(Xa, params.max_bins)
    codes_b, _ = sb.bin_features(Xb, params.max_bins)
    run = ActiveRun(params, codes_a, y, shared, len(Xb), Xb.shape[1], seed=7)
    grads, records, asked = None, None, []
    while True:
        if through_bytes:  # the party's state as it is kept between messages
            fresh = ActiveRun(params, codes_a, y, shared, len(Xb), Xb.shape[1], seed=7)
            fresh.load(run.dump())
            run = fresh
        request = run.step(keys)
        if request is None:
            break
        request = unpack(pack(request))
        asked.append(request)
        answer, grads, records = passive_answer(codes_b, keys.public_bytes(), request,
                                                grads, records)
        run.receive(keys, unpack(pack(answer)))
    return run, codes_a, codes_b, records, asked


def test_message_driven_trees_equal_the_plaintext_gbdt():
    Xa, Xb, shared, y = _data()
    params = sb.TreeParams(n_trees=3, max_depth=3, max_bins=16)
    run, codes_a, codes_b, records, _asked = _run(Xa, Xb, shared, y, params)
    plain = sb.fit_plain(codes_a, codes_b[shared], y, params)
    assert len(run.trees) == 3
    for mine, ref in zip(run.trees, plain.trees, strict=True):
        assert mine.same_structure(ref)
    left = passive_decide(codes_b, records)
    margin = walk_margin(run.trees, plain.base_margin, codes_a, left[:, shared])
    assert np.array_equal(margin, plain.decision_function(codes_a, codes_b[shared]))
    assert np.allclose(probability(margin), plain.predict_proba(codes_a, codes_b[shared])[:, 1])
    # the passive party's features were used (else this test shows little)
    assert any((t.party == 1).any() for t in run.trees)


def test_the_passive_party_is_asked_about_all_its_rows_not_the_shared_ones():
    Xa, Xb, shared, y = _data(1)
    params = sb.TreeParams(n_trees=2, max_depth=2, max_bins=8)
    _, _, _, _, asked = _run(Xa, Xb, shared, y, params, through_bytes=False)
    roots = [r for r in asked if str(r["kind"]) == "hist" and 0 in r["nodes"].tolist()]
    assert roots and all(np.array_equal(r["rows"][0], np.arange(len(Xb))) for r in roots)
    # deeper nodes hold rows that are not shared (dummies), so the union of what was
    # asked never singles out the shared rows
    deeper = [rows for r in asked for n, rows in zip(r["nodes"], r["rows"], strict=True)
              if n != 0]
    assert deeper
    not_shared = np.setdiff1d(np.arange(len(Xb)), shared)
    assert all(np.isin(rows, not_shared).any() for rows in deeper)
    assert all("grad" in r for r in roots) and sum("grad" in r for r in asked) == 2


def test_an_answer_of_the_wrong_kind_is_refused():
    Xa, Xb, shared, y = _data(2)
    params = sb.TreeParams(n_trees=1, max_depth=2, max_bins=8)
    keys = sb.HeKeyPair.generate(1024)
    codes_a, _ = sb.bin_features(Xa, 8)
    run = ActiveRun(params, codes_a, y, shared, len(Xb), Xb.shape[1], seed=1)
    assert str(run.step(keys)["kind"]) == "hist"
    run.receive(keys, {"kind": "split", "tree": 0, "records": np.array([0]),
                       "left": [np.array([1, 2])]})
    from fedcare.exceptions import DataError
    with pytest.raises(DataError, match="out of step"):
        run.step(keys)
