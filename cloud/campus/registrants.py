"""Registrant rules: the register of people, visitor authorisation, WeChat binding and access rules.

Every change an edge cares about (a registrant's name, kind, enabled flag or rules) republishes
the registrant inside the transaction of the change (`cloud.campus.publish`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.campus.identities import check_kind_open, check_type_of_kind
from cloud.campus.models import (
    IdentityKind,
    MobileSession,
    Registrant,
    RegistrantRule,
    ReviewStatus,
    Vehicle,
    VehicleKind,
)
from cloud.campus.publish import retract_registrant, sync_registrant, sync_registrants
from cloud.campus.registrant_schemas import (
    BulkRuleIn,
    RegistrantFilter,
    RegistrantIn,
    RegistrantOut,
    RegistrantRuleIn,
    RegistrantRuleOut,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.models import Department
from cloud.org.service import (
    audit,
    check_reference,
    create_row,
    delete_row,
    get_owned,
    scoped,
    set_enabled_row,
    update_row,
)
from cloud.sites.models import Gate, Site
from protocols.site import SiteKind

RELATED = ("identity_type", "department")
MAX_RULES = 50

# --- the register ------------------------------------------------------------------------------


def _out(row: Registrant, counts: dict[str, int] | None = None) -> RegistrantOut:
    counts = counts or {}
    kind_type = row.identity_type if row.identity_type_id else None
    department = row.department if row.department_id else None
    return RegistrantOut(
        id=row.id,
        kind=row.kind,
        identity_type_id=row.identity_type_id,
        identity_type_name=kind_type.name if kind_type is not None else None,
        name=row.name,
        number=row.number,
        id_card_tail=row.id_card_tail,
        phone=row.phone,
        department_id=row.department_id,
        department_name=department.name if department is not None else None,
        unit=row.unit,
        motor_count=counts.get(VehicleKind.motor.value, 0),
        ebike_count=counts.get(VehicleKind.ebike.value, 0),
        visitor_authorised=row.visitor_authorised,
        registered=row.bound_at is not None,
        bound_at=row.bound_at,
        face_photo=row.face_photo,
        enabled=row.enabled,
        operator=row.operator,
        created_at=row.created_at,
    )


async def vehicle_counts(registrant_ids: list[int]) -> dict[int, dict[str, int]]:
    """Approved vehicles per registrant and vehicle kind."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if not registrant_ids:
        return counts
    rows = (
        await Vehicle.filter(registrant_id__in=registrant_ids, status=ReviewStatus.approved)
        .annotate(n=Count("id"))
        .group_by("registrant_id", "kind")
        .values("registrant_id", "kind", "n")
    )
    for row in rows:
        kind = row["kind"].value if isinstance(row["kind"], VehicleKind) else str(row["kind"])
        counts[int(row["registrant_id"])][kind] = int(row["n"])
    return counts


def filtered(principal: Principal, f: RegistrantFilter) -> QuerySet[Registrant]:
    """The registrants a list filter matches (shared by the list, the export and bulk rules)."""
    query = scoped(Registrant, principal)
    if f.q:
        query = query.filter(
            Q(name__icontains=f.q) | Q(phone__icontains=f.q) | Q(number__icontains=f.q)
        )
    query = where_given(
        query, f, "kind", "identity_type_id", "department_id", "visitor_authorised", "enabled"
    )
    if f.registered is not None:
        query = query.filter(bound_at__isnull=not f.registered)
    return query


async def list_registrants(
    principal: Principal, f: RegistrantFilter, params: PageParams
) -> Page[RegistrantOut]:
    rows: list[Registrant] = []

    def keep(row: Registrant) -> Registrant:
        rows.append(row)
        return row

    page = await paginate(
        filtered(principal, f),
        params,
        sorts={"name": "name", "number": "number", "created_at": "created_at"},
        default_sort="-created_at",
        convert=keep,
        related=RELATED,
    )
    counts = await vehicle_counts([row.id for row in rows])
    return Page[RegistrantOut](
        items=[_out(row, counts.get(row.id)) for row in rows],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
        total_capped=page.total_capped,
    )


async def count_matching(principal: Principal, f: RegistrantFilter) -> int:
    return await filtered(principal, f).count()


async def get_registrant(principal: Principal, ident: int) -> RegistrantOut:
    row = await get_owned(Registrant, principal, ident, "registrant")
    await row.fetch_related(*RELATED)
    return _out(row, (await vehicle_counts([row.id])).get(row.id))


async def _check(principal: Principal, data: RegistrantIn, row: Registrant | None) -> None:
    if row is None or row.kind != data.kind:
        await check_kind_open(principal.tenant_id, data.kind)
    await check_type_of_kind(principal, data.kind, data.identity_type_id)
    await check_reference(Department, principal, "department_id", data.department_id)
    clash = scoped(Registrant, principal).filter(kind=data.kind, number=data.number)
    if row is not None:
        clash = clash.exclude(id=row.id)
    if await clash.exists():
        raise Conflict("number", "registrants.error.number_taken")


