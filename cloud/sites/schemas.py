"""Input and output schemas of the sites domain, shared by the admin pages and the JSON API."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from cloud.org.schemas import In, Name, Out
from cloud.sites.models import DeviceKind
from protocols.site import CODE_PATTERN, DefaultAction, Direction, SiteKind, Wiring

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]


class SiteIn(In):
    code: Code
    name: Name
    kind: SiteKind
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] = ""
    capacity: int | None = Field(default=None, ge=0)


class SiteOut(Out):
    id: int
    code: str
    name: str
    kind: SiteKind
    address: str
    capacity: int | None
    enabled: bool
    revision: int


class SiteFilter(In):
    q: str = Field(default="", max_length=64, description="code or name contains")
    kind: SiteKind | None = None
    enabled: bool | None = None


class GateIn(In):
    site_id: int
    code: Code
    name: Name


class GateOut(Out):
    id: int
    site_id: int
    site_name: str | None = None
    code: str
    name: str
    enabled: bool


class GateFilter(In):
    q: str = Field(default="", max_length=64)
    site_id: int | None = None
    enabled: bool | None = None


class LaneIn(In):
    gate_id: int
    code: Code
    name: Name
    direction: Direction
    wiring: Wiring = Wiring.modbus
    default_action: DefaultAction | None = Field(
        default=None, description="null: the site kind's default (campus denies, others open)"
    )
    min_confidence: int = Field(default=80, ge=0, le=100)


class LaneOut(Out):
    id: int
    site_id: int
    site_name: str | None = None
    gate_id: int
    gate_name: str | None = None
    code: str
    name: str
    direction: Direction
    wiring: Wiring
    default_action: DefaultAction
    min_confidence: int
    enabled: bool


class LaneFilter(In):
    q: str = Field(default="", max_length=64)
    site_id: int | None = None
    gate_id: int | None = None
    enabled: bool | None = None


class DeviceIn(In):
    site_id: int
    lane_id: int | None = None
    kind: DeviceKind
    name: Name
    vendor: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""
    serial: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    address: Text = ""


class DeviceOut(Out):
    id: int
    site_id: int
    site_name: str | None = None
    lane_id: int | None
    lane_name: str | None = None
    kind: DeviceKind
    name: str
    vendor: str
    serial: str
    address: str
    enabled: bool


class DeviceFilter(In):
    q: str = Field(default="", max_length=64, description="name or serial contains")
    site_id: int | None = None
    kind: DeviceKind | None = None
    enabled: bool | None = None
