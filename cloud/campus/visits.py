"""Visitor appointments: requests by visitors, invitations by teachers, decisions and cancellations.

The rules (requirements 000 part 2 section 4.2-4.3 and part 3 section 1):

- A host is an enabled teacher with visitor authorisation (访客授权).
- A visit is for one slot (morning, afternoon, evening) of a day from today to
  ``MAX_DAYS_AHEAD`` days ahead; its window is the slot's local hours in the school's zone.
- A visitor may hold at most three unvisited appointments a day that are pending or in force,
  and at most one per slot; a fourth, or a second in one slot, is refused (ServiceError).
- A request or an invitation whose window overlaps one of the visitor's appointments in force
  raises :class:`OverlapWarning` unless the caller passes ``confirm_overlap=True`` (the person
  saw the warning and goes on).
- A host may invite many visitors into one slot.
- The campus (site) of an appointment is the host's campus when every access rule of the host
  names the same campus; otherwise None, which publishes it to every campus of the school.

Every status change publishes the appointment to the edges (`sync_appointment`) in the same
transaction, and the people concerned get a message (cloud.notify).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cloud.campus import texts_mobile as _texts  # noqa: F401  (registers the error texts)
from cloud.campus.models import (
    IN_FORCE,
    Appointment,
    AppointmentOrigin,
    AppointmentStatus,
    IdentityKind,
    Registrant,
    RegistrantRule,
    Slot,
    Visitor,
)
from cloud.campus.publish import sync_appointment
from cloud.campus.slots import overlaps, slot_window
from cloud.errors import Conflict, Invalid, NotFound
from cloud.notify import service as notify
from cloud.notify.service import Template
from cloud.org.models import Tenant
from protocols.plates import is_valid_plate, normalize_plate

MAX_DAYS_AHEAD = 14
MAX_PER_DAY = 3
MAX_COMPANIONS = 20
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
# Pending or in force: what counts against a visitor's daily and per-slot limits.
HOLDING = (AppointmentStatus.pending, *IN_FORCE)
ID_CARD = re.compile(r"\d{17}[\dX]")


class OverlapWarning(Exception):
    """The new visit overlaps appointments of the visitor already in force; ask, then confirm."""

    def __init__(self, clashes: list[Appointment]) -> None:
        super().__init__(f"overlaps {len(clashes)} appointment(s) in force")
        self.clashes = clashes


@dataclass(frozen=True)
class VisitDetails:
    """What a visit asks for, from a request form or an invitation form."""

    visit_date: date
    slot: Slot
    reason: str
    visitor_name: str
    visitor_phone: str = ""
    visitor_id_card: str = ""
    transport: str = ""
    plate: str = ""
    companions: int = 0
    companion_names: str = ""


@dataclass(frozen=True)
class Completion:
    """What an invited visitor fills in when confirming (blank keeps what the host wrote)."""

    visitor_name: str = ""
    visitor_id_card: str = ""
    transport: str = ""
    plate: str = ""
    companions: int | None = None
    companion_names: str = ""
    commitments: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def today_in(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or _now()).astimezone(zone).date()


# --- checks ----------------------------------------------------------------------------------


def check_plate(raw: str) -> str:
    plate = normalize_plate(raw)
    if plate and not is_valid_plate(plate):
        raise Invalid("plate", "error.plate_invalid")
    return plate


def check_id_card(raw: str, required: bool) -> str:
    card = raw.strip().upper()
    if not card:
        if required:
            raise Invalid("visitor_id_card", "error.required")
        return ""
    if not ID_CARD.fullmatch(card):
        raise Invalid("visitor_id_card", "visits.error.id_card")
    return card


def _check_text(field: str, value: str, limit: int, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise Invalid(field, "error.required")
    if len(value) > limit:
        raise Invalid(field, "visits.error.too_long")
    return value


def check_companions(count: int) -> int:
    if not 0 <= count <= MAX_COMPANIONS:
        raise Invalid("companions", "visits.error.companions")
    return count


def window_for(day: date, slot: Slot, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The slot's window, refused when the day is out of range or the slot is already over."""
    today = today_in(zone, now)
    if day < today or day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise Invalid("visit_date", "visits.error.date_range")
    window = slot_window(day, slot, zone)
    if window[1] <= now:
        raise Invalid("slot", "visits.error.slot_over")
    return window


