"""A party's ClientApp in a vertical study: PSI, encrypted training and scoring.

The party's own file comes from its ``node_config``: ``data`` (path), ``id-column``,
``id-kind`` (see :mod:`fedcare.vertical.ids`), ``label`` (the label party only) and
``features`` (comma-separated; default every other column). Its secrets (PSI scalar,
channel key, row order, alignment, weights, masks) live in the node's
``context.state`` between messages, which Flower keeps on the SuperNode for the run;
they never leave it. Every reply holds counts, public keys, sealed blobs for the other
party (:mod:`fedcare.vertical.channel`) or masked ciphertexts for the coordinator.
"""

from __future__ import annotations

import json
import os
from typing import Any, cast

import numpy as np
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

from fedcare.evaluation import binary_metrics
from fedcare.exceptions import ConfigError
from fedcare.vertical import lr, psi
from fedcare.vertical.channel import ChannelKey, open_blob, seal_blob
from fedcare.vertical.party import PartyTable, align_label_party, read_party

from ..site.mods import make_audit_mod

__all__ = ["party_app", "party_table"]

STATE = "vertical"


def party_table(context: Context) -> PartyTable:
    cfg = context.node_config
    if not cfg.get("data") or not cfg.get("id-column"):
        raise ConfigError(f"site '{_name(context)}' is not set up for vertical studies: its "
                          "node config needs 'data' and 'id-column' (fedcare site start: "
                          "id-column, and label at the label party, under [site.vertical] "
                          "in site.toml; docs/vertical.md)")
    features = str(cfg.get("features", "") or "")
    return read_party(str(cfg["data"]), str(cfg["id-column"]), name=_name(context),
                      kind=str(cfg.get("id-kind", "generic")),
                      label=str(cfg["label"]) if cfg.get("label") else None,
                      features=[f for f in features.split(",") if f] or None,
                      positive=str(cfg["positive"]) if cfg.get("positive") else None)


def _name(context: Context) -> str:
    return str(context.node_config.get("site", f"node{context.node_id}"))


def _state(context: Context) -> ConfigRecord:
    if STATE not in context.state:
        context.state[STATE] = ConfigRecord()
    return cast(ConfigRecord, context.state[STATE])


def _arr(state: ConfigRecord, key: str, dtype: Any = float) -> np.ndarray:
    return np.frombuffer(cast(bytes, state[key]), dtype=dtype)


def _reply(message: Message, **values: Any) -> Message:
    return Message(RecordDict({"reply": ConfigRecord(values)}), reply_to=message)


def _config(message: Message) -> ConfigRecord:
    return cast(ConfigRecord, message.content["config"])


def _key(state: ConfigRecord) -> bytes:
    return ChannelKey(cast(bytes, state["chan"])).shared(cast(bytes, state["peer"]),
                                                         cast(bytes, state["study"]))


party_app = ClientApp(mods=[make_audit_mod()])
"""A vertical party's app (every message passes the site's audit mod)."""


@party_app.query("vsetup")
def setup(message: Message, context: Context) -> Message:
    """Read the table, draw this study's keys and row order; reply counts and a key."""
    cfg = _config(message)
    table = party_table(context)
    state = _state(context)
    state["study"] = cast(bytes, cfg["study"])
    state["psi"] = psi.PsiKey.generate().private
    chan = ChannelKey.generate()
    state["chan"] = chan.private
    rng = np.random.default_rng(int.from_bytes(os.urandom(8), "big"))
    state["perm"] = rng.permutation(table.n).astype(np.int64).tobytes()
    return _reply(message, site=_name(context), n=table.n, public=chan.public,
                  **{"has-label": table.y is not None, "features": json.dumps(table.feature_names),
                     "report": json.dumps({**table.report.to_dict(),
                                           "left_out": table.left_out})})


