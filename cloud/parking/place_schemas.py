"""Input and output schemas of lots, road sections, berths, geomagnetic sensors, their
detections and parking locks, shared by the admin pages and the JSON API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from cloud.org.schemas import In, Name, Out, UtcDatetime, field_error
from cloud.parking.models import BerthStatus, LockStateName
from cloud.ui.values import fen_of
from protocols.site import CODE_PATTERN, SiteKind
from protocols.tariffs import yuan

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
OptionalPhone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^$|^\+?[0-9-]{3,20}$")
]
# A berth code as painted and typed by operators (A-001, W-017): letters, digits, - and _.
BerthCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
]
BerthNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^$|^[A-Za-z0-9_-]{1,16}$")
]
# A geomagnetic sensor's serial (MQTT topic segment: no "/", "+", "#" or spaces).
SensorSerial = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^$|^[A-Za-z0-9_.:-]{1,64}$")
]
Fen = Annotated[int, Field(ge=0, le=100_000_000)]
TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")


def site_code(value: str) -> str:
    value = value.strip()
    if value and not re.match(CODE_PATTERN, value):
        raise ValueError("parking.places.error.site_code")
    return value


# --- lots and road sections -----------------------------------------------------------------


class PlaceUpdate(In):
    """What an operator sets on a lot or a road section."""

    name: Name
    region: Short = Field(default="", description="区域")
    street: Short = Field(default="", description="街道")
    address: Long = ""
    capacity: int | None = Field(
        default=None, ge=0, le=100_000, description="spaces of a lot (the guidance screen's total)"
    )
    tariff_id: int | None = Field(default=None, description="a parking tariff of the tenant")
    refuse_arrears_above_fen: Fen | None = Field(
        default=None, description="entry refused when unpaid arrears exceed this; empty: never"
    )
    arrears_confirm_above_fen: Fen = Field(
        default=20_000, description="a PDA asks twice before collecting more than this"
    )
    hotline: OptionalPhone = ""


class PlaceCreate(PlaceUpdate):
    site_code: str = Field(
        default="",
        description="code of the place's site (lower-case letters, digits, - and _); "
        "empty makes one up",
    )

    @field_validator("site_code")
    @classmethod
    def _code(cls, value: str) -> str:
        return site_code(value)


class PlaceOut(Out):
    id: int = Field(description="the place's id (its ParkingSite row)")
    site_id: int
    site_code: str
    kind: SiteKind
    name: str
    region: str
    street: str
    address: str
    capacity: int | None
    tariff_id: int | None
    tariff_name: str
    refuse_arrears_above_fen: int | None
    arrears_confirm_above_fen: int
    hotline: str
    occupied: int = Field(description="vehicles inside a lot as its edge last reported")
    enabled: bool

    @property
    def refuse_arrears_above_yuan(self) -> str:
        return yuan(self.refuse_arrears_above_fen)

    @property
    def arrears_confirm_above_yuan(self) -> str:
        return yuan(self.arrears_confirm_above_fen)


class PlaceFilter(In):
    q: str = Field(default="", max_length=64, description="name or site code contains")
    region: str = Field(default="", max_length=32)
    street: str = Field(default="", max_length=32)
    tariff_id: int | None = None
    enabled: bool | None = None


class PlaceForm(In):
    """The admin form of a lot or road section: the same fields as the API, with the two
    amounts typed in yuan (the API takes fen)."""

    name: Name
    region: Short = ""
    street: Short = ""
    address: Long = ""
    capacity: int | None = Field(default=None, ge=0, le=100_000)
    tariff_id: int | None = None
    refuse_arrears_above_yuan: str = Field(default="", max_length=16)
    arrears_confirm_above_yuan: str = Field(default="200.00", max_length=16)
    hotline: OptionalPhone = ""

    @field_validator("refuse_arrears_above_yuan", "arrears_confirm_above_yuan")
    @classmethod
    def _yuan(cls, value: str) -> str:
        if value.strip():
            try:
                fen_of(value)
            except ValueError:
                raise ValueError("parking.places.error.yuan") from None
        return value.strip()

    def update(self) -> PlaceUpdate:
        refuse = self.refuse_arrears_above_yuan
        confirm = self.arrears_confirm_above_yuan
        return PlaceUpdate(
            name=self.name,
            region=self.region,
            street=self.street,
            address=self.address,
            capacity=self.capacity,
            tariff_id=self.tariff_id,
            refuse_arrears_above_fen=fen_of(refuse) if refuse else None,
            arrears_confirm_above_fen=fen_of(confirm) if confirm else 20_000,
            hotline=self.hotline,
        )


class PlaceCreateForm(PlaceForm):
    site_code: str = ""

    @field_validator("site_code")
    @classmethod
    def _code(cls, value: str) -> str:
        return site_code(value)

    def create(self) -> PlaceCreate:
        return PlaceCreate(**self.update().model_dump(), site_code=self.site_code)


class OccupancyOut(Out):
    """泊位监控 / 停车场现状: one lot or road section's spaces in use and free."""

    id: int
    site_id: int
    kind: SiteKind
    name: str
    region: str
    street: str
    total: int = Field(description="enabled berths of a section, capacity of a lot")
    occupied: int
    free: int
    fault: int = Field(default=0, description="berths whose sensor reports a fault")


