"""Edges of a tenant: enrollment tokens, revocation, what they report, the device commands sent
down to them, and the events they sent that the cloud kept but refused (dead letters)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given, within
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.service import (
    apply_changes,
    audit,
    delete_row,
    ensure_unique,
    get_owned,
    scoped,
    set_enabled_row,
)
from cloud.sites.models import (
    Command,
    CommandState,
    Edge,
    Lane,
    Site,
    SyncEvent,
)
from cloud.sites.schemas import (
    SKEW_FLAG_MS,
    CommandFilter,
    CommandOut,
    DeadLetterFilter,
    DeadLetterOut,
    EdgeCreated,
    EdgeFilter,
    EdgeIn,
    EdgeOut,
    EdgeSiteOut,
    EdgeStatus,
    EdgeUpdate,
)
from cloud.state import wake_edges
from protocols.sync import CommandKind

# How long an enrollment token may be presented, and the bounds of a command's life.
ENROLL_TTL = timedelta(hours=24)
COMMAND_TTL_S = 30
COMMAND_TTL_BOUNDS = (1, 3600)


def _now() -> datetime:
    return datetime.now(UTC)


# --- edges ------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """What is kept of an enrollment token: its SHA-256, hex. The token itself is shown once."""
    return hashlib.sha256(token.encode()).hexdigest()


def edge_status(row: Edge, now: datetime) -> EdgeStatus:
    if row.revoked_at is not None:
        return EdgeStatus.revoked
    if not row.enabled:
        return EdgeStatus.disabled
    if row.public_key:
        return EdgeStatus.enrolled
    if row.enroll_token_hash and row.enroll_expires_at is not None and row.enroll_expires_at > now:
        return EdgeStatus.pending
    return EdgeStatus.expired


def _status_filter(status: EdgeStatus, now: datetime) -> Q:
    """The rows edge_status() names `status`, as a query."""
    live = Q(revoked_at__isnull=True)
    on = live & Q(enabled=True)
    keyless = on & Q(public_key="")
    valid_token = Q(enroll_token_hash__not="") & Q(enroll_expires_at__gt=now)
    return {
        EdgeStatus.revoked: Q(revoked_at__isnull=False),
        EdgeStatus.disabled: live & Q(enabled=False),
        EdgeStatus.enrolled: on & Q(public_key__not=""),
        EdgeStatus.pending: keyless & valid_token,
        EdgeStatus.expired: keyless & ~valid_token,
    }[status]


def _edge_out(row: Edge, now: datetime) -> EdgeOut:
    applied = row.applied_revisions or {}
    sites = []
    for site in sorted(row.sites, key=lambda s: s.code):
        done = applied.get(site.code)
        sites.append(
            EdgeSiteOut(
                id=site.id,
                code=site.code,
                name=site.name,
                revision=site.revision,
                applied=done,
                behind=done is None or done < site.revision,
            )
        )
    skew = row.clock_skew_ms
    return EdgeOut(
        id=row.id,
        code=row.code,
        name=row.name,
        status=edge_status(row, now),
        enabled=row.enabled,
        site_ids=[s.id for s in sites],
        sites=sites,
        enroll_expires_at=row.enroll_expires_at,
        enrolled_at=row.enrolled_at,
        revoked_at=row.revoked_at,
        last_seen_at=row.last_seen_at,
        acked_seq=row.acked_seq,
        backlog=row.backlog,
        clock_skew_ms=skew,
        skew_flagged=skew is not None and abs(skew) > SKEW_FLAG_MS,
        behind=any(s.behind for s in sites),
        created_at=row.created_at,
    )


async def list_edges(principal: Principal, f: EdgeFilter, params: PageParams) -> Page[EdgeOut]:
    now = _now()
    query = scoped(Edge, principal)
    if f.q:
        query = query.filter(Q(code__icontains=f.q) | Q(name__icontains=f.q))
    if f.site_id is not None:
        query = query.filter(sites__id=f.site_id)
    if f.status is not None:
        query = query.filter(_status_filter(f.status, now))
    query = where_given(query, f, "enabled")
    return await paginate(
        query.prefetch_related("sites"),
        params,
        sorts={"code": "code", "name": "name", "last_seen_at": "last_seen_at"},
        default_sort="code",
        convert=lambda row: _edge_out(row, now),
    )


async def get_edge(principal: Principal, ident: int) -> EdgeOut:
    row = await get_owned(Edge, principal, ident, "edge")
    await row.fetch_related("sites")
    return _edge_out(row, _now())


async def enroll_token_matches(principal: Principal, ident: int, token: str) -> bool:
    """Whether `token` is the edge's current, unused enrollment token (compared by its hash)."""
    row = await get_owned(Edge, principal, ident, "edge")
    return bool(row.enroll_token_hash) and secrets.compare_digest(
        row.enroll_token_hash, token_hash(token)
    )


