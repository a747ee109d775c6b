"""Berth devices through the real sync push of an enrolled edge and the real admin pages:
sensor heartbeats (online, offline), detections and false alarms, lock states and the lock
commands; unknown devices and malformed reports never fail a batch."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.api import API_PREFIX
from cloud.crud import PageParams
from cloud.parking import devices, places
from cloud.parking.models import BerthSensor, LockStateName, ParkingLock, SensorDetection
from cloud.parking.place_schemas import BerthCreate, PlaceCreate, SensorFilter
from cloud.sites.models import Command, Edge, Site, SyncEvent
from protocols import sync as wire
from protocols.site import SiteKind
from tests.conftest import TenantAdmin, make_tenant, sign_in
from tests.e2e.seed import principal_of_user
from tests.support import SigningEdge

Client = TestClient[web.Request, web.Application]


@dataclass
class Street:
    admin: TenantAdmin
    site: Site
    section_id: int
    edge: SigningEdge
    seq: int = 0
    berth_ids: dict[str, int] = field(default_factory=dict)

    def event(
        self, kind: str, payload: dict[str, Any], event_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        self.seq += 1
        return {
            "seq": self.seq,
            "uuid": str(event_id or uuid.uuid4()),
            "type": kind,
            "site": self.site.code,
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"site": self.site.code, **payload},
        }

    async def push(self, cloud: Client, events: list[dict[str, Any]]) -> None:
        status, body = await self.edge.post(cloud, wire.EVENTS_PATH, {"events": events})
        assert status == 200, body
        assert body == {"acked_seq": events[-1]["seq"]}


async def make_street(code: str = "alpha") -> Street:
    """A road section with berths W-001 (sensor MAG-1, a lock), W-002, W-003, and its edge."""
    admin = await make_tenant(code)
    me = principal_of_user(admin.user)
    section = await places.create_place(
        me, SiteKind.street_section, PlaceCreate(name="中山路", site_code=f"{code}-zs")
    )
    ids = {}
    first = await places.create_berth(
        me,
        BerthCreate(site_id=section.site_id, code="W-001", sensor="MAG-1", has_lock=True),
    )
    ids[first.code] = first.id
    for berth in await places.create_berths(
        me, BerthCreate(site_id=section.site_id, code="W-002", count=2)
    ):
        ids[berth.code] = berth.id
    signing = SigningEdge(f"{code}-edge")
    edge = await Edge.create(
        tenant=admin.tenant,
        code=signing.code,
        name="边缘",
        public_key=signing.public_key,
        enrolled_at=datetime.now(UTC),
    )
    site = await Site.get(id=section.site_id)
    await edge.sites.add(site)
    return Street(admin, site, section.id, signing, berth_ids=ids)


def _ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


async def test_heartbeats_keep_sensors_online_and_unknown_ones_are_registered(
    cloud: Client,
) -> None:
    street = await make_street()
    await street.push(
        cloud,
        [
            street.event("berth.sensor_status", {"sensor": "MAG-1", "berth": "W-001",
                         "battery_pct": 87, "temperature_c": 21.5, "at": _ago(1)}),
            # An older heartbeat arriving late changes nothing.
            street.event("berth.sensor_status", {"sensor": "MAG-1", "battery_pct": 95,
                         "at": _ago(10)}),
            # Unknown sensors: registered, bound to the berth when it exists.
            street.event("berth.sensor_status", {"sensor": "MAG-2", "berth": "W-002",
                         "battery_pct": 15, "at": _ago(45)}),
            street.event("berth.sensor_status", {"sensor": "MAG-X", "berth": "NOPE",
                         "battery_pct": 50, "at": _ago(2)}),
            # Malformed: kept as a dead letter, the batch goes through.
            street.event("berth.sensor_status", {"sensor": "MAG-1", "battery_pct": 150,
                         "at": _ago(0)}),
        ],
    )  # fmt: skip
    one = await BerthSensor.get(serial="MAG-1")
    assert (one.battery_pct, one.temperature_c, one.berth) == (87, 21.5, "W-001")
    assert (await BerthSensor.get(serial="MAG-2")).berth == "W-002"
    assert (await BerthSensor.get(serial="MAG-X")).berth == ""
    dead = await SyncEvent.get(seq=5)
    assert "battery_pct" in dead.error
    # Online: a heartbeat in the last 30 minutes.
    me = principal_of_user(street.admin.user)
    online = await devices.list_sensors(me, SensorFilter(online=True), PageParams())
    assert sorted(s.serial for s in online.items) == ["MAG-1", "MAG-X"]
    offline = await devices.list_sensors(me, SensorFilter(online=False), PageParams())
    assert [s.serial for s in offline.items] == ["MAG-2"]
    await sign_in(cloud, street.admin.account, street.admin.password)
    page = await (await cloud.get("/parking/sensors?serial=MAG-2")).text()
    assert 'data-online="false"' in page and "data-low-battery" in page
    page = await (await cloud.get("/parking/sensors?online=true")).text()
    assert 'data-online="true"' in page and "MAG-2" not in page
    # The section's detail shows each berth's sensor state.
    detail = await (await cloud.get(f"/parking/sections/{street.section_id}")).text()
    row = re.search(r'data-berth="W-001".*?</tr>', detail, re.S)
    assert row and 'data-online="true"' in row.group(0) and ">87<" in row.group(0)


async def test_detections_are_recorded_once_and_false_alarms_mark_them(cloud: Client) -> None:
    street = await make_street()
    tenant_id = street.admin.tenant.id
    arrival = uuid.uuid4()
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    for _ in range(2):  # the orders ingest may deliver the same event twice: stored once
        await devices.record_detection(
            tenant_id, street.site, arrival, "W-001", "MAG-1", "sess-1", "arrived", "sensor", at
        )
    await devices.record_detection(
        tenant_id, street.site, uuid.uuid4(), "W-001", "MAG-1", "sess-1", "departed", "sensor",
        at + timedelta(minutes=5),
    )  # fmt: skip
    assert await SensorDetection.filter(session="sess-1").count() == 2
    assert (await BerthSensor.get(serial="MAG-1")).detections == 2
    report = {"berth": "W-001", "session": "sess-1", "sensor": "MAG-1", "collector": "c01",
              "reason": "无车辆", "at": _ago(1)}  # fmt: skip
    await street.push(
        cloud,
        [
            street.event("berth.false_alarm", report),
            street.event("berth.false_alarm", report),  # reported twice: counted once
            # Reported from a PDA before the site edge sent the arrival.
            street.event("berth.false_alarm", {**report, "session": "sess-2", "berth": "W-002",
                         "sensor": ""}),
            street.event("berth.false_alarm", {**report, "session": "s-9", "berth": "NOPE"}),
        ],
    )  # fmt: skip
    marked = await SensorDetection.get(session="sess-1", kind="arrived")
    assert (marked.false_alarm, marked.false_alarm_reason, marked.reported_by) == (
        True,
        "无车辆",
        "c01",
    )
    assert marked.occurred_at == at
    assert (await BerthSensor.get(serial="MAG-1")).false_alarms == 1
    early = await SensorDetection.get(session="sess-2")
    assert early.false_alarm and early.source == "report"
    await devices.record_detection(
        tenant_id, street.site, uuid.uuid4(), "W-002", "MAG-2", "sess-2", "arrived", "sensor", at
    )
    early = await SensorDetection.get(session="sess-2")
    assert (early.false_alarm, early.source, early.occurred_at, early.sensor) == (
        True,
        "sensor",
        at,
        "MAG-2",
    )
    assert (await BerthSensor.get(serial="MAG-2")).detections == 1
    assert not await SensorDetection.filter(berth="NOPE").exists()
    # The pages: every detection, and the false alarms only.
    await sign_in(cloud, street.admin.account, street.admin.password)
    listed = await (await cloud.get("/parking/detections")).text()
    assert listed.count("data-false-alarm=") == 3
    alarms = await (await cloud.get("/parking/detections?false_alarm=true")).text()
    assert alarms.count('data-false-alarm="true"') == 2 and 'data-false-alarm="false"' not in alarms
    bad = await cloud.get("/parking/detections?at_from=2026-01-02T00:00&at_to=2026-01-01T00:00")
    assert bad.status == 200 and 'data-field="at_to"' in await bad.text()
    token = await _api_token(cloud, street)
    resp = await cloud.get(f"{API_PREFIX}/sensor-detections?false_alarm=true", headers=token)
    assert (await resp.json())["total"] == 2


async def test_lock_states_are_kept_and_commands_raise_and_lower(cloud: Client) -> None:
    street = await make_street()
    lock = await ParkingLock.get(berth="W-001")
    assert lock.state == LockStateName.unknown
    await street.push(
        cloud,
        [
            street.event("berth.lock_state", {"berth": "W-001", "state": "raised", "at": _ago(2)}),
            street.event("berth.lock_state", {"berth": "W-001", "state": "lowered",
                         "at": _ago(5)}),  # older: ignored
            # A lock the cloud did not know of, on a known berth, gets its row.
            street.event("berth.lock_state", {"berth": "W-003", "state": "fault",
                         "fault": "motor stalled", "at": _ago(1)}),
            street.event("berth.lock_state", {"berth": "W-002", "state": "sideways",
                         "at": _ago(1)}),
            street.event("berth.lock_state", {"berth": "NOPE", "state": "raised", "at": _ago(1)}),
        ],
    )  # fmt: skip
    assert (await ParkingLock.get(berth="W-001")).state == LockStateName.raised
    faulty = await ParkingLock.get(berth="W-003")
    assert (faulty.state, faulty.fault) == (LockStateName.fault, "motor stalled")
    assert (await ParkingLock.get(berth="W-002")).state == LockStateName.unknown
    assert not await ParkingLock.filter(berth="NOPE").exists()
    # The list shows state and fault; lower through the page, raise through the API.
    csrf = {"_csrf": await sign_in(cloud, street.admin.account, street.admin.password)}
    listed = await (await cloud.get("/parking/locks?faulty=true")).text()
    assert 'data-state="fault"' in listed and "motor stalled" in listed
    assert 'data-state="raised"' not in listed
    confirm = await cloud.get(f"/parking/locks/{lock.id}/lower")
    assert confirm.status == 200 and "W-001" in await confirm.text()
    resp = await cloud.post(f"/parking/locks/{lock.id}/lower", data=csrf, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == f"/commands?site_id={street.site.id}&kind=lock_lower"
    command = await Command.get(kind="lock_lower")
    assert command.payload == {"berth": "W-001"} and command.site_id == street.site.id
    token = await _api_token(cloud, street)
    resp = await cloud.post(f"{API_PREFIX}/parking-locks/{lock.id}/raise", headers=token)
    body = await resp.json()
    assert resp.status == 201 and body["kind"] == "lock_raise", body
    assert body["payload"] == {"berth": "W-001"}
    # The edge pulls the commands with its state.
    body_bytes = json.dumps({"revisions": {street.site.code: 0}, "wait": 0}).encode()
    headers = street.edge.headers("POST", wire.STATE_PATH, body_bytes)
    resp = await cloud.post(wire.STATE_PATH, data=body_bytes, headers=headers)
    pulled = await resp.json()
    assert resp.status == 200, pulled
    kinds = sorted(c["kind"] for c in pulled["commands"])
    assert kinds == ["lock_lower", "lock_raise"]
    # The command's result comes back and shows in the command list.
    result = street.event(
        "command.result",
        {"command": str(command.id), "kind": "lock_lower", "status": "done", "detail": "lowered"},
    )
    await street.push(cloud, [result])
    assert (await Command.get(id=command.id)).state.value == "done"
    listed = await (await cloud.get(f"/commands?site_id={street.site.id}")).text()
    assert "lowered" in listed


async def test_another_tenants_devices_are_not_touched(cloud: Client) -> None:
    street = await make_street("beta")
    alpha = await make_tenant("alpha")
    lock = await ParkingLock.get(berth="W-001")
    sensor = await BerthSensor.get(serial="MAG-1")
    csrf = {"_csrf": await sign_in(cloud, alpha.account, alpha.password)}
    for path in (f"/parking/locks/{lock.id}/raise", f"/parking/sections/{street.section_id}",
                 f"/parking/berths/{street.berth_ids['W-001']}/edit"):  # fmt: skip
        resp = await cloud.get(path)
        assert resp.status == 404, path
        assert "中山路" not in await resp.text()
    resp = await cloud.post(f"/parking/locks/{lock.id}/raise", data=csrf)
    assert resp.status == 404
    token = await _api_token(cloud, None, alpha)
    resp = await cloud.get(f"{API_PREFIX}/berth-sensors/{sensor.id}", headers=token)
    assert resp.status == 404
    resp = await cloud.post(f"{API_PREFIX}/parking-locks/{lock.id}/lower", headers=token)
    assert resp.status == 404
    assert await Command.all().count() == 0
    listed = await (await cloud.get("/parking/sensors")).text()
    assert "MAG-1" not in listed


async def _api_token(
    cloud: Client, street: Street | None, admin: TenantAdmin | None = None
) -> dict[str, str]:
    who = admin or (street.admin if street else None)
    assert who is not None
    resp = await cloud.post(
        f"{API_PREFIX}/auth/login", json={"account": who.account, "password": who.password}
    )
    assert resp.status == 200
    return {"X-CSRF-Token": (await resp.json())["csrf_token"]}
