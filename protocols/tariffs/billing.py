"""The one evaluator: meter readings and a tariff document to an itemised bill in fen."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from protocols.tariffs.model import (
    CHARGING_COMPONENTS,
    STEP_MINUTES,
    TariffDocument,
    TariffError,
    slot_table,
)

_STEP = timedelta(minutes=STEP_MINUTES)
_MICROSECOND = timedelta(microseconds=1)


def half_up(numerator: int, denominator: int) -> int:
    """THE rounding rule of every bill: to the nearest whole unit, a half rounds up
    (0.5 fen -> 1 fen, 1.49 fen -> 1 fen). Integers only: no float ever touches money."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (2 * numerator + denominator) // (2 * denominator)


def yuan(fen: int | None) -> str:
    """Fen as yuan with two decimals, exact (no float): 1234 -> "12.34", -5 -> "-0.05";
    None as empty. Every page, display and receipt shows money through this."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def line_amount_fen(quantity_wh: int, price_fen_per_kwh: int) -> int:
    """A line's amount: its quantity (Wh) times its price (fen per kWh) / 1000, rounded once."""
    return half_up(quantity_wh * price_fen_per_kwh, 1000)


@dataclass(frozen=True, slots=True)
class Reading:
    """The energy register (Wh) at an instant (aware)."""

    at: datetime
    wh: int


@dataclass(frozen=True, slots=True)
class BillLine:
    label: str  # the element's label, e.g. 峰
    component: str  # ComponentKind value
    quantity: int  # Wh for energy and service, steps for time, 1 for flat
    unit_price_fen: int  # per kWh, per step or per visit
    amount_fen: int
    start: datetime
    end: datetime
    period: str = ""  # Period value of a time-of-use element, "" otherwise

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "component": self.component,
            "quantity": self.quantity,
            "unit_price_fen": self.unit_price_fen,
            "amount_fen": self.amount_fen,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "period": self.period,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BillLine:
        return cls(
            label=str(data["label"]),
            component=str(data["component"]),
            quantity=int(data["quantity"]),
            unit_price_fen=int(data["unit_price_fen"]),
            amount_fen=int(data["amount_fen"]),
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            period=str(data.get("period", "")),
        )


@dataclass(frozen=True, slots=True)
class Bill:
    lines: tuple[BillLine, ...]
    energy_wh: int
    electricity_fen: int
    service_fen: int
    total_fen: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": [line.as_dict() for line in self.lines],
            "energy_wh": self.energy_wh,
            "electricity_fen": self.electricity_fen,
            "service_fen": self.service_fen,
            "total_fen": self.total_fen,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bill:
        return cls(
            lines=tuple(BillLine.from_dict(line) for line in data.get("lines", [])),
            energy_wh=int(data["energy_wh"]),
            electricity_fen=int(data["electricity_fen"]),
            service_fen=int(data["service_fen"]),
            total_fen=int(data["total_fen"]),
        )


EMPTY_BILL_TOTALS = {"energy_wh": 0, "electricity_fen": 0, "service_fen": 0, "total_fen": 0}


# --- time slicing ------------------------------------------------------------------------------


def _slot_owners(document: TariffDocument) -> list[int] | None:
    """The element index of each 30-minute slot of the local day; None: one element always."""
    if not document.time_of_use:
        return None
    spans = []
    for element in document.elements:
        rules = element.restrictions
        if rules.start_time is None or rules.end_time is None:
            raise TariffError("峰平谷计价的每个时段须有开始和结束时间", "elements")
        spans.append((rules.start_time, rules.end_time))
    return slot_table(spans)


