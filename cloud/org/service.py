"""Org rules: departments, positions, roles, users and the audit log, every query scoped by tenant.

Also holds the small helpers every domain service uses (tenant-scoped fetch, uniqueness,
change tracking, audit, enable/disable, delete), so sites and access read the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, time
from enum import Enum
from typing import Any, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given, within
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.models import AuditLog, Department, Position, Role, Session, User
from cloud.org.schemas import (
    AuditFilter,
    AuditOut,
    DepartmentIn,
    DepartmentOut,
    NameFilter,
    PositionIn,
    PositionOut,
    RoleIn,
    RoleOut,
    UserCreate,
    UserFilter,
    UserOut,
    UserUpdate,
)
from cloud.passwords import hash_password

M = TypeVar("M", bound=Model)
SECRET = "***"

# --- helpers shared by every domain service ---------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


async def audit(
    principal: Principal,
    action: str,
    entity: str,
    entity_id: object,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Record who did what to which row; `changes` maps field -> {from, to} (secrets masked)."""
    await AuditLog.create(
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        detail={"changes": dict(changes)} if changes else {},
    )


def scoped(model: type[M], principal: Principal) -> QuerySet[M]:
    """Every row a principal may see starts here."""
    return model.filter(tenant_id=principal.tenant_id)


async def get_owned(model: type[M], principal: Principal, ident: int, entity: str) -> M:
    """The row in the principal's tenant; another tenant's row does not exist."""
    row = await scoped(model, principal).filter(id=ident).first()
    if row is None:
        raise NotFound(entity, ident)
    return row


async def check_reference(
    model: type[M], principal: Principal, field: str, ident: int | None
) -> M | None:
    """A referenced row named in input must be the principal's, else the field is invalid."""
    if ident is None:
        return None
    row = await scoped(model, principal).filter(id=ident).first()
    if row is None:
        raise Invalid(field, "error.reference")
    return row


async def ensure_unique(
    query: QuerySet[M], field: str, value: Any, exclude_id: int | None = None
) -> None:
    """Conflict when another row of `query` already holds `value` in `field`."""
    if value is None:
        return
    clash = query.filter(**{field: value})
    if exclude_id is not None:
        clash = clash.exclude(id=exclude_id)
    if await clash.exists():
        raise Conflict(field, "error.taken")


