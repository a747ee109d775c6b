"""A PostgreSQL index that serves plate-prefix searches (京A1...) whatever the collation is."""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "access_record_plate_prefix"


async def _create(apps: Any, editor: Any) -> None:
    if editor.client.capabilities.dialect == "postgres":
        # LIKE 'x%' uses a btree only under the C collation, or with text_pattern_ops.
        await editor.client.execute_script(
            f"CREATE INDEX IF NOT EXISTS {INDEX} "
            "ON access_record (tenant_id, plate text_pattern_ops, occurred_at)"
        )


async def _drop(apps: Any, editor: Any) -> None:
    if editor.client.capabilities.dialect == "postgres":
        await editor.client.execute_script(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("wayside", "0001_initial")]

    operations = [ops.RunPython(_create, _drop)]
