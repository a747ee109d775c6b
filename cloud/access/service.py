"""Access rules: white/black lists and access rules (published to edges), access records, dashboard."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise import Tortoise
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from cloud.access.models import AccessRecord, AccessRule, ListEntry
from cloud.access.schemas import (
    AccessRecordFilter,
    AccessRecordOut,
    AccessRuleFilter,
    AccessRuleIn,
    AccessRuleOut,
    Dashboard,
    DayCount,
    ListEntryFilter,
    ListEntryIn,
    ListEntryOut,
    SiteCount,
)
from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given, within
from cloud.db import is_postgres
from cloud.errors import Invalid
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
from cloud.sites.models import Gate, Lane, Site
from cloud.state import publish
from protocols.events import Verdict
from protocols.plates import is_valid_plate, normalize_plate
from protocols.sync import AccessRule as WireRule
from protocols.sync import Entity
from protocols.sync import ListEntry as WireEntry

# Counting stops here: "10000+" is as useful to a reader as the exact figure, and much cheaper.
RECORD_COUNT_CAP = 10_000
TREND_DAYS = 30
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")

# --- white and black lists ----------------------------------------------------------------------


def entry_key(kind: str, plate: str) -> str:
    return f"{kind}:{plate}"


def _entry_out(row: ListEntry) -> ListEntryOut:
    return ListEntryOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        plate=row.plate,
        kind=row.kind,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        note=row.note,
        enabled=row.enabled,
        created_at=row.created_at,
    )


async def _publish_entry(row: ListEntry, before: tuple[int, str] | None = None) -> None:
    """What the edge holds for this entry: its data while enabled, nothing otherwise."""
    key = entry_key(row.kind.value, row.plate)
    if before is not None and before != (row.site_id, key):
        await publish(before[0], Entity.list_entry, before[1], None)
    wire = WireEntry(
        plate=row.plate,
        kind=row.kind,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        note=row.note,
    )
    await publish(row.site_id, Entity.list_entry, key, wire if row.enabled else None)


async def list_entries(
    principal: Principal, f: ListEntryFilter, params: PageParams
) -> Page[ListEntryOut]:
    query = scoped(ListEntry, principal)
    if f.plate:
        query = query.filter(plate__startswith=normalize_plate(f.plate))
    query = where_given(query, f, "site_id", "kind", "enabled")
    return await paginate(
        query,
        params,
        sorts={"plate": "plate", "created_at": "created_at"},
        default_sort="-created_at",
        convert=_entry_out,
        related=("site",),
    )


async def get_entry(principal: Principal, ident: int) -> ListEntryOut:
    row = await get_owned(ListEntry, principal, ident, "list_entry")
    await row.fetch_related("site")
    return _entry_out(row)


async def _check_entry(principal: Principal, data: ListEntryIn, ident: int | None) -> None:
    await check_reference(Site, principal, "site_id", data.site_id)
    same_list = scoped(ListEntry, principal).filter(site_id=data.site_id, kind=data.kind)
    await ensure_unique(same_list, "plate", data.plate, ident)


async def create_entry(principal: Principal, data: ListEntryIn) -> ListEntryOut:
    async with in_transaction():
        await _check_entry(principal, data, None)
        row = await create_row(principal, ListEntry, "list_entry", data.model_dump())
        await _publish_entry(row)
    return await get_entry(principal, row.id)


async def update_entry(principal: Principal, ident: int, data: ListEntryIn) -> ListEntryOut:
    async with in_transaction():
        row = await get_owned(ListEntry, principal, ident, "list_entry")
        await _check_entry(principal, data, ident)
        before = (row.site_id, entry_key(row.kind.value, row.plate))
        await update_row(principal, row, "list_entry", data.model_dump())
        await _publish_entry(row, before)
    return await get_entry(principal, ident)


async def set_entry_enabled(principal: Principal, ident: int, enabled: bool) -> ListEntryOut:
    await set_enabled_row(principal, ListEntry, "list_entry", ident, enabled, after=_publish_entry)
    return await get_entry(principal, ident)


async def _retract_entry(row: ListEntry) -> None:
    await publish(row.site_id, Entity.list_entry, entry_key(row.kind.value, row.plate), None)


async def delete_entry(principal: Principal, ident: int) -> None:
    await delete_row(principal, ListEntry, "list_entry", ident, before=_retract_entry)


# --- access rules -------------------------------------------------------------------------------


def _rule_out(row: AccessRule) -> AccessRuleOut:
    return AccessRuleOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        name=row.name,
        plate=row.plate,
        lanes=list(row.lanes),
        weekdays=list(row.weekdays),
        start_time=row.start_time,
        end_time=row.end_time,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        enabled=row.enabled,
    )


async def _publish_rule(row: AccessRule, before_site: int | None = None) -> None:
    if before_site is not None and before_site != row.site_id:
        await publish(before_site, Entity.access_rule, str(row.id), None)
    wire = WireRule(
        name=row.name,
        plate=row.plate,
        lanes=list(row.lanes),
        weekdays=list(row.weekdays),
        start=row.start_time,
        end=row.end_time,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )
    await publish(row.site_id, Entity.access_rule, str(row.id), wire if row.enabled else None)


async def list_rules(
    principal: Principal, f: AccessRuleFilter, params: PageParams
) -> Page[AccessRuleOut]:
    query = scoped(AccessRule, principal)
    if f.q:
        query = query.filter(Q(name__icontains=f.q) | Q(plate__icontains=normalize_plate(f.q)))
    query = where_given(query, f, "site_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={"name": "name"},
        default_sort="name",
        convert=_rule_out,
        related=("site",),
    )


async def get_rule(principal: Principal, ident: int) -> AccessRuleOut:
    row = await get_owned(AccessRule, principal, ident, "access_rule")
    await row.fetch_related("site")
    return _rule_out(row)


async def _check_rule(principal: Principal, data: AccessRuleIn) -> None:
    await check_reference(Site, principal, "site_id", data.site_id)
    known = set(
        await scoped(Lane, principal).filter(site_id=data.site_id).values_list("code", flat=True)
    )
    if set(data.lanes) - known:
        raise Invalid("lanes", "error.lane_other_site")


async def create_rule(principal: Principal, data: AccessRuleIn) -> AccessRuleOut:
    async with in_transaction():
        await _check_rule(principal, data)
        row = await create_row(principal, AccessRule, "access_rule", data.model_dump())
        await _publish_rule(row)
    return await get_rule(principal, row.id)


async def update_rule(principal: Principal, ident: int, data: AccessRuleIn) -> AccessRuleOut:
    async with in_transaction():
        row = await get_owned(AccessRule, principal, ident, "access_rule")
        await _check_rule(principal, data)
        before_site = row.site_id
        await update_row(principal, row, "access_rule", data.model_dump())
        await _publish_rule(row, before_site)
    return await get_rule(principal, ident)


async def set_rule_enabled(principal: Principal, ident: int, enabled: bool) -> AccessRuleOut:
    await set_enabled_row(principal, AccessRule, "access_rule", ident, enabled, after=_publish_rule)
    return await get_rule(principal, ident)


async def _retract_rule(row: AccessRule) -> None:
    await publish(row.site_id, Entity.access_rule, str(row.id), None)


async def delete_rule(principal: Principal, ident: int) -> None:
    await delete_row(principal, AccessRule, "access_rule", ident, before=_retract_rule)


async def lane_code_choices(principal: Principal) -> list[tuple[str, str]]:
    rows = await scoped(Lane, principal).select_related("site", "gate").order_by("site_id", "code")
    return [(lane.code, f"{lane.site.name} / {lane.gate.name} / {lane.name}") for lane in rows]


async def gate_code_choices(principal: Principal) -> list[tuple[str, str]]:
    rows = await scoped(Gate, principal).select_related("site").order_by("site_id", "code")
    return [(gate.code, f"{gate.site.name} / {gate.name}") for gate in rows]


# --- access records -----------------------------------------------------------------------------


def _record_out(row: AccessRecord) -> AccessRecordOut:
    return AccessRecordOut(
        id=row.id,
        event_uuid=row.event_uuid,
        site_id=row.site_id,
        site_name=row.site.name,
        gate=row.gate,
        lane=row.lane,
        direction=row.direction,
        plate=row.plate,
        plate_color=row.plate_color,
        confidence=row.confidence,
        verdict=row.verdict,
        reason=row.reason,
        method=row.method,
        occurred_at=row.occurred_at,
    )


async def list_records(
    principal: Principal, f: AccessRecordFilter, params: PageParams
) -> Page[AccessRecordOut]:
    """Newest first; every filter leads with tenant_id so the (tenant, plate|time) indexes serve it."""
    query = scoped(AccessRecord, principal)
    plate = normalize_plate(f.plate)
    if plate:
        # A whole plate is an equality on the plate index; a fragment is a prefix range on it.
        query = (
            query.filter(plate=plate)
            if is_valid_plate(plate)
            else query.filter(plate__startswith=plate)
        )
    query = where_given(query, f, "site_id", "gate", "lane", "verdict")
    query = within(query, "occurred_at", f.occurred_from, f.occurred_to)
    # Only the time order is offered: any other order would sort a million rows per page.
    return await paginate(
        query,
        params,
        sorts={"occurred_at": "occurred_at"},
        default_sort="-occurred_at",
        convert=_record_out,
        related=("site",),
        count_cap=RECORD_COUNT_CAP,
    )


# --- dashboard ----------------------------------------------------------------------------------


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


async def _daily_counts(
    principal: Principal, since: datetime, zone: ZoneInfo
) -> dict[tuple[date, str], int]:
    """(local day, verdict) -> count since `since`."""
    counts: dict[tuple[date, str], int] = defaultdict(int)
    if is_postgres():
        # One grouped scan of the (tenant_id, occurred_at) index, days cut in the site zone.
        conn = Tortoise.get_connection("default")
        rows = await conn.execute_query_dict(
            "SELECT (occurred_at AT TIME ZONE $1)::date AS day, verdict, COUNT(*) AS n"
            " FROM access_record WHERE tenant_id = $2 AND occurred_at >= $3 GROUP BY 1, 2",
            [zone.key, principal.tenant_id, since],
        )
        for row in rows:
            counts[(row["day"], str(row["verdict"]))] += int(row["n"])
        return counts
    # SQLite holds the demo's few thousand rows: grouping in Python keeps one code for the zone.
    pairs = (
        await scoped(AccessRecord, principal)
        .filter(occurred_at__gte=since)
        .values_list("occurred_at", "verdict")
    )
    for moment, verdict in pairs:
        value = verdict.value if isinstance(verdict, Verdict) else str(verdict)
        counts[(moment.astimezone(zone).date(), value)] += 1
    return counts


async def dashboard(
    principal: Principal, zone: ZoneInfo = DEFAULT_ZONE, now: datetime | None = None
) -> Dashboard:
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    first_day = today - timedelta(days=TREND_DAYS - 1)
    counts = await _daily_counts(principal, _midnight(first_day, zone), zone)
    trend = [
        DayCount(day=day, open=counts[(day, "open")], deny=counts[(day, "deny")])
        for day in (first_day + timedelta(days=n) for n in range(TREND_DAYS))
    ]
    grouped = (
        await scoped(AccessRecord, principal)
        .filter(occurred_at__gte=_midnight(today, zone))
        .annotate(n=Count("id"))
        .group_by("site_id", "verdict")
        .values("site_id", "verdict", "n")
    )
    names = dict(await scoped(Site, principal).values_list("id", "name"))
    per_site: dict[int, dict[str, int]] = defaultdict(lambda: {"open": 0, "deny": 0})
    for row in grouped:
        verdict = row["verdict"].value if isinstance(row["verdict"], Verdict) else row["verdict"]
        per_site[int(row["site_id"])][str(verdict)] += int(row["n"])
    by_site = [
        SiteCount(site_id=site, site_name=str(names.get(site, site)), **numbers)
        for site, numbers in sorted(per_site.items())
    ]
    return Dashboard(
        today_open=trend[-1].open, today_deny=trend[-1].deny, by_site=by_site, trend=trend
    )


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

LIST_ENTRIES = Crud(
    list=list_entries,
    get=get_entry,
    create=create_entry,
    update=update_entry,
    set_enabled=set_entry_enabled,
    delete=delete_entry,
)
ACCESS_RULES = Crud(
    list=list_rules,
    get=get_rule,
    create=create_rule,
    update=update_rule,
    set_enabled=set_rule_enabled,
    delete=delete_rule,
)
ACCESS_RECORDS = Crud(list=list_records)
