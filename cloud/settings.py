"""Cloud settings: config/cloud.toml with WAYSIDE_* overrides, validated at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocols.settings import load_settings, read_toml

DEFAULT_PATH = Path("config/cloud.toml")


class CloudSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    database_url: str = "sqlite://var/cloud.db"
    session_idle_minutes: int = Field(default=480, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    timezone: str = "Asia/Shanghai"
    default_language: str = Field(default="zh", pattern=r"^(zh|en)$")
    secure_cookies: bool = False
    # The address phones reach the cloud at: gate QR posters and mobile links are built on it.
    public_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://[^/\s]+$")
    # Evidence images edges upload (lane snapshots), one folder per tenant.
    snapshot_dir: Path = Path("var/cloud/snapshots")

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("must start with sqlite:// or postgres://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value


def load_cloud_settings(path: Path, env: Mapping[str, str]) -> CloudSettings:
    data = read_toml(path) if path.exists() or path != DEFAULT_PATH else {}
    return load_settings(CloudSettings, data, env, str(path))
