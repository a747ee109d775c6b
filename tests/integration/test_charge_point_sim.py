"""The charge point simulator over a real WebSocket against a central system: boot, heartbeats,
a remote start metered along the charging curve, the stop's transactionData, the offline
queue replayed in order, Reset and a plain reconnect, the commands firmware must answer, and
the firmware quirks.

The last tests run against the edge's own central system (edge/ocpp, driven through its
charger commands, its records read back). The others run against the benchmark's reference
(tests/bench/ocpp_reference.py, from the `ocpp` package's documented example) served in
process by aiohttp, so a test can send it CALLs (RemoteStart, Reset...) and read every frame
it received. Intervals are scaled down.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from firmware_sim.charge_point import ChargePointConfig, ChargePointSimulator, Quirks
from protocols.sync import CommandKind
from tests.bench.ocpp_reference import ChargePoint as ReferenceChargePoint
from tests.conftest import free_port
from tests.integration.test_edge_ocpp import (
    Edge,
    _count,
    command,
    ocpp_settings,
    run_command,
    running_edge,
    station_state,
)
from tests.support import eventually


class Adapter:
    """Server side of one WebSocket for the `ocpp` package, recording what arrives."""

    def __init__(self, ws: web.WebSocketResponse, frames: list[list[Any]]) -> None:
        self.ws, self.frames = ws, frames

    async def recv(self) -> str:
        message = await self.ws.receive()
        if message.type != WSMsgType.TEXT:
            raise ConnectionError("closed")
        self.frames.append(json.loads(message.data))
        return str(message.data)

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)


class PendingFirst(ReferenceChargePoint):
    """Answers the first BootNotification Pending, then Accepted."""

    booted = 0

    @on(Action.boot_notification)
    def on_boot_notification(self, **kwargs: Any) -> call_result.BootNotification:
        PendingFirst.booted += 1
        status = "Pending" if PendingFirst.booted == 1 else "Accepted"
        return call_result.BootNotification(
            current_time=datetime.now(UTC).isoformat(), interval=10, status=status
        )


class Lenient(ReferenceChargePoint):
    """Takes numbers sent as strings (schema validation off, as a lenient mode would)."""

    @on(Action.status_notification, skip_schema_validation=True)
    def on_status_notification(self, **kwargs: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.start_transaction, skip_schema_validation=True)
    def on_start_transaction(self, **kwargs: Any) -> call_result.StartTransaction:
        Lenient.issued += 1
        return call_result.StartTransaction(
            transaction_id=Lenient.issued, id_tag_info={"status": "Accepted"}
        )

    @on(Action.meter_values, skip_schema_validation=True)
    def on_meter_values(self, **kwargs: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    issued = 100


class Central:
    """The reference central system, in process; knows its charge points by id."""

    def __init__(self, cls: type[ReferenceChargePoint] = ReferenceChargePoint) -> None:
        self.cls = cls
        self.points: dict[str, ReferenceChargePoint] = {}
        self.frames: list[list[Any]] = []
        self.connects = 0
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=["ocpp1.6"])
        await ws.prepare(request)
        self.connects += 1
        point = self.cls(request.match_info["cp"], Adapter(ws, self.frames))
        self.points[point.id] = point
        try:
            await point.start()
        except ConnectionError:
            pass
        return ws

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ocpp/{cp}", self.handler)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def calls(self, action: str) -> list[dict[str, Any]]:
        return [f[3] for f in self.frames if f[0] == 2 and f[2] == action]

    async def send(self, cp_id: str, payload: Any) -> Any:
        return await self.points[cp_id].call(payload)


@pytest.fixture
async def centrals() -> AsyncIterator[Callable[[type[ReferenceChargePoint]], Any]]:
    """Starts central systems of a given ChargePoint class; stopped after the charge points
    (ask for this fixture before `sims`)."""
    started: list[Central] = []

    async def make(cls: type[ReferenceChargePoint]) -> Central:
        server = Central(cls)
        await server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        await server.stop()


@pytest.fixture
async def central(centrals: Callable[[type[ReferenceChargePoint]], Any]) -> Central:
    server: Central = await centrals(ReferenceChargePoint)
    return server


def config(url: str, **overrides: Any) -> ChargePointConfig:
    values: dict[str, Any] = {
        "charge_point_id": "CP-1",
        "url": url,
        "connectors": 2,
        "max_kw": 120.0,
        "battery_kwh": 20.0,
        "start_soc": 70.0,
        "meter_interval_s": 0.05,
        "interval_scale": 0.005,  # the central system's 60 s heartbeat: every 0.3 s
        "time_scale": 1200.0,  # a 0.05 s sample: one minute of charging
        "reconnect_s": 0.05,
    }
    return ChargePointConfig(**(values | overrides))


@pytest.fixture
async def sims() -> AsyncIterator[Callable[[ChargePointConfig], ChargePointSimulator]]:
    started: list[ChargePointSimulator] = []

    def make(cfg: ChargePointConfig) -> ChargePointSimulator:
        sim = ChargePointSimulator(cfg)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.stop()


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - polls what arrives over the sockets
            await asyncio.sleep(0.01)


def register(sampled: list[dict[str, Any]], context: str = "Sample.Periodic") -> float:
    for value in sampled:
        if value["measurand"] == "Energy.Active.Import.Register" and value["context"] == context:
            scale = 1000.0 if value["unit"] == "kWh" else 1.0
            return float(value["value"]) * scale
    raise LookupError(context)


def reading(sampled: list[dict[str, Any]], measurand: str) -> float:
    return next(float(v["value"]) for v in sampled if v["measurand"] == measurand)


async def test_boots_once_reports_every_connector_and_heartbeats(
    central: Central, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    sim = sims(config(central.url))
    await sim.start()
    await sim.wait_online()
    await until(lambda: len(central.calls("Heartbeat")) >= 2)
    assert [c["chargePointModel"] for c in central.calls("BootNotification")] == ["SIM-DC120"]
    statuses = {(s["connectorId"], s["status"]) for s in central.calls("StatusNotification")}
    assert statuses >= {(0, "Available"), (1, "Available"), (2, "Available")}
    # Nothing came before the boot was answered.
    first = next(f for f in central.frames if f[0] == 2)
    assert first[2] == "BootNotification"


async def test_pending_boot_is_retried_after_the_interval_and_nothing_else_is_sent(
    centrals: Callable[[type[ReferenceChargePoint]], Any],
    sims: Callable[[ChargePointConfig], ChargePointSimulator],
) -> None:
    PendingFirst.booted = 0
    server: Central = await centrals(PendingFirst)
    sim = sims(config(server.url, interval_scale=0.02))  # 10 s Pending interval: 0.2 s
    await sim.start()
    await sim.wait_online()
    actions = [f[2] for f in server.frames if f[0] == 2]
    assert actions[:2] == ["BootNotification", "BootNotification"]
    assert sim.boots == 2 and sim.registration == "Accepted"


async def test_remote_start_meters_along_the_curve_and_the_stop_carries_transaction_data(
    central: Central, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    sim = sims(config(central.url, time_scale=300.0))  # a 0.05 s sample: 15 s of charging
    await sim.start()
    await sim.wait_online()
    answer = await central.send("CP-1", call.RemoteStartTransaction(id_tag="CARD1", connector_id=2))
    assert answer.status == "Accepted"
    await until(lambda: len(central.calls("StartTransaction")) == 1)
    start = central.calls("StartTransaction")[0]
    assert start["connectorId"] == 2 and start["idTag"] == "CARD1"
    transaction_id = await sim.wait_transaction_id(2)
    await until(lambda: len(central.calls("MeterValues")) >= 12)
    answer = await central.send("CP-1", call.RemoteStopTransaction(transaction_id=transaction_id))
    assert answer.status == "Accepted"
    await until(lambda: len(central.calls("StopTransaction")) == 1)

    samples = [m["meterValue"][0]["sampledValue"] for m in central.calls("MeterValues")]
    assert all(m["transactionId"] == transaction_id for m in central.calls("MeterValues"))
    energy = [register(s) for s in samples]
    power = [reading(s, "Power.Active.Import") for s in samples]
    soc = [reading(s, "SoC") for s in samples]
    assert energy == sorted(energy) and energy[0] >= start["meterStart"]
    assert all(0 <= p <= 120_000 for p in power)
    assert soc == sorted(soc) and soc[0] >= 70
    # Ramp-up in the first half minute, then full power, then the taper above 80 % SoC.
    assert power[0] < 120_000
    assert max(power) == pytest.approx(120_000)
    tapered = [p for p, s in zip(power, soc, strict=True) if s > 85]
    assert tapered and max(tapered) < 120_000

    stop = central.calls("StopTransaction")[0]
    assert stop["transactionId"] == transaction_id and stop["reason"] == "Remote"
    data = stop["transactionData"]
    assert data[0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert data[-1]["sampledValue"][0]["context"] == "Transaction.End"
    assert register(data[0]["sampledValue"], "Transaction.Begin") == start["meterStart"]
    assert stop["meterStop"] == register(data[-1]["sampledValue"], "Transaction.End")
    assert stop["meterStop"] >= energy[-1]

    def statuses() -> list[str]:
        calls = central.calls("StatusNotification")
        return [s["status"] for s in calls if s["connectorId"] == 2]

    await until(lambda: statuses()[-1] == "Finishing")
    statuses_now = statuses()
    assert statuses_now[-3:] == ["Preparing", "Charging", "Finishing"] or statuses_now[-4:] == [
        "Preparing",
        "Charging",
        "SuspendedEV",
        "Finishing",
    ]
    await sim.unplug(2)
    await until(lambda: central.calls("StatusNotification")[-1]["status"] == "Available")


async def test_offline_messages_are_replayed_in_time_order_without_a_new_boot(
    central: Central, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    sim = sims(config(central.url, connectors=1))
    await sim.start()
    await sim.wait_online()
    assert await sim.swipe("CARD1")
    first_id = await sim.wait_transaction_id(1)
    await until(lambda: len(central.calls("MeterValues")) >= 2)

    await sim.cut_link()
    online_frames = len(central.frames)
    await asyncio.sleep(0.4)  # about eight samples taken offline
    await sim.stop_transaction(1, "Local")
    # A card from the local list starts a second transaction while still offline.
    sim.local_list["CARD2"] = {"status": "Accepted"}
    assert await sim.swipe("CARD2")
    await asyncio.sleep(0.2)
    assert len(central.frames) == online_frames  # nothing got through
    sim.restore_link()
    await until(lambda: len(central.calls("StopTransaction")) == 1)
    await until(lambda: len(central.calls("StartTransaction")) == 2)
    second_id = await sim.wait_transaction_id(1)
    await until(
        lambda: any(m.get("transactionId") == second_id for m in central.calls("MeterValues"))
    )

    assert len(central.calls("BootNotification")) == 1 and sim.boots == 1
    assert central.connects == 2
    replayed = [f for f in central.frames[online_frames:] if f[0] == 2]
    transactional = [
        f for f in replayed if f[2] in ("MeterValues", "StartTransaction", "StopTransaction")
    ]
    stamps = [
        f[3]["meterValue"][0]["timestamp"] if f[2] == "MeterValues" else f[3]["timestamp"]
        for f in transactional
    ]
    assert stamps == sorted(stamps)
    offline_meter = [
        f for f in transactional if f[2] == "MeterValues" and f[3]["transactionId"] == first_id
    ]
    assert len(offline_meter) >= 4
    kinds = [f[2] for f in transactional]
    assert kinds.index("StopTransaction") < kinds.index("StartTransaction")
    energies = [register(m["meterValue"][0]["sampledValue"]) for m in central.calls("MeterValues")]
    assert energies == sorted(energies)


async def test_reset_reboots_and_a_plain_drop_does_not(
    central: Central, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    sim = sims(config(central.url, connectors=1))
    await sim.start()
    await sim.wait_online()
    await sim.drop_link()
    await until(lambda: central.connects == 2 and sim.online.is_set())
    assert sim.boots == 1

    assert await sim.swipe("CARD1")
    await sim.wait_transaction_id(1)
    answer = await central.send("CP-1", call.Reset(type="Soft"))
    assert answer.status == "Accepted"
    await until(lambda: sim.boots == 2 and sim.online.is_set())
    assert len(central.calls("BootNotification")) == 2
    assert central.calls("StopTransaction")[0]["reason"] == "SoftReset"
    assert central.connects == 3


async def test_commands_firmware_answers(
    central: Central, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    sim = sims(config(central.url))
    await sim.start()
    await sim.wait_online()
    send = central.send

    answer = await send("CP-1", call.ChangeConfiguration(key="HeartbeatInterval", value="120"))
    assert answer.status == "Accepted"
    answer = await send("CP-1", call.ChangeConfiguration(key="NumberOfConnectors", value="4"))
    assert answer.status == "Rejected"
    answer = await send("CP-1", call.ChangeConfiguration(key="NoSuchKey", value="1"))
    assert answer.status == "NotSupported"
    answer = await send("CP-1", call.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
    assert answer.configuration_key == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "120"}
    ]
    assert answer.unknown_key == ["Nope"]

    entries = [{"idTag": "CARD9", "idTagInfo": {"status": "Accepted"}}]
    answer = await send("CP-1", call.SendLocalList(3, "Full", entries))
    assert answer.status == "Accepted"
    assert (await send("CP-1", call.GetLocalListVersion())).list_version == 3
    stale = call.SendLocalList(2, "Differential", [{"idTag": "CARD9"}])
    assert (await send("CP-1", stale)).status == "VersionMismatch"

    expiry = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    answer = await send("CP-1", call.ReserveNow(1, expiry, "CARD9", 77))
    assert answer.status == "Accepted"
    await until(lambda: sim.connector(1).status == "Reserved")
    assert not await sim.swipe("OTHER", 1)  # reserved for someone else
    assert (await send("CP-1", call.CancelReservation(77))).status == "Accepted"
    assert (await send("CP-1", call.CancelReservation(77))).status == "Rejected"

    answer = await send("CP-1", call.ChangeAvailability(2, "Inoperative"))
    assert answer.status == "Accepted"
    await until(
        lambda: (
            {"connectorId": 2, "status": "Unavailable"}.items()
            <= central.calls("StatusNotification")[-1].items()
        )
    )
    answer = await send("CP-1", call.RemoteStartTransaction(id_tag="CARD1", connector_id=2))
    assert answer.status == "Rejected"

    heartbeats = len(central.calls("Heartbeat"))
    assert (await send("CP-1", call.TriggerMessage("Heartbeat"))).status == "Accepted"
    await until(lambda: len(central.calls("Heartbeat")) > heartbeats)
    assert (await send("CP-1", call.TriggerMessage("StatusNotification", 9))).status == "Rejected"

    assert await sim.swipe("CARD1", 1)
    await sim.wait_transaction_id(1)
    assert (await send("CP-1", call.UnlockConnector(1))).status == "Unlocked"
    await until(lambda: len(central.calls("StopTransaction")) == 1)
    assert central.calls("StopTransaction")[0]["reason"] == "UnlockCommand"

    answer = await send("CP-1", call.DataTransfer("wayside", "hotline", "400-000"))
    assert answer.status == "Accepted"
    assert (await send("CP-1", call.DataTransfer("acme"))).status == "UnknownVendorId"
    assert sim.data_transfers[0] == ("wayside", "hotline", "400-000")


async def test_quirks_go_on_the_wire(
    centrals: Callable[[type[ReferenceChargePoint]], Any],
    sims: Callable[[ChargePointConfig], ChargePointSimulator],
) -> None:
    central: Central = await centrals(Lenient)
    quirks = Quirks(
        energy_kwh=True,
        register_reset_per_session=True,
        duplicate_begin_sample=True,
        resend_start=True,
        numbers_as_strings=True,
    )
    sim = sims(config(central.url, connectors=1, quirks=quirks))
    await sim.start()
    await sim.wait_online()
    assert await sim.swipe("CARD1")
    await until(lambda: len(central.calls("MeterValues")) >= 2)
    first, second = central.calls("StartTransaction")
    assert first == second  # the same request again: its answer was "lost"
    assert first["meterStart"] == "0" and first["connectorId"] == "1"
    lost, kept = sim.duplicate_starts[0]
    transaction = sim.connector(1).transaction
    assert transaction is not None and transaction.id == kept != lost
    meter = central.calls("MeterValues")[0]
    assert meter["transactionId"] == str(kept)
    sampled = meter["meterValue"][0]["sampledValue"]
    energy = [v for v in sampled if v["measurand"] == "Energy.Active.Import.Register"]
    assert {(v["context"], v["unit"]) for v in energy} == {
        ("Sample.Periodic", "kWh"),
        ("Transaction.Begin", "kWh"),
    }
    assert next(v["value"] for v in energy if v["context"] == "Transaction.Begin") == "0.000"


# --- against the edge's central system (edge/ocpp) ---------------------------------------------


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async with running_edge(ocpp_settings(tmp_path), station_state()) as running:
        yield running


async def periodic_energy(edge: Edge, meter_values: int) -> list[int]:
    """The registers the edge recorded from the MeterValues (its first events; the stop's
    transactionData comes after them as one more)."""
    events = await edge.events("charging.metered")
    return [int(s["energy_wh"]) for m in events[:meter_values] for s in m["samples"]]


def edge_config(edge: Edge, **overrides: Any) -> ChargePointConfig:
    # CP1 of the edge tests' station: two connectors, a 30 s heartbeat (0.15 s here).
    return config(edge.url("CP1").removesuffix("/CP1"), charge_point_id="CP1", **overrides)


async def test_edge_boot_heartbeats_and_a_remote_session_billed(
    edge: Edge, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    sim = sims(edge_config(edge, time_scale=300.0))
    await sim.start()
    await sim.wait_online()
    assert sim.registration == "Accepted" and sim.settings["HeartbeatInterval"] == "30"
    await until(lambda: len(sim.calls("Heartbeat")) >= 2)

    order = "0b7c1a52-3d4e-4f7a-9b1c-2d3e4f5a6b70"
    started = await run_command(
        edge,
        command(
            CommandKind.charger_remote_start,
            charge_point="CP1",
            connector=2,
            id_tag="APP1",
            order=order,
        ),
    )
    assert started["status"] == "done"
    transaction_id = await sim.wait_transaction_id(2)
    await until(lambda: len(sim.calls("MeterValues")) >= 8)
    stopped = await run_command(
        edge, command(CommandKind.charger_remote_stop, charge_point="CP1", order=order)
    )
    assert stopped["status"] == "done"
    await until(lambda: len(sim.calls("StopTransaction")) == 1)
    await eventually(lambda: _count(edge, "charging.stopped", 1), 5, "stopped")

    [begun] = await edge.events("charging.started")
    assert begun["order"] == order and begun["transaction_id"] == transaction_id
    metered = await periodic_energy(edge, len(sim.calls("MeterValues")))
    assert metered == sorted(metered) and len(metered) >= 8
    [bill] = await edge.events("charging.stopped")
    stop = sim.calls("StopTransaction")[0]
    start = sim.calls("StartTransaction")[0]
    assert bill["energy_wh"] == stop["meterStop"] - start["meterStart"] > 0
    assert bill["bill"]["total_fen"] > 0
    assert sim.boots == 1


async def test_edge_gets_the_offline_session_in_order_without_a_new_boot(
    edge: Edge, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    sim = sims(edge_config(edge, connectors=1))
    await sim.start()
    await sim.wait_online()
    assert await sim.swipe("CARD1")
    transaction_id = await sim.wait_transaction_id(1)
    await sim.cut_link()
    await asyncio.sleep(0.3)
    await sim.stop_transaction(1, "Local", id_tag="CARD1")
    sim.restore_link()
    await eventually(lambda: _count(edge, "charging.stopped", 1), 5, "stopped after replay")
    [stopped] = await edge.events("charging.stopped")
    stop = sim.calls("StopTransaction")[0]
    assert stopped["transaction_id"] == transaction_id
    assert (
        stopped["energy_wh"] == stop["meterStop"] - sim.calls("StartTransaction")[0]["meterStart"]
    )
    metered = await periodic_energy(edge, len(sim.calls("MeterValues")))
    assert len(metered) >= 4 and metered == sorted(metered)
    assert sim.boots == 1 and sim.connections == 2


async def test_edge_reset_command_reboots_the_charger(
    edge: Edge, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    sim = sims(edge_config(edge))
    await sim.start()
    await sim.wait_online()
    result = await run_command(edge, command(CommandKind.charger_reset, charge_point="CP1"))
    assert result["status"] == "done"
    await until(lambda: sim.boots == 2 and sim.online.is_set())
    assert sim.connections == 2


async def test_edge_answers_a_resent_start_with_the_same_id_and_reads_kwh(
    edge: Edge, sims: Callable[[ChargePointConfig], ChargePointSimulator]
) -> None:
    quirks = Quirks(energy_kwh=True, duplicate_begin_sample=True, resend_start=True)
    sim = sims(edge_config(edge, connectors=1, quirks=quirks))
    await sim.start()
    await sim.wait_online()
    assert await sim.swipe("CARD1")
    await sim.wait_transaction_id(1)
    await until(lambda: len(sim.calls("MeterValues")) >= 3)
    await sim.swipe("CARD1")
    await eventually(lambda: _count(edge, "charging.stopped", 1), 5, "stopped")
    [(lost, kept)] = sim.duplicate_starts
    assert lost == kept
    [stopped] = await edge.events("charging.stopped")
    start, stop = sim.calls("StartTransaction")[0], sim.calls("StopTransaction")[0]
    assert stopped["energy_wh"] == stop["meterStop"] - start["meterStart"]
    metered = [s["energy_wh"] for m in await edge.events("charging.metered") for s in m["samples"]]
    # Billed from the periodic register (kWh read as such), never from the Begin sample's 0.
    assert all(wh >= start["meterStart"] - 1 for wh in metered)
