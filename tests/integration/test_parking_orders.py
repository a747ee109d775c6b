"""Parking orders driven through the real signed sync push: lot sessions and berth stays from
an edge and a collector's PDA become orders, bills, payments and arrears; arrears are
published to every lot and road section; void, the lists, their totals and the export go
through the JSON API and the pages."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.parking.models import (
    Arrears,
    ArrearsState,
    Berth,
    BerthStatus,
    OrderState,
    ParkingOrder,
    ParkingPayment,
    ParkingSite,
    ParkingTariff,
    PayState,
)
from cloud.sites.models import Edge, Site, StateChange
from protocols import sync as wire
from protocols.site import SiteKind
from protocols.tariffs import bill_parking, per_period_parking
from tests.conftest import TenantAdmin, make_tenant, sign_in
from tests.support import SigningEdge, eventually

Client = TestClient[web.Request, web.Application]
API = "/api/v1"
# 15 free minutes, then 2 yuan per started half hour.
TARIFF = per_period_parking("临停", step_minutes=30, price_fen=200, free_minutes=15)
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
PLATE = "京A12345"


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def expected_bill(entered: datetime, exited: datetime, plate: str = PLATE) -> dict[str, Any]:
    """The bill the edge computes with the same evaluator."""
    return bill_parking(TARIFF, entered, exited).as_dict()


@dataclass
class Device:
    """An enrolled edge (a site's agent or a collector's PDA) that pushes signed batches."""

    signing: SigningEdge
    seq: int = 0

    def event(self, kind: str, site: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        return {
            "seq": self.seq,
            "uuid": str(uuid.uuid4()),
            "type": kind,
            "site": site,
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"site": site, **payload},
        }

    async def push(self, cloud: Client, events: list[dict[str, Any]]) -> None:
        status, body = await self.signing.post(cloud, wire.EVENTS_PATH, {"events": events})
        assert status == 200, body
        assert body == {"acked_seq": events[-1]["seq"]}


@dataclass
class Parking:
    admin: TenantAdmin
    lot: Site
    section: Site
    other_lot: Site
    berth: Berth
    tariff: ParkingTariff
    edge: Device
    pda: Device
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sites(self) -> list[Site]:
        return [self.lot, self.section, self.other_lot]


async def make_parking(code: str = "alpha") -> Parking:
    admin = await make_tenant(code)
    tenant = admin.tenant
    tariff = await ParkingTariff.create(
        tenant=tenant, name="临停", document=TARIFF.model_dump(mode="json")
    )
    lot = await Site.create(
        tenant=tenant, code=f"{code}-lot", name="一号停车场", kind=SiteKind.parking_lot
    )
    section = await Site.create(
        tenant=tenant, code=f"{code}-road", name="人民路", kind=SiteKind.street_section
    )
    other = await Site.create(
        tenant=tenant, code=f"{code}-lot2", name="二号停车场", kind=SiteKind.parking_lot
    )
    await ParkingSite.create(tenant=tenant, site=lot, region="东区", street="东街", tariff=tariff)
    await ParkingSite.create(
        tenant=tenant, site=section, region="西区", street="人民路", tariff=tariff
    )
    await ParkingSite.create(tenant=tenant, site=other, region="东区", street="北街", tariff=tariff)
    berth = await Berth.create(
        tenant=tenant, site=section, code=f"{code}-R-001", number="001", sensor="GM-1"
    )
    devices = []
    for name, sites in ((f"{code}-edge", [lot, section]), (f"{code}-pda", [section])):
        signing = SigningEdge(name)
        edge = await Edge.create(
            tenant=tenant,
            code=name,
            name=name,
            public_key=signing.public_key,
            enrolled_at=datetime.now(UTC),
        )
        for site in sites:
            await edge.sites.add(site)
        devices.append(Device(signing))
    return Parking(admin, lot, section, other, berth, tariff, devices[0], devices[1])


async def api_login(cloud: Client, place: Parking) -> dict[str, str]:
    resp = await cloud.post(
        f"{API}/auth/login", json={"account": place.admin.account, "password": place.admin.password}
    )
    assert resp.status == 200, await resp.text()
    return {"X-CSRF-Token": (await resp.json())["csrf_token"]}


# --- events --------------------------------------------------------------------------------------


def access(
    place: Parking, lane: str, direction: str, moment: datetime, snapshot: str, session: str
) -> dict[str, Any]:
    return place.edge.event(
        "access.decided",
        place.lot.code,
        {
            "gate": "g1", "lane": lane, "direction": direction, "plate": PLATE,
            "confidence": 95, "verdict": "open", "reason": "default",
            "read_at": moment.isoformat(), "snapshot": snapshot, "session": session,
        },
    )  # fmt: skip


def arrived(dev: Device, place: Parking, session: str, moment: datetime) -> dict[str, Any]:
    return dev.event(
        "berth.arrived",
        place.section.code,
        {"session": session, "berth": place.berth.code, "sensor": "GM-1", "at": moment.isoformat()},
    )


def departed(dev: Device, place: Parking, session: str, moment: datetime) -> dict[str, Any]:
    return dev.event(
        "berth.departed",
        place.section.code,
        {"session": session, "berth": place.berth.code, "sensor": "GM-1", "at": moment.isoformat()},
    )


def plate_set(
    dev: Device, place: Parking, session: str, moment: datetime, plate: str = PLATE
) -> dict[str, Any]:
    return dev.event(
        "parking.plate_set",
        place.section.code,
        {"session": session, "berth": place.berth.code, "plate": plate, "collector": "c01",
         "at": moment.isoformat()},
    )  # fmt: skip


def paid(
    dev: Device,
    place: Parking,
    session: str,
    amount: int,
    moment: datetime,
    payment: uuid.UUID | None = None,
) -> dict[str, Any]:
    return dev.event(
        "parking.paid",
        place.section.code,
        {"payment": str(payment or uuid.uuid4()), "session": session, "amount_fen": amount,
         "method": "cash", "collector": "c01", "at": moment.isoformat()},
    )  # fmt: skip


async def latest(site: Site, entity: str, key: str) -> StateChange | None:
    return (
        await StateChange.filter(site_id=site.id, entity=entity, key=key)
        .order_by("-revision")
        .first()
    )


async def arrears_published(place: Parking, plate: str = PLATE) -> list[dict[str, Any] | None]:
    """The plate's arrears grant as each parking site last received it."""
    found = []
    for site in place.sites:
        change = await latest(site, "arrears", plate)
        found.append(None if change is None else change.data)
    return found


