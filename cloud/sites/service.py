"""Sites rules: sites, gates, lanes, devices and edges of a tenant; lane changes are published to
edges, device commands go down to them, and the events they sent that were refused are kept."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.service import (
    apply_changes,
    audit,
    check_reference,
    create_row,
    delete_row,
    ensure_unique,
    get_owned,
    scoped,
    set_enabled_row,
    update_row,
)
from cloud.sites.models import (
    Command,
    CommandState,
    Device,
    Edge,
    Gate,
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
    DeviceFilter,
    DeviceIn,
    DeviceOut,
    EdgeCreated,
    EdgeFilter,
    EdgeIn,
    EdgeOut,
    EdgeSiteOut,
    EdgeStatus,
    EdgeUpdate,
    GateFilter,
    GateIn,
    GateOut,
    LaneFilter,
    LaneIn,
    LaneOut,
    SiteFilter,
    SiteIn,
    SiteOut,
)
from cloud.state import publish, wake_edges
from protocols.site import default_action_for
from protocols.sync import CommandKind, Entity, LanePolicy

# How long an enrollment token may be presented, and the bounds of a command's life.
ENROLL_TTL = timedelta(hours=24)
COMMAND_TTL_S = 30
COMMAND_TTL_BOUNDS = (1, 3600)


def _now() -> datetime:
    return datetime.now(UTC)


# --- sites ------------------------------------------------------------------------------------


def _site_out(row: Site) -> SiteOut:
    return SiteOut.model_validate(row)


async def list_sites(principal: Principal, f: SiteFilter, params: PageParams) -> Page[SiteOut]:
    query = scoped(Site, principal)
    if f.q:
        query = query.filter(Q(code__icontains=f.q) | Q(name__icontains=f.q))
    query = where_given(query, f, "kind", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_site_out,
    )


async def get_site(principal: Principal, ident: int) -> SiteOut:
    return _site_out(await get_owned(Site, principal, ident, "site"))


async def create_site(principal: Principal, data: SiteIn) -> SiteOut:
    async with in_transaction():
        await ensure_unique(scoped(Site, principal), "code", data.code)
        row = await create_row(principal, Site, "site", data.model_dump())
    return _site_out(row)


async def update_site(principal: Principal, ident: int, data: SiteIn) -> SiteOut:
    async with in_transaction():
        row = await get_owned(Site, principal, ident, "site")
        await ensure_unique(scoped(Site, principal), "code", data.code, ident)
        await update_row(principal, row, "site", data.model_dump())
    return _site_out(row)


async def set_site_enabled(principal: Principal, ident: int, enabled: bool) -> SiteOut:
    return _site_out(await set_enabled_row(principal, Site, "site", ident, enabled))


async def _site_empty(row: Site) -> None:
    if await Gate.filter(site_id=row.id).exists() or await Device.filter(site_id=row.id).exists():
        raise Conflict("id", "error.in_use")


async def delete_site(principal: Principal, ident: int) -> None:
    await delete_row(principal, Site, "site", ident, before=_site_empty)


async def site_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Site, principal).order_by("code").values_list("id", "name")
    return [(int(i), str(n)) for i, n in rows]


# --- gates ------------------------------------------------------------------------------------


def _gate_out(row: Gate) -> GateOut:
    return GateOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        code=row.code,
        name=row.name,
        enabled=row.enabled,
    )


async def list_gates(principal: Principal, f: GateFilter, params: PageParams) -> Page[GateOut]:
    query = scoped(Gate, principal)
    if f.q:
        query = query.filter(Q(code__icontains=f.q) | Q(name__icontains=f.q))
    query = where_given(query, f, "site_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_gate_out,
        related=("site",),
    )


async def get_gate(principal: Principal, ident: int) -> GateOut:
    row = await get_owned(Gate, principal, ident, "gate")
    await row.fetch_related("site")
    return _gate_out(row)


async def create_gate(principal: Principal, data: GateIn) -> GateOut:
    async with in_transaction():
        await check_reference(Site, principal, "site_id", data.site_id)
        await ensure_unique(scoped(Gate, principal), "code", data.code)
        row = await create_row(principal, Gate, "gate", data.model_dump())
    return await get_gate(principal, row.id)


async def update_gate(principal: Principal, ident: int, data: GateIn) -> GateOut:
    async with in_transaction():
        row = await get_owned(Gate, principal, ident, "gate")
        await check_reference(Site, principal, "site_id", data.site_id)
        await ensure_unique(scoped(Gate, principal), "code", data.code, ident)
        if data.site_id != row.site_id and await Lane.filter(gate_id=ident).exists():
            raise Invalid("site_id", "error.gate_has_lanes")
        await update_row(principal, row, "gate", data.model_dump())
    return await get_gate(principal, ident)


async def set_gate_enabled(principal: Principal, ident: int, enabled: bool) -> GateOut:
    await set_enabled_row(principal, Gate, "gate", ident, enabled)
    return await get_gate(principal, ident)


async def _gate_empty(row: Gate) -> None:
    if await Lane.filter(gate_id=row.id).exists():
        raise Conflict("id", "error.in_use")


async def delete_gate(principal: Principal, ident: int) -> None:
    await delete_row(principal, Gate, "gate", ident, before=_gate_empty)


async def gate_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Gate, principal).select_related("site").order_by("site__code", "code")
    return [(g.id, f"{g.site.name} / {g.name}") for g in rows]


# --- lanes ------------------------------------------------------------------------------------


def _lane_out(row: Lane) -> LaneOut:
    return LaneOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        gate_id=row.gate_id,
        gate_name=row.gate.name,
        code=row.code,
        name=row.name,
        direction=row.direction,
        wiring=row.wiring,
        default_action=row.default_action,
        min_confidence=row.min_confidence,
        enabled=row.enabled,
    )


def lane_policy(row: Lane) -> LanePolicy:
    return LanePolicy(
        code=row.code,
        enabled=row.enabled,
        default_action=row.default_action,
        min_confidence=row.min_confidence,
    )


async def _publish_lane(row: Lane) -> None:
    await publish(row.site_id, Entity.lane_policy, row.code, lane_policy(row))


async def list_lanes(principal: Principal, f: LaneFilter, params: PageParams) -> Page[LaneOut]:
    query = scoped(Lane, principal)
    if f.q:
        query = query.filter(Q(code__icontains=f.q) | Q(name__icontains=f.q))
    query = where_given(query, f, "site_id", "gate_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_lane_out,
        related=("site", "gate"),
    )


async def get_lane(principal: Principal, ident: int) -> LaneOut:
    row = await get_owned(Lane, principal, ident, "lane")
    await row.fetch_related("site", "gate")
    return _lane_out(row)


async def _lane_fields(principal: Principal, data: LaneIn, ident: int | None) -> dict[str, object]:
    gate = await check_reference(Gate, principal, "gate_id", data.gate_id)
    assert gate is not None
    await ensure_unique(scoped(Lane, principal), "code", data.code, ident)
    site = await Site.get(id=gate.site_id)
    fields = data.model_dump()
    fields["site_id"] = gate.site_id
    if data.default_action is None:
        fields["default_action"] = default_action_for(site.kind)
    return fields


async def create_lane(principal: Principal, data: LaneIn) -> LaneOut:
    async with in_transaction():
        row = await create_row(principal, Lane, "lane", await _lane_fields(principal, data, None))
        await _publish_lane(row)
    return await get_lane(principal, row.id)


async def update_lane(principal: Principal, ident: int, data: LaneIn) -> LaneOut:
    async with in_transaction():
        row = await get_owned(Lane, principal, ident, "lane")
        old_site, old_code = row.site_id, row.code
        await update_row(principal, row, "lane", await _lane_fields(principal, data, ident))
        if (old_site, old_code) != (row.site_id, row.code):
            # The edge knows the lane by code at its site: retract the old key.
            await publish(old_site, Entity.lane_policy, old_code, None)
        await _publish_lane(row)
    return await get_lane(principal, ident)


async def set_lane_enabled(principal: Principal, ident: int, enabled: bool) -> LaneOut:
    # A disabled lane is still published: the edge must know to refuse at it.
    await set_enabled_row(principal, Lane, "lane", ident, enabled, after=_publish_lane)
    return await get_lane(principal, ident)


async def _retract_lane(row: Lane) -> None:
    await Device.filter(lane_id=row.id).update(lane_id=None)
    await publish(row.site_id, Entity.lane_policy, row.code, None)


async def delete_lane(principal: Principal, ident: int) -> None:
    await delete_row(principal, Lane, "lane", ident, before=_retract_lane)


async def lane_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(Lane, principal).select_related("gate").order_by("gate__code", "code")
    return [(lane.id, f"{lane.gate.name} / {lane.name}") for lane in rows]


async def lane_code_choices(principal: Principal) -> list[tuple[str, str]]:
    """Lanes by code (what edges, records and commands name them by)."""
    rows = await scoped(Lane, principal).select_related("site", "gate").order_by("site_id", "code")
    return [(lane.code, f"{lane.site.name} / {lane.gate.name} / {lane.name}") for lane in rows]


# --- devices ----------------------------------------------------------------------------------


def _device_out(row: Device) -> DeviceOut:
    return DeviceOut(
        id=row.id,
        site_id=row.site_id,
        site_name=row.site.name,
        lane_id=row.lane_id,
        lane_name=row.lane.name if row.lane_id and row.lane else None,
        kind=row.kind,
        name=row.name,
        vendor=row.vendor,
        serial=row.serial,
        address=row.address,
        enabled=row.enabled,
    )


async def list_devices(
    principal: Principal, f: DeviceFilter, params: PageParams
) -> Page[DeviceOut]:
    query = scoped(Device, principal)
    if f.q:
        query = query.filter(Q(name__icontains=f.q) | Q(serial__icontains=f.q))
    query = where_given(query, f, "site_id", "kind", "enabled")
    return await paginate(
        query,
        params,
        sorts={"name": "name", "kind": "kind"},
        default_sort="name",
        convert=_device_out,
        related=("site", "lane"),
    )


async def get_device(principal: Principal, ident: int) -> DeviceOut:
    row = await get_owned(Device, principal, ident, "device")
    await row.fetch_related("site", "lane")
    return _device_out(row)


async def _check_device(principal: Principal, data: DeviceIn) -> None:
    await check_reference(Site, principal, "site_id", data.site_id)
    lane = await check_reference(Lane, principal, "lane_id", data.lane_id)
    if lane is not None and lane.site_id != data.site_id:
        raise Invalid("lane_id", "error.lane_other_site")


async def create_device(principal: Principal, data: DeviceIn) -> DeviceOut:
    async with in_transaction():
        await _check_device(principal, data)
        row = await create_row(principal, Device, "device", data.model_dump())
    return await get_device(principal, row.id)


async def update_device(principal: Principal, ident: int, data: DeviceIn) -> DeviceOut:
    async with in_transaction():
        row = await get_owned(Device, principal, ident, "device")
        await _check_device(principal, data)
        await update_row(principal, row, "device", data.model_dump())
    return await get_device(principal, ident)


async def set_device_enabled(principal: Principal, ident: int, enabled: bool) -> DeviceOut:
    await set_enabled_row(principal, Device, "device", ident, enabled)
    return await get_device(principal, ident)


async def delete_device(principal: Principal, ident: int) -> None:
    await delete_row(principal, Device, "device", ident)


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
    if f.occurred_from is not None:
        query = query.filter(occurred_at__gte=f.occurred_from)
    if f.occurred_to is not None:
        query = query.filter(occurred_at__lt=f.occurred_to)
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
    if f.issued_from is not None:
        query = query.filter(issued_at__gte=f.issued_from)
    if f.issued_to is not None:
        query = query.filter(issued_at__lt=f.issued_to)
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
    low, high = COMMAND_TTL_BOUNDS
    if not low <= ttl_s <= high:
        raise Invalid("ttl_s", "error.invalid")
    async with in_transaction():
        lane = await get_owned(Lane, principal, lane_id, "lane")
        issued = _now()
        row = await Command.create(
            id=uuid.uuid4(),
            tenant_id=principal.tenant_id,
            site_id=lane.site_id,
            lane=lane.code,
            kind=CommandKind(kind).value,
            payload={},
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
                "lane": {"from": None, "to": lane.code},
                "expires_at": {"from": None, "to": _stamp(row.expires_at)},
            },
        )
    wake_edges()  # after the commit, so a woken long-poll finds the command
    return await get_command(principal, row.id)


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

SITES = Crud(
    list=list_sites,
    get=get_site,
    create=create_site,
    update=update_site,
    set_enabled=set_site_enabled,
    delete=delete_site,
)
GATES = Crud(
    list=list_gates,
    get=get_gate,
    create=create_gate,
    update=update_gate,
    set_enabled=set_gate_enabled,
    delete=delete_gate,
)
LANES = Crud(
    list=list_lanes,
    get=get_lane,
    create=create_lane,
    update=update_lane,
    set_enabled=set_lane_enabled,
    delete=delete_lane,
)
DEVICES = Crud(
    list=list_devices,
    get=get_device,
    create=create_device,
    update=update_device,
    set_enabled=set_device_enabled,
    delete=delete_device,
)
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