def apply_changes(
    row: Model, data: Mapping[str, Any], secrets: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Set `data` on `row`, returning field -> {from, to} for what really changed."""
    changes: dict[str, Any] = {}
    for name, value in data.items():
        old = getattr(row, name)
        if old == value and name not in secrets:
            continue
        if name in secrets:
            changes[name] = {"from": SECRET, "to": SECRET}
        else:
            changes[name] = {"from": _jsonable(old), "to": _jsonable(value)}
        setattr(row, name, value)
    return changes


async def create_row(
    principal: Principal, model: type[M], entity: str, data: Mapping[str, Any]
) -> M:
    """Insert a tenant row and audit it, inside the caller's transaction."""
    row = await model.create(tenant_id=principal.tenant_id, **data)
    await audit(principal, "create", entity, row.pk, _created(data))
    return row


def _created(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: {"from": None, "to": _jsonable(v)} for k, v in data.items()}


async def update_row(
    principal: Principal,
    row: M,
    entity: str,
    data: Mapping[str, Any],
    secrets: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    changes = apply_changes(row, data, secrets)
    if changes:
        await row.save(update_fields=list(data))
        await audit(principal, "update", entity, row.pk, changes)
    return changes


async def set_enabled_row(
    principal: Principal,
    model: type[M],
    entity: str,
    ident: int,
    enabled: bool,
    after: Callable[[M], Awaitable[None]] | None = None,
) -> M:
    """Enable or disable a row; `after` runs in the same transaction (e.g. to publish to edges)."""
    async with in_transaction():
        row = await get_owned(model, principal, ident, entity)
        if getattr(row, "enabled") != enabled:  # noqa: B009 - M is any model with `enabled`
            setattr(row, "enabled", enabled)  # noqa: B010 - every such model has it
            await row.save(update_fields=["enabled"])
            await audit(principal, "enable" if enabled else "disable", entity, ident)
            if after is not None:
                await after(row)
    return row


async def delete_row(
    principal: Principal,
    model: type[M],
    entity: str,
    ident: int,
    before: Callable[[M], Awaitable[None]] | None = None,
) -> None:
    """Delete a row; `before` may refuse (Conflict) or publish, in the same transaction."""
    async with in_transaction():
        row = await get_owned(model, principal, ident, entity)
        if before is not None:
            await before(row)
        await row.delete()
        await audit(principal, "delete", entity, ident)


def name_filtered(query: QuerySet[M], f: NameFilter) -> QuerySet[M]:
    if f.q:
        query = query.filter(name__icontains=f.q)
    query = where_given(query, f, "enabled")
    return query


NAME_SORTS = {"name": "name", "id": "id"}

# --- departments ------------------------------------------------------------------------------


def _department_out(row: Department) -> DepartmentOut:
    parent = row.parent if row.parent_id is not None else None
    return DepartmentOut(
        id=row.id,
        name=row.name,
        parent_id=row.parent_id,
        parent_name=parent.name if parent is not None else None,
        sort=row.sort,
        enabled=row.enabled,
    )


async def list_departments(
    principal: Principal, f: NameFilter, params: PageParams
) -> Page[DepartmentOut]:
    query = name_filtered(scoped(Department, principal), f)
    return await paginate(
        query,
        params,
        sorts={**NAME_SORTS, "sort": "sort"},
        default_sort="sort",
        convert=_department_out,
        related=("parent",),
    )


async def get_department(principal: Principal, ident: int) -> DepartmentOut:
    row = await get_owned(Department, principal, ident, "department")
    await row.fetch_related("parent")
    return _department_out(row)


async def _check_department(principal: Principal, data: DepartmentIn, ident: int | None) -> None:
    await ensure_unique(scoped(Department, principal), "name", data.name, ident)
    await check_reference(Department, principal, "parent_id", data.parent_id)
    if ident is not None and data.parent_id == ident:
        raise Invalid("parent_id", "error.parent_self")


async def create_department(principal: Principal, data: DepartmentIn) -> DepartmentOut:
    async with in_transaction():
        await _check_department(principal, data, None)
        row = await create_row(principal, Department, "department", data.model_dump())
    return await get_department(principal, row.id)


async def update_department(principal: Principal, ident: int, data: DepartmentIn) -> DepartmentOut:
    async with in_transaction():
        row = await get_owned(Department, principal, ident, "department")
        await _check_department(principal, data, ident)
        await update_row(principal, row, "department", data.model_dump())
    return await get_department(principal, ident)


async def set_department_enabled(principal: Principal, ident: int, enabled: bool) -> DepartmentOut:
    await set_enabled_row(principal, Department, "department", ident, enabled)
    return await get_department(principal, ident)


async def delete_department(principal: Principal, ident: int) -> None:
    await delete_row(principal, Department, "department", ident)


async def department_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Department, principal).order_by("sort", "name").values_list("id", "name")
    return [(int(i), str(n)) for i, n in rows]


# --- positions --------------------------------------------------------------------------------


def _position_out(row: Position) -> PositionOut:
    return PositionOut.model_validate(row)


async def list_positions(
    principal: Principal, f: NameFilter, params: PageParams
) -> Page[PositionOut]:
    query = name_filtered(scoped(Position, principal), f)
    return await paginate(
        query, params, sorts=NAME_SORTS, default_sort="name", convert=_position_out
    )


async def get_position(principal: Principal, ident: int) -> PositionOut:
    return _position_out(await get_owned(Position, principal, ident, "position"))


async def create_position(principal: Principal, data: PositionIn) -> PositionOut:
    async with in_transaction():
        await ensure_unique(scoped(Position, principal), "name", data.name)
        row = await create_row(principal, Position, "position", data.model_dump())
    return _position_out(row)


async def update_position(principal: Principal, ident: int, data: PositionIn) -> PositionOut:
    async with in_transaction():
        row = await get_owned(Position, principal, ident, "position")
        await ensure_unique(scoped(Position, principal), "name", data.name, ident)
        await update_row(principal, row, "position", data.model_dump())
    return _position_out(row)


async def set_position_enabled(principal: Principal, ident: int, enabled: bool) -> PositionOut:
    return _position_out(await set_enabled_row(principal, Position, "position", ident, enabled))


async def delete_position(principal: Principal, ident: int) -> None:
    await delete_row(principal, Position, "position", ident)


async def position_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Position, principal).order_by("name").values_list("id", "name")
    return [(int(i), str(n)) for i, n in rows]


