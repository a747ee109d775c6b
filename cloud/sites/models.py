"""Tortoise models of the sites domain, with the sync ledger (events received, state published)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from cloud.org.models import Tenant
from protocols.site import DefaultAction, Direction, SiteKind, Wiring


class DeviceKind(StrEnum):
    anpr_camera = "anpr_camera"
    barrier = "barrier"
    display = "display"


class Site(Model):
    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    code = fields.CharField(max_length=48)
    name = fields.CharField(max_length=64)
    kind = fields.CharEnumField(SiteKind, max_length=32)
    address = fields.CharField(max_length=255, default="")
    capacity = fields.IntField(null=True)
    enabled = fields.BooleanField(default=True)
    # Revision of the state published to edges; bumped in the transaction of every change.
    revision = fields.BigIntField(default=0)

    class Meta:
        table = "sites_site"
        unique_together = (("tenant", "code"),)


class Gate(Model):
    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    code = fields.CharField(max_length=48)
    name = fields.CharField(max_length=64)
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "sites_gate"
        unique_together = (("tenant", "code"),)


class Lane(Model):
    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    gate: fields.ForeignKeyRelation[Gate] = fields.ForeignKeyField(
        "wayside.Gate", related_name=False, on_delete=fields.CASCADE
    )
    gate_id: int
    code = fields.CharField(max_length=48)
    name = fields.CharField(max_length=64)
    direction = fields.CharEnumField(Direction, max_length=8)
    wiring = fields.CharEnumField(Wiring, max_length=16, default=Wiring.modbus)
    default_action = fields.CharEnumField(DefaultAction, max_length=8)
    min_confidence = fields.IntField(default=80)
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "sites_lane"
        unique_together = (("tenant", "code"),)


class Device(Model):
    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    lane: fields.ForeignKeyNullableRelation[Lane] = fields.ForeignKeyField(
        "wayside.Lane", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    lane_id: int | None
    kind = fields.CharEnumField(DeviceKind, max_length=16)
    name = fields.CharField(max_length=64)
    vendor = fields.CharField(max_length=32, default="")
    serial = fields.CharField(max_length=64, default="")
    address = fields.CharField(max_length=128, default="")
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "sites_device"


class Edge(Model):
    """An edge agent that pushes events and pulls state for the sites it serves.

    It proves who it is with an Ed25519 key registered once with a one-time enrollment token.
    """

    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=64)
    sites: fields.ManyToManyRelation[Site] = fields.ManyToManyField(
        "wayside.Site", related_name="edges", through="sites_edge_site"
    )
    # Raw Ed25519 public key, base64url; empty until enrolled.
    public_key = fields.CharField(max_length=64, default="")
    # SHA-256 of the one-time enrollment token; emptied when used.
    enroll_token_hash = fields.CharField(max_length=64, default="", db_index=True)
    enroll_expires_at = fields.DatetimeField(null=True)
    enrolled_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)
    # Highest seq held contiguously from 1: the ack the edge gets back.
    acked_seq = fields.BigIntField(default=0)
    applied_revisions: fields.JSONField[dict[str, int]] = fields.JSONField(default=dict)
    last_seen_at = fields.DatetimeField(null=True)
    # Server clock minus edge clock at the last request, and the outbox backlog it reported.
    clock_skew_ms = fields.BigIntField(null=True)
    backlog = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sites_edge"


class SeenSignature(Model):
    """Signatures accepted in the last minutes: the same one again is a replay."""

    id = fields.BigIntField(primary_key=True)
    digest = fields.CharField(max_length=64, unique=True)
    seen_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "sync_seen_signature"


class CommandState(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"
    expired = "expired"


class Command(Model):
    """An admin's device action sent down to the edge serving the site, run there at most once."""

    id = fields.UUIDField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    lane = fields.CharField(max_length=48, default="")
    kind = fields.CharField(max_length=32)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    issued_by = fields.CharField(max_length=64, default="")
    issued_at = fields.DatetimeField(db_index=True)
    expires_at = fields.DatetimeField()
    # Last time a long-poll carried it down; it goes again if no result came back meanwhile.
    delivered_at = fields.DatetimeField(null=True)
    state = fields.CharEnumField(CommandState, max_length=8, default=CommandState.pending)
    detail = fields.CharField(max_length=255, default="")
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sync_command"


class SyncEvent(Model):
    """Every event an edge delivered, once: (edge, seq) and uuid are both unique."""

    id = fields.BigIntField(primary_key=True)
    edge: fields.ForeignKeyRelation[Edge] = fields.ForeignKeyField(
        "wayside.Edge", related_name=False, on_delete=fields.CASCADE
    )
    edge_id: int
    seq = fields.BigIntField()
    uuid = fields.UUIDField(unique=True)
    type = fields.CharField(max_length=64)
    site = fields.CharField(max_length=48)
    occurred_at = fields.DatetimeField()
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField()
    # Set when the payload was refused (unknown type, bad fields, foreign site): kept, not applied.
    error = fields.TextField(default="")
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sync_event"
        unique_together = (("edge", "seq"),)


class StateChange(Model):
    """The per-site state log edges pull: entity `key` holds `data` (None means removed) from `revision`."""

    id = fields.BigIntField(primary_key=True)
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    revision = fields.BigIntField()
    entity = fields.CharField(max_length=32)
    key = fields.CharField(max_length=64)
    data: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)

    class Meta:
        table = "sync_state_change"
        unique_together = (("site", "revision"),)