@party_app.query("vpsi")
def psi_step(message: Message, context: Context) -> Message:
    """``step`` 1: blind own ids; 2: blind the peer's points (the passive party sends
    them back, shuffled when ``reveal`` is off); 3 (label party): match."""
    cfg = _config(message)
    state = _state(context)
    step = int(cast(int, cfg["step"]))
    if step == 1:
        state["peer"] = cast(bytes, cfg["peer"])
        table = party_table(context)
        perm = _arr(state, "perm", np.int64)
        points = psi.hash_points([table.ids[i] for i in perm], cast(bytes, state["study"]))
        blinded = psi.PsiKey(cast(bytes, state["psi"])).blind(points)
        return _reply(message, blob=seal_blob(_key(state), blinded.tobytes(), "psi-1"))
    key = _key(state)
    if step == 2:
        theirs = np.frombuffer(open_blob(key, cast(bytes, cfg["blob"]), "psi-1"), np.uint8)
        double = psi.PsiKey(cast(bytes, state["psi"])).blind(theirs.reshape(-1, psi.POINT))
        if bool(cfg["label-party"]):
            state["their-double"] = np.ascontiguousarray(double[:, :psi.PREFIX]).tobytes()
            return _reply(message, n=len(double))
        if not bool(cfg["reveal"]):
            double = double[np.random.default_rng(
                int.from_bytes(os.urandom(8), "big")).permutation(len(double))]
        return _reply(message, blob=seal_blob(key, double.tobytes(), "psi-2"))
    if step == 3:
        mine = np.frombuffer(open_blob(key, cast(bytes, cfg["blob"]), "psi-2"), np.uint8)
        theirs = _arr(state, "their-double", np.uint8).reshape(-1, psi.PREFIX)
        i, j = psi.overlap_positions(mine.reshape(-1, psi.POINT), theirs)
        perm = _arr(state, "perm", np.int64)
        align = np.full(len(theirs), -1, np.int64)
        align[j] = perm[i]  # the passive party's row j is this party's row align[j]
        if bool(cfg["reveal"]):
            state["align"] = align.tobytes()
        return _reply(message, overlap=len(j))
    raise ConfigError(f"unknown PSI step {step}")