async def _own_sites(principal: Principal, ids: list[int]) -> list[Site]:
    """The sites named, all of the principal's tenant (another tenant's site does not exist)."""
    wanted = set(ids)
    rows = await scoped(Site, principal).filter(id__in=wanted) if wanted else []
    if len(rows) != len(wanted):
        raise Invalid("site_ids", "error.reference")
    return list(rows)


def _new_token() -> tuple[str, str, datetime]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token), _now() + ENROLL_TTL


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def create_edge(principal: Principal, data: EdgeIn) -> EdgeCreated:
    """A new edge with a one-time enrollment token valid 24 h; the token is returned, never kept."""
    token, digest, expires = _new_token()
    async with in_transaction():
        # Edges sign in by code alone, so codes are unique across every tenant.
        await ensure_unique(Edge.all(), "code", data.code)
        sites = await _own_sites(principal, data.site_ids)
        row = await Edge.create(
            tenant_id=principal.tenant_id,
            code=data.code,
            name=data.name,
            enroll_token_hash=digest,
            enroll_expires_at=expires,
        )
        if sites:
            await row.sites.add(*sites)
        await audit(
            principal,
            "create",
            "edge",
            row.id,
            {
                "code": {"from": None, "to": data.code},
                "name": {"from": None, "to": data.name},
                "site_ids": {"from": None, "to": sorted(s.id for s in sites)},
                "enroll_expires_at": {"from": None, "to": _stamp(expires)},
            },
        )
    return EdgeCreated(edge=await get_edge(principal, row.id), token=token)


async def update_edge(principal: Principal, ident: int, data: EdgeUpdate) -> EdgeOut:
    async with in_transaction():
        row = await get_owned(Edge, principal, ident, "edge")
        sites = await _own_sites(principal, data.site_ids)
        changes = apply_changes(row, {"name": data.name})
        if changes:
            await row.save(update_fields=["name"])
        old = sorted(await row.sites.all().values_list("id", flat=True))
        new = sorted(s.id for s in sites)
        if old != new:
            await row.sites.clear()
            if sites:
                await row.sites.add(*sites)
            changes["site_ids"] = {"from": old, "to": new}
        if changes:
            await audit(principal, "update", "edge", ident, changes)
    if "site_ids" in changes:
        wake_edges()  # a long-poll in flight answers for the sites the edge serves now
    return await get_edge(principal, ident)


async def revoke_edge(principal: Principal, ident: int) -> EdgeOut:
    """The edge's key and any unused token stop working: the cloud answers it 401 from now on."""
    async with in_transaction():
        row = await get_owned(Edge, principal, ident, "edge")
        if row.revoked_at is None:
            row.revoked_at = _now()
            row.public_key = ""
            row.enroll_token_hash = ""
            row.enroll_expires_at = None
            await row.save(
                update_fields=["revoked_at", "public_key", "enroll_token_hash", "enroll_expires_at"]
            )
            await audit(principal, "revoke", "edge", ident)
    wake_edges()  # a long-poll held by the revoked edge ends and is refused next time
    return await get_edge(principal, ident)


