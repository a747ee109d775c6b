"""Edge agent settings: config/edge.toml with WAYSIDE_EDGE_* overrides, validated once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocols.settings import load_settings, read_toml

DEFAULT_PATH = Path("config/edge.toml")
EDGE_ENV_PREFIX = "WAYSIDE_EDGE_"


class EdgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    site_file: Path = Path("config/demo-site.toml")
    store_path: Path = Path("var/edge/edge.db")
    snapshot_dir: Path = Path("var/edge/snapshots")
    cloud_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://[^/\s]+(/\S*)?$")
    edge_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    edge_key: str = Field(min_length=8, max_length=256)
    timezone: str = "Asia/Shanghai"
    modbus_timeout_s: float = Field(default=1.0, gt=0, le=30)

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
