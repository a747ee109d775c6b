"""What parking edges and PDAs hold, republished on each change (protocols.parking grants).

Call these inside the transaction of the change (as `cloud.state.publish` asks), after the
rows are saved. Tenant-wide state (tariffs, holidays, arrears, special plates, monthly passes,
collectors) goes to every lot and road section of the tenant, because any of them may bill
or refuse a vehicle offline; a berth goes to its own section only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cloud.parking.models import Berth, ParkingOrder, ParkingSite
from cloud.sites.models import Site, StateChange
from cloud.state import publish, publish_many
from protocols.parking import BerthGrant, ParkingSiteGrant, tariff_key
from protocols.site import SiteKind
from protocols.sync import ENTITY_MODELS, Entity

PARKING_KINDS = (SiteKind.parking_lot, SiteKind.street_section)


async def parking_site_ids(tenant_id: int) -> list[int]:
    """Every lot and road section of the tenant (the sites parking state goes to)."""
    rows = await Site.filter(tenant_id=tenant_id, kind__in=list(PARKING_KINDS)).values("id")
    return [int(row["id"]) for row in rows]


async def publish_to_tenant(
    tenant_id: int, entity: Entity, key: str, data: BaseModel | None
) -> None:
    """One change to every lot and road section of the tenant."""
    for site_id in await parking_site_ids(tenant_id):
        await publish(site_id, entity, key, data)


async def publish_many_to_tenant(
    tenant_id: int, changes: list[tuple[Entity, str, BaseModel | None]]
) -> None:
    for site_id in await parking_site_ids(tenant_id):
        await publish_many(site_id, changes)


def berth_grant(berth: Berth, site_code: str, prepaid_fen: int = 0) -> BerthGrant:
    return BerthGrant(
        site=site_code,
        number=berth.number,
        sensor=berth.sensor,
        has_lock=berth.has_lock,
        enabled=berth.enabled,
        occupied=bool(berth.session),
        session=berth.session,
        plate=berth.plate,
        entered_at=berth.entered_at,
        prepaid_fen=prepaid_fen,
    )


async def publish_berth(berth: Berth, removed: bool = False) -> None:
    """The berth (and what the cloud knows of its occupancy, with what the driver of its stay
    has paid ahead by QR) to its own section's edges and PDAs."""
    site = await Site.get(id=berth.site_id)
    prepaid = 0
    if berth.session and not removed:
        found = await ParkingOrder.filter(tenant_id=berth.tenant_id, uuid=berth.session).first()
        prepaid = found.prepaid_fen if found is not None else 0
    grant = None if removed else berth_grant(berth, site.code, prepaid)
    await publish(berth.site_id, Entity.berth, berth.code, grant)


async def parking_site_grant(place: ParkingSite, site: Site) -> ParkingSiteGrant:
    return ParkingSiteGrant(
        name=site.name,
        kind=site.kind.value,
        tariff=tariff_key(place.tariff_id) if place.tariff_id else "",
        capacity=site.capacity,
        refuse_arrears_above_fen=place.refuse_arrears_above_fen,
        arrears_confirm_above_fen=place.arrears_confirm_above_fen,
        hotline=place.hotline,
    )


async def publish_parking_site(place: ParkingSite) -> None:
    site = await Site.get(id=place.site_id)
    await publish(
        place.site_id, Entity.parking_site, site.code, await parking_site_grant(place, site)
    )


# Tenant-wide parking state: every lot and road section holds all of it (see the module doc).
TENANT_WIDE = (
    Entity.tariff,
    Entity.holiday,
    Entity.monthly_pass,
    Entity.arrears,
    Entity.special_plate,
)


async def seed_new_site(tenant_id: int, site_id: int) -> None:
    """Give a new lot or road section the tenant-wide state the tenant's other parking sites
    already hold (tariffs, holidays, passes, arrears, special plates), copied from the latest
    published value of each key (collectors go to their own sections only). Inside the
    transaction that made the site."""
    others = [i for i in await parking_site_ids(tenant_id) if i != site_id]
    if not others:
        return
    source = max(others)  # every parking site of the tenant holds the same tenant-wide state
    rows = (
        await StateChange.filter(site_id=source, entity__in=[e.value for e in TENANT_WIDE])
        .order_by("revision")
        .values("entity", "key", "data")
    )
    latest: dict[tuple[str, str], dict[str, Any] | None] = {}
    for row in rows:
        if row["entity"] == Entity.tariff.value and not str(row["key"]).startswith("parking:"):
            continue  # a charging tariff (none on parking sites, but never copy one)
        latest[(str(row["entity"]), str(row["key"]))] = row["data"]
    changes: list[tuple[Entity, str, BaseModel | None]] = []
    for (entity, key), data in latest.items():
        if data is not None:  # removed keys: a new site never held them
            kind = Entity(entity)
            changes.append((kind, key, ENTITY_MODELS[kind].model_validate(data)))
    await publish_many(site_id, changes)
