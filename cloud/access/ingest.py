"""Turns access.decided events from edges into access records, once each."""

from __future__ import annotations

from cloud import sync
from cloud.access.models import AccessRecord
from cloud.campus.visit_ingest import appointment_id, mark_visits, registrant_id
from cloud.db import existing_uuids, insert_rows
from cloud.sites.models import Edge, Site
from protocols.events import AccessDecided

RECORD_COLUMNS = (
    "tenant_id", "site_id", "edge_id", "event_uuid", "gate", "lane", "direction", "plate",
    "plate_color", "confidence", "verdict", "reason", "method", "registrant_id",
    "appointment_id", "occurred_at", "snapshot",
)  # fmt: skip


async def record_access(edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    """The sync ledger admits each event once; a record already made for an event (a replay
    through any other path) is left as it is, so the same event twice changes nothing."""
    done = await existing_uuids(AccessRecord, "event_uuid", [event.uuid for event, _ in items])
    rows = []
    fresh: list[sync.Accepted] = []
    for event, payload in items:
        if str(event.uuid) in done:
            continue
        assert isinstance(payload, AccessDecided)
        site = sites[event.site]
        subject = payload.subject
        rows.append(
            (site.tenant_id, site.id, edge.id, event.uuid, payload.gate, payload.lane,
             payload.direction, payload.plate, payload.plate_color, payload.confidence,
             payload.verdict, payload.reason, payload.method.value, registrant_id(subject),
             appointment_id(subject), payload.read_at, payload.snapshot)
        )  # fmt: skip
        if subject:
            fresh.append((event, payload))
    await insert_rows(AccessRecord, RECORD_COLUMNS, rows)
    if fresh:
        await mark_visits(sites, fresh)


def setup() -> None:
    sync.register("access.decided", record_access)
