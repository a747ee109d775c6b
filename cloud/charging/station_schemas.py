"""Input and output schemas of providers, property companies, car stations, areas, spaces,
chargers, connectors, id tags and the connectivity log, shared by the admin pages and the API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from cloud.charging.models import (
    ChargeSpeed,
    CurrentType,
    IdTagKind,
    LockKind,
    OperationKind,
    ReviewState,
)
from cloud.org.schemas import In, Name, Out, Phone, UtcDatetime, field_error
from protocols.site import CODE_PATTERN

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=128, pattern=r"^$|^[^@\s]+@[^@\s]+$")
]
OptionalPhone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^$|^\+?[0-9-]{5,20}$")
]
# An OCPP charge point id: printable ASCII without "/" (it is a path segment of the WebSocket URL).
Serial = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.:-]{1,48}$")
]
# An OCPP idTag (CiString20): printable ASCII.
Tag = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[\x21-\x7e]{1,20}$")]
# OCPP security profile 1 passwords: 16..40 characters in the specification; 8 accepted for
# chargers whose firmware allows no longer one.
ChargerPassword = Annotated[str, StringConstraints(min_length=8, max_length=40)]
Power = Annotated[int, Field(ge=0, le=100_000)]


# --- service providers (3.7.1) and property companies (3.7.2) -----------------------------------


class ProviderUpdate(In):
    name: Name
    contact: Short = ""
    email: Email = ""


class ProviderCreate(ProviderUpdate):
    phone: Phone = Field(description="the provider's sign-in account: unique, never changed")


class ProviderOut(Out):
    id: int
    name: str
    contact: str
    phone: str
    email: str
    review: ReviewState
    enabled: bool
    created_at: datetime


class ProviderFilter(In):
    q: str = Field(default="", max_length=64, description="name contains")
    phone: str = Field(default="", max_length=20, description="phone starts with")
    review: ReviewState | None = None
    enabled: bool | None = None


class PropertyUpdate(In):
    name: Name
    contact: Short = ""
    email: Email = ""
    province: Short = ""
    city: Short = ""
    address: Long = ""


class PropertyCreate(PropertyUpdate):
    provider_id: int
    phone: Phone = Field(description="the property's sign-in account: unique, never changed")


class PropertyOut(Out):
    id: int
    provider_id: int
    provider_name: str
    name: str
    contact: str
    phone: str
    email: str
    province: str
    city: str
    address: str
    enabled: bool
    created_at: datetime


class PropertyFilter(In):
    q: str = Field(default="", max_length=64, description="name contains")
    provider_id: int | None = None
    phone: str = Field(default="", max_length=20, description="phone starts with")
    enabled: bool | None = None


# --- stations (3.2.1) ------------------------------------------------------------------------


class StationUpdate(In):
    name: Name
    operation: OperationKind = OperationKind.public
    contact: Short = ""
    contact_phone: OptionalPhone = ""
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    hotline: OptionalPhone = ""
    opening_hours: Text = "00:00-24:00"
    max_power_kw: Power = 0
    capacity_kva: Power = 0
    province: Short = ""
    city: Short = ""
    address: Long = ""


class StationCreate(StationUpdate):
    property_id: int
    site_code: str = Field(
        default="",
        description="code of the station's site: an existing charging-station site without a "
        "station, or a new one; empty makes one up",
    )

    @field_validator("site_code")
    @classmethod
    def _code(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(CODE_PATTERN, value):
            raise ValueError("error.pydantic.string_pattern_mismatch")
        return value


class StationOut(Out):
    id: int
    property_id: int
    property_name: str
    provider_name: str
    site_id: int
    site_code: str
    name: str
    operation: OperationKind
    contact: str
    contact_phone: str
    description: str
    hotline: str
    opening_hours: str
    max_power_kw: int
    capacity_kva: int
    province: str
    city: str
    address: str
    review: ReviewState
    enabled: bool
    created_at: datetime
    updated_at: datetime


class StationCounts(Out):
    """What the station's detail counts (3.2.1 10)."""

    areas: int
    chargers: int
    chargers_online: int
    connectors: int
    spaces: int


