"""Tariffs (计费规则, 3.2.7): a station's or an area's prices as versioned protocols.tariffs
documents, published to the station's edge; and the billing test.

Each save, the first included, makes a version that takes effect at the next local midnight
(CloudSettings.timezone; requirement 3.2.7: 当日24:00生效). A session is billed by the version in
force on the local date it started (protocols.tariffs.version_in_force), so one that crosses
midnight keeps the tariff it started under. The billing test of a tariff not yet in force
uses its first version.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.charging import texts_tariffs  # noqa: F401 - registers the texts services name
from cloud.charging.models import (
    Area,
    ChargingTariff,
    ChargingTariffVersion,
    Station,
    TariffMode,
)
from cloud.charging.station_publish import publish_station_chargers
from cloud.charging.tariff_schemas import (
    BillLineOut,
    BillOut,
    BillTestIn,
    PeriodOut,
    TariffDetail,
    TariffFilter,
    TariffIn,
    TariffOut,
    TariffVersionOut,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Invalid
from cloud.org.service import (
    apply_changes,
    audit,
    check_reference,
    create_row,
    delete_row,
    get_owned,
    scoped,
    set_enabled_row,
)
from cloud.state import publish
from protocols.charging import TariffGrant, TariffVersionGrant
from protocols.sync import Entity
from protocols.tariffs import (
    ComponentKind,
    Period,
    Reading,
    TariffDocument,
    TariffError,
    bill_charging,
    parse_tariff,
    time_of_use_charging,
    time_of_use_rows,
    uniform_charging,
    version_in_force,
    yuan,
)

log = logging.getLogger(__name__)
ENTITY = "tariff"
# Versions superseded longer ago than this are no longer sent to edges (a session started
# under one has long ended); the cloud keeps every version.
KEEP_SUPERSEDED = timedelta(days=7)
MAX_CURVE_LINES = 10_000
PERIOD_ORDER = (Period.sharp, Period.peak, Period.flat, Period.valley)

_zone = ZoneInfo("Asia/Shanghai")


def configure(timezone: str) -> None:
    """The zone of tariff documents and version dates (CloudSettings.timezone; the same in every
    worker, set when the pages are set up)."""
    global _zone
    _zone = ZoneInfo(timezone)


def zone() -> ZoneInfo:
    return _zone


# --- documents ----------------------------------------------------------------------------------


def _error_field(error: TariffError, data: TariffIn) -> str:
    if error.field.startswith("prepay_options_fen"):
        return "prepay_options_fen"
    if error.field == "name":
        return "name"
    return "periods" if data.mode == TariffMode.time_of_use else "electricity_fen"


def build_document(data: TariffIn, timezone: ZoneInfo | None = None) -> TariffDocument:
    """The protocols.tariffs document of an input; Invalid naming the field otherwise (e.g. the
    minutes a time-of-use table leaves uncovered or covers twice)."""
    zone_name = (timezone or _zone).key
    try:
        if data.mode == TariffMode.uniform:
            return uniform_charging(
                data.name,
                data.electricity_fen or 0,
                data.service_fen or 0,
                data.prepay_options_fen,
                zone_name,
            )
        return time_of_use_charging(
            data.name,
            [(p.period, p.start, p.end, p.electricity_fen, p.service_fen) for p in data.periods],
            data.prepay_options_fen,
            zone_name,
        )
    except TariffError as exc:
        raise Invalid(_error_field(exc, data), exc.message) from None


def _periods(document: TariffDocument) -> list[PeriodOut]:
    return [
        PeriodOut(period=p, start=s, end=e, electricity_fen=el, service_fen=sv)
        for p, s, e, el, sv in sorted(time_of_use_rows(document), key=lambda r: r[1])
    ]


def _uniform_prices(document: TariffDocument) -> tuple[int | None, int | None]:
    if document.time_of_use:
        return None, None
    element = document.elements[0]
    return element.price_of(ComponentKind.energy), element.price_of(ComponentKind.service)


def prices_text(document: TariffDocument) -> str:
    """The prices as the list shows them: electricity + service, yuan per kWh."""
    electricity, service = _uniform_prices(document)
    if not document.time_of_use:
        return f"{yuan(electricity or 0)} + {yuan(service or 0)}"
    seen: dict[tuple[Period, int, int], None] = {}
    for period, _, _, el, sv in time_of_use_rows(document):
        seen.setdefault((period, el, sv), None)
    ordered = sorted(seen, key=lambda key: (PERIOD_ORDER.index(key[0]), key[1], key[2]))
    labels = {e.period: e.label for e in document.elements if e.period is not None}
    return " · ".join(f"{labels.get(p, p.value)} {yuan(el)}+{yuan(sv)}" for p, el, sv in ordered)


# --- rows out -----------------------------------------------------------------------------------


def _tariff_out(row: ChargingTariff, latest: ChargingTariffVersion | None) -> TariffOut:
    """Needs station and area fetched."""
    document = parse_tariff(latest.document) if latest is not None else None
    electricity, service = _uniform_prices(document) if document else (None, None)
    return TariffOut(
        id=row.id,
        station_id=row.station_id,
        station_name=row.station.name,
        area_id=row.area_id,
        area_name=row.area.name if row.area_id is not None and row.area else "",
        name=row.name,
        mode=row.mode,
        electricity_fen=electricity,
        service_fen=service,
        periods=_periods(document) if document else [],
        prices=prices_text(document) if document else "",
        prepay_options_fen=list(row.prepay_options),
        prepay=", ".join(yuan(f) for f in row.prepay_options),
        effective_from=latest.effective_from if latest else None,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _version_out(row: ChargingTariffVersion) -> TariffVersionOut:
    document = parse_tariff(row.document)
    electricity, service = _uniform_prices(document)
    return TariffVersionOut(
        id=row.id,
        effective_from=row.effective_from,
        document=row.document,
        periods=_periods(document),
        electricity_fen=electricity,
        service_fen=service,
        operator=row.operator,
        created_at=row.created_at,
    )


async def _latest_versions(ids: Sequence[int]) -> dict[int, ChargingTariffVersion]:
    latest: dict[int, ChargingTariffVersion] = {}
    if not ids:
        return latest
    for version in await ChargingTariffVersion.filter(tariff_id__in=list(ids)).order_by(
        "effective_from", "id"
    ):
        latest[version.tariff_id] = version
    return latest


async def list_tariffs(
    principal: Principal, f: TariffFilter, params: PageParams
) -> Page[TariffOut]:
    query = scoped(ChargingTariff, principal)
    if f.station:
        query = query.filter(station__name__icontains=f.station)
    if f.name:
        query = query.filter(name__icontains=f.name)
    query = where_given(query, f, "area_id", "mode", "enabled")
    page = await paginate(
        query,
        params,
        sorts={
            "name": "name",
            "station": "station__name",
            "created_at": "created_at",
            "updated_at": "updated_at",
        },
        default_sort="-created_at",
        convert=lambda row: row,
        related=("station", "area"),
    )
    latest = await _latest_versions([row.id for row in page.items])
    return Page(
        items=[_tariff_out(row, latest.get(row.id)) for row in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
        total_capped=page.total_capped,
    )


async def _fetched(principal: Principal, ident: int) -> ChargingTariff:
    row = await get_owned(ChargingTariff, principal, ident, ENTITY)
    await row.fetch_related("station", "area")
    return row


async def get_tariff(principal: Principal, ident: int) -> TariffOut:
    row = await _fetched(principal, ident)
    return _tariff_out(row, (await _latest_versions([row.id])).get(row.id))


async def tariff_detail(
    principal: Principal, ident: int, now: datetime | None = None
) -> TariffDetail:
    """The tariff with every version (newest first) and which one bills a session starting now."""
    row = await _fetched(principal, ident)
    versions = await ChargingTariffVersion.filter(tariff_id=row.id).order_by(
        "-effective_from", "-id"
    )
    base = _tariff_out(row, versions[0] if versions else None)
    today = (now or datetime.now(UTC)).astimezone(_zone).date()
    in_force = next((v.id for v in versions if v.effective_from <= today), None)
    return TariffDetail(
        **base.model_dump(),
        versions=[_version_out(v) for v in versions],
        in_force_id=in_force,
    )


# --- publishing to the station's edge -------------------------------------------------------


def versions_to_send(
    versions: Sequence[ChargingTariffVersion], today: date
) -> list[ChargingTariffVersion]:
    """Every version an edge may still bill by: the pending ones, the one in force, and those
    in force within KEEP_SUPERSEDED (sessions started under them may still be open)."""
    ordered = sorted(versions, key=lambda v: v.effective_from)
    horizon = today - KEEP_SUPERSEDED
    then = [v for v in ordered if v.effective_from <= horizon]
    start = then[-1].effective_from if then else date.min
    return [v for v in ordered if v.effective_from >= start]


async def publish_tariff(row: ChargingTariff) -> None:
    """What the station's edge holds for this tariff: its versions while enabled, else nothing.
    Inside the transaction of the change."""
    station = await Station.get(id=row.station_id)
    grant = None
    if row.enabled:
        versions = await ChargingTariffVersion.filter(tariff_id=row.id)
        today = datetime.now(_zone).date()
        sent = versions_to_send(versions, today)
        if sent:
            grant = TariffGrant(
                zone=_zone.key,
                versions=[
                    TariffVersionGrant(effective_from=v.effective_from, document=v.document)
                    for v in sent
                ],
            )
    await publish(station.site_id, Entity.tariff, str(row.id), grant)
    await _republish_chargers(row.station_id)


async def _republish_chargers(station_id: int) -> None:
    """The station's charger grants name the tariff that bills them (the area's, else the
    station's): refresh them when a tariff appears, goes, or is switched on or off."""
    await publish_station_chargers(station_id)


