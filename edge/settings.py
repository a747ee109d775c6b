"""Edge agent settings: config/edge.toml with WAYSIDE_EDGE_* overrides, validated once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocols.settings import load_settings, read_toml

DEFAULT_PATH = Path("config/edge.toml")
EDGE_ENV_PREFIX = "WAYSIDE_EDGE_"


class ChargerLinkSettings(BaseModel):
    """One charger's WebSocket keep-alive, when it differs from the edge's defaults (some
    firmware cannot answer pings; some mobile links go silent when idle)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ping_s: float | None = Field(default=None, ge=0, description="0: never ping it")
    pong_timeout_s: float | None = Field(default=None, gt=0)
    suspend_after_s: float | None = Field(default=None, gt=0)


class EdgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    site_file: Path = Path("config/demo-site.toml")
    store_path: Path = Path("var/edge/edge.db")
    snapshot_dir: Path = Path("var/edge/snapshots")
    # Where `wayside edge enroll` registers when no --cloud is given. After enrollment the
    # identity file is the source of the cloud URL and the edge id the sync client uses.
    cloud_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://[^/\s]+(/\S*)?$")
    # Optional label (the demo creates its cloud edge under it); sync never sends it.
    edge_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
    key_path: Path = Path("var/edge/edge.key")
    identity_path: Path = Path("var/edge/identity.json")
    # Disk the outbox may fill before an edge.outbox_budget alarm (recording goes on anyway).
    outbox_budget_mb: float = Field(default=1024, gt=0)
    # Longest wait between two sync retries (jittered below it).
    sync_retry_cap_s: float = Field(default=30, gt=0)
    timezone: str = "Asia/Shanghai"
    modbus_timeout_s: float = Field(default=1.0, gt=0, le=30)
    # Clock difference tolerated between the cloud that issued a pass and this edge.
    pass_skew_s: int = Field(default=5, ge=0, le=300)
    # Threads reading QR codes from camera frames (one frame per lane at a time).
    qr_threads: int = Field(default=2, ge=1, le=16)
    # --- OCPP central system (edge/ocpp) ---
    # WebSocket pings to chargers (0: none; their Heartbeats already show they are alive) and
    # how long a pong may take before the link is closed; per charger in [ocpp_chargers.<id>].
    ocpp_ping_s: float = Field(default=60, ge=0)
    ocpp_pong_timeout_s: float = Field(default=30, gt=0)
    # How long the edge waits for a charger's answer to one of its CALLs.
    ocpp_response_timeout_s: float = Field(default=30, gt=0, le=300)
    # A remote start the charger accepted but followed with no StartTransaction in this time
    # is reported as charging.start_failed.
    ocpp_remote_start_timeout_s: float = Field(default=90, gt=0)
    # A transaction whose charger is silent this long is suspended (default: 2 x heartbeat_s).
    ocpp_suspend_after_s: float | None = Field(default=None, gt=0)
    ocpp_suspend_check_s: float = Field(default=5, gt=0)
    # JSON-schema validation of every incoming CALL, on the event loop with cached validators
    # (see edge/ocpp/wire.py for the measurement behind it). Off only for benchmarks.
    ocpp_validate: bool = True
    ocpp_chargers: dict[str, ChargerLinkSettings] = Field(default_factory=dict)
    # --- parking ---
    # "site": an edge beside lanes, berths and chargers; "pda": a collector's handheld (the
    # same agent with the PDA pages on localhost and a receipt printer, config/pda.toml).
    profile: Literal["site", "pda"] = "site"
    # The MQTT broker the berth sensors publish to ("" when the site has no sensors).
    mqtt_url: str = Field(default="", pattern=r"^(mqtts?://[^/\s]+/?)?$")
    # The PDA's device id (shown on shifts) and its ESC/POS receipt printer's serial port.
    pda_device: str = Field(default="", max_length=64)
    printer_port: str = Field(default="", max_length=255)
    printer_baudrate: int = Field(default=9600, ge=1200, le=921_600)

    @field_validator("cloud_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_edge_settings(
    path: Path = DEFAULT_PATH, env: Mapping[str, str] | None = None
) -> EdgeSettings:
    """Read the edge TOML, overlay WAYSIDE_EDGE_* variables; raises SettingsError naming a key."""
    environment = os.environ if env is None else env
    return load_settings(
        EdgeSettings, read_toml(path), environment, str(path), prefix=EDGE_ENV_PREFIX
    )
