"""The edge's OCPP 1.6J central system against the `ocpp` package's own ChargePoint as the
charger, over a real WebSocket on a real port, with the events it records read back."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from cloud.passwords import hash_password
from edge.agent import build_edge_app
from edge.api import CENTRAL, COMMANDS, STORE
from edge.ocpp.central import CentralSystem
from edge.settings import EdgeSettings
from edge.store import Store
from protocols.site import SiteDocument
from protocols.sync import Command, CommandKind, Entity, SiteState, StateChange
from protocols.tariffs import uniform_charging
from tests.integration.test_edge_lanes import edge_settings
from tests.support import eventually

SITE = "station"
PASSWORD = "s3cret-pass"


def station_document() -> SiteDocument:
    return SiteDocument.model_validate(
        {"tenant": "t", "sites": [{"code": SITE, "name": "站", "kind": "charging_station"}]}
    )


def charger(**extra: Any) -> dict[str, Any]:
    return {"name": "一号桩", "station": SITE, "connectors": 2, "tariff": "t1", **extra}


def station_state() -> SiteState:
    tariff = uniform_charging("标准", 80, 40).model_dump(mode="json")
    later = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    changes = [
        StateChange(entity=Entity.charger, key="CP1", data=charger(heartbeat_s=30)),
        StateChange(entity=Entity.charger, key="CP-LENIENT", data=charger(lenient=True)),
        StateChange(entity=Entity.charger, key="CP-OFF", data=charger(enabled=False)),
        StateChange(
            entity=Entity.charger, key="CP-PW", data=charger(password_hash=hash_password(PASSWORD))
        ),
        StateChange(
            entity=Entity.tariff,
            key="t1",
            data={"versions": [{"effective_from": "2020-01-01", "document": tariff}]},
        ),
        StateChange(entity=Entity.id_tag, key="CARD1", data={"kind": "card"}),
        StateChange(entity=Entity.id_tag, key="APP1", data={"kind": "app"}),
        StateChange(
            entity=Entity.id_tag, key="BLOCKED", data={"kind": "card", "status": "Blocked"}
        ),
        StateChange(entity=Entity.id_tag, key="OLD", data={"kind": "card", "expires_at": later}),
    ]
    return SiteState(site=SITE, revision=1, full=True, changes=changes)


class Adapter:
    """The package's client over aiohttp's client WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def recv(self) -> str:
        message = await self.ws.receive()
        if message.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"closed: {message.type}")
        return str(message.data)

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)


class Charger(ChargePoint):
    """An independent peer: the package's charge point, answering what the edge asks."""

    answers: dict[str, Any]
    asked: list[tuple[str, dict[str, Any]]]

    def setup(self) -> None:
        self.answers = {}
        self.asked = []

    def _asked(self, action: str, kwargs: dict[str, Any], default: Any) -> Any:
        self.asked.append((action, kwargs))
        return self.answers.get(action, default)

    @on(Action.reset)
    def on_reset(self, **kw: Any) -> Any:
        return self._asked("Reset", kw, call_result.Reset(status="Accepted"))

    @on(Action.change_availability)
    def on_availability(self, **kw: Any) -> Any:
        return self._asked(
            "ChangeAvailability", kw, call_result.ChangeAvailability(status="Accepted")
        )

    @on(Action.change_configuration)
    def on_configure(self, **kw: Any) -> Any:
        return self._asked(
            "ChangeConfiguration", kw, call_result.ChangeConfiguration(status="Accepted")
        )

    @on(Action.get_configuration)
    def on_get_config(self, **kw: Any) -> Any:
        return self._asked(
            "GetConfiguration",
            kw,
            call_result.GetConfiguration(
                configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "30"}],
                unknown_key=["Nope"],
            ),
        )

    @on(Action.trigger_message)
    def on_trigger(self, **kw: Any) -> Any:
        return self._asked("TriggerMessage", kw, call_result.TriggerMessage(status="Accepted"))

    @on(Action.unlock_connector)
    def on_unlock(self, **kw: Any) -> Any:
        return self._asked("UnlockConnector", kw, call_result.UnlockConnector(status="Unlocked"))

    @on(Action.reserve_now)
    def on_reserve(self, **kw: Any) -> Any:
        return self._asked("ReserveNow", kw, call_result.ReserveNow(status="Accepted"))

    @on(Action.cancel_reservation)
    def on_cancel(self, **kw: Any) -> Any:
        return self._asked(
            "CancelReservation", kw, call_result.CancelReservation(status="Accepted")
        )

    @on(Action.data_transfer)
    def on_data(self, **kw: Any) -> Any:
        return self._asked("DataTransfer", kw, call_result.DataTransfer(status="Accepted"))

    @on(Action.get_local_list_version)
    def on_list_version(self, **kw: Any) -> Any:
        return self._asked(
            "GetLocalListVersion", kw, call_result.GetLocalListVersion(list_version=0)
        )

    @on(Action.send_local_list)
    def on_send_list(self, **kw: Any) -> Any:
        return self._asked("SendLocalList", kw, call_result.SendLocalList(status="Accepted"))

    @on(Action.remote_start_transaction)
    def on_remote_start(self, **kw: Any) -> Any:
        return self._asked(
            "RemoteStartTransaction", kw, call_result.RemoteStartTransaction(status="Accepted")
        )

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, **kw: Any) -> Any:
        return self._asked(
            "RemoteStopTransaction", kw, call_result.RemoteStopTransaction(status="Accepted")
        )


