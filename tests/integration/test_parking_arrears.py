"""Arrears management (欠费管理) through the JSON API and the pages: vehicles owing ranked by
amount or count, reminders through the notifier, voiding and collecting records, each change
republished to every lot and road section of the tenant."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.notify.models import Message, MessageState
from cloud.parking.models import (
    Arrears,
    ArrearsState,
    MonthlyPass,
    MonthlyPassRule,
    MonthlyPassState,
    ParkingOrder,
    ParkingPayment,
    PayState,
)
from tests.conftest import sign_in
from tests.integration.test_parking_orders import (
    API,
    PLATE,
    Parking,
    api_login,
    arrears_published,
    at,
    berth_stay,
    make_parking,
)

Client = TestClient[web.Request, web.Application]
OTHER = "京B54321"


async def owing(cloud: Client) -> tuple[Parking, list[ParkingOrder]]:
    """PLATE owes two stays (4.00 + 6.00), OTHER one longer stay (8.00)."""
    place = await make_parking()
    stays = [
        await berth_stay(cloud, place, at(1, 0), at(2, 0)),
        await berth_stay(cloud, place, at(3, 0), at(4, 30)),
        await berth_stay(cloud, place, at(5, 0), at(7, 0), OTHER),
    ]
    assert [s.due_fen for s in stays] == [400, 600, 800]
    return place, stays


async def test_vehicles_owing_rank_by_amount_or_count(cloud: Client) -> None:
    place, _ = await owing(cloud)
    headers = await api_login(cloud, place)
    base = f"{API}/parking-arrears-vehicles"
    body = await (await cloud.get(base, headers=headers)).json()
    assert [(i["plate"], i["total_fen"], i["count"]) for i in body["items"]] == [
        (PLATE, 1000, 2),
        (OTHER, 800, 1),
    ]
    body = await (await cloud.get(f"{base}?sort=count&desc=1", headers=headers)).json()
    assert [i["plate"] for i in body["items"]] == [PLATE, OTHER]
    body = await (await cloud.get(f"{base}?sort=count", headers=headers)).json()
    assert [i["plate"] for i in body["items"]] == [OTHER, PLATE]
    body = await (await cloud.get(f"{base}?min_total_fen=900", headers=headers)).json()
    assert [i["plate"] for i in body["items"]] == [PLATE]
    await sign_in(cloud, place.admin.account, place.admin.password)
    page = await (await cloud.get("/parking/arrears-vehicles")).text()
    assert page.index(PLATE) < page.index(OTHER) and "10.00" in page


async def test_a_reminder_goes_to_the_holders_phone_or_the_one_typed(cloud: Client) -> None:
    place, _ = await owing(cloud)
    headers = await api_login(cloud, place)
    url = f"{API}/parking-arrears-vehicles/remind"
    resp = await cloud.post(url, json={"plate": PLATE}, headers=headers)
    assert resp.status == 422 and (await resp.json())["field"] == "phone"
    resp = await cloud.post(url, json={"plate": "京C00000"}, headers=headers)
    assert resp.status == 422 and (await resp.json())["field"] == "plate"
    resp = await cloud.post(url, json={"plate": PLATE, "phone": "12345"}, headers=headers)
    assert resp.status == 422 and (await resp.json())["field"] == "phone"
    assert not await Message.exists()
    # A (cancelled) monthly pass binds the plate: its holder's phone is used.
    rule = await MonthlyPassRule.create(tenant=place.admin.tenant, name="月卡", price_fen=30000)
    await MonthlyPass.create(
        tenant=place.admin.tenant, rule=rule, holder="张三", phone="13800138000", plates=[PLATE],
        valid_from=at(0).date() - timedelta(days=60), valid_until=at(0).date() - timedelta(days=30),
        state=MonthlyPassState.cancelled,
    )  # fmt: skip
    resp = await cloud.post(url, json={"plate": PLATE}, headers=headers)
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["phone"], body["total_fen"], body["count"]) == ("13800138000", 1000, 2)
    message = await Message.get(id=body["message_id"])
    assert message.state == MessageState.held and message.recipient == "13800138000"
    assert (
        PLATE in message.body and "10.00" in message.body and message.template == "parking_arrears"
    )
    rows = await Arrears.filter(plate=PLATE)
    assert all(r.reminders == 1 and r.reminded_at is not None for r in rows)
    # From the page, to a phone the operator types.
    csrf = await sign_in(cloud, place.admin.account, place.admin.password)
    form = await cloud.get(f"/parking/arrears-vehicles/remind?plate={PLATE}")
    assert form.status == 200 and PLATE in await form.text()
    resp = await cloud.post(
        "/parking/arrears-vehicles/remind",
        data={"_csrf": csrf, "plate": OTHER, "phone": ""},
    )
    assert resp.status == 400 and 'data-field="phone"' in await resp.text()
    resp = await cloud.post(
        "/parking/arrears-vehicles/remind",
        data={"_csrf": csrf, "plate": OTHER, "phone": "13900139000"},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert await Message.filter(recipient="13900139000", template="parking_arrears").count() == 1


async def test_voiding_a_record_republishes_the_plates_arrears(cloud: Client) -> None:
    place, stays = await owing(cloud)
    headers = await api_login(cloud, place)
    first = await Arrears.get(order_id=stays[0].id)
    url = f"{API}/parking-arrears/{first.id}/void"
    resp = await cloud.post(url, json={}, headers=headers)
    assert resp.status == 422 and (await resp.json())["field"] == "reason"
    resp = await cloud.post(url, json={"reason": "误收费"}, headers=headers)
    body = await resp.json()
    assert resp.status == 200 and body["state"] == "void", body
    grants = await arrears_published(place)
    assert all(g is not None and (g["total_fen"], len(g["items"])) == (600, 1) for g in grants)
    assert (await cloud.post(url, json={"reason": "x"}, headers=headers)).status == 409
    listed = await (
        await cloud.get(f"{API}/parking-arrears?plate={PLATE}&state=unpaid", headers=headers)
    ).json()
    assert [i["amount_fen"] for i in listed["items"]] == [600]


async def test_collecting_a_record_makes_a_payment_and_settles_the_order(cloud: Client) -> None:
    place, stays = await owing(cloud)
    other = await Arrears.get(order_id=stays[2].id)
    csrf = await sign_in(cloud, place.admin.account, place.admin.password)
    page = await (await cloud.get("/parking/arrears?state=unpaid")).text()
    assert f"/parking/arrears/{other.id}/collect" in page
    confirm = await cloud.get(f"/parking/arrears/{other.id}/collect")
    assert confirm.status == 200 and 'data-amount="800"' in await confirm.text()
    resp = await cloud.post(
        f"/parking/arrears/{other.id}/collect", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302
    held = await Arrears.get(id=other.id)
    assert held.state == ArrearsState.paid and held.settled_by == place.admin.account
    payment = await ParkingPayment.get(uuid=held.payment)
    assert (payment.purpose, payment.method.value, payment.amount_fen) == ("arrears", "cash", 800)
    order = await ParkingOrder.get(id=stays[2].id)
    assert (order.pay_state, order.paid_fen) == (PayState.paid, 800)
    assert await arrears_published(place, OTHER) == [None, None, None]
    # PLATE still owes: its grant is untouched.
    assert all(g is not None and g["total_fen"] == 1000 for g in await arrears_published(place))
    # A second collection is refused and changes nothing; voiding needs a reason on the page.
    resp = await cloud.post(f"/parking/arrears/{other.id}/collect", data={"_csrf": csrf})
    assert resp.status == 400
    assert await ParkingPayment.filter(purpose="arrears").count() == 1
    first = await Arrears.get(order_id=stays[0].id)
    resp = await cloud.post(f"/parking/arrears/{first.id}/void", data={"_csrf": csrf, "reason": ""})
    assert resp.status == 400 and 'data-field="reason"' in await resp.text()
    assert (await Arrears.get(id=first.id)).state == ArrearsState.unpaid
    assert (await cloud.get("/parking/arrears/999999/collect")).status == 404


async def test_a_monthly_pass_plate_parks_free(cloud: Client) -> None:
    place = await make_parking()
    rule = await MonthlyPassRule.create(tenant=place.admin.tenant, name="月卡", price_fen=30000)
    await MonthlyPass.create(
        tenant=place.admin.tenant, rule=rule, holder="李四", phone="13700137000", plates=[PLATE],
        valid_from=at(0).date() - timedelta(days=1), valid_until=at(0).date() + timedelta(days=30),
    )  # fmt: skip
    order = await berth_stay(cloud, place, at(1), at(3))
    assert (order.vehicle_type, order.pay_state, order.due_fen) == ("monthly", PayState.free, 0)
    assert not await Arrears.exists()
    assert await arrears_published(place) == [None, None, None]
