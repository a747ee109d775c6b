"""Input and output schemas of parking tariffs (收费规则) and the holiday calendar (节假日配置),
shared by the admin pages and the JSON API. Money is integer fen (the pages take yuan)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, Field, model_validator

from cloud.org.schemas import In, Name, Out, field_error
from protocols.parking import VehicleClass
from protocols.tariffs import DayKind, Scheme

MAX_SCHEMES = 12
MAX_CAP_FEN = 10_000_000  # 100,000 yuan
_MAX_STAY = timedelta(days=400)  # the verify page bills at most this


class ParkingTariffIn(In):
    """A tariff as the form builds it: rules (schemes) in order, the first that fits a minute's
    vehicle class and day kind bills it, and the document terms. Or, for API clients, a whole
    protocols.tariffs parking `document` (then schemes and terms are taken from it)."""

    name: Name
    schemes: list[Scheme] = Field(default_factory=list, max_length=MAX_SCHEMES)
    free_minutes: int = Field(default=0, ge=0, le=24 * 60)
    free_minutes_deducted: bool = False
    cap_per_day_fen: int | None = Field(default=None, ge=0, le=MAX_CAP_FEN)
    cap_per_stay_fen: int | None = Field(default=None, ge=0, le=MAX_CAP_FEN)
    new_energy_percent: int | None = Field(default=None, ge=0, le=100)
    document: dict[str, Any] | None = Field(
        default=None, description="a whole parking document instead of schemes and terms"
    )

    @model_validator(mode="after")
    def _something(self) -> ParkingTariffIn:
        if not self.schemes and self.document is None:
            raise field_error("schemes", "parking.tariffs.error.no_rule")
        return self


class ParkingTariffFilter(In):
    name: str = Field(default="", max_length=64, description="name contains")
    enabled: bool | None = None


class ParkingTariffOut(Out):
    id: int
    name: str
    enabled: bool
    summary: str = Field(description="the rules in words, as the list shows them")
    terms: str = Field(description="free minutes, caps, new-energy percent in words")
    schemes: list[Scheme] | None = Field(
        description="the form's rules; None: a hand-written document"
    )
    document: dict[str, Any]
    sites: list[str] = Field(description="names of the lots and road sections it bills")
    operator: str
    created_at: datetime
    updated_at: datetime


class VerifyIn(In):
    """验证收费规则: a stay to bill."""

    entered_at: AwareDatetime
    exited_at: AwareDatetime
    vehicle_class: VehicleClass = VehicleClass.small
    new_energy: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> VerifyIn:
        if self.exited_at < self.entered_at:
            raise field_error("exited_at", "parking.tariffs.error.exit_before_entry")
        if self.exited_at - self.entered_at > _MAX_STAY:
            raise field_error("exited_at", "parking.tariffs.error.stay_long")
        return self


class BillLineOut(Out):
    kind: str
    label: str
    start: datetime
    end: datetime
    minutes: int
    steps: int
    unit_price_fen: int
    step_minutes: int
    amount_fen: int


class ParkingBillOut(Out):
    tariff_id: int
    entered_at: datetime
    exited_at: datetime
    minutes: int
    vehicle_class: str
    new_energy: bool
    within_free_minutes: bool
    lines: list[BillLineOut]
    total_fen: int


class HolidayIn(In):
    day: date
    kind: DayKind
    name: str = Field(default="", max_length=32)


class HolidayFilter(In):
    year: int | None = Field(default=None, ge=2000, le=2100)
    kind: DayKind | None = None


class HolidayOut(Out):
    id: int
    day: date
    weekday: int = Field(description="1 Monday ... 7 Sunday")
    kind: DayKind
    name: str
