"""Charging orders (3.4.1): the order state machine, settlement from meter readings, remote
start and stop, manual end, refunds and the lists. No HTTP here.

States: starting (the cloud asked the charger to start) -> charging -> stopping (the cloud
asked it to stop) -> completed; abnormal when the start failed or no start was reported within
START_TIMEOUT (a periodic sweep, `expire_starting`, run by the pages' cleanup context);
suspended while the charger's link is silent. An order that timed out and then reports a start
after all (the edge was offline) becomes charging again: what it charged is billed.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.charging.models import (
    Area,
    Charger,
    ChargingOrder,
    ChargingTariff,
    IdTag,
    MeterSample,
    OrderState,
    Station,
)
from cloud.charging.order_schemas import (
    BillLineOut,
    OrderDetail,
    OrderFilter,
    OrderOut,
    RefundIn,
    RemoteStartIn,
    SampleOut,
    UnmatchedStopFilter,
    UnmatchedStopOut,
    duration_text,
    kwh,
)
from cloud.crud import Crud, Page, PageParams, paginate, within
from cloud.db import is_postgres
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.service import audit, scoped
from cloud.sites.edges import issue_site_command
from cloud.sites.models import SyncEvent
from cloud.state import wake_edges
from protocols.charging import RemoteStartCommand, RemoteStopCommand
from protocols.sync import CommandKind
from protocols.tariffs import Bill, Reading, TariffError, bill_charging, parse_tariff, yuan

log = logging.getLogger(__name__)

# A remote start the charger never confirmed is abnormal after this long (the command itself
# expires after 30 s; the rest is slack for an edge that is slow to report).
START_TIMEOUT = timedelta(seconds=120)
DEFAULT_WINDOW = timedelta(days=7)  # 默认查询一周数据
ACTIVE = (OrderState.starting, OrderState.charging, OrderState.stopping, OrderState.suspended)
ENDABLE = (*ACTIVE, OrderState.abnormal)
STOPPABLE = (OrderState.charging, OrderState.suspended)
RELATED = ("station", "charger", "charger__area", "tariff")
SORTS = {"created_at": "created_at", "number": "number", "total_fen": "total_fen"}


def _now() -> datetime:
    return datetime.now(UTC)


def order_number(order_uuid: uuidlib.UUID, at: datetime) -> str:
    """The 订单编号: the start's UTC time and the uuid's head, the same for every replay."""
    return f"C{at.astimezone(UTC):%Y%m%d%H%M%S}{order_uuid.hex[:8].upper()}"


# --- output -------------------------------------------------------------------------------------


def _duration_s(row: ChargingOrder) -> int | None:
    if row.started_at is None:
        return None
    end = row.stopped_at or row.last_meter_at
    if end is None:
        return 0
    return max(0, int((end - row.started_at).total_seconds()))


def refundable_fen(row: ChargingOrder) -> int:
    """最大退费金额: prepaid minus refunded, for a completed order that cost something."""
    if row.state != OrderState.completed or row.total_fen <= 0:
        return 0
    return max(0, row.prepaid_fen - row.refunded_fen)


def order_out(row: ChargingOrder) -> OrderOut:
    """Needs station, charger, charger.area and tariff fetched (RELATED)."""
    seconds = _duration_s(row)
    tariff = row.tariff if row.tariff_id is not None else None
    return OrderOut(
        id=row.id,
        uuid=row.uuid,
        number=row.number,
        station_id=row.station_id,
        station_name=row.station.name,
        area_name=row.charger.area.name,
        charger_id=row.charger_id,
        charger_code=row.charger.code,
        charger_serial=row.charger.serial,
        connector=row.connector,
        transaction_id=row.transaction_id,
        id_tag=row.id_tag,
        phone=row.phone,
        plate=row.plate,
        method=row.method,
        state=row.state,
        end_reason=row.end_reason,
        flags=list(row.flags or []),
        meter_start_wh=row.meter_start_wh,
        meter_last_wh=row.meter_last_wh,
        meter_stop_wh=row.meter_stop_wh,
        energy_wh=row.energy_wh,
        energy_kwh=kwh(row.energy_wh),
        power_w=row.power_w,
        tariff_id=row.tariff_id,
        tariff_name=tariff.name if tariff is not None else "",
        electricity_fen=row.electricity_fen,
        service_fen=row.service_fen,
        total_fen=row.total_fen,
        prepaid_fen=row.prepaid_fen,
        refunded_fen=row.refunded_fen,
        refundable_fen=refundable_fen(row),
        electricity_yuan=yuan(row.electricity_fen),
        service_yuan=yuan(row.service_fen),
        total_yuan=yuan(row.total_fen),
        prepaid_yuan=yuan(row.prepaid_fen),
        refunded_yuan=yuan(row.refunded_fen),
        duration_s=seconds,
        duration=duration_text(seconds),
        created_at=row.created_at,
        started_at=row.started_at,
        last_meter_at=row.last_meter_at,
        stopped_at=row.stopped_at,
    )


async def _fetch(principal: Principal, ident: int) -> ChargingOrder:
    row = await scoped(ChargingOrder, principal).filter(id=ident).select_related(*RELATED).first()
    if row is None:
        raise NotFound("charging_order", ident)
    return row


async def get_order(principal: Principal, ident: int) -> OrderOut:
    return order_out(await _fetch(principal, ident))


def _bill_lines(bill: dict[str, Any] | None) -> list[BillLineOut]:
    data = (bill or {}).get("cloud") or (bill or {}).get("edge")
    if not data:
        return []
    try:
        parsed = Bill.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return []
    return [
        BillLineOut(
            label=line.label,
            component=line.component,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            amount_fen=line.amount_fen,
            start=line.start,
            end=line.end,
        )
        for line in parsed.lines
    ]


def _edge_total(bill: dict[str, Any] | None) -> int | None:
    edge = (bill or {}).get("edge")
    if isinstance(edge, dict) and isinstance(edge.get("total_fen"), int):
        return int(edge["total_fen"])
    return None


async def order_detail(principal: Principal, ident: int) -> OrderDetail:
    from cloud.payments import service as payments  # payments list orders' rows too

    row = await _fetch(principal, ident)
    samples = await MeterSample.filter(order_id=row.id).order_by("at")
    return OrderDetail(
        **order_out(row).model_dump(),
        bill_lines=_bill_lines(row.bill),
        edge_total_fen=_edge_total(row.bill),
        tariff_document=row.tariff_document,
        samples=[SampleOut.model_validate(s) for s in samples],
        payments=await payments.payments_of_order(row),
        refunds=await payments.refunds_of_order(row),
    )


async def list_orders(principal: Principal, f: OrderFilter, params: PageParams) -> Page[OrderOut]:
    """Newest first; without a time range, the last seven days (默认查询一周数据)."""
    query = scoped(ChargingOrder, principal)
    if f.created_from is None and f.created_to is None:
        query = query.filter(created_at__gte=_now() - DEFAULT_WINDOW)
    query = within(query, "created_at", f.created_from, f.created_to)
    if f.station:
        query = query.filter(station__name__icontains=f.station)
    if f.number:
        query = query.filter(number__startswith=f.number.upper())
    if f.charger_code:
        query = query.filter(charger__code__icontains=f.charger_code)
    if f.charger_serial:
        query = query.filter(charger__serial__icontains=f.charger_serial)
    if f.connector is not None:
        query = query.filter(connector=f.connector)
    if f.phone:
        query = query.filter(phone__startswith=f.phone)
    if f.id_tag:
        query = query.filter(id_tag=f.id_tag)
    if f.state is not None:
        query = query.filter(state=f.state)
    if f.method is not None:
        query = query.filter(method=f.method)
    return await paginate(
        query,
        params,
        sorts=SORTS,
        default_sort="-created_at",
        convert=order_out,
        related=RELATED,
        count_cap=10_000,
    )


# --- settlement ---------------------------------------------------------------------------------


def readings_for(
    start: Reading, samples: Sequence[Reading], stop: Reading
) -> tuple[list[Reading], list[str]]:
    """The readings a session is billed from: the start, the samples strictly between start and
    stop, the stop; a register that goes backwards is held at its highest value so no interval
    is negative, and a stop below the start bills nothing (flagged meter_below_start)."""
    flags: list[str] = []
    if stop.wh < start.wh:
        return [start, Reading(stop.at, start.wh)], ["meter_below_start"]
    readings = [start]
    for sample in sorted(samples, key=lambda s: s.at):
        if not start.at < sample.at < stop.at:
            continue
        value = min(max(sample.wh, readings[-1].wh), stop.wh)
        if value != sample.wh and "meter_irregular" not in flags:
            flags.append("meter_irregular")
        readings.append(Reading(sample.at, value))
    readings.append(Reading(stop.at, max(stop.wh, readings[-1].wh)))
    return readings, flags


def _merge_flags(row: ChargingOrder, *more: Sequence[str]) -> None:
    flags = list(row.flags or [])
    for group in more:
        for flag in group:
            if flag and flag not in flags:
                flags.append(flag)
    row.flags = flags


async def settle(
    row: ChargingOrder,
    *,
    stop_wh: int,
    bill_until: datetime,
    stopped_at: datetime,
    edge_bill: dict[str, Any] | None = None,
    flags: Sequence[str] = (),
) -> None:
    """Complete an order: energy and the bill recomputed with protocols.tariffs from the start
    reading, the stored samples and the stop reading, under the tariff version it started on.
    The edge's bill (if any) is kept beside the cloud's; differing totals flag bill_mismatch.
    The cloud's bill is the order's amounts; without a usable tariff, the edge's is."""
    row.state = OrderState.completed
    row.stopped_at = stopped_at
    row.meter_stop_wh = stop_wh
    _merge_flags(row, flags)
    cloud: Bill | None = None
    if row.meter_start_wh is None or row.started_at is None:
        row.energy_wh = 0
        readings: list[Reading] = []
    else:
        samples = await MeterSample.filter(
            order_id=row.id, at__gt=row.started_at, at__lt=bill_until
        ).values_list("at", "energy_wh")
        readings, reading_flags = readings_for(
            Reading(row.started_at, row.meter_start_wh),
            [Reading(at, wh) for at, wh in samples],
            Reading(max(bill_until, row.started_at), stop_wh),
        )
        _merge_flags(row, reading_flags)
        row.energy_wh = readings[-1].wh - readings[0].wh
        if row.tariff_document is not None:
            try:
                cloud = bill_charging(parse_tariff(row.tariff_document), readings)
            except (TariffError, ValueError) as exc:
                log.warning("order %s: the tariff could not bill it: %s", row.number, exc)
                _merge_flags(row, ["bill_error"])
        else:
            _merge_flags(row, ["no_tariff"])
    edge: Bill | None = None
    if edge_bill:
        try:
            edge = Bill.from_dict(edge_bill)
        except (KeyError, TypeError, ValueError):
            _merge_flags(row, ["edge_bill_unreadable"])
    if cloud is not None and edge is not None and cloud.total_fen != edge.total_fen:
        _merge_flags(row, ["bill_mismatch"])
        log.warning(
            "order %s: edge billed %d fen, the cloud %d",
            row.number,
            edge.total_fen,
            cloud.total_fen,
        )
    chosen = cloud or edge
    row.bill = {
        "cloud": cloud.as_dict() if cloud is not None else None,
        "edge": edge_bill,
        "readings": len(readings),
    }
    row.electricity_fen = chosen.electricity_fen if chosen else 0
    row.service_fen = chosen.service_fen if chosen else 0
    row.total_fen = chosen.total_fen if chosen else 0