class OccupancyFilter(In):
    kind: SiteKind | None = Field(default=None, description="parking_lot or street_section")
    region: str = Field(default="", max_length=32)
    street: str = Field(default="", max_length=32)
    q: str = Field(default="", max_length=64, description="name contains")


# --- berths --------------------------------------------------------------------------------------


class BerthUpdate(In):
    number: BerthNumber = Field(
        default="", description="泊位号 painted on the road; empty: the code"
    )
    sensor: SensorSerial = Field(
        default="", description="serial of its geomagnetic sensor; at most one berth per sensor"
    )
    has_lock: bool = Field(default=False, description="a parking lock stands on it")


class BerthCreate(BerthUpdate):
    site_id: int = Field(description="the road section (or lot) it belongs to")
    code: BerthCode = Field(description="unique in the tenant, e.g. W-001")
    count: int = Field(
        default=1,
        ge=1,
        le=500,
        description="more than 1 makes a range: W-001, W-002... counting up the code's number",
    )

    @model_validator(mode="after")
    def _range(self) -> BerthCreate:
        if self.count > 1:
            if not TRAILING_NUMBER.match(self.code):
                raise field_error("code", "parking.places.error.range_code")
            if self.sensor:
                raise field_error("sensor", "parking.places.error.range_sensor")
            if self.number:
                raise field_error("number", "parking.places.error.range_number")
        return self

    def codes(self) -> list[tuple[str, str]]:
        """(code, number) of every berth this makes."""
        if self.count == 1:
            return [(self.code, self.number or self.code)]
        found = TRAILING_NUMBER.match(self.code)
        assert found is not None
        head, digits = found.group(1), found.group(2)
        first = int(digits)
        made = []
        for n in range(first, first + self.count):
            number = str(n).zfill(len(digits))
            made.append((f"{head}{number}", number))
        return made


class BerthOut(Out):
    id: int
    site_id: int
    site_name: str
    code: str
    number: str
    sensor: str
    has_lock: bool
    enabled: bool
    status: BerthStatus
    session: str
    plate: str
    entered_at: datetime | None
    updated_at: datetime


class BerthFilter(In):
    site_id: int | None = Field(default=None, description="road section or lot")
    status: BerthStatus | None = None
    plate: str = Field(default="", max_length=16, description="plate contains")
    number: str = Field(default="", max_length=16, description="number or code starts with")
    sensor: str = Field(default="", max_length=64, description="sensor serial starts with")
    has_lock: bool | None = None
    enabled: bool | None = None


# --- sensors and their detections ---------------------------------------------------------------


class SensorOut(Out):
    id: int
    site_id: int
    site_name: str
    serial: str
    berth: str
    battery_pct: int | None
    temperature_c: float | None
    last_heartbeat_at: datetime | None
    online: bool = Field(description="a heartbeat in the last 30 minutes")
    detections: int
    false_alarms: int

    @property
    def link_state(self) -> str:
        return "online" if self.online else "offline"


class SensorFilter(In):
    site_id: int | None = None
    serial: str = Field(default="", max_length=64, description="serial starts with")
    berth: str = Field(default="", max_length=48, description="berth code starts with")
    online: bool | None = None
    battery_below: int | None = Field(default=None, ge=0, le=100, description="battery under %")


class DetectionOut(Out):
    id: int
    site_id: int
    site_name: str
    berth: str
    sensor: str
    session: str
    kind: str
    source: str
    occurred_at: datetime
    false_alarm: bool
    false_alarm_reason: str
    reported_by: str


class DetectionFilter(In):
    site_id: int | None = None
    berth: str = Field(default="", max_length=48, description="berth code starts with")
    sensor: str = Field(default="", max_length=64, description="sensor serial starts with")
    kind: str = Field(default="", pattern=r"^$|^(arrived|departed)$")
    false_alarm: bool | None = Field(default=None, description="true: false alarms only")
    at_from: UtcDatetime | None = None
    at_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DetectionFilter:
        if self.at_from and self.at_to and self.at_to <= self.at_from:
            raise field_error("at_to", "error.until_before_from")
        return self


# --- parking locks ------------------------------------------------------------------------------


class LockOut(Out):
    id: int
    site_id: int
    site_name: str
    berth: str
    berth_id: int | None
    name: str
    state: LockStateName
    fault: str
    updated_at: datetime | None
    enabled: bool = Field(description="its berth is enabled")


class LockFilter(In):
    site_id: int | None = None
    berth: str = Field(default="", max_length=48, description="berth code starts with")
    state: LockStateName | None = None
    faulty: bool | None = Field(default=None, description="true: reporting a fault")
