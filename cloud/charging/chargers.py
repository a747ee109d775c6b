"""Chargers (3.2.5), their connectors (3.2.6) and the commands an operator sends them.

Every change to a charger republishes its grant (Entity.charger, key: its serial) at its
station's site; a disabled charger is retracted. Commands go down through the edge serving the
station's site (cloud.sites.edges.issue_site_command) with a protocols.charging payload.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.charging import orders
from cloud.charging.models import (
    Area,
    Charger,
    ChargingOrder,
    Connector,
    OrderState,
    Station,
)
from cloud.charging.order_schemas import RemoteStartIn as OrderStart
from cloud.charging.station_publish import charger_url, publish_charger
from cloud.charging.station_schemas import (
    AvailabilityIn,
    ChargerCreate,
    ChargerFilter,
    ChargerOut,
    ChargerUpdate,
    ConnectorFilter,
    ConnectorIn,
    ConnectorOut,
    RemoteStartIn,
    ResetIn,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Conflict, Invalid
from cloud.org.service import (
    SECRET,
    apply_changes,
    audit,
    ensure_unique,
    get_owned,
    scoped,
    set_enabled_row,
)
from cloud.passwords import hash_password
from cloud.sites.edges import get_command, issue_site_command
from cloud.sites.models import Command
from cloud.sites.schemas import CommandOut
from protocols.charging import (
    AvailabilityCommand,
    ChargerCommand,
    DataTransferCommand,
    RemoteStopCommand,
    ResetCommand,
    TriggerCommand,
)
from protocols.sync import CommandKind

# An order in one of these states holds its connector: the connector cannot be removed.
ACTIVE_ORDER_STATES = (
    OrderState.starting,
    OrderState.charging,
    OrderState.stopping,
    OrderState.suspended,
)
CHARGER_RELATED = ("area", "area__station")

# --- chargers -----------------------------------------------------------------------------------


def _charger_out(row: Charger) -> ChargerOut:
    station = row.area.station
    return ChargerOut(
        id=row.id,
        area_id=row.area_id,
        area_name=row.area.name,
        station_id=station.id,
        station_name=station.name,
        site_id=station.site_id,
        code=row.code,
        serial=row.serial,
        name=row.name,
        model=row.model,
        version=row.version,
        connectors=row.connectors,
        sim=row.sim,
        operation=row.operation,
        occupancy_fee=row.occupancy_fee,
        reservable=row.reservable,
        max_current_a=row.max_current_a,
        max_power_kw=row.max_power_kw,
        max_voltage_v=row.max_voltage_v,
        current_type=row.current_type,
        speed=row.speed,
        installation=row.installation,
        protection=row.protection,
        link=row.link,
        has_password=bool(row.password_hash),
        heartbeat_s=row.heartbeat_s,
        lenient=row.lenient,
        enabled=row.enabled,
        online=row.online,
        last_seen_at=row.last_seen_at,
        vendor=row.vendor,
        firmware=row.firmware,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_chargers(
    principal: Principal, f: ChargerFilter, params: PageParams
) -> Page[ChargerOut]:
    query = scoped(Charger, principal)
    if f.station_id is not None:
        query = query.filter(area__station_id=f.station_id)
    if f.code:
        query = query.filter(code__startswith=f.code)
    if f.serial:
        query = query.filter(serial__startswith=f.serial)
    if f.q:
        query = query.filter(name__icontains=f.q)
    query = where_given(query, f, "area_id", "speed", "online", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name", "last_seen_at": "last_seen_at"},
        default_sort="code",
        convert=_charger_out,
        related=CHARGER_RELATED,
    )


async def get_charger(principal: Principal, ident: int) -> ChargerOut:
    row = await get_owned(Charger, principal, ident, "charger")
    await row.fetch_related(*CHARGER_RELATED)
    return _charger_out(row)


async def _charger_area(principal: Principal, area_id: int) -> Area:
    """An area that takes a new charger: enabled, at an enabled station."""
    area = await scoped(Area, principal).filter(id=area_id).select_related("station").first()
    if area is None:
        raise Invalid("area_id", "error.reference")
    if not area.station.enabled:
        raise Invalid("area_id", "stations.error.station_disabled")
    if not area.enabled:
        raise Invalid("area_id", "stations.error.area_disabled")
    return area


async def _free_charger_code(tenant_id: int, station_id: int) -> str:
    taken = set(await Charger.filter(tenant_id=tenant_id).values_list("code", flat=True))
    number = await Charger.filter(area__station_id=station_id).count() + 1
    while (code := f"C{station_id:04d}{number:03d}") in taken:
        number += 1
    return code


async def _add_connectors(charger: Charger, first: int, last: int) -> None:
    await Connector.bulk_create(
        [
            Connector(
                tenant_id=charger.tenant_id,
                charger_id=charger.id,
                connector=number,
                code=f"{charger.code}-{number}",
            )
            for number in range(first, last + 1)
        ]
    )


async def new_charger(
    tenant_id: int, area: Area, code: str, password: str | None, fields: dict[str, Any]
) -> Charger:
    """The charger with its connectors 1..n, published; inside the caller's transaction."""
    row = await Charger.create(
        tenant_id=tenant_id,
        area_id=area.id,
        code=code or await _free_charger_code(tenant_id, area.station_id),
        password_hash=hash_password(password) if password else "",
        **fields,
    )
    await _add_connectors(row, 1, row.connectors)
    await publish_charger(row)
    return row


