"""The sync server: edges enroll once, then every request is signed; they push event batches
(stored once, in order) and long-poll site state and commands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cloud.api import invalid_response
from cloud.db import insert_rows, is_postgres
from cloud.org.models import AuditLog
from cloud.sites.edges import token_hash
from cloud.sites.models import Command, CommandState, Edge, SeenSignature, Site, SyncEvent
from cloud.state import site_state, wait_for_publication
from protocols.events import CommandResult, Payload, parse_payload
from protocols.signing import (
    BACKLOG_HEADER,
    EDGE_HEADER,
    MAX_SKEW_S,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadSignature,
    load_public_key,
    signature_digest,
    verify,
)
from protocols.sync import (
    ENROLL_PATH,
    EVENTS_PATH,
    MAX_BATCH_BYTES,
    STATE_PATH,
    CommandKind,
    EnrollRequest,
    EnrollResponse,
    Event,
    PushAck,
    PushGap,
    PushRequest,
    StateRequest,
    StateResponse,
)
from protocols.sync import (
    Command as WireCommand,
)

log = logging.getLogger(__name__)

Accepted = tuple[Event, Payload]
BatchHandler = Callable[[Edge, dict[str, Site], list[Accepted]], Awaitable[None]]
_handlers: dict[str, BatchHandler] = {}
# A command delivered but not yet answered goes down again after this long.
REDELIVER_AFTER = timedelta(seconds=20)


def register(event_type: str, handler: BatchHandler) -> None:
    """A domain takes the events of one type; it runs inside the ingest transaction, once per event."""
    _handlers[event_type] = handler


# --- who is asking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    edge: Edge
    sites: dict[str, Site]
    body: bytes
    # What every request tells about the edge, saved with the request's own write.
    seen: dict[str, Any]


class Refused(Exception):
    """A request that is not an enrolled edge's own: 401, and a line in the audit log."""

    def __init__(self, reason: str, edge: Edge | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.edge = edge


async def _refuse(request: web.Request, refused: Refused) -> web.Response:
    log.warning("sync request %s %s refused: %s", request.method, request.path, refused.reason)
    await AuditLog.create(
        tenant_id=refused.edge.tenant_id if refused.edge else None,
        action="sync_refused",
        entity="edge",
        entity_id=refused.edge.code if refused.edge else request.headers.get(EDGE_HEADER, "")[:64],
        detail={"reason": refused.reason, "path": request.path, "remote": request.remote or ""},
    )
    return web.json_response({"error": "unauthorized", "message": refused.reason}, status=401)


async def _remember(signature: str, now: datetime) -> bool:
    """Record a signature as used; False when it was used before (a replay)."""
    try:
        seen = await SeenSignature.create(digest=signature_digest(signature), seen_at=now)
    except IntegrityError:
        return False
    # Signatures older than the clock window can never verify again: every hundredth request
    # forgets them (an indexed range delete), so the table stays a few minutes deep.
    if seen.id % 100 == 0:
        horizon = now - timedelta(seconds=2 * MAX_SKEW_S)
        await SeenSignature.filter(seen_at__lt=horizon).delete()
    return True


async def authenticate(request: web.Request) -> Caller:
    """The enrolled, unrevoked edge that signed this request, or Refused saying why not."""
    code = request.headers.get(EDGE_HEADER, "")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not (code and timestamp and signature):
        raise Refused("unsigned request: edge id, timestamp and signature headers are required")
    edge = await Edge.filter(code=code).first()
    if edge is None:
        raise Refused(f"unknown edge {code!r}")
    if edge.revoked_at is not None:
        raise Refused(f"edge {code!r} is revoked", edge)
    if not edge.public_key:
        raise Refused(f"edge {code!r} is not enrolled", edge)
    if not edge.enabled:
        raise Refused(f"edge {code!r} is disabled", edge)
    body = await request.read()
    try:
        key = load_public_key(edge.public_key)
        skew = verify(key, request.method, request.path, body, timestamp, signature)
    except BadSignature as exc:
        raise Refused(f"edge {code!r}: {exc}", edge) from None
    now = datetime.now(UTC)
    if not await _remember(signature, now):
        raise Refused(f"edge {code!r}: replayed signature", edge)
    backlog = request.headers.get(BACKLOG_HEADER, "")
    seen: dict[str, Any] = {"last_seen_at": now, "clock_skew_ms": skew}
    if backlog.isdigit():
        seen["backlog"] = int(backlog)
    sites = {site.code: site for site in await edge.sites.all()}
    return Caller(edge, sites, body, seen)


# --- enrollment -------------------------------------------------------------------------------


async def enroll(request: web.Request) -> web.Response:
    """Trade a one-time token for the edge's public key: the token is spent either way it goes."""
    try:
        ask = EnrollRequest.model_validate_json(await request.read())
        load_public_key(ask.public_key)
    except ValidationError as exc:
        return invalid_response(exc, where="enrollment")
    except BadSignature as exc:
        return web.json_response(
            {"error": "invalid", "field": "public_key", "message": str(exc)}, status=422
        )
    now = datetime.now(UTC)
    async with in_transaction():
        edge = await Edge.filter(enroll_token_hash=token_hash(ask.token)).first()
        if edge is None or edge.enroll_expires_at is None or edge.enroll_expires_at < now:
            refused = Refused("enrollment token unknown, used or expired", edge)
            return await _refuse(request, refused)
        edge.public_key = ask.public_key
        edge.enroll_token_hash = ""
        edge.enroll_expires_at = None
        edge.enrolled_at = now
        edge.revoked_at = None
        await edge.save()
        await AuditLog.create(
            tenant_id=edge.tenant_id,
            action="enroll",
            entity="edge",
            entity_id=edge.code,
            detail={"remote": request.remote or ""},
        )
        sites = [site.code for site in await edge.sites.all()]
    return web.json_response(EnrollResponse(edge=edge.code, sites=sites).model_dump())


# --- up: events -------------------------------------------------------------------------------


async def push_events(request: web.Request) -> web.Response:
    if (request.content_length or 0) > MAX_BATCH_BYTES * 2:
        return web.json_response({"error": "too_large", "message": "batch too large"}, status=413)
    try:
        caller = await authenticate(request)
    except Refused as exc:
        return await _refuse(request, exc)
    try:
        batch = PushRequest.model_validate_json(caller.body)
    except ValidationError as exc:
        return invalid_response(exc, where="batch")
    foreign = sorted({event.site for event in batch.events} - set(caller.sites))
    if foreign:
        refused = Refused(f"edge {caller.edge.code!r} writes for site {foreign[0]!r}", caller.edge)
        return await _refuse(request, refused)
    try:
        acked = await _ingest(caller, batch)
    except IntegrityError as exc:
        # Only a uuid already held under another seq gets here: an edge bug, not a retry.
        log.error("edge %s: batch refused: %s", caller.edge.code, exc)
        return web.json_response(
            {"error": "conflict", "message": f"an event uuid is already recorded: {exc}"},
            status=409,
        )
    if isinstance(acked, PushGap):
        return web.json_response(acked.model_dump(), status=409)
    return web.json_response(acked.model_dump())


async def _ingest(caller: Caller, batch: PushRequest) -> PushAck | PushGap:
    """Store what is new in one transaction; a batch that skips a seq changes nothing."""
    async with in_transaction():
        query = Edge.filter(id=caller.edge.id)
        if is_postgres():
            # Two pushes from one edge (a retry racing the original) take turns here.
            query = query.select_for_update()
        edge = await query.get()
        fresh = [event for event in batch.events if event.seq > edge.acked_seq]
        if fresh and fresh[0].seq != edge.acked_seq + 1:
            return PushGap(expected_seq=edge.acked_seq + 1)
        if fresh:
            await _store(edge, caller.sites, fresh)
            edge.acked_seq = fresh[-1].seq
        await Edge.filter(id=edge.id).update(acked_seq=edge.acked_seq, **caller.seen)
    return PushAck(acked_seq=edge.acked_seq)


def _check(event: Event) -> tuple[Payload | None, str]:
    try:
        return parse_payload(event.type, event.payload), ""
    except KeyError:
        return None, f"unknown event type {event.type!r}"
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, f"payload field '{where}': {first['msg']}"


LEDGER_COLUMNS = (
    "edge_id", "seq", "uuid", "type", "site", "occurred_at", "payload", "error", "received_at",
)  # fmt: skip


async def _store(edge: Edge, sites: dict[str, Site], events: list[Event]) -> None:
    """Every event is kept in the ledger; a valid one also goes to its domain, an invalid one
    stays there as a dead letter (its error set) for an admin to see."""
    accepted: dict[str, list[Accepted]] = {}
    rows = []
    now = datetime.now(UTC)
    for event in events:
        payload, error = _check(event)
        if payload is not None:
            accepted.setdefault(event.type, []).append((event, payload))
        else:
            log.warning("edge %s seq %d kept as a dead letter: %s", edge.code, event.seq, error)
        rows.append(
            (edge.id, event.seq, event.uuid, event.type, event.site, event.occurred_at,
             event.payload, error, now)
        )  # fmt: skip
    await insert_rows(SyncEvent, LEDGER_COLUMNS, rows)
    for event_type, items in accepted.items():
        handler = _handlers.get(event_type)
        if handler is not None:
            await handler(edge, sites, items)


async def record_command_results(edge: Edge, sites: dict[str, Site], items: list[Accepted]) -> None:
    for _, payload in items:
        assert isinstance(payload, CommandResult)
        await Command.filter(id=payload.command, site_id__in=[s.id for s in sites.values()]).update(
            state=CommandState(payload.status.value),
            detail=payload.detail[:255],
            finished_at=datetime.now(UTC),
        )


# --- down: state and commands -----------------------------------------------------------------


async def _due_commands(sites: dict[str, Site], now: datetime) -> list[Command]:
    """Pending commands of these sites never delivered, or delivered a while ago unanswered."""
    if not sites:
        return []
    return await Command.filter(
        Q(delivered_at__isnull=True) | Q(delivered_at__lt=now - REDELIVER_AFTER),
        site_id__in=[site.id for site in sites.values()],
        state=CommandState.pending,
    ).order_by("issued_at")


async def pull_state(request: web.Request) -> web.Response:
    try:
        caller = await authenticate(request)
    except Refused as exc:
        return await _refuse(request, exc)
    try:
        ask = StateRequest.model_validate_json(caller.body)
    except ValidationError as exc:
        return invalid_response(exc, where="state request")
    foreign = sorted(set(ask.revisions) - set(caller.sites))
    if foreign:
        refused = Refused(f"edge {caller.edge.code!r} asks for site {foreign[0]!r}", caller.edge)
        return await _refuse(request, refused)
    await Edge.filter(id=caller.edge.id).update(applied_revisions=ask.revisions, **caller.seen)
    deadline = time.monotonic() + ask.wait
    ids = [site.id for site in caller.sites.values()]
    while True:
        current = {site.code: site for site in await Site.filter(id__in=ids)}
        moved = [s for code, s in current.items() if s.revision != ask.revisions.get(code, -1)]
        commands = await _due_commands(current, datetime.now(UTC))
        remaining = deadline - time.monotonic()
        if moved or commands or remaining <= 0 or request.app[STOPPING].is_set():
            break
        # Woken at once by a change in this process; other workers' changes seen within 0.5 s.
        await wait_for_publication(min(0.5, remaining))
    states = [await site_state(site, ask.revisions.get(site.code, 0)) for site in moved]
    codes = {site.id: site.code for site in current.values()}
    wire = [
        WireCommand(
            id=command.id,
            kind=CommandKind(command.kind),
            site=codes[command.site_id],
            lane=command.lane,
            payload=command.payload,
            issued_at=command.issued_at,
            expires_at=command.expires_at,
        )
        for command in commands
    ]
    if commands:
        await Command.filter(id__in=[c.id for c in commands]).update(delivered_at=datetime.now(UTC))
    return web.json_response(StateResponse(sites=states, commands=wire).model_dump(mode="json"))


STOPPING = web.AppKey("sync_stopping", asyncio.Event)


async def _stop_long_polls(app: web.Application) -> None:
    # Shutdown waits for running handlers; parked long-polls answer now instead of in 25 s.
    app[STOPPING].set()


def setup(app: web.Application) -> None:
    app[STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stop_long_polls)
    register("command.result", record_command_results)
    app.router.add_post(ENROLL_PATH, enroll)
    app.router.add_post(EVENTS_PATH, push_events)
    app.router.add_post(STATE_PATH, pull_state)