async def berth_stay(
    cloud: Client, place: Parking, start: datetime, end: datetime, plate: str = PLATE
) -> ParkingOrder:
    session = str(uuid.uuid4())
    await place.edge.push(cloud, [arrived(place.edge, place, session, start)])
    await place.pda.push(
        cloud, [plate_set(place.pda, place, session, start + timedelta(minutes=2), plate)]
    )
    await place.edge.push(cloud, [departed(place.edge, place, session, end)])
    return await ParkingOrder.get(uuid=session)


# --- lots --------------------------------------------------------------------------------------


async def test_a_lot_session_becomes_a_completed_order_billed_like_the_edge(cloud: Client) -> None:
    place = await make_parking()
    session = str(uuid.uuid4())
    entered, exited = at(1, 0), at(3, 10)
    bill = expected_bill(entered, exited)
    assert bill["total_fen"] == 1000  # 130 minutes after the 15 free: 5 half hours
    await place.edge.push(
        cloud,
        [
            access(place, "in1", "entry", entered, "in-1.jpg", session),
            place.edge.event(
                "parking.session_started", place.lot.code,
                {"session": session, "lane": "in1", "plate": PLATE, "entered_at": entered.isoformat()},
            ),
        ],
    )  # fmt: skip
    row = await ParkingOrder.get(uuid=session)
    assert (row.state, row.pay_state) == (OrderState.in_progress, PayState.unpaid)
    assert (row.vehicle_class, row.vehicle_type) == ("small", "temporary")
    await place.edge.push(
        cloud,
        [
            access(place, "out1", "exit", exited, "out-1.jpg", session),
            place.edge.event(
                "parking.session_ended", place.lot.code,
                {"session": session, "lane": "out1", "plate": PLATE, "exited_at": exited.isoformat(),
                 "entered_at": entered.isoformat(), "due_fen": 1000, "paid_fen": 1000, "bill": bill,
                 "tariff": f"parking:{place.tariff.id}"},
            ),
        ],
    )  # fmt: skip
    row = await ParkingOrder.get(uuid=session)
    assert row.state == OrderState.completed and row.pay_state == PayState.paid
    assert (row.due_fen, row.paid_fen, row.exit_lane) == (1000, 1000, "out1")
    assert row.bill is not None and row.bill["cloud"] == bill and row.edge_bill == bill
    assert row.bill["mismatch"] is False
    assert not await Arrears.exists()
    headers = await api_login(cloud, place)
    detail = await (
        await cloud.get(f"{API}/parking-orders/{row.id}/detail", headers=headers)
    ).json()
    assert detail["cloud_total_fen"] == detail["edge_total_fen"] == 1000
    assert [line["amount_fen"] for line in detail["bill_lines"]] == [
        line["amount_fen"] for line in bill["lines"]
    ]
    # The entry and exit images are the access records' read at those lanes then, matched
    # when the order is shown (they may reach the cloud after the session's events).
    assert detail["snapshots"] == ["in-1.jpg", "out-1.jpg"]
    await sign_in(cloud, place.admin.account, place.admin.password)
    page = await (await cloud.get(f"/parking/orders/{row.id}")).text()
    assert 'src="/parking/snapshots/in-1.jpg"' in page and 'data-table="bill"' in page


