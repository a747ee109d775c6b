"""Gate decision latency with the cloud stopped: camera push sent -> barrier coil written."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from firmware_sim.barrier import BarrierSimulator
from firmware_sim.camera import CameraSimulator

REPO = Path(__file__).resolve().parents[2]
PUSHES = int(os.environ.get("WAYSIDE_BENCH_GATE_PUSHES", "10000"))
LANES = int(os.environ.get("WAYSIDE_BENCH_GATE_LANES", "4"))
WARMUP_PER_LANE = 25
TARGET_RATE = 500.0
PROFILE = (
    ["-m", "cProfile", "-o", os.environ["WAYSIDE_BENCH_PROFILE"]]
    if os.environ.get("WAYSIDE_BENCH_PROFILE")
    else []
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def toml_value(value: Any) -> str:
    """Enough TOML for a site document: inline tables and arrays (JSON strings are TOML strings)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def lot_site(barrier_ports: list[int], kind: str = "parking_lot") -> dict[str, Any]:
    """One site, one gate, a Modbus-wired lane per barrier port (entries and exits alternate)."""
    lanes = [
        {
            "code": f"lane-{n}",
            "name": f"lane {n}",
            "direction": "entry" if n % 2 == 0 else "exit",
            "wiring": "modbus",
            "camera": {"serial": f"CAM-{n}", "min_confidence": 80},
            "barrier": {"port": port},
        }
        for n, port in enumerate(barrier_ports)
    ]
    gate = {"code": "gate", "name": "gate", "lanes": lanes}
    return {
        "tenant": "bench",
        "sites": [{"code": "lot", "name": "lot", "kind": kind, "gates": [gate]}],
    }


@asynccontextmanager
async def edge_process(
    workdir: Path, site: dict[str, Any]
) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """The edge in its own process (as in production), cloud pointing at a closed port."""
    port = free_port()
    site_file = workdir / "site.toml"
    site_file.write_text("\n".join(f"{k} = {toml_value(v)}" for k, v in site.items()) + "\n")
    config = workdir / "edge.toml"
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "site_file": str(site_file),
        "store_path": str(workdir / "edge.db"),
        "snapshot_dir": str(workdir / "snapshots"),
        "cloud_url": f"http://127.0.0.1:{free_port()}",
        "edge_id": "bench-edge",
    }
    config.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in settings.items()))
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
        [
            sys.executable,
            *PROFILE,
            "wayside.py",
            "--log-level",
            "ERROR",
            "edge",
            "--config",
            str(config),
        ],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("WAYSIDE_")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"edge exited with {process.returncode}")
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("edge did not become healthy")


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
