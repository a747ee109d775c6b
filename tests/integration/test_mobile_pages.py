"""The /m/ phone pages over HTTP: sign-in, SMS codes, CSRF, passes, teachers, visitors, isolation."""

from __future__ import annotations

import base64
import re
import time as clock
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cloud.campus.models import (
    Appointment,
    AppointmentOrigin,
    AppointmentStatus,
    IdentityKind,
    IdentitySetting,
    MobileSession,
    PassKey,
    Registrant,
    RegistrantRule,
    ReviewStatus,
    Slot,
    Vehicle,
    Visitor,
)
from cloud.campus.slots import slot_window
from cloud.notify.models import Message, VerificationCode
from cloud.org.models import Tenant
from protocols.passes import PassKind, check_gate, verify
from tests.conftest import make_tenant
from tests.e2e.seed import Place, make_place

Client = TestClient[web.Request, web.Application]
Phone = Client | aiohttp.ClientSession
ZONE = ZoneInfo("Asia/Shanghai")
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
TOKEN = re.compile(r'data-token="(P1\.[A-Za-z0-9_-]+)"')


async def _school(code: str = "school") -> tuple[Tenant, Place, Registrant]:
    admin = await make_tenant(code)
    place = await make_place(admin.tenant, prefix="" if code == "school" else f"{code}-")
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
        gates=[place.gate.code],
        weekdays=[1, 2, 3, 4, 5, 6, 7],
        start_time=time(0),
        end_time=time(23, 59),
    )
    return admin.tenant, place, teacher


async def _csrf(client: Phone, path: str) -> str:
    page = await client.get(path)
    found = CSRF.search(await page.text())
    assert found, f"{path} has a form with a CSRF field"
    return found.group(1)


async def _registrant_signs_in(client: Phone, kind: str = "teacher") -> None:
    token = await _csrf(client, f"/m/school/signin/{kind}")
    resp = await client.post(
        f"/m/school/signin/{kind}",
        data={"_csrf": token, "number": "T001", "id_tail": "12345x"},
        allow_redirects=False,
    )
    assert resp.status == 302 and resp.headers["Location"] == "/m/school/home"


async def _last_code(phone: str) -> str:
    message = await Message.filter(recipient=phone, template="verification_code").order_by("-id")
    return str(message[0].params["code"])


