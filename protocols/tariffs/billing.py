"""The one evaluator: meter readings and a tariff document to an itemised bill in fen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from protocols.tariffs.model import TariffDocument


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


@dataclass(frozen=True, slots=True)
class Bill:
    lines: tuple[BillLine, ...]
    energy_wh: int
    electricity_fen: int
    service_fen: int
    total_fen: int

    def as_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bill:
        raise NotImplementedError


def bill_charging(document: TariffDocument, readings: Sequence[Reading]) -> Bill:
    """Bill a session from its readings in time order (the first is the meter start). The
    energy between two readings is split over the periods it spans in proportion to time."""
    raise NotImplementedError


def bill_energy_at(document: TariffDocument, energy_wh: int, at: datetime) -> Bill:
    """The billing test: `energy_wh` consumed at the instant `at`."""
    raise NotImplementedError


def version_in_force(
    versions: Sequence[tuple[date, TariffDocument]], started_at: datetime, zone: ZoneInfo
) -> TariffDocument | None:
    """The version with the latest effective date not after the local date of `started_at`."""
    raise NotImplementedError
