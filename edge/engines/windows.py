"""Weekly time windows in a site's local time, shared by access rules and campus grants."""

from __future__ import annotations

from datetime import datetime, time, timedelta


def in_window(weekdays: frozenset[int], start: time, end: time, now: datetime) -> bool:
    """Is local `now` inside a weekly window? A window with end < start runs past midnight,
    and its small hours belong to the weekday on which it started."""
    moment = now.time().replace(tzinfo=None)
    if start <= end:
        return now.isoweekday() in weekdays and start <= moment <= end
    if moment >= start:
        return now.isoweekday() in weekdays
    if moment <= end:
        return (now - timedelta(days=1)).isoweekday() in weekdays
    return False
