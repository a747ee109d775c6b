"""The whole lane slice across real sockets: camera → edge → barrier, and edge ⇄ cloud through sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from cloud.access.models import AccessRecord
from cloud.demo import DEMO_ACCOUNT, DEMO_PASSWORD, populate
from cloud.settings import CloudSettings
from cloud.sites.models import Lane, Site
from edge.agent import build_edge_app
from edge.settings import EdgeSettings
from firmware_sim.site import SimulatedLane, SimulatedSite, start_site, stop_site
from protocols.events import Reason, Verdict
from protocols.site import SiteDocument
from tests.conftest import free_port
from tests.support import CloudServer, demo_site_with_free_ports, enroll_edge, eventually

EDGE_ID = "slice-edge"


@dataclass
class Slice:
    cloud: CloudServer
    site: SimulatedSite
    document: SiteDocument

    def lane(self, code: str) -> SimulatedLane:
        return next(lane for lane in self.site.lanes if lane.code == code)


@pytest.fixture
async def lane_slice(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> AsyncIterator[Slice]:
    document = demo_site_with_free_ports()
    await populate(document, EDGE_ID)
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    edge_port = free_port()
    settings = EdgeSettings(
        port=edge_port,
        store_path=tmp_path / "edge.db",
        snapshot_dir=tmp_path / "snapshots",
        key_path=tmp_path / "edge.key",
        identity_path=tmp_path / "identity.json",
        sync_retry_cap_s=1,
    )
    await enroll_edge(EDGE_ID, cloud.url, settings.key_path, settings.identity_path)
    edge = web.AppRunner(build_edge_app(settings, document))
    await edge.setup()
    await web.TCPSite(edge, "127.0.0.1", edge_port).start()
    async with aiohttp.ClientSession() as session:
        site = await start_site(document, f"http://127.0.0.1:{edge_port}", session, hold_s=0.2)
        # The edge starts with no cached state: wait for its first snapshot (lane policies).
        async with session.get(f"http://127.0.0.1:{edge_port}/healthz") as resp:
            assert resp.status == 200
        await eventually(
            lambda: _edge_has_state(session, edge_port), 10, "edge pulled its first snapshot"
        )
        try:
            yield Slice(cloud, site, document)
        finally:
            await stop_site(site)
            await edge.cleanup()
            await cloud.stop()


async def _edge_has_state(session: aiohttp.ClientSession, port: int) -> bool:
    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
        body = await resp.json()
    return all(body["revisions"].get(code, 0) > 0 for code in ("north-campus", "east-lot"))


async def test_a_whitelisted_plate_opens_the_barrier_and_reaches_the_cloud_in_two_seconds(
    lane_slice: Slice,
) -> None:
    lane = lane_slice.lane("north-in")
    assert lane.barrier is not None
    result = await lane.camera.push("京A12345")
    assert result.status == 200
    await lane.barrier.wait_opens(1, timeout_s=2)
    took = await eventually(
        lambda: AccessRecord.filter(plate="京A12345").exists(), 2.0, "access record in the cloud"
    )
    record = await AccessRecord.get(plate="京A12345")
    assert (record.verdict, record.reason, record.lane) == (
        Verdict.open,
        Reason.whitelist,
        "north-in",
    )
    assert took < 2.0


async def test_a_stranger_is_refused_at_the_campus_and_let_into_the_lot(lane_slice: Slice) -> None:
    campus, lot = lane_slice.lane("north-in"), lane_slice.lane("lot-in")
    assert campus.barrier is not None and lot.barrier is not None
    await campus.camera.push("苏E54321")
    await lot.camera.push("苏E54321")
    await lot.barrier.wait_opens(1, timeout_s=2)
    await eventually(lambda: _records_of("苏E54321", 2), 3, "both records in the cloud")
    assert campus.barrier.opens == 0
    verdicts = {r.lane: (r.verdict, r.reason) for r in await AccessRecord.filter(plate="苏E54321")}
    assert verdicts == {
        "north-in": (Verdict.deny, Reason.default),
        "lot-in": (Verdict.open, Reason.default),
    }


async def _records_of(plate: str, count: int) -> bool:
    return await AccessRecord.filter(plate=plate).count() == count


async def test_a_camera_relay_lane_opens_through_the_reply(lane_slice: Slice) -> None:
    lane = lane_slice.lane("north-out")
    opened = await lane.camera.push("京A12345")
    refused = await lane.camera.push("沪B99999")
    assert (opened.relay_opened, refused.relay_opened) == (True, False)
    assert isinstance(refused.body, dict)
    assert refused.body["Response_AlarmInfoPlate"]["info"] == "no"


async def _admin_api(cloud: CloudServer) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    """A signed-in JSON API session of the demo administrator."""
    session = aiohttp.ClientSession(base_url=cloud.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    resp = await session.post(
        "/api/v1/auth/login", json={"account": DEMO_ACCOUNT, "password": DEMO_PASSWORD}
    )
    assert resp.status == 200, await resp.text()
    return session, {"X-CSRF-Token": (await resp.json())["csrf_token"]}


async def test_a_list_edited_in_the_cloud_changes_the_next_decision_without_restart(
    lane_slice: Slice,
) -> None:
    lane = lane_slice.lane("north-in")
    assert lane.barrier is not None
    await lane.camera.push("浙C77777")
    assert lane.barrier.opens == 0
    site = await Site.get(code="north-campus")
    session, csrf = await _admin_api(lane_slice.cloud)
    async with session:
        resp = await session.post(
            "/api/v1/list-entries",
            json={"site_id": site.id, "plate": "浙C77777", "kind": "whitelist"},
            headers=csrf,
        )
        assert resp.status == 201, await resp.text()

    async def opens_now() -> bool:
        await lane.camera.push("浙C77777")
        return lane.barrier is not None and lane.barrier.opens > 0

    took = await eventually(opens_now, 5, "the whitelist entry took effect at the edge")
    assert took < 2.0


async def test_a_lane_disabled_in_the_cloud_refuses_even_whitelisted_plates(
    lane_slice: Slice,
) -> None:
    lane = lane_slice.lane("lot-in")
    assert lane.barrier is not None
    row = await Lane.get(code="lot-in")
    session, csrf = await _admin_api(lane_slice.cloud)
    async with session:
        resp = await session.post(f"/api/v1/lanes/{row.id}/disable", headers=csrf)
        assert resp.status == 200, await resp.text()

    async def refused_now() -> bool:
        before = lane.barrier.opens if lane.barrier else 0
        await lane.camera.push("京A12345")
        return lane.barrier is not None and lane.barrier.opens == before

    await eventually(refused_now, 5, "the disabled lane refuses")
    await eventually(
        lambda: AccessRecord.filter(lane="lot-in", reason=Reason.lane_disabled).exists(),
        3,
        "the refusal reached the cloud",
    )


async def test_with_the_cloud_away_the_edge_decides_and_every_record_arrives_once(
    lane_slice: Slice,
) -> None:
    lane = lane_slice.lane("lot-in")
    assert lane.barrier is not None
    await lane_slice.cloud.stop()
    plates = [f"粤B{n:05d}" for n in range(40)]
    for plate in plates:
        assert (await lane.camera.push(plate)).status == 200
    await lane.barrier.wait_opens(len(plates), timeout_s=5)
    assert await AccessRecord.all().count() == 0
    await lane_slice.cloud.start()

    async def all_arrived() -> bool:
        return await AccessRecord.filter(lane="lot-in").count() >= len(plates)

    await eventually(all_arrived, 40, "records sent after the cloud came back")
    await asyncio.sleep(0.5)
    rows = await AccessRecord.filter(lane="lot-in").values_list("plate", flat=True)
    assert sorted(rows) == sorted(plates)
