"""The edge's sync client: pushes the outbox up in order, long-polls revisioned state down.

Every request is signed with the edge's enrolled key (protocols/signing.py) over the exact
body bytes sent, and reports the outbox backlog. Until the edge is enrolled the client only
watches for the identity file, so `wayside edge enroll` on a running edge starts sync
without a restart. Nothing is ever given up on: refusals (401: revoked, clock off...) and
outages are logged and retried with capped, jittered backoff, and the outbox keeps everything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Iterable
from datetime import datetime

import aiohttp
from pydantic import ValidationError
from yarl import URL

from edge.commands import Commands
from edge.identity import Identity, IdentityError, load_identity
from edge.lanes import Lanes
from edge.lots import LOT_SCHEMA
from edge.settings import EdgeSettings
from edge.store import Batch, Store, StoreError
from protocols.signing import BACKLOG_HEADER, sign
from protocols.sync import (
    EVENTS_PATH,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    STATE_PATH,
    PushAck,
    PushGap,
    StateRequest,
    StateResponse,
)

log = logging.getLogger(__name__)

LONG_POLL_S = 25.0
IDENTITY_POLL_S = 3.0
# Acknowledged rows are deleted when no decision was committed for DROP_QUIET_S, and at
# least one chunk every DROP_AT_LEAST_EVERY_S under unbroken traffic.
DROP_QUIET_S = 0.2
DROP_AT_LEAST_EVERY_S = 1.0
# Lane snapshots (evidence images) waiting in snapshot_upload are sent one by one (edge/lots.py).
SNAPSHOTS_PATH = "/sync/v1/snapshots/"
SNAPSHOT_POLL_S = 1.0
SNAPSHOT_BATCH = 20
# A snapshot whose file never appeared (the save failed) is given up after this long.
SNAPSHOT_GIVE_UP_S = 300.0
NOT_ENROLLED = (
    "not enrolled: run `wayside edge enroll --cloud URL --token T` "
    "(the edge keeps deciding and recording; sync starts once enrolled)"
)


_DROP_SNAPSHOT = "delete from snapshot_upload where name = ?"


class Backoff:
    """Exponential delays with jitter, capped; never gives up."""

    def __init__(self, first_s: float = 0.2, cap_s: float = 30.0) -> None:
        self.first_s = min(first_s, cap_s)
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


def _message(body: bytes) -> str:
    """The cloud's {"error", "message"} reason, or the start of whatever it sent."""
    try:
        document = json.loads(body)
        if isinstance(document, dict) and isinstance(document.get("message"), str):
            return str(document["message"])
    except ValueError:
        pass
    return body[:200].decode("utf-8", "replace")


