"""A visitor's day on a phone-sized Chromium: SMS sign-in, a visit request, the teacher's approval
on another phone, then the visitor pass at the gate (its QR image decodes to a token that
verifies with the school's published key and names the gate)."""

from __future__ import annotations

import base64
import time as clock
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from playwright.async_api import Browser, BrowserContext, async_playwright

from cloud.campus.models import (
    Appointment,
    AppointmentStatus,
    IdentityKind,
    PassKey,
    Registrant,
    RegistrantRule,
    Slot,
)
from cloud.campus.slots import SLOT_HOURS
from cloud.notify.models import Message
from protocols.passes import PassKind, verify
from tests.conftest import make_tenant
from tests.e2e.seed import make_place
from tests.e2e.test_admin_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SHOTS,
    base_url,
    require_chromium,
)

__all__ = ["base_url"]  # the fixture, shared with the admin browser tests

pytestmark = [pytest.mark.browser]
ZONE = ZoneInfo("Asia/Shanghai")
PHONE = "13800000000"


@pytest.fixture
async def browser(base_url: str) -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as driver:
        chromium = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def _phone(browser: Browser) -> BrowserContext:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    context.set_default_timeout(10_000)
    return context


def _visit_slot(now: datetime) -> tuple[date, Slot, bool]:
    """Today's slot open now (with a few minutes left), else tomorrow morning (then shifted)."""
    local = now.astimezone(ZONE)
    for slot, (start, end) in SLOT_HOURS.items():
        closes = datetime.combine(local.date(), end, ZONE) - timedelta(minutes=5)
        if start <= local.time() and local < closes:
            return local.date(), slot, False
    return local.date() + timedelta(days=1), Slot.morning, True


async def test_visitor_requests_teacher_approves_visitor_shows_pass(
    browser: Browser, base_url: str
) -> None:
    admin = await make_tenant("demo")
    place = await make_place(admin.tenant)
    teacher = await Registrant.create(
        tenant=admin.tenant,
        kind=IdentityKind.teacher,
        name="王老师",
        number="T001",
        id_card_tail="12345X",
        phone="13900000001",
        visitor_authorised=True,
    )
    await RegistrantRule.create(
        tenant=admin.tenant,
        registrant=teacher,
        site=place.site,
        weekdays=[1, 2, 3, 4, 5, 6, 7],
        start_time=time(0),
        end_time=time(23, 59),
    )
    day, slot, shift = _visit_slot(datetime.now(UTC))
    m = f"{base_url}/m/demo"
    SHOTS.mkdir(parents=True, exist_ok=True)

    visitor = await _phone(browser)
    page = await visitor.new_page()
    await page.goto(f"{m}/")
    await page.click("a[data-kind=visitor]")
    await page.fill("input[name=phone]", PHONE)
    await page.click("button[value=send]")
    assert "验证码已发送" in await page.inner_text(".m-msg.success")
    code = await Message.filter(recipient=PHONE).order_by("-id").first()
    assert code is not None
    await page.fill("input[name=code]", code.params["code"])
    await page.click("button[value=signin]")
    await page.wait_for_url(f"{m}/visits")

    await page.click("a[href='/m/demo/visits/new']")
    await page.fill("input[name=q]", "王")
    await page.click("form.m-search button")
    await page.check("input[data-host='王老师']")
    await page.fill("input[name=visit_date]", day.isoformat())
    await page.check(f"input[name=slot][value={slot.value}]")
    await page.fill("textarea[name=reason]", "项目交流")
    await page.fill("input[name=visitor_name]", "张三")
    await page.fill("input[name=visitor_id_card]", "110101199001011234")
    await page.click("button.m-btn.primary")  # no commitments ticked yet
    assert "请阅读并勾选承诺事项" in await page.inner_text(".m-err[data-field=commitments]")
    await page.check("input[name=commitments]")
    await page.screenshot(path=str(SHOTS / "mobile-visit-request.png"), full_page=True)
    await page.click("button.m-btn.primary")
    await page.wait_for_url(f"{m}/visits")
    assert "预约已提交" in await page.inner_text(".m-flash")
    assert "待审核" in await page.inner_text("[data-visit]")

    host = await _phone(browser)
    teacher_page = await host.new_page()
    await teacher_page.goto(f"{m}/")
    await teacher_page.click("a[data-kind=teacher]")
    await teacher_page.fill("input[name=number]", "T001")
    await teacher_page.fill("input[name=id_tail]", "12345X")
    await teacher_page.click("button.m-btn.primary")
    await teacher_page.wait_for_url(f"{m}/home")
    await teacher_page.click("a[href='/m/demo/host/requests']")
    card = teacher_page.locator("[data-request]")
    assert "张三" in await card.inner_text() and "项目交流" in await card.inner_text()
    await teacher_page.click("button[data-approve]")
    assert "已通过该预约" in await teacher_page.inner_text(".m-flash")
    await teacher_page.screenshot(path=str(SHOTS / "mobile-host-requests.png"), full_page=True)
    appointment = await Appointment.get(reason="项目交流")
    assert appointment.status is AppointmentStatus.approved
    if shift:
        # Run at night, when no slot is open: move the approved window onto now.
        now = datetime.now(UTC)
        await Appointment.filter(id=appointment.id).update(
            window_start=now - timedelta(minutes=5), window_end=now + timedelta(hours=1)
        )

    await page.goto(f"{m}/gate/{place.gate.code}")
    qr = page.locator("img#pass-qr")
    await qr.wait_for()
    assert "访客通行证" in await page.inner_text(".m-pass")
    await page.screenshot(path=str(SHOTS / "mobile-visitor-pass.png"), full_page=True)
    token = await qr.get_attribute("data-token")
    assert token
    # What the gate's camera sees: the QR image as drawn on the screen decodes to the token.
    shot = np.frombuffer(await qr.screenshot(), dtype=np.uint8)
    image = cv2.imdecode(shot, cv2.IMREAD_GRAYSCALE)
    assert image is not None
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == token
    keys = {}
    for row in await PassKey.all():
        raw = base64.urlsafe_b64decode(row.public_key + "=" * (-len(row.public_key) % 4))
        keys[row.kid] = Ed25519PublicKey.from_public_bytes(raw)
    claims = verify(token, keys, clock.time())
    assert claims.kind is PassKind.visitor and claims.subject == str(appointment.id)
    assert claims.gates == (place.gate.code,)
    await visitor.close()
    await host.close()
