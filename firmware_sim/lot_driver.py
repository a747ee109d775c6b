"""A driver held at a paid lot's exit: scans the lane's QR poster with a phone and pays on the
cloud's page, as a real driver would (the demo runs one for each car the exit holds).

Only HTTP to the cloud is used: the payment channel confirms the payment to the cloud, the cloud
tells the edge, and the edge opens the barrier.
"""

from __future__ import annotations

import asyncio
import logging
import re

import aiohttp

log = logging.getLogger(__name__)
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
_SESSION = re.compile(r'name="session" value="([^"]+)"')


async def pay_at_exit(
    session: aiohttp.ClientSession, mobile_base: str, lane: str, plate: str, wait_s: float = 10.0
) -> bool:
    """Open `{mobile_base}/lot/{lane}/pay` (the poster's link) until the lane's fee shows, then
    pay it. False when the lane held no fee for this plate in time (or the page refused)."""
    url = f"{mobile_base}/lot/{lane}/pay"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        async with session.get(url) as page:
            if page.status == 404:
                return False  # not a paid lot's exit
            text = await page.text()
        csrf, held = _CSRF.search(text), _SESSION.search(text)
        if csrf is not None and held is not None and plate in text:
            form = {"_csrf": csrf.group(1), "session": held.group(1)}
            async with session.post(url, data=form) as answer:
                if answer.status == 200:
                    log.info("driver of %s paid at %s", plate, lane)
                    return True
                log.warning("driver of %s: payment refused (%d)", plate, answer.status)
                return False
        await asyncio.sleep(0.5)  # the fee reaches the cloud with the edge's next sync push
    log.info("driver of %s: no fee shown at %s", plate, lane)
    return False