def _created(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: {"from": None, "to": getattr(v, "value", v)} for k, v in fields.items()}


async def create_charger(principal: Principal, data: ChargerCreate) -> ChargerOut:
    async with in_transaction():
        area = await _charger_area(principal, data.area_id)
        # Chargers present their serial alone at the edge, so serials are unique platform-wide.
        await ensure_unique(Charger.all(), "serial", data.serial)
        if data.code:
            await ensure_unique(scoped(Charger, principal), "code", data.code)
        fields = data.model_dump(exclude={"area_id", "code", "password"})
        row = await new_charger(principal.tenant_id, area, data.code, data.password, fields)
        changes = {**_created(fields), "area_id": {"from": None, "to": area.id}}
        changes["code"] = {"from": None, "to": row.code}
        if data.password:
            changes["password"] = {"from": None, "to": SECRET}
        await audit(principal, "create", "charger", row.id, changes)
    return await get_charger(principal, row.id)


async def _resize_connectors(charger: Charger, old: int, new: int) -> None:
    if new > old:
        await _add_connectors(charger, old + 1, new)
    elif new < old:
        busy = await ChargingOrder.filter(
            charger_id=charger.id, connector__gt=new, state__in=ACTIVE_ORDER_STATES
        ).exists()
        if busy:
            raise Conflict("connectors", "stations.error.connector_busy")
        await Connector.filter(charger_id=charger.id, connector__gt=new).delete()


async def update_charger(principal: Principal, ident: int, data: ChargerUpdate) -> ChargerOut:
    async with in_transaction():
        row = await get_owned(Charger, principal, ident, "charger")
        old_count = row.connectors
        fields: dict[str, Any] = data.model_dump(exclude={"password", "clear_password"})
        secrets: frozenset[str] = frozenset()
        if data.password:
            fields["password_hash"] = hash_password(data.password)
            secrets = frozenset({"password_hash"})
        elif data.clear_password and row.password_hash:
            fields["password_hash"] = ""
            secrets = frozenset({"password_hash"})
        changes = apply_changes(row, fields, secrets)
        if changes:
            await _resize_connectors(row, old_count, row.connectors)
            await row.save(update_fields=list(fields))
            await audit(principal, "update", "charger", ident, changes)
            await publish_charger(row)
    return await get_charger(principal, ident)


async def set_charger_enabled(principal: Principal, ident: int, enabled: bool) -> ChargerOut:
    await set_enabled_row(principal, Charger, "charger", ident, enabled, after=publish_charger)
    return await get_charger(principal, ident)


