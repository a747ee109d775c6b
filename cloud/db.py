"""Tortoise ORM setup: one app for every cloud domain, SQLite by default, PostgreSQL via asyncpg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate

MODEL_MODULES = [
    "cloud.org.models",
    "cloud.sites.models",
    "cloud.access.models",
]
APP_LABEL = "wayside"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config dict; also what `tortoise makemigrations` reads (cloud.db.TORTOISE_ORM)."""
    url = database_url.replace("postgresql://", "postgres://", 1)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return {
        "connections": {"default": url},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "cloud.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


TORTOISE_ORM = tortoise_config("sqlite://var/cloud.db")


async def upgrade(database_url: str) -> None:
    """Apply every checked-in migration that the database has not seen yet."""
    await migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()


async def open_db(database_url: str) -> None:
    await Tortoise.init(config=tortoise_config(database_url))
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "sqlite":
        # WAL lets the admin pages read while sync ingest writes.
        await conn.execute_script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")


async def close_db() -> None:
    await Tortoise.close_connections()


def is_postgres() -> bool:
    return bool(Tortoise.get_connection("default").capabilities.dialect == "postgres")
