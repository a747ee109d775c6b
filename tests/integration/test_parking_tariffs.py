"""Parking tariffs (收费规则) and the holiday calendar (节假日配置) through their pages and JSON
API: the form builds the rule types and publishes the document to every lot and road section;
a rule order that can never apply is refused naming it and saves nothing; the verify page and
API bill a stay across midnight into a long holiday; the bill an edge computes from what it was
sent equals the cloud's; a tariff a lot uses cannot be disabled; holidays are published per
date; another tenant's tariff is a 404."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.api import API_PREFIX
from cloud.org.models import AuditLog, Tenant
from cloud.parking.models import HolidayDay, ParkingSite, ParkingTariff
from cloud.sites.models import Site, StateChange
from protocols.charging import TariffGrant
from protocols.parking import HolidayGrant, tariff_key
from protocols.site import SiteKind
from protocols.tariffs import HolidayCalendar, bill_parking, parse_tariff, per_visit_parking
from tests.conftest import make_tenant, sign_in

Client = TestClient[web.Request, web.Application]
SH = ZoneInfo("Asia/Shanghai")
PATH = "/parking/tariffs"
API = f"{API_PREFIX}/parking-tariffs"
HOLIDAYS_API = f"{API_PREFIX}/parking-holidays"


async def make_sites(tenant: Tenant, prefix: str = "") -> tuple[Site, Site]:
    lot = await Site.create(
        tenant=tenant, code=f"{prefix}lot1", name=f"{prefix}一号停车场", kind=SiteKind.parking_lot
    )
    section = await Site.create(
        tenant=tenant,
        code=f"{prefix}sec1",
        name=f"{prefix}解放路",
        kind=SiteKind.street_section,
    )
    return lot, section


async def make_parking_tariff(tenant: Tenant, prefix: str = "") -> ParkingTariff:
    """A per-visit tariff (the tenant-isolation factory uses this)."""
    document = per_visit_parking(f"{prefix}按次", 1000)
    return await ParkingTariff.create(
        tenant=tenant, name=document.name, document=document.model_dump(mode="json")
    )


async def make_holiday(tenant: Tenant, prefix: str = "") -> HolidayDay:
    """A holiday (the tenant-isolation factory uses this)."""
    count = await HolidayDay.filter(tenant=tenant).count()
    return await HolidayDay.create(
        tenant=tenant, day=date(2025, 10, 1 + count), kind="long_holiday", name=f"{prefix}国庆"
    )


async def _signed_in(cloud: Client, code: str = "op") -> tuple[str, Tenant, Site, Site]:
    admin = await make_tenant(code)
    lot, section = await make_sites(admin.tenant)
    csrf = await sign_in(cloud, admin.account, admin.password)
    return csrf, admin.tenant, lot, section


async def _latest(site: Site, entity: str, key: str) -> dict[str, Any] | None:
    change = (
        await StateChange.filter(site_id=site.id, entity=entity, key=key)
        .order_by("-revision")
        .first()
    )
    assert change is not None, f"{entity} {key} published to {site.code}"
    return change.data


def street_form(**more: str) -> dict[str, str]:
    """Large vehicles per hour; long holidays free; everyone else day/night: first hour 5 yuan
    then 2 yuan per 30 minutes by day, 10 yuan per night; 15 minutes free; 60 yuan a day."""
    form = {
        "name": "路内一类",
        "s0_rule": "no_charge",
        "s0_kinds": "long_holiday",
        "s1_rule": "per_period",
        "s1_classes": "large",
        "s1_step_minutes": "60",
        "s1_price": "8.00",
        "s2_rule": "day_night",
        "s2_day_start": "08:00",
        "s2_day_end": "20:00",
        "s2_day_rule": "per_period",
        "s2_day_first_minutes": "60",
        "s2_day_first_price": "5",
        "s2_day_step_minutes": "30",
        "s2_day_price": "2.00",
        "s2_night_rule": "per_visit",
        "s2_night_visit_price": "10",
        "free_minutes": "15",
        "cap_per_day": "60",
        "new_energy_percent": "50",
    }
    form.update(more)
    return form


async def test_the_form_builds_the_rules_and_publishes_to_every_lot_and_section(
    cloud: Client,
) -> None:
    csrf, _, lot, section = await _signed_in(cloud)
    resp = await cloud.post(
        f"{PATH}/new", data={"_csrf": csrf, **street_form()}, allow_redirects=False
    )
    assert resp.status == 302, await resp.text()
    row = await ParkingTariff.get(name="路内一类")
    document = parse_tariff(row.document)
    assert document.kind == "parking" and document.free_minutes == 15
    assert document.cap_per_day_fen == 6000 and document.new_energy_percent == 50
    for site in (lot, section):
        data = await _latest(site, "tariff", tariff_key(row.id))
        assert data is not None
        grant = TariffGrant.model_validate(data)
        assert grant.versions[0].document == row.document
        assert grant.versions[0].effective_from == datetime.now(SH).date()
    assert await AuditLog.filter(entity="parking_tariff", action="create").exists()
    listing = await (await cloud.get(PATH)).text()
    assert "路内一类" in listing and "长假：不收费" in listing and "每日封顶60.00元" in listing
    detail = await (await cloud.get(f"{PATH}/{row.id}")).text()
    assert "白天08:00–20:00" in detail and "&#34;cap_per_day_fen&#34;: 6000" in detail
    # The edit form shows the rules again, and saving it unchanged keeps the same document.
    edit = await (await cloud.get(f"{PATH}/{row.id}/edit")).text()
    assert 'name="s2_day_first_price" value="5.00"' in edit
    assert 'value="long_holiday" checked' in edit
    resp = await cloud.post(
        f"{PATH}/{row.id}/edit", data={"_csrf": csrf, **street_form()}, allow_redirects=False
    )
    assert resp.status == 302
    assert (await ParkingTariff.get(id=row.id)).document == row.document


async def test_a_rule_that_can_never_apply_is_refused_naming_it_and_nothing_is_saved(
    cloud: Client,
) -> None:
    csrf, *_ = await _signed_in(cloud)
    # An every-day rule first leaves nothing for the holiday rule after it.
    form = {
        "name": "顺序错误",
        "s0_rule": "per_visit",
        "s0_visit_price": "5",
        "s1_rule": "no_charge",
        "s1_kinds": "long_holiday",
    }
    resp = await cloud.post(f"{PATH}/new", data={"_csrf": csrf, **form})
    assert resp.status == 400
    text = await resp.text()
    assert "永远不会生效" in text and "长假·不收费" in text
    bad_money = {"name": "金额错误", "s0_rule": "per_visit", "s0_visit_price": "5.001"}
    resp = await cloud.post(f"{PATH}/new", data={"_csrf": csrf, **bad_money})
    assert resp.status == 400 and "金额格式不正确" in await resp.text()
    assert not await ParkingTariff.exists()
    assert not await StateChange.filter(entity="tariff").exists()


async def test_verify_bills_a_workday_evening_to_a_long_holiday_morning(cloud: Client) -> None:
    csrf, _, lot, _ = await _signed_in(cloud)
    await cloud.post(f"{PATH}/new", data={"_csrf": csrf, **street_form()}, allow_redirects=False)
    row = await ParkingTariff.get(name="路内一类")
    headers = {"X-CSRF-Token": csrf}
    resp = await cloud.post(
        HOLIDAYS_API,
        json={"day": "2025-10-01", "kind": "long_holiday", "name": "国庆"},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    holiday = await _latest(lot, "holiday", "2025-10-01")
    assert holiday == HolidayGrant(kind="long_holiday", name="国庆").model_dump(mode="json")
    # Tuesday 30 September 18:30 -> Wednesday 1 October (国庆) 10:00, a small car.
    stay = {
        "entered_at": datetime(2025, 9, 30, 18, 30, tzinfo=SH).isoformat(),
        "exited_at": datetime(2025, 10, 1, 10, 0, tzinfo=SH).isoformat(),
    }
    resp = await cloud.post(f"{API}/{row.id}/verify", json=stay, headers=headers)
    assert resp.status == 200, await resp.text()
    bill = await resp.json()
    lines = [(line["label"], line["amount_fen"]) for line in bill["lines"]]
    # day 18:30-20:00: first hour 5 + one started half hour 2; the night until midnight 10;
    # from midnight the long holiday is free
    assert lines == [
        ("白天首60分钟", 500),
        ("白天每30分钟", 200),
        ("夜间按次", 1000),
        ("长假·不收费", 0),
    ]
    assert bill["total_fen"] == 1700 == sum(amount for _, amount in lines)
    green = await cloud.post(
        f"{API}/{row.id}/verify", json={**stay, "new_energy": True}, headers=headers
    )
    assert (await green.json())["total_fen"] == 850

    # The edge bills from what it was sent (the tariff grant and the holiday grants): same bill.
    sent = await _latest(lot, "tariff", tariff_key(row.id))
    assert sent is not None
    document = parse_tariff(TariffGrant.model_validate(sent).versions[0].document)
    calendar = HolidayCalendar.from_grants({"2025-10-01": holiday})
    edge_bill = bill_parking(
        document,
        datetime.fromisoformat(stay["entered_at"]),
        datetime.fromisoformat(stay["exited_at"]),
        calendar=calendar,
    )
    assert edge_bill.total_fen == bill["total_fen"]
    assert [line.as_dict()["amount_fen"] for line in edge_bill.lines] == [a for _, a in lines]

    # The page shows the same lines and the total.
    page = await cloud.post(
        f"{PATH}/verify",
        data={
            "_csrf": csrf,
            "tariff": str(row.id),
            "entered_at": "2025-09-30T18:30",
            "exited_at": "2025-10-01T10:00",
            "vehicle_class": "small",
        },
    )
    text = await page.text()
    assert page.status == 200, text
    assert "data-total>17.00<" in text and "夜间按次" in text
    # Exit before entry is refused on the page and in the API, naming the field.
    bad = await cloud.post(
        f"{PATH}/verify",
        data={
            "_csrf": csrf,
            "tariff": str(row.id),
            "entered_at": "2025-10-01T10:00",
            "exited_at": "2025-09-30T18:30",
            "vehicle_class": "small",
        },
    )
    assert bad.status == 400 and "离场时间早于入场时间" in await bad.text()
    resp = await cloud.post(
        f"{API}/{row.id}/verify",
        json={"entered_at": stay["exited_at"], "exited_at": stay["entered_at"]},
        headers=headers,
    )
    assert resp.status == 422 and (await resp.json())["field"] == "exited_at"


async def test_the_api_creates_changes_and_refuses_disabling_a_tariff_in_use(
    cloud: Client,
) -> None:
    csrf, tenant, lot, section = await _signed_in(cloud)
    headers = {"X-CSRF-Token": csrf}
    body = {
        "name": "按次收费",
        "schemes": [{"rule": {"kind": "per_visit", "price_fen": 1000}}],
    }
    resp = await cloud.post(API, json=body, headers=headers)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert (
        created["summary"] == "按次 10.00元" and created["schemes"][0]["rule"]["price_fen"] == 1000
    )
    ident = created["id"]
    # a step of 0 minutes is refused naming the field; nothing changes
    bad = {
        "name": "按次收费",
        "schemes": [{"rule": {"kind": "per_period", "step_minutes": 0, "price_fen": 100}}],
    }
    resp = await cloud.put(f"{API}/{ident}", json=bad, headers=headers)
    assert resp.status == 422 and "schemes" in (await resp.json())["field"]
    # a hand-written document is accepted when it is a valid parking document
    document = {
        "kind": "parking",
        "name": "x",
        "elements": [
            {
                "label": "每小时",
                "components": [{"kind": "time", "price_fen": 300, "step_minutes": 60}],
            }
        ],
        "cap_per_stay_fen": 2000,
    }
    resp = await cloud.put(
        f"{API}/{ident}", json={"name": "按小时", "document": document}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    changed = await resp.json()
    assert changed["name"] == "按小时" and changed["schemes"][0]["rule"]["step_minutes"] == 60
    grant = await _latest(section, "tariff", tariff_key(ident))
    assert grant is not None and grant["versions"][0]["document"]["cap_per_stay_fen"] == 2000

    # A lot billed by it: disabling and deleting are refused, and nothing is withdrawn.
    place = await ParkingSite.create(tenant=tenant, site=lot, tariff_id=ident)
    resp = await cloud.post(f"{API}/{ident}/disable", headers=headers)
    assert resp.status == 409 and (await resp.json())["field"] == "enabled"
    resp = await cloud.delete(f"{API}/{ident}", headers=headers)
    assert resp.status == 409
    assert await _latest(lot, "tariff", tariff_key(ident)) is not None
    page = await cloud.post(f"{PATH}/{ident}/disable", data={"_csrf": csrf}, allow_redirects=False)
    assert page.status == 302 and (await ParkingTariff.get(id=ident)).enabled
    # Once the lot bills by another (or none), it can be disabled: withdrawn from every site.
    place.tariff_id = None
    await place.save()
    resp = await cloud.post(f"{API}/{ident}/disable", headers=headers)
    assert resp.status == 200 and not (await resp.json())["enabled"]
    assert await _latest(lot, "tariff", tariff_key(ident)) is None
    assert await _latest(section, "tariff", tariff_key(ident)) is None
    resp = await cloud.delete(f"{API}/{ident}", headers=headers)
    assert resp.status == 204
    assert not await ParkingTariff.exists()


async def test_holidays_are_published_per_date_and_shown_in_the_year_view(cloud: Client) -> None:
    csrf, _, lot, section = await _signed_in(cloud)
    page = await cloud.post(
        "/parking/holidays/new",
        data={"_csrf": csrf, "day": "2025-10-11", "kind": "workday", "name": "调休"},
        allow_redirects=False,
    )
    assert page.status == 302, await page.text()
    row = await HolidayDay.get(day=date(2025, 10, 11))
    assert await _latest(section, "holiday", "2025-10-11") == {"kind": "workday", "name": "调休"}
    # the same date twice is refused
    again = await cloud.post(
        "/parking/holidays/new",
        data={"_csrf": csrf, "day": "2025-10-11", "kind": "long_holiday", "name": ""},
    )
    assert again.status == 400
    year = await (await cloud.get("/parking/holidays/year?year=2025")).text()
    assert 'data-day="2025-10-11" data-kind="workday"' in year
    assert 'data-day="2025-10-12" data-kind="weekend"' in year
    # moving the date withdraws the old one
    headers = {"X-CSRF-Token": csrf}
    resp = await cloud.put(
        f"{HOLIDAYS_API}/{row.id}",
        json={"day": "2025-09-28", "kind": "workday", "name": "调休"},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    assert await _latest(lot, "holiday", "2025-10-11") is None
    assert await _latest(lot, "holiday", "2025-09-28") == {"kind": "workday", "name": "调休"}
    bad = await cloud.post(
        HOLIDAYS_API, json={"day": "2025-10-01", "kind": "festival"}, headers=headers
    )
    assert bad.status == 422 and (await bad.json())["field"] == "kind"
    resp = await cloud.delete(f"{HOLIDAYS_API}/{row.id}", headers=headers)
    assert resp.status == 204
    assert await _latest(lot, "holiday", "2025-09-28") is None


async def test_another_tenants_tariff_is_a_404_and_viewers_cannot_edit(cloud: Client) -> None:
    other = await make_tenant("other")
    theirs = await make_parking_tariff(other.tenant, "他人")
    viewer = await make_tenant("viewer", admin=False, permissions=["parking.view"])
    csrf = await sign_in(cloud, viewer.account, viewer.password)
    headers = {"X-CSRF-Token": csrf}
    stay = {"entered_at": "2025-05-06T09:00:00+08:00", "exited_at": "2025-05-06T10:00:00+08:00"}
    assert (await cloud.get(f"{PATH}/{theirs.id}")).status == 404
    assert (await cloud.get(f"{API}/{theirs.id}")).status == 404
    assert (await cloud.post(f"{API}/{theirs.id}/verify", json=stay, headers=headers)).status == 404
    mine = await make_parking_tariff(viewer.tenant, "我的")
    resp = await cloud.post(f"{API}/{mine.id}/verify", json=stay, headers=headers)
    assert resp.status == 200 and (await resp.json())["total_fen"] == 1000
    assert (await cloud.get(f"{PATH}/new")).status == 403
    resp = await cloud.post(API, json={"name": "x", "schemes": []}, headers=headers)
    assert resp.status == 403


async def test_every_tariff_and_holiday_route_is_a_404_for_another_tenants_row(
    cloud: Client,
) -> None:
    other = await make_tenant("theirs")
    tariff = await make_parking_tariff(other.tenant, "SECRET")
    holiday = await make_holiday(other.tenant, "SECRET")
    admin = await make_tenant("ours")
    csrf = await sign_in(cloud, admin.account, admin.password)
    headers = {"X-CSRF-Token": csrf}
    for prefix, ident in (("/parking/tariffs", tariff.id), ("/parking/holidays", holiday.id)):
        pages = [("GET", f"{prefix}/{ident}/edit"), ("POST", f"{prefix}/{ident}/edit")]
        pages += [(m, f"{prefix}/{ident}/delete") for m in ("GET", "POST")]
        if prefix == "/parking/tariffs":
            pages += [("GET", f"{prefix}/{ident}"), ("GET", f"{prefix}/{ident}/verify")]
            pages += [(m, f"{prefix}/{ident}/disable") for m in ("GET", "POST")]
        for method, path in pages:
            resp = await cloud.request(
                method, path, data={"_csrf": csrf, "name": "hijack"}, allow_redirects=False
            )
            assert resp.status == 404, f"{method} {path} answered {resp.status}"
            assert "SECRET" not in await resp.text()
        api = f"{API_PREFIX}{prefix.replace('/parking/', '/parking-')}/{ident}"
        calls = [("GET", api), ("DELETE", api), ("POST", f"{api}/verify")]
        if prefix == "/parking/tariffs":
            calls += [("POST", f"{api}/enable"), ("POST", f"{api}/disable")]
        for method, path in calls:
            resp = await cloud.request(method, path, json={"name": "hijack"}, headers=headers)
            assert resp.status == 404, f"{method} {path} answered {resp.status}"
    assert await ParkingTariff.filter(id=tariff.id, enabled=True).exists()
    assert await HolidayDay.filter(id=holiday.id).exists()
