"""Lots (停车场) and road sections (路段) with their berths (泊位): each place is a Site of its
kind plus its ParkingSite row; every change is published to the place's edges and PDAs in the
transaction that makes it.

A berth code is unique in the tenant and a sensor serial names at most one berth; setting a
berth's sensor makes (or rebinds) the sensor's row, setting has_lock makes its lock's row.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.service import audit, get_owned, scoped
from cloud.parking.models import (
    Berth,
    BerthSensor,
    BerthStatus,
    ParkingLock,
    ParkingSite,
    ParkingTariff,
)
from cloud.parking.place_schemas import (
    BerthCreate,
    BerthFilter,
    BerthOut,
    BerthUpdate,
    OccupancyFilter,
    OccupancyOut,
    PlaceCreate,
    PlaceFilter,
    PlaceOut,
    PlaceUpdate,
)
from cloud.parking.publish import PARKING_KINDS, publish_berth, publish_parking_site, seed_new_site
from cloud.sites.models import Site
from protocols.site import SiteKind

CODE_PREFIX = {SiteKind.parking_lot: "lot", SiteKind.street_section: "section"}
ENTITY = {SiteKind.parking_lot: "parking_lot", SiteKind.street_section: "road_section"}
# The detail of a road section lists its berths up to this many (the berth list has them all).
SECTION_BERTHS_SHOWN = 500

# --- lots and road sections ---------------------------------------------------------------------


def _place_out(row: ParkingSite) -> PlaceOut:
    site: Site = row.site
    tariff: ParkingTariff | None = row.tariff
    return PlaceOut(
        id=row.id,
        site_id=row.site_id,
        site_code=site.code,
        kind=site.kind,
        name=site.name,
        region=row.region,
        street=row.street,
        address=site.address,
        capacity=site.capacity,
        tariff_id=row.tariff_id,
        tariff_name=tariff.name if tariff is not None else "",
        refuse_arrears_above_fen=row.refuse_arrears_above_fen,
        arrears_confirm_above_fen=row.arrears_confirm_above_fen,
        hotline=row.hotline,
        occupied=row.occupied,
        enabled=site.enabled,
    )


def _places(principal: Principal, kind: SiteKind) -> Any:
    return scoped(ParkingSite, principal).filter(site__kind=kind)


async def list_places(
    principal: Principal, kind: SiteKind, f: PlaceFilter, params: PageParams
) -> Page[PlaceOut]:
    query = _places(principal, kind)
    if f.q:
        query = query.filter(Q(site__name__icontains=f.q) | Q(site__code__icontains=f.q))
    if f.region:
        query = query.filter(region__icontains=f.region)
    if f.street:
        query = query.filter(street__icontains=f.street)
    if f.tariff_id is not None:
        query = query.filter(tariff_id=f.tariff_id)
    if f.enabled is not None:
        query = query.filter(site__enabled=f.enabled)
    return await paginate(
        query,
        params,
        sorts={"name": "site__name", "region": "region", "street": "street"},
        default_sort="site__name",
        convert=_place_out,
        related=("site", "tariff"),
    )


async def _own_place(principal: Principal, kind: SiteKind, ident: int) -> ParkingSite:
    row = await _places(principal, kind).filter(id=ident).select_related("site", "tariff").first()
    if row is None:
        raise NotFound(ENTITY[kind], ident)
    return row


async def get_place(principal: Principal, kind: SiteKind, ident: int) -> PlaceOut:
    return _place_out(await _own_place(principal, kind, ident))


async def _tariff(principal: Principal, tariff_id: int | None) -> None:
    if tariff_id is None:
        return
    tariff = await scoped(ParkingTariff, principal).filter(id=tariff_id).first()
    if tariff is None:
        raise Invalid("tariff_id", "error.reference")
    if not tariff.enabled:
        raise Invalid("tariff_id", "parking.places.error.tariff_disabled")


async def _free_site_code(tenant_id: int, kind: SiteKind) -> str:
    taken = set(await Site.filter(tenant_id=tenant_id).values_list("code", flat=True))
    number = await Site.filter(tenant_id=tenant_id, kind=kind).count() + 1
    while f"{CODE_PREFIX[kind]}-{number}" in taken:
        number += 1
    return f"{CODE_PREFIX[kind]}-{number}"


def _place_fields(data: PlaceUpdate) -> dict[str, Any]:
    return {
        "region": data.region,
        "street": data.street,
        "tariff_id": data.tariff_id,
        "refuse_arrears_above_fen": data.refuse_arrears_above_fen,
        "arrears_confirm_above_fen": data.arrears_confirm_above_fen,
        "hotline": data.hotline,
    }


def _site_fields(data: PlaceUpdate) -> dict[str, Any]:
    return {"name": data.name, "address": data.address, "capacity": data.capacity}


def _changes(row: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """Set fields on row; field -> {from, to} of what changed."""
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        old = getattr(row, name)
        if old != value:
            changes[name] = {"from": old, "to": value}
            setattr(row, name, value)
    return changes


async def create_place(principal: Principal, kind: SiteKind, data: PlaceCreate) -> PlaceOut:
    """The place's site (an existing site of the same kind without a place, or a new one) and
    its ParkingSite row; the new site gets the tenant's parking state."""
    async with in_transaction():
        await _tariff(principal, data.tariff_id)
        site = None
        if data.site_code:
            site = await scoped(Site, principal).filter(code=data.site_code).first()
            if site is not None:
                if site.kind != kind:
                    raise Invalid("site_code", "parking.places.error.site_kind")
                if await ParkingSite.filter(site_id=site.id).exists():
                    raise Conflict("site_code", "error.taken")
                _changes(site, _site_fields(data))
                await site.save()
        made = site is None
        if site is None:
            site = await Site.create(
                tenant_id=principal.tenant_id,
                code=data.site_code or await _free_site_code(principal.tenant_id, kind),
                kind=kind,
                **_site_fields(data),
            )
        row = await ParkingSite.create(
            tenant_id=principal.tenant_id, site_id=site.id, **_place_fields(data)
        )
        if made:
            await audit(principal, "create", "site", site.id, {"code": {"from": None, "to": site.code}, "kind": {"from": None, "to": kind.value}})  # fmt: skip
        await audit(
            principal,
            "create",
            ENTITY[kind],
            row.id,
            {k: {"from": None, "to": v} for k, v in {**_site_fields(data), **_place_fields(data)}.items()},
        )  # fmt: skip
        await seed_new_site(principal.tenant_id, site.id)
        await publish_parking_site(row)
    return await get_place(principal, kind, row.id)


