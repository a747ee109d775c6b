"""`wayside demo` starts cloud, edge and simulators, records simulated traffic, and stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import REPO, free_port


def _site_with_free_ports(tmp_path: Path) -> Path:
    text = (REPO / "config" / "demo-site.toml").read_text(encoding="utf-8")
    text = re.sub(r"port = 150\d\d", lambda _: f"port = {free_port()}", text)
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _wait_for(url: str, session: aiohttp.ClientSession, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not come up within {seconds} s")


async def _orders(
    session: aiohttp.ClientSession,
    port: int,
    query: str,
    seconds: float,
    wanted: Callable[[dict[str, Any]], bool],
) -> list[dict[str, Any]]:
    """The parking orders matching `query` and `wanted`, once there are any."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with session.get(f"http://127.0.0.1:{port}/api/v1/parking-orders?{query}") as resp:
            assert resp.status == 200, await resp.text()
            found = [order for order in (await resp.json())["items"] if wanted(order)]
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"no parking order ({query or 'any'}) within {seconds} s")


async def test_the_demo_runs_records_traffic_and_stops_cleanly(tmp_path: Path) -> None:
    cloud_port, edge_port = free_port(), free_port()
    env = {
        **os.environ,
        "WAYSIDE_PORT": str(cloud_port),
        "WAYSIDE_DATABASE_URL": f"sqlite://{tmp_path}/cloud.db",
        "WAYSIDE_EDGE_PORT": str(edge_port),
        "WAYSIDE_EDGE_CLOUD_URL": f"http://127.0.0.1:{cloud_port}",
        "WAYSIDE_EDGE_STORE_PATH": str(tmp_path / "edge.db"),
        "WAYSIDE_EDGE_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
        "WAYSIDE_EDGE_SITE_FILE": str(_site_with_free_ports(tmp_path)),
    }
    env.pop("WAYSIDE_TEST_DATABASE_URL", None)
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "wayside.py"),
        "demo",
        "--traffic",
        "0.3",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await _wait_for(f"http://127.0.0.1:{cloud_port}/healthz", session, 60)
            await _wait_for(f"http://127.0.0.1:{edge_port}/healthz", session, 30)
            login = await session.post(
                f"http://127.0.0.1:{cloud_port}/api/v1/auth/login",
                json={"account": "admin", "password": "wayside-demo"},
            )
            assert login.status == 200, await login.text()
            deadline = time.monotonic() + 30
            records: list[dict[str, object]] = []
            while time.monotonic() < deadline and len(records) < 3:
                async with session.get(
                    f"http://127.0.0.1:{cloud_port}/api/v1/access-records"
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    records = (await resp.json())["items"]
                await asyncio.sleep(0.5)
            assert len(records) >= 3, "simulated cars reached the cloud as access records"
            lanes = {record["lane"] for record in records}
            assert lanes <= {"north-in", "north-out", "lot-in", "lot-out"}
            # The demo teacher's phone shows a pass to the campus gate's camera.
            deadline = time.monotonic() + 30
            passes: list[dict[str, object]] = []
            while time.monotonic() < deadline and not passes:
                async with session.get(
                    f"http://127.0.0.1:{cloud_port}/api/v1/access-records?lane=north-in"
                ) as resp:
                    passes = [r for r in (await resp.json())["items"] if r["method"] == "qr_pass"]
                await asyncio.sleep(0.5)
            assert passes, "the demo teacher's QR pass reached the cloud as an access record"
            assert passes[0]["verdict"] == "open" and passes[0]["reason"] == "registrant"
            # The demo station's simulated chargers start sessions with the demo cards.
            deadline = time.monotonic() + 30
            orders: list[dict[str, object]] = []
            while time.monotonic() < deadline and not orders:
                async with session.get(
                    f"http://127.0.0.1:{cloud_port}/api/v1/charging-orders"
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    orders = (await resp.json())["items"]
                await asyncio.sleep(0.5)
            assert orders, "a simulated charging session reached the cloud as an order"
            assert {order["id_tag"] for order in orders} <= {"CARD0001", "CARD0002"}
            # A car the lot's exit holds is paid for on the lane's QR page by its driver's
            # phone, and leaves; the order is completed with what was paid.
            paid = await _orders(
                session, cloud_port, "state=completed&pay_state=paid", 60, lambda o: True
            )
            assert paid[0]["exit_lane"] == "lot-out" and paid[0]["paid_fen"] > 0
            # A simulated geomagnetic sensor on the street reports a car in its berth.
            berths = await _orders(session, cloud_port, "", 90, lambda o: bool(o["berth"]))
            assert berths[0]["berth"].startswith("w-00")
        demo.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(demo.communicate(), 30)
        text = output.decode()
        assert demo.returncode == 0, text
        assert f"http://127.0.0.1:{cloud_port}/" in text
        assert "admin / wayside-demo" in text
        assert "/m/demo/  (teacher T1001 / 12345X)" in text
        assert "QR pass of T1001 -> ['open']" in text
        assert "Traceback" not in text
    finally:
        if demo.returncode is None:
            demo.kill()
            await demo.wait()
