"""Vehicles and their registration review: approval publishes to the gates, rejection needs a
reason, unlinking and disabling retract, labels count their prints, and other schools' rows
do not exist."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.auth import Principal
from cloud.campus import vehicles as service
from cloud.campus.models import (
    IdentityKind,
    OwnerRelation,
    Registrant,
    ReviewStatus,
    Vehicle,
    VehicleKind,
)
from cloud.campus.vehicle_schemas import (
    VehicleApprove,
    VehicleCreate,
    VehicleFilter,
    VehicleReject,
    VehicleUpdate,
)
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.models import AuditLog, Department, Tenant
from cloud.sites.models import StateChange
from tests.conftest import make_tenant, sign_in
from tests.e2e.seed import Place, make_place, principal_of_user

Client = TestClient[web.Request, web.Application]
TODAY = date(2030, 3, 1)


async def _registrant(
    tenant: Tenant, name: str, number: str, kind: IdentityKind = IdentityKind.teacher
) -> Registrant:
    department = await Department.create(tenant=tenant, name=f"{name}的学院")
    return await Registrant.create(
        tenant=tenant,
        kind=kind,
        name=name,
        number=number,
        phone=f"1380000{number[-4:]}",
        department=department,
        unit="网络中心",
    )


async def _setup(code: str = "alpha") -> tuple[Principal, Place, Registrant]:
    admin = await make_tenant(code)
    place = await make_place(admin.tenant, prefix=f"{code}-")
    owner = await _registrant(admin.tenant, "张老师", "T0001")
    return principal_of_user(admin.user), place, owner


async def _vehicle_log(site_id: int, plate: str) -> list[dict[str, Any] | None]:
    rows = await StateChange.filter(site_id=site_id, entity="vehicle", key=plate).order_by(
        "revision"
    )
    return [row.data for row in rows]


async def test_an_ebike_approved_until_a_date_is_published_with_that_validity(db: str) -> None:
    me, place, owner = await _setup()
    bike = await service.create_vehicle(
        me, VehicleCreate(registrant_number="T0001", kind=VehicleKind.ebike, plate="dc-12345")
    )
    assert bike.status == ReviewStatus.pending and bike.plate == "DC12345"
    assert bike.owner_name == "张老师"  # an empty owner is the registrant
    assert await _vehicle_log(place.site.id, "DC12345") == []  # pending opens nothing
    # Neither long-term nor a date, a past date, and both at once are refused; nothing changes.
    for bad in (
        VehicleApprove(),
        VehicleApprove(valid_until=TODAY),
        VehicleApprove(long_term=True, valid_until=TODAY + timedelta(days=9)),
    ):
        with pytest.raises(Invalid) as refused:
            await service.approve_vehicle(me, bike.id, bad, today=TODAY)
        assert refused.value.field == "valid_until"
    assert (await Vehicle.get(id=bike.id)).status == ReviewStatus.pending
    until = TODAY + timedelta(days=180)
    approved = await service.approve_vehicle(
        me, bike.id, VehicleApprove(valid_until=until), today=TODAY
    )
    assert approved.status == ReviewStatus.approved and approved.valid_until == until
    assert approved.reviewer == "alpha-admin" and approved.reviewed_at is not None
    assert not approved.long_term
    assert await _vehicle_log(place.site.id, "DC12345") == [
        {"registrant": str(owner.id), "kind": "ebike", "valid_until": until.isoformat()}
    ]
    # Reviewed once: a second decision is refused.
    with pytest.raises(Conflict):
        await service.reject_vehicle(me, bike.id, VehicleReject(reason="重复"))
    assert await AuditLog.filter(entity="vehicle", action="approve").count() == 1


async def test_a_long_term_ebike_and_a_motor_vehicle_need_no_date(db: str) -> None:
    me, place, _ = await _setup()
    bike = await service.create_vehicle(
        me, VehicleCreate(registrant_number="13800000001", kind=VehicleKind.ebike, plate="E001")
    )
    car = await service.create_vehicle(
        me, VehicleCreate(registrant_number="T0001", kind=VehicleKind.motor, plate="京A12345")
    )
    bike = await service.approve_vehicle(me, bike.id, VehicleApprove(long_term=True))
    car = await service.approve_vehicle(me, car.id, VehicleApprove())
    assert bike.long_term and bike.valid_until is None
    assert car.valid_until is None and not car.long_term
    assert [d and d["valid_until"] for d in await _vehicle_log(place.site.id, "E001")] == [None]
    assert len(await _vehicle_log(place.site.id, "京A12345")) == 1
    counts = await service.review_counts(me)
    assert (counts.registered, counts.registered_motor, counts.registered_ebike) == (2, 1, 1)
    assert counts.pending == 0


async def test_a_rejection_needs_a_reason_and_then_keeps_it(db: str) -> None:
    me, _, _ = await _setup()
    car = await service.create_vehicle(
        me, VehicleCreate(registrant_number="T0001", kind=VehicleKind.motor, plate="京A12345")
    )
    with pytest.raises(Invalid) as refused:
        await service.reject_vehicle(me, car.id, VehicleReject(reason="   "))
    assert refused.value.field == "reason"
    assert (await Vehicle.get(id=car.id)).status == ReviewStatus.pending
    rejected = await service.reject_vehicle(me, car.id, VehicleReject(reason="行驶证照片不清晰"))
    assert rejected.status == ReviewStatus.rejected
    assert rejected.reject_reason == "行驶证照片不清晰"
    counts = await service.review_counts(me)
    assert (counts.rejected, counts.registered) == (1, 0)


async def test_unlinking_disabling_editing_and_deleting_retract_from_the_gates(db: str) -> None:
    me, place, owner = await _setup()
    car = await service.create_vehicle(
        me, VehicleCreate(registrant_id=owner.id, kind=VehicleKind.motor, plate="京A12345")
    )
    await service.approve_vehicle(me, car.id, VehicleApprove())
    await service.set_vehicle_enabled(me, car.id, False)
    await service.set_vehicle_enabled(me, car.id, True)
    changed = await service.update_vehicle(
        me,
        car.id,
        VehicleUpdate(plate="京A54321", owner_name="王女士", relation=OwnerRelation.spouse),
    )
    assert changed.plate == "京A54321" and changed.owner_name == "王女士"
    assert [d is not None for d in await _vehicle_log(place.site.id, "京A12345")] == [
        True,  # approved
        False,  # disabled
        True,  # enabled again
        False,  # its plate changed: the old plate goes
    ]
    unlinked = await service.unlink_vehicle(me, car.id)
    assert unlinked.registrant_id is None and unlinked.registrant_name is None
    assert await _vehicle_log(place.site.id, "京A54321") == [
        {"registrant": str(owner.id), "kind": "motor", "valid_until": None},
        None,
    ]
    assert await AuditLog.filter(entity="vehicle", action="unlink").count() == 1
    await service.delete_vehicle(me, car.id)
    assert not await Vehicle.filter(id=car.id).exists()
    assert (await _vehicle_log(place.site.id, "京A54321"))[-1] is None


async def test_bad_applications_name_the_field(db: str) -> None:
    me, _, _ = await _setup()
    with pytest.raises(ValueError, match="plate_invalid"):
        VehicleCreate(registrant_number="T0001", kind=VehicleKind.motor, plate="ABC")
    with pytest.raises(Invalid) as unknown:
        await service.create_vehicle(
            me, VehicleCreate(registrant_number="X999", kind=VehicleKind.ebike, plate="E1")
        )
    assert unknown.value.field == "registrant_number"
    await service.create_vehicle(
        me, VehicleCreate(registrant_number="T0001", kind=VehicleKind.ebike, plate="E100")
    )
    with pytest.raises(Conflict):
        await service.create_vehicle(
            me, VehicleCreate(registrant_number="T0001", kind=VehicleKind.ebike, plate="e 100")
        )


async def test_the_list_filters_by_kind_plate_status_registrant_and_identity(db: str) -> None:
    me, _, owner = await _setup()
    student = await _registrant(
        await Tenant.get(code="alpha"), "李同学", "S2024001", IdentityKind.student
    )
    await service.create_vehicle(
        me, VehicleCreate(registrant_id=owner.id, kind=VehicleKind.motor, plate="京A12345")
    )
    bike = await service.create_vehicle(
        me, VehicleCreate(registrant_id=student.id, kind=VehicleKind.ebike, plate="E2024")
    )
    await service.approve_vehicle(me, bike.id, VehicleApprove(long_term=True))

    async def plates(**given: Any) -> list[str]:
        page = await service.list_vehicles(me, VehicleFilter(**given), PageParams())
        return sorted(v.plate for v in page.items)

    assert await plates() == ["E2024", "京A12345"]
    assert await plates(kind="ebike") == ["E2024"]
    assert await plates(plate="a123") == ["京A12345"]
    assert await plates(status="approved") == ["E2024"]
    assert await plates(registrant="张") == ["京A12345"]
    assert await plates(registrant="S2024") == ["E2024"]
    assert await plates(identity_kind="student") == ["E2024"]
    assert await plates(enabled=False) == []


async def test_another_schools_vehicle_does_not_exist(db: str) -> None:
    me, _, _ = await _setup()
    them, _, _ = await _setup("beta")
    theirs = await service.create_vehicle(
        them, VehicleCreate(registrant_number="T0001", kind=VehicleKind.motor, plate="京B12345")
    )
    for attempt in (
        service.get_vehicle(me, theirs.id),
        service.approve_vehicle(me, theirs.id, VehicleApprove()),
        service.reject_vehicle(me, theirs.id, VehicleReject(reason="x")),
        service.unlink_vehicle(me, theirs.id),
        service.set_vehicle_enabled(me, theirs.id, False),
        service.delete_vehicle(me, theirs.id),
    ):
        with pytest.raises(NotFound):
            await attempt
    row = await Vehicle.get(id=theirs.id)
    assert row.status == ReviewStatus.pending and row.enabled and row.registrant_id is not None
    assert (await service.list_vehicles(me, VehicleFilter(), PageParams())).total == 0


# --- through the pages and the API, as a person would ------------------------------------------


async def _signed_in(cloud: Client) -> tuple[str, Place, Registrant]:
    admin = await make_tenant("alpha")
    place = await make_place(admin.tenant, prefix="alpha-")
    owner = await _registrant(admin.tenant, "张老师", "T0001")
    return await sign_in(cloud, admin.account, admin.password), place, owner


async def test_an_admin_registers_and_approves_an_ebike_through_the_pages(cloud: Client) -> None:
    csrf, place, _ = await _signed_in(cloud)
    form = {"_csrf": csrf, "registrant_number": "T0001", "kind": "ebike", "plate": "E7001"}
    resp = await cloud.post("/campus/vehicle-reviews/new", data={**form, "relation": "self"})
    assert resp.status == 200 and "E7001" in await resp.text()  # redirected to the list
    bike = await Vehicle.get(plate="E7001")
    review = await (await cloud.get(f"/campus/vehicle-reviews/{bike.id}")).text()
    assert 'data-form="approve"' in review and 'data-form="reject"' in review
    # Rejecting without a reason: the form says so and nothing changes.
    resp = await cloud.post(
        f"/campus/vehicle-reviews/{bike.id}/reject", data={"_csrf": csrf, "reason": ""}
    )
    assert resp.status == 400 and 'data-field="reason"' in await resp.text()
    # An e-bike "until" a past day is refused next to the date.
    resp = await cloud.post(
        f"/campus/vehicle-reviews/{bike.id}/approve",
        data={"_csrf": csrf, "validity": "until", "valid_until": "2001-01-01"},
    )
    assert resp.status == 400 and 'data-field="valid_until"' in await resp.text()
    assert (await Vehicle.get(id=bike.id)).status == ReviewStatus.pending
    until = date.today() + timedelta(days=365)
    resp = await cloud.post(
        f"/campus/vehicle-reviews/{bike.id}/approve",
        data={"_csrf": csrf, "validity": "until", "valid_until": until.isoformat()},
        allow_redirects=False,
    )
    assert resp.status == 302
    row = await Vehicle.get(id=bike.id)
    assert row.status == ReviewStatus.approved and row.valid_until == until
    assert len(await _vehicle_log(place.site.id, "E7001")) == 1
    listing = await (await cloud.get("/campus/vehicles?kind=ebike")).text()
    assert "E7001" in listing and until.isoformat() in listing
    detail = await (await cloud.get(f"/campus/vehicles/{bike.id}")).text()
    assert "张老师" in detail and "网络中心" in detail
    counts = await (await cloud.get("/campus/vehicle-reviews")).text()
    assert re.search(r'data-count="registered">\s*1\s*<', counts)


async def test_unlink_and_export_through_the_pages(cloud: Client) -> None:
    csrf, place, owner = await _signed_in(cloud)
    car = await Vehicle.create(
        tenant_id=owner.tenant_id,
        registrant=owner,
        kind=VehicleKind.motor,
        plate="京A12345",
        owner_name="张老师",
        status=ReviewStatus.approved,
    )
    page = await (await cloud.get("/campus/vehicles")).text()
    assert f"/campus/vehicles/{car.id}/unlink" in page
    link = re.search(r'href="([^"]*imports[^"]*)" data-link="import"', page)
    assert link and link.group(1).endswith("?kind=vehicles")
    assert (await cloud.get(link.group(1))).status == 200  # the import page is really there
    assert "解除关联" in await (await cloud.get(f"/campus/vehicles/{car.id}/unlink")).text()
    resp = await cloud.post(
        f"/campus/vehicles/{car.id}/unlink", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302
    assert (await Vehicle.get(id=car.id)).registrant_id is None
    assert (await _vehicle_log(place.site.id, "京A12345"))[-1] is None
    resp = await cloud.get("/campus/vehicles/export.xlsx?plate=京A")
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:2] == ("车辆类型", "号牌号码")
    assert [r[1] for r in rows[1:]] == ["京A12345"]
    assert rows[1][0] == "机动车" and rows[1][4] == "已通过"


async def test_printing_ebike_labels_counts_each_print(cloud: Client) -> None:
    csrf, _, owner = await _signed_in(cloud)
    bikes = [
        await Vehicle.create(
            tenant_id=owner.tenant_id,
            registrant=owner,
            kind=VehicleKind.ebike,
            plate=plate,
            owner_name="张老师",
            status=ReviewStatus.approved,
        )
        for plate in ("E0001", "E0002")
    ]
    car = await Vehicle.create(
        tenant_id=owner.tenant_id, registrant=owner, kind=VehicleKind.motor, plate="京A12345"
    )
    listing = await (await cloud.get("/campus/ebike-labels")).text()
    assert "E0001" in listing and "京A12345" not in listing  # only e-bikes
    assert f'name="ids" value="{bikes[0].id}" form="print-labels"' in listing
    resp = await cloud.post(
        "/campus/ebike-labels/print",
        data=[("_csrf", csrf), ("ids", str(bikes[0].id)), ("ids", str(car.id))],
    )
    sheet = await resp.text()
    assert resp.status == 200 and "/campus/ebike-labels/sheet" in str(resp.url)
    assert "E0001" in sheet and "<svg" in sheet and "长期有效" in sheet
    assert "E0002" not in sheet and "京A12345" not in sheet
    await cloud.post(
        "/campus/ebike-labels/print", data={"_csrf": csrf, "ids": f"{bikes[0].id},{bikes[1].id}"}
    )
    counts = {v.plate: v.label_prints for v in await Vehicle.filter(tenant_id=owner.tenant_id)}
    assert counts == {"E0001": 2, "E0002": 1, "京A12345": 0}
    listing = await (await cloud.get("/campus/ebike-labels")).text()
    assert re.search(rf'data-prints="{bikes[0].id}">2<', listing)
    # Reloading the sheet shows the labels again without counting another print.
    await cloud.get(f"/campus/ebike-labels/sheet?ids={bikes[0].id}")
    assert (await Vehicle.get(id=bikes[0].id)).label_prints == 2
    # Nothing chosen: back to the list with a message, nothing counted.
    resp = await cloud.post("/campus/ebike-labels/print", data={"_csrf": csrf})
    assert "请先选择" in await resp.text()


async def test_another_schools_vehicle_answers_404_on_pages_and_api(cloud: Client) -> None:
    csrf, _, _ = await _signed_in(cloud)
    beta = await make_tenant("beta")
    owner = await _registrant(beta.tenant, "beta-老师", "T0001")
    theirs = await Vehicle.create(
        tenant=beta.tenant, registrant=owner, kind=VehicleKind.ebike, plate="E9999"
    )
    for path in (f"/campus/vehicles/{theirs.id}", f"/campus/vehicle-reviews/{theirs.id}"):
        resp = await cloud.get(path)
        assert resp.status == 404 and "E9999" not in await resp.text()
    for path in ("approve", "reject"):
        resp = await cloud.post(
            f"/campus/vehicle-reviews/{theirs.id}/{path}",
            data={"_csrf": csrf, "validity": "long_term", "reason": "x"},
        )
        assert resp.status == 404
    resp = await cloud.get(f"/api/v1/vehicles/{theirs.id}", headers={"X-CSRF-Token": csrf})
    assert resp.status == 404
    resp = await cloud.post(
        f"/api/v1/vehicles/{theirs.id}/approve",
        json={"name": "hijack"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 404
    row = await Vehicle.get(id=theirs.id)
    assert row.status == ReviewStatus.pending and row.label_prints == 0


async def test_the_api_creates_approves_and_rejects(cloud: Client) -> None:
    csrf, place, owner = await _signed_in(cloud)
    headers = {"X-CSRF-Token": csrf}
    resp = await cloud.post(
        "/api/v1/vehicles",
        json={"registrant_id": owner.id, "kind": "motor", "plate": "京A 888 88"},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    car = await resp.json()
    assert car["plate"] == "京A88888" and car["status"] == "pending"
    resp = await cloud.post(
        f"/api/v1/vehicles/{car['id']}/reject", json={"reason": ""}, headers=headers
    )
    assert resp.status == 422 and (await resp.json())["field"] == "reason"
    resp = await cloud.post(f"/api/v1/vehicles/{car['id']}/approve", json={}, headers=headers)
    assert resp.status == 200 and (await resp.json())["status"] == "approved"
    assert len(await _vehicle_log(place.site.id, "京A88888")) == 1
    resp = await cloud.post(
        "/api/v1/vehicles",
        json={"registrant_id": owner.id, "kind": "ebike", "plate": "E5"},
        headers=headers,
    )
    bike = await resp.json()
    resp = await cloud.post(f"/api/v1/vehicles/{bike['id']}/approve", json={}, headers=headers)
    assert resp.status == 422 and (await resp.json())["field"] == "valid_until"
    listing = await (await cloud.get("/api/v1/vehicles?kind=ebike")).json()
    assert [v["plate"] for v in listing["items"]] == ["E5"]
    document = await (await cloud.get("/api/openapi.json")).json()
    assert "requestBody" in document["paths"]["/api/v1/vehicles/{id}/approve"]["post"]
    assert "post" in document["paths"]["/api/v1/vehicles/{id}/unlink"]


async def test_editing_a_plate_through_the_form_moves_it_at_the_gates(cloud: Client) -> None:
    csrf, place, owner = await _signed_in(cloud)
    bike = await Vehicle.create(
        tenant_id=owner.tenant_id,
        registrant=owner,
        kind=VehicleKind.ebike,
        plate="E0001",
        status=ReviewStatus.approved,
    )
    form = await (await cloud.get(f"/campus/vehicles/{bike.id}/edit")).text()
    assert 'value="E0001"' in form
    resp = await cloud.post(
        f"/campus/vehicles/{bike.id}/edit",
        data={"_csrf": csrf, "plate": "e0002", "relation": "self", "valid_until": "2001-01-01"},
    )
    assert resp.status == 400 and 'data-field="valid_until"' in await resp.text()
    resp = await cloud.post(
        f"/campus/vehicles/{bike.id}/edit",
        data={"_csrf": csrf, "plate": "e0002", "relation": "self", "valid_until": ""},
    )
    assert resp.status == 200 and "E0002" in await resp.text()
    assert (await _vehicle_log(place.site.id, "E0001"))[-1] is None
    assert (await _vehicle_log(place.site.id, "E0002"))[-1] == {
        "registrant": str(owner.id),
        "kind": "ebike",
        "valid_until": None,
    }
    resp = await cloud.post(
        f"/campus/vehicles/{bike.id}/disable", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 302 and (await _vehicle_log(place.site.id, "E0002"))[-1] is None