# --- roles ------------------------------------------------------------------------------------


def _role_out(row: Role) -> RoleOut:
    return RoleOut(id=row.id, name=row.name, permissions=list(row.permissions), enabled=row.enabled)


async def list_roles(principal: Principal, f: NameFilter, params: PageParams) -> Page[RoleOut]:
    query = name_filtered(scoped(Role, principal), f)
    return await paginate(query, params, sorts=NAME_SORTS, default_sort="name", convert=_role_out)


async def get_role(principal: Principal, ident: int) -> RoleOut:
    return _role_out(await get_owned(Role, principal, ident, "role"))


async def create_role(principal: Principal, data: RoleIn) -> RoleOut:
    async with in_transaction():
        await ensure_unique(scoped(Role, principal), "name", data.name)
        row = await create_row(principal, Role, "role", data.model_dump())
    return _role_out(row)


async def update_role(principal: Principal, ident: int, data: RoleIn) -> RoleOut:
    async with in_transaction():
        row = await get_owned(Role, principal, ident, "role")
        await ensure_unique(scoped(Role, principal), "name", data.name, ident)
        await update_row(principal, row, "role", data.model_dump())
    return _role_out(row)


async def set_role_enabled(principal: Principal, ident: int, enabled: bool) -> RoleOut:
    return _role_out(await set_enabled_row(principal, Role, "role", ident, enabled))


async def _role_unused(row: Role) -> None:
    if await User.filter(role_id=row.id).exists():
        raise Conflict("id", "error.in_use")


async def delete_role(principal: Principal, ident: int) -> None:
    await delete_row(principal, Role, "role", ident, before=_role_unused)


async def role_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Role, principal).order_by("name").values_list("id", "name")
    return [(int(i), str(n)) for i, n in rows]


# --- users ------------------------------------------------------------------------------------

USER_RELATED = ("department", "position", "role")


def _user_out(row: User) -> UserOut:
    def name_of(related: Department | Position | Role | None) -> str | None:
        return related.name if related is not None else None

    return UserOut(
        id=row.id,
        account=row.account,
        name=row.name,
        phone=row.phone,
        department_id=row.department_id,
        department_name=name_of(row.department) if row.department_id else None,
        position_id=row.position_id,
        position_name=name_of(row.position) if row.position_id else None,
        role_id=row.role_id,
        role_name=name_of(row.role) if row.role_id else None,
        is_admin=row.is_admin,
        enabled=row.enabled,
        language=row.language,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


async def list_users(principal: Principal, f: UserFilter, params: PageParams) -> Page[UserOut]:
    query = scoped(User, principal)
    if f.q:
        query = query.filter(
            Q(account__icontains=f.q) | Q(name__icontains=f.q) | Q(phone__icontains=f.q)
        )
    query = where_given(query, f, "department_id", "role_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={
            "account": "account",
            "name": "name",
            "created_at": "created_at",
            "last_login_at": "last_login_at",
        },
        default_sort="account",
        convert=_user_out,
        related=USER_RELATED,
    )


async def get_user(principal: Principal, ident: int) -> UserOut:
    row = await get_owned(User, principal, ident, "user")
    await row.fetch_related(*USER_RELATED)
    return _user_out(row)


async def _check_user(
    principal: Principal, data: UserCreate | UserUpdate, ident: int | None
) -> None:
    # Accounts and phones sign in, so they are unique across every tenant.
    await ensure_unique(User.all(), "account", data.account, ident)
    await ensure_unique(User.all(), "phone", data.phone, ident)
    await check_reference(Department, principal, "department_id", data.department_id)
    await check_reference(Position, principal, "position_id", data.position_id)
    await check_reference(Role, principal, "role_id", data.role_id)