async def create_registrant(principal: Principal, data: RegistrantIn) -> RegistrantOut:
    async with in_transaction():
        await _check(principal, data, None)
        row = await create_row(
            principal,
            Registrant,
            "registrant",
            {**data.model_dump(), "operator": principal.account},
        )
        # A new registrant has no rules: known to every campus, allowed through no gate.
        await sync_registrant(row, with_vehicles=False)
    return await get_registrant(principal, row.id)


async def update_registrant(principal: Principal, ident: int, data: RegistrantIn) -> RegistrantOut:
    async with in_transaction():
        row = await get_owned(Registrant, principal, ident, "registrant")
        await _check(principal, data, row)
        fields: dict[str, Any] = data.model_dump()
        if data.kind != IdentityKind.teacher:
            fields["visitor_authorised"] = False  # only teachers receive visitors
        changes = await update_row(principal, row, "registrant", fields)
        if changes:
            await sync_registrant(row, with_vehicles=False)
    return await get_registrant(principal, ident)


async def _publish(row: Registrant) -> None:
    await sync_registrant(row)


async def set_registrant_enabled(principal: Principal, ident: int, enabled: bool) -> RegistrantOut:
    await set_enabled_row(principal, Registrant, "registrant", ident, enabled, after=_publish)
    return await get_registrant(principal, ident)


async def delete_registrant(principal: Principal, ident: int) -> None:
    await delete_row(principal, Registrant, "registrant", ident, before=retract_registrant)


# --- WeChat binding and visitor authorisation -------------------------------------------------
# Neither is something an edge holds, so neither republishes the registrant.


async def unbind(principal: Principal, ident: int) -> RegistrantOut:
    """Forget the phone's binding: the registrant must sign in again on the mobile pages."""
    async with in_transaction():
        row = await get_owned(Registrant, principal, ident, "registrant")
        sessions = await MobileSession.filter(registrant_id=row.id).delete()
        if row.bound_at is not None or sessions:
            await audit(
                principal,
                "unlink",
                "registrant",
                row.id,
                {
                    "bound_at": {
                        "from": row.bound_at.isoformat() if row.bound_at else None,
                        "to": None,
                    }
                },
            )
            row.bound_at = None
            await row.save(update_fields=["bound_at"])
    return await get_registrant(principal, ident)


async def set_visitor_authorised(
    principal: Principal, ident: int, authorised: bool
) -> RegistrantOut:
    """Let a teacher receive visitor appointments (or stop it); other kinds are refused."""
    async with in_transaction():
        row = await get_owned(Registrant, principal, ident, "registrant")
        if row.kind != IdentityKind.teacher:
            raise Invalid("kind", "registrants.error.teachers_only")
        if row.visitor_authorised != authorised:
            row.visitor_authorised = authorised
            await row.save(update_fields=["visitor_authorised"])
            await audit(
                principal, "authorise" if authorised else "unauthorise", "registrant", ident
            )
    return await get_registrant(principal, ident)


async def authorise_all_teachers(principal: Principal) -> int:
    """Every teacher of the school may receive visitors; returns how many were newly authorised."""
    async with in_transaction():
        ids = (
            await scoped(Registrant, principal)
            .filter(kind=IdentityKind.teacher, visitor_authorised=False)
            .values_list("id", flat=True)
        )
        if ids:
            await Registrant.filter(id__in=list(ids)).update(visitor_authorised=True)
            for ident in ids:
                await audit(principal, "authorise", "registrant", ident)
    return len(ids)


# --- access rules ---------------------------------------------------------------------------


def _rule_out(row: RegistrantRule) -> RegistrantRuleOut:
    return RegistrantRuleOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        gates=list(row.gates),
        weekdays=list(row.weekdays),
        start_time=row.start_time,
        end_time=row.end_time,
    )


def _rule_text(rule: RegistrantRuleIn | RegistrantRule) -> str:
    gates = ",".join(rule.gates) or "*"
    days = "".join(str(d) for d in rule.weekdays)
    return f"{rule.site_id}:{gates}:{days}:{rule.start_time:%H:%M}-{rule.end_time:%H:%M}"


async def list_rules(principal: Principal, ident: int) -> list[RegistrantRuleOut]:
    await get_owned(Registrant, principal, ident, "registrant")
    rows = (
        await scoped(RegistrantRule, principal)
        .filter(registrant_id=ident)
        .select_related("site")
        .order_by("site_id", "id")
    )
    return [_rule_out(row) for row in rows]


async def check_rule(principal: Principal, rule: RegistrantRuleIn) -> None:
    """The campus is this school's, and every gate named is a gate of that campus."""
    site = await scoped(Site, principal).filter(id=rule.site_id).first()
    if site is None or site.kind != SiteKind.campus:
        raise Invalid("site_id", "registrants.error.not_campus")
    known = set(
        await scoped(Gate, principal).filter(site_id=rule.site_id).values_list("code", flat=True)
    )
    if set(rule.gates) - known:
        raise Invalid("gates", "registrants.error.gate_other_campus")


