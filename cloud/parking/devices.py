"""Geomagnetic sensors (地磁检测器), their detections (地磁检测记录, 地磁误报) and parking locks
(车位锁): the device lists, the lock commands, and `record_detection` that the berth
arrival/departure ingest calls."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F, Q

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, within
from cloud.org.service import get_owned, scoped
from cloud.parking.models import Berth, BerthSensor, LockStateName, ParkingLock, SensorDetection
from cloud.parking.place_schemas import (
    DetectionFilter,
    DetectionOut,
    LockFilter,
    LockOut,
    SensorFilter,
    SensorOut,
)
from cloud.sites.edges import issue_site_command
from cloud.sites.models import Site
from cloud.sites.schemas import CommandOut
from protocols.parking import LockCommand
from protocols.sync import CommandKind

log = logging.getLogger(__name__)
# No heartbeat for this long: the sensor is offline.
OFFLINE_AFTER = timedelta(minutes=30)
DETECTION_COUNT_CAP = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


def is_online(last_heartbeat_at: datetime | None, now: datetime) -> bool:
    return last_heartbeat_at is not None and now - last_heartbeat_at < OFFLINE_AFTER


# --- sensors --------------------------------------------------------------------------------------


def _sensor_out(row: BerthSensor, now: datetime) -> SensorOut:
    return SensorOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        serial=row.serial,
        berth=row.berth,
        battery_pct=row.battery_pct,
        temperature_c=row.temperature_c,
        last_heartbeat_at=row.last_heartbeat_at,
        online=is_online(row.last_heartbeat_at, now),
        detections=row.detections,
        false_alarms=row.false_alarms,
    )


async def list_sensors(
    principal: Principal, f: SensorFilter, params: PageParams
) -> Page[SensorOut]:
    now = _now()
    query = scoped(BerthSensor, principal)
    if f.site_id is not None:
        query = query.filter(site_id=f.site_id)
    if f.serial:
        query = query.filter(serial__startswith=f.serial)
    if f.berth:
        query = query.filter(berth__startswith=f.berth)
    if f.online is True:
        query = query.filter(last_heartbeat_at__gt=now - OFFLINE_AFTER)
    elif f.online is False:
        query = query.filter(
            Q(last_heartbeat_at__isnull=True) | Q(last_heartbeat_at__lte=now - OFFLINE_AFTER)
        )
    if f.battery_below is not None:
        query = query.filter(battery_pct__lt=f.battery_below)
    return await paginate(
        query,
        params,
        sorts={
            "serial": "serial",
            "berth": "berth",
            "battery_pct": "battery_pct",
            "last_heartbeat_at": "last_heartbeat_at",
            "false_alarms": "false_alarms",
        },
        default_sort="serial",
        convert=lambda row: _sensor_out(row, now),
        related=("site",),
    )


async def get_sensor(principal: Principal, ident: int) -> SensorOut:
    row = await get_owned(BerthSensor, principal, ident, "sensor")
    await row.fetch_related("site")
    return _sensor_out(row, _now())


async def sensors_by_serial(principal: Principal, serials: set[str]) -> dict[str, SensorOut]:
    """The tenant's sensors of these serials (a section's detail shows them by its berths)."""
    if not serials:
        return {}
    now = _now()
    rows = await scoped(BerthSensor, principal).filter(serial__in=serials).select_related("site")
    return {row.serial: _sensor_out(row, now) for row in rows}


# --- detections -----------------------------------------------------------------------------------


def _detection_out(row: SensorDetection) -> DetectionOut:
    return DetectionOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        berth=row.berth,
        sensor=row.sensor,
        session=row.session,
        kind=row.kind,
        source=row.source,
        occurred_at=row.occurred_at,
        false_alarm=row.false_alarm,
        false_alarm_reason=row.false_alarm_reason,
        reported_by=row.reported_by,
    )


async def list_detections(
    principal: Principal, f: DetectionFilter, params: PageParams
) -> Page[DetectionOut]:
    """Newest first."""
    query = scoped(SensorDetection, principal)
    if f.site_id is not None:
        query = query.filter(site_id=f.site_id)
    if f.berth:
        query = query.filter(berth__startswith=f.berth)
    if f.sensor:
        query = query.filter(sensor__startswith=f.sensor)
    if f.kind:
        query = query.filter(kind=f.kind)
    if f.false_alarm is not None:
        query = query.filter(false_alarm=f.false_alarm)
    query = within(query, "occurred_at", f.at_from, f.at_to)
    return await paginate(
        query,
        params,
        sorts={"occurred_at": "occurred_at", "berth": "berth"},
        default_sort="-occurred_at",
        convert=_detection_out,
        related=("site",),
        count_cap=DETECTION_COUNT_CAP,
    )


async def record_detection(
    tenant_id: int,
    site: Site,
    event_uuid: uuid.UUID | str,
    berth: str,
    sensor: str,
    session: str,
    kind: str,
    source: str,
    at: datetime,
) -> None:
    """地磁检测记录: one arrival or departure, stored once per event (and once per session and
    kind: a false-alarm report that came first made the arrival's row, which this completes);
    a sensor's own detection bumps its count (its row made when unknown, bound to the berth).
    Runs inside the caller's ingest transaction."""
    event_uuid = uuid.UUID(str(event_uuid))
    if await SensorDetection.filter(event_uuid=event_uuid).exists():
        return
    if kind not in ("arrived", "departed"):
        log.warning("detection of kind %r at berth %s ignored", kind, berth)
        return
    earlier = await SensorDetection.filter(
        tenant_id=tenant_id, session=session[:36], kind=kind
    ).first()
    if earlier is not None:
        if earlier.source != "report":
            return  # this session's arrival (or departure) is already held
        earlier.source = source[:12]
        earlier.occurred_at = at
        earlier.sensor = earlier.sensor or sensor[:64]
        await earlier.save(update_fields=["source", "occurred_at", "sensor"])
    else:
        await SensorDetection.create(
            tenant_id=tenant_id,
            site_id=site.id,
            event_uuid=event_uuid,
            berth=berth[:48],
            sensor=sensor[:64],
            session=session[:36],
            kind=kind,
            source=source[:12],
            occurred_at=at,
        )
    if sensor and source == "sensor":
        await sensor_row(tenant_id, site, sensor, berth)
        await BerthSensor.filter(tenant_id=tenant_id, serial=sensor).update(
            detections=F("detections") + 1
        )


async def sensor_row(tenant_id: int, site: Site, serial: str, berth: str) -> BerthSensor:
    """The tenant's sensor of this serial; made (bound to the berth, when that berth exists)
    the first time a device reports it."""
    row = await BerthSensor.filter(tenant_id=tenant_id, serial=serial).first()
    if row is not None:
        return row
    known = bool(berth) and await Berth.filter(tenant_id=tenant_id, code=berth).exists()
    log.info("sensor %s first reported at %s (berth %r)", serial, site.code, berth)
    return await BerthSensor.create(
        tenant_id=tenant_id, site_id=site.id, serial=serial[:64], berth=berth if known else ""
    )


# --- locks -----------------------------------------------------------------------------------------


def _lock_out(row: ParkingLock, berths: dict[str, tuple[int, bool]]) -> LockOut:
    berth_id, enabled = berths.get(row.berth, (None, False))
    return LockOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        berth=row.berth,
        berth_id=berth_id,
        name=row.name,
        state=row.state,
        fault=row.fault,
        updated_at=row.updated_at,
        enabled=enabled,
    )