# --- create, change, enable, delete ---------------------------------------------------------


async def _check_place(
    principal: Principal, data: TariffIn, current: ChargingTariff | None
) -> tuple[Station, Area | None]:
    station = await check_reference(Station, principal, "station_id", data.station_id)
    assert station is not None
    if current is not None and current.station_id != station.id:
        raise Invalid("station_id", "tariffs.error.station_fixed")
    if current is None and not station.enabled:
        raise Invalid("station_id", "tariffs.error.station_disabled")
    area = await check_reference(Area, principal, "area_id", data.area_id)
    if area is not None:
        if area.station_id != station.id:
            raise Invalid("area_id", "tariffs.error.area_station")
        moved = current is None or current.area_id != area.id
        if moved and not area.enabled:
            raise Invalid("area_id", "tariffs.error.area_disabled")
    return station, area


def _row_fields(data: TariffIn) -> dict[str, Any]:
    return {
        "area_id": data.area_id,
        "name": data.name,
        "mode": data.mode,
        "prepay_options": list(data.prepay_options_fen),
    }


async def _save_version(
    principal: Principal, row: ChargingTariff, document: TariffDocument, now: datetime | None
) -> ChargingTariffVersion | None:
    """A version of `document` effective from the next local midnight (a change already waiting
    for that midnight is replaced). None when the document is the latest version's already."""
    today = (now or datetime.now(UTC)).astimezone(_zone).date()
    body = document.model_dump(mode="json")
    latest = (
        await ChargingTariffVersion.filter(tariff_id=row.id)
        .order_by("-effective_from", "-id")
        .first()
    )
    if latest is not None and latest.document == body:
        return None
    effective = today + timedelta(days=1)
    if latest is not None and latest.effective_from >= effective:
        latest.document = body
        latest.operator = principal.account
        await latest.save(update_fields=["document", "operator"])
        return latest
    return await ChargingTariffVersion.create(
        tariff_id=row.id, effective_from=effective, document=body, operator=principal.account
    )


