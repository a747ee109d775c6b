"""Special plates (特殊车牌配置): plates of some kinds (police, armed police, embassy...) or
matching a regular expression park free. Each enabled rule is published to every lot and road
section of the tenant as protocols.parking.SpecialPlateGrant under its id; a disabled or deleted
rule is published as None.

A pattern is matched with `re.search` over the normalised plate (anchor it with ^ and $ to
match the whole plate), the same way edges match the grant.
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.org.models import Tenant
from cloud.org.service import audit, create_row, get_owned, scoped, update_row
from cloud.parking.models import SpecialPlate
from cloud.parking.pass_schemas import SpecialPlateFilter, SpecialPlateIn, SpecialPlateOut
from cloud.parking.publish import publish_to_tenant
from protocols.parking import SpecialPlateGrant, special_rule_matches
from protocols.plates import PlateKind, normalize_plate
from protocols.sync import Entity

ENTITY = "special_plate"

# The rules a new tenant starts with (demo data): military/police and diplomatic vehicles.
DEFAULTS: tuple[tuple[str, tuple[PlateKind, ...], str], ...] = (
    ("军警车", (PlateKind.police, PlateKind.armed_police), ""),
    ("使馆车", (PlateKind.embassy, PlateKind.consulate), ""),
)


def matches(plate_kinds: Sequence[str], pattern: str, plate: str) -> bool:
    """Whether a normalised plate falls under a special-plate rule (the lanes' own test)."""
    rule = SpecialPlateGrant(name="", plate_kinds=list(plate_kinds), pattern=pattern)
    return special_rule_matches(rule, plate)


async def is_special(tenant_id: int, plate: str) -> bool:
    """Whether an enabled special-plate rule of the tenant covers the plate."""
    plate = normalize_plate(plate)
    if not plate:
        return False
    rows = await SpecialPlate.filter(tenant_id=tenant_id, enabled=True).values_list(
        "plate_kinds", "pattern"
    )
    return any(matches(list(kinds or []), str(pattern), plate) for kinds, pattern in rows)


def grant_of(row: SpecialPlate) -> SpecialPlateGrant | None:
    if not row.enabled:
        return None
    return SpecialPlateGrant(name=row.name, plate_kinds=list(row.plate_kinds), pattern=row.pattern)


async def _publish(row: SpecialPlate, removed: bool = False) -> None:
    await publish_to_tenant(
        row.tenant_id, Entity.special_plate, str(row.id), None if removed else grant_of(row)
    )


def _out(row: SpecialPlate) -> SpecialPlateOut:
    return SpecialPlateOut(
        id=row.id,
        name=row.name,
        plate_kinds=[PlateKind(k) for k in row.plate_kinds if k in PlateKind._value2member_map_],
        pattern=row.pattern,
        enabled=row.enabled,
    )


def _data(data: SpecialPlateIn) -> dict[str, object]:
    return {
        "name": data.name,
        "plate_kinds": [k.value for k in data.plate_kinds],
        "pattern": data.pattern,
    }


async def list_specials(
    principal: Principal, f: SpecialPlateFilter, params: PageParams
) -> Page[SpecialPlateOut]:
    query = scoped(SpecialPlate, principal)
    if f.name:
        query = query.filter(name__icontains=f.name)
    query = where_given(query, f, "enabled")
    return await paginate(
        query, params, sorts={"name": "name", "id": "id"}, default_sort="id", convert=_out
    )


async def get_special(principal: Principal, ident: int) -> SpecialPlateOut:
    return _out(await get_owned(SpecialPlate, principal, ident, ENTITY))


async def create_special(principal: Principal, data: SpecialPlateIn) -> SpecialPlateOut:
    async with in_transaction():
        row = await create_row(principal, SpecialPlate, ENTITY, _data(data))
        await _publish(row)
    return _out(row)


async def update_special(principal: Principal, ident: int, data: SpecialPlateIn) -> SpecialPlateOut:
    async with in_transaction():
        row = await get_owned(SpecialPlate, principal, ident, ENTITY)
        if await update_row(principal, row, ENTITY, _data(data)):
            await _publish(row)
    return _out(row)


async def set_special_enabled(principal: Principal, ident: int, enabled: bool) -> SpecialPlateOut:
    async with in_transaction():
        row = await get_owned(SpecialPlate, principal, ident, ENTITY)
        if row.enabled != enabled:
            row.enabled = enabled
            await row.save(update_fields=["enabled"])
            await audit(principal, "enable" if enabled else "disable", ENTITY, ident)
            await _publish(row)
    return _out(row)


async def delete_special(principal: Principal, ident: int) -> None:
    async with in_transaction():
        row = await get_owned(SpecialPlate, principal, ident, ENTITY)
        await _publish(row, removed=True)
        await row.delete()
        await audit(principal, "delete", ENTITY, ident)


async def seed_special_plates(tenant: Tenant) -> list[SpecialPlate]:
    """The default rules (军警车, 使馆车) for a tenant that has none yet, published; for the
    demo data. Call after the tenant's lots and road sections exist."""
    if await SpecialPlate.filter(tenant_id=tenant.id).exists():
        return []
    made: list[SpecialPlate] = []
    async with in_transaction():
        for name, kinds, pattern in DEFAULTS:
            row = await SpecialPlate.create(
                tenant_id=tenant.id,
                name=name,
                plate_kinds=[k.value for k in kinds],
                pattern=pattern,
            )
            await _publish(row)
            made.append(row)
    return made


SPECIALS = Crud(
    list=list_specials,
    get=get_special,
    create=create_special,
    update=update_special,
    set_enabled=set_special_enabled,
    delete=delete_special,
)
