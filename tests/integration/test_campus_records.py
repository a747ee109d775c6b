"""Campus record lists: registrants' passages (6.1) and visitor appointments (6.2), their filters,
detail, export and tenant isolation."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.access.models import AccessRecord
from cloud.auth import Principal
from cloud.campus import records as service
from cloud.campus.models import (
    Appointment,
    AppointmentOrigin,
    AppointmentStatus,
    IdentityKind,
    Registrant,
    Slot,
)
from cloud.campus.record_schemas import RegistrantRecordFilter, VisitRecordFilter
from cloud.crud import PageParams
from cloud.org.models import Department, Tenant
from cloud.sites.models import Gate
from protocols.events import Reason, Verdict
from protocols.site import Direction
from tests.conftest import make_tenant, sign_in
from tests.e2e.seed import Place, make_place, principal_of_user

Client = TestClient[web.Request, web.Application]
NOW = datetime(2030, 5, 6, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def _record(
    place: Place,
    gate: str,
    at: datetime,
    *,
    registrant: int | None = None,
    appointment: int | None = None,
    method: str = "plate",
    plate: str = "",
) -> AccessRecord:
    return await AccessRecord.create(
        tenant_id=place.site.tenant_id,
        site_id=place.site.id,
        event_uuid=uuid.uuid4(),
        gate=gate,
        lane=f"{gate}-in",
        direction=Direction.entry,
        plate=plate,
        confidence=100,
        verdict=Verdict.open,
        reason=Reason.default,
        method=method,
        registrant_id=registrant,
        appointment_id=appointment,
        occurred_at=at,
    )


class School:
    """Two departments, a student and a teacher, two gates, passages and two appointments."""

    me: Principal
    place: Place
    south: Gate
    science: Department
    arts: Department
    student: Registrant
    teacher: Registrant
    visit: Appointment
    invitation: Appointment


async def _school(code: str = "alpha") -> School:
    admin = await make_tenant(code)
    s = School()
    s.me = principal_of_user(admin.user)
    s.place = await make_place(admin.tenant, prefix=f"{code}-")
    tenant: Tenant = admin.tenant
    s.south = await Gate.create(
        tenant=tenant, site=s.place.site, code=f"{code}-south", name=f"{code}-南门"
    )
    s.science = await Department.create(tenant=tenant, name="理学院")
    s.arts = await Department.create(tenant=tenant, name="文学院")
    s.student = await Registrant.create(
        tenant=tenant,
        kind=IdentityKind.student,
        name="张三",
        number="S2024001",
        phone="13800000001",
        department=s.science,
        unit="物理系",
    )
    s.teacher = await Registrant.create(
        tenant=tenant,
        kind=IdentityKind.teacher,
        name="李四",
        number="T0002",
        phone="13900000002",
        department=s.arts,
    )
    north = s.place.gate.code
    await _record(s.place, north, NOW - timedelta(days=2), registrant=s.student.id)
    await _record(s.place, s.south.code, NOW - timedelta(hours=1), registrant=s.teacher.id,
                  method="qr_pass")  # fmt: skip
    await _record(s.place, north, NOW, registrant=s.student.id, method="qr_pass")
    await _record(s.place, north, NOW - timedelta(minutes=5), plate="京A99999")  # a stranger
    window = (NOW - timedelta(hours=4), NOW + timedelta(hours=2))
    s.visit = await Appointment.create(
        tenant=tenant,
        site=s.place.site,
        host=s.teacher,
        visitor_name="王五",
        visitor_phone="13700000003",
        visitor_id_card="110101199001011234",
        origin=AppointmentOrigin.request,
        visit_date=date(2030, 5, 6),
        slot=Slot.morning,
        window_start=window[0],
        window_end=window[1],
        reason="洽谈合作",
        transport="car",
        plate="京A11111",
        companions=2,
        companion_names="赵六, 钱七",
        status=AppointmentStatus.approved,
        visited_at=NOW - timedelta(minutes=30),
        visited_gate=north,
        visited_method="plate",
    )
    s.invitation = await Appointment.create(
        tenant=tenant,
        host=s.student,
        visitor_name="孙八",
        visitor_phone="13700000004",
        origin=AppointmentOrigin.invitation,
        visit_date=date(2030, 5, 8),
        slot=Slot.afternoon,
        window_start=window[0] + timedelta(days=2),
        window_end=window[1] + timedelta(days=2),
        reason="参观",
        status=AppointmentStatus.inviting,
    )
    await _record(s.place, north, NOW - timedelta(minutes=30), appointment=s.visit.id,
                  plate="京A11111")  # fmt: skip
    return s


async def test_registrant_records_show_who_passed_newest_first(db: str) -> None:
    s = await _school()
    page = await service.list_registrant_records(s.me, RegistrantRecordFilter(), PageParams())
    assert [(r.name, r.method) for r in page.items] == [
        ("张三", "qr_pass"),
        ("李四", "qr_pass"),
        ("张三", "plate"),
    ]  # the stranger's and the visitor's passages are not registrants' records
    first = page.items[0]
    assert first.number == "S2024001" and first.phone == "13800000001"
    assert first.kind == IdentityKind.student and first.dept_unit == "理学院 / 物理系"
    assert first.gate_label == "alpha-东校区 / alpha-北门"


async def test_registrant_record_filters_select_the_right_rows(db: str) -> None:
    s = await _school()

    async def who(**given: Any) -> list[str]:
        f = RegistrantRecordFilter(**given)
        return [
            r.name for r in (await service.list_registrant_records(s.me, f, PageParams())).items
        ]

    assert await who(q="李") == ["李四"]
    assert await who(q="13800000001") == ["张三", "张三"]
    assert await who(q="S2024") == ["张三", "张三"]
    assert await who(department_id=s.arts.id) == ["李四"]
    assert await who(kind="student") == ["张三", "张三"]
    assert await who(gate=s.south.code) == ["李四"]
    assert await who(method="plate") == ["张三"]
    assert await who(occurred_from=NOW - timedelta(days=1)) == ["张三", "李四"]
    assert await who(occurred_to=NOW - timedelta(days=1)) == ["张三"]
    assert await who(q="张", gate=s.south.code) == []


async def test_visit_records_filters_select_the_right_rows(db: str) -> None:
    s = await _school()

    async def visitors(**given: Any) -> list[str]:
        f = VisitRecordFilter(**given)
        return [v.visitor_name for v in (await service.list_visits(s.me, f, PageParams())).items]

    assert await visitors() == ["孙八", "王五"]  # latest visit date first
    assert await visitors(q="京A111") == ["王五"]
    assert await visitors(q="王五") == ["王五"]
    assert await visitors(q="张三") == ["孙八"]  # by host name
    assert await visitors(date_from=date(2030, 5, 7)) == ["孙八"]
    assert await visitors(date_to=date(2030, 5, 6)) == ["王五"]
    assert await visitors(status="inviting") == ["孙八"]
    assert await visitors(origin="request") == ["王五"]
    assert await visitors(visit_state="visited") == ["王五"]
    assert await visitors(visit_state="not_visited") == ["孙八"]
    assert await visitors(department_id=s.science.id) == ["孙八"]
    assert await visitors(gate=s.place.gate.code) == ["王五"]
    assert await visitors(method="qr_pass") == []
    visit = (await service.list_visits(s.me, VisitRecordFilter(q="王"), PageParams())).items[0]
    assert visit.companions_text == "2 (赵六, 钱七)" and visit.host_department == "文学院"
    assert visit.gate_label == "alpha-东校区 / alpha-北门"


async def test_pages_filter_export_and_show_a_visits_detail(cloud: Client) -> None:
    s = await _school()
    beta = await _school("beta")
    admin_page = await cloud.get("/login")
    assert admin_page.status == 200
    await sign_in(cloud, "alpha-admin", "Correct-Horse-9")
    page = await (await cloud.get("/campus/registrant-records?q=李四")).text()
    assert "李四" in page and "张三" not in page and "扫码通行" in page
    resp = await cloud.get("/campus/registrant-records/export.xlsx?kind=student")
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and [r[0] for r in rows[1:]] == ["张三", "张三"]
    page = await (await cloud.get("/campus/visit-records?visit_state=visited")).text()
    assert "王五" in page and "孙八" not in page and "已访问" in page
    assert "beta" not in page
    detail = await (await cloud.get(f"/campus/visit-records/{s.visit.id}")).text()
    assert "洽谈合作" in detail and "赵六, 钱七" in detail and "**************1234" in detail
    assert "110101199001011234" not in detail
    assert detail.count("京A11111") >= 2  # the appointment's plate and its passage
    resp = await cloud.get("/campus/visit-records/export.xlsx?origin=invitation")
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["孙八"]
    resp = await cloud.get(f"/campus/visit-records/{beta.visit.id}")
    assert resp.status == 404 and "王五" not in await resp.text()
    page = await (await cloud.get("/campus/registrant-records")).text()
    assert "beta-" not in page


async def test_a_bad_filter_is_named_and_the_rest_still_applies(cloud: Client) -> None:
    await _school()
    await sign_in(cloud, "alpha-admin", "Correct-Horse-9")
    resp = await cloud.get("/campus/visit-records?date_from=yesterday&origin=invitation")
    text = await resp.text()
    assert resp.status == 200 and 'data-field="date_from"' in text
    assert "孙八" in text and "王五" not in text
