"""Vertical gradient-boosted trees, SecureBoost-style, for binary classification.

SecureBoost (Cheng et al. 2019, "SecureBoost: A Lossless Federated Learning
Framework") grows XGBoost-style histogram trees over features split between two parties
whose rows are already aligned (same people, same order; the alignment is done
elsewhere, e.g. :mod:`fedcare.vertical.psi`). This module is the Flower-free core: both
parties live in one process and every message between them goes through
:func:`fit_secure` (and :meth:`SecureModel.decision_function`), which appends it to a
``log`` so that what crosses the boundary can be inspected.

Parties
-------
* The **active** party (:class:`ActiveParty`) holds the label ``y``, its features
  ``X_a`` and the homomorphic key pair (it alone can decrypt).
* The **passive** party (:class:`PassiveParty`) holds features ``X_b`` and only the
  public key.

Each party bins its own features locally (:func:`bin_features`: at most ``max_bins``
quantile bins computed on its own training rows); bin edges and raw values never
leave the party. A split is "bin code <= b goes left".

Protocol, per tree (the logistic loss; scores start at ``logit(base_score)``)
---------------------------------------------------------------------------
1. The active party computes the gradient ``g = p - y`` and hessian ``h = p (1 - p)``
   of every row, puts them on a fixed-point grid (see *Encoding*), packs each row's
   ``(g, h)`` into one plaintext with sf-heu's ``BatchFloatEncoder``, encrypts the
   array and sends it to the passive party (once per tree).
2. Level by level, for the nodes to split, the active party sends the passive party
   the node's row set; the passive party returns, per (feature, bin), the encrypted
   sums of ``g`` and ``h`` over the node's rows in that bin (homomorphic additions
   only: sf-heu's ``batch_feature_wise_bucket_sum``). Of two siblings only the one with
   fewer rows is summed; the active party gets the other by subtracting it from the
   parent's decrypted histogram (exact: the sums are integers).
3. The active party decrypts, takes cumulative sums over bins and picks the best split
   over both parties' features with the XGBoost gain
   ``G_L^2/(H_L+lambda) + G_R^2/(H_R+lambda) - G^2/(H+lambda)`` subject to
   ``H_L, H_R >= min_child_weight`` and gain > 0. Ties go to the first candidate in the
   order active features before passive ones, lower feature index first, lower bin
   first.
4. If the split is the passive party's, the active party sends it (node id, feature
   index, bin index); the passive party records (feature, bin) in its lookup table and
   returns the record's id and the node's left-child row set. The model keeps, for a
   passive split, only (party, record id).
5. Leaves get ``learning_rate * -G/(H + lambda)``, known to the active party only.

Prediction needs both parties: the active party asks the passive party to evaluate
its split records on the rows being scored and gets one left/right bit per (record,
row); it walks the trees and holds the scores.

Lossless
--------
:func:`fit_plain` runs the same algorithm in plaintext over both parties' codes joined
(the same tree-growing code, with the passive histograms computed directly instead of
under encryption). Both quantise ``g`` and ``h`` to the same fixed-point integers, so
every histogram entry is an exact integer in both runs, the gains are the same
floating-point numbers, the trees are identical and the predictions are equal (in
practice bit for bit; the tests require 1e-6).

Encoding
--------
``g`` and ``h`` are rounded to multiples of ``2**-k`` with ``k = min(40, 52 -
ceil(log2 n))`` (:func:`scale_bits`; 38 bits for 10,000 rows, 32 for a million), so that
any sum over the rows stays below ``2**52`` and is exactly representable in a float64;
the quantisation error is at most ``2**-(k+1)`` per row (1.8e-12 at 10,000 rows), so a
sum of ``h`` is within ``2**-(k+1) / mean(h)`` relative of the unrounded sum (below 1e-9
while the mean hessian exceeds 0.002 at 10,000 rows, 0.12 at a million). The secure and
the plaintext run use the same rounded values, so this never separates them.
``BatchFloatEncoder(scale=2**k, padding_bits=32)`` puts ``g`` in the low 64-bit slot
and ``h`` in the slot 96 bits above (two's complement, so negative gradients work; the
padding absorbs the carries of up to ``2**32`` additions). Histograms are decrypted
with ``decrypt_in_range`` (192 bits), which rejects a plaintext outside the range the
encoder can produce (OU's plaintext-overflow attack).

Binning and missing values
--------------------------
:func:`bin_features` cuts each column at the unique interior quantiles of its finite
training values, at most ``max_bins - 1`` bins (codes ``0 .. len(edges)``, a value
equal to an edge goes to the lower bin); a missing value (NaN) gets its own code
``len(edges) + 1``, above every finite bin, so missing values always go to the right
child. ``max_bins`` is at most 127 (sf-heu's bucket sums take int8 bin codes).

Cryptography
------------
Okamoto-Uchiyama (``OU``) from SecretFlow's HEU (the ``sf-heu`` package: ``from heu
import phe, numpy as hnp``) with a 2048-bit modulus by default, Paillier (``ZPaillier``)
if OU is unavailable. No primitive is written here: key generation, encoding,
encryption, homomorphic additions, decryption and serialisation are all sf-heu's. Every
ciphertext crosses the boundary serialised (bytes).

Threat model and what each party learns
---------------------------------------
Two honest-but-curious parties that follow the protocol and do not collude; OU's
semantic security (its factoring-type assumption on ``n = p^2 q``). Active attacks
(crafted ciphertexts beyond the range check, wrong row sets, false left sets) and
traffic analysis are out of scope; so is securing the transport (in a deployment,
:mod:`fedcare.vertical.channel`).

The passive party learns:

* the public key, the number of trees and nodes, and OU ciphertexts of every row's
  ``(g, h)``: nothing of ``y``, ``g``, ``h`` or the leaf weights in the clear;
* **the instance space of the nodes**: the row set of every node whose histogram it
  sums or that it splits (and, by difference from the parent, of their siblings), hence
  the partition made by most splits, the active party's included (SecureBoost's
  documented leakage: the passive party sees which people the active party's features
  group together, and the sizes of the nodes);
* which of its own (feature, bin) pairs were chosen, at which nodes;
* at prediction time, which rows are scored, never their scores.

The active party learns:

* the number of passive features and bins (the histogram's shape);
* for every node histogram asked for, the per-(passive feature, bin) sums of ``g`` and
  ``h`` over the node's rows. It knows every row's ``g`` and ``h``, so for small nodes
  or distinctive gradients these sums can reveal which rows fall in which passive bin
  (a known limitation of SecureBoost: lossless is not leak-free);
* for every passive split, its (feature index, bin index) and the left-child row set,
  i.e. how that passive threshold splits the node's training rows;
* at prediction time, the left/right decision of each scored row at each passive split.

It never receives the passive party's raw values, bin edges or thresholds (only bin
*indices*). Both parties hold the final model only jointly.

Performance
-----------
Per tree the cost is ``n`` encryptions and serialisation at the active party, at most
``2 n d_b`` ciphertext additions at the passive party for depth 3 (the sibling
subtraction halves the deeper levels) and ``d_b * max_bins`` decryptions per directly
summed node histogram (4 of the 7 for depth 3) at the active party. Once per model: the
passive party loads the public key (sf-heu builds its tables); key generation is done
when the active party is created and a :class:`HeKeyPair` can be reused.
``SecureModel.stats`` records where the time went and the bytes sent each way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
from scipy.special import expit

from fedcare.exceptions import ConfigError, DataError

__all__ = [
    "KEY_SIZE",
    "MAX_BINS",
    "ActiveParty",
    "DecisionRequest",
    "DecisionResponse",
    "EncryptedGradients",
    "EncryptedHistograms",
    "HeKeyPair",
    "HistogramRequest",
    "Message",
    "PassiveHello",
    "PassiveParty",
    "PlainModel",
    "PublicKeyMessage",
    "SecureModel",
    "SplitRequest",
    "SplitResponse",
    "Tree",
    "TreeParams",
    "apply_bins",
    "bin_features",
    "fit_plain",
    "fit_secure",
    "scale_bits",
]

#: Default key size (bits of the OU / Paillier modulus).
KEY_SIZE = 2048
#: Largest ``max_bins``: sf-heu's bucket sums take int8 bin codes.
MAX_BINS = 127
_SLOT_BITS = 64  # BatchFloatEncoder: each value a 64-bit two's-complement slot
_PADDING_BITS = 32  # ... and this many bits between the slots (room for carries)
_RANGE_BITS = 2 * (_SLOT_BITS + _PADDING_BITS)  # the largest plaintext it can produce
_MAX_SCALE_BITS = 40
_SUM_BITS = 52  # every sum of quantised g or h stays below 2**52 (exact in float64)
_MIN_SCALE_BITS = 24
_LEAF, _ACTIVE, _PASSIVE = -1, 0, 1


def _heu() -> tuple[Any, Any]:
    """sf-heu's ``phe`` and ``numpy`` modules (imported only when needed)."""
    try:
        from heu import numpy as hnp
        from heu import phe
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("fedcare.vertical.secureboost needs sf-heu "
                          "(pip install sf-heu==0.5.2b0)") from exc
    return phe, hnp


