"""Events the edge records and the cloud ingests: one payload model per event type."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from protocols.site import Direction


class Verdict(StrEnum):
    open = "open"
    deny = "deny"


class Reason(StrEnum):
    """Why the gate engine decided as it did, in the order it checks."""

    lane_disabled = "lane_disabled"
    low_confidence = "low_confidence"
    blacklist = "blacklist"
    whitelist = "whitelist"
    rule = "rule"
    default = "default"
    # campus: a registrant's vehicle or pass, a visitor's appointment, a staff override
    registrant = "registrant"
    visitor = "visitor"
    override = "override"
    no_rule = "no_rule"  # known registrant or visitor, but not at this gate at this time
    # pass refusals (protocols.passes.Refusal, same values)
    malformed = "malformed"
    unknown_key = "unknown_key"
    bad_signature = "bad_signature"
    not_yet_valid = "not_yet_valid"
    expired = "expired"
    too_long = "too_long"
    wrong_gate = "wrong_gate"
    wrong_direction = "wrong_direction"
    revoked = "revoked"
    replayed = "replayed"


class Method(StrEnum):
    """How the passer presented themselves."""

    plate = "plate"
    qr_pass = "qr_pass"
    override = "override"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccessDecided(Payload):
    """One passage decision at a lane (an access record)."""

    site: str
    gate: str
    lane: str
    direction: Direction
    plate: str = Field(max_length=16, description="as read; empty when no plate was read")
    plate_color: str = ""
    confidence: int = Field(ge=0, le=100)
    verdict: Verdict
    reason: Reason
    method: Method = Method.plate
    rule: str = Field(default="", description="id of the list entry or rule that decided")
    subject: str = Field(
        default="",
        max_length=48,
        description="who passed: 'registrant:<id>' or 'appointment:<id>'; empty for a stranger",
    )
    read_at: AwareDatetime
    snapshot: str = Field(default="", description="edge-local snapshot file name, if kept")
    session: str = Field(default="", description="parking session uuid opened or closed")


class ParkingSessionStarted(Payload):
    session: str
    site: str
    lane: str
    plate: str
    entered_at: AwareDatetime


class ParkingSessionEnded(Payload):
    session: str
    site: str
    lane: str
    plate: str
    exited_at: AwareDatetime


class BarrierFailed(Payload):
    """The barrier could not be driven (device unreachable or refused)."""

    site: str
    lane: str
    error: str


class CommandStatus(StrEnum):
    done = "done"
    failed = "failed"
    expired = "expired"


class CommandResult(Payload):
    """What became of a command: done, failed (with why), or expired before it could run."""

    command: UUID
    kind: str
    site: str
    lane: str = ""
    status: CommandStatus
    detail: str = ""


class OutboxBudget(Payload):
    """The outbox passed (or fell back under) its disk budget; recording goes on either way."""

    site: str
    used_bytes: int = Field(ge=0)
    budget_bytes: int = Field(ge=0)
    exceeded: bool


PAYLOADS: dict[str, type[Payload]] = {
    "access.decided": AccessDecided,
    "parking.session_started": ParkingSessionStarted,
    "parking.session_ended": ParkingSessionEnded,
    "device.barrier_failed": BarrierFailed,
    "command.result": CommandResult,
    "edge.outbox_budget": OutboxBudget,
}


def parse_payload(event_type: str, payload: dict[str, Any]) -> Payload:
    """Validate a payload against its type's model; raises KeyError or ValidationError."""
    return PAYLOADS[event_type].model_validate(payload)


def dump_time(moment: datetime) -> str:
    return moment.isoformat()
