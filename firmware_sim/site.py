"""Every simulated device of a site document: barriers, displays, cameras, parking locks and
geomagnetic berth sensors, plus demo traffic."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from firmware_sim.barrier import BarrierSimulator
from firmware_sim.broker import EmbeddedBroker
from firmware_sim.camera import CameraSimulator, random_plate
from firmware_sim.display import DisplaySimulator
from firmware_sim.geomagnetic import DayPlan, GeomagneticFleet, plan_street
from firmware_sim.guidance import GuidanceSimulator
from firmware_sim.lock import LockSimulator
from firmware_sim.lot_driver import pay_at_exit
from firmware_sim.modbus import ModbusSimulator
from protocols.plates import PlateColor
from protocols.site import Direction, SiteDocument

log = logging.getLogger(__name__)


PUSH_PATH = "/camera/push"


@dataclass
class SimulatedLane:
    site: str
    code: str
    direction: Direction
    camera: CameraSimulator
    barrier: BarrierSimulator | None = None
    display: DisplaySimulator | None = None


@dataclass
class SimulatedSite:
    lanes: list[SimulatedLane] = field(default_factory=list)
    locks: dict[str, LockSimulator] = field(default_factory=dict)  # by berth code
    guidance: dict[str, GuidanceSimulator] = field(default_factory=dict)  # by lot site code

    def servers(self) -> list[ModbusSimulator]:
        found: list[ModbusSimulator] = []
        for lane in self.lanes:
            found.extend(device for device in (lane.barrier, lane.display) if device is not None)
        found.extend(self.locks.values())
        found.extend(self.guidance.values())
        return found


async def start_site(
    site: SiteDocument, edge_url: str, session: aiohttp.ClientSession, hold_s: float = 3.0
) -> SimulatedSite:
    """Start the Modbus servers on the ports the document names and create the cameras."""
    simulated = SimulatedSite()
    try:
        for site_config in site.sites:
            for _, lane in site_config.lanes():
                camera = CameraSimulator(
                    lane.camera.serial, edge_url.rstrip("/") + PUSH_PATH, session
                )
                entry = SimulatedLane(site_config.code, lane.code, lane.direction, camera)
                if lane.barrier is not None:
                    entry.barrier = BarrierSimulator(
                        lane.barrier.host, lane.barrier.port, lane.barrier.unit, hold_s
                    )
                    await entry.barrier.start()
                if lane.display is not None:
                    entry.display = DisplaySimulator(
                        lane.display.host, lane.display.port, lane.display.unit
                    )
                    await entry.display.start()
                simulated.lanes.append(entry)
            if site_config.guidance is not None:
                screen = site_config.guidance
                board = GuidanceSimulator(screen.host, screen.port, screen.unit)
                simulated.guidance[site_config.code] = board
                await board.start()
            for berth in site_config.berths:
                if berth.lock is not None:
                    lock = LockSimulator(berth.lock.host, berth.lock.port, berth.lock.unit)
                    await lock.start()
                    simulated.locks[berth.code] = lock
    except BaseException:
        await stop_site(simulated)
        raise
    return simulated


async def stop_site(simulated: SimulatedSite) -> None:
    for server in simulated.servers():
        await server.stop()


async def traffic(
    simulated: SimulatedSite,
    interval_s: float,
    rng: random.Random,
    stop: asyncio.Event,
    regulars: Sequence[str] = (),
    pay: Phones | None = None,
) -> None:
    """Plausible demo traffic: strangers and regulars arrive at entries, parked cars leave by
    exits; a car a paid lot's exit holds pays through `pay` (its driver's phone) when given."""
    inside: dict[str, list[tuple[str, PlateColor]]] = {}
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            await asyncio.wait([stopped], timeout=interval_s)
            if stop.is_set() or not simulated.lanes:
                return
            await _one_car(simulated, inside, rng, regulars, pay)
    finally:
        stopped.cancel()


async def _one_car(
    simulated: SimulatedSite,
    inside: dict[str, list[tuple[str, PlateColor]]],
    rng: random.Random,
    regulars: Sequence[str],
    pay: Phones | None = None,
) -> None:
    lane = rng.choice(simulated.lanes)
    if pay is not None and pay.busy(lane.code):
        return  # a driver is paying at that barrier
    parked = inside.setdefault(lane.site, [])
    if lane.direction == Direction.exit and parked:
        plate, color = parked.pop(rng.randrange(len(parked)))
    else:
        # A quarter of arrivals are regulars the site knows (whitelisted, or under a rule).
        regular = regulars and rng.random() < 0.25
        plate, color = (rng.choice(regulars), PlateColor.blue) if regular else random_plate(rng)
        if lane.direction == Direction.entry:
            parked.append((plate, color))
            del parked[:-200]
    confidence = rng.choice([97, 95, 93, 90, 88, 60])
    opens_before = lane.barrier.opens if lane.barrier is not None else 0
    try:
        result = await lane.camera.push(plate, color, confidence)
        # A Modbus lane opens by the coil (written before the reply), a relay lane by the reply.
        if lane.barrier is not None:
            opened = lane.barrier.opens > opens_before
        else:
            opened = result.relay_opened
        log.info("%s %s -> %s", lane.code, plate, "opened" if opened else "stays shut")
        if pay is not None and lane.direction == Direction.exit and not opened:
            pay.pay(lane.code, plate)
    except aiohttp.ClientError as exc:
        log.warning("camera %s: edge not reachable: %s", lane.camera.serial, exc)


# The demo street's traffic is a weekday morning's (2025-01-06 09:00 Asia/Shanghai), moved to
# the moment the demo starts, whatever the hour: cars come and go while someone watches.
DEMO_PLAN_EPOCH = 1_736_125_200.0


def demo_street_plan(serials: Sequence[str], now: float, hours: float = 12.0) -> DayPlan:
    """The street plan of the first seed whose first car arrives 20-60 s in (after the edge's
    detector has calibrated) and leaves within 15 minutes, so the demo shows both early."""
    best: tuple[float, DayPlan] | None = None
    for seed in range(1, 200):
        plan = plan_street(
            len(serials),
            start=DEMO_PLAN_EPOCH,
            seconds=hours * 3600,
            seed=seed,
            serials=list(serials),
            parked_at_start=0.0,  # the edge's detector learns each berth empty
        )
        first = min(plan.stays, key=lambda stay: stay.arrived_s, default=None)
        if first is None or first.arrived_s < 20:
            continue
        if first.arrived_s <= 60 and first.departed_s - first.arrived_s <= 900:
            return dataclasses.replace(plan, start=now)
        if best is None or first.arrived_s < best[0]:
            best = (first.arrived_s, plan)
    if best is None:
        raise ValueError("demo_street_plan: no plan with a car")
    return dataclasses.replace(best[1], start=now)


async def run_berth_sensors(
    site: SiteDocument, mqtt_url: str, stop: asyncio.Event, heartbeat_s: float = 60.0
) -> None:
    """Publish the site document's berth sensors (demo traffic, real time) until stop is set."""
    serials = [berth.sensor for config in site.sites for berth in config.berths if berth.sensor]
    if not serials:
        return
    plan = demo_street_plan(serials, time.time())
    fleet = GeomagneticFleet(mqtt_url, site.tenant, plan, heartbeat_s=heartbeat_s)
    task = asyncio.create_task(fleet.run(), name="berth sensors")
    log.info("%d berth sensors publishing to %s", len(serials), mqtt_url)
    try:
        await stop.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Phones:
    """The phones of drivers a paid exit holds: each pays on the lane's QR page from a session
    of its own, in the background so the traffic goes on; no other car drives up to a lane
    while its driver pays (one car stands at a barrier)."""

    def __init__(self, mobile_base: str) -> None:
        self.mobile_base = mobile_base
        self.paying: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def busy(self, lane: str) -> bool:
        return lane in self.paying

    def pay(self, lane: str, plate: str) -> None:
        self.paying.add(lane)
        task = asyncio.create_task(self._phone(lane, plate))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _phone(self, lane: str, plate: str) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # the demo cloud is on 127.0.0.1
        try:
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                await pay_at_exit(session, self.mobile_base, lane, plate)
        except aiohttp.ClientError as exc:
            log.warning("driver of %s: cloud not reachable: %s", plate, exc)
        finally:
            await asyncio.sleep(2.0)  # the barrier opens, the car drives off
            self.paying.discard(lane)