async def reenroll_edge(principal: Principal, ident: int) -> EdgeCreated:
    """A fresh one-time token (24 h); the old key is forgotten and a revocation lifted."""
    token, digest, expires = _new_token()
    async with in_transaction():
        row = await get_owned(Edge, principal, ident, "edge")
        was = edge_status(row, _now())
        row.enroll_token_hash = digest
        row.enroll_expires_at = expires
        row.public_key = ""
        row.enrolled_at = None
        row.revoked_at = None
        await row.save(
            update_fields=[
                "enroll_token_hash",
                "enroll_expires_at",
                "public_key",
                "enrolled_at",
                "revoked_at",
            ]
        )
        await audit(
            principal,
            "reenroll",
            "edge",
            ident,
            {
                "status": {"from": was.value, "to": EdgeStatus.pending.value},
                "enroll_expires_at": {"from": None, "to": _stamp(expires)},
            },
        )
    wake_edges()
    return EdgeCreated(edge=await get_edge(principal, ident), token=token)


async def set_edge_enabled(principal: Principal, ident: int, enabled: bool) -> EdgeOut:
    await set_enabled_row(principal, Edge, "edge", ident, enabled)
    wake_edges()
    return await get_edge(principal, ident)


async def _edge_unused(row: Edge) -> None:
    # Its events are the ledger that keeps later pushes from being stored twice: keep them.
    if await SyncEvent.filter(edge_id=row.id).exists():
        raise Conflict("id", "error.edge_has_events")


async def delete_edge(principal: Principal, ident: int) -> None:
    await delete_row(principal, Edge, "edge", ident, before=_edge_unused)


async def edge_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Edge, principal).order_by("code").values_list("id", "code", "name")
    return [(int(i), f"{n} ({c})") for i, c, n in rows]


# --- dead letters: events the cloud refused as invalid and kept ---------------------------------


def _dead_letters(principal: Principal) -> QuerySet[SyncEvent]:
    # Events carry no tenant: they belong to the tenant of the edge that sent them.
    return SyncEvent.filter(edge__tenant_id=principal.tenant_id).exclude(error="")


def _dead_letter_out(row: SyncEvent) -> DeadLetterOut:
    return DeadLetterOut(
        id=row.id,
        edge_id=row.edge_id,
        edge_code=row.edge.code,
        seq=row.seq,
        uuid=row.uuid,
        type=row.type,
        site=row.site,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        error=row.error,
        payload=dict(row.payload),
    )


async def list_dead_letters(
    principal: Principal, f: DeadLetterFilter, params: PageParams
) -> Page[DeadLetterOut]:
    query = where_given(_dead_letters(principal), f, "edge_id", "type")
    query = within(query, "occurred_at", f.occurred_from, f.occurred_to)
    return await paginate(
        query,
        params,
        sorts={"seq": "seq", "occurred_at": "occurred_at", "received_at": "received_at"},
        default_sort="-received_at",
        convert=_dead_letter_out,
        related=("edge",),
        count_cap=10_000,
    )


async def dead_letter_type_choices(principal: Principal) -> list[tuple[str, str]]:
    types = (
        await _dead_letters(principal).distinct().order_by("type").values_list("type", flat=True)
    )
    return [(str(name), str(name)) for name in types]


# --- commands: device actions sent down to the edge serving the site ---------------------------


def _command_out(row: Command, now: datetime, lanes: dict[str, str]) -> CommandOut:
    state = row.state
    if state == CommandState.pending and row.expires_at <= now:
        state = CommandState.expired  # the edge will report it expired; it never runs late
    return CommandOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        lane=row.lane,
        lane_name=lanes.get(row.lane),
        kind=row.kind,
        payload=dict(row.payload),
        state=state,
        issued_by=row.issued_by,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        delivered_at=row.delivered_at,
        finished_at=row.finished_at,
        detail=row.detail,
    )


