"""The cloud side of PDA sign-in: a collector's PDA claims (collector, device, section) when it
signs a shift in, and gives it back when it signs out; shift events synced later (a PDA that
signed in offline) become CollectorShift rows, and an overlap they reveal is flagged.

The claim route is authenticated exactly like sync requests (cloud.sync.authenticate): the
PDA is an enrolled edge whose sites are the road sections it serves. Rules (需求: 同一用户只能
在线一位; 同一收费路段不能同时由多人登录):
- an account with an open shift on another device is refused, naming that device;
- a section with an open shift of another collector is refused, naming that collector;
- the same (collector, device, section) claiming again gets its open shift back.

A shift signed in offline cannot be refused; when its pda.shift_started event syncs and it
overlaps another open shift of the same account on another device, or of another collector
on the same section, an audit-log entry `pda_shift_conflict` (and a warning) records both
shifts for the attendance pages.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cloud.api import invalid_response
from cloud.db import is_postgres
from cloud.org.models import AuditLog
from cloud.parking.models import Collector, CollectorShift
from cloud.sites.models import Edge, Site
from cloud.sync import Accepted, Refused, authenticate, register
from cloud.sync import _refuse as refuse
from protocols.events import ShiftChanged
from protocols.pda import PDA_CLAIM_PATH, ClaimAction, ConflictKind, PdaClaim, PdaClaimReply

log = logging.getLogger(__name__)


def _reply(reply: PdaClaimReply, status: int = 200) -> web.Response:
    return web.json_response(reply.model_dump(mode="json"), status=status)


def _refused(kind: ConflictKind, holder: str, message: str) -> web.Response:
    return _reply(PdaClaimReply(ok=False, conflict=kind, holder=holder, message=message), 409)


async def _conflict(
    tenant_id: int, collector: str, device: str, site: Site, since: datetime | None = None
) -> tuple[ConflictKind, CollectorShift] | None:
    """The open shift (or, with `since`, one still open at or after it) that stands in the way."""
    still_open = Q(signed_out_at__isnull=True)
    if since is not None:
        still_open = still_open | Q(signed_out_at__gt=since)
    mine = (
        await CollectorShift.filter(still_open, tenant_id=tenant_id, collector=collector)
        .exclude(device=device)
        .first()
    )
    if mine is not None:
        return ConflictKind.account_elsewhere, mine
    theirs = (
        await CollectorShift.filter(still_open, tenant_id=tenant_id, site_id=site.id)
        .exclude(collector=collector)
        .first()
    )
    if theirs is not None:
        return ConflictKind.section_taken, theirs
    return None


async def claim(request: web.Request) -> web.Response:
    try:
        caller = await authenticate(request)
    except Refused as exc:
        return await refuse(request, exc)
    try:
        ask = PdaClaim.model_validate_json(caller.body)
    except ValidationError as exc:
        return invalid_response(exc, where="PDA claim")
    await Edge.filter(id=caller.edge.id).update(**caller.seen)
    tenant_id = caller.edge.tenant_id
    site = caller.sites.get(ask.site)
    if site is None:
        return _refused(
            ConflictKind.foreign_section,
            "",
            f"路段 {ask.site} 不属于本设备 (section {ask.site!r} is not one of this PDA's sites)",
        )
    async with in_transaction():
        query = Collector.filter(tenant_id=tenant_id, account=ask.collector)
        if is_postgres():
            # Claims of one account take turns; then claims of one section take turns.
            query = query.select_for_update()
        collector = await query.first()
        if is_postgres():
            await Site.filter(id=site.id).select_for_update().first()
        if ask.action == ClaimAction.sign_out:
            await CollectorShift.filter(
                tenant_id=tenant_id, uuid=ask.shift, signed_out_at__isnull=True
            ).update(
                signed_out_at=ask.at,
                cash_fen=ask.cash_fen,
                qr_fen=ask.qr_fen,
                arrears_fen=ask.arrears_fen,
                receipts=ask.receipts,
            )
            return _reply(PdaClaimReply(ok=True, shift=ask.shift))
        if collector is None or not collector.active:
            return _refused(
                ConflictKind.unknown_collector,
                "",
                f"账号 {ask.collector} 不存在或已停用 (no active collector {ask.collector!r})",
            )
        if site.id not in collector.sections:
            return _refused(
                ConflictKind.not_assigned,
                "",
                f"{collector.name} 未分配到路段 {site.name}"
                f" (collector {ask.collector!r} may not work section {site.code!r})",
            )
        same = await CollectorShift.filter(
            tenant_id=tenant_id,
            collector=ask.collector,
            device=ask.device,
            site_id=site.id,
            signed_out_at__isnull=True,
        ).first()
        if same is not None:
            return _reply(PdaClaimReply(ok=True, shift=same.uuid))
        found = await _conflict(tenant_id, ask.collector, ask.device, site)
        if found is not None:
            kind, other = found
            if kind == ConflictKind.account_elsewhere:
                return _refused(
                    kind,
                    other.device,
                    f"该账号已在设备 {other.device} 上登录"
                    f" (account {ask.collector!r} is signed in on device {other.device!r})",
                )
            return _refused(
                kind,
                other.collector,
                f"路段 {site.name} 已由收费员 {other.collector} 签到"
                f" (section {site.code!r} is signed in by collector {other.collector!r})",
            )
        await CollectorShift.create(
            tenant_id=tenant_id,
            uuid=ask.shift,
            collector=ask.collector,
            site_id=site.id,
            device=ask.device,
            signed_in_at=ask.at,
        )
    return _reply(PdaClaimReply(ok=True, shift=ask.shift))


# --- shifts synced as events ------------------------------------------------------------------


async def _flag(edge: Edge, shift: ShiftChanged, kind: ConflictKind, other: CollectorShift) -> None:
    detail: dict[str, Any] = {
        "conflict": kind.value,
        "shift": str(shift.shift),
        "collector": shift.collector,
        "device": shift.device,
        "site": shift.site,
        "other_shift": str(other.uuid),
        "other_collector": other.collector,
        "other_device": other.device,
        "edge": edge.code,
    }
    log.warning("PDA shift signed in offline overlaps another: %s", detail)
    await AuditLog.create(
        tenant_id=edge.tenant_id,
        action="pda_shift_conflict",
        entity="collector_shift",
        entity_id=str(shift.shift),
        detail=detail,
    )


async def ingest_shift_started(edge: Edge, sites: dict[str, Site], items: list[Accepted]) -> None:
    for _, payload in items:
        assert isinstance(payload, ShiftChanged)
        site = sites[payload.site]
        if await CollectorShift.filter(uuid=payload.shift).exists():
            continue  # claimed online: the claim recorded it
        found = await _conflict(
            edge.tenant_id, payload.collector, payload.device, site, since=payload.signed_in_at
        )
        await CollectorShift.create(
            tenant_id=edge.tenant_id,
            uuid=payload.shift,
            collector=payload.collector,
            site_id=site.id,
            device=payload.device,
            signed_in_at=payload.signed_in_at,
        )
        if found is not None:
            await _flag(edge, payload, *found)


async def ingest_shift_ended(edge: Edge, sites: dict[str, Site], items: list[Accepted]) -> None:
    for _, payload in items:
        assert isinstance(payload, ShiftChanged)
        takings: dict[str, Any] = {
            "signed_out_at": payload.signed_out_at or payload.signed_in_at,
            "cash_fen": payload.cash_fen,
            "qr_fen": payload.qr_fen,
            "arrears_fen": payload.arrears_fen,
            "receipts": payload.receipts,
        }
        updated = await CollectorShift.filter(tenant_id=edge.tenant_id, uuid=payload.shift).update(
            **takings
        )
        if not updated:
            await CollectorShift.create(
                tenant_id=edge.tenant_id,
                uuid=payload.shift,
                collector=payload.collector,
                site_id=sites[payload.site].id,
                device=payload.device,
                signed_in_at=payload.signed_in_at,
                **takings,
            )


def setup(app: web.Application) -> None:
    register("pda.shift_started", ingest_shift_started)
    register("pda.shift_ended", ingest_shift_ended)
    app.router.add_post(PDA_CLAIM_PATH, claim)
