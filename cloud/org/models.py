"""Tortoise models of the org domain."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class TenantKind(StrEnum):
    school = "school"
    parking_operator = "parking_operator"
    charging_provider = "charging_provider"
    property_company = "property_company"


class Tenant(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=128)
    kind = fields.CharEnumField(TenantKind, max_length=32, default=TenantKind.school)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "org_tenant"


class TenantOwned(Model):
    """A business row of one tenant: every domain's models start here, and every query of
    them is scoped by tenant (cloud.org.service.scoped)."""

    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int

    class Meta:
        abstract = True


class Department(Model):
    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    name = fields.CharField(max_length=64)
    parent: fields.ForeignKeyNullableRelation[Department] = fields.ForeignKeyField(
        "wayside.Department", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    parent_id: int | None
    sort = fields.IntField(default=0)
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "org_department"
        unique_together = (("tenant", "name"),)


class Position(Model):
    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    name = fields.CharField(max_length=64)
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "org_position"
        unique_together = (("tenant", "name"),)


class Role(Model):
    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    name = fields.CharField(max_length=64)
    permissions: fields.JSONField[list[str]] = fields.JSONField(default=list)
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "org_role"
        unique_together = (("tenant", "name"),)


class User(Model):
    id = fields.IntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    account = fields.CharField(max_length=64, unique=True)
    phone = fields.CharField(max_length=20, null=True, unique=True)
    name = fields.CharField(max_length=64)
    password_hash = fields.CharField(max_length=255)
    department: fields.ForeignKeyNullableRelation[Department] = fields.ForeignKeyField(
        "wayside.Department", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    department_id: int | None
    position: fields.ForeignKeyNullableRelation[Position] = fields.ForeignKeyField(
        "wayside.Position", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    position_id: int | None
    role: fields.ForeignKeyNullableRelation[Role] = fields.ForeignKeyField(
        "wayside.Role", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    role_id: int | None
    # A tenant administrator holds every permission of the tenant, whatever the role says.
    is_admin = fields.BooleanField(default=False)
    enabled = fields.BooleanField(default=True)
    language = fields.CharField(max_length=8, default="zh")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "org_user"


class Session(Model):
    """A signed-in browser: the cookie holds a random token, the table only its hash."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "wayside.User", related_name=False, on_delete=fields.CASCADE
    )
    user_id: int
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "org_session"


class LoginFailure(Model):
    """One failed login, keyed by account and by client address, for throttling."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=128, db_index=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "org_login_failure"


class AuditLog(Model):
    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyNullableRelation[Tenant] = fields.ForeignKeyField(
        "wayside.Tenant", related_name=False, null=True, on_delete=fields.CASCADE
    )
    tenant_id: int | None
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "wayside.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    user_id: int | None
    action = fields.CharField(max_length=32)
    entity = fields.CharField(max_length=32)
    entity_id = fields.CharField(max_length=64, default="")
    detail: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "org_audit_log"
