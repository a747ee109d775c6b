"""Enrollment against a tiny fake cloud: the request it sends, the files it leaves, refusals."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from edge.identity import EnrollError, EnrollRefused, enroll, load_identity
from protocols.signing import load_public_key, public_key_text, sign, verify
from protocols.sync import ENROLL_PATH, EnrollRequest, EnrollResponse

TOKEN = "one-time-token-0123456789"


class EnrollCloud:
    def __init__(self) -> None:
        self.asked: list[EnrollRequest] = []
        self.content_types: list[str] = []
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        self.content_types.append(request.headers.get("Content-Type", ""))
        ask = EnrollRequest.model_validate_json(await request.read())
        self.asked.append(ask)
        if self.status >= 500:
            return web.Response(status=self.status, text="upstream sad")
        if ask.token != TOKEN:
            return web.json_response(
                {"error": "unauthorized", "message": "enrollment token unknown, used or expired"},
                status=401,
            )
        return web.json_response(EnrollResponse(edge="gate-edge", sites=["lot"]).model_dump())


@pytest.fixture
async def cloud() -> AsyncIterator[tuple[EnrollCloud, str]]:
    fake = EnrollCloud()
    app = web.Application()
    app.router.add_post(ENROLL_PATH, fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would make new files world-readable: the key must not depend on it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_enroll_registers_a_new_key_and_keeps_it_private(
    cloud: tuple[EnrollCloud, str], tmp_path: Path, open_umask: None
) -> None:
    fake, url = cloud
    key_path = tmp_path / "not-yet" / "edge.key"
    identity_path = tmp_path / "not-yet" / "identity.json"
    async with aiohttp.ClientSession() as session:
        identity = await enroll(url + "/", TOKEN, key_path, identity_path, session)
    (asked,) = fake.asked
    assert asked.token == TOKEN
    assert asked.public_key == public_key_text(identity.key) == identity.public_key
    assert fake.content_types == ["application/json"]
    assert (identity.edge, identity.cloud_url, identity.sites) == ("gate-edge", url, ("lot",))
    for path in (key_path, identity_path):
        assert mode(path) == 0o600, f"{path.name} is readable by its owner only"
        assert not mode(path) & (stat.S_IRWXG | stat.S_IRWXO)
    assert b"PRIVATE KEY" in key_path.read_bytes()
    assert json.loads(identity_path.read_text()) == {
        "edge": "gate-edge",
        "cloud_url": url,
        "public_key": asked.public_key,
        "sites": ["lot"],
    }
    assert [p.name for p in key_path.parent.iterdir() if p.name.startswith(".")] == []
    loaded = load_identity(key_path, identity_path)
    assert loaded is not None and loaded.edge == "gate-edge" and loaded.cloud_url == url
    # The key read back signs what the registered public key verifies.
    signed = sign(loaded.key, loaded.edge, "POST", "/sync/v1/events", b"{}")
    verify(
        load_public_key(asked.public_key),
        "POST",
        "/sync/v1/events",
        b"{}",
        str(signed.timestamp_ms),
        signed.signature,
    )


async def test_re_enrolling_replaces_key_and_identity(
    cloud: tuple[EnrollCloud, str], tmp_path: Path
) -> None:
    _, url = cloud
    key_path, identity_path = tmp_path / "edge.key", tmp_path / "identity.json"
    async with aiohttp.ClientSession() as session:
        first = await enroll(url, TOKEN, key_path, identity_path, session)
        second = await enroll(url, TOKEN, key_path, identity_path, session)
    assert first.public_key != second.public_key
    loaded = load_identity(key_path, identity_path)
    assert loaded is not None and loaded.public_key == second.public_key
    assert mode(key_path) == 0o600


async def test_refused_token_raises_the_clouds_message_and_writes_nothing(
    cloud: tuple[EnrollCloud, str], tmp_path: Path
) -> None:
    _, url = cloud
    key_path, identity_path = tmp_path / "edge.key", tmp_path / "identity.json"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(EnrollRefused) as refused:
            await enroll(url, "wrong-token-0123456789", key_path, identity_path, session)
    assert refused.value.status == 401
    assert str(refused.value) == "enrollment token unknown, used or expired"
    assert not key_path.exists() and not identity_path.exists()
    assert load_identity(key_path, identity_path) is None


async def test_refusal_keeps_a_previous_enrollment(
    cloud: tuple[EnrollCloud, str], tmp_path: Path
) -> None:
    fake, url = cloud
    key_path, identity_path = tmp_path / "edge.key", tmp_path / "identity.json"
    async with aiohttp.ClientSession() as session:
        first = await enroll(url, TOKEN, key_path, identity_path, session)
        with pytest.raises(EnrollRefused):
            await enroll(url, "spent-token-0123456789", key_path, identity_path, session)
        fake.status = 503
        with pytest.raises(EnrollError, match="503") as failed:
            await enroll(url, TOKEN, key_path, identity_path, session)
        assert not isinstance(failed.value, EnrollRefused)
    loaded = load_identity(key_path, identity_path)
    assert loaded is not None and loaded.public_key == first.public_key


async def test_unreachable_cloud_and_short_token(tmp_path: Path) -> None:
    from tests.integration.test_edge_lanes import closed_url

    key_path, identity_path = tmp_path / "edge.key", tmp_path / "identity.json"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(EnrollError, match="not reachable"):
            await enroll(closed_url(), TOKEN, key_path, identity_path, session)
        with pytest.raises(EnrollRefused, match="token"):
            await enroll(closed_url(), "short", key_path, identity_path, session)
    assert not key_path.exists()
