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
    # parking lots (edge/engines/lot.py)
    arrears = "arrears"  # entry refused: unpaid arrears above the lot's threshold
    monthly = "monthly"  # a monthly pass of this lot: the session is free
    special = "special"  # a special plate (police, military, embassy...): free
    unpaid = "unpaid"  # exit held: the fee is shown and waits to be paid
    paid = "paid"  # exit opened once the fee was paid (lane QR, prepaid)
    ticket = "ticket"  # a vehicle without a plate took (or showed) a QR ticket


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
    entered_at: AwareDatetime | None = None
    due_fen: int = Field(default=0, ge=0, description="the fee by the cached tariff")
    paid_fen: int = Field(default=0, ge=0, description="paid before the barrier opened")
    bill: dict[str, Any] | None = Field(default=None, description="protocols.tariffs bill")
    tariff: str = ""
    free_reason: str = Field(default="", description="monthly, whitelist, special... when free")


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


# --- parking: lots, berths, collectors' PDAs ------------------------------------------------


class ParkingFeeAssessed(Payload):
    """A lot exit read a plate with an open session: the fee the lane display shows."""

    session: str
    site: str
    lane: str
    plate: str
    entered_at: AwareDatetime
    assessed_at: AwareDatetime
    due_fen: int = Field(ge=0)
    bill: dict[str, Any] | None = None
    tariff: str = ""


class NoPlateTicket(Payload):
    """A vehicle without a readable plate took a QR ticket at a lot entry; the ticket's code
    stands in for the plate until the exit."""

    session: str
    site: str
    lane: str
    ticket: str
    issued_at: AwareDatetime


class BerthArrived(Payload):
    """A vehicle arrived in a berth: a berth session opened (by its sensor or a collector)."""

    session: str
    site: str
    berth: str
    sensor: str = ""
    source: str = Field(default="sensor", description="sensor or collector")
    at: AwareDatetime


class BerthDeparted(Payload):
    session: str
    site: str
    berth: str
    sensor: str = ""
    source: str = Field(default="sensor", description="sensor or collector")
    at: AwareDatetime


class SensorStatus(Payload):
    """A geomagnetic sensor's heartbeat (battery, temperature), as the device pages show it."""

    site: str
    sensor: str
    berth: str = ""
    battery_pct: int = Field(ge=0, le=100)
    temperature_c: float | None = None
    at: AwareDatetime


class SensorFalseAlarm(Payload):
    """A collector reports that a berth session its sensor opened had no vehicle (地磁误报)."""

    site: str
    berth: str
    session: str
    sensor: str = ""
    collector: str = ""
    reason: str = ""
    at: AwareDatetime


class LockState(Payload):
    """A parking lock's state as its Modbus registers report it."""

    site: str
    berth: str
    state: str = Field(description="raised, lowered, moving or fault")
    fault: str = ""
    at: AwareDatetime


class PlateSet(Payload):
    """A collector entered or corrected the plate of an occupied berth's session."""

    session: str
    site: str
    berth: str
    plate: str = Field(max_length=16)
    vehicle_class: str = "small"
    collector: str = ""
    at: AwareDatetime


class ParkingPaid(Payload):
    """Money taken for one parking session (cash or QR at a PDA, a lane QR, a prepayment)."""

    payment: UUID
    session: str
    site: str
    amount_fen: int = Field(ge=0)
    method: str = Field(description="cash, qr, prepaid or free")
    due_fen: int = Field(default=0, ge=0)
    bill: dict[str, Any] | None = None
    collector: str = ""
    channel_ref: str = ""
    at: AwareDatetime


class ArrearsCollected(Payload):
    """A collector took a plate's arrears (one record or all of them)."""

    payment: UUID
    site: str
    plate: str
    orders: list[str] = Field(min_length=1, description="parking order uuids settled")
    amount_fen: int = Field(gt=0)
    method: str = Field(description="cash or qr")
    collector: str = ""
    at: AwareDatetime


class SessionFreed(Payload):
    """A collector let a special vehicle park free."""

    session: str
    site: str
    berth: str = ""
    reason: str = Field(default="special", max_length=64)
    collector: str = ""
    at: AwareDatetime


class ReceiptPrinted(Payload):
    session: str
    site: str
    kind: str = Field(description="entry, exit or arrears")
    copy_number: int = Field(default=1, ge=1, description="2 and above are reprints")
    collector: str = ""
    at: AwareDatetime


class ShiftChanged(Payload):
    """A collector signed in to (or out of) a section on a PDA; sign-out carries the takings."""

    shift: UUID
    site: str
    collector: str
    device: str
    signed_in_at: AwareDatetime
    signed_out_at: AwareDatetime | None = None
    cash_fen: int = Field(default=0, ge=0)
    qr_fen: int = Field(default=0, ge=0)
    arrears_fen: int = Field(default=0, ge=0)
    receipts: int = Field(default=0, ge=0)


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
    "parking.fee_assessed": ParkingFeeAssessed,
    "parking.no_plate_ticket": NoPlateTicket,
    "parking.plate_set": PlateSet,
    "parking.paid": ParkingPaid,
    "parking.arrears_collected": ArrearsCollected,
    "parking.freed": SessionFreed,
    "parking.receipt_printed": ReceiptPrinted,
    "berth.arrived": BerthArrived,
    "berth.departed": BerthDeparted,
    "berth.sensor_status": SensorStatus,
    "berth.false_alarm": SensorFalseAlarm,
    "berth.lock_state": LockState,
    "pda.shift_started": ShiftChanged,
    "pda.shift_ended": ShiftChanged,
}


def parse_payload(event_type: str, payload: dict[str, Any]) -> Payload:
    """Validate a payload against its type's model; raises KeyError or ValidationError."""
    return PAYLOADS[event_type].model_validate(payload)


def dump_time(moment: datetime) -> str:
    return moment.isoformat()
