"""The visiting slots of a day as wall-clock windows in the campus's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from cloud.campus.models import Slot

# Local hours of each slot: the visitor may pass from its start to its end.
SLOT_HOURS: dict[Slot, tuple[time, time]] = {
    Slot.morning: (time(6, 0), time(12, 0)),
    Slot.afternoon: (time(12, 0), time(18, 0)),
    Slot.evening: (time(18, 0), time(23, 0)),
}


def slot_window(day: date, slot: Slot, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which `slot` of local `day` opens and closes."""
    start, end = SLOT_HOURS[slot]
    return (
        datetime.combine(day, start, zone).astimezone(UTC),
        datetime.combine(day, end, zone).astimezone(UTC),
    )


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    """Half-open windows [start, end) share an instant."""
    return a[0] < b[1] and b[0] < a[1]
