"""What campus edges hold about registrants, vehicles and appointments, republished on each change.

Call these inside the transaction of the change (as `cloud.state.publish` asks), after the rows
have their new values. Every campus of the school gets each registrant, so a pass or a plate
is decided the same way at every gate; a registrant's windows at a campus are only its own.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from cloud.campus.models import (
    IN_FORCE,
    Appointment,
    AppointmentStatus,
    Registrant,
    RegistrantRule,
    ReviewStatus,
    Vehicle,
)
from cloud.sites.models import Site
from cloud.state import publish, publish_many
from protocols.site import SiteKind
from protocols.sync import (
    AppointmentGrant,
    Entity,
    GateWindow,
    RegistrantGrant,
    Revocation,
    VehicleGrant,
)

# Not yet in force, so nothing at the edge to revoke.
AWAITING = (AppointmentStatus.pending, AppointmentStatus.inviting)


def registrant_key(registrant_id: int) -> str:
    return f"registrant:{registrant_id}"


def appointment_key(appointment_id: int) -> str:
    return f"appointment:{appointment_id}"


async def campus_ids(tenant_id: int) -> list[int]:
    rows = await Site.filter(tenant_id=tenant_id, kind=SiteKind.campus).values("id")
    return [int(row["id"]) for row in rows]


def vehicle_grant(
    vehicle: Vehicle, registrant: Registrant | None, today: date
) -> VehicleGrant | None:
    """The grant a vehicle gives at the gate, or None when it opens nothing."""
    if (
        registrant is None
        or not registrant.enabled
        or not vehicle.enabled
        or vehicle.status != ReviewStatus.approved
        or (vehicle.valid_until is not None and vehicle.valid_until < today)
    ):
        return None
    return VehicleGrant(
        registrant=str(registrant.id), kind=vehicle.kind.value, valid_until=vehicle.valid_until
    )


async def sync_vehicle(
    vehicle: Vehicle, before_plate: str | None = None, today: date | None = None
) -> None:
    """Publish one vehicle to every campus; `before_plate` retracts the plate it had before."""
    registrant = (
        await Registrant.get_or_none(id=vehicle.registrant_id) if vehicle.registrant_id else None
    )
    grant = vehicle_grant(vehicle, registrant, today or date.today())
    for site_id in await campus_ids(vehicle.tenant_id):
        if before_plate is not None and before_plate != vehicle.plate:
            await publish(site_id, Entity.vehicle, before_plate, None)
        await publish(site_id, Entity.vehicle, vehicle.plate, grant)


async def retract_vehicle(vehicle: Vehicle) -> None:
    for site_id in await campus_ids(vehicle.tenant_id):
        await publish(site_id, Entity.vehicle, vehicle.plate, None)


def _registrant_changes(
    registrant: Registrant, rules: list[RegistrantRule], site_id: int
) -> list[tuple[Entity, str, RegistrantGrant | Revocation | None]]:
    windows = [
        GateWindow(
            gates=list(rule.gates),
            weekdays=list(rule.weekdays),
            start=rule.start_time,
            end=rule.end_time,
        )
        for rule in rules
        if rule.site_id == site_id
    ]
    grant = RegistrantGrant(
        name=registrant.name,
        kind=registrant.kind.value,
        enabled=registrant.enabled,
        windows=windows,
    )
    revocation = None if registrant.enabled else Revocation(reason="disabled")
    return [
        (Entity.registrant, str(registrant.id), grant),
        (Entity.revocation, registrant_key(registrant.id), revocation),
    ]


async def sync_registrant(registrant: Registrant, with_vehicles: bool = True) -> None:
    """Publish a registrant's windows per campus; a disabled registrant is revoked everywhere."""
    await sync_registrants([registrant])
    if with_vehicles:
        for vehicle in await Vehicle.filter(registrant_id=registrant.id):
            await sync_vehicle(vehicle)


async def sync_registrants(registrants: list[Registrant]) -> None:
    """`sync_registrant` (without vehicles) for many registrants of one school at once: one
    query for their rules, one batch of state changes per campus."""
    if not registrants:
        return
    tenants = {registrant.tenant_id for registrant in registrants}
    if len(tenants) != 1:
        raise ValueError("sync_registrants takes the registrants of one school")
    rules_of: dict[int, list[RegistrantRule]] = {r.id: [] for r in registrants}
    ids = list(rules_of)
    for start in range(0, len(ids), 1000):
        for rule in await RegistrantRule.filter(registrant_id__in=ids[start : start + 1000]):
            rules_of[rule.registrant_id].append(rule)
    for site_id in await campus_ids(tenants.pop()):
        changes: list[tuple[Entity, str, BaseModel | None]] = []
        for registrant in registrants:
            changes += _registrant_changes(registrant, rules_of[registrant.id], site_id)
        await publish_many(site_id, changes)


async def retract_registrant(registrant: Registrant) -> None:
    """Before deleting a registrant: its grant goes, its passes are revoked, its plates retracted."""
    for site_id in await campus_ids(registrant.tenant_id):
        await publish(site_id, Entity.registrant, str(registrant.id), None)
        await publish(
            site_id, Entity.revocation, registrant_key(registrant.id), Revocation(reason="deleted")
        )
    for vehicle in await Vehicle.filter(registrant_id=registrant.id):
        await retract_vehicle(vehicle)


async def sync_appointment(appointment: Appointment) -> None:
    """An appointment in force is published to its campus (every campus when none is named);
    one that is no longer in force is retracted and revoked."""
    targets = (
        [appointment.site_id]
        if appointment.site_id is not None
        else await campus_ids(appointment.tenant_id)
    )
    key = appointment_key(appointment.id)
    in_force = appointment.status in IN_FORCE
    grant = (
        AppointmentGrant(
            visitor=appointment.visitor_name,
            plate=appointment.plate,
            window_start=appointment.window_start,
            window_end=appointment.window_end,
        )
        if in_force
        else None
    )
    for site_id in targets:
        await publish(site_id, Entity.appointment, str(appointment.id), grant)
        if not in_force and appointment.status not in AWAITING:
            await publish(
                site_id, Entity.revocation, key, Revocation(reason=appointment.status.value)
            )
