"""Settings: TOML plus WAYSIDE_* overrides; a bad setting stops start-up with one line naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cloud.settings import load_cloud_settings
from protocols.settings import SettingsError, read_toml

REPO = Path(__file__).resolve().parents[2]


def test_the_checked_in_cloud_settings_load() -> None:
    settings = load_cloud_settings(REPO / "config" / "cloud.toml", {})
    assert settings.port == 8080
    assert settings.database_url.startswith("sqlite://")


def test_environment_overrides_the_file() -> None:
    settings = load_cloud_settings(
        REPO / "config" / "cloud.toml",
        {"WAYSIDE_PORT": "9090", "WAYSIDE_DATABASE_URL": "postgres://u@h/db", "OTHER": "x"},
    )
    assert settings.port == 9090
    assert settings.database_url == "postgres://u@h/db"


@pytest.mark.parametrize(
    ("env", "key", "words"),
    [
        ({"WAYSIDE_PORT": "70000"}, "port", "less than or equal to 65535"),
        ({"WAYSIDE_PORT": "eighty"}, "port", "valid integer"),
        ({"WAYSIDE_DATABASE_URL": "mysql://x"}, "database_url", "sqlite:// or postgres://"),
        ({"WAYSIDE_TIMEZONE": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"WAYSIDE_DEFAULT_LANGUAGE": "fr"}, "default_language", "should match"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(env: dict[str, str], key: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_cloud_settings(REPO / "config" / "cloud.toml", env)
    message = str(caught.value)
    assert "\n" not in message
    assert f"'{key}'" in message
    assert words in message


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cloud.toml"
    path.write_text("port = 8080\nprot = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="'prot'"):
        load_cloud_settings(path, {})


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cloud.toml"
    path.write_text("port = = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        read_toml(path)


def test_the_command_stops_with_one_clear_line_on_a_bad_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "wayside.py"), "db", "upgrade"],
        cwd=REPO,
        env={"WAYSIDE_PORT": "0", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'port'" in lines[0] and "greater than or equal to 1" in lines[0]
