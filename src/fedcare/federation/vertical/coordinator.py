"""The coordinator of a vertical study (a Flower ServerApp body): PSI, then training.

The coordinator is the third party: it relays sealed blobs between the two parties
(it cannot open them), holds the CKKS secret key and decrypts only masked sums. It
learns each party's row count, normalisation counts and feature names, the overlap
size, and the joint model's test metrics.

Message rounds: setup (both parties), PSI (3), and, when training, one setup round and
three rounds per epoch (passive forward, label residual, passive backward), then two
scoring rounds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from flwr.app import ConfigRecord, Context, RecordDict
from flwr.serverapp import Grid

from fedcare.exceptions import (
    ConfigError,
    DataError,
    DataNotFoundError,
    FedcareError,
    FederationError,
    PolicyRefusal,
)
from fedcare.vertical import lr
from fedcare.vertical.spool import CHUNK

from ..coordinator.rounds import failure_line, wait_for_sites

__all__ = ["VerticalKey", "run_vertical"]

log = logging.getLogger(__name__)

MIN_PER_CLASS = 10
"""Least training people per label value (and 1 test person per value) to train."""


class VerticalKey:
    """Run-config keys of a vertical study."""

    MODE = "vertical-mode"            # "psi" (overlap only) or "train"
    REVEAL = "vertical-reveal"        # the label party learns the intersection
    MIN_OVERLAP = "vertical-min-overlap"
    EPOCHS = "vertical-epochs"
    LAMBDA = "vertical-lambda"
    TEST_FRACTION = "vertical-test-fraction"
    SPLIT_SEED = "vertical-split-seed"
    OTHER_ALONE = "vertical-other-alone"  # also train the passive party's features alone
    RECALIBRATE = "vertical-recalibrate"  # Platt scaling at the label party (see party.py)
    MODEL = "vertical-model"          # "logistic" or "secureboost"
    TREES = "vertical-trees"          # SecureBoost: trees, depth, bins, learning rate
    DEPTH = "vertical-depth"
    BINS = "vertical-bins"
    LEARNING_RATE = "vertical-learning-rate"
    MODEL_ID = "vertical-model-id"    # predict: the model whose parts the parties hold
    PSI_CHUNK = "vertical-psi-chunk"  # overlap-only PSI: points per message (spool.CHUNK)


#: A party's own error keeps its class (and so its exit code): bad data is exit 3 also
#: when a party found it, not "the federation failed".
_KEPT: dict[str, type[FedcareError]] = {
    "DataError": DataError, "DataNotFoundError": DataNotFoundError,
    "ConfigError": ConfigError, "PolicyRefusal": PolicyRefusal}
_CLASS = re.compile(r"^(?:party '[^']*': )?(\w+): ")


def _failure(name: str | None, reason: str) -> FedcareError:
    """A party's failed reply as one error in one line (its own text names its file and
    party), of the party's error class where it is one of fedcare's."""
    line = failure_line(name or "?", reason)
    if re.match(r"^site '[^']+' refuses ", line):  # the site's policy (its text names it)
        return PolicyRefusal(line)
    if name is None:
        line = line.removeprefix("site '?': ")
    elif line.startswith("site '"):
        line = "party '" + line.removeprefix("site '")
    match = _CLASS.match(line)
    if match and match.group(1) in _KEPT:  # its class is said once, by the CLI
        return _KEPT[match.group(1)](line.replace(f"{match.group(1)}: ", "", 1))
    return FederationError(line)


def _ask(grid: Grid, node: int, message_type: str, values: dict[str, Any],
         names: dict[int, str], timeout: float) -> ConfigRecord:
    message = grid.create_message(RecordDict({"config": ConfigRecord(values)}),
                                  message_type, node, group_id=message_type)
    replies = list(grid.send_and_receive([message], timeout=timeout))
    if not replies:
        raise FederationError(f"{message_type}: no answer from party "
                              f"'{names.get(node, node)}' within the round timeout")
    reply = replies[0]
    if reply.has_error():
        raise _failure(names.get(node), reply.error.reason or f"error code {reply.error.code}")
    return cast(ConfigRecord, reply.content["reply"])


def _both(grid: Grid, requests: dict[int, tuple[str, dict[str, Any]]],
          names: dict[int, str], timeout: float) -> dict[int, ConfigRecord]:
    messages = [grid.create_message(RecordDict({"config": ConfigRecord(values)}), kind,
                                    node, group_id=kind)
                for node, (kind, values) in requests.items()]
    replies = {r.metadata.src_node_id: r
               for r in grid.send_and_receive(messages, timeout=timeout)}
    out = {}
    for node in requests:
        reply = replies.get(node)
        if reply is None:
            raise FederationError(f"{requests[node][0]}: no answer from party "
                                  f"'{names.get(node, node)}' within the round timeout")
        if reply.has_error():
            raise _failure(names.get(node),
                           reply.error.reason or f"error code {reply.error.code}")
        out[node] = cast(ConfigRecord, reply.content["reply"])
    return out


def run_vertical(grid: Grid, context: Context,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run a vertical study; its JSON-ready result.

    Raises
    ------
    FederationError
        A party failed or stayed silent, or there are not exactly two parties with
        one label between them.
    DataError
        The overlap is below the study's minimum.
    """
    cfg = context.run_config
    timeout = float(cast(float, cfg.get("round-timeout", 3600.0)))
    say = progress or (lambda text: log.info("%s", text))
    started = time.perf_counter()
    nodes = wait_for_sites(grid, context)
    if len(nodes) != 2:
        raise FederationError(f"a vertical study needs two parties, {len(nodes)} connected")
    names: dict[int, str] = {}
    study = os.urandom(32)
    mode = str(cfg.get(VerticalKey.MODE, "train"))
    try:
        setup = _both(grid, {n: ("query.vsetup", {"study": study}) for n in nodes}, names,
                      timeout)
    except FedcareError:
        if mode == "psi":  # the party that did set up keeps a spool folder
            _drop_spools(grid, nodes)
        raise
    names = {n: str(setup[n]["site"]) for n in nodes}
    labelled = [n for n in nodes if bool(setup[n]["has-label"])]
    training = mode in ("train", "predict")
    if len(labelled) > 1 or (training and not labelled):
        if mode == "psi":
            _drop_spools(grid, nodes)
        raise FederationError(f"exactly one party must hold the label; {len(labelled)} do "
                              f"({sorted(names[n] for n in labelled)})")
    a = labelled[0] if labelled else nodes[0]  # PSI only: the first party compares
    b = next(n for n in nodes if n != a)
    reports = {names[n]: json.loads(str(setup[n]["report"])) for n in nodes}
    sizes = {names[n]: int(cast(int, setup[n]["n"])) for n in nodes}
    say(f"parties: {names[a]} ({'label' if labelled else 'compares'}, "
        f"{sizes[names[a]]} rows), {names[b]} "
        f"({sizes[names[b]]} rows)")
    reveal = bool(cfg.get(VerticalKey.REVEAL, True)) or training
    psi_started = time.perf_counter()
    shared_file = None
    if mode == "psi":
        try:
            overlap, shared_file = _psi_spooled(
                grid, a, b, names, setup, timeout,
                int(cast(int, cfg.get(VerticalKey.PSI_CHUNK, CHUNK))), reveal)
        except FedcareError:
            _drop_spools(grid, nodes)
            raise
    else:
        overlap = _psi_in_memory(grid, a, b, names, setup, timeout, reveal)
    psi_seconds = time.perf_counter() - psi_started
    say(f"PSI: overlap {overlap} ({psi_seconds:.1f} s)")
    minimum = int(cast(int, cfg.get(VerticalKey.MIN_OVERLAP, 100)))
    result: dict[str, Any] = {
        "parties": {names[a]: {"role": "label" if labelled else "compares",
                               "features": json.loads(str(setup[a]["features"]))},
                    names[b]: {"role": "passive",
                               "features": json.loads(str(setup[b]["features"]))}},
        "psi": {"overlap": overlap, "sizes": sizes, "normalisation": reports,
                "seconds": psi_seconds, "revealed_to": names[a] if reveal else None,
                **({"shared_file": shared_file} if shared_file else {})}}
    if overlap < minimum:
        hint = (" If they should share more, check that both write identifiers as one "
                "--id-kind (the normalisation counts are in each party's report)"
                if overlap < 0.05 * min(sizes.values()) else "")
        raise DataError(f"the parties share {overlap} people, below this study's minimum "
                        f"overlap {minimum}: too few to protect anyone; nothing was "
                        + ("predicted." if mode == "predict" else "trained.") + hint)
    if not training:
        result["seconds"] = time.perf_counter() - started
        return result
    if mode == "predict":
        result["prediction"] = _predict(grid, a, b, names, setup, timeout)
        result["model_id"] = str(cfg.get(VerticalKey.MODEL_ID, ""))
        result["seconds"] = time.perf_counter() - started
        say(f"predicted {result['prediction']['predicted']} shared people")
        return result
    model_id = os.urandom(8).hex()
    result["model_id"] = model_id
    if str(cfg.get(VerticalKey.MODEL, "logistic")) == "secureboost":
        result["results"] = _boost_models(grid, cfg, a, b, names, timeout, say, model_id)
        result["model"] = "secureboost"
        result["seconds"] = time.perf_counter() - started
        return result
    keys = lr.HeKeys.generate()
    settings = {"lambda": float(cast(float, cfg.get(VerticalKey.LAMBDA, 1e-3))),
                "split-seed": str(cfg.get(VerticalKey.SPLIT_SEED, "0")),
                "test-fraction": float(cast(float, cfg.get(VerticalKey.TEST_FRACTION, 0.25))),
                "recalibrate": bool(cfg.get(VerticalKey.RECALIBRATE, False))}
    epochs = int(cast(int, cfg.get(VerticalKey.EPOCHS, 10)))
    models = {"joint": True}
    if bool(cfg.get(VerticalKey.OTHER_ALONE, True)):
        models[f"{names[b]}_only"] = False
    results: dict[str, Any] = {}
    for model, label_features in models.items():
        results.update(_train(grid, keys, a, b, names, {**settings,
                                                         "label-features": label_features},
                              epochs, timeout, say, model, names[a],
                              model_id if model == "joint" else ""))
    result["results"] = results
    result["epochs"] = epochs
    result["seconds"] = time.perf_counter() - started
    return result


