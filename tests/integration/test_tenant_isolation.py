"""Tenant A can neither see nor touch tenant B's rows through any admin page route.

Routes are enumerated from the running app, so a page route added without an entry here fails.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.access.models import AccessRule, ListEntry
from cloud.campus.models import (
    Appointment,
    AppointmentOrigin,
    AppointmentStatus,
    IdentityKind,
    IdentityType,
    ImportJob,
    ImportKind,
    ImportState,
    Registrant,
    RegistrantRule,
    Slot,
    Vehicle,
    VehicleKind,
)
from cloud.org.models import Department, Position, Role, Tenant, User
from cloud.passwords import hash_password
from cloud.sites.models import Command, Device, DeviceKind, Edge, SyncEvent
from protocols.sync import ListKind
from tests import charging_rows, parking_rows
from tests.conftest import make_tenant, sign_in
from tests.e2e.seed import Place, add_records, make_place

Client = TestClient[web.Request, web.Application]
MARK = "beta-"  # every name and code of tenant B carries it
# Routes that are not tenant data: sign-in, language, static files, machine and JSON APIs, and
# the phone pages (their own sessions; tests/integration/test_mobile_*.py check their isolation).
NOT_PAGES = ("/api/", "/sync/", "/static", "/healthz", "/login", "/logout", "/language", "/m/")

Factory = Callable[[Tenant, Place], Awaitable[int]]


async def _user(t: Tenant, p: Place) -> int:
    return (
        await User.create(
            tenant=t,
            account=f"{MARK}clerk",
            name=f"{MARK}clerk",
            password_hash=hash_password("x" * 10),
        )
    ).id


async def _role(t: Tenant, p: Place) -> int:
    return (await Role.create(tenant=t, name=f"{MARK}role")).id


async def _department(t: Tenant, p: Place) -> int:
    return (await Department.create(tenant=t, name=f"{MARK}dept")).id


async def _position(t: Tenant, p: Place) -> int:
    return (await Position.create(tenant=t, name=f"{MARK}post")).id


async def _site(t: Tenant, p: Place) -> int:
    return p.site.id


async def _gate(t: Tenant, p: Place) -> int:
    return p.gate.id


async def _lane(t: Tenant, p: Place) -> int:
    return p.entry.id


async def _device(t: Tenant, p: Place) -> int:
    return (
        await Device.create(tenant=t, site=p.site, kind=DeviceKind.barrier, name=f"{MARK}barrier")
    ).id


async def _entry(t: Tenant, p: Place) -> int:
    return (
        await ListEntry.create(
            tenant=t, site=p.site, plate="京B00001", kind=ListKind.whitelist, note=f"{MARK}note"
        )
    ).id


async def _rule(t: Tenant, p: Place) -> int:
    return (
        await AccessRule.create(
            tenant=t, site=p.site, name=f"{MARK}rule", start_time=time(0), end_time=time(23)
        )
    ).id


async def _edge(t: Tenant, p: Place) -> int:
    """B's edge, with a dead letter it sent and a command for its lane (shown on A's lists: never)."""
    edge = await Edge.create(
        tenant=t,
        code=f"{MARK}edge",
        name=f"{MARK}edge",
        enroll_token_hash="0" * 64,
        enroll_expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    await edge.sites.add(p.site)
    await SyncEvent.create(
        edge=edge,
        seq=1,
        uuid=uuid.uuid4(),
        type=f"{MARK}type",
        site=p.site.code,
        occurred_at=datetime.now(UTC),
        payload={"plate": "京B00001", "note": f"{MARK}payload"},
        error=f"{MARK}refused",
    )
    await Command.create(
        id=uuid.uuid4(),
        tenant=t,
        site=p.site,
        lane=p.entry.code,
        kind="open_barrier",
        issued_by=f"{MARK}admin",
        issued_at=datetime.now(UTC),
        expires_at=datetime.now(UTC) + timedelta(seconds=30),
    )
    return edge.id


async def _identity_type(t: Tenant, p: Place) -> int:
    return (await IdentityType.create(tenant=t, kind=IdentityKind.teacher, name=f"{MARK}type")).id


async def _campus_owner(t: Tenant) -> Registrant:
    owner, _ = await Registrant.get_or_create(
        tenant=t,
        kind=IdentityKind.teacher,
        number=f"{MARK}owner",
        defaults={"name": f"{MARK}owner", "phone": "13800000000", "bound_at": datetime.now(UTC)},
    )
    return owner


async def _registrant(t: Tenant, p: Place) -> int:
    """B's teacher, bound on a phone, with a rule at B's campus."""
    row = await _campus_owner(t)
    await RegistrantRule.create(
        tenant=t,
        registrant=row,
        site=p.site,
        gates=[p.gate.code],
        weekdays=[1],
        start_time=time(8),
        end_time=time(18),
    )
    return row.id


async def _vehicle(t: Tenant, p: Place) -> int:
    taken = await Vehicle.filter(tenant=t).count()  # two prefixes share this factory
    return (
        await Vehicle.create(
            tenant=t,
            registrant=await _campus_owner(t),
            kind=VehicleKind.ebike,
            plate=f"BETA{taken:04d}",
            owner_name=f"{MARK}owner",
        )
    ).id


async def _visit(t: Tenant, p: Place) -> int:
    now = datetime.now(UTC)
    return (
        await Appointment.create(
            tenant=t,
            site=p.site,
            host=await _campus_owner(t),
            visitor_name=f"{MARK}visitor",
            visitor_phone="13700000000",
            origin=AppointmentOrigin.request,
            visit_date=now.date(),
            slot=Slot.morning,
            window_start=now,
            window_end=now + timedelta(hours=6),
            reason=f"{MARK}reason",
            status=AppointmentStatus.approved,
        )
    ).id


async def _import_job(t: Tenant, p: Place) -> int:
    return (
        await ImportJob.create(
            tenant=t,
            kind=ImportKind.registrants,
            filename=f"{MARK}list.xlsx",
            state=ImportState.done,
            total=1,
            rejected=1,
            rejects=b"PK-not-shown",
            error=f"{MARK}note",
            operator=f"{MARK}admin",
        )
    ).id


def _rows(make: Callable[[Tenant, str], Awaitable[int]]) -> Factory:
    async def factory(t: Tenant, p: Place) -> int:
        return await make(t, MARK)

    return factory


FACTORIES: dict[str, Factory] = {
    "/users": _user,
    "/roles": _role,
    "/departments": _department,
    "/positions": _position,
    "/sites": _site,
    "/gates": _gate,
    "/lanes": _lane,
    "/devices": _device,
    "/lists": _entry,
    "/rules": _rule,
    "/edges": _edge,
    "/campus/identity-types": _identity_type,
    "/campus/registrants": _registrant,
    "/campus/imports": _import_job,
    "/campus/vehicles": _vehicle,
    "/campus/vehicle-reviews": _vehicle,
    "/campus/gates": _gate,
    "/campus/visit-records": _visit,
    "/charging/providers": _rows(charging_rows.provider_id),
    "/charging/properties": _rows(charging_rows.property_id),
    "/charging/stations": _rows(charging_rows.station_id),
    "/charging/areas": _rows(charging_rows.area_id),
    "/charging/spaces": _rows(charging_rows.space_id),
    "/charging/chargers": _rows(charging_rows.charger_id),
    "/charging/connectors": _rows(charging_rows.connector_id),
    "/charging/id-tags": _rows(charging_rows.id_tag_id),
    "/charging/tariffs": _rows(charging_rows.tariff_id),
    "/charging/orders": _rows(charging_rows.order_id),
    "/payments": _rows(charging_rows.payment_id),
    "/refunds": _rows(charging_rows.refund_id),
    "/parking/tariffs": _rows(parking_rows.tariff_id),
    "/parking/holidays": _rows(parking_rows.holiday_id),
    "/parking/lots": _rows(parking_rows.lot_id),
    "/parking/sections": _rows(parking_rows.section_id),
    "/parking/berths": _rows(parking_rows.berth_id),
    "/parking/sensors": _rows(parking_rows.sensor_id),
    "/parking/locks": _rows(parking_rows.lock_id),
    "/parking/orders": _rows(parking_rows.order_id),
    "/parking/arrears": _rows(parking_rows.arrears_id),
    "/parking/pass-rules": _rows(parking_rows.pass_rule_id),
    "/parking/passes": _rows(parking_rows.monthly_pass_id),
    "/parking/special-plates": _rows(parking_rows.special_plate_id),
    "/parking/collectors": _rows(parking_rows.collector_id),
}


def _app(cloud: Client) -> web.Application:
    app = cloud.app
    assert app is not None
    return app


def _page_routes(app: web.Application) -> list[tuple[str, str]]:
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or path.startswith(NOT_PAGES):
            continue
        found.append((route.method, path))
    return found


async def _setup(cloud: Client) -> tuple[str, Tenant, Place]:
    alpha = await make_tenant("alpha")
    await make_place(alpha.tenant, prefix="alpha-")
    beta = await make_tenant("beta")
    place = await make_place(beta.tenant, prefix=MARK)
    await add_records(place, ["京B00001", "京B00002"])
    csrf = await sign_in(cloud, alpha.account, alpha.password)
    return csrf, beta.tenant, place


async def test_every_id_route_answers_404_for_another_tenants_row(cloud: Client) -> None:
    csrf, beta, place = await _setup(cloud)
    routes = [(m, p) for m, p in _page_routes(_app(cloud)) if "{id}" in p]
    assert routes, "the admin pages have routes that take an id"
    missing = sorted({p.split("/{id}")[0] for _, p in routes} - set(FACTORIES))
    assert not missing, f"page routes without a tenant-isolation case: {missing}"
    ids = {prefix: await factory(beta, place) for prefix, factory in FACTORIES.items()}
    checked = 0
    for method, pattern in routes:
        prefix = pattern.split("/{id}")[0]
        actions = ["enable", "disable", "delete"] if "{action}" in pattern else [""]
        for action in actions:
            path = pattern.replace("{id}", str(ids[prefix])).replace("{action}", action)
            if method == "GET":
                resp = await cloud.get(path, allow_redirects=False)
            else:
                resp = await cloud.post(
                    path, data={"_csrf": csrf, "name": "hijack"}, allow_redirects=False
                )
            assert resp.status == 404, f"{method} {path} answered {resp.status}"
            assert MARK not in await resp.text(), f"{method} {path} leaked tenant B's data"
            checked += 1
    assert checked >= 30
    # And nothing of B's changed.
    assert await User.filter(account=f"{MARK}clerk", enabled=True).exists()
    assert await Role.filter(name=f"{MARK}role").exists()
    assert await ListEntry.filter(tenant=beta, enabled=True).count() == 1
    assert await AccessRule.filter(name=f"{MARK}rule").exists()
    edge = await Edge.get(code=f"{MARK}edge")
    assert edge.enabled and edge.revoked_at is None and edge.enroll_token_hash == "0" * 64
    assert await Command.filter(tenant=beta).count() == 1  # A opened none of B's barriers


async def test_lists_and_exports_never_show_another_tenants_rows(cloud: Client) -> None:
    _, beta, place = await _setup(cloud)
    for factory in FACTORIES.values():
        await factory(beta, place)
    lists = [
        p
        for m, p in _page_routes(_app(cloud))
        if m == "GET" and "{" not in p and not p.endswith("/new")
    ]
    assert "/records" in lists and "/records/export.xlsx" in lists and "/" in lists
    for path in lists:
        resp = await cloud.get(path)
        assert resp.status == 200, path
        if path.endswith(".xlsx"):
            book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
            cells = [str(c) for row in book.active.iter_rows(values_only=True) for c in row]
            assert not [c for c in cells if MARK in c or "京B0000" in c], path
        else:
            text = await resp.text()
            assert MARK not in text and "京B0000" not in text, path
    # The forms' choice lists do not offer B's sites, gates, lanes, roles either.
    for path in [p for m, p in _page_routes(_app(cloud)) if m == "GET" and p.endswith("/new")]:
        assert MARK not in await (await cloud.get(path)).text(), path