# --- remote start and stop, manual end ----------------------------------------------------------


async def _station_of(charger: Charger) -> Station:
    area = await Area.get(id=charger.area_id)
    return await Station.get(id=area.station_id)


async def start_remote(principal: Principal, data: RemoteStartIn) -> OrderOut:
    """Make the order (starting) and ask the charger, through its station's edge, to start it."""
    async with in_transaction():
        charger = await scoped(Charger, principal).filter(id=data.charger_id).first()
        if charger is None:
            raise Invalid("charger_id", "error.reference")
        if not charger.enabled:
            raise Invalid("charger_id", "orders.error.charger_disabled")
        if data.connector > charger.connectors:
            raise Invalid("connector", "orders.error.connector")
        busy = ChargingOrder.filter(
            charger_id=charger.id, connector=data.connector, state__in=ACTIVE
        )
        if await busy.exists():
            raise Conflict("connector", "orders.error.connector_busy")
        station = await _station_of(charger)
        phone = data.phone
        if not phone:
            tag = await scoped(IdTag, principal).filter(tag=data.id_tag).first()
            phone = tag.phone if tag is not None else ""
        order_uuid = uuidlib.uuid4()
        now = _now()
        row = await ChargingOrder.create(
            tenant_id=principal.tenant_id,
            uuid=order_uuid,
            number=order_number(order_uuid, now),
            station_id=station.id,
            charger_id=charger.id,
            connector=data.connector,
            id_tag=data.id_tag,
            phone=phone,
            plate=data.plate,
            method=data.method,
            state=OrderState.starting,
            prepaid_fen=data.prepaid_fen,
        )
        command = RemoteStartCommand(
            charge_point=charger.serial,
            connector=data.connector,
            id_tag=data.id_tag,
            order=str(order_uuid),
        )
        await issue_site_command(
            principal, station.site_id, CommandKind.charger_remote_start, command.model_dump()
        )
        await audit(
            principal,
            "create",
            "charging_order",
            row.id,
            {"state": {"from": None, "to": OrderState.starting.value}},
        )
    wake_edges()
    return await get_order(principal, row.id)


