"""Berth sensor samples through one edge process end to end: a publisher process sends
simulated sensors' SensorSamples to Mosquitto (QoS 1) at a set pace, the edge's Berths runtime
receives, parses, detects and commits them (sessions and events in the SQLite store).

Figure: berth_mqtt_samples_per_s (samples the edge processed per second of wall time, from the
first message received to the last one committed), with the messages lost on the way printed:
Mosquitto drops QoS 1 messages for a subscriber more than max_queued_messages (default 1,000)
behind, so a lossless run means the edge kept up with the offered pace. Needs Mosquitto on
127.0.0.1:1883. `WAYSIDE_BENCH_MQTT_SENSORS`, `WAYSIDE_BENCH_MQTT_MINUTES` size the run
(default 1,000 sensors x 10 minutes at 1 Hz, in messages of 60 samples) and
`WAYSIDE_BENCH_MQTT_RATE` sets the offered samples per second (default 30,000).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

SENSORS = int(os.environ.get("WAYSIDE_BENCH_MQTT_SENSORS", "1000"))
MINUTES = int(os.environ.get("WAYSIDE_BENCH_MQTT_MINUTES", "10"))
PER_MESSAGE = 60
RATE = float(os.environ.get("WAYSIDE_BENCH_MQTT_RATE", "30000"))
START = 1_767_250_800.0  # 2026-01-01T07:00Z, 15:00 in Shanghai


async def publish(tenant: str) -> None:
    """The publisher process: render the street, then publish, 64 PUBACKs awaited at most."""
    import aiomqtt

    from firmware_sim.geomagnetic import plan_street, render, samples_message, sensor_serial
    from protocols.topics import SAMPLES, encode, sensor_topic

    plan = plan_street(SENSORS, start=START, seconds=MINUTES * 60, seed=7)
    messages: list[tuple[str, bytes]] = []
    for i0 in range(0, plan.samples, PER_MESSAGE):
        chunk = render(plan, i0, PER_MESSAGE)
        for berth in range(SENSORS):
            serial = sensor_serial(berth)
            message = samples_message(serial, i0 // PER_MESSAGE, START + i0, 1.0, chunk[berth])
            messages.append((sensor_topic(tenant, serial, SAMPLES), encode(message)))
    print(len(messages), flush=True)  # the edge starts its clock on the first message
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(messages)):
        queue.put_nowait(index)
    per_s = RATE / PER_MESSAGE
    async with aiomqtt.Client("127.0.0.1", 1883, max_inflight_messages=64) as client:
        client.pending_calls_threshold = 65  # 64 workers in flight is the plan, not a warning
        started = time.monotonic()

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                await asyncio.sleep(max(0.0, started + index / per_s - time.monotonic()))
                topic, payload = messages[index]
                await client.publish(topic, payload, qos=1, timeout=60)

        await asyncio.gather(*(worker() for _ in range(64)))


async def run() -> dict[str, float]:
    from edge.berths import Berths
    from edge.settings import EdgeSettings
    from edge.store import Store
    from firmware_sim.geomagnetic import sensor_serial
    from protocols.site import SiteDocument

    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        print("bench_berth_mqtt: Mosquitto is not reachable on 127.0.0.1:1883; skipped")
        return {}
    tenant = f"bench{uuid.uuid4().hex[:8]}"
    document = SiteDocument.model_validate(
        {
            "tenant": tenant,
            "sites": [
                {
                    "code": "street",
                    "name": "street",
                    "kind": "street_section",
                    "berths": [
                        {"code": f"b-{i:04d}", "sensor": sensor_serial(i)} for i in range(SENSORS)
                    ],
                }
            ],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        settings = EdgeSettings(
            store_path=Path(tmp) / "edge.db", mqtt_url="mqtt://127.0.0.1:1883", edge_id=tenant
        )
        store = await Store.open(settings.store_path)
        berths = Berths(document, store, settings)
        await berths.start()
        await asyncio.wait_for(berths.connected.wait(), 10)
        publisher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"import asyncio, tests.bench.bench_berth_mqtt as b; asyncio.run(b.publish({tenant!r}))",
            stdout=asyncio.subprocess.PIPE,
        )
        assert publisher.stdout is not None
        expected = int((await publisher.stdout.readline()).decode())
        for _ in range(60_000):  # the clock starts with the first message received
            if berths.received:
                break
            await asyncio.sleep(0.001)
        started = time.perf_counter()
        last_change, seen = time.perf_counter(), 0
        while berths.received < expected and time.perf_counter() - last_change < 5:
            await asyncio.sleep(0.05)
            if berths.received != seen:
                seen, last_change = berths.received, time.perf_counter()
        await berths.drained()
        elapsed = time.perf_counter() - started
        await publisher.wait()
        received = berths.received
        events = await store.read("select count(*) from outbox where type like 'berth.%'")
        await berths.stop()
        await store.close()
        import aiomqtt

        async with aiomqtt.Client("127.0.0.1", 1883, identifier=berths.client_id):
            pass  # clean session: forget the bench's persistent session
    samples = received * PER_MESSAGE
    print(
        f"bench_berth_mqtt: {received}/{expected} messages ({expected - received} lost),"
        f" {samples} samples in {elapsed:.2f} s, {events[0][0]} berth events,"
        f" {store.group_commits} commits"
    )
    return {"berth_mqtt_samples_per_s": round(samples / elapsed)}