def is_host(registrant: Registrant) -> bool:
    return (
        registrant.kind is IdentityKind.teacher
        and registrant.enabled
        and registrant.visitor_authorised
    )


async def _host(tenant_id: int, host_id: int) -> Registrant:
    host = await Registrant.get_or_none(id=host_id, tenant_id=tenant_id)
    if host is None or not is_host(host):
        raise Invalid("host_id", "visits.error.host")
    return host


async def host_site(host: Registrant) -> int | None:
    """The host's campus when all of their access rules name one; None (every campus) otherwise."""
    rules = await RegistrantRule.filter(registrant_id=host.id)
    sites = {rule.site_id for rule in rules}
    return sites.pop() if len(sites) == 1 else None


def of_visitor(tenant_id: int, phone: str, visitor_id: int | None) -> Q:
    """A visitor's appointments: linked to their row, or made out to their phone (invitations
    made before the visitor ever signed in)."""
    mine = Q(visitor_phone=phone)
    if visitor_id is not None:
        mine |= Q(visitor_id=visitor_id)
    return Q(tenant_id=tenant_id) & mine


async def _check_limits(visitor: Visitor, day: date, slot: Slot) -> None:
    holding = await Appointment.filter(
        of_visitor(visitor.tenant_id, visitor.phone, visitor.id),
        visit_date=day,
        status__in=HOLDING,
        visited_at__isnull=True,
    ).values_list("slot", flat=True)
    if len(holding) >= MAX_PER_DAY:
        raise Conflict("visit_date", "visits.error.day_full")
    if slot in holding:
        raise Conflict("slot", "visits.error.slot_taken")


async def overlapping(
    tenant_id: int,
    phone: str,
    visitor_id: int | None,
    window: tuple[datetime, datetime],
    exclude_id: int | None = None,
) -> list[Appointment]:
    """The visitor's appointments in force whose window overlaps `window`."""
    query = Appointment.filter(
        of_visitor(tenant_id, phone, visitor_id),
        status__in=IN_FORCE,
        window_start__lt=window[1],
        window_end__gt=window[0],
    )
    if exclude_id is not None:
        query = query.exclude(id=exclude_id)
    rows = await query.order_by("window_start").prefetch_related("host")
    return [row for row in rows if overlaps((row.window_start, row.window_end), window)]


# --- notifications ---------------------------------------------------------------------------


def slot_text(slot: Slot) -> str:
    from cloud import i18n

    return i18n.t(f"notify.slot.{slot.value}", "zh")


async def _school(tenant_id: int) -> str:
    tenant = await Tenant.get(id=tenant_id)
    return tenant.name


def _recipient(registrant: Registrant) -> str:
    """A registrant's messages go to their phone; one without a phone is named by id."""
    return registrant.phone or f"registrant:{registrant.id}"


async def _params(appointment: Appointment, host: Registrant) -> dict[str, str]:
    return {
        "school": await _school(appointment.tenant_id),
        "visitor": appointment.visitor_name,
        "visitor_phone": appointment.visitor_phone,
        "host": host.name,
        "date": appointment.visit_date.isoformat(),
        "slot": slot_text(appointment.slot),
        "reason": appointment.reason,
        "reject_reason": appointment.reject_reason,
    }


# --- requests by visitors ----------------------------------------------------------------------


