"""Car stations, chargers and id tags on the real database: what is made together, what a
disabled parent refuses, what edges are told, the device actions, the connectivity log, and
another tenant's rows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.api import API_PREFIX
from cloud.auth import Principal
from cloud.charging import chargers, id_tags, links, providers, stations
from cloud.charging.demo import populate_charging
from cloud.charging.models import (
    Area,
    Charger,
    ChargingOrder,
    ChargingTariff,
    Connector,
    DeviceLink,
    IdTagKind,
    OrderState,
    PropertyCompany,
    StartMethod,
    Station,
    TariffMode,
)
from cloud.charging.station_schemas import (
    AreaCreate,
    ChargerCreate,
    ChargerUpdate,
    IdTagCreate,
    LinkFilter,
    PropertyCreate,
    ProviderCreate,
    ResetIn,
    SpaceCreate,
    StationCreate,
    StationUpdate,
)
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.models import Tenant
from cloud.passwords import verify_password
from cloud.sites.models import Command, Edge, Site, StateChange
from cloud.sync import Accepted
from protocols.events import ChargerLink, ConnectorStatus
from protocols.site import SiteKind
from protocols.sync import Event
from tests.conftest import make_tenant, sign_in
from tests.e2e.seed import principal_of_user

Client = TestClient[web.Request, web.Application]
PASSWORD = "Charger-Secret-1"


async def _me(code: str = "alpha") -> tuple[Principal, Tenant]:
    admin = await make_tenant(code)
    return principal_of_user(admin.user), admin.tenant


async def _station(me: Principal, name: str = "一号站", **extra: Any) -> int:
    """A station under a new (or the existing) provider and property company; returns its id."""
    owner = await PropertyCompany.filter(tenant_id=me.tenant_id).first()
    if owner is None:
        made = await providers.create_provider(
            me, ProviderCreate(name="服务商", phone="13900000001")
        )
        property_id = (
            await providers.create_property(
                me, PropertyCreate(provider_id=made.id, name="物业", phone="13900000002")
            )
        ).id
    else:
        property_id = owner.id
    station = await stations.create_station(
        me, StationCreate(property_id=property_id, name=name, hotline="4001234567", **extra)
    )
    return station.id


async def _default_area(station_id: int) -> int:
    return (await Area.get(station_id=station_id, is_default=True)).id


async def _charger(me: Principal, station_id: int, serial: str = "CP-1", **extra: Any) -> int:
    made = await chargers.create_charger(
        me,
        ChargerCreate(
            area_id=await _default_area(station_id),
            serial=serial,
            name=f"桩 {serial}",
            connectors=2,
            **extra,
        ),
    )
    return made.id


async def _latest(site_id: int, entity: str, key: str) -> dict[str, Any] | None:
    row = (
        await StateChange.filter(site_id=site_id, entity=entity, key=key)
        .order_by("-revision")
        .first()
    )
    assert row is not None, f"{entity} {key} was published at site {site_id}"
    return row.data


async def test_a_station_comes_with_its_site_and_default_area(db: str) -> None:
    me, tenant = await _me()
    ident = await _station(me, address="海淀路 1 号")
    station = await stations.get_station(me, ident)
    site = await Site.get(id=station.site_id)
    assert site.kind == SiteKind.charging_station and site.name == "一号站"
    assert site.code == station.site_code == "station-1"
    areas = await Area.filter(station_id=ident)
    assert [(a.is_default, a.name, a.enabled) for a in areas] == [(True, "默认区域", True)]
    counts = await stations.station_counts(me, ident)
    assert (counts.areas, counts.chargers, counts.connectors, counts.spaces) == (1, 0, 0, 0)
    # On an existing charging-station site, by its code; a campus site is refused.
    await Site.create(tenant=tenant, code="east", name="东站", kind=SiteKind.charging_station)
    await Site.create(tenant=tenant, code="campus", name="校园", kind=SiteKind.campus)
    on_east = await stations.get_station(me, await _station(me, "东站", site_code="east"))
    assert on_east.site_code == "east"
    with pytest.raises(Conflict):
        await _station(me, "又一个东站", site_code="east")
    with pytest.raises(Invalid) as refused:
        await _station(me, "校园站", site_code="campus")
    assert refused.value.message == "stations.error.site_not_station"
    # A hotline change reaches the chargers' grants.
    await _charger(me, ident, "CP-H")
    await stations.update_station(
        me, ident, StationUpdate(name="一号站", hotline="4009999999", address="海淀路 1 号")
    )
    grant = await _latest(station.site_id, "charger", "CP-H")
    assert grant is not None and grant["hotline"] == "4009999999"


async def test_disabled_parents_refuse_new_children(db: str) -> None:
    me, _ = await _me()
    provider = await providers.create_provider(me, ProviderCreate(name="P", phone="13900000001"))
    assert provider.review.value == "pending"
    await providers.set_provider_enabled(me, provider.id, False)
    with pytest.raises(Invalid) as refused:
        await providers.create_property(
            me, PropertyCreate(provider_id=provider.id, name="X", phone="13900000002")
        )
    assert (refused.value.field, refused.value.message) == (
        "provider_id",
        "stations.error.provider_disabled",
    )
    await providers.set_provider_enabled(me, provider.id, True)
    owner = await providers.create_property(
        me, PropertyCreate(provider_id=provider.id, name="X", phone="13900000002")
    )
    await providers.set_property_enabled(me, owner.id, False)
    with pytest.raises(Invalid) as refused:
        await stations.create_station(me, StationCreate(property_id=owner.id, name="S"))
    assert refused.value.message == "stations.error.property_disabled"
    await providers.set_property_enabled(me, owner.id, True)
    station = await stations.create_station(me, StationCreate(property_id=owner.id, name="S"))
    await stations.set_station_enabled(me, station.id, False)
    with pytest.raises(Invalid) as refused:
        await stations.create_area(me, AreaCreate(station_id=station.id, name="B 区"))
    assert (refused.value.field, refused.value.message) == (
        "station_id",
        "stations.error.station_disabled",
    )
    with pytest.raises(Invalid) as refused:
        await _charger(me, station.id)
    assert refused.value.message == "stations.error.station_disabled"
    assert await Charger.all().count() == 0
    await stations.set_station_enabled(me, station.id, True)
    area = await stations.create_area(me, AreaCreate(station_id=station.id, name="B 区"))
    assert area.code == f"A{station.id:04d}02" and not area.is_default
    await stations.set_area_enabled(me, area.id, False)
    with pytest.raises(Invalid) as refused:
        await chargers.create_charger(
            me, ChargerCreate(area_id=area.id, serial="CP-9", name="9", connectors=1)
        )
    assert refused.value.message == "stations.error.area_disabled"
    # Review decisions, and several spaces at once.
    assert (await providers.review_provider(me, provider.id, True)).review.value == "approved"
    spaces = await stations.create_spaces(
        me, SpaceCreate(area_id=area.id, count=3, name_prefix="B-")
    )
    assert [s.name for s in spaces] == ["B-001", "B-002", "B-003"]
    more = await stations.create_spaces(me, SpaceCreate(area_id=area.id, count=1))
    assert more[0].code == f"{area.code}-004"


async def test_a_charger_is_published_with_connectors_and_a_hashed_password(db: str) -> None:
    me, tenant = await _me()
    station_id = await _station(me)
    site_id = (await Station.get(id=station_id)).site_id
    ident = await _charger(me, station_id, "CP-1", password=PASSWORD)
    connectors = await Connector.filter(charger_id=ident).order_by("connector")
    assert [(c.connector, c.code) for c in connectors] == [(1, "C0001001-1"), (2, "C0001001-2")]
    grant = await _latest(site_id, "charger", "CP-1")
    assert grant is not None
    assert grant["connectors"] == 2 and grant["station"] == "station-1"
    assert grant["hotline"] == "4001234567" and grant["qr_text"].endswith("/m/charger/CP-1")
    assert grant["password_hash"].startswith("scrypt$") and PASSWORD not in str(grant)
    assert verify_password(PASSWORD, grant["password_hash"])
    out = await chargers.get_charger(me, ident)
    assert out.has_password and "password" not in out.model_dump_json().replace("has_password", "")
    # The station's enabled tariff is named in the grant.
    tariff = await ChargingTariff.create(
        tenant=tenant, station_id=station_id, name="统一", mode=TariffMode.uniform
    )
    update = ChargerUpdate(name="桩 CP-1", connectors=3)
    await chargers.update_charger(me, ident, update)
    grant = await _latest(site_id, "charger", "CP-1")
    assert grant is not None
    assert grant["connectors"] == 3 and grant["tariff"] == str(tariff.id)
    assert grant["password_hash"]  # kept when the form leaves the password empty
    assert await Connector.filter(charger_id=ident).count() == 3
    # A connector with an order in progress is not removed.
    await ChargingOrder.create(
        tenant=tenant,
        uuid=uuid.uuid4(),
        number="T0001",
        station_id=station_id,
        charger_id=ident,
        connector=3,
        method=StartMethod.card,
        state=OrderState.charging,
    )
    with pytest.raises(Conflict):
        await chargers.update_charger(me, ident, ChargerUpdate(name="桩 CP-1", connectors=1))
    assert await Connector.filter(charger_id=ident).count() == 3
    await chargers.update_charger(
        me, ident, ChargerUpdate(name="桩 CP-1", connectors=3, clear_password=True)
    )
    grant = await _latest(site_id, "charger", "CP-1")
    assert grant is not None and grant["password_hash"] == ""
    # Disabling retracts; enabling publishes again; serials are unique across tenants.
    await chargers.set_charger_enabled(me, ident, False)
    assert await _latest(site_id, "charger", "CP-1") is None
    await chargers.set_charger_enabled(me, ident, True)
    assert await _latest(site_id, "charger", "CP-1") is not None
    other, _ = await _me("beta")
    with pytest.raises(Conflict):
        await _charger(other, await _station(other), "CP-1")


async def test_id_tags_reach_every_station_site_of_the_tenant(db: str) -> None:
    me, _ = await _me()
    first = await Station.get(id=await _station(me, "一号站"))
    second = await Station.get(id=await _station(me, "二号站"))
    card = await id_tags.create_id_tag(
        me, IdTagCreate(tag="CARD0001", kind=IdTagKind.card, holder="车主")
    )
    for site_id in (first.site_id, second.site_id):
        grant = await _latest(site_id, "id_tag", "CARD0001")
        assert grant is not None and grant["status"] == "Accepted" and grant["kind"] == "card"
    await id_tags.set_id_tag_enabled(me, card.id, False)
    grant = await _latest(second.site_id, "id_tag", "CARD0001")
    assert grant is not None and grant["status"] == "Blocked"
    # A station made later starts with every tag of the tenant.
    third = await Station.get(id=await _station(me, "三号站"))
    grant = await _latest(third.site_id, "id_tag", "CARD0001")
    assert grant is not None and grant["status"] == "Blocked"
    await id_tags.delete_id_tag(me, card.id)
    for site_id in (first.site_id, second.site_id, third.site_id):
        assert await _latest(site_id, "id_tag", "CARD0001") is None


async def test_link_events_are_logged_once_and_flip_the_charger_online(db: str) -> None:
    me, tenant = await _me()
    station = await Station.get(id=await _station(me))
    site = await Site.get(id=station.site_id)
    ident = await _charger(me, station.id, "CP-1")
    edge = await Edge.create(tenant=tenant, code="edge-1", name="edge")
    now = datetime.now(UTC).replace(microsecond=0)

    def event(seq: int, kind: str, payload: dict[str, Any]) -> Event:
        return Event(
            seq=seq, uuid=uuid.uuid4(), type=kind, site=site.code, occurred_at=now, payload=payload
        )

    up = event(1, "charging.link", {"site": site.code, "charge_point": "CP-1", "online": True,
               "at": now.isoformat(), "vendor": "ACME", "firmware": "1.2"})  # fmt: skip
    down = event(2, "charging.link", {"site": site.code, "charge_point": "CP-1", "online": False,
                 "at": (now - timedelta(minutes=5)).isoformat(), "reason": "late"})  # fmt: skip
    items: list[Accepted] = [(up, ChargerLink.model_validate(up.payload))]
    await links.record_links(edge, {site.code: site}, items)
    await links.record_links(edge, {site.code: site}, items)  # the same event again
    assert await DeviceLink.filter(charger_id=ident).count() == 1
    charger = await Charger.get(id=ident)
    assert charger.online and charger.vendor == "ACME" and charger.firmware == "1.2"
    # An older offline report arriving late is logged but does not turn the charger off.
    await links.record_links(
        edge, {site.code: site}, [(down, ChargerLink.model_validate(down.payload))]
    )
    assert await DeviceLink.filter(charger_id=ident).count() == 2
    assert (await Charger.get(id=ident)).online
    status = event(3, "charging.connector_status", {"site": site.code, "charge_point": "CP-1",
                   "connector": 2, "status": "Charging", "at": now.isoformat()})  # fmt: skip
    await links.record_connector_status(
        edge, {site.code: site}, [(status, ConnectorStatus.model_validate(status.payload))]
    )
    row = await Connector.get(charger_id=ident, connector=2)
    assert row.status == "Charging" and row.status_at == now
    # The log lists newest first, filtered by connection state.
    page = await links.list_links(me, LinkFilter(), PageParams())
    assert [(i.online, i.reason) for i in page.items] == [(True, ""), (False, "late")]
    offline = await links.list_links(me, LinkFilter(online=False), PageParams())
    assert [i.serial for i in offline.items] == ["CP-1"]


async def _csrf_of(page: str) -> dict[str, str]:
    found = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert found
    return {"_csrf": found.group(1)}


async def test_device_actions_send_commands_with_the_right_payload(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    me = principal_of_user(admin.user)
    station_id = await _station(me)
    site_id = (await Station.get(id=station_id)).site_id
    ident = await _charger(me, station_id, "CP-1")
    await sign_in(cloud, admin.account, admin.password)
    page = await cloud.get(f"/charging/chargers/{ident}")
    text = await page.text()
    assert page.status == 200 and 'data-command="reset"' in text and "C0001001-2" in text
    for slug in ("reset", "clock-sync", "push-tariff", "push-hotline", "push-qr",
                 "refresh-status", "remote-start", "remote-stop", "availability", "unlock"):  # fmt: skip
        form = await cloud.get(f"/charging/chargers/{ident}/{slug}")
        assert form.status == 200, slug
        assert f'data-action="{slug}"' in await form.text()
    form = await cloud.get(f"/charging/chargers/{ident}/push-hotline")
    csrf = await _csrf_of(await form.text())
    resp = await cloud.post(
        f"/charging/chargers/{ident}/push-hotline", data=csrf, allow_redirects=False
    )
    assert resp.status == 302
    assert resp.headers["Location"] == f"/commands?site_id={site_id}&kind=charger_data_transfer"
    command = await Command.get(kind="charger_data_transfer")
    assert command.site_id == site_id
    assert command.payload == {"charge_point": "CP-1", "connector": 0, "vendor_id": "wayside",
                               "message_id": "hotline", "data": "4001234567"}  # fmt: skip
    # A restart needs the charger online: the form says why and nothing is sent.
    resp = await cloud.post(f"/charging/chargers/{ident}/reset", data={**csrf, "type": "Hard"})
    assert resp.status == 400 and "设备在线才能重启" in await resp.text()
    await Charger.filter(id=ident).update(online=True)
    resp = await cloud.post(
        f"/charging/chargers/{ident}/reset", data={**csrf, "type": "Hard"}, allow_redirects=False
    )
    assert resp.status == 302
    assert (await Command.get(kind="charger_reset")).payload == {
        "charge_point": "CP-1", "connector": 0, "type": "Hard"}  # fmt: skip
    for slug, data, kind, expected in (
        ("unlock", {"connector": "2"}, "charger_unlock", {"connector": 2}),
        ("refresh-status", {}, "charger_trigger", {"requested": "StatusNotification"}),
        ("clock-sync", {}, "charger_clock_sync", {"connector": 0}),
        ("push-tariff", {}, "charger_push_tariff", {"connector": 0}),
        ("availability", {"connector": "0", "type": "Inoperative"}, "charger_availability",
         {"type": "Inoperative", "connector": 0}),
        ("remote-start", {"connector": "1", "id_tag": "CARD0001"}, "charger_remote_start",
         {"id_tag": "CARD0001", "connector": 1}),
    ):  # fmt: skip
        resp = await cloud.post(
            f"/charging/chargers/{ident}/{slug}", data={**csrf, **data}, allow_redirects=False
        )
        assert resp.status == 302, (slug, await resp.text())
        payload = (await Command.filter(kind=kind).order_by("-issued_at").first()).payload  # type: ignore[union-attr]
        assert payload["charge_point"] == "CP-1"
        assert expected.items() <= payload.items(), (slug, payload)
    # The remote start made its order first (the orders service), and the command names it.
    started = await ChargingOrder.get(charger_id=ident, connector=1)
    assert started.state == OrderState.starting and started.id_tag == "CARD0001"
    start = await Command.get(kind="charger_remote_start")
    assert start.payload["order"] == str(started.uuid)
    # Remote stop names the order in progress on the connector; none there: the form says so.
    resp = await cloud.post(
        f"/charging/chargers/{ident}/remote-stop", data={**csrf, "connector": "2"}
    )
    assert resp.status == 400
    order = await ChargingOrder.create(
        tenant=admin.tenant, uuid=uuid.uuid4(), number="T1", station_id=station_id,
        charger_id=ident, connector=2, method=StartMethod.card, state=OrderState.charging,
    )  # fmt: skip
    resp = await cloud.post(
        f"/charging/chargers/{ident}/remote-stop",
        data={**csrf, "connector": "2"},
        allow_redirects=False,
    )
    assert resp.status == 302
    stop = await Command.get(kind="charger_remote_stop")
    assert stop.payload["order"] == str(order.uuid)
    # The command list shows them for the station's site.
    listed = await cloud.get(f"/commands?site_id={site_id}")
    assert listed.status == 200 and "远程停止" in await listed.text()
    # The API sends the same commands.
    token = await _api_csrf(cloud, admin.account, admin.password)
    resp = await cloud.post(
        f"{API_PREFIX}/chargers/{ident}/unlock", json={"connector": 1}, headers=token
    )
    body = await resp.json()
    assert resp.status == 201, body
    assert body["kind"] == "charger_unlock" and body["payload"]["connector"] == 1
    resp = await cloud.post(
        f"{API_PREFIX}/chargers/{ident}/unlock", json={"connector": 7}, headers=token
    )
    assert resp.status == 422 and (await resp.json())["field"] == "connector"


async def _api_csrf(cloud: Client, account: str, password: str) -> dict[str, str]:
    resp = await cloud.post(
        f"{API_PREFIX}/auth/login", json={"account": account, "password": password}
    )
    assert resp.status == 200
    return {"X-CSRF-Token": (await resp.json())["csrf_token"]}


async def test_pages_and_api_make_stations_and_chargers(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    me = principal_of_user(admin.user)
    await sign_in(cloud, admin.account, admin.password)
    token = await _api_csrf(cloud, admin.account, admin.password)
    resp = await cloud.post(
        f"{API_PREFIX}/charging-providers",
        json={"name": "P", "phone": "13900000001"},
        headers=token,
    )
    provider = await resp.json()
    assert resp.status == 201, provider
    resp = await cloud.post(
        f"{API_PREFIX}/property-companies",
        json={"provider_id": provider["id"], "name": "物业", "phone": "13900000002"},
        headers=token,
    )
    owner = await resp.json()
    assert resp.status == 201, owner
    # A provider is reviewed from its row.
    listed = await (await cloud.get("/charging/providers")).text()
    provider_id = provider["id"]
    approve = f"/charging/providers/{provider_id}/approve"
    assert f'href="{approve}"' in listed
    confirm = await cloud.get(approve)
    resp = await cloud.post(
        approve,
        data=await _csrf_of(await confirm.text()),
        allow_redirects=False,
    )
    assert resp.status == 302
    assert (await providers.get_provider(me, provider["id"])).review.value == "approved"
    # The station form makes the station, its site and default area.
    form = await cloud.get("/charging/stations/new")
    assert form.status == 200 and "物业" in await form.text()
    csrf = await _csrf_of(await form.text())
    resp = await cloud.post(
        "/charging/stations/new",
        data={**csrf, "property_id": str(owner["id"]), "name": "页面站", "operation": "public",
              "max_power_kw": "120", "hotline": "4001112222"},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 302, await resp.text()
    station = await Station.get(name="页面站")
    detail = await cloud.get(f"/charging/stations/{station.id}")
    assert detail.status == 200 and 'data-count="areas">1<' in await detail.text()
    area_id = await _default_area(station.id)
    resp = await cloud.post(
        "/charging/chargers/new",
        data={**csrf, "area_id": str(area_id), "serial": "CP-WEB", "name": "网页桩",
              "connectors": "2", "operation": "public", "current_type": "dc", "speed": "fast",
              "heartbeat_s": "60", "password": PASSWORD},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 302, await resp.text()
    charger = await Charger.get(serial="CP-WEB")
    assert verify_password(PASSWORD, charger.password_hash)
    resp = await cloud.get(f"{API_PREFIX}/chargers/{charger.id}/connectors")
    assert [c["connector"] for c in await resp.json()] == [1, 2]
    counts = await (await cloud.get(f"{API_PREFIX}/charging-stations/{station.id}/counts")).json()
    assert counts == {"areas": 1, "chargers": 1, "chargers_online": 0, "connectors": 2, "spaces": 0}
    # Lists, exports and the QR export answer.
    for path in ("/charging/stations", "/charging/areas", "/charging/spaces", "/charging/chargers",
                 "/charging/connectors", "/charging/id-tags", "/charging/links",
                 "/charging/providers", "/charging/properties", "/charging/links/export.xlsx",
                 "/charging/chargers/qr.xlsx"):  # fmt: skip
        resp = await cloud.get(path)
        assert resp.status == 200, path
    listed = await (await cloud.get("/charging/chargers")).text()
    assert "CP-WEB" in listed and f'href="/charging/chargers/{charger.id}"' in listed
    assert await stations.station_counts(me, station.id) is not None
    # Disabled: the form names the field and why.
    await stations.set_station_enabled(me, station.id, False)
    resp = await cloud.post(
        "/charging/areas/new", data={**csrf, "station_id": str(station.id), "name": "B"}
    )
    assert resp.status == 400 and "该电站已停用" in await resp.text()
    resp = await cloud.post(
        f"{API_PREFIX}/charging-areas", json={"station_id": station.id, "name": "B"}, headers=token
    )
    body = await resp.json()
    assert resp.status == 422 and body["field"] == "station_id" and "disabled" in body["message"]


async def test_another_tenants_rows_are_not_found(cloud: Client) -> None:
    alpha = await make_tenant("alpha")
    beta = await make_tenant("beta")
    them = principal_of_user(beta.user)
    station_id = await _station(them, "beta-站")
    charger_id = await _charger(them, station_id, "CP-BETA")
    await Charger.filter(id=charger_id).update(online=True)
    me = principal_of_user(alpha.user)
    with pytest.raises(NotFound):
        await chargers.reset(me, charger_id, ResetIn())
    with pytest.raises(NotFound):
        await stations.get_station(me, station_id)
    csrf = {"_csrf": await sign_in(cloud, alpha.account, alpha.password)}
    for path in (f"/charging/stations/{station_id}", f"/charging/chargers/{charger_id}",
                 f"/charging/chargers/{charger_id}/reset", f"/charging/stations/{station_id}/edit"):  # fmt: skip
        resp = await cloud.get(path)
        assert resp.status == 404, path
        assert "beta-" not in await resp.text()
    for slug in ("reset", "unlock", "remote-start", "disable"):
        resp = await cloud.post(f"/charging/chargers/{charger_id}/{slug}", data=csrf)
        assert resp.status == 404, slug
    token = await _api_csrf(cloud, alpha.account, alpha.password)
    resp = await cloud.post(
        f"{API_PREFIX}/chargers/{charger_id}/reset", json={"name": "hijack"}, headers=token
    )
    assert resp.status == 404
    assert await Command.all().count() == 0
    assert (await Charger.get(id=charger_id)).enabled
    listed = await (await cloud.get("/charging/chargers")).text()
    assert "CP-BETA" not in listed


async def test_the_demo_station_is_published(db: str) -> None:
    _, tenant = await _me()
    await populate_charging(tenant, "demo-charging")
    site = await Site.get(code="demo-charging", tenant=tenant)
    assert site.kind == SiteKind.charging_station
    station = await Station.get(site_id=site.id)
    assert await Area.filter(station_id=station.id, is_default=True).count() == 1
    for serial in ("CP-DEMO-1", "CP-DEMO-2"):
        charger = await Charger.get(serial=serial)
        assert await Connector.filter(charger_id=charger.id).count() == 2
        grant = await _latest(site.id, "charger", serial)
        assert grant is not None and grant["connectors"] == 2 and grant["station"] == site.code
    for tag in ("CARD0001", "CARD0002"):
        grant = await _latest(site.id, "id_tag", tag)
        assert grant is not None and grant["status"] == "Accepted"
