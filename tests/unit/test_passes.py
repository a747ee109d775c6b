"""Pass tokens: every refusal reason, the registrant and visitor bounds, the QR size, replay keys."""

from __future__ import annotations

import base64
import dataclasses

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.passes import (
    MAX_TOKEN_CHARS,
    PREFIX,
    SIGNED_CONTEXT,
    Claims,
    Direction,
    PassKind,
    PassRefused,
    Refusal,
    check_gate,
    issue,
    one_time_pass,
    pack,
    registrant_pass,
    verify,
    visitor_pass,
)

NOW = 1_790_000_000
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KEYS: dict[str, Ed25519PublicKey] = {"k26a": KEY.public_key(), "k26b": OTHER.public_key()}
NONCE = b"\x01\x02\x03\x04\x05\x06\x07\x08"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(token: str) -> bytes:
    body = token[len(PREFIX) :]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def _refusal(token: str, now: float = NOW) -> Refusal:
    with pytest.raises(PassRefused) as caught:
        verify(token, KEYS, now)
    return caught.value.reason


def _registrant(now: int = NOW) -> Claims:
    return registrant_pass("R2026000123", ["G01", "EAST-2"], now, nonce=NONCE)


def test_round_trip_of_each_kind() -> None:
    passes = [
        _registrant(),
        visitor_pass("A88231", "all", NOW - 600, NOW + 3600, Direction.entry, nonce=NONCE),
        one_time_pass("T-17", ["G09"], NOW, NOW + 900, nonce=NONCE),
    ]
    for claims in passes:
        got = verify(issue(KEY, "k26a", claims), KEYS, NOW + 1)
        assert got == dataclasses.replace(claims, kid="k26a")


def test_unknown_key() -> None:
    assert _refusal(issue(KEY, "k99", _registrant())) is Refusal.unknown_key


def test_signed_by_another_key_under_a_known_kid() -> None:
    assert _refusal(issue(OTHER, "k26a", _registrant())) is Refusal.bad_signature


def test_every_tampered_byte_is_refused() -> None:
    raw = _raw(issue(KEY, "k26a", _registrant()))
    for i in range(len(raw)):
        for flip in (0x01, 0x80):
            tampered = bytearray(raw)
            tampered[i] ^= flip
            reason = _refusal(PREFIX + _b64(bytes(tampered)))
            assert reason in {Refusal.malformed, Refusal.unknown_key, Refusal.bad_signature}


def test_a_tampered_validity_is_a_bad_signature() -> None:
    raw = bytearray(_raw(issue(KEY, "k26a", _registrant())))
    raw[1 + 4 + 1 + 4 + 3] ^= 0x10  # the low byte of valid_until, after the kid
    assert _refusal(PREFIX + _b64(bytes(raw))) is Refusal.bad_signature


@pytest.mark.parametrize(
    "token",
    [
        "",
        "P1.",
        "P1.AAAA",
        "hello",
        "P2." + "A" * 120,
        "P1." + "A" * 120 + "=",
        "P1." + "A" * 119 + "+",
        "P1." + "A" * 119 + "é",
        "P1.!!!!",
        "P1." + "A" * 121,  # a length no base64 has
        "P1." + "A" * 300,  # longer than a QR code of version 10 holds
    ],
)
def test_malformed(token: str) -> None:
    assert _refusal(token) is Refusal.malformed