@dataclass
class Edge:
    app: web.Application
    server: TestServer
    session: aiohttp.ClientSession

    @property
    def store(self) -> Store:
        return self.app[STORE]

    @property
    def central(self) -> CentralSystem:
        return self.app[CENTRAL]

    def url(self, charge_point: str) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ocpp/{charge_point}"

    async def events(self, event_type: str) -> list[dict[str, Any]]:
        rows = await self.store.read(
            "select payload from outbox where type = ? order by seq", (event_type,)
        )
        return [json.loads(payload) for (payload,) in rows]

    @asynccontextmanager
    async def charger(
        self,
        charge_point: str = "CP1",
        boot: bool = True,
        protocols: tuple[str, ...] = ("ocpp1.6",),
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[Charger]:
        ws = await self.session.ws_connect(
            self.url(charge_point), protocols=protocols, headers=headers or {}
        )
        client = Charger(charge_point, Adapter(ws), response_timeout=5)
        client.setup()
        task = asyncio.create_task(client.start())
        try:
            if boot:
                answer = await client.call(
                    call.BootNotification(charge_point_model="M1", charge_point_vendor="V1")
                )
                assert answer.status == "Accepted"
            yield client
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await ws.close()


def ocpp_settings(tmp: Path, **extra: Any) -> EdgeSettings:
    base = edge_settings(tmp)
    values = base.model_dump()
    values.update(ocpp_suspend_check_s=0.1, ocpp_remote_start_timeout_s=1.0, ocpp_ping_s=0, **extra)
    return EdgeSettings.model_validate(values)


@asynccontextmanager
async def running_edge(
    settings: EdgeSettings, state: SiteState | None = None
) -> AsyncIterator[Edge]:
    app = build_edge_app(settings, station_document(), sync=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        if state is not None:
            await app[STORE].apply_state(state)
        async with aiohttp.ClientSession() as session:
            yield Edge(app, server, session)
    finally:
        await server.close()


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async with running_edge(ocpp_settings(tmp_path), station_state()) as running:
        yield running


def now_text(delta_s: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat().replace("+00:00", "Z")


def command(kind: CommandKind, **payload: Any) -> Command:
    import uuid

    now = datetime.now(UTC)
    return Command(
        id=uuid.uuid4(),
        kind=kind,
        site=SITE,
        payload=payload,
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
    )


async def run_command(edge: Edge, cmd: Command) -> dict[str, Any]:
    await edge.app[COMMANDS].handle(cmd)
    results = [r for r in await edge.events("command.result") if r["command"] == str(cmd.id)]
    assert len(results) == 1
    return results[0]


def energy(wh: float, unit: str = "Wh", at: str | None = None, **extra: Any) -> dict[str, Any]:
    sample = {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": unit}
    return {"timestamp": at or now_text(), "sampledValue": [{**sample, **extra}]}


# --- handshake ------------------------------------------------------------------------------------


async def test_unknown_and_disabled_ids_are_refused_at_the_handshake(edge: Edge) -> None:
    for charge_point, status in (("NOPE", 404), ("CP-OFF", 403)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await edge.session.ws_connect(edge.url(charge_point), protocols=("ocpp1.6",))
        assert refused.value.status == status
    assert edge.central.sessions == {}


async def test_basic_auth_is_checked(edge: Edge) -> None:
    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    for headers in ({}, basic("CP-PW", "wrong"), basic("CP1", PASSWORD)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await edge.session.ws_connect(
                edge.url("CP-PW"), protocols=("ocpp1.6",), headers=headers
            )
        assert refused.value.status == 401
    async with edge.charger("CP-PW", headers=basic("CP-PW", PASSWORD)) as cp:
        assert (await cp.call(call.Heartbeat())).current_time


async def test_missing_subprotocol_only_for_lenient_chargers(edge: Edge) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await edge.session.ws_connect(edge.url("CP1"))
    assert refused.value.status == 400
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await edge.session.ws_connect(edge.url("CP1"), protocols=("ocpp2.0.1",))
    async with edge.charger("CP-LENIENT", protocols=()) as cp:
        assert (await cp.call(call.Heartbeat())).current_time


# --- core messages --------------------------------------------------------------------------------


async def test_boot_heartbeat_status_authorize(edge: Edge) -> None:
    async with edge.charger() as cp:
        boot = await cp.call(
            call.BootNotification(
                charge_point_model="M2", charge_point_vendor="V2", firmware_version="1.2"
            )
        )
        assert boot.interval == 30
        heartbeat = await cp.call(call.Heartbeat())
        assert abs(datetime.fromisoformat(heartbeat.current_time) - datetime.now(UTC)) < timedelta(
            seconds=5
        )
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        answers = {}
        for tag in ("CARD1", "BLOCKED", "OLD", "WHO"):
            answers[tag] = (await cp.call(call.Authorize(id_tag=tag))).id_tag_info["status"]
        assert answers == {
            "CARD1": "Accepted",
            "BLOCKED": "Blocked",
            "OLD": "Expired",
            "WHO": "Invalid",
        }
    statuses = await edge.events("charging.connector_status")
    assert statuses[-1]["status"] == "Available" and statuses[-1]["connector"] == 1
    links = await edge.events("charging.link")
    assert links[0]["online"] is True
    await eventually(lambda: _count(edge, "charging.link", 2), 3, "the disconnect recorded")
    links = await edge.events("charging.link")
    assert links[-1]["online"] is False and links[-1]["vendor"] == "V2"


async def _count(edge: Edge, event_type: str, n: int) -> bool:
    return len(await edge.events(event_type)) >= n


async def test_a_session_start_meter_stop_is_billed(edge: Edge) -> None:
    started = datetime.now(UTC) - timedelta(minutes=30)
    stamp = started.isoformat()
    async with edge.charger() as cp:
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="CARD1", meter_start=1000, timestamp=stamp)
        )
        assert start.id_tag_info["status"] == "Accepted"
        tx = start.transaction_id
        again = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="CARD1", meter_start=1000, timestamp=stamp)
        )
        assert again.transaction_id == tx  # a resent start: the same id
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[
                    {
                        "timestamp": (started + timedelta(minutes=10)).isoformat(),
                        "sampledValue": [
                            {"value": "0", "context": "Transaction.Begin"},
                            {"value": "3.5", "unit": "kWh", "context": "Sample.Periodic"},
                            {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"},
                        ],
                    }
                ],
            )
        )
        await cp.call(
            call.StopTransaction(
                meter_stop=11000,
                timestamp=now_text(),
                transaction_id=tx,
                reason="EVDisconnected",
                id_tag="CARD1",
                transaction_data=[energy(8000, at=(started + timedelta(minutes=20)).isoformat())],
            )
        )
    [begun] = await edge.events("charging.started")
    assert begun["transaction_id"] == tx and begun["method"] == "card"
    assert begun["tariff"] == "t1" and begun["tariff_version"] == "2020-01-01"
    metered = await edge.events("charging.metered")
    assert [s["energy_wh"] for m in metered for s in m["samples"]] == [3500, 8000]
    assert metered[0]["samples"][0]["power_w"] == 7000
    [stopped] = await edge.events("charging.stopped")
    assert stopped["energy_wh"] == 10_000 and stopped["flags"] == []
    assert stopped["bill"]["energy_wh"] == 10_000
    assert stopped["bill"]["total_fen"] == 1200  # 10 kWh at 0.80 + 0.40
    assert stopped["order"] == begun["order"]


async def test_transaction_ids_increase_and_unknown_stops_are_unmatched(edge: Edge) -> None:
    async with edge.charger() as cp:
        ids = []
        for connector in (1, 2):
            start = await cp.call(
                call.StartTransaction(
                    connector_id=connector, id_tag="CARD1", meter_start=0, timestamp=now_text()
                )
            )
            ids.append(start.transaction_id)
        assert ids[0] < ids[1]
        answer = await cp.call(
            call.StopTransaction(meter_stop=5, timestamp=now_text(), transaction_id=-16)
        )
        assert answer.id_tag_info is None
        # Below its start: recorded, flagged, no negative energy.
        await cp.call(
            call.StopTransaction(meter_stop=0, timestamp=now_text(), transaction_id=ids[0])
        )
    [unmatched] = await edge.events("charging.unmatched_stop")
    assert unmatched["transaction_id"] == -16
    [stopped] = await edge.events("charging.stopped")
    assert stopped["energy_wh"] == 0


async def test_meter_below_start_is_flagged(edge: Edge) -> None:
    async with edge.charger() as cp:
        tx = (
            await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="CARD1", meter_start=5000, timestamp=now_text(-60)
                )
            )
        ).transaction_id
        await cp.call(
            call.StopTransaction(meter_stop=4000, timestamp=now_text(), transaction_id=tx)
        )
    [stopped] = await edge.events("charging.stopped")
    assert stopped["energy_wh"] == 0 and "meter_below_start" in stopped["flags"]
    assert stopped["bill"]["total_fen"] == 0


