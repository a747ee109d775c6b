"""Sync under faults: a proxy that drops, loses answers, duplicates, delays and cuts answers;
the cloud restarting and PostgreSQL restarting mid-ingest; a 12-hour partition (compressed)
with the edge deciding all along. Each ends with exactly what the edge committed, once, in
seq order, in the cloud."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from tortoise.exceptions import BaseORMException

from cloud.access.models import AccessRecord
from cloud.demo import DEMO_ACCOUNT, DEMO_PASSWORD, populate
from cloud.settings import CloudSettings
from cloud.sites.models import Edge, Site, SyncEvent
from edge.agent import build_edge_app
from edge.settings import EdgeSettings
from firmware_sim.camera import alarm_info_plate
from firmware_sim.site import SimulatedLane, SimulatedSite, start_site, stop_site
from protocols.events import Reason, Verdict
from tests.conftest import PG_URL, free_port
from tests.faultproxy import FaultProxy, Faults
from tests.support import CloudServer, demo_site_with_free_ports, enroll_edge, eventually

EDGE_ID = "fault-edge"


@dataclass
class Rig:
    cloud: CloudServer
    proxy: FaultProxy
    site: SimulatedSite
    edge_url: str
    store: Path

    def lane(self, code: str) -> SimulatedLane:
        return next(lane for lane in self.site.lanes if lane.code == code)


@pytest.fixture
async def rig(db: str, cloud_settings: CloudSettings, tmp_path: Path) -> AsyncIterator[Rig]:
    document = demo_site_with_free_ports()
    await populate(document, EDGE_ID)
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    proxy = FaultProxy(cloud.url)
    await proxy.start()
    settings = EdgeSettings(
        port=free_port(),
        store_path=tmp_path / "edge.db",
        snapshot_dir=tmp_path / "snapshots",
        key_path=tmp_path / "edge.key",
        identity_path=tmp_path / "identity.json",
        sync_retry_cap_s=0.5,
    )
    # The edge knows the cloud only through the proxy.
    await enroll_edge(EDGE_ID, proxy.url, settings.key_path, settings.identity_path)
    edge = web.AppRunner(build_edge_app(settings, document))
    await edge.setup()
    await web.TCPSite(edge, "127.0.0.1", settings.port).start()
    edge_url = f"http://127.0.0.1:{settings.port}"
    async with aiohttp.ClientSession() as session:
        site = await start_site(document, edge_url, session, hold_s=0.05)
        try:
            yield Rig(cloud, proxy, site, edge_url, settings.store_path)
        finally:
            await stop_site(site)
            await edge.cleanup()
            await proxy.stop()
            await cloud.stop()


async def drive(rig: Rig, count: int, lanes: tuple[str, ...] = ("lot-in", "lot-out")) -> int:
    """Push `count` fresh plates through the lanes; returns how many the edge answered."""
    answered = 0

    async def one_lane(lane: SimulatedLane, plates: range) -> None:
        nonlocal answered
        for n in plates:
            result = await lane.camera.push(f"粤B{n:05d}", snapshot=None)
            answered += result.status == 200

    per_lane = count // len(lanes)
    await asyncio.gather(
        *(
            one_lane(rig.lane(code), range(i * per_lane, (i + 1) * per_lane))
            for i, code in enumerate(lanes)
        )
    )
    return answered


def committed(store: Path) -> tuple[int, list[str]]:
    """The last seq the edge ever assigned, and the plates of every decision it recorded."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        row = conn.execute("select seq from sqlite_sequence where name = 'outbox'").fetchone()
        plates = [plate for (plate,) in conn.execute("select plate from access_record")]
    finally:
        conn.close()
    return (int(row[0]) if row else 0), plates


async def edge_pending(rig: Rig) -> int:
    async with aiohttp.ClientSession() as session, session.get(rig.edge_url + "/healthz") as resp:
        return int((await resp.json())["pending"])


async def cloud_holds_everything(rig: Rig) -> bool:
    try:
        last_seq, _ = committed(rig.store)
        edge = await Edge.get(code=EDGE_ID)
        return last_seq > 0 and edge.acked_seq == last_seq and await edge_pending(rig) == 0
    except (BaseORMException, OSError, aiohttp.ClientError):
        return False  # a database restarting answers nothing for a moment


async def assert_exactly_what_the_edge_committed(rig: Rig) -> None:
    last_seq, plates = committed(rig.store)
    edge = await Edge.get(code=EDGE_ID)
    seqs = await SyncEvent.filter(edge_id=edge.id).order_by("seq").values_list("seq", flat=True)
    assert seqs == list(range(1, last_seq + 1)), "every seq once, in order, no gap"
    records = await AccessRecord.filter(edge_id=edge.id).values_list("plate", flat=True)
    assert sorted(records) == sorted(plates), "the cloud's records are the edge's decisions"
    assert len(set(await SyncEvent.filter(edge_id=edge.id).values_list("uuid", flat=True))) == len(
        seqs
    )


