"""Campus grants from the cloud to the edge and back: the cloud publishes a registrant, an
appointment and its pass key; the edge decides passes alone; the records come back with who."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from tortoise.transactions import in_transaction

from cloud.access.models import AccessRecord
from cloud.campus.keys import signing_key
from cloud.campus.models import (
    Appointment,
    AppointmentOrigin,
    AppointmentStatus,
    IdentityKind,
    Registrant,
    RegistrantRule,
    Slot,
)
from cloud.campus.publish import sync_appointment, sync_registrant
from cloud.demo import populate
from cloud.settings import CloudSettings
from cloud.sites.models import Site
from edge.agent import build_edge_app
from edge.api import STORE
from edge.settings import EdgeSettings
from edge.store import Store
from firmware_sim.gate_camera import GateCameraSimulator, phone_frame
from firmware_sim.site import SimulatedLane, SimulatedSite, start_site, stop_site
from protocols.events import Method, Reason, Verdict
from protocols.passes import issue, registrant_pass, visitor_pass
from tests.conftest import free_port
from tests.support import CloudServer, demo_site_with_free_ports, enroll_edge, eventually

EDGE_ID = "campus-edge"
CAMPUS = "north-campus"


@dataclass
class CampusSlice:
    cloud: CloudServer
    site: SimulatedSite
    edge: web.AppRunner
    url: str
    session: aiohttp.ClientSession

    @property
    def store(self) -> Store:
        return self.edge.app[STORE]

    def lane(self, code: str) -> SimulatedLane:
        return next(lane for lane in self.site.lanes if lane.code == code)


@pytest.fixture
async def campus_slice(
    db: str, cloud_settings: CloudSettings, tmp_path: Path
) -> AsyncIterator[CampusSlice]:
    document = demo_site_with_free_ports()
    await populate(document, EDGE_ID)
    cloud = CloudServer(cloud_settings)
    await cloud.start()
    port = free_port()
    settings = EdgeSettings(
        port=port,
        store_path=tmp_path / "edge.db",
        snapshot_dir=tmp_path / "snapshots",
        key_path=tmp_path / "edge.key",
        identity_path=tmp_path / "identity.json",
        sync_retry_cap_s=1,
    )
    await enroll_edge(EDGE_ID, cloud.url, settings.key_path, settings.identity_path)
    edge = web.AppRunner(build_edge_app(settings, document))
    await edge.setup()
    await web.TCPSite(edge, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        site = await start_site(document, url, session, hold_s=0.2)
        store = edge.app[STORE]

        async def has_keys() -> bool:
            return bool(store.book(CAMPUS).campus.keys)

        await eventually(has_keys, 10, "the edge holds the school's pass key")
        try:
            yield CampusSlice(cloud, site, edge, url, session)
        finally:
            await stop_site(site)
            await edge.cleanup()
            await cloud.stop()


async def _new_registrant(tenant_id: int) -> Registrant:
    """A student with a rule at the north campus's every gate, at any hour, published."""
    site = await Site.get(code=CAMPUS)
    async with in_transaction():
        registrant = await Registrant.create(
            tenant_id=tenant_id, kind=IdentityKind.student, name="赵同学", number="S-SYNC-1"
        )
        await RegistrantRule.create(
            tenant_id=tenant_id,
            registrant=registrant,
            site=site,
            gates=[],
            weekdays=[1, 2, 3, 4, 5, 6, 7],
            start_time=day_time(0, 0),
            end_time=day_time(23, 59, 59),
        )
        await sync_registrant(registrant)
    return registrant