async def _locked(principal: Principal, ident: int) -> ChargingOrder:
    query = scoped(ChargingOrder, principal).filter(id=ident)
    if is_postgres():
        query = query.select_for_update()
    row = await query.first()
    if row is None:
        raise NotFound("charging_order", ident)
    return row


async def stop_remote(principal: Principal, ident: int) -> OrderOut:
    """Ask the charger to stop (state stopping); the edge's stop report completes the order."""
    async with in_transaction():
        row = await _locked(principal, ident)
        if row.state not in STOPPABLE:
            raise Conflict("state", "orders.error.not_stoppable")
        charger = await Charger.get(id=row.charger_id)
        station = await Station.get(id=row.station_id)
        before = row.state
        row.state = OrderState.stopping
        await row.save(update_fields=["state", "updated_at"])
        command = RemoteStopCommand(
            charge_point=charger.serial, connector=row.connector, order=str(row.uuid)
        )
        await issue_site_command(
            principal, station.site_id, CommandKind.charger_remote_stop, command.model_dump()
        )
        await audit(
            principal,
            "update",
            "charging_order",
            row.id,
            {"state": {"from": before.value, "to": OrderState.stopping.value}},
        )
    wake_edges()
    return await get_order(principal, ident)


async def end_order(principal: Principal, ident: int) -> OrderOut:
    """结束: settle a starting, charging, stopping, suspended or abnormal order from the last
    meter value the charger reported (no value: nothing consumed), end reason "manual"."""
    async with in_transaction():
        row = await _locked(principal, ident)
        if row.state not in ENDABLE:
            raise Conflict("state", "orders.error.not_endable")
        before = row.state
        now = _now()
        last_wh = row.meter_last_wh if row.meter_last_wh is not None else row.meter_start_wh
        until = row.last_meter_at or row.started_at or now
        await settle(row, stop_wh=last_wh or 0, bill_until=until, stopped_at=now)
        row.end_reason = "manual"
        await row.save()
        await audit(
            principal,
            "end",
            "charging_order",
            row.id,
            {
                "state": {"from": before.value, "to": OrderState.completed.value},
                "total_fen": {"from": None, "to": row.total_fen},
            },
        )
    return await get_order(principal, ident)


