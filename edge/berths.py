"""On-street berths at the edge: geomagnetic sensor samples from MQTT become berth sessions,
sensor heartbeats become status reports, and parking locks follow commands and departures.

The receive loop only hands messages to a bounded queue; one worker takes them in batches,
feeds the berth detector (edge/engines/berth.py) and commits each batch's sessions, sensor
rows and events in one store transaction. Sessions live in the `berth_session` table, so a
restart restores the detector from the open sessions and neither loses nor repeats one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import socket
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import numpy as np
from pydantic import ValidationError

from edge.commands import CommandFailed, Commands
from edge.drivers.lock import FAULT, MOVING, Lock, LockFault, LockReading
from edge.drivers.modbus import DeviceError
from edge.engines.berth import BerthDetector, Occupancy
from edge.settings import EdgeSettings
from edge.store import Statement, Store, event_row
from protocols.events import BerthArrived, BerthDeparted, LockState, SensorStatus
from protocols.parking import LockCommand
from protocols.site import SiteDocument
from protocols.sync import Command, CommandKind
from protocols.topics import (
    PayloadError,
    SensorHeartbeat,
    SensorSamples,
    parse_message,
    subscription,
)

log = logging.getLogger(__name__)

SCHEMA = """
create table if not exists berth_session (
    uuid text primary key,
    site text not null,
    berth text not null,
    sensor text not null,
    source text not null,
    arrived_at text not null,
    departed_at text,
    -- the sensor's vacant field (uT, JSON) when the car arrived: after a restart it lets the
    -- detector see a car that left while the edge was down
    baseline text
);
create unique index if not exists berth_session_open
    on berth_session (berth) where departed_at is null;
create table if not exists berth_sensor (
    sensor text primary key,
    site text not null,
    berth text not null,
    battery_pct integer not null,
    temperature_c real,
    rssi_dbm integer,
    heartbeat_at text not null,
    reported_battery integer,
    reported_at text,
    -- the detector's vacant field (uT, JSON) as of this heartbeat, for a restart
    baseline text
);
create table if not exists berth_lock (
    berth text primary key,
    site text not null,
    state text not null,
    fault text not null,
    at text not null
);
"""

# Messages waiting for the worker; when it falls this far behind, the receive loop waits.
QUEUE_MAX = 10_000
# Messages one worker pass (and one store transaction) takes at most, and how many it
# processes between two yields to the event loop.
BATCH_MAX = 500
YIELD_EVERY = 50
# A heartbeat is reported (berth.sensor_status) at most this often per sensor, unless the
# battery moved by BATTERY_STEP points since the last report.
STATUS_EVERY_S = 300.0
BATTERY_STEP = 5
# A bad message is logged at most once per sensor (or topic) per this many seconds.
COMPLAINT_EVERY_S = 60.0
# Lock state is read every this many seconds; a lock is raised this long after a departure.
LOCK_POLL_S = 3.0
RAISE_AFTER_DEPARTURE_S = 10.0
LOCK_MOVE_TIMEOUT_S = 10.0
# Reconnection to the broker: first wait, longest wait (jittered).
RECONNECT_FIRST_S = 1.0
RECONNECT_CAP_S = 30.0
UNREACHABLE = "unreachable"


class BerthConfigError(ValueError):
    """The site document's berths contradict each other (a code or sensor used twice)."""


@dataclass
class _Berth:
    site: str
    code: str
    sensor: str
    lock: Lock | None = None
    session: str = ""
    arrived_at: datetime | None = None
    # the sensor's last heartbeat, and what was last reported of it
    heartbeat: SensorHeartbeat | None = None
    reported_battery: int | None = None
    reported_at: float | None = None  # epoch s (the heartbeat's own time)
    last_seen: datetime | None = None
    # the lock's last reading, and the (state, fault) last reported as berth.lock_state
    lock_reading: LockReading | None = None
    lock_reported: tuple[str, str] | None = None
    lock_at: datetime | None = None
    raise_task: asyncio.Task[None] | None = None


@dataclass
class _Complaint:
    first: float
    suppressed: int = 0


