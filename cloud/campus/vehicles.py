"""Vehicle rules: the vehicle list, registration review (approve / reject), unlinking and e-bike
labels; every change that alters what a gate should open republishes the vehicle to the edges.

Requirements 000, part 1, 4.3 (车辆管理) and 4.4 (车辆备案审核).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.campus import texts_vehicles  # noqa: F401 - registers the error texts
from cloud.campus.models import IdentityType, Registrant, ReviewStatus, Vehicle, VehicleKind
from cloud.campus.publish import retract_vehicle, sync_vehicle
from cloud.campus.vehicle_schemas import (
    LabelOut,
    ReviewCounts,
    VehicleApprove,
    VehicleCreate,
    VehicleFilter,
    VehicleOut,
    VehicleReject,
    VehicleUpdate,
    clean_plate,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given, within
from cloud.errors import Conflict, Invalid
from cloud.org.models import Department
from cloud.org.service import (
    apply_changes,
    audit,
    check_reference,
    create_row,
    delete_row,
    ensure_unique,
    get_owned,
    scoped,
    set_enabled_row,
)
from protocols.plates import normalize_plate

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
RELATED = ("registrant", "registrant__identity_type", "registrant__department")
SORTS = {
    "plate": "plate",
    "submitted_at": "submitted_at",
    "reviewed_at": "reviewed_at",
    "label_prints": "label_prints",
}
# One print run at most: a sheet of labels is printed by a person, not a batch job.
MAX_LABELS = 500


def _name(related: Department | IdentityType | None) -> str:
    """The name of a related row that may be missing (a nullable foreign key)."""
    return related.name if related is not None else ""


def school_today(zone: ZoneInfo = DEFAULT_ZONE) -> date:
    return datetime.now(UTC).astimezone(zone).date()


def is_long_term(row: Vehicle) -> bool:
    return (
        row.kind == VehicleKind.ebike
        and row.status == ReviewStatus.approved
        and row.valid_until is None
    )


def _dept_unit(registrant: Registrant) -> str:
    department = _name(registrant.department)
    return " / ".join(part for part in (department, registrant.unit) if part)


def vehicle_out(row: Vehicle) -> VehicleOut:
    """The vehicle with its registrant's particulars (loaded with RELATED)."""
    out = VehicleOut(
        id=row.id,
        kind=row.kind,
        plate=row.plate,
        owner_name=row.owner_name,
        relation=row.relation,
        status=row.status,
        reject_reason=row.reject_reason,
        valid_until=row.valid_until,
        long_term=is_long_term(row),
        label_prints=row.label_prints,
        enabled=row.enabled,
        submitted_at=row.submitted_at,
        reviewed_at=row.reviewed_at,
        reviewer=row.reviewer,
        registrant_id=row.registrant_id,
    )
    registrant = row.registrant if row.registrant_id is not None else None
    if registrant is None:
        return out
    return out.model_copy(
        update={
            "registrant_name": registrant.name,
            "registrant_number": registrant.number,
            "registrant_phone": registrant.phone,
            "registrant_kind": registrant.kind,
            "identity_type_name": _name(registrant.identity_type) or None,
            "department_name": _name(registrant.department) or None,
            "dept_unit": _dept_unit(registrant),
        }
    )


def _registrants(principal: Principal, f: VehicleFilter) -> QuerySet[Registrant] | None:
    """The registrants the filter names, or None when it names none (no registrant condition)."""
    if not (f.registrant or f.identity_kind or f.department_id):
        return None
    query = scoped(Registrant, principal)
    if f.registrant:
        query = query.filter(Q(name__icontains=f.registrant) | Q(number__icontains=f.registrant))
    if f.identity_kind:
        query = query.filter(kind=f.identity_kind)
    if f.department_id:
        query = query.filter(department_id=f.department_id)
    return query


def filtered(principal: Principal, f: VehicleFilter) -> QuerySet[Vehicle]:
    query = scoped(Vehicle, principal)
    plate = normalize_plate(f.plate)
    if plate:
        query = query.filter(plate__contains=plate)
    query = where_given(query, f, "kind", "status", "enabled")
    registrants = _registrants(principal, f)
    if registrants is not None:
        query = query.filter(registrant_id__in=Subquery(registrants.values("id")))
    query = within(query, "submitted_at", f.submitted_from, f.submitted_to)
    return query


async def list_vehicles(
    principal: Principal, f: VehicleFilter, params: PageParams
) -> Page[VehicleOut]:
    return await paginate(
        filtered(principal, f),
        params,
        sorts=SORTS,
        default_sort="-submitted_at",
        convert=vehicle_out,
        related=RELATED,
    )


