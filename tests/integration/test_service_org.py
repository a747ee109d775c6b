"""Org services on the real database: users, roles, departments, positions, audit, tenant scope."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cloud.auth import Principal
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org import service
from cloud.org.models import AuditLog, Session, User
from cloud.org.schemas import (
    AuditFilter,
    DepartmentIn,
    NameFilter,
    PositionIn,
    RoleIn,
    UserCreate,
    UserFilter,
    UserUpdate,
)
from cloud.passwords import verify_password
from tests.conftest import make_tenant
from tests.e2e.seed import principal_of_user

PAGE = PageParams()


async def _admin(code: str = "alpha") -> Principal:
    admin = await make_tenant(code)
    return principal_of_user(admin.user)


async def test_user_lifecycle_is_audited_without_passwords(db: str) -> None:
    me = await _admin()
    department = await service.create_department(me, DepartmentIn(name="保卫处"))
    role = await service.create_role(me, RoleIn(name="门卫", permissions=["access.view"]))
    user = await service.create_user(
        me,
        UserCreate(
            account="guard1",
            name="张三",
            password="Secret-123",
            phone="13900000001",
            department_id=department.id,
            role_id=role.id,
        ),
    )
    assert user.department_name == "保卫处" and user.role_name == "门卫"
    row = await User.get(id=user.id)
    assert verify_password("Secret-123", row.password_hash)

    updated = await service.update_user(
        me,
        user.id,
        UserUpdate(account="guard1", name="张三丰", password="Another-456", role_id=role.id),
    )
    assert updated.name == "张三丰" and updated.department_id is None
    assert verify_password("Another-456", (await User.get(id=user.id)).password_hash)

    await service.set_user_enabled(me, user.id, False)
    assert not (await service.get_user(me, user.id)).enabled
    await service.delete_user(me, user.id)
    with pytest.raises(NotFound):
        await service.get_user(me, user.id)

    logs = await AuditLog.filter(entity="user", entity_id=str(user.id)).order_by("id")
    assert [log.action for log in logs] == ["create", "update", "disable", "delete"]
    for log in logs:
        text = str(log.detail)
        assert "Secret-123" not in text and "Another-456" not in text and "scrypt" not in text
    assert logs[1].detail["changes"]["password_hash"] == {"from": "***", "to": "***"}
    assert logs[1].detail["changes"]["name"] == {"from": "张三", "to": "张三丰"}


async def test_account_and_phone_are_unique_across_tenants(db: str) -> None:
    alpha = await _admin("alpha")
    beta = await _admin("beta")
    await service.create_user(
        alpha, UserCreate(account="same", name="A", password="Secret-123", phone="13900000002")
    )
    with pytest.raises(Conflict) as account:
        await service.create_user(beta, UserCreate(account="same", name="B", password="Secret-123"))
    assert account.value.field == "account"
    with pytest.raises(Conflict) as phone:
        await service.create_user(
            beta, UserCreate(account="other", name="B", password="Secret-123", phone="13900000002")
        )
    assert phone.value.field == "phone"


async def test_input_schemas_name_the_bad_field(db: str) -> None:
    with pytest.raises(ValidationError) as short:
        UserCreate(account="ok-account", name="x", password="short")
    assert short.value.errors()[0]["loc"] == ("password",)
    with pytest.raises(ValidationError) as perm:
        RoleIn(name="r", permissions=["launch.missiles"])
    assert perm.value.errors()[0]["loc"] == ("permissions",)


async def test_references_to_another_tenant_are_refused(db: str) -> None:
    alpha = await _admin("alpha")
    beta = await _admin("beta")
    foreign = await service.create_role(beta, RoleIn(name="外部"))
    with pytest.raises(Invalid) as refused:
        await service.create_user(
            alpha, UserCreate(account="x-user", name="X", password="Secret-123", role_id=foreign.id)
        )
    assert refused.value.field == "role_id"


async def test_another_tenants_rows_do_not_exist(db: str) -> None:
    alpha = await _admin("alpha")
    beta = await _admin("beta")
    position = await service.create_position(beta, PositionIn(name="保安"))
    department = await service.create_department(beta, DepartmentIn(name="后勤"))
    role = await service.create_role(beta, RoleIn(name="访客"))
    calls = [
        service.get_position(alpha, position.id),
        service.update_position(alpha, position.id, PositionIn(name="x")),
        service.set_position_enabled(alpha, position.id, False),
        service.delete_position(alpha, position.id),
        service.get_department(alpha, department.id),
        service.delete_department(alpha, department.id),
        service.get_role(alpha, role.id),
        service.update_role(alpha, role.id, RoleIn(name="y")),
        service.get_user(alpha, beta.user_id),
        service.set_user_enabled(alpha, beta.user_id, False),
        service.delete_user(alpha, beta.user_id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            await call
    lists = await service.list_positions(alpha, NameFilter(), PAGE)
    users = await service.list_users(alpha, UserFilter(), PAGE)
    assert lists.total == 0 and [u.account for u in users.items] == ["alpha-admin"]


async def test_cannot_disable_or_delete_yourself_nor_grant_admin_without_being_one(db: str) -> None:
    me = await _admin()
    with pytest.raises(Invalid):
        await service.set_user_enabled(me, me.user_id, False)
    with pytest.raises(Invalid):
        await service.delete_user(me, me.user_id)
    clerk = await make_tenant("gamma", admin=False, permissions=["users.edit"])
    clerk_p = principal_of_user(clerk.user, frozenset({"users.edit"}))
    with pytest.raises(Invalid) as refused:
        await service.create_user(
            clerk_p, UserCreate(account="boss", name="B", password="Secret-123", is_admin=True)
        )
    assert refused.value.field == "is_admin"


async def test_disabling_a_user_ends_their_sessions(db: str) -> None:
    me = await _admin()
    other = await service.create_user(
        me, UserCreate(account="other", name="O", password="Secret-123")
    )
    from datetime import UTC, datetime, timedelta

    await Session.create(
        token_hash="h" * 64,
        user_id=other.id,
        csrf_token="c",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    await service.set_user_enabled(me, other.id, False)
    assert not await Session.filter(user_id=other.id).exists()


async def test_role_in_use_cannot_be_deleted(db: str) -> None:
    me = await _admin()
    role = await service.create_role(me, RoleIn(name="门卫"))
    await service.create_user(
        me, UserCreate(account="guard", name="G", password="Secret-123", role_id=role.id)
    )
    with pytest.raises(Conflict):
        await service.delete_role(me, role.id)


async def test_lists_filter_sort_and_page(db: str) -> None:
    me = await _admin()
    for n in range(25):
        await service.create_position(me, PositionIn(name=f"岗位{n:02d}"))
    first = await service.list_positions(
        me, NameFilter(), PageParams(page=1, page_size=10, sort="name", desc=True)
    )
    assert first.total == 25 and len(first.items) == 10 and first.items[0].name == "岗位24"
    third = await service.list_positions(me, NameFilter(), PageParams(page=3, page_size=10))
    assert [p.name for p in third.items] == [f"岗位{n}" for n in range(20, 25)]
    found = await service.list_positions(me, NameFilter(q="岗位1"), PAGE)
    assert found.total == 10
    # An unknown sort key falls back to the default rather than reaching the database.
    odd = await service.list_positions(me, NameFilter(), PageParams(sort="password_hash"))
    assert odd.items[0].name == "岗位00"


async def test_audit_list_is_scoped_and_filtered(db: str) -> None:
    alpha = await _admin("alpha")
    beta = await _admin("beta")
    await service.create_position(alpha, PositionIn(name="a"))
    await service.create_position(beta, PositionIn(name="b"))
    page = await service.list_audit(alpha, AuditFilter(entity="position"), PAGE)
    assert page.total == 1 and page.items[0].user_account == "alpha-admin"
