"""Collectors (收费员管理) and their attendance (考勤): accounts that sign in on a PDA for the road
sections they may work, 离职 (resigned: the account stops working at once), password resets,
强制签退 (the cloud closes an open shift), and the shift list with takings.

Each change publishes protocols.parking.CollectorGrant under the account to each of the
collector's sections (a resigned collector's grant is disabled), and None to a section taken
away. Shifts are written by the PDA ingest (cloud/parking/pda_claims.py); here they are read,
and closed when forced.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given, within
from cloud.errors import Conflict, Invalid
from cloud.org.service import (
    audit,
    ensure_unique,
    get_owned,
    scoped,
    update_row,
)
from cloud.parking import passes
from cloud.parking.collector_schemas import (
    CollectorCreate,
    CollectorFilter,
    CollectorOut,
    CollectorUpdate,
    PasswordIn,
    ShiftFilter,
    ShiftOut,
)
from cloud.parking.models import Collector, CollectorShift
from cloud.passwords import hash_password
from cloud.sites.models import Site
from cloud.state import publish
from protocols.parking import CollectorGrant
from protocols.site import SiteKind
from protocols.sync import Entity
from protocols.tariffs import yuan

ENTITY = "collector"


# --- sections -------------------------------------------------------------------------------------


async def section_choices(principal: Principal) -> list[tuple[int, str]]:
    """The tenant's road sections (what a collector may work)."""
    rows = (
        await scoped(Site, principal)
        .filter(kind=SiteKind.street_section)
        .order_by("code")
        .values_list("id", "name")
    )
    return [(int(i), str(n)) for i, n in rows]


async def _sites(tenant_id: int, ids: Iterable[int]) -> dict[int, Site]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {row.id: row for row in await Site.filter(tenant_id=tenant_id, id__in=wanted)}


async def _check_sections(principal: Principal, ids: list[int]) -> list[int]:
    found = await _sites(principal.tenant_id, ids)
    if any(i not in found or found[i].kind != SiteKind.street_section for i in ids):
        raise Invalid("sections", "parking.collectors.error.sections")
    return sorted(set(ids))


# --- publication ----------------------------------------------------------------------------------


async def _publish(row: Collector, removed_from: Iterable[int] = ()) -> None:
    """The grant to each section of the collector, None to sections taken away; inside the
    transaction of the change."""
    sites = await _sites(row.tenant_id, [*row.sections, *removed_from])
    grant = CollectorGrant(
        name=row.name,
        password_hash=row.password_hash,
        sections=sorted(sites[i].code for i in row.sections if i in sites),
        enabled=row.active,
    )
    for site_id in row.sections:
        await publish(site_id, Entity.collector, row.account, grant)
    for site_id in set(removed_from) - set(row.sections):
        await publish(site_id, Entity.collector, row.account, None)


# --- collectors -----------------------------------------------------------------------------------


async def _open_shifts(tenant_id: int, accounts: Iterable[str]) -> dict[str, CollectorShift]:
    wanted = list(set(accounts))
    if not wanted:
        return {}
    rows = await CollectorShift.filter(
        tenant_id=tenant_id, collector__in=wanted, signed_out_at__isnull=True
    ).order_by("signed_in_at")
    return {row.collector: row for row in rows}


def _out(row: Collector, sites: dict[int, Site], shift: CollectorShift | None) -> CollectorOut:
    return CollectorOut(
        id=row.id,
        account=row.account,
        name=row.name,
        employee_no=row.employee_no,
        phone=row.phone,
        sections=list(row.sections),
        section_names=", ".join(sites[i].name for i in row.sections if i in sites),
        active=row.active,
        signed_in=shift is not None,
        signed_in_at=shift.signed_in_at if shift else None,
        signed_in_section=sites[shift.site_id].name if shift and shift.site_id in sites else "",
        created_at=row.created_at,
    )


async def _outs(tenant_id: int, rows: list[Collector]) -> list[CollectorOut]:
    shifts = await _open_shifts(tenant_id, (row.account for row in rows))
    ids = [i for row in rows for i in row.sections] + [s.site_id for s in shifts.values()]
    sites = await _sites(tenant_id, ids)
    return [_out(row, sites, shifts.get(row.account)) for row in rows]


