"""Turns parking events from edges and PDAs into orders, payments and arrears (run inside the
sync ingest transaction): lot sessions started and ended, berth arrivals and departures,
plates set by collectors, payments, arrears collected, stays freed, receipts printed.

Every step is idempotent on the business key (orders by session uuid, payments by payment
uuid), so an event delivered again under another seq changes nothing. cloud.sync calls one
handler per event type in the order each type first appears in a batch; a batch holding a
whole offline day would then reach every departure before the payments made before them.
So one handler takes all these types: called for the first of them in a batch, it applies
every parking event of the batch in seq order (read back from the ledger rows the batch just
wrote); called for the others, it finds them applied. Events from different devices (the
section's edge and a collector's PDA) may still arrive in any order: a step for a session the
cloud has not heard of yet opens the order, and the arrival found later completes it.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from cloud import sync
from cloud.parking import arrears as arrears_service
from cloud.parking import orders
from cloud.parking.devices import record_detection
from cloud.parking.memo import batch_memo, memo
from cloud.parking.models import (
    Arrears,
    Berth,
    BerthStatus,
    OrderState,
    ParkingOrder,
    ParkingPayment,
    ParkingPaymentState,
    PaymentMethod,
)
from cloud.parking.publish import publish_berth
from cloud.sites.models import Edge, Site, SyncEvent
from protocols.events import (
    ArrearsCollected,
    BerthArrived,
    BerthDeparted,
    ParkingPaid,
    ParkingSessionEnded,
    ParkingSessionStarted,
    Payload,
    PlateSet,
    ReceiptPrinted,
    SessionFreed,
    parse_payload,
)
from protocols.parking import VehicleType
from protocols.plates import normalize_plate

log = logging.getLogger(__name__)

TYPES = (
    "parking.session_started",
    "parking.session_ended",
    "berth.arrived",
    "berth.departed",
    "parking.plate_set",
    "parking.paid",
    "parking.arrears_collected",
    "parking.freed",
    "parking.receipt_printed",
)
# Free reasons the cloud sets itself from the vehicle type (a corrected plate may clear them).
AUTO_FREE = {
    VehicleType.monthly: "monthly",
    VehicleType.company: "whitelist",
    VehicleType.special: "special",
}


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class Step:
    """What one event did: the plates whose arrears must be republished."""

    def __init__(self) -> None:
        self.plates: set[str] = set()


async def _order(site: Site, session: str) -> ParkingOrder | None:
    key = orders.session_uuid(session)
    if key is None:
        return None
    held = memo()
    if held is not None and ("order", key) in held:
        found: ParkingOrder | None = held[("order", key)]
        return found if found is not None and found.tenant_id == site.tenant_id else None
    return await ParkingOrder.filter(uuid=key, tenant_id=site.tenant_id).first()


async def _open(
    edge: Edge, site: Site, session: str, at: datetime, **fields: Any
) -> ParkingOrder | None:
    """The order of a session, opened (in progress) when the cloud has not heard of it."""
    row = await _order(site, session)
    if row is not None:
        return row
    key = orders.session_uuid(session)
    if key is None:
        log.warning("edge %s: session %r is not a uuid: event ignored", edge.code, session)
        return None
    at = _utc(at)
    row = await ParkingOrder.create(
        tenant_id=site.tenant_id,
        uuid=key,
        number=orders.order_number(key, at),
        site_id=site.id,
        edge_id=edge.id,
        entered_at=at,
        state=OrderState.in_progress,
        **fields,
    )
    if (held := memo()) is not None:
        held[("order", key)] = row
        held[("arrears", row.id)] = None  # a new order owes nothing yet
    return row


async def _set_plate(row: ParkingOrder, plate: str, given_class: str, at: datetime) -> None:
    """A plate (new or corrected): its class and vehicle type, and whether it parks free."""
    row.plate = plate
    row.vehicle_class = orders.vehicle_class(plate, given_class)
    kind = await orders.vehicle_type_of(row.tenant_id, row.site_id, plate, at)
    row.vehicle_type = kind.value
    auto = AUTO_FREE.get(kind, "")
    if auto and not row.free_reason:
        row.free_reason = auto
    elif not auto and row.free_reason in AUTO_FREE.values():
        row.free_reason = ""  # the plate it was free for was misread


async def _rebill(row: ParkingOrder) -> None:
    """A completed berth stay billed (again) by its section's tariff."""
    if row.exited_at is None:
        return
    key, bill = await orders.cloud_bill(row, row.exited_at)
    row.tariff = key
    total = orders.bill_total(bill)
    row.bill = {**(row.bill or {}), "cloud": bill}
    if total is not None:
        row.due_fen = total


