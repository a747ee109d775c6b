"""Parking orders (停车订单) and pass-through records (过车记录): the bill of a stay, the vehicle
type of a plate, the lists with their totals, the detail and voiding. No HTTP here.

States: in_progress (在停) -> completed (已完成) when the vehicle leaves, or void (作废) when an
operator voids a stay that is still open. What the order still owes after it completes is an
Arrears row (cloud.parking.arrears), which keeps the order's pay_state in step.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from tortoise.expressions import F
from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cloud.access.models import AccessRecord, ListEntry
from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, within
from cloud.db import is_postgres
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.service import audit, scoped
from cloud.parking import arrears as arrears_service
from cloud.parking.clock import zone
from cloud.parking.memo import memo, remembered
from cloud.parking.models import (
    Arrears,
    Berth,
    BerthStatus,
    HolidayDay,
    MonthlyPass,
    MonthlyPassRule,
    MonthlyPassState,
    OrderState,
    ParkingOrder,
    ParkingPayment,
    ParkingSite,
    ParkingTariff,
    PayState,
    SpecialPlate,
)
from cloud.parking.order_schemas import (
    ParkingOrderDetail,
    ParkingOrderFilter,
    ParkingOrderOut,
    ParkingOrderTotals,
    ParkingPaymentOut,
    PassRecordFilter,
    PassRecordOut,
    VoidIn,
    bill_lines_of,
    duration_text,
)
from cloud.parking.publish import PARKING_KINDS, publish_berth
from cloud.sites.models import Site
from protocols import tariffs
from protocols.parking import (
    SpecialPlateGrant,
    VehicleClass,
    VehicleType,
    is_new_energy,
    special_rule_of,
    vehicle_class_of,
)
from protocols.plates import is_valid_plate, normalize_plate
from protocols.site import SiteKind
from protocols.sync import ListKind
from protocols.tariffs import yuan

log = logging.getLogger(__name__)

ORDER_COUNT_CAP = 100_000
SORTS = {
    "entered_at": "entered_at",
    "exited_at": "exited_at",
    "due_fen": "due_fen",
    "paid_fen": "paid_fen",
    "number": "number",
}
# An access record is the evidence of an entry or exit when it was read this close to it.
EVIDENCE_BEFORE = timedelta(seconds=120)
EVIDENCE_AFTER = timedelta(seconds=10)


# Free reasons an edge reports, and the vehicle type each says the vehicle is.
FREE_TYPES = {
    "monthly": VehicleType.monthly,
    "whitelist": VehicleType.company,
    "special": VehicleType.special,
    "disabled": VehicleType.disabled,
}


def _now() -> datetime:
    return datetime.now(UTC)


def order_number(order_uuid: uuidlib.UUID, at: datetime) -> str:
    """The 订单编号: the entry's UTC time and the uuid's head, the same for every replay."""
    return f"P{at.astimezone(UTC):%Y%m%d%H%M%S}{order_uuid.hex[:8].upper()}"


def session_uuid(session: str) -> uuidlib.UUID | None:
    """A session id as the order's uuid; None for one that is not a uuid (logged by callers)."""
    try:
        return uuidlib.UUID(session)
    except (ValueError, AttributeError, TypeError):
        return None


# --- bills --------------------------------------------------------------------------------------


async def holiday_calendar(tenant_id: int) -> dict[date, str]:
    """The tenant's 节假日配置: date -> protocols.tariffs.DayKind value."""

    async def load() -> dict[date, str]:
        rows = await HolidayDay.filter(tenant_id=tenant_id).values_list("day", "kind")
        return {day: str(kind) for day, kind in rows}

    return await remembered(("holidays", tenant_id), load)


