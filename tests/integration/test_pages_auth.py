"""Sign-in, sign-out, throttling, CSRF, language and menu of the admin pages, through HTTP."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.org.models import AuditLog, User
from tests.conftest import TEST_PASSWORD, make_tenant, sign_in

Client = TestClient[web.Request, web.Application]


async def _login_token(client: Client) -> str:
    page = await client.get("/login")
    assert page.status == 200
    found = re.search(r'name="_csrf" value="([^"]+)"', await page.text())
    assert found
    return found.group(1)


async def test_login_success_lands_on_home_in_chinese(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await sign_in(cloud, admin.account, admin.password)
    home = await cloud.get("/")
    text = await home.text()
    assert home.status == 200
    assert "今日概览" in text and "近 30 天通行趋势" in text
    assert 'name="csrf-token"' in text
    assert await AuditLog.filter(action="login", user_id=admin.user.id).exists()


async def test_login_by_phone(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await User.filter(id=admin.user.id).update(phone="13800000001")
    await sign_in(cloud, "13800000001", admin.password)
    assert (await cloud.get("/", allow_redirects=False)).status == 200


async def test_pages_redirect_to_login_when_signed_out(cloud: Client) -> None:
    resp = await cloud.get("/users?page=2", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"].startswith("/login?next=/users")


async def test_wrong_password_shows_message_and_keeps_account(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    token = await _login_token(cloud)
    resp = await cloud.post(
        "/login", data={"account": admin.account, "password": "nope-nope", "_csrf": token}
    )
    text = await resp.text()
    assert resp.status == 400
    assert "账号或密码错误" in text
    assert f'value="{admin.account}"' in text
    assert "wayside_session" not in {c.key for c in cloud.session.cookie_jar}


async def test_throttled_after_five_failures_even_with_right_password(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    token = await _login_token(cloud)
    for _ in range(5):
        await cloud.post(
            "/login", data={"account": admin.account, "password": "x" * 9, "_csrf": token}
        )
    resp = await cloud.post(
        "/login", data={"account": admin.account, "password": TEST_PASSWORD, "_csrf": token}
    )
    assert resp.status == 429
    assert "登录失败次数过多" in await resp.text()


async def test_disabled_user_is_refused(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await User.filter(id=admin.user.id).update(enabled=False)
    token = await _login_token(cloud)
    resp = await cloud.post(
        "/login", data={"account": admin.account, "password": admin.password, "_csrf": token}
    )
    assert "该账号已停用" in await resp.text()


async def test_login_without_csrf_is_refused(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await cloud.get("/login")
    resp = await cloud.post("/login", data={"account": admin.account, "password": admin.password})
    assert resp.status == 403


async def test_form_post_without_csrf_is_refused_and_changes_nothing(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await sign_in(cloud, admin.account, admin.password)
    resp = await cloud.post("/positions/new", data={"name": "保安"})
    assert resp.status == 403
    wrong = await cloud.post("/positions/new", data={"name": "保安", "_csrf": "forged"})
    assert wrong.status == 403
    from cloud.org.models import Position

    assert not await Position.exists()


async def test_logout_ends_the_session(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    csrf = await sign_in(cloud, admin.account, admin.password)
    resp = await cloud.post("/logout", data={"_csrf": csrf}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/login"
    after = await cloud.get("/", allow_redirects=False)
    assert after.status == 302


async def test_next_parameter_is_followed_but_never_off_site(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    token = await _login_token(cloud)
    form = {"account": admin.account, "password": admin.password, "_csrf": token}
    resp = await cloud.post(
        "/login", data={**form, "next": "//evil.example/"}, allow_redirects=False
    )
    assert resp.headers["Location"] == "/"


async def test_language_switch_to_english_is_remembered(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    csrf = await sign_in(cloud, admin.account, admin.password)
    resp = await cloud.post("/language", data={"lang": "en", "next": "/users", "_csrf": csrf})
    text = await resp.text()
    assert "Users" in text and "Sign out" in text
    assert (await User.get(id=admin.user.id)).language == "en"


async def test_login_page_language_from_cookie(cloud: Client) -> None:
    token = await _login_token(cloud)
    resp = await cloud.post("/language", data={"lang": "en", "next": "/login", "_csrf": token})
    assert "Sign in" in await resp.text()


async def test_menu_shows_only_what_the_role_allows(cloud: Client) -> None:
    user = await make_tenant("alpha", admin=False, permissions=["access.view"])
    await sign_in(cloud, user.account, user.password)
    text = await (await cloud.get("/records")).text()
    assert 'href="/records"' in text
    assert 'href="/users"' not in text and 'href="/sites"' not in text
    assert (await cloud.get("/users")).status == 403
