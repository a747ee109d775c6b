"""Arrears (欠费): what a parking order left owing, kept in step with the order, published per
plate to every lot and road section of the tenant, settled (补缴), voided or reminded. No HTTP.

An order that completes owing (due above paid, not free) has one Arrears row; a later payment
for the order, a collector's collection or an operator's 补缴 settles it; voiding forgives it.
Every change republishes the plate's protocols.parking.ArrearsGrant (removed when the plate
owes nothing), inside the transaction of the change.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from tortoise.functions import Count, Max, Min, Sum
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, within
from cloud.db import is_postgres
from cloud.errors import Conflict, Invalid, NotFound
from cloud.notify.service import Template, notify, valid_phone
from cloud.org.service import audit, scoped
from cloud.parking import texts_orders as _texts  # noqa: F401 - the reminder's body
from cloud.parking.memo import memo
from cloud.parking.models import (
    Arrears,
    ArrearsState,
    MonthlyPass,
    MonthlyPassState,
    OrderState,
    ParkingOrder,
    ParkingPayment,
    ParkingPaymentState,
    PaymentMethod,
    PayState,
)
from cloud.parking.order_schemas import (
    ArrearsCollectIn,
    ArrearsFilter,
    ArrearsOut,
    ArrearsVehicleFilter,
    ArrearsVehicleOut,
    ReminderOut,
    RemindIn,
    VoidIn,
)
from cloud.parking.publish import publish_many_to_tenant
from protocols.parking import ArrearsGrant, ArrearsItem
from protocols.plates import is_valid_plate, normalize_plate
from protocols.sync import Entity
from protocols.tariffs import yuan

SORTS = {"occurred_at": "occurred_at", "amount_fen": "amount_fen", "plate": "plate"}
VEHICLE_SORTS = {"total_fen": "total", "count": "n", "plate": "plate", "last_at": "last"}


def _now() -> datetime:
    return datetime.now(UTC)


def payment_number(payment_uuid: uuidlib.UUID, at: datetime) -> str:
    """A parking payment's number: its UTC time and the uuid's head, the same for every replay."""
    return f"PP{at.astimezone(UTC):%Y%m%d%H%M%S}{payment_uuid.hex[:8].upper()}"


# --- publication ------------------------------------------------------------------------------


async def publish_plate(tenant_id: int, plate: str) -> None:
    """The plate's unpaid arrears to every lot and road section (None when it owes nothing)."""
    await publish_plates(tenant_id, {plate})


async def publish_plates(tenant_id: int, plates: set[str]) -> None:
    """`publish_plate` for many plates at once: one query for their arrears, and per parking
    site one revision bump and one insert (a catch-up batch of unpaid stays touches hundreds
    of plates, and each plate goes to every site of the tenant)."""
    plates = {plate for plate in plates if plate}  # a stay nobody read: nothing to look up
    if not plates:
        return
    rows = (
        await Arrears.filter(
            tenant_id=tenant_id, plate__in=sorted(plates), state=ArrearsState.unpaid
        )
        .select_related("order", "site")
        .order_by("occurred_at", "id")
    )
    owed: dict[str, list[ArrearsItem]] = {}
    for row in rows:
        if row.amount_fen > 0:
            owed.setdefault(row.plate, []).append(
                ArrearsItem(
                    order=str(row.order.uuid),
                    site=row.site.code,
                    amount_fen=row.amount_fen,
                    occurred_at=row.occurred_at,
                )
            )
    changes: list[tuple[Entity, str, BaseModel | None]] = []
    for plate in sorted(plates):
        items = owed.get(plate)
        grant = (
            ArrearsGrant(total_fen=sum(i.amount_fen for i in items), items=items) if items else None
        )
        changes.append((Entity.arrears, plate, grant))
    await publish_many_to_tenant(tenant_id, changes)


# --- keeping an order and its arrears in step -------------------------------------------------