async def create_tariff(
    principal: Principal, data: TariffIn, now: datetime | None = None
) -> TariffOut:
    document = build_document(data)  # an invalid table is refused before anything is written
    async with in_transaction():
        await _check_place(principal, data, None)
        row = await create_row(
            principal, ChargingTariff, ENTITY, {"station_id": data.station_id, **_row_fields(data)}
        )
        await _save_version(principal, row, document, now)
        await publish_tariff(row)
    return await get_tariff(principal, row.id)


async def update_tariff(
    principal: Principal, ident: int, data: TariffIn, now: datetime | None = None
) -> TariffOut:
    async with in_transaction():
        row = await get_owned(ChargingTariff, principal, ident, ENTITY)
        document = build_document(data)
        await _check_place(principal, data, row)
        changes = apply_changes(row, _row_fields(data))
        version = await _save_version(principal, row, document, now)
        if version is not None:
            changes["version"] = {"from": None, "to": version.effective_from.isoformat()}
            changes["prices"] = {"from": None, "to": prices_text(document)}
        if changes:
            await row.save()
            await audit(principal, "update", ENTITY, row.id, changes)
            await publish_tariff(row)
    return await get_tariff(principal, ident)


async def set_tariff_enabled(principal: Principal, ident: int, enabled: bool) -> TariffOut:
    await set_enabled_row(principal, ChargingTariff, ENTITY, ident, enabled, after=publish_tariff)
    return await get_tariff(principal, ident)


