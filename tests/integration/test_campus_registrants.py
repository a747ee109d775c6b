"""Identity settings and types, registrants, visitor authorisation, WeChat unbinding and access
rules (one by one and in bulk by filter) through the admin pages and the JSON API, with what the
campuses' edges are told."""

from __future__ import annotations

import io
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.api import API_PREFIX
from cloud.campus.models import (
    IdentityKind,
    IdentitySetting,
    IdentityType,
    MobileSession,
    Registrant,
    RegistrantRule,
    ReviewStatus,
    Vehicle,
    VehicleKind,
)
from cloud.org.models import Tenant
from cloud.sites.models import Gate, Site, StateChange
from protocols.site import SiteKind
from tests.conftest import TenantAdmin, make_tenant, sign_in
from tests.e2e.seed import Place, make_place

Client = TestClient[web.Request, web.Application]


async def _admin(cloud: Client, code: str = "alpha") -> tuple[str, TenantAdmin, Place]:
    admin = await make_tenant(code)
    place = await make_place(admin.tenant)
    return await sign_in(cloud, admin.account, admin.password), admin, place


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)


async def _published(site: Site, entity: str, key: str) -> tuple[bool, dict[str, Any] | None]:
    """(published at all, what the site's edges hold now for entity/key)."""
    row = (
        await StateChange.filter(site_id=site.id, entity=entity, key=key)
        .order_by("-revision")
        .first()
    )
    return (row is not None, row.data if row is not None else None)


async def _person(
    tenant: Tenant, number: str, kind: IdentityKind = IdentityKind.student, **more: Any
) -> Registrant:
    return await Registrant.create(
        tenant=tenant, kind=kind, name=more.pop("name", f"人{number}"), number=number, **more
    )


def _form(csrf: str, **values: str) -> dict[str, str]:
    base = {
        "_csrf": csrf,
        "kind": "student",
        "identity_type_id": "",
        "name": "李雷",
        "number": "S2024001",
        "id_card_tail": "",
        "phone": "",
        "department_id": "",
        "unit": "",
    }
    base.update(values)
    return base


# --- identity settings and types -------------------------------------------------------------


