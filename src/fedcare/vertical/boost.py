"""SecureBoost between parties that meet only through relayed messages (Flower's).

:mod:`.secureboost` grows trees with both parties in one process: the tree grower calls
the passive party whenever it needs encrypted histograms or a split. Between two
SuperNodes each message is answered by a new process, so here the active (label)
party's side is a *step function* that replays the current tree from its start, with
the passive party's earlier answers (kept decrypted in the party's own state), until it
needs one more answer: it then returns that request, sealed for the passive party by
the caller, and stops. The grower is deterministic, so a replay takes the same path and
the trees are exactly those of :func:`~fedcare.vertical.secureboost.fit_plain` with the
same bins (the tests compare them node by node).

Rows, and what the passive party learns
---------------------------------------
The active party grows trees over its *training people* (shared people with a label,
not in the test share) but speaks to the passive party in the passive party's own row
order, over **all** of its rows: a row that is not a training person ("dummy") carries
an encrypted zero gradient and hessian (OU encryption is randomised: a zero looks like
any other value), so it changes no sum. Every node the passive party is asked about
holds the node's training people and a share of the dummies: at the root all of them;
at the passive party's own split they follow its rule; at the active party's split each
goes left with the share of the node's training people that went left (drawn from the
study's seed, so a replay draws the same). The passive party therefore never sees
which of its rows are shared, which are training people, or which are test people
(SecureBoost as published shows it each node's exact rows and so the intersection).
The hiding is statistical, not cryptographic: the sizes of the nodes it is asked about
are those of the training people plus a random share of the dummies.

Messages (each sealed between the two parties by the caller)
-------------------------------------------------------------
* request ``hist``: tree, node ids, each node's passive rows, ``n_bins``, and with the
  tree's first request every passive row's encrypted packed ``(g, h)``; answer: per
  node the encrypted sums per (feature, bin).
* request ``split``: for each node of one level that splits on a passive feature, its
  rows, feature and bin index; answer: a record id per split and the rows going left.
* ``decide`` (prediction): the passive party evaluates each of its records on each of
  its rows (left/right bits); the active party walks the trees for its test people.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fedcare.exceptions import DataError

from .secureboost import (
    _ACTIVE,
    _PASSIVE,
    ActiveParty,
    EncryptedGradients,
    EncryptedHistograms,
    HeKeyPair,
    HistogramRequest,
    PassiveParty,
    PublicKeyMessage,
    SplitRequest,
    Tree,
    TreeParams,
    _gradients,
    _grow_tree,
    _margin0,
    _proba,
    _walk,
    scale_bits,
)

__all__ = ["ActiveRun", "NeedPassive", "pack", "passive_answer", "passive_decide",
           "tree_usage", "unpack", "walk_margin"]

_TREE_FIELDS = ("party", "feature", "bin", "record", "left", "right", "value")


class NeedPassive(Exception):
    """Raised inside the replay when the next answer has not arrived yet."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__(request.get("kind"))
        self.request = request


# ------------------------------------------------------------------------- packing


def _ragged(name: str, arrays: list[np.ndarray], out: dict[str, np.ndarray],
            dtype: Any = np.int64) -> None:
    sizes = np.array([len(a) for a in arrays], np.int64)
    out[f"{name}__sizes"] = sizes
    out[f"{name}__flat"] = (np.concatenate([np.asarray(a, dtype) for a in arrays])
                            if arrays else np.zeros(0, dtype))


def _unragged(name: str, data: dict[str, np.ndarray]) -> list[np.ndarray]:
    sizes, flat = data[f"{name}__sizes"], data[f"{name}__flat"]
    ends = np.cumsum(sizes)
    return [flat[e - s:e] for s, e in zip(sizes, ends, strict=True)]


def pack(values: dict[str, Any]) -> bytes:
    """Arrays, numbers, strings and lists of 1-D arrays (``list``) as one ``.npz``
    (no pickle: :func:`unpack` never runs code from what it reads)."""
    out: dict[str, np.ndarray] = {}
    for key, value in values.items():
        if isinstance(value, list):
            _ragged(key, value, out, value[0].dtype if value else np.int64)
        elif isinstance(value, bytes):
            out[key] = np.frombuffer(value, np.uint8)
        else:
            out[key] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez(buffer, **out)  # type: ignore[arg-type]
    return buffer.getvalue()


