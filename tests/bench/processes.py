"""Processes the benchmarks (and the crash tests) run as in production: edge and cloud, each
in its own process on loopback, with their settings written out as files."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from edge.store import Store
from protocols.charging import ChargerGrant, IdTagGrant
from protocols.sync import Entity, SiteState, StateChange
from tests.conftest import REPO, free_port

PROFILE = (
    ["-m", "cProfile", "-o", os.environ["WAYSIDE_BENCH_PROFILE"]]
    if os.environ.get("WAYSIDE_BENCH_PROFILE")
    else []
)


def toml_value(value: Any) -> str:
    """Enough TOML for a site document: inline tables and arrays (JSON strings are TOML strings)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def lot_site(barrier_ports: list[int], kind: str = "parking_lot") -> dict[str, Any]:
    """One site, one gate, a Modbus-wired lane per barrier port (entries and exits alternate)."""
    lanes = [
        {
            "code": f"lane-{n}",
            "name": f"lane {n}",
            "direction": "entry" if n % 2 == 0 else "exit",
            "wiring": "modbus",
            "camera": {"serial": f"CAM-{n}", "min_confidence": 80},
            "barrier": {"port": port},
        }
        for n, port in enumerate(barrier_ports)
    ]
    gate = {"code": "gate", "name": "gate", "lanes": lanes}
    return {
        "tenant": "bench",
        "sites": [{"code": "lot", "name": "lot", "kind": kind, "gates": [gate]}],
    }


@asynccontextmanager
async def edge_process(
    workdir: Path, site: dict[str, Any], **overrides: Any
) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """The edge in its own process (as in production); unless `overrides` say otherwise, not
    enrolled and with its cloud at a closed port."""
    port = free_port()
    site_file = workdir / "site.toml"
    site_file.write_text("\n".join(f"{k} = {toml_value(v)}" for k, v in site.items()) + "\n")
    config = workdir / "edge.toml"
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "site_file": str(site_file),
        "store_path": str(workdir / "edge.db"),
        "snapshot_dir": str(workdir / "snapshots"),
        "cloud_url": f"http://127.0.0.1:{free_port()}",
        "edge_id": "bench-edge",
        "key_path": str(workdir / "edge.key"),
        "identity_path": str(workdir / "identity.json"),
        **overrides,
    }
    config.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in settings.items()))
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
        [
            sys.executable,
            *PROFILE,
            "wayside.py",
            "--log-level",
            "ERROR",
            "edge",
            "--config",
            str(config),
        ],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("WAYSIDE_")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited with {process.returncode}")
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy")


@asynccontextmanager
async def cloud_process(database_url: str) -> AsyncIterator[str]:
    """`wayside cloud` (one worker) on a free port; yields its base URL."""
    port = free_port()
    env = {**os.environ, "WAYSIDE_DATABASE_URL": database_url, "WAYSIDE_PORT": str(port)}
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
        [sys.executable, *PROFILE, "wayside.py", "--log-level", "ERROR", "cloud"],
        cwd=REPO,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, process)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def seed_edge_state(workdir: Path, states: list[SiteState]) -> None:
    """Write synced state into the edge's store before it starts (as if pulled from a cloud):
    benchmarks of an unenrolled edge get their campus grants this way."""
    store = await Store.open(workdir / "edge.db")
    try:
        for state in states:
            await store.apply_state(state)
    finally:
        await store.close()


def raise_nofile_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit; processes started afterwards inherit it (an
    edge holding thousands of charger WebSockets needs a descriptor for each)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for pid {pid}")


def charging_site(station: str = "station") -> dict[str, Any]:
    """One charging station site and nothing else (its chargers come from synced state)."""
    return {
        "tenant": "bench",
        "sites": [{"code": station, "name": station, "kind": "charging_station"}],
    }


def charger_state(
    charge_points: list[str],
    station: str = "station",
    connectors: int = 1,
    heartbeat_s: int = 60,
    id_tags: list[str] | None = None,
) -> SiteState:
    """The synced state an edge serving these chargers holds (Entity.charger, keyed by charge
    point id), with card id tags allowed to charge (Entity.id_tag); for seed_edge_state."""
    changes = [
        StateChange(
            entity=Entity.charger,
            key=cp_id,
            data=ChargerGrant(
                name=cp_id, station=station, connectors=connectors, heartbeat_s=heartbeat_s
            ).model_dump(mode="json"),
        )
        for cp_id in charge_points
    ]
    changes += [
        StateChange(
            entity=Entity.id_tag,
            key=tag,
            data=IdTagGrant(kind="card").model_dump(mode="json"),
        )
        for tag in id_tags or []
    ]
    return SiteState(site=station, revision=1, full=True, changes=changes)