def test_non_canonical_base64_is_malformed() -> None:
    token = issue(KEY, "k26a", _registrant())
    body = token[len(PREFIX) :]
    assert len(body) % 4 in (2, 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(body[-1])
    twin = PREFIX + body[:-1] + alphabet[last | 1]
    assert twin != token
    assert _refusal(twin) is Refusal.malformed


def test_a_well_signed_payload_with_trailing_bytes_is_malformed() -> None:
    payload = pack(_registrant(), "k26a") + b"\x00"
    token = PREFIX + _b64(payload + KEY.sign(SIGNED_CONTEXT + payload))
    assert _refusal(token) is Refusal.malformed


def test_expiry_and_not_yet_valid_with_skew() -> None:
    token = issue(KEY, "k26a", _registrant())  # NOW .. NOW + 60
    assert verify(token, KEYS, NOW - 5).subject == "R2026000123"
    assert _refusal(token, NOW - 6) is Refusal.not_yet_valid
    assert verify(token, KEYS, NOW + 64).subject == "R2026000123"
    assert _refusal(token, NOW + 65) is Refusal.expired
    with pytest.raises(PassRefused) as caught:
        verify(token, KEYS, NOW + 60, skew_s=0)
    assert caught.value.reason is Refusal.expired


def test_registrant_passes_live_at_most_60_s() -> None:
    with pytest.raises(ValueError):
        registrant_pass("R1", ["G01"], NOW, lifetime_s=61)
    long_lived = dataclasses.replace(_registrant(), valid_until=NOW + 120)
    with pytest.raises(ValueError):
        issue(KEY, "k26a", long_lived)
    payload = pack(long_lived, "k26a")  # a signer that ignores the rule is still refused
    token = PREFIX + _b64(payload + KEY.sign(SIGNED_CONTEXT + payload))
    assert _refusal(token, NOW + 10) is Refusal.too_long
    assert issue(KEY, "k26a", registrant_pass("R1", ["G01"], NOW, lifetime_s=60))


def test_visitor_pass_holds_only_inside_the_window() -> None:
    start, end = NOW + 3600, NOW + 3 * 3600
    token = issue(KEY, "k26a", visitor_pass("A1", ["G01"], start, end))
    assert _refusal(token, start - 60) is Refusal.not_yet_valid
    assert verify(token, KEYS, start).kind is PassKind.visitor
    assert verify(token, KEYS, end - 60).valid_until == end
    assert _refusal(token, end + 60) is Refusal.expired
    with pytest.raises(ValueError):
        visitor_pass("A1", ["G01"], end, start)


def test_wrong_gate_and_direction() -> None:
    claims = verify(issue(KEY, "k26a", _registrant()), KEYS, NOW)
    check_gate(claims, "G01")
    with pytest.raises(PassRefused) as caught:
        check_gate(claims, "G02")
    assert caught.value.reason is Refusal.wrong_gate
    everywhere = visitor_pass("A1", "all", NOW, NOW + 60, Direction.exit)
    check_gate(everywhere, "ANY", Direction.exit)
    with pytest.raises(PassRefused) as caught:
        check_gate(everywhere, "ANY", Direction.entry)
    assert caught.value.reason is Refusal.wrong_direction


def test_replay_keys() -> None:
    first = visitor_pass("A1", ["G01"], NOW, NOW + 60)
    reissued = visitor_pass("A1", ["G01"], NOW, NOW + 60)
    assert first.nonce != reissued.nonce
    # One time per direction, whatever the copy of the pass.
    assert first.replay_key(Direction.entry) == reissued.replay_key(Direction.entry)
    assert first.replay_key(Direction.entry) != first.replay_key(Direction.exit)
    with pytest.raises(ValueError):
        first.replay_key()
    inbound = visitor_pass("A1", ["G01"], NOW, NOW + 60, Direction.entry)
    assert inbound.replay_key() == first.replay_key(Direction.entry)
    once = one_time_pass("T1", ["G01"], NOW, NOW + 60, nonce=NONCE)
    assert once.replay_key() == "one_time:T1:0102030405060708"
    verified = verify(issue(KEY, "k26a", once), KEYS, NOW)
    assert verified.replay_key() == once.replay_key()
    assert once.replay_key() != one_time_pass("T1", ["G01"], NOW, NOW + 60).replay_key()


def test_fields_that_do_not_fit_are_refused_at_issue() -> None:
    with pytest.raises(ValueError):
        issue(KEY, "k26a", dataclasses.replace(_registrant(), subject="x" * 25))
    with pytest.raises(ValueError):
        issue(KEY, "kid-too-long", _registrant())
    with pytest.raises(ValueError):
        issue(KEY, "k26a", dataclasses.replace(_registrant(), gates=("门1",)))
    with pytest.raises(ValueError):
        issue(KEY, "k26a", dataclasses.replace(_registrant(), gates=()))
    with pytest.raises(ValueError):
        issue(KEY, "k26a", dataclasses.replace(_registrant(), direction=Direction.entry))
    many = tuple(f"GATE-{i:010d}" for i in range(12))
    with pytest.raises(ValueError, match="QR"):
        issue(KEY, "k26a", dataclasses.replace(_registrant(), gates=many))


def test_the_size_bound_is_qr_version_10_at_m() -> None:
    assert segno.make("a" * MAX_TOKEN_CHARS, error="m", micro=False).version == 10
    assert segno.make("a" * (MAX_TOKEN_CHARS + 1), error="m", micro=False).version == 11


gate_codes = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=8)
subjects = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=16)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(list(PassKind)),
    subject=subjects,
    gates=st.one_of(st.just("all"), st.lists(gate_codes, min_size=1, max_size=6)),
    start=st.integers(min_value=1_700_000_000, max_value=2_000_000_000),
    length=st.integers(min_value=1, max_value=86_400 * 30),
    direction=st.sampled_from([None, Direction.entry, Direction.exit]),
    kid=st.sampled_from(["k26a", "k26b"]),
)
def test_realistic_tokens_are_ascii_and_fit_qr_version_10(
    kind: PassKind,
    subject: str,
    gates: list[str] | str,
    start: int,
    length: int,
    direction: Direction | None,
    kid: str,
) -> None:
    if kind is PassKind.registrant:
        length = min(length, 60)
    claims = Claims(
        kind,
        subject,
        "all" if gates == "all" else tuple(gates),
        start,
        start + length,
        NONCE,
        direction if kind is PassKind.visitor else None,
    )
    token = issue(KEY if kid == "k26a" else OTHER, kid, claims)
    assert token.isascii() and token.isprintable() and " " not in token
    assert len(token) <= MAX_TOKEN_CHARS
    assert int(segno.make(token, error="m", micro=False).version) <= 10
    assert verify(token, KEYS, start) == dataclasses.replace(claims, kid=kid)