def unpack(data: bytes) -> dict[str, Any]:
    """What :func:`pack` packed; ragged lists come back as lists."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        raw = {k: npz[k] for k in npz.files}
    out: dict[str, Any] = {}
    for key in raw:
        if key.endswith("__sizes"):
            name = key.removesuffix("__sizes")
            out[name] = _unragged(name, raw)
        elif not key.endswith("__flat"):
            out[key] = raw[key]
    return out


# ------------------------------------------------------------------------- active


class _ReplaySide:
    """The grower's view of the passive party: earlier answers, else :class:`NeedPassive`."""

    def __init__(self, run: ActiveRun, tree: int) -> None:
        self.run, self.tree, self.at = run, tree, 0
        self.n_features = run.n_features_b
        self.dummies = {0: run.dummy_rows()}
        self.pending: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _padded(self, node: int, rows: np.ndarray) -> np.ndarray:
        return np.sort(np.concatenate([self.run.shared[rows], self.dummies[node]]))

    def _next(self, kind: str, request: dict[str, Any]) -> Any:
        if self.at < len(self.run.answers):
            got, value = self.run.answers[self.at]
            self.at += 1
            if got != kind:
                raise DataError(f"the passive party answered a '{got}' request where "
                                f"'{kind}' was asked: the study is out of step")
            return value
        raise NeedPassive(request)

    def histograms(self, tree: int, nodes: Sequence[tuple[int, np.ndarray]], n_bins: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        return self._next("hist", {
            "kind": "hist", "tree": tree, "nodes": np.array([i for i, _ in nodes]),
            "rows": [self._padded(i, r) for i, r in nodes], "n_bins": n_bins})

    def splits(self, tree: int, asks: Sequence[tuple[int, np.ndarray, int, int]]
               ) -> list[tuple[int, int, int, np.ndarray]]:
        answer = self._next("split", {
            "kind": "split", "tree": tree, "nodes": np.array([a[0] for a in asks]),
            "rows": [self._padded(a[0], a[1]) for a in asks],
            "features": np.array([a[2] for a in asks]), "bins": np.array([a[3] for a in asks])})
        if len(answer) != len(asks):
            raise DataError(f"the passive party answered {len(answer)} splits, "
                            f"{len(asks)} were asked")
        out = []
        where = self.run.position()
        for (node, _, _, _), (record, left) in zip(asks, answer, strict=True):
            if left.size and (left.min() < 0 or left.max() >= len(where)):
                raise DataError("the passive party named rows it does not have")
            pos = where[left]
            dummy = self.dummies[node]
            in_left = np.isin(dummy, left[pos < 0])
            self.pending[node] = (dummy[in_left], dummy[~in_left])
            out.append((int(record), -1, -1, np.sort(pos[pos >= 0])))
        return out

    def children(self, tree: int, node: int, left: int, right: int,
                 share_left: float) -> None:
        if node in self.pending:
            dl, dr = self.pending.pop(node)
        else:
            dummy = self.dummies[node]
            go = np.random.default_rng([self.run.seed, tree, node]).random(dummy.size)
            dl, dr = dummy[go < share_left], dummy[go >= share_left]
        self.dummies[left], self.dummies[right] = dl, dr


@dataclass
class ActiveRun:
    """The active party's training in progress (kept in its state between messages).

    Parameters
    ----------
    params : TreeParams
    codes : ndarray (n_train, d_a)
        Its bin codes of its training people (zero columns: the passive party alone).
    y : ndarray (n_train,)
    shared : ndarray (n_train,)
        Each training person's row at the passive party.
    n_passive : int
        The passive party's row count.
    n_features_b : int
    seed : int
        Draws the dummies' side at the active party's splits.
    """

    params: TreeParams
    codes: np.ndarray
    y: np.ndarray
    shared: np.ndarray
    n_passive: int
    n_features_b: int
    seed: int
    trees: list[Tree] = field(default_factory=list)
    margin: np.ndarray | None = None
    answers: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.margin is None:
            self.margin = np.full(len(self.y), _margin0(self.params))

    @property
    def bits(self) -> int:
        return scale_bits(len(self.y))

    def dummy_rows(self) -> np.ndarray:
        mask = np.ones(self.n_passive, bool)
        mask[self.shared] = False
        return np.flatnonzero(mask)

    def position(self) -> np.ndarray:
        """For each passive row, the training person's index in ``codes``, else -1."""
        out = np.full(self.n_passive, -1, np.int64)
        out[self.shared] = np.arange(len(self.shared))
        return out

    @property
    def done(self) -> bool:
        return len(self.trees) >= self.params.n_trees

    def step(self, keys: HeKeyPair) -> dict[str, Any] | None:
        """Grow until the passive party is needed: its request, or None when every
        tree is grown."""
        bits = self.bits
        while not self.done:
            t = len(self.trees)
            assert self.margin is not None
            gi, hi = _gradients(self.margin, self.y, bits)
            try:
                tree, row_value = _grow_tree(self.codes, gi, hi, self.params, bits,
                                             _ReplaySide(self, t), t)
            except NeedPassive as need:
                request = need.request
                if not self.answers:  # the tree's first request carries its gradients
                    g = np.zeros(self.n_passive, np.int64)
                    h = np.zeros(self.n_passive, np.int64)
                    g[self.shared], h[self.shared] = gi, hi
                    active = ActiveParty(np.zeros((1, 0), np.int32), np.zeros(1), keys=keys)
                    request["grad"] = active.encrypt_gradients(t, g, h, bits).ciphertexts
                return request
            self.trees.append(tree)
            self.margin = self.margin + row_value
            self.answers = []
        return None

    def receive(self, keys: HeKeyPair, answer: dict[str, Any]) -> None:
        """Keep the passive party's answer to the last request (histograms decrypted)."""
        kind = str(answer["kind"])
        if kind == "hist":
            active = ActiveParty(np.zeros((1, 0), np.int32), np.zeros(1), keys=keys)
            blobs = tuple(bytes(b.astype(np.uint8)) for b in answer["hists"])
            hists = active.decrypt_histograms(
                EncryptedHistograms(int(answer["tree"]), (), blobs), self.n_features_b,
                self.params.max_bins, self.bits)
            self.answers.append(("hist", hists))
        elif kind == "split":
            self.answers.append(("split", list(zip(answer["records"].tolist(),
                                                   answer["left"], strict=True))))
        else:
            raise DataError(f"unknown answer '{kind}' from the passive party")

    # state between messages: only arrays, no pickle

    def dump(self) -> bytes:
        assert self.margin is not None
        out: dict[str, Any] = {"margin": self.margin, "n_trees": len(self.trees),
                               "n_answers": len(self.answers)}
        for i, tree in enumerate(self.trees):
            for f in _TREE_FIELDS:
                out[f"t{i}_{f}"] = getattr(tree, f)
        for i, (kind, value) in enumerate(self.answers):
            out[f"a{i}_kind"] = kind
            if kind == "hist":
                out[f"a{i}_g"] = np.stack([g for g, _ in value])
                out[f"a{i}_h"] = np.stack([h for _, h in value])
            else:
                out[f"a{i}_records"] = np.array([r for r, _ in value], np.int64)
                out[f"a{i}_left"] = [np.asarray(left, np.int64) for _, left in value]
        return pack(out)

    def load(self, data: bytes) -> None:
        got = unpack(data)
        self.margin = got["margin"].astype(np.float64)
        self.trees = [Tree(**{f: got[f"t{i}_{f}"] for f in _TREE_FIELDS})
                      for i in range(int(got["n_trees"]))]
        self.answers = []
        for i in range(int(got["n_answers"])):
            kind = str(got[f"a{i}_kind"])
            if kind == "hist":
                self.answers.append(("hist", list(zip(got[f"a{i}_g"], got[f"a{i}_h"],
                                                      strict=True))))
            else:
                self.answers.append(("split", list(zip(got[f"a{i}_records"].tolist(),
                                                       got[f"a{i}_left"], strict=True))))


def walk_margin(trees: list[Tree], base: float, codes_a: np.ndarray,
                left: np.ndarray) -> np.ndarray:
    """Log-odds of rows from the active party's codes and the passive party's bits
    ``left[record, row]`` for the same rows."""
    margin = np.full(codes_a.shape[0], base)
    for tree in trees:

        def go_left(r: np.ndarray, nd: np.ndarray, tree: Tree = tree) -> np.ndarray:
            out = np.empty(r.size, dtype=bool)
            on_a = tree.party[nd] == _ACTIVE
            out[on_a] = codes_a[r[on_a], tree.feature[nd[on_a]]] <= tree.bin[nd[on_a]]
            rec = tree.record[nd[~on_a]]
            out[~on_a] = left[rec, r[~on_a]]
            return out

        margin = margin + _walk(tree, codes_a.shape[0], go_left)
    return margin


def probability(margin: np.ndarray) -> np.ndarray:
    """P(y = 1) from log-odds."""
    return _proba(margin)[:, 1]


def tree_usage(trees: list[Tree], names: list[str]) -> dict[str, int]:
    """How many splits use each of the active party's features (for the report)."""
    counts: dict[str, int] = {}
    for tree in trees:
        for f in tree.feature[tree.party == _ACTIVE]:
            counts[names[int(f)]] = counts.get(names[int(f)], 0) + 1
    return counts


def passive_splits(trees: list[Tree]) -> int:
    return int(sum(int((t.party == _PASSIVE).sum()) for t in trees))


# ------------------------------------------------------------------------- passive

_KITS: dict[bytes, Any] = {}  # public key -> its evaluator (about a second to build)


def _passive(codes: np.ndarray, public: bytes, records: np.ndarray | None) -> PassiveParty:
    party = PassiveParty(codes)
    if public in _KITS:
        party._kit, party._public_key = _KITS[public], public
    else:
        party.receive_public_key(PublicKeyMessage(public))
        _KITS.clear()
        _KITS[public] = party._kit
    if records is not None and len(records):
        party._records = [(int(f), int(b)) for f, b in records.reshape(-1, 2)]
    return party


def passive_answer(codes: np.ndarray, public: bytes, request: dict[str, Any],
                   gradients: bytes | None, records: np.ndarray | None
                   ) -> tuple[dict[str, Any], bytes | None, np.ndarray]:
    """The passive party's answer to one request; also its gradients and records to
    keep (``records``: (n, 2) feature/bin of every split it recorded, in id order)."""
    party = _passive(codes, public, records)
    tree = int(request["tree"])
    kind = str(request["kind"])
    if "grad" in request:
        gradients = bytes(request["grad"].astype(np.uint8))
    if kind == "hist":
        if gradients is None:
            raise DataError(f"tree {tree}: histograms asked before any encrypted gradients")
        party.receive_gradients(EncryptedGradients(tree, gradients))
        nodes = tuple(int(n) for n in request["nodes"])
        hists = party.histograms(HistogramRequest(tree, nodes, tuple(request["rows"]),
                                                  int(request["n_bins"])))
        answer: dict[str, Any] = {"kind": "hist", "tree": tree,
                                  "hists": [np.frombuffer(c, np.uint8)
                                            for c in hists.ciphertexts]}
    elif kind == "split":
        recs, lefts = [], []
        for node, rows, feature, bin_ in zip(request["nodes"], request["rows"],
                                             request["features"], request["bins"],
                                             strict=True):
            got = party.split(SplitRequest(tree, int(node), int(feature), int(bin_),
                                           np.asarray(rows, np.int64)))
            recs.append(got.record)
            lefts.append(got.left_rows)
        answer = {"kind": "split", "tree": tree, "records": np.array(recs, np.int64),
                  "left": lefts}
    else:
        raise DataError(f"unknown request '{kind}' from the active party")
    kept = np.array(party._records, np.int64).reshape(-1, 2)
    return answer, gradients, kept


def passive_decide(codes: np.ndarray, records: np.ndarray | None) -> np.ndarray:
    """``left[record, row]`` for every record on every one of the party's rows."""
    recs = (np.zeros((0, 2), np.int64) if records is None
            else np.asarray(records, np.int64).reshape(-1, 2))
    left = np.empty((len(recs), codes.shape[0]), bool)
    for i, (feature, bin_) in enumerate(recs):
        left[i] = codes[:, feature] <= bin_
    return left
