"""OCPP capacity: how many charge points one edge serves with p99 round trip under 50 ms, and
the same for a central system written from the `ocpp` package's documented example.

Each server runs in its own process on loopback. The charge points are
firmware_sim.charge_point_fleet processes (FLEETS of them): each charge point boots, reports
its connectors, starts a transaction, then sends a Heartbeat every 60 s and MeterValues every
15 s (about 333 MeterValues and 83 Heartbeats a second per 5,000 charge points). They are
added in steps; at each step, once the new ones are connected and a few seconds have passed,
every CALL's round trip (frame written -> CALLRESULT read, measured at the charge point) is
recorded over a window (WINDOWS: 20-40 s at the low steps, 60 s at 5,000, 30 s beyond). A step passes when
every charge point of it is connected and the p99 is under 50 ms (a CALL with no answer in
30 s counts as infinitely slow); the ramp stops at the first step that fails.

The edge is seeded, before it starts, with the chargers of a charging_station site (and one
card id tag per charger) as synced state, as if pulled from a cloud; it is not enrolled.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.processes import (
    charger_state,
    charging_site,
    edge_process,
    raise_nofile_limit,
    rss_mb,
    seed_edge_state,
)
from tests.conftest import REPO, free_port


def _ints(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip()]


TARGET_CHARGE_POINTS = 5000
STEPS = _ints("WAYSIDE_BENCH_OCPP_STEPS", "500,1000,2000,3500,5000,7500,10000,15000")
WINDOWS = _ints("WAYSIDE_BENCH_OCPP_WINDOWS", "20,20,30,40,60,30,30,30")
FLEETS = int(os.environ.get("WAYSIDE_BENCH_OCPP_FLEETS", "2"))
P99_LIMIT_MS = 50.0
SETTLE_S = 5.0
HEARTBEAT_S = 60
METER_S = 15
CONNECT_RATE = 250.0  # handshakes started per second per fleet process


@dataclass
class Step:
    target: int
    open: int
    failed: int
    window_s: int
    calls: int
    timeouts: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_mb: float
    connect_s: float
    errors_seen: dict[str, int]

    @property
    def passed(self) -> bool:
        return self.open >= self.target and self.failed == 0 and self.p99_ms < P99_LIMIT_MS


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return math.inf
    return ordered[min(len(ordered) - 1, max(0, math.ceil(len(ordered) * fraction) - 1))]


class FleetProcess:
    """One firmware_sim.charge_point_fleet process, driven a JSON line at a time."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "firmware_sim.charge_point_fleet",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
            limit=1 << 26,
        )

    async def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        process.stdin.write((json.dumps(command) + "\n").encode())
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"fleet process exited with {await process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        try:
            process.stdin.write(b'{"op": "quit"}\n')
            await process.stdin.drain()
            await asyncio.wait_for(process.wait(), 30)
        except (TimeoutError, ConnectionError):
            process.kill()
            await process.wait()


def charge_point_ids(count: int) -> list[str]:
    return [f"CP{n:05d}" for n in range(count)]


def id_tags(count: int) -> list[str]:
    return [f"T{n:07d}" for n in range(count)]


