"""Kill -9 the edge process at random instants under traffic: the cloud ends with every decision
the edge committed, each once, in seq order; every reply and every barrier opening has its record."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import aiohttp

from cloud.access.models import AccessRecord
from cloud.demo import populate
from cloud.settings import CloudSettings
from cloud.sites.models import Edge, SyncEvent
from firmware_sim.site import SimulatedLane, start_site, stop_site
from protocols.plates import PlateColor
from tests.conftest import REPO, free_port
from tests.support import CloudServer, demo_site_with_free_ports, enroll_edge, eventually

EDGE_ID = "crash-edge"
ROUNDS = 6


class EdgeProcess:
    """`wayside edge` in its own process, on the test's ports and store."""

    def __init__(self, tmp_path: Path, site_file: Path, cloud_url: str) -> None:
        self.port = free_port()
        self.store = tmp_path / "edge.db"
        self.env = {
            **os.environ,
            "WAYSIDE_EDGE_PORT": str(self.port),
            "WAYSIDE_EDGE_STORE_PATH": str(self.store),
            "WAYSIDE_EDGE_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
            "WAYSIDE_EDGE_SITE_FILE": str(site_file),
            "WAYSIDE_EDGE_KEY_PATH": str(tmp_path / "edge.key"),
            "WAYSIDE_EDGE_IDENTITY_PATH": str(tmp_path / "identity.json"),
            "WAYSIDE_EDGE_SYNC_RETRY_CAP_S": "1",
        }
        self.key_path = tmp_path / "edge.key"
        self.identity_path = tmp_path / "identity.json"
        self.cloud_url = cloud_url
        self.process: asyncio.subprocess.Process | None = None
        self.log = tmp_path / "edge.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(REPO / "wayside.py"),
            "edge",
            cwd=REPO,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )

        async def healthy() -> bool:
            try:
                async with session.get(f"{self.url}/healthz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(healthy, 30, "edge process answers /healthz")

    async def pending(self, session: aiohttp.ClientSession) -> int:
        async with session.get(f"{self.url}/healthz") as resp:
            return int((await resp.json())["pending"])

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), 20)


async def _drive(lane: SimulatedLane, plates: list[str], replied: list[str]) -> None:
    """Push one fresh plate after another until the edge dies under us."""
    while True:
        plate = f"粤B{len(plates):05d}"
        plates.append(plate)
        try:
            result = await lane.camera.push(plate, PlateColor.blue, 95, snapshot=None)
        except (TimeoutError, aiohttp.ClientError):
            return
        if result.status == 200:
            replied.append(plate)


async def test_kill_9_at_random_instants_loses_and_duplicates_nothing(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> None:
    site_file = tmp_path / "site.toml"
    document = demo_site_with_free_ports(site_file)
    await populate(document, EDGE_ID)
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    edge = EdgeProcess(tmp_path, site_file, cloud.url)
    await enroll_edge(EDGE_ID, cloud.url, edge.key_path, edge.identity_path)
    rng = random.Random(20261121)
    plates: list[str] = []
    replied: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        simulated = await start_site(document, edge.url, session, hold_s=0.05)
        lanes = [lane for lane in simulated.lanes if lane.code in ("lot-in", "lot-out", "north-in")]
        try:
            for _ in range(ROUNDS):
                await edge.start(session)
                drivers = [asyncio.create_task(_drive(lane, plates, replied)) for lane in lanes]
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                await edge.kill()
                await asyncio.gather(*drivers)
            await edge.start(session)
            try:
                await eventually(lambda: _drained(edge, session), 60, "edge outbox drained")
            except AssertionError as exc:
                tail = edge.log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise AssertionError(f"{exc}\n--- edge log ---\n{tail}") from None
            await edge.stop()
        finally:
            if edge.process is not None and edge.process.returncode is None:
                await edge.kill()
            await stop_site(simulated)
            await cloud.stop()

    local = sqlite3.connect(edge.store)
    committed = [row[0] for row in local.execute("select plate from access_record")]
    local.close()
    records = await AccessRecord.all().values_list("plate", flat=True)
    assert len(replied) > 50, "the edge decided under load between kills"
    counts = Counter(records)
    assert [plate for plate, n in counts.items() if n > 1] == [], "no decision twice in the cloud"
    assert sorted(records) == sorted(committed), "the cloud holds exactly what the edge committed"
    assert set(replied) <= set(records), "every push answered 200 has its record"
    opened = sum(lane.barrier.opens for lane in lanes if lane.barrier is not None)
    assert opened <= len(records)
    edge_row = await Edge.get(code=EDGE_ID)
    seqs = await SyncEvent.filter(edge_id=edge_row.id).order_by("seq").values_list("seq", flat=True)
    assert seqs == list(range(1, len(seqs) + 1)), "seqs arrive contiguous from 1"
    assert edge_row.acked_seq == len(seqs)


async def _drained(edge: EdgeProcess, session: aiohttp.ClientSession) -> bool:
    return await edge.pending(session) == 0