async def _retract(row: ChargingTariff) -> None:
    station = await Station.get(id=row.station_id)
    await publish(station.site_id, Entity.tariff, str(row.id), None)


async def _retract_after_delete(row: ChargingTariff) -> None:
    await _retract(row)
    # The chargers' grants are refreshed after the row is gone (delete_row deletes after this).
    row.enabled = False
    await row.save(update_fields=["enabled"])
    await _republish_chargers(row.station_id)


async def delete_tariff(principal: Principal, ident: int) -> None:
    await delete_row(principal, ChargingTariff, ENTITY, ident, before=_retract_after_delete)


TARIFFS = Crud(
    list=list_tariffs,
    get=get_tariff,
    create=create_tariff,
    update=update_tariff,
    set_enabled=set_tariff_enabled,
    delete=delete_tariff,
)


# --- the billing test -----------------------------------------------------------------------


def parse_curve(text: str, timezone: ZoneInfo | None = None) -> list[Reading]:
    """Meter readings from CSV lines `time,Wh` (comma, semicolon or tab; a first line that is a
    header is skipped; a time without an offset is local). Invalid naming the line otherwise."""
    local = timezone or _zone
    lines = [line.strip() for line in text.splitlines()]
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line]
    if len(numbered) > MAX_CURVE_LINES:
        raise Invalid("curve", "tariffs.error.curve_long")
    readings: list[Reading] = []
    for index, (number, line) in enumerate(numbered):
        parts = [p.strip() for p in line.replace(";", ",").replace("\t", ",").split(",")]
        try:
            if len(parts) != 2:
                raise ValueError(line)
            at = datetime.fromisoformat(parts[0].replace("/", "-"))
            wh = int(parts[1])
            if wh < 0:
                raise ValueError(line)
        except ValueError:
            if index == 0 and not any(ch.isdigit() for ch in parts[0]):
                continue  # a header such as "time,Wh"
            raise Invalid(
                "curve",
                f"第{number}行无法识别（格式：时间,Wh）：{line[:40]} (line {number} is not a reading)",
            ) from None
        readings.append(Reading(at if at.tzinfo else at.replace(tzinfo=local), wh))
    if len(readings) < 2:
        raise Invalid("curve", "tariffs.error.curve_short")
    return readings


async def bill_test(
    principal: Principal, ident: int, data: BillTestIn, now: datetime | None = None
) -> BillOut:
    """计费测试: the itemised bill of an energy figure at a start time, or of a meter curve,
    under the version in force on the local date the session starts."""
    row = await get_owned(ChargingTariff, principal, ident, ENTITY)
    if data.readings:
        readings, field = [Reading(r.at, r.wh) for r in data.readings], "readings"
        if len(readings) < 2:
            raise Invalid("readings", "tariffs.error.curve_short")
    elif data.curve.strip():
        readings, field = parse_curve(data.curve), "curve"
    else:
        at = data.at or now or datetime.now(UTC)
        readings, field = [Reading(at, 0), Reading(at, data.energy_wh or 0)], "energy_wh"
    versions = [
        (v.effective_from, parse_tariff(v.document))
        for v in await ChargingTariffVersion.filter(tariff_id=row.id).order_by("effective_from")
    ]
    started = readings[0].at
    document = version_in_force(versions, started, _zone)
    if document is None and versions:
        document = versions[0][1]  # not in force yet: test what it will charge
    if document is None:
        raise Invalid("at" if field == "energy_wh" else field, "tariffs.error.no_version")
    effective = next(day for day, doc in versions if doc is document)
    try:
        bill = bill_charging(document, readings)
    except TariffError as exc:
        raise Invalid(field, exc.message) from None
    return BillOut(
        tariff_id=row.id,
        effective_from=effective,
        started_at=started,
        lines=[
            BillLineOut(
                label=line.label,
                period=line.period,
                component=line.component,
                quantity=line.quantity,
                unit_price_fen=line.unit_price_fen,
                amount_fen=line.amount_fen,
                start=line.start,
                end=line.end,
            )
            for line in bill.lines
        ],
        energy_wh=bill.energy_wh,
        electricity_fen=bill.electricity_fen,
        service_fen=bill.service_fen,
        total_fen=bill.total_fen,
    )


# --- choices for forms and filters ------------------------------------------------------------


async def station_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Station, principal).order_by("name", "id")
    return [(row.id, row.name) for row in rows]


async def area_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Area, principal).select_related("station").order_by("station_id", "name")
    return [(row.id, f"{row.station.name} / {row.name}") for row in rows]