async def test_malformed_frames_get_callerrors_and_the_link_stays_up(edge: Edge) -> None:
    ws = await edge.session.ws_connect(edge.url("CP1"), protocols=("ocpp1.6",))
    try:
        cases = [
            ("this is not json", "FormationViolation"),
            ('[2, "a1", "Heartbeat"]', "ProtocolError"),
            ('[2, "a2", "StatusNotification", {"connectorId": "one", "errorCode": "NoError",'
             ' "status": "Available"}]', "TypeConstraintViolation"),
            ('[2, "a3", "StatusNotification", {"connectorId": 1, "errorCode": "Error",'
             ' "status": "Available"}]', "PropertyConstraintViolation"),
            ('[2, "a4", "Authorize", {}]', "ProtocolError"),
            ('[2, "a5", "Authorize", {"idTag": "X", "extra": 1}]', "FormationViolation"),
            ('[2, "a6", "MeterValues", {"connectorId": 1, "meterValue": []}]',
             "OccurenceConstraintViolation"),
            ('[2, "a7", "Authorize", {"idTag": "123456789012345678901"}]',
             "TypeConstraintViolation"),
            ('[2, "a8", "FlyToTheMoon", {}]', "NotSupported"),
            ('[2, "a9", "SignCertificate", {"csr": "x"}]', "NotImplemented"),
            ('[7, "b1", {}]', "PropertyConstraintViolation"),
        ]  # fmt: skip
        for frame, code in cases:
            await ws.send_str(frame)
            answer = json.loads((await ws.receive(timeout=5)).data)
            assert answer[0] == 4 and answer[2] == code, (frame, answer)
        await ws.send_str('[2, "ok", "Heartbeat", {}]')
        answer = json.loads((await ws.receive(timeout=5)).data)
        assert answer[:2] == [3, "ok"] and "currentTime" in answer[2]
    finally:
        await ws.close()


