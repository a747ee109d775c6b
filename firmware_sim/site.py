"""Every simulated device of a site document: barriers, displays and cameras, plus demo traffic."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from firmware_sim.barrier import BarrierSimulator
from firmware_sim.camera import CameraSimulator, random_plate
from firmware_sim.display import DisplaySimulator
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

    def servers(self) -> list[ModbusSimulator]:
        found: list[ModbusSimulator] = []
        for lane in self.lanes:
            found.extend(device for device in (lane.barrier, lane.display) if device is not None)
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
) -> None:
    """Plausible demo traffic: strangers and regulars arrive at entries, parked cars leave by exits."""
    inside: dict[str, list[tuple[str, PlateColor]]] = {}
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            await asyncio.wait([stopped], timeout=interval_s)
            if stop.is_set() or not simulated.lanes:
                return
            await _one_car(simulated, inside, rng, regulars)
    finally:
        stopped.cancel()


async def _one_car(
    simulated: SimulatedSite,
    inside: dict[str, list[tuple[str, PlateColor]]],
    rng: random.Random,
    regulars: Sequence[str],
) -> None:
    lane = rng.choice(simulated.lanes)
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
    except aiohttp.ClientError as exc:
        log.warning("camera %s: edge not reachable: %s", lane.camera.serial, exc)


async def run_site_simulators(
    site: SiteDocument,
    edge_url: str,
    stop: asyncio.Event,
    traffic_interval_s: float | None,
    regulars: Sequence[str] = (),
) -> None:
    """Run every lane's barrier, display and camera until stop is set; with an interval, drive
    traffic in which `regulars` (plates the site knows) come back now and then."""
    async with aiohttp.ClientSession() as session:
        simulated = await start_site(site, edge_url, session)
        try:
            if traffic_interval_s:
                await traffic(simulated, traffic_interval_s, random.Random(), stop, regulars)
            await stop.wait()
        finally:
            await stop_site(simulated)