class StationFilter(In):
    q: str = Field(default="", max_length=64, description="name contains")
    property_id: int | None = None
    review: ReviewState | None = None
    enabled: bool | None = None


# --- areas (3.2.2) and spaces (3.2.3) ----------------------------------------------------------


class AreaUpdate(In):
    name: Name
    phone: OptionalPhone = ""
    power_kw: Power = 0


class AreaCreate(AreaUpdate):
    station_id: int


class AreaOut(Out):
    id: int
    station_id: int
    station_name: str
    code: str
    name: str
    phone: str
    power_kw: int
    is_default: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime


class AreaFilter(In):
    station_id: int | None = None
    code: str = Field(default="", max_length=32, description="code starts with")
    q: str = Field(default="", max_length=64, description="name contains")
    enabled: bool | None = None


class SpaceUpdate(In):
    name: Name
    lock_kind: LockKind = LockKind.none


class SpaceCreate(In):
    """Several spaces at once (3.2.3 3): numbered after the area's existing ones."""

    area_id: int
    count: int = Field(default=1, ge=1, le=500)
    lock_kind: LockKind = LockKind.none
    name_prefix: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = Field(
        default="", description="names are the prefix and a number (e.g. A-001)"
    )


class SpaceOut(Out):
    id: int
    area_id: int
    area_name: str
    station_id: int
    station_name: str
    code: str
    name: str
    lock_kind: LockKind
    enabled: bool
    created_at: datetime


class SpaceFilter(In):
    station_id: int | None = None
    area_id: int | None = None
    code: str = Field(default="", max_length=32, description="code starts with")
    q: str = Field(default="", max_length=64, description="name contains")
    lock_kind: LockKind | None = None
    enabled: bool | None = None


# --- chargers (3.2.5) and connectors (3.2.6) ----------------------------------------------------


class _ChargerFields(In):
    name: Name
    model: Text = ""
    version: Short = ""
    connectors: int = Field(default=1, ge=1, le=32, description="number of connectors (guns)")
    sim: Short = ""
    operation: OperationKind = OperationKind.public
    occupancy_fee: bool = False
    reservable: bool = False
    max_current_a: Power = 0
    max_power_kw: Power = 0
    max_voltage_v: Power = 0
    current_type: CurrentType = CurrentType.dc
    speed: ChargeSpeed = ChargeSpeed.fast
    installation: Short = ""
    protection: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] = ""
    link: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] = ""
    heartbeat_s: int = Field(default=60, ge=10, le=86_400)
    lenient: bool = Field(default=False, description="normalise known firmware deviations")


class ChargerCreate(_ChargerFields):
    area_id: int
    serial: Serial = Field(description="出厂标识: the OCPP charge point id, unique platform-wide")
    code: str = Field(default="", max_length=32, description="电桩编号; empty makes one up")
    password: ChargerPassword | None = Field(
        default=None, description="HTTP Basic password (OCPP security profile 1); kept hashed"
    )


class ChargerUpdate(_ChargerFields):
    password: ChargerPassword | None = Field(
        default=None, description="a new HTTP Basic password; empty keeps the current one"
    )
    clear_password: bool = Field(default=False, description="remove the password")

    @model_validator(mode="after")
    def _one_of(self) -> ChargerUpdate:
        if self.password and self.clear_password:
            raise field_error("clear_password", "stations.error.password_both")
        return self


class ChargerOut(Out):
    id: int
    area_id: int
    area_name: str
    station_id: int
    station_name: str
    site_id: int
    code: str
    serial: str
    name: str
    model: str
    version: str
    connectors: int
    sim: str
    operation: OperationKind
    occupancy_fee: bool
    reservable: bool
    max_current_a: int
    max_power_kw: int
    max_voltage_v: int
    current_type: CurrentType
    speed: ChargeSpeed
    installation: str
    protection: str
    link: str
    has_password: bool
    heartbeat_s: int
    lenient: bool
    enabled: bool
    online: bool
    last_seen_at: datetime | None
    vendor: str
    firmware: str
    created_at: datetime
    updated_at: datetime

    @property
    def link_state(self) -> str:
        return "online" if self.online else "offline"