# --- lots ---------------------------------------------------------------------------------------


async def _session_started(edge: Edge, site: Site, p: ParkingSessionStarted, step: Step) -> None:
    if await _order(site, p.session) is not None:
        return
    plate = normalize_plate(p.plate)
    row = await _open(edge, site, p.session, p.entered_at, entry_lane=p.lane)
    if row is None:
        return
    await _set_plate(row, plate, "", _utc(p.entered_at))
    # The entry and exit images are matched when the order is shown (orders.order_detail):
    # the access record may arrive after this event, and the match cost a query per event.
    step.plates |= await arrears_service.reconcile(row, at=_utc(p.entered_at))


async def _session_ended(edge: Edge, site: Site, p: ParkingSessionEnded, step: Step) -> None:
    entered = _utc(p.entered_at or p.exited_at)
    row = await _open(edge, site, p.session, entered)
    if row is None or row.state != OrderState.in_progress:
        return  # over already: a replay changes nothing
    exited = _utc(p.exited_at)
    plate = normalize_plate(p.plate)
    if p.entered_at is not None and _utc(p.entered_at) < row.entered_at:
        row.entered_at = _utc(p.entered_at)
    if plate and plate != row.plate:
        await _set_plate(row, plate, "", exited)
    row.exited_at = exited
    row.exit_lane = p.lane
    row.state = OrderState.completed
    row.tariff = p.tariff or row.tariff
    if p.free_reason:
        row.free_reason = p.free_reason[:32]
        row.vehicle_type = FREE_VEHICLE.get(p.free_reason, row.vehicle_type)
    row.edge_bill = p.bill
    key, bill = await orders.cloud_bill(row, exited)
    row.tariff = row.tariff or key
    cloud_total = orders.bill_total(bill)
    edge_total = orders.bill_total(p.bill)
    # The fee the lane asked (the edge's bill) is what the driver owes; the cloud's bill is
    # kept beside it, and a difference is flagged for review.
    if p.bill is not None:
        row.due_fen = p.due_fen
    elif cloud_total is not None:
        row.due_fen = cloud_total
    else:
        row.due_fen = p.due_fen
    mismatch = cloud_total is not None and edge_total is not None and cloud_total != edge_total
    if mismatch:
        log.warning(
            "order %s: edge billed %s fen, the cloud %s", row.number, edge_total, cloud_total
        )
    row.bill = {
        "cloud": bill,
        "edge_due_fen": p.due_fen,
        "edge_paid_fen": p.paid_fen,
        "mismatch": mismatch,
    }
    row.paid_fen = max(row.paid_fen, p.paid_fen)
    step.plates |= await arrears_service.reconcile(row, at=exited)


FREE_VEHICLE = {reason: kind.value for reason, kind in orders.FREE_TYPES.items()}


# --- berths -------------------------------------------------------------------------------------


async def _detection(
    site: Site, event_uuid: uuidlib.UUID, berth: str, sensor: str, session: str,
    kind: str, source: str, at: datetime,
) -> None:  # fmt: skip
    """The sensor's detection record (地磁检测记录, kept by cloud.parking.devices)."""
    await record_detection(
        site.tenant_id, site, event_uuid, berth, sensor, session, kind, source, at
    )


async def _berth(site: Site, code: str) -> Berth | None:
    return await Berth.filter(tenant_id=site.tenant_id, code=code).first()


async def _arrived(
    edge: Edge, site: Site, p: BerthArrived, step: Step, event_uuid: uuidlib.UUID
) -> None:
    at = _utc(p.at)
    await _detection(site, event_uuid, p.berth, p.sensor, p.session, "arrived", p.source, at)
    known = await _order(site, p.session)
    if known is not None:
        if known.state == OrderState.in_progress and at < known.entered_at:
            known.entered_at = at  # a PDA reported on it first; the sensor knows the arrival
            await known.save(update_fields=["entered_at", "updated_at"])
        return
    row = await _open(edge, site, p.session, at, berth=p.berth)
    if row is None:
        return
    berth = await _berth(site, p.berth)
    if berth is None:
        log.warning("edge %s: arrival at unknown berth %r", edge.code, p.berth)
        return
    held = berth.entered_at
    if berth.session and berth.session != p.session and held is not None and held > at:
        return  # the berth already holds a later stay
    berth.status = BerthStatus.occupied
    berth.session = p.session
    berth.entered_at = at
    berth.plate = ""
    await berth.save()
    await publish_berth(berth)