async def list_ebikes(
    principal: Principal, f: VehicleFilter, params: PageParams
) -> Page[VehicleOut]:
    """The e-bikes whose QR labels may be printed (the label page's list)."""
    return await list_vehicles(principal, f.model_copy(update={"kind": VehicleKind.ebike}), params)


async def get_vehicle(principal: Principal, ident: int) -> VehicleOut:
    row = await get_owned(Vehicle, principal, ident, "vehicle")
    await row.fetch_related(*RELATED)
    return vehicle_out(row)


async def _registrant_named(principal: Principal, data: VehicleCreate) -> Registrant:
    if data.registrant_id is not None:
        found = await check_reference(Registrant, principal, "registrant_id", data.registrant_id)
        assert found is not None
        return found
    number = data.registrant_number
    rows = await scoped(Registrant, principal).filter(Q(number=number) | Q(phone=number)).limit(2)
    if not rows:
        raise Invalid("registrant_number", "campus_vehicles.error.registrant_unknown")
    if len(rows) > 1:
        raise Invalid("registrant_number", "campus_vehicles.error.registrant_ambiguous")
    return rows[0]


async def create_vehicle(principal: Principal, data: VehicleCreate) -> VehicleOut:
    """A pending application; nothing reaches the gates until it is approved."""
    async with in_transaction():
        registrant = await _registrant_named(principal, data)
        same_kind = scoped(Vehicle, principal).filter(kind=data.kind)
        await ensure_unique(same_kind, "plate", data.plate)
        row = await create_row(
            principal,
            Vehicle,
            "vehicle",
            {
                "registrant_id": registrant.id,
                "kind": data.kind,
                "plate": data.plate,
                "owner_name": data.owner_name or registrant.name,
                "relation": data.relation,
            },
        )
    return await get_vehicle(principal, row.id)


async def update_vehicle(
    principal: Principal, ident: int, data: VehicleUpdate, today: date | None = None
) -> VehicleOut:
    async with in_transaction():
        row = await get_owned(Vehicle, principal, ident, "vehicle")
        try:
            plate = clean_plate(row.kind, data.plate)
        except ValueError as exc:
            raise Invalid("plate", str(exc)) from None
        if row.kind == VehicleKind.motor and data.valid_until is not None:
            raise Invalid("valid_until", "campus_vehicles.error.motor_validity")
        if (
            data.valid_until is not None
            and data.valid_until != row.valid_until
            and data.valid_until <= (today or school_today())
        ):
            raise Invalid("valid_until", "campus_vehicles.error.validity_past")
        await ensure_unique(scoped(Vehicle, principal).filter(kind=row.kind), "plate", plate, ident)
        before = row.plate
        fields = {
            "plate": plate,
            "owner_name": data.owner_name,
            "relation": data.relation,
            "valid_until": data.valid_until,
        }
        changes = apply_changes(row, fields)
        if changes:
            await row.save(update_fields=list(fields))
            await audit(principal, "update", "vehicle", ident, changes)
            await sync_vehicle(row, before_plate=before)
    return await get_vehicle(principal, ident)


async def set_vehicle_enabled(principal: Principal, ident: int, enabled: bool) -> VehicleOut:
    async def publish(row: Vehicle) -> None:
        await sync_vehicle(row)

    await set_enabled_row(principal, Vehicle, "vehicle", ident, enabled, after=publish)
    return await get_vehicle(principal, ident)


async def unlink_vehicle(principal: Principal, ident: int) -> VehicleOut:
    """Detach the vehicle from its registrant: it no longer opens any gate."""
    async with in_transaction():
        row = await get_owned(Vehicle, principal, ident, "vehicle")
        if row.registrant_id is not None:
            before = row.registrant_id
            row.registrant_id = None
            await row.save(update_fields=["registrant_id"])
            await audit(
                principal,
                "unlink",
                "vehicle",
                ident,
                {"registrant_id": {"from": before, "to": None}},
            )
        await retract_vehicle(row)
    return await get_vehicle(principal, ident)


async def delete_vehicle(principal: Principal, ident: int) -> None:
    await delete_row(principal, Vehicle, "vehicle", ident, before=retract_vehicle)


async def _pending(principal: Principal, ident: int) -> Vehicle:
    row = await get_owned(Vehicle, principal, ident, "vehicle")
    if row.status != ReviewStatus.pending:
        raise Conflict("status", "campus_vehicles.error.not_pending")
    return row


