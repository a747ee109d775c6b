"""The edge's sync client against a small fake cloud that keeps the protocols/sync.py contract.

The fake cloud enrolls one edge, verifies every request's signature over the exact body with
protocols.signing.verify (as the real cloud does), refuses replays, and can be told to refuse
everything (a revoked edge) or to deliver commands until it has seen their results.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from edge.api import SYNC
from edge.identity import enroll
from edge.settings import EdgeSettings
from edge.store import Store
from edge.sync import NOT_ENROLLED, SyncClient
from protocols.events import AccessDecided, Reason, Verdict
from protocols.signing import (
    BACKLOG_HEADER,
    EDGE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadSignature,
    load_public_key,
    new_private_key,
    private_key_pem,
    public_key_text,
    verify,
)
from protocols.site import DefaultAction, Direction
from protocols.sync import (
    ENROLL_PATH,
    EVENTS_PATH,
    STATE_PATH,
    Command,
    CommandKind,
    EnrollRequest,
    EnrollResponse,
    Entity,
    Event,
    PushAck,
    PushGap,
    PushRequest,
    SiteState,
    StateChange,
    StateRequest,
    StateResponse,
)
from tests.integration.test_edge_lanes import edge_settings, free_port, rig, two_site_document

EDGE = "test-edge"
TOKEN = "enroll-token-0123456789"


def _unauthorized(message: str) -> web.Response:
    return web.json_response({"error": "unauthorized", "message": message}, status=401)


class FakeCloud:
    """Ingest that stores each seq once and refuses gaps; state published per site with
    revisions; commands redelivered on every poll until their command.result arrives."""

    def __init__(self, sites: tuple[str, ...] = ("campus", "lot")) -> None:
        self.sites = list(sites)
        self.token = TOKEN
        self.public_key: str | None = None
        self.enroll_requests: list[EnrollRequest] = []
        self.events: dict[int, Event] = {}
        self._contiguous = 0
        self.deliveries = 0
        self.state: dict[str, SiteState] = {}
        self.changed = asyncio.Event()
        self.commands: dict[UUID, Command] = {}
        self.duplicate_commands = False  # send each pending command twice in one answer
        self.ingest_down = False  # 503 on pushes (results never arrive; commands redelivered)
        self.refusing = ""  # when set, every signed request is refused with this message
        self.verified = 0  # requests whose signature held
        self.bad_signatures: list[str] = []
        self.refused = 0
        self.signatures: set[str] = set()
        self.backlogs: list[int] = []
        self.app = web.Application()
        self.app.router.add_post(ENROLL_PATH, self.enroll)
        self.app.router.add_post(EVENTS_PATH, self.ingest)
        self.app.router.add_post(STATE_PATH, self.publish)
        self.app.router.add_get("/_status", self.status)

    @property
    def contiguous(self) -> int:
        while self._contiguous + 1 in self.events:
            self._contiguous += 1
        return self._contiguous

    def results(self) -> list[dict[str, Any]]:
        ordered = sorted(self.events.values(), key=lambda e: e.seq)
        return [e.payload for e in ordered if e.type == "command.result"]

    async def status(self, request: web.Request) -> web.Response:
        """What a test in another process needs: counts, and the plates after seq ?after=N."""
        after = int(request.query.get("after", "0"))
        ordered = sorted((seq, e) for seq, e in self.events.items() if seq > after)
        return web.json_response(
            {
                "contiguous": self.contiguous,
                "deliveries": self.deliveries,
                "bad_signatures": len(self.bad_signatures),
                "plates": [e.payload.get("plate") for _, e in ordered],
            }
        )

    async def enroll(self, request: web.Request) -> web.Response:
        ask = EnrollRequest.model_validate_json(await request.read())
        self.enroll_requests.append(ask)
        if not self.token or ask.token != self.token:
            return _unauthorized("enrollment token unknown, used or expired")
        self.token = ""  # one-time
        self.public_key = ask.public_key
        return web.json_response(EnrollResponse(edge=EDGE, sites=self.sites).model_dump())

    async def _check(self, request: web.Request) -> tuple[bytes, web.Response | None]:
        """Verify the request as the real cloud does; the body it verified, or a 401."""
        body = await request.read()
        if self.public_key is None:
            return body, _unauthorized(f"edge {EDGE!r} is not enrolled")
        try:
            if request.headers.get(EDGE_HEADER) != EDGE:
                raise BadSignature(f"edge header {request.headers.get(EDGE_HEADER)!r}")
            signature = request.headers[SIGNATURE_HEADER]
            verify(
                load_public_key(self.public_key),
                request.method,
                request.path,
                body,
                request.headers[TIMESTAMP_HEADER],
                signature,
            )
            if signature in self.signatures:
                raise BadSignature("replayed signature")
        except (KeyError, BadSignature) as exc:
            self.bad_signatures.append(str(exc))
            return body, _unauthorized(str(exc))
        self.signatures.add(signature)
        self.verified += 1
        self.backlogs.append(int(request.headers[BACKLOG_HEADER]))
        if self.refusing:
            self.refused += 1
            return body, _unauthorized(self.refusing)
        return body, None

    async def ingest(self, request: web.Request) -> web.Response:
        body, refused = await self._check(request)
        if refused is not None:
            return refused
        if self.ingest_down:
            return web.json_response({"error": "down", "message": "try later"}, status=503)
        batch = PushRequest.model_validate_json(body)
        expected = self.contiguous + 1
        if batch.events[0].seq > expected:
            return web.json_response(PushGap(expected_seq=expected).model_dump(), status=409)
        for event in batch.events:
            self.deliveries += 1
            self.events.setdefault(event.seq, event)
            if event.type == "command.result":
                self.commands.pop(UUID(event.payload["command"]), None)
        return web.json_response(PushAck(acked_seq=self.contiguous).model_dump())

    def publish_state(self, state: SiteState) -> None:
        self.state[state.site] = state
        self.changed.set()

    def revoke(self, new_token: str = TOKEN) -> None:
        """What an admin's revoke and new enrollment token do to this edge."""
        self.public_key = None
        self.token = new_token

    def send_command(self, command: Command) -> None:
        self.commands[command.id] = command
        self.changed.set()

    async def publish(self, request: web.Request) -> web.Response:
        body, refused = await self._check(request)
        if refused is not None:
            return refused
        asked = StateRequest.model_validate_json(body)

        def newer() -> list[SiteState]:
            return [
                state
                for site, state in self.state.items()
                if state.revision > asked.revisions.get(site, 0)
            ]

        if not newer() and not self.commands:
            self.changed.clear()
            try:
                async with asyncio.timeout(asked.wait):
                    while not newer() and not self.commands:
                        await self.changed.wait()
                        self.changed.clear()
            except TimeoutError:
                pass
        commands = list(self.commands.values())
        if self.duplicate_commands:
            commands = commands + commands
        answer = StateResponse(sites=newer(), commands=commands)
        return web.json_response(answer.model_dump(mode="json"))


