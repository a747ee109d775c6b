"""Scan to open: a gate camera's JPEG frame of a phone showing a pass, POSTed to a running edge
(its own process, cloud away), until the barrier simulator sees its open coil written.

The edge holds a campus's grants and pass key (seeded into its store as a sync pull would
write them). Every frame shows a different registrant's fresh pass, so the debounce never
hides one; frames are rendered and JPEG-encoded before the clock starts, and sent at a
camera's pace. A frame the reader cannot read opens nothing and is counted apart.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from firmware_sim.barrier import BarrierSimulator
from firmware_sim.gate_camera import GateCameraSimulator, phone_frame
from protocols.passes import issue, registrant_pass
from protocols.sync import Entity, GateWindow, PassKeyGrant, RegistrantGrant, SiteState, StateChange
from tests.bench.processes import edge_process, lot_site, seed_edge_state

FRAMES = int(os.environ.get("WAYSIDE_BENCH_QR_SCAN_FRAMES", "300"))
FRAME_INTERVAL_S = 1 / 15  # a gate camera's pace
WARMUP = 5
KID = "kbench"


def _state(key: Ed25519PrivateKey, subjects: list[str]) -> SiteState:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    changes = [
        StateChange(
            entity=Entity.pass_key,
            key=KID,
            data=PassKeyGrant(public_key=public).model_dump(mode="json"),
        )
    ]
    grant = RegistrantGrant(name="学生", kind="student", windows=[GateWindow()])
    changes += [
        StateChange(entity=Entity.registrant, key=subject, data=grant.model_dump(mode="json"))
        for subject in subjects
    ]
    return SiteState(site="lot", revision=1, full=True, changes=changes)


def _frames(key: Ed25519PrivateKey, subjects: list[str]) -> list[bytes]:
    now = int(time.time())
    return [
        phone_frame(issue(key, KID, registrant_pass(subject, ["gate"], now)), seed=n)
        for n, subject in enumerate(subjects)
    ]


def _percentile(ordered: list[float], fraction: float) -> float:
    return round(ordered[max(0, int(len(ordered) * fraction) - 1)], 2)


async def run() -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    subjects = [f"S{n:06d}" for n in range(FRAMES + WARMUP)]
    barrier = BarrierSimulator(hold_s=0.5)
    port = await barrier.start()
    latencies: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            await seed_edge_state(workdir, [_state(key, subjects)])
            # Rendered (about 30 ms a frame) before the passes' 60 s of life start to matter.
            frames = await asyncio.to_thread(_frames, key, subjects)
            async with (
                edge_process(workdir, lot_site([port], kind="campus")) as (url, _),
                aiohttp.ClientSession() as session,
            ):
                camera = GateCameraSimulator(url, "lane-0", session)
                for n, frame in enumerate(frames):
                    opens = barrier.opens
                    result = await camera.post(frame)
                    if result.status != 200:
                        raise RuntimeError(f"frame answered {result.status}: {result.body}")
                    if result.decided:
                        if result.verdict != "open" or barrier.opens != opens + 1:
                            raise RuntimeError(f"frame {n} did not open: {result.body}")
                        stamp = barrier.commands[-1][0]
                        if n >= WARMUP:
                            latencies.append((stamp - result.sent_ns) / 1e6)
                    await asyncio.sleep(FRAME_INTERVAL_S)
    finally:
        await barrier.stop()
    latencies.sort()
    return {
        "qr_scan_to_open_p50_ms": round(statistics.median(latencies), 2),
        "qr_scan_to_open_p99_ms": _percentile(latencies, 0.99),
        "qr_scan_read_rate": round(len(latencies) / FRAMES, 3),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run()), indent=2))