async def refund_order(principal: Principal, ident: int, data: RefundIn) -> OrderOut:
    """退费: a completed order that cost something, at most prepaid minus refunded, sent back
    through the payment channel it was paid with (or recorded as handed back when it was not
    paid through a channel)."""
    from cloud.payments import service as payments

    async with in_transaction():
        row = await _locked(principal, ident)
        if row.state != OrderState.completed or row.total_fen <= 0:
            raise Invalid("amount_fen", "orders.error.refund_state")
        if data.amount_fen is None:
            raise Invalid("amount_fen", "error.required")
        most = refundable_fen(row)
        if data.amount_fen < 1:
            raise Invalid("amount_fen", "orders.error.refund_positive")
        if data.amount_fen > most:
            raise Invalid("amount_fen", "orders.error.refund_over_max")
        refund = await payments.send_refund(
            principal, row, data.amount_fen, data.reason, data.payee or row.phone
        )
        await ChargingOrder.filter(id=row.id).update(
            refunded_fen=F("refunded_fen") + data.amount_fen
        )
        await audit(
            principal,
            "refund",
            "charging_order",
            row.id,
            {
                "refund": {"from": None, "to": refund.number},
                "amount_fen": {"from": None, "to": data.amount_fen},
            },
        )
    return await get_order(principal, ident)


