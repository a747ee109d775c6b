"""The sync server: edges push event batches (stored once, in order) and long-poll site state."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from pydantic import ValidationError
from tortoise.transactions import in_transaction

from cloud.api import invalid_response
from cloud.db import is_postgres
from cloud.sites.models import Edge, Site, SyncEvent
from cloud.state import site_state, wait_for_publication
from protocols.events import Payload, parse_payload
from protocols.sync import (
    EDGE_HEADER,
    EVENTS_PATH,
    MAX_BATCH_BYTES,
    STATE_PATH,
    Event,
    PushAck,
    PushGap,
    PushRequest,
    StateRequest,
    StateResponse,
)

log = logging.getLogger(__name__)

Accepted = tuple[Event, Payload]
BatchHandler = Callable[[Edge, dict[str, Site], list[Accepted]], Awaitable[None]]
_handlers: dict[str, BatchHandler] = {}


def register(event_type: str, handler: BatchHandler) -> None:
    """A domain takes the events of one type; it runs inside the ingest transaction, once per event."""
    _handlers[event_type] = handler


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _refuse(reason: str) -> web.Response:
    log.warning("sync request refused: %s", reason)
    return web.json_response({"error": "unauthorized", "message": reason}, status=401)


async def _authenticate(request: web.Request) -> Edge | web.Response:
    code = request.headers.get(EDGE_HEADER, "")
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if not code or scheme != "Bearer" or not key:
        return _refuse("missing edge id or key")
    edge = await Edge.filter(code=code).first()
    if edge is None or not edge.key_hash:
        return _refuse(f"unknown edge {code!r}")
    if not secrets.compare_digest(edge.key_hash, key_hash(key)):
        return _refuse(f"wrong key for edge {code!r}")
    if not edge.enabled:
        return _refuse(f"edge {code!r} is disabled")
    return edge


def _refusal_of(event: Event, sites: dict[str, Site]) -> tuple[Payload | None, str]:
    if event.site not in sites:
        return None, f"site {event.site!r} is not served by this edge"
    try:
        return parse_payload(event.type, event.payload), ""
    except KeyError:
        return None, f"unknown event type {event.type!r}"
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, f"payload field '{where}': {first['msg']}"


async def push_events(request: web.Request) -> web.Response:
    edge_or_refusal = await _authenticate(request)
    if isinstance(edge_or_refusal, web.Response):
        return edge_or_refusal
    if (request.content_length or 0) > MAX_BATCH_BYTES * 2:
        return web.json_response({"error": "too_large", "message": "batch too large"}, status=413)
    try:
        batch = PushRequest.model_validate_json(await request.read())
    except ValidationError as exc:
        return invalid_response(exc, where="batch")
    async with in_transaction():
        query = Edge.filter(id=edge_or_refusal.id)
        if is_postgres():
            # Two pushes from one edge (a retry racing the original) take turns here.
            query = query.select_for_update()
        edge = await query.get()
        fresh = [event for event in batch.events if event.seq > edge.acked_seq]
        if fresh and fresh[0].seq != edge.acked_seq + 1:
            gap = PushGap(expected_seq=edge.acked_seq + 1)
            return web.json_response(gap.model_dump(), status=409)
        if fresh:
            await _store(edge, fresh)
            edge.acked_seq = fresh[-1].seq
        edge.last_seen_at = datetime.now(UTC)
        await edge.save(update_fields=["acked_seq", "last_seen_at"])
    return web.json_response(PushAck(acked_seq=edge.acked_seq).model_dump())


async def _store(edge: Edge, events: list[Event]) -> None:
    sites = {site.code: site for site in await edge.sites.all()}
    accepted: dict[str, list[Accepted]] = {}
    rows = []
    for event in events:
        payload, error = _refusal_of(event, sites)
        if payload is not None:
            accepted.setdefault(event.type, []).append((event, payload))
        else:
            log.warning("edge %s seq %d kept but not applied: %s", edge.code, event.seq, error)
        rows.append(
            SyncEvent(
                edge_id=edge.id,
                seq=event.seq,
                uuid=event.uuid,
                type=event.type,
                site=event.site,
                occurred_at=event.occurred_at,
                payload=event.payload,
                error=error,
            )
        )
    await SyncEvent.bulk_create(rows)
    for event_type, items in accepted.items():
        handler = _handlers.get(event_type)
        if handler is not None:
            await handler(edge, sites, items)


async def pull_state(request: web.Request) -> web.Response:
    edge_or_refusal = await _authenticate(request)
    if isinstance(edge_or_refusal, web.Response):
        return edge_or_refusal
    edge = edge_or_refusal
    try:
        ask = StateRequest.model_validate_json(await request.read())
    except ValidationError as exc:
        return invalid_response(exc, where="state request")
    sites = {site.code: site for site in await edge.sites.all()}
    foreign = sorted(set(ask.revisions) - set(sites))
    if foreign:
        return web.json_response(
            {"error": "forbidden", "message": f"site {foreign[0]!r} is not served by this edge"},
            status=403,
        )
    await Edge.filter(id=edge.id).update(
        applied_revisions=ask.revisions, last_seen_at=datetime.now(UTC)
    )
    deadline = time.monotonic() + ask.wait
    while True:
        current = {
            site.code: site for site in await Site.filter(id__in=[s.id for s in sites.values()])
        }
        moved = [
            site for code, site in current.items() if site.revision != ask.revisions.get(code, -1)
        ]
        remaining = deadline - time.monotonic()
        if moved or remaining <= 0 or request.app[STOPPING].is_set():
            break
        # Woken at once by a change in this process; other workers' changes seen within 0.5 s.
        await wait_for_publication(min(0.5, remaining))
    states = [await site_state(site, ask.revisions.get(site.code, 0)) for site in moved]
    return web.json_response(StateResponse(sites=states).model_dump(mode="json"))


STOPPING = web.AppKey("sync_stopping", asyncio.Event)


async def _stop_long_polls(app: web.Application) -> None:
    # Shutdown waits for running handlers; parked long-polls answer now instead of in 25 s.
    app[STOPPING].set()


def setup(app: web.Application) -> None:
    app[STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stop_long_polls)
    app.router.add_post(EVENTS_PATH, push_events)
    app.router.add_post(STATE_PATH, pull_state)
