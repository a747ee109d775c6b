"""Car stations (3.2.1), their areas (3.2.2) and parking spaces (3.2.3).

A station is made under an enabled property company together with its site (kind
charging_station) and a default area, and its site then holds every id tag of the tenant. A
disabled station takes no new area or charger (the tariff pages check `Station.enabled` too).
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.charging.models import (
    Area,
    Charger,
    Connector,
    ParkingSpace,
    PropertyCompany,
    Station,
)
from cloud.charging.station_publish import publish_id_tags_to_site, publish_station_chargers
from cloud.charging.station_schemas import (
    AreaCreate,
    AreaFilter,
    AreaOut,
    AreaUpdate,
    SpaceCreate,
    SpaceFilter,
    SpaceOut,
    SpaceUpdate,
    StationCounts,
    StationCreate,
    StationFilter,
    StationOut,
    StationUpdate,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Conflict, Invalid
from cloud.org.service import (
    audit,
    get_owned,
    scoped,
    set_enabled_row,
    update_row,
)
from cloud.sites.models import Site
from protocols.site import SiteKind

DEFAULT_AREA_NAME = "默认区域"

# --- stations -----------------------------------------------------------------------------------


def _station_out(row: Station) -> StationOut:
    return StationOut(
        id=row.id,
        property_id=row.property_id,
        property_name=row.property.name,
        provider_name=row.property.provider.name,
        site_id=row.site_id,
        site_code=row.site.code,
        name=row.name,
        operation=row.operation,
        contact=row.contact,
        contact_phone=row.contact_phone,
        description=row.description,
        hotline=row.hotline,
        opening_hours=row.opening_hours,
        max_power_kw=row.max_power_kw,
        capacity_kva=row.capacity_kva,
        province=row.province,
        city=row.city,
        address=row.address,
        review=row.review,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


STATION_RELATED = ("property", "property__provider", "site")


async def list_stations(
    principal: Principal, f: StationFilter, params: PageParams
) -> Page[StationOut]:
    query = scoped(Station, principal)
    if f.q:
        query = query.filter(name__icontains=f.q)
    query = where_given(query, f, "property_id", "review", "enabled")
    return await paginate(
        query,
        params,
        sorts={"name": "name", "created_at": "created_at"},
        default_sort="-created_at",
        convert=_station_out,
        related=STATION_RELATED,
    )


async def get_station(principal: Principal, ident: int) -> StationOut:
    row = await get_owned(Station, principal, ident, "station")
    await row.fetch_related(*STATION_RELATED)
    return _station_out(row)


async def station_counts(principal: Principal, ident: int) -> StationCounts:
    row = await get_owned(Station, principal, ident, "station")
    chargers = Charger.filter(area__station_id=row.id)
    return StationCounts(
        areas=await Area.filter(station_id=row.id).count(),
        chargers=await chargers.count(),
        chargers_online=await chargers.filter(online=True).count(),
        connectors=await Connector.filter(charger__area__station_id=row.id).count(),
        spaces=await ParkingSpace.filter(area__station_id=row.id).count(),
    )


async def _free_site_code(tenant_id: int) -> str:
    taken = set(await Site.filter(tenant_id=tenant_id).values_list("code", flat=True))
    number = await Site.filter(tenant_id=tenant_id, kind=SiteKind.charging_station).count() + 1
    while f"station-{number}" in taken:
        number += 1
    return f"station-{number}"


async def _station_site(tenant_id: int, code: str, name: str, address: str) -> tuple[Site, bool]:
    """The site a new station stands on: an existing charging-station site without a station,
    or a new one (code given or made up). Returns (site, made)."""
    if code:
        site = await Site.filter(tenant_id=tenant_id, code=code).first()
        if site is not None:
            if site.kind != SiteKind.charging_station:
                raise Invalid("site_code", "stations.error.site_not_station")
            if await Station.filter(site_id=site.id).exists():
                raise Conflict("site_code", "error.taken")
            return site, False
    site = await Site.create(
        tenant_id=tenant_id,
        code=code or await _free_site_code(tenant_id),
        name=name,
        kind=SiteKind.charging_station,
        address=address[:255],
    )
    return site, True


async def new_area(tenant_id: int, station: Station, fields: dict[str, Any]) -> Area:
    """An area with the next free code of its station (A + station id + number)."""
    taken = set(await Area.filter(tenant_id=tenant_id).values_list("code", flat=True))
    number = await Area.filter(station_id=station.id).count() + 1
    while (code := f"A{station.id:04d}{number:02d}") in taken:
        number += 1
    return await Area.create(tenant_id=tenant_id, station_id=station.id, code=code, **fields)


async def new_station(
    tenant_id: int, property_id: int, site_code: str, fields: dict[str, Any]
) -> tuple[Station, Site, Area, bool]:
    """The station, its site and its default area; the site is given every id tag of the
    tenant. Inside the caller's transaction. Returns (station, site, area, site made)."""
    site, made = await _station_site(
        tenant_id, site_code, fields["name"], str(fields.get("address", ""))
    )
    station = await Station.create(
        tenant_id=tenant_id, property_id=property_id, site_id=site.id, **fields
    )
    area = await new_area(
        tenant_id,
        station,
        {"name": DEFAULT_AREA_NAME, "phone": station.contact_phone, "is_default": True},
    )
    await publish_id_tags_to_site(tenant_id, site.id)
    return station, site, area, made


