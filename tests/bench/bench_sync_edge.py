"""An edge and the cloud, each in its own process, over loopback on PostgreSQL:
- catch-up: an edge with 1,000,000 events queued, from its start to the cloud holding them all;
- state delta: an admin saves a whitelist entry, and the edge then opens for that plate.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

from cloud.db import close_db, open_db
from cloud.org.models import Tenant, User
from cloud.passwords import hash_password
from cloud.sites.models import Edge, Site
from edge.store import Store
from firmware_sim.barrier import BarrierSimulator
from firmware_sim.camera import CameraSimulator
from protocols.site import SiteKind
from tests.bench.bench_sync_ingest import fresh_database
from tests.bench.processes import cloud_process, edge_process, lot_site
from tests.conftest import free_port
from tests.support import enroll_edge

URL = "postgres://postgres@127.0.0.1:5432/wayside_bench_sync"
QUEUED = 1_000_000
DELTAS = 100
ADMIN, PASSWORD = "bench-admin", "bench-password"


async def make_cloud_side(kind: SiteKind) -> None:
    """The bench tenant with an admin, the edge's site and the edge, not yet enrolled."""
    await open_db(URL)
    try:
        tenant = await Tenant.create(code="bench", name="压测")
        await User.create(
            tenant=tenant, account=ADMIN, name="压测", password_hash=hash_password(PASSWORD),
            is_admin=True,
        )  # fmt: skip
        site = await Site.create(tenant=tenant, code="lot", name="场所", kind=kind)
        edge = await Edge.create(tenant=tenant, code="bench-edge", name="压测边缘")
        await edge.sites.add(site)
    finally:
        await close_db()


async def enroll(cloud: str, workdir: Path) -> None:
    await open_db(URL)
    try:
        await enroll_edge("bench-edge", cloud, workdir / "edge.key", workdir / "identity.json")
    finally:
        await close_db()


async def queue_events(store_path: Path, count: int) -> None:
    """Fill the edge's outbox as a long outage would: real access.decided rows, in seq order."""
    store = await Store.open(store_path)  # creates the schema the edge will find
    await store.close()
    start = datetime.now(UTC) - timedelta(days=7)
    conn = sqlite3.connect(store_path)
    try:
        with conn:
            for first in range(0, count, 50_000):
                rows = []
                for n in range(first, min(first + 50_000, count)):
                    moment = (start + timedelta(seconds=n * 0.6)).isoformat()
                    payload = {
                        "site": "lot", "gate": "gate", "lane": "lane-0", "direction": "entry",
                        "plate": f"京A{n % 100_000:05d}", "plate_color": "blue",
                        "confidence": 95, "verdict": "open", "reason": "default",
                        "read_at": moment,
                    }  # fmt: skip
                    rows.append(
                        (str(uuid.uuid4()), "access.decided", "lot", moment, json.dumps(payload))
                    )
                conn.executemany(
                    "insert into outbox (uuid, type, site, occurred_at, payload)"
                    " values (?, ?, ?, ?, ?)",
                    rows,
                )
    finally:
        conn.close()


async def acked(database: asyncpg.Connection) -> int:
    return int(
        await database.fetchval("SELECT acked_seq FROM sites_edge WHERE code = 'bench-edge'")
    )


async def catch_up() -> float:
    await fresh_database()
    await make_cloud_side(SiteKind.parking_lot)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with cloud_process(URL) as cloud:
            await enroll(cloud, workdir)
            await queue_events(workdir / "edge.db", QUEUED)
            database = await asyncpg.connect(URL.replace("postgres://", "postgresql://", 1))
            try:
                started = time.perf_counter()
                async with edge_process(workdir, lot_site([free_port()]), cloud_url=cloud):
                    while await acked(database) < QUEUED:  # noqa: ASYNC110 - polls another process
                        await asyncio.sleep(0.2)
                    return time.perf_counter() - started
            finally:
                await database.close()


async def state_delta() -> float:
    """p99 ms from an admin's save of a whitelist entry to the edge opening for that plate."""
    await fresh_database()
    await make_cloud_side(SiteKind.campus)
    barrier = BarrierSimulator(port=0, hold_s=0.05)
    await barrier.start()
    took: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        site = lot_site([barrier.port], kind="campus")
        async with cloud_process(URL) as cloud:
            await enroll(cloud, workdir)
            async with edge_process(workdir, site, cloud_url=cloud) as (edge_url, _):
                jar = aiohttp.CookieJar(unsafe=True)
                async with aiohttp.ClientSession(cookie_jar=jar) as session:
                    login = await session.post(
                        cloud + "/api/v1/auth/login", json={"account": ADMIN, "password": PASSWORD}
                    )
                    csrf = {"X-CSRF-Token": (await login.json())["csrf_token"]}
                    site_id = (await (await session.get(cloud + "/api/v1/sites")).json())["items"][
                        0
                    ]["id"]
                    camera = CameraSimulator("CAM-0", edge_url + "/camera/push", session)
                    await asyncio.sleep(1.0)  # the edge's first snapshot
                    for n in range(DELTAS):
                        plate = f"苏E{n:05d}"
                        opens = barrier.opens
                        started = time.perf_counter()
                        saved = await session.post(
                            cloud + "/api/v1/list-entries",
                            json={"site_id": site_id, "plate": plate, "kind": "whitelist"},
                            headers=csrf,
                        )
                        assert saved.status == 201, await saved.text()
                        while barrier.opens == opens:
                            await camera.push(plate, snapshot=None)
                            await asyncio.sleep(0.005)
                        took.append((time.perf_counter() - started) * 1000)
    await barrier.stop()
    return statistics.quantiles(took, n=100)[98]


async def run() -> dict[str, float]:
    return {
        "state_delta_p99_ms": round(await state_delta(), 1),
        "sync_catchup_1m_s": round(await catch_up(), 1),
    }


if __name__ == "__main__":
    print(asyncio.run(run()))