def _aligned(context: Context, state: ConfigRecord, cfg: ConfigRecord
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The label party's features (with intercept), label, training and test masks, in
    the passive party's row order (zeros where a row is not matched)."""
    out = align_label_party(party_table(context), _arr(state, "align", np.int64),
                            seed=str(cfg["split-seed"]),
                            fraction=float(cast(float, cfg["test-fraction"])),
                            own_features=bool(cfg.get("label-features", True)))
    return out.X, out.y, out.train, out.test, out.names


def _passive_X(context: Context, state: ConfigRecord) -> np.ndarray:
    return party_table(context).X[_arr(state, "perm", np.int64)]


@party_app.train("vsetup")
def train_setup(message: Message, context: Context) -> Message:
    """Keep the coordinator's public CKKS context; set up this party's block."""
    cfg = _config(message)
    state = _state(context)
    state["he"] = cast(bytes, cfg["he"])
    lam = float(cast(float, cfg["lambda"]))
    if bool(cfg["label-party"]):
        X, y, train, test, names = _aligned(context, state, cfg)
        state["label-features"] = bool(cfg.get("label-features", True))
        state["split-seed"] = str(cfg["split-seed"])
        state["test-fraction"] = float(cast(float, cfg["test-fraction"]))
        inverse = lr.newton_block(X, train, lam)
        n_train = int(train.sum())
        out = {"n-train": n_train, "n-test": int(test.sum()),
               "positives-train": int(y[train].sum()), "positives-test": int(y[test].sum())}
    else:
        X = _passive_X(context, state)
        names = party_table(context).feature_names
        inverse = lr.newton_block(X, np.ones(len(X)), lam)
        out = {}
    state["inverse"] = inverse.tobytes()
    state["w"] = np.zeros(X.shape[1]).tobytes()
    state["lambda"] = lam
    return _reply(message, names=json.dumps(names), **out)


def _step(state: ConfigRecord, cfg: ConfigRecord) -> np.ndarray:
    """Apply the coordinator's decrypted masked gradient (if any): a block-Newton step."""
    w = _arr(state, "w").copy()
    if "gradient" in cfg:
        g = np.frombuffer(cast(bytes, cfg["gradient"])) - _arr(state, "mask")
        n = float(cast(float, cfg["n-train"]))
        inverse = _arr(state, "inverse").reshape(len(w), len(w))
        w = w - inverse @ (g / n + float(cast(float, state["lambda"])) * w)
        state["w"] = w.tobytes()
    return w


def _mask(state: ConfigRecord, size: int) -> np.ndarray:
    mask = np.random.default_rng(int.from_bytes(os.urandom(8), "big")).uniform(
        -lr.MASK, lr.MASK, size)
    state["mask"] = mask.tobytes()
    return mask


@party_app.train("vforward")
def forward(message: Message, context: Context) -> Message:
    """Passive party: step, then ``Enc(X_B w_B)`` sealed for the label party."""
    state = _state(context)
    w = _step(state, _config(message))
    ctx = lr.context(cast(bytes, state["he"]))
    scores = lr.encrypt_vector(ctx, _passive_X(context, state) @ w)
    return _reply(message, blob=seal_blob(_key(state), _pack(scores), "scores"))


@party_app.train("vresidual")
def residual(message: Message, context: Context) -> Message:
    """Label party: step, then ``Enc(d)`` sealed for the passive party and its masked
    gradient for the coordinator."""
    cfg = _config(message)
    state = _state(context)
    w = _step(state, cfg)
    X, y, train, _, _ = _aligned(context, state, _split_cfg(state))
    ctx = lr.context(cast(bytes, state["he"]))
    enc_u = _unpack(open_blob(_key(state), cast(bytes, cfg["blob"]), "scores"))
    enc_d = lr.residual(ctx, enc_u, X @ w, y, train.astype(float))
    sums = lr.gradient_sums(ctx, enc_d, X, _mask(state, X.shape[1]))
    return _reply(message, blob=seal_blob(_key(state), _pack(enc_d), "residual"), sums=sums)


@party_app.train("vbackward")
def backward(message: Message, context: Context) -> Message:
    """Passive party: its masked gradient from the sealed ``Enc(d)``."""
    state = _state(context)
    ctx = lr.context(cast(bytes, state["he"]))
    enc_d = _unpack(open_blob(_key(state), cast(bytes, _config(message)["blob"]), "residual"))
    X = _passive_X(context, state)
    return _reply(message, sums=lr.gradient_sums(ctx, enc_d, X, _mask(state, X.shape[1])))


@party_app.evaluate("vscore")
def score(message: Message, context: Context) -> Message:
    """Label party, after training: its last step, then ``Enc(u_B) * rows + R`` for the
    coordinator to decrypt (masked: the coordinator learns nothing). ``rows`` are the
    test rows, and with ``recalibrate`` the training rows too."""
    cfg = _config(message)
    state = _state(context)
    w = _step(state, cfg)
    X, _, train, test, _ = _aligned(context, state, _split_cfg(state))
    scored = test | train if bool(cfg.get("recalibrate", False)) else test
    ctx = lr.context(cast(bytes, state["he"]))
    enc_u = lr.load_vectors(ctx, _unpack(open_blob(_key(state), cast(bytes, cfg["blob"]),
                                                   "scores")))
    mask = np.random.default_rng(int.from_bytes(os.urandom(8), "big")).uniform(
        -lr.MASK, lr.MASK, len(test))
    state["score-mask"] = mask.tobytes()
    padded_test = lr._pad(scored.astype(float))
    padded_mask = lr._pad(mask)
    out = [(enc * padded_test[s].tolist() + padded_mask[s].tolist()).serialize()
           for enc, s in zip(enc_u, lr._chunks(len(padded_test)), strict=True)]
    state["own-test-scores"] = (X @ w).tobytes()
    return _reply(message, scores=out)


@party_app.evaluate("vmetrics")
def metrics(message: Message, context: Context) -> Message:
    """Label party: the joint model's test metrics, and its own features alone (a
    plaintext logistic fit on the same training rows) beside them."""
    from sklearn.linear_model import LogisticRegression

    cfg = _config(message)
    state = _state(context)
    X, y, train, test, names = _aligned(context, state, _split_cfg(state))
    other = np.frombuffer(cast(bytes, cfg["decrypted"]))[:len(test)] - _arr(state, "score-mask")
    joint = _arr(state, "own-test-scores") + other
    out: dict[str, Any] = {}
    if bool(cfg.get("recalibrate", False)):
        # Platt scaling of the joint score on the training rows (the Taylor loss shrinks
        # the weights: ranking is right, risks are compressed)
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(joint[train][:, None], y[train])
        out["recalibration"] = {"slope": float(platt.coef_[0, 0]),
                                "intercept": float(platt.intercept_[0])}
        out["joint"] = binary_metrics(y[test], platt.predict_proba(joint[test][:, None])[:, 1])
        out["joint"]["uncalibrated"] = binary_metrics(y[test], _sigmoid(joint[test]))
    else:
        out["joint"] = binary_metrics(y[test], _sigmoid(joint[test]))
    if X.shape[1] > 1:
        alone = LogisticRegression(max_iter=1000).fit(X[train][:, 1:], y[train])
        out["alone"] = binary_metrics(y[test], alone.predict_proba(X[test][:, 1:])[:, 1])
    w = _arr(state, "w")
    return _reply(message, metrics=json.dumps(out),
                  weights=json.dumps(dict(zip(names, w.tolist(), strict=True))))


@party_app.evaluate("vweights")
def weights(message: Message, context: Context) -> Message:
    """Passive party: its final step; its weights by feature (for the model card).

    Weights are on standardised features; they say which of this party's features
    matter and in which direction, not any person's value."""
    state = _state(context)
    w = _step(state, _config(message))
    names = party_table(context).feature_names
    return _reply(message, weights=json.dumps(dict(zip(names, w.tolist(), strict=True))))


def _split_cfg(state: ConfigRecord) -> ConfigRecord:
    return ConfigRecord({"label-features": bool(state["label-features"]),
                         "split-seed": str(state["split-seed"]),
                         "test-fraction": float(cast(float, state["test-fraction"]))})


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _pack(chunks: list[bytes]) -> bytes:
    return json.dumps([len(c) for c in chunks]).encode() + b"\n" + b"".join(chunks)


def _unpack(data: bytes) -> list[bytes]:
    head, _, body = data.partition(b"\n")
    out, at = [], 0
    for size in json.loads(head):
        out.append(body[at:at + size])
        at += size
    return out