async def list_collectors(
    principal: Principal, f: CollectorFilter, params: PageParams
) -> Page[CollectorOut]:
    query = scoped(Collector, principal)
    if f.account:
        query = query.filter(account__istartswith=f.account)
    if f.name:
        query = query.filter(name__icontains=f.name)
    query = where_given(query, f, "active")
    if f.section_id is not None:
        rows = await query.values_list("id", "sections")
        query = query.filter(id__in=[i for i, s in rows if f.section_id in (s or [])])
    page = await paginate(
        query,
        params,
        sorts={"account": "account", "name": "name", "created_at": "created_at"},
        default_sort="account",
        convert=lambda row: row,
    )
    return Page[CollectorOut](
        items=await _outs(principal.tenant_id, page.items),
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )


async def get_collector(principal: Principal, ident: int) -> CollectorOut:
    row = await get_owned(Collector, principal, ident, ENTITY)
    return (await _outs(principal.tenant_id, [row]))[0]


async def create_collector(principal: Principal, data: CollectorCreate) -> CollectorOut:
    async with in_transaction():
        sections = await _check_sections(principal, data.sections)
        await ensure_unique(scoped(Collector, principal), "account", data.account)
        fields: dict[str, Any] = {
            "account": data.account,
            "name": data.name,
            "employee_no": data.employee_no,
            "phone": data.phone or "",
            "sections": sections,
        }
        row = await Collector.create(
            tenant_id=principal.tenant_id, password_hash=hash_password(data.password), **fields
        )
        # The audit log names the password as set, never its hash.
        changes = {k: {"from": None, "to": v} for k, v in fields.items()}
        await audit(
            principal,
            "create",
            ENTITY,
            row.id,
            {**changes, "password": {"from": None, "to": "***"}},
        )
        await _publish(row)
    return await get_collector(principal, row.id)


async def update_collector(principal: Principal, ident: int, data: CollectorUpdate) -> CollectorOut:
    async with in_transaction():
        row = await get_owned(Collector, principal, ident, ENTITY)
        sections = await _check_sections(principal, data.sections)
        before = list(row.sections)
        changes = await update_row(
            principal,
            row,
            ENTITY,
            {
                "name": data.name,
                "employee_no": data.employee_no,
                "phone": data.phone or "",
                "sections": sections,
            },
        )
        if changes:
            await _publish(row, removed_from=before)
    return await get_collector(principal, ident)


async def reset_password(principal: Principal, ident: int, data: PasswordIn) -> CollectorOut:
    """A new password, published (as its hash) to the collector's sections at once."""
    async with in_transaction():
        row = await get_owned(Collector, principal, ident, ENTITY)
        await update_row(
            principal,
            row,
            ENTITY,
            {"password_hash": hash_password(data.password)},
            secrets=frozenset({"password_hash"}),
        )
        await _publish(row)
    return await get_collector(principal, ident)


async def _close_open_shifts(principal: Principal, row: Collector) -> int:
    now = datetime.now(UTC)
    shifts = await CollectorShift.filter(
        tenant_id=row.tenant_id, collector=row.account, signed_out_at__isnull=True
    )
    for shift in shifts:
        shift.signed_out_at = now
        await shift.save(update_fields=["signed_out_at"])
        await audit(
            principal,
            "end",
            ENTITY,
            row.id,
            {"shift": {"from": str(shift.uuid), "to": now.isoformat()}},
        )
    return len(shifts)


async def force_sign_out(principal: Principal, ident: int) -> CollectorOut:
    """强制签退: close the collector's open shift now, freeing its section for another
    collector, and publish the collector again to its sections."""
    async with in_transaction():
        row = await get_owned(Collector, principal, ident, ENTITY)
        if not await _close_open_shifts(principal, row):
            raise Invalid("signed_in", "parking.collectors.error.not_signed_in")
        await _publish(row)
    return await get_collector(principal, ident)


async def set_active(principal: Principal, ident: int, active: bool) -> CollectorOut:
    """离职 (False): the account stops working on every PDA at once (published disabled) and an
    open shift is closed; back to work (True) publishes it enabled again."""
    async with in_transaction():
        row = await get_owned(Collector, principal, ident, ENTITY)
        if row.active != active:
            row.active = active
            await row.save(update_fields=["active"])
            await audit(principal, "enable" if active else "disable", ENTITY, ident)
            if not active:
                await _close_open_shifts(principal, row)
            await _publish(row)
    return await get_collector(principal, ident)


