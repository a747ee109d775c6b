"""Pass decisions per second on one core, and QR decoding from 1280x720 gate-camera frames.

``pass_decisions_per_s``: the edge's own decision function (edge.engines.passes.decide_pass)
over a CampusBook built as the store builds it from synced grants: verify the token with the
held keys, check gate and direction, revocations, then the registrant's windows at this gate
now or the visitor's appointment (the store write that follows is not counted: it is the
plate path's, measured by bench_gate). ``pass_verify_per_s``: bare Ed25519 verification of
the same signed messages, in the same run, so the ratio says what our work around the
signature costs. QR: our reader and the naive full-frame call on the same frames.
"""

from __future__ import annotations

import base64
import os
import statistics
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import cv2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from edge.engines.campus import CampusBook
from edge.engines.passes import PassLane, decide_pass
from edge.qr import FrameReader, naive_read
from firmware_sim.phone_screen import render_frame
from protocols.events import Verdict
from protocols.passes import SIGNED_CONTEXT, decode, issue, registrant_pass, visitor_pass
from protocols.site import Direction
from protocols.sync import (
    AppointmentGrant,
    GateWindow,
    PassKeyGrant,
    RegistrantGrant,
    Revocation,
)

TOKENS = int(os.environ.get("WAYSIDE_BENCH_PASS_TOKENS", "2000"))
ROUNDS = int(os.environ.get("WAYSIDE_BENCH_PASS_ROUNDS", "5"))
FRAMES = int(os.environ.get("WAYSIDE_BENCH_QR_FRAMES", "200"))
NOW = 1_790_000_000
GATES = ["G01", "G02", "EAST-3", "NORTH-7"]


ZONE = ZoneInfo("Asia/Shanghai")
LANE = PassLane("g01-in", "G01", Direction.entry)


def _raw(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _tokens() -> tuple[list[str], CampusBook, dict[str, Ed25519PublicKey]]:
    """Signed passes (four in five of registrants, one in five of visitors) and the book an
    edge would hold for them: every subject's grant, some revocations of others, two keys."""
    keys = {"k26a": Ed25519PrivateKey.generate(), "k26b": Ed25519PrivateKey.generate()}
    tokens: list[str] = []
    registrants: list[tuple[str, RegistrantGrant]] = []
    appointments: list[tuple[str, AppointmentGrant]] = []
    now = datetime.fromtimestamp(NOW, ZONE)
    for i in range(TOKENS):
        kid = "k26a" if i % 2 else "k26b"
        gates = GATES[: 1 + i % len(GATES)]
        if i % 5 == 0:
            subject = f"A{i:07d}"
            claims = visitor_pass(subject, gates, NOW - 600, NOW + 3600)
            appointments.append(
                (
                    subject,
                    AppointmentGrant(
                        visitor=f"访客{i}",
                        gates=gates,
                        window_start=now - timedelta(minutes=10),
                        window_end=now + timedelta(hours=1),
                    ),
                )
            )
        else:
            subject = f"R{i:08d}"
            claims = registrant_pass(subject, gates, NOW - 10)
            windows = [
                GateWindow(gates=["NORTH-7"], weekdays=[6, 7]),  # a weekend window elsewhere
                GateWindow(gates=gates, weekdays=[1, 2, 3, 4, 5, 6, 7]),
            ]
            registrants.append(
                (subject, RegistrantGrant(name=f"人{i}", kind="student", windows=windows))
            )
        tokens.append(issue(keys[kid], kid, claims))
    revocations = [(f"registrant:X{i}", Revocation(reason="disabled")) for i in range(TOKENS // 10)]
    book = CampusBook.build(
        registrants=registrants,
        appointments=appointments,
        keys=[(kid, PassKeyGrant(public_key=_raw(key))) for kid, key in keys.items()],
        revocations=revocations,
    )
    public = {kid: key.public_key() for kid, key in keys.items()}
    return tokens, book, public


def _decisions(tokens: list[str], book: CampusBook) -> float:
    now = datetime.fromtimestamp(NOW, ZONE)
    opened = 0
    start = time.perf_counter()
    for token in tokens:
        opened += decide_pass(LANE, True, book, token, now).verdict is Verdict.open
    elapsed = time.perf_counter() - start
    assert opened == len(tokens), f"{opened} of {len(tokens)} opened"
    return len(tokens) / elapsed


def _bare_verify(signed: list[tuple[Ed25519PublicKey, bytes, bytes]]) -> float:
    start = time.perf_counter()
    for key, signature, message in signed:
        key.verify(signature, message)
    return len(signed) / (time.perf_counter() - start)


def _passes() -> dict[str, float]:
    tokens, book, keys = _tokens()
    signed = []
    for token in tokens:
        payload, signature = decode(token)
        kid = payload[1 : 1 + payload[0]].decode()
        signed.append((keys[kid], signature, SIGNED_CONTEXT + payload))
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(ROUNDS):  # interleaved, so both see the same machine
        ours.append(_decisions(tokens, book))
        bare.append(_bare_verify(signed))
    decisions, verifies = statistics.median(ours), statistics.median(bare)
    return {
        "pass_decisions_per_s": round(decisions, 1),
        "pass_verify_per_s": round(verifies, 1),
        "pass_vs_verify_ratio": round(decisions / verifies, 3),
    }


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _qr() -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    reader = FrameReader()
    naive = cv2.QRCodeDetectorAruco()
    ours_ms: list[float] = []
    naive_ms: list[float] = []
    read = naive_read_ok = 0
    for seed in range(FRAMES):
        token = issue(key, "k26a", registrant_pass(f"R{seed:08d}", GATES[: 1 + seed % 4], NOW))
        frame = render_frame(token, seed=seed)
        start = time.perf_counter()
        text = reader.read(frame)
        ours_ms.append((time.perf_counter() - start) * 1000)
        read += text == token
        start = time.perf_counter()
        text = naive_read(naive, frame)
        naive_ms.append((time.perf_counter() - start) * 1000)
        naive_read_ok += text == token
    ours, slow = _p95(ours_ms), _p95(naive_ms)
    return {
        "qr_decode_p95_ms": round(ours, 2),
        "qr_decode_p50_ms": round(statistics.median(ours_ms), 2),
        "qr_decode_read_rate": round(read / FRAMES, 3),
        "qr_naive_p95_ms": round(slow, 2),
        "qr_naive_read_rate": round(naive_read_ok / FRAMES, 3),
        "qr_decode_speedup": round(slow / ours, 2),
    }


def run() -> dict[str, float]:
    return {**_passes(), **_qr()}
