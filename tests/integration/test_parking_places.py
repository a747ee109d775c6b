"""Lots, road sections and berths through the real cloud app and database: what a place is made
of, what its edges are told, what the forms and the API refuse, and the berth monitor."""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.api import API_PREFIX, ROUTES_KEY
from cloud.auth import Principal
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid
from cloud.org.models import Tenant
from cloud.parking import places
from cloud.parking.models import (
    Berth,
    BerthSensor,
    BerthStatus,
    HolidayDay,
    ParkingLock,
    ParkingSite,
    ParkingTariff,
)
from cloud.parking.place_schemas import (
    BerthCreate,
    BerthUpdate,
    PlaceCreate,
    PlaceFilter,
    PlaceUpdate,
)
from cloud.parking.publish import publish_to_tenant
from cloud.sites.models import Command, Site, StateChange
from protocols.parking import HolidayGrant
from protocols.site import SiteKind
from protocols.sync import Entity
from tests import parking_rows
from tests.conftest import make_tenant, sign_in
from tests.e2e.seed import principal_of_user

Client = TestClient[web.Request, web.Application]


async def _me(code: str = "alpha") -> Principal:
    admin = await make_tenant(code)
    return principal_of_user(admin.user)


async def _tariff(me: Principal, name: str = "标准收费", enabled: bool = True) -> int:
    row = await ParkingTariff.create(
        tenant_id=me.tenant_id, name=name, document={"name": name}, enabled=enabled
    )
    return row.id


async def _latest(site_id: int, entity: str, key: str) -> dict[str, Any] | None:
    row = (
        await StateChange.filter(site_id=site_id, entity=entity, key=key)
        .order_by("-revision")
        .first()
    )
    assert row is not None, f"{entity} {key} was published at site {site_id}"
    return row.data


def _csrf(page: str) -> dict[str, str]:
    found = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert found
    return {"_csrf": found.group(1)}


async def _api_token(cloud: Client, account: str, password: str) -> dict[str, str]:
    resp = await cloud.post(
        f"{API_PREFIX}/auth/login", json={"account": account, "password": password}
    )
    assert resp.status == 200
    return {"X-CSRF-Token": (await resp.json())["csrf_token"]}


async def test_a_lot_comes_with_its_site_and_is_published(db: str) -> None:
    me = await _me()
    tariff = await _tariff(me)
    lot = await places.create_place(
        me,
        SiteKind.parking_lot,
        PlaceCreate(name="万达停车场", region="朝阳区", street="建国路", capacity=300,
                    tariff_id=tariff, refuse_arrears_above_fen=50_000, hotline="4001002000"),
    )  # fmt: skip
    site = await Site.get(id=lot.site_id)
    assert (site.kind, site.code, site.name, site.capacity) == (
        SiteKind.parking_lot,
        "lot-1",
        "万达停车场",
        300,
    )
    grant = await _latest(site.id, "parking_site", "lot-1")
    assert grant == {
        "name": "万达停车场", "kind": "parking_lot", "tariff": f"parking:{tariff}",
        "capacity": 300, "refuse_arrears_above_fen": 50_000,
        "arrears_confirm_above_fen": 20_000, "hotline": "4001002000",
    }  # fmt: skip
    # Edits and disabling republish; an edit that changes nothing publishes nothing.
    revision = (await Site.get(id=site.id)).revision
    same = PlaceUpdate(**lot.model_dump(include=set(PlaceUpdate.model_fields)))
    await places.update_place(me, SiteKind.parking_lot, lot.id, same)
    assert (await Site.get(id=site.id)).revision == revision
    changed = same.model_copy(update={"tariff_id": None, "refuse_arrears_above_fen": None})
    await places.update_place(me, SiteKind.parking_lot, lot.id, changed)
    grant = await _latest(site.id, "parking_site", "lot-1")
    assert grant is not None and grant["tariff"] == "" and grant["refuse_arrears_above_fen"] is None
    await places.set_place_enabled(me, SiteKind.parking_lot, lot.id, False)
    assert not (await Site.get(id=site.id)).enabled
    assert (await Site.get(id=site.id)).revision == revision + 2
    # A lot is not a road section: each kind finds only its own.
    sections = await places.list_places(me, SiteKind.street_section, PlaceFilter(), PageParams())
    assert sections.total == 0


