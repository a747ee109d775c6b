"""Lot lane payments (no HTTP here): the fee a lane is holding (from the edge's
parking.fee_assessed, read back from the sync ledger), lane-QR and prepaid payments through a
payment channel, the channel's paid notification turned into a `lane_paid` command for the
lot's edge, and no-plate QR tickets turned into `lane_ticket` commands.
"""

from __future__ import annotations

import logging
import secrets
import uuid as uuidlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from cloud import sync
from cloud.db import is_postgres
from cloud.errors import Invalid, NotFound
from cloud.org.models import AuditLog
from cloud.parking import arrears, orders
from cloud.parking.models import (
    Berth,
    OrderState,
    ParkingOrder,
    ParkingPayment,
    ParkingPaymentState,
    PaymentMethod,
)
from cloud.parking.publish import publish_berth
from cloud.payments.channels import Notification, channel
from cloud.sites.models import Command, Edge, Lane, Site, SyncEvent
from cloud.state import wake_edges
from protocols.events import NoPlateTicket, ParkingFeeAssessed
from protocols.parking import LanePaid, LaneTicket
from protocols.site import Direction, SiteKind
from protocols.sync import CommandKind

log = logging.getLogger(__name__)

# A lane's assessment is what the car at the lane owes for this long (then it is stale).
PENDING_FOR = timedelta(minutes=15)
# How far back in an edge's ledger a lane's assessment is looked for.
LEDGER_WINDOW = 5000
# A paid fee's command waits for the edge this long (money was taken: worth delivering late).
PAID_TTL = timedelta(hours=1)
TICKET_TTL = timedelta(minutes=2)
PAYMENT_PREFIX = "PL"  # lane and prepaid payment numbers (charging payments start with P2...)


def _now() -> datetime:
    return datetime.now(UTC)


def _number() -> str:
    return f"{PAYMENT_PREFIX}{_now():%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


async def lot_lane(tenant_id: int, code: str) -> tuple[Lane, Site] | None:
    """An enabled lane of one of the tenant's lots, with its site."""
    lane = await Lane.get_or_none(tenant_id=tenant_id, code=code, enabled=True)
    if lane is None:
        return None
    site = await Site.get_or_none(id=lane.site_id, tenant_id=tenant_id)
    if site is None or site.kind != SiteKind.parking_lot:
        return None
    return lane, site


async def lot_site(tenant_id: int, code: str) -> Site | None:
    return await Site.get_or_none(tenant_id=tenant_id, code=code, kind=SiteKind.parking_lot)


