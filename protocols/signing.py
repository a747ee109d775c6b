"""Edge identity on the wire: Ed25519 keys, and the signature every edge request carries.

A request is signed over its method, path, timestamp and the SHA-256 of its body, so neither
the body nor the target can be changed, and a captured request ages out within the window.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

EDGE_HEADER = "X-Wayside-Edge"
TIMESTAMP_HEADER = "X-Wayside-Timestamp"  # Unix time in milliseconds, as text
SIGNATURE_HEADER = "X-Wayside-Signature"  # base64url Ed25519 signature, no padding
BACKLOG_HEADER = "X-Wayside-Backlog"  # the edge's outbox backlog, reported on every request
MAX_SKEW_S = 300.0


class BadSignature(Exception):
    """The request's identity does not hold; the message says which part failed."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise BadSignature("not base64url") from None


def canonical(method: str, path: str, timestamp_ms: int, body: bytes) -> bytes:
    """The bytes that are signed: one line each for method, path, timestamp and body digest."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp_ms}\n{digest}".encode()


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key, base64url: what the edge registers at enrollment."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(raw)


def load_public_key(text: str) -> Ed25519PublicKey:
    raw = _unb64(text)
    if len(raw) != 32:
        raise BadSignature("a public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise BadSignature(f"not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadSignature("the PEM does not hold an Ed25519 key")
    return key


@dataclass(frozen=True)
class Signed:
    """The headers that make a request the edge's own."""

    edge: str
    timestamp_ms: int
    signature: str

    def headers(self) -> dict[str, str]:
        return {
            EDGE_HEADER: self.edge,
            TIMESTAMP_HEADER: str(self.timestamp_ms),
            SIGNATURE_HEADER: self.signature,
        }


def sign(
    key: Ed25519PrivateKey,
    edge: str,
    method: str,
    path: str,
    body: bytes,
    now_ms: int | None = None,
) -> Signed:
    timestamp_ms = int(time.time() * 1000) if now_ms is None else now_ms
    signature = key.sign(canonical(method, path, timestamp_ms, body))
    return Signed(edge, timestamp_ms, _b64(signature))


def verify(
    public_key: Ed25519PublicKey,
    method: str,
    path: str,
    body: bytes,
    timestamp: str,
    signature: str,
    now_ms: int | None = None,
) -> int:
    """Check the signature and the clock; returns the skew (server minus edge) in ms."""
    try:
        timestamp_ms = int(timestamp)
    except ValueError:
        raise BadSignature("timestamp is not Unix milliseconds") from None
    now = int(time.time() * 1000) if now_ms is None else now_ms
    skew = now - timestamp_ms
    if abs(skew) > MAX_SKEW_S * 1000:
        raise BadSignature(f"timestamp is {skew / 1000:+.0f} s off (at most {MAX_SKEW_S:.0f} s)")
    try:
        public_key.verify(_unb64(signature), canonical(method, path, timestamp_ms, body))
    except InvalidSignature:
        raise BadSignature("signature does not match") from None
    return skew


def signature_digest(signature: str) -> str:
    """What the cloud remembers of a signature to refuse it a second time (replays)."""
    return hashlib.sha256(signature.encode()).hexdigest()
