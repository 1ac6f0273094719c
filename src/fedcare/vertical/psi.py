"""Private set intersection by commutative blinding on X25519 (ECDH-PSI).

Each party hashes its normalised identifiers with the study's salt to a Curve25519
u-coordinate and multiplies it by a secret scalar drawn for this study
(``cryptography``'s X25519 function, which clamps the scalar, so every result lies in
the prime-order subgroup); the other party multiplies the result by its own scalar.
Scalar multiplication commutes, so ``b·(a·H(x)) == a·(b·H(y))`` exactly when
``x == y``. A party never sees another party's identifiers or hashes, only points
blinded by a scalar it does not know (the decisional Diffie-Hellman assumption), and
the coordinator relaying the messages sees them encrypted between the parties
(:mod:`fedcare.vertical.channel`).

Nothing here is a new primitive: X25519 is ``cryptography``'s, SHA-256 is hashlib's;
this module only arranges them as the classic Meadows/Huberman ECDH-PSI (the protocol
FATE and SecretFlow call ECDH-PSI).

Work is done in batches (``BATCH`` identifiers), over worker processes when there are
many, and blinded points are kept as one fixed-width numpy array (32 bytes each), the
compared set as 16-byte prefixes in a sorted array: memory is about 48 bytes per
identifier, never a Python object per identifier.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from .channel import new_x25519_private

__all__ = ["BATCH", "PsiKey", "hash_points", "match", "overlap_positions"]

BATCH = 20_000
POINT = 32
PREFIX = 16  # bytes of a doubly blinded point kept for comparison (2^-128 false match)
_MIN_PARALLEL = 4 * BATCH


def _hash_batch(salt: bytes, ids: Sequence[str]) -> bytes:
    out = bytearray()
    for value in ids:
        out += hashlib.sha256(salt + value.encode("utf-8")).digest()
    return bytes(out)


def hash_points(ids: Sequence[str], salt: bytes) -> np.ndarray:
    """SHA-256 of ``salt || id`` for each normalised identifier: ``(n, 32)`` uint8.

    The salt is drawn per study, so the same person's hash differs between studies.
    """
    raw = _hash_batch(salt, ids)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(ids), POINT).copy()


def _blind_batch(private: bytes, points: bytes) -> bytes:
    key = X25519PrivateKey.from_private_bytes(private)
    load = X25519PublicKey.from_public_bytes
    out = bytearray()
    for i in range(0, len(points), POINT):
        out += key.exchange(load(points[i:i + POINT]))
    return bytes(out)


@dataclass
class PsiKey:
    """A party's secret scalar for one study (never leaves the party)."""

    private: bytes

    @classmethod
    def generate(cls) -> PsiKey:
        return cls(new_x25519_private())

    def blind(self, points: np.ndarray, *, workers: int | None = None) -> np.ndarray:
        """Multiply each point (``(n, 32)`` uint8) by this key's scalar.

        Batches of :data:`BATCH` points; with more than ``4 * BATCH`` points they are
        spread over ``workers`` processes (default: the machine's cores).
        """
        points = np.ascontiguousarray(points, dtype=np.uint8)
        n = len(points)
        if n == 0:
            return np.zeros((0, POINT), dtype=np.uint8)
        raw = points.tobytes()
        step = BATCH * POINT
        chunks = [raw[i:i + step] for i in range(0, len(raw), step)]
        workers = workers or os.cpu_count() or 1
        if n < _MIN_PARALLEL or workers == 1:
            parts = [_blind_batch(self.private, c) for c in chunks]
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(_blind_batch, [self.private] * len(chunks), chunks))
        return np.frombuffer(b"".join(parts), dtype=np.uint8).reshape(n, POINT).copy()


def _prefixes(points: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(points[:, :PREFIX]).view(f"S{PREFIX}").ravel()


def overlap_positions(mine: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where two lists of doubly blinded points meet (rows of at least
    :data:`PREFIX` bytes: whole points or their kept prefixes).

    Returns ``(i, j)``: index arrays with ``mine[i[k]] == theirs[j[k]]`` for every
    match ``k``, in the order of ``theirs``.
    """
    a = _prefixes(mine)
    b = _prefixes(theirs)
    order = np.argsort(a, kind="stable")
    sorted_a = a[order]
    pos = np.searchsorted(sorted_a, b)
    pos_clipped = np.minimum(pos, max(len(sorted_a) - 1, 0))
    hit = (pos < len(sorted_a)) & (sorted_a[pos_clipped] == b) if len(sorted_a) else \
        np.zeros(len(b), dtype=bool)
    j = np.flatnonzero(hit)
    i = order[pos_clipped[hit]]
    return i.astype(np.int64), j.astype(np.int64)


def match(mine: np.ndarray, theirs: np.ndarray) -> int:
    """The overlap size of two lists of doubly blinded points."""
    return len(overlap_positions(mine, theirs)[1])