def bill_stay(
    document: dict[str, Any],
    entered_at: datetime,
    exited_at: datetime,
    vehicle_class: str,
    plate: str,
    calendar: dict[date, str],
) -> dict[str, Any] | None:
    """The one place the cloud calls the parking evaluator: the bill of a stay as a dict (the
    evaluator's as_dict), None when the document cannot bill it (logged)."""
    try:
        bill = tariffs.bill_parking(
            _parsed(document),
            entered_at,
            max(exited_at, entered_at),
            vehicle_class=vehicle_class,
            new_energy=is_new_energy(plate),
            calendar=tariffs.HolidayCalendar(calendar) if calendar else None,
        )
    except (tariffs.TariffError, ValueError, TypeError, KeyError) as exc:
        log.warning("parking tariff could not bill a stay: %s", exc)
        return None
    return bill.as_dict()


def _parsed(document: dict[str, Any]) -> tariffs.TariffDocument:
    """A stored document validated once per batch (it is the same dict for every stay)."""
    held = memo()
    if held is None:
        return tariffs.parse_tariff(document)
    key = ("document", id(document))
    if key not in held:
        held[key] = (document, tariffs.parse_tariff(document))  # keeps `document` alive
    return cast(tariffs.TariffDocument, held[key][1])


def bill_total(bill: dict[str, Any] | None) -> int | None:
    if isinstance(bill, dict) and isinstance(bill.get("total_fen"), int):
        return int(bill["total_fen"])
    return None


async def tariff_document(
    tenant_id: int, key: str, site_id: int
) -> tuple[str, dict[str, Any] | None]:
    """(tariff key, document) a stay is billed by: the one the edge names ("parking:<id>"),
    else the site's own tariff."""
    return await remembered(
        ("tariff", tenant_id, key, site_id), lambda: _tariff_document(tenant_id, key, site_id)
    )


async def _tariff_document(
    tenant_id: int, key: str, site_id: int
) -> tuple[str, dict[str, Any] | None]:
    tariff: ParkingTariff | None = None
    if key.startswith("parking:") and key[8:].isdigit() and len(key) < 24:
        tariff = await ParkingTariff.filter(tenant_id=tenant_id, id=int(key[8:])).first()
    if tariff is None:
        place = await ParkingSite.filter(tenant_id=tenant_id, site_id=site_id).first()
        if place is not None and place.tariff_id is not None:
            tariff = await ParkingTariff.filter(tenant_id=tenant_id, id=place.tariff_id).first()
    if tariff is None:
        return key, None
    return f"parking:{tariff.id}", tariff.document


async def cloud_bill(row: ParkingOrder, until: datetime) -> tuple[str, dict[str, Any] | None]:
    """The cloud's bill of an order's stay until `until`, by the tariff it names or its site's."""
    key, document = await tariff_document(row.tenant_id, row.tariff, row.site_id)
    if document is None:
        return key, None
    calendar = await holiday_calendar(row.tenant_id)
    return key, bill_stay(document, row.entered_at, until, row.vehicle_class, row.plate, calendar)


# --- vehicles -----------------------------------------------------------------------------------


async def _special(tenant_id: int, plate: str) -> bool:
    async def load() -> list[tuple[str, SpecialPlateGrant]]:
        rows = await SpecialPlate.filter(tenant_id=tenant_id, enabled=True)
        return [
            (
                str(r.id),
                SpecialPlateGrant(name=r.name, plate_kinds=r.plate_kinds or [], pattern=r.pattern),
            )
            for r in rows
        ]

    rules = await remembered(("specials", tenant_id), load)
    return special_rule_of(plate, rules) is not None


async def _monthly(tenant_id: int, site_id: int, plate: str, day: date) -> bool:
    async def load() -> dict[str, list[list[int]]]:
        """plate -> the site lists of the passes in force that day covering it."""
        passes = await MonthlyPass.filter(
            tenant_id=tenant_id,
            state=MonthlyPassState.active,
            valid_from__lte=day,
            valid_until__gte=day,
        ).values_list("plates", "rule_id")
        rule_ids = {rule for _, rule in passes}
        rules = (
            dict(await MonthlyPassRule.filter(id__in=rule_ids).values_list("id", "sites"))
            if rule_ids
            else {}
        )
        covered: dict[str, list[list[int]]] = {}
        for plates, rule_id in passes:
            for held in plates or []:
                covered.setdefault(held, []).append(list(rules.get(rule_id) or []))
        return covered

    covered = await remembered(("monthly", tenant_id, day), load)
    return any(not sites or site_id in sites for sites in covered.get(plate, ()))


