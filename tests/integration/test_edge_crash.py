"""kill -9 of the edge mid-burst loses no decision that was acted on and duplicates none."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import aiohttp

from firmware_sim.barrier import BarrierSimulator
from firmware_sim.camera import CameraSimulator
from tests.bench.processes import edge_process, lot_site

LANES = 3


async def burst(camera: CameraSimulator, lane: int, pushed: list[str]) -> None:
    """Push distinct plates back to back until the edge dies; `pushed` lists every plate sent."""
    for n in range(100_000):
        plate = f"粤B{lane}{n:04d}"
        pushed.append(plate)
        try:
            await camera.push(plate, snapshot=None)
        except (aiohttp.ClientError, ConnectionError):
            return


async def test_kill_9_mid_burst(tmp_path: Path) -> None:
    barriers = [BarrierSimulator(hold_s=0.1) for _ in range(LANES)]
    ports = [await barrier.start() for barrier in barriers]
    pushed: list[list[str]] = [[] for _ in range(LANES)]
    try:
        async with edge_process(tmp_path, lot_site(ports)) as (url, process):
            async with aiohttp.ClientSession() as session:
                cameras = [
                    CameraSimulator(f"CAM-{n}", url + "/camera/push", session) for n in range(LANES)
                ]
                pushing = [
                    asyncio.create_task(burst(camera, n, pushed[n]))
                    for n, camera in enumerate(cameras)
                ]
                await asyncio.sleep(1.0)
                process.send_signal(signal.SIGKILL)
                await asyncio.gather(*pushing)
            process.wait()
        opens = [barrier.opens for barrier in barriers]
    finally:
        for barrier in barriers:
            await barrier.stop()

    db = sqlite3.connect(tmp_path / "edge.db")
    try:
        seqs = [seq for (seq,) in db.execute("select seq from outbox order by seq")]
        assert seqs == list(range(1, len(seqs) + 1)), "seqs are contiguous: nothing half-written"
        decided = [
            row[0]
            for row in db.execute(
                "select json_extract(payload, '$.plate') from outbox"
                " where type = 'access.decided' order by seq"
            )
        ]
        assert len(decided) == len(set(decided)), "no decision recorded twice"
        records = db.execute("select count(*) from access_record").fetchone()[0]
        assert records == len(decided), "records and their events are in the same transaction"
        started = db.execute(
            "select count(*) from outbox where type = 'parking.session_started'"
        ).fetchone()[0]
        sessions = db.execute("select count(*) from parking_session").fetchone()[0]
        assert started == sessions
    finally:
        db.close()
    assert sum(opens) > 50, "the burst was under way when the edge died"
    recorded = set(decided)
    for lane, count in enumerate(opens):
        # Each camera waits for its reply, so the lane's k-th open is its k-th plate.
        acted_on = pushed[lane][:count]
        missing = [plate for plate in acted_on if plate not in recorded]
        assert not missing, f"lane {lane}: barrier opened for unrecorded plates {missing}"

    # A restarted edge carries on from the next seq.
    restarted = [BarrierSimulator(port=port) for port in ports]
    for barrier in restarted:
        await barrier.start()
    try:
        async with edge_process(tmp_path, lot_site(ports)) as (url, _):
            async with aiohttp.ClientSession() as session:
                camera = CameraSimulator("CAM-0", url + "/camera/push", session)
                assert (await camera.push("京A99999", snapshot=None)).status == 200
        db = sqlite3.connect(tmp_path / "edge.db")
        try:
            after = [seq for (seq,) in db.execute("select seq from outbox order by seq")]
            # An entry decision plus its session start: two events, numbered on from before.
            assert after == [*seqs, len(seqs) + 1, len(seqs) + 2]
        finally:
            db.close()
    finally:
        for barrier in restarted:
            await barrier.stop()