async def test_a_proxy_that_drops_duplicates_delays_and_cuts_loses_and_doubles_nothing(
    rig: Rig,
) -> None:
    rig.proxy.faults = Faults(
        drop=0.1, lose_answer=0.15, duplicate=0.15, cut_answer=0.15, delay=0.2, max_delay_s=0.2
    )
    answered = await drive(rig, 1200)
    assert answered == 1200, "the gate answered every car while sync misbehaved"
    await eventually(lambda: cloud_holds_everything(rig), 90, "the cloud caught up")
    rig.proxy.faults = Faults()
    for fault in ("drop", "lose_answer", "duplicate", "cut_answer", "delay"):
        assert rig.proxy.seen[fault] > 0, f"the proxy did inject {fault}"
    await assert_exactly_what_the_edge_committed(rig)


async def test_a_cloud_restart_in_the_middle_of_ingest(rig: Rig) -> None:
    await rig.cloud.stop()
    await drive(rig, 3000)
    await rig.cloud.start()

    async def ingest_under_way() -> bool:
        return (await Edge.get(code=EDGE_ID)).acked_seq >= 500

    await eventually(ingest_under_way, 30, "ingest started")
    await rig.cloud.stop()
    assert (await Edge.get(code=EDGE_ID)).acked_seq < committed(rig.store)[0], "mid-ingest"
    await asyncio.sleep(0.5)
    await rig.cloud.start()
    await eventually(lambda: cloud_holds_everything(rig), 60, "the cloud caught up")
    await assert_exactly_what_the_edge_committed(rig)


def restart_postgresql() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.skipif(not PG_URL, reason="restarts PostgreSQL: runs in the PostgreSQL pass")
async def test_a_postgresql_restart_in_the_middle_of_ingest(rig: Rig) -> None:
    await rig.cloud.stop()
    await drive(rig, 6000)
    await rig.cloud.start()

    async def ingest_under_way() -> bool:
        return (await Edge.get(code=EDGE_ID)).acked_seq >= 300

    await eventually(ingest_under_way, 30, "ingest started")
    assert (await Edge.get(code=EDGE_ID)).acked_seq < committed(rig.store)[0], "mid-ingest"
    await asyncio.to_thread(restart_postgresql)
    await eventually(lambda: cloud_holds_everything(rig), 90, "the cloud caught up")
    await assert_exactly_what_the_edge_committed(rig)


async def test_a_twelve_hour_partition_with_the_edge_deciding_throughout(rig: Rig) -> None:
    """Twelve hours of traffic, one car a minute by the cameras' clocks, pass while the link is
    cut; meanwhile the admin blacklists a plate. Everything crosses once the link is back."""
    rig.proxy.faults = Faults(down=True)
    lane = rig.lane("lot-in")
    start = datetime.now(UTC) - timedelta(hours=12)
    for minute in range(12 * 60):
        body = alarm_info_plate(
            lane.camera.serial, f"鲁C{minute:05d}", snapshot=None,
            read_at=start + timedelta(minutes=minute),
        )  # fmt: skip
        result = await lane.camera.post(json.dumps(body, ensure_ascii=False).encode())
        assert result.status == 200
    assert await AccessRecord.all().count() == 0, "nothing crossed the partition"
    site = await Site.get(code="east-lot")
    async with aiohttp.ClientSession(
        base_url=rig.cloud.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as admin:
        login = await admin.post(
            "/api/v1/auth/login", json={"account": DEMO_ACCOUNT, "password": DEMO_PASSWORD}
        )
        csrf = {"X-CSRF-Token": (await login.json())["csrf_token"]}
        made = await admin.post(
            "/api/v1/list-entries",
            json={"site_id": site.id, "plate": "鲁Q99999", "kind": "blacklist"},
            headers=csrf,
        )
        assert made.status == 201, await made.text()
    rig.proxy.faults = Faults()
    await eventually(lambda: cloud_holds_everything(rig), 60, "twelve hours crossed the link")
    await assert_exactly_what_the_edge_committed(rig)
    rows = await AccessRecord.filter(plate__startswith="鲁C").only("occurred_at")
    times = [row.occurred_at for row in rows]
    assert len(times) == 720 and max(times) - min(times) >= timedelta(hours=11, minutes=59)

    async def blacklist_applies() -> bool:
        await lane.camera.push("鲁Q99999", snapshot=None)
        return await AccessRecord.filter(
            plate="鲁Q99999", verdict=Verdict.deny, reason=Reason.blacklist
        ).exists()

    await eventually(blacklist_applies, 15, "the blacklist made during the partition holds")
