"""The chargers' connectivity log (上下线记录, 3.6.6) and what edges report about their chargers:
charging.link (online/offline, once per event) and charging.connector_status."""

from __future__ import annotations

import logging
from datetime import datetime

from cloud import sync
from cloud.auth import Principal
from cloud.charging.models import Charger, Connector, DeviceLink
from cloud.charging.station_schemas import LinkFilter, LinkOut
from cloud.crud import Crud, Page, PageParams, paginate, where_given, within
from cloud.db import existing_uuids
from cloud.org.service import scoped
from cloud.sites.models import Edge, Site
from protocols.events import ChargerLink, ConnectorStatus

log = logging.getLogger(__name__)
LINK_COUNT_CAP = 10_000

# --- the log --------------------------------------------------------------------------------------


def _link_out(row: DeviceLink) -> LinkOut:
    charger = row.charger
    return LinkOut(
        id=row.id,
        charger_id=row.charger_id,
        charger_name=charger.name,
        charger_code=charger.code,
        serial=charger.serial,
        station_name=charger.area.station.name,
        online=row.online,
        at=row.at,
        reason=row.reason,
    )


async def list_links(principal: Principal, f: LinkFilter, params: PageParams) -> Page[LinkOut]:
    """Newest first."""
    query = scoped(DeviceLink, principal)
    if f.name:
        query = query.filter(charger__name__icontains=f.name)
    if f.code:
        query = query.filter(charger__code__startswith=f.code)
    if f.serial:
        query = query.filter(charger__serial__startswith=f.serial)
    query = where_given(query, f, "online")
    query = within(query, "at", f.at_from, f.at_to)
    return await paginate(
        query,
        params,
        sorts={"at": "at"},
        default_sort="-at",
        convert=_link_out,
        related=("charger", "charger__area", "charger__area__station"),
        count_cap=LINK_COUNT_CAP,
    )


# --- ingest ---------------------------------------------------------------------------------------


async def _chargers_at(sites: dict[str, Site], serials: set[str]) -> dict[tuple[int, str], Charger]:
    """(site id, serial) -> the charger of that serial at a station on that site."""
    if not serials:
        return {}
    site_ids = [site.id for site in sites.values()]
    rows = await Charger.filter(serial__in=serials, area__station__site_id__in=site_ids).values(
        "id", "serial", "area__station__site_id"
    )
    chargers = {
        int(row["id"]): (int(row["area__station__site_id"]), str(row["serial"])) for row in rows
    }
    found = await Charger.filter(id__in=list(chargers))
    return {chargers[c.id]: c for c in found}


def _later(at: datetime, than: datetime | None) -> bool:
    return than is None or at >= than


async def record_links(edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    """One DeviceLink per event (an event seen again changes nothing), and the charger's
    online flag from the latest report: an older event arriving late does not turn it back."""
    done = await existing_uuids(DeviceLink, "event_uuid", [event.uuid for event, _ in items])
    serials = {payload.charge_point for _, payload in items if isinstance(payload, ChargerLink)}
    chargers = await _chargers_at(sites, serials)
    for event, payload in items:
        assert isinstance(payload, ChargerLink)
        if str(event.uuid) in done:
            continue
        done.add(str(event.uuid))
        site = sites[event.site]
        charger = chargers.get((site.id, payload.charge_point))
        if charger is None:
            log.warning(
                "charging.link of unknown charger %r at %s", payload.charge_point, site.code
            )
            continue
        await DeviceLink.create(
            tenant_id=charger.tenant_id,
            charger_id=charger.id,
            online=payload.online,
            at=payload.at,
            reason=payload.reason[:64],
            event_uuid=event.uuid,
        )
        fields: list[str] = []
        if _later(payload.at, charger.last_seen_at):
            charger.online = payload.online
            charger.last_seen_at = payload.at
            fields += ["online", "last_seen_at"]
        if payload.vendor:
            charger.vendor = payload.vendor[:64]
            fields.append("vendor")
        if payload.firmware:
            charger.firmware = payload.firmware[:64]
            fields.append("firmware")
        if fields:
            await charger.save(update_fields=fields)


async def record_connector_status(
    edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]
) -> None:
    """A connector's latest OCPP status (connector 0, the charger itself, has no row). Applying
    the same event twice, or an older one after a newer, leaves the newer status."""
    serials = {p.charge_point for _, p in items if isinstance(p, ConnectorStatus)}
    chargers = await _chargers_at(sites, serials)
    for event, payload in items:
        assert isinstance(payload, ConnectorStatus)
        charger = chargers.get((sites[event.site].id, payload.charge_point))
        if charger is None or payload.connector == 0:
            continue
        row = await Connector.filter(charger_id=charger.id, connector=payload.connector).first()
        if row is None or not _later(payload.at, row.status_at):
            continue
        row.status = payload.status
        row.error_code = payload.error_code
        row.status_at = payload.at
        await row.save(update_fields=["status", "error_code", "status_at"])


def setup() -> None:
    sync.register("charging.link", record_links)
    sync.register("charging.connector_status", record_connector_status)


LINKS = Crud(list=list_links)