async def _lane_names(principal: Principal, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = await scoped(Lane, principal).filter(code__in=codes).values_list("code", "name")
    return {str(code): str(name) for code, name in rows}


def _state_filter(state: CommandState, now: datetime) -> Q:
    """The rows _command_out() shows in `state` (a pending command past its expiry is expired)."""
    if state == CommandState.pending:
        return Q(state=CommandState.pending) & Q(expires_at__gt=now)
    if state == CommandState.expired:
        return Q(state=CommandState.expired) | (
            Q(state=CommandState.pending) & Q(expires_at__lte=now)
        )
    return Q(state=state)


async def list_commands(
    principal: Principal, f: CommandFilter, params: PageParams
) -> Page[CommandOut]:
    now = _now()
    query = where_given(scoped(Command, principal), f, "site_id", "lane", "kind")
    if f.state is not None:
        query = query.filter(_state_filter(f.state, now))
    query = within(query, "issued_at", f.issued_from, f.issued_to)
    rows = await paginate(
        query,
        params,
        sorts={"issued_at": "issued_at", "expires_at": "expires_at"},
        default_sort="-issued_at",
        convert=lambda row: row,
        related=("site",),
        count_cap=10_000,
    )
    lanes = await _lane_names(principal, {row.lane for row in rows.items if row.lane})
    return Page[CommandOut](
        items=[_command_out(row, now, lanes) for row in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
        total_capped=rows.total_capped,
    )


async def get_command(principal: Principal, ident: uuid.UUID) -> CommandOut:
    row = await scoped(Command, principal).filter(id=ident).select_related("site").first()
    if row is None:
        raise NotFound("command", ident)
    return _command_out(row, _now(), await _lane_names(principal, {row.lane}))


async def issue_command(
    principal: Principal,
    lane_id: int,
    kind: CommandKind = CommandKind.open_barrier,
    ttl_s: int = COMMAND_TTL_S,
) -> CommandOut:
    """A command for the device at a lane, pending until the edge serving its site reports back;
    after `ttl_s` seconds it is expired and never runs."""
    lane = await get_owned(Lane, principal, lane_id, "lane")
    return await issue_site_command(principal, lane.site_id, kind, {}, lane=lane.code, ttl_s=ttl_s)


async def issue_site_command(
    principal: Principal,
    site_id: int,
    kind: CommandKind,
    payload: dict[str, Any],
    lane: str = "",
    ttl_s: int = COMMAND_TTL_S,
) -> CommandOut:
    """A command for a device at a site (a lane's barrier, a station's charger: the payload
    names it), delivered to the edge serving the site with its next state pull."""
    low, high = COMMAND_TTL_BOUNDS
    if not low <= ttl_s <= high:
        raise Invalid("ttl_s", "error.invalid")
    async with in_transaction():
        site = await get_owned(Site, principal, site_id, "site")
        issued = _now()
        row = await Command.create(
            id=uuid.uuid4(),
            tenant_id=principal.tenant_id,
            site_id=site.id,
            lane=lane,
            kind=CommandKind(kind).value,
            payload=payload,
            issued_by=principal.account,
            issued_at=issued,
            expires_at=issued + timedelta(seconds=ttl_s),
        )
        await audit(
            principal,
            "create",
            "command",
            row.id,
            {
                "kind": {"from": None, "to": row.kind},
                "lane": {"from": None, "to": lane},
                "expires_at": {"from": None, "to": _stamp(row.expires_at)},
            },
        )
    wake_edges()  # after the commit, so a woken long-poll finds the command
    return await get_command(principal, row.id)


# --- operations, for the admin pages and the JSON API alike ----------------------------------

EDGES = Crud(
    list=list_edges,
    get=get_edge,
    create=create_edge,
    update=update_edge,
    set_enabled=set_edge_enabled,
    delete=delete_edge,
)
DEAD_LETTERS = Crud(list=list_dead_letters)
COMMANDS = Crud(list=list_commands)
