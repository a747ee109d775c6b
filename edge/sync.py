"""The edge's sync client: pushes the outbox up in order, long-polls revisioned state down."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable

import aiohttp
from pydantic import ValidationError

from edge.settings import EdgeSettings
from edge.store import Store, StoreError
from protocols.sync import (
    EDGE_HEADER,
    EVENTS_PATH,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    STATE_PATH,
    PushAck,
    PushGap,
    PushRequest,
    StateRequest,
    StateResponse,
)

log = logging.getLogger(__name__)

LONG_POLL_S = 25.0


class Backoff:
    """Exponential delays with jitter, capped; never gives up."""

    def __init__(self, first_s: float = 0.2, cap_s: float = 30.0) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self.failures = 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.first_s * 2**self.failures)
        self.failures = min(self.failures + 1, 32)
        # Jitter in the upper half keeps many edges from retrying in lockstep after an outage.
        return random.uniform(ceiling / 2, ceiling)

    async def sleep(self) -> None:
        await asyncio.sleep(self.next_delay())


class SyncClient:
    def __init__(
        self,
        settings: EdgeSettings,
        store: Store,
        session: aiohttp.ClientSession,
        sites: Iterable[str],
        backoff_first_s: float = 0.2,
        backoff_cap_s: float = 30.0,
        wait_s: float = LONG_POLL_S,
    ) -> None:
        self._store = store
        self._session = session
        self._sites = list(sites)
        self._events_url = settings.cloud_url + EVENTS_PATH
        self._state_url = settings.cloud_url + STATE_PATH
        self._headers = {
            "Authorization": f"Bearer {settings.edge_key}",
            EDGE_HEADER: settings.edge_id,
            "Content-Type": "application/json",
        }
        self._backoff = (backoff_first_s, backoff_cap_s)
        self._wait_s = wait_s
        self.acked_seq = 0

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.push_forever(), name="sync push")
            group.create_task(self.pull_forever(), name="sync pull")

    # --- up ----------------------------------------------------------------------------------------

    async def push_forever(self) -> None:
        backoff = Backoff(*self._backoff)
        batch: PushRequest | None = None
        while True:
            if batch is None:
                # Cleared before reading, so a commit landing meanwhile still wakes the wait.
                self._store.committed.clear()
                events = await self._store.pending(MAX_BATCH_EVENTS, MAX_BATCH_BYTES)
                if not events:
                    await self._store.committed.wait()
                    continue
                batch = PushRequest(events=events)
            # A failed batch is resent as it was: rebuilding 500 events on every retry during
            # an outage would steal the event loop from the lanes.
            if await self.push_once(batch):
                backoff.reset()
                batch = None
            else:
                await backoff.sleep()

    async def push_once(self, batch: PushRequest) -> bool:
        """Send one batch; True when the cloud acknowledged it (acked rows are dropped)."""
        first, last = batch.events[0].seq, batch.events[-1].seq
        try:
            async with self._session.post(
                self._events_url, data=batch.model_dump_json(), headers=self._headers
            ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("sync push %d..%d: cloud not reachable: %s", first, last, exc)
            return False
        try:
            if status == 200:
                ack = PushAck.model_validate_json(body)
                self.acked_seq = ack.acked_seq
                await self._store.ack(ack.acked_seq)
                return ack.acked_seq >= first
            if status == 409:
                gap = PushGap.model_validate_json(body)
                # The cloud lacks events this edge already dropped as acknowledged: lost data.
                log.error(
                    "SYNC GAP: cloud expects seq %d but the oldest event held is %d; "
                    "seqs %d..%d cannot be resent",
                    gap.expected_seq,
                    first,
                    gap.expected_seq,
                    first - 1,
                )
                return False
        except ValidationError as exc:
            log.error("sync push: unreadable %d reply: %s", status, exc)
            return False
        log.warning("sync push %d..%d: cloud answered %d: %s", first, last, status, body[:200])
        return False

    # --- down --------------------------------------------------------------------------------------

    def _revisions(self) -> dict[str, int]:
        held = self._store.revisions()
        return {site: held.get(site, 0) for site in self._sites} | held

    async def pull_forever(self) -> None:
        backoff = Backoff(*self._backoff)
        while True:
            started = time.monotonic()
            changed = await self.pull_once()
            if changed is None:
                await backoff.sleep()
                continue
            backoff.reset()
            if not changed and time.monotonic() - started < 0.5:
                await asyncio.sleep(0.5)  # a cloud that does not hold the poll open is not spun on

    async def pull_once(self) -> bool | None:
        """One long poll; True if state was applied, False if none changed, None on failure."""
        request = StateRequest(revisions=self._revisions(), wait=self._wait_s)
        timeout = aiohttp.ClientTimeout(total=self._wait_s + 10)
        try:
            async with self._session.post(
                self._state_url,
                data=request.model_dump_json(),
                headers=self._headers,
                timeout=timeout,
            ) as response:
                body = await response.read()
                if response.status != 200:
                    log.warning("sync pull: cloud answered %d: %s", response.status, body[:200])
                    return None
            states = StateResponse.model_validate_json(body)
            for state in states.sites:
                await self._store.apply_state(state)
                log.info("sync pull: site %s now at revision %d", state.site, state.revision)
            return bool(states.sites)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("sync pull: cloud not reachable: %s", exc)
        except (ValidationError, StoreError) as exc:
            log.error("sync pull: state refused: %s", exc)
        return None
