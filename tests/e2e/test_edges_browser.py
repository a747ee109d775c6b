"""Edges in real headless Chromium: create one, see its enrollment command once, and the list.

Screenshots land in var/screenshots/ (edge-created, edge-token-gone, edges, commands).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page

from cloud.sites.models import Edge, Site
from tests.conftest import make_tenant
from tests.e2e.seed import make_place
from tests.e2e.test_admin_browser import _shot, _sign_in, base_url, page, pytestmark

__all__ = ["base_url", "page", "pytestmark"]  # the fixtures and marks, shared


async def test_create_an_edge_and_see_its_enrollment_command(page: Page, base_url: str) -> None:
    admin = await make_tenant("demo")
    place = await make_place(admin.tenant)
    lot = await make_place(admin.tenant, prefix="lot-")
    await _sign_in(page, base_url, admin)
    await page.click("nav.sidebar a[href='/edges']")
    assert await page.inner_text("h1") == "边缘节点"
    await page.click("a.btn.primary[href='/edges/new']")
    await page.fill("#f-code", "north-gate-box")
    await page.fill("#f-name", "北门边缘节点")
    await page.check(f"input[name=site_ids][value='{place.site.id}']")
    await page.click("form.form button[type=submit]")
    await page.wait_for_url(re.compile(r".*/edges/\d+/enrolled$"))
    command = (await page.inner_text("#enroll-command")).strip()
    token = (await page.inner_text("#enroll-token")).strip()
    assert command == f"wayside edge enroll --cloud {base_url} --token {token}"
    edge = await Edge.get(code="north-gate-box")
    assert hashlib.sha256(token.encode()).hexdigest() == edge.enroll_token_hash
    assert "待注册" in await page.inner_text(".page-head")
    await _shot(page, "edge-created")
    # Shown once: a reload finds only the way to a new token.
    await page.reload()
    assert await page.locator("#enroll-token").count() == 0
    assert token not in await page.content()
    assert "显示一次" in await page.inner_text(".token-gone")
    await _shot(page, "edge-token-gone")

    # A second edge, enrolled and reporting: the list shows what it applied and its clock.
    other = await Edge.create(
        tenant=admin.tenant,
        code="lot-box",
        name="停车场边缘节点",
        public_key="k" * 43,
        enrolled_at=datetime.now(UTC) - timedelta(days=3),
        applied_revisions={place.site.code: 12, lot.site.code: 3},
        acked_seq=48213,
        backlog=120,
        clock_skew_ms=-72_400,
        last_seen_at=datetime.now(UTC) - timedelta(seconds=20),
    )
    await other.sites.add(place.site, lot.site)
    await Site.filter(id=place.site.id).update(revision=12)
    await Site.filter(id=lot.site.id).update(revision=9)
    await page.goto(f"{base_url}/edges")
    rows = page.locator("table.grid tbody tr")
    assert await rows.count() == 2
    assert await page.locator("[data-status=pending]").count() == 1
    assert await page.locator("[data-status=enrolled]").count() == 1
    assert await page.locator(f"li.behind[data-site='{lot.site.code}']").count() == 1
    # The new edge has applied nothing yet; the enrolled one is current at this site.
    assert await page.locator(f"li.behind[data-site='{place.site.code}']").count() == 1
    assert await page.locator("[data-skew=flagged]").count() == 1
    await _shot(page, "edges")

    # Open a barrier from the lane list: confirm, then the command list shows it pending.
    await page.goto(f"{base_url}/lanes")
    await page.click(f"a[href='/lanes/{place.entry.id}/open-barrier']")
    await page.click("form button[type=submit].primary")
    await page.wait_for_url(re.compile(r".*/commands\?lane=.*"))
    assert "抬杆指令已下发" in await page.inner_text(".flash.success")
    assert "待执行" in await page.inner_text("table.grid tbody")
    await _shot(page, "commands")
