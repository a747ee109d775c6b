"""Tortoise models of notifications: messages sent (or held by the development channel) and the
one-time verification codes sent by SMS."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from cloud.org.models import Tenant


class Channel(StrEnum):
    sms = "sms"
    wechat = "wechat"


class MessageState(StrEnum):
    held = "held"  # kept by the development channel, shown in the message outbox
    sent = "sent"
    failed = "failed"


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyNullableRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, null=True, on_delete=fields.CASCADE
    )
    tenant_id: int | None
    channel = fields.CharEnumField(Channel, max_length=8)
    recipient = fields.CharField(max_length=64, description="phone number or WeChat id")
    template = fields.CharField(max_length=64)
    params: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    body = fields.TextField()
    state = fields.CharEnumField(MessageState, max_length=8)
    detail = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "notify_message"


class VerificationCode(Model):
    """A code sent by SMS to prove a phone (only its hash is kept)."""

    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    phone = fields.CharField(max_length=20)
    purpose = fields.CharField(max_length=32)
    code_hash = fields.CharField(max_length=64)
    attempts = fields.IntField(default=0)
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "notify_verification_code"
