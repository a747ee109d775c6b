"""The parking evaluator: a stay, a parking tariff document and a holiday calendar to an
itemised bill in integer fen (the one function the edge, the PDA and the cloud all call).

The rule, in the words the bill uses:

- A stay [entered, exited) is cut into whole minutes counted from the entry instant (a started
  minute counts: 61 seconds are two minutes). Each minute takes the attributes of the instant
  it starts: its local date (whose day kind the holiday calendar gives: workday, weekend, short
  or long holiday; by default Mon-Fri are workdays and Sat/Sun weekend), its time of day
  (minutes since that date's local midnight), and its elapsed minutes since billing started.
- Each minute belongs to the FIRST element of the document whose restrictions all hold for it:
  day kinds, [start_time, end_time) of the clock (an end at or before the start runs past
  midnight: a night; start == end is the whole day), [min_minutes, max_minutes) of elapsed
  minutes, vehicle classes (small, large, other). A minute no element takes is free.
- Contiguous minutes of one element form a segment (a stay crossing midnight stays in one
  segment while the element does not change). A `time` component charges price_fen for every
  STARTED step_minutes of its segment; a `flat` component charges price_fen once per segment
  (按次: once per visit, or once per night when it sits in a night element).
- 首N分钟X元，之后每M分钟Y元 is two elements on the elapsed axis: [0, N) with step N at X and
  [N, -) with step M at Y.
- Document terms, applied in this order after the segments: cap_per_day_fen (each local day's
  amount is at most this; a step is booked to the day it starts in, a flat charge to the day
  its segment starts in), cap_per_stay_fen, free_minutes (a stay not longer than this is free:
  "15分钟免费"; with free_minutes_deducted a longer stay has them off too, i.e. billing starts
  free_minutes after entry and the elapsed axis starts there), new_energy_percent (a new-energy
  vehicle pays this percent of the total, half a fen rounding up).
- Every fen is on a line: segment lines (positive), then cap, free and discount lines
  (negative); total_fen is the sum of the lines. The bill is JSON-able (as_dict / from_dict).

Speed: a document compiles once into a plan (cached by the document object), and a bill walks
from boundary to boundary (clock cuts, local midnights, elapsed thresholds), never minute by
minute.
"""

from __future__ import annotations

import bisect
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from protocols.tariffs.billing import half_up
from protocols.tariffs.model import (
    DAY_MINUTES,
    MAX_PARKING_PRICE_FEN,
    ComponentKind,
    DayKind,
    TariffDocument,
    TariffError,
    parse_tariff,
    span_minutes,
)

VEHICLE_CLASSES = ("small", "large", "other")  # protocols.parking.VehicleClass values
PARKING_COMPONENTS = (ComponentKind.time, ComponentKind.flat)
_INF = 1 << 60
_MINUTE = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)
_ZERO = timedelta(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- the holiday calendar ------------------------------------------------------------------------


class HolidayCalendar:
    """节假日: the day kind of each local date. Dates not listed are workdays Monday to Friday
    and weekend on Saturday and Sunday; a listed date overrides that (a holiday, or a weekend
    made a workday)."""

    __slots__ = ("_days", "_ordinals")

    def __init__(self, days: Mapping[date, DayKind | str] | None = None) -> None:
        checked: dict[date, DayKind] = {}
        for day, kind in (days or {}).items():
            try:
                checked[day] = DayKind(kind)
            except ValueError:
                raise TariffError(
                    f"未知的日期类型 (unknown day kind) {kind!r} on {day}", "calendar"
                ) from None
        self._days = checked
        self._ordinals: dict[int, str] = {}

    @classmethod
    def from_grants(cls, grants: Mapping[str, Any]) -> HolidayCalendar:
        """From Entity.holiday state: ISO date -> HolidayGrant (or its dict, or a kind)."""
        days: dict[date, DayKind | str] = {}
        for key, grant in grants.items():
            try:
                day = date.fromisoformat(key)
            except ValueError:
                raise TariffError(
                    f"节假日日期无效 (bad holiday date) {key!r}", "calendar"
                ) from None
            if isinstance(grant, str):
                kind = grant
            elif isinstance(grant, Mapping):
                kind = str(grant.get("kind", ""))
            else:
                kind = str(getattr(grant, "kind", ""))
            days[day] = kind
        return cls(days)

    def kind_of_ordinal(self, ordinal: int) -> str:
        """The DayKind value of date.fromordinal(ordinal), cached (the evaluator asks this per
        day; a plain str hashes faster than the enum)."""
        kind = self._ordinals.get(ordinal)
        if kind is None:
            if len(self._ordinals) > 50_000:
                self._ordinals.clear()
            kind = self._ordinals[ordinal] = self.day_kind(date.fromordinal(ordinal)).value
        return kind

    def day_kind(self, day: date) -> DayKind:
        kind = self._days.get(day)
        if kind is not None:
            return kind
        return DayKind.weekend if day.weekday() >= 5 else DayKind.workday

    @property
    def days(self) -> dict[date, DayKind]:
        return dict(self._days)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HolidayCalendar) and other._days == self._days

    def __hash__(self) -> int:
        return hash(frozenset(self._days.items()))

    def __repr__(self) -> str:
        return f"HolidayCalendar({len(self._days)} days)"


