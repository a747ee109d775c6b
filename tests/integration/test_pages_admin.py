"""Admin list, form, export and action pages through HTTP, as a signed-in administrator."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.access import service as access_service
from cloud.access.models import ListEntry
from cloud.org.models import AuditLog, Position, User
from cloud.sites.models import Lane, StateChange
from tests.conftest import TenantAdmin, make_tenant, sign_in
from tests.e2e.seed import add_records, make_place

Client = TestClient[web.Request, web.Application]


async def _admin(cloud: Client, code: str = "alpha") -> tuple[str, TenantAdmin]:
    admin = await make_tenant(code)
    return await sign_in(cloud, admin.account, admin.password), admin


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)


async def _xlsx(resp: ClientResponse) -> list[tuple[object, ...]]:
    data = await resp.read()
    book = load_workbook(io.BytesIO(data), read_only=True)
    return [tuple(row) for row in book.active.iter_rows(values_only=True)]


async def test_user_form_errors_name_the_field_and_keep_values(cloud: Client) -> None:
    csrf, _ = await _admin(cloud)
    resp = await cloud.post(
        "/users/new",
        data={"_csrf": csrf, "account": "a!", "name": "王五", "password": "short", "phone": ""},
    )
    text = await resp.text()
    assert resp.status == 400
    assert 'data-field="account"' in text and 'data-field="password"' in text
    assert "账号: 格式不正确" in text
    assert 'value="王五"' in text  # kept
    assert "short" not in text  # passwords are never echoed
    assert await User.filter(name="王五").count() == 0


async def test_conflict_is_shown_next_to_the_field(cloud: Client) -> None:
    csrf, _ = await _admin(cloud)
    resp = await cloud.post(
        "/users/new",
        data={"_csrf": csrf, "account": "alpha-admin", "name": "X", "password": "Secret-123"},
    )
    text = await resp.text()
    assert resp.status == 400 and 'data-field="account"' in text and "已被使用" in text


async def test_create_then_edit_user_through_forms(cloud: Client) -> None:
    csrf, _ = await _admin(cloud)
    form = {
        "_csrf": csrf,
        "account": "guard",
        "name": "门卫甲",
        "password": "Secret-123",
        "language": "zh",
    }
    resp = await cloud.post("/users/new", data=form, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/users"
    listing = await (await cloud.get("/users")).text()
    assert "门卫甲" in listing and "已保存" in listing
    user = await User.get(account="guard")
    edit = await (await cloud.get(f"/users/{user.id}/edit")).text()
    assert 'value="guard"' in edit and 'type="password"' in edit
    resp = await cloud.post(
        f"/users/{user.id}/edit",
        data={
            "_csrf": csrf,
            "account": "guard",
            "name": "门卫乙",
            "password": "",
            "language": "en",
        },
        allow_redirects=False,
    )
    assert resp.status == 302
    changed = await User.get(id=user.id)
    assert changed.name == "门卫乙" and changed.language == "en"
    assert changed.password_hash == user.password_hash  # empty password keeps it


async def test_role_form_with_permission_checkboxes(cloud: Client) -> None:
    csrf, _ = await _admin(cloud)
    resp = await cloud.post(
        "/roles/new",
        data=[
            ("_csrf", csrf),
            ("name", "值班"),
            ("permissions", "access.view"),
            ("permissions", "lists.view"),
        ],
        allow_redirects=False,
    )
    assert resp.status == 302
    text = await (await cloud.get("/roles")).text()
    assert "查看过车记录" in text and "查看名单规则" in text


async def test_list_filter_sort_and_pagination(cloud: Client) -> None:
    _, admin = await _admin(cloud)
    await Position.bulk_create(
        [Position(tenant_id=admin.tenant.id, name=f"岗位{n:02d}") for n in range(30)]
    )
    first = await (await cloud.get("/positions")).text()
    assert len(_rows(first)) == 20 and "共 30 条" in first
    assert 'href="/positions?page=2"' in first
    second = await (await cloud.get("/positions?page=2")).text()
    assert len(_rows(second)) == 10
    small = await (await cloud.get("/positions?page_size=10&page=3")).text()
    assert len(_rows(small)) == 10 and "岗位29" in small
    desc = await (await cloud.get("/positions?sort=name&desc=1")).text()
    assert "岗位29" in _rows(desc)[0]
    filtered = await (await cloud.get("/positions?q=岗位1")).text()
    assert len(_rows(filtered)) == 10 and "共 10 条" in filtered
    # A bad filter value is reported, not a crash.
    bad = await cloud.get("/positions?enabled=maybe")
    assert bad.status == 200 and 'data-field="enabled"' in await bad.text()


async def test_enable_disable_and_delete_ask_first_then_post(cloud: Client) -> None:
    csrf, admin = await _admin(cloud)
    place = await make_place(admin.tenant)
    lane = place.entry
    confirm = await cloud.get(f"/lanes/{lane.id}/disable")
    text = await confirm.text()
    assert confirm.status == 200 and "确定停用" in text and lane.name in text
    assert (await Lane.get(id=lane.id)).enabled  # asking changed nothing
    resp = await cloud.post(
        f"/lanes/{lane.id}/disable", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302
    assert not (await Lane.get(id=lane.id)).enabled
    published = await StateChange.filter(key=lane.code).order_by("-revision").first()
    assert published is not None and published.data is not None
    assert published.data["enabled"] is False
    await cloud.post(f"/lanes/{lane.id}/enable", data={"_csrf": csrf})
    assert (await Lane.get(id=lane.id)).enabled
    assert "确定删除" in await (await cloud.get(f"/lanes/{lane.id}/delete")).text()
    await cloud.post(f"/lanes/{lane.id}/delete", data={"_csrf": csrf})
    assert not await Lane.exists(id=lane.id)
    actions = await AuditLog.filter(entity="lane").order_by("id").values_list("action", flat=True)
    assert actions == ["disable", "enable", "delete"]


async def test_delete_refused_when_in_use_shows_message(cloud: Client) -> None:
    csrf, admin = await _admin(cloud)
    place = await make_place(admin.tenant)
    resp = await cloud.post(f"/gates/{place.gate.id}/delete", data={"_csrf": csrf})
    assert "仍被使用" in await resp.text()


async def test_whitelist_form_normalises_and_publishes(cloud: Client) -> None:
    csrf, admin = await _admin(cloud)
    place = await make_place(admin.tenant)
    bad = await cloud.post(
        "/lists/new",
        data={"_csrf": csrf, "site_id": str(place.site.id), "kind": "whitelist", "plate": "xyz"},
    )
    assert bad.status == 400 and "不是有效的车牌号" in await bad.text()
    resp = await cloud.post(
        "/lists/new",
        data={
            "_csrf": csrf,
            "site_id": str(place.site.id),
            "kind": "whitelist",
            "plate": "京a 12345",
            "valid_from": "2024-05-01T08:00",
            "note": "",
        },
        allow_redirects=False,
    )
    assert resp.status == 302
    entry = await ListEntry.get(plate="京A12345")
    assert entry.valid_from == datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # entered in Shanghai time
    assert await StateChange.filter(key="whitelist:京A12345").exists()
    listing = await (await cloud.get("/lists?kind=whitelist")).text()
    assert "京A12345" in listing and "2024-05-01 08:00:00" in listing


async def test_records_filters_time_range_in_site_zone(cloud: Client) -> None:
    _, admin = await _admin(cloud)
    place = await make_place(admin.tenant)
    start = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    await add_records(
        place,
        ["京A12345", "沪B55555", "京A12345", "粤C11111"],
        start=start,
        step=timedelta(hours=1),
    )
    text = await (await cloud.get("/records?plate=京A12345")).text()
    assert len(_rows(text)) == 2 and "2024-05-01 12:00:00" in text
    ranged = await (
        await cloud.get("/records?occurred_from=2024-05-01T10:30&occurred_to=2024-05-01T11:30")
    ).text()
    assert len(_rows(ranged)) == 1 and "沪B55555" in ranged
    denied = await (await cloud.get("/records?verdict=deny")).text()
    assert len(_rows(denied)) == 2
    assert "拒绝" in denied


async def test_records_total_shows_cap(cloud: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    _, admin = await _admin(cloud)
    place = await make_place(admin.tenant)
    await add_records(place, [f"京A{n:05d}" for n in range(8)])
    monkeypatch.setattr(access_service, "RECORD_COUNT_CAP", 5)
    assert "共 5+ 条" in await (await cloud.get("/records")).text()


async def test_export_contains_exactly_the_filtered_rows(cloud: Client) -> None:
    _, admin = await _admin(cloud)
    place = await make_place(admin.tenant)
    start = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
    await add_records(place, ["京A12345", "沪B55555", "京A12345"], start=start)
    resp = await cloud.get("/records/export.xlsx?plate=京A12345")
    assert resp.status == 200
    assert "spreadsheetml" in resp.headers["Content-Type"]
    assert 'filename="records-' in resp.headers["Content-Disposition"]
    rows = await _xlsx(resp)
    assert rows[0][:2] == ("通行时间", "车牌号")
    assert [row[1] for row in rows[1:]] == ["京A12345", "京A12345"]
    assert rows[1][0] == datetime(2024, 5, 1, 12, 0)  # a real Excel time, in Shanghai time
    assert rows[1][6] == "放行"


async def test_export_is_paged_through_every_row(
    cloud: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, admin = await _admin(cloud)
    monkeypatch.setattr("cloud.ui.EXPORT_BATCH", 7)
    await Position.bulk_create(
        [Position(tenant_id=admin.tenant.id, name=f"岗位{n:02d}") for n in range(23)]
    )
    rows = await _xlsx(await cloud.get("/positions/export.xlsx?sort=name"))
    assert [r[0] for r in rows[1:]] == [f"岗位{n:02d}" for n in range(23)]


async def test_home_shows_counts_and_svg_trend(cloud: Client) -> None:
    _, admin = await _admin(cloud)
    place = await make_place(admin.tenant)
    await add_records(place, ["京A12345", "沪B55555", "粤C11111"], step=timedelta(seconds=1))
    text = await (await cloud.get("/")).text()
    assert "<svg" in text and 'class="bar-open"' in text
    assert re.search(r'stat-label">今日通行</div><div class="stat-value">3<', text)
    assert place.site.name in text


async def test_audit_page_lists_changes(cloud: Client) -> None:
    csrf, _ = await _admin(cloud)
    await cloud.post("/positions/new", data={"_csrf": csrf, "name": "保安"})
    text = await (await cloud.get("/audit?entity=position")).text()
    assert "岗位" in text and "保安" in text and "新建" in text


@pytest.mark.parametrize(
    "path",
    [
        "/users",
        "/roles",
        "/departments",
        "/positions",
        "/audit",
        "/sites",
        "/gates",
        "/lanes",
        "/devices",
        "/lists",
        "/rules",
        "/records",
        "/users/new",
        "/sites/new",
        "/gates/new",
        "/lanes/new",
        "/devices/new",
        "/lists/new",
        "/rules/new",
        "/roles/new",
        "/departments/new",
        "/positions/new",
    ],
)
async def test_every_page_renders_in_both_languages(cloud: Client, path: str) -> None:
    csrf, admin = await _admin(cloud)
    await make_place(admin.tenant)
    zh = await cloud.get(path)
    assert zh.status == 200, await zh.text()
    await cloud.post("/language", data={"lang": "en", "next": "/", "_csrf": csrf})
    en = await cloud.get(path)
    text = await en.text()
    assert en.status == 200
    assert "Sign out" in text