async def update_place(
    principal: Principal, kind: SiteKind, ident: int, data: PlaceUpdate
) -> PlaceOut:
    async with in_transaction():
        row = await _own_place(principal, kind, ident)
        await _tariff(principal, data.tariff_id)
        site: Site = row.site
        changes = {**_changes(site, _site_fields(data)), **_changes(row, _place_fields(data))}
        if changes:
            await site.save(update_fields=list(_site_fields(data)))
            await row.save(update_fields=list(_place_fields(data)))
            await audit(principal, "update", ENTITY[kind], row.id, changes)
            await publish_parking_site(row)
    return await get_place(principal, kind, ident)


async def set_place_enabled(
    principal: Principal, kind: SiteKind, ident: int, enabled: bool
) -> PlaceOut:
    """A disabled place stays on its edges (vehicles inside must still leave) but is marked so
    in the admin lists; its site's `enabled` holds it."""
    async with in_transaction():
        row = await _own_place(principal, kind, ident)
        if row.site.enabled != enabled:
            await Site.filter(id=row.site_id).update(enabled=enabled)
            await audit(principal, "enable" if enabled else "disable", ENTITY[kind], row.id)
            await publish_parking_site(row)
    return await get_place(principal, kind, ident)


async def place_choices(
    principal: Principal, kind: SiteKind | None = None
) -> list[tuple[int, str]]:
    """(site id, name) of the tenant's lots and road sections (berths and devices filter by
    site id)."""
    kinds = [kind] if kind is not None else list(PARKING_KINDS)
    rows = (
        await scoped(Site, principal)
        .filter(kind__in=kinds)
        .order_by("name")
        .values_list("id", "name")
    )
    return [(int(i), str(n)) for i, n in rows]


