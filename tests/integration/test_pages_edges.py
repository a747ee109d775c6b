"""Edge, command and dead-letter pages through HTTP: the one-time enrollment token page, revoke
and re-enroll, the open-barrier action on lanes, and every new page in Chinese and English."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.org.models import AuditLog
from cloud.sites.models import Command, CommandState, Edge, Site, SyncEvent
from tests.conftest import TenantAdmin, make_tenant, sign_in
from tests.e2e.seed import Place, make_place

Client = TestClient[web.Request, web.Application]
TOKEN = re.compile(r'<code id="enroll-token"[^>]*>([A-Za-z0-9_-]{40,})</code>')


async def _admin(cloud: Client) -> tuple[str, TenantAdmin, Place]:
    admin = await make_tenant("alpha")
    place = await make_place(admin.tenant)
    return await sign_in(cloud, admin.account, admin.password), admin, place


async def _create(cloud: Client, csrf: str, place: Place, code: str = "north-box") -> str:
    """Create an edge through the form; returns the page it lands on (the token page)."""
    resp = await cloud.post(
        "/edges/new",
        data={"_csrf": csrf, "code": code, "name": "北门边缘", "site_ids": str(place.site.id)},
    )
    assert resp.status == 200, await resp.text()
    return await resp.text()


async def test_create_shows_the_token_and_command_once(cloud: Client) -> None:
    csrf, _, place = await _admin(cloud)
    text = await _create(cloud, csrf, place)
    edge = await Edge.get(code="north-box")
    found = TOKEN.search(text)
    assert found, text
    token = found.group(1)
    assert hashlib.sha256(token.encode()).hexdigest() == edge.enroll_token_hash
    base = str(cloud.make_url("")).rstrip("/")
    assert f"wayside edge enroll --cloud {base} --token {token}" in text
    assert "注册边缘节点" in text and "待注册" in text
    # A reload shows the page without the token, and says how to get a new one.
    again = await cloud.get(f"/edges/{edge.id}/enrolled")
    reloaded = await again.text()
    assert again.status == 200 and token not in reloaded
    assert "显示一次" in reloaded and f"/edges/{edge.id}/reenroll" in reloaded
    assert again.headers["Cache-Control"] == "no-store"
    # The token is nowhere else: not in the list, not in the edit form, not in the audit log.
    for path in ("/edges", f"/edges/{edge.id}/edit", "/audit"):
        page = await cloud.get(path)
        assert page.status == 200
        assert token not in await page.text(), path
    logged = await AuditLog.get(entity="edge")
    assert token not in str(logged.detail)


async def test_a_form_error_keeps_values_and_creates_nothing(cloud: Client) -> None:
    csrf, _, place = await _admin(cloud)
    resp = await cloud.post(
        "/edges/new",
        data={"_csrf": csrf, "code": "Bad Code!", "name": "北门", "site_ids": str(place.site.id)},
    )
    text = await resp.text()
    assert resp.status == 400 and 'data-field="code"' in text and 'value="北门"' in text
    assert "enroll-token" not in text
    assert not await Edge.all().exists()


async def test_a_token_cookie_for_another_token_shows_nothing(cloud: Client) -> None:
    csrf, _, place = await _admin(cloud)
    await _create(cloud, csrf, place)
    edge = await Edge.get(code="north-box")
    cloud.session.cookie_jar.update_cookies(
        {"wayside_enroll": "not-the-token-but-long-enough-to-look-real-000"},
        cloud.make_url(f"/edges/{edge.id}/enrolled"),
    )
    text = await (await cloud.get(f"/edges/{edge.id}/enrolled")).text()
    assert "enroll-token" not in text and "not-the-token" not in text


async def test_revoke_and_reenroll_through_the_pages(cloud: Client) -> None:
    csrf, _, place = await _admin(cloud)
    await _create(cloud, csrf, place)
    edge = await Edge.get(code="north-box")
    await Edge.filter(id=edge.id).update(public_key="k" * 43, enroll_token_hash="")
    confirm = await cloud.get(f"/edges/{edge.id}/revoke")
    assert confirm.status == 200 and "确定吊销" in await confirm.text()
    resp = await cloud.post(f"/edges/{edge.id}/revoke", data={"_csrf": csrf})
    assert resp.status == 200 and "已吊销" in await resp.text()
    row = await Edge.get(id=edge.id)
    assert row.revoked_at is not None and row.public_key == ""
    resp = await cloud.post(f"/edges/{edge.id}/reenroll", data={"_csrf": csrf})
    text = await resp.text()
    found = TOKEN.search(text)
    assert resp.status == 200 and found, text
    row = await Edge.get(id=edge.id)
    assert row.revoked_at is None
    assert row.enroll_token_hash == hashlib.sha256(found.group(1).encode()).hexdigest()


async def test_edges_list_shows_status_revisions_and_skew(cloud: Client) -> None:
    csrf, _, place = await _admin(cloud)
    await _create(cloud, csrf, place, "box-a")
    await _create(cloud, csrf, place, "box-b")
    await Site.filter(id=place.site.id).update(revision=9)
    seen = datetime(2026, 5, 1, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai
    await Edge.filter(code="box-a").update(
        public_key="k" * 43,
        applied_revisions={place.site.code: 4},
        acked_seq=321,
        backlog=17,
        clock_skew_ms=75_000,
        last_seen_at=seen,
    )
    await Edge.filter(code="box-b").update(enroll_expires_at=datetime.now(UTC) - timedelta(1))
    text = await (await cloud.get("/edges")).text()
    assert 'data-status="enrolled"' in text and 'data-status="expired"' in text
    assert "2026-05-01 12:30:00" in text
    assert re.search(r'<li class="behind" data-site="campus">.*?<strong>4</strong> / 9', text, re.S)
    assert 'data-skew="flagged"' in text and "+75.0" in text
    compact = re.sub(r"\s+", "", text)
    assert ">321<" in compact and ">17<" in compact
    only = await (await cloud.get("/edges?status=enrolled")).text()
    assert "box-a" in only and "box-b" not in only
    export = await cloud.get("/edges/export.xlsx")
    assert export.status == 200


async def test_open_barrier_from_the_lane_pages(cloud: Client) -> None:
    csrf, _, place = await _admin(cloud)
    lanes = await (await cloud.get("/lanes")).text()
    assert f'href="/lanes/{place.entry.id}/open-barrier"' in lanes and "抬杆" in lanes
    edit = await (await cloud.get(f"/lanes/{place.entry.id}/edit")).text()
    assert f'href="/lanes/{place.entry.id}/open-barrier"' in edit
    confirm = await cloud.get(f"/lanes/{place.entry.id}/open-barrier")
    assert confirm.status == 200 and "确定抬杆" in await confirm.text()
    assert not await Command.all().exists()  # asking is not doing
    before = datetime.now(UTC)
    resp = await cloud.post(f"/lanes/{place.entry.id}/open-barrier", data={"_csrf": csrf})
    text = await resp.text()
    assert resp.status == 200 and "抬杆指令已下发" in text
    assert str(resp.url).endswith(f"/commands?lane={place.entry.code}")
    command = await Command.get(lane=place.entry.code)
    assert command.state == CommandState.pending and command.kind == "open_barrier"
    assert command.expires_at - command.issued_at == timedelta(seconds=30)
    assert command.issued_at >= before
    assert "待执行" in text and place.entry.name in text
    await Command.filter(id=command.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert "已过期" in await (await cloud.get("/commands")).text()


async def test_dead_letters_page_shows_the_refused_payload(cloud: Client) -> None:
    csrf, _, place = await _admin(cloud)
    await _create(cloud, csrf, place)
    edge = await Edge.get(code="north-box")
    await SyncEvent.create(
        edge=edge,
        seq=5,
        uuid=uuid.uuid4(),
        type="access.decided",
        site=place.site.code,
        occurred_at=datetime.now(UTC),
        payload={"plate": "京A12345", "lane": "nowhere"},
        error="payload field 'lane': unknown lane",
    )
    text = await (await cloud.get("/dead-letters")).text()
    assert "unknown lane" in text and "<details" in text
    assert "&#34;plate&#34;: &#34;京A12345&#34;" in text or '"plate": "京A12345"' in text
    filtered = await (await cloud.get(f"/dead-letters?edge_id={edge.id + 1}")).text()
    assert "unknown lane" not in filtered


@pytest.mark.parametrize(
    "path",
    ["/edges", "/edges/new", "/commands", "/dead-letters", "/edges/{id}/edit", "/edges/{id}/revoke",
     "/edges/{id}/reenroll", "/edges/{id}/enrolled", "/lanes/{lane}/open-barrier"],
)  # fmt: skip
async def test_new_pages_render_in_both_languages(cloud: Client, path: str) -> None:
    csrf, _, place = await _admin(cloud)
    await _create(cloud, csrf, place)
    edge = await Edge.get(code="north-box")
    target = path.format(id=edge.id, lane=place.entry.id)
    zh = await cloud.get(target)
    assert zh.status == 200, await zh.text()
    assert "退出" in await zh.text()
    await cloud.post("/language", data={"lang": "en", "next": "/", "_csrf": csrf})
    en = await cloud.get(target)
    text = await en.text()
    assert en.status == 200 and "Sign out" in text
    assert not re.search(r"\b(edges|edge|command|commands|dead_letters|field)\.[a-z_]+\b", text)


# --- the same through the JSON API --------------------------------------------------------------


async def _api(cloud: Client) -> tuple[dict[str, str], Place]:
    admin = await make_tenant("alpha")
    place = await make_place(admin.tenant)
    resp = await cloud.post(
        "/api/v1/auth/login", json={"account": admin.account, "password": admin.password}
    )
    assert resp.status == 200
    return {"X-CSRF-Token": (await resp.json())["csrf_token"]}, place


async def test_api_creates_an_edge_answering_its_token_once(cloud: Client) -> None:
    headers, place = await _api(cloud)
    resp = await cloud.post(
        "/api/v1/edges",
        json={"code": "api-box", "name": "接口节点", "site_ids": [place.site.id]},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    token = body["token"]
    assert body["edge"]["status"] == "pending" and body["edge"]["site_ids"] == [place.site.id]
    row = await Edge.get(code="api-box")
    assert row.enroll_token_hash == hashlib.sha256(token.encode()).hexdigest()
    listed = await (await cloud.get("/api/v1/edges")).text()
    one = await (await cloud.get(f"/api/v1/edges/{row.id}")).text()
    assert token not in listed and token not in one and "enroll_token_hash" not in one
    refused = await cloud.post(
        "/api/v1/edges", json={"code": "x", "name": "y", "site_ids": [999_999]}, headers=headers
    )
    assert refused.status == 422 and (await refused.json())["field"] == "site_ids"
    revoked = await cloud.post(f"/api/v1/edges/{row.id}/revoke", headers=headers)
    assert revoked.status == 200 and (await revoked.json())["status"] == "revoked"
    again = await cloud.post(f"/api/v1/edges/{row.id}/reenroll", headers=headers)
    fresh = (await again.json())["token"]
    assert again.status == 200 and fresh != token
    assert (await Edge.get(id=row.id)).enroll_token_hash == hashlib.sha256(
        fresh.encode()
    ).hexdigest()
    changed = await cloud.put(
        f"/api/v1/edges/{row.id}", json={"name": "改名", "site_ids": []}, headers=headers
    )
    assert changed.status == 200 and (await changed.json())["site_ids"] == []


async def test_api_open_barrier_commands_and_dead_letters(cloud: Client) -> None:
    headers, place = await _api(cloud)
    resp = await cloud.post(f"/api/v1/lanes/{place.entry.id}/open-barrier", headers=headers)
    assert resp.status == 201, await resp.text()
    command = await resp.json()
    assert command["state"] == "pending" and command["kind"] == "open_barrier"
    assert command["lane"] == place.entry.code
    issued = datetime.fromisoformat(command["issued_at"])
    assert datetime.fromisoformat(command["expires_at"]) - issued == timedelta(seconds=30)
    listed = await (await cloud.get("/api/v1/commands?state=pending")).json()
    assert [c["id"] for c in listed["items"]] == [command["id"]]
    none = await (await cloud.get("/api/v1/commands?state=done")).json()
    assert none["total"] == 0
    edge = await Edge.create(tenant_id=place.site.tenant_id, code="box", name="节点")
    await SyncEvent.create(
        edge=edge,
        seq=1,
        uuid=uuid.uuid4(),
        type="x.unknown",
        site="campus",
        occurred_at=datetime.now(UTC),
        payload={"a": 1},
        error="unknown event type 'x.unknown'",
    )
    await SyncEvent.create(
        edge=edge,
        seq=2,
        uuid=uuid.uuid4(),
        type="access.decided",
        site="campus",
        occurred_at=datetime.now(UTC),
        payload={"b": 2},
    )
    letters = await (await cloud.get(f"/api/v1/dead-letters?edge_id={edge.id}")).json()
    assert [(d["seq"], d["payload"], d["edge_code"]) for d in letters["items"]] == [
        (1, {"a": 1}, "box")
    ]
    bad = await cloud.get("/api/v1/dead-letters?occurred_from=yesterday")
    assert bad.status == 422 and (await bad.json())["field"] == "occurred_from"