async def test_a_stay_within_the_free_minutes_is_marked_so(cloud: Client) -> None:
    place = await make_parking()
    session = str(uuid.uuid4())
    entered, exited = at(5, 0), at(5, 12)
    bill = expected_bill(entered, exited)
    assert bill["total_fen"] == 0 and bill["within_free_minutes"]
    await place.edge.push(
        cloud,
        [
            place.edge.event(
                "parking.session_started", place.lot.code,
                {"session": session, "lane": "in1", "plate": PLATE, "entered_at": entered.isoformat()},
            ),
            place.edge.event(
                "parking.session_ended", place.lot.code,
                {"session": session, "lane": "out1", "plate": PLATE, "exited_at": exited.isoformat(),
                 "due_fen": 0, "bill": bill},
            ),
        ],
    )  # fmt: skip
    row = await ParkingOrder.get(uuid=session)
    assert (row.state, row.pay_state, row.due_fen) == (OrderState.completed, PayState.grace, 0)


# --- berths and arrears -------------------------------------------------------------------------


async def test_an_unpaid_berth_stay_becomes_arrears_everywhere_until_a_pda_payment(
    cloud: Client,
) -> None:
    place = await make_parking()
    session = str(uuid.uuid4())
    start, end = at(2, 0), at(3, 0)
    await place.edge.push(cloud, [arrived(place.edge, place, session, start)])
    berth = await Berth.get(id=place.berth.id)
    assert (berth.status, berth.session, berth.plate) == (BerthStatus.occupied, session, "")
    change = await latest(place.section, "berth", place.berth.code)
    assert change is not None and change.data is not None and change.data["occupied"] is True
    await place.pda.push(
        cloud, [plate_set(place.pda, place, session, start + timedelta(minutes=3))]
    )
    berth = await Berth.get(id=place.berth.id)
    assert berth.plate == PLATE
    change = await latest(place.section, "berth", place.berth.code)
    assert change is not None and change.data is not None and change.data["plate"] == PLATE
    await place.edge.push(cloud, [departed(place.edge, place, session, end)])

    row = await ParkingOrder.get(uuid=session)
    due = expected_bill(start, end)["total_fen"]
    assert due == 400
    assert (row.state, row.pay_state, row.due_fen, row.paid_fen) == (
        OrderState.completed, PayState.arrears, due, 0
    )  # fmt: skip
    assert row.bill is not None and row.bill["cloud"] == expected_bill(start, end)
    held = await Arrears.get(order_id=row.id)
    assert (held.plate, held.amount_fen, held.state) == (PLATE, due, ArrearsState.unpaid)
    grants = await arrears_published(place)
    for grant in grants:  # every lot and road section of the tenant, not only the section
        assert grant is not None and grant["total_fen"] == due
        assert grant["items"][0]["order"] == session
        assert grant["items"][0]["site"] == place.section.code
    berth = await Berth.get(id=place.berth.id)
    assert (berth.status, berth.session, berth.plate) == (BerthStatus.free, "", "")
    change = await latest(place.section, "berth", place.berth.code)
    assert change is not None and change.data is not None and change.data["occupied"] is False

    # The collector takes the fee in cash after the car left: the arrears are settled.
    await place.pda.push(cloud, [paid(place.pda, place, session, due, end + timedelta(minutes=5))])
    row = await ParkingOrder.get(uuid=session)
    assert (row.pay_state, row.paid_fen) == (PayState.paid, due)
    held = await Arrears.get(order_id=row.id)
    assert held.state == ArrearsState.paid and held.settled_by == "c01"
    assert await arrears_published(place) == [None, None, None]
    payment = await ParkingPayment.get()
    assert (payment.purpose, payment.amount_fen, payment.orders) == ("parking", due, [session])