async def _whitelisted(tenant_id: int, site_id: int, plate: str, at: datetime) -> bool:
    async def load() -> dict[str, list[tuple[datetime | None, datetime | None]]]:
        rows = await ListEntry.filter(
            tenant_id=tenant_id, site_id=site_id, kind=ListKind.whitelist, enabled=True
        ).values_list("plate", "valid_from", "valid_until")
        listed: dict[str, list[tuple[datetime | None, datetime | None]]] = {}
        for listed_plate, start, until in rows:
            listed.setdefault(listed_plate, []).append((start, until))
        return listed

    if memo() is None:
        listed = await ListEntry.filter(
            tenant_id=tenant_id, site_id=site_id, plate=plate, kind=ListKind.whitelist,
            enabled=True,
        ).values_list("valid_from", "valid_until")  # fmt: skip
        spans = [(start, until) for start, until in listed]
    else:
        spans = (await remembered(("whitelist", tenant_id, site_id), load)).get(plate, [])
    return any(
        (start is None or start <= at) and (until is None or at < until) for start, until in spans
    )


async def vehicle_type_of(tenant_id: int, site_id: int, plate: str, at: datetime) -> VehicleType:
    """车辆类型: special plates, then monthly passes, then the white list (公司车辆), then
    new-energy plates; anything else is temporary."""
    if not plate:
        return VehicleType.temporary
    if await _special(tenant_id, plate):
        return VehicleType.special
    if await _monthly(tenant_id, site_id, plate, at.astimezone(zone()).date()):
        return VehicleType.monthly
    if await _whitelisted(tenant_id, site_id, plate, at):
        return VehicleType.company
    if is_new_energy(plate):
        return VehicleType.new_energy
    return VehicleType.temporary


def vehicle_class(plate: str, given: str = "") -> str:
    """The class a collector chose when it is one, else the plate's."""
    if given in VehicleClass.__members__:
        return given
    return vehicle_class_of(plate).value if plate else VehicleClass.small.value


def is_free_type(vehicle_type: str) -> bool:
    return vehicle_type in (VehicleType.monthly, VehicleType.company, VehicleType.special)


# --- evidence -----------------------------------------------------------------------------------


async def evidence(tenant_id: int, site_id: int, lane: str, plate: str, at: datetime | None) -> str:
    """The snapshot name of the access record read at this lane for this plate just before
    (or at) `at`: the entry's or exit's evidence image ("" when there is none)."""
    if at is None or not lane:
        return ""
    query = AccessRecord.filter(
        tenant_id=tenant_id,
        site_id=site_id,
        lane=lane,
        occurred_at__gte=at - EVIDENCE_BEFORE,
        occurred_at__lte=at + EVIDENCE_AFTER,
    ).exclude(snapshot="")
    if plate:
        query = query.filter(plate=plate)
    row = await query.order_by("-occurred_at").first()
    return row.snapshot if row is not None else ""


# --- output -------------------------------------------------------------------------------------


def balance_fen(row: ParkingOrder) -> int:
    """应缴余额: due minus paid, for an order that is neither void nor free."""
    if row.state == OrderState.void or row.pay_state == PayState.free:
        return 0
    return max(0, row.due_fen - row.paid_fen)


def _duration_s(row: ParkingOrder) -> int | None:
    end = row.exited_at
    if end is None:
        if row.state != OrderState.in_progress:
            return None
        end = _now()
    return max(0, int((end - row.entered_at).total_seconds()))


