"""The geomagnetic sensor simulator: deterministic physics with ground truth, the wire format of
protocols/topics.py, and the MQTT publisher against the real broker (Mosquitto), including a
broker link that drops in the middle of a run."""

from __future__ import annotations

import asyncio
import contextlib
import json

import numpy as np
import pytest

from firmware_sim.geomagnetic import (
    GeomagneticFleet,
    plan_street,
    render,
    samples_message,
)
from protocols.topics import (
    SensorHeartbeat,
    SensorSamples,
    encode,
    parse_message,
    subscription,
)
from tests.conftest import free_port, require_service

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, 08:00 in Shanghai
MOSQUITTO = ("127.0.0.1", 1883)


def test_the_same_seed_gives_the_same_street_and_samples() -> None:
    a = plan_street(6, start=T0, seconds=4 * 3600, seed=3)
    b = plan_street(6, start=T0, seconds=4 * 3600, seed=3)
    c = plan_street(6, start=T0, seconds=4 * 3600, seed=4)
    assert a.truth() == b.truth() and a.truth() != c.truth()
    assert np.array_equal(render(a, 100, 500), render(b, 100, 500))
    assert not np.array_equal(render(a, 100, 500), render(c, 100, 500))


def test_ground_truth_alternates_arrival_and_departure_per_berth() -> None:
    plan = plan_street(40, start=T0, seed=8)
    truth = plan.truth()
    assert len(truth) > 40 * 8  # a day of a busy street
    for berth in range(40):
        mine = [t for t in truth if t.berth == berth]
        kinds = [t.occupied for t in mine]
        first = not plan.occupied_at_start[berth]
        assert kinds == [(i % 2 == 0) == first for i in range(len(kinds))]
        assert all(T0 <= t.at < T0 + 86_400 for t in mine)
    # More arrivals in the daytime than at night (local time).
    hours = [((t.at - T0) / 3600 + 8) % 24 for t in truth if t.occupied]
    assert sum(8 <= h < 20 for h in hours) > 4 * sum(h < 6 for h in hours)


def test_the_field_is_the_earths_plus_drift_plus_cars() -> None:
    plan = plan_street(30, start=T0, seed=9, parked_at_start=0.0)
    x = render(plan, 0, plan.samples)
    vacant = np.ones(x.shape[:2], dtype=bool)
    for stay in plan.stays:
        lo = max(int(stay.arrive_s) - 10, 0)
        vacant[stay.berth, lo : int(stay.depart_s + stay.depart_len_s) + 10] = False
    magnitudes = []
    for b in range(30):
        field = np.median(x[b][vacant[b]], axis=0)
        magnitudes.append(float(np.linalg.norm(field)))
    assert 40 < min(magnitudes) and max(magnitudes) < 62  # about 50 uT in China
    # A parked car: 5..60 uT from the vacant field, mostly in z and x.
    for stay in plan.stays[:40]:
        car = np.array(stay.car_ut)
        assert 5 <= np.linalg.norm(car) <= 60
        assert abs(car[1]) < max(abs(car[0]), abs(car[2]))
    # Temperature drift: a few uT between 03:00 and 15:00 local time, never tens.
    quiet = plan_street(20, start=T0, seed=2, parked_at_start=0.0, traffic=0.0, arrivals=0.0)
    assert quiet.truth() == []
    night = np.median(render(quiet, 19 * 3600, 600), axis=1)  # 03:00 in Shanghai
    day = np.median(render(quiet, 7 * 3600, 600), axis=1)  # 15:00
    drift = np.linalg.norm(day - night, axis=1)
    assert drift.max() < 15 and np.median(drift) > 1


def test_samples_travel_as_protocols_topics_says() -> None:
    plan = plan_street(2, start=T0, seconds=600, seed=1)
    x = render(plan, 0, 10)
    message = samples_message(plan.sensors[0].serial, 7, T0, 1.0, x[0])
    parsed = parse_message(f"wayside/demo/sensor/{plan.sensors[0].serial}/samples", encode(message))
    assert isinstance(parsed, SensorSamples)
    back = np.array(parsed.xyz) * parsed.scale_nt / 1000
    assert np.abs(back - x[0]).max() <= 0.05 + 1e-9  # quantised to 100 nT


class Relay:
    """A TCP relay in front of the broker that the test can cut (every connection dropped,
    new ones refused) and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.links):
            writer.close()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def collect(
    tenant: str, into: dict[tuple[str, int], dict[str, object]], ready: asyncio.Event
) -> None:
    import aiomqtt

    async with aiomqtt.Client(*MOSQUITTO) as client:
        await client.subscribe(subscription(tenant), qos=1)
        ready.set()
        async for message in client.messages:
            payload = message.payload
            assert isinstance(payload, bytes)
            parsed = parse_message(str(message.topic), payload)
            into[(parsed.sensor, parsed.seq)] = json.loads(payload)


@pytest.mark.mqtt
async def test_the_fleet_publishes_every_batch_and_heartbeat_through_a_broker_outage() -> None:
    require_service("Mosquitto", *MOSQUITTO, "mosquitto -d")
    tenant = f"simtest{free_port()}"
    plan = plan_street(5, start=T0, seconds=1200, seed=4)
    relay = Relay(MOSQUITTO)
    await relay.up()
    got: dict[tuple[str, int], dict[str, object]] = {}
    ready = asyncio.Event()
    subscriber = asyncio.create_task(collect(tenant, got, ready))
    await asyncio.wait_for(ready.wait(), 10)
    fleet = GeomagneticFleet(
        f"mqtt://127.0.0.1:{relay.port}",
        tenant,
        plan,
        batch=20,
        heartbeat_s=300,
        speed=400.0,  # 20 simulated minutes in 3 s
        max_inflight=4,
    )
    publisher = asyncio.create_task(fleet.run())
    await asyncio.sleep(1.0)
    await relay.cut()  # the broker link goes down for a while
    await asyncio.sleep(1.5)
    await relay.up()
    await asyncio.wait_for(publisher, 60)
    expected_samples = 5 * (1200 // 20)
    expected_beats = 5 * 4  # at 0, 300, 600, 900 s
    for _ in range(100):
        if len(got) >= expected_samples + expected_beats:
            break
        await asyncio.sleep(0.1)
    subscriber.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await subscriber
    await relay.cut()
    assert fleet.connects >= 2  # it reconnected after the cut
    assert fleet.peak_inflight <= 4
    samples = [m for m in got.values() if "xyz" in m]
    beats = [m for m in got.values() if "battery_pct" in m]
    assert len(samples) == expected_samples and len(beats) == expected_beats
    for sensor in (p.serial for p in plan.sensors):
        t0s = sorted(int(str(m["t0_ms"])) for m in samples if m["sensor"] == sensor)
        assert t0s == [int(T0 * 1000) + 20_000 * i for i in range(60)]  # nothing lost
    assert all(SensorHeartbeat.model_validate(m).battery_pct > 0 for m in beats)
