"""Sync ingest into PostgreSQL for one cloud worker, batches of 500, against the COPY ceiling.

The cloud runs as its own process (`wayside cloud`, one worker); four signed edges push in
parallel from this process, as edges would. The ceiling writes the same rows (ledger and access
records) with asyncpg's copy_records_to_table.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from cloud.db import close_db, open_db, upgrade
from cloud.org.models import Tenant
from cloud.sites.models import Edge, Site
from protocols import sync as wire
from protocols.site import SiteKind
from tests.bench.processes import cloud_process
from tests.support import SigningEdge

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "wayside_bench_sync"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"
EDGES = 4
BATCH = 500
EVENTS_PER_EDGE = 25_000


async def fresh_database() -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DB}"')
    finally:
        await conn.close()
    await upgrade(URL)


async def make_edges() -> list[SigningEdge]:
    await open_db(URL)
    try:
        tenant = await Tenant.create(code="bench", name="压测")
        site = await Site.create(tenant=tenant, code="campus", name="校区", kind=SiteKind.campus)
        signers = []
        for n in range(EDGES):
            signer = SigningEdge(f"bench-edge-{n}")
            edge = await Edge.create(
                tenant=tenant, code=signer.code, name=signer.code,
                public_key=signer.public_key, enrolled_at=datetime.now(UTC),
            )  # fmt: skip
            await edge.sites.add(site)
            signers.append(signer)
        return signers
    finally:
        await close_db()


def event(seq: int, moment: datetime) -> dict[str, Any]:
    stamp = moment.isoformat()
    return {
        "seq": seq,
        "uuid": str(uuid.uuid4()),
        "type": "access.decided",
        "site": "campus",
        "occurred_at": stamp,
        "payload": {
            "site": "campus", "gate": "north-gate", "lane": "north-in", "direction": "entry",
            "plate": f"京A{seq % 100000:05d}", "plate_color": "blue", "confidence": 95,
            "verdict": "open", "reason": "whitelist", "read_at": stamp,
        },
    }  # fmt: skip


def batches() -> list[bytes]:
    start = datetime.now(UTC) - timedelta(days=1)
    bodies = []
    for first in range(1, EVENTS_PER_EDGE + 1, BATCH):
        events = [event(seq, start + timedelta(seconds=seq)) for seq in range(first, first + BATCH)]
        bodies.append(json.dumps({"events": events}, ensure_ascii=False).encode())
    return bodies


async def push_all(base: str, signer: SigningEdge, bodies: list[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            headers = signer.headers("POST", wire.EVENTS_PATH, body)
            async with session.post(base + wire.EVENTS_PATH, data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()


async def copy_ceiling(total: int) -> float:
    """Seconds to write the same rows (ledger + access records) with COPY."""
    conn = await asyncpg.connect(URL.replace("postgres://", "postgresql://", 1))
    try:
        edge_id = await conn.fetchval("SELECT id FROM sites_edge ORDER BY id LIMIT 1")
        tenant_id, site_id = await conn.fetchrow("SELECT tenant_id, id FROM sites_site LIMIT 1")
        await conn.execute("CREATE TEMP TABLE ledger (LIKE sync_event INCLUDING ALL)")
        await conn.execute("CREATE TEMP TABLE records (LIKE access_record INCLUDING ALL)")
        now = datetime.now(UTC)
        payload = json.dumps(event(1, now)["payload"])
        ledger = [
            (n, edge_id, n, uuid.uuid4(), "access.decided", "campus", now, payload, "", now)
            for n in range(1, total + 1)
        ]
        records = [
            (n, tenant_id, site_id, edge_id, uuid.uuid4(), "north-gate", "north-in", "entry",
             f"京A{n % 100000:05d}", "blue", 95, "open", "whitelist", "plate", now, "")
            for n in range(1, total + 1)
        ]  # fmt: skip
        started = time.perf_counter()
        for first in range(0, total, BATCH):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "ledger", records=ledger[first : first + BATCH],
                    columns=["id", "edge_id", "seq", "uuid", "type", "site", "occurred_at",
                             "payload", "error", "received_at"],
                )  # fmt: skip
                await conn.copy_records_to_table(
                    "records", records=records[first : first + BATCH],
                    columns=["id", "tenant_id", "site_id", "edge_id", "event_uuid", "gate",
                             "lane", "direction", "plate", "plate_color", "confidence",
                             "verdict", "reason", "method", "occurred_at", "snapshot"],
                )  # fmt: skip
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run() -> dict[str, float]:
    await fresh_database()
    signers = await make_edges()
    bodies = [batches() for _ in signers]
    async with cloud_process(URL) as base:
        started = time.perf_counter()
        await asyncio.gather(*(push_all(base, s, b) for s, b in zip(signers, bodies, strict=True)))
        took = time.perf_counter() - started
    total = EDGES * EVENTS_PER_EDGE
    ours = total / took
    ceiling = total / await copy_ceiling(total)
    return {
        "sync_ingest_events_per_s": round(ours, 1),
        "sync_ingest_copy_events_per_s": round(ceiling, 1),
        "sync_ingest_vs_copy_ratio": round(ours / ceiling, 3),
    }


if __name__ == "__main__":
    print(asyncio.run(run()))