def within_free_minutes(row: ParkingOrder) -> bool:
    """Whether the stay's bill (the cloud's, else the edge's) says it left within the free
    minutes (15分钟免费)."""
    for bill in ((row.bill or {}).get("cloud"), row.edge_bill):
        if isinstance(bill, dict) and "within_free_minutes" in bill:
            return bool(bill["within_free_minutes"])
    return False


async def reconcile(
    row: ParkingOrder, *, at: datetime, settled_by: str = "", payment: str = ""
) -> set[str]:
    """Set the order's pay_state from its state, due and paid; open, resize, settle or void
    its Arrears to match. Saves the order; returns the plates whose arrears changed (the
    caller publishes them, once per change set)."""
    touched: set[str] = set()
    batch = memo()
    if batch is not None and ("arrears", row.id) in batch:
        held: Arrears | None = batch[("arrears", row.id)]
    else:
        held = await Arrears.filter(order_id=row.id).first()
    before = (held.state, held.amount_fen, held.plate) if held is not None else None
    free = bool(row.free_reason)
    if row.state == OrderState.void:
        if held is not None and held.state == ArrearsState.unpaid:
            held.state = ArrearsState.void
            held.void_reason = row.void_reason or "order void"
    elif free:
        row.pay_state = PayState.free
        row.due_fen = 0
        if held is not None and held.state == ArrearsState.unpaid:
            held.state = ArrearsState.void
            held.void_reason = f"free: {row.free_reason}"[:255]
    elif row.state == OrderState.completed:
        owing = row.due_fen - row.paid_fen
        if owing > 0:
            row.pay_state = PayState.arrears
            if held is None:
                held = Arrears(
                    tenant_id=row.tenant_id,
                    order_id=row.id,
                    site_id=row.site_id,
                    plate=row.plate,
                    amount_fen=owing,
                    occurred_at=row.exited_at or at,
                )
            elif held.state != ArrearsState.void:
                held.state = ArrearsState.unpaid
                held.amount_fen = owing
                held.settled_at = None
        else:
            grace = row.due_fen == 0 and within_free_minutes(row)
            row.pay_state = PayState.grace if grace else PayState.paid
            if held is not None and held.state == ArrearsState.unpaid:
                held.state = ArrearsState.paid
                held.settled_at = at
                held.settled_by = settled_by[:64]
                held.payment = payment[:36]
    else:
        row.pay_state = PayState.partly_paid if row.paid_fen > 0 else PayState.unpaid
    if held is not None:
        held.plate = row.plate
        after = (held.state, held.amount_fen, held.plate)
        if after != before:
            await held.save()
            if batch is not None:
                batch[("arrears", row.id)] = held
            touched.add(row.plate)
            if before is not None:
                touched.add(before[2])
    await row.save()
    return touched


async def settle_orders(
    tenant_id: int,
    orders: list[str],
    *,
    payment: str,
    collector: str,
    at: datetime,
) -> tuple[int, set[str]]:
    """Settle the unpaid arrears of these orders (uuids) with one payment: each order gains
    its arrears as paid. Returns (fen settled, plates touched); arrears already paid or void
    are left as they are."""
    settled = 0
    touched: set[str] = set()
    for text in orders:
        try:
            key = uuidlib.UUID(text)
        except ValueError:
            continue
        row = await ParkingOrder.filter(tenant_id=tenant_id, uuid=key).first()
        if row is None:
            continue
        held = await Arrears.filter(order_id=row.id, state=ArrearsState.unpaid).first()
        if held is None:
            continue
        row.paid_fen += held.amount_fen
        settled += held.amount_fen
        touched |= await reconcile(row, at=at, settled_by=collector, payment=payment)
    return settled, touched


# --- output ---------------------------------------------------------------------------------------


def arrears_out(row: Arrears, order: ParkingOrder | None = None) -> ArrearsOut:
    """Needs site fetched, and the order (fetched, or given)."""
    order = order or row.order
    return ArrearsOut(
        id=row.id,
        order_id=row.order_id,
        order_number=order.number,
        order_uuid=order.uuid,
        site_id=row.site_id,
        site_name=row.site.name,
        berth=order.berth,
        plate=row.plate,
        amount_fen=row.amount_fen,
        amount_yuan=yuan(row.amount_fen),
        state=row.state,
        occurred_at=row.occurred_at,
        settled_at=row.settled_at,
        settled_by=row.settled_by,
        payment=row.payment,
        void_reason=row.void_reason,
        reminded_at=row.reminded_at,
        reminders=row.reminders,
    )


