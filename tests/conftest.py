"""Shared fixtures: a migrated cloud database per backend, a running cloud app, signed-in clients."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from tortoise import Tortoise

from cloud.app import build_app
from cloud.db import close_db, open_db, upgrade
from cloud.org.models import Role, Tenant, User
from cloud.passwords import hash_password
from cloud.settings import CloudSettings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("WAYSIDE_TEST_DATABASE_URL", "")
TEST_PASSWORD = "Correct-Horse-9"


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int, start_hint: str) -> None:
    """In CI a missing service fails the test; elsewhere it skips, saying what to start."""
    if service_reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}; start it with: {start_hint}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite://{tmp_path_factory.mktemp('cloud')}/cloud.db"
        return
    match = re.match(r"^\w+://(?:[^@/]*@)?([^:/]+)(?::(\d+))?", PG_URL)
    host, port = (match.group(1), int(match.group(2) or 5432)) if match else ("127.0.0.1", 5432)
    require_service(
        "PostgreSQL",
        host,
        port,
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    )
    # A database of this run's own, beside the one named: two suites at once (two checkouts,
    # or a developer and an editor's test runner) never drop each other's schema.
    own = f"{PG_URL.rsplit('/', 1)[1] or 'test'}_run{os.getpid()}"
    asyncio.run(_admin_sql(PG_URL, f'DROP DATABASE IF EXISTS "{own}"', f'CREATE DATABASE "{own}"'))
    yield f"{PG_URL.rsplit('/', 1)[0]}/{own}"
    asyncio.run(_admin_sql(PG_URL, f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))


async def _admin_sql(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _reset_schema(url: str) -> None:
    """Start from an empty database so the checked-in migrations build the whole schema."""
    if not url.startswith("postgres"):
        return
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def migrated(database_url: str) -> AsyncIterator[str]:
    await _reset_schema(database_url)
    await upgrade(database_url)
    await open_db(database_url)
    yield database_url
    await close_db()


def _tables() -> list[str]:
    """Every table of the models, many-to-many link tables included (they hold rows too)."""
    names: list[str] = []
    for app in Tortoise.apps.values():
        for model in app.values():
            names.append(model._meta.db_table)
            for name in model._meta.m2m_fields:
                through = model._meta.fields_map[name].through
                if through not in names:
                    names.append(through)
    return names


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[str]:
    """A migrated, empty cloud database (rows of the previous test removed)."""
    conn = Tortoise.get_connection("default")
    tables = _tables()
    if migrated.startswith("postgres"):
        await conn.execute_script(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )
    else:
        await conn.execute_script("PRAGMA foreign_keys=OFF;")
        for table in tables:
            await conn.execute_script(f'DELETE FROM "{table}";')
        await conn.execute_script("DELETE FROM sqlite_sequence; PRAGMA foreign_keys=ON;")
    yield migrated


@pytest.fixture
def cloud_settings(database_url: str) -> CloudSettings:
    return CloudSettings(database_url=database_url, login_max_failures=5)


@dataclass
class TenantAdmin:
    tenant: Tenant
    user: User
    account: str
    password: str


async def make_tenant(
    code: str, *, admin: bool = True, permissions: list[str] | None = None
) -> TenantAdmin:
    """A tenant with one user: an administrator, or a user holding a role with `permissions`."""
    tenant = await Tenant.create(code=code, name=f"{code} 学校")
    role = None
    if permissions is not None:
        role = await Role.create(tenant=tenant, name=f"{code}-role", permissions=permissions)
    account = f"{code}-admin" if admin else f"{code}-user"
    user = await User.create(
        tenant=tenant,
        account=account,
        name=f"{code} 管理员",
        password_hash=hash_password(TEST_PASSWORD),
        is_admin=admin,
        role=role,
    )
    return TenantAdmin(tenant=tenant, user=user, account=account, password=TEST_PASSWORD)


@pytest.fixture
async def cloud(
    db: str, cloud_settings: CloudSettings
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The cloud app on a real loopback port, with a client that keeps cookies."""
    app = build_app(cloud_settings, manage_db=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


CSRF_INPUT = re.compile(r'name="_csrf" value="([^"]+)"')


async def sign_in(
    client: TestClient[web.Request, web.Application], account: str, password: str
) -> str:
    """Sign in through the login form like a browser; returns the session's CSRF token."""
    page = await client.get("/login")
    token = CSRF_INPUT.search(await page.text())
    assert token, "login page carries a CSRF field"
    resp = await client.post(
        "/login",
        data={"account": account, "password": password, "_csrf": token.group(1)},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    home = await client.get("/")
    csrf = CSRF_INPUT.search(await home.text()) or re.search(
        r'name="csrf-token" content="([^"]+)"', await home.text()
    )
    assert csrf, "signed-in pages carry the CSRF token"
    return csrf.group(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that touches the cloud database runs again on PostgreSQL (`-m db`)."""
    for item in items:
        if "db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