# --- what a lane holds --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """The fee a lane is holding a car for, and what the driver still owes."""

    session: str
    plate: str
    entered_at: datetime
    assessed_at: datetime
    due_fen: int
    paid_fen: int

    @property
    def owed_fen(self) -> int:
        return max(0, self.due_fen - self.paid_fen)

    @property
    def minutes(self) -> int:
        return max(0, int((self.assessed_at - self.entered_at).total_seconds()) // 60)


async def _paid_for(tenant_id: int, session: str, since: datetime) -> int:
    rows = await ParkingPayment.filter(
        tenant_id=tenant_id, state=ParkingPaymentState.paid, created_at__gte=since
    ).values_list("orders", "amount_fen")
    return sum(int(amount) for owned, amount in rows if session in (owned or []))


async def _ended(tenant_id: int, session: str) -> bool:
    key = orders.session_uuid(session)
    if key is None:
        return True
    order = await ParkingOrder.get_or_none(tenant_id=tenant_id, uuid=key)
    return order is not None and order.state != OrderState.in_progress


async def pending_at(lane: Lane, site: Site) -> Pending | None:
    """The latest assessment an edge of the lot reported for this exit lane, unless stale or
    its session has ended since."""
    now = _now()
    edges = await Edge.filter(tenant_id=site.tenant_id, sites__id=site.id)
    best: ParkingFeeAssessed | None = None
    for edge in edges:
        rows = (
            await SyncEvent.filter(
                edge_id=edge.id,
                seq__gt=edge.acked_seq - LEDGER_WINDOW,
                type="parking.fee_assessed",
                site=site.code,
                error="",
            )
            .order_by("-seq")
            .limit(50)
        )
        for row in rows:
            if row.payload.get("lane") != lane.code:
                continue
            found = ParkingFeeAssessed.model_validate(row.payload)
            if best is None or found.assessed_at > best.assessed_at:
                best = found
            break
    if best is None or now - best.assessed_at > PENDING_FOR:
        return None
    if await _ended(site.tenant_id, best.session):
        return None
    paid = await _paid_for(site.tenant_id, best.session, best.entered_at - timedelta(days=1))
    return Pending(best.session, best.plate, best.entered_at, best.assessed_at, best.due_fen, paid)


@dataclass(frozen=True)
class Stay:
    """A vehicle still in a lot and its fee so far (the prepay page)."""

    order: ParkingOrder
    due_fen: int
    paid_fen: int

    @property
    def owed_fen(self) -> int:
        return max(0, self.due_fen - self.paid_fen)


async def stay_of(site: Site, plate: str) -> Stay | None:
    """The plate's open stay in this lot with its fee until now (the cloud's bill, the same
    evaluator and tariff the edge uses)."""
    order = (
        await ParkingOrder.filter(
            tenant_id=site.tenant_id, site_id=site.id, plate=plate, state=OrderState.in_progress
        )
        .order_by("-entered_at")
        .first()
    )
    if order is None:
        return None
    due = 0
    if not order.free_reason:
        _, bill = await orders.cloud_bill(order, _now())
        due = orders.bill_total(bill) or 0
    paid = await _paid_for(site.tenant_id, str(order.uuid), order.entered_at - timedelta(days=1))
    return Stay(order, due, paid)


# --- payments -----------------------------------------------------------------------------------


async def create_payment(
    site: Site,
    session: str,
    plate: str,
    amount_fen: int,
    lane: str,
    notify_base: str,
    public_base: str,
    channel_name: str = "sim",
) -> ParkingPayment:
    """A channel payment of a lot session's fee (lane: the exit lane whose QR was scanned;
    "" for a prepayment). The channel notifies /payments/callback/<channel> when paid."""
    gateway = channel(channel_name)
    if gateway is None:
        raise Invalid("channel", "payments.error.channel")
    if amount_fen <= 0:
        raise Invalid("amount_fen", "parking.lane_pay.error.nothing_due")
    async with in_transaction():
        row = await ParkingPayment.create(
            tenant_id=site.tenant_id,
            uuid=uuidlib.uuid4(),
            number=_number(),
            site_id=site.id,
            orders=[session],
            plate=plate,
            purpose="parking",
            method=PaymentMethod.qr if lane else PaymentMethod.prepaid,
            channel=gateway.name,
            amount_fen=amount_fen,
            state=ParkingPaymentState.created,
            lane=lane,
        )
        checkout = await gateway.create(
            row.number,
            amount_fen,
            f"{notify_base}/payments/callback/{gateway.name}",
            public_base,
        )
        row.channel_ref = checkout.channel_ref
        await row.save(update_fields=["channel_ref"])
    return row


async def is_parking_payment(number: str) -> bool:
    return number.startswith(PAYMENT_PREFIX) and await ParkingPayment.exists(number=number)


async def apply_notification(channel_name: str, note: Notification) -> ParkingPayment:
    """Mark the payment paid once and, in the same transaction, issue the `lane_paid` command
    to the lot's edge: a second delivery finds it paid and changes nothing. NotFound for an
    unknown payment, Invalid when the channel's reference or amount disagrees with ours."""
    async with in_transaction():
        query = ParkingPayment.filter(number=note.payment, channel=channel_name)
        if is_postgres():
            query = query.select_for_update()
        row = await query.first()
        if row is None:
            raise NotFound("payment", note.payment)
        if row.channel_ref != note.channel_ref or row.amount_fen != note.amount_fen:
            raise Invalid("amount_fen", "payments.error.mismatch")
        if row.state != ParkingPaymentState.created:
            return row  # delivered before: nothing changes
        before = row.state
        row.callback = note.raw
        if note.status == "paid":
            row.state = ParkingPaymentState.paid
            row.paid_at = note.paid_at
        else:
            row.state = ParkingPaymentState.closed
        await row.save(update_fields=["state", "paid_at", "callback"])
        berth_order = await _berth_order(row)
        if row.state == ParkingPaymentState.paid and berth_order is not None:
            await _berth_paid(row, berth_order, note.paid_at)
        elif row.state == ParkingPaymentState.paid and row.orders:
            paid = LanePaid(
                session=row.orders[0],
                payment=str(row.uuid),
                amount_fen=row.amount_fen,
                paid_at=note.paid_at,
            )
            await _command(row.tenant_id, row.site_id, CommandKind.lane_paid, paid, row.lane)
        await AuditLog.create(
            tenant_id=row.tenant_id,
            action="update",
            entity="parking_payment",
            entity_id=str(row.id),
            detail={"changes": {"state": {"from": before.value, "to": row.state.value}}},
        )
    wake_edges()  # after the commit, so a woken long-poll finds the command
    return row


async def _berth_order(row: ParkingPayment) -> ParkingOrder | None:
    """The on-street order a payment is for (None for a lot's: those go to the lane)."""
    key = orders.session_uuid(row.orders[0]) if row.orders else None
    if key is None:
        return None
    found = await ParkingOrder.get_or_none(tenant_id=row.tenant_id, uuid=key)
    return found if found is not None and found.berth else None


async def _berth_paid(row: ParkingPayment, order: ParkingOrder, at: datetime) -> None:
    """A driver paid a berth stay by its receipt's QR: the order gains it (as prepaid while
    the car is still there, which the section's PDAs are told with the berth), and arrears the
    stay left are settled."""
    order.paid_fen += row.amount_fen
    if order.state == OrderState.in_progress:
        order.prepaid_fen += row.amount_fen
    plates = await arrears.reconcile(order, at=at, settled_by="driver", payment=str(row.uuid))
    await arrears.publish_plates(row.tenant_id, plates)
    berth = await Berth.get_or_none(tenant_id=row.tenant_id, code=order.berth)
    if berth is not None and berth.session == str(order.uuid):
        await publish_berth(berth)


async def berth_stay(tenant_id: int, session: str) -> tuple[Site, Stay] | None:
    """A berth stay (parked, or left owing) with its fee: until now while parked, else what
    the stay came to; None for an unknown or void order, or a lot's."""
    key = orders.session_uuid(session)
    order = await ParkingOrder.get_or_none(tenant_id=tenant_id, uuid=key) if key else None
    if order is None or not order.berth or order.state == OrderState.void:
        return None
    site = await Site.get(id=order.site_id)
    due = order.due_fen
    if order.state == OrderState.in_progress:
        due = 0
        if not order.free_reason:
            _, bill = await orders.cloud_bill(order, _now())
            due = orders.bill_total(bill) or 0
    return site, Stay(order, due, order.paid_fen)


async def _command(
    tenant_id: int,
    site_id: int,
    kind: CommandKind,
    payload: LanePaid | LaneTicket,
    lane: str,
    ttl: timedelta = PAID_TTL,
) -> Command:
    """A command for the lot's edge, issued by the system (a driver's payment or ticket, not an
    admin): cloud.sites.edges.issue_site_command wants a signed-in principal."""
    issued = _now()
    return await Command.create(
        id=uuidlib.uuid4(),
        tenant_id=tenant_id,
        site_id=site_id,
        lane=lane,
        kind=kind.value,
        payload=payload.model_dump(mode="json"),
        issued_by="driver",
        issued_at=issued,
        expires_at=issued + ttl,
    )


async def get_payment(tenant_id: int, number: str) -> ParkingPayment | None:
    return await ParkingPayment.get_or_none(tenant_id=tenant_id, number=number)


# --- no-plate tickets ---------------------------------------------------------------------------

_TICKET_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_ticket() -> str:
    return "NP" + "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(8))


async def ticket_command(lane: Lane, site: Site, ticket: str) -> Command:
    """Issue a `lane_ticket` command: take a ticket (entry lane) or present one (exit lane)."""
    payload = LaneTicket(ticket=ticket, issued_at=_now())
    async with in_transaction():
        command = await _command(
            site.tenant_id, site.id, CommandKind.lane_ticket, payload, lane.code, TICKET_TTL
        )
    wake_edges()
    return command


async def command_of(tenant_id: int, ident: str) -> Command | None:
    try:
        key = uuidlib.UUID(ident)
    except ValueError:
        return None
    return await Command.get_or_none(id=key, tenant_id=tenant_id)


def is_entry(lane: Lane) -> bool:
    return lane.direction == Direction.entry


# --- ingest -------------------------------------------------------------------------------------


async def _fee_assessed(edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    """Keep the lane's latest assessment on its in-progress order (due so far, the edge's bill);
    the pay page reads the assessment itself from the ledger, so an order the cloud has not
    heard of yet is left for the orders ingest to open."""
    for _, payload in items:
        assert isinstance(payload, ParkingFeeAssessed)
        site = sites.get(payload.site)
        key = orders.session_uuid(payload.session)
        if site is None or key is None:
            continue
        await ParkingOrder.filter(
            tenant_id=site.tenant_id, uuid=key, state=OrderState.in_progress
        ).update(due_fen=payload.due_fen, edge_bill=payload.bill, tariff=payload.tariff[:32])


async def _no_plate_ticket(edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    """A ticket's session is an order whose plate is the ticket code until someone corrects it."""
    for _, payload in items:
        assert isinstance(payload, NoPlateTicket)
        site = sites.get(payload.site)
        key = orders.session_uuid(payload.session)
        if site is None or key is None:
            continue
        await ParkingOrder.filter(tenant_id=site.tenant_id, uuid=key, plate="").update(
            plate=payload.ticket[:16]
        )


def setup() -> None:
    sync.register("parking.fee_assessed", _fee_assessed)
    sync.register("parking.no_plate_ticket", _no_plate_ticket)


def describe(row: ParkingPayment) -> dict[str, Any]:
    return {"number": row.number, "state": row.state.value, "amount_fen": row.amount_fen}
