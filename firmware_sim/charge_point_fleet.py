"""Many charge points in one process, for the OCPP benchmark: real OCPP-J frames over real
WebSockets (aiohttp), light on CPU.

Each charge point connects at `{url}/{id}` with subprotocol ocpp1.6, boots, reports every
connector Available, starts a transaction on each (StatusNotification Preparing,
StartTransaction, StatusNotification Charging), then sends a Heartbeat every `heartbeat_s`
and MeterValues (energy register, power, SoC) every `meter_s` per connector, each at a random
phase so the load is even. One CALL at a time per charge point, as OCPP-J requires. The round
trip of every CALL (just before the frame is written -> its CALLRESULT read) is measured here,
at the charge point's side; a CALL unanswered within `timeout_s` counts as a timeout.

Unlike firmware_sim.charge_point (the faithful firmware, built on the `ocpp` package) these
charge points build frames by hand and validate nothing, so thousands fit in one process.

Driven over stdin/stdout, one JSON object a line (`python -m firmware_sim.charge_point_fleet`):
  {"op": "connect", "url": "...", "ids": [...], "tags": [...], ...}  -> {"connected": n, ...}
  {"op": "mark"}      start recording round trips (and clear what was recorded)
  {"op": "collect"}   -> {"latencies_ms": [...], "timeouts": n, "errors": n, "open": n, ...}
  {"op": "quit"}
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from protocols.charging import OCPP_SUBPROTOCOL

# What a benchmark charge point answers when the central system asks it something.
ANSWERS: dict[str, dict[str, Any]] = {
    "ChangeAvailability": {"status": "Accepted"},
    "ChangeConfiguration": {"status": "Accepted"},
    "ClearCache": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted"},
    "GetConfiguration": {"configurationKey": [], "unknownKey": []},
    "GetLocalListVersion": {"listVersion": 0},
    "SendLocalList": {"status": "Accepted"},
    "TriggerMessage": {"status": "Rejected"},
    "RemoteStartTransaction": {"status": "Rejected"},
    "RemoteStopTransaction": {"status": "Rejected"},
    "Reset": {"status": "Rejected"},
    "UnlockConnector": {"status": "NotSupported"},
    "ReserveNow": {"status": "Rejected"},
    "CancelReservation": {"status": "Rejected"},
}


def stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class CallFailed(Exception):
    """The central system answered with a CALLERROR, or did not answer in time."""


@dataclass
class Stats:
    recording: bool = False
    latencies_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    errors: int = 0
    sent: int = 0
    disconnects: int = 0


@dataclass
class Plan:
    url: str
    heartbeat_s: float = 60.0
    meter_s: float = 15.0
    connectors: int = 1
    max_kw: float = 60.0
    timeout_s: float = 30.0


class FleetChargePoint:
    def __init__(self, cp_id: str, tag: str, plan: Plan, stats: Stats) -> None:
        self.cp_id, self.tag, self.plan, self.stats = cp_id, tag, plan, stats
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pending: dict[str, tuple[asyncio.Future[Any], float, bool]] = {}
        self.ids = itertools.count(1)
        self.transactions: dict[int, int] = {}
        self.register_wh = {c: 1_000_000.0 + random.randrange(100_000) for c in self._conns()}
        self.soc = {c: random.uniform(10.0, 40.0) for c in self._conns()}
        self.reader: asyncio.Task[None] | None = None
        self.driver: asyncio.Task[None] | None = None

    def _conns(self) -> range:
        return range(1, self.plan.connectors + 1)

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        ws = self.ws
        if ws is None or ws.closed:
            raise CallFailed("closed")
        unique = str(next(self.ids))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        record = self.stats.recording
        started = time.perf_counter()
        self.pending[unique] = (future, started, record)
        if record:
            self.stats.sent += 1
        await ws.send_str(json.dumps([2, unique, action, payload], separators=(",", ":")))
        try:
            async with asyncio.timeout(self.plan.timeout_s):
                return await future
        except TimeoutError:
            if record:
                self.stats.timeouts += 1
            raise CallFailed(f"{action}: no answer") from None
        finally:
            self.pending.pop(unique, None)

    async def read(self) -> None:
        ws = self.ws
        assert ws is not None
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.perf_counter()
            try:
                frame = json.loads(message.data)
                kind, unique = frame[0], frame[1]
            except (ValueError, IndexError, TypeError):
                continue
            if kind == 2:
                answer = ANSWERS.get(frame[2])
                reply: list[Any] = (
                    [3, unique, answer]
                    if answer is not None
                    else [4, unique, "NotImplemented", "", {}]
                )
                await ws.send_str(json.dumps(reply))
                continue
            entry = self.pending.get(unique)
            if entry is None:
                continue
            future, started, record = entry
            if future.done():
                continue
            if kind == 3:
                if record and self.stats.recording:
                    self.stats.latencies_ms.append((now - started) * 1000.0)
                future.set_result(frame[2])
            else:
                if record and self.stats.recording:
                    self.stats.errors += 1
                future.set_exception(CallFailed(f"{frame[2]}: {frame[3]}"))
        if self.stats.recording:
            self.stats.disconnects += 1
        for future, _, _ in self.pending.values():
            if not future.done():
                future.set_exception(CallFailed("closed"))

    async def connect(self, session: aiohttp.ClientSession) -> None:
        """Handshake, boot, statuses and a transaction per connector; then the steady load."""
        self.ws = await session.ws_connect(
            f"{self.plan.url.rstrip('/')}/{self.cp_id}",
            protocols=(OCPP_SUBPROTOCOL,),
            autoping=True,
            heartbeat=None,
            max_msg_size=1 << 20,
        )
        self.reader = asyncio.create_task(self.read())
        while True:
            boot = await self.call(
                "BootNotification",
                {"chargePointVendor": "Wayside", "chargePointModel": "FLEET-DC60"},
            )
            if boot.get("status") == "Accepted":
                break
            await asyncio.sleep(min(float(boot.get("interval") or 10), 10.0))
        for c in range(0, self.plan.connectors + 1):
            await self.status(c, "Available")
        for c in self._conns():
            await self.status(c, "Preparing")
            answer = await self.call(
                "StartTransaction",
                {
                    "connectorId": c,
                    "idTag": self.tag,
                    "meterStart": int(self.register_wh[c]),
                    "timestamp": stamp(),
                },
            )
            self.transactions[c] = int(answer["transactionId"])
            await self.status(c, "Charging")
        self.driver = asyncio.create_task(self.drive())

    async def status(self, connector: int, status: str) -> None:
        await self.call(
            "StatusNotification",
            {"connectorId": connector, "errorCode": "NoError", "status": status},
        )

    def meter_payload(self, c: int) -> dict[str, Any]:
        soc = self.soc[c]
        power_kw = self.plan.max_kw if soc < 80 else self.plan.max_kw * max(0.1, (100 - soc) / 20)
        wh = power_kw * 1000.0 * self.plan.meter_s / 3600.0
        self.register_wh[c] += wh
        self.soc[c] = soc + 100.0 * wh / 75_000.0 if soc < 99.0 else random.uniform(10.0, 40.0)
        return {
            "connectorId": c,
            "transactionId": self.transactions[c],
            "meterValue": [
                {
                    "timestamp": stamp(),
                    "sampledValue": [
                        {
                            "value": str(int(self.register_wh[c])),
                            "context": "Sample.Periodic",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        },
                        {
                            "value": f"{power_kw * 1000:.0f}",
                            "context": "Sample.Periodic",
                            "measurand": "Power.Active.Import",
                            "unit": "W",
                        },
                        {
                            "value": f"{self.soc[c]:.0f}",
                            "context": "Sample.Periodic",
                            "measurand": "SoC",
                            "unit": "Percent",
                            "location": "EV",
                        },
                    ],
                }
            ],
        }

    async def drive(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        next_heartbeat = start + random.uniform(0, self.plan.heartbeat_s)
        next_meter = {c: start + random.uniform(0, self.plan.meter_s) for c in self._conns()}
        while self.ws is not None and not self.ws.closed:
            due = min(next_heartbeat, *next_meter.values())
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                if loop.time() >= next_heartbeat:
                    next_heartbeat += self.plan.heartbeat_s
                    await self.call("Heartbeat", {})
                for c, when in next_meter.items():
                    if loop.time() >= when:
                        next_meter[c] = when + self.plan.meter_s
                        await self.call("MeterValues", self.meter_payload(c))
            except CallFailed:
                continue
            except (aiohttp.ClientError, ConnectionError):
                return

    async def close(self) -> None:
        for task in (self.driver, self.reader):
            if task is not None:
                task.cancel()
        if self.ws is not None:
            await self.ws.close()


class Fleet:
    def __init__(self) -> None:
        self.stats = Stats()
        self.points: list[FleetChargePoint] = []
        self.session: aiohttp.ClientSession | None = None

    async def connect(self, command: dict[str, Any]) -> dict[str, Any]:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0, force_close=False)
            self.session = aiohttp.ClientSession(connector=connector)
        plan = Plan(
            url=command["url"],
            heartbeat_s=float(command.get("heartbeat_s", 60)),
            meter_s=float(command.get("meter_s", 15)),
            connectors=int(command.get("connectors", 1)),
            timeout_s=float(command.get("timeout_s", 30)),
        )
        rate = float(command.get("rate", 200))  # handshakes started per second
        limit = asyncio.Semaphore(int(command.get("concurrency", 100)))
        errors: dict[str, int] = {}
        connected = 0

        async def one(cp_id: str, tag: str, delay: float) -> None:
            nonlocal connected
            await asyncio.sleep(delay)
            point = FleetChargePoint(cp_id, tag, plan, self.stats)
            async with limit:
                try:
                    await point.connect(self.session)  # type: ignore[arg-type]
                except (CallFailed, aiohttp.ClientError, OSError, KeyError, TypeError) as error:
                    name = f"{type(error).__name__}: {str(error)[:120]}"
                    errors[name] = errors.get(name, 0) + 1
                    await point.close()
                    return
            connected += 1
            self.points.append(point)

        started = time.monotonic()
        await asyncio.gather(
            *(
                one(cp_id, tag, n / rate)
                for n, (cp_id, tag) in enumerate(zip(command["ids"], command["tags"], strict=True))
            )
        )
        return {
            "connected": connected,
            "failed": len(command["ids"]) - connected,
            "errors": errors,
            "seconds": round(time.monotonic() - started, 2),
        }

    def mark(self) -> dict[str, Any]:
        self.stats = Stats(recording=True, disconnects=0)
        for point in self.points:
            point.stats = self.stats
        return {"ok": True}

    def collect(self) -> dict[str, Any]:
        stats = self.stats
        stats.recording = False
        open_links = sum(1 for p in self.points if p.ws is not None and not p.ws.closed)
        return {
            "latencies_ms": [round(x, 3) for x in stats.latencies_ms],
            "timeouts": stats.timeouts,
            "errors": stats.errors,
            "sent": stats.sent,
            "disconnects": stats.disconnects,
            "open": open_links,
        }

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.points), return_exceptions=True)
        if self.session is not None:
            await self.session.close()


def raise_nofile() -> None:
    """As many sockets as the hard limit allows (thousands of charge points per process)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve_stdio() -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    fleet = Fleet()
    try:
        while line := await reader.readline():
            command = json.loads(line)
            op = command.get("op")
            if op == "connect":
                answer = await fleet.connect(command)
            elif op == "mark":
                answer = fleet.mark()
            elif op == "collect":
                answer = fleet.collect()
            elif op == "quit":
                break
            else:
                answer = {"error": f"unknown op {op!r}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await fleet.close()


if __name__ == "__main__":
    asyncio.run(serve_stdio())
