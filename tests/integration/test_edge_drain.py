"""Draining a large backlog does not starve live gate decisions.

The edge comes back online with 100,000 queued events (the same code path as 1,000,000: the
batch read is a search on the seq key, measured by hand for the report). The fake cloud runs
in its own process, as a real cloud is another machine, so what is measured is the edge:
camera pushes keep being decided, recorded and answered quickly while full batches go out
back to back.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from edge.store import SCHEMA
from tests.integration.test_edge_lanes import edge_settings, free_port, rig
from tests.integration.test_edge_sync import FakeCloud, decided, write_identity

BACKLOG = 100_000
REPO = Path(__file__).resolve().parents[2]

CLOUD_MAIN = """
import asyncio, sys
from aiohttp import web
from tests.integration.test_edge_sync import FakeCloud

async def main() -> None:
    cloud = FakeCloud()
    cloud.public_key = sys.argv[2]
    runner = web.AppRunner(cloud.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@asynccontextmanager
async def cloud_process(port: int, public_key: str) -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLOUD_MAIN,
        str(port),
        public_key,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.strip() == b"ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        await process.wait()


async def status(session: aiohttp.ClientSession, url: str, after: int = 0) -> dict[str, Any]:
    async with session.get(f"{url}/_status", params={"after": str(after)}) as response:
        body: dict[str, Any] = await response.json()
        return body


def queue_backlog(path: Path, count: int) -> None:
    """Events recorded while the edge was offline, written straight into its outbox."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        db.executescript(SCHEMA)
        payload = decided(0).model_dump_json()
        at = datetime.now(UTC).isoformat()
        db.executemany(
            "insert into outbox (uuid, type, site, occurred_at, payload) values (?, ?, ?, ?, ?)",
            ((str(uuid.uuid4()), "access.decided", "lot", at, payload) for _ in range(count)),
        )
        db.commit()
    finally:
        db.close()


async def test_live_decisions_stay_fast_while_a_backlog_drains(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = edge_settings(tmp_path, url)
    queue_backlog(settings.store_path, BACKLOG)
    keys = FakeCloud()
    write_identity(settings, keys, url)
    assert keys.public_key is not None
    async with cloud_process(port, keys.public_key), rig(tmp_path, settings=settings) as r:
        camera = r.lane("c-in").camera  # a campus lane: one event per decision
        latencies: list[float] = []
        while (await status(r.session, url, BACKLOG))["contiguous"] < BACKLOG // 2:
            started = time.perf_counter()
            result = await camera.push(f"京A{len(latencies):05d}", snapshot=None)
            latencies.append(time.perf_counter() - started)
            assert result.status == 200
            await asyncio.sleep(0.005)
        decisions = len(latencies)
        total = BACKLOG + decisions
        deadline = time.monotonic() + 120
        while (seen := await status(r.session, url, BACKLOG))["contiguous"] < total:
            assert time.monotonic() < deadline, f"drained {seen['contiguous']} of {total}"
            await asyncio.sleep(0.1)
    assert seen["deliveries"] == total and seen["bad_signatures"] == 0, "each event once"
    assert seen["plates"] == [f"京A{n:05d}" for n in range(decisions)], "live events in order"
    p50 = statistics.median(latencies)
    p99 = sorted(latencies)[int(0.99 * (len(latencies) - 1))]
    summary = (
        f"{decisions} decisions while draining: p50 {p50 * 1000:.1f} ms,"
        f" p99 {p99 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    print(summary)
    assert decisions >= 20, summary
    # Alone, a decision round trip here takes 2-3 ms; the bound leaves room for a loaded CI
    # machine with two CPUs shared with the cloud process, not for a loop blocked per batch.
    assert p99 < 0.15, summary
