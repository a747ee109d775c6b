"""The site simulators run a whole site document against an edge, demo traffic included."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestServer

from edge.agent import build_edge_app
from edge.api import STORE
from firmware_sim.site import run_site_simulators
from tests.integration.test_edge_lanes import edge_settings, free_port, two_site_document


async def test_demo_traffic_reaches_the_edge(tmp_path: Path) -> None:
    site = two_site_document()
    port = free_port()
    stop = asyncio.Event()
    sims = asyncio.create_task(
        run_site_simulators(site, f"http://127.0.0.1:{port}", stop, traffic_interval_s=0.02)
    )
    server = TestServer(build_edge_app(edge_settings(tmp_path), site), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        store = server.app[STORE]
        for _ in range(300):
            if len(await store.access_records()) >= 10:
                break
            await asyncio.sleep(0.02)
        records = await store.access_records()
        assert len(records) >= 10
        assert {record.lane for record in records} <= {"c-in", "c-out", "p-in", "p-out"}
    finally:
        stop.set()
        await sims
        await server.close()
