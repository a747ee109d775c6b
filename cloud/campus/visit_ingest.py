"""Appointments marked visited from the access records of their visitors' first passage."""

from __future__ import annotations

from tortoise.expressions import Q

from cloud import sync
from cloud.campus.models import Appointment
from cloud.sites.models import Site
from protocols.events import AccessDecided, Verdict


def appointment_id(subject: str) -> int | None:
    """The appointment id of an 'appointment:<id>' subject, else None."""
    kind, _, key = subject.partition(":")
    return int(key) if kind == "appointment" and key.isdigit() else None


def registrant_id(subject: str) -> int | None:
    """The registrant id of a 'registrant:<id>' subject, else None."""
    kind, _, key = subject.partition(":")
    return int(key) if kind == "registrant" and key.isdigit() else None


async def mark_visits(sites: dict[str, Site], items: list[sync.Accepted]) -> None:
    """Set visited_at (the first passage), gate and method on each appointment whose visitor
    was let through. Idempotent and order-free: a passage only ever moves visited_at earlier,
    so the same event twice, or two edges' events in any order, end in the same row."""
    for event, payload in items:
        assert isinstance(payload, AccessDecided)
        if payload.verdict != Verdict.open:
            continue
        appointment = appointment_id(payload.subject)
        if appointment is None:
            continue
        site = sites[event.site]
        await Appointment.filter(
            Q(visited_at__isnull=True) | Q(visited_at__gt=payload.read_at),
            id=appointment,
            tenant_id=site.tenant_id,
        ).update(
            visited_at=payload.read_at,
            visited_gate=payload.gate[:48],
            visited_method=payload.method.value[:16],
        )
