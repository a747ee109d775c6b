"""The demo's charging station: simulated charge points connected to the edge over OCPP 1.6J,
and drivers who swipe a card, charge for a while and unplug.

Charging runs `time_scale` times faster than the clock (the meter values follow the simulated
charging curve), so a demo session of a minute shows a bill worth looking at.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Sequence

from firmware_sim.charge_point import ChargePointConfig, ChargePointSimulator

log = logging.getLogger(__name__)


async def _driver(
    charger: ChargePointSimulator,
    connector: int,
    cards: itertools.cycle[str],
    stop: asyncio.Event,
    session_s: float,
    pause_s: float,
    rng: random.Random,
) -> None:
    """One bay of the station: a car arrives, its card starts a session, it leaves later."""
    name = f"{charger.config.charge_point_id}/{connector}"
    wait_s = rng.uniform(3.0, 8.0)  # the first car soon after the demo starts
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait_s)
        wait_s = pause_s * rng.uniform(0.5, 1.5)
        if stop.is_set() or not charger.online.is_set():
            continue
        card = next(cards)
        started = await charger.swipe(card, connector)
        log.info("%s card %s -> %s", name, card, "charging" if started else "refused")
        if not started:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), session_s * rng.uniform(0.7, 1.3))
        await charger.unplug(connector)
        log.info("%s card %s -> unplugged", name, card)


async def run_demo_chargers(
    ocpp_url: str,
    serials: Sequence[str],
    cards: Sequence[str],
    stop: asyncio.Event,
    connectors: int = 2,
    session_s: float = 60.0,
    pause_s: float = 40.0,
    time_scale: float = 20.0,
) -> None:
    """Charge points `serials` at `ocpp_url` (ws://EDGE/ocpp) until `stop`; cards in turn."""
    rng = random.Random(7)
    chargers = [
        ChargePointSimulator(
            ChargePointConfig(
                charge_point_id=serial,
                url=ocpp_url,
                connectors=connectors,
                time_scale=time_scale,
                model="DC-120",
            )
        )
        for serial in serials
    ]
    for charger in chargers:
        await charger.start()
    turn = itertools.cycle(cards)
    drivers = [
        asyncio.create_task(_driver(charger, n, turn, stop, session_s, pause_s, rng))
        for charger in chargers
        for n in range(1, connectors + 1)
    ]
    try:
        await stop.wait()
    finally:
        for task in drivers:
            task.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        for charger in chargers:
            await charger.stop()