def _psi_in_memory(grid: Grid, a: int, b: int, names: dict[int, str],
                   setup: dict[int, ConfigRecord], timeout: float, reveal: bool) -> int:
    """The PSI with each party's points in memory (3 message rounds): a study that
    trains, or a PSI revealed to the comparing party."""
    one = _both(grid, {a: ("query.vpsi", {"step": 1, "peer": setup[b]["public"]}),
                       b: ("query.vpsi", {"step": 1, "peer": setup[a]["public"]})},
                names, timeout)
    two = _both(grid, {a: ("query.vpsi", {"step": 2, "blob": one[b]["blob"],
                                          "label-party": True, "reveal": reveal}),
                       b: ("query.vpsi", {"step": 2, "blob": one[a]["blob"],
                                          "label-party": False, "reveal": reveal})},
                names, timeout)
    three = _ask(grid, a, "query.vpsi", {"step": 3, "blob": two[b]["blob"], "reveal": reveal},
                 names, timeout)
    return int(cast(int, three["overlap"]))


def _drop_spools(grid: Grid, nodes: list[int]) -> None:
    """A PSI alone failed: ask every party to remove its spool folder (best effort: a
    party that failed or left answers nothing, and its folder goes with the next PSI
    in its own spool folder after two days, see :class:`fedcare.vertical.spool.Spool`)."""
    with contextlib.suppress(FedcareError):
        _both(grid, {n: ("query.vspool", {"done": True}) for n in nodes}, {}, 60.0)


