"""Pass tokens: compact Ed25519-signed claims that fit a QR code (version 10 or lower at M).

A token is ``P1.`` followed by base64url (no padding) of ``payload || signature``, so it is
ASCII only: OpenCV's Python QR binding mangles or refuses other bytes. The payload is packed
with ``struct``::

    kid_len u8, kid (ASCII, 1..8 bytes)
    kind u8 (low nibble: kind; high nibble: direction, 0 none, 1 in, 2 out)
    valid_from u32, valid_until u32 (Unix seconds)
    nonce (8 bytes)
    subject_len u8, subject (UTF-8, 1..24 bytes)
    gate_count u8 (255 means every gate), then per gate: len u8, code (ASCII, 1..16 bytes)

The signature covers ``b"wayside-pass/1" + payload`` (the prefix separates pass signatures
from every other use of the same key). The edge verifies offline with the keys it holds by
``kid`` (several at once during a rotation); revocation and replay of one-time passes are
decided by the edge's store from :meth:`Claims.replay_key`, not here.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX: Final = "P1."
SIGNED_CONTEXT: Final = b"wayside-pass/1"
SIGNATURE_BYTES: Final = 64
NONCE_BYTES: Final = 8
MAX_KID_BYTES: Final = 8
MAX_SUBJECT_BYTES: Final = 24
MAX_GATE_BYTES: Final = 16
MAX_GATES: Final = 12
ALL_GATES_MARK: Final = 255
# Byte-mode capacity of a version 10 QR code at error correction M.
MAX_TOKEN_CHARS: Final = 213
REGISTRANT_MAX_LIFETIME_S: Final = 60
DEFAULT_SKEW_S: Final = 5

_HEAD = struct.Struct(">BII8s")  # kind|direction, valid_from, valid_until, nonce
_BODY = re.compile(r"[A-Za-z0-9_-]+")
_GATE = re.compile(r"[\x21-\x7e]{1,16}")
_KID = re.compile(r"[\x21-\x7e]{1,8}")


class PassKind(StrEnum):
    registrant = "registrant"
    visitor = "visitor"
    one_time = "one_time"


class Direction(StrEnum):
    entry = "in"
    exit = "out"


_KIND_CODES: Final = {PassKind.registrant: 0, PassKind.visitor: 1, PassKind.one_time: 2}
_KINDS_BY_CODE: Final = {code: kind for kind, code in _KIND_CODES.items()}
_DIRECTION_CODES: Final = {None: 0, Direction.entry: 1, Direction.exit: 2}
_DIRECTIONS_BY_CODE: Final = {code: d for d, code in _DIRECTION_CODES.items()}

Gates = tuple[str, ...] | Literal["all"]


class Refusal(StrEnum):
    """Why a pass does not open the gate. The last two are decided by the edge's store."""

    malformed = "malformed"
    unknown_key = "unknown_key"
    bad_signature = "bad_signature"
    not_yet_valid = "not_yet_valid"
    expired = "expired"
    too_long = "too_long"  # a registrant pass claiming more than 60 s of life
    wrong_gate = "wrong_gate"
    wrong_direction = "wrong_direction"
    revoked = "revoked"
    replayed = "replayed"


class PassRefused(Exception):
    """A pass that does not hold, with the typed reason the access record will carry."""

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Claims:
    kind: PassKind
    subject: str  # registrant id, or appointment id for visitor passes
    gates: Gates
    valid_from: int
    valid_until: int
    nonce: bytes
    direction: Direction | None = None
    kid: str = ""  # filled in by issue() and verify(); ignored when signing

    def allows_gate(self, gate: str) -> bool:
        return self.gates == "all" or gate in self.gates

    def replay_key(self, direction: Direction | None = None) -> str:
        """The key the edge stores to refuse a second use.

        A visitor pass is one-time per direction: its key is the appointment and the direction
        (the pass's own, else the gate's), so a re-issued pass for the same appointment cannot
        pass twice either. Other passes are keyed by kind, subject and nonce.
        """
        if self.kind is PassKind.visitor:
            way = self.direction or direction
            if way is None:
                raise ValueError("a visitor pass's replay key needs the gate's direction")
            return f"visitor:{self.subject}:{way.value}"
        return f"{self.kind.value}:{self.subject}:{self.nonce.hex()}"


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def _ascii_field(value: str, pattern: re.Pattern[str], name: str) -> bytes:
    if not pattern.fullmatch(value):
        raise ValueError(f"{name} is not short printable ASCII: {value!r}")
    return value.encode("ascii")