WEEKDAYS = HolidayCalendar()


# --- the bill ------------------------------------------------------------------------------------


class LineKind:
    """What a line is: a component's charge, or an adjustment."""

    time = "time"
    flat = "flat"
    cap_day = "cap_day"
    cap_stay = "cap_stay"
    free = "free"
    new_energy = "new_energy"


class ParkingBillLine(NamedTuple):
    kind: str  # LineKind
    label: str  # the element's label, or the adjustment's words
    start: datetime  # local, aware
    end: datetime
    minutes: int  # billed minutes of the segment (the free minutes of a free line)
    steps: int  # started steps for time, 1 for flat, 0 for adjustments
    unit_price_fen: int  # per step or per visit; 0 for adjustments
    step_minutes: int  # of a time line, else 0
    amount_fen: int  # negative for adjustments

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "minutes": self.minutes,
            "steps": self.steps,
            "unit_price_fen": self.unit_price_fen,
            "step_minutes": self.step_minutes,
            "amount_fen": self.amount_fen,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParkingBillLine:
        return cls(
            kind=str(data["kind"]),
            label=str(data["label"]),
            start=datetime.fromisoformat(str(data["start"])),
            end=datetime.fromisoformat(str(data["end"])),
            minutes=int(data["minutes"]),
            steps=int(data["steps"]),
            unit_price_fen=int(data["unit_price_fen"]),
            step_minutes=int(data.get("step_minutes", 0)),
            amount_fen=int(data["amount_fen"]),
        )