def order_out(row: ParkingOrder, places: dict[int, ParkingSite] | None = None) -> ParkingOrderOut:
    """Needs site fetched."""
    place = (places or {}).get(row.site_id)
    seconds = _duration_s(row)
    balance = balance_fen(row)
    return ParkingOrderOut(
        id=row.id,
        uuid=row.uuid,
        number=row.number,
        site_id=row.site_id,
        site_name=row.site.name,
        region=place.region if place else "",
        street=place.street if place else "",
        berth=row.berth,
        entry_lane=row.entry_lane,
        exit_lane=row.exit_lane,
        plate=row.plate,
        vehicle_class=row.vehicle_class,
        vehicle_type=row.vehicle_type,
        entered_at=row.entered_at,
        exited_at=row.exited_at,
        duration_s=seconds,
        duration=duration_text(seconds),
        state=row.state,
        pay_state=row.pay_state,
        prepaid_fen=row.prepaid_fen,
        due_fen=row.due_fen,
        paid_fen=row.paid_fen,
        balance_fen=balance,
        prepaid_yuan=yuan(row.prepaid_fen),
        due_yuan=yuan(row.due_fen),
        paid_yuan=yuan(row.paid_fen),
        balance_yuan=yuan(balance),
        tariff=row.tariff,
        collector=row.collector,
        free_reason=row.free_reason,
        void_reason=row.void_reason,
        entry_snapshot=row.entry_snapshot,
        exit_snapshot=row.exit_snapshot,
        created_at=row.created_at,
    )


async def _places(tenant_id: int) -> dict[int, ParkingSite]:
    return {p.site_id: p for p in await ParkingSite.filter(tenant_id=tenant_id)}


async def _fetch(principal: Principal, ident: int) -> ParkingOrder:
    row = await scoped(ParkingOrder, principal).filter(id=ident).select_related("site").first()
    if row is None:
        raise NotFound("parking_order", ident)
    return row


async def get_order(principal: Principal, ident: int) -> ParkingOrderOut:
    row = await _fetch(principal, ident)
    return order_out(row, await _places(principal.tenant_id))


def payment_out(row: ParkingPayment) -> ParkingPaymentOut:
    return ParkingPaymentOut(
        id=row.id,
        uuid=row.uuid,
        number=row.number,
        site_id=row.site_id,
        orders=list(row.orders or []),
        plate=row.plate,
        purpose=row.purpose,
        method=row.method,
        channel=row.channel,
        channel_ref=row.channel_ref,
        amount_fen=row.amount_fen,
        amount_yuan=yuan(row.amount_fen),
        state=row.state,
        lane=row.lane,
        collector=row.collector,
        created_at=row.created_at,
        paid_at=row.paid_at,
    )


async def payments_of(row: ParkingOrder) -> list[ParkingPayment]:
    """The payments naming this order (for its own fee, or settling its arrears)."""
    since = row.entered_at - timedelta(days=1)
    candidates = await ParkingPayment.filter(
        tenant_id=row.tenant_id, created_at__gte=since
    ).order_by("created_at", "id")
    wanted = str(row.uuid)
    return [p for p in candidates if wanted in (p.orders or [])]


async def order_detail(principal: Principal, ident: int) -> ParkingOrderDetail:
    row = await _fetch(principal, ident)
    base = order_out(row, await _places(principal.tenant_id))
    stored = row.bill or {}
    cloud = stored.get("cloud") if isinstance(stored.get("cloud"), dict) else None
    edge = row.edge_bill if isinstance(row.edge_bill, dict) else None
    cloud_total, edge_total = bill_total(cloud), bill_total(edge)
    entry = row.entry_snapshot or await evidence(
        row.tenant_id, row.site_id, row.entry_lane, row.plate, row.entered_at
    )
    exit_ = row.exit_snapshot or await evidence(
        row.tenant_id, row.site_id, row.exit_lane, row.plate, row.exited_at
    )
    held = await Arrears.filter(order_id=row.id).select_related("site").first()
    return ParkingOrderDetail(
        **{**base.model_dump(), "entry_snapshot": entry, "exit_snapshot": exit_},
        bill_lines=bill_lines_of(cloud or edge),
        cloud_total_fen=cloud_total,
        edge_total_fen=edge_total,
        bill_mismatch=cloud_total is not None
        and edge_total is not None
        and cloud_total != edge_total,
        payments=[payment_out(p) for p in await payments_of(row)],
        arrears=arrears_service.arrears_out(held, row) if held is not None else None,
        snapshots=[name for name in (entry, exit_) if name],
    )


