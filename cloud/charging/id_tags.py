"""Cards and app members (id tags) that may start charging, published to every charging station
site of the tenant: a blocked tag as Blocked (so chargers' local lists learn it), a deleted one
removed."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.charging.models import IdTag
from cloud.charging.station_publish import publish_id_tag
from cloud.charging.station_schemas import IdTagCreate, IdTagFilter, IdTagOut, IdTagUpdate
from cloud.crud import Crud, Page, PageParams, paginate
from cloud.org.service import (
    audit,
    create_row,
    delete_row,
    ensure_unique,
    get_owned,
    scoped,
    update_row,
)


def _id_tag_out(row: IdTag) -> IdTagOut:
    return IdTagOut(
        id=row.id,
        tag=row.tag,
        kind=row.kind,
        holder=row.holder,
        phone=row.phone,
        balance_fen=row.balance_fen,
        expires_at=row.expires_at,
        blocked=row.blocked,
        enabled=not row.blocked,
        created_at=row.created_at,
    )


async def list_id_tags(principal: Principal, f: IdTagFilter, params: PageParams) -> Page[IdTagOut]:
    query = scoped(IdTag, principal)
    if f.q:
        query = query.filter(
            Q(tag__icontains=f.q) | Q(holder__icontains=f.q) | Q(phone__icontains=f.q)
        )
    if f.kind is not None:
        query = query.filter(kind=f.kind)
    if f.enabled is not None:
        query = query.filter(blocked=not f.enabled)
    return await paginate(
        query,
        params,
        sorts={"tag": "tag", "created_at": "created_at"},
        default_sort="-created_at",
        convert=_id_tag_out,
    )


async def get_id_tag(principal: Principal, ident: int) -> IdTagOut:
    return _id_tag_out(await get_owned(IdTag, principal, ident, "id_tag"))


async def create_id_tag(principal: Principal, data: IdTagCreate) -> IdTagOut:
    async with in_transaction():
        await ensure_unique(scoped(IdTag, principal), "tag", data.tag)
        row = await create_row(principal, IdTag, "id_tag", data.model_dump())
        await publish_id_tag(row)
    return _id_tag_out(row)


async def update_id_tag(principal: Principal, ident: int, data: IdTagUpdate) -> IdTagOut:
    """Holder, phone and expiry; the tag itself is the key chargers know it by and stays."""
    async with in_transaction():
        row = await get_owned(IdTag, principal, ident, "id_tag")
        if await update_row(principal, row, "id_tag", data.model_dump()):
            await publish_id_tag(row)
    return _id_tag_out(row)


async def set_id_tag_enabled(principal: Principal, ident: int, enabled: bool) -> IdTagOut:
    """Unblock (enabled) or block a tag."""
    async with in_transaction():
        row = await get_owned(IdTag, principal, ident, "id_tag")
        if row.blocked == enabled:
            row.blocked = not enabled
            await row.save(update_fields=["blocked"])
            await audit(principal, "enable" if enabled else "disable", "id_tag", ident)
            await publish_id_tag(row)
    return _id_tag_out(row)


async def _retract(row: IdTag) -> None:
    await publish_id_tag(row, deleted=True)


async def delete_id_tag(principal: Principal, ident: int) -> None:
    await delete_row(principal, IdTag, "id_tag", ident, before=_retract)


ID_TAGS = Crud(
    list=list_id_tags,
    get=get_id_tag,
    create=create_id_tag,
    update=update_id_tag,
    set_enabled=set_id_tag_enabled,
    delete=delete_id_tag,
)