async def ramp(label: str, url: str, pid: int) -> list[Step]:
    """Add charge points step by step until a step fails; one Step per step tried."""
    ids, tags = charge_point_ids(max(STEPS)), id_tags(max(STEPS))
    fleets = [FleetProcess() for _ in range(FLEETS)]
    await asyncio.gather(*(fleet.start() for fleet in fleets))
    steps: list[Step] = []
    have = 0
    try:
        for target, window in zip(STEPS, WINDOWS, strict=True):
            started = time.monotonic()
            answers = await asyncio.gather(
                *(
                    fleet.ask(
                        {
                            "op": "connect",
                            "url": url,
                            "ids": ids[have + k : target : FLEETS],
                            "tags": tags[have + k : target : FLEETS],
                            "heartbeat_s": HEARTBEAT_S,
                            "meter_s": METER_S,
                            "rate": CONNECT_RATE,
                        }
                    )
                    for k, fleet in enumerate(fleets)
                )
            )
            connect_s = time.monotonic() - started
            have = target
            failed = sum(int(a["failed"]) for a in answers)
            errors_seen: dict[str, int] = {}
            for answer in answers:
                for name, count in answer["errors"].items():
                    errors_seen[name] = errors_seen.get(name, 0) + int(count)
            await asyncio.sleep(SETTLE_S)
            await asyncio.gather(*(fleet.ask({"op": "mark"}) for fleet in fleets))
            await asyncio.sleep(window)
            collected = await asyncio.gather(*(fleet.ask({"op": "collect"}) for fleet in fleets))
            latencies = sorted(x for c in collected for x in c["latencies_ms"])
            timeouts = sum(int(c["timeouts"]) for c in collected)
            ordered = latencies + [math.inf] * timeouts
            step = Step(
                target=target,
                open=sum(int(c["open"]) for c in collected),
                failed=failed,
                window_s=window,
                calls=len(ordered),
                timeouts=timeouts,
                errors=sum(int(c["errors"]) for c in collected),
                p50_ms=round(percentile(ordered, 0.50), 2),
                p99_ms=round(percentile(ordered, 0.99), 2),
                max_ms=round(ordered[-1], 2) if ordered else math.inf,
                rss_mb=round(rss_mb(pid), 1),
                connect_s=round(connect_s, 1),
                errors_seen=errors_seen,
            )
            steps.append(step)
            print(
                f"  {label}: {target} charge points ({step.open} open, {failed} failed, "
                f"connect {step.connect_s} s), {step.calls} calls in {window} s "
                f"({step.calls / window:.0f}/s), p50 {step.p50_ms} ms, p99 {step.p99_ms} ms, "
                f"max {step.max_ms} ms, {timeouts} timeouts, {step.errors} CALLERRORs, "
                f"server RSS {step.rss_mb} MiB"
                + (f", errors {errors_seen}" if errors_seen else ""),
                file=sys.stderr,
                flush=True,
            )
            if not step.passed:
                break
    finally:
        await asyncio.gather(*(fleet.stop() for fleet in fleets), return_exceptions=True)
    return steps


def best(steps: list[Step]) -> Step | None:
    passed = [step for step in steps if step.passed]
    return passed[-1] if passed else None


async def measure_edge() -> list[Step]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        count = max(STEPS)
        await seed_edge_state(
            workdir,
            [
                charger_state(
                    charge_point_ids(count), heartbeat_s=HEARTBEAT_S, id_tags=id_tags(count)
                )
            ],
        )
        async with edge_process(workdir, charging_site()) as (url, process):
            ws_url = url.replace("http://", "ws://") + "/ocpp"
            return await ramp("edge", ws_url, process.pid)


async def measure_reference() -> tuple[list[Step], str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
        [sys.executable, "-m", "tests.bench.ocpp_reference", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        ready = await asyncio.to_thread(process.stdout.readline)
        if not ready.startswith(b"ready"):
            raise RuntimeError(f"reference central system did not start: {ready!r}")
        flavour = ready.decode().split()[-1]
        return await ramp(f"reference ({flavour})", f"ws://127.0.0.1:{port}", process.pid), flavour
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run() -> dict[str, float]:
    raise_nofile_limit()
    ours = await measure_edge()
    reference, flavour = await measure_reference()
    mine, theirs = best(ours), best(reference)
    figures: dict[str, float] = {
        "ocpp_charge_points": float(mine.target if mine else 0),
        "ocpp_reference_charge_points": float(theirs.target if theirs else 0),
        "ocpp_reference_websockets": 1.0 if flavour == "websockets" else 0.0,
    }
    if mine is not None:
        figures |= {
            "ocpp_p99_ms": mine.p99_ms,
            "ocpp_p50_ms": mine.p50_ms,
            "ocpp_edge_rss_mb": mine.rss_mb,
            "ocpp_window_s": float(mine.window_s),
            "ocpp_calls_per_s": round(mine.calls / mine.window_s, 1),
        }
    if theirs is not None:
        figures |= {
            "ocpp_reference_p99_ms": theirs.p99_ms,
            "ocpp_reference_rss_mb": theirs.rss_mb,
        }
    if mine is not None and theirs is not None:
        figures["ocpp_vs_reference_ratio"] = round(mine.target / theirs.target, 2)
    # The target point: 5,000 charge points (p99 < 50 ms, RSS < 1 GB), whatever the ramp
    # reached beyond it; and whether the ramp ended on a failure or ran out of steps.
    at_target = next((step for step in ours if step.target == TARGET_CHARGE_POINTS), None)
    if at_target is not None:
        figures["ocpp_p99_ms_at_5000"] = at_target.p99_ms
        figures["ocpp_edge_rss_mb_at_5000"] = at_target.rss_mb
    figures["ocpp_ramp_exhausted"] = 1.0 if ours and ours[-1].passed else 0.0
    if ours and not ours[-1].passed and math.isfinite(ours[-1].p99_ms):
        figures["ocpp_failed_step"] = float(ours[-1].target)
        figures["ocpp_failed_step_p99_ms"] = ours[-1].p99_ms
    return figures


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run()), indent=2))
