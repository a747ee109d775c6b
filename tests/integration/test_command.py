"""The `wayside` command: every subcommand explains itself; db upgrade and user create work."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.passwords import verify_password
from cloud.sites.edges import token_hash
from tests.conftest import REPO
from tests.integration.test_sync_server import make_edge


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["cloud"],
        ["edge"],
        ["edge", "enroll"],
        ["sim"],
        ["demo"],
        ["db", "upgrade"],
        ["user", "create"],
    ],
)
def test_every_command_explains_itself(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "wayside.py"), *command, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "usage: wayside" in result.stdout
    assert "--config" in result.stdout or "COMMAND" in result.stdout or "--site" in result.stdout


def test_db_upgrade_then_user_create_lets_that_user_sign_in(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "WAYSIDE_DATABASE_URL": f"sqlite://{tmp_path}/cloud.db"}

    def wayside(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REPO / "wayside.py"), *args],
            cwd=REPO,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    upgraded = wayside("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    made = wayside(
        "user", "create", "--tenant", "school-1", "--account", "ops", "--admin",
        "--password-stdin", stdin="Long-enough-1\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    short = wayside(
        "user", "create", "--tenant", "school-1", "--account", "ops2", "--password-stdin",
        stdin="short\n",
    )  # fmt: skip
    assert short.returncode != 0 and "at least 8" in short.stderr
    database = sqlite3.connect(tmp_path / "cloud.db")
    try:
        row = database.execute(
            "select u.is_admin, u.password_hash, t.code from org_user u "
            "join org_tenant t on t.id = u.tenant_id where u.account = 'ops'"
        ).fetchone()
    finally:
        database.close()
    assert row[0] == 1 and row[2] == "school-1"
    assert verify_password("Long-enough-1", row[1]) and "Long-enough-1" not in row[1]


async def test_edge_enroll_registers_the_key_and_keeps_it_private(
    cloud: TestClient[web.Request, web.Application], tmp_path: Path
) -> None:
    edge, _ = await make_edge(public_key="")
    token = "enrollment-token-0123456789"
    edge.enroll_token_hash = token_hash(token)
    edge.enroll_expires_at = datetime.now(UTC) + timedelta(hours=24)
    await edge.save()
    env = {
        "PATH": "/usr/bin:/bin",
        "WAYSIDE_EDGE_KEY_PATH": str(tmp_path / "edge.key"),
        "WAYSIDE_EDGE_IDENTITY_PATH": str(tmp_path / "identity.json"),
    }
    url = str(cloud.make_url("")).rstrip("/")
    args = [sys.executable, str(REPO / "wayside.py"), "edge", "enroll", "--cloud", url]
    process = await asyncio.create_subprocess_exec(
        *args, "--token", token, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert "enrolled as edge edge-1" in out.decode()
    assert stat.S_IMODE((tmp_path / "edge.key").stat().st_mode) == 0o600
    await edge.refresh_from_db()
    assert edge.public_key and edge.enroll_token_hash == ""
    again = await asyncio.create_subprocess_exec(
        *args, "--token", token, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(again.communicate(), 60)
    assert again.returncode == 1
    assert "enrollment token unknown, used or expired" in err.decode()
