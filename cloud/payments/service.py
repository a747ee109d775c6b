"""Payment orders (3.4.3) and refunds (3.4.6): prepayments through a channel, the channel's
notifications applied once, refunds sent back through the channel; the lists. No HTTP here."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.charging.models import (
    ChargingOrder,
    OrderState,
    PaymentOrder,
    PaymentState,
    Refund,
    RefundState,
)
from cloud.charging.order_schemas import (
    PaymentCreated,
    PaymentFilter,
    PaymentIn,
    PaymentOut,
    RefundFilter,
    RefundOut,
    duration_text,
)
from cloud.crud import Crud, Page, PageParams, paginate, within
from cloud.db import is_postgres
from cloud.errors import Invalid, NotFound
from cloud.org.models import AuditLog
from cloud.org.service import audit, scoped
from cloud.parking import lane_payments
from cloud.parking.models import ParkingPayment
from cloud.payments.channels import Notification, channel
from protocols.tariffs import yuan

log = logging.getLogger(__name__)

PAYABLE = (OrderState.starting, OrderState.charging, OrderState.suspended, OrderState.stopping)
PAYMENT_RELATED = ("station", "order", "order__charger", "order__charger__area")
REFUND_RELATED = ("order", "order__station", "order__charger__area", "payment")


def _now() -> datetime:
    return datetime.now(UTC)


def _number(prefix: str) -> str:
    return f"{prefix}{_now():%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


# --- payment orders -----------------------------------------------------------------------------


def payment_out(row: PaymentOrder) -> PaymentOut:
    """Needs PAYMENT_RELATED fetched."""
    order = row.order if row.order_id is not None else None
    seconds = None
    if order is not None and order.started_at is not None:
        end = order.stopped_at or order.last_meter_at or order.started_at
        seconds = int((end - order.started_at).total_seconds())
    return PaymentOut(
        id=row.id,
        number=row.number,
        order_id=row.order_id,
        order_number=order.number if order is not None else "",
        station_id=row.station_id,
        station_name=row.station.name,
        area_name=order.charger.area.name if order is not None else "",
        charger_code=order.charger.code if order is not None else "",
        phone=row.phone,
        channel=row.channel,
        amount_fen=row.amount_fen,
        amount_yuan=yuan(row.amount_fen),
        state=row.state,
        channel_ref=row.channel_ref,
        callback=row.callback,
        created_at=row.created_at,
        paid_at=row.paid_at,
        order_duration=duration_text(seconds),
    )


async def list_payments(
    principal: Principal, f: PaymentFilter, params: PageParams
) -> Page[PaymentOut]:
    query = scoped(PaymentOrder, principal)
    if f.station:
        query = query.filter(station__name__icontains=f.station)
    if f.channel:
        query = query.filter(channel=f.channel)
    if f.state is not None:
        query = query.filter(state=f.state)
    if f.number:
        query = query.filter(Q(number__startswith=f.number) | Q(order__number__startswith=f.number))
    if f.phone:
        query = query.filter(phone__startswith=f.phone)
    query = within(query, "created_at", f.created_from, f.created_to)
    query = within(query, "paid_at", f.paid_from, f.paid_to)
    return await paginate(
        query,
        params,
        sorts={"created_at": "created_at", "paid_at": "paid_at", "amount_fen": "amount_fen"},
        default_sort="-created_at",
        convert=payment_out,
        related=PAYMENT_RELATED,
    )


async def get_payment(principal: Principal, ident: int) -> PaymentOut:
    row = await scoped(PaymentOrder, principal).filter(id=ident).first()
    if row is None:
        raise NotFound("payment", ident)
    await row.fetch_related(*PAYMENT_RELATED)
    return payment_out(row)


async def payments_of_order(order: ChargingOrder) -> list[PaymentOut]:
    rows = (
        await PaymentOrder.filter(order_id=order.id, tenant_id=order.tenant_id)
        .select_related(*PAYMENT_RELATED)
        .order_by("created_at", "id")
    )
    return [payment_out(row) for row in rows]


async def create_payment(
    principal: Principal, data: PaymentIn, notify_base: str, public_base: str
) -> PaymentCreated:
    """A prepayment for an order: the row (created), then the channel's checkout; the channel
    notifies `notify_base`/payments/callback/<channel> when the driver has paid."""
    gateway = channel(data.channel)
    if gateway is None:
        raise Invalid("channel", "payments.error.channel")
    async with in_transaction():
        order = await scoped(ChargingOrder, principal).filter(id=data.order_id).first()
        if order is None:
            raise Invalid("order_id", "error.reference")
        if order.state not in PAYABLE:
            raise Invalid("order_id", "payments.error.order_state")
        row = await PaymentOrder.create(
            tenant_id=principal.tenant_id,
            number=_number("P"),
            order_id=order.id,
            station_id=order.station_id,
            phone=order.phone,
            channel=gateway.name,
            amount_fen=data.amount_fen,
        )
        checkout = await gateway.create(
            row.number,
            row.amount_fen,
            f"{notify_base}/payments/callback/{gateway.name}",
            public_base,
        )
        row.channel_ref = checkout.channel_ref
        await row.save(update_fields=["channel_ref"])
        await audit(
            principal,
            "create",
            "payment",
            row.id,
            {"amount_fen": {"from": None, "to": row.amount_fen}},
        )
    out = await get_payment(principal, row.id)
    return PaymentCreated(**out.model_dump(), pay_url=checkout.pay_url)


async def apply_notification(
    channel_name: str, note: Notification
) -> PaymentOrder | ParkingPayment:
    """Mark the payment paid and add it to its order's prepaid amount, once: a second delivery
    of the same notification finds it paid and changes nothing. NotFound for an unknown
    payment, Invalid when the amount or number disagrees with ours. A parking payment (a lot
    lane's QR, a prepayment) is applied by the parking domain."""
    if await lane_payments.is_parking_payment(note.payment):
        return await lane_payments.apply_notification(channel_name, note)
    async with in_transaction():
        query = PaymentOrder.filter(channel=channel_name, channel_ref=note.channel_ref)
        if is_postgres():
            query = query.select_for_update()
        row = await query.first()
        if row is None:
            raise NotFound("payment", note.channel_ref)
        if row.number != note.payment or row.amount_fen != note.amount_fen:
            raise Invalid("amount_fen", "payments.error.mismatch")
        if row.state != PaymentState.created:
            return row  # delivered before: nothing changes
        before = row.state
        if note.status == "paid":
            row.state = PaymentState.paid
            row.paid_at = note.paid_at
        else:
            row.state = PaymentState.failed
        row.callback = note.raw
        await row.save(update_fields=["state", "paid_at", "callback"])
        if row.state == PaymentState.paid and row.order_id is not None:
            await ChargingOrder.filter(id=row.order_id).update(
                prepaid_fen=F("prepaid_fen") + row.amount_fen
            )
        await AuditLog.create(
            tenant_id=row.tenant_id,
            action="update",
            entity="payment",
            entity_id=str(row.id),
            detail={"changes": {"state": {"from": before.value, "to": row.state.value}}},
        )
    return row


# --- refunds ------------------------------------------------------------------------------------


def refund_out(row: Refund) -> RefundOut:
    """Needs REFUND_RELATED fetched."""
    order = row.order
    payment = row.payment if row.payment_id is not None else None
    return RefundOut(
        id=row.id,
        number=row.number,
        order_id=row.order_id,
        order_number=order.number,
        payment_id=row.payment_id,
        payment_number=payment.number if payment is not None else "",
        station_name=order.station.name,
        area_name=order.charger.area.name,
        order_total_fen=order.total_fen,
        paid_fen=order.prepaid_fen,
        amount_fen=row.amount_fen,
        amount_yuan=yuan(row.amount_fen),
        order_total_yuan=yuan(order.total_fen),
        paid_yuan=yuan(order.prepaid_fen),
        reason=row.reason,
        payee=row.payee,
        operator=row.operator,
        state=row.state,
        channel_ref=row.channel_ref,
        created_at=row.created_at,
        done_at=row.done_at,
    )


async def list_refunds(
    principal: Principal, f: RefundFilter, params: PageParams
) -> Page[RefundOut]:
    query = scoped(Refund, principal)
    if f.station:
        query = query.filter(order__station__name__icontains=f.station)
    if f.state is not None:
        query = query.filter(state=f.state)
    if f.payee:
        query = query.filter(payee__icontains=f.payee)
    if f.number:
        query = query.filter(Q(number__startswith=f.number) | Q(order__number__startswith=f.number))
    query = within(query, "created_at", f.created_from, f.created_to)
    query = within(query, "done_at", f.done_from, f.done_to)
    return await paginate(
        query,
        params,
        sorts={"created_at": "created_at", "done_at": "done_at", "amount_fen": "amount_fen"},
        default_sort="-created_at",
        convert=refund_out,
        related=REFUND_RELATED,
    )


async def get_refund(principal: Principal, ident: int) -> RefundOut:
    row = await scoped(Refund, principal).filter(id=ident).first()
    if row is None:
        raise NotFound("refund", ident)
    await row.fetch_related(*REFUND_RELATED)
    return refund_out(row)


async def refunds_of_order(order: ChargingOrder) -> list[RefundOut]:
    rows = (
        await Refund.filter(order_id=order.id, tenant_id=order.tenant_id)
        .select_related(*REFUND_RELATED)
        .order_by("created_at", "id")
    )
    return [refund_out(row) for row in rows]


async def send_refund(
    principal: Principal, order: ChargingOrder, amount_fen: int, reason: str, payee: str
) -> Refund:
    """Record a refund and send it through the channel of the order's paid payment with the
    most left to refund (inside the caller's transaction, the order row locked). Without a
    channel payment (an operator's prepayment, a card) it is recorded as handed back."""
    paid = await PaymentOrder.filter(order_id=order.id, state=PaymentState.paid).order_by("id")
    best: tuple[PaymentOrder, int] | None = None
    for payment in paid:
        taken = await Refund.filter(payment_id=payment.id).exclude(state=RefundState.failed)
        left = payment.amount_fen - sum(r.amount_fen for r in taken)
        if best is None or left > best[1]:
            best = (payment, left)
    if best is not None and best[1] < amount_fen:
        raise Invalid("amount_fen", "payments.error.refund_split")
    row = await Refund.create(
        tenant_id=principal.tenant_id,
        number=_number("R"),
        order_id=order.id,
        payment_id=best[0].id if best else None,
        amount_fen=amount_fen,
        reason=reason,
        payee=payee,
        operator=principal.account,
    )
    if best is None:
        row.state = RefundState.done
        row.channel_ref = "manual"
        row.done_at = _now()
    else:
        gateway = channel(best[0].channel)
        if gateway is None:
            raise Invalid("amount_fen", "payments.error.channel")
        receipt = await gateway.refund(best[0].channel_ref, row.number, amount_fen)
        row.channel_ref = receipt.channel_ref
        row.state = RefundState.done if receipt.done else RefundState.pending
        row.done_at = _now() if receipt.done else None
    await row.save(update_fields=["state", "channel_ref", "done_at"])
    await audit(
        principal,
        "refund",
        "refund",
        row.id,
        {
            "amount_fen": {"from": None, "to": amount_fen},
            "order": {"from": None, "to": order.number},
        },
    )
    return row


PAYMENTS = Crud(list=list_payments, get=get_payment)
REFUNDS = Crud(list=list_refunds, get=get_refund)