def _plate_query(plate: str) -> dict[str, str]:
    plate = normalize_plate(plate)
    if not plate:
        return {}
    return {"plate": plate} if is_valid_plate(plate) else {"plate__startswith": plate}


async def list_arrears(
    principal: Principal, f: ArrearsFilter, params: PageParams
) -> Page[ArrearsOut]:
    """欠费记录, newest first."""
    query = scoped(Arrears, principal).filter(**_plate_query(f.plate))
    if f.site_id is not None:
        query = query.filter(site_id=f.site_id)
    if f.state is not None:
        query = query.filter(state=f.state)
    query = within(query, "occurred_at", f.occurred_from, f.occurred_to)
    return await paginate(
        query,
        params,
        sorts=SORTS,
        default_sort="-occurred_at",
        convert=arrears_out,
        related=("site", "order"),
    )


async def _fetch(principal: Principal, ident: int) -> Arrears:
    row = await scoped(Arrears, principal).filter(id=ident).select_related("site", "order").first()
    if row is None:
        raise NotFound("arrears", ident)
    return row


async def get_arrears(principal: Principal, ident: int) -> ArrearsOut:
    return arrears_out(await _fetch(principal, ident))


async def list_vehicles(
    principal: Principal, f: ArrearsVehicleFilter, params: PageParams
) -> Page[ArrearsVehicleOut]:
    """欠费车辆: plates with unpaid arrears, by amount owed (or count) from high to low."""
    query = (
        scoped(Arrears, principal)
        .filter(state=ArrearsState.unpaid, **_plate_query(f.plate))
        .exclude(plate="")
    )
    grouped = query.annotate(
        total=Sum("amount_fen"),
        n=Count("id"),
        first=Min("occurred_at"),
        last=Max("occurred_at"),
        reminded=Max("reminded_at"),
        reminders=Max("reminders"),
    ).group_by("plate")
    if f.min_total_fen is not None:
        grouped = grouped.filter(total__gte=f.min_total_fen)
    rows = await grouped.values("plate", "total", "n", "first", "last", "reminded", "reminders")
    column = VEHICLE_SORTS.get(params.sort, "total")
    descending = params.desc if params.sort in VEHICLE_SORTS else True
    rows.sort(key=lambda r: r["plate"], reverse=False)
    rows.sort(
        key=lambda r: (r[column] is None, r[column] or 0) if column != "plate" else r[column],
        reverse=descending,
    )
    start = (params.page - 1) * params.page_size
    return Page(
        items=[
            ArrearsVehicleOut(
                plate=str(r["plate"]),
                total_fen=int(r["total"] or 0),
                total_yuan=yuan(int(r["total"] or 0)),
                count=int(r["n"] or 0),
                first_at=_aware(r["first"]),
                last_at=_aware(r["last"]),
                reminded_at=_aware(r["reminded"]),
                reminders=int(r["reminders"] or 0),
            )
            for r in rows[start : start + params.page_size]
        ],
        total=len(rows),
        page=params.page,
        page_size=params.page_size,
    )


