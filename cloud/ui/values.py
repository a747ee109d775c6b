"""How values are shown in lists and forms, and how local times typed by a person are read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from cloud import i18n


def local_time(value: datetime | None, zone: ZoneInfo, seconds: bool = True) -> str:
    if value is None:
        return ""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def display(value: Any, kind: str, lang: str, zone: ZoneInfo, prefix: str = "") -> str:
    """The text a cell shows: times in the site zone, booleans and enums translated."""
    if value is None:
        return ""
    if kind == "datetime":
        return local_time(value, zone)
    if kind == "bool":
        return i18n.t("common.yes" if value else "common.no", lang)
    if kind == "enabled":
        return i18n.t("common.enabled" if value else "common.disabled", lang)
    if kind == "enum":
        raw = value.value if isinstance(value, Enum) else str(value)
        return i18n.t(f"{prefix}{raw}", lang) if raw else ""
    if kind == "list":
        values = [v.value if isinstance(v, Enum) else str(v) for v in value]
        return ", ".join(i18n.t(f"{prefix}{v}", lang) if prefix else v for v in values)
    if kind == "changes" and isinstance(value, Mapping):
        changes = value.get("changes", {})
        return "; ".join(f"{k}: {v.get('from')} → {v.get('to')}" for k, v in changes.items())
    if kind == "time" and isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def parse_local(text: str, zone: ZoneInfo) -> datetime | None:
    """A datetime-local input ("2024-05-01T08:30") read in the site zone; None when empty."""
    text = text.strip()
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def input_time(value: Any, zone: ZoneInfo) -> str:
    """A value as a datetime-local input shows it."""
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    return "" if value is None else str(value)


def fen_of(text: str, most_yuan: int = 1_000_000) -> int:
    """Yuan typed by a person ("200", "12.5", "¥1,200.00", "12元") as exact fen, at most two
    decimals and at most `most_yuan`; ValueError otherwise (never float)."""
    cleaned = text.strip()
    for mark in (",", "，", "¥", "元"):
        cleaned = cleaned.replace(mark, "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(text) from None
    if not amount.is_finite() or amount < 0 or amount > most_yuan:
        raise ValueError(text)
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(text)
    return int(amount * 100)
