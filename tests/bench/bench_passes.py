"""Pass decisions per second on one core, and QR decoding from 1280x720 gate-camera frames.

``pass_decisions_per_s``: verify a token, check the gate, look the registrant up in a rule
table (a dict, as the edge's in-memory cache would be). ``pass_verify_per_s``: bare Ed25519
verification of the same signed messages, in the same run, so the ratio says what our work
around the signature costs. QR: our reader and the naive full-frame call on the same frames.
"""

from __future__ import annotations

import os
import statistics
import time

import cv2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.qr import FrameReader, naive_read
from firmware_sim.phone_screen import render_frame
from protocols.passes import (
    SIGNED_CONTEXT,
    PassRefused,
    check_gate,
    decode,
    issue,
    registrant_pass,
    verify,
    visitor_pass,
)

TOKENS = int(os.environ.get("WAYSIDE_BENCH_PASS_TOKENS", "2000"))
ROUNDS = int(os.environ.get("WAYSIDE_BENCH_PASS_ROUNDS", "5"))
FRAMES = int(os.environ.get("WAYSIDE_BENCH_QR_FRAMES", "200"))
NOW = 1_790_000_000
GATES = ["G01", "G02", "EAST-3", "NORTH-7"]


def _tokens() -> tuple[list[str], dict[str, Ed25519PublicKey], dict[str, frozenset[str]]]:
    keys = {"k26a": Ed25519PrivateKey.generate(), "k26b": Ed25519PrivateKey.generate()}
    tokens: list[str] = []
    rules: dict[str, frozenset[str]] = {}
    for i in range(TOKENS):
        kid = "k26a" if i % 2 else "k26b"
        subject = f"R{i:08d}"
        gates = GATES[: 1 + i % len(GATES)]
        rules[subject] = frozenset(gates)
        claims = (
            visitor_pass(f"A{i:07d}", gates, NOW - 600, NOW + 3600)
            if i % 5 == 0
            else registrant_pass(subject, gates, NOW - 10)
        )
        tokens.append(issue(keys[kid], kid, claims))
    public = {kid: key.public_key() for kid, key in keys.items()}
    return tokens, public, rules


def _decisions(
    tokens: list[str], keys: dict[str, Ed25519PublicKey], rules: dict[str, frozenset[str]]
) -> float:
    opened = 0
    start = time.perf_counter()
    for token in tokens:
        try:
            claims = verify(token, keys, NOW)
            check_gate(claims, "G01")
        except PassRefused:
            continue
        allowed = rules.get(claims.subject)
        if allowed is None or "G01" in allowed:  # a visitor's rules live in the appointment
            opened += 1
    elapsed = time.perf_counter() - start
    assert opened == len(tokens)
    return len(tokens) / elapsed


def _bare_verify(signed: list[tuple[Ed25519PublicKey, bytes, bytes]]) -> float:
    start = time.perf_counter()
    for key, signature, message in signed:
        key.verify(signature, message)
    return len(signed) / (time.perf_counter() - start)


def _passes() -> dict[str, float]:
    tokens, keys, rules = _tokens()
    signed = []
    for token in tokens:
        payload, signature = decode(token)
        kid = payload[1 : 1 + payload[0]].decode()
        signed.append((keys[kid], signature, SIGNED_CONTEXT + payload))
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(ROUNDS):  # interleaved, so both see the same machine
        ours.append(_decisions(tokens, keys, rules))
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
