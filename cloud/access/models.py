"""Tortoise models of the access domain."""

from __future__ import annotations

from datetime import time
from typing import Any, cast

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from cloud.org.models import Tenant
from cloud.sites.models import Edge, Site
from protocols.events import Reason, Verdict
from protocols.site import Direction
from protocols.sync import ListKind


class TimeOfDayField(fields.CharField):
    """A wall-clock time kept as 'HH:MM:SS' text.

    Tortoise's TimeField attaches the UTC zone under use_tz, which SQLite cannot bind; a rule's
    hours are local wall-clock hours anyway, never an instant.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=8, **kwargs)

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if isinstance(value, time):
            return value.replace(tzinfo=None).isoformat(timespec="seconds")
        return cast(str | None, value)

    def to_python_value(self, value: Any) -> time | None:
        if value is None or isinstance(value, time):
            return value
        return time.fromisoformat(str(value))


class ListEntry(Model):
    """A whitelisted or blacklisted plate at one site."""

    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    plate = fields.CharField(max_length=16)
    kind = fields.CharEnumField(ListKind, max_length=16)
    valid_from = fields.DatetimeField(null=True)
    valid_until = fields.DatetimeField(null=True)
    note = fields.CharField(max_length=255, default="")
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "access_list_entry"
        unique_together = (("site", "plate", "kind"),)


class AccessRule(Model):
    """One plate (or every vehicle) may pass these lanes on these weekdays between start and end."""

    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    name = fields.CharField(max_length=64)
    plate = fields.CharField(max_length=16, default="")
    lanes: fields.JSONField[list[str]] = fields.JSONField(default=list)
    weekdays: fields.JSONField[list[int]] = fields.JSONField(default=list)
    start_time = TimeOfDayField()
    end_time = TimeOfDayField()
    valid_from = fields.DatetimeField(null=True)
    valid_until = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "access_rule"


class AccessRecord(Model):
    """One passage decision made at a lane, as the edge reported it."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    edge: fields.ForeignKeyNullableRelation[Edge] = fields.ForeignKeyField(
        "wayside.Edge", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    edge_id: int | None
    event_uuid = fields.UUIDField(unique=True)
    gate = fields.CharField(max_length=48)
    lane = fields.CharField(max_length=48)
    direction = fields.CharEnumField(Direction, max_length=8)
    plate = fields.CharField(max_length=16)
    plate_color = fields.CharField(max_length=16, default="")
    confidence = fields.IntField()
    verdict = fields.CharEnumField(Verdict, max_length=8)
    reason = fields.CharEnumField(Reason, max_length=16)
    method = fields.CharField(max_length=16, default="plate")
    # Who passed, when the edge knew: the campus lists join on these (no foreign key, so the
    # records of a deleted registrant stay).
    registrant_id = fields.IntField(null=True)
    appointment_id = fields.IntField(null=True)
    occurred_at = fields.DatetimeField()
    snapshot = fields.CharField(max_length=128, default="")

    class Meta:
        table = "access_record"
        indexes = (
            Index(fields=("tenant_id", "occurred_at"), name="access_record_tenant_time"),
            Index(fields=("tenant_id", "plate", "occurred_at"), name="access_record_plate_time"),
            Index(
                fields=("tenant_id", "registrant_id", "occurred_at"),
                name="access_record_registrant_time",
            ),
            Index(fields=("tenant_id", "appointment_id"), name="access_record_appointment"),
        )