async def _visitor_signs_in(client: Phone, phone: str = "13800000000") -> None:
    token = await _csrf(client, "/m/school/visitor/signin")
    sent = await client.post(
        "/m/school/visitor/signin", data={"_csrf": token, "phone": phone, "action": "send"}
    )
    assert sent.status == 200 and "验证码已发送" in await sent.text()
    resp = await client.post(
        "/m/school/visitor/signin",
        data={"_csrf": token, "phone": phone, "code": await _last_code(phone), "action": "signin"},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()


def _another_phone(cloud: Client) -> aiohttp.ClientSession:
    """A second phone (its own cookies) on the same running cloud."""
    return aiohttp.ClientSession(
        base_url=str(cloud.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )


async def _public_keys() -> dict[str, Ed25519PublicKey]:
    keys = {}
    for row in await PassKey.all():
        raw = base64.urlsafe_b64decode(row.public_key + "=" * (-len(row.public_key) % 4))
        keys[row.kid] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


async def test_landing_offers_only_the_identities_the_school_opened(cloud: Client) -> None:
    tenant, _, _ = await _school()
    await IdentitySetting.create(tenant=tenant, kind=IdentityKind.resident, enabled=False)
    await IdentitySetting.create(tenant=tenant, kind=IdentityKind.teacher, enabled=False)
    text = await (await cloud.get("/m/school/")).text()
    kinds = re.findall(r'data-kind="(\w+)"', text)
    assert kinds == ["student", "teacher", "staff", "visitor"]  # teacher cannot be closed
    closed = await cloud.get("/m/school/signin/resident", allow_redirects=False)
    assert closed.status == 302
    assert (await cloud.get("/m/nowhere/")).status == 404


async def test_registrant_signs_in_by_number_and_id_tail_once(cloud: Client) -> None:
    _, _, teacher = await _school()
    token = await _csrf(cloud, "/m/school/signin/teacher")
    wrong = await cloud.post(
        "/m/school/signin/teacher", data={"_csrf": token, "number": "T001", "id_tail": "000000"}
    )
    assert wrong.status == 400 and "编号或身份证后六位不正确" in await wrong.text()
    assert (await Registrant.get(id=teacher.id)).bound_at is None
    await _registrant_signs_in(cloud)
    bound = (await Registrant.get(id=teacher.id)).bound_at
    assert bound is not None
    cookie = cloud.session.cookie_jar.filter_cookies(cloud.make_url("/m/school/home"))
    assert "wayside_m" in cookie
    session = await MobileSession.get(registrant_id=teacher.id)
    assert session.token_hash != cookie["wayside_m"].value  # only the hash is stored
    home = await (await cloud.get("/m/school/home")).text()
    assert "王老师" in home and "我收到的" in home and "发起邀请" in home
    # A second sign-in keeps the first binding time.
    await _registrant_signs_in(cloud)
    assert (await Registrant.get(id=teacher.id)).bound_at == bound


async def test_student_home_hides_the_host_pages(cloud: Client) -> None:
    tenant, _, _ = await _school()
    await Registrant.create(
        tenant=tenant, kind=IdentityKind.student, name="小明", number="T001", id_card_tail="12345X"
    )
    await _registrant_signs_in(cloud, "student")
    home = await (await cloud.get("/m/school/home")).text()
    assert "小明" in home and "发起邀请" not in home
    refused = await cloud.get("/m/school/host/requests", allow_redirects=False)
    assert refused.status == 302 and refused.headers["Location"] == "/m/school/home"


async def test_phone_binding_with_sms_code_wrong_code_and_expiry(cloud: Client) -> None:
    _, _, teacher = await _school()
    await _registrant_signs_in(cloud)
    token = await _csrf(cloud, "/m/school/phone")
    phone = "13700000009"
    sent = await cloud.post(
        "/m/school/phone", data={"_csrf": token, "phone": phone, "action": "send"}
    )
    assert "验证码已发送" in await sent.text()
    row = await VerificationCode.get(phone=phone)
    code = await _last_code(phone)
    assert len(code) == 6 and code.isdigit() and code not in row.code_hash
    again = await cloud.post(
        "/m/school/phone", data={"_csrf": token, "phone": phone, "action": "send"}
    )
    assert again.status == 400 and "秒后再试" in await again.text()
    wrong = "000000" if code != "000000" else "111111"
    bad = await cloud.post("/m/school/phone", data={"_csrf": token, "phone": phone, "code": wrong})
    assert bad.status == 400 and "验证码错误，还可尝试 4 次" in await bad.text()
    # Past five minutes the right code no longer works.
    await VerificationCode.filter(id=row.id).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    late = await cloud.post("/m/school/phone", data={"_csrf": token, "phone": phone, "code": code})
    assert late.status == 400 and "验证码已过期" in await late.text()
    assert (await Registrant.get(id=teacher.id)).phone == "13900000001"
    # A new code (a minute later) binds the phone.
    await VerificationCode.filter(id=row.id).update(
        created_at=datetime.now(UTC) - timedelta(minutes=2)
    )
    await cloud.post("/m/school/phone", data={"_csrf": token, "phone": phone, "action": "send"})
    ok = await cloud.post(
        "/m/school/phone",
        data={"_csrf": token, "phone": phone, "code": await _last_code(phone)},
        allow_redirects=False,
    )
    assert ok.status == 302
    stored = await Registrant.get(id=teacher.id)
    assert stored.phone == phone and stored.phone_verified_at is not None


async def test_five_wrong_codes_burn_the_code(cloud: Client) -> None:
    await _school()
    token = await _csrf(cloud, "/m/school/visitor/signin")
    phone = "13800000001"
    await cloud.post(
        "/m/school/visitor/signin", data={"_csrf": token, "phone": phone, "action": "send"}
    )
    code = await _last_code(phone)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        await cloud.post(
            "/m/school/visitor/signin", data={"_csrf": token, "phone": phone, "code": wrong}
        )
    last = await cloud.post(
        "/m/school/visitor/signin", data={"_csrf": token, "phone": phone, "code": code}
    )
    assert last.status == 400 and "错误次数过多" in await last.text()
    assert not await Visitor.filter(phone=phone).exists()


async def test_every_mobile_post_refuses_a_missing_or_foreign_csrf_token(cloud: Client) -> None:
    tenant, _, teacher = await _school()
    await _registrant_signs_in(cloud)
    app = cloud.app
    assert app is not None
    posts = [
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "POST" and r.resource is not None and r.resource.canonical.startswith("/m/")
    ]
    assert len(posts) >= 12
    request = await Appointment.create(
        tenant=tenant,
        host=teacher,
        visitor_name="张三",
        visitor_phone="13800000000",
        origin=AppointmentOrigin.request,
        visit_date=date.today() + timedelta(days=1),
        slot=Slot.morning,
        window_start=datetime.now(UTC) + timedelta(days=1),
        window_end=datetime.now(UTC) + timedelta(days=1, hours=6),
        reason="r",
        status=AppointmentStatus.pending,
    )
    for pattern in posts:
        path = (
            pattern.replace("{tenant}", "school")
            .replace("{kind}", "teacher")
            .replace("{id}", str(request.id))
            .replace("{lane}", "lot-out")  # the parking pages' (refused before any lookup)
            .replace("{site}", "east-lot")
            .replace("{session}", str(uuid.uuid4()))
        )
        for data in ({}, {"_csrf": "forged"}):
            resp = await cloud.post(path, data=data, allow_redirects=False)
            assert resp.status == 403, f"POST {path} answered {resp.status}"
    # Nothing happened: still pending, still signed in.
    assert (await Appointment.get(id=request.id)).status is AppointmentStatus.pending
    assert await MobileSession.filter(registrant_id=teacher.id).exists()


async def test_registrant_pass_verifies_with_the_published_key_and_names_the_gate(
    cloud: Client,
) -> None:
    _, place, teacher = await _school()
    # Not signed in: the gate poster leads to sign-in and back.
    first = await cloud.get(f"/m/school/gate/{place.gate.code}", allow_redirects=False)
    assert first.status == 302 and first.headers["Location"].startswith("/m/school/?next=")
    await _registrant_signs_in(cloud)
    page = await cloud.get(f"/m/school/gate/{place.gate.code}")
    text = await page.text()
    assert page.status == 200 and "数字身份通行证" in text
    assert 'src="data:image/png;base64,' in text and "/static/mobile.js" in text
    assert '<meta http-equiv="refresh" content="30">' in text  # the no-JS fallback
    token = TOKEN.search(text)
    assert token
    claims = verify(token.group(1), await _public_keys(), clock.time())
    assert claims.kind is PassKind.registrant and claims.subject == str(teacher.id)
    assert claims.gates == (place.gate.code,) and claims.valid_until - claims.valid_from == 60
    check_gate(claims, place.gate.code)
    # The page's script fetches a fresh one.
    fresh = await (await cloud.get(f"/m/school/gate/{place.gate.code}/token")).json()
    assert fresh["token"] != token.group(1) and fresh["refresh_s"] == 30
    assert verify(fresh["token"], await _public_keys(), clock.time()).subject == str(teacher.id)
    # No rule for this gate's campus: refused, with a reason.
    await RegistrantRule.filter(registrant_id=teacher.id).delete()
    refused = await cloud.get(f"/m/school/gate/{place.gate.code}")
    assert refused.status == 403 and "没有该校门的通行权限" in await refused.text()
    assert "data-token" not in await refused.text()


async def test_visitor_pass_only_inside_the_window(cloud: Client) -> None:
    tenant, place, teacher = await _school()
    await _visitor_signs_in(cloud)
    visitor = await Visitor.get(phone="13800000000")
    now = datetime.now(UTC)
    tomorrow = (now.astimezone(ZONE) + timedelta(days=1)).date()
    start, end = slot_window(tomorrow, Slot.afternoon, ZONE)
    later = await Appointment.create(
        tenant=tenant,
        site=place.site,
        host=teacher,
        visitor=visitor,
        visitor_name="张三",
        visitor_phone=visitor.phone,
        origin=AppointmentOrigin.request,
        visit_date=tomorrow,
        slot=Slot.afternoon,
        window_start=start,
        window_end=end,
        reason="洽谈",
        status=AppointmentStatus.approved,
    )
    page = await cloud.get(f"/m/school/gate/{place.gate.code}")
    text = await page.text()
    assert page.status == 403 and "预约时段未到" in text and "data-token" not in text
    api = await cloud.get(f"/m/school/gate/{place.gate.code}/token")
    assert api.status == 403 and "token" not in await api.json()
    # Window over: expired.
    await Appointment.filter(id=later.id).update(
        window_start=now - timedelta(hours=7), window_end=now - timedelta(hours=1)
    )
    expired = await cloud.get(f"/m/school/gate/{place.gate.code}")
    assert expired.status == 403 and "已失效" in await expired.text()
    # Window open now: the pass, valid for the window, naming the gate.
    await Appointment.filter(id=later.id).update(
        window_start=now - timedelta(hours=1), window_end=now + timedelta(hours=2)
    )
    open_now = await (await cloud.get(f"/m/school/gate/{place.gate.code}")).text()
    token = TOKEN.search(open_now)
    assert token and "访客通行证" in open_now
    claims = verify(token.group(1), await _public_keys(), clock.time())
    assert claims.kind is PassKind.visitor and claims.subject == str(later.id)
    assert claims.gates == (place.gate.code,)
    # Cancelled: no pass any more.
    await Appointment.filter(id=later.id).update(status=AppointmentStatus.cancelled)
    gone = await cloud.get(f"/m/school/gate/{place.gate.code}")
    assert gone.status == 403 and "data-token" not in await gone.text()


async def test_visitor_requests_teacher_approves_over_http(cloud: Client) -> None:
    _, _, teacher = await _school()
    await _visitor_signs_in(cloud)
    found = await (await cloud.get("/m/school/visits/new?q=王")).text()
    assert f'value="{teacher.id}"' in found and "王老师" in found
    token = await _csrf(cloud, "/m/school/visits/new")
    day = (datetime.now(UTC).astimezone(ZONE) + timedelta(days=1)).date().isoformat()
    form = {
        "_csrf": token,
        "host_id": str(teacher.id),
        "visit_date": day,
        "slot": "afternoon",
        "reason": "项目交流",
        "visitor_name": "张三",
        "visitor_id_card": "110101199001011234",
        "companions": "1",
    }
    missing = await cloud.post("/m/school/visits/new", data=form)
    assert missing.status == 400 and "请阅读并勾选承诺事项" in await missing.text()
    done = await cloud.post(
        "/m/school/visits/new", data={**form, "commitments": "1"}, allow_redirects=False
    )
    assert done.status == 302
    mine = await (await cloud.get("/m/school/visits")).text()
    assert "项目交流" in mine and "待审核" in mine
    twice = await cloud.post("/m/school/visits/new", data={**form, "commitments": "1"})
    assert twice.status == 400 and "该时段您已有预约" in await twice.text()
    request = await Appointment.get(reason="项目交流")

    async with _another_phone(cloud) as teacher_phone:
        await _registrant_signs_in(teacher_phone)
        listed = await (await teacher_phone.get("/m/school/host/requests")).text()
        assert "项目交流" in listed and "13800000000" in listed
        csrf = CSRF.search(listed)
        assert csrf
        no_reason = await teacher_phone.post(
            f"/m/school/host/requests/{request.id}/reject", data={"_csrf": csrf.group(1)}
        )
        assert "驳回时必须填写理由" in await no_reason.text()
        await teacher_phone.post(
            f"/m/school/host/requests/{request.id}/approve", data={"_csrf": csrf.group(1)}
        )
    assert (await Appointment.get(id=request.id)).status is AppointmentStatus.approved
    mine = await (await cloud.get("/m/school/visits")).text()
    assert "通过" in mine
    assert await Message.filter(template="visit_result", recipient="13800000000").exists()


async def test_teacher_invites_with_overlap_confirm_and_visitor_confirms(cloud: Client) -> None:
    tenant, _, teacher = await _school()
    day = (datetime.now(UTC).astimezone(ZONE) + timedelta(days=1)).date()
    start, end = slot_window(day, Slot.morning, ZONE)
    await Appointment.create(
        tenant=tenant,
        host=teacher,
        visitor_name="张三",
        visitor_phone="13800000000",
        origin=AppointmentOrigin.request,
        visit_date=day,
        slot=Slot.morning,
        window_start=start,
        window_end=end,
        reason="早前的预约",
        status=AppointmentStatus.approved,
    )
    await _registrant_signs_in(cloud)
    token = await _csrf(cloud, "/m/school/host/invite")
    form = {
        "_csrf": token,
        "visit_date": day.isoformat(),
        "slot": "morning",
        "reason": "参加评审",
        "visitor_phone": "13800000000",
        "visitor_name": "张三",
    }
    warned = await cloud.post("/m/school/host/invite", data=form)
    text = await warned.text()
    assert "时间重叠提醒" in text and "早前的预约" in text and 'name="confirm_overlap"' in text
    assert not await Appointment.filter(reason="参加评审").exists()
    sent = await cloud.post(
        "/m/school/host/invite", data={**form, "confirm_overlap": "1"}, allow_redirects=False
    )
    assert sent.status == 302
    invitation = await Appointment.get(reason="参加评审")
    assert invitation.status is AppointmentStatus.inviting
    assert "参加评审" in await (await cloud.get("/m/school/host/invitations")).text()

    async with _another_phone(cloud) as visitor_phone:
        await _visitor_signs_in(visitor_phone)
        invited = await (await visitor_phone.get("/m/school/visits?tab=invited")).text()
        assert "参加评审" in invited and "待确认" in invited
        detail = await (await visitor_phone.get(f"/m/school/visits/{invitation.id}")).text()
        csrf = CSRF.search(detail)
        assert csrf and "确认邀请" in detail
        done = await visitor_phone.post(
            f"/m/school/visits/{invitation.id}/confirm",
            data={
                "_csrf": csrf.group(1),
                "visitor_name": "张三",
                "visitor_id_card": "110101199001011234",
                "commitments": "1",
            },
            allow_redirects=False,
        )
        assert done.status == 302
    assert (await Appointment.get(id=invitation.id)).status is AppointmentStatus.confirmed
    assert await Message.filter(template="invitation_confirmed", recipient="13900000001").exists()


async def test_vehicle_application_and_rules(cloud: Client) -> None:
    _, place, teacher = await _school()
    await _registrant_signs_in(cloud)
    token = await _csrf(cloud, "/m/school/vehicles/new")
    bad = await cloud.post(
        "/m/school/vehicles/new",
        data={
            "_csrf": token,
            "kind": "motor",
            "plate": "ABC",
            "owner_name": "王",
            "relation": "self",
        },
    )
    assert bad.status == 400 and "不是有效的车牌号" in await bad.text()
    ok = await cloud.post(
        "/m/school/vehicles/new",
        data={
            "_csrf": token,
            "kind": "motor",
            "plate": "京a 12345",
            "owner_name": "王",
            "relation": "self",
        },
        allow_redirects=False,
    )
    assert ok.status == 302
    vehicle = await Vehicle.get(plate="京A12345")
    assert vehicle.status is ReviewStatus.pending and vehicle.registrant_id == teacher.id
    listed = await (await cloud.get("/m/school/vehicles")).text()
    assert "京A12345" in listed and "待审核" in listed
    rules = await (await cloud.get("/m/school/rules")).text()
    assert place.site.name in rules and place.gate.code in rules


async def test_another_schools_session_sees_nothing_here(cloud: Client) -> None:
    await _school()
    beta, beta_place, _ = await _school("beta")
    await Registrant.filter(tenant=beta).update(name="贝塔老师")
    await _registrant_signs_in(cloud)  # signed in at "school"
    cookie = cloud.session.cookie_jar.filter_cookies(cloud.make_url("/m/school/home"))
    value = cookie["wayside_m"].value
    # The school's cookie presented to beta's pages: not signed in there.
    for path in ("/m/beta/home", "/m/beta/host/requests", f"/m/beta/gate/{beta_place.gate.code}"):
        resp = await cloud.get(
            path, headers={"Cookie": f"wayside_m={value}"}, allow_redirects=False
        )
        assert resp.status == 302 and resp.headers["Location"].startswith("/m/beta/?next=")
    api = await cloud.get(
        f"/m/beta/gate/{beta_place.gate.code}/token", headers={"Cookie": f"wayside_m={value}"}
    )
    assert api.status == 401
    # And this school's gate codes do not exist at beta.
    missing = await cloud.get("/m/school/gate/beta-north")
    assert missing.status == 404
