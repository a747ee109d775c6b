"""Parking orders from an edge's events: one cloud worker on PostgreSQL ingesting signed batches of
500 lot events (a stay's start, then its end with the edge's bill), as an edge catching up on an
offline day sends them.

The tenant is the demo's (its lot bills by a tariff, plates are checked against its monthly
passes, special plates and white list), so each stay is classified, billed again by the cloud
and reconciled with its arrears as in production.
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
from cloud.demo import populate
from cloud.parking.demo import demo_tariff
from cloud.parking.tariffs import build_document
from cloud.sites.models import Edge
from protocols import sync as wire
from protocols.tariffs import bill_parking
from tests.bench.processes import cloud_process
from tests.support import SigningEdge, demo_site_with_free_ports

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "wayside_bench_parking"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"
BATCH = 500
STAYS = 10_000  # 20,000 events


async def fresh_database() -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DB}"')
    finally:
        await conn.close()
    await upgrade(URL)


async def demo_edge() -> SigningEdge:
    signer = SigningEdge("bench-parking-edge")
    await open_db(URL)
    try:
        await populate(demo_site_with_free_ports(), signer.code)
        await Edge.filter(code=signer.code).update(
            public_key=signer.public_key, enrolled_at=datetime.now(UTC)
        )
        return signer
    finally:
        await close_db()


def batches(paid: bool) -> list[bytes]:
    """Stays of 5 minutes to 5 hours a day ago, their starts and ends interleaved as a lot
    produces them; paid at the exit what the edge billed (the cloud bills it again), or, with
    `paid` False, left owing, so every stay becomes arrears published to every parking site."""
    document = build_document(demo_tariff("停车场标准收费", 0))
    start = datetime.now(UTC) - timedelta(days=1)
    events: list[dict[str, Any]] = []
    ends: list[tuple[datetime, dict[str, Any]]] = []
    for n in range(STAYS):
        entered = start + timedelta(seconds=4 * n)
        exited = entered + timedelta(minutes=5 + (n * 37) % 295)
        session, plate = str(uuid.uuid4()), f"京B{n % 100000:05d}"
        started = {"session": session, "site": "east-lot", "lane": "lot-in", "plate": plate,
                   "entered_at": entered.isoformat()}  # fmt: skip
        bill = bill_parking(document, entered, exited).as_dict()
        ended = {"session": session, "site": "east-lot", "lane": "lot-out", "plate": plate,
                 "entered_at": entered.isoformat(), "exited_at": exited.isoformat(),
                 "due_fen": bill["total_fen"], "paid_fen": bill["total_fen"] if paid else 0,
                 "bill": bill}  # fmt: skip
        events.append(_event("parking.session_started", entered, started))
        ends.append((exited, _event("parking.session_ended", exited, ended)))
    events += [event for _, event in ends]
    events.sort(key=lambda e: str(e["occurred_at"]))
    for seq, event in enumerate(events, start=1):
        event["seq"] = seq
    return [
        json.dumps({"events": events[i : i + BATCH]}, ensure_ascii=False).encode()
        for i in range(0, len(events), BATCH)
    ]


def _event(kind: str, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": 0,
        "uuid": str(uuid.uuid4()),
        "type": kind,
        "site": "east-lot",
        "occurred_at": at.isoformat(),
        "payload": payload,
    }


async def push_all(base: str, signer: SigningEdge, bodies: list[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            headers = signer.headers("POST", wire.EVENTS_PATH, body)
            async with session.post(base + wire.EVENTS_PATH, data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()


async def orders_completed(paid: bool) -> int:
    """Completed orders billed alike by edge and cloud, paid in full (or owing, with their
    arrears record)."""
    conn = await asyncpg.connect(URL.replace("postgres://", "postgresql://", 1))
    try:
        query = "SELECT count(*) FROM parking_order o WHERE state='completed'"
        query += " AND (bill->>'mismatch')::boolean IS FALSE"
        if paid:
            query += " AND pay_state='paid'"
        else:
            query += " AND pay_state='arrears'"
            query += " AND EXISTS (SELECT 1 FROM parking_arrears a WHERE a.order_id = o.id)"
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def ingest(paid: bool) -> float:
    """Events per second of one catch-up day, on a fresh database."""
    await fresh_database()
    signer = await demo_edge()
    bodies = batches(paid)
    async with cloud_process(URL) as base:
        started = time.perf_counter()
        await push_all(base, signer, bodies)
        took = time.perf_counter() - started
    completed = await orders_completed(paid)
    if completed != STAYS:
        raise RuntimeError(f"{completed} of {STAYS} stays became the orders expected")
    kind = "paid" if paid else "unpaid"
    print(f"bench_parking_ingest: {2 * STAYS} events, {completed} {kind} orders in {took:.1f} s")
    return 2 * STAYS / took


async def run() -> dict[str, float]:
    return {
        "parking_ingest_events_per_s": round(await ingest(paid=True), 1),
        "parking_ingest_unpaid_events_per_s": round(await ingest(paid=False), 1),
    }


if __name__ == "__main__":
    print(asyncio.run(run()))
