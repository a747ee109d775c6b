"""Measures what JSON-schema validation of incoming CALLs costs (python -m edge.ocpp.measure).

Three ways, each over the same MeterValues frames sent by many concurrent senders on one
loop: the package's validate_payload in the default executor (its default), the same cached
validator on the loop (what edge/ocpp/wire.py does), and none. Prints per-message cost,
throughput and the p50/p99 latency of one message with all senders in flight.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ocpp.messages import Call, validate_payload

from edge.ocpp.wire import validate_call, validator


def meter_values(i: int) -> dict[str, Any]:
    sample = [
        {"value": str(1000 + i), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "32.1", "measurand": "Current.Import", "unit": "A"},
        {"value": "230.4", "measurand": "Voltage", "unit": "V"},
    ]
    return {
        "connectorId": 1,
        "transactionId": 42,
        "meterValue": [
            {"timestamp": f"2025-01-01T00:{m:02d}:00Z", "sampledValue": sample} for m in range(3)
        ],
    }


async def run(
    name: str, check: Callable[[dict[str, Any]], Awaitable[None]], total: int, senders: int
) -> None:
    payloads = [meter_values(i) for i in range(total)]
    latencies: list[float] = []
    per = total // senders

    async def sender(k: int) -> None:
        for payload in payloads[k * per : (k + 1) * per]:
            started = time.perf_counter()
            await check(payload)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0)

    started = time.perf_counter()
    await asyncio.gather(*(sender(k) for k in range(senders)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    done = len(latencies)
    print(
        f"{name:>10}: {elapsed / done * 1e6:7.1f} us/msg, {done / elapsed:8.0f} msgs/s,"
        f" p50 {statistics.median(latencies) * 1e3:6.2f} ms,"
        f" p99 {latencies[int(done * 0.99)] * 1e3:6.2f} ms"
    )


async def paced(
    name: str, check: Callable[[dict[str, Any]], Awaitable[None]], rate: int, seconds: float
) -> None:
    """`rate` messages a second as independent tasks (chargers do not wait for each other):
    latency of each, and the loop's busy share."""
    payloads = [meter_values(i) for i in range(int(rate * seconds))]
    latencies: list[float] = []
    busy = 0.0

    async def one(payload: dict[str, Any]) -> None:
        nonlocal busy
        started = time.perf_counter()
        cpu = time.thread_time()
        await check(payload)
        busy += time.thread_time() - cpu
        latencies.append(time.perf_counter() - started)

    tasks = []
    started = time.perf_counter()
    for i, payload in enumerate(payloads):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(payload)))
    await asyncio.gather(*tasks)
    latencies.sort()
    print(
        f"{name:>10} at {rate}/s: p50 {statistics.median(latencies) * 1e3:6.2f} ms,"
        f" p99 {latencies[int(len(latencies) * 0.99)] * 1e3:6.2f} ms,"
        f" process CPU {time.process_time():.1f} s so far"
    )


async def package_executor(payload: dict[str, Any]) -> None:
    await validate_payload(Call("1", "MeterValues", payload), "1.6")


_JSONSCHEMA = validator("MeterValues")


async def jsonschema_on_loop(payload: dict[str, Any]) -> None:
    _JSONSCHEMA.validate(payload)


async def on_loop(payload: dict[str, Any]) -> None:
    validate_call("MeterValues", payload)


async def nothing(payload: dict[str, Any]) -> None:
    return None


async def main(total: int = 20_000, senders: int = 200) -> None:
    validate_call("MeterValues", meter_values(0))  # warm the caches
    await package_executor(meter_values(0))
    for name, check in (
        ("executor", package_executor),
        ("jsonschema", jsonschema_on_loop),
        ("compiled", on_loop),
        ("none", nothing),
    ):
        await run(name, check, total, senders)
    for name, check in (
        ("executor", package_executor),
        ("jsonschema", jsonschema_on_loop),
        ("compiled", on_loop),
    ):
        cpu = time.process_time()
        await paced(name, check, 1000, 5.0)
        print(f"{'':>10}   CPU share at 1,000/s: {(time.process_time() - cpu) / 5.0:.0%}")


if __name__ == "__main__":
    asyncio.run(main(*(int(arg) for arg in sys.argv[1:3])))
