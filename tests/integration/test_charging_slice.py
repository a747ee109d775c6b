"""Car charging end to end: the cloud's demo station, a real edge serving its chargers over OCPP
1.6J, and the `ocpp` package's own ChargePoint as an independent charger. A session becomes a
billed order in the cloud whether the cloud is there or away for the whole of it, and a remote
start and stop from the cloud drive the charger."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from ocpp.v16 import call

from cloud.charging.demo import DEMO_CARDS, DEMO_CHARGERS
from cloud.charging.models import Charger, ChargingOrder, ChargingTariffVersion, OrderState
from cloud.charging.order_schemas import RemoteStartIn
from cloud.charging.orders import start_remote, stop_remote
from cloud.demo import DEMO_ACCOUNT, populate
from cloud.org.models import User
from cloud.settings import CloudSettings
from edge.agent import build_edge_app
from edge.api import STORE
from edge.settings import EdgeSettings
from edge.store import Store
from protocols.charging import OCPP_SUBPROTOCOL
from protocols.tariffs import Reading, bill_charging, parse_tariff
from tests.conftest import free_port
from tests.e2e.seed import principal_of_user
from tests.integration.test_edge_ocpp import Adapter
from tests.integration.test_edge_ocpp import Charger as PeerCharger
from tests.support import CloudServer, demo_site_with_free_ports, enroll_edge, eventually

EDGE_ID = "charging-edge"
STATION = "south-charging"


@dataclass
class ChargingSlice:
    cloud: CloudServer
    edge: web.AppRunner
    port: int

    @property
    def store(self) -> Store:
        return self.edge.app[STORE]


@pytest.fixture
async def charging_slice(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> AsyncIterator[ChargingSlice]:
    document = demo_site_with_free_ports()
    await populate(document, EDGE_ID)
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    port = free_port()
    settings = EdgeSettings(
        port=port,
        store_path=tmp_path / "edge.db",
        snapshot_dir=tmp_path / "snapshots",
        key_path=tmp_path / "edge.key",
        identity_path=tmp_path / "identity.json",
        sync_retry_cap_s=1,
    )
    await enroll_edge(EDGE_ID, cloud.url, settings.key_path, settings.identity_path)
    edge = web.AppRunner(build_edge_app(settings, document))
    await edge.setup()
    await web.TCPSite(edge, "127.0.0.1", port).start()
    rig = ChargingSlice(cloud, edge, port)

    async def chargers_known() -> bool:
        """The handshake succeeds once the edge has pulled the station's chargers."""
        async with aiohttp.ClientSession() as session:
            url = f"ws://127.0.0.1:{port}/ocpp/{DEMO_CHARGERS[0]}"
            try:
                async with session.ws_connect(url, protocols=(OCPP_SUBPROTOCOL,)) as ws:
                    await ws.close()
                    return True
            except aiohttp.WSServerHandshakeError:
                return False

    await eventually(chargers_known, 15, "the edge knows the station's chargers")
    try:
        yield rig
    finally:
        await edge.cleanup()
        await cloud.stop()


