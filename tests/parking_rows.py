"""One tenant's parking rows, each named with a marker: the tenant-isolation tests build tenant
B's with these and check tenant A can neither see nor touch them (made once, then found)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from cloud.org.models import Tenant
from cloud.parking.models import (
    Arrears,
    Berth,
    BerthSensor,
    BerthStatus,
    Collector,
    CollectorShift,
    HolidayDay,
    MonthlyPass,
    MonthlyPassRule,
    OrderState,
    ParkingLock,
    ParkingOrder,
    ParkingSite,
    ParkingTariff,
    SensorDetection,
    SpecialPlate,
)
from cloud.passwords import hash_password
from cloud.sites.models import Site
from protocols.site import SiteKind
from protocols.tariffs import per_visit_parking


async def _site(t: Tenant, mark: str, kind: SiteKind) -> Site:
    site, _ = await Site.get_or_create(
        tenant=t, code=f"{mark}{kind.value}", defaults={"name": f"{mark}{kind.value}", "kind": kind}
    )
    return site


async def section(t: Tenant, mark: str) -> ParkingSite:
    """The tenant's road section with berth B-1, its sensor, lock and a false-alarm detection."""
    found = await ParkingSite.filter(tenant=t, site__kind=SiteKind.street_section).first()
    if found is not None:
        return found
    site = await _site(t, mark, SiteKind.street_section)
    row = await ParkingSite.create(tenant=t, site=site, region=f"{mark}region")
    await Berth.create(
        tenant=t, site=site, code=f"{mark}B-1", number="1", sensor=f"{mark}MAG", has_lock=True,
        status=BerthStatus.occupied, plate="京B00001", session="s",
    )  # fmt: skip
    await BerthSensor.create(tenant=t, site=site, serial=f"{mark}MAG", berth=f"{mark}B-1")
    await ParkingLock.create(tenant=t, site=site, berth=f"{mark}B-1", fault=f"{mark}fault")
    await SensorDetection.create(
        tenant=t, site=site, event_uuid=uuid.uuid4(), berth=f"{mark}B-1", sensor=f"{mark}MAG",
        session="s", kind="arrived", occurred_at=datetime.now(UTC), false_alarm=True,
        false_alarm_reason=f"{mark}reason",
    )  # fmt: skip
    return row


async def lot_id(t: Tenant, mark: str) -> int:
    found = await ParkingSite.filter(tenant=t, site__kind=SiteKind.parking_lot).first()
    if found is None:
        site = await _site(t, mark, SiteKind.parking_lot)
        site.capacity = 9
        await site.save()
        found = await ParkingSite.create(tenant=t, site=site, hotline="4000000000")
    return found.id


async def section_id(t: Tenant, mark: str) -> int:
    return (await section(t, mark)).id


async def berth_id(t: Tenant, mark: str) -> int:
    await section(t, mark)
    return (await Berth.get(tenant=t, code=f"{mark}B-1")).id


async def sensor_id(t: Tenant, mark: str) -> int:
    await section(t, mark)
    return (await BerthSensor.get(tenant=t, serial=f"{mark}MAG")).id


async def lock_id(t: Tenant, mark: str) -> int:
    await section(t, mark)
    return (await ParkingLock.get(tenant=t, berth=f"{mark}B-1")).id


async def order_id(t: Tenant, mark: str) -> int:
    """A berth stay still in progress, with an unpaid arrears record."""
    found = await ParkingOrder.filter(tenant=t).first()
    if found is not None:
        return found.id
    site = (await section(t, mark)).site_id
    now = datetime.now(UTC)
    order = await ParkingOrder.create(
        tenant=t, uuid=uuid.uuid4(), number=f"{mark}P0001", site_id=site, berth=f"{mark}B-1",
        plate="京B00009", entered_at=now - timedelta(hours=1), state=OrderState.in_progress,
        due_fen=400,
    )  # fmt: skip
    await Arrears.create(
        tenant=t, order=order, site_id=site, plate="京B00009", amount_fen=400, occurred_at=now
    )
    return order.id


async def arrears_id(t: Tenant, mark: str) -> int:
    await order_id(t, mark)
    return (await Arrears.get(tenant=t)).id


async def pass_rule_id(t: Tenant, mark: str) -> int:
    lot = await _site(t, mark, SiteKind.parking_lot)
    rule, _ = await MonthlyPassRule.get_or_create(
        tenant=t, name=f"{mark}rule", defaults={"price_fen": 30_000, "sites": [lot.id]}
    )
    return rule.id


async def monthly_pass_id(t: Tenant, mark: str) -> int:
    found = await MonthlyPass.filter(tenant=t).first()
    if found is not None:
        return found.id
    today = date.today()
    row = await MonthlyPass.create(
        tenant=t, rule_id=await pass_rule_id(t, mark), holder=f"{mark}holder",
        phone="13800000000", plates=["京B00009"], valid_from=today,
        valid_until=today + timedelta(days=30),
    )  # fmt: skip
    return row.id


async def special_plate_id(t: Tenant, mark: str) -> int:
    row, _ = await SpecialPlate.get_or_create(
        tenant=t, name=f"{mark}special", defaults={"plate_kinds": ["police"]}
    )
    return row.id


async def collector_id(t: Tenant, mark: str) -> int:
    road = (await section(t, mark)).site_id
    row, made = await Collector.get_or_create(
        tenant=t, account=f"{mark}collector",
        defaults={
            "name": f"{mark}collector", "password_hash": hash_password("x" * 10),
            "sections": [road],
        },
    )  # fmt: skip
    if made:
        await CollectorShift.create(
            tenant=t, uuid=uuid.uuid4(), collector=row.account, site_id=road,
            device=f"{mark}pda", signed_in_at=datetime.now(UTC) - timedelta(hours=1),
        )  # fmt: skip
    return row.id


async def tariff_id(t: Tenant, mark: str) -> int:
    found = await ParkingTariff.filter(tenant=t).first()
    if found is None:
        document = per_visit_parking(f"{mark}按次", 1000)
        found = await ParkingTariff.create(
            tenant=t, name=document.name, document=document.model_dump(mode="json")
        )
    return found.id


async def holiday_id(t: Tenant, mark: str) -> int:
    row, _ = await HolidayDay.get_or_create(
        tenant=t, day=date(2025, 10, 1), defaults={"kind": "long_holiday", "name": f"{mark}国庆"}
    )
    return row.id
