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
import re
from dataclasses import asdict
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

from fedcare._io import write_text_atomic
from fedcare.evaluation import auc_bootstrap, binary_metrics
from fedcare.exceptions import ConfigError, DataError, DataNotFoundError
from fedcare.vertical import lr, psi, spool
from fedcare.vertical.channel import ChannelKey, open_blob, seal_blob
from fedcare.vertical.party import PartyTable, align_label_party, read_party

from ..site.mods import make_audit_mod, make_vertical_policy_mod

__all__ = ["party_app", "party_table"]

STATE = "vertical"


def _predicting(context: Context) -> bool:
    return str(context.run_config.get("vertical-mode", "")) == "predict"


def _model_file(context: Context, model_id: str) -> Path:
    folder = str(context.node_config.get("model-dir", "") or "")
    if not folder:
        raise ConfigError(f"party '{_name(context)}' has no model folder ('model-dir' in its "
                          "node config; fedcare vertical train --save DIR)")
    if not re.fullmatch(r"[0-9a-f]{16,64}", model_id):
        raise ConfigError("a vertical model id is 16 to 64 hexadecimal characters")
    return Path(folder) / f"{model_id}.json"


def load_part(context: Context, model_id: str) -> dict[str, Any]:
    """This party's part of a trained vertical model (from its own model folder)."""
    path = _model_file(context, model_id)
    if not path.is_file():
        others = sorted(q.parent.name for q in path.parent.parent.glob(f"*/{model_id}.json"))
        raise DataNotFoundError(f"party '{_name(context)}' holds no part of model "
                                f"{model_id} (looked for {path})"
                                + (f"; parts of that model are held by {others}: give the "
                                   "parties the names they had in training" if others else ""))
    return dict(_read_part(str(path), *_stat(str(path))))


