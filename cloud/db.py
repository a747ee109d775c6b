"""Tortoise ORM setup: one app for every cloud domain, SQLite by default, PostgreSQL via asyncpg."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import BooleanField, CharField, Field, IntField, JSONField, TextField
from tortoise.migrations.api import migrate
from tortoise.models import Model

MODEL_MODULES = [
    "cloud.org.models",
    "cloud.sites.models",
    "cloud.access.models",
    "cloud.campus.models",
    "cloud.notify.models",
    "cloud.charging.models",
    "cloud.parking.models",
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


def _converter(
    model: type[Model], field: Field[Any], postgres: bool
) -> Callable[[Any], Any] | None:
    """How one column's Python values become what the driver takes; None: as they are."""
    if isinstance(field, JSONField):
        encode = field.encoder  # the field's own encoder, without re-validating what we built
        return lambda value: None if value is None else encode(value)
    if postgres:
        return None  # asyncpg encodes UUIDs, datetimes, ints and text (StrEnums too) natively
    if isinstance(field, (IntField, CharField, TextField, BooleanField)):
        return None
    return lambda value: field.to_db_value(value, model)


async def insert_rows(
    model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Write many rows inside the caller's transaction without building model objects: COPY on
    PostgreSQL, one executemany on SQLite. `names` are model field names (`edge_id` for a key)."""
    if not rows:
        return
    # Inside in_transaction() this is the transaction's own connection.
    conn: BaseDBAsyncClient = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    records = [list(row) for row in rows]
    # Column by column: a converter per value would cost more than the write itself.
    for index, name in enumerate(names):
        convert = _converter(model, model._meta.fields_map[name], postgres)
        if convert is not None:
            for record in records:
                record[index] = convert(record[index])
    columns = [model._meta.fields_db_projection[name] for name in names]
    table = model._meta.db_table
    if postgres:
        async with conn.acquire_connection() as raw:
            await raw.copy_records_to_table(
                table, records=[tuple(record) for record in records], columns=columns
            )
        return
    marks = ", ".join("?" for _ in columns)
    quoted = ", ".join(f'"{column}"' for column in columns)
    sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'
    await conn.execute_many(sql, records)


async def existing_uuids(model: type[Model], field: str, uuids: Sequence[UUID]) -> set[str]:
    """Which of these UUIDs the model's `field` already holds (as text), in one round trip:
    one array parameter on PostgreSQL rather than one parameter per value."""
    if not uuids:
        return set()
    conn: BaseDBAsyncClient = connections.get("default")
    column = model._meta.fields_db_projection[field]
    table = model._meta.db_table
    if conn.capabilities.dialect == "postgres":
        sql = f'SELECT "{column}"::text AS u FROM "{table}" WHERE "{column}" = ANY($1::uuid[])'
        rows = await conn.execute_query_dict(sql, [list(uuids)])
    else:
        marks = ", ".join("?" for _ in uuids)
        sql = f'SELECT "{column}" AS u FROM "{table}" WHERE "{column}" IN ({marks})'
        rows = await conn.execute_query_dict(sql, [str(u) for u in uuids])
    return {str(row["u"]) for row in rows}