async def test_bad_places_are_refused_and_nothing_is_made(db: str) -> None:
    me = await _me()
    other = await _me("beta")
    foreign = await _tariff(other, "别家收费")
    disabled = await _tariff(me, "停用收费", enabled=False)
    await Site.create(tenant_id=me.tenant_id, code="campus", name="校园", kind=SiteKind.campus)
    for data, field, key in (
        (PlaceCreate(name="A", tariff_id=foreign), "tariff_id", "error.reference"),
        (PlaceCreate(name="A", tariff_id=disabled), "tariff_id", "parking.places.error.tariff_disabled"),
        (PlaceCreate(name="A", site_code="campus"), "site_code", "parking.places.error.site_kind"),
    ):  # fmt: skip
        with pytest.raises(Invalid) as refused:
            await places.create_place(me, SiteKind.parking_lot, data)
        assert (refused.value.field, refused.value.message) == (field, key)
    assert await ParkingSite.all().count() == 0
    assert await Site.filter(tenant_id=me.tenant_id).count() == 1
    made = await places.create_place(
        me, SiteKind.street_section, PlaceCreate(name="中山路", site_code="zs")
    )
    assert made.site_code == "zs"
    with pytest.raises(Conflict):
        await places.create_place(
            me, SiteKind.street_section, PlaceCreate(name="B", site_code="zs")
        )


async def test_a_new_place_gets_the_tenant_wide_state(db: str) -> None:
    me = await _me()
    first = await places.create_place(me, SiteKind.street_section, PlaceCreate(name="一号路"))
    await HolidayDay.create(tenant_id=me.tenant_id, day="2026-10-01", kind="long_holiday")
    await publish_to_tenant(
        me.tenant_id, Entity.holiday, "2026-10-01", HolidayGrant(kind="long_holiday", name="国庆")
    )
    await publish_to_tenant(
        me.tenant_id, Entity.holiday, "2026-05-01", HolidayGrant(kind="short_holiday")
    )
    await publish_to_tenant(me.tenant_id, Entity.holiday, "2026-05-01", None)  # removed again
    second = await places.create_place(me, SiteKind.parking_lot, PlaceCreate(name="二号场"))
    assert await _latest(second.site_id, "holiday", "2026-10-01") == {
        "kind": "long_holiday",
        "name": "国庆",
    }
    assert not await StateChange.filter(site_id=second.site_id, key="2026-05-01").exists()
    assert first.site_id != second.site_id


