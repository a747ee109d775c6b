"""Events the edge records and the cloud ingests: one payload model per event type."""

from __future__ import annotations

from datetime import date, datetime
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


# --- charging (the edge's OCPP central system) --------------------------------------------------


class ChargerLink(Payload):
    """A charger's WebSocket came up or went down (the device online/offline log)."""

    site: str
    charge_point: str
    online: bool
    at: AwareDatetime
    reason: str = ""
    vendor: str = Field(default="", description="from its BootNotification, when it sent one")
    model: str = ""
    firmware: str = ""


class ConnectorStatus(Payload):
    """A StatusNotification: connector 0 is the charger itself."""

    site: str
    charge_point: str
    connector: int = Field(ge=0)
    status: str = Field(max_length=24, description="OCPP 1.6 ChargePointStatus")
    error_code: str = Field(default="NoError", max_length=32)
    info: str = Field(default="", max_length=50)
    at: AwareDatetime


class ChargingStarted(Payload):
    """A transaction began: the order is the cloud's (remote start) or the edge's own uuid."""

    site: str
    order: UUID
    charge_point: str
    connector: int = Field(ge=1)
    transaction_id: int = Field(ge=1, description="issued by the edge, strictly increasing")
    id_tag: str = Field(max_length=20)
    method: str = Field(description="app, card, admin or offline (cloud StartMethod values)")
    meter_start_wh: int
    started_at: AwareDatetime
    tariff: str = Field(default="", description="key of the tariff it is billed by")
    tariff_version: date | None = Field(default=None, description="that version's effective_from")
    reservation_id: int | None = None


class MeterSample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: AwareDatetime
    energy_wh: int = Field(description="Energy.Active.Import.Register in Wh")
    power_w: int | None = None
    current_a: float | None = None
    voltage_v: float | None = None
    soc: int | None = None


class ChargingMetered(Payload):
    """MeterValues of a transaction, in time order."""

    site: str
    order: UUID
    charge_point: str
    connector: int = Field(ge=1)
    transaction_id: int
    samples: list[MeterSample] = Field(min_length=1)


class ChargingStopped(Payload):
    """A transaction ended (StopTransaction is never refused); `bill` is the edge's bill from
    the cached tariff (protocols.tariffs), which the cloud recomputes and compares."""

    site: str
    order: UUID
    charge_point: str
    connector: int = Field(ge=1)
    transaction_id: int
    meter_stop_wh: int
    stopped_at: AwareDatetime
    reason: str = Field(default="Local", max_length=32, description="OCPP Reason")
    energy_wh: int = Field(ge=0)
    bill: dict[str, Any] | None = None
    flags: list[str] = Field(default_factory=list, description="e.g. meter_below_start")


class ChargingStartFailed(Payload):
    """A remote start the charger refused, or that no StartTransaction followed in time."""

    site: str
    order: UUID
    charge_point: str
    connector: int = Field(ge=0)
    reason: str
    at: AwareDatetime


class ChargingSuspended(Payload):
    """A transaction's charger has been silent longer than the timeout (suspended), or is back."""

    site: str
    order: UUID
    charge_point: str
    connector: int = Field(ge=1)
    suspended: bool
    at: AwareDatetime
    silent_s: float = Field(ge=0)


class UnmatchedStop(Payload):
    """A StopTransaction for a transaction this edge never issued: kept for review, not billed."""

    site: str
    charge_point: str
    transaction_id: int
    id_tag: str = ""
    meter_stop_wh: int
    at: AwareDatetime


PAYLOADS: dict[str, type[Payload]] = {
    "access.decided": AccessDecided,
    "parking.session_started": ParkingSessionStarted,
    "parking.session_ended": ParkingSessionEnded,
    "device.barrier_failed": BarrierFailed,
    "command.result": CommandResult,
    "edge.outbox_budget": OutboxBudget,
    "charging.link": ChargerLink,
    "charging.connector_status": ConnectorStatus,
    "charging.started": ChargingStarted,
    "charging.metered": ChargingMetered,
    "charging.stopped": ChargingStopped,
    "charging.start_failed": ChargingStartFailed,
    "charging.suspended": ChargingSuspended,
    "charging.unmatched_stop": UnmatchedStop,
}


def parse_payload(event_type: str, payload: dict[str, Any]) -> Payload:
    """Validate a payload against its type's model; raises KeyError or ValidationError."""
    return PAYLOADS[event_type].model_validate(payload)


def dump_time(moment: datetime) -> str:
    return moment.isoformat()
