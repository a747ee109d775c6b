"""The admin UI in real headless Chromium: sign-in, a list filter, a form error, an Excel export.

Screenshots of the main pages land in var/screenshots/ for a person to look at.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from openpyxl import load_workbook
from playwright.async_api import Page, async_playwright

from cloud.app import build_app
from cloud.settings import CloudSettings
from protocols.events import Verdict
from tests.conftest import IN_CI, REPO, TenantAdmin, free_port, make_tenant
from tests.e2e.seed import add_records, make_place

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """`make test` installs Debian's Chromium; in CI a missing browser fails, elsewhere it skips."""
    if shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is missing; install it with: apt-get install chromium"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


SHOTS = REPO / "var" / "screenshots"

pytestmark = [pytest.mark.browser]


@pytest.fixture
async def base_url(db: str, cloud_settings: CloudSettings) -> AsyncIterator[str]:
    """The whole cloud app on a real loopback port, over the test database."""
    runner = web.AppRunner(build_app(cloud_settings, manage_db=False))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def page(base_url: str) -> AsyncIterator[Page]:
    require_chromium()
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport={"width": 1360, "height": 860}, accept_downloads=True, locale="zh-CN"
        )
        context.set_default_timeout(10_000)
        tab = await context.new_page()
        try:
            yield tab
        finally:
            await context.close()
            await browser.close()


async def _seed() -> TenantAdmin:
    """A campus with a month of traffic, so the home chart and lists have something to show."""
    admin = await make_tenant("demo")
    place = await make_place(admin.tenant)
    await add_records(place, ["京A12345", "京A12345", "沪B55555"], step=timedelta(minutes=7))
    chance = random.Random(7)
    plates = [f"京{chance.choice('ABCDE')}{chance.randint(10000, 99999)}" for _ in range(240)]
    await add_records(
        place,
        plates,
        start=datetime.now(UTC) - timedelta(hours=1),
        step=timedelta(hours=3),
        verdicts=(Verdict.open, Verdict.open, Verdict.open, Verdict.deny),
    )
    return admin


async def _sign_in(page: Page, base_url: str, admin: TenantAdmin) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("input[name=account]", admin.account)
    await page.fill("input[name=password]", admin.password)
    await page.click("button[type=submit].wide")
    await page.wait_for_url(f"{base_url}/")


async def _shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def test_sign_in_wrong_then_right(page: Page, base_url: str) -> None:
    admin = await _seed()
    await page.goto(f"{base_url}/login")
    await _shot(page, "login")
    await page.fill("input[name=account]", admin.account)
    await page.fill("input[name=password]", "wrong-password")
    await page.click("button[type=submit].wide")
    assert "账号或密码错误" in await page.inner_text(".flash.error")
    assert await page.input_value("input[name=account]") == admin.account
    await page.fill("input[name=password]", admin.password)
    await page.click("button[type=submit].wide")
    await page.wait_for_url(f"{base_url}/")
    assert await page.inner_text("h1") == "今日概览"
    assert await page.locator("svg.chart rect.bar-open").count() == 30
    await _shot(page, "home")


async def test_records_filter_and_export(page: Page, base_url: str) -> None:
    admin = await _seed()
    await _sign_in(page, base_url, admin)
    await page.click("nav.sidebar a[href='/records']")
    await page.fill("input[name=plate]", "京A12345")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/records?plate=*")
    rows = page.locator("table.grid tbody tr")
    assert await rows.count() == 2
    assert "共 2 条" in await page.inner_text(".pager .total")
    await _shot(page, "records")
    async with page.expect_download() as waiting:
        await page.click("a[data-export]")
    download = await waiting.value
    target = SHOTS.parent / "records-export.xlsx"
    await download.save_as(str(target))
    sheet = load_workbook(target, read_only=True).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert values[0][1] == "车牌号"
    assert [row[1] for row in values[1:]] == ["京A12345", "京A12345"]


async def test_user_form_error_then_english(page: Page, base_url: str) -> None:
    admin = await _seed()
    await _sign_in(page, base_url, admin)
    await page.click("nav.sidebar a[href='/users']")
    assert await page.locator("table.grid tbody tr").count() == 1
    await _shot(page, "users")
    await page.click("a.btn.primary[href='/users/new']")
    await page.fill("#f-account", "x")
    await page.fill("#f-name", "李四")
    await page.fill("#f-password", "short")
    await page.click("form.form button[type=submit]")
    error = page.locator(".field-error[data-field=account]")
    assert "账号" in await error.inner_text()
    assert await page.locator(".field-error[data-field=password]").count() == 1
    assert await page.input_value("#f-name") == "李四"
    await _shot(page, "user-form-errors")
    await page.click(".lang-switch button[value=en]")
    await page.wait_for_load_state()
    await page.goto(f"{base_url}/records")
    assert await page.inner_text("h1") == "Access records"
    await _shot(page, "records-en")
    await page.goto(f"{base_url}/")
    await _shot(page, "home-en")