@asynccontextmanager
async def fake_cloud(port: int, cloud: FakeCloud | None = None) -> AsyncIterator[FakeCloud]:
    cloud = cloud or FakeCloud()
    server = TestServer(cloud.app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield cloud
    finally:
        await server.close()


def write_identity(settings: EdgeSettings, cloud: FakeCloud, cloud_url: str) -> None:
    """What `enroll` leaves behind, written without a running cloud (for a cloud that is down)."""
    key = new_private_key()
    cloud.public_key = public_key_text(key)
    settings.key_path.parent.mkdir(parents=True, exist_ok=True)
    settings.key_path.write_bytes(private_key_pem(key))
    settings.identity_path.write_text(
        json.dumps({"edge": EDGE, "cloud_url": cloud_url, "public_key": cloud.public_key})
    )


async def enrolled(settings: EdgeSettings, cloud_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        await enroll(cloud_url, TOKEN, settings.key_path, settings.identity_path, session)


def decided(n: int) -> AccessDecided:
    return AccessDecided(
        site="lot",
        gate="g",
        lane="p-in",
        direction=Direction.entry,
        plate=f"粤B{n:05d}",
        confidence=95,
        verdict=Verdict.open,
        reason=Reason.default,
        read_at=datetime.now(UTC),
    )


def open_barrier(lane: str, site: str, expires_in_s: float = 60.0) -> Command:
    now = datetime.now(UTC)
    return Command(
        id=uuid4(),
        kind=CommandKind.open_barrier,
        site=site,
        lane=lane,
        issued_at=now - timedelta(seconds=1),
        expires_at=now + timedelta(seconds=expires_in_s),
    )


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll a condition the fake cloud or the store changes (neither signals it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not true within {timeout_s} s")


async def test_pushes_arrive_once_in_order_after_the_cloud_was_down(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = edge_settings(tmp_path, url)
    cloud = FakeCloud()
    write_identity(settings, cloud, url)
    store = await Store.open(settings.store_path)
    async with aiohttp.ClientSession() as session:
        client = SyncClient(settings, store, session, ["lot"], backoff_cap_s=0.2, wait_s=0.5)
        task = asyncio.create_task(client.push_forever())
        try:
            for n in range(30):  # decided while the cloud is down
                await store.record_decision(decided(n), "start")
            await asyncio.sleep(0.5)
            assert await store.pending_count() == 60
            async with fake_cloud(port, cloud):
                await wait_until(lambda: cloud.contiguous == 60)
                for n in range(30, 40):  # and while it is up
                    await store.record_decision(decided(n))
                await wait_until(lambda: cloud.contiguous == 70)
                await wait_until(lambda: client.acked_seq == 70)
                await wait_until(lambda: store.outbox_rows == 0)
            assert sorted(cloud.events) == list(range(1, 71))
            plates = [
                e.payload["plate"] for e in cloud.events.values() if e.type == "access.decided"
            ]
            assert plates == [f"粤B{n:05d}" for n in range(40)]
            assert len({e.uuid for e in cloud.events.values()}) == 70
            assert await store.pending_count() == 0
            assert cloud.bad_signatures == [] and cloud.verified >= 2
            assert cloud.backlogs[0] == 60, "the backlog header reports the outbox"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()


async def test_gap_is_logged_and_nothing_dropped(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = edge_settings(tmp_path, url)
    cloud = FakeCloud()
    write_identity(settings, cloud, url)
    store = await Store.open(settings.store_path)
    try:
        for n in range(3):
            await store.record_decision(decided(n))
        await store.ack(1)  # seq 1 acknowledged by a cloud that has since lost it
        async with fake_cloud(port, cloud), aiohttp.ClientSession() as session:
            client = SyncClient(settings, store, session, ["lot"])
            client.try_identity()
            batch = await store.pending_batch(0, 100, 1_000_000)
            assert batch is not None and (batch.first, batch.last) == (2, 3)
            assert await client.push_once(batch) is False
            assert cloud.events == {}
            assert await store.pending_count() == 2
    finally:
        await store.close()


async def test_every_request_is_signed_over_the_exact_body(tmp_path: Path) -> None:
    """Enrolled through the fake cloud; each push and poll verifies with the registered key."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with fake_cloud(port) as cloud:
        settings = edge_settings(tmp_path, url)
        await enrolled(settings, url)
        store = await Store.open(settings.store_path)
        async with aiohttp.ClientSession() as session:
            client = SyncClient(settings, store, session, ["lot"], wait_s=0.1)
            task = asyncio.create_task(client.run())
            try:
                for n in range(5):
                    await store.record_decision(decided(n), "start")
                await wait_until(lambda: cloud.contiguous == 10)
                await wait_until(lambda: cloud.verified >= 4)  # pushes and polls
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await store.close()
    assert cloud.bad_signatures == []
    assert len(cloud.signatures) == cloud.verified, "no signature is ever sent twice"


async def test_decision_reaches_cloud_fast_and_state_applies_without_restart(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with fake_cloud(port) as cloud:
        settings = edge_settings(tmp_path, url)
        await enrolled(settings, url)
        async with rig(tmp_path, settings=settings) as r:
            camera = r.camera("c-in")
            started = time.monotonic()
            refused = await camera.push("京A11111")
            assert refused.body == {"Response_AlarmInfoPlate": {"info": "no"}}
            lane = r.lane("c-in")
            assert lane.barrier is not None and lane.barrier.opens == 0
            await wait_until(lambda: len(cloud.events) == 1, timeout_s=2.0)
            assert time.monotonic() - started < 2.0
            # The admin whitelists the plate and opens a lane to everyone: via long-poll.
            cloud.publish_state(
                SiteState(
                    site="campus",
                    revision=1,
                    full=True,
                    changes=[
                        StateChange(
                            entity=Entity.list_entry,
                            key="w-1",
                            data={"plate": "京A11111", "kind": "whitelist"},
                        ),
                        StateChange(
                            entity=Entity.lane_policy,
                            key="c-out",
                            data={
                                "code": "c-out",
                                "default_action": DefaultAction.open,
                                "min_confidence": 80,
                            },
                        ),
                    ],
                )
            )
            await wait_until(lambda: r.store.revisions().get("campus") == 1, timeout_s=5.0)
            opened = await camera.push("京A11111")
            assert opened.status == 200
            await lane.barrier.wait_opens(1)
            relay = await r.camera("c-out").push("京C99999")
            assert relay.body == {"Response_AlarmInfoPlate": {"info": "ok"}}
            await wait_until(lambda: len(cloud.events) == 3, timeout_s=2.0)
            ordered = sorted(cloud.events.values(), key=lambda e: e.seq)
            assert [e.payload["reason"] for e in ordered] == ["default", "whitelist", "default"]
            async with r.session.get(r.url + "/healthz") as response:
                health = await response.json()
            assert health["enrolled"] is True and health["edge"] == EDGE
    assert cloud.bad_signatures == []


async def test_refusals_are_retried_while_the_edge_keeps_deciding(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with fake_cloud(port) as cloud:
        settings = edge_settings(tmp_path, url, sync_retry_cap_s=0.2)
        await enrolled(settings, url)
        cloud.refusing = f"edge {EDGE!r} is revoked"
        with caplog.at_level(logging.WARNING, logger="edge.sync"):
            async with rig(tmp_path, settings=settings) as r:
                lane = r.lane("p-in")
                for n in range(5):
                    result = await lane.camera.push(f"粤B1000{n}")
                    assert result.status == 200
                assert lane.barrier is not None
                await lane.barrier.wait_opens(5)
                await wait_until(lambda: cloud.refused >= 6, timeout_s=5.0)
                assert cloud.events == {}
                assert await r.store.pending_count() == 10, "nothing dropped while refused"
                assert "is revoked" in caplog.text
                # The admin re-enables the edge: everything recorded meanwhile arrives, once.
                cloud.refusing = ""
                await wait_until(lambda: cloud.contiguous == 10, timeout_s=5.0)
                more = await lane.camera.push("粤B20000")
                assert more.status == 200
                await wait_until(lambda: cloud.contiguous == 12, timeout_s=5.0)
    assert cloud.deliveries == 12 and cloud.bad_signatures == []


async def test_revoked_edge_keeps_recording_and_resumes_when_re_enrolled(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with fake_cloud(port) as cloud:
        settings = edge_settings(tmp_path, url, sync_retry_cap_s=0.2)
        await enrolled(settings, url)
        async with rig(tmp_path, settings=settings) as r:
            lane = r.lane("p-in")
            assert (await lane.camera.push("粤B00001")).status == 200
            await wait_until(lambda: cloud.contiguous == 2)
            old_key = cloud.public_key
            cloud.revoke()
            assert (await lane.camera.push("粤B00002")).status == 200
            await wait_until(lambda: r.app[SYNC].refusals >= 2)
            assert cloud.contiguous == 2
            # Re-enrolled while the edge runs (new key pair): it picks the new identity up.
            await enrolled(settings, url)
            assert cloud.public_key != old_key
            await wait_until(lambda: cloud.contiguous == 4, timeout_s=5.0)
            identity = r.app[SYNC].identity
            assert identity is not None and identity.public_key == cloud.public_key


async def test_unenrolled_edge_decides_then_syncs_once_enrolled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with fake_cloud(port) as cloud:
        settings = edge_settings(tmp_path, url)
        with caplog.at_level(logging.WARNING, logger="edge.sync"):
            async with rig(tmp_path, settings=settings) as r:
                lane = r.lane("p-in")
                assert (await lane.camera.push("粤B12345")).status == 200
                assert lane.barrier is not None and lane.barrier.opens == 1
                assert len(await r.store.access_records()) == 1
                await asyncio.sleep(0.2)
                assert cloud.verified == 0 and cloud.events == {}
                assert r.app[SYNC].identity is None
                # Enrolled while running: sync starts on its own, no restart.
                await enrolled(settings, url)
                await wait_until(lambda: cloud.contiguous == 2, timeout_s=10.0)
                assert (await lane.camera.push("粤B54321")).status == 200
                await wait_until(lambda: cloud.contiguous == 4, timeout_s=5.0)
        warnings = [rec.getMessage() for rec in caplog.records if NOT_ENROLLED in rec.getMessage()]
        assert len(warnings) == 1, "one clear warning, not one per check"
    assert cloud.bad_signatures == []


# --- commands ------------------------------------------------------------------------------


async def test_command_runs_once_though_delivered_twice_and_across_a_restart(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    site = two_site_document()
    async with fake_cloud(port) as cloud:
        settings = edge_settings(tmp_path, url, sync_retry_cap_s=0.2)
        await enrolled(settings, url)
        cloud.ingest_down = True  # the result cannot reach the cloud: it keeps redelivering
        cloud.duplicate_commands = True
        command = open_barrier("p-in", "lot")
        cloud.send_command(command)
        opens = 0
        async with rig(tmp_path, site=site, settings=settings) as r:
            barrier = r.lane("p-in").barrier
            assert barrier is not None
            await barrier.wait_opens(1)
            await wait_until(lambda: r.app[SYNC].commands.executed == 1)
            await asyncio.sleep(1.0)  # many redeliveries, each delivered twice
            opens += barrier.opens
        async with rig(tmp_path, site=site, settings=settings) as r:
            barrier = r.lane("p-in").barrier
            assert barrier is not None
            await asyncio.sleep(1.0)  # redelivered to the restarted edge
            assert r.app[SYNC].commands.executed == 0
            cloud.ingest_down = False
            await wait_until(lambda: not cloud.commands, timeout_s=5.0)
            opens += barrier.opens
    assert opens == 1, "the barrier opened once for the command"
    (result,) = cloud.results()
    assert result["command"] == str(command.id)
    assert (result["status"], result["lane"], result["site"]) == ("done", "p-in", "lot")


async def test_expired_and_impossible_commands_are_reported_not_run(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with fake_cloud(port) as cloud:
        settings = edge_settings(tmp_path, url)
        await enrolled(settings, url)
        expired = open_barrier("p-in", "lot", expires_in_s=-5)
        relay = open_barrier("c-out", "campus")  # camera-relay lane: no barrier of the edge's
        unknown = open_barrier("x-in", "lot")
        foreign = open_barrier("p-in", "campus")  # a lane of another site
        async with rig(tmp_path, settings=settings) as r:
            for command in (expired, relay, unknown, foreign):
                cloud.send_command(command)
            await wait_until(lambda: len(cloud.results()) == 4, timeout_s=5.0)
            barrier = r.lane("p-in").barrier
            assert barrier is not None
            assert barrier.commands == [], "no coil was written"
    by_id = {result["command"]: result for result in cloud.results()}
    assert by_id[str(expired.id)]["status"] == "expired"
    assert by_id[str(relay.id)]["status"] == "failed"
    assert "no barrier" in by_id[str(relay.id)]["detail"]
    for command in (unknown, foreign):
        assert by_id[str(command.id)]["status"] == "failed"
        assert "has no lane" in by_id[str(command.id)]["detail"]
    assert not cloud.commands
