"""The campus caches of one site: registrants, vehicles, appointments, pass keys, revocations.

Built from the synced state once per applied change (never per scan): windows become sets and
naive times, appointment windows epoch seconds, pass keys Ed25519 key objects by kid.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.engines.windows import in_window
from protocols.sync import (
    AppointmentGrant,
    GateWindow,
    PassKeyGrant,
    RegistrantGrant,
    Revocation,
    VehicleGrant,
)

log = logging.getLogger(__name__)


def registrant_subject(registrant: str) -> str:
    return f"registrant:{registrant}"


def appointment_subject(appointment: str) -> str:
    return f"appointment:{appointment}"


@dataclass(frozen=True, slots=True)
class Window:
    gates: frozenset[str]  # empty: every gate
    weekdays: frozenset[int]
    start: time
    end: time

    @classmethod
    def of(cls, window: GateWindow) -> Window:
        return cls(
            frozenset(window.gates),
            frozenset(window.weekdays),
            window.start.replace(tzinfo=None),
            window.end.replace(tzinfo=None),
        )

    def allows(self, gate: str, now: datetime) -> bool:
        if self.gates and gate not in self.gates:
            return False
        return in_window(self.weekdays, self.start, self.end, now)


@dataclass(frozen=True, slots=True)
class Registrant:
    id: str
    name: str
    kind: str
    enabled: bool
    windows: tuple[Window, ...]

    def allows(self, gate: str, now: datetime) -> bool:
        """A window of this site lets the registrant through this gate now (local time)."""
        return any(window.allows(gate, now) for window in self.windows)


@dataclass(frozen=True, slots=True)
class Vehicle:
    plate: str
    registrant: str
    kind: str
    valid_until: date | None

    def valid_on(self, today: date) -> bool:
        return self.valid_until is None or today <= self.valid_until


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    visitor: str
    plate: str
    gates: frozenset[str]  # empty: every gate
    window_start: float  # epoch seconds
    window_end: float

    def covers(self, now: float) -> bool:
        return self.window_start <= now < self.window_end

    def allows_gate(self, gate: str) -> bool:
        return not self.gates or gate in self.gates


@dataclass(frozen=True, slots=True)
class CampusBook:
    """One site's campus caches, indexed for dict lookups on the hot path."""

    registrants: dict[str, Registrant] = field(default_factory=dict)
    vehicles: dict[str, Vehicle] = field(default_factory=dict)
    appointments: dict[str, Appointment] = field(default_factory=dict)
    appointments_by_plate: dict[str, tuple[Appointment, ...]] = field(default_factory=dict)
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    revoked: dict[str, str] = field(default_factory=dict)  # subject -> reason

    @classmethod
    def build(
        cls,
        registrants: Iterable[tuple[str, RegistrantGrant]] = (),
        vehicles: Iterable[tuple[str, VehicleGrant]] = (),
        appointments: Iterable[tuple[str, AppointmentGrant]] = (),
        keys: Iterable[tuple[str, PassKeyGrant]] = (),
        revocations: Iterable[tuple[str, Revocation]] = (),
    ) -> CampusBook:
        # Most registrants share a handful of windows: each distinct one is prepared once.
        prepared: dict[tuple[object, ...], Window] = {}

        def window_of(window: GateWindow) -> Window:
            shape = (tuple(window.gates), tuple(window.weekdays), window.start, window.end)
            found = prepared.get(shape)
            if found is None:
                found = prepared[shape] = Window.of(window)
            return found

        book = cls(
            registrants={
                key: Registrant(
                    key,
                    grant.name,
                    grant.kind,
                    grant.enabled,
                    tuple(window_of(window) for window in grant.windows),
                )
                for key, grant in registrants
            },
            vehicles={
                plate: Vehicle(plate, grant.registrant, grant.kind, grant.valid_until)
                for plate, grant in vehicles
            },
            revoked={subject: revocation.reason for subject, revocation in revocations},
        )
        by_plate: dict[str, list[Appointment]] = {}
        for key, grant in appointments:
            appointment = Appointment(
                key,
                grant.visitor,
                grant.plate,
                frozenset(grant.gates),
                grant.window_start.timestamp(),
                grant.window_end.timestamp(),
            )
            book.appointments[key] = appointment
            if grant.plate:
                by_plate.setdefault(grant.plate, []).append(appointment)
        book.appointments_by_plate.update((p, tuple(found)) for p, found in by_plate.items())
        for kid, key_grant in keys:
            public = public_key(key_grant.public_key)
            if public is None:
                log.error("pass key %s: not a raw Ed25519 public key; passes under it refused", kid)
            else:
                book.keys[kid] = public
        return book

    def registrant_at(self, plate: str, gate: str, now: datetime) -> tuple[str, bool] | None:
        """(subject, allowed) for a plate of an approved, valid vehicle whose registrant this
        site knows: allowed when the registrant is enabled, not revoked and has a window for
        this gate now. None when the plate is no registrant's."""
        vehicle = self.vehicles.get(plate)
        if vehicle is None or not vehicle.valid_on(now.date()):
            return None
        registrant = self.registrants.get(vehicle.registrant)
        if registrant is None:
            return None
        subject = registrant_subject(registrant.id)
        allowed = (
            registrant.enabled and subject not in self.revoked and registrant.allows(gate, now)
        )
        return subject, allowed

    def visitor_at(self, plate: str, gate: str, now: float) -> tuple[str, bool] | None:
        """(subject, allowed) for a plate named by an appointment in force: allowed when one of
        them is in its window now, at a gate it names, and not revoked."""
        found = self.appointments_by_plate.get(plate)
        if not found:
            return None
        for appointment in found:
            subject = appointment_subject(appointment.id)
            if (
                appointment.covers(now)
                and appointment.allows_gate(gate)
                and subject not in self.revoked
            ):
                return subject, True
        return appointment_subject(found[0].id), False


def public_key(text: str) -> Ed25519PublicKey | None:
    """An Ed25519 public key from its raw bytes in base64url (padding optional), or None."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        return None