def _aware(value: Any) -> datetime | None:
    """Aggregates come back as text on SQLite and naive or aware datetimes elsewhere."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


# --- void, collect, remind ------------------------------------------------------------------------


async def _locked(principal: Principal, ident: int) -> Arrears:
    query = scoped(Arrears, principal).filter(id=ident)
    if is_postgres():
        query = query.select_for_update()
    row = await query.first()
    if row is None:
        raise NotFound("arrears", ident)
    return row


async def void_arrears(principal: Principal, ident: int, data: VoidIn) -> ArrearsOut:
    """作废 an unpaid record (with a reason): the plate no longer owes it."""
    async with in_transaction():
        row = await _locked(principal, ident)
        if row.state != ArrearsState.unpaid:
            raise Conflict("state", "parking.arrears.error.not_unpaid")
        if not data.reason:
            raise Invalid("reason", "error.required")
        row.state = ArrearsState.void
        row.void_reason = data.reason
        row.settled_by = principal.account[:64]
        row.settled_at = _now()
        await row.save()
        await publish_plate(row.tenant_id, row.plate)
        await audit(
            principal,
            "void",
            "parking_arrears",
            row.id,
            {
                "state": {"from": "unpaid", "to": "void"},
                "reason": {"from": None, "to": data.reason},
            },
        )
    return await get_arrears(principal, ident)


async def collect_arrears(principal: Principal, ident: int, data: ArrearsCollectIn) -> ArrearsOut:
    """补缴 at the office: the operator takes the amount in cash; a ParkingPayment (purpose
    arrears) settles the record and the order gains it as paid."""
    async with in_transaction():
        row = await _locked(principal, ident)
        if row.state != ArrearsState.unpaid:
            raise Conflict("state", "parking.arrears.error.not_unpaid")
        if data.method != PaymentMethod.cash.value:
            raise Invalid("method", "parking.arrears.error.method")
        order = await ParkingOrder.get(id=row.order_id)
        now = _now()
        key = uuidlib.uuid4()
        await ParkingPayment.create(
            tenant_id=row.tenant_id,
            uuid=key,
            number=payment_number(key, now),
            site_id=row.site_id,
            orders=[str(order.uuid)],
            plate=row.plate,
            purpose="arrears",
            method=PaymentMethod.cash,
            amount_fen=row.amount_fen,
            state=ParkingPaymentState.paid,
            collector=principal.account[:64],
            paid_at=now,
        )
        _, touched = await settle_orders(
            row.tenant_id, [str(order.uuid)], payment=str(key), collector=principal.account, at=now
        )
        await publish_plates(row.tenant_id, touched | {row.plate})
        await audit(
            principal,
            "collect",
            "parking_arrears",
            row.id,
            {
                "state": {"from": "unpaid", "to": "paid"},
                "amount_fen": {"from": None, "to": row.amount_fen},
            },
        )
    return await get_arrears(principal, ident)


async def holder_phone(tenant_id: int, plate: str) -> str:
    """The phone of the plate's monthly pass holder (an active pass first), or ""."""
    passes = await MonthlyPass.filter(tenant_id=tenant_id).exclude(phone="").order_by("-issued_at")
    bound = [p for p in passes if plate in (p.plates or [])]
    bound.sort(key=lambda p: p.state != MonthlyPassState.active)
    return bound[0].phone if bound else ""


async def remind(principal: Principal, data: RemindIn) -> ReminderOut:
    """提醒: a message about the plate's unpaid arrears to the phone typed, else the phone of
    its monthly pass holder; the records note when and how often they were reminded."""
    plate = normalize_plate(data.plate)
    async with in_transaction():
        rows = await scoped(Arrears, principal).filter(plate=plate, state=ArrearsState.unpaid)
        if not rows:
            raise Invalid("plate", "parking.arrears.error.nothing_owed")
        phone = data.phone or await holder_phone(principal.tenant_id, plate)
        if not phone:
            raise Invalid("phone", "parking.arrears.error.no_phone")
        phone = valid_phone(phone)
        total = sum(r.amount_fen for r in rows)
        message = await notify(
            principal.tenant_id,
            Template.parking_arrears,
            phone,
            {"plate": plate, "count": len(rows), "total": yuan(total)},
        )
        now = _now()
        for row in rows:
            row.reminded_at = now
            row.reminders += 1
            await row.save(update_fields=["reminded_at", "reminders"])
        await audit(
            principal, "remind", "parking_arrears", plate, {"phone": {"from": None, "to": phone}}
        )
    return ReminderOut(
        plate=plate,
        phone=phone,
        total_fen=total,
        count=len(rows),
        message_id=message.id,
        body=message.body,
    )


ARREARS = Crud(list=list_arrears, get=get_arrears)
VEHICLES = Crud(list=list_vehicles)
