"""Charging between cloud and edge: the state an edge holds about its chargers, tariffs and id
tags, the payloads of charger commands, and the OCPP 1.6 words both sides share.

The events the edge reports (orders started, metered, stopped...) are in protocols/events.py
with every other event.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

OCPP_SUBPROTOCOL = "ocpp1.6"
OCPP_PATH = "/ocpp/{charge_point_id}"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- state published to edges (protocols.sync.Entity.charger / tariff / id_tag) -------------


class ChargerGrant(_Wire):
    """A charger this edge serves (key: its OCPP charge point id). Unknown ids are refused at
    the WebSocket handshake."""

    name: str
    station: str = Field(description="the station's site code")
    connectors: int = Field(ge=1, le=32)
    tariff: str = Field(default="", description="key of the tariff entity billing it")
    password_hash: str = Field(
        default="", description="scrypt hash of the HTTP Basic password (security profile 1)"
    )
    heartbeat_s: int = Field(default=60, ge=10, le=86_400)
    lenient: bool = Field(default=False, description="normalise known firmware deviations")
    enabled: bool = True
    hotline: str = ""
    qr_text: str = Field(default="", description="what the charger's screen shows to scan")


class TariffVersionGrant(_Wire):
    effective_from: date = Field(description="local date from whose midnight it applies")
    document: dict[str, Any] = Field(description="a protocols.tariffs document")


class TariffGrant(_Wire):
    """Every version of a tariff (key: tariff id): a session keeps the version in force when it
    started, so one that crosses midnight into a new version is billed by the old one."""

    zone: str = "Asia/Shanghai"
    versions: list[TariffVersionGrant] = Field(min_length=1)


class IdTagStatus(StrEnum):
    """OCPP 1.6 AuthorizationStatus."""

    accepted = "Accepted"
    blocked = "Blocked"
    expired = "Expired"
    invalid = "Invalid"
    concurrent_tx = "ConcurrentTx"


class IdTagGrant(_Wire):
    """A card or app member allowed to charge (key: the idTag). The edge authorises from these
    alone and pushes them to chargers' local lists (SendLocalList)."""

    kind: Literal["card", "app"]
    status: IdTagStatus = IdTagStatus.accepted
    expires_at: AwareDatetime | None = None
    holder: str = ""
    phone: str = ""


# --- commands the cloud sends to a charger through its edge (protocols.sync.Command) ----------
# Keyed by protocols.sync.CommandKind's charger_* values (this module imports nothing of sync).


class ChargerCommand(_Wire):
    """Every charger command's payload names the charger; the rest depends on the kind."""

    charge_point: str
    connector: int = Field(default=0, ge=0, le=32)


class ResetCommand(ChargerCommand):
    type: Literal["Soft", "Hard"] = "Soft"


class DataTransferCommand(ChargerCommand):
    """Hotline, QR text and tariff pushes go through DataTransfer (vendor_id 'wayside')."""

    vendor_id: str = "wayside"
    message_id: str = ""
    data: str = ""


class TriggerCommand(ChargerCommand):
    requested: Literal[
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    ] = "StatusNotification"


class RemoteStartCommand(ChargerCommand):
    """The cloud made the order (state starting) first; the edge gives its uuid to the
    StartTransaction that follows on this connector with this idTag."""

    id_tag: str = Field(min_length=1, max_length=20)
    order: str = Field(description="uuid of the order the cloud created")


class RemoteStopCommand(ChargerCommand):
    order: str


class AvailabilityCommand(ChargerCommand):
    type: Literal["Inoperative", "Operative"]


class ConfigureCommand(ChargerCommand):
    key: str = Field(min_length=1, max_length=50)
    value: str = Field(max_length=500)


class GetConfigurationCommand(ChargerCommand):
    keys: list[str] = Field(default_factory=list)


class ReserveCommand(ChargerCommand):
    reservation_id: int
    id_tag: str = Field(min_length=1, max_length=20)
    expires_at: datetime


class CancelReservationCommand(ChargerCommand):
    reservation_id: int


COMMAND_PAYLOADS: dict[str, type[ChargerCommand]] = {
    "charger_reset": ResetCommand,
    "charger_clock_sync": ChargerCommand,
    "charger_push_tariff": ChargerCommand,
    "charger_data_transfer": DataTransferCommand,
    "charger_trigger": TriggerCommand,
    "charger_remote_start": RemoteStartCommand,
    "charger_remote_stop": RemoteStopCommand,
    "charger_availability": AvailabilityCommand,
    "charger_configure": ConfigureCommand,
    "charger_get_config": GetConfigurationCommand,
    "charger_unlock": ChargerCommand,
    "charger_reserve": ReserveCommand,
    "charger_cancel_reserve": CancelReservationCommand,
    "charger_local_list": ChargerCommand,
}
