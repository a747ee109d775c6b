"""Input and output schemas of the sites domain, shared by the admin pages and the JSON API."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StringConstraints

from cloud.org.schemas import In, Name, Out, UtcDatetime
from cloud.sites.models import CommandState, DeviceKind
from protocols.site import CODE_PATTERN, DefaultAction, Direction, SiteKind, Wiring
from protocols.sync import CommandKind

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


# --- edges ------------------------------------------------------------------------------------

# An edge whose clock is further off than this is flagged in the list (the cloud refuses at 5 min).
SKEW_FLAG_MS = 60_000


class EdgeStatus(StrEnum):
    """Derived from the enrollment fields, never stored."""

    pending = "pending"  # a token was issued and is still valid; no key registered yet
    expired = "expired"  # no key registered and no valid token: re-enroll to get a new one
    enrolled = "enrolled"  # a public key is registered; the edge signs its requests with it
    revoked = "revoked"  # refused with 401 until re-enrolled
    disabled = "disabled"  # switched off by an admin; refused until enabled


class EdgeIn(In):
    code: Code
    name: Name
    site_ids: list[int] = Field(default_factory=list, max_length=500)


class EdgeUpdate(In):
    """The code is what the edge signs with, so it stays; name and sites may change."""

    name: Name
    site_ids: list[int] = Field(default_factory=list, max_length=500)


class EdgeSiteOut(Out):
    id: int
    code: str
    name: str
    revision: int = Field(description="the site's current published revision")
    applied: int | None = Field(description="the revision the edge last reported applied")
    behind: bool


class EdgeOut(Out):
    id: int
    code: str
    name: str
    status: EdgeStatus
    enabled: bool
    site_ids: list[int]
    sites: list[EdgeSiteOut]
    enroll_expires_at: datetime | None
    enrolled_at: datetime | None
    revoked_at: datetime | None
    last_seen_at: datetime | None
    acked_seq: int
    backlog: int | None = Field(description="outbox events the edge reported not yet sent")
    clock_skew_ms: int | None = Field(description="server clock minus edge clock")
    skew_flagged: bool = Field(description=f"clock off by more than {SKEW_FLAG_MS} ms")
    behind: bool = Field(description="some site's applied revision is behind the current one")
    created_at: datetime

    @property
    def revisions_text(self) -> str:
        """Per site: applied / current revision, for lists and exports."""
        return "; ".join(
            f"{s.code} {'-' if s.applied is None else s.applied}/{s.revision}" for s in self.sites
        )

    @property
    def skew_seconds(self) -> str:
        return "" if self.clock_skew_ms is None else f"{self.clock_skew_ms / 1000:+.1f}"


class EdgeCreated(Out):
    """The new edge and its one-time enrollment token: shown once, only its hash is kept."""

    edge: EdgeOut
    token: str


class EdgeFilter(In):
    q: str = Field(default="", max_length=64, description="code or name contains")
    site_id: int | None = None
    status: EdgeStatus | None = None
    enabled: bool | None = None


# --- dead letters -----------------------------------------------------------------------------


class DeadLetterOut(Out):
    """An event an edge delivered that the cloud refused as invalid and kept, with why."""

    id: int
    edge_id: int
    edge_code: str
    seq: int
    uuid: UUID
    type: str
    site: str
    occurred_at: datetime
    received_at: datetime
    error: str
    payload: dict[str, Any]

    @property
    def payload_text(self) -> str:
        return json.dumps(self.payload, ensure_ascii=False, indent=2, sort_keys=True)


class DeadLetterFilter(In):
    edge_id: int | None = None
    type: str = Field(default="", max_length=64)
    occurred_from: UtcDatetime | None = None
    occurred_to: UtcDatetime | None = None


# --- commands ---------------------------------------------------------------------------------


class CommandOut(Out):
    id: UUID
    site_id: int
    site_name: str | None = None
    lane: str
    lane_name: str | None = None
    kind: str
    payload: dict[str, Any]
    state: CommandState = Field(description="expired once expires_at passes while still pending")
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    finished_at: datetime | None
    detail: str

    @property
    def lane_label(self) -> str:
        return f"{self.lane_name} ({self.lane})" if self.lane_name else self.lane


class CommandFilter(In):
    site_id: int | None = None
    lane: str = Field(default="", max_length=48)
    kind: CommandKind | None = None
    state: CommandState | None = None
    issued_from: UtcDatetime | None = None
    issued_to: UtcDatetime | None = None
