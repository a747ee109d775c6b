"""Sites services on the real database: CRUD, lane defaults, lane policy publication, tenant
scope; edges and their enrollment tokens, device commands, dead letters."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cloud.auth import Principal
from cloud.crud import PageParams
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.models import AuditLog, Tenant
from cloud.sites import edges, service
from cloud.sites.models import (
    Command,
    CommandState,
    DeviceKind,
    Edge,
    Site,
    StateChange,
    SyncEvent,
)
from cloud.sites.schemas import (
    CommandFilter,
    DeadLetterFilter,
    DeviceIn,
    EdgeFilter,
    EdgeIn,
    EdgeStatus,
    EdgeUpdate,
    GateIn,
    LaneFilter,
    LaneIn,
    SiteFilter,
    SiteIn,
)
from protocols.site import DefaultAction, Direction, SiteKind
from tests.conftest import make_tenant
from tests.e2e.seed import Place, make_place, principal_of_user


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


# --- edges ------------------------------------------------------------------------------------


async def _place(me: Principal, prefix: str = "") -> Place:
    return await make_place(await Tenant.get(id=me.tenant_id), prefix=prefix)


async def test_edge_token_is_returned_once_and_only_its_hash_is_kept(db: str) -> None:
    me = await _admin("alpha")
    place = await _place(me)
    before = datetime.now(UTC)
    created = await edges.create_edge(
        me, EdgeIn(code="gate-box", name="北门边缘", site_ids=[place.site.id])
    )
    token = created.token
    assert len(token) >= 40
    row = await Edge.get(id=created.edge.id)
    assert row.enroll_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(await Edge.filter(id=row.id).values(), default=str)  # not kept
    assert row.enroll_expires_at is not None
    life = row.enroll_expires_at - before
    assert timedelta(hours=24) <= life < timedelta(hours=24, seconds=30)
    assert created.edge.status == EdgeStatus.pending
    assert created.edge.site_ids == [place.site.id]
    # The audit line names what was made, never the token nor its hash.
    logged = await AuditLog.get(entity="edge", action="create")
    assert logged.entity_id == str(row.id)
    text = json.dumps(logged.detail)
    assert token not in text and row.enroll_token_hash not in text
    assert logged.detail["changes"]["code"]["to"] == "gate-box"
    # Reading the edge again never shows the token.
    again = await edges.get_edge(me, row.id)
    assert token not in again.model_dump_json()
    assert await edges.enroll_token_matches(me, row.id, token)
    assert not await edges.enroll_token_matches(me, row.id, token + "x")


async def test_two_edges_get_different_tokens_and_codes_are_unique_everywhere(db: str) -> None:
    me = await _admin("alpha")
    other = await _admin("beta")
    one = await edges.create_edge(me, EdgeIn(code="e1", name="一"))
    two = await edges.create_edge(me, EdgeIn(code="e2", name="二"))
    assert one.token != two.token
    with pytest.raises(Conflict) as clash:
        await edges.create_edge(other, EdgeIn(code="e1", name="别人的"))
    assert clash.value.field == "code"


async def test_edge_status_is_derived_from_its_enrollment(db: str) -> None:
    me = await _admin("alpha")
    created = await edges.create_edge(me, EdgeIn(code="e1", name="一"))
    ident = created.edge.id
    assert (await edges.get_edge(me, ident)).status == EdgeStatus.pending
    past = datetime.now(UTC) - timedelta(seconds=1)
    await Edge.filter(id=ident).update(enroll_expires_at=past)
    assert (await edges.get_edge(me, ident)).status == EdgeStatus.expired
    await Edge.filter(id=ident).update(
        public_key="k" * 43, enroll_token_hash="", enrolled_at=datetime.now(UTC)
    )
    assert (await edges.get_edge(me, ident)).status == EdgeStatus.enrolled
    await edges.set_edge_enabled(me, ident, False)
    assert (await edges.get_edge(me, ident)).status == EdgeStatus.disabled
    await edges.set_edge_enabled(me, ident, True)
    revoked = await edges.revoke_edge(me, ident)
    assert revoked.status == EdgeStatus.revoked
    # The list filters by the same derivation.
    for status in EdgeStatus:
        page = await edges.list_edges(me, EdgeFilter(status=status), PageParams())
        assert [e.code for e in page.items] == (["e1"] if status == EdgeStatus.revoked else [])


async def test_revoke_clears_the_key_and_reenroll_issues_a_new_token(db: str) -> None:
    me = await _admin("alpha")
    created = await edges.create_edge(me, EdgeIn(code="e1", name="一"))
    ident = created.edge.id
    await Edge.filter(id=ident).update(
        public_key="k" * 43, enroll_token_hash="", enrolled_at=datetime.now(UTC)
    )
    await edges.revoke_edge(me, ident)
    row = await Edge.get(id=ident)
    assert row.public_key == "" and row.revoked_at is not None and row.enroll_token_hash == ""
    again = await edges.reenroll_edge(me, ident)
    row = await Edge.get(id=ident)
    assert again.token != created.token
    assert row.enroll_token_hash == hashlib.sha256(again.token.encode()).hexdigest()
    assert row.revoked_at is None and row.public_key == "" and row.enrolled_at is None
    assert row.enroll_expires_at is not None
    assert row.enroll_expires_at - datetime.now(UTC) > timedelta(hours=23, minutes=59)
    assert again.edge.status == EdgeStatus.pending
    # Re-enrolling an enrolled edge forgets its key too; the old token is no longer it.
    await Edge.filter(id=ident).update(public_key="k" * 43, enroll_token_hash="")
    third = await edges.reenroll_edge(me, ident)
    assert (await Edge.get(id=ident)).public_key == ""
    assert not await edges.enroll_token_matches(me, ident, again.token)
    assert await edges.enroll_token_matches(me, ident, third.token)
    actions = await AuditLog.filter(entity="edge").order_by("id").values_list("action", flat=True)
    assert actions == ["create", "revoke", "reenroll", "reenroll"]
    for detail in await AuditLog.filter(entity="edge").values_list("detail", flat=True):
        assert third.token not in json.dumps(detail) and again.token not in json.dumps(detail)


async def test_edge_sites_are_the_tenants_own(db: str) -> None:
    me = await _admin("alpha")
    other = await _admin("beta")
    mine = await _place(me, "a-")
    theirs = await _place(other, "b-")
    with pytest.raises(Invalid) as refused:
        await edges.create_edge(
            me, EdgeIn(code="e1", name="一", site_ids=[mine.site.id, theirs.site.id])
        )
    assert refused.value.field == "site_ids"
    assert not await Edge.filter(code="e1").exists()
    created = await edges.create_edge(me, EdgeIn(code="e1", name="一", site_ids=[mine.site.id]))
    with pytest.raises(Invalid):
        await edges.update_edge(
            me, created.edge.id, EdgeUpdate(name="一", site_ids=[theirs.site.id])
        )
    second = await service.create_site(
        me, SiteIn(code="lot", name="停车场", kind=SiteKind.parking_lot)
    )
    changed = await edges.update_edge(
        me, created.edge.id, EdgeUpdate(name="新名", site_ids=[second.id, mine.site.id])
    )
    assert changed.name == "新名" and sorted(changed.site_ids) == sorted([second.id, mine.site.id])
    logged = await AuditLog.filter(entity="edge", action="update").get()
    assert set(logged.detail["changes"]) == {"name", "site_ids"}


async def test_edge_list_shows_revisions_behind_backlog_and_skew(db: str) -> None:
    me = await _admin("alpha")
    place = await _place(me)
    await Site.filter(id=place.site.id).update(revision=7)
    created = await edges.create_edge(me, EdgeIn(code="e1", name="一", site_ids=[place.site.id]))
    await Edge.filter(id=created.edge.id).update(
        public_key="k" * 43,
        applied_revisions={place.site.code: 5},
        acked_seq=1200,
        backlog=34,
        clock_skew_ms=-61_500,
        last_seen_at=datetime.now(UTC),
    )
    edge = (await edges.list_edges(me, EdgeFilter(), PageParams())).items[0]
    assert edge.acked_seq == 1200 and edge.backlog == 34
    assert edge.skew_flagged and edge.skew_seconds == "-61.5"
    assert [(s.code, s.applied, s.revision, s.behind) for s in edge.sites] == [
        (place.site.code, 5, 7, True)
    ]
    assert edge.behind and edge.revisions_text == f"{place.site.code} 5/7"
    await Edge.filter(id=created.edge.id).update(
        applied_revisions={place.site.code: 7}, clock_skew_ms=800
    )
    edge = await edges.get_edge(me, created.edge.id)
    assert not edge.behind and not edge.skew_flagged
    by_site = await edges.list_edges(me, EdgeFilter(site_id=place.site.id), PageParams())
    assert by_site.total == 1


async def test_an_edge_that_sent_events_cannot_be_deleted(db: str) -> None:
    me = await _admin("alpha")
    kept = await edges.create_edge(me, EdgeIn(code="e1", name="一"))
    gone = await edges.create_edge(me, EdgeIn(code="e2", name="二"))
    await _event(kept.edge.id, 1)
    with pytest.raises(Conflict):
        await edges.delete_edge(me, kept.edge.id)
    await edges.delete_edge(me, gone.edge.id)
    assert await Edge.filter(code="e1").exists() and not await Edge.filter(code="e2").exists()


async def test_another_tenants_edges_do_not_exist(db: str) -> None:
    me = await _admin("alpha")
    other = await _admin("beta")
    theirs = await edges.create_edge(other, EdgeIn(code="theirs", name="别人"))
    ident = theirs.edge.id
    for call in (
        edges.get_edge(me, ident),
        edges.update_edge(me, ident, EdgeUpdate(name="x")),
        edges.revoke_edge(me, ident),
        edges.reenroll_edge(me, ident),
        edges.set_edge_enabled(me, ident, False),
        edges.delete_edge(me, ident),
        edges.enroll_token_matches(me, ident, theirs.token),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await edges.list_edges(me, EdgeFilter(), PageParams())).total == 0
    assert await edges.edge_choices(me) == []
    row = await Edge.get(id=ident)
    assert row.name == "别人" and row.enabled and row.revoked_at is None
    assert row.enroll_token_hash == hashlib.sha256(theirs.token.encode()).hexdigest()


# --- dead letters -----------------------------------------------------------------------------


async def _event(
    edge_id: int, seq: int, error: str = "", kind: str = "access.decided"
) -> SyncEvent:
    return await SyncEvent.create(
        edge_id=edge_id,
        seq=seq,
        uuid=uuid.uuid4(),
        type=kind,
        site="campus",
        occurred_at=datetime.now(UTC) - timedelta(minutes=seq),
        payload={"plate": "京A12345", "seq": seq},
        error=error,
    )


async def test_dead_letters_are_the_refused_events_of_the_tenants_edges(db: str) -> None:
    me = await _admin("alpha")
    other = await _admin("beta")
    mine = (await edges.create_edge(me, EdgeIn(code="mine", name="我的"))).edge.id
    second = (await edges.create_edge(me, EdgeIn(code="second", name="二"))).edge.id
    theirs = (await edges.create_edge(other, EdgeIn(code="theirs", name="别人"))).edge.id
    await _event(mine, 1)
    await _event(mine, 2, "unknown event type 'x.y'", kind="x.y")
    await _event(mine, 3, "payload field 'plate': too long")
    await _event(second, 1, "site 'far' is not served by this edge")
    await _event(theirs, 1, "beta refused")
    page = await edges.list_dead_letters(me, DeadLetterFilter(), PageParams())
    assert sorted((d.edge_code, d.seq) for d in page.items) == [
        ("mine", 2),
        ("mine", 3),
        ("second", 1),
    ]
    assert page.total == 3
    assert all("beta" not in d.error for d in page.items)
    first = next(d for d in page.items if d.seq == 2)
    assert first.type == "x.y" and first.payload == {"plate": "京A12345", "seq": 2}
    assert '"plate": "京A12345"' in first.payload_text  # pretty, unescaped
    by_edge = await edges.list_dead_letters(me, DeadLetterFilter(edge_id=second), PageParams())
    assert [d.seq for d in by_edge.items] == [1]
    foreign = await edges.list_dead_letters(me, DeadLetterFilter(edge_id=theirs), PageParams())
    assert foreign.total == 0
    by_type = await edges.list_dead_letters(me, DeadLetterFilter(type="x.y"), PageParams())
    assert [d.seq for d in by_type.items] == [2]
    window = DeadLetterFilter(
        occurred_from=datetime.now(UTC) - timedelta(minutes=2, seconds=30),
        occurred_to=datetime.now(UTC),
    )
    assert sorted(
        d.seq for d in (await edges.list_dead_letters(me, window, PageParams())).items
    ) == [1, 2]
    assert await edges.dead_letter_type_choices(me) == [
        ("access.decided", "access.decided"),
        ("x.y", "x.y"),
    ]


# --- commands ---------------------------------------------------------------------------------


async def test_open_barrier_creates_a_pending_command_that_expires_in_30_s(db: str) -> None:
    me = await _admin("alpha")
    place = await _place(me)
    before = datetime.now(UTC)
    command = await edges.issue_command(me, place.entry.id)
    row = await Command.get(id=command.id)
    assert row.state == CommandState.pending and command.state == CommandState.pending
    assert row.kind == "open_barrier" and row.lane == place.entry.code
    assert row.site_id == place.site.id and row.tenant_id == me.tenant_id
    assert row.issued_by == me.account
    assert row.expires_at - row.issued_at == timedelta(seconds=30)
    assert before <= row.issued_at <= datetime.now(UTC)
    assert command.lane_name == place.entry.name
    logged = await AuditLog.get(entity="command")
    assert logged.action == "create" and logged.entity_id == str(row.id)
    with pytest.raises(Invalid):
        await edges.issue_command(me, place.entry.id, ttl_s=0)


async def test_a_pending_command_past_its_expiry_shows_expired(db: str) -> None:
    me = await _admin("alpha")
    place = await _place(me)
    late = await edges.issue_command(me, place.entry.id)
    fresh = await edges.issue_command(me, place.exit.id)
    done = await edges.issue_command(me, place.exit.id)
    past = datetime.now(UTC) - timedelta(seconds=1)
    await Command.filter(id=late.id).update(expires_at=past)
    await Command.filter(id=done.id).update(
        state=CommandState.done, finished_at=datetime.now(UTC), expires_at=past
    )
    states = {
        c.id: c.state for c in (await edges.list_commands(me, CommandFilter(), PageParams())).items
    }
    assert states == {
        late.id: CommandState.expired,
        fresh.id: CommandState.pending,
        done.id: CommandState.done,
    }
    for state, expected in (
        (CommandState.expired, {late.id}),
        (CommandState.pending, {fresh.id}),
        (CommandState.done, {done.id}),
        (CommandState.failed, set()),
    ):
        page = await edges.list_commands(me, CommandFilter(state=state), PageParams())
        assert {c.id for c in page.items} == expected, state
    by_lane = await edges.list_commands(me, CommandFilter(lane=place.entry.code), PageParams())
    assert [c.id for c in by_lane.items] == [late.id]


async def test_another_tenants_lanes_and_commands_do_not_exist(db: str) -> None:
    me = await _admin("alpha")
    other = await _admin("beta")
    theirs = await _place(other, "b-")
    with pytest.raises(NotFound):
        await edges.issue_command(me, theirs.entry.id)
    command = await edges.issue_command(other, theirs.entry.id)
    assert (await edges.list_commands(me, CommandFilter(), PageParams())).total == 0
    with pytest.raises(NotFound):
        await edges.get_command(me, command.id)
    assert await Command.filter(tenant_id=me.tenant_id).count() == 0