async def _store_rule(principal: Principal, row: Registrant, rule: RegistrantRuleIn) -> None:
    await RegistrantRule.create(
        tenant_id=principal.tenant_id, registrant_id=row.id, **rule.model_dump()
    )


async def _rules_changed(
    principal: Principal, row: Registrant, before: list[str], sync: bool = True
) -> None:
    after = [
        _rule_text(r) for r in await RegistrantRule.filter(registrant_id=row.id).order_by("id")
    ]
    if after != before:
        await audit(
            principal, "update", "registrant", row.id, {"rules": {"from": before, "to": after}}
        )
    if sync:
        await sync_registrant(row, with_vehicles=False)


async def _rules_before(row: Registrant) -> list[str]:
    return [_rule_text(r) for r in await RegistrantRule.filter(registrant_id=row.id).order_by("id")]


async def replace_rules(
    principal: Principal, ident: int, rules: list[RegistrantRuleIn]
) -> list[RegistrantRuleOut]:
    """The registrant's whole set of rules becomes `rules` (empty: no gate at all)."""
    for rule in rules:
        await check_rule(principal, rule)
    async with in_transaction():
        row = await get_owned(Registrant, principal, ident, "registrant")
        before = await _rules_before(row)
        await RegistrantRule.filter(registrant_id=row.id).delete()
        for rule in rules:
            await _store_rule(principal, row, rule)
        await _rules_changed(principal, row, before)
    return await list_rules(principal, ident)


async def add_rule(
    principal: Principal, ident: int, rule: RegistrantRuleIn
) -> list[RegistrantRuleOut]:
    await check_rule(principal, rule)
    async with in_transaction():
        row = await get_owned(Registrant, principal, ident, "registrant")
        before = await _rules_before(row)
        if len(before) >= MAX_RULES:
            raise Invalid("site_id", "registrants.error.too_many_rules")
        await _store_rule(principal, row, rule)
        await _rules_changed(principal, row, before)
    return await list_rules(principal, ident)


async def remove_rule(principal: Principal, ident: int, rule_id: int) -> list[RegistrantRuleOut]:
    async with in_transaction():
        row = await get_owned(Registrant, principal, ident, "registrant")
        rule = await RegistrantRule.filter(id=rule_id, registrant_id=row.id).first()
        if rule is None:
            raise NotFound("registrant_rule", rule_id)
        before = await _rules_before(row)
        await rule.delete()
        await _rules_changed(principal, row, before)
    return await list_rules(principal, ident)


async def bulk_rules(principal: Principal, data: BulkRuleIn) -> int:
    """Apply one rule to every registrant the filter matches: replace their rules with it, add
    it, or clear them all (no gate). Returns how many registrants were affected."""
    if data.rule is not None:
        await check_rule(principal, data.rule)
    f = RegistrantFilter.model_validate(data.model_dump(include=set(RegistrantFilter.model_fields)))
    async with in_transaction():
        rows = await filtered(principal, f).order_by("id")
        ids = [row.id for row in rows]
        if data.mode in ("replace", "clear") and ids:
            await RegistrantRule.filter(registrant_id__in=ids).delete()
        if data.mode in ("replace", "add") and data.rule is not None and ids:
            rule = data.rule.model_dump()
            await RegistrantRule.bulk_create(
                [
                    RegistrantRule(tenant_id=principal.tenant_id, registrant_id=ident, **rule)
                    for ident in ids
                ]
            )
        await sync_registrants(list(rows))
        await audit(
            principal,
            "update",
            "registrant",
            "bulk",
            {
                "rules": {
                    "from": None,
                    "to": f"{data.mode} {_rule_text(data.rule) if data.rule else ''}".strip(),
                },
                "filter": {"from": None, "to": f.model_dump(mode="json", exclude_defaults=True)},
                "affected": {"from": None, "to": len(ids)},
            },
        )
    return len(ids)


# --- choices for forms --------------------------------------------------------------------------


async def campus_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = (
        await scoped(Site, principal)
        .filter(kind=SiteKind.campus)
        .order_by("code")
        .values_list("id", "name")
    )
    return [(int(i), str(n)) for i, n in rows]


async def campus_gate_choices(principal: Principal) -> list[tuple[str, str]]:
    """Gates of every campus, labelled "campus / gate", valued by gate code."""
    rows = (
        await scoped(Gate, principal)
        .filter(site__kind=SiteKind.campus)
        .select_related("site")
        .order_by("site_id", "code")
    )
    return [(gate.code, f"{gate.site.name} / {gate.name}") for gate in rows]


REGISTRANTS = Crud(
    list=list_registrants,
    get=get_registrant,
    create=create_registrant,
    update=update_registrant,
    set_enabled=set_registrant_enabled,
    delete=delete_registrant,
)