class SyncClient:
    def __init__(
        self,
        settings: EdgeSettings,
        store: Store,
        session: aiohttp.ClientSession,
        sites: Iterable[str],
        lanes: Lanes | None = None,
        commands: Commands | None = None,
        backoff_first_s: float = 0.2,
        backoff_cap_s: float | None = None,
        wait_s: float = LONG_POLL_S,
        identity_poll_s: float = IDENTITY_POLL_S,
    ) -> None:
        self._store = store
        self._session = session
        self._sites = list(sites)
        self._key_path = settings.key_path
        self._identity_path = settings.identity_path
        self._snapshot_dir = settings.snapshot_dir
        cap = settings.sync_retry_cap_s if backoff_cap_s is None else backoff_cap_s
        self._backoff = (backoff_first_s, cap)
        self._wait_s = wait_s
        self._identity_poll_s = identity_poll_s
        self._last_ms = 0
        self.identity: Identity | None = None
        self.commands = commands if commands is not None else Commands(store, lanes)
        self.acked_seq = 0  # highest seq the cloud holds; the next batch starts after it
        self._acked = asyncio.Event()
        self.refusals = 0  # 401s seen (health, tests)

    async def run(self) -> None:
        await self.wait_for_identity()
        async with asyncio.TaskGroup() as group:
            group.create_task(self.push_forever(), name="sync push")
            group.create_task(self.pull_forever(), name="sync pull")

    # --- identity -----------------------------------------------------------------------------

    def try_identity(self) -> Identity | None:
        """Load the identity files if this client has none yet; raises IdentityError."""
        if self.identity is None:
            identity = load_identity(self._key_path, self._identity_path)
            if identity is not None:
                self._adopt(identity)
        return self.identity

    def _reread_identity(self) -> None:
        """After a refusal: an admin may have re-enrolled this edge (new key) while it ran."""
        try:
            identity = load_identity(self._key_path, self._identity_path)
        except IdentityError as exc:
            log.error("sync: %s", exc)
            return
        if identity is not None and (
            self.identity is None or identity.public_key != self.identity.public_key
        ):
            self._adopt(identity)

    def _adopt(self, identity: Identity) -> None:
        self.identity = identity
        log.info("edge %s enrolled: syncing with %s", identity.edge, identity.cloud_url)
        foreign = sorted(set(self._sites) - set(identity.sites)) if identity.sites else []
        if foreign:
            log.warning(
                "the site document has sites %s the cloud did not give edge %s;"
                " their state is not pulled",
                ", ".join(foreign),
                identity.edge,
            )

    async def wait_for_identity(self) -> Identity:
        """Return once the edge is enrolled, re-reading the identity files every few seconds;
        one log line per distinct reason it cannot sync yet."""
        said = ""
        while True:
            try:
                identity = self.try_identity()
            except IdentityError as exc:
                reason, level = str(exc), logging.ERROR
            else:
                if identity is not None:
                    return identity
                reason, level = NOT_ENROLLED, logging.WARNING
            if reason != said:
                log.log(level, "sync: %s", reason)
                said = reason
            await asyncio.sleep(self._identity_poll_s)

    def _timestamp_ms(self) -> int:
        """Wall-clock ms, nudged past the last one used: two requests with the same body in
        one millisecond would otherwise carry the same signature, which the cloud refuses as a
        replay. A clock stepped back by more than a second is followed, not fought."""
        now = int(time.time() * 1000)
        if self._last_ms - 1000 < now <= self._last_ms:
            now = self._last_ms + 1
        self._last_ms = now
        return now

    async def _post(
        self, identity: Identity, path: str, body: bytes, limit: aiohttp.ClientTimeout
    ) -> tuple[int, bytes]:
        """POST body, signed over exactly these bytes; returns status and the reply's body."""
        url = URL(identity.cloud_url + path)
        signed = sign(identity.key, identity.edge, "POST", url.path, body, self._timestamp_ms())
        headers = signed.headers()
        headers[BACKLOG_HEADER] = str(max(0, self._store.outbox_rows))
        headers["Content-Type"] = "application/json"
        async with self._session.post(url, data=body, headers=headers, timeout=limit) as reply:
            return reply.status, await reply.read()

    def _refused(self, what: str, body: bytes) -> None:
        self.refusals += 1
        self._reread_identity()
        log.warning(
            "sync %s refused by the cloud (401): %s; retrying (an admin may need to re-enroll"
            " this edge, or its clock is off)",
            what,
            _message(body),
        )

    # --- up ----------------------------------------------------------------------------------

    async def push_forever(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._push_loop(), name="sync push batches")
            group.create_task(self._drop_acked_forever(), name="sync drop acked")
            group.create_task(self._upload_snapshots_forever(), name="sync snapshots")

    async def _upload_snapshots_forever(self) -> None:
        """Send the lanes' evidence images after their events, oldest first; an outage only
        delays them (the rows stay until the cloud has the picture)."""
        await self.wait_for_identity()
        await self._store.ensure_schema(LOT_SCHEMA)
        backoff = Backoff(*self._backoff)
        while True:
            rows = await self._store.read(
                "select name, created_at from snapshot_upload order by created_at limit ?",
                (SNAPSHOT_BATCH,),
            )
            failed = False
            for name, created_at in rows:
                if await self.upload_snapshot(str(name), str(created_at)) is None:
                    failed = True
                    break
            if failed:
                await backoff.sleep()
                continue
            backoff.reset()
            if len(rows) < SNAPSHOT_BATCH:
                await asyncio.sleep(SNAPSHOT_POLL_S)

    async def upload_snapshot(self, name: str, created_at: str) -> bool | None:
        """PUT one snapshot, signed: True when the cloud has it (or refused it for good: the
        row is dropped), False when its file is not written yet, None to retry later."""
        identity = self.identity
        if identity is None:
            return None
        try:
            body = await asyncio.to_thread((self._snapshot_dir / name).read_bytes)
        except OSError:
            age = time.time() - datetime.fromisoformat(created_at).timestamp()
            if age < SNAPSHOT_GIVE_UP_S:
                return False
            log.warning("snapshot %s was never saved: not uploaded", name)
            await self._store.commit([(_DROP_SNAPSHOT, [(name,)])])
            return True
        url = URL(identity.cloud_url + SNAPSHOTS_PATH + name)
        signed = sign(identity.key, identity.edge, "PUT", url.path, body, self._timestamp_ms())
        headers = {**signed.headers(), "Content-Type": "image/jpeg"}
        try:
            async with self._session.put(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=60)
            ) as reply:
                status, text = reply.status, await reply.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("snapshot %s: cloud not reachable: %s", name, exc)
            return None
        if status == 401:
            self._refused(f"snapshot {name}", text)
            return None
        if status >= 500 or status == 429:
            log.warning("snapshot %s: cloud answered %d: %s", name, status, _message(text))
            return None
        if status >= 300:
            log.error("snapshot %s refused (%d): %s; dropped", name, status, _message(text))
        await self._store.commit([(_DROP_SNAPSHOT, [(name,)])])
        return True

    async def _push_loop(self) -> None:
        await self.wait_for_identity()
        backoff = Backoff(*self._backoff)
        batch: Batch | None = None
        while True:
            if batch is None:
                # Cleared before reading, so a commit landing meanwhile still wakes the wait.
                self._store.committed.clear()
                batch = await self._store.pending_batch(
                    self.acked_seq, MAX_BATCH_EVENTS, MAX_BATCH_BYTES
                )
                if batch is None:
                    await self._store.committed.wait()
                    continue
            # A failed batch is resent as it was (signed afresh): rebuilding it on every retry
            # during an outage would steal the event loop from the lanes.
            if await self.push_once(batch):
                backoff.reset()
                batch = None
            else:
                await backoff.sleep()

    async def _drop_acked_forever(self) -> None:
        """Delete acknowledged rows behind the pusher, a short chunk at a time, when the lanes
        are quiet (or at least every DROP_AT_LEAST_EVERY_S): the next batch goes out without
        waiting for a delete, and a decision seldom waits behind one. Until deleted, an acked
        row costs only disk; after a crash it is resent and the cloud ignores it."""
        while True:
            await self._acked.wait()
            self._acked.clear()
            reached = False
            last = time.monotonic()
            while not reached:
                quiet = self._store.quiet_s()
                waited = time.monotonic() - last
                if quiet < DROP_QUIET_S and waited < DROP_AT_LEAST_EVERY_S:
                    await asyncio.sleep(min(DROP_QUIET_S - quiet, DROP_AT_LEAST_EVERY_S - waited))
                    continue
                _, reached = await self._store.ack_chunk(self.acked_seq)
                last = time.monotonic()

    async def push_once(self, batch: Batch, identity: Identity | None = None) -> bool:
        """Send one batch; True when the cloud acknowledged it (acked rows are then dropped)."""
        identity = identity or self.identity
        if identity is None:
            return False
        first, last = batch.first, batch.last
        try:
            status, body = await self._post(
                identity, EVENTS_PATH, batch.body, aiohttp.ClientTimeout(total=60)
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("sync push %d..%d: cloud not reachable: %s", first, last, exc)
            return False
        try:
            if status == 200:
                ack = PushAck.model_validate_json(body)
                self.acked_seq = ack.acked_seq
                self._acked.set()
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
        if status == 401:
            self._refused(f"push {first}..{last}", body)
        else:
            log.warning(
                "sync push %d..%d: cloud answered %d: %s", first, last, status, _message(body)
            )
        return False

    # --- down --------------------------------------------------------------------------------

    def _revisions(self, identity: Identity) -> dict[str, int]:
        held = self._store.revisions()
        wanted = {site: held.get(site, 0) for site in self._sites} | held
        if identity.sites:  # the cloud refuses questions about sites that are not the edge's
            wanted = {site: rev for site, rev in wanted.items() if site in identity.sites}
        return wanted

    async def pull_forever(self) -> None:
        await self.wait_for_identity()
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

    async def pull_once(self, identity: Identity | None = None) -> bool | None:
        """One long poll; True if state or commands came, False if nothing did, None on failure."""
        identity = identity or self.identity
        if identity is None:
            return None
        request = StateRequest(revisions=self._revisions(identity), wait=self._wait_s)
        timeout = aiohttp.ClientTimeout(total=self._wait_s + 10)
        try:
            status, body = await self._post(
                identity, STATE_PATH, request.model_dump_json().encode(), timeout
            )
            if status == 401:
                self._refused("pull", body)
                return None
            if status != 200:
                log.warning("sync pull: cloud answered %d: %s", status, _message(body))
                return None
            states = StateResponse.model_validate_json(body)
            for state in states.sites:
                await self._store.apply_state(state)
                log.info("sync pull: site %s now at revision %d", state.site, state.revision)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("sync pull: cloud not reachable: %s", exc)
            return None
        except (ValidationError, StoreError) as exc:
            log.error("sync pull: state refused: %s", exc)
            return None
        acted = False
        for command in states.commands:
            if self.commands.handles_in_background(command):
                # Device commands over slow links (chargers) must not hold up the poll.
                acted = await self.commands.dispatch(command) or acted
                continue
            try:
                acted = await self.commands.handle(command) is not None or acted
            except Exception:  # one bad command must not stop state from flowing
                log.exception("command %s could not be handled", command.id)
        # Redeliveries of handled commands are not news: the poll is not repeated at once.
        return bool(states.sites) or acted
