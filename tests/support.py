"""Helpers for tests that run the real parts together: ports, a restartable cloud, waiting."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud.app import build_app
from cloud.settings import CloudSettings
from cloud.sites.edges import token_hash
from cloud.sites.models import Edge
from edge.identity import enroll
from protocols.settings import load_settings
from protocols.signing import new_private_key, public_key_text, sign
from protocols.site import SiteDocument
from tests.conftest import REPO, free_port


def demo_site_text_with_free_ports() -> str:
    """The demo site document with every device port moved to a free one."""
    text = (REPO / "config" / "demo-site.toml").read_text(encoding="utf-8")
    return re.sub(r"port = 150\d\d", lambda _: f"port = {free_port()}", text)


def demo_site_with_free_ports(path: Path | None = None) -> SiteDocument:
    text = demo_site_text_with_free_ports()
    if path is not None:
        path.write_text(text, encoding="utf-8")
    return load_settings(SiteDocument, tomllib.loads(text), {}, "demo-site (test ports)")


class CloudServer:
    """The cloud app on a fixed port that a test can stop and start again (database stays open)."""

    def __init__(self, settings: CloudSettings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.runner = web.AppRunner(build_app(self.settings, manage_db=False))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    """Poll check until it holds; returns how long that took, fails naming what never happened."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{what}: not within {seconds} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


class SigningEdge:
    """An edge's identity in a test: signs requests the way a real edge does."""

    def __init__(self, code: str, key: Ed25519PrivateKey | None = None) -> None:
        self.code = code
        self.key = key or new_private_key()

    @property
    def public_key(self) -> str:
        return public_key_text(self.key)

    def headers(
        self, method: str, path: str, body: bytes, now_ms: int | None = None
    ) -> dict[str, str]:
        signed = sign(self.key, self.code, method, path, body, now_ms=now_ms)
        return {**signed.headers(), "Content-Type": "application/json"}

    async def post(
        self, client: TestClient[web.Request, web.Application], path: str, payload: object
    ) -> tuple[int, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        resp = await client.post(path, data=body, headers=self.headers("POST", path, body))
        return resp.status, await resp.json()


async def enroll_edge(code: str, cloud_url: str, key_path: Path, identity_path: Path) -> None:
    """Enroll the cloud's edge `code` the way an operator does: a one-time token, then the
    edge's own enrollment call that writes its key and identity files."""
    token = secrets.token_urlsafe(24)
    edge = await Edge.get(code=code)
    edge.enroll_token_hash = token_hash(token)
    edge.enroll_expires_at = datetime.now(UTC) + timedelta(hours=1)
    edge.public_key = ""
    await edge.save()
    async with aiohttp.ClientSession() as session:
        await enroll(cloud_url, token, key_path, identity_path, session)
