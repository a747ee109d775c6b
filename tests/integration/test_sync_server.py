"""The cloud's sync server: batches stored once and in order, gaps refused, state served by revision."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from cloud.access.ingest import record_access
from cloud.access.models import AccessRecord
from cloud.org.models import Tenant
from cloud.sites.models import Command, CommandState, Edge, Site, SyncEvent
from cloud.state import publish, wake_edges
from cloud.sync import REDELIVER_AFTER, Accepted
from protocols import sync as wire
from protocols.events import parse_payload
from protocols.site import DefaultAction, SiteKind
from tests.support import SigningEdge

Client = TestClient[web.Request, web.Application]
EDGE = SigningEdge("edge-1")


async def make_edge(
    code: str = "edge-1", site_code: str = "campus", public_key: str | None = None
) -> tuple[Edge, Site]:
    tenant = await Tenant.create(code=f"t-{code}", name="租户")
    site = await Site.create(tenant=tenant, code=site_code, name="校区", kind=SiteKind.campus)
    edge = await Edge.create(
        tenant=tenant,
        code=code,
        name="边缘",
        public_key=EDGE.public_key if public_key is None else public_key,
        enrolled_at=datetime.now(UTC),
    )
    await edge.sites.add(site)
    return edge, site


def access_event(seq: int, site: str = "campus", plate: str = "京A12345") -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "seq": seq,
        "uuid": str(uuid.uuid4()),
        "type": "access.decided",
        "site": site,
        "occurred_at": now,
        "payload": {
            "site": site,
            "gate": "north-gate",
            "lane": "north-in",
            "direction": "entry",
            "plate": plate,
            "plate_color": "blue",
            "confidence": 95,
            "verdict": "open",
            "reason": "whitelist",
            "read_at": now,
        },
    }


async def push(
    cloud: Client, events: list[dict[str, Any]], edge: SigningEdge = EDGE
) -> tuple[int, Any]:
    return await edge.post(cloud, wire.EVENTS_PATH, {"events": events})


async def test_a_batch_is_stored_once_even_when_sent_again(cloud: Client) -> None:
    await make_edge()
    batch = [access_event(seq) for seq in range(1, 6)]
    assert await push(cloud, batch) == (200, {"acked_seq": 5})
    assert await push(cloud, batch) == (200, {"acked_seq": 5})
    assert await SyncEvent.all().count() == 5
    assert await AccessRecord.all().count() == 5
    assert [r.seq for r in await SyncEvent.all().order_by("seq")] == [1, 2, 3, 4, 5]


async def test_an_overlapping_batch_adds_only_what_is_new(cloud: Client) -> None:
    await make_edge()
    events = [access_event(seq) for seq in range(1, 9)]
    assert (await push(cloud, events[:5]))[1] == {"acked_seq": 5}
    assert (await push(cloud, events[2:]))[1] == {"acked_seq": 8}
    assert await AccessRecord.all().count() == 8


async def test_a_gap_is_refused_with_the_seq_expected(cloud: Client) -> None:
    await make_edge()
    await push(cloud, [access_event(1)])
    status, body = await push(cloud, [access_event(3), access_event(4)])
    assert status == 409
    assert body == {"error": "gap", "expected_seq": 2}
    assert await SyncEvent.all().count() == 1


async def test_a_batch_that_is_not_contiguous_is_refused_naming_the_field(cloud: Client) -> None:
    await make_edge()
    status, body = await push(cloud, [access_event(1), access_event(3)])
    assert status == 422
    assert body["error"] == "invalid"
    assert "follows" in body["message"]
    assert await SyncEvent.all().count() == 0


async def _publish_lane(site: Site, code: str, enabled: bool) -> None:
    async with in_transaction():
        await publish(
            site.id,
            wire.Entity.lane_policy,
            code,
            wire.LanePolicy(
                code=code, enabled=enabled, default_action=DefaultAction.deny, min_confidence=80
            ),
        )


async def pull(cloud: Client, revisions: dict[str, int], wait: float = 0) -> tuple[int, Any]:
    return await EDGE.post(cloud, wire.STATE_PATH, {"revisions": revisions, "wait": wait})


async def test_a_new_edge_gets_a_full_snapshot_then_only_deltas(cloud: Client) -> None:
    _, site = await make_edge()
    await _publish_lane(site, "north-in", True)
    await _publish_lane(site, "north-out", True)
    await _publish_lane(site, "north-in", False)
    status, body = await pull(cloud, {})
    assert status == 200
    state = wire.StateResponse.model_validate(body).sites[0]
    assert state.full and state.revision == 3
    assert {c.key: c.data["enabled"] for c in state.changes if c.data} == {
        "north-in": False,
        "north-out": True,
    }
    await _publish_lane(site, "north-out", False)
    _, body = await pull(cloud, {"campus": 3})
    delta = wire.StateResponse.model_validate(body).sites[0]
    assert not delta.full and delta.revision == 4
    assert [(c.key, c.data and c.data["enabled"]) for c in delta.changes] == [("north-out", False)]


async def test_a_long_poll_returns_as_soon_as_state_changes(cloud: Client) -> None:
    _, site = await make_edge()
    await _publish_lane(site, "north-in", True)
    started = time.monotonic()
    waiting = asyncio.create_task(pull(cloud, {"campus": 1}, wait=10))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await _publish_lane(site, "north-in", False)
    _, body = await waiting
    assert time.monotonic() - started < 2.0
    assert wire.StateResponse.model_validate(body).sites[0].revision == 2


async def test_a_long_poll_with_nothing_new_returns_empty_after_the_wait(cloud: Client) -> None:
    _, site = await make_edge()
    await _publish_lane(site, "north-in", True)
    started = time.monotonic()
    _, body = await pull(cloud, {"campus": 1}, wait=0.6)
    assert body == {"sites": [], "commands": []}
    assert 0.5 <= time.monotonic() - started < 3


async def test_a_dead_letter_is_kept_acknowledged_and_not_applied(cloud: Client) -> None:
    await make_edge()
    bad = access_event(1)
    bad["payload"]["confidence"] = 250
    status, body = await push(cloud, [bad, access_event(2)])
    assert (status, body) == (200, {"acked_seq": 2})
    letter = await SyncEvent.get(seq=1)
    assert "confidence" in letter.error
    assert await AccessRecord.all().count() == 1


async def test_the_edge_reports_what_it_applied(cloud: Client) -> None:
    edge, site = await make_edge()
    await _publish_lane(site, "north-in", True)
    await pull(cloud, {"campus": 1})
    await edge.refresh_from_db()
    assert edge.applied_revisions == {"campus": 1}
    assert edge.last_seen_at is not None


async def _command(site: Site, ttl_s: float = 30) -> Command:
    now = datetime.now(UTC)
    return await Command.create(
        id=uuid.uuid4(),
        tenant_id=site.tenant_id,
        site=site,
        lane="north-in",
        kind="open_barrier",
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )


async def test_a_command_goes_down_once_and_its_result_comes_back(cloud: Client) -> None:
    _, site = await make_edge()
    await _publish_lane(site, "north-in", True)
    command = await _command(site)
    _, body = await pull(cloud, {"campus": 1})
    sent = wire.StateResponse.model_validate(body).commands
    assert [(c.id, c.kind, c.site, c.lane) for c in sent] == [
        (command.id, wire.CommandKind.open_barrier, "campus", "north-in")
    ]
    _, body = await pull(cloud, {"campus": 1})
    assert body["commands"] == [], "delivered and not yet answered: not sent again at once"
    result = {
        "seq": 1,
        "uuid": str(uuid.uuid4()),
        "type": "command.result",
        "site": "campus",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {
            "command": str(command.id),
            "kind": "open_barrier",
            "site": "campus",
            "lane": "north-in",
            "status": "done",
        },
    }
    assert (await push(cloud, [result]))[0] == 200
    await command.refresh_from_db()
    assert command.state == CommandState.done and command.finished_at is not None


async def test_an_unanswered_command_is_delivered_again_later(cloud: Client) -> None:
    _, site = await make_edge()
    await _publish_lane(site, "north-in", True)
    command = await _command(site)
    await pull(cloud, {"campus": 1})
    command.delivered_at = datetime.now(UTC) - REDELIVER_AFTER - timedelta(seconds=1)
    await command.save()
    _, body = await pull(cloud, {"campus": 1})
    assert [c["id"] for c in body["commands"]] == [str(command.id)]


async def test_a_new_command_wakes_a_parked_long_poll(cloud: Client) -> None:
    _, site = await make_edge()
    await _publish_lane(site, "north-in", True)
    started = time.monotonic()
    waiting = asyncio.create_task(pull(cloud, {"campus": 1}, wait=10))
    await asyncio.sleep(0.3)
    await _command(site)
    wake_edges()
    _, body = await waiting
    assert len(body["commands"]) == 1
    assert time.monotonic() - started < 2.0


async def test_the_access_handler_given_the_same_events_twice_changes_nothing(
    cloud: Client,
) -> None:
    edge, site = await make_edge()
    items: list[Accepted] = []
    for seq in (1, 2):
        event = wire.Event.model_validate(access_event(seq))
        items.append((event, parse_payload(event.type, event.payload)))
    async with in_transaction():
        await record_access(edge, {site.code: site}, items)
    async with in_transaction():
        await record_access(edge, {site.code: site}, items)
    assert await AccessRecord.all().count() == 2