async def run_site_simulators(
    site: SiteDocument,
    edge_url: str,
    stop: asyncio.Event,
    traffic_interval_s: float | None,
    regulars: Sequence[str] = (),
    mqtt_url: str = "",
    broker: EmbeddedBroker | None = None,
    mobile_base: str = "",
) -> None:
    """Run every lane's barrier, display and camera and every berth's parking lock until stop
    is set; with an interval, drive traffic in which `regulars` (plates the site knows) come
    back now and then. With an MQTT URL the berth sensors publish there; with a broker, it is
    started first (the demo's embedded one) and stopped last. With the cloud's mobile base
    (`{cloud}/m/{tenant}`), drivers held at a paid exit pay on the lane's QR page."""
    if broker is not None:
        try:
            await broker.start()
        except Exception as exc:  # the demo goes on without berth sensors
            log.error("embedded MQTT broker cannot listen on %s: %s", broker.url, exc)
            broker, mqtt_url = None, ""
    try:
        async with aiohttp.ClientSession() as session:
            simulated = await start_site(site, edge_url, session)
            jobs: list[asyncio.Task[None]] = []
            if mqtt_url:
                jobs.append(asyncio.create_task(run_berth_sensors(site, mqtt_url, stop)))
            try:
                if traffic_interval_s:
                    pay = Phones(mobile_base) if mobile_base else None
                    await traffic(
                        simulated, traffic_interval_s, random.Random(), stop, regulars, pay
                    )
                await stop.wait()
            finally:
                for job in jobs:
                    job.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)
                await stop_site(simulated)
    finally:
        if broker is not None:
            await broker.stop()
