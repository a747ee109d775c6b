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
from dataclasses import dataclass, field
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
# The proof: a burst of 50,000 decisions with 20 kill -9 at random instants.
BURST = 50_000
KILLS = 20


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


@dataclass
class Burst:
    """Cars arriving without pause, whether or not the edge is up to answer them."""

    target: int
    plates: list[str] = field(default_factory=list)
    replied: list[str] = field(default_factory=list)
    over: asyncio.Event = field(default_factory=asyncio.Event)

    async def drive(self, lane: SimulatedLane) -> None:
        while not self.over.is_set():
            plate = f"粤B{len(self.plates):05d}"
            self.plates.append(plate)
            try:
                result = await lane.camera.push(plate, PlateColor.blue, 95, snapshot=None)
            except (TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(0.05)  # the edge is down: the next car comes anyway
                continue
            if result.status == 200:
                self.replied.append(plate)
                if len(self.replied) >= self.target:
                    self.over.set()


async def test_kill_9_at_random_instants_during_a_burst_loses_and_duplicates_nothing(
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
    burst = Burst(BURST)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        simulated = await start_site(document, edge.url, session, hold_s=0.05)
        drivers = [
            asyncio.create_task(burst.drive(lane)) for lane in simulated.lanes for _ in range(2)
        ]
        try:
            for _ in range(KILLS):
                await edge.start(session)
                await asyncio.sleep(rng.uniform(0.5, 3.0))
                await edge.kill()
            await edge.start(session)
            await asyncio.wait_for(burst.over.wait(), 600)
            await asyncio.gather(*drivers)
            try:
                await eventually(lambda: _drained(edge, session), 120, "edge outbox drained")
            except AssertionError as exc:
                tail = edge.log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise AssertionError(f"{exc}\n--- edge log ---\n{tail}") from None
            await edge.stop()
        finally:
            burst.over.set()
            await asyncio.gather(*drivers, return_exceptions=True)
            if edge.process is not None and edge.process.returncode is None:
                await edge.kill()
            await stop_site(simulated)
            await cloud.stop()

    local = sqlite3.connect(edge.store)
    committed = [row[0] for row in local.execute("select plate from access_record")]
    (last_seq,) = local.execute("select seq from sqlite_sequence where name = 'outbox'").fetchone()
    local.close()
    records = await AccessRecord.all().values_list("plate", flat=True)
    assert len(burst.replied) >= BURST, "the burst went through the kills"
    counts = Counter(records)
    assert [plate for plate, n in counts.items() if n > 1] == [], "no decision twice in the cloud"
    assert sorted(records) == sorted(committed), "the cloud holds exactly what the edge committed"
    assert set(burst.replied) <= set(records), "every push answered 200 has its record"
    opened = sum(lane.barrier.opens for lane in simulated.lanes if lane.barrier is not None)
    assert opened <= len(records)
    edge_row = await Edge.get(code=EDGE_ID)
    seqs = await SyncEvent.filter(edge_id=edge_row.id).order_by("seq").values_list("seq", flat=True)
    assert seqs == list(range(1, last_seq + 1)), "every committed seq arrives once, in order"
    assert edge_row.acked_seq == last_seq


async def _drained(edge: EdgeProcess, session: aiohttp.ClientSession) -> bool:
    return await edge.pending(session) == 0