async def create_user(principal: Principal, data: UserCreate) -> UserOut:
    if data.is_admin and not principal.is_admin:
        raise Invalid("is_admin", "error.admin_only")
    async with in_transaction():
        await _check_user(principal, data, None)
        fields = data.model_dump(exclude={"password"})
        row = await User.create(
            tenant_id=principal.tenant_id, password_hash=hash_password(data.password), **fields
        )
        await audit(principal, "create", "user", row.id, {**_created(fields), "password": SECRET})
    return await get_user(principal, row.id)


async def update_user(principal: Principal, ident: int, data: UserUpdate) -> UserOut:
    async with in_transaction():
        row = await get_owned(User, principal, ident, "user")
        if data.is_admin != row.is_admin and not principal.is_admin:
            raise Invalid("is_admin", "error.admin_only")
        if ident == principal.user_id and row.is_admin and not data.is_admin:
            raise Invalid("is_admin", "error.self")
        await _check_user(principal, data, ident)
        fields: dict[str, Any] = data.model_dump(exclude={"password"})
        secrets: frozenset[str] = frozenset()
        if data.password is not None:
            fields["password_hash"] = hash_password(data.password)
            secrets = frozenset({"password_hash"})
        await update_row(principal, row, "user", fields, secrets)
        if data.password is not None and ident != principal.user_id:
            # A new password signs the user out everywhere else.
            await Session.filter(user_id=ident).delete()
    return await get_user(principal, ident)


async def _not_self(principal: Principal, ident: int) -> None:
    if ident == principal.user_id:
        raise Invalid("id", "error.self")


async def set_user_enabled(principal: Principal, ident: int, enabled: bool) -> UserOut:
    await _not_self(principal, ident)

    async def sign_out(row: User) -> None:
        if not row.enabled:
            await Session.filter(user_id=row.id).delete()

    await set_enabled_row(principal, User, "user", ident, enabled, after=sign_out)
    return await get_user(principal, ident)


async def delete_user(principal: Principal, ident: int) -> None:
    await _not_self(principal, ident)
    await delete_row(principal, User, "user", ident)


async def set_language(principal: Principal, language: str) -> None:
    """A preference, not a business change: not audited."""
    if language not in ("zh", "en"):
        raise Invalid("language", "error.invalid")
    await scoped(User, principal).filter(id=principal.user_id).update(language=language)


# --- audit log --------------------------------------------------------------------------------


def _audit_out(row: AuditLog) -> AuditOut:
    return AuditOut(
        id=row.id,
        at=row.at,
        user_id=row.user_id,
        user_account=row.user.account if row.user_id and row.user else None,
        action=row.action,
        entity=row.entity,
        entity_id=row.entity_id,
        detail=dict(row.detail),
    )


async def list_audit(principal: Principal, f: AuditFilter, params: PageParams) -> Page[AuditOut]:
    query = scoped(AuditLog, principal)
    if f.entity:
        query = query.filter(entity=f.entity)
    if f.action:
        query = query.filter(action=f.action)
    query = where_given(query, f, "user_id")
    query = within(query, "at", f.at_from, f.at_to)
    return await paginate(
        query,
        params,
        sorts={"at": "at"},
        default_sort="-at",
        convert=_audit_out,
        related=("user",),
    )


async def user_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(User, principal).order_by("account").values_list("id", "account")
    return [(int(i), str(a)) for i, a in rows]


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

USERS = Crud(
    list=list_users,
    get=get_user,
    create=create_user,
    update=update_user,
    set_enabled=set_user_enabled,
    delete=delete_user,
)
ROLES = Crud(
    list=list_roles,
    get=get_role,
    create=create_role,
    update=update_role,
    set_enabled=set_role_enabled,
    delete=delete_role,
)
DEPARTMENTS = Crud(
    list=list_departments,
    get=get_department,
    create=create_department,
    update=update_department,
    set_enabled=set_department_enabled,
    delete=delete_department,
)
POSITIONS = Crud(
    list=list_positions,
    get=get_position,
    create=create_position,
    update=update_position,
    set_enabled=set_position_enabled,
    delete=delete_position,
)
AUDIT = Crud(list=list_audit)
