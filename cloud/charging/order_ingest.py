"""Turns the edge's charging events into orders: started, metered, stopped, start_failed,
suspended and unmatched_stop (run inside the sync ingest transaction).

The sync ledger admits each event once, and every step here is idempotent besides: a started
for an order that already runs, samples already stored, a stop for a completed order, change
nothing. cloud.sync calls one handler per event type, in the order each type first appears in
the batch, so a batch holding a start, its samples and its stop (a session that began while the
cloud was away) could reach the stop before the samples. Each handler therefore first applies,
in seq order, the batch's earlier events of the same order (read back from the ledger rows the
batch just wrote); the handler of their own type later finds them applied and changes nothing.

An unmatched stop (a StopTransaction the edge never issued a transaction for) makes no order:
it stays in the sync ledger, where the 未匹配停止 page lists it for review.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from cloud import sync
from cloud.charging.models import (
    Area,
    Charger,
    ChargingOrder,
    ChargingTariffVersion,
    IdTag,
    MeterSample,
    OrderState,
    StartMethod,
)
from cloud.charging.orders import order_number, settle, tariff_of
from cloud.sites.models import Edge, Site, SyncEvent
from protocols.events import (
    ChargingMetered,
    ChargingStarted,
    ChargingStartFailed,
    ChargingStopped,
    ChargingSuspended,
    Payload,
    UnmatchedStop,
    parse_payload,
)
from protocols.tariffs import TariffError, parse_tariff, version_in_force

log = logging.getLogger(__name__)

ORDER_TYPES = (
    "charging.started",
    "charging.metered",
    "charging.stopped",
    "charging.start_failed",
    "charging.suspended",
)
DEFAULT_ZONE = "Asia/Shanghai"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


async def _order(site: Site, order: UUID) -> ChargingOrder | None:
    return await ChargingOrder.filter(uuid=order, tenant_id=site.tenant_id).first()


# --- started ------------------------------------------------------------------------------------


async def _tariff_document(
    tenant_id: int, key: str, version: Any, started_at: datetime
) -> tuple[int | None, dict[str, Any] | None]:
    """(tariff id, the version document the session is billed by): the version the edge names,
    else the one in force at the start."""
    tariff = await tariff_of(tenant_id, key)
    if tariff is None:
        return None, None
    versions = await ChargingTariffVersion.filter(tariff_id=tariff.id).order_by("effective_from")
    if version is not None:
        for row in versions:
            if row.effective_from == version:
                return tariff.id, row.document
    if not versions:
        return tariff.id, None
    try:
        parsed = [(row.effective_from, parse_tariff(row.document)) for row in versions]
        zone = ZoneInfo(parsed[-1][1].zone or DEFAULT_ZONE)
        chosen = version_in_force(parsed, started_at, zone)
    except (TariffError, ValueError) as exc:
        log.warning("tariff %s: a version could not be read: %s", tariff.id, exc)
        return tariff.id, None
    if chosen is None:
        return tariff.id, None
    for effective, document in parsed:
        if document is chosen:
            return tariff.id, next(r.document for r in versions if r.effective_from == effective)
    return tariff.id, chosen.model_dump(mode="json")


def _method(value: str) -> StartMethod:
    try:
        return StartMethod(value)
    except ValueError:
        return StartMethod.offline


async def _started(edge: Edge, site: Site, p: ChargingStarted) -> None:
    row = await _order(site, p.order)
    started_at = _utc(p.started_at)
    if row is not None:
        timed_out = row.state == OrderState.abnormal and row.end_reason == "start_timeout"
        if row.state != OrderState.starting and not timed_out:
            return  # already running or over: a replay changes nothing
    else:
        charger = await Charger.filter(serial=p.charge_point, tenant_id=site.tenant_id).first()
        if charger is None:
            log.warning("edge %s: start on unknown charger %r ignored", edge.code, p.charge_point)
            return
        area = await Area.get(id=charger.area_id)
        tag = await IdTag.filter(tenant_id=site.tenant_id, tag=p.id_tag).first()
        row = ChargingOrder(
            tenant_id=site.tenant_id,
            uuid=p.order,
            number=order_number(p.order, started_at),
            station_id=area.station_id,
            charger_id=charger.id,
            connector=p.connector,
            id_tag=p.id_tag,
            phone=tag.phone if tag is not None else "",
            method=_method(p.method),
            state=OrderState.starting,
        )
    tariff_id, document = await _tariff_document(
        site.tenant_id, p.tariff, p.tariff_version, started_at
    )
    row.edge_id = edge.id
    row.transaction_id = p.transaction_id
    row.state = OrderState.charging
    row.end_reason = ""
    row.meter_start_wh = p.meter_start_wh
    row.meter_last_wh = p.meter_start_wh
    row.started_at = started_at
    row.tariff_id = tariff_id
    row.tariff_document = document
    if not document:
        row.flags = [*list(row.flags or []), "no_tariff"]
    await row.save()


# --- metered ------------------------------------------------------------------------------------


async def _metered(edge: Edge, site: Site, p: ChargingMetered) -> None:
    row = await _order(site, p.order)
    if row is None:
        log.warning("edge %s: samples for unknown order %s ignored", edge.code, p.order)
        return
    wanted = {_utc(s.at): s for s in p.samples}
    held: list[datetime] = await MeterSample.filter(  # type: ignore[assignment]
        order_id=row.id, at__in=list(wanted)
    ).values_list("at", flat=True)
    known = {_utc(h) for h in held}
    fresh = [s for at, s in sorted(wanted.items()) if at not in known]
    if fresh:
        await MeterSample.bulk_create(
            [
                MeterSample(
                    order_id=row.id,
                    at=_utc(s.at),
                    energy_wh=s.energy_wh,
                    power_w=s.power_w,
                    current_a=s.current_a,
                    voltage_v=s.voltage_v,
                    soc=s.soc,
                )
                for s in fresh
            ]
        )
    if row.state == OrderState.completed or not fresh:
        return  # a finished order keeps its settlement; nothing new changes nothing
    latest = max(fresh, key=lambda s: s.at)
    if row.last_meter_at is None or _utc(latest.at) > row.last_meter_at:
        row.meter_last_wh = latest.energy_wh
        row.power_w = latest.power_w or 0
        row.last_meter_at = _utc(latest.at)
    if row.state == OrderState.suspended:
        row.state = OrderState.charging  # the charger talks again
    await row.save()


# --- stopped, start failed, suspended -----------------------------------------------------------


async def _stopped(edge: Edge, site: Site, p: ChargingStopped) -> None:
    row = await _order(site, p.order)
    if row is None:
        log.warning("edge %s: stop for unknown order %s ignored", edge.code, p.order)
        return
    if row.state == OrderState.completed:
        if row.end_reason == "manual" and "stopped_after_manual_end" not in (row.flags or []):
            row.flags = [*list(row.flags or []), "stopped_after_manual_end"]
            await row.save(update_fields=["flags", "updated_at"])
        return
    stopped_at = _utc(p.stopped_at)
    await settle(
        row,
        stop_wh=p.meter_stop_wh,
        bill_until=stopped_at,
        stopped_at=stopped_at,
        edge_bill=p.bill,
        flags=p.flags,
    )
    row.end_reason = p.reason
    row.transaction_id = p.transaction_id
    await row.save()


async def _start_failed(edge: Edge, site: Site, p: ChargingStartFailed) -> None:
    row = await _order(site, p.order)
    if row is None or row.state != OrderState.starting:
        return  # unknown, or already started (a late failure report) or over
    row.state = OrderState.abnormal
    row.end_reason = p.reason[:64]
    row.stopped_at = _utc(p.at)
    await row.save()


async def _suspended(edge: Edge, site: Site, p: ChargingSuspended) -> None:
    row = await _order(site, p.order)
    if row is None:
        return
    at = _utc(p.at)
    if p.suspended:
        # Samples newer than the report mean the charger spoke since: a stale report.
        fresh = row.last_meter_at is None or row.last_meter_at <= at
        if row.state == OrderState.charging and fresh:
            row.state = OrderState.suspended
            await row.save(update_fields=["state", "updated_at"])
    elif row.state == OrderState.suspended:
        row.state = OrderState.charging
        await row.save(update_fields=["state", "updated_at"])


Step = Callable[[Edge, Site, Any], Awaitable[None]]
STEPS: dict[str, Step] = {
    "charging.started": _started,
    "charging.metered": _metered,
    "charging.stopped": _stopped,
    "charging.start_failed": _start_failed,
    "charging.suspended": _suspended,
}


# --- batch order --------------------------------------------------------------------------------


Batch = dict[UUID, list[tuple[int, str, str, Payload]]]


async def _batch_by_order(edge: Edge) -> tuple[Batch, dict[str, int]]:
    """This batch's order events (ledger rows past the edge's acknowledged seq) per order, and
    the seq at which each type first appears (cloud.sync runs the types' handlers in that order)."""
    rows = await SyncEvent.filter(
        edge_id=edge.id, seq__gt=edge.acked_seq, type__in=ORDER_TYPES, error=""
    ).order_by("seq")
    found: Batch = defaultdict(list)
    first: dict[str, int] = {}
    for row in rows:
        try:
            payload = parse_payload(row.type, row.payload)
        except (KeyError, ValidationError):
            continue
        first.setdefault(row.type, row.seq)
        order = getattr(payload, "order", None)
        if isinstance(order, UUID):
            found[order].append((row.seq, row.type, row.site, payload))
    return found, first


async def record_orders(edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    """Apply each event after the batch's earlier events of its order that no handler has
    applied yet (those of types whose handler runs after this one; see the module doc)."""
    batch, first = await _batch_by_order(edge)
    current = items[0][0].type
    ran = {kind for kind, seq in first.items() if seq < first.get(current, 0)}
    applied: set[int] = set()
    for event, payload in items:
        order = getattr(payload, "order", None)
        for seq, kind, site_code, earlier in batch.get(order, []) if order else []:
            if seq >= event.seq:
                break
            if kind in ran or kind == current or seq in applied or site_code not in sites:
                continue
            await STEPS[kind](edge, sites[site_code], earlier)
            applied.add(seq)
        await STEPS[event.type](edge, sites[event.site], payload)
        applied.add(event.seq)


async def record_unmatched(edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    for event, payload in items:
        assert isinstance(payload, UnmatchedStop)
        log.warning(
            "edge %s: unmatched stop of %s transaction %d kept for review (seq %d)",
            edge.code,
            payload.charge_point,
            payload.transaction_id,
            event.seq,
        )


def setup() -> None:
    for event_type in ORDER_TYPES:
        sync.register(event_type, record_orders)
    sync.register("charging.unmatched_stop", record_unmatched)