class ChargerFilter(In):
    station_id: int | None = None
    area_id: int | None = None
    code: str = Field(default="", max_length=32, description="code starts with")
    serial: str = Field(default="", max_length=48, description="serial starts with")
    q: str = Field(default="", max_length=64, description="name contains")
    speed: ChargeSpeed | None = None
    online: bool | None = None
    enabled: bool | None = None


class ConnectorOut(Out):
    id: int
    charger_id: int
    charger_code: str
    charger_name: str
    serial: str
    area_name: str
    station_id: int
    station_name: str
    connector: int
    code: str
    status: str
    error_code: str
    status_at: datetime | None
    enabled: bool


class ConnectorFilter(In):
    station_id: int | None = None
    area_id: int | None = None
    charger_id: int | None = None
    charger_code: str = Field(default="", max_length=32, description="charger code starts with")
    serial: str = Field(default="", max_length=48, description="charger serial starts with")
    status: str = Field(default="", max_length=24, description="OCPP status")
    enabled: bool | None = None


# --- charger commands -------------------------------------------------------------------------


class _Action(In):
    # The charger is looked up before an action's own rules apply, so another tenant's id is a
    # 404 whatever the body holds; the fields each action needs are checked by the service.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ResetIn(_Action):
    type: Literal["Soft", "Hard"] = "Soft"


class ConnectorIn(_Action):
    connector: int = Field(default=1, ge=0, le=32)


class RemoteStartIn(_Action):
    connector: int = Field(default=1, ge=1, le=32)
    id_tag: str = Field(default="", max_length=20, description="required: who charges")


class AvailabilityIn(_Action):
    connector: int = Field(default=0, ge=0, le=32, description="0: the whole charger")
    type: Literal["Inoperative", "Operative", ""] = Field(
        default="", description="required: Inoperative or Operative"
    )


# --- id tags (cards and app members) -------------------------------------------------------------


class IdTagUpdate(In):
    holder: Text = ""
    phone: OptionalPhone = ""
    expires_at: UtcDatetime | None = None


class IdTagCreate(IdTagUpdate):
    tag: Tag = Field(description="the OCPP idTag: a card's number or a member's id")
    kind: IdTagKind


class IdTagOut(Out):
    id: int
    tag: str
    kind: IdTagKind
    holder: str
    phone: str
    balance_fen: int
    expires_at: datetime | None
    blocked: bool
    enabled: bool = Field(description="not blocked")
    created_at: datetime

    @property
    def tag_state(self) -> str:
        return "blocked" if self.blocked else "active"


class IdTagFilter(In):
    q: str = Field(default="", max_length=64, description="tag, holder or phone contains")
    kind: IdTagKind | None = None
    enabled: bool | None = Field(default=None, description="false: blocked")


# --- connectivity log (3.6.6) ---------------------------------------------------------------------


class LinkOut(Out):
    id: int
    charger_id: int
    charger_name: str
    charger_code: str
    serial: str
    station_name: str
    online: bool
    at: datetime
    reason: str

    @property
    def link_state(self) -> str:
        return "online" if self.online else "offline"


class LinkFilter(In):
    name: str = Field(default="", max_length=64, description="charger name contains")
    code: str = Field(default="", max_length=32, description="charger code starts with")
    serial: str = Field(default="", max_length=48, description="charger serial starts with")
    online: bool | None = None
    at_from: UtcDatetime | None = None
    at_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> LinkFilter:
        if self.at_from and self.at_to and self.at_to <= self.at_from:
            raise field_error("at_to", "error.until_before_from")
        return self


# --- the charging home page (3.1) -----------------------------------------------------------------


class DayFigure(Out):
    day: date
    value: int
    second: int = 0


class ChargingHome(Out):
    """Car charging at a glance: counts, the last 7 days' orders and the last 5 days' energy."""

    stations: int
    areas: int
    chargers: int
    chargers_online: int
    connectors: int
    connectors_by_status: dict[str, int]
    orders: int
    orders_today: int
    cards: int
    members: int
    orders_7d: list[DayFigure] = Field(description="value: orders made; second: refunds made")
    energy_5d: list[DayFigure] = Field(description="value: kWh of the orders ended that day")