async def test_lenient_charger_is_normalised(edge: Edge) -> None:
    ws = await edge.session.ws_connect(edge.url("CP-LENIENT"), protocols=("ocpp1.6",))
    try:
        await ws.send_str(
            '[2, "s1", "StatusNotification", {"connectorid": "1", "errorCode": "Error",'
            ' "status": "available"}]'
        )
        answer = json.loads((await ws.receive(timeout=5)).data)
        assert answer == [3, "s1", {}]
        await ws.send_str(
            '[2, "s2", "StartTransaction", {"connectorId": "2", "idTag": 1234,'
            f' "meterStart": "100", "timestamp": "{now_text()}"}}]'
        )
        answer = json.loads((await ws.receive(timeout=5)).data)
        assert answer[0] == 3 and answer[2]["transactionId"] >= 1
    finally:
        await ws.close()
    statuses = await edge.events("charging.connector_status")
    assert statuses[-1]["status"] == "Available" and statuses[-1]["error_code"] == "OtherError"
    [begun] = await edge.events("charging.started")
    assert begun["id_tag"] == "1234" and begun["method"] == "offline"


# --- remote commands ------------------------------------------------------------------------------


async def test_remote_start_gives_the_cloud_order_to_the_transaction(edge: Edge) -> None:
    order = "6f7c1a52-3d4e-4f7a-9b1c-2d3e4f5a6b7c"
    async with edge.charger() as cp:
        result = await run_command(
            edge,
            command(
                CommandKind.charger_remote_start,
                charge_point="CP1",
                connector=1,
                id_tag="APP1",
                order=order,
            ),
        )
        assert result["status"] == "done" and "Accepted" in result["detail"]
        assert cp.asked[-1] == ("RemoteStartTransaction", {"id_tag": "APP1", "connector_id": 1})
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="APP1", meter_start=0, timestamp=now_text()
            )
        )
        stop = await run_command(
            edge, command(CommandKind.charger_remote_stop, charge_point="CP1", order=order)
        )
        assert stop["status"] == "done"
        assert cp.asked[-1] == ("RemoteStopTransaction", {"transaction_id": start.transaction_id})
    [begun] = await edge.events("charging.started")
    assert begun["order"] == order and begun["method"] == "app"


