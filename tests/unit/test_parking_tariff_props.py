"""Properties of parking bills (hypothesis): a per-minute reference evaluator written from the
rule's words agrees with the fast one on random documents, calendars and stays; a bill never
decreases when the stay grows; caps and free minutes hold; the total is the sum of the lines;
the bill survives JSON (what the edge sends is what the cloud reads). Stays run into late
October, so documents in Europe/Berlin cross its change of UTC offset (27 October 2024)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from protocols.tariffs import (
    ComponentKind,
    DayKind,
    HolidayCalendar,
    ParkingBill,
    TariffDocument,
    TariffError,
    bill_parking,
    half_up,
    parse_tariff,
)

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 9, 27, tzinfo=SH)
KINDS = list(DayKind)


def reference(
    document: TariffDocument,
    entered: datetime,
    exited: datetime,
    vehicle_class: str,
    new_energy: bool,
    calendar: HolidayCalendar,
) -> int:
    """The rule of protocols/tariffs/parking.py, minute by minute, with no plan and no jumps."""
    zone = ZoneInfo(document.zone)
    seconds = (exited - entered).total_seconds()
    n = int(-(-seconds // 60))
    free = document.free_minutes or 0
    within = n <= free
    start = free if document.free_minutes_deducted and not within else 0
    floor_entry = entered.astimezone(UTC).replace(microsecond=0)
    owners: list[int | None] = []
    days: list[date] = []
    for i in range(n):
        instant = floor_entry + timedelta(minutes=i)
        local = instant.astimezone(zone)
        day = local.date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        minute_of_day = int((instant - midnight).total_seconds() // 60)
        days.append(day)
        if i < start:
            owners.append(None)
            continue
        owner = None
        for index, element in enumerate(document.elements):
            rules = element.restrictions
            if rules.day_kinds and calendar.day_kind(day) not in rules.day_kinds:
                continue
            if rules.vehicle_classes and vehicle_class not in rules.vehicle_classes:
                continue
            if rules.start_time is not None and rules.end_time is not None:
                s = rules.start_time.hour * 60 + rules.start_time.minute
                e = rules.end_time.hour * 60 + rules.end_time.minute
                if e > s:
                    inside = s <= minute_of_day < e
                else:  # past midnight, or the whole day when equal
                    inside = minute_of_day >= s or minute_of_day < e
                if not inside:
                    continue
            elapsed = i - start
            if rules.min_minutes is not None and elapsed < rules.min_minutes:
                continue
            if rules.max_minutes is not None and elapsed >= rules.max_minutes:
                continue
            owner = index
            break
        owners.append(owner)
    per_day: dict[date, int] = {}
    i = 0
    while i < n:
        owner = owners[i]
        j = i
        while j < n and owners[j] == owner:
            j += 1
        if owner is not None:
            for component in document.elements[owner].components:
                if component.kind == ComponentKind.time:
                    for first in range(i, j, component.step_minutes):
                        per_day[days[first]] = per_day.get(days[first], 0) + component.price_fen
                else:
                    per_day[days[i]] = per_day.get(days[i], 0) + component.price_fen
        i = j
    if document.cap_per_day_fen is not None:
        per_day = {d: min(v, document.cap_per_day_fen) for d, v in per_day.items()}
    total = sum(per_day.values())
    if document.cap_per_stay_fen is not None:
        total = min(total, document.cap_per_stay_fen)
    if within and free:
        total = 0
    if new_energy and document.new_energy_percent is not None:
        total = half_up(total * document.new_energy_percent, 100)
    return total


clock_minutes = st.integers(0, 47).map(lambda half_hours: half_hours * 30) | st.integers(0, 1439)


@st.composite
def elements(draw: st.DrawFn) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    if draw(st.booleans()):
        start, end = draw(clock_minutes), draw(clock_minutes)
        rules["start_time"] = time(start // 60, start % 60).isoformat()
        rules["end_time"] = time(end // 60, end % 60).isoformat()
    if draw(st.integers(0, 3)) == 0:
        rules["day_kinds"] = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        rules["vehicle_classes"] = draw(
            st.lists(st.sampled_from(["small", "large", "other"]), min_size=1, max_size=2)
        )
    if draw(st.integers(0, 2)) == 0:
        low = draw(st.integers(0, 180))
        rules["min_minutes"] = low
        if draw(st.booleans()):
            rules["max_minutes"] = low + draw(st.integers(1, 240))
    components = []
    kind = draw(st.sampled_from(["time", "time", "flat", "both"]))
    if kind in ("time", "both"):
        components.append(
            {
                "kind": "time",
                "price_fen": draw(st.integers(0, 1000)),
                "step_minutes": draw(st.sampled_from([1, 15, 30, 45, 60, 120, 1440])),
            }
        )
    if kind in ("flat", "both"):
        components.append({"kind": "flat", "price_fen": draw(st.integers(0, 3000))})
    return {
        "label": f"e{draw(st.integers(0, 99))}",
        "components": components,
        "restrictions": rules,
    }


@st.composite
def documents(draw: st.DrawFn) -> TariffDocument:
    data: dict[str, Any] = {
        "kind": "parking",
        "name": "random",
        "zone": draw(st.sampled_from(["Asia/Shanghai", "Asia/Shanghai", "Europe/Berlin"])),
        "elements": draw(st.lists(elements(), min_size=1, max_size=4)),
    }
    if draw(st.booleans()):
        data["free_minutes"] = draw(st.integers(0, 60))
        data["free_minutes_deducted"] = draw(st.booleans())
    if draw(st.booleans()):
        data["cap_per_day_fen"] = draw(st.integers(0, 10_000))
    if draw(st.integers(0, 2)) == 0:
        data["cap_per_stay_fen"] = draw(st.integers(0, 20_000))
    if draw(st.booleans()):
        data["new_energy_percent"] = draw(st.integers(0, 100))
    try:
        return parse_tariff(data)
    except TariffError:
        assume(False)
        raise


calendars = st.dictionaries(
    st.integers(0, 40).map(lambda d: START.date() + timedelta(days=d)),
    st.sampled_from(KINDS),
    max_size=6,
).map(HolidayCalendar)
entries = st.tuples(st.integers(0, 35 * 24 * 60), st.integers(0, 59), st.integers(0, 999_999)).map(
    lambda t: START + timedelta(minutes=t[0], seconds=t[1], microseconds=t[2])
)
durations = st.one_of(st.integers(0, 180 * 60), st.integers(0, 3 * 24 * 3600)).map(
    lambda s: timedelta(seconds=s)
)
classes = st.sampled_from(["small", "large", "other"])
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


@SETTINGS
@given(documents(), calendars, entries, durations, classes, st.booleans())
def test_the_fast_evaluator_agrees_with_the_per_minute_reference(
    document: TariffDocument,
    calendar: HolidayCalendar,
    entered: datetime,
    stay: timedelta,
    vehicle_class: str,
    new_energy: bool,
) -> None:
    bill = bill_parking(document, entered, entered + stay, vehicle_class, new_energy, calendar)
    expected = reference(document, entered, entered + stay, vehicle_class, new_energy, calendar)
    assert bill.total_fen == expected
    assert bill.total_fen == sum(line.amount_fen for line in bill.lines)
    assert bill.total_fen >= 0
    # what the edge sends in its event is what the cloud reads back
    assert ParkingBill.from_dict(json.loads(json.dumps(bill.as_dict()))) == bill


@SETTINGS
@given(documents(), calendars, entries, durations, durations, classes, st.booleans())
def test_a_bill_never_decreases_when_the_stay_grows(
    document: TariffDocument,
    calendar: HolidayCalendar,
    entered: datetime,
    stay: timedelta,
    more: timedelta,
    vehicle_class: str,
    new_energy: bool,
) -> None:
    short = bill_parking(document, entered, entered + stay, vehicle_class, new_energy, calendar)
    long = bill_parking(
        document, entered, entered + stay + more, vehicle_class, new_energy, calendar
    )
    assert long.total_fen >= short.total_fen


@SETTINGS
@given(documents(), calendars, entries, durations, classes)
def test_caps_and_free_minutes_hold(
    document: TariffDocument,
    calendar: HolidayCalendar,
    entered: datetime,
    stay: timedelta,
    vehicle_class: str,
) -> None:
    bill = bill_parking(document, entered, entered + stay, vehicle_class, False, calendar)
    if document.cap_per_stay_fen is not None:
        assert bill.total_fen <= document.cap_per_stay_fen
    if document.cap_per_day_fen is not None:
        local_days = {
            (entered + timedelta(minutes=m)).astimezone(SH).date()
            for m in range(0, bill.minutes + 1, 60)
        } | {(entered + stay).astimezone(SH).date()}
        assert bill.total_fen <= document.cap_per_day_fen * (len(local_days) + 1)
        charged_by_day: dict[date, int] = {}
        for line in bill.lines:
            if line.kind == "cap_day":
                day = date.fromisoformat(line.label.split()[-1])
                charged_by_day[day] = charged_by_day.get(day, 0) + line.amount_fen
        assert all(amount < 0 for amount in charged_by_day.values())
    if document.free_minutes and bill.minutes <= document.free_minutes:
        assert bill.total_fen == 0 and bill.within_free_minutes
