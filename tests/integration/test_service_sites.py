"""Sites services on the real database: CRUD, lane defaults, lane policy publication, tenant scope."""

from __future__ import annotations

import pytest

from cloud.auth import Principal
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.models import AuditLog
from cloud.sites import service
from cloud.sites.models import DeviceKind, Site, StateChange
from cloud.sites.schemas import DeviceIn, GateIn, LaneFilter, LaneIn, SiteFilter, SiteIn
from protocols.site import DefaultAction, Direction, SiteKind
from tests.conftest import make_tenant
from tests.e2e.seed import principal_of_user


async def _admin(code: str) -> Principal:
    return principal_of_user((await make_tenant(code)).user)


async def _changes(site_id: int) -> list[tuple[str, str, bool]]:
    rows = await StateChange.filter(site_id=site_id).order_by("revision")
    return [(row.entity, row.key, row.data is not None) for row in rows]


async def test_lane_default_action_follows_site_kind_and_is_published(db: str) -> None:
    me = await _admin("alpha")
    campus = await service.create_site(me, SiteIn(code="campus", name="校区", kind=SiteKind.campus))
    lot = await service.create_site(
        me, SiteIn(code="lot", name="停车场", kind=SiteKind.parking_lot)
    )
    gate = await service.create_gate(me, GateIn(site_id=campus.id, code="north", name="北门"))
    lot_gate = await service.create_gate(me, GateIn(site_id=lot.id, code="p1", name="P1"))
    lane = await service.create_lane(
        me, LaneIn(gate_id=gate.id, code="n-in", name="北门入", direction=Direction.entry)
    )
    lot_lane = await service.create_lane(
        me, LaneIn(gate_id=lot_gate.id, code="p-in", name="入口", direction=Direction.entry)
    )
    assert lane.default_action == DefaultAction.deny and lane.site_id == campus.id
    assert lot_lane.default_action == DefaultAction.open
    assert await _changes(campus.id) == [("lane_policy", "n-in", True)]
    change = await StateChange.get(site_id=campus.id, key="n-in")
    assert change.data == {
        "code": "n-in",
        "enabled": True,
        "default_action": "deny",
        "min_confidence": 80,
    }
    assert (await Site.get(id=campus.id)).revision == 1


async def test_lane_rename_disable_delete_publish_in_order(db: str) -> None:
    me = await _admin("alpha")
    site = await service.create_site(me, SiteIn(code="c", name="校区", kind=SiteKind.campus))
    gate = await service.create_gate(me, GateIn(site_id=site.id, code="g", name="门"))
    lane = await service.create_lane(
        me, LaneIn(gate_id=gate.id, code="old", name="入", direction=Direction.entry)
    )
    await service.update_lane(
        me,
        lane.id,
        LaneIn(
            gate_id=gate.id, code="new", name="入", direction=Direction.entry, min_confidence=90
        ),
    )
    await service.set_lane_enabled(me, lane.id, False)
    await service.delete_lane(me, lane.id)
    assert await _changes(site.id) == [
        ("lane_policy", "old", True),
        ("lane_policy", "old", False),
        ("lane_policy", "new", True),
        ("lane_policy", "new", True),
        ("lane_policy", "new", False),
    ]
    disabled = await StateChange.get(site_id=site.id, revision=4)
    assert disabled.data is not None and disabled.data["enabled"] is False
    actions = await AuditLog.filter(entity="lane").order_by("id").values_list("action", flat=True)
    assert actions == ["create", "update", "disable", "delete"]


async def test_codes_unique_within_tenant_and_containers_protected(db: str) -> None:
    me = await _admin("alpha")
    other = await _admin("beta")
    site = await service.create_site(me, SiteIn(code="c", name="校区", kind=SiteKind.campus))
    await service.create_site(other, SiteIn(code="c", name="别人的", kind=SiteKind.campus))
    with pytest.raises(Conflict) as clash:
        await service.create_site(me, SiteIn(code="c", name="重复", kind=SiteKind.campus))
    assert clash.value.field == "code"
    gate = await service.create_gate(me, GateIn(site_id=site.id, code="g", name="门"))
    await service.create_lane(
        me, LaneIn(gate_id=gate.id, code="l", name="入", direction=Direction.entry)
    )
    with pytest.raises(Conflict):
        await service.delete_gate(me, gate.id)
    with pytest.raises(Conflict):
        await service.delete_site(me, site.id)


async def test_device_lane_must_be_at_the_same_site(db: str) -> None:
    me = await _admin("alpha")
    one = await service.create_site(me, SiteIn(code="a", name="A", kind=SiteKind.campus))
    two = await service.create_site(me, SiteIn(code="b", name="B", kind=SiteKind.campus))
    gate = await service.create_gate(me, GateIn(site_id=one.id, code="g", name="门"))
    lane = await service.create_lane(
        me, LaneIn(gate_id=gate.id, code="l", name="入", direction=Direction.entry)
    )
    device = await service.create_device(
        me, DeviceIn(site_id=one.id, lane_id=lane.id, kind=DeviceKind.barrier, name="道闸")
    )
    assert device.lane_name == "入"
    with pytest.raises(Invalid) as refused:
        await service.update_device(
            me,
            device.id,
            DeviceIn(site_id=two.id, lane_id=lane.id, kind=DeviceKind.barrier, name="道闸"),
        )
    assert refused.value.field == "lane_id"


async def test_another_tenants_sites_do_not_exist(db: str) -> None:
    me = await _admin("alpha")
    other = await _admin("beta")
    site = await service.create_site(other, SiteIn(code="c", name="别人", kind=SiteKind.campus))
    gate = await service.create_gate(other, GateIn(site_id=site.id, code="g", name="门"))
    lane = await service.create_lane(
        other, LaneIn(gate_id=gate.id, code="l", name="入", direction=Direction.entry)
    )
    for call in (
        service.get_site(me, site.id),
        service.delete_site(me, site.id),
        service.get_gate(me, gate.id),
        service.set_gate_enabled(me, gate.id, False),
        service.get_lane(me, lane.id),
        service.set_lane_enabled(me, lane.id, False),
        service.delete_lane(me, lane.id),
    ):
        with pytest.raises(NotFound):
            await call
    with pytest.raises(Invalid):
        await service.create_gate(me, GateIn(site_id=site.id, code="x", name="x"))
    assert (await service.list_sites(me, SiteFilter(), PageParams())).total == 0
    assert (await service.list_lanes(me, LaneFilter(), PageParams())).total == 0
    assert await _changes(site.id) == [("lane_policy", "l", True)]