# --------------------------------------------------------------------------- parameters


@dataclass
class TreeParams:
    """Boosting parameters, as XGBoost's (``tree_method="hist"``) of the same names.

    Parameters
    ----------
    n_trees : int
        Number of boosting rounds (XGBoost's ``n_estimators``).
    max_depth : int
        Depth of every tree (a root alone has depth 0).
    learning_rate : float
        Shrinkage applied to every leaf weight.
    reg_lambda : float
        L2 penalty on leaf weights.
    min_child_weight : float
        Least hessian sum allowed in a child.
    max_bins : int
        Most quantile bins per feature, the missing-value bin included (2 to 127).
    base_score : float
        Initial probability of every row (in (0, 1)).
    """

    n_trees: int = 5
    max_depth: int = 3
    learning_rate: float = 0.3
    reg_lambda: float = 1.0
    min_child_weight: float = 1.0
    max_bins: int = 32
    base_score: float = 0.5

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`~fedcare.exceptions.ConfigError` (a ValueError) on a bad value."""
        if not isinstance(self.n_trees, int | np.integer) or self.n_trees < 1:
            raise ConfigError(f"n_trees must be a positive integer, not {self.n_trees!r}")
        if not isinstance(self.max_depth, int | np.integer) or self.max_depth < 1:
            raise ConfigError(f"max_depth must be a positive integer, not {self.max_depth!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be positive, not {self.learning_rate!r}")
        if not (self.reg_lambda >= 0 and self.min_child_weight >= 0):
            raise ConfigError("reg_lambda and min_child_weight must be >= 0")
        if not self.reg_lambda + self.min_child_weight > 0:
            raise ConfigError("reg_lambda and min_child_weight cannot both be 0 "
                              "(a leaf with no hessian would have an undefined weight)")
        if (not isinstance(self.max_bins, int | np.integer)
                or not 2 <= self.max_bins <= MAX_BINS):
            raise ConfigError(f"max_bins must be an integer from 2 to {MAX_BINS}, "
                              f"not {self.max_bins!r}")
        if not 0 < self.base_score < 1:
            raise ConfigError(f"base_score must be in (0, 1), not {self.base_score!r}")


def scale_bits(n_rows: int) -> int:
    """Fixed-point bits ``k`` of the quantised ``g`` and ``h`` for ``n_rows`` rows.

    ``k = min(40, 52 - ceil(log2 n_rows))``: since ``|g| < 1`` and ``0 <= h <= 1/4``,
    every sum over rows of ``round(g 2**k)`` stays below ``2**52``, exact in float64
    and in sf-heu's 64-bit encoder slots.

    Raises
    ------
    DataError
        More than ``2**28`` rows (the grid would be coarser than ``2**-24``).
    """
    bits = min(_MAX_SCALE_BITS, _SUM_BITS - max(1, math.ceil(math.log2(max(n_rows, 2)))))
    if bits < _MIN_SCALE_BITS:
        raise DataError(f"{n_rows} rows: at most {2 ** (_SUM_BITS - _MIN_SCALE_BITS)} "
                        "rows are supported")
    return bits


# --------------------------------------------------------------------------- binning


def bin_features(X: np.ndarray, max_bins: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Quantile-bin each column of ``X`` (a party's own training rows).

    Each column is cut at the unique interior quantiles (``max_bins - 2`` evenly spaced
    probabilities) of its finite values, dropping cuts at or above the largest value:
    at most ``max_bins - 1`` finite bins, codes ``0 .. len(edges)``, ``x <= edges[k]``
    in bin ``k`` or lower. A missing value (NaN) gets its own code ``len(edges) + 1``,
    above every finite bin, so a split (``code <= b`` left) always sends it right.
    ``+-inf`` fall in the top / bottom finite bin.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        Numeric features; NaN marks a missing value (an all-missing column gets the
        single code 1).
    max_bins : int
        Most codes per column, the missing bin included (2 to 127).

    Returns
    -------
    codes : ndarray of int32, shape (n_rows, n_features)
    edges : list of ndarray
        Each column's cut points, increasing. They stay with the party.
    """
    TreeParams(max_bins=max_bins)  # validates max_bins
    X = _as_matrix(X, "X")
    qs = np.linspace(0.0, 1.0, max_bins)[1:-1]
    edges: list[np.ndarray] = []
    for j in range(X.shape[1]):
        col = X[:, j]
        finite = col[np.isfinite(col)]
        if finite.size == 0 or qs.size == 0:
            edges.append(np.empty(0))
            continue
        cuts = np.unique(np.quantile(finite, qs))
        edges.append(cuts[cuts < finite.max()])
    return apply_bins(X, edges), edges