async def section_choices(principal: Principal) -> list[tuple[int, str]]:
    return await place_choices(principal)


async def tariff_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = (
        await scoped(ParkingTariff, principal)
        .filter(enabled=True)
        .order_by("name")
        .values_list("id", "name")
    )
    return [(int(i), str(n)) for i, n in rows]


def _crud(kind: SiteKind) -> Crud:
    async def list_(principal: Principal, f: PlaceFilter, params: PageParams) -> Page[PlaceOut]:
        return await list_places(principal, kind, f, params)

    async def get(principal: Principal, ident: int) -> PlaceOut:
        return await get_place(principal, kind, ident)

    async def create(principal: Principal, data: PlaceCreate) -> PlaceOut:
        return await create_place(principal, kind, data)

    async def update(principal: Principal, ident: int, data: PlaceUpdate) -> PlaceOut:
        return await update_place(principal, kind, ident, data)

    async def set_enabled(principal: Principal, ident: int, enabled: bool) -> PlaceOut:
        return await set_place_enabled(principal, kind, ident, enabled)

    return Crud(list=list_, get=get, create=create, update=update, set_enabled=set_enabled)


# --- occupancy: 泊位监控 / 停车场现状 -----------------------------------------------------------


async def _berth_counts(site_ids: list[int]) -> dict[int, dict[str, int]]:
    """site id -> {status: enabled berths in it}."""
    if not site_ids:
        return {}
    rows = (
        await Berth.filter(site_id__in=site_ids, enabled=True)
        .annotate(n=Count("id"))
        .group_by("site_id", "status")
        .values("site_id", "status", "n")
    )
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        status = row["status"]
        key = status.value if isinstance(status, BerthStatus) else str(status)
        counts.setdefault(int(row["site_id"]), {})[key] = int(row["n"])
    return counts


def _occupancy(row: ParkingSite, counts: dict[str, int]) -> OccupancyOut:
    site: Site = row.site
    if site.kind == SiteKind.parking_lot and not counts:
        total = site.capacity or 0
        occupied = min(row.occupied, total) if total else row.occupied
        fault = 0
    else:
        total = sum(counts.values())
        occupied = counts.get(BerthStatus.occupied.value, 0)
        fault = counts.get(BerthStatus.fault.value, 0)
    return OccupancyOut(
        id=row.id,
        site_id=row.site_id,
        kind=site.kind,
        name=site.name,
        region=row.region,
        street=row.street,
        total=total,
        occupied=occupied,
        free=max(0, total - occupied - fault),
        fault=fault,
    )


async def list_occupancy(
    principal: Principal, f: OccupancyFilter, params: PageParams
) -> Page[OccupancyOut]:
    query = scoped(ParkingSite, principal).filter(site__kind__in=list(PARKING_KINDS))
    if f.kind is not None:
        query = query.filter(site__kind=f.kind)
    if f.region:
        query = query.filter(region__icontains=f.region)
    if f.street:
        query = query.filter(street__icontains=f.street)
    if f.q:
        query = query.filter(site__name__icontains=f.q)
    page = await paginate(
        query,
        params,
        sorts={"name": "site__name", "region": "region", "street": "street"},
        default_sort="region",
        convert=lambda row: row,
        related=("site",),
    )
    counts = await _berth_counts([row.site_id for row in page.items])
    return Page[OccupancyOut](
        items=[_occupancy(row, counts.get(row.site_id, {})) for row in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
        total_capped=page.total_capped,
    )


async def place_occupancy(principal: Principal, kind: SiteKind, ident: int) -> OccupancyOut:
    row = await _own_place(principal, kind, ident)
    counts = await _berth_counts([row.site_id])
    return _occupancy(row, counts.get(row.site_id, {}))


# --- berths --------------------------------------------------------------------------------------


def _berth_out(row: Berth) -> BerthOut:
    return BerthOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        code=row.code,
        number=row.number,
        sensor=row.sensor,
        has_lock=row.has_lock,
        enabled=row.enabled,
        status=row.status,
        session=row.session,
        plate=row.plate,
        entered_at=row.entered_at,
        updated_at=row.updated_at,
    )


