"""Turns access.decided events from edges into access records, once each."""

from __future__ import annotations

from cloud import sync
from cloud.access.models import AccessRecord
from cloud.sites.models import Edge, Site
from protocols.events import AccessDecided


async def record_access(edge: Edge, sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    """The sync ledger admits each event once, so each record is created once too; the unique
    event_uuid holds that even if a record were ever replayed."""
    records = []
    for event, payload in items:
        assert isinstance(payload, AccessDecided)
        site = sites[event.site]
        records.append(
            AccessRecord(
                tenant_id=site.tenant_id,
                site_id=site.id,
                edge_id=edge.id,
                event_uuid=event.uuid,
                gate=payload.gate,
                lane=payload.lane,
                direction=payload.direction,
                plate=payload.plate,
                plate_color=payload.plate_color,
                confidence=payload.confidence,
                verdict=payload.verdict,
                reason=payload.reason,
                method=payload.method,
                occurred_at=payload.read_at,
                snapshot=payload.snapshot,
            )
        )
    await AccessRecord.bulk_create(records)


def setup() -> None:
    sync.register("access.decided", record_access)