async def delete_collector(principal: Principal, ident: int) -> None:
    """Only an account that never worked a shift may go; others are set to 离职."""
    async with in_transaction():
        row = await get_owned(Collector, principal, ident, ENTITY)
        if await CollectorShift.filter(tenant_id=row.tenant_id, collector=row.account).exists():
            raise Conflict("account", "parking.collectors.error.has_shifts")
        for site_id in row.sections:
            await publish(site_id, Entity.collector, row.account, None)
        await row.delete()
        await audit(principal, "delete", ENTITY, ident)


async def collector_choices(principal: Principal) -> list[tuple[str, str]]:
    rows = await scoped(Collector, principal).order_by("account").values_list("account", "name")
    return [(str(a), f"{n} ({a})") for a, n in rows]


# --- attendance -----------------------------------------------------------------------------------


def _hours(start: datetime, end: datetime | None) -> str:
    if end is None:
        return ""
    tenths = max(0, int((end - start).total_seconds() // 360))
    return f"{tenths // 10}.{tenths % 10}"


def _late(moment: datetime, expected: time | None, zone: ZoneInfo) -> bool | None:
    if expected is None:
        return None
    return moment.astimezone(zone).time() > expected


def _early(
    start: datetime, end: datetime | None, expected: time | None, zone: ZoneInfo
) -> bool | None:
    if expected is None or end is None:
        return None
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    # Signed out on a later local day than it began: not early.
    if local_end.date() > local_start.date():
        return False
    return local_end.time() < expected


def _shift_out(
    row: CollectorShift,
    people: dict[str, Collector],
    sites: dict[int, Site],
    f: ShiftFilter,
    zone: ZoneInfo,
) -> ShiftOut:
    person = people.get(row.collector)
    total = row.cash_fen + row.qr_fen + row.arrears_fen
    return ShiftOut(
        id=row.id,
        collector=row.collector,
        collector_name=person.name if person else "",
        employee_no=person.employee_no if person else "",
        site_id=row.site_id,
        section_name=sites[row.site_id].name if row.site_id in sites else "",
        device=row.device,
        signed_in_at=row.signed_in_at,
        signed_out_at=row.signed_out_at,
        hours=_hours(row.signed_in_at, row.signed_out_at),
        cash_fen=row.cash_fen,
        qr_fen=row.qr_fen,
        arrears_fen=row.arrears_fen,
        total_fen=total,
        cash=yuan(row.cash_fen),
        qr=yuan(row.qr_fen),
        arrears=yuan(row.arrears_fen),
        total=yuan(total),
        receipts=row.receipts,
        late=_late(row.signed_in_at, f.starts, zone),
        early=_early(row.signed_in_at, row.signed_out_at, f.ends, zone),
    )


async def list_shifts(principal: Principal, f: ShiftFilter, params: PageParams) -> Page[ShiftOut]:
    """签到签退 on one row each, newest first; late/early flagged against the expected times
    given in the filter (local time of the site zone)."""
    query = scoped(CollectorShift, principal)
    if f.section_id is not None:
        query = query.filter(site_id=f.section_id)
    if f.collector:
        named = await scoped(Collector, principal).filter(name__icontains=f.collector)
        query = query.filter(
            Q(collector__icontains=f.collector) | Q(collector__in=[c.account for c in named])
        )
    query = within(query, "signed_in_at", f.signed_in_from, f.signed_in_to)
    if f.open is not None:
        query = query.filter(signed_out_at__isnull=f.open)
    page = await paginate(
        query,
        params,
        sorts={"signed_in_at": "signed_in_at", "collector": "collector"},
        default_sort="-signed_in_at",
        convert=lambda row: row,
    )
    accounts = {row.collector for row in page.items}
    people = {
        c.account: c for c in await scoped(Collector, principal).filter(account__in=list(accounts))
    }
    sites = await _sites(principal.tenant_id, (row.site_id for row in page.items))
    zone = passes.zone()
    return Page[ShiftOut](
        items=[_shift_out(row, people, sites, f, zone) for row in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )


COLLECTORS = Crud(
    list=list_collectors,
    get=get_collector,
    create=create_collector,
    update=update_collector,
    delete=delete_collector,
)
SHIFTS = Crud(list=list_shifts)