@dataclass
class _Batch:
    """What one worker pass commits together, and what to do once it is durable."""

    statements: list[Statement] = field(default_factory=list)
    rows: list[tuple[str, ...]] = field(default_factory=list)
    departed: list[_Berth] = field(default_factory=list)
    arrived: list[_Berth] = field(default_factory=list)


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return b"" if payload is None else str(payload).encode()


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """mqtt://[user:pass@]host[:port] or mqtts://...; ValueError naming what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(
                f"mqtt_url {url!r}: expected mqtt://host[:port] or mqtts://host[:port]"
            )
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"mqtt_url {url!r}: bad port") from None
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def client_id(site: SiteDocument, settings: EdgeSettings) -> str:
    """A stable MQTT client id for this edge: the broker keeps its session (subscription and
    queued QoS 1 messages) under it while the edge is away."""
    if settings.edge_id:
        return f"wayside-edge-{settings.edge_id}"[:64]
    where = f"{socket.gethostname()}:{settings.store_path.resolve()}"
    digest = hashlib.sha256(where.encode()).hexdigest()[:12]
    return f"wayside-edge-{site.tenant}-{digest}"[:64]


class Berths:
    """Owns the MQTT subscription, the berth engine and the lock drivers of the site document."""

    def __init__(
        self,
        site: SiteDocument,
        store: Store,
        settings: EdgeSettings,
        detector: BerthDetector | None = None,
    ) -> None:
        self._site = site
        self._store = store
        self._settings = settings
        self.detector = detector or BerthDetector()
        self.berths: dict[str, _Berth] = {}
        self._by_sensor: dict[str, _Berth] = {}
        drives_locks = settings.profile == "site"
        for config in site.sites:
            for berth in config.berths:
                if berth.code in self.berths:
                    raise BerthConfigError(f"berth code {berth.code!r} is used twice")
                lock = None
                if berth.lock is not None and drives_locks:
                    lock = Lock(f"lock {berth.code}", berth.lock, settings.modbus_timeout_s)
                entry = _Berth(config.code, berth.code, berth.sensor, lock)
                self.berths[berth.code] = entry
                if berth.sensor:
                    if berth.sensor in self._by_sensor:
                        raise BerthConfigError(
                            f"sensor {berth.sensor!r} is on berths"
                            f" {self._by_sensor[berth.sensor].code!r} and {berth.code!r}"
                        )
                    self._by_sensor[berth.sensor] = entry
        self.broker = BrokerAddress.parse(settings.mqtt_url) if settings.mqtt_url else None
        self.client_id = client_id(site, settings)
        self.connected = asyncio.Event()
        self.connects = 0  # successful broker connections (a reconnect makes it 2, 3...)
        self.received = 0  # messages taken off the broker
        self.malformed = 0  # messages refused (bad payload, unknown sensor, detector error)
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE_MAX)
        self._complaints: dict[str, _Complaint] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._receiver: asyncio.Task[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.berths:
            return
        await self._store.ensure_schema(SCHEMA)
        await self._restore()
        self._worker = asyncio.create_task(self._work(), name="berths worker")
        if self.broker is not None:
            self._receiver = asyncio.create_task(self._receive(self.broker), name="berths mqtt")
        elif any(berth.sensor for berth in self.berths.values()):
            log.warning("berths have sensors but mqtt_url is empty: no sensor messages are read")
        for berth in self.berths.values():
            if berth.lock is not None:
                self._tasks.append(
                    asyncio.create_task(self._poll_lock(berth), name=f"lock {berth.code}")
                )

    async def stop(self) -> None:
        if self._receiver is not None:
            await _cancel(self._receiver)
            self._receiver = None
        if self._worker is not None:
            # What was received is processed (and committed) before the edge stops.
            try:
                async with asyncio.timeout(5):
                    await self.drained()
            except TimeoutError:
                log.warning("berths: %d sensor messages not processed at stop", self._queue.qsize())
            await _cancel(self._worker)
            self._worker = None
        raises = [b.raise_task for b in self.berths.values() if b.raise_task is not None]
        for task in [*self._tasks, *raises]:
            await _cancel(task)
        self._tasks.clear()
        for berth in self.berths.values():
            berth.raise_task = None
            if berth.lock is not None:
                berth.lock.close()

    async def drained(self) -> None:
        """Return once every message received so far has been processed and committed."""
        await self._idle.wait()

    async def _restore(self) -> None:
        """The detector and the berths as the store left them (open sessions, last heartbeat,
        last reported lock state)."""
        rows = await self._store.read(
            "select uuid, berth, arrived_at, baseline from berth_session where departed_at is null"
        )
        for session, code, arrived_at, base in rows:
            berth = self.berths.get(str(code))
            if berth is None:
                log.warning(
                    "open berth session %s is on berth %s, no longer configured", session, code
                )
                continue
            berth.session = str(session)
            berth.arrived_at = datetime.fromisoformat(str(arrived_at))
            if berth.sensor:
                self.detector.restore(berth.sensor, True, _baseline(base))
        rows = await self._store.read(
            "select sensor, battery_pct, temperature_c, rssi_dbm, heartbeat_at, reported_battery,"
            " reported_at, baseline from berth_sensor"
        )
        for sensor, battery, temperature, rssi, at, reported_battery, reported_at, base in rows:
            berth = self._by_sensor.get(str(sensor))
            if berth is None:
                continue
            if not berth.session and (vacant := _baseline(base)) is not None:
                # A vacant berth's learnt field: a car that parked while the edge was down
                # shows as an arrival, not as the berth's new empty field.
                self.detector.restore(str(sensor), False, vacant)
            heartbeat_at = datetime.fromisoformat(str(at))
            berth.heartbeat = SensorHeartbeat(
                sensor=str(sensor),
                seq=0,
                at_ms=int(heartbeat_at.timestamp() * 1000),
                battery_pct=int(battery),
                temperature_c=float(temperature) if temperature is not None else 0.0,
                rssi_dbm=int(rssi) if rssi is not None else None,
            )
            berth.last_seen = heartbeat_at
            if reported_at is not None:
                berth.reported_at = datetime.fromisoformat(str(reported_at)).timestamp()
                berth.reported_battery = (
                    int(reported_battery) if reported_battery is not None else None
                )
        rows = await self._store.read("select berth, state, fault, at from berth_lock")
        for code, state, fault, at in rows:
            berth = self.berths.get(str(code))
            if berth is not None:
                berth.lock_reported = (str(state), str(fault))
                berth.lock_at = datetime.fromisoformat(str(at))

    # --- MQTT ----------------------------------------------------------------------------------

    def _client(self, broker: BrokerAddress) -> aiomqtt.Client:
        return aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=broker.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V311,
            # A persistent session: the broker queues QoS 1 messages while the edge is away.
            clean_session=False,
            keepalive=30,
            timeout=10,
            tls_context=ssl.create_default_context() if broker.tls else None,
        )

    async def _receive(self, broker: BrokerAddress) -> None:
        """Connect, subscribe and hand every message to the queue; reconnect with backoff."""
        delay = RECONNECT_FIRST_S
        topic = subscription(self._site.tenant)
        while True:
            try:
                async with self._client(broker) as client:
                    await client.subscribe(topic, qos=1)
                    self.connects += 1
                    self.connected.set()
                    delay = RECONNECT_FIRST_S
                    log.info(
                        "MQTT: %s to %s as %s, subscribed to %s",
                        "connected" if self.connects == 1 else "reconnected",
                        broker,
                        self.client_id,
                        topic,
                    )
                    async for message in client.messages:
                        self.received += 1
                        self._idle.clear()
                        await self._queue.put((str(message.topic), _payload_bytes(message.payload)))
            except aiomqtt.MqttError as exc:
                lost = self.connected.is_set()
                self.connected.clear()
                wait = delay * random.uniform(0.8, 1.2)
                log.warning(
                    "MQTT: %s %s (%s); reconnecting in %.1f s",
                    "lost the broker" if lost else "cannot reach the broker",
                    broker,
                    exc,
                    wait,
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, RECONNECT_CAP_S)

    def feed(self, topic: str, payload: bytes) -> None:
        """Queue one message as if it came from the broker (a local bridge, tests)."""
        self._queue.put_nowait((topic, payload))
        self._idle.clear()

    # --- the worker ----------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            first = await self._queue.get()
            try:
                batch = [first]
                while len(batch) < BATCH_MAX and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                await self._process(batch)
            except Exception:
                log.exception("berths: a batch of sensor messages failed")
            finally:
                if self._queue.empty():
                    self._idle.set()

    async def _process(self, messages: Sequence[tuple[str, bytes]]) -> None:
        batch = _Batch()
        for index, (topic, payload) in enumerate(messages, 1):
            self._one(topic, payload, batch)
            if index % YIELD_EVERY == 0:
                # Let the receive loop drain the socket meanwhile: a broker whose queue for
                # this client fills up (Mosquitto: max_queued_messages) drops messages.
                await asyncio.sleep(0)
        if not batch.statements and not batch.rows:
            return
        try:
            await self._store.commit(batch.statements, batch.rows)
        except Exception:
            log.exception(
                "berths: committing %d events failed; reloading sessions", len(batch.rows)
            )
            await self._reload_sessions()
            return
        for berth in batch.arrived:
            if berth.raise_task is not None:
                berth.raise_task.cancel()
                berth.raise_task = None
        for berth in batch.departed:
            if berth.lock is not None and not berth.session:
                self._schedule_raise(berth)

    async def _reload_sessions(self) -> None:
        """After a failed commit, memory and detector go back to what the store holds."""
        rows = await self._store.read(
            "select uuid, berth, arrived_at from berth_session where departed_at is null"
        )
        open_ = {str(code): (str(key), str(at)) for key, code, at in rows}
        for berth in self.berths.values():
            key, at = open_.get(berth.code, ("", ""))
            berth.session = key
            berth.arrived_at = datetime.fromisoformat(at) if at else None
            if berth.sensor:
                self.detector.restore(berth.sensor, bool(key))

    def _complain(self, key: str, text: str) -> None:
        """Log a refused message, at most once per key per COMPLAINT_EVERY_S."""
        self.malformed += 1
        now = time.monotonic()
        complaint = self._complaints.get(key)
        if complaint is not None and now - complaint.first < COMPLAINT_EVERY_S:
            complaint.suppressed += 1
            return
        more = complaint.suppressed if complaint is not None else 0
        self._complaints[key] = _Complaint(now)
        tail = f" ({more} more refused in the last minute)" if more else ""
        log.warning("berths: message ignored: %s%s", text, tail)
        if len(self._complaints) > 10_000:
            self._complaints = {
                k: c for k, c in self._complaints.items() if now - c.first < COMPLAINT_EVERY_S
            }

    def _one(self, topic: str, payload: bytes, batch: _Batch) -> None:
        parts = topic.split("/")
        key = parts[3] if len(parts) == 5 else topic
        try:
            message = parse_message(topic, payload)
        except PayloadError as exc:
            self._complain(key, str(exc))
            return
        berth = self._by_sensor.get(message.sensor)
        if berth is None:
            self._complain(key, f"{topic}: sensor {message.sensor!r} is on no berth of this edge")
            return
        if isinstance(message, SensorSamples):
            berth.last_seen = _utc((message.t0_ms + message.interval_ms * len(message.xyz)) / 1000)
            self._samples(berth, message, batch)
        else:
            berth.last_seen = _utc(message.at_ms / 1000)
            self._heartbeat(berth, message, batch)

    def _samples(self, berth: _Berth, message: SensorSamples, batch: _Batch) -> None:
        # Raw LSB x scale_nt nanotesla; the detector works in microtesla.
        samples = np.asarray(message.xyz, dtype=np.float64) * (message.scale_nt / 1000.0)
        try:
            changes = self.detector.feed(
                message.sensor, message.t0_ms / 1000, message.interval_ms / 1000, samples
            )
        except Exception as exc:  # the engine refused these samples: log, keep running
            self._complain(berth.sensor, f"sensor {berth.sensor}: samples refused: {exc!r}")
            return
        for change in changes:
            self._occupancy(berth, change, batch)

    def _occupancy(self, berth: _Berth, change: Occupancy, batch: _Batch) -> None:
        at = _utc(change.at)
        if change.occupied:
            if berth.session:
                log.info(
                    "berth %s: second arrival ignored (session %s open)", berth.code, berth.session
                )
                return
            session = str(uuid.uuid4())
            arrived = BerthArrived(
                session=session, site=berth.site, berth=berth.code, sensor=berth.sensor, at=at
            )
            base = self.detector.baseline(berth.sensor)
            batch.statements.append(
                (
                    "insert into berth_session"
                    " (uuid, site, berth, sensor, source, arrived_at, baseline)"
                    " values (?, ?, ?, ?, 'sensor', ?, ?)",
                    [
                        (
                            session,
                            berth.site,
                            berth.code,
                            berth.sensor,
                            at.isoformat(),
                            json.dumps(base) if base is not None else None,
                        )
                    ],
                )
            )
            batch.rows.append(event_row("berth.arrived", berth.site, at, arrived))
            berth.session, berth.arrived_at = session, at
            batch.arrived.append(berth)
            log.info("berth %s: arrival at %s, session %s", berth.code, at.isoformat(), session)
            return
        if not berth.session:
            log.info("berth %s: departure without an open session ignored", berth.code)
            return
        departed = BerthDeparted(
            session=berth.session, site=berth.site, berth=berth.code, sensor=berth.sensor, at=at
        )
        batch.statements.append(
            (
                "update berth_session set departed_at = ? where uuid = ? and departed_at is null",
                [(at.isoformat(), berth.session)],
            )
        )
        batch.rows.append(event_row("berth.departed", berth.site, at, departed))
        log.info("berth %s: departure at %s, session %s", berth.code, at.isoformat(), berth.session)
        berth.session, berth.arrived_at = "", None
        batch.departed.append(berth)

    def _heartbeat(self, berth: _Berth, beat: SensorHeartbeat, batch: _Batch) -> None:
        at_s = beat.at_ms / 1000
        at = _utc(at_s)
        berth.heartbeat = beat
        due = (
            berth.reported_at is None
            or at_s - berth.reported_at >= STATUS_EVERY_S
            or berth.reported_battery is None
            or abs(beat.battery_pct - berth.reported_battery) >= BATTERY_STEP
        )
        if due:
            status = SensorStatus(
                site=berth.site,
                sensor=berth.sensor,
                berth=berth.code,
                battery_pct=beat.battery_pct,
                temperature_c=beat.temperature_c,
                at=at,
            )
            batch.rows.append(event_row("berth.sensor_status", berth.site, at, status))
            berth.reported_at, berth.reported_battery = at_s, beat.battery_pct
        reported_at = _utc(berth.reported_at).isoformat() if berth.reported_at is not None else None
        base = self.detector.baseline(berth.sensor)
        batch.statements.append(
            (
                "insert or replace into berth_sensor values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        berth.sensor,
                        berth.site,
                        berth.code,
                        beat.battery_pct,
                        beat.temperature_c,
                        beat.rssi_dbm,
                        at.isoformat(),
                        berth.reported_battery,
                        reported_at,
                        json.dumps(base) if base is not None else None,
                    )
                ],
            )
        )

    # --- parking locks -------------------------------------------------------------------------

    def register_commands(self, commands: Commands) -> None:
        """Serve lock_raise and lock_lower through the edge's command registry."""
        commands.register(CommandKind.lock_raise, self._lock_command)
        commands.register(CommandKind.lock_lower, self._lock_command)

    async def _lock_command(self, command: Command) -> str:
        try:
            payload = LockCommand.model_validate(command.payload)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "payload"
            raise CommandFailed(f"payload.{where}: {first['msg']}") from None
        berth = self.berths.get(payload.berth)
        if berth is None or berth.site != command.site:
            raise CommandFailed(
                f"site {command.site!r} has no berth {payload.berth!r} on this edge"
            )
        if berth.lock is None:
            raise CommandFailed(f"berth {berth.code!r} has no parking lock this edge drives")
        action = "raise" if command.kind == CommandKind.lock_raise else "lower"
        if action == "raise" and berth.session:
            raise CommandFailed(
                f"berth {berth.code!r} is occupied (session {berth.session}):"
                " the lock is not raised under a vehicle"
            )
        if berth.raise_task is not None:
            berth.raise_task.cancel()
            berth.raise_task = None
        return await self.move_lock(berth.code, action)

    async def move_lock(self, code: str, action: str) -> str:
        """Raise or lower a berth's lock and report its state; the state reached, or
        CommandFailed saying why not (unreachable, refused, fault)."""
        berth = self.berths[code]
        lock = berth.lock
        if lock is None:
            raise CommandFailed(f"berth {code!r} has no parking lock this edge drives")
        try:
            reading = await lock.move(action, timeout_s=LOCK_MOVE_TIMEOUT_S)
        except LockFault as exc:
            await self._read_and_report(berth)
            raise CommandFailed(str(exc)) from None
        except DeviceError as exc:
            await self._report_lock(berth, LockReading(FAULT, UNREACHABLE))
            raise CommandFailed(str(exc)) from None
        await self._report_lock(berth, reading)
        return reading.state

    def _schedule_raise(self, berth: _Berth) -> None:
        if berth.raise_task is not None:
            berth.raise_task.cancel()

        async def raise_later() -> None:
            await asyncio.sleep(RAISE_AFTER_DEPARTURE_S)
            if berth.session:
                return
            try:
                await self.move_lock(berth.code, "raise")
                log.info("berth %s: lock raised after the departure", berth.code)
            except CommandFailed as exc:
                log.warning("berth %s: lock not raised after the departure: %s", berth.code, exc)
            finally:
                berth.raise_task = None

        berth.raise_task = asyncio.create_task(raise_later(), name=f"raise lock {berth.code}")

    async def _read_and_report(self, berth: _Berth) -> None:
        assert berth.lock is not None
        try:
            reading = await berth.lock.read()
        except DeviceError:
            reading = LockReading(FAULT, UNREACHABLE)
        await self._report_lock(berth, reading)

    async def _report_lock(self, berth: _Berth, reading: LockReading) -> None:
        """Keep the reading; when its state or fault differs from the last one reported, commit
        a berth.lock_state event with the berth_lock row. Moving is transient: not reported."""
        berth.lock_reading = reading
        if reading.state == MOVING:
            return
        key = (reading.state, reading.fault)
        if key == berth.lock_reported:
            return
        previous, berth.lock_reported = berth.lock_reported, key
        now = datetime.now(UTC)
        event = LockState(
            site=berth.site, berth=berth.code, state=reading.state, fault=reading.fault, at=now
        )
        try:
            await self._store.commit(
                [
                    (
                        "insert or replace into berth_lock values (?, ?, ?, ?, ?)",
                        [(berth.code, berth.site, reading.state, reading.fault, now.isoformat())],
                    )
                ],
                [event_row("berth.lock_state", berth.site, now, event)],
            )
        except Exception:
            berth.lock_reported = previous
            raise
        berth.lock_at = now
        log_at = logging.WARNING if reading.state == FAULT else logging.INFO
        log.log(log_at, "berth %s: lock %s %s", berth.code, reading.state, reading.fault)

    async def _poll_lock(self, berth: _Berth) -> None:
        lock = berth.lock
        assert lock is not None
        while True:
            if not lock.busy.locked():  # a command in progress reports its own outcome
                try:
                    async with lock.busy:
                        reading = await lock.read()
                except DeviceError:
                    reading = LockReading(FAULT, UNREACHABLE)
                try:
                    await self._report_lock(berth, reading)
                except Exception:
                    log.exception("berth %s: lock state not recorded", berth.code)
            await asyncio.sleep(LOCK_POLL_S)

    # --- the edge's own view (GET /berths) ---------------------------------------------------

    def view(self) -> dict[str, Any]:
        zone = self._settings.zone

        def shown(moment: datetime | None) -> str | None:
            return moment.astimezone(zone).isoformat() if moment is not None else None

        berths: list[dict[str, Any]] = []
        for berth in self.berths.values():
            beat = berth.heartbeat
            lock: dict[str, Any] | None = None
            if berth.lock is not None or berth.lock_reported is not None:
                reading = berth.lock_reading
                state, fault = berth.lock_reported or ("unknown", "")
                lock = {
                    "state": reading.state if reading is not None else state,
                    "fault": reading.fault if reading is not None else fault,
                    "vehicle": reading.vehicle if reading is not None else None,
                    "reported_at": shown(berth.lock_at),
                }
            berths.append(
                {
                    "site": berth.site,
                    "berth": berth.code,
                    "sensor": berth.sensor,
                    "occupied": bool(berth.session),
                    "session": berth.session,
                    "arrived_at": shown(berth.arrived_at),
                    "battery_pct": beat.battery_pct if beat is not None else None,
                    "temperature_c": beat.temperature_c if beat is not None else None,
                    "rssi_dbm": beat.rssi_dbm if beat is not None else None,
                    "heartbeat_at": shown(_utc(beat.at_ms / 1000)) if beat is not None else None,
                    "last_seen": shown(berth.last_seen),
                    "lock": lock,
                }
            )
        return {
            "mqtt": {
                "broker": str(self.broker) if self.broker is not None else None,
                "connected": self.connected.is_set(),
                "connects": self.connects,
                "received": self.received,
                "malformed": self.malformed,
                "queued": self._queue.qsize(),
            },
            "berths": berths,
        }


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _baseline(stored: object) -> tuple[float, float, float] | None:
    """A session's stored vacant field, or None when it was not known (or is unreadable)."""
    if not isinstance(stored, str):
        return None
    try:
        x, y, z = (float(v) for v in json.loads(stored))
    except (ValueError, TypeError):
        return None
    return (x, y, z)
