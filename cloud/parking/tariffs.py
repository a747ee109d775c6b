"""Parking tariffs (收费规则) and the holiday calendar (节假日配置): documents built from the
form's rules, published to every lot and road section of the tenant, and the verify page's
bill (验证收费规则) computed by the one evaluator the edges use (protocols.tariffs).

Publication: a tariff is `Entity.tariff` under tariff_key(id) with one version effective from
the local date of its last change (edges bill parking by the latest version they hold); a
disabled tariff is withdrawn. A tariff that a lot or road section bills by cannot be disabled
or deleted (the site would bill nothing offline): choose another tariff for the site first.
A holiday is `Entity.holiday` under its ISO date (protocols.parking.HolidayGrant).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pydantic import BaseModel
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Conflict, Invalid
from cloud.org.service import (
    apply_changes,
    audit,
    create_row,
    delete_row,
    ensure_unique,
    get_owned,
    scoped,
    set_enabled_row,
)
from cloud.parking import texts_tariffs  # noqa: F401 - registers the texts the service names
from cloud.parking.clock import zone
from cloud.parking.models import HolidayDay, ParkingSite, ParkingTariff
from cloud.parking.publish import publish_many_to_tenant, publish_to_tenant
from cloud.parking.tariff_schemas import (
    BillLineOut,
    HolidayFilter,
    HolidayIn,
    HolidayOut,
    ParkingBillOut,
    ParkingTariffFilter,
    ParkingTariffIn,
    ParkingTariffOut,
    VerifyIn,
)
from cloud.sites.models import Site
from protocols.charging import TariffGrant, TariffVersionGrant
from protocols.parking import HolidayGrant, tariff_key
from protocols.sync import Entity
from protocols.tariffs import (
    HolidayCalendar,
    TariffDocument,
    TariffError,
    bill_parking,
    describe_rule,
    describe_terms,
    parking_schemes,
    parking_tariff,
    parse_tariff,
)

ENTITY = "parking_tariff"
HOLIDAY = "holiday"


# --- documents -------------------------------------------------------------------------------------


_TERMS = ("free_minutes", "cap_per_day_fen", "cap_per_stay_fen", "new_energy_percent")


def _field_of(error: TariffError, data: ParkingTariffIn) -> str:
    if data.document is not None:
        return "document"
    for name in _TERMS:
        if error.field.startswith(name):
            return name
    if error.field in ("name", "day_end"):
        return "schemes" if error.field == "day_end" else "name"
    return "schemes"


def build_document(data: ParkingTariffIn) -> TariffDocument:
    """The parking document of an input; Invalid naming the field and the problem otherwise."""
    try:
        if data.document is not None:
            document = parse_tariff({**data.document, "name": data.name})
            if document.kind != "parking":
                raise TariffError("不是停车收费规则 (not a parking tariff)", "kind")
            return document
        return parking_tariff(
            data.name,
            data.schemes,
            free_minutes=data.free_minutes,
            free_minutes_deducted=data.free_minutes_deducted,
            cap_per_day_fen=data.cap_per_day_fen,
            cap_per_stay_fen=data.cap_per_stay_fen,
            new_energy_percent=data.new_energy_percent,
            zone=zone().key,
        )
    except TariffError as exc:
        raise Invalid(_field_of(exc, data), exc.message) from None


def summary_of(document: TariffDocument) -> str:
    schemes = parking_schemes(document)
    if schemes is None:
        return "；".join(e.label for e in document.elements)
    parts = []
    for scheme in schemes:
        scope = "/".join(
            [
                *(_CLASS_WORDS[c] for c in scheme.vehicle_classes),
                *(_KIND_WORDS[k.value] for k in scheme.day_kinds),
            ]
        )
        text = describe_rule(scheme.rule)
        parts.append(f"{scope}：{text}" if scope else text)
    return "；".join(parts)


_CLASS_WORDS = {"small": "小型车", "large": "大型车", "other": "其他车型"}
_KIND_WORDS = {
    "workday": "工作日",
    "weekend": "周末",
    "short_holiday": "小长假",
    "long_holiday": "长假",
}


# --- rows out --------------------------------------------------------------------------------------


async def _site_names(tenant_id: int, ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {ident: [] for ident in ids}
    if not ids:
        return names
    places = await ParkingSite.filter(tenant_id=tenant_id, tariff_id__in=list(ids)).values(
        "tariff_id", "site_id"
    )
    site_ids = {int(p["site_id"]) for p in places}
    sites = {
        int(row["id"]): str(row["name"])
        for row in await Site.filter(id__in=list(site_ids)).values("id", "name")
    }
    for place in places:
        names[int(place["tariff_id"])].append(sites.get(int(place["site_id"]), ""))
    return names


def _out(row: ParkingTariff, sites: list[str]) -> ParkingTariffOut:
    document = parse_tariff(row.document)
    return ParkingTariffOut(
        id=row.id,
        name=row.name,
        enabled=row.enabled,
        summary=summary_of(document),
        terms="，".join(describe_terms(document)),
        schemes=parking_schemes(document),
        document=row.document,
        sites=sorted(sites),
        operator=row.operator,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_tariffs(
    principal: Principal, f: ParkingTariffFilter, params: PageParams
) -> Page[ParkingTariffOut]:
    query = scoped(ParkingTariff, principal)
    if f.name:
        query = query.filter(name__icontains=f.name)
    query = where_given(query, f, "enabled")
    page = await paginate(
        query,
        params,
        sorts={"name": "name", "created_at": "created_at", "updated_at": "updated_at"},
        default_sort="-created_at",
        convert=lambda row: row,
    )
    sites = await _site_names(principal.tenant_id, [row.id for row in page.items])
    return Page(
        items=[_out(row, sites[row.id]) for row in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
        total_capped=page.total_capped,
    )


async def get_tariff(principal: Principal, ident: int) -> ParkingTariffOut:
    row = await get_owned(ParkingTariff, principal, ident, ENTITY)
    return _out(row, (await _site_names(principal.tenant_id, [row.id]))[row.id])


# --- publication -----------------------------------------------------------------------------------


def tariff_grant(row: ParkingTariff) -> TariffGrant | None:
    """What edges hold for this tariff: its document from the local date of its last change;
    nothing when disabled."""
    if not row.enabled:
        return None
    effective = row.updated_at.astimezone(zone()).date()
    return TariffGrant(
        zone=zone().key,
        versions=[TariffVersionGrant(effective_from=effective, document=row.document)],
    )


async def publish_tariff(row: ParkingTariff) -> None:
    """Inside the transaction of the change."""
    await publish_to_tenant(row.tenant_id, Entity.tariff, tariff_key(row.id), tariff_grant(row))


# --- create, change, enable, delete ----------------------------------------------------------------


async def create_tariff(principal: Principal, data: ParkingTariffIn) -> ParkingTariffOut:
    document = build_document(data)  # refused before anything is written
    async with in_transaction():
        await ensure_unique(scoped(ParkingTariff, principal), "name", data.name)
        row = await create_row(
            principal,
            ParkingTariff,
            ENTITY,
            {
                "name": data.name,
                "document": document.model_dump(mode="json"),
                "operator": principal.account,
            },
        )
        await publish_tariff(row)
    return await get_tariff(principal, row.id)


async def update_tariff(
    principal: Principal, ident: int, data: ParkingTariffIn
) -> ParkingTariffOut:
    async with in_transaction():
        row = await get_owned(ParkingTariff, principal, ident, ENTITY)
        document = build_document(data)
        await ensure_unique(scoped(ParkingTariff, principal), "name", data.name, row.id)
        changes = apply_changes(
            row,
            {"name": data.name, "document": document.model_dump(mode="json")},
        )
        if changes:
            row.operator = principal.account
            await row.save()
            if "document" in changes:
                changes["document"] = {"from": None, "to": summary_of(document)}
            await audit(principal, "update", ENTITY, row.id, changes)
            await publish_tariff(row)
    return await get_tariff(principal, ident)


async def _refuse_in_use(row: ParkingTariff) -> None:
    used = await _site_names(row.tenant_id, [row.id])
    if used[row.id]:
        raise Conflict("enabled", "parking.tariffs.error.in_use")


async def set_tariff_enabled(principal: Principal, ident: int, enabled: bool) -> ParkingTariffOut:
    if not enabled:
        row = await get_owned(ParkingTariff, principal, ident, ENTITY)
        await _refuse_in_use(row)
    await set_enabled_row(principal, ParkingTariff, ENTITY, ident, enabled, after=publish_tariff)
    return await get_tariff(principal, ident)


async def _retract(row: ParkingTariff) -> None:
    await _refuse_in_use(row)
    await publish_to_tenant(row.tenant_id, Entity.tariff, tariff_key(row.id), None)


async def delete_tariff(principal: Principal, ident: int) -> None:
    await delete_row(principal, ParkingTariff, ENTITY, ident, before=_retract)


TARIFFS = Crud(
    list=list_tariffs,
    get=get_tariff,
    create=create_tariff,
    update=update_tariff,
    set_enabled=set_tariff_enabled,
    delete=delete_tariff,
)


async def tariff_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(ParkingTariff, principal).order_by("name", "id")
    return [(row.id, row.name) for row in rows]


# --- verify (验证收费规则) --------------------------------------------------------------------------


async def calendar_of(tenant_id: int) -> HolidayCalendar:
    rows = await HolidayDay.filter(tenant_id=tenant_id).values("day", "kind")
    return HolidayCalendar({row["day"]: row["kind"] for row in rows})


async def verify(principal: Principal, ident: int, data: VerifyIn) -> ParkingBillOut:
    """The itemised bill of a stay under the tariff and the tenant's holiday calendar, exactly
    as an edge computes it."""
    row = await get_owned(ParkingTariff, principal, ident, ENTITY)
    document = parse_tariff(row.document)
    try:
        bill = bill_parking(
            document,
            data.entered_at,
            data.exited_at,
            data.vehicle_class.value,
            data.new_energy,
            await calendar_of(principal.tenant_id),
        )
    except TariffError as exc:
        raise Invalid(
            "exited_at" if exc.field == "exited_at" else "entered_at", exc.message
        ) from None
    return ParkingBillOut(
        tariff_id=row.id,
        entered_at=bill.entered_at,
        exited_at=bill.exited_at,
        minutes=bill.minutes,
        vehicle_class=bill.vehicle_class,
        new_energy=bill.new_energy,
        within_free_minutes=bill.within_free_minutes,
        lines=[BillLineOut(**line._asdict()) for line in bill.lines],
        total_fen=bill.total_fen,
    )


# --- holidays (节假日配置) ----------------------------------------------------------------------------


def _holiday_out(row: HolidayDay) -> HolidayOut:
    return HolidayOut(
        id=row.id,
        day=row.day,
        weekday=row.day.isoweekday(),
        kind=row.kind,  # type: ignore[arg-type]  # a DayKind value, validated on the way in
        name=row.name,
    )


def _holiday_grant(row: HolidayDay) -> HolidayGrant:
    return HolidayGrant(kind=row.kind, name=row.name)


async def list_holidays(
    principal: Principal, f: HolidayFilter, params: PageParams
) -> Page[HolidayOut]:
    query = scoped(HolidayDay, principal)
    if f.year is not None:
        query = query.filter(day__gte=date(f.year, 1, 1), day__lte=date(f.year, 12, 31))
    if f.kind is not None:
        query = query.filter(kind=f.kind.value)
    return await paginate(
        query,
        params,
        sorts={"day": "day", "kind": "kind"},
        default_sort="day",
        convert=_holiday_out,
    )


async def get_holiday(principal: Principal, ident: int) -> HolidayOut:
    return _holiday_out(await get_owned(HolidayDay, principal, ident, HOLIDAY))


async def year_of(principal: Principal, year: int) -> dict[date, HolidayOut]:
    rows = await scoped(HolidayDay, principal).filter(
        day__gte=date(year, 1, 1), day__lte=date(year, 12, 31)
    )
    return {row.day: _holiday_out(row) for row in rows}


async def create_holiday(principal: Principal, data: HolidayIn) -> HolidayOut:
    async with in_transaction():
        await ensure_unique(scoped(HolidayDay, principal), "day", data.day)
        row = await create_row(
            principal,
            HolidayDay,
            HOLIDAY,
            {"day": data.day, "kind": data.kind.value, "name": data.name},
        )
        await publish_to_tenant(
            row.tenant_id, Entity.holiday, row.day.isoformat(), _holiday_grant(row)
        )
    return _holiday_out(row)


async def update_holiday(principal: Principal, ident: int, data: HolidayIn) -> HolidayOut:
    async with in_transaction():
        row = await get_owned(HolidayDay, principal, ident, HOLIDAY)
        await ensure_unique(scoped(HolidayDay, principal), "day", data.day, row.id)
        old_day = row.day
        changes = apply_changes(row, {"day": data.day, "kind": data.kind.value, "name": data.name})
        if changes:
            await row.save()
            await audit(principal, "update", HOLIDAY, row.id, changes)
            published: list[tuple[Entity, str, BaseModel | None]] = []
            if old_day != row.day:
                published.append((Entity.holiday, old_day.isoformat(), None))
            published.append((Entity.holiday, row.day.isoformat(), _holiday_grant(row)))
            await publish_many_to_tenant(row.tenant_id, published)
    return _holiday_out(row)


async def _withdraw_holiday(row: HolidayDay) -> None:
    await publish_to_tenant(row.tenant_id, Entity.holiday, row.day.isoformat(), None)


async def delete_holiday(principal: Principal, ident: int) -> None:
    await delete_row(principal, HolidayDay, HOLIDAY, ident, before=_withdraw_holiday)


HOLIDAYS = Crud(
    list=list_holidays,
    get=get_holiday,
    create=create_holiday,
    update=update_holiday,
    delete=delete_holiday,
)
