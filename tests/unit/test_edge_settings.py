"""Edge settings: the shipped TOML loads, WAYSIDE_EDGE_* overrides apply, bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.settings import load_edge_settings
from protocols.settings import SettingsError
from protocols.site import load_site_document

REPO = Path(__file__).parents[2]


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """config/edge.toml as shipped, without the bearer `edge_key` that enrollment replaced
    (dropped here until the shipped file loses it; a no-op afterwards)."""
    text = (REPO / "config" / "edge.toml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not line.startswith("edge_key")]
    path = tmp_path / "edge.toml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def test_shipped_settings_and_site_load(shipped: Path) -> None:
    settings = load_edge_settings(shipped, {})
    assert settings.port == 8081 and settings.zone.key == "Asia/Shanghai"
    site = load_site_document(REPO / settings.site_file)
    assert site.lane("lot-in") is not None
    assert settings.key_path == Path("var/edge/edge.key")
    assert settings.identity_path == Path("var/edge/identity.json")
    assert settings.outbox_budget_mb > 0 and settings.sync_retry_cap_s > 0


def test_bearer_key_is_gone(shipped: Path) -> None:
    """A config still holding the old shared secret is refused, naming the key to delete."""
    with shipped.open("a", encoding="utf-8") as out:
        out.write('edge_key = "demo-edge-key-change-me"\n')
    with pytest.raises(SettingsError, match="'edge_key'"):
        load_edge_settings(shipped, {})


def test_env_override(shipped: Path) -> None:
    settings = load_edge_settings(
        shipped,
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
        ({"WAYSIDE_EDGE_OUTBOX_BUDGET_MB": "0"}, "'outbox_budget_mb'"),
        ({"WAYSIDE_EDGE_SYNC_RETRY_CAP_S": "-1"}, "'sync_retry_cap_s'"),
    ],
)
def test_bad_setting_is_one_line_naming_the_key(
    shipped: Path, env: dict[str, str], key: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_edge_settings(shipped, env)
    assert key in str(caught.value) and "\n" not in str(caught.value)
