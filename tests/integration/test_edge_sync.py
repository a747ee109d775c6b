"""The edge's sync client against a small fake cloud that keeps the protocols/sync.py contract."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from edge.store import Store
from edge.sync import SyncClient
from protocols.events import AccessDecided, Reason, Verdict
from protocols.site import DefaultAction, Direction
from protocols.sync import (
    EDGE_HEADER,
    EVENTS_PATH,
    STATE_PATH,
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
from tests.integration.test_edge_lanes import edge_settings, free_port, rig


class FakeCloud:
    """Ingest that stores each seq once and refuses gaps; state published per site with revisions."""

    def __init__(self) -> None:
        self.events: dict[int, Event] = {}
        self.deliveries = 0
        self.state: dict[str, SiteState] = {}
        self.changed = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post(EVENTS_PATH, self.ingest)
        self.app.router.add_post(STATE_PATH, self.publish)

    @property
    def contiguous(self) -> int:
        seq = 0
        while seq + 1 in self.events:
            seq += 1
        return seq

    def _check(self, request: web.Request) -> None:
        assert request.headers["Authorization"] == "Bearer test-edge-key"
        assert request.headers[EDGE_HEADER] == "test-edge"

    async def ingest(self, request: web.Request) -> web.Response:
        self._check(request)
        batch = PushRequest.model_validate_json(await request.read())
        expected = self.contiguous + 1
        if batch.events[0].seq > expected:
            return web.json_response(PushGap(expected_seq=expected).model_dump(), status=409)
        for event in batch.events:
            self.deliveries += 1
            self.events.setdefault(event.seq, event)
        return web.json_response(PushAck(acked_seq=self.contiguous).model_dump())

    def publish_state(self, state: SiteState) -> None:
        self.state[state.site] = state
        self.changed.set()

    async def publish(self, request: web.Request) -> web.Response:
        self._check(request)
        asked = StateRequest.model_validate_json(await request.read())

        def newer() -> list[SiteState]:
            return [
                state
                for site, state in self.state.items()
                if state.revision > asked.revisions.get(site, 0)
            ]

        if not newer():
            self.changed.clear()
            try:
                async with asyncio.timeout(asked.wait):
                    while not newer():
                        await self.changed.wait()
                        self.changed.clear()
            except TimeoutError:
                pass
        return web.json_response(StateResponse(sites=newer()).model_dump(mode="json"))


@asynccontextmanager
async def fake_cloud(port: int) -> AsyncIterator[FakeCloud]:
    cloud = FakeCloud()
    server = TestServer(cloud.app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield cloud
    finally:
        await server.close()


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
    settings = edge_settings(tmp_path, f"http://127.0.0.1:{port}")
    store = await Store.open(settings.store_path)
    async with aiohttp.ClientSession() as session:
        client = SyncClient(settings, store, session, ["lot"], backoff_cap_s=0.2, wait_s=0.5)
        task = asyncio.create_task(client.push_forever())
        try:
            for n in range(30):  # decided while the cloud is down
                await store.record_decision(decided(n), "start")
            await asyncio.sleep(0.5)
            assert await store.pending_count() == 60
            async with fake_cloud(port) as cloud:
                await wait_until(lambda: cloud.contiguous == 60)
                for n in range(30, 40):  # and while it is up
                    await store.record_decision(decided(n))
                await wait_until(lambda: cloud.contiguous == 70)
                await wait_until(lambda: client.acked_seq == 70)
            assert sorted(cloud.events) == list(range(1, 71))
            plates = [
                e.payload["plate"] for e in cloud.events.values() if e.type == "access.decided"
            ]
            assert plates == [f"粤B{n:05d}" for n in range(40)]
            assert len({e.uuid for e in cloud.events.values()}) == 70
            assert await store.pending_count() == 0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()


async def test_gap_is_logged_and_nothing_dropped(tmp_path: Path) -> None:
    port = free_port()
    settings = edge_settings(tmp_path, f"http://127.0.0.1:{port}")
    store = await Store.open(settings.store_path)
    try:
        for n in range(3):
            await store.record_decision(decided(n))
        await store.ack(1)  # seq 1 acknowledged by a cloud that has since lost it
        async with fake_cloud(port) as cloud, aiohttp.ClientSession() as session:
            client = SyncClient(settings, store, session, ["lot"])
            batch = PushRequest(events=await store.pending(100, 1_000_000))
            assert await client.push_once(batch) is False
            assert cloud.events == {}
            assert await store.pending_count() == 2
    finally:
        await store.close()


async def test_decision_reaches_cloud_fast_and_state_applies_without_restart(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with fake_cloud(port) as cloud, rig(tmp_path, cloud_url=f"http://127.0.0.1:{port}") as r:
        camera = r.camera("c-in")
        started = time.monotonic()
        refused = await camera.push("京A11111")
        assert refused.body == {"Response_AlarmInfoPlate": {"info": "no"}}
        lane = r.lane("c-in")
        assert lane.barrier is not None and lane.barrier.opens == 0
        await wait_until(lambda: len(cloud.events) == 1, timeout_s=2.0)
        assert time.monotonic() - started < 2.0
        # The admin whitelists the plate and opens the lane to everyone after hours: via long-poll.
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
        reasons = [e.payload["reason"] for e in sorted(cloud.events.values(), key=lambda e: e.seq)]
        assert reasons == ["default", "whitelist", "default"]
