"""What edges and PDAs report about berth devices: berth.sensor_status (heartbeat, battery,
temperature), berth.false_alarm (a collector marks a sensor's arrival as no vehicle) and
berth.lock_state. Each runs inside the sync ingest transaction; an unknown berth or sensor is
logged and the event kept in the ledger, never a failed batch."""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.expressions import F

from cloud import sync
from cloud.parking.devices import sensor_row
from cloud.parking.models import Berth, BerthSensor, LockStateName, ParkingLock, SensorDetection
from cloud.sites.models import Edge, Site
from protocols.events import LockState, SensorFalseAlarm, SensorStatus

log = logging.getLogger(__name__)


def _later(at: datetime, than: datetime | None) -> bool:
    return than is None or at >= than


async def record_sensor_status(
    edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]
) -> None:
    """The sensor's battery, temperature and last heartbeat from its latest report (an older
    report arriving late changes nothing); an unknown sensor gets its row."""
    for event, payload in items:
        assert isinstance(payload, SensorStatus)
        site = sites[event.site]
        if not payload.sensor.strip():
            log.warning("berth.sensor_status without a sensor serial at %s ignored", site.code)
            continue
        row = await sensor_row(site.tenant_id, site, payload.sensor, payload.berth)
        if not _later(payload.at, row.last_heartbeat_at):
            continue
        row.battery_pct = payload.battery_pct
        row.temperature_c = payload.temperature_c
        row.last_heartbeat_at = payload.at
        fields = ["battery_pct", "temperature_c", "last_heartbeat_at"]
        if not row.berth and payload.berth:
            if await Berth.filter(tenant_id=site.tenant_id, code=payload.berth).exists():
                row.berth = payload.berth
                fields.append("berth")
        await row.save(update_fields=fields)


async def record_false_alarms(
    edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]
) -> None:
    """地磁误报: the session's arrival detection is marked (reason, who reported it) and its
    sensor's false alarms counted once. A report that arrives before the arrival it is about
    (a PDA syncing ahead of the site's edge) makes the arrival's row, completed later."""
    for event, payload in items:
        assert isinstance(payload, SensorFalseAlarm)
        site = sites[event.site]
        tenant_id = site.tenant_id
        row = await SensorDetection.filter(
            tenant_id=tenant_id, session=payload.session[:36], kind="arrived"
        ).first()
        if row is not None and row.false_alarm:
            continue  # reported before
        serial = payload.sensor or (row.sensor if row is not None else "")
        if row is None:
            if not await Berth.filter(tenant_id=tenant_id, code=payload.berth).exists():
                log.warning(
                    "berth.false_alarm for unknown berth %r at %s kept, not applied",
                    payload.berth,
                    site.code,
                )
                continue
            await SensorDetection.create(
                tenant_id=tenant_id,
                site_id=site.id,
                event_uuid=event.uuid,
                berth=payload.berth[:48],
                sensor=serial[:64],
                session=payload.session[:36],
                kind="arrived",
                source="report",
                occurred_at=payload.at,
                false_alarm=True,
                false_alarm_reason=payload.reason[:255],
                reported_by=payload.collector[:64],
            )
        else:
            row.false_alarm = True
            row.false_alarm_reason = payload.reason[:255]
            row.reported_by = payload.collector[:64]
            await row.save(update_fields=["false_alarm", "false_alarm_reason", "reported_by"])
        if serial:
            await sensor_row(tenant_id, site, serial, payload.berth)
            await BerthSensor.filter(tenant_id=tenant_id, serial=serial).update(
                false_alarms=F("false_alarms") + 1
            )


def _lock_state(value: str) -> LockStateName:
    try:
        return LockStateName(value)
    except ValueError:
        return LockStateName.unknown


async def record_lock_states(
    edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]
) -> None:
    """The lock's state and fault from its latest report; a lock the cloud has no row for, on a
    known berth, gets one."""
    for event, payload in items:
        assert isinstance(payload, LockState)
        site = sites[event.site]
        lock = await ParkingLock.filter(tenant_id=site.tenant_id, berth=payload.berth).first()
        if lock is None:
            berth = await Berth.filter(tenant_id=site.tenant_id, code=payload.berth).first()
            if berth is None:
                log.warning(
                    "berth.lock_state for unknown berth %r at %s kept, not applied",
                    payload.berth,
                    site.code,
                )
                continue
            lock = await ParkingLock.create(
                tenant_id=site.tenant_id, site_id=berth.site_id, berth=berth.code, name=berth.code
            )
        if not _later(payload.at, lock.updated_at):
            continue
        state = _lock_state(payload.state)
        if state == LockStateName.unknown and payload.state != "unknown":
            log.warning("lock %s reported an unknown state %r", payload.berth, payload.state)
        lock.state = state
        lock.fault = payload.fault[:128]
        lock.updated_at = payload.at
        await lock.save(update_fields=["state", "fault", "updated_at"])


def setup() -> None:
    sync.register("berth.sensor_status", record_sensor_status)
    sync.register("berth.false_alarm", record_false_alarms)
    sync.register("berth.lock_state", record_lock_states)