async def _site_ids(principal: Principal, f: ParkingOrderFilter) -> list[int] | None:
    """The sites the region/street/site filters leave (None: no such filter)."""
    if not (f.region or f.street):
        return None if f.site_id is None else [f.site_id]
    query = ParkingSite.filter(tenant_id=principal.tenant_id)
    if f.region:
        query = query.filter(region=f.region)
    if f.street:
        query = query.filter(street=f.street)
    ids = [int(row["site_id"]) for row in await query.values("site_id")]
    if f.site_id is not None:
        ids = [i for i in ids if i == f.site_id]
    return ids


def _plate_filter(query: QuerySet[Any], raw: str) -> QuerySet[Any]:
    plate = normalize_plate(raw)
    if not plate:
        return query
    return (
        query.filter(plate=plate)
        if is_valid_plate(plate)
        else query.filter(plate__startswith=plate)
    )


async def _filtered(principal: Principal, f: ParkingOrderFilter) -> QuerySet[ParkingOrder]:
    query = scoped(ParkingOrder, principal)
    sites = await _site_ids(principal, f)
    if sites is not None:
        query = query.filter(site_id__in=sites or [-1])
    query = _plate_filter(query, f.plate)
    if f.number:
        query = query.filter(number__startswith=f.number.upper())
    if f.berth:
        query = query.filter(berth=f.berth)
    if f.state is not None:
        query = query.filter(state=f.state)
    if f.pay_state is not None:
        query = query.filter(pay_state=f.pay_state)
    if f.collector:
        query = query.filter(collector=f.collector)
    if f.vehicle_type is not None:
        query = query.filter(vehicle_type=f.vehicle_type.value)
    query = within(query, "entered_at", f.entered_from, f.entered_to)
    return within(query, "exited_at", f.exited_from, f.exited_to)


async def list_orders(
    principal: Principal, f: ParkingOrderFilter, params: PageParams
) -> Page[ParkingOrderOut]:
    """Newest entry first."""
    query = await _filtered(principal, f)
    places = await _places(principal.tenant_id)
    return await paginate(
        query,
        params,
        sorts=SORTS,
        default_sort="-entered_at",
        convert=lambda row: order_out(row, places),
        related=("site",),
        count_cap=ORDER_COUNT_CAP,
    )


async def order_totals(principal: Principal, f: ParkingOrderFilter) -> ParkingOrderTotals:
    """预缴费, 应收, 实收 and 应缴余额 summed over every order the filter leaves."""
    query = await _filtered(principal, f)
    sums = await query.annotate(
        n=Count("id"), prepaid=Sum("prepaid_fen"), due=Sum("due_fen"), paid=Sum("paid_fen")
    ).values("n", "prepaid", "due", "paid")
    # 应缴余额: what the orders that still owe (neither void nor free) lack, summed.
    owing = await (
        query.exclude(state=OrderState.void)
        .exclude(pay_state=PayState.free)
        .filter(due_fen__gt=F("paid_fen"))
        .annotate(due=Sum("due_fen"), paid=Sum("paid_fen"))
        .values("due", "paid")
    )
    total = sums[0] if sums else {}
    left = owing[0] if owing else {}
    balance = int(left.get("due") or 0) - int(left.get("paid") or 0)
    prepaid, due, paid = (int(total.get(k) or 0) for k in ("prepaid", "due", "paid"))
    return ParkingOrderTotals(
        count=int(total.get("n") or 0),
        prepaid_fen=prepaid,
        due_fen=due,
        paid_fen=paid,
        balance_fen=balance,
        prepaid_yuan=yuan(prepaid),
        due_yuan=yuan(due),
        paid_yuan=yuan(paid),
        balance_yuan=yuan(balance),
    )