async def test_remote_start_refused_or_not_followed_fails(edge: Edge) -> None:
    async with edge.charger() as cp:
        cp.answers["RemoteStartTransaction"] = call_result.RemoteStartTransaction(status="Rejected")
        refused = await run_command(
            edge,
            command(
                CommandKind.charger_remote_start,
                charge_point="CP1",
                connector=1,
                id_tag="APP1",
                order="11111111-1111-4111-8111-111111111111",
            ),
        )
        assert refused["status"] == "failed" and "Rejected" in refused["detail"]
        del cp.answers["RemoteStartTransaction"]
        accepted = await run_command(
            edge,
            command(
                CommandKind.charger_remote_start,
                charge_point="CP1",
                connector=2,
                id_tag="APP1",
                order="22222222-2222-4222-8222-222222222222",
            ),
        )
        assert accepted["status"] == "done"
        await eventually(lambda: _count(edge, "charging.start_failed", 2), 5, "the start timed out")
    failed = await edge.events("charging.start_failed")
    assert [f["order"][:8] for f in failed] == ["11111111", "22222222"]
    assert "no StartTransaction" in failed[1]["reason"]


async def test_every_other_command_reaches_the_charger(edge: Edge) -> None:
    expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    async with edge.charger() as cp:
        cases: list[tuple[CommandKind, dict[str, Any], str]] = [
            (CommandKind.charger_reset, {"type": "Hard"}, "Reset"),
            (CommandKind.charger_availability, {"type": "Inoperative", "connector": 2}, "ChangeAvailability"),
            (CommandKind.charger_configure, {"key": "HeartbeatInterval", "value": "60"}, "ChangeConfiguration"),
            (CommandKind.charger_get_config, {"keys": ["HeartbeatInterval"]}, "GetConfiguration"),
            (CommandKind.charger_trigger, {"requested": "StatusNotification", "connector": 1}, "TriggerMessage"),
            (CommandKind.charger_unlock, {"connector": 1}, "UnlockConnector"),
            (CommandKind.charger_reserve, {"connector": 1, "reservation_id": 7, "id_tag": "CARD1", "expires_at": expiry}, "ReserveNow"),
            (CommandKind.charger_cancel_reserve, {"reservation_id": 7}, "CancelReservation"),
            (CommandKind.charger_data_transfer, {"message_id": "x", "data": "y"}, "DataTransfer"),
            (CommandKind.charger_clock_sync, {}, "DataTransfer"),
            (CommandKind.charger_push_tariff, {}, "DataTransfer"),
            (CommandKind.charger_local_list, {}, "SendLocalList"),
        ]  # fmt: skip
        for kind, payload, action in cases:
            result = await run_command(edge, command(kind, charge_point="CP1", **payload))
            assert result["status"] == "done", (kind, result)
            assert cp.asked[-1][0] == action, (kind, cp.asked[-1])
        config = [
            r for r in await edge.events("command.result") if r["kind"] == "charger_get_config"
        ]
        assert json.loads(config[0]["detail"])["configurationKey"][0]["value"] == "30"
        sent = cp.asked[-1][1]
        assert sent["list_version"] >= 1 and sent["update_type"] == "Full"
        assert {e["id_tag"] for e in sent["local_authorization_list"]} == {
            "CARD1",
            "APP1",
            "BLOCKED",
            "OLD",
        }
        tariff = [
            a for a in cp.asked if a[0] == "DataTransfer" and a[1].get("message_id") == "tariff"
        ]
        assert json.loads(tariff[0][1]["data"])["version"] == "2020-01-01"
        cp.answers["Reset"] = call_result.Reset(status="Rejected")
        refused = await run_command(edge, command(CommandKind.charger_reset, charge_point="CP1"))
        assert refused["status"] == "failed" and "Rejected" in refused["detail"]
    offline = await run_command(edge, command(CommandKind.charger_reset, charge_point="CP1"))
    assert offline["status"] == "failed" and "not connected" in offline["detail"]