async def test_a_driver_pays_a_berth_stay_by_its_receipts_qr(cloud: Client) -> None:
    """The QR on a PDA's receipt opens /m/{tenant}/berth/pay/{session}: the fee so far, paid
    through the payment channel; the section's PDAs are told it was paid ahead, and the stay
    leaves nothing owing."""
    place = await make_parking()
    session = str(uuid.uuid4())
    start = datetime.now(UTC) - timedelta(minutes=40)
    await place.edge.push(cloud, [arrived(place.edge, place, session, start)])
    await place.pda.push(cloud, [plate_set(place.pda, place, session, start)])
    page = f"/m/{place.admin.tenant.code}/berth/pay/{session}"
    resp = await cloud.get(page)
    text = await resp.text()
    assert resp.status == 200 and PLATE in text and 'data-owed="400"' in text  # 2 half hours
    csrf = re.search(r'name="_csrf" value="([^"]+)"', text)
    assert csrf is not None
    resp = await cloud.post(page, data={"_csrf": csrf.group(1)}, allow_redirects=False)
    assert resp.status == 302 and "/lot/payments/PL" in resp.headers["Location"]

    async def settled() -> bool:  # the simulated channel calls back about a second later
        return (await ParkingOrder.get(uuid=session)).paid_fen == 400

    await eventually(settled, 10, "the channel's callback paid the stay")
    row = await ParkingOrder.get(uuid=session)
    assert (row.prepaid_fen, row.pay_state) == (400, PayState.partly_paid)
    change = await latest(place.section, "berth", place.berth.code)
    assert change is not None and change.data is not None
    assert change.data["prepaid_fen"] == 400 and change.data["session"] == session
    await place.edge.push(
        cloud, [departed(place.edge, place, session, start + timedelta(minutes=50))]
    )
    row = await ParkingOrder.get(uuid=session)
    assert (row.state, row.due_fen, row.paid_fen, row.pay_state) == (
        OrderState.completed, 400, 400, PayState.paid
    )  # fmt: skip
    assert not await Arrears.filter(order_id=row.id).exists()
    assert (await cloud.get(f"/m/{place.admin.tenant.code}/berth/pay/{uuid.uuid4()}")).status == 404


async def test_arrears_collected_for_several_orders_at_once(cloud: Client) -> None:
    place = await make_parking()
    first = await berth_stay(cloud, place, at(1, 0), at(2, 0))
    second = await berth_stay(cloud, place, at(4, 0), at(5, 30))
    owed = first.due_fen + second.due_fen
    assert first.due_fen == 400 and second.due_fen == 600
    grants = await arrears_published(place)
    assert all(g is not None and g["total_fen"] == owed and len(g["items"]) == 2 for g in grants)
    payment = uuid.uuid4()
    collected = place.pda.event(
        "parking.arrears_collected",
        place.section.code,
        {"payment": str(payment), "plate": PLATE, "orders": [str(first.uuid), str(second.uuid)],
         "amount_fen": owed, "method": "cash", "collector": "c02", "at": at(6).isoformat()},
    )  # fmt: skip
    await place.pda.push(cloud, [collected])
    for order in (first, second):
        row = await ParkingOrder.get(id=order.id)
        assert row.pay_state == PayState.paid and row.paid_fen == row.due_fen
        held = await Arrears.get(order_id=row.id)
        assert (held.state, held.payment, held.settled_by) == (
            ArrearsState.paid,
            str(payment),
            "c02",
        )
    taken = await ParkingPayment.get(uuid=payment)
    assert (taken.purpose, taken.amount_fen, sorted(taken.orders)) == (
        "arrears", owed, sorted([str(first.uuid), str(second.uuid)])
    )  # fmt: skip
    assert await arrears_published(place) == [None, None, None]


