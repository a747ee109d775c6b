"""Monthly passes (包月管理): the rules a pass is sold under, passes issued, edited, renewed and
cancelled, what every lot and road section of the tenant is told of them, and the vehicle type
of a plate at a site (`lookup_vehicle_type`) that parking orders record.

A pass is valid from its first to its last local day (CloudSettings.timezone) at the sites of
its rule. A plate is bound to at most one pass that is neither cancelled nor expired. Each plate
is published as protocols.parking.MonthlyPassGrant under its own key to every lot and road
section of the tenant (any of them may check it offline); a plate no longer bound, or whose
pass is cancelled, is published as None unless another pass holds it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from tortoise import connections
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cloud.access.models import ListEntry
from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.db import is_postgres
from cloud.errors import Conflict, Invalid
from cloud.org.service import (
    audit,
    create_row,
    ensure_unique,
    get_owned,
    scoped,
    update_row,
)
from cloud.parking import specials
from cloud.parking.clock import today, zone
from cloud.parking.models import (
    EnergyScope,
    MonthlyPass,
    MonthlyPassRule,
    MonthlyPassState,
)
from cloud.parking.pass_schemas import (
    PassFilter,
    PassHolderIn,
    PassIssueIn,
    PassOut,
    PassRenewIn,
    PassRuleFilter,
    PassRuleIn,
    PassRuleOut,
    PassStatus,
)
from cloud.parking.publish import PARKING_KINDS, publish_many_to_tenant
from cloud.parking.texts_passes import said
from cloud.sites.models import Site
from protocols.parking import MonthlyPassGrant, VehicleType, is_new_energy
from protocols.plates import normalize_plate
from protocols.sync import Entity, ListKind
from protocols.tariffs import yuan

RULE = "monthly_pass_rule"
PASS = "monthly_pass"


def add_months(start: date, months: int) -> date:
    """The last day of `months` months from `start`: 03-15 + 1 -> 04-14; a start day the target
    month lacks runs to that month's end (01-31 + 1 -> 02-28/29)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if start.day > last:
        return date(year, month, last)
    return date(year, month, start.day) - timedelta(days=1)


# --- sites --------------------------------------------------------------------------------------


async def parking_site_choices(principal: Principal) -> list[tuple[int, str]]:
    """The tenant's lots and road sections (what a rule may cover)."""
    rows = (
        await scoped(Site, principal)
        .filter(kind__in=list(PARKING_KINDS))
        .order_by("code")
        .values_list("id", "name")
    )
    return [(int(i), str(n)) for i, n in rows]


async def _sites(tenant_id: int, ids: Iterable[int]) -> dict[int, Site]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await Site.filter(tenant_id=tenant_id, id__in=wanted)
    return {row.id: row for row in rows}


async def _check_sites(principal: Principal, ids: list[int]) -> list[int]:
    found = await _sites(principal.tenant_id, ids)
    if any(i not in found or found[i].kind not in PARKING_KINDS for i in ids):
        raise Invalid("sites", "parking.passes.error.sites")
    return sorted(set(ids))


# --- rules --------------------------------------------------------------------------------------


def _rule_out(row: MonthlyPassRule, sites: dict[int, Site]) -> PassRuleOut:
    return PassRuleOut(
        id=row.id,
        name=row.name,
        energy=row.energy,
        price_fen=row.price_fen,
        price=yuan(row.price_fen),
        sites=list(row.sites),
        site_names=", ".join(sites[i].name for i in row.sites if i in sites),
        max_months=row.max_months,
        online=row.online,
        enabled=row.enabled,
        created_at=row.created_at,
    )