def apply_bins(X: np.ndarray, edges: Sequence[np.ndarray]) -> np.ndarray:
    """Codes of (new) rows under a party's own ``edges`` (see :func:`bin_features`).

    Raises
    ------
    DataError
        ``X`` is not 2-D or has a different number of columns than ``edges``.
    """
    X = _as_matrix(X, "X")
    if X.shape[1] != len(edges):
        raise DataError(f"X has {X.shape[1]} columns but the bins were made for "
                        f"{len(edges)}")
    codes = np.empty(X.shape, dtype=np.int32)
    for j, cuts in enumerate(edges):
        col = X[:, j]
        c = np.searchsorted(cuts, col, side="left").astype(np.int32)
        c[np.isnan(col)] = len(cuts) + 1
        codes[:, j] = c
    return codes


def _as_matrix(X: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric ({exc})") from None
    if arr.ndim != 2:
        raise DataError(f"{name} must be 2-D (rows x features), got shape {arr.shape}")
    return arr


def _as_codes(codes: Any, name: str, n_bins: int, n_rows: int | None = None,
              n_features: int | None = None) -> np.ndarray:
    """``codes`` checked: 2-D, integer, in ``[0, n_bins)``, the expected shape."""
    arr = np.asarray(codes)
    if arr.ndim != 2:
        raise DataError(f"{name} must be 2-D (rows x features) bin codes, got shape "
                        f"{arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"{name} must hold integer bin codes, not {arr.dtype}")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise DataError(f"{name} has {arr.shape[0]} rows, expected {n_rows}: the parties' "
                        "rows must be aligned (same people, same order)")
    if n_features is not None and arr.shape[1] != n_features:
        raise DataError(f"{name} has {arr.shape[1]} columns, the model was trained on "
                        f"{n_features}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_bins):
        raise DataError(f"{name}: bin codes must be in [0, {n_bins}), found "
                        f"[{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.int32)


def _as_label(y: Any, n_rows: int | None = None) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise DataError(f"y must be 1-D, got shape {arr.shape}")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise DataError(f"y has {arr.shape[0]} rows, the features have {n_rows}")
    if arr.size == 0:
        raise DataError("no rows to train on")
    values = np.asarray(arr, dtype=np.float64)
    if not np.isin(values, (0.0, 1.0)).all():
        raise DataError("y must hold 0/1 labels (binary classification)")
    return values


# --------------------------------------------------------------------------- trees


@dataclass
class Tree:
    """One tree as node arrays indexed by node id (0 is the root, ids in BFS order).

    Attributes
    ----------
    party : ndarray of int8
        -1 at a leaf, 0 where the active party's feature splits, 1 the passive party's.
    feature, bin : ndarray of int32
        The splitting party's feature index and the bin threshold (``code <= bin`` goes
        left); -1 at leaves and, in a :class:`SecureModel`, at passive splits.
    record : ndarray of int64
        At a passive split of a :class:`SecureModel`, the passive party's lookup-table
        id; -1 elsewhere.
    left, right : ndarray of int32
        Child ids, -1 at leaves.
    value : ndarray of float64
        Leaf values (learning rate applied), 0 at internal nodes.
    """

    party: np.ndarray
    feature: np.ndarray
    bin: np.ndarray
    record: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.party)

    def same_structure(self, other: Tree) -> bool:
        """Same shape, same parties, same active splits and the same leaf values."""
        return bool(
            np.array_equal(self.party, other.party)
            and np.array_equal(self.left, other.left)
            and np.array_equal(self.right, other.right)
            and np.array_equal(self.value, other.value)
            and np.array_equal(self.feature[self.party == _ACTIVE],
                               other.feature[other.party == _ACTIVE])
            and np.array_equal(self.bin[self.party == _ACTIVE],
                               other.bin[other.party == _ACTIVE]))


@dataclass(eq=False)
class _Node:
    id: int
    depth: int
    rows: np.ndarray  # sorted row indices
    g: int  # sums of the quantised g and h over rows
    h: int
    parent_hist: tuple[np.ndarray, np.ndarray] | None = None
    sibling: _Node | None = None
    hist: tuple[np.ndarray, np.ndarray] | None = None


class _PassiveSide(Protocol):
    """What the tree grower asks of the passive party's features."""

    n_features: int

    def histograms(self, tree: int, nodes: Sequence[tuple[int, np.ndarray]], n_bins: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Integer sums of g and h per (feature, bin), shape (n_features, n_bins)."""
        ...

    def splits(self, tree: int, asks: Sequence[tuple[int, np.ndarray, int, int]]
               ) -> list[tuple[int, int, int, np.ndarray]]:
        """For each ``(node, rows, feature, bin)`` of one level: ``(record, feature, bin,
        left rows)``; record or feature/bin may be -1."""
        ...

    def children(self, tree: int, node: int, left: int, right: int,
                 share_left: float) -> None:
        """``node`` was split into ``left`` and ``right`` (by either party), with
        ``share_left`` of its rows going left."""
        ...


def _gradients(margin: np.ndarray, y: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The logistic loss's g and h on the fixed-point grid, as int64 multiples of 2**-bits."""
    p = expit(margin)
    scale = float(2**bits)
    return (np.rint((p - y) * scale).astype(np.int64),
            np.rint(p * (1.0 - p) * scale).astype(np.int64))


def _local_histogram(codes: np.ndarray, rows: np.ndarray, gi: np.ndarray, hi: np.ndarray,
                     n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact integer sums of gi, hi per (feature, bin) over ``rows`` (plaintext).

    ``np.bincount`` adds in float64: every partial sum is an integer below 2**52, so
    exact.
    """
    n_feat = codes.shape[1]
    size = n_feat * n_bins
    if n_feat == 0 or rows.size == 0:
        return np.zeros((n_feat, n_bins), np.int64), np.zeros((n_feat, n_bins), np.int64)
    flat = (codes[rows].astype(np.int64) + np.arange(n_feat, dtype=np.int64) * n_bins).ravel()
    out = []
    for w in (gi, hi):
        sums = np.bincount(flat, weights=np.repeat(w[rows], n_feat).astype(np.float64),
                           minlength=size)
        out.append(np.rint(sums).astype(np.int64).reshape(n_feat, n_bins))
    return out[0], out[1]


def _best_split(hist_g: np.ndarray, hist_h: np.ndarray, g: int, h: int,
                params: TreeParams, bits: int) -> tuple[int, int] | None:
    """The best ``(joint feature, bin)``, or None when no split has a positive gain.

    Joint features are the active party's then the passive party's; ``np.argmax`` takes
    the first maximum of the row-major (feature, bin) grid, which is the tie rule:
    active before passive, lower feature index, then lower bin.
    """
    n_feat, n_bins = hist_g.shape
    if n_feat == 0 or n_bins < 2:
        return None
    scale = float(2**bits)
    lam, mcw = params.reg_lambda, params.min_child_weight
    gl = np.cumsum(hist_g[:, :-1], axis=1)  # left = bins 0..b, b = 0 .. n_bins - 2
    hl = np.cumsum(hist_h[:, :-1], axis=1)
    g_left, h_left = gl / scale, hl / scale
    g_right, h_right = (g - gl) / scale, (h - hl) / scale
    g_node, h_node = g / scale, h / scale
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = (g_left**2 / (h_left + lam) + g_right**2 / (h_right + lam)
                - g_node**2 / (h_node + lam))
    ok = (h_left >= mcw) & (h_right >= mcw) & np.isfinite(gain)
    gain = np.where(ok, gain, -np.inf)
    k = int(np.argmax(gain))
    if not gain.flat[k] > 0.0:
        return None
    return k // (n_bins - 1), k % (n_bins - 1)


def _grow_tree(codes_a: np.ndarray, gi: np.ndarray, hi: np.ndarray, params: TreeParams,
               bits: int, passive: _PassiveSide, tree_index: int
               ) -> tuple[Tree, np.ndarray]:
    """Grow one tree level by level; returns it and every training row's leaf value.

    The one tree-growing algorithm of both :func:`fit_plain` and :func:`fit_secure`:
    only ``passive`` differs (plaintext sums, or the encrypted protocol).
    """
    n_bins, n_active = params.max_bins, codes_a.shape[1]
    scale, lam = float(2**bits), params.reg_lambda
    cols: dict[str, list[Any]] = {k: [] for k in
                                  ("party", "feature", "bin", "record", "left", "right",
                                   "value")}

    def new_node() -> int:
        for k, v in (("party", _LEAF), ("feature", -1), ("bin", -1), ("record", -1),
                     ("left", -1), ("right", -1), ("value", 0.0)):
            cols[k].append(v)
        return len(cols["party"]) - 1

    def splittable(nd: _Node) -> bool:
        return (nd.depth < params.max_depth and nd.rows.size >= 2
                and nd.h / scale >= 2 * params.min_child_weight)

    row_value = np.zeros(len(gi))
    frontier = [_Node(new_node(), 0, np.arange(len(gi), dtype=np.int64),
                      int(gi.sum()), int(hi.sum()))]
    while frontier:
        candidates = [nd for nd in frontier if splittable(nd)]
        direct: list[_Node] = []  # histograms summed directly (the others by subtraction)
        for nd in candidates:
            src, sib = nd, nd.sibling
            if sib is not None and (sib.rows.size, sib.id) < (nd.rows.size, nd.id):
                src = sib  # the smaller sibling (the left one on a tie)
            if all(src is not d for d in direct):
                direct.append(src)
        direct.sort(key=lambda d: d.id)
        if direct:
            if passive.n_features:
                p_hists = passive.histograms(tree_index, [(d.id, d.rows) for d in direct],
                                             n_bins)
            else:
                empty = np.zeros((0, n_bins), np.int64)
                p_hists = [(empty, empty)] * len(direct)
            for d, (pg, ph) in zip(direct, p_hists, strict=True):
                ag, ah = _local_histogram(codes_a, d.rows, gi, hi, n_bins)
                d.hist = (np.concatenate([ag, pg]), np.concatenate([ah, ph]))
        for nd in candidates:
            if nd.hist is None:
                assert nd.parent_hist is not None and nd.sibling is not None
                assert nd.sibling.hist is not None
                nd.hist = (nd.parent_hist[0] - nd.sibling.hist[0],
                           nd.parent_hist[1] - nd.sibling.hist[1])
        chosen = {nd.id: _best_split(nd.hist[0], nd.hist[1], nd.g, nd.h, params, bits)
                  for nd in candidates if nd.hist is not None}
        asks = [(nd.id, nd.rows, best[0] - n_active, best[1]) for nd in frontier
                if (best := chosen.get(nd.id)) is not None and best[0] >= n_active]
        answers = dict(zip([ask[0] for ask in asks], passive.splits(tree_index, asks),
                           strict=True)) if asks else {}
        nxt: list[_Node] = []
        for nd in frontier:
            best = chosen.get(nd.id)
            if best is None:
                value = params.learning_rate * (-(nd.g / scale) / (nd.h / scale + lam))
                cols["value"][nd.id] = value
                row_value[nd.rows] = value
                continue
            j, b = best
            if j < n_active:
                party, feature, bin_, record = _ACTIVE, j, b, -1
                left_rows = nd.rows[codes_a[nd.rows, j] <= b]
            else:
                party = _PASSIVE
                record, feature, bin_, left_rows = answers[nd.id]
            in_left = np.isin(nd.rows, left_rows, assume_unique=True)
            if int(in_left.sum()) != left_rows.size:
                raise DataError(f"tree {tree_index}, node {nd.id}: the left rows are not "
                                "a subset of the node's rows")
            left_rows, right_rows = nd.rows[in_left], nd.rows[~in_left]
            li, ri = new_node(), new_node()
            passive.children(tree_index, nd.id, li, ri, left_rows.size / nd.rows.size)
            cols["party"][nd.id], cols["feature"][nd.id] = party, feature
            cols["bin"][nd.id], cols["record"][nd.id] = bin_, record
            cols["left"][nd.id], cols["right"][nd.id] = li, ri
            kids = [_Node(i, nd.depth + 1, r, int(gi[r].sum()), int(hi[r].sum()), nd.hist)
                    for i, r in ((li, left_rows), (ri, right_rows))]
            kids[0].sibling, kids[1].sibling = kids[1], kids[0]
            nxt.extend(kids)
        for nd in frontier:
            nd.hist = nd.parent_hist = None
            nd.sibling = None
        frontier = nxt
    tree = Tree(party=np.asarray(cols["party"], np.int8),
                feature=np.asarray(cols["feature"], np.int32),
                bin=np.asarray(cols["bin"], np.int32),
                record=np.asarray(cols["record"], np.int64),
                left=np.asarray(cols["left"], np.int32),
                right=np.asarray(cols["right"], np.int32),
                value=np.asarray(cols["value"], np.float64))
    return tree, row_value


def _walk(tree: Tree, n_rows: int,
          go_left: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Leaf value of every row; ``go_left(rows, nodes)`` decides at internal nodes."""
    node = np.zeros(n_rows, np.int64)
    rows = np.arange(n_rows)
    while True:
        inner = tree.party[node] != _LEAF
        if not inner.any():
            return tree.value[node]
        r, nd = rows[inner], node[inner]
        left = go_left(r, nd)
        node[inner] = np.where(left, tree.left[nd], tree.right[nd])


def _margin0(params: TreeParams) -> float:
    return float(math.log(params.base_score / (1.0 - params.base_score)))


def _proba(margin: np.ndarray) -> np.ndarray:
    p = expit(margin)
    return np.column_stack([1.0 - p, p])


# --------------------------------------------------------------------------- plaintext


@dataclass
class PlainModel:
    """The plaintext reference model: every split's party, feature and bin known.

    Passive splits hold the passive party's own feature index (columns of ``codes_b``).
    """

    trees: list[Tree]
    base_margin: float
    n_features_a: int
    n_features_b: int
    n_bins: int

    def decision_function(self, codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
        """Log-odds of each row, shape (n_rows,)."""
        a = _as_codes(codes_a, "codes_a", self.n_bins, n_features=self.n_features_a)
        b = _as_codes(codes_b, "codes_b", self.n_bins, n_rows=a.shape[0],
                      n_features=self.n_features_b)
        margin = np.full(a.shape[0], self.base_margin)
        for tree in self.trees:

            def go_left(r: np.ndarray, nd: np.ndarray, tree: Tree = tree) -> np.ndarray:
                out = np.empty(r.size, dtype=bool)
                party, feat, thr = tree.party[nd], tree.feature[nd], tree.bin[nd]
                on_a = party == _ACTIVE
                out[on_a] = a[r[on_a], feat[on_a]] <= thr[on_a]
                out[~on_a] = b[r[~on_a], feat[~on_a]] <= thr[~on_a]
                return out

            margin = margin + _walk(tree, a.shape[0], go_left)
        return margin

    def predict_proba(self, codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n_rows, 2): column 1 is P(y = 1)."""
        return _proba(self.decision_function(codes_a, codes_b))


class _PlainPassive:
    """The passive party's features in the clear (the reference's histograms)."""

    def __init__(self, codes_b: np.ndarray, gi: np.ndarray, hi: np.ndarray) -> None:
        self.codes, self.gi, self.hi = codes_b, gi, hi
        self.n_features = codes_b.shape[1]

    def histograms(self, tree: int, nodes: Sequence[tuple[int, np.ndarray]], n_bins: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        return [_local_histogram(self.codes, rows, self.gi, self.hi, n_bins)
                for _, rows in nodes]

    def splits(self, tree: int, asks: Sequence[tuple[int, np.ndarray, int, int]]
               ) -> list[tuple[int, int, int, np.ndarray]]:
        return [(-1, feature, bin_, rows[self.codes[rows, feature] <= bin_])
                for _, rows, feature, bin_ in asks]

    def children(self, tree: int, node: int, left: int, right: int,
                 share_left: float) -> None:
        pass


def fit_plain(codes_a: np.ndarray, codes_b: np.ndarray, y: np.ndarray,
              params: TreeParams | None = None) -> PlainModel:
    """The plaintext histogram GBDT over both parties' binned features joined.

    Exactly :func:`fit_secure`'s algorithm (the same tree-growing code, the same
    fixed-point ``g`` and ``h``, the same tie rule), with the passive party's
    histograms summed in the clear: the reference a secure run must reproduce.

    Parameters
    ----------
    codes_a, codes_b : ndarray of shape (n_rows, d_a) and (n_rows, d_b)
        Bin codes (:func:`bin_features`) of the active and the passive party, rows
        aligned; ``codes_b`` may have zero columns (the active party alone).
    y : ndarray of shape (n_rows,)
        0/1 labels.
    params : TreeParams, optional

    Raises
    ------
    DataError
        Shapes that do not line up, codes outside ``[0, max_bins)``, labels not 0/1.
    """
    params = params or TreeParams()
    params.check()
    a = _as_codes(codes_a, "codes_a", params.max_bins)
    b = _as_codes(codes_b, "codes_b", params.max_bins, n_rows=a.shape[0])
    target = _as_label(y, a.shape[0])
    bits = scale_bits(len(target))
    margin = np.full(len(target), _margin0(params))
    trees = []
    for t in range(params.n_trees):
        gi, hi = _gradients(margin, target, bits)
        tree, row_value = _grow_tree(a, gi, hi, params, bits, _PlainPassive(b, gi, hi), t)
        trees.append(tree)
        margin = margin + row_value
    return PlainModel(trees, _margin0(params), a.shape[1], b.shape[1], params.max_bins)


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Message:
    """Something one party sends the other (appended to ``log`` as it is sent)."""

    sender: ClassVar[str]
    receiver: ClassVar[str]

    def nbytes(self) -> int:
        """Payload size: bytes and arrays by their length, other fields 8 bytes each."""
        total = 0
        for f in fields(self):
            total += _payload_size(getattr(self, f.name))
        return total


def _payload_size(value: Any) -> int:
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple | list):
        return sum(_payload_size(v) for v in value)
    return 8


@dataclass(frozen=True)
class PassiveHello(Message):
    """The passive party's row and feature counts (the histogram shape is public)."""

    sender: ClassVar[str] = "passive"
    receiver: ClassVar[str] = "active"
    n_rows: int
    n_features: int


@dataclass(frozen=True)
class PublicKeyMessage(Message):
    """The active party's public key, serialised by sf-heu."""

    sender: ClassVar[str] = "active"
    receiver: ClassVar[str] = "passive"
    public_key: bytes


@dataclass(frozen=True)
class EncryptedGradients(Message):
    """Every row's packed ``(g, h)``, encrypted: an (n_rows, 1) CiphertextArray's bytes."""

    sender: ClassVar[str] = "active"
    receiver: ClassVar[str] = "passive"
    tree: int
    ciphertexts: bytes


@dataclass(frozen=True)
class HistogramRequest(Message):
    """The nodes whose histograms are wanted and their row sets (the instance space)."""

    sender: ClassVar[str] = "active"
    receiver: ClassVar[str] = "passive"
    tree: int
    nodes: tuple[int, ...]
    rows: tuple[np.ndarray, ...]
    n_bins: int


@dataclass(frozen=True)
class EncryptedHistograms(Message):
    """Per node, the encrypted packed sums per (feature, bin): (d_b * n_bins, 1) each."""

    sender: ClassVar[str] = "passive"
    receiver: ClassVar[str] = "active"
    tree: int
    nodes: tuple[int, ...]
    ciphertexts: tuple[bytes, ...]


@dataclass(frozen=True)
class SplitRequest(Message):
    """The active party's choice of one of the passive party's (feature, bin) indices,
    with the node's row set (which the passive party has, or can derive by difference,
    from the histogram requests)."""

    sender: ClassVar[str] = "active"
    receiver: ClassVar[str] = "passive"
    tree: int
    node: int
    feature: int
    bin: int
    rows: np.ndarray


@dataclass(frozen=True)
class SplitResponse(Message):
    """The passive party's lookup-table id for the split and the left child's rows."""

    sender: ClassVar[str] = "passive"
    receiver: ClassVar[str] = "active"
    tree: int
    node: int
    record: int
    left_rows: np.ndarray


@dataclass(frozen=True)
class DecisionRequest(Message):
    """Prediction: the passive records to evaluate on the rows being scored."""

    sender: ClassVar[str] = "active"
    receiver: ClassVar[str] = "passive"
    records: tuple[int, ...]
    n_rows: int


@dataclass(frozen=True)
class DecisionResponse(Message):
    """``left[i, r]``: row ``r`` goes left at record ``records[i]``."""

    sender: ClassVar[str] = "passive"
    receiver: ClassVar[str] = "active"
    records: tuple[int, ...]
    left: np.ndarray


_M = TypeVar("_M", bound=Message)


class _Link:
    """Delivers messages in-process, appending each to the caller's log."""

    def __init__(self, log: list[Any] | None, stats: dict[str, float] | None = None) -> None:
        self.log, self.stats = log, stats

    def send(self, message: _M) -> _M:
        if self.log is not None:
            self.log.append(message)
        if self.stats is not None:
            key = f"bytes_to_{message.receiver}"
            self.stats[key] = self.stats.get(key, 0.0) + message.nbytes()
        return message


# --------------------------------------------------------------------------- parties


@dataclass
class HeKeyPair:
    """The active party's homomorphic key pair: an sf-heu ``numpy.HeKit`` (secret)."""

    kit: Any
    schema: str
    key_size: int
    seconds: float = 0.0  # key generation time

    @classmethod
    def generate(cls, key_size: int = KEY_SIZE) -> HeKeyPair:
        """OU with a ``key_size``-bit modulus (ZPaillier if this sf-heu lacks OU)."""
        phe, hnp = _heu()
        members = phe.SchemaType.__members__
        schema = "OU" if "OU" in members else "ZPaillier"
        start = time.perf_counter()
        kit = hnp.setup(members[schema], key_size)
        return cls(kit, schema, key_size, time.perf_counter() - start)

    def public_bytes(self) -> bytes:
        return bytes(self.kit.public_key().serialize())

    def secret_bytes(self) -> bytes:
        """The secret key, serialised (it never leaves the active party)."""
        return bytes(self.kit.secret_key().serialize())

    @classmethod
    def load(cls, public: bytes, secret: bytes, key_size: int = KEY_SIZE) -> HeKeyPair:
        """The key pair from :meth:`public_bytes` and :meth:`secret_bytes` (a party's
        state between two messages)."""
        phe, hnp = _heu()
        kit = hnp.HeKit(phe.setup(phe.PublicKey.load_from(public),
                                  phe.SecretKey.load_from(secret)))
        schema = str(kit.get_schema()).rsplit(".", 1)[-1]
        return cls(kit, schema, key_size)


class ActiveParty:
    """The label holder: its bin codes, ``y`` and the secret key.

    Parameters
    ----------
    codes : ndarray of shape (n_rows, d_a)
        Its own bin codes (:func:`bin_features` on its training rows).
    y : ndarray of shape (n_rows,)
        0/1 labels.
    keys : HeKeyPair, optional
        A key pair to use; generated (:data:`KEY_SIZE` bits) when None.
    key_size : int
        Bits of the modulus when ``keys`` is None.
    """

    def __init__(self, codes: np.ndarray, y: np.ndarray, *, keys: HeKeyPair | None = None,
                 key_size: int = KEY_SIZE) -> None:
        self.codes = _as_codes(codes, "codes_a", MAX_BINS + 1)
        self.y = _as_label(y, self.codes.shape[0])
        self.keys = keys if keys is not None else HeKeyPair.generate(key_size)
        self.edges: list[np.ndarray] | None = None

    @classmethod
    def from_features(cls, X: np.ndarray, y: np.ndarray, max_bins: int, *,
                      keys: HeKeyPair | None = None) -> ActiveParty:
        """Bin ``X`` locally (:func:`bin_features`) and keep the edges here."""
        codes, edges = bin_features(X, max_bins)
        party = cls(codes, y, keys=keys)
        party.edges = edges
        return party

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Codes of new rows under this party's own edges."""
        if self.edges is None:
            raise ConfigError("this party was given codes, not features: bin new rows "
                              "with the edges you binned its training rows with")
        return apply_bins(X, self.edges)

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    def public_key(self) -> PublicKeyMessage:
        return PublicKeyMessage(self.keys.public_bytes())

    def _encoder(self, bits: int) -> Any:
        return self.keys.kit.batch_float_encoder(scale=2**bits, padding_bits=_PADDING_BITS)

    def encrypt_gradients(self, tree: int, gi: np.ndarray, hi: np.ndarray, bits: int
                          ) -> EncryptedGradients:
        """Pack each row's fixed-point ``(g, h)`` in one plaintext and encrypt them all."""
        scale = float(2**bits)
        # exact multiples of 2**-bits: the encoder's scaling gives back gi, hi exactly
        pairs = np.column_stack([gi / scale, hi / scale])
        plain = self.keys.kit.array(pairs, self._encoder(bits))
        cipher = self.keys.kit.encryptor().encrypt(plain)
        return EncryptedGradients(tree, bytes(cipher.serialize()))

    def decrypt_histograms(self, message: EncryptedHistograms, n_features: int,
                           n_bins: int, bits: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Decrypt each node's packed sums back to the exact integers (n_features, n_bins)."""
        _, hnp = _heu()
        decryptor, encoder = self.keys.kit.decryptor(), self._encoder(bits)
        scale = float(2**bits)
        out = []
        for blob in message.ciphertexts:
            cipher = hnp.CiphertextArray.load_from(blob)
            if cipher.shape[0] != n_features * n_bins:
                raise DataError(f"a passive histogram has {cipher.shape[0]} entries, "
                                f"expected {n_features} x {n_bins}")
            sums = decryptor.decrypt_in_range(cipher, _RANGE_BITS).to_numpy(encoder)
            sums = np.asarray(sums, dtype=np.float64).reshape(n_features * n_bins, 2)
            ints = np.rint(sums * scale).astype(np.int64)  # exact: |sums| < 2**52 ulp-free
            out.append((ints[:, 0].reshape(n_features, n_bins),
                        ints[:, 1].reshape(n_features, n_bins)))
        return out


class PassiveParty:
    """The party with features only: its bin codes, the public key, its lookup table.

    Parameters
    ----------
    codes : ndarray of shape (n_rows, d_b)
        Its own bin codes (:func:`bin_features` on its training rows), rows aligned to
        the active party's.
    """

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = _as_codes(codes, "codes_b", MAX_BINS + 1)
        self._codes8 = np.ascontiguousarray(self.codes, dtype=np.int8)
        self._edges: list[np.ndarray] | None = None
        self._kit: Any = None
        self._public_key = b""
        self._gradients: dict[int, Any] = {}
        self._records: list[tuple[int, int]] = []  # record id -> (feature, bin)

    @classmethod
    def from_features(cls, X: np.ndarray, max_bins: int) -> PassiveParty:
        """Bin ``X`` locally (:func:`bin_features`); the edges never leave this object."""
        codes, edges = bin_features(X, max_bins)
        party = cls(codes)
        party._edges = edges
        return party

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Codes of new rows under this party's own edges (kept here)."""
        if self._edges is None:
            raise ConfigError("this party was given codes, not features: bin new rows "
                              "with the edges you binned its training rows with")
        return apply_bins(X, self._edges)

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.codes.shape[1])

    def split_rule(self, record: int) -> tuple[int, int]:
        """This party's own ``(feature, bin)`` behind one of its records (never sent)."""
        return self._records[record]

    # protocol steps: each takes / returns a Message

    def hello(self) -> PassiveHello:
        return PassiveHello(self.n_rows, self.n_features)

    def receive_public_key(self, message: PublicKeyMessage) -> None:
        """Set up sf-heu's evaluator for this key (kept while the key stays the same:
        loading a 2048-bit OU key builds its tables, about a second)."""
        if self._kit is not None and message.public_key == self._public_key:
            return
        phe, hnp = _heu()
        self._kit = hnp.setup(phe.PublicKey.load_from(message.public_key))
        self._public_key = message.public_key

    def receive_gradients(self, message: EncryptedGradients) -> None:
        _, hnp = _heu()
        cipher = hnp.CiphertextArray.load_from(message.ciphertexts)
        if cipher.shape[0] != self.n_rows:
            raise DataError(f"{cipher.shape[0]} encrypted gradients for {self.n_rows} rows")
        self._gradients = {message.tree: cipher}  # the previous tree's are dropped

    def histograms(self, message: HistogramRequest) -> EncryptedHistograms:
        """Encrypted sums of (g, h) per (feature, bin) over each node's rows."""
        if self._kit is None or message.tree not in self._gradients:
            raise DataError(f"tree {message.tree}: no encrypted gradients received")
        if self.codes.size and self.codes.max() >= message.n_bins:
            raise DataError(f"codes_b holds bin codes up to {self.codes.max()}, more than "
                            f"max_bins={message.n_bins} allows")
        masks = []
        for rows in message.rows:
            mask = np.zeros(self.n_rows, dtype=np.int8)
            mask[rows] = 1
            masks.append(mask)
        sums = self._kit.evaluator().batch_feature_wise_bucket_sum(
            self._gradients[message.tree], masks, self._codes8, message.n_bins, False)
        return EncryptedHistograms(message.tree, message.nodes,
                                   tuple(bytes(s.serialize()) for s in sums))

    def split(self, message: SplitRequest) -> SplitResponse:
        """Record (feature, bin), return its id and the node's rows going left."""
        if not (0 <= message.feature < self.n_features and message.bin >= 0):
            raise DataError(f"no passive feature {message.feature} / bin {message.bin}")
        self._records.append((message.feature, message.bin))
        rows = message.rows
        left = rows[self.codes[rows, message.feature] <= message.bin]
        return SplitResponse(message.tree, message.node, len(self._records) - 1,
                             left.astype(np.int64))

    def decisions(self, message: DecisionRequest, codes: np.ndarray) -> DecisionResponse:
        """Left (True) / right at each requested record for each row being scored.

        ``codes`` are this party's own codes of those rows (:meth:`transform`).
        """
        if codes.shape[0] != message.n_rows:
            raise DataError(f"codes_b has {codes.shape[0]} rows, the active party scores "
                            f"{message.n_rows}: the parties' rows must be aligned")
        left = np.empty((len(message.records), message.n_rows), dtype=bool)
        for i, rec in enumerate(message.records):
            feature, bin_ = self._records[rec]
            left[i] = codes[:, feature] <= bin_
        return DecisionResponse(message.records, left)


class _SecurePassive:
    """The tree grower's view of the passive party under SecureBoost's protocol."""

    def __init__(self, active: ActiveParty, passive: PassiveParty, link: _Link,
                 n_features: int, bits: int, stats: dict[str, float]) -> None:
        self.active, self.passive, self.link = active, passive, link
        self.n_features, self.bits, self.stats = n_features, bits, stats

    def _timed(self, key: str, start: float) -> None:
        self.stats[key] = self.stats.get(key, 0.0) + time.perf_counter() - start

    def histograms(self, tree: int, nodes: Sequence[tuple[int, np.ndarray]], n_bins: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
        request = HistogramRequest(tree, tuple(i for i, _ in nodes),
                                   tuple(r for _, r in nodes), n_bins)
        start = time.perf_counter()
        response = self.link.send(self.passive.histograms(self.link.send(request)))
        self._timed("passive_histograms_s", start)
        start = time.perf_counter()
        out = self.active.decrypt_histograms(response, self.n_features, n_bins, self.bits)
        self._timed("active_decrypt_s", start)
        self.stats["decryptions"] = (self.stats.get("decryptions", 0.0)
                                     + len(nodes) * self.n_features * n_bins)
        return out

    def splits(self, tree: int, asks: Sequence[tuple[int, np.ndarray, int, int]]
               ) -> list[tuple[int, int, int, np.ndarray]]:
        out = []
        for node, rows, feature, bin_ in asks:
            request = self.link.send(SplitRequest(tree, node, feature, bin_, rows))
            response = self.link.send(self.passive.split(request))
            out.append((response.record, -1, -1, response.left_rows))
        return out

    def children(self, tree: int, node: int, left: int, right: int,
                 share_left: float) -> None:
        pass


# --------------------------------------------------------------------------- secure


@dataclass
class SecureModel:
    """The jointly held model, seen from the active party.

    ``trees`` hold the active party's splits and every leaf value; at a passive split
    only ``party == 1`` and the passive party's ``record`` id (its (feature, bin) stay
    in the passive party's lookup table). Predicting asks ``passive`` for its decisions.
    """

    trees: list[Tree]
    base_margin: float
    n_features_a: int
    n_bins: int
    passive: PassiveParty
    stats: dict[str, float] = field(default_factory=dict)

    def _records(self) -> tuple[int, ...]:
        found: set[int] = set()
        for t in self.trees:
            found.update(int(r) for r in t.record[t.party == _PASSIVE])
        return tuple(sorted(found))

    def decision_function(self, codes_a: np.ndarray, codes_b: np.ndarray, *,
                          log: list[Any] | None = None) -> np.ndarray:
        """Log-odds of each row, shape (n_rows,).

        ``codes_b`` are the passive party's codes of the same rows; they go to the
        passive party only, which returns one left/right bit per (record, row).
        """
        a = _as_codes(codes_a, "codes_a", self.n_bins, n_features=self.n_features_a)
        b = _as_codes(codes_b, "codes_b", self.n_bins, n_rows=a.shape[0],
                      n_features=self.passive.n_features)
        link = _Link(log)
        records = self._records()
        left = np.zeros((0, a.shape[0]), dtype=bool)
        if records:
            request = link.send(DecisionRequest(records, a.shape[0]))
            response = link.send(self.passive.decisions(request, b))
            left = response.left
        position = {rec: i for i, rec in enumerate(records)}
        margin = np.full(a.shape[0], self.base_margin)
        for tree in self.trees:
            pos = np.array([position.get(int(r), -1) for r in tree.record], dtype=np.int64)

            def go_left(r: np.ndarray, nd: np.ndarray, tree: Tree = tree,
                        pos: np.ndarray = pos) -> np.ndarray:
                out = np.empty(r.size, dtype=bool)
                on_a = tree.party[nd] == _ACTIVE
                out[on_a] = a[r[on_a], tree.feature[nd[on_a]]] <= tree.bin[nd[on_a]]
                out[~on_a] = left[pos[nd[~on_a]], r[~on_a]]
                return out

            margin = margin + _walk(tree, a.shape[0], go_left)
        return margin

    def predict_proba(self, codes_a: np.ndarray, codes_b: np.ndarray, *,
                      log: list[Any] | None = None) -> np.ndarray:
        """Class probabilities, shape (n_rows, 2): column 1 is P(y = 1)."""
        return _proba(self.decision_function(codes_a, codes_b, log=log))


def fit_secure(active: ActiveParty, passive: PassiveParty, params: TreeParams | None = None,
               *, log: list[Any] | None = None) -> SecureModel:
    """Train SecureBoost between ``active`` and ``passive`` (see the module docstring).

    Parameters
    ----------
    active, passive : ActiveParty, PassiveParty
        The two parties, rows aligned.
    params : TreeParams, optional
    log : list, optional
        Every :class:`Message` passed between the parties is appended, in order.

    Returns
    -------
    SecureModel
        Equal to ``fit_plain(active.codes, passive.codes, y, params)``: same trees, same
        predictions. ``stats`` holds seconds per phase and bytes sent each way.

    Raises
    ------
    DataError
        The parties' row counts differ, or codes are outside ``[0, max_bins)``.
    """
    params = params or TreeParams()
    params.check()
    start_all = time.perf_counter()
    stats: dict[str, float] = {}
    link = _Link(log, stats)
    hello = link.send(passive.hello())
    if hello.n_rows != active.n_rows:
        raise DataError(f"the passive party has {hello.n_rows} rows, the active party "
                        f"{active.n_rows}: the parties' rows must be aligned")
    codes_a = _as_codes(active.codes, "codes_a", params.max_bins)
    start = time.perf_counter()
    passive.receive_public_key(link.send(active.public_key()))
    stats["passive_key_setup_s"] = time.perf_counter() - start
    bits = scale_bits(active.n_rows)
    side = _SecurePassive(active, passive, link, hello.n_features, bits, stats)
    margin = np.full(active.n_rows, _margin0(params))
    trees = []
    for t in range(params.n_trees):
        gi, hi = _gradients(margin, active.y, bits)
        start = time.perf_counter()
        message = active.encrypt_gradients(t, gi, hi, bits) if hello.n_features else None
        stats["active_encrypt_s"] = stats.get("active_encrypt_s", 0.0) + (
            time.perf_counter() - start)
        if message is not None:
            start = time.perf_counter()
            passive.receive_gradients(link.send(message))
            stats["passive_load_s"] = stats.get("passive_load_s", 0.0) + (
                time.perf_counter() - start)
            stats["encryptions"] = stats.get("encryptions", 0.0) + active.n_rows
        tree, row_value = _grow_tree(codes_a, gi, hi, params, bits, side, t)
        trees.append(tree)
        margin = margin + row_value
    stats["total_s"] = time.perf_counter() - start_all
    stats["scale_bits"] = float(bits)
    return SecureModel(trees, _margin0(params), codes_a.shape[1], params.max_bins, passive,
                       stats)
