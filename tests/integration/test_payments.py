"""Payment orders through the simulated channel: a signed notification makes a payment paid
once; a bad signature changes nothing; the simulator pays by itself, asynchronously."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.charging.models import ChargingOrder, PaymentOrder, PaymentState
from cloud.org.models import AuditLog
from cloud.payments.channels import CHANNELS, SIGNATURE_HEADER, SimulatedChannel, sign
from tests.conftest import sign_in
from tests.integration.test_charging_orders import API, Place, api_login, at, make_station, started
from tests.support import eventually

Client = TestClient[web.Request, web.Application]
_SIM = CHANNELS["sim"]
assert isinstance(_SIM, SimulatedChannel)
SIM: SimulatedChannel = _SIM


async def _order_and_payment(
    cloud: Client, monkeypatch: pytest.MonkeyPatch, delay_s: float
) -> tuple[Place, dict[str, str], ChargingOrder, dict[str, object]]:
    monkeypatch.setattr(SIM, "delay_s", delay_s)
    place = await make_station()
    headers = await api_login(cloud, place)
    order = uuid.uuid4()
    await place.push(cloud, [started(place, order, at(3), 0, method="app")])
    row = await ChargingOrder.get(uuid=order)
    resp = await cloud.post(
        f"{API}/payments", json={"order_id": row.id, "amount_fen": 5000}, headers=headers
    )
    body = await resp.json()
    assert resp.status == 201, body
    return place, headers, row, body


async def _notify(cloud: Client, body: bytes, signature: str) -> tuple[int, object]:
    resp = await cloud.post(
        "/payments/callback/sim",
        data=body,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )
    return resp.status, await resp.json()


async def test_the_simulated_channel_pays_asynchronously(
    cloud: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    place, _, row, created = await _order_and_payment(cloud, monkeypatch, 0.05)
    assert created["state"] == "created"
    assert str(created["pay_url"]).endswith(f"/payments/sim/{created['channel_ref']}")

    async def paid() -> bool:
        return await PaymentOrder.filter(id=int(str(created["id"])), state="paid").exists()

    await eventually(paid, 10, "the simulated payment is paid")
    assert (await ChargingOrder.get(id=row.id)).prepaid_fen == 5000
    got = await (await cloud.get(f"{API}/payments/{created['id']}")).json()
    assert got["state"] == "paid" and got["callback"]["status"] == "paid"
    assert got["order_number"] == row.number and got["paid_at"]
    listed = await (await cloud.get(f"{API}/payments?state=paid")).json()
    assert [item["number"] for item in listed["items"]] == [created["number"]]
    # The pages: list, detail, export.
    await sign_in(cloud, place.admin.account, place.admin.password)
    assert str(created["number"]) in await (await cloud.get("/payments?state=paid")).text()
    detail = await cloud.get(f"/payments/{created['id']}")
    assert detail.status == 200 and "data-callback" in await detail.text()
    export = await cloud.get("/payments/export.xlsx")
    sheet = load_workbook(io.BytesIO(await export.read()), read_only=True).active
    assert sheet is not None
    assert [r[0] for r in sheet.iter_rows(values_only=True)][1:] == [created["number"]]


async def test_a_notification_delivered_twice_pays_once(
    cloud: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, row, created = await _order_and_payment(cloud, monkeypatch, 3600)
    body = SIM.notification_body(str(created["channel_ref"]), str(created["number"]), 5000)
    signature = sign(SIM.secret, body)
    first = await _notify(cloud, body, signature)
    second = await _notify(cloud, body, signature)
    assert first == second == (200, {"ok": True, "payment": created["number"], "state": "paid"})
    assert (await ChargingOrder.get(id=row.id)).prepaid_fen == 5000
    assert await AuditLog.filter(entity="payment", action="update").count() == 1


async def test_a_bad_signature_is_refused_and_changes_nothing(
    cloud: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, _, row, created = await _order_and_payment(cloud, monkeypatch, 3600)
    body = SIM.notification_body(str(created["channel_ref"]), str(created["number"]), 5000)
    forged = sign(b"not the channel's secret", body)
    with caplog.at_level(logging.WARNING, logger="cloud.payments.pages"):
        status, answer = await _notify(cloud, body, forged)
    assert status == 400 and answer == {
        "error": "bad_notification", "message": "signature missing or wrong"
    }  # fmt: skip
    assert "refused" in caplog.text
    assert (await _notify(cloud, body, ""))[0] == 400
    tampered = body.replace(b'"amount_fen":5000', b'"amount_fen":1')
    assert (await _notify(cloud, tampered, sign(SIM.secret, body)))[0] == 400
    # A signed notification whose amount differs from the payment's is refused as well.
    cheap = SIM.notification_body(str(created["channel_ref"]), str(created["number"]), 1)
    assert (await _notify(cloud, cheap, sign(SIM.secret, cheap)))[0] == 400
    payment = await PaymentOrder.get(id=int(str(created["id"])))
    assert payment.state == PaymentState.created and payment.callback is None
    assert (await ChargingOrder.get(id=row.id)).prepaid_fen == 0


async def test_a_payment_needs_an_order_of_the_tenant_that_can_be_paid(
    cloud: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    place, headers, row, _ = await _order_and_payment(cloud, monkeypatch, 3600)
    resp = await cloud.post(
        f"{API}/payments", json={"order_id": row.id + 99, "amount_fen": 100}, headers=headers
    )
    assert resp.status == 422 and (await resp.json())["field"] == "order_id"
    resp = await cloud.post(
        f"{API}/payments",
        json={"order_id": row.id, "amount_fen": 100, "channel": "nope"},
        headers=headers,
    )
    assert resp.status == 422 and (await resp.json())["field"] == "channel"
    await cloud.post(f"{API}/charging-orders/{row.id}/end", headers=headers)
    resp = await cloud.post(
        f"{API}/payments", json={"order_id": row.id, "amount_fen": 100}, headers=headers
    )
    assert resp.status == 422
    assert place.site.code


async def test_a_refund_goes_back_through_the_channel_it_was_paid_with(
    cloud: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    place, headers, row, created = await _order_and_payment(cloud, monkeypatch, 3600)
    body = SIM.notification_body(str(created["channel_ref"]), str(created["number"]), 5000)
    assert (await _notify(cloud, body, sign(SIM.secret, body)))[0] == 200
    stop = place.event(
        "charging.stopped",
        {
            "order": str(row.uuid), "connector": 1, "transaction_id": 7, "meter_stop_wh": 10000,
            "stopped_at": at(4).isoformat(), "energy_wh": 10000,
        },
    )  # fmt: skip
    await place.push(cloud, [stop])
    resp = await cloud.post(
        f"{API}/charging-orders/{row.id}/refund", json={"amount_fen": 1200}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    refunds = await (await cloud.get(f"{API}/refunds")).json()
    [refund] = refunds["items"]
    assert refund["payment_number"] == created["number"] and refund["state"] == "done"
    assert refund["channel_ref"].startswith("SIMR") and refund["amount_fen"] == 1200
    await sign_in(cloud, place.admin.account, place.admin.password)
    page = await cloud.get(f"/refunds/{refund['id']}")
    assert page.status == 200 and refund["channel_ref"] in await page.text()
    assert refund["number"] in await (await cloud.get("/refunds?state=done")).text()