async def create_station(principal: Principal, data: StationCreate) -> StationOut:
    async with in_transaction():
        owner = await scoped(PropertyCompany, principal).filter(id=data.property_id).first()
        if owner is None:
            raise Invalid("property_id", "error.reference")
        if not owner.enabled:
            raise Invalid("property_id", "stations.error.property_disabled")
        fields = data.model_dump(exclude={"property_id", "site_code"})
        station, site, area, made = await new_station(
            principal.tenant_id, owner.id, data.site_code, fields
        )
        if made:
            await audit(
                principal,
                "create",
                "site",
                site.id,
                {
                    "code": {"from": None, "to": site.code},
                    "kind": {"from": None, "to": "charging_station"},
                },
            )
        await audit(
            principal,
            "create",
            "station",
            station.id,
            {
                "property_id": {"from": None, "to": owner.id},
                "site_id": {"from": None, "to": site.id},
                **{k: {"from": None, "to": getattr(v, "value", v)} for k, v in fields.items()},
            },
        )
        await audit(principal, "create", "area", area.id, {"code": {"from": None, "to": area.code}})
    return await get_station(principal, station.id)


async def update_station(principal: Principal, ident: int, data: StationUpdate) -> StationOut:
    async with in_transaction():
        row = await get_owned(Station, principal, ident, "station")
        changes = await update_row(principal, row, "station", data.model_dump())
        if "name" in changes or "address" in changes:
            await Site.filter(id=row.site_id).update(name=row.name, address=row.address[:255])
        if "hotline" in changes:
            await publish_station_chargers(row.id)  # the hotline travels in every charger grant
    return await get_station(principal, ident)


async def set_station_enabled(principal: Principal, ident: int, enabled: bool) -> StationOut:
    await set_enabled_row(principal, Station, "station", ident, enabled)
    return await get_station(principal, ident)


async def station_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Station, principal).order_by("name").values_list("id", "name")
    return [(int(i), str(n)) for i, n in rows]


async def enabled_station(principal: Principal, station_id: int, field: str) -> Station:
    """A station of the principal's tenant that takes new areas and chargers."""
    station = await scoped(Station, principal).filter(id=station_id).first()
    if station is None:
        raise Invalid(field, "error.reference")
    if not station.enabled:
        raise Invalid(field, "stations.error.station_disabled")
    return station


# --- areas --------------------------------------------------------------------------------------


