"""Charging orders (3.4.1) driven through the real sync ingest: signed event batches from an
edge make, meter, suspend and settle orders; remote start/stop, manual end and refunds go
through the JSON API and the pages."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.charging.models import (
    Area,
    Charger,
    ChargingOrder,
    ChargingTariff,
    ChargingTariffVersion,
    MeterSample,
    OrderState,
    PropertyCompany,
    Refund,
    ServiceProvider,
    Station,
    TariffMode,
)
from cloud.charging.orders import expire_starting
from cloud.org.models import Tenant
from cloud.sites.models import Command, Edge, Site, SyncEvent
from protocols import sync as wire
from protocols.site import SiteKind
from protocols.tariffs import Period, Reading, bill_charging, time_of_use_charging
from tests.conftest import TenantAdmin, make_tenant, sign_in
from tests.support import SigningEdge

Client = TestClient[web.Request, web.Application]
API = "/api/v1"
EFFECTIVE = date(2026, 1, 1)
# Valley until local noon (04:00 UTC), peak after: a session from 11:30 to 12:30 local crosses.
TOU = time_of_use_charging(
    "峰谷",
    [
        (Period.valley, time(0, 0), time(12, 0), 30, 40),
        (Period.peak, time(12, 0), time(0, 0), 100, 80),
    ],
)
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


@dataclass
class Place:
    admin: TenantAdmin
    site: Site
    station: Station
    charger: Charger
    tariff: ChargingTariff
    edge: SigningEdge
    seq: int = 0

    def event(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        return {
            "seq": self.seq,
            "uuid": str(uuid.uuid4()),
            "type": kind,
            "site": self.site.code,
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"site": self.site.code, "charge_point": self.charger.serial, **payload},
        }

    async def push(self, cloud: Client, events: list[dict[str, Any]]) -> None:
        status, body = await self.edge.post(cloud, wire.EVENTS_PATH, {"events": events})
        assert status == 200, body
        assert body == {"acked_seq": events[-1]["seq"]}


async def make_station(code: str = "alpha", edge_code: str = "edge-ev") -> Place:
    admin = await make_tenant(code)
    tenant: Tenant = admin.tenant
    site = await Site.create(
        tenant=tenant, code=f"{code}-st", name="一号电站", kind=SiteKind.charging_station
    )
    provider = await ServiceProvider.create(
        tenant=tenant, name="服务商", phone=f"1380000{code[:4]}"
    )
    prop = await PropertyCompany.create(
        tenant=tenant, provider=provider, name="物业", phone=f"1390000{code[:4]}"
    )
    station = await Station.create(tenant=tenant, property=prop, site=site, name=f"{code}电站")
    area = await Area.create(tenant=tenant, station=station, code=f"{code}-a1", name="A区")
    charger = await Charger.create(
        tenant=tenant,
        area=area,
        code=f"{code}-P01",
        serial=f"{code.upper()}-CP-0001",
        name="1号桩",
        connectors=2,
    )
    tariff = await ChargingTariff.create(
        tenant=tenant, station=station, name="峰谷电价", mode=TariffMode.time_of_use
    )
    await ChargingTariffVersion.create(
        tariff=tariff, effective_from=EFFECTIVE, document=TOU.model_dump(mode="json")
    )
    signing = SigningEdge(edge_code)
    edge = await Edge.create(
        tenant=tenant,
        code=edge_code,
        name="边缘",
        public_key=signing.public_key,
        enrolled_at=datetime.now(UTC),
    )
    await edge.sites.add(site)
    return Place(admin, site, station, charger, tariff, signing)


async def api_login(cloud: Client, place: Place) -> dict[str, str]:
    resp = await cloud.post(
        f"{API}/auth/login", json={"account": place.admin.account, "password": place.admin.password}
    )
    assert resp.status == 200, await resp.text()
    return {"X-CSRF-Token": (await resp.json())["csrf_token"]}


def at(hour: int, minute: int = 0) -> datetime:
    """A UTC time on the session day."""
    return DAY + timedelta(hours=hour, minutes=minute)


def started(
    place: Place, order: uuid.UUID, start: datetime, wh: int, **extra: Any
) -> dict[str, Any]:
    return place.event(
        "charging.started",
        {
            "order": str(order),
            "connector": 1,
            "transaction_id": extra.pop("transaction_id", 7),
            "id_tag": "CARD0001",
            "method": extra.pop("method", "card"),
            "meter_start_wh": wh,
            "started_at": start.isoformat(),
            "tariff": str(place.tariff.id),
            "tariff_version": EFFECTIVE.isoformat(),
            **extra,
        },
    )


def metered(place: Place, order: uuid.UUID, *samples: tuple[datetime, int, int]) -> dict[str, Any]:
    return place.event(
        "charging.metered",
        {
            "order": str(order),
            "connector": 1,
            "transaction_id": 7,
            "samples": [
                {"at": moment.isoformat(), "energy_wh": wh, "power_w": power}
                for moment, wh, power in samples
            ],
        },
    )


def stopped(
    place: Place,
    order: uuid.UUID,
    stop: datetime,
    wh: int,
    energy: int,
    bill: dict[str, Any] | None,
    flags: list[str] | None = None,
) -> dict[str, Any]:
    return place.event(
        "charging.stopped",
        {
            "order": str(order),
            "connector": 1,
            "transaction_id": 7,
            "meter_stop_wh": wh,
            "stopped_at": stop.isoformat(),
            "reason": "Remote",
            "energy_wh": energy,
            "bill": bill,
            "flags": flags or [],
        },
    )


def edge_bill(readings: list[tuple[datetime, int]]) -> dict[str, Any]:
    """The bill the edge computes from the same readings with the same evaluator."""
    return bill_charging(TOU, [Reading(moment, wh) for moment, wh in readings]).as_dict()


# --- the state machine, through the API and the ingest ------------------------------------------


async def test_remote_start_charges_stops_and_completes(cloud: Client) -> None:
    place = await make_station()
    headers = await api_login(cloud, place)
    resp = await cloud.post(
        f"{API}/charging-orders",
        json={"charger_id": place.charger.id, "connector": 1, "id_tag": "CARD0001"},
        headers=headers,
    )
    body = await resp.json()
    assert resp.status == 201, body
    assert body["state"] == "starting" and body["method"] == "admin"
    command = await Command.get(kind="charger_remote_start")
    assert command.payload["order"] == body["uuid"]
    assert command.payload["charge_point"] == place.charger.serial
    order = uuid.UUID(body["uuid"])
    readings = [(at(3, 30), 1000), (at(3, 50), 5000), (at(4, 10), 9000), (at(4, 30), 13000)]
    await place.push(cloud, [started(place, order, at(3, 30), 1000, method="admin")])
    row = await ChargingOrder.get(uuid=order)
    assert row.state == OrderState.charging and row.meter_start_wh == 1000
    assert row.tariff_id == place.tariff.id and row.tariff_document is not None
    await place.push(
        cloud, [metered(place, order, (at(3, 50), 5000, 7000), (at(4, 10), 9000, 7200))]
    )
    row = await ChargingOrder.get(uuid=order)
    assert (row.meter_last_wh, row.power_w) == (9000, 7200)

    resp = await cloud.post(f"{API}/charging-orders/{row.id}/remote-stop", headers=headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["state"] == "stopping"
    stop = await Command.get(kind="charger_remote_stop")
    assert stop.payload == {
        "charge_point": place.charger.serial, "connector": 1, "order": str(order)
    }  # fmt: skip
    # Stopping again is refused: it is no longer charging.
    resp = await cloud.post(f"{API}/charging-orders/{row.id}/remote-stop", headers=headers)
    assert resp.status == 409

    await place.push(cloud, [stopped(place, order, at(4, 30), 13000, 12000, edge_bill(readings))])
    row = await ChargingOrder.get(uuid=order)
    assert row.state == OrderState.completed
    assert row.energy_wh == 12000 and row.meter_stop_wh == 13000
    assert row.end_reason == "Remote"
    assert "bill_mismatch" not in row.flags
    assert row.bill is not None and row.bill["cloud"] == row.bill["edge"]
    assert row.total_fen == row.bill["edge"]["total_fen"] > 0
    detail = await (await cloud.get(f"{API}/charging-orders/{row.id}/detail")).json()
    assert len(detail["samples"]) == 2 and detail["bill_lines"]
    assert detail["edge_total_fen"] == row.total_fen


async def test_a_start_the_charger_refuses_makes_the_order_abnormal(cloud: Client) -> None:
    place = await make_station()
    headers = await api_login(cloud, place)
    resp = await cloud.post(
        f"{API}/charging-orders",
        json={"charger_id": place.charger.id, "connector": 2, "id_tag": "CARD0001"},
        headers=headers,
    )
    order = uuid.UUID((await resp.json())["uuid"])
    failure = place.event(
        "charging.start_failed",
        {"order": str(order), "connector": 2, "reason": "Rejected", "at": at(3).isoformat()},
    )
    await place.push(cloud, [failure])
    row = await ChargingOrder.get(uuid=order)
    assert row.state == OrderState.abnormal and row.end_reason == "Rejected"
    # A busy connector refuses a second remote start; this one is free again.
    resp = await cloud.post(
        f"{API}/charging-orders",
        json={"charger_id": place.charger.id, "connector": 2, "id_tag": "CARD0001"},
        headers=headers,
    )
    assert resp.status == 201
    resp = await cloud.post(
        f"{API}/charging-orders",
        json={"charger_id": place.charger.id, "connector": 2, "id_tag": "CARD0001"},
        headers=headers,
    )
    assert resp.status == 409 and (await resp.json())["field"] == "connector"


async def test_an_unconfirmed_start_times_out_and_a_late_start_still_charges(
    cloud: Client,
) -> None:
    place = await make_station()
    headers = await api_login(cloud, place)
    resp = await cloud.post(
        f"{API}/charging-orders",
        json={"charger_id": place.charger.id, "connector": 1, "id_tag": "CARD0001"},
        headers=headers,
    )
    order = uuid.UUID((await resp.json())["uuid"])
    assert await expire_starting(now=datetime.now(UTC) + timedelta(seconds=10)) == 0
    assert await expire_starting(now=datetime.now(UTC) + timedelta(minutes=5)) == 1
    row = await ChargingOrder.get(uuid=order)
    assert row.state == OrderState.abnormal and row.end_reason == "start_timeout"
    # The edge was offline: its start arrives now and what it charges is billed.
    await place.push(cloud, [started(place, order, at(3, 30), 1000, method="admin")])
    row = await ChargingOrder.get(uuid=order)
    assert row.state == OrderState.charging and row.end_reason == ""


async def test_a_suspended_order_returns_to_charging(cloud: Client) -> None:
    place = await make_station()
    order = uuid.uuid4()
    await place.push(cloud, [started(place, order, at(3, 30), 0)])

    def suspension(flag: bool, moment: datetime) -> dict[str, Any]:
        payload = {
            "order": str(order),
            "connector": 1,
            "suspended": flag,
            "at": moment.isoformat(),
            "silent_s": 300.0,
        }
        return place.event("charging.suspended", payload)

    await place.push(cloud, [suspension(True, at(3, 40))])
    assert (await ChargingOrder.get(uuid=order)).state == OrderState.suspended
    await place.push(cloud, [suspension(False, at(3, 45))])
    assert (await ChargingOrder.get(uuid=order)).state == OrderState.charging
    await place.push(cloud, [suspension(True, at(3, 50))])
    assert (await ChargingOrder.get(uuid=order)).state == OrderState.suspended
    # New samples mean the charger talks again.
    await place.push(cloud, [metered(place, order, (at(3, 55), 2000, 7000))])
    assert (await ChargingOrder.get(uuid=order)).state == OrderState.charging
    # A suspension older than the latest sample is stale: nothing changes.
    await place.push(cloud, [suspension(True, at(3, 52))])
    assert (await ChargingOrder.get(uuid=order)).state == OrderState.charging


async def test_manual_end_settles_from_the_last_meter_value(cloud: Client) -> None:
    place = await make_station()
    headers = await api_login(cloud, place)
    order = uuid.uuid4()
    await place.push(
        cloud,
        [
            started(place, order, at(3, 0), 500),
            metered(place, order, (at(3, 20), 2500, 6000), (at(3, 40), 4500, 6000)),
        ],
    )
    row = await ChargingOrder.get(uuid=order)
    resp = await cloud.post(f"{API}/charging-orders/{row.id}/end", headers=headers)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["state"] == "completed" and body["end_reason"] == "manual"
    assert body["meter_stop_wh"] == 4500 and body["energy_wh"] == 4000
    expected = edge_bill([(at(3, 0), 500), (at(3, 20), 2500), (at(3, 40), 4500)])
    assert body["total_fen"] == expected["total_fen"] > 0
    # Ending twice is refused; the late stop from the charger keeps the settlement.
    resp = await cloud.post(f"{API}/charging-orders/{row.id}/end", headers=headers)
    assert resp.status == 409
    await place.push(cloud, [stopped(place, order, at(3, 50), 5000, 4500, None)])
    row = await ChargingOrder.get(uuid=order)
    assert row.total_fen == expected["total_fen"] and row.meter_stop_wh == 4500
    assert "stopped_after_manual_end" in row.flags
    # A starting order with no meter value ends with nothing to pay.
    resp = await cloud.post(
        f"{API}/charging-orders",
        json={"charger_id": place.charger.id, "connector": 2, "id_tag": "CARD0001"},
        headers=headers,
    )
    ident = (await resp.json())["id"]
    body = await (await cloud.post(f"{API}/charging-orders/{ident}/end", headers=headers)).json()
    assert (body["state"], body["total_fen"], body["energy_wh"]) == ("completed", 0, 0)


async def _completed_order(cloud: Client, place: Place, prepaid: int) -> ChargingOrder:
    order = uuid.uuid4()
    readings = [(at(3, 30), 0), (at(4, 30), 20000)]
    await place.push(
        cloud,
        [
            started(place, order, at(3, 30), 0),
            stopped(place, order, at(4, 30), 20000, 20000, edge_bill(readings)),
        ],
    )
    row = await ChargingOrder.get(uuid=order)
    row.prepaid_fen = prepaid
    await row.save()
    return row


async def test_refunds_are_bounded_by_prepaid_minus_refunded(cloud: Client) -> None:
    place = await make_station()
    headers = await api_login(cloud, place)
    row = await _completed_order(cloud, place, prepaid=5000)
    assert row.total_fen > 0
    url = f"{API}/charging-orders/{row.id}/refund"
    resp = await cloud.post(url, json={"amount_fen": 5001}, headers=headers)
    body = await resp.json()
    assert resp.status == 422 and body["field"] == "amount_fen", body
    assert "exceed" in body["message"]
    resp = await cloud.post(url, json={}, headers=headers)
    assert resp.status == 422 and (await resp.json())["field"] == "amount_fen"
    resp = await cloud.post(url, json={"amount_fen": 3000, "reason": "余额"}, headers=headers)
    assert resp.status == 200 and (await resp.json())["refunded_fen"] == 3000
    resp = await cloud.post(url, json={"amount_fen": 2000}, headers=headers)
    body = await resp.json()
    assert (body["refunded_fen"], body["refundable_fen"]) == (5000, 0)
    resp = await cloud.post(url, json={"amount_fen": 1}, headers=headers)
    assert resp.status == 422
    refunds = await Refund.filter(order_id=row.id).order_by("id")
    assert [(r.amount_fen, r.state.value) for r in refunds] == [(3000, "done"), (2000, "done")]
    listed = await (await cloud.get(f"{API}/refunds")).json()
    assert listed["total"] == 2 and listed["items"][0]["order_number"] == row.number
    # Only a completed order that cost something may be refunded.
    running = uuid.uuid4()
    await place.push(cloud, [started(place, running, at(5, 0), 0)])
    other = await ChargingOrder.get(uuid=running)
    resp = await cloud.post(
        f"{API}/charging-orders/{other.id}/refund", json={"amount_fen": 1}, headers=headers
    )
    assert resp.status == 422


async def test_the_refund_page_shows_the_maximum_and_refuses_more(cloud: Client) -> None:
    place = await make_station()
    row = await _completed_order(cloud, place, prepaid=800)
    csrf = await sign_in(cloud, place.admin.account, place.admin.password)
    page = await cloud.get(f"/charging/orders/{row.id}/refund")
    assert page.status == 200
    assert 'data-refundable="800"' in await page.text()
    resp = await cloud.post(
        f"/charging/orders/{row.id}/refund", data={"_csrf": csrf, "amount_fen": "900"}
    )
    assert resp.status == 400
    assert "最大退费金额" in await resp.text()
    resp = await cloud.post(
        f"/charging/orders/{row.id}/refund",
        data={"_csrf": csrf, "amount_fen": "800"},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert (await ChargingOrder.get(id=row.id)).refunded_fen == 800


# --- billing: an offline session delivered at once, crossing a tariff period -------------------


async def test_an_offline_session_arriving_in_one_batch_is_billed_like_the_edge(
    cloud: Client,
) -> None:
    place = await make_station()
    earlier = uuid.uuid4()
    await place.push(cloud, [started(place, earlier, at(1, 0), 0, transaction_id=6)])
    order = uuid.uuid4()
    readings = [(at(3, 30), 1000), (at(3, 50), 4000), (at(4, 10), 9000), (at(4, 30), 15000)]
    bill = edge_bill(readings)
    assert len({line["period"] for line in bill["lines"]}) == 2  # valley and peak
    # The batch begins with another order's stop, so cloud.sync reaches the stops before the
    # samples: the samples must still be in the bill.
    await place.push(
        cloud,
        [
            stopped(place, earlier, at(2, 0), 3000, 3000, None),
            started(place, order, at(3, 30), 1000),
            metered(place, order, (at(3, 50), 4000, 9000), (at(4, 10), 9000, 15000)),
            stopped(place, order, at(4, 30), 15000, 14000, bill),
        ],
    )
    row = await ChargingOrder.get(uuid=order)
    assert row.state == OrderState.completed and row.method.value == "card"
    assert await MeterSample.filter(order_id=row.id).count() == 2
    assert row.bill is not None and row.bill["cloud"] == bill
    assert "bill_mismatch" not in row.flags
    assert (row.electricity_fen, row.service_fen, row.total_fen) == (
        bill["electricity_fen"], bill["service_fen"], bill["total_fen"]
    )  # fmt: skip
    # Billed as if there were no samples, the split over the periods differs: it matters.
    flat = edge_bill([readings[0], readings[-1]])
    assert flat["total_fen"] != bill["total_fen"]
    assert (await ChargingOrder.get(uuid=earlier)).state == OrderState.completed


async def test_a_different_edge_bill_is_kept_and_flagged(cloud: Client) -> None:
    place = await make_station()
    order = uuid.uuid4()
    readings = [(at(3, 30), 0), (at(4, 30), 10000)]
    bill = edge_bill(readings)
    wrong = {**bill, "total_fen": bill["total_fen"] + 1}
    await place.push(
        cloud,
        [
            started(place, order, at(3, 30), 0),
            stopped(place, order, at(4, 30), 10000, 10000, wrong, ["meter_below_start"]),
        ],
    )
    row = await ChargingOrder.get(uuid=order)
    assert "bill_mismatch" in row.flags and "meter_below_start" in row.flags
    assert row.bill is not None and row.bill["edge"] == wrong
    assert row.total_fen == bill["total_fen"]


async def test_replayed_events_change_nothing(cloud: Client) -> None:
    place = await make_station()
    order = uuid.uuid4()
    readings = [(at(3, 30), 1000), (at(3, 50), 4000), (at(4, 30), 9000)]
    batch = [
        started(place, order, at(3, 30), 1000),
        metered(place, order, (at(3, 50), 4000, 9000)),
        stopped(place, order, at(4, 30), 9000, 8000, edge_bill(readings)),
    ]
    await place.push(cloud, batch)
    before = await ChargingOrder.get(uuid=order)
    # The same batch again: the ledger admits nothing new.
    await place.push(cloud, batch)
    # The same events again under new seqs (an edge that resent them): nothing changes either.
    again = []
    for event in batch:
        place.seq += 1
        again.append({**event, "seq": place.seq, "uuid": str(uuid.uuid4())})
    await place.push(cloud, again)
    after = await ChargingOrder.get(uuid=order)
    assert await ChargingOrder.all().count() == 1
    assert await MeterSample.filter(order_id=after.id).count() == 1
    assert await SyncEvent.all().count() == 6
    for name in ("state", "energy_wh", "total_fen", "bill", "flags", "stopped_at", "meter_stop_wh"):
        assert getattr(after, name) == getattr(before, name), name


async def test_an_unmatched_stop_makes_no_order_and_is_listed(cloud: Client) -> None:
    place = await make_station()
    await api_login(cloud, place)
    unmatched = place.event(
        "charging.unmatched_stop",
        {"transaction_id": -16, "id_tag": "X", "meter_stop_wh": 77, "at": at(5).isoformat()},
    )
    await place.push(cloud, [unmatched])
    assert await ChargingOrder.all().count() == 0
    listed = await (await cloud.get(f"{API}/charging-unmatched-stops")).json()
    assert [(i["transaction_id"], i["meter_stop_wh"]) for i in listed["items"]] == [(-16, 77)]
    await sign_in(cloud, place.admin.account, place.admin.password)
    page = await cloud.get("/charging/unmatched-stops")
    assert page.status == 200 and "-16" in await page.text()


# --- pages ---------------------------------------------------------------------------------------


async def test_the_list_filters_exports_and_the_detail_draws_the_curve(cloud: Client) -> None:
    place = await make_station()
    order = uuid.uuid4()
    readings = [(at(3, 30), 1000), (at(3, 50), 4000), (at(4, 30), 9000)]
    await place.push(
        cloud,
        [
            started(place, order, at(3, 30), 1000),
            metered(place, order, (at(3, 50), 4000, 9000)),
            stopped(place, order, at(4, 30), 9000, 8000, edge_bill(readings)),
        ],
    )
    row = await ChargingOrder.get(uuid=order)
    csrf = await sign_in(cloud, place.admin.account, place.admin.password)
    assert csrf
    page = await cloud.get("/charging/orders")
    assert page.status == 200 and row.number in await page.text()
    for query in ("state=completed", f"charger_serial={place.charger.serial}", "id_tag=CARD0001"):
        assert row.number in await (await cloud.get(f"/charging/orders?{query}")).text(), query
    for query in ("state=charging", "phone=139", "connector=2"):
        assert row.number not in await (await cloud.get(f"/charging/orders?{query}")).text(), query
    # An order older than a week is outside the default window but found by its dates.
    await ChargingOrder.filter(id=row.id).update(created_at=datetime.now(UTC) - timedelta(days=9))
    assert row.number not in await (await cloud.get("/charging/orders")).text()
    since = (datetime.now() - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    assert row.number in await (await cloud.get(f"/charging/orders?created_from={since}")).text()

    export = await cloud.get(f"/charging/orders/export.xlsx?created_from={since}")
    assert export.status == 200
    sheet = load_workbook(io.BytesIO(await export.read()), read_only=True).active
    assert sheet is not None
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0][:3] == ["订单编号", "用户手机号", "电站"]
    assert table[1][0] == row.number and table[1][2] == place.station.name
    assert "8.000" in [str(c) for c in table[1]]

    detail = await cloud.get(f"/charging/orders/{row.id}")
    text = await detail.text()
    assert detail.status == 200
    assert "<svg" in text and 'data-series="energy"' in text and 'data-series="power"' in text
    assert 'data-table="bill"' in text
    assert (await cloud.get("/charging/orders/999999")).status == 404


async def test_ending_from_the_page_needs_confirmation_and_the_permission(cloud: Client) -> None:
    place = await make_station()
    order = uuid.uuid4()
    await place.push(cloud, [started(place, order, at(3, 30), 0)])
    row = await ChargingOrder.get(uuid=order)
    csrf = await sign_in(cloud, place.admin.account, place.admin.password)
    confirm = await cloud.get(f"/charging/orders/{row.id}/end")
    assert confirm.status == 200 and row.number in await confirm.text()
    resp = await cloud.post(
        f"/charging/orders/{row.id}/end", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302
    assert (await ChargingOrder.get(id=row.id)).state == OrderState.completed
    viewer = await make_tenant("viewer", admin=False, permissions=["charging.view"])
    viewer.user.tenant_id = place.admin.tenant.id
    await viewer.user.save()
    cloud.session.cookie_jar.clear()
    await sign_in(cloud, viewer.account, viewer.password)
    assert (await cloud.get(f"/charging/orders/{row.id}")).status == 200
    assert (await cloud.get(f"/charging/orders/{row.id}/end")).status == 403
