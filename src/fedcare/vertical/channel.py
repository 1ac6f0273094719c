"""An end-to-end encrypted channel between two parties, relayed by the coordinator.

Vertical studies pass every party-to-party message through the coordinator (Flower's
ServerApp): the parties are SuperNodes and never connect to each other. So that the
coordinator, which holds the study's homomorphic secret key, cannot read what one party
sends another (encrypted scores, blinded identifiers), each party draws an X25519 key
pair per study; the two public keys go through the coordinator, each party derives the
same AES-256-GCM key (X25519 shared secret, HKDF-SHA256 with the study id and both
public keys as context) and seals every blob with a fresh 96-bit nonce and the message's
purpose as associated data. All primitives are ``cryptography``'s.

Threat model: honest-but-curious parties and coordinator that do not collude. A
coordinator that substituted its own public keys could read the relayed blobs; that is
an active attack outside this model (the deployment's TLS and node authentication make
the SuperNodes known to the SuperLink, not to each other).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fedcare.exceptions import DataError

__all__ = ["ChannelKey", "new_x25519_private", "open_blob", "seal_blob"]

_NONCE = 12


def new_x25519_private() -> bytes:
    """A fresh X25519 private key, raw 32 bytes (``cryptography``'s generator)."""
    return X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption())


@dataclass
class ChannelKey:
    """A party's X25519 key pair for one study's channel."""

    private: bytes

    @classmethod
    def generate(cls) -> ChannelKey:
        return cls(new_x25519_private())

    @property
    def public(self) -> bytes:
        return X25519PrivateKey.from_private_bytes(self.private).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def shared(self, peer_public: bytes, study: bytes) -> bytes:
        """The AES-256 key both ends derive (HKDF over the sorted public keys)."""
        secret = X25519PrivateKey.from_private_bytes(self.private).exchange(
            X25519PublicKey.from_public_bytes(peer_public))
        info = b"fedcare-vertical-channel" + b"".join(sorted([self.public, peer_public]))
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=study, info=info).derive(secret)


def seal_blob(key: bytes, data: bytes, purpose: str) -> bytes:
    """``nonce || AES-GCM(data)`` with ``purpose`` authenticated."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, data, purpose.encode())


def open_blob(key: bytes, blob: bytes, purpose: str) -> bytes:
    """Open a sealed blob; a changed or misdirected blob raises DataError."""
    try:
        return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], purpose.encode())
    except (InvalidTag, ValueError) as exc:
        raise DataError(f"a relayed '{purpose}' blob failed authentication: it was changed "
                        "on the way or sealed for another study") from exc
