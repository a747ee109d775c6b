"""Edge-cloud sync messages: events up (outbox batches, acks), revisioned site state down."""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from protocols.charging import ChargerGrant, IdTagGrant, TariffGrant
from protocols.parking import (
    ArrearsGrant,
    BerthGrant,
    CollectorGrant,
    HolidayGrant,
    MonthlyPassGrant,
    ParkingSiteGrant,
    SpecialPlateGrant,
)
from protocols.site import DefaultAction

EVENTS_PATH = "/sync/v1/events"
STATE_PATH = "/sync/v1/state"
ENROLL_PATH = "/sync/v1/enroll"

MAX_BATCH_EVENTS = 2000
MAX_BATCH_BYTES = 4_000_000
MAX_WAIT_SECONDS = 30.0


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Event(_Wire):
    """One recorded fact; (edge, seq) orders it, uuid identifies it anywhere."""

    seq: int = Field(ge=1)
    uuid: UUID
    type: str = Field(min_length=1, max_length=64)
    site: str = Field(min_length=1, max_length=48)
    occurred_at: AwareDatetime
    payload: dict[str, Any]


class PushRequest(_Wire):
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)

    @model_validator(mode="after")
    def _seqs_increase(self) -> PushRequest:
        for before, after in zip(self.events, self.events[1:], strict=False):
            if after.seq != before.seq + 1:
                raise ValueError(f"seq {after.seq} follows {before.seq}: a batch is contiguous")
        return self


class PushAck(_Wire):
    """The highest seq the cloud holds contiguously from 1 for this edge."""

    acked_seq: int = Field(ge=0)


class PushGap(_Wire):
    """A batch that starts past the next expected seq is refused whole."""

    error: str = "gap"
    expected_seq: int = Field(ge=1)


# --- state published down -------------------------------------------------------------------


class Entity(StrEnum):
    list_entry = "list_entry"
    access_rule = "access_rule"
    lane_policy = "lane_policy"
    # campus (keys: registrant id, plate, appointment id, kid, "registrant:<id>"/"appointment:<id>")
    registrant = "registrant"
    vehicle = "vehicle"
    appointment = "appointment"
    pass_key = "pass_key"
    revocation = "revocation"
    # charging (keys: charge point id, tariff id, idTag; models in protocols.charging)
    charger = "charger"
    tariff = "tariff"
    id_tag = "id_tag"
    # parking (keys: site code, berth code, ISO date, plate, plate, rule id, account;
    # models in protocols.parking; parking tariffs are `tariff` under "parking:<id>")
    parking_site = "parking_site"
    berth = "berth"
    holiday = "holiday"
    monthly_pass = "monthly_pass"
    arrears = "arrears"
    special_plate = "special_plate"
    collector = "collector"


class ListKind(StrEnum):
    whitelist = "whitelist"
    blacklist = "blacklist"


class ListEntry(_Wire):
    plate: str
    kind: ListKind
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    note: str = ""


class AccessRule(_Wire):
    """Vehicles (one plate, or any vehicle when plate is empty) may pass these lanes at these times."""

    name: str
    plate: str = ""
    lanes: list[str] = Field(default_factory=list, description="lane codes; empty = every lane")
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    start: time = time(0, 0)
    end: time = time(23, 59, 59)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class LanePolicy(_Wire):
    code: str
    enabled: bool = True
    default_action: DefaultAction
    min_confidence: int = Field(ge=0, le=100)


class GateWindow(_Wire):
    """These gates of the site (empty: every gate) on these weekdays between start and end,
    in the site's local time; end before start runs past midnight."""

    gates: list[str] = Field(default_factory=list)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    start: time = time(0, 0)
    end: time = time(23, 59, 59)


class RegistrantGrant(_Wire):
    """Where a registrant may pass at this site. No windows: no gate at all."""

    name: str
    kind: str
    enabled: bool = True
    windows: list[GateWindow] = Field(default_factory=list)


class VehicleGrant(_Wire):
    """An approved, enabled vehicle of a registrant (key: the plate)."""

    registrant: str
    kind: str
    valid_until: date | None = Field(default=None, description="last valid day; None: long-term")


