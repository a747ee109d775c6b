"""A registrant walking up to a gate with a phone: signs in on the cloud's /m/ pages like a
browser, opens the gate's pass page, and holds the pass up to the gate's QR camera.

The demo runs one, so the QR path (cloud issues, edge reads the frame and decides offline)
shows in its log beside the plate traffic. Only HTTP is used on both sides, as a real phone and
a real camera would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass

import aiohttp

from firmware_sim.gate_camera import GateCameraSimulator

log = logging.getLogger(__name__)
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass(frozen=True)
class PassHolder:
    cloud_url: str  # where the phone reaches the cloud
    tenant: str  # the school's code in /m/{tenant}/
    kind: str  # identity kind of the sign-in page (teacher, student...)
    number: str  # student or staff number
    id_tail: str  # last six characters of the ID card
    gate: str  # gate code, as on the gate's QR poster
    lane: str  # the lane whose camera sees the phone


class PassRefused(Exception):
    """The cloud would not sign in or issue a pass (the message says why)."""


async def _sign_in(session: aiohttp.ClientSession, holder: PassHolder) -> None:
    url = f"{holder.cloud_url}/m/{holder.tenant}/signin/{holder.kind}"
    async with session.get(url) as page:
        found = _CSRF.search(await page.text())
    if found is None:
        raise PassRefused(f"no sign-in form at {url}")
    form = {"_csrf": found.group(1), "number": holder.number, "id_tail": holder.id_tail}
    async with session.post(url, data=form, allow_redirects=False) as answer:
        if answer.status not in (302, 303):
            raise PassRefused(f"sign-in refused ({answer.status})")


async def fetch_pass(session: aiohttp.ClientSession, holder: PassHolder) -> str:
    """A fresh pass token for the gate, signing in first when the session has none."""
    url = f"{holder.cloud_url}/m/{holder.tenant}/gate/{holder.gate}/token"
    for attempt in range(2):
        async with session.get(url) as answer:
            body = await answer.json(content_type=None)
            if answer.status == 200:
                return str(body["token"])
            if answer.status != 401 or attempt:
                raise PassRefused(str(body.get("error", answer.status)))
        await _sign_in(session, holder)
    raise AssertionError("unreachable")


async def walk_up_forever(
    holder: PassHolder,
    edge_url: str,
    stop: asyncio.Event,
    every_s: float = 30.0,
    first_after_s: float = 5.0,
) -> None:
    """Every `every_s` (the first time after `first_after_s`, once the cloud is up), fetch a
    pass and show it to the lane's camera; log what the edge did."""
    jar = aiohttp.CookieJar(unsafe=True)  # the cloud is on 127.0.0.1 in the demo
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        camera = GateCameraSimulator(edge_url, holder.lane, session)
        seed = 0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), first_after_s)
        while not stop.is_set():
            try:
                token = await fetch_pass(session, holder)
                results = await camera.show(token, frames=4, seed=seed)
                verdicts = [r.verdict for r in results if r.decided]
                log.info("%s QR pass of %s -> %s", holder.lane, holder.number, verdicts or "unread")
            except (aiohttp.ClientError, PassRefused, KeyError, ValueError) as exc:
                log.warning("%s QR pass of %s: %s", holder.lane, holder.number, exc)
            seed += 4
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