async def charger_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Charger, principal).order_by("code").values_list("id", "code", "name")
    return [(int(i), f"{n} ({c})") for i, c, n in rows]


# --- connectors ---------------------------------------------------------------------------------


def _connector_out(row: Connector) -> ConnectorOut:
    charger = row.charger
    return ConnectorOut(
        id=row.id,
        charger_id=row.charger_id,
        charger_code=charger.code,
        charger_name=charger.name,
        serial=charger.serial,
        area_name=charger.area.name,
        station_id=charger.area.station_id,
        station_name=charger.area.station.name,
        connector=row.connector,
        code=row.code,
        status=row.status,
        error_code=row.error_code,
        status_at=row.status_at,
        enabled=row.enabled,
    )


CONNECTOR_RELATED = ("charger", "charger__area", "charger__area__station")


async def list_connectors(
    principal: Principal, f: ConnectorFilter, params: PageParams
) -> Page[ConnectorOut]:
    query = scoped(Connector, principal)
    if f.station_id is not None:
        query = query.filter(charger__area__station_id=f.station_id)
    if f.area_id is not None:
        query = query.filter(charger__area_id=f.area_id)
    if f.charger_code:
        query = query.filter(charger__code__startswith=f.charger_code)
    if f.serial:
        query = query.filter(charger__serial__startswith=f.serial)
    query = where_given(query, f, "charger_id", "status", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "status": "status"},
        default_sort="code",
        convert=_connector_out,
        related=CONNECTOR_RELATED,
    )


async def get_connector(principal: Principal, ident: int) -> ConnectorOut:
    row = await get_owned(Connector, principal, ident, "connector")
    await row.fetch_related(*CONNECTOR_RELATED)
    return _connector_out(row)


async def set_connector_enabled(principal: Principal, ident: int, enabled: bool) -> ConnectorOut:
    await set_enabled_row(principal, Connector, "connector", ident, enabled)
    return await get_connector(principal, ident)


async def connectors_of(principal: Principal, charger_id: int) -> list[ConnectorOut]:
    await get_owned(Charger, principal, charger_id, "charger")
    rows = (
        await scoped(Connector, principal)
        .filter(charger_id=charger_id)
        .select_related(*CONNECTOR_RELATED)
        .order_by("connector")
    )
    return [_connector_out(row) for row in rows]


# --- commands -----------------------------------------------------------------------------------


async def _commandable(principal: Principal, ident: int) -> tuple[Charger, Station]:
    """The charger (another tenant's: 404) and its station; a disabled charger takes none."""
    row = await get_owned(Charger, principal, ident, "charger")
    area = await Area.get(id=row.area_id)
    station = await Station.get(id=area.station_id)
    if not row.enabled:
        raise Invalid("id", "stations.error.charger_disabled")
    return row, station


def _connector_of(row: Charger, connector: int, *, whole: bool = False) -> int:
    low = 0 if whole else 1
    if not low <= connector <= row.connectors:
        raise Invalid("connector", "stations.error.no_such_connector")
    return connector


async def _send(
    principal: Principal, station: Station, kind: CommandKind, payload: BaseModel
) -> CommandOut:
    return await issue_site_command(
        principal, station.site_id, kind, payload.model_dump(mode="json")
    )


async def reset(principal: Principal, ident: int, data: ResetIn) -> CommandOut:
    """Restart (3.2.5 8): only a charger that is online."""
    row, station = await _commandable(principal, ident)
    if not row.online:
        raise Invalid("id", "stations.error.charger_offline")
    payload = ResetCommand(charge_point=row.serial, type=data.type)
    return await _send(principal, station, CommandKind.charger_reset, payload)


async def clock_sync(principal: Principal, ident: int) -> CommandOut:
    row, station = await _commandable(principal, ident)
    payload = ChargerCommand(charge_point=row.serial)
    return await _send(principal, station, CommandKind.charger_clock_sync, payload)