# --- void -----------------------------------------------------------------------------------


async def free_berth(tenant_id: int, code: str, session: str) -> None:
    """Free the berth if this session still holds it, and tell its section."""
    if not code:
        return
    berth = await Berth.filter(tenant_id=tenant_id, code=code).first()
    if berth is None or berth.session != session:
        return
    berth.status = BerthStatus.free
    berth.session = ""
    berth.plate = ""
    berth.entered_at = None
    await berth.save()
    await publish_berth(berth)


async def void_order(principal: Principal, ident: int, data: VoidIn) -> ParkingOrderOut:
    """作废 an order still in progress, with a reason; its berth is freed."""
    async with in_transaction():
        query = scoped(ParkingOrder, principal).filter(id=ident)
        if is_postgres():
            query = query.select_for_update()
        row = await query.first()
        if row is None:
            raise NotFound("parking_order", ident)
        if row.state != OrderState.in_progress:
            raise Conflict("state", "parking.orders.error.not_voidable")
        if not data.reason:
            raise Invalid("reason", "error.required")
        row.state = OrderState.void
        row.void_reason = data.reason
        await row.save()
        await free_berth(row.tenant_id, row.berth, str(row.uuid))
        await audit(
            principal,
            "void",
            "parking_order",
            row.id,
            {
                "state": {"from": "in_progress", "to": "void"},
                "reason": {"from": None, "to": data.reason},
            },
        )
    return await get_order(principal, ident)


# --- pass-through records -------------------------------------------------------------------


def record_out(row: AccessRecord) -> PassRecordOut:
    return PassRecordOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        gate=row.gate,
        lane=row.lane,
        direction=row.direction,
        plate=row.plate,
        plate_color=row.plate_color,
        confidence=row.confidence,
        verdict=row.verdict,
        reason=row.reason.value,
        occurred_at=row.occurred_at,
        snapshot=row.snapshot,
    )


async def parking_site_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Site, principal).filter(kind__in=list(PARKING_KINDS)).order_by("code")
    return [(s.id, s.name) for s in rows]


async def lot_ids(tenant_id: int) -> list[int]:
    rows = await Site.filter(tenant_id=tenant_id, kind=SiteKind.parking_lot).values("id")
    return [int(row["id"]) for row in rows]


async def list_records(
    principal: Principal, f: PassRecordFilter, params: PageParams
) -> Page[PassRecordOut]:
    """The entries and exits read at the tenant's lots, newest first."""
    lots = await lot_ids(principal.tenant_id)
    if f.site_id is not None:
        lots = [i for i in lots if i == f.site_id]
    query = scoped(AccessRecord, principal).filter(site_id__in=lots or [-1])
    query = _plate_filter(query, f.plate)
    if f.lane:
        query = query.filter(lane=f.lane)
    if f.direction is not None:
        query = query.filter(direction=f.direction)
    if f.verdict is not None:
        query = query.filter(verdict=f.verdict)
    query = within(query, "occurred_at", f.occurred_from, f.occurred_to)
    return await paginate(
        query,
        params,
        sorts={"occurred_at": "occurred_at"},
        default_sort="-occurred_at",
        convert=record_out,
        related=("site",),
        count_cap=ORDER_COUNT_CAP,
    )


async def region_choices(principal: Principal) -> list[tuple[str, str]]:
    rows = (
        await ParkingSite.filter(tenant_id=principal.tenant_id)
        .exclude(region="")
        .distinct()
        .values_list("region", flat=True)
    )
    return [(str(r), str(r)) for r in sorted(set(rows))]


async def street_choices(principal: Principal) -> list[tuple[str, str]]:
    rows = (
        await ParkingSite.filter(tenant_id=principal.tenant_id)
        .exclude(street="")
        .distinct()
        .values_list("street", flat=True)
    )
    return [(str(r), str(r)) for r in sorted(set(rows))]


ORDERS = Crud(list=list_orders, get=get_order)
RECORDS = Crud(list=list_records)
