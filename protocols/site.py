"""The site document: sites, gates, lanes and the devices wired to each lane (config/*-site.toml)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocols.settings import load_settings, read_toml

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"


class SiteKind(StrEnum):
    campus = "campus"
    parking_lot = "parking_lot"
    street_section = "street_section"
    charging_station = "charging_station"
    property = "property"


class Direction(StrEnum):
    entry = "entry"
    exit = "exit"


class Wiring(StrEnum):
    """How the barrier is driven: by our Modbus write, or by the camera's own relay."""

    modbus = "modbus"
    camera_relay = "camera_relay"


class DefaultAction(StrEnum):
    """What a lane does for a plate no list or rule speaks about."""

    open = "open"
    deny = "deny"


def default_action_for(kind: SiteKind) -> DefaultAction:
    """Campus gates refuse strangers; parking lots let them in and start a session."""
    return DefaultAction.deny if kind == SiteKind.campus else DefaultAction.open


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModbusEndpoint(_Strict):
    """A Modbus TCP device: host, port and unit (slave) id."""

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    unit: int = Field(default=1, ge=0, le=247)


class CameraConfig(_Strict):
    vendor: str = Field(default="vzenith", pattern=r"^(vzenith|hikvision)$")
    serial: str = Field(min_length=1, max_length=64)
    min_confidence: int = Field(default=80, ge=0, le=100)


class ScannerConfig(_Strict):
    """A serial QR scanner at the lane: it sends each pass it reads as one text line."""

    port: str = Field(min_length=1, max_length=255, description="/dev/ttyUSB0, COM3, ...")
    baudrate: int = Field(default=9600, ge=1200, le=921_600)


class QrCameraConfig(_Strict):
    """A camera that sends the edge frames (JPEG) to read passes from, at POST /gate/{lane}/frame."""

    debounce_s: float = Field(
        default=3.0, ge=0, le=60, description="one decision per pass per lane within this time"
    )


class LaneConfig(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    direction: Direction
    wiring: Wiring = Wiring.modbus
    camera: CameraConfig
    barrier: ModbusEndpoint | None = None
    display: ModbusEndpoint | None = None
    scanner: ScannerConfig | None = None
    qr_camera: QrCameraConfig = Field(default_factory=QrCameraConfig)

    @model_validator(mode="after")
    def _barrier_for_modbus_wiring(self) -> LaneConfig:
        if self.wiring == Wiring.modbus and self.barrier is None:
            raise ValueError(f"lane {self.code}: wiring 'modbus' needs a [barrier] endpoint")
        return self


class GateConfig(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    lanes: list[LaneConfig] = Field(min_length=1)


class BerthConfig(_Strict):
    """An on-street berth wired to this edge: its geomagnetic sensor (over MQTT) and, on a
    shared berth, its parking lock (Modbus)."""

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$", description="as in the cloud")
    sensor: str = Field(default="", max_length=64, description="the sensor's serial")
    lock: ModbusEndpoint | None = None


class SiteConfig(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    kind: SiteKind
    capacity: int | None = Field(default=None, ge=0)
    gates: list[GateConfig] = Field(default_factory=list)
    berths: list[BerthConfig] = Field(default_factory=list)
    # A lot's guidance screen (free spaces), a Modbus register block.
    guidance: ModbusEndpoint | None = None

    def lanes(self) -> list[tuple[GateConfig, LaneConfig]]:
        return [(gate, lane) for gate in self.gates for lane in gate.lanes]


class SiteDocument(_Strict):
    """The whole document: one tenant's sites as one edge serves them."""

    tenant: str = Field(min_length=1, max_length=64)
    sites: list[SiteConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_unique(self) -> SiteDocument:
        seen: set[str] = set()
        for site in self.sites:
            for _, lane in site.lanes():
                if lane.code in seen:
                    raise ValueError(f"lane code {lane.code!r} is used twice")
                seen.add(lane.code)
        return self

    def lane(self, code: str) -> tuple[SiteConfig, GateConfig, LaneConfig] | None:
        for site in self.sites:
            for gate, lane in site.lanes():
                if lane.code == code:
                    return site, gate, lane
        return None


def load_site_document(path: Path) -> SiteDocument:
    """Read and validate a site document file; raises SettingsError naming a bad key."""
    return load_settings(SiteDocument, read_toml(path), {}, str(path))
