"""Access-records list latency at 1,000,000 records on PostgreSQL: first page, plate and time filters.

Seeds a dedicated database (`wayside_bench`) once with a month of traffic, then times the real
HTTP route an admin's list uses, signed in, over loopback.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from cloud.app import build_app
from cloud.db import upgrade
from cloud.passwords import hash_password
from cloud.settings import CloudSettings

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "wayside_bench"
BENCH_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
ROWS = 1_000_000
PLATES = 50_000
SPAN = timedelta(days=30)
SAMPLES = 200


async def _ensure_database() -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DB):
            await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()


async def _seed(now: datetime) -> None:
    """A tenant with one site and ROWS access records spread over SPAN, once per database."""
    await upgrade(BENCH_URL)
    conn = await asyncpg.connect(BENCH_URL.replace("postgres://", "postgresql://", 1))
    try:
        if await conn.fetchval("SELECT count(*) FROM access_record") >= ROWS:
            return
        step = SPAN.total_seconds() / ROWS
        await conn.execute(
            """
            INSERT INTO org_tenant (code, name, kind, enabled, created_at)
                VALUES ('bench', '压测学校', 'school', true, now()) ON CONFLICT DO NOTHING;
            INSERT INTO sites_site (tenant_id, code, name, kind, address, enabled, revision)
                SELECT id, 'campus', '校区', 'campus', '', true, 0 FROM org_tenant
                WHERE code = 'bench' ON CONFLICT DO NOTHING;
            """
        )
        await conn.execute(
            """
            INSERT INTO org_user (tenant_id, account, name, password_hash, is_admin, enabled,
                                  language, created_at)
            SELECT id, 'bench-admin', '压测', $1, true, true, 'zh', now() FROM org_tenant
            WHERE code = 'bench' ON CONFLICT DO NOTHING
            """,
            hash_password("bench-password"),
        )
        await conn.execute(
            f"""
            INSERT INTO access_record (tenant_id, site_id, event_uuid, gate, lane, direction,
                plate, plate_color, confidence, verdict, reason, method, occurred_at, snapshot)
            SELECT t.id, s.id, md5(i::text)::uuid, 'north-gate', 'lane-' || (i % 4),
                CASE WHEN i % 2 = 0 THEN 'entry' ELSE 'exit' END,
                '京A' || lpad((i % {PLATES})::text, 5, '0'), 'blue', 90,
                CASE WHEN i % 10 = 0 THEN 'deny' ELSE 'open' END, 'default', 'plate',
                $1::timestamptz - make_interval(secs => i * {step}), ''
            FROM generate_series(1, {ROWS}) AS i,
                 org_tenant t JOIN sites_site s ON s.tenant_id = t.id
            WHERE t.code = 'bench'
            """,
            now,
        )
        await conn.execute("ANALYZE access_record")
    finally:
        await conn.close()


async def _time_requests(
    session: aiohttp.ClientSession, base: str, queries: list[dict[str, str]]
) -> float:
    """p95 in milliseconds of GET first page for each query."""
    took: list[float] = []
    for query in queries:
        started = time.perf_counter()
        async with session.get(f"{base}/api/v1/access-records", params=query) as resp:
            body: dict[str, Any] = await resp.json()
            assert resp.status == 200, body
        took.append((time.perf_counter() - started) * 1000)
    return statistics.quantiles(took, n=20)[18]


async def run() -> dict[str, float]:
    await _ensure_database()
    now = datetime.now(UTC).replace(microsecond=0)
    await _seed(now)
    app = build_app(CloudSettings(database_url=BENCH_URL))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(7)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            resp = await session.post(
                f"{base}/api/v1/auth/login",
                json={"account": "bench-admin", "password": "bench-password"},
            )
            assert resp.status == 200, await resp.text()
            plates = [
                {"plate": f"京A{rng.randrange(PLATES):05d}", "page": "1"} for _ in range(SAMPLES)
            ]
            ranges = []
            for _ in range(SAMPLES):
                start = now - timedelta(hours=rng.uniform(24, SPAN.total_seconds() / 3600))
                ranges.append(
                    {
                        "occurred_from": start.isoformat(),
                        "occurred_to": (start + timedelta(days=1)).isoformat(),
                        "page": "1",
                    }
                )
            prefixes = [
                {"plate": f"京A{rng.randrange(PLATES // 100):03d}", "page": "1"}
                for _ in range(SAMPLES)
            ]
            # One warm-up pass each, as an admin's second look at the page would be.
            await _time_requests(session, base, plates[:20])
            plate_p95 = await _time_requests(session, base, plates)
            range_p95 = await _time_requests(session, base, ranges)
            prefix_p95 = await _time_requests(session, base, prefixes)
    finally:
        await runner.cleanup()
    return {
        "access_list_plate_p95_ms": round(plate_p95, 2),
        "access_list_range_p95_ms": round(range_p95, 2),
        "access_list_plate_prefix_p95_ms": round(prefix_p95, 2),
    }


if __name__ == "__main__":
    print(asyncio.run(run()))
