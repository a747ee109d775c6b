"""The demo school's campus records: identities, a teacher who receives visitors, a student,
their vehicles and access rules, and the school's pass key, published to the demo edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from cloud.campus.keys import signing_key
from cloud.campus.models import (
    IdentityKind,
    IdentitySetting,
    IdentityType,
    OwnerRelation,
    Registrant,
    RegistrantRule,
    ReviewStatus,
    Vehicle,
    VehicleKind,
)
from cloud.campus.publish import sync_registrant
from cloud.org.models import Department, Tenant
from cloud.sites.models import Site
from protocols.site import SiteKind


@dataclass(frozen=True)
class DemoPerson:
    kind: IdentityKind
    number: str
    id_tail: str  # last six characters of the ID card: with the number, the phone sign-in
    name: str
    phone: str
    identity_type: str


DEMO_TEACHER = DemoPerson(
    IdentityKind.teacher, "T1001", "12345X", "王老师", "13800000001", "专任教师"
)
DEMO_STUDENT = DemoPerson(
    IdentityKind.student, "S2024001", "654321", "李同学", "13800000002", "本科生"
)
# The teacher's car: the simulated traffic brings it back, and a campus gate opens for it.
DEMO_REGISTERED_PLATE = "京A66666"

_TYPES = {
    IdentityKind.teacher: ("专任教师", "行政人员"),
    IdentityKind.student: ("本科生", "研究生"),
    IdentityKind.staff: ("物业保洁", "食堂员工"),
    IdentityKind.resident: ("家属区居民",),
}


async def populate_campus(tenant: Tenant) -> None:
    """Call inside the demo's populate transaction, after the sites exist."""
    types: dict[str, IdentityType] = {}
    for kind in IdentityKind:
        await IdentitySetting.create(tenant=tenant, kind=kind, enabled=True)
        for name in _TYPES[kind]:
            types[name] = await IdentityType.create(tenant=tenant, kind=kind, name=name)
    department, _ = await Department.get_or_create(tenant=tenant, name="计算机学院")
    campuses = await Site.filter(tenant=tenant, kind=SiteKind.campus)
    people = []
    for person in (DEMO_TEACHER, DEMO_STUDENT):
        people.append(
            await Registrant.create(
                tenant=tenant,
                kind=person.kind,
                identity_type=types[person.identity_type],
                name=person.name,
                number=person.number,
                id_card_tail=person.id_tail,
                phone=person.phone,
                department=department,
                visitor_authorised=person.kind == IdentityKind.teacher,
                operator="demo",
            )
        )
    teacher, student = people
    for campus in campuses:
        # The teacher passes every gate at any hour; the student on weekdays, 06:00 to 23:00.
        await RegistrantRule.create(
            tenant=tenant,
            registrant=teacher,
            site=campus,
            gates=[],
            weekdays=[1, 2, 3, 4, 5, 6, 7],
            start_time=time(0, 0),
            end_time=time(23, 59, 59),
        )
        await RegistrantRule.create(
            tenant=tenant,
            registrant=student,
            site=campus,
            gates=[],
            weekdays=[1, 2, 3, 4, 5],
            start_time=time(6, 0),
            end_time=time(23, 0),
        )
    await Vehicle.create(
        tenant=tenant,
        registrant=teacher,
        kind=VehicleKind.motor,
        plate=DEMO_REGISTERED_PLATE,
        owner_name=teacher.name,
        relation=OwnerRelation.self,
        status=ReviewStatus.approved,
        reviewer="demo",
    )
    await Vehicle.create(
        tenant=tenant,
        registrant=student,
        kind=VehicleKind.ebike,
        plate="E2024001",
        owner_name=student.name,
        status=ReviewStatus.pending,
    )
    for registrant in people:
        await sync_registrant(registrant)
    await signing_key(tenant.id)