async def test_berths_sensors_and_locks_are_bound_and_published(db: str) -> None:
    me = await _me()
    section = await places.create_place(
        me, SiteKind.street_section, PlaceCreate(name="中山路", site_code="zs")
    )
    made = await places.create_berths(
        me, BerthCreate(site_id=section.site_id, code="W-001", count=20, has_lock=False)
    )
    assert [b.code for b in made][:3] == ["W-001", "W-002", "W-003"] and made[-1].code == "W-020"
    assert made[4].number == "005"
    grant = await _latest(section.site_id, "berth", "W-020")
    assert grant is not None and grant["site"] == "zs" and grant["number"] == "020"
    # A range that overlaps existing codes makes nothing.
    with pytest.raises(Conflict) as refused:
        await places.create_berths(me, BerthCreate(site_id=section.site_id, code="W-019", count=5))
    assert refused.value.message == "parking.places.error.code_taken"
    assert await Berth.filter(tenant_id=me.tenant_id).count() == 20
    # One berth with a sensor and a lock: the sensor and the lock get their rows.
    one = await places.create_berth(
        me, BerthCreate(site_id=section.site_id, code="A-1", sensor="MAG-1", has_lock=True)
    )
    assert (await BerthSensor.get(serial="MAG-1")).berth == "A-1"
    assert (await ParkingLock.get(berth="A-1")).site_id == section.site_id
    grant = await _latest(section.site_id, "berth", "A-1")
    assert grant is not None and grant["sensor"] == "MAG-1" and grant["has_lock"]
    # A sensor serves one berth.
    with pytest.raises(Conflict) as refused:
        await places.update_berth(me, made[0].id, BerthUpdate(sensor="MAG-1"))
    assert refused.value.field == "sensor"
    assert (await Berth.get(id=made[0].id)).sensor == ""
    # Changing the sensor unbinds the old one; clearing has_lock removes the lock.
    await places.update_berth(me, one.id, BerthUpdate(number="A1", sensor="MAG-2"))
    assert (await BerthSensor.get(serial="MAG-1")).berth == ""
    assert (await BerthSensor.get(serial="MAG-2")).berth == "A-1"
    assert not await ParkingLock.filter(berth="A-1").exists()
    await places.update_berth(me, made[0].id, BerthUpdate(sensor="MAG-1"))
    assert (await BerthSensor.get(serial="MAG-1")).berth == "W-001"
    # Disabled: published so; an occupied berth is not deleted; a free one is retracted.
    await places.set_berth_enabled(me, one.id, False)
    grant = await _latest(section.site_id, "berth", "A-1")
    assert grant is not None and grant["enabled"] is False
    await Berth.filter(id=made[1].id).update(status=BerthStatus.occupied, session="s-1")
    with pytest.raises(Conflict) as refused:
        await places.delete_berth(me, made[1].id)
    assert refused.value.message == "parking.places.error.berth_occupied"
    await places.delete_berth(me, one.id)
    assert await _latest(section.site_id, "berth", "A-1") is None
    assert (await BerthSensor.get(serial="MAG-2")).berth == ""
    # A berth goes to a parking place of the tenant only.
    campus = await Site.create(tenant_id=me.tenant_id, code="c", name="校", kind=SiteKind.campus)
    with pytest.raises(Invalid) as invalid:
        await places.create_berth(me, BerthCreate(site_id=campus.id, code="X-1"))
    assert invalid.value.field == "site_id"