async def list_berths(principal: Principal, f: BerthFilter, params: PageParams) -> Page[BerthOut]:
    query = scoped(Berth, principal)
    if f.site_id is not None:
        query = query.filter(site_id=f.site_id)
    if f.status is not None:
        query = query.filter(status=f.status)
    if f.plate:
        query = query.filter(plate__icontains=f.plate.upper())
    if f.number:
        query = query.filter(Q(number__startswith=f.number) | Q(code__startswith=f.number))
    if f.sensor:
        query = query.filter(sensor__startswith=f.sensor)
    if f.has_lock is not None:
        query = query.filter(has_lock=f.has_lock)
    if f.enabled is not None:
        query = query.filter(enabled=f.enabled)
    return await paginate(
        query,
        params,
        sorts={"code": "code", "number": "number", "status": "status", "entered_at": "entered_at"},
        default_sort="code",
        convert=_berth_out,
        related=("site",),
    )


async def get_berth(principal: Principal, ident: int) -> BerthOut:
    row = await get_owned(Berth, principal, ident, "berth")
    await row.fetch_related("site")
    return _berth_out(row)


async def section_berths(principal: Principal, site_id: int) -> list[BerthOut]:
    rows = (
        await scoped(Berth, principal)
        .filter(site_id=site_id)
        .select_related("site")
        .order_by("code")
        .limit(SECTION_BERTHS_SHOWN)
    )
    return [_berth_out(row) for row in rows]


async def _parking_site(principal: Principal, site_id: int) -> Site:
    site = await scoped(Site, principal).filter(id=site_id, kind__in=list(PARKING_KINDS)).first()
    if site is None:
        raise Invalid("site_id", "error.reference")
    return site


async def _bind_sensor(principal: Principal, berth: Berth, before: str) -> None:
    """The berth's sensor row names the berth (made when new); a sensor it no longer has is
    unbound. A serial another berth holds is refused before anything changes."""
    if berth.sensor:
        holder = (
            await scoped(Berth, principal)
            .filter(sensor=berth.sensor)
            .exclude(id=berth.id or 0)
            .first()
        )
        if holder is not None:
            raise Conflict("sensor", "parking.places.error.sensor_taken")
    if before and before != berth.sensor:
        await (
            scoped(BerthSensor, principal).filter(serial=before, berth=berth.code).update(berth="")
        )
    if berth.sensor:
        sensor = await scoped(BerthSensor, principal).filter(serial=berth.sensor).first()
        if sensor is None:
            await BerthSensor.create(
                tenant_id=principal.tenant_id,
                site_id=berth.site_id,
                serial=berth.sensor,
                berth=berth.code,
            )
        elif sensor.berth != berth.code or sensor.site_id != berth.site_id:
            sensor.berth = berth.code
            sensor.site_id = berth.site_id
            await sensor.save(update_fields=["berth", "site_id"])


async def _bind_lock(principal: Principal, berth: Berth) -> None:
    """has_lock makes the berth's lock row (state unknown until the edge reports); clearing it
    removes the row."""
    lock = await scoped(ParkingLock, principal).filter(berth=berth.code).first()
    if berth.has_lock and lock is None:
        await ParkingLock.create(
            tenant_id=principal.tenant_id,
            site_id=berth.site_id,
            berth=berth.code,
            name=f"{berth.code}",
        )
    elif berth.has_lock and lock is not None and lock.site_id != berth.site_id:
        lock.site_id = berth.site_id
        await lock.save(update_fields=["site_id"])
    elif not berth.has_lock and lock is not None:
        await lock.delete()