@lru_cache(maxsize=8)
def _read_part(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    """A part file, read once per process while it is unchanged (every message of a
    prediction asks for it)."""
    try:
        part = json.loads(Path(path).read_text(encoding="utf-8"))
        part["role"], part["kind"], part["encoder"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a fedcare vertical model part "
                        f"({type(exc).__name__})") from None
    return dict(part)


def _save_part(context: Context, model_id: str, part: dict[str, Any]) -> bool:
    """Write this party's part of the model to its own model folder (if it has one)."""
    if not model_id or not context.node_config.get("model-dir"):
        return False
    table = party_table(context)
    path = _model_file(context, model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = context.node_config
    write_text_atomic(path, json.dumps({
        "format": 1, "model_id": model_id, "party": _name(context),
        "id_column": str(cfg["id-column"]), "id_kind": str(cfg.get("id-kind", "generic")),
        "label": str(cfg.get("label", "") or "") or None,
        "encoder": table.encoder.to_dict() if table.encoder else None,
        "feature_names": table.feature_names,
        "created": datetime.now(UTC).isoformat(timespec="seconds"), **part}))
    return True


def party_table(context: Context) -> PartyTable:
    cfg = context.node_config
    if _predicting(context):
        return _new_people(context)
    if not cfg.get("data") or not cfg.get("id-column"):
        raise ConfigError(f"site '{_name(context)}' is not set up for vertical studies: its "
                          "node config needs 'data' and 'id-column' (fedcare site start: "
                          "id-column, and label at the label party, under [site.vertical] "
                          "in site.toml; docs/vertical.md)")
    features = str(cfg.get("features", "") or "")
    path = str(cfg["data"])
    key = (path, *_stat(path), _name(context), str(cfg["id-column"]),
           str(cfg.get("id-kind", "generic")), str(cfg.get("label", "") or ""), features,
           str(cfg.get("positive", "") or ""))
    if key in _TABLES:
        return _TABLES[key]
    table = read_party(path, str(cfg["id-column"]), name=_name(context),
                       kind=str(cfg.get("id-kind", "generic")),
                       label=str(cfg["label"]) if cfg.get("label") else None,
                       features=[f for f in features.split(",") if f] or None,
                       positive=str(cfg["positive"]) if cfg.get("positive") else None)
    _keep(key, table)
    return table


def _new_people(context: Context) -> PartyTable:
    """Predict mode: the party's file of new people, encoded as its part of the model
    was trained (no label needed)."""
    cfg = context.node_config
    model_id = str(context.run_config.get("vertical-model-id", ""))
    part = load_part(context, model_id)
    if not (cfg.get("predict-data") or cfg.get("data")) or not cfg.get("id-column"):
        raise ConfigError(f"party '{_name(context)}': its node config needs 'predict-data' "
                          "(or 'data') and 'id-column' (the new people's file)")
    saved = str(part.get("id_kind") or "generic")
    given = str(cfg.get("id-kind", "") or "")
    if given and given != saved:
        raise ConfigError(f"party '{_name(context)}': its part of model {model_id} matches "
                          f"identifiers as '{saved}', not '{given}' (leave out --id-kind)")
    # a live site names the file its steward lets new people be predicted from
    # ('predict-data' in site.toml's [site.vertical]); the coordinator never names a file
    path = str(cfg.get("predict-data") or cfg["data"])
    key = ("predict", model_id, path, *_stat(path), _name(context), str(cfg["id-column"]))
    if key in _TABLES:
        return _TABLES[key]
    from fedcare.vertical.party import Encoder

    table = read_party(path, str(cfg["id-column"]), name=_name(context), kind=saved,
                       encoder=Encoder.from_dict(part["encoder"]))
    _keep(key, table)
    return table


def _stat(path: str) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)


def _keep(key: tuple[Any, ...], table: PartyTable) -> None:
    while len(_TABLES) >= _TABLES_KEPT:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[key] = table


_TABLES: dict[tuple[Any, ...], PartyTable] = {}
"""Tables this process has read, keyed by the file's path, size and modification time
and the party's settings: a party answers many messages of a study from one read (in
one process: the embedded engine; a deployed SuperNode starts a process per message).
Kept in the party's own process memory only, never on disk; a changed file is re-read."""
_TABLES_KEPT = 4


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


party_app = ClientApp(mods=[make_audit_mod(), make_vertical_policy_mod()])
"""A vertical party's app (every message passes the site's audit mod, then its policy:
:func:`~fedcare.federation.site.mods.make_vertical_policy_mod`)."""


@party_app.query("vsetup")
def setup(message: Message, context: Context) -> Message:
    """Read the table, draw this study's keys and row order; reply counts and a key."""
    cfg = _config(message)
    state = _state(context)
    state["study"] = cast(bytes, cfg["study"])
    state["psi"] = psi.PsiKey.generate().private
    chan = ChannelKey.generate()
    state["chan"] = chan.private
    if _spooled(context):
        return _reply(message, site=_name(context), public=chan.public,
                      **_spool_setup(context, state))
    table = party_table(context)
    rng = np.random.default_rng(int.from_bytes(os.urandom(8), "big"))
    state["perm"] = rng.permutation(table.n).astype(np.int64).tobytes()
    extra: dict[str, Any] = {}
    if _predicting(context):
        part = load_part(context, str(context.run_config.get("vertical-model-id", "")))
        has_label = part["role"] == "label"
        extra["model-kind"] = str(part["kind"])
    else:
        has_label = table.y is not None
    return _reply(message, site=_name(context), n=table.n, public=chan.public, **extra,
                  **{"has-label": has_label, "features": json.dumps(table.feature_names),
                     "report": json.dumps({**table.report.to_dict(),
                                           "left_out": table.left_out})})


def _spooled(context: Context) -> bool:
    """A PSI alone (no training) streams each party's identifiers through its spool
    folder (:mod:`fedcare.vertical.spool`): memory bounded by a chunk, whatever the
    file's size."""
    return str(context.run_config.get("vertical-mode", "train")) == "psi"


def _chunk(context: Context) -> int:
    return int(cast(int, context.run_config.get("vertical-psi-chunk", spool.CHUNK)))


def _spool_setup(context: Context, state: ConfigRecord) -> dict[str, Any]:
    """Read, normalise, hash and blind this party's identifiers into its spool (the
    identifier column alone, a chunk at a time); the setup reply's counts."""
    cfg = context.node_config
    if not cfg.get("data") or not cfg.get("id-column"):
        party_table(context)  # its error names what the node config lacks
    path, id_column, name = str(cfg["data"]), str(cfg["id-column"]), _name(context)
    label = str(cfg.get("label", "") or "")
    columns = spool.file_columns(path, name)
    wanted = [f for f in str(cfg.get("features", "") or "").split(",") if f]
    missing = [c for c in [id_column, *([label] if label else []), *wanted]
               if c not in columns]
    if missing:
        raise DataError(f"{Path(path).name} (party '{name}'): no column(s) {missing}; it "
                        f"has {columns}")
    store = spool.Spool.create(str(cfg.get("spool", "") or "") or None)
    try:
        n, report = spool.spool_own(path, id_column, name=name,
                                    kind=str(cfg.get("id-kind", "generic")),
                                    salt=cast(bytes, state["study"]),
                                    key=psi.PsiKey(cast(bytes, state["psi"])), spool=store,
                                    chunk=_chunk(context))
    except BaseException:
        store.remove()
        raise
    state["spool"] = str(store.root)
    features = wanted or [c for c in columns if c not in (id_column, label)]
    return {"n": n, "has-label": bool(label), "features": json.dumps(features),
            "report": json.dumps({**report.to_dict(), "left_out": {
                "no usable identifier": report.total - report.usable}})}


@party_app.query("vspool")
def spool_step(message: Message, context: Context) -> Message:
    """A PSI alone, spooled (see :mod:`fedcare.vertical.spool`). A message asks for any
    of, in this order: ``blind`` the other party's points (the comparing party keeps
    them; the other party keeps them to return sorted, or, with ``reveal``, returns them
    at once in their order), ``send`` chunk ``k`` of this party's own points, ``fetch``
    the next sorted piece of the comparing party's doubly blinded points (the other
    party), ``mine``: keep that piece (with ``offset``: its place in this party's
    sending order, revealed), ``match``: count the overlap (the comparing party; revealed,
    it writes its shared rows to its ``shared`` file when its node config names one; the
    spool is then removed)."""
    cfg = _config(message)
    state = _state(context)
    if bool(cfg.get("done", False)):  # this party's part ended (or the PSI failed)
        if "spool" in state:
            spool.Spool(str(state["spool"])).remove()
        return _reply(message)
    if "peer" in cfg:
        state["peer"] = cast(bytes, cfg["peer"])
    store, key, chunk = spool.Spool(str(state["spool"])), _key(state), _chunk(context)
    out: dict[str, Any] = {}
    if "blind" in cfg:
        theirs = np.frombuffer(open_blob(key, cast(bytes, cfg["blind"]), "psi-1"), np.uint8)
        double = psi.PsiKey(cast(bytes, state["psi"])).blind(theirs.reshape(-1, psi.POINT))
        if bool(cfg["compares"]):
            store.add_prefixes("theirs", double)
        elif bool(cfg.get("reveal", False)):  # in the comparing party's own order
            out["returned"] = seal_blob(key, np.ascontiguousarray(
                double[:, :psi.PREFIX]).tobytes(), "psi-2")
        else:
            store.add_prefixes("back", double)
    if "send" in cfg:
        k = int(cast(int, cfg["send"]))
        out["sent"] = seal_blob(key, store.own_points(k * chunk, (k + 1) * chunk).tobytes(),
                                "psi-1")
    if bool(cfg.get("fetch", False)):
        piece, state["fetch"] = store.sorted_prefixes(
            "back", int(cast(int, state.get("fetch", 0))), chunk)
        out["piece"] = seal_blob(key, piece.tobytes(), "psi-2")
        out["last"] = int(cast(int, state["fetch"])) >= spool.BUCKETS
        if out["last"]:
            store.remove()  # this party's part is done
    if "mine" in cfg:
        mine = np.frombuffer(open_blob(key, cast(bytes, cfg["mine"]), "psi-2"),
                             np.uint8).reshape(-1, psi.PREFIX)
        if "offset" in cfg:
            store.add("mine", mine, int(cast(int, cfg["offset"])) + np.arange(len(mine)))
        else:
            store.add("mine", mine)
    if bool(cfg.get("match", False)):
        try:
            if bool(cfg.get("reveal", False)):
                out.update(_write_shared(context, store, chunk))
            else:
                out["overlap"] = store.overlap("mine", "theirs")
        finally:
            store.remove()
    return _reply(message, **out)


def _output_file(out: str, stem: str) -> Path:
    """The file a party writes its output to: ``out`` itself, or in a live site's folder
    (``out`` ends with a separator or is a folder) ``<stem>.csv``, a new file each run
    (``<stem>-2.csv`` ... never over an earlier run's file). Its folder is made."""
    target = Path(out)
    if out.endswith(("/", os.sep)) or target.is_dir():
        first = target / f"{stem}.csv"
        target, k = first, 1
        while target.exists():
            k += 1
            target = first.with_name(f"{first.stem}-{k}.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _write_shared(context: Context, store: spool.Spool, chunk: int) -> dict[str, Any]:
    """Revealed PSI, the comparing party: its shared rows, written (row number and the
    identifier as its file writes it) to its ``shared`` file or folder when its node
    config names one (a live site's ``vertical-psi/``: a new file each run)."""
    cfg = context.node_config
    overlap = store.shared_rows("mine", "theirs", chunk)
    out = str(cfg.get("shared", "") or "")
    minimum = int(cast(int, context.run_config.get("vertical-min-overlap", 100)))
    if not out or overlap < minimum:  # too few to protect anyone: the study is refused
        return {"overlap": overlap}
    target = _output_file(out, f"shared-{context.run_id}")
    store.write_shared(str(cfg["data"]), str(cfg["id-column"]), name=_name(context),
                       target=target, chunk=chunk)
    return {"overlap": overlap, "file": target.name}


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
    p_joint = _sigmoid(joint[test])  # AUC is rank-based: Platt's rescaling changes none
    p_alone = None
    if X.shape[1] > 1:
        alone = LogisticRegression(max_iter=1000).fit(X[train][:, 1:], y[train])
        p_alone = alone.predict_proba(X[test][:, 1:])[:, 1]
        out["alone"] = binary_metrics(y[test], p_alone)
    _intervals(out, y[test], p_joint, p_alone)
    w = _arr(state, "w")
    saved = _save_part(context, str(cfg.get("model-id", "")), {
        "kind": "vertical-logistic", "role": "label", "weights": w.tolist(),
        "weight_names": names, "recalibration": out.get("recalibration"),
        "test_calibration_slope": out["joint"].get("calibration_slope")})
    return _reply(message, metrics=json.dumps(out), saved=saved,
                  weights=json.dumps(dict(zip(names, w.tolist(), strict=True))))


@party_app.evaluate("vweights")
def weights(message: Message, context: Context) -> Message:
    """Passive party: its final step; its weights by feature (for the model card).

    Weights are on standardised features; they say which of this party's features
    matter and in which direction, not any person's value."""
    state = _state(context)
    cfg = _config(message)
    w = _step(state, cfg)
    names = party_table(context).feature_names
    saved = _save_part(context, str(cfg.get("model-id", "")), {
        "kind": "vertical-logistic", "role": "passive", "weights": w.tolist(),
        "weight_names": names})
    return _reply(message, saved=saved,
                  weights=json.dumps(dict(zip(names, w.tolist(), strict=True))))


def _intervals(out: dict[str, Any], y: np.ndarray, p_joint: np.ndarray,
               p_alone: np.ndarray | None) -> None:
    """Bootstrap intervals of the joint model's AUC and, when the label party's own
    features were fitted alone, of theirs and of the joint model's paired gain over them
    (the same resampled test people; the label party holds both scores)."""
    boot = auc_bootstrap(y, p_joint, p_alone)
    out["joint"]["auc_ci95"] = boot["auc_ci95"]
    if p_alone is not None:
        out["alone"]["auc_ci95"] = boot["other_auc_ci95"]
        out["alone"]["joint_gain"] = {"auc_difference": boot["difference"],
                                      "ci95": boot["difference_ci95"]}


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


# ------------------------------------------------------------------ SecureBoost trees
# The active (label) party grows the trees; it keeps its key pair, the trees so far and
# the passive party's decrypted answers for the tree in progress in its state, and
# replays the tree on each message (fedcare.vertical.boost). The passive party keeps
# the public key, the tree's encrypted gradients and its own split records.

_ACTIVE_KEYS: dict[bytes, Any] = {}  # public key -> the loaded key pair (one study)


def _boost_keys(state: ConfigRecord) -> Any:
    from fedcare.vertical.secureboost import HeKeyPair

    public = cast(bytes, state["sb-pk"])
    if public not in _ACTIVE_KEYS:
        _ACTIVE_KEYS.clear()
        _ACTIVE_KEYS[public] = HeKeyPair.load(public, cast(bytes, state["sb-sk"]))
    return _ACTIVE_KEYS[public]


def _boost_active(context: Context, state: ConfigRecord) -> tuple[Any, Any, list[np.ndarray]]:
    """The active party's run (restored from its state), its aligned block and bin edges."""
    from fedcare.vertical.boost import ActiveRun
    from fedcare.vertical.party import Aligned
    from fedcare.vertical.secureboost import TreeParams, bin_features

    X, y, train, test, names = _aligned(context, state, _split_cfg(state))
    params = TreeParams(**json.loads(str(state["sb-params"])))
    codes, edges = bin_features(X[train][:, 1:], params.max_bins)
    run = ActiveRun(params, codes, y[train], np.flatnonzero(train), len(X),
                    int(cast(int, state.get("sb-nb", 0))), int(cast(int, state["sb-seed"])))
    if "sb-run" in state:
        run.load(cast(bytes, state["sb-run"]))
    return run, Aligned(X, y, train, test, names), edges


def _passive_codes(context: Context, state: ConfigRecord) -> np.ndarray:
    return _passive_bins(context, state)[0]


def _passive_bins(context: Context, state: ConfigRecord
                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    from fedcare.vertical.secureboost import bin_features

    return bin_features(_passive_X(context, state), int(cast(int, state["sb-bins"])))


@party_app.train("vbsetup")
def boost_setup(message: Message, context: Context) -> Message:
    """SecureBoost set-up. Label party: align, draw the OU key pair, reply its public
    key sealed for the passive party. Passive party: keep that key, bin its rows."""
    from fedcare.vertical.secureboost import HeKeyPair, TreeParams

    cfg = _config(message)
    state = _state(context)
    for key in ("sb-run", "sb-grad", "sb-records"):
        if key in state:
            del state[key]
    if bool(cfg["label-party"]):
        params = json.loads(str(cfg["params"]))
        TreeParams(**params)  # checked here too
        _X, y, train, test, names = _aligned(context, state, cfg)
        state["label-features"] = bool(cfg.get("label-features", True))
        state["split-seed"] = str(cfg["split-seed"])
        state["test-fraction"] = float(cast(float, cfg["test-fraction"]))
        state["sb-params"] = json.dumps(params)
        state["sb-seed"] = int.from_bytes(os.urandom(4), "big")
        keys = HeKeyPair.generate()
        state["sb-pk"], state["sb-sk"] = keys.public_bytes(), keys.secret_bytes()
        return _reply(message, names=json.dumps(names[1:]),
                      blob=seal_blob(_key(state), keys.public_bytes(), "sb-key"),
                      **{"n-train": int(train.sum()), "n-test": int(test.sum()),
                         "positives-train": int(y[train].sum()),
                         "positives-test": int(y[test].sum())})
    state["sb-pk"] = open_blob(_key(state), cast(bytes, cfg["blob"]), "sb-key")
    state["sb-bins"] = int(cast(int, cfg["max-bins"]))
    codes = _passive_codes(context, state)
    return _reply(message, **{"n-features": int(codes.shape[1])})


@party_app.train("vbstep")
def boost_step(message: Message, context: Context) -> Message:
    """Label party: take the passive party's sealed answer (if any), grow until it is
    needed again; reply its next request sealed, or ``done``."""
    from fedcare.vertical.boost import pack, unpack

    cfg = _config(message)
    state = _state(context)
    if "n-features" in cfg:
        state["sb-nb"] = int(cast(int, cfg["n-features"]))
    run, _, _ = _boost_active(context, state)
    keys = _boost_keys(state)
    blob = cast(bytes, cfg.get("blob", b""))
    if blob:
        run.receive(keys, unpack(open_blob(_key(state), blob, "sb-answer")))
    request = run.step(keys)
    state["sb-run"] = run.dump()
    if request is None:
        return _reply(message, done=True, trees=len(run.trees))
    return _reply(message, done=False, tree=int(request["tree"]),
                  blob=seal_blob(_key(state), pack(request), "sb-request"))


@party_app.train("vbpassive")
def boost_passive(message: Message, context: Context) -> Message:
    """Passive party: answer one sealed request (encrypted histograms, or record a
    split and return the rows going left); the answer sealed for the label party."""
    from fedcare.vertical.boost import pack, passive_answer, unpack

    state = _state(context)
    request = unpack(open_blob(_key(state), cast(bytes, _config(message)["blob"]),
                               "sb-request"))
    records = (np.frombuffer(cast(bytes, state["sb-records"]), np.int64)
               if "sb-records" in state else None)
    grads = cast(bytes, state["sb-grad"]) if "sb-grad" in state else None
    answer, grads, kept = passive_answer(_passive_codes(context, state),
                                         cast(bytes, state["sb-pk"]), request, grads, records)
    if grads is not None:
        state["sb-grad"] = grads
    state["sb-records"] = kept.tobytes()
    return _reply(message, blob=seal_blob(_key(state), pack(answer), "sb-answer"))


@party_app.evaluate("vbdecide")
def boost_decide(message: Message, context: Context) -> Message:
    """Passive party: left/right at each of its split records for each of its rows,
    sealed for the label party; how many splits use each of its features (for the
    report: which features matter, not where they are cut)."""
    from fedcare.vertical.boost import passive_decide

    state = _state(context)
    records = (np.frombuffer(cast(bytes, state["sb-records"]), np.int64).reshape(-1, 2)
               if "sb-records" in state else np.zeros((0, 2), np.int64))
    codes, edges = _passive_bins(context, state)
    left = passive_decide(codes, records)
    saved = _save_part(context, str(_config(message).get("model-id", "")), {
        "kind": "vertical-secureboost", "role": "passive", "records": records.tolist(),
        "edges": [e.tolist() for e in edges]})
    names = party_table(context).feature_names
    usage: dict[str, int] = {}
    for feature, _ in records:
        usage[names[int(feature)]] = usage.get(names[int(feature)], 0) + 1
    body = np.packbits(left, axis=1)
    head = np.array(left.shape, np.int64).tobytes()
    return _reply(message, usage=json.dumps(usage), saved=saved,
                  blob=seal_blob(_key(state), head + body.tobytes(), "sb-decide"))


@party_app.evaluate("vbmetrics")
def boost_metrics(message: Message, context: Context) -> Message:
    """Label party: the joint trees' test metrics (its own splits and the passive
    party's bits for its test people), its own features alone (the same plaintext
    algorithm on its own bins) beside them, and how often each feature splits."""
    from fedcare.vertical.boost import (
        _TREE_FIELDS,
        passive_splits,
        probability,
        tree_usage,
        walk_margin,
    )
    from fedcare.vertical.secureboost import _margin0, apply_bins, fit_plain

    state = _state(context)
    run, aligned, edges = _boost_active(context, state)
    data = open_blob(_key(state), cast(bytes, _config(message)["blob"]), "sb-decide")
    n_records, n_rows = (int(v) for v in np.frombuffer(data[:16], np.int64))
    needed = max((int(t.record.max()) for t in run.trees if t.record.size), default=-1)
    if n_rows != len(aligned.y) or n_records <= needed:
        raise DataError(f"the passive party's decisions cover {n_records} records x "
                        f"{n_rows} rows; the trees need {needed + 1} x {len(aligned.y)}")
    left = np.unpackbits(np.frombuffer(data[16:], np.uint8).reshape(n_records, -1),
                         axis=1, count=n_rows).astype(bool)
    test_rows = np.flatnonzero(aligned.test)
    codes_test = apply_bins(aligned.X[test_rows][:, 1:], edges)
    y_test = aligned.y[test_rows]
    margin = walk_margin(run.trees, _margin0(run.params), codes_test, left[:, test_rows])
    p_joint = probability(margin)
    out: dict[str, Any] = {"joint": binary_metrics(y_test, p_joint)}
    p_alone = None
    if run.codes.shape[1]:
        alone = fit_plain(run.codes, np.zeros((len(run.y), 0), np.int32), run.y, run.params)
        p_alone = alone.predict_proba(codes_test, np.zeros((len(test_rows), 0), np.int32))[:, 1]
        out["alone"] = binary_metrics(y_test, p_alone)
    _intervals(out, y_test, p_joint, p_alone)
    usage = tree_usage(run.trees, aligned.names[1:])
    saved = _save_part(context, str(_config(message).get("model-id", "")), {
        "kind": "vertical-secureboost", "role": "label", "params": asdict(run.params),
        "test_calibration_slope": out["joint"].get("calibration_slope"),
        "base_margin": _margin0(run.params), "edges": [e.tolist() for e in edges],
        "trees": [{f: getattr(t, f).tolist() for f in _TREE_FIELDS} for t in run.trees]})
    return _reply(message, metrics=json.dumps(out), usage=json.dumps(usage), saved=saved,
                  **{"passive-splits": passive_splits(run.trees),
                     "nodes": int(sum(t.n_nodes for t in run.trees))})


# ------------------------------------------------------------------ prediction
# New people of both parties: the PSI (revealed to the label party) aligns them; then the
# passive party's share of each shared person's score (logistic: Enc(X_B w_B) under the
# coordinator's key, masked and selected by the label party as in scoring; trees: its
# left/right bits) reaches the label party, which writes the probabilities to its own
# predictions file. The coordinator learns counts only.


def _part(context: Context) -> dict[str, Any]:
    return load_part(context, str(context.run_config.get("vertical-model-id", "")))


def _matched(state: ConfigRecord) -> tuple[np.ndarray, np.ndarray]:
    """Passive rows that are shared, and the label party's row of each."""
    if "align" not in state:
        raise DataError("no intersection to predict on: the PSI was not revealed to the "
                        "label party")
    align = _arr(state, "align", np.int64)
    rows = np.flatnonzero(align >= 0)
    return rows, align[rows]


@party_app.evaluate("vpforward")
def predict_forward(message: Message, context: Context) -> Message:
    """Passive party, logistic model: ``Enc(X_B w_B)`` for every one of its new rows
    (its shuffled order), sealed for the label party."""
    state = _state(context)
    part = _part(context)
    state["he"] = cast(bytes, _config(message)["he"])
    w = np.asarray(part["weights"], float)
    X = _passive_X(context, state)
    if X.shape[1] != len(w):
        raise DataError(f"party '{_name(context)}': its model part has {len(w)} weights, "
                        f"its new file encodes {X.shape[1]} features")
    scores = lr.encrypt_vector(lr.context(cast(bytes, state["he"])), X @ w)
    return _reply(message, blob=seal_blob(_key(state), _pack(scores), "predict-scores"))


@party_app.evaluate("vpscore")
def predict_score(message: Message, context: Context) -> Message:
    """Label party, logistic model: ``Enc(u_B) * shared + R`` for the coordinator to
    decrypt (it learns nothing: masked; rows not shared are zeroed)."""
    cfg = _config(message)
    state = _state(context)
    passive_rows, _ = _matched(state)
    ctx = lr.context(cast(bytes, cfg["he"]))
    enc_u = lr.load_vectors(ctx, _unpack(open_blob(_key(state), cast(bytes, cfg["blob"]),
                                                   "predict-scores")))
    n = len(_arr(state, "align", np.int64))
    select = np.zeros(n)
    select[passive_rows] = 1.0
    mask = np.random.default_rng(int.from_bytes(os.urandom(8), "big")).uniform(
        -lr.MASK, lr.MASK, n)
    state["score-mask"] = mask.tobytes()
    padded_select, padded_mask = lr._pad(select), lr._pad(mask)
    out = [(enc * padded_select[s].tolist() + padded_mask[s].tolist()).serialize()
           for enc, s in zip(enc_u, lr._chunks(len(padded_select)), strict=True)]
    return _reply(message, scores=out)


@party_app.evaluate("vpdecide")
def predict_decide(message: Message, context: Context) -> Message:
    """Passive party, trees: left/right at each of its records for each of its new rows,
    sealed for the label party."""
    from fedcare.vertical.boost import passive_decide
    from fedcare.vertical.secureboost import apply_bins

    state = _state(context)
    part = _part(context)
    X = _passive_X(context, state)
    edges = [np.asarray(e, float) for e in part["edges"]]
    left = passive_decide(apply_bins(X, edges), np.asarray(part["records"], np.int64))
    head = np.array(left.shape, np.int64).tobytes()
    return _reply(message, blob=seal_blob(_key(state), head + np.packbits(left, axis=1)
                                          .tobytes(), "predict-decide"))


@party_app.evaluate("vpfinish")
def predict_finish(message: Message, context: Context) -> Message:
    """Label party: each shared new person's probability, written to its own
    predictions file (``predictions`` in its node config); counts to the coordinator."""
    cfg = _config(message)
    state = _state(context)
    part = _part(context)
    table = party_table(context)
    passive_rows, own_rows = _matched(state)
    if part["kind"] == "vertical-logistic":
        w = np.asarray(part["weights"], float)
        other = (np.frombuffer(cast(bytes, cfg["decrypted"]))[:len(_arr(state, "score-mask"))]
                 - _arr(state, "score-mask"))[passive_rows]
        z = w[0] + table.X[own_rows] @ w[1:] + other
        recal = part.get("recalibration")
        if recal:
            z = recal["slope"] * z + recal["intercept"]
        probability = _sigmoid(z)
    else:
        from fedcare.vertical.boost import probability as tree_probability
        from fedcare.vertical.boost import walk_margin
        from fedcare.vertical.secureboost import Tree, apply_bins

        data = open_blob(_key(state), cast(bytes, cfg["blob"]), "predict-decide")
        n_records, n_rows = (int(v) for v in np.frombuffer(data[:16], np.int64))
        if n_rows != len(_arr(state, "align", np.int64)):
            raise DataError(f"the passive party's decisions cover {n_rows} rows, it has "
                            f"{len(_arr(state, 'align', np.int64))}")
        left = np.unpackbits(np.frombuffer(data[16:], np.uint8).reshape(n_records, -1),
                             axis=1, count=n_rows).astype(bool)
        trees = [Tree(**{k: np.asarray(v) for k, v in t.items()}) for t in part["trees"]]
        codes = apply_bins(table.X[own_rows], [np.asarray(e, float) for e in part["edges"]])
        probability = tree_probability(walk_margin(trees, float(part["base_margin"]), codes,
                                                   left[:, passive_rows]))
    out = str(context.node_config.get("predictions", "") or "")
    if not out:
        raise ConfigError(f"party '{_name(context)}' has no predictions file ('predictions' "
                          "in its node config; fedcare vertical predict --out FILE)")
    target = _output_file(out, f"{part.get('model_id') or 'model'}-{context.run_id}")
    order = np.argsort(own_rows)
    lines = ["id,probability"] + [f"{table.ids[own_rows[k]]},{probability[k]:.6f}"
                                  for k in order]
    write_text_atomic(target, "\n".join(lines) + "\n")
    slope = part.get("test_calibration_slope")
    # the file's name (not its folder) tells the coordinator where the label party put it
    return _reply(message, n=len(own_rows), file=target.name,
                  **{"not-shared": int(table.n - len(own_rows)),
                     "calibration-slope": float(slope or 0.0)})