def _area_out(row: Area) -> AreaOut:
    return AreaOut(
        id=row.id,
        station_id=row.station_id,
        station_name=row.station.name,
        code=row.code,
        name=row.name,
        phone=row.phone,
        power_kw=row.power_kw,
        is_default=row.is_default,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_areas(principal: Principal, f: AreaFilter, params: PageParams) -> Page[AreaOut]:
    query = scoped(Area, principal)
    if f.code:
        query = query.filter(code__startswith=f.code)
    if f.q:
        query = query.filter(name__icontains=f.q)
    query = where_given(query, f, "station_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_area_out,
        related=("station",),
    )


async def get_area(principal: Principal, ident: int) -> AreaOut:
    row = await get_owned(Area, principal, ident, "area")
    await row.fetch_related("station")
    return _area_out(row)


async def create_area(principal: Principal, data: AreaCreate) -> AreaOut:
    async with in_transaction():
        station = await enabled_station(principal, data.station_id, "station_id")
        fields = data.model_dump(exclude={"station_id"})
        row = await new_area(principal.tenant_id, station, fields)
        await audit(
            principal,
            "create",
            "area",
            row.id,
            {
                "station_id": {"from": None, "to": station.id},
                "code": {"from": None, "to": row.code},
                **{k: {"from": None, "to": v} for k, v in fields.items()},
            },
        )
    return await get_area(principal, row.id)


async def update_area(principal: Principal, ident: int, data: AreaUpdate) -> AreaOut:
    async with in_transaction():
        row = await get_owned(Area, principal, ident, "area")
        await update_row(principal, row, "area", data.model_dump())
    return await get_area(principal, ident)


async def set_area_enabled(principal: Principal, ident: int, enabled: bool) -> AreaOut:
    await set_enabled_row(principal, Area, "area", ident, enabled)
    return await get_area(principal, ident)


async def area_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = (
        await scoped(Area, principal)
        .order_by("station__name", "code")
        .values_list("id", "name", "station__name")
    )
    return [(int(i), f"{s} / {n}") for i, n, s in rows]


# --- parking spaces -----------------------------------------------------------------------------


def _space_out(row: ParkingSpace) -> SpaceOut:
    return SpaceOut(
        id=row.id,
        area_id=row.area_id,
        area_name=row.area.name,
        station_id=row.area.station_id,
        station_name=row.area.station.name,
        code=row.code,
        name=row.name,
        lock_kind=row.lock_kind,
        enabled=row.enabled,
        created_at=row.created_at,
    )


SPACE_RELATED = ("area", "area__station")


async def list_spaces(principal: Principal, f: SpaceFilter, params: PageParams) -> Page[SpaceOut]:
    query = scoped(ParkingSpace, principal)
    if f.station_id is not None:
        query = query.filter(area__station_id=f.station_id)
    if f.code:
        query = query.filter(code__startswith=f.code)
    if f.q:
        query = query.filter(name__icontains=f.q)
    query = where_given(query, f, "area_id", "lock_kind", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_space_out,
        related=SPACE_RELATED,
    )


async def get_space(principal: Principal, ident: int) -> SpaceOut:
    row = await get_owned(ParkingSpace, principal, ident, "space")
    await row.fetch_related(*SPACE_RELATED)
    return _space_out(row)


async def new_spaces(
    tenant_id: int, area: Area, count: int, lock_kind: Any, prefix: str
) -> list[ParkingSpace]:
    """`count` spaces numbered after the area's existing ones (code: area code-001...)."""
    taken = set(await ParkingSpace.filter(tenant_id=tenant_id).values_list("code", flat=True))
    rows: list[ParkingSpace] = []
    number = 0
    while len(rows) < count:
        number += 1
        code = f"{area.code}-{number:03d}"
        if code in taken:
            continue
        rows.append(
            ParkingSpace(
                tenant_id=tenant_id,
                area_id=area.id,
                code=code,
                name=f"{prefix}{number:03d}"[:64],
                lock_kind=lock_kind,
            )
        )
    await ParkingSpace.bulk_create(rows, batch_size=500)
    codes = [row.code for row in rows]
    return list(await ParkingSpace.filter(tenant_id=tenant_id, code__in=codes).order_by("id"))


async def create_spaces(principal: Principal, data: SpaceCreate) -> list[SpaceOut]:
    async with in_transaction():
        area = await scoped(Area, principal).filter(id=data.area_id).first()
        if area is None:
            raise Invalid("area_id", "error.reference")
        rows = await new_spaces(
            principal.tenant_id, area, data.count, data.lock_kind, data.name_prefix
        )
        await audit(
            principal,
            "create",
            "space",
            rows[0].id,
            {
                "area_id": {"from": None, "to": area.id},
                "count": {"from": None, "to": data.count},
                "codes": {"from": None, "to": f"{rows[0].code} .. {rows[-1].code}"},
                "lock_kind": {"from": None, "to": data.lock_kind.value},
            },
        )
    return [await get_space(principal, row.id) for row in rows]


async def update_space(principal: Principal, ident: int, data: SpaceUpdate) -> SpaceOut:
    async with in_transaction():
        row = await get_owned(ParkingSpace, principal, ident, "space")
        await update_row(principal, row, "space", data.model_dump())
    return await get_space(principal, ident)


async def set_space_enabled(principal: Principal, ident: int, enabled: bool) -> SpaceOut:
    await set_enabled_row(principal, ParkingSpace, "space", ident, enabled)
    return await get_space(principal, ident)


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

STATIONS = Crud(
    list=list_stations,
    get=get_station,
    create=create_station,
    update=update_station,
    set_enabled=set_station_enabled,
)
AREAS = Crud(
    list=list_areas,
    get=get_area,
    create=create_area,
    update=update_area,
    set_enabled=set_area_enabled,
)
SPACES = Crud(
    list=list_spaces,
    get=get_space,
    create=create_spaces,
    update=update_space,
    set_enabled=set_space_enabled,
)