def pack(claims: Claims, kid: str) -> bytes:
    """The signed payload bytes of ``claims``; ValueError when a field does not fit."""
    kid_raw = _ascii_field(kid, _KID, "kid")
    subject = claims.subject.encode("utf-8")
    if not 1 <= len(subject) <= MAX_SUBJECT_BYTES:
        raise ValueError(f"subject must be 1..{MAX_SUBJECT_BYTES} UTF-8 bytes")
    if len(claims.nonce) != NONCE_BYTES:
        raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
    if not 0 <= claims.valid_from <= claims.valid_until < 2**32:
        raise ValueError("need 0 <= valid_from <= valid_until < 2**32")
    if claims.kind is not PassKind.visitor and claims.direction is not None:
        raise ValueError("only visitor passes carry a direction")
    flags = _KIND_CODES[claims.kind] | _DIRECTION_CODES[claims.direction] << 4
    parts = [bytes([len(kid_raw)]), kid_raw]
    parts.append(_HEAD.pack(flags, claims.valid_from, claims.valid_until, claims.nonce))
    parts += [bytes([len(subject)]), subject]
    if claims.gates == "all":
        parts.append(bytes([ALL_GATES_MARK]))
    else:
        if not 1 <= len(claims.gates) <= MAX_GATES:
            raise ValueError(f"a pass names 1..{MAX_GATES} gates, or 'all'")
        parts.append(bytes([len(claims.gates)]))
        for gate in claims.gates:
            raw = _ascii_field(gate, _GATE, "gate")
            parts += [bytes([len(raw)]), raw]
    return b"".join(parts)


def unpack(payload: bytes) -> Claims:
    """Claims from payload bytes; PassRefused(malformed) when they do not parse exactly."""
    try:
        pos = 0
        kid_len = payload[pos]
        kid = payload[pos + 1 : pos + 1 + kid_len].decode("ascii")
        pos += 1 + kid_len
        flags, valid_from, valid_until, nonce = _HEAD.unpack_from(payload, pos)
        pos += _HEAD.size
        subject_len = payload[pos]
        subject = payload[pos + 1 : pos + 1 + subject_len].decode("utf-8")
        pos += 1 + subject_len
        count = payload[pos]
        pos += 1
        gates: Gates
        if count == ALL_GATES_MARK:
            gates = "all"
        else:
            found: list[str] = []
            for _ in range(count):
                size = payload[pos]
                found.append(payload[pos + 1 : pos + 1 + size].decode("ascii"))
                pos += 1 + size
            gates = tuple(found)
        kind = _KINDS_BY_CODE[flags & 0x0F]
        direction = _DIRECTIONS_BY_CODE[flags >> 4]
    except (IndexError, KeyError, struct.error, UnicodeDecodeError):
        raise PassRefused(Refusal.malformed, "payload does not parse") from None
    if (
        pos != len(payload)
        or not _KID.fullmatch(kid)
        or not 1 <= len(subject.encode()) <= MAX_SUBJECT_BYTES
        or (gates != "all" and not (1 <= len(gates) <= MAX_GATES))
        or (gates != "all" and not all(_GATE.fullmatch(g) for g in gates))
        or valid_from > valid_until
        or (direction is not None and kind is not PassKind.visitor)
    ):
        raise PassRefused(Refusal.malformed, "payload fields out of bounds")
    return Claims(kind, subject, gates, valid_from, valid_until, nonce, direction, kid)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def issue(key: Ed25519PrivateKey, kid: str, claims: Claims) -> str:
    """Sign ``claims`` with ``key`` under ``kid``; ValueError if it would not fit the QR code
    (or is a registrant pass living longer than 60 s)."""
    if (
        claims.kind is PassKind.registrant
        and claims.valid_until - claims.valid_from > REGISTRANT_MAX_LIFETIME_S
    ):
        raise ValueError(f"a registrant pass lives at most {REGISTRANT_MAX_LIFETIME_S} s")
    payload = pack(claims, kid)
    token = PREFIX + _b64(payload + key.sign(SIGNED_CONTEXT + payload))
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(f"token of {len(token)} chars exceeds {MAX_TOKEN_CHARS} (QR v10 at M)")
    return token