async def create_berths(principal: Principal, data: BerthCreate) -> list[BerthOut]:
    """One berth, or a range (W-001 … W-020) when count > 1; nothing is made if any code is
    taken."""
    async with in_transaction():
        site = await _parking_site(principal, data.site_id)
        if not site.enabled:
            raise Invalid("site_id", "parking.places.error.site_disabled")
        pairs = data.codes()
        codes = [code for code, _ in pairs]
        taken = await scoped(Berth, principal).filter(code__in=codes).values_list("code", flat=True)
        if taken:
            raise Conflict("code", "parking.places.error.code_taken")
        rows: list[Berth] = []
        for code, number in pairs:
            row = Berth(
                tenant_id=principal.tenant_id,
                site_id=site.id,
                code=code,
                number=number,
                sensor=data.sensor,
                has_lock=data.has_lock,
            )
            await _bind_sensor(principal, row, "")
            await row.save()
            await _bind_lock(principal, row)
            await publish_berth(row)
            rows.append(row)
        await audit(
            principal,
            "create",
            "berth",
            rows[0].id,
            {
                "site_id": {"from": None, "to": site.id},
                "codes": {"from": None, "to": codes[0] if len(codes) == 1 else f"{codes[0]} .. {codes[-1]}"},
                "sensor": {"from": None, "to": data.sensor},
                "has_lock": {"from": None, "to": data.has_lock},
            },
        )  # fmt: skip
    return [await get_berth(principal, row.id) for row in rows]


async def create_berth(principal: Principal, data: BerthCreate) -> BerthOut:
    return (await create_berths(principal, data))[0]


async def update_berth(principal: Principal, ident: int, data: BerthUpdate) -> BerthOut:
    async with in_transaction():
        row = await get_owned(Berth, principal, ident, "berth")
        before = row.sensor
        fields = {
            "number": data.number or row.code,
            "sensor": data.sensor,
            "has_lock": data.has_lock,
        }
        changes = _changes(row, fields)
        if changes:
            await _bind_sensor(principal, row, before)
            await row.save(update_fields=list(fields))
            await _bind_lock(principal, row)
            await audit(principal, "update", "berth", row.id, changes)
            await publish_berth(row)
    return await get_berth(principal, ident)


async def set_berth_enabled(principal: Principal, ident: int, enabled: bool) -> BerthOut:
    async with in_transaction():
        row = await get_owned(Berth, principal, ident, "berth")
        if row.enabled != enabled:
            row.enabled = enabled
            await row.save(update_fields=["enabled"])
            await audit(principal, "enable" if enabled else "disable", "berth", row.id)
            await publish_berth(row)
    return await get_berth(principal, ident)


async def delete_berth(principal: Principal, ident: int) -> None:
    """A berth with a vehicle in it (an open session) is not deleted."""
    async with in_transaction():
        row = await get_owned(Berth, principal, ident, "berth")
        if row.session or row.status == BerthStatus.occupied:
            raise Conflict("id", "parking.places.error.berth_occupied")
        await scoped(BerthSensor, principal).filter(berth=row.code).update(berth="")
        await scoped(ParkingLock, principal).filter(berth=row.code).delete()
        await publish_berth(row, removed=True)
        await row.delete()
        await audit(principal, "delete", "berth", ident, {"code": {"from": row.code, "to": None}})


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

LOTS = _crud(SiteKind.parking_lot)
SECTIONS = _crud(SiteKind.street_section)
OCCUPANCY = Crud(list=list_occupancy)
BERTHS = Crud(
    list=list_berths,
    get=get_berth,
    create=create_berth,
    update=update_berth,
    set_enabled=set_berth_enabled,
    delete=delete_berth,
)