async def _berths_of(principal: Principal, codes: set[str]) -> dict[str, tuple[int, bool]]:
    if not codes:
        return {}
    rows = (
        await scoped(Berth, principal).filter(code__in=codes).values_list("code", "id", "enabled")
    )
    return {str(code): (int(i), bool(enabled)) for code, i, enabled in rows}


async def list_locks(principal: Principal, f: LockFilter, params: PageParams) -> Page[LockOut]:
    query = scoped(ParkingLock, principal)
    if f.site_id is not None:
        query = query.filter(site_id=f.site_id)
    if f.berth:
        query = query.filter(berth__startswith=f.berth)
    if f.state is not None:
        query = query.filter(state=f.state)
    if f.faulty is True:
        query = query.filter(Q(state=LockStateName.fault) | ~Q(fault=""))
    elif f.faulty is False:
        query = query.filter(fault="").exclude(state=LockStateName.fault)
    page = await paginate(
        query,
        params,
        sorts={"berth": "berth", "state": "state", "updated_at": "updated_at"},
        default_sort="berth",
        convert=lambda row: row,
        related=("site",),
    )
    berths = await _berths_of(principal, {row.berth for row in page.items})
    return Page[LockOut](
        items=[_lock_out(row, berths) for row in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
        total_capped=page.total_capped,
    )


async def get_lock(principal: Principal, ident: int) -> LockOut:
    row = await get_owned(ParkingLock, principal, ident, "lock")
    await row.fetch_related("site")
    return _lock_out(row, await _berths_of(principal, {row.berth}))


async def lock_command(principal: Principal, ident: int, raise_it: bool) -> CommandOut:
    """Raise or lower a berth's lock through the edge serving its site; the result comes back
    as the command's state (the command list) and the lock's next reported state."""
    row = await get_owned(ParkingLock, principal, ident, "lock")
    kind = CommandKind.lock_raise if raise_it else CommandKind.lock_lower
    payload = LockCommand(berth=row.berth).model_dump(mode="json")
    return await issue_site_command(principal, row.site_id, kind, payload)


async def raise_lock(principal: Principal, ident: int) -> CommandOut:
    return await lock_command(principal, ident, True)


async def lower_lock(principal: Principal, ident: int) -> CommandOut:
    return await lock_command(principal, ident, False)


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

SENSORS = Crud(list=list_sensors, get=get_sensor)
DETECTIONS = Crud(list=list_detections)
LOCKS = Crud(list=list_locks, get=get_lock)