async def request_visit(
    visitor: Visitor,
    host_id: int,
    details: VisitDetails,
    *,
    commitments: bool,
    confirm_overlap: bool = False,
    zone: ZoneInfo = DEFAULT_ZONE,
    now: datetime | None = None,
) -> Appointment:
    """A visitor asks a host for a visit; pending until the host decides."""
    now = now or _now()
    host = await _host(visitor.tenant_id, host_id)
    window = window_for(details.visit_date, details.slot, zone, now)
    reason = _check_text("reason", details.reason, 255)
    name = _check_text("visitor_name", details.visitor_name, 64)
    id_card = check_id_card(details.visitor_id_card, required=True)
    plate = check_plate(details.plate)
    companions = check_companions(details.companions)
    companion_names = _check_text("companion_names", details.companion_names, 255, False)
    transport = _check_text("transport", details.transport, 16, False)
    if not commitments:
        raise Invalid("commitments", "visits.error.commitments")
    async with in_transaction():
        await _check_limits(visitor, details.visit_date, details.slot)
        clashes = await overlapping(visitor.tenant_id, visitor.phone, visitor.id, window)
        if clashes and not confirm_overlap:
            raise OverlapWarning(clashes)
        appointment = await Appointment.create(
            tenant_id=visitor.tenant_id,
            site_id=await host_site(host),
            host=host,
            visitor=visitor,
            visitor_name=name,
            visitor_phone=visitor.phone,
            visitor_id_card=id_card,
            origin=AppointmentOrigin.request,
            visit_date=details.visit_date,
            slot=details.slot,
            window_start=window[0],
            window_end=window[1],
            reason=reason,
            transport=transport,
            plate=plate,
            companions=companions,
            companion_names=companion_names,
            commitments_accepted_at=now,
            status=AppointmentStatus.pending,
        )
        # The visitor's profile keeps what they typed, so the next request is prefilled.
        if (visitor.name, visitor.id_card) != (name, id_card):
            visitor.name, visitor.id_card = name, id_card
            await visitor.save(update_fields=["name", "id_card"])
        await notify.notify(
            visitor.tenant_id,
            Template.visit_request,
            _recipient(host),
            await _params(appointment, host),
        )
    return appointment


async def _hosted(host: Registrant, appointment_id: int, origin: AppointmentOrigin) -> Appointment:
    row = await Appointment.get_or_none(
        id=appointment_id, tenant_id=host.tenant_id, host_id=host.id, origin=origin
    )
    if row is None:
        raise NotFound("appointment", appointment_id)
    return row


async def _decide(row: Appointment) -> None:
    """Store the host's decision, only if the request is still pending (two taps, two phones)."""
    changed = await Appointment.filter(id=row.id, status=AppointmentStatus.pending).update(
        status=row.status, reject_reason=row.reject_reason, decided_at=row.decided_at
    )
    if not changed:
        raise Conflict("status", "visits.error.not_pending")


