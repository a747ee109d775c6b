"""The `wayside` command: every subcommand explains itself; db upgrade and user create work."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cloud.passwords import verify_password
from tests.conftest import REPO


@pytest.mark.parametrize(
    "command", [[], ["cloud"], ["edge"], ["sim"], ["demo"], ["db", "upgrade"], ["user", "create"]]
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