async def _departed(
    edge: Edge, site: Site, p: BerthDeparted, step: Step, event_uuid: uuidlib.UUID
) -> None:
    at = _utc(p.at)
    await _detection(site, event_uuid, p.berth, p.sensor, p.session, "departed", p.source, at)
    row = await _open(edge, site, p.session, at, berth=p.berth)
    if row is None:
        return
    await orders.free_berth(site.tenant_id, p.berth, p.session)
    if row.state != OrderState.in_progress:
        return
    row.exited_at = max(at, row.entered_at)
    row.state = OrderState.completed
    row.berth = row.berth or p.berth
    await _rebill(row)
    step.plates |= await arrears_service.reconcile(row, at=at)


async def _plate_set(edge: Edge, site: Site, p: PlateSet, step: Step) -> None:
    at = _utc(p.at)
    plate = normalize_plate(p.plate)
    row = await _open(edge, site, p.session, at, berth=p.berth)
    if row is None or row.state == OrderState.void:
        return
    before = row.plate
    await _set_plate(row, plate, p.vehicle_class, at)
    if p.collector:
        row.collector = p.collector[:64]
    if row.state == OrderState.completed:
        await _rebill(row)  # the class, or whether it parks free, may have changed
    step.plates |= await arrears_service.reconcile(row, at=at)
    if before != plate:
        step.plates.add(before)
    berth = await _berth(site, p.berth)
    if berth is not None and berth.session == p.session and berth.plate != plate:
        berth.plate = plate
        await berth.save()
        await publish_berth(berth)


def _method(value: str) -> PaymentMethod | None:
    try:
        return PaymentMethod(value)
    except ValueError:
        return None


async def _paid(edge: Edge, site: Site, p: ParkingPaid, step: Step) -> None:
    at = _utc(p.at)
    if p.method == "free":
        freed = SessionFreed(
            session=p.session, site=p.site, reason="free", collector=p.collector, at=p.at
        )
        await _freed(edge, site, freed, step)
        return
    method = _method(p.method)
    if method is None:
        log.warning(
            "edge %s: payment %s by unknown method %r ignored", edge.code, p.payment, p.method
        )
        return
    if await ParkingPayment.filter(uuid=p.payment).exists():
        return  # this payment is recorded already
    row = await _open(edge, site, p.session, at)
    if row is None:
        return
    await ParkingPayment.create(
        tenant_id=site.tenant_id,
        uuid=p.payment,
        number=arrears_service.payment_number(p.payment, at),
        site_id=site.id,
        orders=[str(row.uuid)],
        plate=row.plate,
        purpose="parking",
        method=method,
        channel=method.value if method == PaymentMethod.qr else "",
        channel_ref=p.channel_ref[:64],
        amount_fen=p.amount_fen,
        state=ParkingPaymentState.paid,
        collector=p.collector[:64],
        paid_at=at,
    )
    row.paid_fen += p.amount_fen
    if method == PaymentMethod.prepaid:
        row.prepaid_fen += p.amount_fen
    if p.collector:
        row.collector = p.collector[:64]
    if p.bill is not None and row.edge_bill is None:
        row.edge_bill = p.bill
    if row.state == OrderState.in_progress:
        row.due_fen = max(row.due_fen, p.due_fen)
    step.plates |= await arrears_service.reconcile(
        row, at=at, settled_by=p.collector, payment=str(p.payment)
    )