async def approve(
    host: Registrant, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The host approves a pending request: in force, published, visitor and host told."""
    if not is_host(host):
        raise Invalid("host_id", "visits.error.host")
    async with in_transaction():
        row = await _hosted(host, appointment_id, AppointmentOrigin.request)
        row.status = AppointmentStatus.approved
        row.decided_at = now or _now()
        await _decide(row)
        await sync_appointment(row)
        params = await _params(row, host)
        await notify.notify(
            row.tenant_id,
            Template.visit_result,
            row.visitor_phone,
            {**params, "outcome": "approved"},
        )
        await notify.notify(row.tenant_id, Template.reception_notice, _recipient(host), params)
    return row


async def reject(
    host: Registrant, appointment_id: int, reason: str, now: datetime | None = None
) -> Appointment:
    """The host rejects a pending request, saying why (the visitor is told the reason)."""
    if not is_host(host):
        raise Invalid("host_id", "visits.error.host")
    reason = _check_text("reject_reason", reason, 255)
    async with in_transaction():
        row = await _hosted(host, appointment_id, AppointmentOrigin.request)
        row.status = AppointmentStatus.rejected
        row.reject_reason = reason
        row.decided_at = now or _now()
        await _decide(row)
        await sync_appointment(row)
        await notify.notify(
            row.tenant_id,
            Template.visit_result,
            row.visitor_phone,
            {**await _params(row, host), "outcome": "rejected"},
        )
    return row


# --- invitations by hosts ----------------------------------------------------------------------


async def invite(
    host: Registrant,
    details: VisitDetails,
    *,
    confirm_overlap: bool = False,
    link: str = "",
    zone: ZoneInfo = DEFAULT_ZONE,
    now: datetime | None = None,
) -> Appointment:
    """A host invites a visitor by phone; in force once the visitor confirms."""
    now = now or _now()
    if not is_host(host):
        raise Invalid("host_id", "visits.error.host")
    window = window_for(details.visit_date, details.slot, zone, now)
    reason = _check_text("reason", details.reason, 255)
    phone = notify.valid_phone(details.visitor_phone)
    name = _check_text("visitor_name", details.visitor_name, 64)
    plate = check_plate(details.plate)
    companions = check_companions(details.companions)
    companion_names = _check_text("companion_names", details.companion_names, 255, False)
    transport = _check_text("transport", details.transport, 16, False)
    visitor = await Visitor.get_or_none(tenant_id=host.tenant_id, phone=phone)
    visitor_id = visitor.id if visitor else None
    async with in_transaction():
        clashes = await overlapping(host.tenant_id, phone, visitor_id, window)
        if clashes and not confirm_overlap:
            raise OverlapWarning(clashes)
        appointment = await Appointment.create(
            tenant_id=host.tenant_id,
            site_id=await host_site(host),
            host=host,
            visitor_id=visitor_id,
            visitor_name=name,
            visitor_phone=phone,
            visitor_id_card=visitor.id_card if visitor else "",
            origin=AppointmentOrigin.invitation,
            visit_date=details.visit_date,
            slot=details.slot,
            window_start=window[0],
            window_end=window[1],
            reason=reason,
            transport=transport,
            plate=plate,
            companions=companions,
            companion_names=companion_names,
            status=AppointmentStatus.inviting,
        )
        await notify.notify(
            host.tenant_id,
            Template.invitation,
            phone,
            {**await _params(appointment, host), "link": link or "访客预约页面"},
        )
    return appointment


async def _invited(visitor: Visitor, appointment_id: int) -> Appointment:
    row = await Appointment.filter(
        of_visitor(visitor.tenant_id, visitor.phone, visitor.id), id=appointment_id
    ).first()
    if row is None:
        raise NotFound("appointment", appointment_id)
    return row


async def confirm_invitation(
    visitor: Visitor,
    appointment_id: int,
    completion: Completion,
    now: datetime | None = None,
) -> Appointment:
    """The invited visitor completes what is missing, accepts the commitments: in force."""
    now = now or _now()
    async with in_transaction():
        row = await _invited(visitor, appointment_id)
        if row.origin is not AppointmentOrigin.invitation or row.status is not (
            AppointmentStatus.inviting
        ):
            raise Conflict("status", "visits.error.not_inviting")
        if row.window_end <= now:
            raise Invalid("slot", "visits.error.slot_over")
        name = _check_text("visitor_name", completion.visitor_name or row.visitor_name, 64)
        id_card = check_id_card(
            completion.visitor_id_card or row.visitor_id_card or visitor.id_card, required=True
        )
        plate = check_plate(completion.plate) if completion.plate else row.plate
        transport = _check_text("transport", completion.transport or row.transport, 16, False)
        companions = (
            check_companions(completion.companions)
            if completion.companions is not None
            else row.companions
        )
        names = _check_text(
            "companion_names", completion.companion_names or row.companion_names, 255, False
        )
        if not completion.commitments:
            raise Invalid("commitments", "visits.error.commitments")
        row.visitor_id = visitor.id
        row.visitor_name, row.visitor_id_card = name, id_card
        row.plate, row.transport = plate, transport
        row.companions, row.companion_names = companions, names
        row.commitments_accepted_at = now
        row.status = AppointmentStatus.confirmed
        row.decided_at = now
        await row.save()
        if not visitor.name or not visitor.id_card:
            visitor.name = visitor.name or name
            visitor.id_card = visitor.id_card or id_card
            await visitor.save(update_fields=["name", "id_card"])
        await sync_appointment(row)
        host = await Registrant.get(id=row.host_id)
        params = await _params(row, host)
        await notify.notify(row.tenant_id, Template.invitation_confirmed, _recipient(host), params)
        await notify.notify(row.tenant_id, Template.reception_notice, _recipient(host), params)
    return row


# --- cancelling -----------------------------------------------------------------------------

CANCELLABLE = (AppointmentStatus.pending, AppointmentStatus.inviting, *IN_FORCE)


async def _cancel(row: Appointment) -> Appointment:
    if row.status not in CANCELLABLE or row.visited_at is not None:
        raise Conflict("status", "visits.error.not_cancellable")
    row.status = AppointmentStatus.cancelled
    await row.save(update_fields=["status"])
    await sync_appointment(row)
    return row


async def cancel_by_visitor(visitor: Visitor, appointment_id: int) -> Appointment:
    """The visitor withdraws a request or declines an invitation (revoked at the edges)."""
    async with in_transaction():
        return await _cancel(await _invited(visitor, appointment_id))


async def cancel_invitation(host: Registrant, appointment_id: int) -> Appointment:
    """The host withdraws an invitation."""
    async with in_transaction():
        return await _cancel(await _hosted(host, appointment_id, AppointmentOrigin.invitation))


# --- lists ----------------------------------------------------------------------------------


async def received_requests(host: Registrant) -> list[Appointment]:
    return await Appointment.filter(
        tenant_id=host.tenant_id, host_id=host.id, origin=AppointmentOrigin.request
    ).order_by("-visit_date", "-created_at", "-id")


async def sent_invitations(host: Registrant) -> list[Appointment]:
    return await Appointment.filter(
        tenant_id=host.tenant_id, host_id=host.id, origin=AppointmentOrigin.invitation
    ).order_by("-visit_date", "-created_at", "-id")


async def visits_of(visitor: Visitor, origin: AppointmentOrigin) -> list[Appointment]:
    return (
        await Appointment.filter(
            of_visitor(visitor.tenant_id, visitor.phone, visitor.id), origin=origin
        )
        .prefetch_related("host")
        .order_by("-visit_date", "-created_at", "-id")
    )


async def visit_of(visitor: Visitor, appointment_id: int) -> Appointment:
    row = await _invited(visitor, appointment_id)
    await row.fetch_related("host")
    return row


async def hosted(host: Registrant, appointment_id: int) -> Appointment:
    row = await Appointment.get_or_none(
        id=appointment_id, tenant_id=host.tenant_id, host_id=host.id
    )
    if row is None:
        raise NotFound("appointment", appointment_id)
    return row


async def search_hosts(tenant_id: int, text: str, limit: int = 20) -> list[Registrant]:
    """Authorised teachers whose name contains `text` or whose phone starts with it."""
    text = text.strip()
    if not text:
        return []
    query = Registrant.filter(
        tenant_id=tenant_id,
        kind=IdentityKind.teacher,
        enabled=True,
        visitor_authorised=True,
    ).filter(Q(name__contains=text) | Q(phone__startswith=text))
    return await query.order_by("name", "id").limit(limit)


async def in_force_now(visitor: Visitor, now: datetime | None = None) -> list[Appointment]:
    """The visitor's appointments in force whose window is open now."""
    now = now or _now()
    return await Appointment.filter(
        of_visitor(visitor.tenant_id, visitor.phone, visitor.id),
        status__in=IN_FORCE,
        window_start__lte=now,
        window_end__gt=now,
    ).order_by("window_start", "id")
