"""Geomagnetic sensors over real MQTT (Mosquitto, and an amqtt broker a test restarts) -> the
edge's berth sessions in its store and outbox; parking locks over real Modbus TCP."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import edge.berths as berths_module
from edge.agent import build_edge_app
from edge.api import BERTHS, COMMANDS, STORE
from edge.berths import Berths
from edge.settings import EdgeSettings
from edge.store import Store
from firmware_sim.broker import EmbeddedBroker
from firmware_sim.lock import LockSimulator
from protocols.events import CommandStatus
from protocols.site import SiteDocument
from protocols.sync import Command, CommandKind
from protocols.topics import (
    HEARTBEAT,
    SAMPLES,
    SensorHeartbeat,
    SensorSamples,
    encode,
    sensor_topic,
)
from tests.conftest import free_port, require_service
from tests.support import eventually

pytestmark = pytest.mark.mqtt

MOSQUITTO = ("127.0.0.1", 1883)
EARTH_UT = (22.0, -3.0, -41.0)  # the undisturbed field under an empty berth
CAR_UT = (9.0, 14.0, 38.0)  # what a parked car's steel adds to it


def need_mosquitto() -> None:
    require_service("Mosquitto", *MOSQUITTO, "service mosquitto start (or: mosquitto -d)")


def berth_document(tenant: str, lock_port: int | None = None) -> SiteDocument:
    berths: list[dict[str, Any]] = [
        {"code": "w-001", "sensor": "GM-001"},
        {"code": "w-002", "sensor": "GM-002"},
    ]
    if lock_port is not None:
        berths[0]["lock"] = {"port": lock_port}
    return SiteDocument.model_validate(
        {
            "tenant": tenant,
            "sites": [
                {"code": "west", "name": "西街路段", "kind": "street_section", "berths": berths}
            ],
        }
    )


def settings_for(tmp: Path, mqtt_url: str) -> EdgeSettings:
    return EdgeSettings(
        port=0,
        store_path=tmp / "edge.db",
        snapshot_dir=tmp / "snapshots",
        cloud_url=f"http://127.0.0.1:{free_port()}",
        key_path=tmp / "identity" / "edge.key",
        identity_path=tmp / "identity" / "identity.json",
        modbus_timeout_s=0.5,
        mqtt_url=mqtt_url,
    )


class Sensor:
    """A berth sensor's uplink in a test: 1 Hz samples in batches of ten, heartbeats."""

    def __init__(self, tenant: str, serial: str, start: datetime) -> None:
        self.tenant = tenant
        self.serial = serial
        self.clock_ms = int(start.timestamp() * 1000)
        self.seq = 0
        self._rng = random.Random(serial)

    def _sample(self, car: bool) -> tuple[int, int, int]:
        field = [
            base + (extra if car else 0.0) + self._rng.gauss(0, 0.15)
            for base, extra in zip(EARTH_UT, CAR_UT, strict=True)
        ]
        x, y, z = (round(value * 10) for value in field)  # LSB of 100 nT
        return (x, y, z)

    def samples(self, seconds: int, car: bool) -> list[tuple[str, bytes]]:
        messages = []
        for _ in range(0, seconds, 10):
            message = SensorSamples(
                sensor=self.serial,
                seq=self.seq,
                t0_ms=self.clock_ms,
                interval_ms=1000,
                scale_nt=100,
                xyz=[self._sample(car) for _ in range(10)],
            )
            self.seq += 1
            self.clock_ms += 10_000
            messages.append((sensor_topic(self.tenant, self.serial, SAMPLES), encode(message)))
        return messages

    def heartbeat(self, battery: int, after_s: int = 0) -> tuple[str, bytes]:
        self.clock_ms += after_s * 1000
        beat = SensorHeartbeat(
            sensor=self.serial,
            seq=self.seq,
            at_ms=self.clock_ms,
            battery_pct=battery,
            temperature_c=18.5,
            rssi_dbm=-97,
        )
        self.seq += 1
        return sensor_topic(self.tenant, self.serial, HEARTBEAT), encode(beat)


async def publish(url: tuple[str, int], messages: list[tuple[str, bytes]]) -> None:
    """One message at a time at QoS 1 (each acknowledged before the next)."""
    async with aiomqtt.Client(url[0], url[1]) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


async def forget_session(url: tuple[str, int], client_id: str) -> None:
    """Drop the persistent session a test's edge left on the shared broker."""
    async with aiomqtt.Client(url[0], url[1], identifier=client_id, clean_session=True):
        pass