async def _arrears_collected(edge: Edge, site: Site, p: ArrearsCollected, step: Step) -> None:
    at = _utc(p.at)
    method = _method(p.method)
    if method is None:
        log.warning(
            "edge %s: arrears payment %s by unknown method %r", edge.code, p.payment, p.method
        )
        return
    if await ParkingPayment.filter(uuid=p.payment).exists():
        return
    plate = normalize_plate(p.plate)
    await ParkingPayment.create(
        tenant_id=site.tenant_id,
        uuid=p.payment,
        number=arrears_service.payment_number(p.payment, at),
        site_id=site.id,
        orders=list(p.orders),
        plate=plate,
        purpose="arrears",
        method=method,
        channel=method.value if method == PaymentMethod.qr else "",
        amount_fen=p.amount_fen,
        state=ParkingPaymentState.paid,
        collector=p.collector[:64],
        paid_at=at,
    )
    settled, touched = await arrears_service.settle_orders(
        site.tenant_id, list(p.orders), payment=str(p.payment), collector=p.collector, at=at
    )
    if settled != p.amount_fen:
        log.warning(
            "edge %s: arrears payment %s took %d fen for %d fen of arrears still unpaid",
            edge.code, p.payment, p.amount_fen, settled,
        )  # fmt: skip
    step.plates |= touched | {plate}


async def _freed(edge: Edge, site: Site, p: SessionFreed, step: Step) -> None:
    at = _utc(p.at)
    row = await _open(edge, site, p.session, at, berth=p.berth)
    if row is None or row.state == OrderState.void:
        return
    row.free_reason = (p.reason or "special")[:32]
    if row.vehicle_type == VehicleType.temporary:
        row.vehicle_type = VehicleType.special.value
    if p.collector:
        row.collector = p.collector[:64]
    step.plates |= await arrears_service.reconcile(row, at=at)


async def _receipt(edge: Edge, site: Site, p: ReceiptPrinted, step: Step) -> None:
    return None  # the collector's shift counts receipts; an order keeps no count


Handler = Callable[[Edge, Site, Any, Step], Awaitable[None]]
PLAIN: dict[str, Handler] = {
    "parking.session_started": _session_started,
    "parking.session_ended": _session_ended,
    "parking.plate_set": _plate_set,
    "parking.paid": _paid,
    "parking.arrears_collected": _arrears_collected,
    "parking.freed": _freed,
    "parking.receipt_printed": _receipt,
}


async def apply(
    edge: Edge, site: Site, kind: str, payload: Payload, event_uuid: uuidlib.UUID, step: Step
) -> None:
    if kind == "berth.arrived":
        assert isinstance(payload, BerthArrived)
        await _arrived(edge, site, payload, step, event_uuid)
    elif kind == "berth.departed":
        assert isinstance(payload, BerthDeparted)
        await _departed(edge, site, payload, step, event_uuid)
    else:
        await PLAIN[kind](edge, site, payload, step)


async def record_parking(edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    """Apply every parking event of the batch in seq order, on the first call of the batch."""
    rows = await SyncEvent.filter(
        edge_id=edge.id, seq__gt=edge.acked_seq, type__in=TYPES, error=""
    ).order_by("seq")
    if rows and rows[0].type != items[0][0].type:
        return  # applied when the batch's first parking type was handled
    with batch_memo() as held:
        await _preload(held, rows)
        await _apply_all(edge, sites, rows)


async def _preload(held: dict[tuple[Any, ...], Any], rows: list[SyncEvent]) -> None:
    """The batch's orders and their arrears, in two queries instead of two per event."""
    keys = {
        key
        for row in rows
        if isinstance(row.payload, dict)
        and (key := orders.session_uuid(str(row.payload.get("session", "")))) is not None
    }
    if not keys:
        return
    found = {row.uuid: row for row in await ParkingOrder.filter(uuid__in=keys)}
    for key in keys:
        held[("order", key)] = found.get(key)
    owed = {
        a.order_id: a for a in await Arrears.filter(order_id__in=[o.id for o in found.values()])
    }
    for order in found.values():
        held[("arrears", order.id)] = owed.get(order.id)


async def _apply_all(edge: Edge, sites: dict[str, Site], rows: list[SyncEvent]) -> None:
    step = Step()
    for row in rows:
        site = sites.get(row.site)
        if site is None:
            continue
        try:
            payload = parse_payload(row.type, row.payload)
        except (KeyError, ValidationError):
            continue
        await apply(edge, site, row.type, payload, row.uuid, step)
    tenants = {site.tenant_id for site in sites.values()}
    for tenant_id in tenants:
        await arrears_service.publish_plates(tenant_id, {p for p in step.plates if p})


def setup() -> None:
    for event_type in TYPES:
        sync.register(event_type, record_parking)