class AppointmentGrant(_Wire):
    """A visit in force: its visitor may pass inside the window, by pass or by plate."""

    visitor: str
    plate: str = ""
    gates: list[str] = Field(default_factory=list, description="empty: every gate of the site")
    window_start: AwareDatetime
    window_end: AwareDatetime


class PassKeyGrant(_Wire):
    """A public key that signs passes, raw Ed25519 in base64url (key: its kid)."""

    public_key: str = Field(min_length=43, max_length=44)


class Revocation(_Wire):
    """A pass subject that no longer opens anything (key: 'registrant:<id>' or 'appointment:<id>')."""

    reason: str = ""


ENTITY_MODELS: dict[Entity, type[BaseModel]] = {
    Entity.list_entry: ListEntry,
    Entity.access_rule: AccessRule,
    Entity.lane_policy: LanePolicy,
    Entity.registrant: RegistrantGrant,
    Entity.vehicle: VehicleGrant,
    Entity.appointment: AppointmentGrant,
    Entity.pass_key: PassKeyGrant,
    Entity.revocation: Revocation,
    Entity.charger: ChargerGrant,
    Entity.tariff: TariffGrant,
    Entity.id_tag: IdTagGrant,
    Entity.parking_site: ParkingSiteGrant,
    Entity.berth: BerthGrant,
    Entity.holiday: HolidayGrant,
    Entity.monthly_pass: MonthlyPassGrant,
    Entity.arrears: ArrearsGrant,
    Entity.special_plate: SpecialPlateGrant,
    Entity.collector: CollectorGrant,
}


class StateChange(_Wire):
    """Entity `key` now holds `data`; data None means it was removed."""

    entity: Entity
    key: str
    data: dict[str, Any] | None


class SiteState(_Wire):
    """Changes since the edge's revision, or (full=True) everything the site holds now."""

    site: str
    revision: int = Field(ge=0)
    full: bool
    changes: list[StateChange]


class StateRequest(_Wire):
    """The revision the edge holds per site; the cloud answers once any moves or wait expires."""

    revisions: dict[str, int]
    wait: float = Field(default=25.0, ge=0, le=MAX_WAIT_SECONDS)


class CommandKind(StrEnum):
    open_barrier = "open_barrier"
    # chargers (payloads: protocols.charging.COMMAND_PAYLOADS)
    charger_reset = "charger_reset"
    charger_clock_sync = "charger_clock_sync"
    charger_push_tariff = "charger_push_tariff"
    charger_data_transfer = "charger_data_transfer"
    charger_trigger = "charger_trigger"
    charger_remote_start = "charger_remote_start"
    charger_remote_stop = "charger_remote_stop"
    charger_availability = "charger_availability"
    charger_configure = "charger_configure"
    charger_get_config = "charger_get_config"
    charger_unlock = "charger_unlock"
    charger_reserve = "charger_reserve"
    charger_cancel_reserve = "charger_cancel_reserve"
    charger_local_list = "charger_local_list"
    # parking (payloads: protocols.parking.command_payload)
    lane_paid = "lane_paid"
    lane_ticket = "lane_ticket"
    lock_raise = "lock_raise"
    lock_lower = "lock_lower"


class Command(_Wire):
    """An admin's action for a device at the edge: executed once, never after expires_at;
    its outcome comes back as a `command.result` event."""

    id: UUID
    kind: CommandKind
    site: str
    lane: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)
    issued_at: AwareDatetime
    expires_at: AwareDatetime


class StateResponse(_Wire):
    sites: list[SiteState]
    commands: list[Command] = Field(default_factory=list)


# --- enrollment ---------------------------------------------------------------------------------


class EnrollRequest(_Wire):
    """Presented once: the one-time token an admin was shown, and the edge's new public key."""

    token: str = Field(min_length=16, max_length=128)
    public_key: str = Field(min_length=40, max_length=64, description="raw Ed25519, base64url")


class EnrollResponse(_Wire):
    edge: str
    sites: list[str]