# --- the starting-order sweep -------------------------------------------------------------------


async def expire_starting(now: datetime | None = None, after: timedelta = START_TIMEOUT) -> int:
    """Starting orders with no start reported within `after` become abnormal (every tenant;
    one indexed UPDATE, safe to run from several workers at once)."""
    cutoff = (now or _now()) - after
    return await ChargingOrder.filter(state=OrderState.starting, created_at__lt=cutoff).update(
        state=OrderState.abnormal, end_reason="start_timeout"
    )


# --- choices ------------------------------------------------------------------------------------


async def charger_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Charger, principal).filter(enabled=True).order_by("code")
    return [(c.id, f"{c.code} · {c.name}") for c in rows]


async def tariff_of(tenant_id: int, key: str) -> ChargingTariff | None:
    """The tariff an edge names by key (its id), within the tenant."""
    if not key.isdigit() or len(key) > 12:
        return None
    return await ChargingTariff.filter(id=int(key), tenant_id=tenant_id).first()


# --- unmatched stops (kept in the sync ledger, listed for review) ------------------------------


def _unmatched_out(row: SyncEvent) -> UnmatchedStopOut:
    payload = row.payload
    return UnmatchedStopOut(
        id=row.id,
        edge_code=row.edge.code,
        site=row.site,
        charge_point=str(payload.get("charge_point", "")),
        transaction_id=int(payload.get("transaction_id", 0)),
        id_tag=str(payload.get("id_tag", "")),
        meter_stop_wh=int(payload.get("meter_stop_wh", 0)),
        at=datetime.fromisoformat(str(payload.get("at"))) if payload.get("at") else row.occurred_at,
        received_at=row.received_at,
    )


async def list_unmatched(
    principal: Principal, f: UnmatchedStopFilter, params: PageParams
) -> Page[UnmatchedStopOut]:
    query = SyncEvent.filter(
        type="charging.unmatched_stop", error="", edge__tenant_id=principal.tenant_id
    )
    if f.charge_point:
        rows = await query.select_related("edge").order_by("-id").limit(5000)
        kept = [r for r in rows if f.charge_point in str(r.payload.get("charge_point", ""))]
        start = (params.page - 1) * params.page_size
        return Page(
            items=[_unmatched_out(r) for r in kept[start : start + params.page_size]],
            total=len(kept),
            page=params.page,
            page_size=params.page_size,
        )
    return await paginate(
        query,
        params,
        sorts={"received_at": "received_at"},
        default_sort="-received_at",
        convert=_unmatched_out,
        related=("edge",),
    )


ORDERS = Crud(list=list_orders, get=get_order)
UNMATCHED = Crud(list=list_unmatched)