async def test_a_registrant_made_in_the_cloud_passes_at_the_edge_until_disabled(
    campus_slice: CampusSlice,
) -> None:
    site = await Site.get(code=CAMPUS)
    registrant = await _new_registrant(site.tenant_id)
    kid, key = await signing_key(site.tenant_id)
    subject = str(registrant.id)

    async def edge_knows() -> bool:
        return subject in campus_slice.store.book(CAMPUS).campus.registrants

    await eventually(edge_knows, 5, "the registrant reached the edge")
    lane = campus_slice.lane("north-in")
    assert lane.barrier is not None
    camera = GateCameraSimulator(campus_slice.url, "north-in", campus_slice.session)
    token = issue(key, kid, registrant_pass(subject, "all", int(time.time())))
    result = await camera.post(phone_frame(token, seed=21, difficulty=0.3))
    assert result.verdict == "open", result.body
    await lane.barrier.wait_opens(1, timeout_s=2)

    async def recorded(reason: Reason) -> bool:
        return await AccessRecord.filter(registrant_id=registrant.id, reason=reason).exists()

    await eventually(lambda: recorded(Reason.registrant), 5, "the record reached the cloud")
    record = await AccessRecord.get(registrant_id=registrant.id, reason=Reason.registrant)
    assert (record.verdict, record.method, record.lane) == (Verdict.open, "qr_pass", "north-in")

    # Disabled in the cloud: the edge holds the revocation, and the next pass is refused.
    async with in_transaction():
        registrant.enabled = False
        await registrant.save()
        await sync_registrant(registrant)

    async def edge_revoked() -> bool:
        return f"registrant:{subject}" in campus_slice.store.book(CAMPUS).campus.revoked

    await eventually(edge_revoked, 5, "the revocation reached the edge")
    token = issue(key, kid, registrant_pass(subject, "all", int(time.time())))
    refused = await camera.post(phone_frame(token, seed=22, difficulty=0.3))
    assert isinstance(refused.body, dict)
    assert (refused.body["verdict"], refused.body["reason"]) == ("deny", "revoked")
    assert lane.barrier.opens == 1
    await eventually(lambda: recorded(Reason.revoked), 5, "the refusal reached the cloud")


async def test_a_visitor_passes_once_and_the_appointment_is_marked_visited(
    campus_slice: CampusSlice,
) -> None:
    site = await Site.get(code=CAMPUS)
    host = await Registrant.filter(tenant_id=site.tenant_id, kind=IdentityKind.teacher).first()
    assert host is not None
    now = datetime.now(UTC)
    async with in_transaction():
        appointment = await Appointment.create(
            tenant_id=site.tenant_id,
            site=site,
            host=host,
            visitor_name="孙访客",
            visitor_phone="13900000009",
            origin=AppointmentOrigin.request,
            visit_date=date.today(),
            slot=Slot.afternoon,
            window_start=now - timedelta(minutes=30),
            window_end=now + timedelta(hours=2),
            reason="讲座",
            status=AppointmentStatus.approved,
        )
        await sync_appointment(appointment)
    kid, key = await signing_key(site.tenant_id)
    subject = str(appointment.id)

    async def edge_knows() -> bool:
        return subject in campus_slice.store.book(CAMPUS).campus.appointments

    await eventually(edge_knows, 5, "the appointment reached the edge")
    start, end = int(now.timestamp()) - 1800, int(now.timestamp()) + 7200
    camera = GateCameraSimulator(campus_slice.url, "north-in", campus_slice.session)
    first = await camera.post(
        phone_frame(issue(key, kid, visitor_pass(subject, "all", start, end)), seed=31)
    )
    assert first.verdict == "open", first.body
    again = await camera.post(
        phone_frame(issue(key, kid, visitor_pass(subject, "all", start, end)), seed=32)
    )
    assert isinstance(again.body, dict) and again.body["reason"] == "replayed"

    async def visited() -> bool:
        row = await Appointment.get(id=appointment.id)
        return row.visited_at is not None

    await eventually(visited, 5, "the appointment was marked visited")

    async def both_recorded() -> bool:
        return await AccessRecord.filter(appointment_id=appointment.id).count() == 2

    await eventually(both_recorded, 5, "both records reached the cloud")
    row = await Appointment.get(id=appointment.id)
    assert (row.visited_gate, row.visited_method) == ("north-gate", Method.qr_pass.value)
    records = await AccessRecord.filter(appointment_id=appointment.id).order_by("occurred_at")
    assert [(r.verdict, r.reason) for r in records] == [
        (Verdict.open, Reason.visitor),
        (Verdict.deny, Reason.replayed),
    ]