@contextlib.asynccontextmanager
async def connected(rig: ChargingSlice, serial: str) -> AsyncIterator[PeerCharger]:
    """The package's ChargePoint connected to the edge as `serial`, booted."""
    async with aiohttp.ClientSession() as session:
        url = f"ws://127.0.0.1:{rig.port}/ocpp/{serial}"
        async with session.ws_connect(url, protocols=(OCPP_SUBPROTOCOL,)) as ws:
            peer = PeerCharger(serial, Adapter(ws))
            peer.setup()
            listener = asyncio.create_task(peer.start())
            try:
                boot = await peer.call(
                    call.BootNotification(charge_point_vendor="Demo", charge_point_model="DC-120")
                )
                assert boot.status == "Accepted"
                yield peer
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await listener


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _card_session(peer: PeerCharger, start: datetime) -> tuple[int, list[Reading]]:
    """A card at connector 1: 20 kWh over 30 minutes, one meter value midway. Returns the
    transaction id and the readings the bill is made of."""
    card = DEMO_CARDS[0]
    authorised = await peer.call(call.Authorize(id_tag=card))
    assert authorised.id_tag_info["status"] == "Accepted"
    started = await peer.call(
        call.StartTransaction(
            connector_id=1, id_tag=card, meter_start=1000, timestamp=_stamp(start)
        )
    )
    transaction = int(started.transaction_id)
    middle = start + timedelta(minutes=15)
    await peer.call(
        call.MeterValues(
            connector_id=1,
            transaction_id=transaction,
            meter_value=[
                {
                    "timestamp": _stamp(middle),
                    "sampledValue": [{"value": "11000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}],
                }
            ],
        )
    )  # fmt: skip
    end = start + timedelta(minutes=30)
    stopped = await peer.call(
        call.StopTransaction(
            meter_stop=21000, timestamp=_stamp(end), transaction_id=transaction, id_tag=card
        )
    )
    assert stopped is not None
    return transaction, [Reading(start, 1000), Reading(middle, 11000), Reading(end, 21000)]


async def _expected_total(readings: list[Reading]) -> int:
    version = await ChargingTariffVersion.all().order_by("-effective_from").first()
    assert version is not None
    return bill_charging(parse_tariff(version.document), readings).total_fen


async def _completed(transaction: int) -> ChargingOrder | None:
    return await ChargingOrder.filter(
        transaction_id=transaction, state=OrderState.completed
    ).first()


async def test_a_card_session_becomes_a_billed_order_in_the_cloud(
    charging_slice: ChargingSlice,
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=40)
    async with connected(charging_slice, DEMO_CHARGERS[0]) as peer:
        transaction, readings = await _card_session(peer, start)

    async def billed() -> bool:
        return await _completed(transaction) is not None

    await eventually(billed, 15, "the order reached the cloud, completed")
    order = await _completed(transaction)
    assert order is not None
    assert order.energy_wh == 20_000 and order.id_tag == DEMO_CARDS[0]
    assert order.total_fen == await _expected_total(readings) > 0
    assert "bill_mismatch" not in order.flags, "the edge and the cloud billed the same"


async def test_the_cloud_away_for_the_whole_session_loses_nothing(
    charging_slice: ChargingSlice,
) -> None:
    await charging_slice.cloud.stop()
    start = datetime.now(UTC) - timedelta(minutes=40)
    async with connected(charging_slice, DEMO_CHARGERS[1]) as peer:
        transaction, readings = await _card_session(peer, start)
    await asyncio.sleep(1.0)
    assert await ChargingOrder.all().count() == 0, "nothing crossed while the cloud was away"
    await charging_slice.cloud.start()

    async def billed() -> bool:
        return await _completed(transaction) is not None

    await eventually(billed, 20, "the offline session reached the cloud once it was back")
    order = await _completed(transaction)
    assert order is not None and order.total_fen == await _expected_total(readings)
    assert await ChargingOrder.all().count() == 1


async def test_a_remote_start_and_stop_from_the_cloud_drive_the_charger(
    charging_slice: ChargingSlice,
) -> None:
    admin = await User.get(account=DEMO_ACCOUNT)
    principal = principal_of_user(admin)
    charger = await Charger.get(serial=DEMO_CHARGERS[0])
    async with connected(charging_slice, DEMO_CHARGERS[0]) as peer:
        made = await start_remote(
            principal, RemoteStartIn(charger_id=charger.id, connector=2, id_tag=DEMO_CARDS[1])
        )
        assert made.state == OrderState.starting

        async def asked_to_start() -> bool:
            return any(action == "RemoteStartTransaction" for action, _ in peer.asked)

        await eventually(asked_to_start, 15, "the charger was asked to start")
        started = await peer.call(
            call.StartTransaction(
                connector_id=2,
                id_tag=DEMO_CARDS[1],
                meter_start=0,
                timestamp=_stamp(datetime.now(UTC)),
            )
        )

        async def charging() -> bool:
            row = await ChargingOrder.get(id=made.id)
            return row.state == OrderState.charging

        await eventually(charging, 15, "the cloud's order is charging under its own uuid")
        row = await ChargingOrder.get(id=made.id)
        assert row.transaction_id == int(started.transaction_id)

        stopping = await stop_remote(principal, made.id)
        assert stopping.state == OrderState.stopping

        async def asked_to_stop() -> bool:
            return any(action == "RemoteStopTransaction" for action, _ in peer.asked)

        await eventually(asked_to_stop, 15, "the charger was asked to stop")
        await peer.call(
            call.StopTransaction(
                meter_stop=3000,
                timestamp=_stamp(datetime.now(UTC)),
                transaction_id=int(started.transaction_id),
                reason="Remote",
            )
        )

    async def completed() -> bool:
        return (await ChargingOrder.get(id=made.id)).state == OrderState.completed

    await eventually(completed, 15, "the stop report completed the order")
    assert (await ChargingOrder.get(id=made.id)).energy_wh == 3000
