"""Edge settings: the shipped TOML loads, WAYSIDE_EDGE_* overrides apply, bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.settings import load_edge_settings
from protocols.settings import SettingsError
from protocols.site import load_site_document

REPO = Path(__file__).parents[2]


def test_shipped_settings_and_site_load() -> None:
    settings = load_edge_settings(REPO / "config" / "edge.toml", {})
    assert settings.port == 8081 and settings.zone.key == "Asia/Shanghai"
    site = load_site_document(REPO / settings.site_file)
    assert site.lane("lot-in") is not None


def test_env_override() -> None:
    settings = load_edge_settings(
        REPO / "config" / "edge.toml",
        {"WAYSIDE_EDGE_PORT": "9000", "WAYSIDE_EDGE_CLOUD_URL": "http://cloud:80/"},
    )
    assert settings.port == 9000 and settings.cloud_url == "http://cloud:80"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"WAYSIDE_EDGE_PORT": "eighty"}, "'port'"),
        ({"WAYSIDE_EDGE_TIMEZONE": "Mars/Olympus"}, "'timezone'"),
        ({"WAYSIDE_EDGE_MODBUS_TIMEOUT_S": "0"}, "'modbus_timeout_s'"),
        ({"WAYSIDE_EDGE_CLOUD_URL": "ftp://x"}, "'cloud_url'"),
    ],
)
def test_bad_setting_is_one_line_naming_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_edge_settings(REPO / "config" / "edge.toml", env)
    assert key in str(caught.value) and "\n" not in str(caught.value)
