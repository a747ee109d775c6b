"""A dead link or a missing permission shows the layout with a readable message, not bare text."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import make_tenant, sign_in

Client = TestClient[web.Request, web.Application]


async def test_an_unknown_page_is_a_readable_404(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await sign_in(cloud, admin.account, admin.password)
    resp = await cloud.get("/no-such-page")
    assert resp.status == 404
    text = await resp.text()
    assert "找不到该页面或记录" in text and "<nav" in text


async def test_a_page_without_permission_is_a_readable_403(cloud: Client) -> None:
    clerk = await make_tenant("alpha", admin=False, permissions=["access.view"])
    await sign_in(cloud, clerk.account, clerk.password)
    resp = await cloud.get("/users")
    assert resp.status == 403
    assert "没有权限访问此页面" in await resp.text()


async def test_the_api_keeps_json_errors(cloud: Client) -> None:
    resp = await cloud.get("/api/v1/no-such-thing")
    assert resp.status == 404
    assert "找不到" not in await resp.text()
