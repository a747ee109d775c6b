"""Visit rules: daily and per-slot limits, overlap warnings, decisions, messages, edge state."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cloud.campus import visits
from cloud.campus.models import (
    Appointment,
    AppointmentStatus,
    IdentityKind,
    Registrant,
    RegistrantRule,
    Slot,
    Visitor,
)
from cloud.errors import Conflict, Invalid, NotFound
from cloud.notify.models import Message
from cloud.notify.service import Template
from cloud.sites.models import Site, StateChange
from tests.conftest import make_tenant
from tests.e2e.seed import make_place

ZONE = ZoneInfo("Asia/Shanghai")
# 05:00 local: every slot of today is still ahead.
NOW = datetime.combine(date.today(), time(5, 0), ZONE).astimezone(UTC)
TODAY = NOW.astimezone(ZONE).date()
TOMORROW = TODAY + timedelta(days=1)


@dataclass
class World:
    site: Site
    host: Registrant
    other_host: Registrant
    visitor: Visitor


async def _world() -> World:
    admin = await make_tenant("school")
    place = await make_place(admin.tenant)

    async def teacher(number: str, name: str, phone: str) -> Registrant:
        row = await Registrant.create(
            tenant=admin.tenant,
            kind=IdentityKind.teacher,
            name=name,
            number=number,
            id_card_tail="12345X",
            phone=phone,
            visitor_authorised=True,
        )
        await RegistrantRule.create(
            tenant=admin.tenant,
            registrant=row,
            site=place.site,
            weekdays=[1, 2, 3, 4, 5, 6, 7],
            start_time=time(0),
            end_time=time(23, 59),
        )
        return row

    host = await teacher("T001", "王老师", "13900000001")
    other = await teacher("T002", "李老师", "13900000002")
    visitor = await Visitor.create(tenant=admin.tenant, phone="13800000000", name="张三")
    return World(place.site, host, other, visitor)


def _details(day: date = TOMORROW, slot: Slot = Slot.morning, **more: Any) -> visits.VisitDetails:
    base = visits.VisitDetails(
        visit_date=day,
        slot=slot,
        reason="洽谈合作",
        visitor_name="张三",
        visitor_id_card="110101199001011234",
    )
    return replace(base, **more) if more else base


async def _request(w: World, slot: Slot, day: date = TOMORROW, **kw: bool) -> Appointment:
    return await visits.request_visit(
        w.visitor, w.host.id, _details(day, slot), commitments=True, zone=ZONE, now=NOW, **kw
    )


async def test_fourth_unvisited_appointment_on_one_day_is_refused(db: str) -> None:
    w = await _world()
    for slot in Slot:
        await _request(w, slot)
    # A fourth on the same day, whatever the slot, with another host: refused, nothing stored.
    with pytest.raises(Conflict) as refused:
        await visits.request_visit(
            w.visitor,
            w.other_host.id,
            _details(TOMORROW, Slot.afternoon),
            commitments=True,
            zone=ZONE,
            now=NOW,
        )
    assert refused.value.message == "visits.error.day_full"
    assert await Appointment.filter(visitor_id=w.visitor.id).count() == 3
    # Another day is fine.
    await _request(w, Slot.morning, TOMORROW + timedelta(days=1))


async def test_second_appointment_in_one_slot_is_refused_until_the_first_goes(db: str) -> None:
    w = await _world()
    first = await _request(w, Slot.afternoon)
    with pytest.raises(Conflict) as refused:
        await _request(w, Slot.afternoon)
    assert refused.value.field == "slot" and refused.value.message == "visits.error.slot_taken"
    # A visited or cancelled appointment no longer holds the slot.
    await visits.cancel_by_visitor(w.visitor, first.id)
    await _request(w, Slot.afternoon)


async def test_request_checks_host_date_plate_id_card_and_commitments(db: str) -> None:
    w = await _world()
    w.other_host.visitor_authorised = False
    await w.other_host.save()
    with pytest.raises(Invalid) as bad:
        await visits.request_visit(
            w.visitor, w.other_host.id, _details(), commitments=True, zone=ZONE, now=NOW
        )
    assert bad.value.field == "host_id"
    cases = [
        (_details(TODAY - timedelta(days=1)), True, "visit_date"),
        (_details(TODAY + timedelta(days=visits.MAX_DAYS_AHEAD + 1)), True, "visit_date"),
        (_details(plate="NOTAPLATE"), True, "plate"),
        (_details(visitor_id_card="123"), True, "visitor_id_card"),
        (_details(), False, "commitments"),
    ]
    for details, commitments, field in cases:
        with pytest.raises(Invalid) as bad:
            await visits.request_visit(
                w.visitor, w.host.id, details, commitments=commitments, zone=ZONE, now=NOW
            )
        assert bad.value.field == field
    assert await Appointment.all().count() == 0
    # A slot already over today is refused too (evening at 23:30).
    late = datetime.combine(TODAY, time(23, 30), ZONE).astimezone(UTC)
    with pytest.raises(Invalid) as bad:
        await visits.request_visit(
            w.visitor,
            w.host.id,
            _details(TODAY, Slot.evening),
            commitments=True,
            zone=ZONE,
            now=late,
        )
    assert bad.value.message == "visits.error.slot_over"


async def test_request_overlapping_a_visit_in_force_warns_then_proceeds(db: str) -> None:
    w = await _world()
    earlier = await _request(w, Slot.morning)
    await visits.approve(w.host, earlier.id, now=NOW)
    # The visitor already came (visited), so the slot is free, but the window is in force.
    await Appointment.filter(id=earlier.id).update(visited_at=NOW)
    with pytest.raises(visits.OverlapWarning) as warned:
        await visits.request_visit(
            w.visitor,
            w.other_host.id,
            _details(TOMORROW, Slot.morning),
            commitments=True,
            zone=ZONE,
            now=NOW,
        )
    assert [a.id for a in warned.value.clashes] == [earlier.id]
    assert await Appointment.filter(host_id=w.other_host.id).count() == 0
    again = await visits.request_visit(
        w.visitor,
        w.other_host.id,
        _details(TOMORROW, Slot.morning),
        commitments=True,
        confirm_overlap=True,
        zone=ZONE,
        now=NOW,
    )
    assert again.status is AppointmentStatus.pending
    # No warning when the only overlap is merely pending.
    pending_only = await _request(w, Slot.evening)
    assert pending_only.status is AppointmentStatus.pending


async def test_invitation_overlapping_a_visit_in_force_warns_and_many_invitations_fit_a_slot(
    db: str,
) -> None:
    w = await _world()
    mine = await _request(w, Slot.afternoon)
    await visits.approve(w.host, mine.id, now=NOW)
    invite = _details(TOMORROW, Slot.afternoon, visitor_phone=w.visitor.phone, visitor_id_card="")
    with pytest.raises(visits.OverlapWarning):
        await visits.invite(w.other_host, invite, zone=ZONE, now=NOW)
    sent = await visits.invite(w.other_host, invite, confirm_overlap=True, zone=ZONE, now=NOW)
    assert sent.status is AppointmentStatus.inviting and sent.visitor_id == w.visitor.id
    # The host may invite several people into one slot (strangers: no warning).
    for n in range(3):
        other = replace(invite, visitor_phone=f"1370000000{n}", visitor_name=f"访客{n}")
        await visits.invite(w.other_host, other, zone=ZONE, now=NOW)
    assert await Appointment.filter(host_id=w.other_host.id, slot=Slot.afternoon).count() == 4


async def test_approval_publishes_the_visit_and_tells_visitor_and_host(db: str) -> None:
    w = await _world()
    request = await _request(w, Slot.morning)
    asked = await Message.filter(template=Template.visit_request.value).get()
    assert asked.recipient == w.host.phone and "张三" in asked.body and "洽谈合作" in asked.body
    assert not await StateChange.filter(entity="appointment").exists()  # pending: not at the edge

    approved = await visits.approve(w.host, request.id, now=NOW)
    assert approved.status is AppointmentStatus.approved and approved.site_id == w.site.id
    grant = await StateChange.filter(
        site_id=w.site.id, entity="appointment", key=str(request.id)
    ).get()
    assert grant.data is not None and grant.data["visitor"] == "张三"
    result = await Message.filter(template=Template.visit_result.value).get()
    assert result.recipient == w.visitor.phone and "已通过" in result.body
    notice = await Message.filter(template=Template.reception_notice.value).get()
    assert notice.recipient == w.host.phone and "13800000000" in notice.body
    assert {m.state.value for m in await Message.all()} == {"held"}
    with pytest.raises(Conflict):  # decided once
        await visits.reject(w.host, request.id, "太晚了")

    # Cancelling it afterwards revokes it at the edge.
    await visits.cancel_by_visitor(w.visitor, request.id)
    revoked = await StateChange.filter(entity="revocation", key=f"appointment:{request.id}").get()
    assert revoked.data == {"reason": "cancelled"}


async def test_rejection_needs_a_reason_and_the_visitor_reads_it(db: str) -> None:
    w = await _world()
    request = await _request(w, Slot.evening)
    with pytest.raises(Invalid) as bad:
        await visits.reject(w.host, request.id, "  ")
    assert bad.value.field == "reject_reason"
    assert (await Appointment.get(id=request.id)).status is AppointmentStatus.pending
    # Another teacher cannot decide it.
    with pytest.raises(NotFound):
        await visits.approve(w.other_host, request.id, now=NOW)
    rejected = await visits.reject(w.host, request.id, "当天外出开会")
    assert rejected.status is AppointmentStatus.rejected
    assert rejected.reject_reason == "当天外出开会"
    message = await Message.filter(template=Template.visit_result.value).get()
    assert "当天外出开会" in message.body and message.recipient == w.visitor.phone
    revoked = await StateChange.filter(entity="revocation", key=f"appointment:{request.id}").get()
    assert revoked.data == {"reason": "rejected"}


async def test_visitor_confirms_an_invitation_completing_details(db: str) -> None:
    w = await _world()
    invite = _details(
        TOMORROW, Slot.morning, visitor_phone="13600000000", visitor_name="赵六", visitor_id_card=""
    )
    sent = await visits.invite(w.host, invite, link="http://x/m/school/visits", zone=ZONE, now=NOW)
    message = await Message.filter(template=Template.invitation.value).get()
    assert message.recipient == "13600000000" and "http://x/m/school/visits" in message.body
    # The invited person signs in later: the invitation is theirs by phone.
    guest = await Visitor.create(tenant_id=w.visitor.tenant_id, phone="13600000000")
    with pytest.raises(Invalid) as bad:  # no ID card yet, none given
        await visits.confirm_invitation(guest, sent.id, visits.Completion(commitments=True), NOW)
    assert bad.value.field == "visitor_id_card"
    with pytest.raises(Invalid) as bad:
        await visits.confirm_invitation(
            guest, sent.id, visits.Completion(visitor_id_card="110101199001011234"), NOW
        )
    assert bad.value.field == "commitments"
    done = await visits.confirm_invitation(
        guest,
        sent.id,
        visits.Completion(visitor_id_card="110101199001011234", plate="京A12345", commitments=True),
        NOW,
    )
    assert done.status is AppointmentStatus.confirmed and done.plate == "京A12345"
    assert done.visitor_id == guest.id and done.commitments_accepted_at is not None
    grant = await StateChange.filter(entity="appointment", key=str(sent.id)).get()
    assert grant.data is not None and grant.data["plate"] == "京A12345"
    told = await Message.filter(template=Template.invitation_confirmed.value).get()
    assert told.recipient == w.host.phone and "赵六" in told.body
    # A visitor other than the invited one cannot see or confirm it.
    with pytest.raises(NotFound):
        await visits.confirm_invitation(
            w.visitor, sent.id, visits.Completion(commitments=True), NOW
        )


async def test_site_is_the_hosts_campus_only_when_obvious(db: str) -> None:
    w = await _world()
    second = await Site.create(
        tenant_id=w.site.tenant_id, code="west", name="西校区", kind=w.site.kind
    )
    await RegistrantRule.create(
        tenant_id=w.site.tenant_id,
        registrant=w.other_host,
        site=second,
        weekdays=[1],
        start_time=time(0),
        end_time=time(1),
    )
    row = await visits.request_visit(
        w.visitor, w.other_host.id, _details(), commitments=True, zone=ZONE, now=NOW
    )
    assert row.site_id is None  # two campuses: every campus gets it
    await visits.approve(w.other_host, row.id, now=NOW)
    sites = set(
        await StateChange.filter(entity="appointment", key=str(row.id)).values_list(
            "site_id", flat=True
        )
    )
    assert sites == {w.site.id, second.id}