async def test_a_replayed_offline_day_changes_nothing(cloud: Client) -> None:
    place = await make_parking()
    dev = place.edge
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    day = [
        arrived(dev, place, a, at(1, 0)),
        plate_set(dev, place, a, at(1, 5)),
        departed(dev, place, a, at(2, 0)),
        arrived(dev, place, b, at(3, 0)),
        plate_set(dev, place, b, at(3, 5), "京B54321"),
        paid(dev, place, b, 400, at(3, 58)),  # paid before leaving: never arrears
        departed(dev, place, b, at(4, 0)),
    ]
    await dev.push(cloud, day)
    order_a = await ParkingOrder.get(uuid=a)
    order_b = await ParkingOrder.get(uuid=b)
    assert order_a.pay_state == PayState.arrears and order_a.due_fen == 400
    assert (order_b.pay_state, order_b.paid_fen, order_b.due_fen) == (PayState.paid, 400, 400)
    assert not await Arrears.filter(order_id=order_b.id).exists()

    def snapshot(rows: list[ParkingOrder]) -> list[tuple[Any, ...]]:
        return [
            (r.state, r.pay_state, r.due_fen, r.paid_fen, r.plate, r.exited_at, r.bill)
            for r in rows
        ]

    before = snapshot(await ParkingOrder.all().order_by("id"))
    changes = await StateChange.all().count()
    await dev.push(cloud, day)  # the same batch: the ledger admits nothing
    again = []
    for event in day:  # the same facts under new seqs and event uuids (an edge that resent)
        dev.seq += 1
        again.append({**event, "seq": dev.seq, "uuid": str(uuid.uuid4())})
    await dev.push(cloud, again)
    assert snapshot(await ParkingOrder.all().order_by("id")) == before
    assert await ParkingOrder.all().count() == 2
    assert await ParkingPayment.all().count() == 1
    assert await Arrears.all().count() == 1
    assert await StateChange.all().count() == changes


async def test_events_that_name_no_uuid_are_ignored_and_the_rest_applies(cloud: Client) -> None:
    place = await make_parking()
    session = str(uuid.uuid4())
    await place.edge.push(
        cloud,
        [
            arrived(place.edge, place, "not-a-uuid", at(1)),
            arrived(place.edge, place, session, at(2)),
        ],
    )
    assert await ParkingOrder.all().count() == 1
    assert (await ParkingOrder.get(uuid=session)).berth == place.berth.code


# --- void ---------------------------------------------------------------------------------------


async def test_voiding_an_order_in_progress_frees_its_berth(cloud: Client) -> None:
    place = await make_parking()
    session = str(uuid.uuid4())
    await place.edge.push(cloud, [arrived(place.edge, place, session, at(1))])
    row = await ParkingOrder.get(uuid=session)
    headers = await api_login(cloud, place)
    url = f"{API}/parking-orders/{row.id}/void"
    resp = await cloud.post(url, json={}, headers=headers)
    assert resp.status == 422 and (await resp.json())["field"] == "reason"
    resp = await cloud.post(url, json={"reason": "地磁误报"}, headers=headers)
    body = await resp.json()
    assert resp.status == 200 and body["state"] == "void", body
    berth = await Berth.get(id=place.berth.id)
    assert berth.status == BerthStatus.free and berth.session == ""
    change = await latest(place.section, "berth", place.berth.code)
    assert change is not None and change.data is not None and change.data["occupied"] is False
    assert (await cloud.post(url, json={"reason": "again"}, headers=headers)).status == 409
    # The departure that follows changes nothing: the order stays void, no arrears.
    await place.edge.push(cloud, [departed(place.edge, place, session, at(3))])
    row = await ParkingOrder.get(id=row.id)
    assert row.state == OrderState.void and row.void_reason == "地磁误报"
    assert not await Arrears.exists()


