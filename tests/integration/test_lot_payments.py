"""A paid lot end to end: camera -> edge -> Modbus barrier, display and guidance simulators, edge
<-> cloud through sync, the driver's phone on the lane QR pages, and the simulated payment
channel calling back with its signed notification."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from tortoise.transactions import in_transaction

from cloud.demo import DEMO_ACCOUNT, DEMO_PASSWORD, populate
from cloud.parking.models import (
    OrderState,
    ParkingOrder,
    ParkingPayment,
    ParkingPaymentState,
    ParkingSite,
    ParkingTariff,
)
from cloud.parking.publish import publish_parking_site
from cloud.payments.channels import SIGNATURE_HEADER, SimulatedChannel, sign
from cloud.settings import CloudSettings
from cloud.sites.models import Command, CommandState, Site, SyncEvent
from cloud.state import publish
from edge.agent import build_edge_app
from edge.settings import EdgeSettings
from firmware_sim.site import SimulatedLane, SimulatedSite, start_site, stop_site
from firmware_sim.snapshot import SNAPSHOT_JPEG
from protocols.charging import TariffGrant, TariffVersionGrant
from protocols.parking import tariff_key
from protocols.sync import Entity
from tests.conftest import free_port, make_tenant
from tests.support import CloudServer, demo_site_with_free_ports, enroll_edge, eventually

EDGE_ID = "lot-edge"
PLATE = "苏E54321"
FLAT_500 = {
    "kind": "parking",
    "name": "按次5元",
    "elements": [{"label": "按次", "components": [{"kind": "flat", "price_fen": 500}]}],
}
FORM_FIELD = re.compile(r'name="(_csrf|session)" value="([^"]+)"')


@dataclass
class Lot:
    cloud: CloudServer
    site: SimulatedSite
    edge_port: int
    snapshots: Path

    def lane(self, code: str) -> SimulatedLane:
        return next(lane for lane in self.site.lanes if lane.code == code)

    def phone(self) -> aiohttp.ClientSession:
        """A driver's phone: its own cookies (the mobile pages' CSRF and ticket cookies)."""
        return aiohttp.ClientSession(
            base_url=self.cloud.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )


async def _priced_lot() -> None:
    """east-lot (the demo's lot) billed 5 yuan a visit instead of the demo's tariff, published
    to its edge as a lot's tariff is."""
    site = await Site.get(code="east-lot")
    async with in_transaction():
        tariff = await ParkingTariff.create(
            tenant_id=site.tenant_id, name="按次", document=FLAT_500
        )
        place = await ParkingSite.get(site_id=site.id)
        place.tariff_id = tariff.id
        await place.save()
        grant = TariffGrant(
            versions=[TariffVersionGrant(effective_from="2026-01-01", document=FLAT_500)]  # type: ignore[arg-type]
        )
        await publish(site.id, Entity.tariff, tariff_key(tariff.id), grant)
        await publish_parking_site(place)


@pytest.fixture
async def lot(db: str, cloud_settings: CloudSettings, tmp_path: Path) -> AsyncIterator[Lot]:
    document = demo_site_with_free_ports()
    await populate(document, EDGE_ID)
    await _priced_lot()
    settings_with_dir = cloud_settings.model_copy(update={"snapshot_dir": tmp_path / "cloud"})
    cloud = CloudServer(settings_with_dir)
    await cloud.start()
    edge_port = free_port()
    settings = EdgeSettings(
        port=edge_port,
        store_path=tmp_path / "edge.db",
        snapshot_dir=tmp_path / "snapshots",
        key_path=tmp_path / "edge.key",
        identity_path=tmp_path / "identity.json",
        sync_retry_cap_s=1,
        modbus_timeout_s=0.5,
    )
    await enroll_edge(EDGE_ID, cloud.url, settings.key_path, settings.identity_path)
    edge = web.AppRunner(build_edge_app(settings, document))
    await edge.setup()
    await web.TCPSite(edge, "127.0.0.1", edge_port).start()
    async with aiohttp.ClientSession() as session:
        site = await start_site(document, f"http://127.0.0.1:{edge_port}", session, hold_s=0.2)

        async def priced() -> bool:
            async with session.get(f"http://127.0.0.1:{edge_port}/healthz") as resp:
                body = await resp.json()
            return bool(body["revisions"].get("east-lot", 0) >= 3)

        await eventually(priced, 10, "the edge pulled the lot's tariff")
        try:
            yield Lot(cloud, site, edge_port, tmp_path / "cloud")
        finally:
            await stop_site(site)
            await edge.cleanup()
            await cloud.stop()


async def _fields(resp: aiohttp.ClientResponse) -> dict[str, str]:
    assert resp.status == 200, await resp.text()
    return dict(FORM_FIELD.findall(await resp.text()))


async def _assessed(plate: str) -> bool:
    rows = await SyncEvent.filter(type="parking.fee_assessed")
    return any(row.payload.get("plate") == plate for row in rows)


async def test_the_exit_holds_the_fee_and_the_lane_qr_payment_opens_the_barrier(
    lot: Lot,
) -> None:
    entry, exit_ = lot.lane("lot-in"), lot.lane("lot-out")
    assert entry.barrier is not None and exit_.barrier is not None and exit_.display is not None
    board = lot.site.guidance["east-lot"]
    await board.wait_free(120)
    await entry.camera.push(PLATE)
    await entry.barrier.wait_opens(1)
    await board.wait_free(119)
    await exit_.camera.push(PLATE)
    await eventually(lambda: _shows_fee(exit_), 3, "the exit display shows the fee")
    assert exit_.barrier.opens == 0, "the barrier stays shut until the fee is paid"
    await eventually(lambda: _assessed(PLATE), 5, "the assessment reached the cloud")
    async with lot.phone() as phone:
        page = await phone.get("/m/demo/lot/lot-out/pay")
        text = await page.text()
        assert PLATE in text and 'data-owed="500"' in text
        fields = await _fields(page)
        paid = await phone.post("/m/demo/lot/lot-out/pay", data=fields, allow_redirects=False)
        assert paid.status == 302
        status_url = paid.headers["Location"]
        assert "/m/demo/lot/payments/PL" in status_url
        # The simulated channel notifies the cloud by itself (about a second later).
        await exit_.barrier.wait_opens(1, timeout_s=10)
        shown = await (await phone.get(status_url)).text()
        assert 'data-state="paid"' in shown
    await board.wait_free(120)

    async def completed() -> bool:
        order = await ParkingOrder.filter(plate=PLATE).first()
        return order is not None and order.state == OrderState.completed

    await eventually(completed, 5, "the order is completed in the cloud")
    order = await ParkingOrder.get(plate=PLATE)
    assert (order.due_fen, order.paid_fen) == (500, 500)
    payment = await ParkingPayment.get(plate=PLATE)
    assert payment.state == ParkingPaymentState.paid and payment.lane == "lot-out"

    async def answered() -> bool:
        # The edge's command.result may travel in the push after the session's end.
        return (await Command.get(kind="lane_paid")).state == CommandState.done

    await eventually(answered, 5, "the edge answered the lane_paid command")


async def _shows_fee(lane: SimulatedLane) -> bool:
    frame = lane.display.frame if lane.display is not None else None
    return frame is not None and frame.line1 == PLATE and frame.line2.endswith("请缴费5.00元")


async def test_a_callback_delivered_twice_or_badly_signed_changes_nothing_more(
    lot: Lot,
) -> None:
    entry, exit_ = lot.lane("lot-in"), lot.lane("lot-out")
    assert exit_.barrier is not None
    await entry.camera.push(PLATE)
    await exit_.camera.push(PLATE)
    await eventually(lambda: _assessed(PLATE), 5, "the assessment reached the cloud")
    async with lot.phone() as phone:
        fields = await _fields(await phone.get("/m/demo/lot/lot-out/pay"))
        await phone.post("/m/demo/lot/lot-out/pay", data=fields, allow_redirects=False)
        payment = await ParkingPayment.get(plate=PLATE)
        sim = SimulatedChannel()
        body = sim.notification_body(payment.channel_ref, payment.number, payment.amount_fen)
        forged = await phone.post(
            "/payments/callback/sim",
            data=body,
            headers={SIGNATURE_HEADER: "0" * 64, "Content-Type": "application/json"},
        )
        assert forged.status == 400
        assert (await ParkingPayment.get(id=payment.id)).state == ParkingPaymentState.created
        assert not await Command.filter(kind="lane_paid").exists()
        headers = {SIGNATURE_HEADER: sign(sim.secret, body), "Content-Type": "application/json"}
        for _ in range(2):
            resp = await phone.post("/payments/callback/sim", data=body, headers=headers)
            assert resp.status == 200 and (await resp.json())["state"] == "paid"
    await exit_.barrier.wait_opens(1, timeout_s=10)
    # The channel's own notification comes too (a third delivery): still one command.
    await eventually(lambda: _command_done(), 5, "the lane_paid command reported done by the edge")
    assert await Command.filter(kind="lane_paid").count() == 1
    assert exit_.barrier.opens == 1


async def _command_done() -> bool:
    return await Command.filter(kind="lane_paid", state=CommandState.done).exists()


async def test_a_vehicle_without_a_plate_takes_a_ticket_and_pays_by_it(lot: Lot) -> None:
    entry, exit_ = lot.lane("lot-in"), lot.lane("lot-out")
    assert entry.barrier is not None and exit_.barrier is not None
    await entry.camera.push("")
    assert entry.barrier.opens == 0
    async with lot.phone() as phone:
        fields = await _fields(await phone.get("/m/demo/lot/lot-in/ticket"))
        taken = await phone.post("/m/demo/lot/lot-in/ticket", data=fields, allow_redirects=False)
        assert taken.status == 302
        await entry.barrier.wait_opens(1, timeout_s=10)
        ticket = next(c.value for c in phone.cookie_jar if c.key == "wayside_lot_ticket")
        assert ticket.startswith("NP")
        await exit_.camera.push("")
        fields = await _fields(await phone.get("/m/demo/lot/lot-out/pay"))
        shown = await phone.post("/m/demo/lot/lot-out/ticket", data=fields, allow_redirects=False)
        assert shown.headers["Location"] == "/m/demo/lot/lot-out/pay"
        await eventually(lambda: _assessed(ticket), 10, "the ticket's fee reached the cloud")
        page = await phone.get("/m/demo/lot/lot-out/pay")
        text = await page.text()
        assert ticket in text and 'data-owed="500"' in text
        fields = await _fields(page)
        await phone.post("/m/demo/lot/lot-out/pay", data=fields, allow_redirects=False)
        await exit_.barrier.wait_opens(1, timeout_s=10)
    assert await SyncEvent.filter(type="parking.no_plate_ticket").exists()


async def test_a_lane_snapshot_reaches_the_cloud_for_its_tenant_only(lot: Lot) -> None:
    entry = lot.lane("lot-in")
    await entry.camera.push(PLATE, snapshot=SNAPSHOT_JPEG)
    tenant = (await Site.get(code="east-lot")).tenant_id

    def stored() -> list[Path]:
        return [p for p in (lot.snapshots / str(tenant)).rglob("*.jpg")]

    async def arrived() -> bool:
        return bool(stored())

    await eventually(arrived, 10, "the snapshot arrived in the cloud")
    (path,) = stored()
    assert path.read_bytes() == SNAPSHOT_JPEG
    name = str(path.relative_to(lot.snapshots / str(tenant)))
    async with lot.phone() as admin:
        login = await admin.post(
            "/api/v1/auth/login", json={"account": DEMO_ACCOUNT, "password": DEMO_PASSWORD}
        )
        assert login.status == 200
        resp = await admin.get(f"/parking/snapshots/{name}")
        assert resp.status == 200 and await resp.read() == SNAPSHOT_JPEG
    other = await make_tenant("other")
    async with lot.phone() as stranger:
        login = await stranger.post(
            "/api/v1/auth/login", json={"account": other.account, "password": other.password}
        )
        assert login.status == 200
        assert (await stranger.get(f"/parking/snapshots/{name}")).status == 404