async def push_tariff(principal: Principal, ident: int) -> CommandOut:
    row, station = await _commandable(principal, ident)
    payload = ChargerCommand(charge_point=row.serial)
    return await _send(principal, station, CommandKind.charger_push_tariff, payload)


async def push_hotline(principal: Principal, ident: int) -> CommandOut:
    """The station's hotline to the charger's screen (DataTransfer, message 'hotline')."""
    row, station = await _commandable(principal, ident)
    if not station.hotline:
        raise Invalid("hotline", "stations.error.no_hotline")
    payload = DataTransferCommand(
        charge_point=row.serial, message_id="hotline", data=station.hotline
    )
    return await _send(principal, station, CommandKind.charger_data_transfer, payload)


async def push_qr(principal: Principal, ident: int, public_url: str | None = None) -> CommandOut:
    """The QR code the charger's screen shows (DataTransfer, message 'qr'): its phone page."""
    row, station = await _commandable(principal, ident)
    text = charger_url(row.serial, public_url)
    payload = DataTransferCommand(charge_point=row.serial, message_id="qr", data=text)
    return await _send(principal, station, CommandKind.charger_data_transfer, payload)


async def refresh_status(principal: Principal, ident: int) -> CommandOut:
    """Ask for a StatusNotification of every connector (TriggerMessage)."""
    row, station = await _commandable(principal, ident)
    payload = TriggerCommand(charge_point=row.serial, requested="StatusNotification")
    return await _send(principal, station, CommandKind.charger_trigger, payload)


async def remote_start(principal: Principal, ident: int, data: RemoteStartIn) -> CommandOut:
    """Start charging on a connector for an id tag (an operator's remote start): the order is
    made first, so the session the edge reports is that order."""
    row, station = await _commandable(principal, ident)
    connector = _connector_of(row, data.connector)
    if not data.id_tag:
        raise Invalid("id_tag", "error.required")
    # The orders service makes the order (starting) and sends the command in one transaction.
    await orders.start_remote(
        principal, OrderStart(charger_id=row.id, connector=connector, id_tag=data.id_tag)
    )
    latest = (
        await scoped(Command, principal)
        .filter(site_id=station.site_id, kind=CommandKind.charger_remote_start.value)
        .order_by("-issued_at")
        .first()
    )
    assert latest is not None, "start_remote sends the remote-start command"
    return await get_command(principal, latest.id)


async def remote_stop(principal: Principal, ident: int, data: ConnectorIn) -> CommandOut:
    """Stop the order charging on a connector."""
    row, station = await _commandable(principal, ident)
    connector = _connector_of(row, data.connector)
    order = (
        await ChargingOrder.filter(
            charger_id=row.id, connector=connector, state__in=ACTIVE_ORDER_STATES
        )
        .order_by("-created_at")
        .first()
    )
    if order is None:
        raise Invalid("connector", "stations.error.no_active_order")
    payload = RemoteStopCommand(charge_point=row.serial, connector=connector, order=str(order.uuid))
    return await _send(principal, station, CommandKind.charger_remote_stop, payload)


async def change_availability(principal: Principal, ident: int, data: AvailabilityIn) -> CommandOut:
    row, station = await _commandable(principal, ident)
    connector = _connector_of(row, data.connector, whole=True)
    if not data.type:
        raise Invalid("type", "error.required")
    payload = AvailabilityCommand(charge_point=row.serial, connector=connector, type=data.type)
    return await _send(principal, station, CommandKind.charger_availability, payload)


async def unlock(principal: Principal, ident: int, data: ConnectorIn) -> CommandOut:
    row, station = await _commandable(principal, ident)
    connector = _connector_of(row, data.connector)
    payload = ChargerCommand(charge_point=row.serial, connector=connector)
    return await _send(principal, station, CommandKind.charger_unlock, payload)


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

CHARGERS = Crud(
    list=list_chargers,
    get=get_charger,
    create=create_charger,
    update=update_charger,
    set_enabled=set_charger_enabled,
)
CONNECTORS = Crud(list=list_connectors, get=get_connector, set_enabled=set_connector_enabled)
