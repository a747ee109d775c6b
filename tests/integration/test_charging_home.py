"""The charging home page (3.1, car charging): counts, the 7-day orders and 5-day energy charts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.api import API_PREFIX
from cloud.charging.demo import populate_charging
from cloud.charging.home import charging_home
from cloud.charging.models import (
    Charger,
    ChargingOrder,
    Connector,
    IdTag,
    IdTagKind,
    OrderState,
    Refund,
    StartMethod,
    Station,
)
from cloud.org.models import TenantKind
from tests.conftest import make_tenant, sign_in
from tests.e2e.seed import principal_of_user

Client = TestClient[web.Request, web.Application]
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _order(
    tenant_id: int, station: Station, charger: Charger, made: datetime, wh: int, **extra: Any
) -> ChargingOrder:
    order_uuid = uuid.uuid4()
    row = await ChargingOrder.create(
        tenant_id=tenant_id,
        uuid=order_uuid,
        number=order_uuid.hex[:20],
        station_id=station.id,
        charger_id=charger.id,
        connector=1,
        method=StartMethod.card,
        state=OrderState.completed,
        energy_wh=wh,
        **extra,
    )
    # created_at is set on insert: move it to the moment the test means.
    await ChargingOrder.filter(id=row.id).update(created_at=made)
    return row


async def test_counts_and_charts(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await populate_charging(admin.tenant, "")
    await IdTag.create(tenant=admin.tenant, tag="APP0001", kind=IdTagKind.app)
    station = await Station.get(tenant=admin.tenant)
    charger = await Charger.get(serial="CP-DEMO-1")
    await Charger.filter(id=charger.id).update(online=True)
    await Connector.filter(charger_id=charger.id, connector=1).update(status="Charging")
    # "now" is 10:00 in Shanghai; orders today, yesterday (ended today) and eight days ago.
    now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    today = now.astimezone(SHANGHAI).date()
    await _order(admin.tenant.id, station, charger, now - timedelta(hours=1), 12_400)
    await _order(
        admin.tenant.id, station, charger, now - timedelta(hours=20), 30_000,
        stopped_at=now - timedelta(hours=1, minutes=30),
    )  # fmt: skip
    old = await _order(admin.tenant.id, station, charger, now - timedelta(days=8), 5_000)
    refund = await Refund.create(
        tenant=admin.tenant, number="R1", order=old, amount_fen=100, state="done"
    )
    await Refund.filter(id=refund.id).update(created_at=now - timedelta(days=1))
    data = await charging_home(principal_of_user(admin.user), SHANGHAI, now)
    assert (data.stations, data.areas, data.chargers, data.chargers_online) == (1, 1, 2, 1)
    assert data.connectors == 4
    assert data.connectors_by_status == {"Charging": 1, "Unavailable": 3}
    assert (data.orders, data.orders_today, data.cards, data.members) == (3, 1, 2, 1)
    assert [d.day for d in data.orders_7d][-1] == today and len(data.orders_7d) == 7
    assert [(d.value, d.second) for d in data.orders_7d][-2:] == [(1, 1), (1, 0)]
    assert sum(d.value for d in data.orders_7d) == 2  # the order of eight days ago is outside
    assert [d.value for d in data.energy_5d] == [0, 0, 0, 0, 42]  # both ended today: 42.4 kWh
    # The page and the API show it.
    await sign_in(cloud, admin.account, admin.password)
    page = await cloud.get("/charging")
    text = await page.text()
    assert page.status == 200
    assert 'data-figure="chargers">1 / 2<' in text and 'data-figure="cards">2<' in text
    assert 'data-chart="orders"' in text and 'data-chart="energy"' in text
    assert text.count("<rect") >= 7 + 7 + 5
    assert "/charging" in text and "充电概览" in text
    resp = await cloud.get(f"{API_PREFIX}/charging-home")
    assert resp.status == 200 and (await resp.json())["stations"] == 1


async def test_an_empty_tenant_sees_zeros(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await sign_in(cloud, admin.account, admin.password)
    page = await cloud.get("/charging")
    assert page.status == 200 and 'data-figure="stations">0<' in await page.text()
    clerk = await make_tenant("beta", admin=False, permissions=["access.view"])
    cloud.session.cookie_jar.clear()
    await sign_in(cloud, clerk.account, clerk.password)
    assert (await cloud.get("/charging", allow_redirects=False)).status == 403


async def test_a_charging_operator_lands_on_the_charging_home(cloud: Client) -> None:
    operator = await make_tenant("volt")
    operator.tenant.kind = TenantKind.charging_provider
    await operator.tenant.save()
    await sign_in(cloud, operator.account, operator.password)
    landed = await cloud.get("/", allow_redirects=False)
    assert landed.status == 302 and landed.headers["Location"] == "/charging"

    school = await make_tenant("school")
    await sign_in(cloud, school.account, school.password)
    assert (await cloud.get("/", allow_redirects=False)).status == 200  # a school keeps its home
