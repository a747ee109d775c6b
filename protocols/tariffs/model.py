"""The tariff document: elements of price components under restrictions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_PREPAY_OPTIONS = 12
STEP_MINUTES = 30  # time-of-use periods start and end on the half hour


class TariffError(ValueError):
    """A document that is not a valid tariff; the message says what and where (in Chinese and
    English both are fine: it is shown to the operator as it is)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentKind(StrEnum):
    energy = "energy"  # electricity, fen per kWh
    service = "service"  # service fee, fen per kWh
    time = "time"  # fen per started step of `step_minutes`
    flat = "flat"  # fen once per session or visit


class DayKind(StrEnum):
    workday = "workday"
    weekend = "weekend"
    short_holiday = "short_holiday"
    long_holiday = "long_holiday"


class Period(StrEnum):
    """Time-of-use periods of car charging: 尖, 峰, 平, 谷."""

    sharp = "sharp"
    peak = "peak"
    flat = "flat"
    valley = "valley"


class PriceComponent(_Doc):
    kind: ComponentKind
    price_fen: int = Field(ge=0)
    step_minutes: int = Field(default=0, ge=0)


class Restrictions(_Doc):
    start_time: time | None = None  # local; end before start runs past midnight
    end_time: time | None = None
    day_kinds: list[DayKind] = Field(default_factory=list)  # empty: every day
    min_minutes: int | None = None
    max_minutes: int | None = None
    vehicle_classes: list[str] = Field(default_factory=list)  # empty: every class


class TariffElement(_Doc):
    label: str = Field(min_length=1, max_length=32)
    period: Period | None = None
    components: list[PriceComponent] = Field(min_length=1)
    restrictions: Restrictions = Restrictions()


class TariffDocument(_Doc):
    version: Literal[1] = 1
    kind: Literal["charging", "parking"]
    name: str = Field(min_length=1, max_length=64)
    zone: str = "Asia/Shanghai"
    elements: list[TariffElement] = Field(min_length=1)
    prepay_options_fen: list[int] = Field(default_factory=list, max_length=MAX_PREPAY_OPTIONS)


def parse_tariff(data: Mapping[str, Any]) -> TariffDocument:
    """Validate a document (shape, and for time-of-use charging the exact 24-hour coverage in
    30-minute steps); TariffError naming the uncovered or doubled minutes otherwise."""
    raise NotImplementedError


def uniform_charging(
    name: str,
    electricity_fen_per_kwh: int,
    service_fen_per_kwh: int,
    prepay_options_fen: Sequence[int] = (),
    zone: str = "Asia/Shanghai",
) -> TariffDocument:
    """统一计价: one electricity price and one service price at any hour."""
    raise NotImplementedError


def time_of_use_charging(
    name: str,
    periods: Sequence[tuple[Period, time, time, int, int]],
    prepay_options_fen: Sequence[int] = (),
    zone: str = "Asia/Shanghai",
) -> TariffDocument:
    """峰平谷计价: (period, start, end, electricity fen/kWh, service fen/kWh) ranges that must
    cover 24 hours exactly in 30-minute steps (end 00:00 means midnight); TariffError saying
    which minutes are uncovered or doubled otherwise."""
    raise NotImplementedError