def _psi_spooled(grid: Grid, a: int, b: int, names: dict[int, str],
                 setup: dict[int, ConfigRecord], timeout: float, chunk: int,
                 reveal: bool) -> tuple[int, str | None]:
    """A PSI alone, through the parties' spool folders (:mod:`fedcare.vertical.spool`):
    a chunk of points per message. The overlap, and (revealed) the name of the file the
    comparing party wrote its shared rows to, if it was given one.

    Round ``k`` asks each party to blind the other's chunk ``k - 1`` and to send its own
    chunk ``k``. Revealed, ``b`` returns ``a``'s doubly blinded chunk at once and ``a``
    keeps it in the next round with its place in ``a``'s order. Overlap only, the round
    after the last chunk asks ``b`` for the first sorted piece of ``a``'s doubly blinded
    points, and each later round hands ``a`` a piece while ``b`` fetches the next. ``a``
    matches with the last piece. With one chunk each this is 3 message rounds, as in
    memory."""
    other = {a: b, b: a}
    chunks = {n: -(-int(cast(int, setup[n]["n"])) // chunk) for n in (a, b)}
    last_round = max(chunks.values())
    held: dict[int, bytes] = {}  # the blob each party is to blind next (the other's)
    returned: tuple[bytes, int] | None = None  # revealed: a's chunk, doubly blinded
    for k in range(last_round + 1):
        requests: dict[int, tuple[str, dict[str, Any]]] = {}
        for node in (a, b):
            values: dict[str, Any] = {"peer": setup[other[node]]["public"]} if k == 0 else {}
            if node in held:
                values.update(blind=held.pop(node), compares=node == a, reveal=reveal)
            if k < chunks[node]:
                values["send"] = k
            if node == a and returned is not None:
                values.update(mine=returned[0], offset=returned[1])
                returned = None
            if node == b and k == last_round and not reveal:
                values["fetch"] = True
            if values:
                requests[node] = ("query.vspool", values)
        replies = _both(grid, requests, names, timeout)
        for node, reply in replies.items():
            if "sent" in reply:
                held[other[node]] = cast(bytes, reply["sent"])
        if "returned" in replies.get(b, {}):
            returned = (cast(bytes, replies[b]["returned"]), (k - 1) * chunk)
    final: dict[str, Any] = {"match": True, "reveal": reveal}
    if reveal:
        if returned is not None:
            final.update(mine=returned[0], offset=returned[1])
    else:
        piece, last = cast(bytes, replies[b]["piece"]), bool(replies[b]["last"])
        while not last:
            replies = _both(grid, {a: ("query.vspool", {"mine": piece}),
                                   b: ("query.vspool", {"fetch": True})}, names, timeout)
            piece, last = cast(bytes, replies[b]["piece"]), bool(replies[b]["last"])
        final["mine"] = piece
    if reveal:  # b's part ended with its last blinding: its spool goes too
        reply = _both(grid, {a: ("query.vspool", final),
                             b: ("query.vspool", {"done": True})}, names, timeout)[a]
    else:  # b removed its spool with the last piece
        reply = _ask(grid, a, "query.vspool", final, names, timeout)
    return int(cast(int, reply["overlap"])), (str(reply["file"]) if "file" in reply else None)


def _enough_people(setup: ConfigRecord) -> tuple[int, int]:
    """The label party's training and test counts, refused when a class is too small."""
    n_train, n_test = int(cast(int, setup["n-train"])), int(cast(int, setup["n-test"]))
    pos_train, pos_test = (int(cast(int, setup["positives-train"])),
                           int(cast(int, setup["positives-test"])))
    if min(pos_train, n_train - pos_train) < MIN_PER_CLASS or \
            min(pos_test, n_test - pos_test) < 1:
        raise DataError(f"too few shared people with a label to train and test: {n_train} "
                        f"training ({pos_train} with the outcome), {n_test} test "
                        f"({pos_test} with the outcome); each class needs at least "
                        f"{MIN_PER_CLASS} training and 1 test person")
    return n_train, n_test


def _train(grid: Grid, keys: lr.HeKeys, a: int, b: int, names: dict[int, str],
           settings: dict[str, Any], epochs: int, timeout: float,
           say: Callable[[str], None], model: str, label_name: str,
           model_id: str = "") -> dict[str, Any]:
    secret = lr.context(keys.secret)
    setup = _both(grid, {a: ("train.vsetup", {**settings, "he": keys.public,
                                              "label-party": True}),
                         b: ("train.vsetup", {"lambda": settings["lambda"], "he": keys.public,
                                              "label-party": False})}, names, timeout)
    n_train, _ = _enough_people(setup[a])
    grad: dict[int, dict[str, Any]] = {a: {}, b: {}}
    seconds = []
    for epoch in range(1, epochs + 1):
        t = time.perf_counter()
        fwd = _ask(grid, b, "train.vforward", grad[b], names, timeout)
        res = _ask(grid, a, "train.vresidual", {**grad[a], "blob": fwd["blob"]}, names, timeout)
        back = _ask(grid, b, "train.vbackward", {"blob": res["blob"]}, names, timeout)
        for node, reply in ((a, res), (b, back)):
            sums = lr.decrypt_sums(secret, cast(list[bytes], reply["sums"]))
            grad[node] = {"gradient": sums.tobytes(), "n-train": float(n_train)}
        seconds.append(time.perf_counter() - t)
        say(f"{model}: epoch {epoch}/{epochs} ({seconds[-1]:.1f} s)")
    fwd = _ask(grid, b, "train.vforward", grad[b], names, timeout)
    recalibrate = bool(settings.get("recalibrate", False))
    scored = _ask(grid, a, "evaluate.vscore", {**grad[a], "blob": fwd["blob"],
                                               "recalibrate": recalibrate}, names, timeout)
    decrypted = lr.decrypt_vector(secret, cast(list[bytes], scored["scores"]), 10 ** 9)
    final = _ask(grid, a, "evaluate.vmetrics", {"decrypted": decrypted.tobytes(),
                                                "recalibrate": recalibrate,
                                                "model-id": model_id}, names, timeout)
    passive = _ask(grid, b, "evaluate.vweights", {"model-id": model_id}, names, timeout)
    out = json.loads(str(final["metrics"]))
    entry = {**out["joint"], "seconds_per_epoch": float(np.median(seconds)),
             "epochs": epochs, "n_train": n_train, "n_test": int(cast(int, setup[a]["n-test"])),
             "weights": {label_name: json.loads(str(final["weights"])),
                         names[b]: json.loads(str(passive["weights"]))}}
    if model_id:
        entry["saved"] = {label_name: bool(final.get("saved", False)),
                          names[b]: bool(passive.get("saved", False))}
    if "recalibration" in out:
        entry["recalibration"] = r = out["recalibration"]
        # the Taylor loss shrinks the weights; Platt's slope puts them back on the
        # log-odds scale of the recalibrated risks
        entry["weights_recalibrated"] = {
            party: {k: (v * r["slope"] + (r["intercept"] if k == "(intercept)" else 0.0))
                    for k, v in ws.items()} for party, ws in entry["weights"].items()}
    found = {model: entry}
    if "alone" in out:
        found[f"{label_name}_only"] = out["alone"]
    return found


def _boost_models(grid: Grid, cfg: Any, a: int, b: int, names: dict[int, str],
                  timeout: float, say: Callable[[str], None],
                  model_id: str = "") -> dict[str, Any]:
    """SecureBoost: the joint trees, and the passive party's features alone through the
    same protocol (the label party's alone come with the joint model's metrics)."""
    params = {"n_trees": int(cast(int, cfg.get(VerticalKey.TREES, 5))),
              "max_depth": int(cast(int, cfg.get(VerticalKey.DEPTH, 3))),
              "max_bins": int(cast(int, cfg.get(VerticalKey.BINS, 32))),
              "learning_rate": float(cast(float, cfg.get(VerticalKey.LEARNING_RATE, 0.3)))}
    split = {"split-seed": str(cfg.get(VerticalKey.SPLIT_SEED, "0")),
             "test-fraction": float(cast(float, cfg.get(VerticalKey.TEST_FRACTION, 0.25)))}
    models = {"joint": True}
    if bool(cfg.get(VerticalKey.OTHER_ALONE, True)):
        models[f"{names[b]}_only"] = False
    results: dict[str, Any] = {}
    for model, own in models.items():
        results.update(_boost(grid, a, b, names, params, {**split, "label-features": own},
                              timeout, say, model, model_id if model == "joint" else ""))
    return results


def _boost(grid: Grid, a: int, b: int, names: dict[int, str], params: dict[str, Any],
           split: dict[str, Any], timeout: float, say: Callable[[str], None],
           model: str, model_id: str = "") -> dict[str, Any]:
    setup = _ask(grid, a, "train.vbsetup", {**split, "params": json.dumps(params),
                                             "label-party": True}, names, timeout)
    n_train, n_test = _enough_people(setup)
    passive = _ask(grid, b, "train.vbsetup", {"label-party": False, "blob": setup["blob"],
                                              "max-bins": params["max_bins"]},
                   names, timeout)
    values: dict[str, Any] = {"n-features": int(cast(int, passive["n-features"]))}
    started, tree, rounds, seconds = time.perf_counter(), -1, 0, []
    while True:
        step = _ask(grid, a, "train.vbstep", values, names, timeout)
        rounds += 1
        if bool(step["done"]):
            break
        if int(cast(int, step["tree"])) != tree:
            if tree >= 0:
                seconds.append(time.perf_counter() - started)
                say(f"{model}: tree {tree + 1}/{params['n_trees']} ({seconds[-1]:.1f} s)")
                started = time.perf_counter()
            tree = int(cast(int, step["tree"]))
        answer = _ask(grid, b, "train.vbpassive", {"blob": step["blob"]}, names, timeout)
        rounds += 1
        values = {"blob": answer["blob"]}
    if tree >= 0:
        seconds.append(time.perf_counter() - started)
        say(f"{model}: tree {tree + 1}/{params['n_trees']} ({seconds[-1]:.1f} s)")
    decide = _ask(grid, b, "evaluate.vbdecide", {"model-id": model_id}, names, timeout)
    final = _ask(grid, a, "evaluate.vbmetrics", {"blob": decide["blob"], "model-id": model_id},
                 names, timeout)
    out = json.loads(str(final["metrics"]))
    entry = {**out["joint"], "trees": params["n_trees"], "max_depth": params["max_depth"],
             "max_bins": params["max_bins"], "learning_rate": params["learning_rate"],
             "seconds_per_tree": float(np.median(seconds)) if seconds else 0.0,
             "message_rounds": rounds + 4, "n_train": n_train, "n_test": n_test,
             "nodes": int(cast(int, final["nodes"])),
             "passive_splits": int(cast(int, final["passive-splits"])),
             "splits": {names[a]: json.loads(str(final["usage"])),
                        names[b]: json.loads(str(decide["usage"]))}}
    if model_id:
        entry["saved"] = {names[a]: bool(final.get("saved", False)),
                          names[b]: bool(decide.get("saved", False))}
    found = {model: entry}
    if "alone" in out:
        found[f"{names[a]}_only"] = out["alone"]
    return found


def _predict(grid: Grid, a: int, b: int, names: dict[int, str],
             setup: dict[int, ConfigRecord], timeout: float) -> dict[str, Any]:
    """Predict for the shared new people with the parts of a model each party holds."""
    kinds = {names[n]: str(setup[n].get("model-kind", "")) for n in (a, b)}
    if len(set(kinds.values())) != 1:
        raise DataError(f"the parties hold parts of different models: {kinds}; give both "
                        "the same --model-id")
    kind = kinds[names[a]]
    if kind == "vertical-logistic":
        keys = lr.HeKeys.generate()
        fwd = _ask(grid, b, "evaluate.vpforward", {"he": keys.public}, names, timeout)
        scored = _ask(grid, a, "evaluate.vpscore", {"he": keys.public, "blob": fwd["blob"]},
                      names, timeout)
        decrypted = lr.decrypt_vector(lr.context(keys.secret),
                                      cast(list[bytes], scored["scores"]), 10 ** 9)
        final = _ask(grid, a, "evaluate.vpfinish", {"decrypted": decrypted.tobytes()},
                     names, timeout)
    elif kind == "vertical-secureboost":
        decide = _ask(grid, b, "evaluate.vpdecide", {}, names, timeout)
        final = _ask(grid, a, "evaluate.vpfinish", {"blob": decide["blob"]}, names, timeout)
    else:
        raise DataError(f"unknown vertical model kind '{kind}'")
    slope = float(cast(float, final.get("calibration-slope", 0.0))) or None
    return {"kind": kind, "predicted": int(cast(int, final["n"])),
            "not_shared": int(cast(int, final["not-shared"])), "label_party": names[a],
            "test_calibration_slope": slope, "file": str(final.get("file", "") or "")}
