"""What campus edges are told: registrant grants and revocations, vehicles, appointments, keys."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cloud.campus.keys import signing_key
from cloud.campus.models import (
    Appointment,
    AppointmentOrigin,
    AppointmentStatus,
    IdentityKind,
    Registrant,
    RegistrantRule,
    ReviewStatus,
    Slot,
    Vehicle,
    VehicleKind,
)
from cloud.campus.publish import sync_appointment, sync_registrant, sync_vehicle
from cloud.sites.models import Site, StateChange
from protocols import passes
from protocols.site import SiteKind
from tests.conftest import make_tenant
from tests.e2e.seed import Place, make_place


async def _latest(site: Site, entity: str, key: str) -> tuple[bool, dict[str, Any] | None]:
    """(published at all, the data the site's edges hold now)."""
    row = (
        await StateChange.filter(site_id=site.id, entity=entity, key=key)
        .order_by("-revision")
        .first()
    )
    return (row is not None, row.data if row is not None else None)


async def _teacher(place: Place) -> Registrant:
    return await Registrant.create(
        tenant_id=place.site.tenant_id,
        kind=IdentityKind.teacher,
        name="王老师",
        number="T1",
        id_card_tail="123456",
    )


async def test_a_registrant_is_published_to_every_campus_with_only_its_own_windows(db: str) -> None:
    owner = await make_tenant("pub")
    place = await make_place(owner.tenant)
    other = await Site.create(tenant=owner.tenant, code="west", name="西校区", kind=SiteKind.campus)
    lot = await Site.create(
        tenant=owner.tenant, code="lot", name="停车场", kind=SiteKind.parking_lot
    )
    teacher = await _teacher(place)
    await RegistrantRule.create(
        tenant=owner.tenant,
        registrant=teacher,
        site=place.site,
        gates=["north"],
        weekdays=[1, 2, 3, 4, 5],
        start_time=time(7, 0),
        end_time=time(19, 0),
    )
    await sync_registrant(teacher)

    _, here = await _latest(place.site, "registrant", str(teacher.id))
    assert here is not None and here["enabled"] is True
    assert here["windows"] == [
        {"gates": ["north"], "weekdays": [1, 2, 3, 4, 5], "start": "07:00:00", "end": "19:00:00"}
    ]
    _, there = await _latest(other, "registrant", str(teacher.id))
    assert there is not None and there["windows"] == []  # known at the west campus, no gate there
    assert await _latest(lot, "registrant", str(teacher.id)) == (False, None)

    teacher.enabled = False
    await teacher.save()
    await sync_registrant(teacher)
    for campus in (place.site, other):
        _, revoked = await _latest(campus, "revocation", f"registrant:{teacher.id}")
        assert revoked == {"reason": "disabled"}

    teacher.enabled = True
    await teacher.save()
    await sync_registrant(teacher)
    assert (await _latest(place.site, "revocation", f"registrant:{teacher.id}"))[1] is None


async def test_only_an_approved_enabled_unexpired_vehicle_of_an_enabled_registrant_opens(
    db: str,
) -> None:
    owner = await make_tenant("veh")
    place = await make_place(owner.tenant)
    teacher = await _teacher(place)
    car = await Vehicle.create(
        tenant=owner.tenant, registrant=teacher, kind=VehicleKind.motor, plate="京A66666"
    )
    await sync_vehicle(car)
    assert (await _latest(place.site, "vehicle", "京A66666"))[1] is None  # still pending

    car.status = ReviewStatus.approved
    await car.save()
    await sync_vehicle(car)
    _, grant = await _latest(place.site, "vehicle", "京A66666")
    assert grant == {"registrant": str(teacher.id), "kind": "motor", "valid_until": None}

    bike = await Vehicle.create(
        tenant=owner.tenant,
        registrant=teacher,
        kind=VehicleKind.ebike,
        plate="E1",
        status=ReviewStatus.approved,
        valid_until=date(2026, 1, 31),
    )
    await sync_vehicle(bike, today=date(2026, 2, 1))
    assert (await _latest(place.site, "vehicle", "E1"))[1] is None  # its validity has run out

    car.plate = "京A77777"
    await car.save()
    await sync_vehicle(car, before_plate="京A66666")
    assert (await _latest(place.site, "vehicle", "京A66666"))[1] is None
    assert (await _latest(place.site, "vehicle", "京A77777"))[1] is not None


async def test_an_appointment_is_published_while_in_force_and_revoked_when_cancelled(
    db: str,
) -> None:
    owner = await make_tenant("appt")
    place = await make_place(owner.tenant)
    teacher = await _teacher(place)
    start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    visit = await Appointment.create(
        tenant=owner.tenant,
        site=place.site,
        host=teacher,
        visitor_name="张访客",
        visitor_phone="13900000000",
        origin=AppointmentOrigin.request,
        visit_date=date(2026, 11, 23),
        slot=Slot.morning,
        window_start=start,
        window_end=start + timedelta(hours=6),
        reason="讲座",
        plate="沪A12345",
        status=AppointmentStatus.pending,
    )
    await sync_appointment(visit)
    assert (await _latest(place.site, "appointment", str(visit.id)))[1] is None
    assert await _latest(place.site, "revocation", f"appointment:{visit.id}") == (False, None)

    visit.status = AppointmentStatus.approved
    await visit.save()
    await sync_appointment(visit)
    _, grant = await _latest(place.site, "appointment", str(visit.id))
    assert grant is not None and grant["plate"] == "沪A12345"
    assert grant["window_start"].startswith("2026-11-23T00:00:00")

    visit.status = AppointmentStatus.cancelled
    await visit.save()
    await sync_appointment(visit)
    assert (await _latest(place.site, "appointment", str(visit.id)))[1] is None
    _, revoked = await _latest(place.site, "revocation", f"appointment:{visit.id}")
    assert revoked == {"reason": "cancelled"}


async def test_the_school_key_is_made_once_and_reaches_every_campus_even_a_new_one(
    db: str,
) -> None:
    owner = await make_tenant("keys")
    place = await make_place(owner.tenant)
    kid, key = await signing_key(owner.tenant.id)
    again, _ = await signing_key(owner.tenant.id)
    assert again == kid
    _, published = await _latest(place.site, "pass_key", kid)
    assert published is not None
    raw = base64.urlsafe_b64decode(published["public_key"] + "=")
    public = Ed25519PublicKey.from_public_bytes(raw)
    token = passes.issue(key, kid, passes.registrant_pass("1", ("north",), 1_000))
    assert passes.verify(token, {kid: public}, now=1_010).subject == "1"

    newer = await Site.create(
        tenant=owner.tenant, code="south", name="南校区", kind=SiteKind.campus
    )
    assert await _latest(newer, "pass_key", kid) == (False, None)
    await signing_key(owner.tenant.id)
    assert (await _latest(newer, "pass_key", kid))[1] == published
    revisions = await StateChange.filter(site_id=place.site.id, entity="pass_key").count()
    assert revisions == 1  # a campus that holds the key is not told again
