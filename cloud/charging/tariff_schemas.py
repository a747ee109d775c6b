"""Input and output schemas of the tariffs (计费规则), shared by the admin pages and the JSON API.

Money is integer fen (the pages convert yuan with two decimals), energy integer Wh.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from pydantic import AwareDatetime, Field, model_validator

from cloud.charging.models import TariffMode
from cloud.org.schemas import In, Name, Out, field_error
from protocols.tariffs import MAX_PREPAY_OPTIONS, Period

MAX_PRICE_FEN = 100_000  # 1000 yuan per kWh: anything above is a typing slip
MAX_TEST_WH = 100_000_000  # 100 MWh


class PeriodIn(In):
    """One row of a time-of-use table: [start, end) local; end 00:00 means midnight, and an end
    before the start runs past midnight."""

    period: Period
    start: time
    end: time
    electricity_fen: int = Field(ge=0, le=MAX_PRICE_FEN, description="fen per kWh")
    service_fen: int = Field(ge=0, le=MAX_PRICE_FEN, description="fen per kWh")


class TariffIn(In):
    station_id: int
    area_id: int | None = Field(default=None, description="none: the whole station")
    name: Name
    mode: TariffMode
    electricity_fen: int | None = Field(
        default=None, ge=0, le=MAX_PRICE_FEN, description="uniform: fen per kWh"
    )
    service_fen: int | None = Field(
        default=None, ge=0, le=MAX_PRICE_FEN, description="uniform: fen per kWh"
    )
    periods: list[PeriodIn] = Field(
        default_factory=list, max_length=48, description="time of use: must cover 24 hours"
    )
    prepay_options_fen: list[int] = Field(default_factory=list, description="at most 12, each > 0")

    @model_validator(mode="after")
    def _complete(self) -> TariffIn:
        if len(self.prepay_options_fen) > MAX_PREPAY_OPTIONS or any(
            amount <= 0 for amount in self.prepay_options_fen
        ):
            raise field_error("prepay_options_fen", "tariffs.error.prepay_count")
        if self.mode == TariffMode.uniform:
            if self.electricity_fen is None:
                raise field_error("electricity_fen", "error.required")
            if self.service_fen is None:
                raise field_error("service_fen", "error.required")
        elif not self.periods:
            raise field_error("periods", "error.required")
        return self


class TariffFilter(In):
    station: str = Field(default="", max_length=64, description="station name contains")
    area_id: int | None = None
    name: str = Field(default="", max_length=64, description="tariff name contains")
    mode: TariffMode | None = None
    enabled: bool | None = None


class PeriodOut(Out):
    period: Period
    start: time
    end: time
    electricity_fen: int
    service_fen: int


class TariffVersionOut(Out):
    id: int
    effective_from: date
    document: dict[str, Any]
    periods: list[PeriodOut]
    electricity_fen: int | None = None
    service_fen: int | None = None
    operator: str
    created_at: datetime


class TariffOut(Out):
    id: int
    station_id: int
    station_name: str
    area_id: int | None
    area_name: str
    name: str
    mode: TariffMode
    electricity_fen: int | None = Field(default=None, description="uniform, latest version")
    service_fen: int | None = None
    periods: list[PeriodOut] = Field(default_factory=list, description="latest version")
    prices: str = Field(default="", description="the latest prices in yuan, as the list shows")
    prepay_options_fen: list[int]
    prepay: str = Field(default="", description="prepay options in yuan, as the list shows")
    effective_from: date | None = Field(default=None, description="of the latest version")
    enabled: bool
    created_at: datetime
    updated_at: datetime


class TariffDetail(TariffOut):
    versions: list[TariffVersionOut] = Field(description="newest first")
    in_force_id: int | None = Field(description="the version that bills a session starting now")


class ReadingIn(In):
    at: AwareDatetime
    wh: int = Field(ge=0, le=10**12)


class BillTestIn(In):
    """Either energy_wh (with at: when, default now) or readings, or curve (CSV `time,Wh` lines,
    times without an offset are local)."""

    energy_wh: int | None = Field(default=None, ge=0, le=MAX_TEST_WH)
    at: AwareDatetime | None = None
    readings: list[ReadingIn] = Field(default_factory=list, max_length=10_000)
    curve: str = Field(default="", max_length=1_000_000)

    @model_validator(mode="after")
    def _something(self) -> BillTestIn:
        if self.energy_wh is None and not self.readings and not self.curve.strip():
            raise field_error("energy_wh", "tariffs.error.test_input")
        return self


class BillLineOut(Out):
    label: str
    period: str
    component: str
    quantity: int = Field(description="Wh")
    unit_price_fen: int = Field(description="fen per kWh")
    amount_fen: int
    start: datetime
    end: datetime


class BillOut(Out):
    tariff_id: int
    effective_from: date = Field(description="the version that billed it")
    started_at: datetime
    lines: list[BillLineOut]
    energy_wh: int
    electricity_fen: int
    service_fen: int
    total_fen: int
