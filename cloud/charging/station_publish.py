"""What charging-station edges hold about chargers and id tags, published in the transaction of
each change: Entity.charger per station site (key: the serial), Entity.id_tag to every station
site of the tenant (key: the tag)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cloud.charging.models import Area, Charger, ChargingTariff, IdTag, IdTagKind, Station
from cloud.sites.models import Site
from cloud.state import publish, publish_many
from protocols.charging import ChargerGrant, IdTagGrant, IdTagStatus
from protocols.site import SiteKind
from protocols.sync import Entity

# Where phones land when they scan a charger's QR code; set from the cloud setting public_url
# when the pages are set up (a configuration value, the same in every worker).
_public_url = "http://127.0.0.1:8080"


def configure(public_url: str) -> None:
    global _public_url
    _public_url = public_url.rstrip("/")


def charger_url(serial: str, public_url: str | None = None) -> str:
    """The address a charger's QR code holds: the phone page that starts charging there."""
    return f"{(public_url or _public_url).rstrip('/')}/m/charger/{serial}"


# --- chargers -------------------------------------------------------------------------------------


async def tariff_key(area_id: int, station_id: int) -> str:
    """The enabled tariff of the area, else the station's own (no area), else none."""
    own = (
        await ChargingTariff.filter(area_id=area_id, enabled=True).order_by("-id").first()
        if area_id
        else None
    )
    if own is None:
        own = (
            await ChargingTariff.filter(station_id=station_id, area_id=None, enabled=True)
            .order_by("-id")
            .first()
        )
    return str(own.id) if own is not None else ""


async def charger_grant(charger: Charger, area: Area, station: Station, site: Site) -> ChargerGrant:
    return ChargerGrant(
        name=charger.name,
        station=site.code,
        connectors=charger.connectors,
        tariff=await tariff_key(area.id, station.id),
        password_hash=charger.password_hash,
        heartbeat_s=charger.heartbeat_s,
        lenient=charger.lenient,
        enabled=charger.enabled,
        hotline=station.hotline,
        qr_text=charger_url(charger.serial),
    )


async def publish_charger(charger: Charger, serial_before: str | None = None) -> None:
    """The charger's grant at its station's site, or None (retracted) while it is disabled."""
    area = await Area.get(id=charger.area_id)
    station = await Station.get(id=area.station_id)
    site = await Site.get(id=station.site_id)
    if serial_before is not None and serial_before != charger.serial:
        await publish(site.id, Entity.charger, serial_before, None)
    grant = await charger_grant(charger, area, station, site) if charger.enabled else None
    await publish(site.id, Entity.charger, charger.serial, grant)


async def retract_charger(charger: Charger) -> None:
    area = await Area.get(id=charger.area_id)
    station = await Station.get(id=area.station_id)
    await publish(station.site_id, Entity.charger, charger.serial, None)


async def publish_station_chargers(station_id: int, area_id: int | None = None) -> None:
    """Every charger of a station (or of one of its areas) again: after its hotline or its
    tariff changed. The tariff pages call this when a tariff is made, enabled or disabled."""
    station = await Station.get(id=station_id)
    site = await Site.get(id=station.site_id)
    query = Area.filter(station_id=station_id)
    if area_id is not None:
        query = query.filter(id=area_id)
    changes: list[tuple[Entity, str, BaseModel | None]] = []
    for area in await query:
        for charger in await Charger.filter(area_id=area.id).order_by("id"):
            grant = await charger_grant(charger, area, station, site) if charger.enabled else None
            changes.append((Entity.charger, charger.serial, grant))
    await publish_many(site.id, changes)


# --- id tags ----------------------------------------------------------------------------------------


def id_tag_grant(row: IdTag) -> IdTagGrant:
    """A blocked tag stays on the edge as Blocked (so a charger's local list learns it), until
    it is deleted; an expired one is told by its expires_at."""
    return IdTagGrant(
        kind="card" if row.kind == IdTagKind.card else "app",
        status=IdTagStatus.blocked if row.blocked else IdTagStatus.accepted,
        expires_at=row.expires_at,
        holder=row.holder,
        phone=row.phone,
    )


async def station_site_ids(tenant_id: int) -> list[int]:
    rows: list[Any] = await Site.filter(
        tenant_id=tenant_id, kind=SiteKind.charging_station
    ).values_list("id", flat=True)
    return sorted(int(i) for i in rows)


async def publish_id_tag(row: IdTag, deleted: bool = False) -> None:
    grant = None if deleted else id_tag_grant(row)
    for site_id in await station_site_ids(row.tenant_id):
        await publish(site_id, Entity.id_tag, row.tag, grant)


async def publish_id_tags_to_site(tenant_id: int, site_id: int) -> None:
    """Every id tag of the tenant at one (new) station site, in one batch."""
    rows = await IdTag.filter(tenant_id=tenant_id).order_by("id")
    changes: list[tuple[Entity, str, BaseModel | None]] = [
        (Entity.id_tag, row.tag, id_tag_grant(row)) for row in rows
    ]
    await publish_many(site_id, changes)