async def approve_vehicle(
    principal: Principal, ident: int, data: VehicleApprove, today: date | None = None
) -> VehicleOut:
    """Approve an application; an e-bike is approved long-term or until a future date. The
    vehicle is published to every campus in the same transaction."""
    async with in_transaction():
        row = await _pending(principal, ident)
        valid_until: date | None = None
        if row.kind == VehicleKind.ebike:
            if data.long_term and data.valid_until is not None:
                raise Invalid("valid_until", "campus_vehicles.error.validity_both")
            if not data.long_term:
                if data.valid_until is None:
                    raise Invalid("valid_until", "campus_vehicles.error.validity_required")
                if data.valid_until <= (today or school_today()):
                    raise Invalid("valid_until", "campus_vehicles.error.validity_past")
                valid_until = data.valid_until
        changes = apply_changes(
            row,
            {
                "status": ReviewStatus.approved,
                "valid_until": valid_until,
                "reject_reason": "",
                "reviewed_at": datetime.now(UTC),
                "reviewer": principal.account,
            },
        )
        await row.save()
        await audit(principal, "approve", "vehicle", ident, changes)
        await sync_vehicle(row, today=today)
    return await get_vehicle(principal, ident)


async def reject_vehicle(principal: Principal, ident: int, data: VehicleReject) -> VehicleOut:
    """Refuse an application; the reason is required and shown to the registrant."""
    async with in_transaction():
        row = await _pending(principal, ident)
        if not data.reason:
            raise Invalid("reason", "error.required")
        changes = apply_changes(
            row,
            {
                "status": ReviewStatus.rejected,
                "reject_reason": data.reason,
                "reviewed_at": datetime.now(UTC),
                "reviewer": principal.account,
            },
        )
        await row.save()
        await audit(principal, "reject", "vehicle", ident, changes)
        await sync_vehicle(row)
    return await get_vehicle(principal, ident)


async def review_counts(principal: Principal) -> ReviewCounts:
    rows = (
        await scoped(Vehicle, principal)
        .annotate(n=Count("id"))
        .group_by("status", "kind")
        .values("status", "kind", "n")
    )
    by: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (
            str(getattr(row["status"], "value", row["status"])),
            str(getattr(row["kind"], "value", row["kind"])),
        )
        by[key] = by.get(key, 0) + int(row["n"])

    def count(status: ReviewStatus, kind: VehicleKind | None = None) -> int:
        return sum(n for (s, k), n in by.items() if s == status.value and kind in (None, k))

    return ReviewCounts(
        registered=count(ReviewStatus.approved),
        registered_motor=count(ReviewStatus.approved, VehicleKind.motor),
        registered_ebike=count(ReviewStatus.approved, VehicleKind.ebike),
        pending=count(ReviewStatus.pending),
        approved=count(ReviewStatus.approved),
        rejected=count(ReviewStatus.rejected),
    )


# --- e-bike QR labels ---------------------------------------------------------------------------


def _label_out(row: Vehicle) -> LabelOut:
    registrant = row.registrant if row.registrant_id is not None else None
    return LabelOut(
        id=row.id,
        plate=row.plate,
        owner_name=row.owner_name,
        registrant_name=registrant.name if registrant else None,
        registrant_number=registrant.number if registrant else None,
        valid_until=row.valid_until,
        long_term=is_long_term(row),
        label_prints=row.label_prints,
    )


async def labels(principal: Principal, ids: Sequence[int]) -> list[LabelOut]:
    """The labels of these e-bikes of the principal's school, in plate order (others are skipped)."""
    rows = (
        await scoped(Vehicle, principal)
        .filter(id__in=list(ids)[:MAX_LABELS], kind=VehicleKind.ebike)
        .select_related("registrant")
        .order_by("plate")
    )
    return [_label_out(row) for row in rows]


async def print_labels(principal: Principal, ids: Sequence[int]) -> list[LabelOut]:
    """Count one print on each chosen e-bike and return their labels."""
    wanted = sorted(set(ids))[:MAX_LABELS]
    if not wanted:
        raise Invalid("ids", "ebike_labels.error.none_chosen")
    async with in_transaction():
        query = scoped(Vehicle, principal).filter(id__in=wanted, kind=VehicleKind.ebike)
        found = [int(str(i)) for i in await query.values_list("id", flat=True)]
        if not found:
            raise Invalid("ids", "ebike_labels.error.none_chosen")
        await (
            scoped(Vehicle, principal)
            .filter(id__in=found)
            .update(label_prints=F("label_prints") + 1)
        )
        for ident in found:
            await audit(principal, "print", "vehicle", ident)
    return await labels(principal, found)


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

VEHICLES = Crud(
    list=list_vehicles,
    get=get_vehicle,
    create=create_vehicle,
    update=update_vehicle,
    set_enabled=set_vehicle_enabled,
    delete=delete_vehicle,
)
VEHICLE_PAGE = Crud(
    list=list_vehicles,
    get=get_vehicle,
    update=update_vehicle,
    set_enabled=set_vehicle_enabled,
    delete=delete_vehicle,
)
REVIEWS = Crud(list=list_vehicles, get=get_vehicle, create=create_vehicle)
EBIKES = Crud(list=list_ebikes, get=get_vehicle)