async def test_no_calls_before_boot_is_answered(edge: Edge) -> None:
    ws = await edge.session.ws_connect(edge.url("CP1"), protocols=("ocpp1.6",))
    try:
        await eventually(lambda: _connected(edge, "CP1"), 3, "connected")
        task = asyncio.create_task(
            edge.app[COMMANDS].handle(command(CommandKind.charger_reset, charge_point="CP1"))
        )
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.5)  # nothing sent to a charger that has not booted
        await ws.send_str(
            '[2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]'
        )
        boot = json.loads((await ws.receive(timeout=5)).data)
        assert boot[0] == 3 and boot[2]["status"] == "Accepted"
        reset = json.loads((await ws.receive(timeout=5)).data)
        assert reset[0] == 2 and reset[2] == "Reset"
        await ws.send_str(json.dumps([3, reset[1], {"status": "Accepted"}]))
        await task
    finally:
        await ws.close()


async def _connected(edge: Edge, charge_point: str) -> bool:
    return charge_point in edge.central.sessions


# --- drops, restarts, offline replay --------------------------------------------------------------


async def test_charger_drops_mid_session_and_comes_back_without_booting(edge: Edge) -> None:
    async with edge.charger() as cp:
        tx = (
            await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="CARD1", meter_start=0, timestamp=now_text(-120)
                )
            )
        ).transaction_id
    await eventually(lambda: _not_connected(edge, "CP1"), 3, "gone")
    async with edge.charger(boot=False) as cp:
        await cp.call(
            call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[energy(2000)])
        )
        result = await run_command(edge, command(CommandKind.charger_trigger, charge_point="CP1"))
        assert result["status"] == "done"  # talking without a boot: ready for CALLs
        await cp.call(
            call.StopTransaction(meter_stop=3000, timestamp=now_text(), transaction_id=tx)
        )
    [stopped] = await edge.events("charging.stopped")
    assert stopped["transaction_id"] == tx and stopped["energy_wh"] == 3000


