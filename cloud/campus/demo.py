"""The demo school's campus records: identities, a teacher who receives visitors, a student,
their vehicles and access rules, and the school's pass key, published to the demo edge."""

from __future__ import annotations

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

# (kind, number, last six of the ID card, name, phone, identity type, department)
DEMO_TEACHER = (
    IdentityKind.teacher,
    "T1001",
    "12345X",
    "王老师",
    "13800000001",
    "专任教师",
    "计算机学院",
)
DEMO_STUDENT = (
    IdentityKind.student,
    "S2024001",
    "654321",
    "李同学",
    "13800000002",
    "本科生",
    "计算机学院",
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
    for kind, number, tail, name, phone, type_name, _dept in (DEMO_TEACHER, DEMO_STUDENT):
        people.append(
            await Registrant.create(
                tenant=tenant,
                kind=kind,
                identity_type=types[type_name],
                name=name,
                number=number,
                id_card_tail=tail,
                phone=phone,
                department=department,
                visitor_authorised=kind == IdentityKind.teacher,
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
    for person in people:
        await sync_registrant(person)
    await signing_key(tenant.id)