def decode(token: str) -> tuple[bytes, bytes]:
    """(payload, signature) of a token's text, checking only its shape."""
    token = token.strip()
    if not token.startswith(PREFIX) or len(token) > MAX_TOKEN_CHARS:
        raise PassRefused(Refusal.malformed, "not a pass token")
    body = token[len(PREFIX) :]
    if not body.isascii() or not _BODY.fullmatch(body) or len(body) % 4 == 1:
        raise PassRefused(Refusal.malformed, "not base64url")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise PassRefused(Refusal.malformed, "not base64url") from None
    if _b64(raw) != body:  # unused trailing bits set: one token, one spelling
        raise PassRefused(Refusal.malformed, "non-canonical base64url")
    if len(raw) <= SIGNATURE_BYTES:
        raise PassRefused(Refusal.malformed, "too short")
    return raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]


def verify(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    now: float,
    skew_s: int = DEFAULT_SKEW_S,
) -> Claims:
    """The claims of a genuine pass valid at ``now``; PassRefused with the reason otherwise.

    ``skew_s`` tolerates that much clock difference between the issuer and this edge at both
    ends of the validity. The gate is checked separately with :func:`check_gate`.
    """
    payload, signature = decode(token)
    claims = unpack(payload)
    key = keys.get(claims.kid)
    if key is None:
        raise PassRefused(Refusal.unknown_key, f"kid {claims.kid!r}")
    try:
        key.verify(signature, SIGNED_CONTEXT + payload)
    except InvalidSignature:
        raise PassRefused(Refusal.bad_signature) from None
    if (
        claims.kind is PassKind.registrant
        and claims.valid_until - claims.valid_from > REGISTRANT_MAX_LIFETIME_S
    ):
        raise PassRefused(Refusal.too_long, "registrant passes live at most 60 s")
    if now + skew_s < claims.valid_from:
        raise PassRefused(Refusal.not_yet_valid, f"valid from {claims.valid_from}")
    if now - skew_s >= claims.valid_until:
        raise PassRefused(Refusal.expired, f"valid until {claims.valid_until}")
    return claims


def check_gate(claims: Claims, gate: str, direction: Direction | None = None) -> None:
    """Refuse a pass at a gate it does not name, or in the direction it was not issued for."""
    if not claims.allows_gate(gate):
        raise PassRefused(Refusal.wrong_gate, f"gate {gate!r}")
    if claims.direction is not None and direction is not None and claims.direction != direction:
        raise PassRefused(Refusal.wrong_direction, f"pass is for {claims.direction.value}")


def _gates(gates: Iterable[str] | Literal["all"]) -> Gates:
    return "all" if gates == "all" else tuple(gates)


def registrant_pass(
    registrant_id: str,
    gates: Iterable[str] | Literal["all"],
    now: int,
    lifetime_s: int = REGISTRANT_MAX_LIFETIME_S,
    nonce: bytes | None = None,
) -> Claims:
    """A registrant's dynamic pass, valid from ``now`` for at most 60 s."""
    if not 1 <= lifetime_s <= REGISTRANT_MAX_LIFETIME_S:
        raise ValueError(f"a registrant pass lives 1..{REGISTRANT_MAX_LIFETIME_S} s")
    return Claims(
        PassKind.registrant,
        registrant_id,
        _gates(gates),
        now,
        now + lifetime_s,
        nonce if nonce is not None else new_nonce(),
    )


def visitor_pass(
    appointment_id: str,
    gates: Iterable[str] | Literal["all"],
    window_start: int,
    window_end: int,
    direction: Direction | None = None,
    nonce: bytes | None = None,
) -> Claims:
    """A visitor's pass, valid only inside the approved appointment window."""
    if window_end <= window_start:
        raise ValueError("the appointment window ends after it starts")
    return Claims(
        PassKind.visitor,
        appointment_id,
        _gates(gates),
        window_start,
        window_end,
        nonce if nonce is not None else new_nonce(),
        direction,
    )


def one_time_pass(
    subject: str,
    gates: Iterable[str] | Literal["all"],
    valid_from: int,
    valid_until: int,
    nonce: bytes | None = None,
) -> Claims:
    """A pass that opens once (its replay key is its nonce)."""
    if valid_until <= valid_from:
        raise ValueError("valid_until must follow valid_from")
    return Claims(
        PassKind.one_time,
        subject,
        _gates(gates),
        valid_from,
        valid_until,
        nonce if nonce is not None else new_nonce(),
    )
