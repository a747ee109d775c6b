"""Excel import of registrants and vehicles through the admin pages and the JSON API: good rows in,
bad rows out with their reasons, unreadable files refused whole, results and rejected rows."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date, timedelta

from aiohttp import ClientResponse, FormData, web
from aiohttp.test_utils import TestClient
from openpyxl import Workbook, load_workbook

from cloud.api import API_PREFIX
from cloud.campus.imports import MAX_BYTES, REGISTRANT_SHEET, VEHICLE_SHEET
from cloud.campus.models import (
    IdentityKind,
    IdentityType,
    ImportJob,
    ImportState,
    Registrant,
    RegistrantRule,
    ReviewStatus,
    Vehicle,
    VehicleKind,
)
from cloud.org.models import Department
from cloud.sites.models import StateChange
from tests.conftest import TenantAdmin, make_tenant, sign_in
from tests.e2e.seed import Place, make_place

Client = TestClient[web.Request, web.Application]


async def _admin(cloud: Client) -> tuple[str, TenantAdmin, Place]:
    admin = await make_tenant("alpha")
    place = await make_place(admin.tenant)
    return await sign_in(cloud, admin.account, admin.password), admin, place


def _xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _read(data: bytes) -> list[tuple[object, ...]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]


async def _upload(cloud: Client, csrf: str, kind: str, name: str, data: bytes) -> ClientResponse:
    form = FormData()
    form.add_field("_csrf", csrf)
    form.add_field("kind", kind)
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return await cloud.post("/campus/imports/new", data=form)


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)


async def test_good_rows_are_imported_and_bad_ones_come_back_with_reasons(cloud: Client) -> None:
    csrf, admin, place = await _admin(cloud)
    t = admin.tenant
    await IdentityType.create(tenant=t, kind=IdentityKind.teacher, name="专任教师")
    await Department.create(tenant=t, name="数学系")
    await Registrant.create(tenant=t, kind=IdentityKind.student, name="老生", number="S-OLD")
    headers = REGISTRANT_SHEET.headers()
    data = _xlsx(
        [
            headers,
            ["教师", "专任教师", "王老师", "T001", "12345X", "13800000001", "数学系", "教务处"],
            ["学生", "", "小明", "S001", "", "13800000002", "", ""],
            ["学生", "", "手机错", "S002", "", "1380000", "", ""],  # row 4: bad phone
            ["老师", "", "身份错", "S003", "", "", "", ""],  # row 5: unknown kind
            ["学生", "", "重复", "S001", "", "", "", ""],  # row 6: same number as row 3
            ["学生", "", "已有", "S-OLD", "", "", "", ""],  # row 7: already registered
            ["学生", "专任教师", "类型错", "S004", "", "", "没有的系", ""],  # row 8
            [None] * 8,  # blank rows are skipped
        ]
    )
    resp = await _upload(cloud, csrf, "registrants", "名单.xlsx", data)
    text = await resp.text()
    assert resp.status == 200 and "部分数据有问题未导入" in text
    job = await ImportJob.get(tenant=t)
    assert (job.state, job.total, job.imported, job.rejected) == (ImportState.done, 7, 2, 5)
    row = _rows(text)[0]
    assert "名单.xlsx" in row and "已完成" in row and "问题数据下载" in row
    imported = {r.number: r for r in await Registrant.filter(tenant=t).exclude(number="S-OLD")}
    assert set(imported) == {"T001", "S001"}
    teacher = imported["T001"]
    assert teacher.identity_type_id is not None and teacher.department_id is not None
    assert teacher.id_card_tail == "12345X" and teacher.unit == "教务处"
    assert imported["S001"].name == "小明"  # the first of the two S001 rows
    # Imported registrants have no rules, but every campus knows them (no gate yet).
    assert not await RegistrantRule.filter(tenant=t).exists()
    change = await StateChange.get(site_id=place.site.id, entity="registrant", key=str(teacher.id))
    assert change.data is not None and change.data["windows"] == []
    # The rejected rows, as they were, with why.
    download = await cloud.get(f"/campus/imports/{job.id}/rejects.xlsx")
    assert download.status == 200
    assert "attachment" in download.headers["Content-Disposition"]
    lines = _read(await download.read())
    assert lines[0] == (*headers, "错误原因")
    reasons = {str(line[3]): str(line[-1]) for line in lines[1:]}
    assert set(reasons) == {"S002", "S003", "S001", "S-OLD", "S004"}
    assert reasons["S002"].startswith("第 4 行") and "手机号：须为 11 位手机号码" in reasons["S002"]
    assert (
        "第 5 行" in reasons["S003"]
        and "身份：须为 学生、教师、第三方服务人员 或 居民" in reasons["S003"]
    )
    assert "文件中学号/工号重复" in reasons["S001"] and "与第 3 行重复" in reasons["S001"]
    assert "该身份下已有相同学号/工号的备案人" in reasons["S-OLD"]
    assert "身份类型：该备案人身份下没有此身份类型" in reasons["S004"]
    assert "部门：没有此部门" in reasons["S004"]


async def test_a_file_that_is_not_a_spreadsheet_imports_nothing(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    csv = "身份,姓名,学号/工号\n学生,小明,S001\n".encode()
    resp = await _upload(cloud, csrf, "registrants", "名单.csv", csv)
    text = await resp.text()
    assert "导入失败，未导入任何数据" in text
    job = await ImportJob.get(tenant=admin.tenant)
    assert job.state == ImportState.failed and job.imported == 0 and job.rejects is None
    assert "不是有效的 Excel (.xlsx) 文件" in job.error
    row = _rows(text)[0]
    assert "失败" in row and "不是有效的 Excel (.xlsx) 文件" in row and "问题数据下载" not in row
    assert not await Registrant.filter(tenant=admin.tenant).exists()
    assert (await cloud.get(f"/campus/imports/{job.id}/rejects.xlsx")).status == 404


async def test_wrong_columns_and_oversized_files_fail_with_a_clear_error(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    await _upload(cloud, csrf, "registrants", "a.xlsx", _xlsx([["姓名", "手机"], ["小明", "1"]]))
    await _upload(cloud, csrf, "registrants", "b.xlsx", b"PK" + b"\0" * MAX_BYTES)
    jobs = await ImportJob.filter(tenant=admin.tenant).order_by("id")
    assert [j.state for j in jobs] == [ImportState.failed, ImportState.failed]
    assert "表头缺少列：身份、身份类型" in jobs[0].error
    assert "文件超过 5 MB" in jobs[1].error
    assert not await Registrant.filter(tenant=admin.tenant).exists()


async def test_vehicles_import_approved_and_published(cloud: Client) -> None:
    csrf, admin, place = await _admin(cloud)
    t = admin.tenant
    owner = await Registrant.create(tenant=t, kind=IdentityKind.teacher, name="王老师", number="T1")
    await Vehicle.create(tenant=t, registrant=owner, kind=VehicleKind.motor, plate="京A00001")
    later = (date.today() + timedelta(days=400)).isoformat()
    data = _xlsx(
        [
            VEHICLE_SHEET.headers(),
            ["机动车", "京a·12345", "王老师", "本人", "T1", "教师", ""],
            ["电动自行车", "EB-007", "王小明", "子女", "T1", "教师", later],
            ["机动车", "ABC123", "", "", "T1", "教师", ""],  # row 4: not a plate
            ["机动车", "京B12345", "", "", "T9", "教师", ""],  # row 5: no such registrant
            ["机动车", "京A00001", "", "", "T1", "教师", ""],  # row 6: already registered
            ["电动自行车", "EB-008", "", "朋友", "T1", "教师", ""],  # row 7: bad relation
        ]
    )
    resp = await _upload(cloud, csrf, "vehicles", "车辆.xlsx", data)
    assert "部分数据有问题未导入" in await resp.text()
    job = await ImportJob.get(tenant=t)
    assert (job.total, job.imported, job.rejected) == (6, 2, 4)
    motor = await Vehicle.get(tenant=t, plate="京A12345")
    ebike = await Vehicle.get(tenant=t, plate="EB-007")
    for vehicle in (motor, ebike):
        assert vehicle.status == ReviewStatus.approved and vehicle.reviewer == admin.account
        assert vehicle.registrant_id == owner.id and vehicle.reviewed_at is not None
    assert ebike.valid_until == date.fromisoformat(later) and motor.valid_until is None
    change = await StateChange.get(site_id=place.site.id, entity="vehicle", key="京A12345")
    assert change.data is not None and change.data["registrant"] == str(owner.id)
    lines = _read(await (await cloud.get(f"/campus/imports/{job.id}/rejects.xlsx")).read())
    reasons = [str(line[-1]) for line in lines[1:]]
    assert reasons[0].startswith("第 4 行") and "号牌号码：不是有效的车牌号" in reasons[0]
    assert "找不到该身份、该学号/工号的备案人" in reasons[1]
    assert "该号牌已备案" in reasons[2]
    assert "与车主关系：须为 本人、配偶、父母、子女、亲属 或 其他" in reasons[3]
    # The registrant list now counts them (approved ones: 京A00001 still awaits review).
    listing = await (await cloud.get("/campus/registrants?kind=teacher")).text()
    cells = re.findall(r"<td[^>]*>\s*(.*?)\s*</td>", _rows(listing)[0], re.S)
    assert cells[6] == "1" and cells[7] == "1"


async def test_templates_download_with_chinese_headers(cloud: Client) -> None:
    await _admin(cloud)
    for kind, first in (("registrants", "身份*"), ("vehicles", "车辆类型*")):
        resp = await cloud.get(f"/campus/imports/templates/{kind}.xlsx")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        lines = _read(await resp.read())
        assert lines[0][0] == first and len(lines) == 2  # headers and the example row
    page = await (await cloud.get("/campus/imports/new?kind=vehicles")).text()
    assert (
        "/campus/imports/templates/vehicles.xlsx" in page
        and 'enctype="multipart/form-data"' in page
    )


async def test_api_upload_results_and_rejects(cloud: Client) -> None:
    csrf, admin, _ = await _admin(cloud)
    data = _xlsx(
        [
            REGISTRANT_SHEET.headers(),
            ["居民", "", "赵大爷", "R1", "", "", "", "3 号楼"],
            ["居民", "", "", "R2", "", "", "", ""],
        ]
    )
    form = FormData()
    form.add_field("kind", "registrants")
    form.add_field("file", data, filename="r.xlsx")
    resp = await cloud.post(f"{API_PREFIX}/imports", data=form, headers={"X-CSRF-Token": csrf})
    assert resp.status == 201, await resp.text()
    job = await resp.json()
    assert (job["state"], job["imported"], job["rejected"], job["has_rejects"]) == (
        "done",
        1,
        1,
        True,
    )
    assert await Registrant.filter(tenant=admin.tenant, number="R1", unit="3 号楼").exists()
    rejects = await cloud.get(f"{API_PREFIX}/imports/{job['id']}/rejects")
    assert rejects.status == 200
    assert "姓名：必填" in str(_read(await rejects.read())[1][-1])
    listing = await (await cloud.get(f"{API_PREFIX}/imports?kind=registrants")).json()
    assert listing["total"] == 1 and listing["items"][0]["filename"] == "r.xlsx"
    bad = FormData()
    bad.add_field("kind", "registrants")
    bad.add_field("file", b"not a spreadsheet", filename="x.xlsx")
    failed = await cloud.post(f"{API_PREFIX}/imports", data=bad, headers={"X-CSRF-Token": csrf})
    body = await failed.json()
    assert body["state"] == "failed" and "不是有效的 Excel" in body["error"]
    assert await Registrant.filter(tenant=admin.tenant).count() == 1
