"""Input and output schemas of monthly-pass rules (包月规则), monthly passes (包月车) and special
plates (特殊车牌配置), shared by the admin pages and the JSON API.

Money is integer fen; the pages take yuan with at most two decimals and convert (`fen_of`).
Plates are normalised (protocols.plates) and must be a shape GA 36-2018 knows.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from cloud.org.schemas import In, Name, Out, Phone, field_error
from cloud.parking.models import EnergyScope
from protocols.plates import PlateKind, is_valid_plate, normalize_plate

MAX_PRICE_FEN = 10_000_000  # 100,000 yuan a month: anything above is a typing slip
MAX_MONTHS = 120
MAX_PLATES = 5


def _plate_list(value: Any) -> Any:
    """A list of plates, or text holding them separated by commas, semicolons or lines (a space
    may sit inside a plate: 京B 23456)."""
    if isinstance(value, str):
        return [p.strip() for p in re.split(r"[,，;；、\r\n]+", value) if p.strip()]
    return value


def _checked_plates(plates: list[str]) -> list[str]:
    """Normalised, each a valid plate, no repeats; ValueError naming the first bad one."""
    out: list[str] = []
    for raw in plates:
        plate = normalize_plate(raw)
        if not is_valid_plate(plate):
            raise ValueError(f"车牌号格式不正确 (not a valid plate): {raw}")
        if plate not in out:
            out.append(plate)
    if not out:
        raise ValueError("error.required")
    if len(out) > MAX_PLATES:
        raise ValueError(f"最多绑定{MAX_PLATES}个车牌 (at most {MAX_PLATES} plates)")
    return out


PlateList = Annotated[list[str], BeforeValidator(_plate_list)]


# --- rules --------------------------------------------------------------------------------------


class PassRuleIn(In):
    name: Name
    energy: EnergyScope = Field(
        default=EnergyScope.any, description="any, new_energy or other (非新能源)"
    )
    price_fen: int = Field(ge=0, le=MAX_PRICE_FEN, description="per month")
    sites: list[int] = Field(
        min_length=1, max_length=500, description="lot and road-section site ids sharing it"
    )
    max_months: int = Field(default=12, ge=1, le=MAX_MONTHS, description="most months at once")
    online: bool = Field(default=False, description="drivers may buy it online")


class PassRuleOut(Out):
    id: int
    name: str
    energy: EnergyScope
    price_fen: int
    price: str = Field(description="yuan, as the list shows")
    sites: list[int]
    site_names: str
    max_months: int
    online: bool
    enabled: bool
    created_at: datetime


class PassRuleFilter(In):
    name: str = Field(default="", max_length=64, description="name contains")
    energy: EnergyScope | None = None
    site_id: int | None = Field(default=None, description="rules covering this site")
    enabled: bool | None = None


# --- passes -------------------------------------------------------------------------------------


class PassStatus(StrEnum):
    """What a pass is today: a cancelled one is cancelled whatever its dates."""

    pending = "pending"  # 未生效
    valid = "valid"  # 有效
    expired = "expired"  # 已过期
    cancelled = "cancelled"  # 已注销


class PassHolderIn(In):
    holder: Name = Field(description="联系人")
    phone: Phone
    plates: PlateList = Field(description="plates bound; a list, or text separated by commas")

    @field_validator("plates")
    @classmethod
    def _plates(cls, value: list[str]) -> list[str]:
        return _checked_plates(value)


class PassIssueIn(PassHolderIn):
    rule_id: int
    months: int = Field(ge=1, le=MAX_MONTHS)
    starts_on: date | None = Field(default=None, description="first valid local day; none: today")


class PassRenewIn(In):
    months: int = Field(ge=1, le=MAX_MONTHS)


class PassOut(Out):
    id: int
    rule_id: int
    rule_name: str
    holder: str
    phone: str
    plates: list[str]
    plates_text: str = Field(description="the plates joined, as the list shows")
    valid_from: date
    valid_until: date = Field(description="last valid local day")
    status: PassStatus
    days_left: int = Field(description="valid days left from today, 0 once expired")
    paid_fen: int
    paid: str = Field(description="yuan")
    operator: str
    issued_at: datetime
    cancelled_at: datetime | None


class PassFilter(In):
    holder: str = Field(default="", max_length=64, description="holder contains")
    phone: str = Field(default="", max_length=20, description="phone starts with")
    plate: str = Field(default="", max_length=16, description="a bound plate contains")
    status: PassStatus | None = None
    rule_id: int | None = None
    expiring_days: int | None = Field(
        default=None, ge=0, le=366, description="valid now and ending within this many days"
    )


# --- special plates -----------------------------------------------------------------------------


class SpecialPlateIn(In):
    name: Name
    plate_kinds: list[PlateKind] = Field(default_factory=list, max_length=len(PlateKind))
    pattern: str = Field(default="", max_length=128, description="a regular expression")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"正则表达式无效 (invalid regular expression): {exc}") from None
        return value

    @field_validator("plate_kinds")
    @classmethod
    def _unique(cls, value: list[PlateKind]) -> list[PlateKind]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _something(self) -> SpecialPlateIn:
        if not self.plate_kinds and not self.pattern:
            raise field_error("plate_kinds", "parking.specials.error.empty")
        return self


class SpecialPlateOut(Out):
    id: int
    name: str
    plate_kinds: list[PlateKind]
    pattern: str
    enabled: bool


class SpecialPlateFilter(In):
    name: str = Field(default="", max_length=64, description="name contains")
    enabled: bool | None = None
