"""Rows the admin-UI tests share: a principal for a user, a site with a gate and lanes, records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cloud.access.models import AccessRecord
from cloud.auth import Principal
from cloud.org.models import Tenant, User
from cloud.sites.models import Gate, Lane, Site
from protocols.events import Reason, Verdict
from protocols.site import DefaultAction, Direction, SiteKind


def principal_of_user(user: User, permissions: frozenset[str] = frozenset()) -> Principal:
    return Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        account=user.account,
        name=user.name,
        is_admin=user.is_admin,
        permissions=permissions,
        csrf_token="test",
        language=user.language,
    )


@dataclass
class Place:
    site: Site
    gate: Gate
    entry: Lane
    exit: Lane


async def make_place(tenant: Tenant, prefix: str = "") -> Place:
    """A campus with one gate and an entry and an exit lane; codes prefixed per tenant."""
    site = await Site.create(
        tenant=tenant, code=f"{prefix}campus", name=f"{prefix}东校区", kind=SiteKind.campus
    )
    gate = await Gate.create(tenant=tenant, site=site, code=f"{prefix}north", name=f"{prefix}北门")
    lanes = [
        await Lane.create(
            tenant=tenant,
            site=site,
            gate=gate,
            code=f"{prefix}north-{direction.value}",
            name=f"{prefix}北门{'入' if direction == Direction.entry else '出'}",
            direction=direction,
            default_action=DefaultAction.deny,
        )
        for direction in (Direction.entry, Direction.exit)
    ]
    return Place(site=site, gate=gate, entry=lanes[0], exit=lanes[1])


async def add_records(
    place: Place,
    plates: list[str],
    *,
    start: datetime | None = None,
    step: timedelta = timedelta(minutes=1),
    verdicts: tuple[Verdict, ...] = (Verdict.open, Verdict.deny),
) -> list[AccessRecord]:
    """One record per plate, a step apart going back from start, verdicts alternating."""
    moment = start or datetime.now(UTC)
    rows = [
        AccessRecord(
            tenant_id=place.site.tenant_id,
            site_id=place.site.id,
            event_uuid=uuid.uuid4(),
            gate=place.gate.code,
            lane=place.entry.code,
            direction=Direction.entry,
            plate=plate,
            plate_color="blue",
            confidence=95,
            verdict=verdicts[index % len(verdicts)],
            reason=Reason.default,
            occurred_at=moment - step * index,
        )
        for index, plate in enumerate(plates)
    ]
    await AccessRecord.bulk_create(rows)
    return rows