async def test_pages_make_places_and_berths_and_show_the_monitor(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    me = principal_of_user(admin.user)
    tariff = await _tariff(me)
    await sign_in(cloud, admin.account, admin.password)
    form = await cloud.get("/parking/lots/new")
    assert form.status == 200 and "标准收费" in await form.text()
    csrf = _csrf(await form.text())
    # Bad input: the form names the problem and nothing is made.
    resp = await cloud.post(
        "/parking/lots/new",
        data={**csrf, "name": "万达", "capacity": "-5", "site_code": "Bad Code",
              "arrears_confirm_above_yuan": "12.345"},
    )  # fmt: skip
    text = await resp.text()
    assert resp.status == 400 and "场所编号只能使用小写字母" in text
    assert "最多两位小数" in text
    assert await ParkingSite.all().count() == 0
    resp = await cloud.post(
        "/parking/lots/new",
        data={**csrf, "name": "万达", "region": "朝阳区", "street": "建国路", "capacity": "120",
              "tariff_id": str(tariff), "refuse_arrears_above_yuan": "",
              "arrears_confirm_above_yuan": "", "hotline": "4001002000"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 302, await resp.text()
    lot = await ParkingSite.get(region="朝阳区")
    assert lot.refuse_arrears_above_fen is None and lot.tariff_id == tariff
    assert lot.arrears_confirm_above_fen == 20_000
    # The edit form shows the amounts in yuan and takes them so.
    edit = await (await cloud.get(f"/parking/lots/{lot.id}/edit")).text()
    assert 'value="200.00"' in edit
    resp = await cloud.post(
        f"/parking/lots/{lot.id}/edit",
        data={**csrf, "name": "万达", "region": "朝阳区", "capacity": "120",
              "tariff_id": str(tariff), "refuse_arrears_above_yuan": "¥1,000.50",
              "arrears_confirm_above_yuan": "300"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 302, await resp.text()
    lot = await ParkingSite.get(id=lot.id)
    assert (lot.refuse_arrears_above_fen, lot.arrears_confirm_above_fen) == (100_050, 30_000)
    grant = await _latest(lot.site_id, "parking_site", "lot-1")
    assert grant is not None and grant["refuse_arrears_above_fen"] == 100_050
    detail = await (await cloud.get(f"/parking/lots/{lot.id}")).text()
    assert "1000.50 元" in detail, re.findall(r"data-fact=.*", detail)
    assert f'href="/lanes?site_id={lot.site_id}"' in detail
    assert 'data-count="total">120<' in detail
    # A road section and a range of berths from the berth form.
    resp = await cloud.post(
        "/parking/sections/new",
        data={**csrf, "name": "中山路", "site_code": "zs", "region": "鼓楼区"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 302, await resp.text()
    section = await ParkingSite.get(region="鼓楼区")
    berth_form = await (await cloud.get("/parking/berths/new")).text()
    assert "中山路" in berth_form and "万达" in berth_form
    resp = await cloud.post(
        "/parking/berths/new",
        data={**csrf, "site_id": str(section.site_id), "code": "W-1", "count": "3",
              "sensor": "MAG-9"},
    )  # fmt: skip
    assert resp.status == 400 and "批量创建时不能填写地磁编号" in await resp.text()
    assert await Berth.all().count() == 0
    resp = await cloud.post(
        "/parking/berths/new",
        data={**csrf, "site_id": str(section.site_id), "code": "W-001", "count": "20"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 302, await resp.text()
    assert await Berth.filter(site_id=section.site_id).count() == 20
    await Berth.filter(code__in=["W-001", "W-002", "W-003"]).update(
        status=BerthStatus.occupied, plate="京A12345", session="x"
    )
    await Berth.filter(code="W-004").update(status=BerthStatus.fault)
    detail = await (await cloud.get(f"/parking/sections/{section.id}")).text()
    for name, value in (("total", 20), ("occupied", 3), ("free", 16), ("fault", 1)):
        assert f'data-count="{name}">{value}<' in detail, name
    assert 'data-berth="W-020"' in detail and "京A12345" in detail
    monitor = await (await cloud.get("/parking/occupancy?kind=street_section")).text()
    assert "中山路" in monitor and "万达" not in monitor
    assert 'data-count="occupied">3<' in monitor
    # Filters of the berth list, and its export.
    listed = await (await cloud.get("/parking/berths?status=occupied")).text()
    assert "W-001" in listed and "W-010" not in listed
    listed = await (await cloud.get("/parking/berths?plate=a123")).text()
    assert "W-003" in listed and "W-004" not in listed
    resp = await cloud.get("/parking/berths/export.xlsx?status=occupied")
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 4 and rows[1][0] == "W-001"
    for path in ("/parking/lots", "/parking/sections", "/parking/occupancy", "/parking/sensors",
                 "/parking/detections", "/parking/locks", "/parking/lots/export.xlsx",
                 "/parking/occupancy/export.xlsx", "/parking/detections?false_alarm=true"):  # fmt: skip
        resp = await cloud.get(path)
        assert resp.status == 200, path
    # Edit a berth from its form: the sensor is registered; disabling a section shows it.
    berth = await Berth.get(code="W-005")
    resp = await cloud.post(
        f"/parking/berths/{berth.id}/edit",
        data={**csrf, "number": "5", "sensor": "MAG-5", "has_lock": "on"},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    assert (await BerthSensor.get(serial="MAG-5")).berth == "W-005"
    assert await ParkingLock.filter(berth="W-005").exists()
    resp = await cloud.post(
        f"/parking/sections/{section.id}/disable", data=csrf, allow_redirects=False
    )
    assert resp.status == 302
    assert not (await Site.get(id=section.site_id)).enabled


async def test_the_api_makes_places_and_berths_and_names_bad_fields(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    token = await _api_token(cloud, admin.account, admin.password)
    resp = await cloud.post(
        f"{API_PREFIX}/road-sections",
        json={"name": "中山路", "site_code": "zs", "arrears_confirm_above_fen": -1},
        headers=token,
    )
    body = await resp.json()
    assert resp.status == 422 and body["field"] == "arrears_confirm_above_fen"
    resp = await cloud.post(
        f"{API_PREFIX}/road-sections", json={"name": "中山路", "site_code": "zs"}, headers=token
    )
    section = await resp.json()
    assert resp.status == 201, section
    assert section["kind"] == "street_section" and section["site_code"] == "zs"
    resp = await cloud.post(
        f"{API_PREFIX}/berth-ranges",
        json={"site_id": section["site_id"], "code": "B-01", "count": 5},
        headers=token,
    )
    berths = await resp.json()
    assert resp.status == 201 and [b["code"] for b in berths] == [f"B-0{i}" for i in range(1, 6)]
    resp = await cloud.post(
        f"{API_PREFIX}/berths",
        json={"site_id": section["site_id"], "code": "B-03"},
        headers=token,
    )
    assert resp.status == 409 and (await resp.json())["field"] == "code"
    resp = await cloud.post(
        f"{API_PREFIX}/berths",
        json={"site_id": section["site_id"], "code": "B 9"},
        headers=token,
    )
    assert resp.status == 422 and (await resp.json())["field"] == "code"
    resp = await cloud.put(
        f"{API_PREFIX}/berths/{berths[0]['id']}", json={"sensor": "MAG-1"}, headers=token
    )
    assert resp.status == 200 and (await resp.json())["sensor"] == "MAG-1"
    resp = await cloud.get(f"{API_PREFIX}/berths?site_id={section['site_id']}&number=B-0")
    assert (await resp.json())["total"] == 5
    resp = await cloud.get(f"{API_PREFIX}/road-sections/{section['id']}/occupancy")
    assert await resp.json() == {
        "id": section["id"], "site_id": section["site_id"], "kind": "street_section",
        "name": "中山路", "region": "", "street": "", "total": 5, "occupied": 0, "free": 5,
        "fault": 0,
    }  # fmt: skip
    resp = await cloud.get(f"{API_PREFIX}/berth-sensors?serial=MAG")
    sensors = (await resp.json())["items"]
    assert [(s["serial"], s["berth"], s["online"]) for s in sensors] == [("MAG-1", "B-01", False)]
    resp = await cloud.delete(f"{API_PREFIX}/berths/{berths[4]['id']}", headers=token)
    assert resp.status == 204
    assert await Berth.filter(tenant_id=admin.tenant.id).count() == 4


async def test_a_viewer_sees_but_does_not_change(cloud: Client) -> None:
    admin = await make_tenant("alpha", admin=False, permissions=["parking.view"])
    me = principal_of_user(admin.user)
    section = await places.create_place(me, SiteKind.street_section, PlaceCreate(name="中山路"))
    await sign_in(cloud, admin.account, admin.password)
    resp = await cloud.get(f"/parking/sections/{section.id}")
    assert resp.status == 200 and "中山路" in await resp.text()
    resp = await cloud.get("/parking/berths/new")
    assert resp.status == 403
    token = await _api_token(cloud, admin.account, admin.password)
    resp = await cloud.post(
        f"{API_PREFIX}/berths", json={"site_id": section.site_id, "code": "X-1"}, headers=token
    )
    assert resp.status == 403
    assert await Berth.all().count() == 0


# --- another tenant's places and devices ------------------------------------------------------
# Factories of tenant B's rows (names carry the tenant-isolation MARK), in the shape of
# tests/integration/test_tenant_isolation.py FACTORIES: (tenant, place) -> row id.

MARK = "beta-"


def _made(make: Callable[[Tenant, str], Awaitable[int]]) -> Callable[..., Awaitable[int]]:
    async def factory(t: Tenant, p: Any = None) -> int:
        return await make(t, MARK)

    return factory


PAGE_FACTORIES = {
    "/parking/lots": _made(parking_rows.lot_id),
    "/parking/sections": _made(parking_rows.section_id),
    "/parking/berths": _made(parking_rows.berth_id),
    "/parking/sensors": _made(parking_rows.sensor_id),
    "/parking/locks": _made(parking_rows.lock_id),
}
API_FACTORIES = {
    "/parking-lots": _made(parking_rows.lot_id),
    "/road-sections": _made(parking_rows.section_id),
    "/berths": _made(parking_rows.berth_id),
    "/berth-sensors": _made(parking_rows.sensor_id),
    "/parking-locks": _made(parking_rows.lock_id),
}


async def test_another_tenants_places_and_devices_are_not_found(cloud: Client) -> None:
    alpha = await make_tenant("alpha")
    beta = await make_tenant("beta")
    csrf = await sign_in(cloud, alpha.account, alpha.password)
    app = cloud.app
    assert app is not None
    pages = {p: await make(beta.tenant) for p, make in PAGE_FACTORIES.items()}
    checked = 0
    for route in app.router.routes():
        pattern = route.resource.canonical if route.resource else ""
        prefix = pattern.split("/{id}")[0]
        if route.method == "HEAD" or "{id}" not in pattern or prefix not in pages:
            continue
        actions = ["enable", "disable", "delete"] if "{action}" in pattern else [""]
        for action in actions:
            path = pattern.replace("{id}", str(pages[prefix])).replace("{action}", action)
            if route.method == "GET":
                resp = await cloud.get(path, allow_redirects=False)
            else:
                resp = await cloud.post(
                    path, data={"_csrf": csrf, "name": "hijack"}, allow_redirects=False
                )
            assert resp.status == 404, f"{route.method} {path} answered {resp.status}"
            assert MARK not in await resp.text(), f"{route.method} {path} leaked"
            checked += 1
    assert checked >= 15
    token = await _api_token(cloud, alpha.account, alpha.password)
    apis = {p: await make(beta.tenant) for p, make in API_FACTORIES.items()}
    checked = 0
    for api in app[ROUTES_KEY]:
        prefix = api.path.split("/{id}")[0]
        if "{id}" not in api.path or prefix not in apis:
            continue
        path = API_PREFIX + api.path.replace("{id}", str(apis[prefix]))
        resp = await cloud.request(api.method, path, json={"name": "hijack"}, headers=token)
        allowed = (404, 422) if api.method == "PUT" else (404,)
        assert resp.status in allowed, f"{api.method} {path} answered {resp.status}"
        assert MARK not in await resp.text()
        checked += 1
    assert checked >= 15
    assert await Berth.filter(tenant=beta.tenant, enabled=True).count() == 1
    assert (await Site.get(code=f"{MARK}parking_lot")).enabled
    assert await Command.all().count() == 0
    # Lists, exports and forms never show B's rows.
    for path in ("/parking/lots", "/parking/sections", "/parking/occupancy", "/parking/berths",
                 "/parking/sensors", "/parking/detections", "/parking/locks",
                 "/parking/berths/new", "/parking/lots/new"):  # fmt: skip
        text = await (await cloud.get(path)).text()
        assert MARK not in text and "京B00001" not in text, path
    for path in ("/parking/berths/export.xlsx", "/parking/detections/export.xlsx"):
        book = load_workbook(io.BytesIO(await (await cloud.get(path)).read()), read_only=True)
        cells = [str(c) for row in book.active.iter_rows(values_only=True) for c in row]
        assert not [c for c in cells if MARK in c], path
    for path in ("/parking-occupancy", "/berths", "/sensor-detections", "/parking-locks"):
        text = await (await cloud.get(API_PREFIX + path)).text()
        assert MARK not in text, path