def _owner_at(owners: list[int] | None, moment: datetime, zone: ZoneInfo) -> int:
    if owners is None:
        return 0
    local = moment.astimezone(zone)
    return owners[(local.hour * 60 + local.minute) // STEP_MINUTES]


def _next_boundary(moment: datetime, zone: ZoneInfo) -> datetime:
    """The next local half hour after `moment`, in UTC (local wall time decides, so a zone
    whose offset is not a whole hour still switches periods at its own :00 and :30)."""
    wall = moment.astimezone(zone).replace(tzinfo=None)
    floor = wall.replace(minute=wall.minute - wall.minute % STEP_MINUTES, second=0, microsecond=0)
    boundary = (floor + _STEP).replace(tzinfo=zone).astimezone(UTC)
    return boundary if boundary > moment else moment + _STEP  # a DST fold: move on regardless


def _slices(
    owners: list[int] | None, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[int, datetime, datetime]]:
    """(element index, from, to) pieces of [start, end), both UTC, merged while one element
    applies."""
    if owners is None:
        yield 0, start, end
        return
    current = _owner_at(owners, start, zone)
    piece_start = cursor = start
    while cursor < end:
        boundary = min(_next_boundary(cursor, zone), end)
        owner = _owner_at(owners, cursor, zone)
        if owner != current:
            yield current, piece_start, cursor
            current, piece_start = owner, cursor
        cursor = boundary
    yield current, piece_start, end


# --- billing -----------------------------------------------------------------------------------


@dataclass
class _Share:
    wh: Fraction
    start: datetime
    end: datetime


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TariffError(f"{what} 须带时区 (an aware time is needed)", "readings")
    return moment.astimezone(UTC)


def bill_charging(document: TariffDocument, readings: Sequence[Reading]) -> Bill:
    """Bill a session from its readings in time order (the first is the meter start). The
    energy between two readings is split over the periods it spans in proportion to time.

    A register that goes backwards (a new session reset it) adds nothing for that interval;
    the next intervals count from the lower figure. Each element's exact share is summed over
    the session, then rounded once to whole Wh (the line's quantity) and priced once per line
    with half_up; the total is the sum of the lines, so every fen is on a line. Times of day
    are local to the document's zone; a session crossing midnight simply carries on into the
    next day's periods (which version applies is version_in_force's business, not this)."""
    if document.kind != "charging":
        raise TariffError("停车计费尚未实现 (parking bills are not evaluated here)", "kind")
    zone = ZoneInfo(document.zone)
    owners = _slot_owners(document)
    shares: dict[int, _Share] = {}
    energy_wh = 0
    previous: Reading | None = None
    previous_at: datetime | None = None
    for reading in readings:
        at = _utc(reading.at, "读数时间")
        if previous is None or previous_at is None:
            previous, previous_at = reading, at
            continue
        if at < previous_at:
            raise TariffError("读数须按时间顺序 (readings in time order)", "readings")
        delta = reading.wh - previous.wh
        if delta > 0:
            energy_wh += delta
            _share_out(shares, owners, zone, previous_at, at, delta)
        previous, previous_at = reading, at
    return _bill(document, zone, shares, energy_wh)


def _share_out(
    shares: dict[int, _Share],
    owners: list[int] | None,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    delta_wh: int,
) -> None:
    if end == start:  # two readings at one instant: the energy belongs to that instant's period
        pieces = [(_owner_at(owners, start, zone), start, end)]
        total = 1
        weights = [1]
    else:
        pieces = list(_slices(owners, zone, start, end))
        total = (end - start) // _MICROSECOND
        weights = [(to - since) // _MICROSECOND for _, since, to in pieces]
    for (owner, since, to), weight in zip(pieces, weights, strict=True):
        if weight <= 0:
            continue
        wh = Fraction(delta_wh * weight, total)
        share = shares.get(owner)
        if share is None:
            shares[owner] = _Share(wh, since, to)
        else:
            share.wh += wh
            share.start = min(share.start, since)
            share.end = max(share.end, to)


def _bill(
    document: TariffDocument, zone: ZoneInfo, shares: dict[int, _Share], energy_wh: int
) -> Bill:
    lines: list[BillLine] = []
    for owner, share in sorted(shares.items(), key=lambda item: (item[1].start, item[0])):
        quantity = half_up(share.wh.numerator, share.wh.denominator)
        if quantity <= 0:
            continue
        element = document.elements[owner]
        for component in element.components:
            if component.kind not in CHARGING_COMPONENTS:
                raise TariffError(f"充电计费不支持 {component.kind}", "elements")
            lines.append(
                BillLine(
                    label=element.label,
                    component=component.kind.value,
                    quantity=quantity,
                    unit_price_fen=component.price_fen,
                    amount_fen=line_amount_fen(quantity, component.price_fen),
                    start=share.start.astimezone(zone),
                    end=share.end.astimezone(zone),
                    period=element.period.value if element.period else "",
                )
            )
    electricity = sum(line.amount_fen for line in lines if line.component == "energy")
    service = sum(line.amount_fen for line in lines if line.component == "service")
    return Bill(
        lines=tuple(lines),
        energy_wh=energy_wh,
        electricity_fen=electricity,
        service_fen=service,
        total_fen=sum(line.amount_fen for line in lines),
    )


def bill_energy_at(document: TariffDocument, energy_wh: int, at: datetime) -> Bill:
    """The billing test: `energy_wh` consumed at the instant `at`."""
    if energy_wh < 0:
        raise TariffError("电量不能为负 (energy cannot be negative)", "energy_wh")
    return bill_charging(document, [Reading(at, 0), Reading(at, energy_wh)])


def version_in_force(
    versions: Sequence[tuple[date, TariffDocument]], started_at: datetime, zone: ZoneInfo
) -> TariffDocument | None:
    """The version with the latest effective date not after the local date of `started_at`.

    A new version takes effect at the local midnight that begins its effective date; a session
    that crosses midnight keeps the version it started under."""
    day = _utc(started_at, "开始时间").astimezone(zone).date()
    best: tuple[date, TariffDocument] | None = None
    for effective_from, document in versions:
        if effective_from <= day and (best is None or effective_from > best[0]):
            best = (effective_from, document)
    return best[1] if best is not None else None
