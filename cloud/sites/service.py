"""Sites rules: sites, gates, lanes and devices of a tenant; lane changes are published to edges."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Conflict, Invalid
from cloud.org.service import (
    check_reference,
    create_row,
    delete_row,
    ensure_unique,
    get_owned,
    scoped,
    set_enabled_row,
    update_row,
)
from cloud.sites.models import (
    Device,
    Gate,
    Lane,
    Site,
)
from cloud.sites.schemas import (
    DeviceFilter,
    DeviceIn,
    DeviceOut,
    GateFilter,
    GateIn,
    GateOut,
    LaneFilter,
    LaneIn,
    LaneOut,
    SiteFilter,
    SiteIn,
    SiteOut,
)
from cloud.state import publish
from protocols.site import default_action_for
from protocols.sync import Entity, LanePolicy


def _now() -> datetime:
    return datetime.now(UTC)


# --- sites ------------------------------------------------------------------------------------


def _site_out(row: Site) -> SiteOut:
    return SiteOut.model_validate(row)


async def list_sites(principal: Principal, f: SiteFilter, params: PageParams) -> Page[SiteOut]:
    query = scoped(Site, principal)
    if f.q:
        query = query.filter(Q(code__icontains=f.q) | Q(name__icontains=f.q))
    query = where_given(query, f, "kind", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_site_out,
    )


async def get_site(principal: Principal, ident: int) -> SiteOut:
    return _site_out(await get_owned(Site, principal, ident, "site"))


async def create_site(principal: Principal, data: SiteIn) -> SiteOut:
    async with in_transaction():
        await ensure_unique(scoped(Site, principal), "code", data.code)
        row = await create_row(principal, Site, "site", data.model_dump())
    return _site_out(row)


async def update_site(principal: Principal, ident: int, data: SiteIn) -> SiteOut:
    async with in_transaction():
        row = await get_owned(Site, principal, ident, "site")
        await ensure_unique(scoped(Site, principal), "code", data.code, ident)
        await update_row(principal, row, "site", data.model_dump())
    return _site_out(row)


async def set_site_enabled(principal: Principal, ident: int, enabled: bool) -> SiteOut:
    return _site_out(await set_enabled_row(principal, Site, "site", ident, enabled))


async def _site_empty(row: Site) -> None:
    if await Gate.filter(site_id=row.id).exists() or await Device.filter(site_id=row.id).exists():
        raise Conflict("id", "error.in_use")


async def delete_site(principal: Principal, ident: int) -> None:
    await delete_row(principal, Site, "site", ident, before=_site_empty)


async def site_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Site, principal).order_by("code").values_list("id", "name")
    return [(int(i), str(n)) for i, n in rows]


# --- gates ------------------------------------------------------------------------------------


def _gate_out(row: Gate) -> GateOut:
    return GateOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        code=row.code,
        name=row.name,
        enabled=row.enabled,
    )


async def list_gates(principal: Principal, f: GateFilter, params: PageParams) -> Page[GateOut]:
    query = scoped(Gate, principal)
    if f.q:
        query = query.filter(Q(code__icontains=f.q) | Q(name__icontains=f.q))
    query = where_given(query, f, "site_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_gate_out,
        related=("site",),
    )


async def get_gate(principal: Principal, ident: int) -> GateOut:
    row = await get_owned(Gate, principal, ident, "gate")
    await row.fetch_related("site")
    return _gate_out(row)


async def create_gate(principal: Principal, data: GateIn) -> GateOut:
    async with in_transaction():
        await check_reference(Site, principal, "site_id", data.site_id)
        await ensure_unique(scoped(Gate, principal), "code", data.code)
        row = await create_row(principal, Gate, "gate", data.model_dump())
    return await get_gate(principal, row.id)


async def update_gate(principal: Principal, ident: int, data: GateIn) -> GateOut:
    async with in_transaction():
        row = await get_owned(Gate, principal, ident, "gate")
        await check_reference(Site, principal, "site_id", data.site_id)
        await ensure_unique(scoped(Gate, principal), "code", data.code, ident)
        if data.site_id != row.site_id and await Lane.filter(gate_id=ident).exists():
            raise Invalid("site_id", "error.gate_has_lanes")
        await update_row(principal, row, "gate", data.model_dump())
    return await get_gate(principal, ident)


async def set_gate_enabled(principal: Principal, ident: int, enabled: bool) -> GateOut:
    await set_enabled_row(principal, Gate, "gate", ident, enabled)
    return await get_gate(principal, ident)


async def _gate_empty(row: Gate) -> None:
    if await Lane.filter(gate_id=row.id).exists():
        raise Conflict("id", "error.in_use")


async def delete_gate(principal: Principal, ident: int) -> None:
    await delete_row(principal, Gate, "gate", ident, before=_gate_empty)


async def gate_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Gate, principal).select_related("site").order_by("site__code", "code")
    return [(g.id, f"{g.site.name} / {g.name}") for g in rows]


# --- lanes ------------------------------------------------------------------------------------


def _lane_out(row: Lane) -> LaneOut:
    return LaneOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        gate_id=row.gate_id,
        gate_name=row.gate.name,
        code=row.code,
        name=row.name,
        direction=row.direction,
        wiring=row.wiring,
        default_action=row.default_action,
        min_confidence=row.min_confidence,
        enabled=row.enabled,
    )


def lane_policy(row: Lane) -> LanePolicy:
    return LanePolicy(
        code=row.code,
        enabled=row.enabled,
        default_action=row.default_action,
        min_confidence=row.min_confidence,
    )


async def _publish_lane(row: Lane) -> None:
    await publish(row.site_id, Entity.lane_policy, row.code, lane_policy(row))


async def list_lanes(principal: Principal, f: LaneFilter, params: PageParams) -> Page[LaneOut]:
    query = scoped(Lane, principal)
    if f.q:
        query = query.filter(Q(code__icontains=f.q) | Q(name__icontains=f.q))
    query = where_given(query, f, "site_id", "gate_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_lane_out,
        related=("site", "gate"),
    )


async def get_lane(principal: Principal, ident: int) -> LaneOut:
    row = await get_owned(Lane, principal, ident, "lane")
    await row.fetch_related("site", "gate")
    return _lane_out(row)


async def _lane_fields(principal: Principal, data: LaneIn, ident: int | None) -> dict[str, object]:
    gate = await check_reference(Gate, principal, "gate_id", data.gate_id)
    assert gate is not None
    await ensure_unique(scoped(Lane, principal), "code", data.code, ident)
    site = await Site.get(id=gate.site_id)
    fields = data.model_dump()
    fields["site_id"] = gate.site_id
    if data.default_action is None:
        fields["default_action"] = default_action_for(site.kind)
    return fields


async def create_lane(principal: Principal, data: LaneIn) -> LaneOut:
    async with in_transaction():
        row = await create_row(principal, Lane, "lane", await _lane_fields(principal, data, None))
        await _publish_lane(row)
    return await get_lane(principal, row.id)


async def update_lane(principal: Principal, ident: int, data: LaneIn) -> LaneOut:
    async with in_transaction():
        row = await get_owned(Lane, principal, ident, "lane")
        old_site, old_code = row.site_id, row.code
        await update_row(principal, row, "lane", await _lane_fields(principal, data, ident))
        if (old_site, old_code) != (row.site_id, row.code):
            # The edge knows the lane by code at its site: retract the old key.
            await publish(old_site, Entity.lane_policy, old_code, None)
        await _publish_lane(row)
    return await get_lane(principal, ident)


async def set_lane_enabled(principal: Principal, ident: int, enabled: bool) -> LaneOut:
    # A disabled lane is still published: the edge must know to refuse at it.
    await set_enabled_row(principal, Lane, "lane", ident, enabled, after=_publish_lane)
    return await get_lane(principal, ident)


async def _retract_lane(row: Lane) -> None:
    await Device.filter(lane_id=row.id).update(lane_id=None)
    await publish(row.site_id, Entity.lane_policy, row.code, None)


async def delete_lane(principal: Principal, ident: int) -> None:
    await delete_row(principal, Lane, "lane", ident, before=_retract_lane)


async def lane_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Lane, principal).select_related("gate").order_by("gate__code", "code")
    return [(lane.id, f"{lane.gate.name} / {lane.name}") for lane in rows]


async def lane_code_choices(principal: Principal) -> list[tuple[str, str]]:
    """Lanes by code (what edges, records and commands name them by)."""
    rows = await scoped(Lane, principal).select_related("site", "gate").order_by("site_id", "code")
    return [(lane.code, f"{lane.site.name} / {lane.gate.name} / {lane.name}") for lane in rows]


# --- devices ----------------------------------------------------------------------------------


def _device_out(row: Device) -> DeviceOut:
    return DeviceOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        lane_id=row.lane_id,
        lane_name=row.lane.name if row.lane_id and row.lane else None,
        kind=row.kind,
        name=row.name,
        vendor=row.vendor,
        serial=row.serial,
        address=row.address,
        enabled=row.enabled,
    )


async def list_devices(
    principal: Principal, f: DeviceFilter, params: PageParams
) -> Page[DeviceOut]:
    query = scoped(Device, principal)
    if f.q:
        query = query.filter(Q(name__icontains=f.q) | Q(serial__icontains=f.q))
    query = where_given(query, f, "site_id", "kind", "enabled")
    return await paginate(
        query,
        params,
        sorts={"name": "name", "kind": "kind"},
        default_sort="name",
        convert=_device_out,
        related=("site", "lane"),
    )


async def get_device(principal: Principal, ident: int) -> DeviceOut:
    row = await get_owned(Device, principal, ident, "device")
    await row.fetch_related("site", "lane")
    return _device_out(row)


async def _check_device(principal: Principal, data: DeviceIn) -> None:
    await check_reference(Site, principal, "site_id", data.site_id)
    lane = await check_reference(Lane, principal, "lane_id", data.lane_id)
    if lane is not None and lane.site_id != data.site_id:
        raise Invalid("lane_id", "error.lane_other_site")


async def create_device(principal: Principal, data: DeviceIn) -> DeviceOut:
    async with in_transaction():
        await _check_device(principal, data)
        row = await create_row(principal, Device, "device", data.model_dump())
    return await get_device(principal, row.id)


async def update_device(principal: Principal, ident: int, data: DeviceIn) -> DeviceOut:
    async with in_transaction():
        row = await get_owned(Device, principal, ident, "device")
        await _check_device(principal, data)
        await update_row(principal, row, "device", data.model_dump())
    return await get_device(principal, ident)


async def set_device_enabled(principal: Principal, ident: int, enabled: bool) -> DeviceOut:
    await set_enabled_row(principal, Device, "device", ident, enabled)
    return await get_device(principal, ident)


async def delete_device(principal: Principal, ident: int) -> None:
    await delete_row(principal, Device, "device", ident)


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

SITES = Crud(
    list=list_sites,
    get=get_site,
    create=create_site,
    update=update_site,
    set_enabled=set_site_enabled,
    delete=delete_site,
)
GATES = Crud(
    list=list_gates,
    get=get_gate,
    create=create_gate,
    update=update_gate,
    set_enabled=set_gate_enabled,
    delete=delete_gate,
)
LANES = Crud(
    list=list_lanes,
    get=get_lane,
    create=create_lane,
    update=update_lane,
    set_enabled=set_lane_enabled,
    delete=delete_lane,
)
DEVICES = Crud(
    list=list_devices,
    get=get_device,
    create=create_device,
    update=update_device,
    set_enabled=set_device_enabled,
    delete=delete_device,
)
