"""Gate decision latency with the cloud stopped: camera push sent -> barrier coil written."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import aiohttp

from firmware_sim.barrier import BarrierSimulator
from firmware_sim.camera import CameraSimulator
from tests.bench.processes import edge_process, lot_site

PUSHES = int(os.environ.get("WAYSIDE_BENCH_GATE_PUSHES", "10000"))
LANES = int(os.environ.get("WAYSIDE_BENCH_GATE_LANES", "4"))
WARMUP_PER_LANE = 25
TARGET_RATE = 500.0


async def drive_lane(
    camera: CameraSimulator,
    lane: int,
    count: int,
    rate_per_s: float | None = None,
    phase_shift: float = 0.0,
) -> list[int]:
    """One camera pushing distinct plates, each after the previous reply (as cameras do),
    paced to `rate_per_s` when given; returns each push's send time."""
    sent: list[int] = []
    start = time.monotonic()
    for n in range(count):
        if rate_per_s is not None:
            delay = start + (n + phase_shift) / rate_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        result = await camera.push(f"粤B{lane}{n % 10000:04d}", snapshot=None)
        if result.status != 200:
            raise RuntimeError(f"push answered {result.status}: {result.body}")
        sent.append(result.sent_ns)
    return sent


async def phase(
    cameras: list[CameraSimulator],
    barriers: list[BarrierSimulator],
    per_lane: int,
    rate_per_lane: float | None,
    lane_offset: int,
) -> tuple[list[float], float]:
    """Latencies (ms, push sent -> coil written) and decisions per second of one run."""
    for barrier in barriers:
        barrier.commands.clear()
    started = time.monotonic()
    sent = await asyncio.gather(
        *(
            # Cameras staggered evenly: cars do not arrive at every lane in the same millisecond.
            drive_lane(camera, lane_offset + n, per_lane, rate_per_lane, n / len(cameras))
            for n, camera in enumerate(cameras)
        )
    )
    elapsed = time.monotonic() - started
    latencies: list[float] = []
    for barrier, times in zip(barriers, sent, strict=True):
        opens = [stamp for stamp, command in barrier.commands if command == "open"]
        if len(opens) != len(times):
            raise RuntimeError(f"{len(times)} pushes but {len(opens)} barrier opens")
        latencies.extend((done - start) / 1e6 for start, done in zip(times, opens, strict=True))
    latencies.sort()
    return latencies, len(latencies) / elapsed


def percentile(ordered: list[float], fraction: float) -> float:
    return round(ordered[max(0, int(len(ordered) * fraction) - 1)], 3)


async def run() -> dict[str, float]:
    """Latency at the target load (500 pushes/s offered over LANES cameras), then capacity with
    the same cameras pushing back to back (latency there is mostly queueing, reported apart)."""
    barriers = [BarrierSimulator(hold_s=0.5) for _ in range(LANES)]
    ports = [await barrier.start() for barrier in barriers]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with edge_process(Path(tmp), lot_site(ports)) as (url, _):
                connector = aiohttp.TCPConnector(limit=LANES * 2)
                async with aiohttp.ClientSession(connector=connector) as session:
                    cameras = [
                        CameraSimulator(f"CAM-{n}", url + "/camera/push", session)
                        for n in range(LANES)
                    ]
                    await phase(cameras, barriers, WARMUP_PER_LANE, None, 10)
                    paced, _ = await phase(
                        cameras, barriers, PUSHES // LANES, TARGET_RATE / LANES, 20
                    )
                    flat_out, per_s = await phase(cameras, barriers, PUSHES // LANES, None, 30)
    finally:
        for barrier in barriers:
            await barrier.stop()
    return {
        "gate_decision_p50_ms": percentile(paced, 0.50),
        "gate_decision_p99_ms": percentile(paced, 0.99),
        "gate_decisions_per_s": round(per_s, 1),
        "gate_decision_saturated_p50_ms": percentile(flat_out, 0.50),
        "gate_decision_saturated_p99_ms": percentile(flat_out, 0.99),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run()), indent=2))