async def test_voiding_from_the_page_needs_a_reason(cloud: Client) -> None:
    place = await make_parking()
    session = str(uuid.uuid4())
    await place.edge.push(cloud, [arrived(place.edge, place, session, at(1))])
    row = await ParkingOrder.get(uuid=session)
    csrf = await sign_in(cloud, place.admin.account, place.admin.password)
    form = await cloud.get(f"/parking/orders/{row.id}/void")
    assert form.status == 200 and row.number in await form.text()
    resp = await cloud.post(f"/parking/orders/{row.id}/void", data={"_csrf": csrf, "reason": ""})
    assert resp.status == 400 and 'data-field="reason"' in await resp.text()
    resp = await cloud.post(
        f"/parking/orders/{row.id}/void",
        data={"_csrf": csrf, "reason": "测试"},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert (await ParkingOrder.get(id=row.id)).state == OrderState.void
    assert (await cloud.get("/parking/orders/999999")).status == 404


# --- lists, totals, export ----------------------------------------------------------------------


async def test_the_list_filters_totals_and_exports(cloud: Client) -> None:
    place = await make_parking()
    owing = await berth_stay(cloud, place, at(1, 0), at(2, 0))  # 4.00 owed
    settled = await berth_stay(cloud, place, at(6, 0), at(7, 0), "京AD12345")  # new energy
    await place.pda.push(cloud, [paid(place.pda, place, str(settled.uuid), 400, at(7, 5))])
    parked = str(uuid.uuid4())
    await place.edge.push(cloud, [arrived(place.edge, place, parked, at(8, 0))])
    headers = await api_login(cloud, place)

    async def numbers(query: str) -> set[str]:
        resp = await cloud.get(f"{API}/parking-orders?{query}", headers=headers)
        assert resp.status == 200, await resp.text()
        return {item["number"] for item in (await resp.json())["items"]}

    every = {owing.number, settled.number, (await ParkingOrder.get(uuid=parked)).number}
    assert await numbers("") == every
    assert await numbers("pay_state=arrears") == {owing.number}
    assert await numbers("vehicle_type=new_energy") == {settled.number}
    assert await numbers("state=in_progress") == every - {owing.number, settled.number}
    assert await numbers(f"plate={PLATE}") == {owing.number}
    assert await numbers("plate=京A") == {owing.number, settled.number}
    assert await numbers("region=西区") == every
    assert await numbers("region=东区") == set()
    assert await numbers(f"site_id={place.lot.id}") == set()
    assert await numbers("collector=c01") == {owing.number, settled.number}
    since = at(5).isoformat().replace("+00:00", "Z")
    assert await numbers(f"entered_from={since}") == every - {owing.number}
    resp = await cloud.get(f"{API}/parking-orders?entered_from={since}&entered_to={since}")
    assert resp.status == 422

    totals = await (await cloud.get(f"{API}/parking-orders/totals", headers=headers)).json()
    assert (totals["count"], totals["due_fen"], totals["paid_fen"], totals["balance_fen"]) == (
        3, 800, 400, 400
    )  # fmt: skip
    assert totals["balance_yuan"] == "4.00"
    only = await (
        await cloud.get(f"{API}/parking-orders/totals?pay_state=paid", headers=headers)
    ).json()
    assert (only["count"], only["balance_fen"]) == (1, 0)

    await sign_in(cloud, place.admin.account, place.admin.password)
    page = await (await cloud.get("/parking/orders?pay_state=arrears")).text()
    assert owing.number in page and settled.number not in page
    assert 'data-total="balance">4.00<' in page
    export = await cloud.get("/parking/orders/export.xlsx?pay_state=arrears")
    assert export.status == 200
    sheet = load_workbook(io.BytesIO(await export.read()), read_only=True).active
    assert sheet is not None
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0][:2] == ["订单编号", "区域"]
    assert len(table) == 2 and table[1][0] == owing.number and "欠费" in table[1]


async def test_pass_through_records_list_the_lots_entries_and_exits(cloud: Client) -> None:
    place = await make_parking()
    campus = await Site.create(
        tenant=place.admin.tenant, code="alpha-campus", name="校园", kind=SiteKind.campus
    )
    edge = await Edge.get(code="alpha-edge")
    await edge.sites.add(campus)
    session = str(uuid.uuid4())
    await place.edge.push(
        cloud,
        [
            access(place, "in1", "entry", at(1), "in-1.jpg", session),
            place.edge.event(
                "access.decided", campus.code,
                {"gate": "g", "lane": "c1", "direction": "entry", "plate": PLATE, "confidence": 90,
                 "verdict": "open", "reason": "default", "read_at": at(1).isoformat()},
            ),
        ],
    )  # fmt: skip
    headers = await api_login(cloud, place)
    listed = await (await cloud.get(f"{API}/parking-records", headers=headers)).json()
    assert [(i["lane"], i["snapshot"]) for i in listed["items"]] == [("in1", "in-1.jpg")]
    await sign_in(cloud, place.admin.account, place.admin.password)
    page = await (await cloud.get("/parking/records")).text()
    assert 'src="/parking/snapshots/in-1.jpg"' in page
    export = await cloud.get("/parking/records/export.xlsx")
    sheet = load_workbook(io.BytesIO(await export.read()), read_only=True).active
    assert sheet is not None
    assert len(list(sheet.iter_rows(values_only=True))) == 2