async def list_rules(
    principal: Principal, f: PassRuleFilter, params: PageParams
) -> Page[PassRuleOut]:
    query = scoped(MonthlyPassRule, principal)
    if f.name:
        query = query.filter(name__icontains=f.name)
    query = where_given(query, f, "energy", "enabled")
    if f.site_id is not None:
        # A rule covers few sites and a tenant has few rules: read their site lists.
        rows = await query.values_list("id", "sites")
        query = query.filter(id__in=[i for i, sites in rows if f.site_id in (sites or [])])
    page = await paginate(
        query,
        params,
        sorts={"name": "name", "price": "price_fen", "created_at": "created_at"},
        default_sort="-created_at",
        convert=lambda row: row,
    )
    sites = await _sites(principal.tenant_id, (i for row in page.items for i in row.sites))
    return Page[PassRuleOut](
        items=[_rule_out(row, sites) for row in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )


async def get_rule(principal: Principal, ident: int) -> PassRuleOut:
    row = await get_owned(MonthlyPassRule, principal, ident, RULE)
    return _rule_out(row, await _sites(principal.tenant_id, row.sites))


async def create_rule(principal: Principal, data: PassRuleIn) -> PassRuleOut:
    async with in_transaction():
        sites = await _check_sites(principal, data.sites)
        await ensure_unique(scoped(MonthlyPassRule, principal), "name", data.name)
        row = await create_row(
            principal, MonthlyPassRule, RULE, {**data.model_dump(), "sites": sites}
        )
    return await get_rule(principal, row.id)


async def update_rule(principal: Principal, ident: int, data: PassRuleIn) -> PassRuleOut:
    """A change of sites reaches every pass sold under the rule at once."""
    async with in_transaction():
        row = await get_owned(MonthlyPassRule, principal, ident, RULE)
        sites = await _check_sites(principal, data.sites)
        await ensure_unique(scoped(MonthlyPassRule, principal), "name", data.name, ident)
        changes = await update_row(principal, row, RULE, {**data.model_dump(), "sites": sites})
        if "sites" in changes:
            passes = await MonthlyPass.filter(rule_id=ident, state=MonthlyPassState.active)
            await _publish_plates(principal.tenant_id, {p for row in passes for p in row.plates})
    return await get_rule(principal, ident)


async def set_rule_enabled(principal: Principal, ident: int, enabled: bool) -> PassRuleOut:
    """A disabled rule sells no new pass and renews none; passes already sold keep running."""
    async with in_transaction():
        row = await get_owned(MonthlyPassRule, principal, ident, RULE)
        if row.enabled != enabled:
            row.enabled = enabled
            await row.save(update_fields=["enabled"])
            await audit(principal, "enable" if enabled else "disable", RULE, ident)
    return await get_rule(principal, ident)


async def delete_rule(principal: Principal, ident: int) -> None:
    """Only a rule no pass was ever sold under may go (passes keep their rule for the record)."""
    async with in_transaction():
        row = await get_owned(MonthlyPassRule, principal, ident, RULE)
        if await MonthlyPass.filter(rule_id=ident).exists():
            raise Conflict("rule_id", "parking.passes.error.rule_in_use")
        await row.delete()
        await audit(principal, "delete", RULE, ident)


async def rule_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(MonthlyPassRule, principal).order_by("name").values_list("id", "name")
    return [(int(i), str(n)) for i, n in rows]


async def enabled_rule_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = (
        await scoped(MonthlyPassRule, principal)
        .filter(enabled=True)
        .order_by("name")
        .values_list("id", "name", "price_fen")
    )
    return [(int(i), f"{n} ({yuan(int(p))}/月)") for i, n, p in rows]


# --- plates: which passes hold one --------------------------------------------------------------


def _like_text(text: str) -> str:
    return re.sub(r"[%_\\]", "", text)


async def pass_ids_with_plate(tenant_id: int, plate: str, *, partial: bool = False) -> list[int]:
    """Ids of the tenant's passes (any state) binding `plate`, or a plate containing it when
    `partial`. One indexed scan of the tenant's passes through the database's JSON functions."""
    conn = connections.get("default")  # inside a transaction: the transaction's connection
    value = f"%{_like_text(plate)}%" if partial else plate
    operator = "LIKE" if partial else "="
    if is_postgres():
        sql = (
            "SELECT p.id FROM parking_monthly_pass p WHERE p.tenant_id = $1 AND EXISTS ("
            f"SELECT 1 FROM jsonb_array_elements_text(p.plates) AS j(v) WHERE j.v {operator} $2)"
        )
    else:
        sql = (
            "SELECT DISTINCT p.id FROM parking_monthly_pass p, json_each(p.plates) j"
            f" WHERE p.tenant_id = ? AND j.value {operator} ?"
        )
    rows = await conn.execute_query_dict(sql, [tenant_id, value])
    return [int(row["id"]) for row in rows]


async def _holders(tenant_id: int, plate: str) -> list[MonthlyPass]:
    """The passes neither cancelled nor expired that bind `plate`."""
    ids = await pass_ids_with_plate(tenant_id, plate)
    if not ids:
        return []
    return await MonthlyPass.filter(
        id__in=ids, state=MonthlyPassState.active, valid_until__gte=today()
    ).order_by("valid_from")


async def _check_plates_free(
    principal: Principal, plates: list[str], exclude_id: int | None
) -> None:
    for plate in plates:
        others = [p for p in await _holders(principal.tenant_id, plate) if p.id != exclude_id]
        if others:
            raise Conflict("plates", said("parking.passes.error.plate_taken", plate=plate))


def _check_energy(rule: MonthlyPassRule, plates: list[str]) -> None:
    for plate in plates:
        new_energy = is_new_energy(plate)
        if (rule.energy == EnergyScope.new_energy and not new_energy) or (
            rule.energy == EnergyScope.other and new_energy
        ):
            raise Invalid(
                "plates", said(f"parking.passes.error.energy.{rule.energy.value}", plate=plate)
            )


# --- publication --------------------------------------------------------------------------------


async def _grant_of(tenant_id: int, plate: str) -> MonthlyPassGrant | None:
    """What edges hold for `plate`: the latest-ending uncancelled pass binding it, if any."""
    ids = await pass_ids_with_plate(tenant_id, plate)
    if not ids:
        return None
    row = (
        await MonthlyPass.filter(id__in=ids, state=MonthlyPassState.active)
        .order_by("-valid_until", "-id")
        .first()
    )
    if row is None:
        return None
    rule = await MonthlyPassRule.get(id=row.rule_id)
    sites = await _sites(tenant_id, rule.sites)
    return MonthlyPassGrant(
        holder=row.holder,
        sites=sorted(sites[i].code for i in rule.sites if i in sites),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


async def _publish_plates(tenant_id: int, plates: Iterable[str]) -> None:
    """Each plate's current grant (or None) to every lot and road section of the tenant; call
    inside the transaction of the change, after the rows are saved."""
    changes: list[tuple[Entity, str, MonthlyPassGrant | None]] = []
    for plate in sorted(set(plates)):
        changes.append((Entity.monthly_pass, plate, await _grant_of(tenant_id, plate)))
    if changes:
        await publish_many_to_tenant(tenant_id, list(changes))


# --- passes -------------------------------------------------------------------------------------


def status_of(row: MonthlyPass, day: date) -> PassStatus:
    if row.state == MonthlyPassState.cancelled:
        return PassStatus.cancelled
    if row.valid_until < day:
        return PassStatus.expired
    if row.valid_from > day:
        return PassStatus.pending
    return PassStatus.valid


def _pass_out(row: MonthlyPass, rule_names: dict[int, str], day: date) -> PassOut:
    status = status_of(row, day)
    left = (row.valid_until - max(day, row.valid_from)).days + 1
    return PassOut(
        id=row.id,
        rule_id=row.rule_id,
        rule_name=rule_names.get(row.rule_id, ""),
        holder=row.holder,
        phone=row.phone,
        plates=list(row.plates),
        plates_text=", ".join(row.plates),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=status,
        days_left=left if status in (PassStatus.valid, PassStatus.pending) else 0,
        paid_fen=row.paid_fen,
        paid=yuan(row.paid_fen),
        operator=row.operator,
        issued_at=row.issued_at,
        cancelled_at=row.cancelled_at,
    )


async def _rule_names(tenant_id: int, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(ids))
    rows = await MonthlyPassRule.filter(tenant_id=tenant_id, id__in=wanted).values_list(
        "id", "name"
    )
    return {int(i): str(n) for i, n in rows}


async def list_passes(principal: Principal, f: PassFilter, params: PageParams) -> Page[PassOut]:
    day = today()
    query = scoped(MonthlyPass, principal)
    if f.holder:
        query = query.filter(holder__icontains=f.holder)
    if f.phone:
        query = query.filter(phone__startswith=f.phone)
    if f.plate:
        wanted = normalize_plate(f.plate)
        ids = await pass_ids_with_plate(principal.tenant_id, wanted, partial=True)
        query = query.filter(id__in=ids)
    query = where_given(query, f, "rule_id")
    active = MonthlyPassState.active
    if f.status == PassStatus.cancelled:
        query = query.filter(state=MonthlyPassState.cancelled)
    elif f.status == PassStatus.expired:
        query = query.filter(state=active, valid_until__lt=day)
    elif f.status == PassStatus.pending:
        query = query.filter(state=active, valid_from__gt=day)
    elif f.status == PassStatus.valid:
        query = query.filter(state=active, valid_from__lte=day, valid_until__gte=day)
    if f.expiring_days is not None:
        last = day + timedelta(days=f.expiring_days)
        query = query.filter(state=active, valid_until__gte=day, valid_until__lte=last)
    page = await paginate(
        query,
        params,
        sorts={
            "holder": "holder",
            "valid_until": "valid_until",
            "issued_at": "issued_at",
            "paid": "paid_fen",
        },
        default_sort="-issued_at",
        convert=lambda row: row,
    )
    names = await _rule_names(principal.tenant_id, (row.rule_id for row in page.items))
    return Page[PassOut](
        items=[_pass_out(row, names, day) for row in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )


async def get_pass(principal: Principal, ident: int) -> PassOut:
    row = await get_owned(MonthlyPass, principal, ident, PASS)
    return _pass_out(row, await _rule_names(principal.tenant_id, [row.rule_id]), today())


async def _sellable_rule(principal: Principal, rule_id: int, months: int) -> MonthlyPassRule:
    rule = await scoped(MonthlyPassRule, principal).filter(id=rule_id).first()
    if rule is None:
        raise Invalid("rule_id", "error.reference")
    if not rule.enabled:
        raise Invalid("rule_id", "parking.passes.error.rule_disabled")
    if months > rule.max_months:
        raise Invalid("months", said("parking.passes.error.max_months", months=rule.max_months))
    return rule


async def issue_pass(principal: Principal, data: PassIssueIn) -> PassOut:
    """办卡: valid from `starts_on` (today by default) for `months` months, paid months x price."""
    start = data.starts_on or today()
    if start < today():
        raise Invalid("starts_on", "parking.passes.error.starts_past")
    async with in_transaction():
        rule = await _sellable_rule(principal, data.rule_id, data.months)
        _check_energy(rule, data.plates)
        await _check_plates_free(principal, data.plates, None)
        row = await create_row(
            principal,
            MonthlyPass,
            PASS,
            {
                "rule_id": rule.id,
                "holder": data.holder,
                "phone": data.phone,
                "plates": data.plates,
                "valid_from": start,
                "valid_until": add_months(start, data.months),
                "state": MonthlyPassState.active,
                "paid_fen": rule.price_fen * data.months,
                "operator": principal.account,
            },
        )
        await _publish_plates(principal.tenant_id, data.plates)
    return await get_pass(principal, row.id)


async def _live_pass(principal: Principal, ident: int) -> MonthlyPass:
    row = await get_owned(MonthlyPass, principal, ident, PASS)
    if row.state == MonthlyPassState.cancelled:
        raise Invalid("state", "parking.passes.error.cancelled")
    return row


async def update_pass(principal: Principal, ident: int, data: PassHolderIn) -> PassOut:
    """修改: holder, phone and plates; a plate unbound is withdrawn from every site."""
    async with in_transaction():
        row = await _live_pass(principal, ident)
        rule = await MonthlyPassRule.get(id=row.rule_id)
        _check_energy(rule, data.plates)
        await _check_plates_free(principal, data.plates, ident)
        before = list(row.plates)
        await update_row(principal, row, PASS, data.model_dump())
        await _publish_plates(principal.tenant_id, [*before, *data.plates])
    return await get_pass(principal, ident)


async def renew_pass(principal: Principal, ident: int, data: PassRenewIn) -> PassOut:
    """续费: `months` more from the current end, or from today when the pass has expired."""
    async with in_transaction():
        row = await _live_pass(principal, ident)
        rule = await _sellable_rule(principal, row.rule_id, data.months)
        day = today()
        _check_energy(rule, list(row.plates))
        await _check_plates_free(principal, list(row.plates), ident)
        changes: dict[str, object] = {"paid_fen": row.paid_fen + rule.price_fen * data.months}
        if row.valid_until < day:
            changes["valid_from"] = day
            changes["valid_until"] = add_months(day, data.months)
        else:
            changes["valid_until"] = add_months(row.valid_until + timedelta(days=1), data.months)
        await update_row(principal, row, PASS, changes)
        await _publish_plates(principal.tenant_id, row.plates)
    return await get_pass(principal, ident)


async def cancel_pass(principal: Principal, ident: int) -> PassOut:
    """注销: the plates stop parking free at once (published None to every site)."""
    async with in_transaction():
        row = await _live_pass(principal, ident)
        row.state = MonthlyPassState.cancelled
        row.cancelled_at = datetime.now(UTC)
        await row.save(update_fields=["state", "cancelled_at"])
        await audit(
            principal, "update", PASS, ident, {"state": {"from": "active", "to": "cancelled"}}
        )
        await _publish_plates(principal.tenant_id, row.plates)
    return await get_pass(principal, ident)


# --- the vehicle type of an order ---------------------------------------------------------------


async def lookup_vehicle_type(tenant_id: int, site_code: str, plate: str, at: datetime) -> str:
    """protocols.parking.VehicleType of `plate` at the site at `at`: monthly when a pass in force
    that day covers the site, special when an enabled special-plate rule matches, company when
    the site's whitelist holds it then, new_energy for a new-energy plate, else temporary."""
    plate = normalize_plate(plate)
    if not plate:
        return VehicleType.temporary.value
    site = await Site.filter(tenant_id=tenant_id, code=site_code).first()
    day = at.astimezone(zone()).date()
    ids = await pass_ids_with_plate(tenant_id, plate)
    if ids:
        passes = await MonthlyPass.filter(
            id__in=ids,
            state=MonthlyPassState.active,
            valid_from__lte=day,
            valid_until__gte=day,
        )
        for row in passes:
            rule = await MonthlyPassRule.get(id=row.rule_id)
            if not rule.sites or (site is not None and site.id in rule.sites):
                return VehicleType.monthly.value
    if await specials.is_special(tenant_id, plate):
        return VehicleType.special.value
    if site is not None:
        listed = ListEntry.filter(
            tenant_id=tenant_id,
            site_id=site.id,
            plate=plate,
            kind=ListKind.whitelist,
            enabled=True,
        ).filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=at),
            Q(valid_until__isnull=True) | Q(valid_until__gt=at),
        )
        if await listed.exists():
            return VehicleType.company.value
    if is_new_energy(plate):
        return VehicleType.new_energy.value
    return VehicleType.temporary.value


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

RULES = Crud(
    list=list_rules,
    get=get_rule,
    create=create_rule,
    update=update_rule,
    set_enabled=set_rule_enabled,
    delete=delete_rule,
)
PASSES = Crud(list=list_passes, get=get_pass, create=issue_pass, update=update_pass)