class ParkingBill(NamedTuple):
    """The bill of one stay; total_fen is the sum of the lines' amounts. (Named tuples, not
    frozen dataclasses: they are made 50,000 times a second.)"""

    lines: tuple[ParkingBillLine, ...]
    total_fen: int
    minutes: int  # the stay in started minutes
    entered_at: datetime
    exited_at: datetime
    vehicle_class: str
    new_energy: bool
    within_free_minutes: bool  # the stay was not longer than the free minutes

    @property
    def charged_fen(self) -> int:
        """Before adjustments: what the segments alone charge."""
        return sum(line.amount_fen for line in self.lines if line.amount_fen > 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": [line.as_dict() for line in self.lines],
            "total_fen": self.total_fen,
            "minutes": self.minutes,
            "entered_at": self.entered_at.isoformat(),
            "exited_at": self.exited_at.isoformat(),
            "vehicle_class": self.vehicle_class,
            "new_energy": self.new_energy,
            "within_free_minutes": self.within_free_minutes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParkingBill:
        lines = tuple(ParkingBillLine.from_dict(line) for line in data.get("lines", []))
        total = int(data["total_fen"])
        if total != sum(line.amount_fen for line in lines):
            raise TariffError("账单合计与明细不符 (total is not the sum of the lines)", "total_fen")
        return cls(
            lines=lines,
            total_fen=total,
            minutes=int(data["minutes"]),
            entered_at=datetime.fromisoformat(str(data["entered_at"])),
            exited_at=datetime.fromisoformat(str(data["exited_at"])),
            vehicle_class=str(data.get("vehicle_class", "small")),
            new_energy=bool(data.get("new_energy", False)),
            within_free_minutes=bool(data.get("within_free_minutes", False)),
        )


# --- the compiled plan ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Element:
    index: int
    label: str
    clock: tuple[int, int] | None  # [start, end) minutes since midnight, end may pass 1440
    kinds: frozenset[DayKind] | None  # None: every day kind
    classes: frozenset[str] | None  # None: every vehicle class
    min_e: int
    max_e: int  # _INF: open
    time_price: int
    time_step: int  # 0: no time component
    flat_price: int
    has_flat: bool

    def at_clock(self, minute: int) -> bool:
        if self.clock is None:
            return True
        start, end = self.clock
        if end <= DAY_MINUTES:
            return start <= minute < end
        return minute >= start or minute < end - DAY_MINUTES


_Candidates = tuple[_Element, ...]


class _Plan:
    """A document compiled for billing: the clock cuts of the day, the elapsed thresholds, and
    per (day kind, vehicle class) the candidate elements of each clock interval in order."""

    __slots__ = (
        "cap_day",
        "cap_stay",
        "cuts",
        "deducted",
        "document",
        "elements",
        "free",
        "midnights",
        "new_energy_percent",
        "tables",
        "thresholds",
        "zone",
    )

    def __init__(self, document: TariffDocument) -> None:
        self.document = document
        self.zone = ZoneInfo(document.zone)
        self.free = document.free_minutes or 0
        self.deducted = bool(document.free_minutes_deducted)
        self.cap_day = document.cap_per_day_fen
        self.cap_stay = document.cap_per_stay_fen
        self.new_energy_percent = document.new_energy_percent
        elements = []
        cuts = {0}
        thresholds: set[int] = set()
        for index, element in enumerate(document.elements):
            rules = element.restrictions
            clock = None
            if rules.start_time is not None and rules.end_time is not None:
                clock = span_minutes(rules.start_time, rules.end_time)
                cuts.add(clock[0] % DAY_MINUTES)
                cuts.add(clock[1] % DAY_MINUTES)
            min_e = rules.min_minutes or 0
            max_e = rules.max_minutes if rules.max_minutes is not None else _INF
            if min_e > 0:
                thresholds.add(min_e)
            if max_e < _INF:
                thresholds.add(max_e)
            time_price = time_step = flat_price = 0
            has_flat = False
            for component in element.components:
                if component.kind == ComponentKind.time:
                    time_price, time_step = component.price_fen, component.step_minutes
                elif component.kind == ComponentKind.flat:
                    flat_price, has_flat = component.price_fen, True
            elements.append(
                _Element(
                    index=index,
                    label=element.label,
                    clock=clock,
                    kinds=frozenset(rules.day_kinds) if rules.day_kinds else None,
                    classes=frozenset(rules.vehicle_classes) if rules.vehicle_classes else None,
                    min_e=min_e,
                    max_e=max_e,
                    time_price=time_price,
                    time_step=time_step,
                    flat_price=flat_price,
                    has_flat=has_flat,
                )
            )
        self.elements = tuple(elements)
        self.cuts = sorted(cuts)
        self.thresholds = sorted(thresholds)
        self.tables: dict[tuple[str, str], tuple[_Candidates, ...]] = {}
        self.midnights: dict[int, int] = {}  # date ordinal -> UTC seconds of its local midnight

    def midnight(self, ordinal: int) -> int:
        found = self.midnights.get(ordinal)
        if found is None:
            if len(self.midnights) > 20_000:
                self.midnights.clear()
            found = self.midnights[ordinal] = _midnight(self.zone, ordinal)
        return found

    def table(self, kind: str, vehicle_class: str) -> tuple[_Candidates, ...]:
        """The candidate elements of each clock interval [cuts[j], cuts[j+1]) for this day kind
        and vehicle class, in document order."""
        key = (kind, vehicle_class)
        found = self.tables.get(key)
        if found is None:
            found = tuple(
                tuple(
                    e
                    for e in self.elements
                    if (e.kinds is None or kind in e.kinds)
                    and (e.classes is None or vehicle_class in e.classes)
                    and e.at_clock(cut)
                )
                for cut in self.cuts
            )
            self.tables[key] = found
        return found


_PLANS: dict[int, _Plan] = {}
_MAX_PLANS = 512


def _plan_of(document: TariffDocument) -> _Plan:
    plan = _PLANS.get(id(document))
    if plan is not None and plan.document is document:
        return plan
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    plan = _Plan(document)
    _PLANS[id(document)] = plan
    return plan


_MIDNIGHTS: dict[tuple[str, int], int] = {}


def _midnight(zone: ZoneInfo, ordinal: int) -> int:
    """UTC seconds of the local midnight that starts the date with this ordinal."""
    key = (zone.key, ordinal)
    found = _MIDNIGHTS.get(key)
    if found is None:
        if len(_MIDNIGHTS) > 100_000:
            _MIDNIGHTS.clear()
        day = date.fromordinal(ordinal)
        local = datetime(day.year, day.month, day.day, tzinfo=zone)
        found = int((local - _EPOCH).total_seconds())
        _MIDNIGHTS[key] = found
    return found


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# --- billing -------------------------------------------------------------------------------------


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise TariffError(f"{what}须带时区 (an aware time is needed)", what)
    return moment


def bill_parking(
    document: TariffDocument,
    entered_at: datetime,
    exited_at: datetime,
    vehicle_class: str = "small",
    new_energy: bool = False,
    calendar: HolidayCalendar | None = None,
) -> ParkingBill:
    """The itemised bill of a stay (aware datetimes) under a parking document (see the module
    docstring for the rule). TariffError on exit before entry, a naive time, a charging
    document or an unknown vehicle class."""
    plan = _PLANS.get(id(document))
    if plan is None or plan.document is not document:
        if document.kind != "parking":
            raise TariffError("不是停车收费规则 (not a parking tariff)", "kind")
        plan = _plan_of(document)
    if entered_at.tzinfo is None or exited_at.tzinfo is None:
        _aware(entered_at, "entered_at")
        _aware(exited_at, "exited_at")
    if vehicle_class not in VEHICLE_CLASSES:
        raise TariffError(f"未知车型 (unknown vehicle class) {vehicle_class!r}", "vehicle_class")
    entered_utc = entered_at.astimezone(UTC)  # ValueError from a tzinfo without an offset
    span = exited_at.astimezone(UTC) - entered_utc
    if span < _ZERO:
        raise TariffError("离场时间早于入场时间 (exit before entry)", "exited_at")
    calendar = calendar or WEEKDAYS
    zone = plan.zone
    n = -((-(span.days * 86_400 + span.seconds) * 1_000_000 - span.microseconds) // 60_000_000)
    within_free = n <= plan.free
    start_index = plan.free if (plan.deducted and not within_free) else 0

    enter_s = (entered_utc - _EPOCH) // _SECOND  # whole seconds (floor) decide days and hours
    local_entry = entered_utc.astimezone(zone)
    ordinal = local_entry.toordinal()
    midnights = plan.midnights

    # Walk from boundary to boundary in minute indexes i (minute i starts at entry + i min).
    segments: list[list[Any]] = []  # [element, i_start, i_end]
    days: list[tuple[int, int]] = []  # (i where the day starts (may be < 0), ordinal)
    cuts = plan.cuts
    cut_count = len(cuts)
    thresholds = plan.thresholds
    threshold_count = len(thresholds)
    tables = plan.tables
    base = start_index  # elapsed = i - base
    i = start_index
    midnight = midnights.get(ordinal) or plan.midnight(ordinal)
    # The day of minute i: advance while its start is at or after the next midnight.
    while True:
        next_midnight = midnights.get(ordinal + 1) or plan.midnight(ordinal + 1)
        if enter_s + 60 * i < next_midnight:
            break
        ordinal += 1
        midnight = next_midnight
    regular = next_midnight - midnight == 86_400  # no change of UTC offset in the days walked
    day_start_i = -((enter_s - midnight) // 60)
    day_end_i = -((enter_s - next_midnight) // 60)
    day_len = (next_midnight - midnight) // 60
    key = (calendar.kind_of_ordinal(ordinal), vehicle_class)
    table = tables.get(key) or plan.table(*key)
    days.append((day_start_i, ordinal))
    last: list[Any] | None = None
    while i < n:
        if i >= day_end_i:
            ordinal += 1
            midnight = next_midnight
            next_midnight = midnights.get(ordinal + 1) or plan.midnight(ordinal + 1)
            day_start_i = day_end_i
            day_end_i = -((enter_s - next_midnight) // 60)
            day_len = (next_midnight - midnight) // 60
            if day_len != DAY_MINUTES:
                regular = False
            key = (calendar.kind_of_ordinal(ordinal), vehicle_class)
            table = tables.get(key) or plan.table(*key)
            days.append((day_start_i, ordinal))
        minute = (enter_s + 60 * i - midnight) // 60  # time of day of minute i
        j = bisect_right(cuts, minute) - 1
        if j + 1 < cut_count and cuts[j + 1] < day_len:
            nxt = i + (cuts[j + 1] - minute)
        else:
            nxt = day_end_i
        elapsed = i - base
        chosen = None
        for element in table[j]:
            if element.min_e <= elapsed < element.max_e:
                chosen = element
                break
        if threshold_count:
            k = bisect_right(thresholds, elapsed)
            if k < threshold_count and base + thresholds[k] < nxt:
                nxt = base + thresholds[k]
        if nxt > n:
            nxt = n
        if nxt > day_end_i:
            nxt = day_end_i
        if chosen is not None:
            if last is not None and last[0] is chosen and last[2] == i:
                last[2] = nxt
            else:
                last = [chosen, i, nxt]
                segments.append(last)
        i = nxt

    # Lines of the segments.
    lines: list[ParkingBillLine] = []

    local_exit = exited_at.astimezone(zone)
    if regular and local_exit.utcoffset() == local_entry.utcoffset():

        def at(index: int) -> datetime:
            return local_exit if index >= n else local_entry + index * _MINUTE

    else:

        def at(index: int) -> datetime:
            if index >= n:
                return local_exit
            return (entered_utc + index * _MINUTE).astimezone(zone)

    booked: dict[int, int] = {}  # ordinal -> fen (only with a daily cap)
    cap_day = plan.cap_day
    total = 0
    if start_index:
        lines.append(
            ParkingBillLine(
                kind=LineKind.free,
                label=f"免费{start_index}分钟",
                start=at(0),
                end=at(start_index),
                minutes=start_index,
                steps=0,
                unit_price_fen=0,
                step_minutes=0,
                amount_fen=0,
            )
        )
    new_line = ParkingBillLine._make  # positional, from a tuple: the fastest way to make one
    for element, first, end in segments:
        minutes = end - first
        start_at, end_at = at(first), at(end)
        if element.time_step:
            steps = _ceil_div(minutes, element.time_step)
            amount = steps * element.time_price
            total += amount
            lines.append(
                new_line(
                    (
                        "time",
                        element.label,
                        start_at,
                        end_at,
                        minutes,
                        steps,
                        element.time_price,
                        element.time_step,
                        amount,
                    )
                )
            )
            if cap_day is not None and amount:
                if len(days) == 1:
                    booked[days[0][1]] = booked.get(days[0][1], 0) + amount
                else:
                    _book_steps(booked, days, first, element.time_step, steps, element.time_price)
        if element.has_flat:
            total += element.flat_price
            lines.append(
                new_line(
                    (
                        "flat",
                        element.label,
                        start_at,
                        end_at,
                        minutes,
                        1,
                        element.flat_price,
                        0,
                        element.flat_price,
                    )
                )
            )
            if cap_day is not None and element.flat_price:
                day = _day_of(days, first)
                booked[day] = booked.get(day, 0) + element.flat_price

    # Adjustments.
    if cap_day is not None:
        for day in sorted(booked):
            over = booked[day] - cap_day
            if over > 0:
                total -= over
                lines.append(
                    _adjustment(
                        LineKind.cap_day,
                        f"每日封顶 {date.fromordinal(day)}",
                        _day_bounds(days, day, n, at),
                        -over,
                    )
                )
    if plan.cap_stay is not None and total > plan.cap_stay:
        over = total - plan.cap_stay
        total -= over
        lines.append(_adjustment(LineKind.cap_stay, "单次封顶", (at(0), at(n)), -over))
    if within_free and plan.free and total > 0:
        lines.append(
            _adjustment(LineKind.free, f"{plan.free}分钟内免费", (at(0), at(n)), -total, n)
        )
        total = 0
    if new_energy and plan.new_energy_percent is not None and total > 0:
        pays = half_up(total * plan.new_energy_percent, 100)
        if pays != total:
            label = f"新能源{plan.new_energy_percent}%"
            lines.append(_adjustment(LineKind.new_energy, label, (at(0), at(n)), pays - total))
            total = pays
    return ParkingBill(
        lines=tuple(lines),
        total_fen=total,
        minutes=n,
        entered_at=entered_at,
        exited_at=exited_at,
        vehicle_class=vehicle_class,
        new_energy=new_energy,
        within_free_minutes=within_free and plan.free > 0,
    )


def _adjustment(
    kind: str, label: str, bounds: tuple[datetime, datetime], amount: int, minutes: int = 0
) -> ParkingBillLine:
    return ParkingBillLine(
        kind=kind,
        label=label,
        start=bounds[0],
        end=bounds[1],
        minutes=minutes,
        steps=0,
        unit_price_fen=0,
        step_minutes=0,
        amount_fen=amount,
    )


def _day_of(days: Sequence[tuple[int, int]], index: int) -> int:
    """The ordinal of the local date minute `index` falls in."""
    position = bisect.bisect_right(days, (index, _INF)) - 1
    return days[max(position, 0)][1]


def _book_steps(
    booked: dict[int, int],
    days: Sequence[tuple[int, int]],
    first: int,
    step: int,
    steps: int,
    price: int,
) -> None:
    """Book each started step to the local day it starts in."""
    last_start = first + (steps - 1) * step
    position = max(bisect.bisect_right(days, (first, _INF)) - 1, 0)
    while position < len(days):
        day_start = days[position][0]
        day_end = days[position + 1][0] if position + 1 < len(days) else _INF
        if day_start > last_start:
            break
        low = max(first, day_start)
        high = min(last_start, day_end - 1)
        if high >= low:
            # steps j with low <= first + j*step <= high
            count = (high - first) // step - _ceil_div(low - first, step) + 1
            if count > 0:
                ordinal = days[position][1]
                booked[ordinal] = booked.get(ordinal, 0) + count * price
        position += 1


def _day_bounds(
    days: Sequence[tuple[int, int]], ordinal: int, n: int, at: Any
) -> tuple[datetime, datetime]:
    for position, (start, day) in enumerate(days):
        if day == ordinal:
            end = days[position + 1][0] if position + 1 < len(days) else n
            return at(max(start, 0)), at(min(end, n))
    return at(0), at(n)


# --- validation of parking documents (parse_tariff calls this) -----------------------------------


def check_parking(document: TariffDocument) -> None:
    """The parking rules beyond the schema: time and flat components only (at most one of
    each per element, a time component with step_minutes > 0, prices within reason), hours
    given as a pair, elapsed windows with min < max, known vehicle classes, no element of a
    scope whose own elapsed window overlaps an earlier one's, and no element that can never
    apply."""
    if document.prepay_options_fen:
        raise TariffError(
            "停车收费规则没有预付值 (parking has no prepay options)", "prepay_options_fen"
        )
    for index, element in enumerate(document.elements):
        where = f"elements.{index}"
        kinds = [c.kind for c in element.components]
        if len(set(kinds)) != len(kinds):
            raise TariffError(f"第{index + 1}条：同一价格项重复 (a component kind twice)", where)
        for number, component in enumerate(element.components):
            place = f"{where}.components.{number}"
            if component.kind not in PARKING_COMPONENTS:
                raise TariffError(
                    f"第{index + 1}条：停车只按时长或按次计费 (parking bills time or flat, "
                    f"not {component.kind.value})",
                    f"{place}.kind",
                )
            if component.kind == ComponentKind.time and component.step_minutes <= 0:
                raise TariffError(
                    f"第{index + 1}条：按时长计费须有计费单位分钟数 (a time component needs "
                    "step_minutes > 0)",
                    f"{place}.step_minutes",
                )
            if component.kind == ComponentKind.flat and component.step_minutes:
                raise TariffError(
                    f"第{index + 1}条：按次计费没有计费单位 (a flat component has no step_minutes)",
                    f"{place}.step_minutes",
                )
            if component.step_minutes > DAY_MINUTES:
                raise TariffError(
                    f"第{index + 1}条：计费单位最长1440分钟 (step_minutes at most 1440)",
                    f"{place}.step_minutes",
                )
            if component.price_fen > MAX_PARKING_PRICE_FEN:
                raise TariffError(
                    f"第{index + 1}条：单价过高 (price above {MAX_PARKING_PRICE_FEN} fen)",
                    f"{place}.price_fen",
                )
        rules = element.restrictions
        if (rules.start_time is None) != (rules.end_time is None):
            raise TariffError(
                f"第{index + 1}条：时段须有开始和结束时间 (start and end together)",
                f"{where}.restrictions",
            )
        for name in ("start_time", "end_time"):
            value = getattr(rules, name)
            if value is not None and (value.second or value.microsecond):
                raise TariffError(
                    f"第{index + 1}条：时段精确到分钟 (whole minutes)",
                    f"{where}.restrictions.{name}",
                )
        low = rules.min_minutes
        high = rules.max_minutes
        if low is not None and low < 0:
            raise TariffError(
                f"第{index + 1}条：时长下限不能为负 (min_minutes >= 0)",
                f"{where}.restrictions.min_minutes",
            )
        if high is not None and high <= (low or 0):
            raise TariffError(
                f"第{index + 1}条：时长上限须大于下限 (max_minutes > min_minutes)",
                f"{where}.restrictions.max_minutes",
            )
        for name in rules.vehicle_classes:
            if name not in VEHICLE_CLASSES:
                raise TariffError(
                    f"第{index + 1}条：未知车型 (unknown vehicle class) {name!r}",
                    f"{where}.restrictions.vehicle_classes",
                )
    _check_overlaps(document)
    _check_reachable(document)


def _scope(document: TariffDocument, index: int) -> tuple[Any, ...]:
    rules = document.elements[index].restrictions
    return (
        rules.start_time,
        rules.end_time,
        frozenset(rules.day_kinds),
        frozenset(rules.vehicle_classes),
    )


def _check_overlaps(document: TariffDocument) -> None:
    """Two elements of the same scope (hours, day kinds, vehicle classes) whose duration
    windows overlap are a slip when the later one names a window of its own; a later element
    with no duration window is a fallback (it bills what the earlier ones leave) and fine."""
    elements = document.elements
    for a in range(len(elements)):
        for b in range(a + 1, len(elements)):
            if _scope(document, a) != _scope(document, b):
                continue
            ra, rb = elements[a].restrictions, elements[b].restrictions
            if rb.min_minutes is None and rb.max_minutes is None:
                continue
            a_low, a_high = ra.min_minutes or 0, ra.max_minutes or _INF
            b_low, b_high = rb.min_minutes or 0, rb.max_minutes or _INF
            if a_low < b_high and b_low < a_high:
                raise TariffError(
                    f"第{a + 1}条与第{b + 1}条的时长区间重叠 (overlapping duration windows "
                    f"of elements {a + 1} and {b + 1})",
                    f"elements.{b}.restrictions",
                )


def _check_reachable(document: TariffDocument) -> None:
    """Every element must be the first match somewhere: a day kind, a vehicle class, a clock
    interval and an elapsed interval."""
    plan = _Plan(document)
    elapsed_points = [0, *plan.thresholds]
    used: set[int] = set()
    for kind in DayKind:
        for vehicle_class in VEHICLE_CLASSES:
            for candidates in plan.table(kind.value, vehicle_class):
                for point in elapsed_points:
                    for element in candidates:
                        if element.min_e <= point < element.max_e:
                            used.add(element.index)
                            break
    for index in range(len(document.elements)):
        if index not in used:
            raise TariffError(
                f"第{index + 1}条（{document.elements[index].label}）永远不会生效：前面的规则已覆盖它"
                f" (element {index + 1} can never apply: earlier elements cover it)",
                f"elements.{index}",
            )


# --- builders: the rule types of the admin form ----------------------------------------------------


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PerPeriod(_Rule):
    """按单位时段: the first `first_minutes` for `first_price_fen` (none when 0), then every
    started `step_minutes` for `price_fen`."""

    kind: Literal["per_period"] = "per_period"
    first_minutes: int = Field(default=0, ge=0, le=DAY_MINUTES)
    first_price_fen: int = Field(default=0, ge=0, le=MAX_PARKING_PRICE_FEN)
    step_minutes: int = Field(gt=0, le=DAY_MINUTES)
    price_fen: int = Field(ge=0, le=MAX_PARKING_PRICE_FEN)


class PerVisit(_Rule):
    """按次: one price per visit (per night in the night part of a day/night rule)."""

    kind: Literal["per_visit"] = "per_visit"
    price_fen: int = Field(ge=0, le=MAX_PARKING_PRICE_FEN)


class NoCharge(_Rule):
    """不收费."""

    kind: Literal["no_charge"] = "no_charge"


Part = Annotated[PerPeriod | PerVisit | NoCharge, Field(discriminator="kind")]


class DayNight(_Rule):
    """日夜分时: [day_start, day_end) by `day`, the rest of the 24 hours (the night) by `night`."""

    kind: Literal["day_night"] = "day_night"
    day_start: time
    day_end: time
    day: Part
    night: Part


Rule = Annotated[PerPeriod | PerVisit | NoCharge | DayNight, Field(discriminator="kind")]


class Scheme(_Rule):
    """One rule for some vehicle classes on some day kinds (empty: all)."""

    vehicle_classes: list[Literal["small", "large", "other"]] = Field(default_factory=list)
    day_kinds: list[DayKind] = Field(default_factory=list)
    rule: Rule


VEHICLE_CLASS_LABELS = {"small": "小型车", "large": "大型车", "other": "其他车型"}
DAY_KIND_LABELS = {
    DayKind.workday: "工作日",
    DayKind.weekend: "周末",
    DayKind.short_holiday: "小长假",
    DayKind.long_holiday: "长假",
}


def _prefix(scheme: Scheme) -> str:
    words = [VEHICLE_CLASS_LABELS[c] for c in scheme.vehicle_classes]
    words += [DAY_KIND_LABELS[k] for k in scheme.day_kinds]
    text = "/".join(words)
    return f"{text}·" if text else ""


def _label(prefix: str, words: str) -> str:
    text = f"{prefix}{words}"
    return text if len(text) <= 32 else text[:31] + "…"


def _part_elements(
    part: PerPeriod | PerVisit | NoCharge, prefix: str, clock: dict[str, str] | None
) -> list[dict[str, Any]]:
    base: dict[str, Any] = dict(clock or {})
    if isinstance(part, NoCharge):
        return [
            {
                "label": _label(prefix, "不收费"),
                "components": [{"kind": "flat", "price_fen": 0}],
                "restrictions": base,
            }
        ]
    if isinstance(part, PerVisit):
        return [
            {
                "label": _label(prefix, "按次"),
                "components": [{"kind": "flat", "price_fen": part.price_fen}],
                "restrictions": base,
            }
        ]
    elements: list[dict[str, Any]] = []
    if part.first_minutes:
        elements.append(
            {
                "label": _label(prefix, f"首{part.first_minutes}分钟"),
                "components": [
                    {
                        "kind": "time",
                        "price_fen": part.first_price_fen,
                        "step_minutes": part.first_minutes,
                    }
                ],
                "restrictions": {**base, "max_minutes": part.first_minutes},
            }
        )
    rest: dict[str, Any] = dict(base)
    if part.first_minutes:
        rest["min_minutes"] = part.first_minutes
    elements.append(
        {
            "label": _label(prefix, f"每{part.step_minutes}分钟"),
            "components": [
                {"kind": "time", "price_fen": part.price_fen, "step_minutes": part.step_minutes}
            ],
            "restrictions": rest,
        }
    )
    return elements


def _scheme_elements(scheme: Scheme) -> list[dict[str, Any]]:
    prefix = _prefix(scheme)
    scope: dict[str, Any] = {}
    if scheme.vehicle_classes:
        scope["vehicle_classes"] = list(scheme.vehicle_classes)
    if scheme.day_kinds:
        scope["day_kinds"] = [k.value for k in scheme.day_kinds]
    rule = scheme.rule
    if isinstance(rule, DayNight):
        if rule.day_start == rule.day_end:
            raise TariffError("白天的开始与结束不能相同 (day start and end must differ)", "day_end")
        day = {"start_time": rule.day_start.isoformat(), "end_time": rule.day_end.isoformat()}
        night = {"start_time": rule.day_end.isoformat(), "end_time": rule.day_start.isoformat()}
        elements = _part_elements(rule.day, prefix + "白天", day)
        elements += _part_elements(rule.night, prefix + "夜间", night)
    else:
        elements = _part_elements(rule, prefix, None)
    for element in elements:
        element["restrictions"] = {**element["restrictions"], **scope}
    return elements


def parking_tariff(
    name: str,
    schemes: Sequence[Scheme],
    *,
    free_minutes: int = 0,
    free_minutes_deducted: bool = False,
    cap_per_day_fen: int | None = None,
    cap_per_stay_fen: int | None = None,
    new_energy_percent: int | None = None,
    zone: str = "Asia/Shanghai",
) -> TariffDocument:
    """A parking document from the admin form's rules: schemes in order (the first that fits a
    minute's vehicle class and day kind bills it), plus the document terms. TariffError naming
    the problem (e.g. a scheme that can never apply because an earlier one covers it)."""
    if not schemes:
        raise TariffError("至少需要一条收费规则 (at least one rule)", "schemes")
    elements: list[dict[str, Any]] = []
    for scheme in schemes:
        elements += _scheme_elements(scheme)
    data: dict[str, Any] = {"kind": "parking", "name": name, "zone": zone, "elements": elements}
    if free_minutes:
        data["free_minutes"] = free_minutes
        data["free_minutes_deducted"] = free_minutes_deducted
    for key, value in (
        ("cap_per_day_fen", cap_per_day_fen),
        ("cap_per_stay_fen", cap_per_stay_fen),
        ("new_energy_percent", new_energy_percent),
    ):
        if value is not None:
            data[key] = value
    return parse_tariff(data)


def per_period_parking(
    name: str,
    step_minutes: int,
    price_fen: int,
    first_minutes: int = 0,
    first_price_fen: int = 0,
    **terms: Any,
) -> TariffDocument:
    """按单位时段 for every vehicle and day: 首N分钟X元，之后每M分钟Y元."""
    rule = PerPeriod(
        first_minutes=first_minutes,
        first_price_fen=first_price_fen,
        step_minutes=step_minutes,
        price_fen=price_fen,
    )
    return parking_tariff(name, [Scheme(rule=rule)], **terms)


def per_visit_parking(name: str, price_fen: int, **terms: Any) -> TariffDocument:
    """按次 for every vehicle and day."""
    return parking_tariff(name, [Scheme(rule=PerVisit(price_fen=price_fen))], **terms)


def no_charge_parking(name: str, **terms: Any) -> TariffDocument:
    """不收费."""
    return parking_tariff(name, [Scheme(rule=NoCharge())], **terms)


def day_night_parking(
    name: str,
    day_start: time,
    day_end: time,
    day: PerPeriod | PerVisit | NoCharge,
    night: PerPeriod | PerVisit | NoCharge,
    **terms: Any,
) -> TariffDocument:
    """日夜分时 for every vehicle and day."""
    rule = DayNight(day_start=day_start, day_end=day_end, day=day, night=night)
    return parking_tariff(name, [Scheme(rule=rule)], **terms)


# --- the rules back out of a document (to edit it in the form) -------------------------------------


def _decode_part(elements: list[Any]) -> PerPeriod | PerVisit | NoCharge | None:
    if len(elements) == 1:
        element = elements[0]
        rules = element.restrictions
        if rules.min_minutes is not None or rules.max_minutes is not None:
            return None
        if len(element.components) != 1:
            return None
        component = element.components[0]
        if component.kind == ComponentKind.flat:
            if component.price_fen == 0:
                return NoCharge()
            return PerVisit(price_fen=component.price_fen)
        return PerPeriod(step_minutes=component.step_minutes, price_fen=component.price_fen)
    if len(elements) == 2:
        first, rest = elements
        if len(first.components) != 1 or len(rest.components) != 1:
            return None
        a, b = first.components[0], rest.components[0]
        n = first.restrictions.max_minutes
        if (
            a.kind != ComponentKind.time
            or b.kind != ComponentKind.time
            or n is None
            or first.restrictions.min_minutes not in (None, 0)
            or a.step_minutes != n
            or rest.restrictions.min_minutes != n
            or rest.restrictions.max_minutes is not None
        ):
            return None
        return PerPeriod(
            first_minutes=n,
            first_price_fen=a.price_fen,
            step_minutes=b.step_minutes,
            price_fen=b.price_fen,
        )
    return None


def parking_schemes(document: TariffDocument) -> list[Scheme] | None:
    """The schemes parking_tariff would build this document from, or None when the document
    was written by hand in a shape the form cannot show."""
    if document.kind != "parking":
        return None
    groups: list[tuple[tuple[Any, ...], list[Any]]] = []
    for element in document.elements:
        rules = element.restrictions
        key = (tuple(rules.vehicle_classes), tuple(rules.day_kinds))
        if groups and groups[-1][0] == key:
            groups[-1][1].append(element)
        else:
            groups.append((key, [element]))
    schemes: list[Scheme] = []
    for (classes, kinds), elements in groups:
        clocks: list[tuple[Any, Any]] = []
        by_clock: dict[tuple[Any, Any], list[Any]] = {}
        for element in elements:
            clock = (element.restrictions.start_time, element.restrictions.end_time)
            if clock not in by_clock:
                clocks.append(clock)
                by_clock[clock] = []
            by_clock[clock].append(element)
        rule: PerPeriod | PerVisit | NoCharge | DayNight | None
        if clocks == [(None, None)]:
            rule = _decode_part(elements)
        elif len(clocks) == 2 and clocks[0][0] == clocks[1][1] and clocks[0][1] == clocks[1][0]:
            day = _decode_part(by_clock[clocks[0]])
            night = _decode_part(by_clock[clocks[1]])
            if day is None or night is None or clocks[0][0] is None or clocks[0][1] is None:
                return None
            if [*by_clock[clocks[0]], *by_clock[clocks[1]]] != elements:
                return None
            rule = DayNight(day_start=clocks[0][0], day_end=clocks[0][1], day=day, night=night)
        else:
            return None
        if rule is None:
            return None
        try:
            schemes.append(Scheme(vehicle_classes=list(classes), day_kinds=list(kinds), rule=rule))
        except ValueError:
            return None
    return schemes


def describe_rule(rule: PerPeriod | PerVisit | NoCharge | DayNight) -> str:
    """A rule in one line of Chinese, as lists show it (amounts in yuan)."""

    def yuan(fen: int) -> str:
        return f"{fen // 100}.{fen % 100:02d}元"

    if isinstance(rule, NoCharge):
        return "不收费"
    if isinstance(rule, PerVisit):
        return f"按次 {yuan(rule.price_fen)}"
    if isinstance(rule, PerPeriod):
        text = f"每{rule.step_minutes}分钟{yuan(rule.price_fen)}"
        if rule.first_minutes:
            text = f"首{rule.first_minutes}分钟{yuan(rule.first_price_fen)}，之后{text}"
        return text
    day = f"{rule.day_start.strftime('%H:%M')}–{rule.day_end.strftime('%H:%M')}"
    return f"白天{day} {describe_rule(rule.day)}；夜间 {describe_rule(rule.night)}"


def describe_terms(document: TariffDocument) -> list[str]:
    """The document terms in words (free minutes, caps, new-energy percent)."""

    def yuan(fen: int) -> str:
        return f"{fen // 100}.{fen % 100:02d}元"

    words = []
    if document.free_minutes:
        deducted = "，超时也减免" if document.free_minutes_deducted else ""
        words.append(f"{document.free_minutes}分钟内免费{deducted}")
    if document.cap_per_day_fen is not None:
        words.append(f"每日封顶{yuan(document.cap_per_day_fen)}")
    if document.cap_per_stay_fen is not None:
        words.append(f"单次封顶{yuan(document.cap_per_stay_fen)}")
    if document.new_energy_percent is not None:
        words.append(f"新能源车按{document.new_energy_percent}%收费")
    return words


def calendar_of(days: Iterable[tuple[date, DayKind | str]]) -> HolidayCalendar:
    """A calendar from (date, kind) pairs (rows of the holiday table)."""
    return HolidayCalendar(dict(days))
