"""The zone parking counts its days in (CloudSettings.timezone, set when the pages are set up):
monthly passes run between local days, tariffs take effect and are billed in local time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

_zone = ZoneInfo("Asia/Shanghai")


def configure(timezone: str) -> None:
    global _zone
    _zone = ZoneInfo(timezone)


def zone() -> ZoneInfo:
    return _zone


def today() -> date:
    return datetime.now(_zone).date()