async def _not_connected(edge: Edge, charge_point: str) -> bool:
    return charge_point not in edge.central.sessions


async def test_silent_charger_suspends_its_transaction(tmp_path: Path) -> None:
    settings = ocpp_settings(tmp_path, ocpp_suspend_after_s=0.3)
    async with running_edge(settings, station_state()) as edge, edge.charger() as cp:
        await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="CARD1", meter_start=0, timestamp=now_text()
            )
        )
        await eventually(lambda: _count(edge, "charging.suspended", 1), 3, "suspended")
        await cp.call(call.Heartbeat())
        await eventually(lambda: _count(edge, "charging.suspended", 2), 3, "resumed")
        flags = [e["suspended"] for e in await edge.events("charging.suspended")]
        assert flags == [True, False]


async def test_edge_restart_mid_session_bills_on_stop(tmp_path: Path) -> None:
    settings = ocpp_settings(tmp_path)
    started = datetime.now(UTC) - timedelta(minutes=40)
    async with running_edge(settings, station_state()) as edge, edge.charger() as cp:
        tx = (
            await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="CARD1", meter_start=500, timestamp=started.isoformat()
                )
            )
        ).transaction_id
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[energy(2500, at=(started + timedelta(minutes=10)).isoformat())],
            )
        )
    async with running_edge(settings) as edge:  # state comes from the store, not a new sync
        async with edge.charger(boot=False) as cp:
            await cp.call(
                call.StopTransaction(meter_stop=5500, timestamp=now_text(), transaction_id=tx)
            )
            start = await cp.call(
                call.StartTransaction(
                    connector_id=2, id_tag="CARD1", meter_start=0, timestamp=now_text()
                )
            )
            assert start.transaction_id > tx  # ids continue after a restart
        [stopped] = await edge.events("charging.stopped")
        assert stopped["transaction_id"] == tx and stopped["energy_wh"] == 5000
        assert stopped["bill"]["total_fen"] == 600  # 5 kWh at 1.20


async def test_offline_queue_replayed_in_order_closes_the_order(edge: Edge) -> None:
    """A charger that ran a session while its link was down sends it all when it returns."""
    t0 = datetime.now(UTC) - timedelta(hours=1)

    def at(minutes: int) -> str:
        return (t0 + timedelta(minutes=minutes)).isoformat()

    async with edge.charger(boot=False) as cp:
        tx = (
            await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="CARD1", meter_start=0, timestamp=at(0)
                )
            )
        ).transaction_id
        for minute, wh in ((15, 4000), (30, 8000)):
            await cp.call(
                call.MeterValues(
                    connector_id=1, transaction_id=tx, meter_value=[energy(wh, at=at(minute))]
                )
            )
        await cp.call(call.StopTransaction(meter_stop=10_000, timestamp=at(40), transaction_id=tx))
    kinds = [
        t
        for (t,) in await edge.store.read(
            "select type from outbox where type like 'charging.%' order by seq"
        )
        if t != "charging.link"
    ]
    assert kinds == ["charging.started", "charging.metered", "charging.metered", "charging.stopped"]
    [stopped] = await edge.events("charging.stopped")
    assert stopped["stopped_at"].startswith(at(40)[:16]) and stopped["bill"]["total_fen"] == 1200