@dataclass
class Edge:
    app: web.Application
    url: str

    @property
    def berths(self) -> Berths:
        return self.app[BERTHS]

    @property
    def store(self) -> Store:
        return self.app[STORE]

    async def events(self, kind: str = "berth.") -> list[tuple[str, dict[str, Any]]]:
        rows = await self.store.read(
            "select type, payload from outbox where type like ? order by seq", (kind + "%",)
        )
        return [(str(kind_), json.loads(payload)) for kind_, payload in rows]


@asynccontextmanager
async def running_edge(settings: EdgeSettings, site: SiteDocument) -> AsyncIterator[Edge]:
    server = TestServer(build_edge_app(settings, site, sync=False), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        edge = Edge(server.app, str(server.make_url("")))
        await asyncio.wait_for(edge.berths.connected.wait(), 10)
        yield edge
    finally:
        await server.close()


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def wait_events(edge: Edge, count: int, kind: str = "berth.") -> list[tuple[str, Any]]:
    async def enough() -> bool:
        return len(await edge.events(kind)) >= count

    await eventually(enough, 15, f"{count} {kind} events")
    await edge.berths.drained()
    return await edge.events(kind)


async def test_sensor_stream_opens_then_closes_one_session(tmp_path: Path) -> None:
    need_mosquitto()
    name = tenant()
    settings = settings_for(tmp_path, "mqtt://127.0.0.1:1883")
    start = datetime.now(UTC) - timedelta(minutes=10)
    sensor, neighbour = Sensor(name, "GM-001", start), Sensor(name, "GM-002", start)
    async with running_edge(settings, berth_document(name)) as edge:
        try:
            await publish(MOSQUITTO, sensor.samples(120, car=False) + neighbour.samples(60, False))
            await publish(MOSQUITTO, sensor.samples(180, car=True))
            arrived = await wait_events(edge, 1)
            assert [kind for kind, _ in arrived] == ["berth.arrived"]
            session = arrived[0][1]["session"]
            assert arrived[0][1]["berth"] == "w-001" and arrived[0][1]["sensor"] == "GM-001"
            assert arrived[0][1]["site"] == "west"
            view = edge.berths.view()["berths"]
            assert [(b["berth"], b["occupied"]) for b in view] == [
                ("w-001", True),
                ("w-002", False),
            ]
            await publish(MOSQUITTO, sensor.samples(120, car=False))
            events = await wait_events(edge, 2)
            assert [(kind, p["berth"], p["session"]) for kind, p in events] == [
                ("berth.arrived", "w-001", session),
                ("berth.departed", "w-001", session),
            ]
            arrived_at = datetime.fromisoformat(events[0][1]["at"])
            departed_at = datetime.fromisoformat(events[1][1]["at"])
            # The event times are the samples' times (the car parked 3 minutes), not arrival times.
            assert timedelta(minutes=2) < departed_at - arrived_at < timedelta(minutes=4)
            rows = await edge.store.read("select uuid, berth, departed_at from berth_session")
            assert [(key, berth) for key, berth, _ in rows] == [(session, "w-001")]
            assert rows[0][2] is not None
            async with aiohttp.ClientSession() as http, http.get(edge.url + "/berths") as resp:
                body = await resp.json()
            assert resp.status == 200 and body["mqtt"]["connected"] is True
            assert {b["berth"]: b["occupied"] for b in body["berths"]} == {
                "w-001": False,
                "w-002": False,
            }
        finally:
            client = edge.berths.client_id
    await forget_session(MOSQUITTO, client)


async def test_malformed_payloads_are_logged_once_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    need_mosquitto()
    name = tenant()
    settings = settings_for(tmp_path, "mqtt://127.0.0.1:1883")
    sensor = Sensor(name, "GM-001", datetime.now(UTC) - timedelta(minutes=10))
    good = sensor.samples(10, car=False)[0][1]
    samples_topic = sensor_topic(name, "GM-001", SAMPLES)
    bad: list[tuple[str, bytes]] = [
        (samples_topic, b"\x00\xffnot json"),  # not JSON
        (samples_topic, b'{"sensor": "GM-001"}'),  # wrong shape
        (samples_topic, good.replace(b'"GM-001"', b'"GM-999"')),  # another sensor's payload
        (sensor_topic(name, "GM-777", SAMPLES), good.replace(b"GM-001", b"GM-777")),  # unknown
        (sensor_topic(name, "GM-001", "firmware"), b"{}"),  # a kind of message nobody knows
    ]
    async with running_edge(settings, berth_document(name)) as edge:
        client = edge.berths.client_id
        with caplog.at_level(logging.WARNING, logger="edge.berths"):
            await publish(MOSQUITTO, bad * 20)
            await eventually(
                lambda: _true(edge.berths.malformed >= 100), 10, "every bad message seen"
            )
            await edge.berths.drained()
            warnings = [r.getMessage() for r in caplog.records if r.name == "edge.berths"]
            # One line per sensor per minute, not one per message: GM-001 and GM-777.
            assert len(warnings) == 2, warnings
            assert "GM-001" in warnings[0] and "not JSON" in warnings[0]
            assert "GM-777" in warnings[1] and "no berth" in warnings[1]
            assert await edge.events() == []
            # The engine kept running: the next good stream still opens a session.
            await publish(MOSQUITTO, sensor.samples(120, False) + sensor.samples(120, True))
            (arrived,) = await wait_events(edge, 1)
            assert arrived[0] == "berth.arrived" and arrived[1]["berth"] == "w-001"
    await forget_session(MOSQUITTO, client)


async def _true(value: bool) -> bool:
    return value


async def test_restart_with_a_parked_car_keeps_its_session(tmp_path: Path) -> None:
    need_mosquitto()
    name = tenant()
    settings = settings_for(tmp_path, "mqtt://127.0.0.1:1883")
    site = berth_document(name)
    sensor = Sensor(name, "GM-002", datetime.now(UTC) - timedelta(minutes=20))
    async with running_edge(settings, site) as edge:
        client = edge.berths.client_id
        await publish(MOSQUITTO, sensor.samples(120, False) + sensor.samples(120, True))
        ((_, arrived),) = await wait_events(edge, 1)
    # While the edge is down the car stays, then leaves: the broker keeps the messages for the
    # edge's persistent session and delivers them when it is back.
    await publish(MOSQUITTO, sensor.samples(60, True) + sensor.samples(120, False))
    async with running_edge(settings, site) as edge:
        events = await wait_events(edge, 2)
        assert [(kind, p["session"]) for kind, p in events] == [
            ("berth.arrived", arrived["session"]),
            ("berth.departed", arrived["session"]),
        ]
        rows = await edge.store.read("select count(*) from berth_session")
        assert rows == [(1,)]
    # Another car parks while the edge is down (the sensor's uplink goes on, queued)...
    await publish(MOSQUITTO, sensor.samples(60, False) + sensor.samples(120, True))
    async with running_edge(settings, site) as edge:
        events = await wait_events(edge, 3)
        second = events[2][1]["session"]
    # ...and a restart with that car still parked does not report it arriving again.
    async with running_edge(settings, site) as edge:
        await publish(MOSQUITTO, sensor.samples(120, True))
        await eventually(lambda: _true(edge.berths.received >= 12), 10, "12 messages delivered")
        await edge.berths.drained()
        assert [kind for kind, _ in await edge.events()][3:] == []
        view = {b["berth"]: b for b in edge.berths.view()["berths"]}
        assert view["w-002"]["occupied"] and view["w-002"]["session"] == second
        await publish(MOSQUITTO, sensor.samples(120, False))
        events = await wait_events(edge, 4)
        assert events[3][0] == "berth.departed" and events[3][1]["session"] == second
    await forget_session(MOSQUITTO, client)


async def test_a_car_that_left_unseen_while_the_edge_was_down_is_seen_gone(
    tmp_path: Path,
) -> None:
    """The broker loses the edge's session while the edge is down (a broker restarted without
    persistence), and with it the samples of the car leaving. The edge kept the berth's empty
    field with the session, so the first samples after the restart end the stay."""
    need_mosquitto()
    name = tenant()
    settings = settings_for(tmp_path, "mqtt://127.0.0.1:1883")
    site = berth_document(name)
    sensor = Sensor(name, "GM-002", datetime.now(UTC) - timedelta(minutes=20))
    async with running_edge(settings, site) as edge:
        client = edge.berths.client_id
        await publish(MOSQUITTO, sensor.samples(120, False) + sensor.samples(120, True))
        ((_, arrived),) = await wait_events(edge, 1)
    await forget_session(MOSQUITTO, client)
    await publish(MOSQUITTO, sensor.samples(60, True) + sensor.samples(60, False))  # lost
    async with running_edge(settings, site) as edge:
        await eventually(lambda: _true(edge.berths.connected.is_set()), 10, "subscribed")
        await publish(MOSQUITTO, sensor.samples(120, False))
        events = await wait_events(edge, 2)
        assert events[1][0] == "berth.departed"
        assert events[1][1]["session"] == arrived["session"]
    await forget_session(MOSQUITTO, client)


async def test_a_car_that_parked_unseen_while_the_edge_was_down_is_seen_arriving(
    tmp_path: Path,
) -> None:
    """The same loss with the berth empty: the heartbeat kept the berth's empty field, so a car
    standing there when the edge comes back is an arrival, not the berth's new empty field."""
    need_mosquitto()
    name = tenant()
    settings = settings_for(tmp_path, "mqtt://127.0.0.1:1883")
    site = berth_document(name)
    sensor = Sensor(name, "GM-001", datetime.now(UTC) - timedelta(minutes=20))
    async with running_edge(settings, site) as edge:
        client = edge.berths.client_id
        await publish(MOSQUITTO, [*sensor.samples(120, False), sensor.heartbeat(90)])
        await eventually(lambda: _true(edge.berths.received >= 13), 10, "13 messages delivered")
        await edge.berths.drained()
        assert [kind for kind, _ in await edge.events()] == ["berth.sensor_status"]
    await forget_session(MOSQUITTO, client)
    await publish(MOSQUITTO, sensor.samples(60, False) + sensor.samples(60, True))  # lost
    async with running_edge(settings, site) as edge:
        await eventually(lambda: _true(edge.berths.connected.is_set()), 10, "subscribed")
        await publish(MOSQUITTO, sensor.samples(120, True))
        events = await wait_events(edge, 2)
        assert events[1][0] == "berth.arrived" and events[1][1]["berth"] == "w-001"
    await forget_session(MOSQUITTO, client)


async def test_reconnects_when_the_broker_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(berths_module, "RECONNECT_FIRST_S", 0.2)
    port = free_port()
    broker = EmbeddedBroker(port=port)
    await broker.start()
    name = tenant()
    settings = settings_for(tmp_path, broker.url)
    sensor = Sensor(name, "GM-001", datetime.now(UTC) - timedelta(minutes=10))
    where = ("127.0.0.1", port)
    try:
        async with running_edge(settings, berth_document(name)) as edge:
            await publish(where, sensor.samples(120, False) + sensor.samples(120, True))
            ((_, arrived),) = await wait_events(edge, 1)
            with caplog.at_level(logging.INFO, logger="edge.berths"):
                await broker.stop()
                await eventually(
                    lambda: _true(not edge.berths.connected.is_set()), 10, "the loss noticed"
                )
                await asyncio.sleep(0.5)  # a reconnection attempt or two fail meanwhile
                await broker.start()
                await eventually(lambda: _true(edge.berths.connects == 2), 15, "a reconnection")
            text = caplog.text
            assert "lost the broker" in text and "reconnecting in" in text
            assert "reconnected to" in text
            # The engine's state survived: the departure closes the session opened before.
            await publish(where, sensor.samples(120, False))
            events = await wait_events(edge, 2)
            assert [(kind, p["session"]) for kind, p in events] == [
                ("berth.arrived", arrived["session"]),
                ("berth.departed", arrived["session"]),
            ]
    finally:
        await broker.stop()


async def test_heartbeats_become_sensor_status_events(tmp_path: Path) -> None:
    need_mosquitto()
    name = tenant()
    settings = settings_for(tmp_path, "mqtt://127.0.0.1:1883")
    sensor = Sensor(name, "GM-002", datetime.now(UTC) - timedelta(hours=1))
    async with running_edge(settings, berth_document(name)) as edge:
        client = edge.berths.client_id
        await publish(
            MOSQUITTO,
            [
                sensor.heartbeat(90),  # first: reported
                sensor.heartbeat(89, after_s=60),  # a minute later, about the same: not
                sensor.heartbeat(84, after_s=60),  # the battery dropped 6 points: reported
                sensor.heartbeat(84, after_s=120),  # 2 minutes since the last report: not
                sensor.heartbeat(84, after_s=200),  # 5 minutes and more since: reported
            ],
        )
        events = await wait_events(edge, 3, "berth.sensor_status")
        await asyncio.sleep(0.2)
        assert [(p["sensor"], p["berth"], p["battery_pct"]) for _, p in events] == [
            ("GM-002", "w-002", 90),
            ("GM-002", "w-002", 84),
            ("GM-002", "w-002", 84),
        ]
        assert events[0][1]["temperature_c"] == 18.5
        shown = {b["berth"]: b for b in edge.berths.view()["berths"]}["w-002"]
        assert shown["battery_pct"] == 84 and shown["rssi_dbm"] == -97
        assert shown["heartbeat_at"].endswith("+08:00"), "shown in the site's zone"
    # The last status survives a restart for the device view.
    async with running_edge(settings, berth_document(name)) as edge:
        shown = {b["berth"]: b for b in edge.berths.view()["berths"]}["w-002"]
        assert shown["battery_pct"] == 84
    await forget_session(MOSQUITTO, client)


def lock_command(kind: CommandKind, berth: str, site: str = "west") -> Command:
    now = datetime.now(UTC)
    return Command(
        id=uuid.uuid4(),
        kind=kind,
        site=site,
        payload={"berth": berth},
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
    )


async def test_lock_commands_drive_the_lock_and_faults_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_mosquitto()
    monkeypatch.setattr(berths_module, "LOCK_POLL_S", 0.2)
    monkeypatch.setattr(berths_module, "RAISE_AFTER_DEPARTURE_S", 0.5)
    lock = LockSimulator(port=free_port(), motion_s=0.5)
    await lock.start()
    name = tenant()
    settings = settings_for(tmp_path, "mqtt://127.0.0.1:1883")
    sensor = Sensor(name, "GM-001", datetime.now(UTC) - timedelta(minutes=10))
    try:
        async with running_edge(settings, berth_document(name, lock.port)) as edge:
            client = edge.berths.client_id
            commands = edge.app[COMMANDS]
            # The poller reports the lock as it finds it: raised (a free shared berth).
            await wait_events(edge, 1, "berth.lock_state")

            assert await commands.handle(lock_command(CommandKind.lock_lower, "w-001")) == (
                CommandStatus.done
            )
            assert lock.position == "lowered" and [c for _, c in lock.commands] == ["lower"]
            states = await wait_events(edge, 2, "berth.lock_state")
            assert [(p["berth"], p["state"]) for _, p in states] == [
                ("w-001", "raised"),
                ("w-001", "lowered"),
            ]
            # A car drives over the lowered lock; an admin raises it anyway: the arm meets the
            # car, the lock reports the obstruction, and the command fails saying so.
            lock.vehicle = True
            status = await commands.handle(lock_command(CommandKind.lock_raise, "w-001"))
            assert status == CommandStatus.failed
            states = await wait_events(edge, 3, "berth.lock_state")
            assert (states[2][1]["state"], states[2][1]["fault"]) == ("fault", "obstructed")
            results = await edge.events("command.result")
            assert [p["status"] for _, p in results] == ["done", "failed"]
            assert "obstructed" in results[1][1]["detail"]

            # Unknown berth, berth without a lock, another site: refused, the lock untouched.
            moves = len(lock.commands)
            for bad in (
                lock_command(CommandKind.lock_lower, "w-404"),
                lock_command(CommandKind.lock_lower, "w-002"),
                lock_command(CommandKind.lock_lower, "w-001", site="east"),
            ):
                assert await commands.handle(bad) == CommandStatus.failed
            assert len(lock.commands) == moves
            results = await edge.events("command.result")
            assert "no berth 'w-404'" in results[2][1]["detail"]
            assert "no parking lock" in results[3][1]["detail"]

            # The sensor sees the car park, the edge refuses to raise the lock under it...
            await commands.handle(lock_command(CommandKind.lock_lower, "w-001"))
            await publish(MOSQUITTO, sensor.samples(120, False) + sensor.samples(120, True))
            await wait_events(edge, 1, "berth.arrived")
            refused = lock_command(CommandKind.lock_raise, "w-001")
            assert await commands.handle(refused) == CommandStatus.failed
            results = await edge.events("command.result")
            assert "occupied" in results[-1][1]["detail"]
            # ...and raises it by itself once the car has left.
            lock.vehicle = False
            await publish(MOSQUITTO, sensor.samples(120, False))
            await wait_events(edge, 1, "berth.departed")
            await lock.wait_state("raised", timeout_s=5)
            assert [c for _, c in lock.commands][-1] == "raise"
            await eventually(lambda: _last_state_is(edge, "raised"), 5, "the raised lock reported")
            async with aiohttp.ClientSession() as http, http.get(edge.url + "/berths") as resp:
                body = await resp.json()
            shown = {b["berth"]: b for b in body["berths"]}
            assert shown["w-001"]["lock"]["state"] == "raised"
            assert shown["w-002"]["lock"] is None

            # The lock goes away: reported once as unreachable, not once per poll.
            await lock.stop()
            await eventually(
                lambda: _last_state_is(edge, "fault", "unreachable"), 5, "unreachable reported"
            )
            before = len(await edge.events("berth.lock_state"))
            await asyncio.sleep(0.6)
            assert len(await edge.events("berth.lock_state")) == before
    finally:
        await lock.stop()
    await forget_session(MOSQUITTO, client)


async def _last_state_is(edge: Edge, state: str, fault: str = "") -> bool:
    states = await edge.events("berth.lock_state")
    return bool(states) and (states[-1][1]["state"], states[-1][1]["fault"]) == (state, fault)
