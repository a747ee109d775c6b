"""Collectors and their attendance on the real database and the real cloud app: what the PDAs
of a collector's sections are told on create, change, password reset, 离职 and 强制签退, what is
refused with nothing changed, the list filters and Excel exports, and the JSON API."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.api import API_PREFIX
from cloud.auth import Principal
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.models import AuditLog, Tenant
from cloud.parking import collectors
from cloud.parking.collector_schemas import (
    CollectorCreate,
    CollectorFilter,
    CollectorUpdate,
    PasswordIn,
    ShiftFilter,
)
from cloud.parking.models import Collector, CollectorShift
from cloud.passwords import verify_password
from cloud.sites.models import Site, StateChange
from protocols.parking import CollectorGrant
from protocols.site import SiteKind
from protocols.sync import Entity
from tests.conftest import make_tenant, sign_in
from tests.e2e.seed import principal_of_user

Client = TestClient[web.Request, web.Application]
ZONE = ZoneInfo("Asia/Shanghai")
SECRET = "Collector-Pass-1"


async def _me(code: str = "alpha") -> tuple[Principal, Tenant, Site, Site, Site]:
    """A tenant with two road sections and a lot."""
    admin = await make_tenant(code)
    tenant = admin.tenant
    one = await Site.create(
        tenant=tenant, code=f"{code}-road-1", name="人民路", kind=SiteKind.street_section
    )
    two = await Site.create(
        tenant=tenant, code=f"{code}-road-2", name="解放路", kind=SiteKind.street_section
    )
    lot = await Site.create(
        tenant=tenant, code=f"{code}-lot", name="停车场", kind=SiteKind.parking_lot
    )
    return principal_of_user(admin.user), tenant, one, two, lot


async def _collector(
    me: Principal, sections: list[int], account: str = "c001", **extra: Any
) -> int:
    data = {
        "account": account,
        "name": "王收费",
        "employee_no": "E001",
        "phone": "13900000001",
        "password": SECRET,
        "sections": sections,
        **extra,
    }
    return (await collectors.create_collector(me, CollectorCreate.model_validate(data))).id


async def _grant(site_id: int, account: str) -> CollectorGrant | None:
    row = (
        await StateChange.filter(site_id=site_id, entity=Entity.collector.value, key=account)
        .order_by("-revision")
        .first()
    )
    assert row is not None, f"collector {account} was published at site {site_id}"
    return None if row.data is None else CollectorGrant.model_validate(row.data)


async def _shift(
    tenant: Tenant,
    site: Site,
    account: str,
    signed_in_at: datetime,
    signed_out_at: datetime | None = None,
    **takings: Any,
) -> CollectorShift:
    """A shift as the PDA ingest writes it."""
    return await CollectorShift.create(
        tenant=tenant,
        uuid=uuid.uuid4(),
        collector=account,
        site=site,
        device="PDA-01",
        signed_in_at=signed_in_at,
        signed_out_at=signed_out_at,
        **takings,
    )


async def test_a_collector_is_published_to_its_sections_only(db: str) -> None:
    me, tenant, one, two, lot = await _me()
    # A lot is no section; refused with nothing made or published.
    with pytest.raises(Invalid) as refused:
        await _collector(me, [one.id, lot.id])
    assert refused.value.field == "sections"
    assert not await Collector.exists() and not await StateChange.exists()
    ident = await _collector(me, [one.id])
    grant = await _grant(one.id, "c001")
    assert grant is not None and grant.enabled and grant.name == "王收费"
    assert grant.sections == ["alpha-road-1"] and verify_password(SECRET, grant.password_hash)
    assert not await StateChange.filter(site_id__in=[two.id, lot.id]).exists()
    out = await collectors.get_collector(me, ident)
    assert "password" not in out.model_dump_json() and SECRET not in out.model_dump_json()
    with pytest.raises(Conflict):
        await _collector(me, [two.id])
    # Moved to the other section: withdrawn from the first.
    await collectors.update_collector(
        me, ident, CollectorUpdate(name="王收费", phone="13900000001", sections=[two.id])
    )
    assert await _grant(one.id, "c001") is None
    moved = await _grant(two.id, "c001")
    assert moved is not None and moved.sections == ["alpha-road-2"]
    # A password reset reaches the section; the audit log never holds it or its hash.
    await collectors.reset_password(me, ident, PasswordIn(password="Another-Pass-2"))
    reset = await _grant(two.id, "c001")
    assert reset is not None and verify_password("Another-Pass-2", reset.password_hash)
    assert not verify_password(SECRET, reset.password_hash)
    logged = " ".join(str(row.detail) for row in await AuditLog.filter(entity="collector"))
    assert "scrypt$" not in logged and SECRET not in logged and "Another-Pass-2" not in logged
    # 离职: published disabled at once, an open shift signed out; back to work: enabled.
    shift = await _shift(tenant, two, "c001", datetime.now(UTC) - timedelta(hours=2))
    resigned = await collectors.set_active(me, ident, False)
    assert not resigned.active and not resigned.signed_in
    off = await _grant(two.id, "c001")
    assert off is not None and not off.enabled
    assert (await CollectorShift.get(id=shift.id)).signed_out_at is not None
    await collectors.set_active(me, ident, True)
    on = await _grant(two.id, "c001")
    assert on is not None and on.enabled
    # One who worked a shift is not deleted; one who never did is, and withdrawn.
    with pytest.raises(Conflict):
        await collectors.delete_collector(me, ident)
    fresh = await _collector(me, [one.id, two.id], account="c002")
    await collectors.delete_collector(me, fresh)
    assert await _grant(one.id, "c002") is None and await _grant(two.id, "c002") is None


async def test_force_sign_out_closes_the_open_shift(db: str) -> None:
    me, tenant, one, two, _ = await _me()
    ident = await _collector(me, [one.id, two.id])
    other = await _collector(me, [two.id], account="c002")
    began = datetime.now(UTC) - timedelta(hours=3)
    mine = await _shift(tenant, one, "c001", began, cash_fen=500)
    theirs = await _shift(tenant, two, "c002", began)
    listed = await collectors.get_collector(me, ident)
    assert listed.signed_in and listed.signed_in_section == "人民路"
    revision = (await Site.get(id=one.id)).revision
    before = datetime.now(UTC)
    out = await collectors.force_sign_out(me, ident)
    assert not out.signed_in
    closed = await CollectorShift.get(id=mine.id)
    assert closed.signed_out_at is not None and closed.signed_out_at >= before - timedelta(
        seconds=1
    )
    assert closed.cash_fen == 500
    assert (await CollectorShift.get(id=theirs.id)).signed_out_at is None
    assert (await Site.get(id=one.id)).revision > revision  # published again
    with pytest.raises(Invalid) as refused:
        await collectors.force_sign_out(me, ident)
    assert refused.value.message == "parking.collectors.error.not_signed_in"
    assert (await collectors.get_collector(me, other)).signed_in


async def test_attendance_filters_and_late_or_early(db: str) -> None:
    me, tenant, one, two, _ = await _me()
    await _collector(me, [one.id, two.id])
    await _collector(me, [two.id], account="c002", name="李巡查")
    day = datetime(2026, 3, 2, tzinfo=ZONE)
    a = await _shift(
        tenant, one, "c001", day.replace(hour=7, minute=55), day.replace(hour=17, minute=30),
        cash_fen=1_200, qr_fen=800, arrears_fen=5_000, receipts=7,
    )  # fmt: skip
    b = await _shift(
        tenant, two, "c002", day.replace(hour=8, minute=20), day.replace(hour=16, minute=10)
    )
    c = await _shift(tenant, two, "c001", (day + timedelta(days=1)).replace(hour=8))
    page = PageParams()

    async def rows(**given: Any) -> dict[int, Any]:
        found = await collectors.list_shifts(me, ShiftFilter.model_validate(given), page)
        return {row.id: row for row in found.items}

    assert set(await rows()) == {a.id, b.id, c.id}
    assert set(await rows(section_id=two.id)) == {b.id, c.id}
    assert set(await rows(collector="李")) == {b.id}
    assert set(await rows(collector="c001")) == {a.id, c.id}
    assert set(await rows(open=True)) == {c.id}
    assert set(await rows(signed_in_from=day, signed_in_to=day + timedelta(days=1))) == {a.id, b.id}
    flagged = await rows(starts="08:00", ends="17:00")
    assert (flagged[a.id].late, flagged[a.id].early) == (False, False)
    assert (flagged[b.id].late, flagged[b.id].early) == (True, True)
    assert (flagged[c.id].late, flagged[c.id].early) == (False, None)  # still open
    first = flagged[a.id]
    assert (first.cash, first.qr, first.arrears, first.total) == ("12.00", "8.00", "50.00", "70.00")
    assert first.hours == "9.5" and first.collector_name == "王收费" and first.receipts == 7
    assert (await rows())[a.id].late is None  # no expected start given: no flag
    # The collector list filters.
    listed = await collectors.list_collectors(me, CollectorFilter(section_id=one.id), page)
    assert [r.account for r in listed.items] == ["c001"]
    listed = await collectors.list_collectors(me, CollectorFilter(name="李"), page)
    assert [r.account for r in listed.items] == ["c002"]
    await collectors.set_active(me, listed.items[0].id, False)
    listed = await collectors.list_collectors(me, CollectorFilter(active=False), page)
    assert [r.account for r in listed.items] == ["c002"]
    listed = await collectors.list_collectors(me, CollectorFilter(account="C00"), page)
    assert [r.account for r in listed.items] == ["c001", "c002"]


async def test_pages_exports_and_api(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    me = principal_of_user(admin.user)
    road = await Site.create(
        tenant=admin.tenant, code="road-1", name="人民路", kind=SiteKind.street_section
    )
    csrf = {"_csrf": await sign_in(cloud, admin.account, admin.password)}
    form = await cloud.get("/parking/collectors/new")
    assert form.status == 200 and "人民路" in await form.text()
    data = {"account": "c001", "name": "王收费", "employee_no": "E001", "phone": "13900000001",
            "sections": str(road.id)}  # fmt: skip
    resp = await cloud.post("/parking/collectors/new", data={**csrf, **data, "password": "short"})
    assert resp.status == 400 and not await Collector.exists()
    resp = await cloud.post(
        "/parking/collectors/new", data={**csrf, **data, "password": SECRET}, allow_redirects=False
    )
    assert resp.status == 302, await resp.text()
    row = await Collector.get(account="c001")
    assert verify_password(SECRET, row.password_hash)
    shift = await _shift(
        admin.tenant, road, "c001", datetime.now(UTC) - timedelta(hours=1), cash_fen=300
    )
    listed = await cloud.get("/parking/collectors?account=c0")
    text = await listed.text()
    assert 'data-signed-in="true"' in text and 'data-active="true"' in text
    assert SECRET not in text and "scrypt" not in text
    assert f'href="/parking/collectors/{row.id}/sign-out"' in text
    # 强制签退 from the row.
    confirm = await cloud.get(f"/parking/collectors/{row.id}/sign-out")
    assert confirm.status == 200 and "强制签退" in await confirm.text()
    resp = await cloud.post(
        f"/parking/collectors/{row.id}/sign-out", data=csrf, allow_redirects=False
    )
    assert resp.status == 302
    assert (await CollectorShift.get(id=shift.id)).signed_out_at is not None
    resp = await cloud.post(f"/parking/collectors/{row.id}/sign-out", data=csrf)
    assert resp.status == 400 and "没有签到" in await resp.text()
    # A reset password too short is refused, the hash unchanged.
    resp = await cloud.post(
        f"/parking/collectors/{row.id}/reset-password", data={**csrf, "password": "x"}
    )
    assert resp.status == 400
    assert (await Collector.get(id=row.id)).password_hash == row.password_hash
    # Attendance: the page, its filters and the export.
    page = await cloud.get("/parking/shifts?collector=王&starts=08:00")
    assert page.status == 200 and "人民路" in await page.text()
    resp = await cloud.get("/parking/shifts/export.xlsx?collector=王")
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    cells = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert cells[0][:4] == ["收费员", "账号", "员工编号", "路段"] and len(cells) == 2
    assert cells[1][0] == "王收费" and cells[1][8] == "3.00"
    resp = await cloud.get("/parking/collectors/export.xlsx?state=")
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    exported = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert exported[1][0] == "c001" and not any(SECRET in str(c) for r in exported for c in r)
    # The JSON API.
    resp = await cloud.post(
        f"{API_PREFIX}/auth/login", json={"account": admin.account, "password": admin.password}
    )
    token = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
    body = {**data, "account": "c002", "sections": [road.id], "password": SECRET}
    resp = await cloud.post(f"{API_PREFIX}/collectors", json=body, headers=token)
    made = await resp.json()
    assert resp.status == 201, made
    assert "password" not in made and "password_hash" not in made
    resp = await cloud.post(f"{API_PREFIX}/collectors", json=body, headers=token)
    assert resp.status == 409 and (await resp.json())["field"] == "account"
    resp = await cloud.post(
        f"{API_PREFIX}/collectors/{made['id']}/reset-password",
        json={"password": "Brand-New-Pass-3"},
        headers=token,
    )
    assert resp.status == 200
    grant = await _grant(road.id, "c002")
    assert grant is not None and verify_password("Brand-New-Pass-3", grant.password_hash)
    resp = await cloud.post(f"{API_PREFIX}/collectors/{made['id']}/sign-out", headers=token)
    assert resp.status == 422 and (await resp.json())["field"] == "signed_in"
    resp = await cloud.post(f"{API_PREFIX}/collectors/{made['id']}/resign", headers=token)
    assert resp.status == 200 and (await resp.json())["active"] is False
    resp = await cloud.get(f"{API_PREFIX}/collector-shifts?collector=c001")
    shifts = await resp.json()
    assert resp.status == 200 and [s["cash_fen"] for s in shifts["items"]] == [300]
    # Another tenant's collector: 404 whatever the body; nothing of theirs changes.
    beta = await make_tenant("beta")
    them = principal_of_user(beta.user)
    beta_road = await Site.create(
        tenant=beta.tenant, code="beta-road", name="beta-road", kind=SiteKind.street_section
    )
    theirs = await _collector(them, [beta_road.id], account="beta-c")
    kept = (await Collector.get(id=theirs)).password_hash
    for slug in ("reset-password", "resign", "reinstate", "sign-out"):
        resp = await cloud.post(
            f"{API_PREFIX}/collectors/{theirs}/{slug}", json={"name": "hijack"}, headers=token
        )
        assert resp.status == 404, slug
    csrf = {"_csrf": await sign_in(cloud, admin.account, admin.password)}
    for slug in ("reset-password", "resign", "sign-out", "edit"):
        assert (await cloud.get(f"/parking/collectors/{theirs}/{slug}")).status == 404
        resp = await cloud.post(
            f"/parking/collectors/{theirs}/{slug}", data={**csrf, "password": "Hijack-Pass-1"}
        )
        assert resp.status == 404, slug
    theirs_row = await Collector.get(id=theirs)
    assert theirs_row.active and theirs_row.password_hash == kept
    with pytest.raises(NotFound):
        await collectors.get_collector(me, theirs)
    assert "beta-c" not in await (await cloud.get("/parking/collectors")).text()
    assert re.search(r"c001", await (await cloud.get("/parking/shifts")).text())
