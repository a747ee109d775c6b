"""State published to edges: every change to what an edge obeys is logged per site with a revision."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from pydantic import BaseModel
from tortoise.expressions import F

from cloud.sites.models import Site, StateChange
from protocols.sync import Entity, SiteState
from protocols.sync import StateChange as WireChange

# Wakes long-polls in this process at once; other workers notice on their next poll.
# One condition per event loop: asyncio primitives belong to the loop that first awaits them.
_conditions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Condition] = (
    weakref.WeakKeyDictionary()
)


def _condition() -> asyncio.Condition:
    loop = asyncio.get_running_loop()
    condition = _conditions.get(loop)
    if condition is None:
        condition = _conditions[loop] = asyncio.Condition()
    return condition


async def publish(site_id: int, entity: Entity, key: str, data: BaseModel | None) -> int:
    """Log that `entity` `key` now holds `data` (None: removed) at the site; returns the revision.

    Call it inside the transaction of the change itself, so the record and what edges see
    never disagree.
    """
    await Site.filter(id=site_id).update(revision=F("revision") + 1)
    site = await Site.get(id=site_id)
    payload: dict[str, Any] | None = data.model_dump(mode="json") if data is not None else None
    await StateChange.create(
        site_id=site_id, revision=site.revision, entity=entity.value, key=key, data=payload
    )
    wake_edges()
    return int(site.revision)


async def publish_many(site_id: int, changes: list[tuple[Entity, str, BaseModel | None]]) -> int:
    """`publish` for many keys at once: one revision bump and one bulk insert (an import of
    thousands of rows costs two statements per site, not three per row). Returns the revision."""
    if not changes:
        return int((await Site.get(id=site_id)).revision)
    await Site.filter(id=site_id).update(revision=F("revision") + len(changes))
    site = await Site.get(id=site_id)
    first = int(site.revision) - len(changes) + 1
    await StateChange.bulk_create(
        [
            StateChange(
                site_id=site_id,
                revision=first + offset,
                entity=entity.value,
                key=key,
                data=data.model_dump(mode="json") if data is not None else None,
            )
            for offset, (entity, key, data) in enumerate(changes)
        ],
        batch_size=1000,
    )
    wake_edges()
    return int(site.revision)


_wakers: set[asyncio.Task[None]] = set()


def wake_edges() -> None:
    """Wake this process's long-polls soon (after the caller's transaction has committed)."""
    task = asyncio.get_running_loop().create_task(_notify_all())
    _wakers.add(task)  # held until done, so the task is not garbage-collected mid-flight
    task.add_done_callback(_wakers.discard)


async def _notify_all() -> None:
    # Let the publishing transaction commit first, so woken pollers see the new revision.
    await asyncio.sleep(0.05)
    condition = _condition()
    async with condition:
        condition.notify_all()


async def wait_for_publication(seconds: float) -> None:
    """Return when anything is published in this process, or after `seconds`."""
    try:
        condition = _condition()
        async with condition:
            await asyncio.wait_for(condition.wait(), seconds)
    except TimeoutError:
        pass


async def site_state(site: Site, since: int) -> SiteState:
    """Changes after `since`, collapsed to the latest per entity key; a full snapshot when since is 0
    or older than the log still holds."""
    oldest = await StateChange.filter(site_id=site.id).order_by("revision").first()
    full = (
        since <= 0 or since > site.revision or (oldest is not None and since < oldest.revision - 1)
    )
    query = StateChange.filter(site_id=site.id)
    if not full:
        query = query.filter(revision__gt=since)
    latest: dict[tuple[str, str], StateChange] = {}
    for change in await query.order_by("revision"):
        latest[(change.entity, change.key)] = change
    changes = [
        WireChange(entity=Entity(c.entity), key=c.key, data=c.data)
        for c in sorted(latest.values(), key=lambda c: c.revision)
        if not (full and c.data is None)
    ]
    return SiteState(site=site.code, revision=site.revision, full=full, changes=changes)
