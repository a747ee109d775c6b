"""Enrollment and the refusals: only an enrolled, unrevoked edge's own signed requests get in,
and every refusal is a 401 with a line in the audit log."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.org.models import AuditLog, Tenant
from cloud.sites.edges import token_hash
from cloud.sites.models import Edge, SeenSignature, Site, SyncEvent
from protocols import sync as wire
from protocols.signing import MAX_SKEW_S, new_private_key, public_key_text
from protocols.site import SiteKind
from tests.integration.test_sync_server import EDGE, access_event, make_edge, push
from tests.support import SigningEdge

Client = TestClient[web.Request, web.Application]


async def refusals() -> list[dict[str, Any]]:
    return [row.detail for row in await AuditLog.filter(action="sync_refused").order_by("id")]


async def assert_refused(status: int, body: Any, words: str) -> None:
    assert status == 401, body
    assert words in body["message"]
    logged = await refusals()
    assert logged and words in logged[-1]["reason"], "the refusal is in the audit log"


async def test_an_unsigned_request_is_refused(cloud: Client) -> None:
    await make_edge()
    resp = await cloud.post(wire.EVENTS_PATH, json={"events": [access_event(1)]})
    await assert_refused(resp.status, await resp.json(), "unsigned request")
    assert await SyncEvent.all().count() == 0


async def test_a_signature_by_another_key_is_refused(cloud: Client) -> None:
    await make_edge()
    impostor = SigningEdge(EDGE.code)  # same edge id, different key
    status, body = await push(cloud, [access_event(1)], edge=impostor)
    await assert_refused(status, body, "signature does not match")
    assert await SyncEvent.all().count() == 0


async def test_a_body_changed_after_signing_is_refused(cloud: Client) -> None:
    await make_edge()
    signed_body = json.dumps({"events": [access_event(1)]}).encode()
    sent_body = json.dumps({"events": [access_event(1, plate="京A99999")]}).encode()
    headers = EDGE.headers("POST", wire.EVENTS_PATH, signed_body)
    resp = await cloud.post(wire.EVENTS_PATH, data=sent_body, headers=headers)
    await assert_refused(resp.status, await resp.json(), "signature does not match")


@pytest.mark.parametrize("offset_s", [MAX_SKEW_S + 30, -(MAX_SKEW_S + 30)])
async def test_a_timestamp_more_than_five_minutes_off_is_refused(
    cloud: Client, offset_s: float
) -> None:
    await make_edge()
    body = json.dumps({"events": [access_event(1)]}).encode()
    now_ms = int((time.time() + offset_s) * 1000)
    headers = EDGE.headers("POST", wire.EVENTS_PATH, body, now_ms=now_ms)
    resp = await cloud.post(wire.EVENTS_PATH, data=body, headers=headers)
    await assert_refused(resp.status, await resp.json(), "s off (at most 300 s)")


async def test_a_replayed_signature_is_refused(cloud: Client) -> None:
    await make_edge()
    body = json.dumps({"events": [access_event(1)]}).encode()
    headers = EDGE.headers("POST", wire.EVENTS_PATH, body)
    first = await cloud.post(wire.EVENTS_PATH, data=body, headers=headers)
    assert first.status == 200
    again = await cloud.post(wire.EVENTS_PATH, data=body, headers=headers)
    await assert_refused(again.status, await again.json(), "replayed signature")
    assert await SyncEvent.all().count() == 1


async def test_a_revoked_edge_is_refused(cloud: Client) -> None:
    edge, _ = await make_edge()
    edge.revoked_at = datetime.now(UTC)
    await edge.save()
    status, body = await push(cloud, [access_event(1)])
    await assert_refused(status, body, "is revoked")


async def test_an_unknown_edge_is_refused(cloud: Client) -> None:
    await make_edge()
    status, body = await push(cloud, [access_event(1)], edge=SigningEdge("nobody"))
    await assert_refused(status, body, "unknown edge 'nobody'")


async def test_writing_for_a_site_that_is_not_its_own_is_refused(cloud: Client) -> None:
    edge, _ = await make_edge()
    other_tenant = await Tenant.create(code="other", name="别人")
    await Site.create(tenant=other_tenant, code="theirs", name="别人的", kind=SiteKind.campus)
    status, body = await push(cloud, [access_event(1, site="theirs")])
    await assert_refused(status, body, "writes for site 'theirs'")
    assert await SyncEvent.all().count() == 0
    status, body = await EDGE.post(cloud, wire.STATE_PATH, {"revisions": {"theirs": 0}})
    await assert_refused(status, body, "asks for site 'theirs'")
    assert (await refusals())[-1]["reason"].startswith(f"edge '{edge.code}'")


# --- enrollment -------------------------------------------------------------------------------


async def pending_edge(token: str, expires_in: timedelta = timedelta(hours=24)) -> Edge:
    edge, _ = await make_edge(public_key="")
    edge.enroll_token_hash = token_hash(token)
    edge.enroll_expires_at = datetime.now(UTC) + expires_in
    await edge.save()
    return edge


async def enroll(cloud: Client, token: str, public_key: str) -> tuple[int, Any]:
    resp = await cloud.post(wire.ENROLL_PATH, json={"token": token, "public_key": public_key})
    return resp.status, await resp.json()


async def test_enrollment_registers_the_key_once_and_then_signed_requests_get_in(
    cloud: Client,
) -> None:
    token = uuid.uuid4().hex
    await pending_edge(token)
    key = new_private_key()
    status, body = await enroll(cloud, token, public_key_text(key))
    assert status == 200, body
    assert body == {"edge": "edge-1", "sites": ["campus"]}
    edge = await Edge.get(code="edge-1")
    assert edge.public_key == public_key_text(key) and edge.enroll_token_hash == ""
    status, body = await push(cloud, [access_event(1)], edge=SigningEdge("edge-1", key))
    assert (status, body) == (200, {"acked_seq": 1})
    # The token is spent: presenting it again (even with a new key) changes nothing.
    status, body = await enroll(cloud, token, public_key_text(new_private_key()))
    await assert_refused(status, body, "enrollment token unknown, used or expired")
    assert (await Edge.get(code="edge-1")).public_key == public_key_text(key)


async def test_an_expired_enrollment_token_is_refused(cloud: Client) -> None:
    token = uuid.uuid4().hex
    await pending_edge(token, expires_in=timedelta(seconds=-1))
    status, body = await enroll(cloud, token, public_key_text(new_private_key()))
    await assert_refused(status, body, "enrollment token unknown, used or expired")
    assert (await Edge.get(code="edge-1")).public_key == ""


async def test_an_enrollment_with_a_malformed_key_names_the_field(cloud: Client) -> None:
    token = uuid.uuid4().hex
    await pending_edge(token)
    status, body = await enroll(cloud, token, "A" * 44)
    assert status == 422 and body["field"] == "public_key"
    assert (await Edge.get(code="edge-1")).enroll_token_hash == token_hash(token)


async def test_a_revoked_edge_that_re_enrolls_gets_back_in_with_its_new_key(
    cloud: Client,
) -> None:
    edge, _ = await make_edge()
    token = uuid.uuid4().hex
    edge.revoked_at = datetime.now(UTC)
    edge.public_key = ""
    edge.enroll_token_hash = token_hash(token)
    edge.enroll_expires_at = datetime.now(UTC) + timedelta(hours=24)
    await edge.save()
    assert (await push(cloud, [access_event(1)]))[0] == 401
    fresh = SigningEdge(edge.code)
    assert (await enroll(cloud, token, fresh.public_key))[0] == 200
    assert (await push(cloud, [access_event(1)], edge=fresh)) == (200, {"acked_seq": 1})
    assert (await push(cloud, [access_event(2)]))[0] == 401, "the old key stays out"


async def test_the_edge_reports_clock_skew_and_backlog(cloud: Client) -> None:
    await make_edge()
    body = json.dumps({"revisions": {}, "wait": 0}).encode()
    now_ms = int((time.time() - 42) * 1000)
    headers = {
        **EDGE.headers("POST", wire.STATE_PATH, body, now_ms=now_ms),
        "X-Wayside-Backlog": "1234",
    }
    resp = await cloud.post(wire.STATE_PATH, data=body, headers=headers)
    assert resp.status == 200
    edge = await Edge.get(code="edge-1")
    assert edge.backlog == 1234
    assert edge.clock_skew_ms is not None and 41_000 <= edge.clock_skew_ms <= 45_000


async def test_the_replay_memory_forgets_signatures_too_old_to_verify(cloud: Client) -> None:
    await make_edge()
    old = datetime.now(UTC) - timedelta(seconds=3 * MAX_SKEW_S)
    await SeenSignature.bulk_create(
        [SeenSignature(digest=f"{n:064x}", seen_at=old) for n in range(99)]
    )
    status, _ = await push(cloud, [access_event(1)])  # the hundredth signature remembered
    assert status == 200
    assert await SeenSignature.filter(seen_at__lt=old + timedelta(seconds=1)).count() == 0
    assert await SeenSignature.all().count() == 1