async def test_the_teacher_identity_cannot_be_closed(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    page = await (await cloud.get("/campus/identity-settings")).text()
    assert "身份开通设置" in page and "第三方服务人员" in page
    # Every box unticked: the teacher kind among them.
    resp = await cloud.post("/campus/identity-settings", data={"_csrf": csrf})
    text = await resp.text()
    assert resp.status == 400
    assert "教师身份必须开通，不允许关闭" in text
    assert await IdentitySetting.filter(tenant=admin.tenant).count() == 0  # nothing saved
    # The API refuses it the same way.
    api = await cloud.put(
        f"{API_PREFIX}/identity-settings",
        json={"settings": [{"kind": "teacher", "enabled": False}]},
        headers={"X-CSRF-Token": csrf},
    )
    body = await api.json()
    assert api.status == 422 and "teacher identity must stay open" in body["message"]


async def test_a_closed_kind_takes_no_new_registrants(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    resp = await cloud.post(
        "/campus/identity-settings",
        data={
            "_csrf": csrf,
            "enabled_teacher": "on",
            "enabled_staff": "on",
            "face_staff": "on",
            "enabled_resident": "on",
        },
        allow_redirects=False,
    )
    assert resp.status == 302
    saved = {s.kind: s for s in await IdentitySetting.filter(tenant=admin.tenant)}
    assert not saved[IdentityKind.student].enabled and saved[IdentityKind.staff].face_required
    form = await (await cloud.get("/campus/registrants/new")).text()
    assert "学生（未开通）" in form
    resp = await cloud.post("/campus/registrants/new", data=_form(csrf))
    assert resp.status == 400 and "学校未开通该备案人身份" in await resp.text()
    assert not await Registrant.filter(tenant=admin.tenant).exists()


async def test_identity_types_belong_to_their_kind(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    resp = await cloud.post(
        "/campus/identity-types/new",
        data={"_csrf": csrf, "kind": "teacher", "name": "专任教师", "face_required": "on"},
        allow_redirects=False,
    )
    assert resp.status == 302
    kind_type = await IdentityType.get(tenant=admin.tenant, name="专任教师")
    assert kind_type.face_required and kind_type.operator == admin.account
    listing = await (await cloud.get("/campus/identity-types?kind=teacher")).text()
    assert "专任教师" in listing
    assert "专任教师" not in await (await cloud.get("/campus/identity-types?kind=student")).text()
    # A student cannot take a teacher's type.
    resp = await cloud.post(
        "/campus/registrants/new", data=_form(csrf, identity_type_id=str(kind_type.id))
    )
    assert resp.status == 400 and "身份类型不属于所选备案人身份" in await resp.text()
    resp = await cloud.post(
        "/campus/registrants/new",
        data=_form(csrf, kind="teacher", identity_type_id=str(kind_type.id), number="T1"),
        allow_redirects=False,
    )
    assert resp.status == 302
    # A type in use cannot be deleted.
    resp = await cloud.post(
        f"/campus/identity-types/{kind_type.id}/delete", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302 and await IdentityType.exists(id=kind_type.id)


# --- the register ---------------------------------------------------------------------------------


async def test_registrant_form_checks_phone_id_tail_and_number(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    resp = await cloud.post(
        "/campus/registrants/new", data=_form(csrf, phone="1380000", id_card_tail="12A45X")
    )
    text = await resp.text()
    assert resp.status == 400
    assert 'data-field="phone"' in text and "须为 11 位手机号码" in text
    assert 'data-field="id_card_tail"' in text and "5 位数字加 1 位数字或 X" in text
    ok = await cloud.post(
        "/campus/registrants/new",
        data=_form(csrf, phone="13800000000", id_card_tail="12345x"),
        allow_redirects=False,
    )
    assert ok.status == 302
    row = await Registrant.get(tenant=admin.tenant, number="S2024001")
    assert row.id_card_tail == "12345X" and row.operator == admin.account
    again = await cloud.post("/campus/registrants/new", data=_form(csrf, name="韩梅梅"))
    assert again.status == 400 and "该身份下已有相同学号/工号的备案人" in await again.text()
    # The same number under another kind is someone else.
    other = await cloud.post(
        "/campus/registrants/new", data=_form(csrf, kind="teacher"), allow_redirects=False
    )
    assert other.status == 302


async def test_list_columns_filters_and_export(cloud: Client) -> None:
    _, admin, _ = await _admin(cloud)
    t = admin.tenant
    teacher = await _person(t, "T1", IdentityKind.teacher, name="王老师", phone="13900000001")
    await _person(t, "S1", name="小明", bound_at=datetime.now(UTC))
    await _person(t, "S2", name="小红", enabled=False)
    for plate, kind, status in (
        ("京A11111", VehicleKind.motor, ReviewStatus.approved),
        ("京A22222", VehicleKind.motor, ReviewStatus.approved),
        ("京A33333", VehicleKind.motor, ReviewStatus.pending),
        ("EB-1", VehicleKind.ebike, ReviewStatus.approved),
    ):
        await Vehicle.create(tenant=t, registrant=teacher, kind=kind, plate=plate, status=status)
    page = await (await cloud.get("/campus/registrants?kind=teacher")).text()
    rows = _rows(page)
    assert len(rows) == 1 and "王老师" in rows[0]
    cells = re.findall(r"<td[^>]*>\s*(.*?)\s*</td>", rows[0], re.S)
    # Motor vehicles (approved only), e-bikes: the 7th and 8th columns.
    assert cells[6] == "2" and cells[7] == "1"
    assert "访客授权" in rows[0]  # a teacher's row offers visitor authorisation
    registered = _rows(await (await cloud.get("/campus/registrants?registered=true")).text())
    assert len(registered) == 1 and "小明" in registered[0] and "已注册" in registered[0]
    assert "解绑微信" in registered[0] and "访客授权" not in registered[0]
    by_phone = _rows(await (await cloud.get("/campus/registrants?q=1390000")).text())
    assert len(by_phone) == 1 and "王老师" in by_phone[0]
    disabled = _rows(await (await cloud.get("/campus/registrants?enabled=false")).text())
    assert len(disabled) == 1 and "小红" in disabled[0]
    resp = await cloud.get("/campus/registrants/export.xlsx?kind=student")
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    lines = [tuple(r) for r in book.active.iter_rows(values_only=True)]
    assert lines[0][:4] == ("姓名", "身份证后六位", "手机号", "学号/工号")
    assert sorted(line[0] for line in lines[1:]) == ["小明", "小红"]


# --- visitor authorisation and WeChat binding ------------------------------------------------------


async def test_visitor_authorisation_is_for_teachers_only(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    student = await _person(admin.tenant, "S1")
    resp = await cloud.post(f"/campus/registrants/{student.id}/authorise", data={"_csrf": csrf})
    assert resp.status == 200  # back on the list, which says why
    assert "访客授权仅对身份为教师的备案人开放" in await resp.text()
    assert not (await Registrant.get(id=student.id)).visitor_authorised
    api = await cloud.post(
        f"{API_PREFIX}/registrants/{student.id}/authorise", headers={"X-CSRF-Token": csrf}
    )
    assert api.status == 422 and (await api.json())["field"] == "kind"
    teacher = await _person(admin.tenant, "T1", IdentityKind.teacher)
    confirm = await (await cloud.get(f"/campus/registrants/{teacher.id}/authorise")).text()
    assert "确定为「人T1 (T1)」开通访客授权吗" in confirm
    resp = await cloud.post(
        f"/campus/registrants/{teacher.id}/authorise", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302 and (await Registrant.get(id=teacher.id)).visitor_authorised
    resp = await cloud.post(
        f"/campus/registrants/{teacher.id}/unauthorise", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302 and not (await Registrant.get(id=teacher.id)).visitor_authorised


async def test_authorise_every_teacher_at_once(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    teachers = [await _person(admin.tenant, f"T{n}", IdentityKind.teacher) for n in range(3)]
    student = await _person(admin.tenant, "S1")
    confirm = await (await cloud.get("/campus/registrants/authorise-teachers")).text()
    assert "当前有 3 名教师尚未开通" in confirm
    resp = await cloud.post("/campus/registrants/authorise-teachers", data={"_csrf": csrf})
    assert "已为全部教师开通访客授权" in await resp.text()
    for teacher in teachers:
        assert (await Registrant.get(id=teacher.id)).visitor_authorised
    assert not (await Registrant.get(id=student.id)).visitor_authorised


async def test_unbinding_wechat_signs_the_phone_out(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    person = await _person(admin.tenant, "S1", bound_at=datetime.now(UTC))
    await MobileSession.create(
        token_hash=secrets.token_hex(32),
        tenant=admin.tenant,
        registrant=person,
        csrf_token="x",
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    resp = await cloud.post(
        f"/campus/registrants/{person.id}/unbind", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302
    assert (await Registrant.get(id=person.id)).bound_at is None
    assert not await MobileSession.filter(registrant_id=person.id).exists()
    row = _rows(await (await cloud.get("/campus/registrants")).text())[0]
    assert "未注册" in row and "解绑微信" not in row


# --- what the edges are told -------------------------------------------------------------------


async def test_disabling_revokes_and_enabling_restores_at_every_campus(cloud: Client) -> None:
    csrf, admin, place = await _admin(cloud)
    west = await Site.create(tenant=admin.tenant, code="west", name="西校区", kind=SiteKind.campus)
    resp = await cloud.post(
        "/campus/registrants/new", data=_form(csrf, name="韩梅梅"), allow_redirects=False
    )
    assert resp.status == 302
    person = await Registrant.get(tenant=admin.tenant, number="S2024001")
    key = f"registrant:{person.id}"
    for site in (place.site, west):
        known, grant = await _published(site, "registrant", str(person.id))
        assert known and grant is not None and grant["name"] == "韩梅梅"
        assert grant["windows"] == []  # a new registrant passes no gate
    await cloud.post(f"/campus/registrants/{person.id}/disable", data={"_csrf": csrf})
    for site in (place.site, west):
        _, revocation = await _published(site, "revocation", key)
        assert revocation == {"reason": "disabled"}
        _, grant = await _published(site, "registrant", str(person.id))
        assert grant is not None and grant["enabled"] is False
    await cloud.post(f"/campus/registrants/{person.id}/enable", data={"_csrf": csrf})
    _, revocation = await _published(place.site, "revocation", key)
    assert revocation is None
    await cloud.post(f"/campus/registrants/{person.id}/delete", data={"_csrf": csrf})
    assert not await Registrant.exists(id=person.id)
    _, grant = await _published(west, "registrant", str(person.id))
    _, revocation = await _published(west, "revocation", key)
    assert grant is None and revocation == {"reason": "deleted"}


async def test_rules_of_one_registrant_are_published_with_their_gates(cloud: Client) -> None:
    csrf, admin, place = await _admin(cloud)
    south = await Gate.create(tenant=admin.tenant, site=place.site, code="south", name="南门")
    west = await Site.create(tenant=admin.tenant, code="west", name="西校区", kind=SiteKind.campus)
    await Gate.create(tenant=admin.tenant, site=west, code="west-gate", name="西门")
    person = await _person(admin.tenant, "S1")
    page = await (await cloud.get(f"/campus/registrants/{person.id}/rules")).text()
    assert "暂无出入规则" in page and "东校区 / 南门" in page
    # A gate of another campus is refused.
    bad = await cloud.post(
        f"/campus/registrants/{person.id}/rules",
        data=[("_csrf", csrf), ("site_id", str(place.site.id)), ("gates", "west-gate"),
              ("weekdays", "1"), ("start_time", "07:00"), ("end_time", "22:00")],
    )  # fmt: skip
    assert bad.status == 400 and "所选校门不属于该校区" in await bad.text()
    assert not await RegistrantRule.filter(registrant_id=person.id).exists()
    resp = await cloud.post(
        f"/campus/registrants/{person.id}/rules",
        data=[("_csrf", csrf), ("site_id", str(place.site.id)), ("gates", south.code),
              ("weekdays", "1"), ("weekdays", "5"), ("start_time", "07:00"), ("end_time", "22:00")],
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 302
    _, grant = await _published(place.site, "registrant", str(person.id))
    assert grant is not None
    assert grant["windows"] == [
        {"gates": ["south"], "weekdays": [1, 5], "start": "07:00:00", "end": "22:00:00"}
    ]
    _, elsewhere = await _published(west, "registrant", str(person.id))
    assert elsewhere is not None and elsewhere["windows"] == []  # only its own campus
    page = await (await cloud.get(f"/campus/registrants/{person.id}/rules")).text()
    assert "south" in page and "一, 五" in page
    rule = await RegistrantRule.get(registrant_id=person.id)
    resp = await cloud.post(
        f"/campus/registrants/{person.id}/rules/remove",
        data={"_csrf": csrf, "rule_id": str(rule.id)},
        allow_redirects=False,
    )
    assert resp.status == 302
    _, grant = await _published(place.site, "registrant", str(person.id))
    assert grant is not None and grant["windows"] == []


async def test_bulk_rules_by_filter_reach_every_matching_registrant(cloud: Client) -> None:
    csrf, admin, place = await _admin(cloud)
    students = [await _person(admin.tenant, f"S{n}") for n in range(3)]
    teacher = await _person(admin.tenant, "T1", IdentityKind.teacher)
    await RegistrantRule.create(
        tenant=admin.tenant, registrant=students[0], site=place.site, gates=[], weekdays=[7],
        start_time="08:00:00", end_time="09:00:00",
    )  # fmt: skip
    page = await (await cloud.get("/campus/registrants/bulk-rules?kind=student")).text()
    assert "符合条件的备案人：3 名" in page
    resp = await cloud.post(
        "/campus/registrants/bulk-rules",
        data=[("_csrf", csrf), ("kind", "student"), ("mode", "replace"),
              ("site_id", str(place.site.id)), ("weekdays", "1"), ("weekdays", "2"),
              ("start_time", "06:00"), ("end_time", "23:00")],
    )  # fmt: skip
    text = await resp.text()
    assert resp.status == 200 and "已为 3 名备案人设置出入规则" in text
    for student in students:
        rules = await RegistrantRule.filter(registrant_id=student.id)
        assert [(r.weekdays, r.gates) for r in rules] == [([1, 2], [])]
        _, grant = await _published(place.site, "registrant", str(student.id))
        assert grant is not None and grant["windows"][0]["weekdays"] == [1, 2]
    assert not await RegistrantRule.filter(registrant_id=teacher.id).exists()
    # "No gate" for one of them, found by number.
    resp = await cloud.post(
        "/campus/registrants/bulk-rules",
        data={"_csrf": csrf, "q": "S1", "kind": "student", "mode": "clear"},
    )
    assert "已为 1 名备案人设置出入规则" in await resp.text()
    assert not await RegistrantRule.filter(registrant_id=students[1].id).exists()
    _, grant = await _published(place.site, "registrant", str(students[1].id))
    assert grant is not None and grant["windows"] == []
    assert await RegistrantRule.filter(registrant_id=students[2].id).count() == 1
    # Adding without a campus is refused and changes nothing.
    bad = await cloud.post(
        "/campus/registrants/bulk-rules", data={"_csrf": csrf, "kind": "student", "mode": "add"}
    )
    assert bad.status == 400 and 'data-field="site_id"' in await bad.text()
    assert await RegistrantRule.filter(registrant_id=students[2].id).count() == 1


async def test_api_rules_replace_and_bulk(cloud: Client) -> None:
    csrf, admin, place = await _admin(cloud)
    person = await _person(admin.tenant, "S1")
    headers = {"X-CSRF-Token": csrf}
    resp = await cloud.put(
        f"{API_PREFIX}/registrants/{person.id}/rules",
        json={"rules": [{"site_id": place.site.id, "gates": ["north"], "weekdays": [3]}]},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    assert [r["gates"] for r in await resp.json()] == [["north"]]
    bad = await cloud.put(
        f"{API_PREFIX}/registrants/{person.id}/rules",
        json={"rules": [{"site_id": place.site.id, "gates": ["nowhere"]}]},
        headers=headers,
    )
    assert bad.status == 422 and (await bad.json())["field"] == "gates"
    assert await RegistrantRule.filter(registrant_id=person.id).count() == 1
    bulk = await cloud.post(
        f"{API_PREFIX}/registrants/bulk-rules",
        json={"kind": "student", "mode": "add", "rule": {"site_id": place.site.id}},
        headers=headers,
    )
    assert bulk.status == 200 and (await bulk.json()) == {"affected": 1}
    listing = await cloud.get(f"{API_PREFIX}/registrants?kind=student")
    assert (await listing.json())["total"] == 1
    _, grant = await _published(place.site, "registrant", str(person.id))
    assert grant is not None and len(grant["windows"]) == 2
