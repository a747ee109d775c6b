"""Camera simulator -> edge -> barrier and display simulators, over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from edge.agent import build_edge_app
from edge.api import STORE
from edge.settings import EdgeSettings
from edge.store import Store
from firmware_sim.camera import CameraSimulator
from firmware_sim.site import SimulatedLane, SimulatedSite, start_site, stop_site
from firmware_sim.snapshot import SNAPSHOT_JPEG
from protocols.events import Reason, Verdict
from protocols.site import SiteDocument


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_url() -> str:
    """A URL nothing listens on: the cloud is down."""
    return f"http://127.0.0.1:{free_port()}"


def lane_doc(
    code: str, direction: str, wiring: str = "modbus", display: bool = True
) -> dict[str, Any]:
    lane: dict[str, Any] = {
        "code": code,
        "name": code,
        "direction": direction,
        "wiring": wiring,
        "camera": {"serial": f"CAM-{code}", "min_confidence": 80},
    }
    if wiring == "modbus":
        lane["barrier"] = {"port": free_port()}
    if display:
        lane["display"] = {"port": free_port()}
    return lane


def two_site_document() -> SiteDocument:
    """A campus gate (Modbus in, camera-relay out) and a parking lot (Modbus in and out)."""
    return SiteDocument.model_validate(
        {
            "tenant": "t",
            "sites": [
                {
                    "code": "campus",
                    "name": "campus",
                    "kind": "campus",
                    "gates": [
                        {
                            "code": "g1",
                            "name": "g1",
                            "lanes": [
                                lane_doc("c-in", "entry"),
                                lane_doc("c-out", "exit", wiring="camera_relay"),
                            ],
                        }
                    ],
                },
                {
                    "code": "lot",
                    "name": "lot",
                    "kind": "parking_lot",
                    "gates": [
                        {
                            "code": "g2",
                            "name": "g2",
                            "lanes": [lane_doc("p-in", "entry"), lane_doc("p-out", "exit")],
                        }
                    ],
                },
            ],
        }
    )


def edge_settings(tmp: Path, cloud_url: str | None = None, **extra: Any) -> EdgeSettings:
    """Settings in tmp; the edge is not enrolled until a test writes its identity files
    (tests.integration.test_edge_sync.enrolled), which name the cloud it syncs with."""
    return EdgeSettings(
        port=0,
        store_path=tmp / "edge.db",
        snapshot_dir=tmp / "snapshots",
        cloud_url=cloud_url or closed_url(),
        key_path=tmp / "identity" / "edge.key",
        identity_path=tmp / "identity" / "identity.json",
        modbus_timeout_s=0.5,
        **extra,
    )


@dataclass
class Rig:
    app: web.Application
    url: str
    sims: SimulatedSite
    session: aiohttp.ClientSession

    @property
    def store(self) -> Store:
        return self.app[STORE]

    def lane(self, code: str) -> SimulatedLane:
        return next(lane for lane in self.sims.lanes if lane.code == code)

    def camera(self, code: str) -> CameraSimulator:
        return self.lane(code).camera


@asynccontextmanager
async def rig(
    tmp: Path,
    site: SiteDocument | None = None,
    cloud_url: str | None = None,
    settings: EdgeSettings | None = None,
) -> AsyncIterator[Rig]:
    """Simulators first (as on a real site the devices are already powered), then the edge."""
    site = site or two_site_document()
    settings = settings or edge_settings(tmp, cloud_url)
    async with aiohttp.ClientSession() as session:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        sims = await start_site(site, url, session, hold_s=0.2)
        server = TestServer(build_edge_app(settings, site), host="127.0.0.1", port=port)
        try:
            await server.start_server()
            yield Rig(server.app, url, sims, session)
        finally:
            await server.close()
            await stop_site(sims)


async def test_modbus_lane_opens_barrier_after_recording(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        lane = r.lane("p-in")
        result = await lane.camera.push("粤B12345")
        assert result.status == 200
        # A Modbus-wired lane keeps the camera's own relay shut: the edge drives the barrier.
        assert result.body == {"Response_AlarmInfoPlate": {"info": "no"}}
        assert lane.barrier is not None and lane.barrier.opens == 1 and lane.barrier.arm_up
        records = await r.store.access_records()
        assert [(a.plate, a.verdict, a.reason) for a in records] == [
            ("粤B12345", Verdict.open, Reason.default)
        ]
        assert records[0].session, "a parking-lot entry starts a session"
        await asyncio.sleep(0.3)
        assert not lane.barrier.arm_up, "the simulated arm lowers after its hold time"


async def test_campus_stranger_is_refused_and_barrier_stays_down(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        lane = r.lane("c-in")
        result = await lane.camera.push("京A12345")
        assert result.status == 200 and not result.relay_opened
        assert lane.barrier is not None and lane.barrier.opens == 0
        (record,) = await r.store.access_records()
        assert (record.verdict, record.reason) == (Verdict.deny, Reason.default)


async def test_camera_relay_lane_replies_ok_or_no(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        from protocols.sync import Entity, ListKind, SiteState, StateChange

        await r.store.apply_state(
            SiteState(
                site="campus",
                revision=1,
                full=True,
                changes=[
                    StateChange(
                        entity=Entity.list_entry,
                        key="w1",
                        data={"plate": "京A11111", "kind": ListKind.whitelist},
                    )
                ],
            )
        )
        camera = r.camera("c-out")
        refused = await camera.push("京B22222")
        assert refused.body == {"Response_AlarmInfoPlate": {"info": "no"}}
        opened = await camera.push("京A11111")
        assert opened.body == {"Response_AlarmInfoPlate": {"info": "ok"}}
        assert camera.relay_opens == 1


async def test_malformed_push_gets_400_and_lane_keeps_working(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        camera = r.camera("p-in")
        bad = await camera.post(b'{"AlarmInfoPlate": {"result": {"PlateResult": {}}}}')
        assert bad.status == 400
        assert isinstance(bad.body, dict) and "PlateResult" in bad.body["detail"]
        garbage = await camera.post(b"\x00\xffnot json")
        assert garbage.status == 400
        assert await r.store.access_records() == []
        assert await r.store.pending_count() == 0
        good = await camera.push("粤B12345")
        assert good.status == 200
        assert len(await r.store.access_records()) == 1


async def test_unknown_camera_gets_404_and_lane_query_overrides(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        stranger = CameraSimulator("NOT-CONFIGURED", r.url + "/camera/push", r.session)
        assert (await push_once(stranger)).status == 404
        routed = CameraSimulator("NOT-CONFIGURED", r.url + "/camera/push?lane=p-in", r.session)
        assert (await push_once(routed)).status == 200


async def push_once(camera: CameraSimulator) -> Any:
    return await camera.push("粤B54321")


async def test_heartbeat_is_answered(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        reply = await r.camera("p-in").post(json.dumps({"heartbeat": {"countid": 1}}).encode())
        assert (reply.status, reply.body) == (200, {"status": "ok"})


async def test_barrier_down_lane_still_replies_and_failure_is_recorded(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        lane = r.lane("p-in")
        assert lane.barrier is not None
        await lane.barrier.stop()
        result = await lane.camera.push("粤B12345")
        assert result.status == 200
        events = await r.store.pending(100, 1_000_000)
        types = [event.type for event in events]
        assert "access.decided" in types and "device.barrier_failed" in types
        failed = next(e for e in events if e.type == "device.barrier_failed")
        assert failed.payload["lane"] == "p-in"
        # The barrier comes back: the next car's open reaches it (the driver reconnects).
        await lane.barrier.start()
        again = await lane.camera.push("粤B67890")
        assert again.status == 200
        await lane.barrier.wait_opens(1)


async def test_barrier_refusal_is_recorded_as_failure(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        lane = r.lane("p-in")
        assert lane.barrier is not None
        lane.barrier.refuse_writes = True
        assert (await lane.camera.push("粤B12345")).status == 200
        events = await r.store.pending(100, 1_000_000)
        failed = [e for e in events if e.type == "device.barrier_failed"]
        assert len(failed) == 1 and "refused" in failed[0].payload["error"]


async def test_display_shows_plate_and_verdict(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        entry, campus = r.lane("p-in"), r.lane("c-in")
        assert entry.display is not None and campus.display is not None
        waiting = asyncio.create_task(entry.display.wait_frame())
        await entry.camera.push("粤B12345")
        frame = await waiting
        assert (frame.line1, frame.line2, frame.colour) == ("粤B12345", "欢迎光临", "green")
        waiting = asyncio.create_task(campus.display.wait_frame())
        await campus.camera.push("京A12345")
        frame = await waiting
        assert (frame.line1, frame.line2, frame.colour) == ("京A12345", "禁止通行", "red")


async def test_parking_exit_closes_the_session(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.camera("p-in").push("粤B12345")
        await r.camera("p-in").push("粤B12345")  # a double read keeps the one session
        await r.camera("p-out").push("粤B12345")
        events = await r.store.pending(100, 1_000_000)
        types = [event.type for event in events]
        assert types.count("parking.session_started") == 1
        assert types.count("parking.session_ended") == 1
        started = next(e for e in events if e.type == "parking.session_started")
        ended = next(e for e in events if e.type == "parking.session_ended")
        assert started.payload["session"] == ended.payload["session"]
        assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))


async def test_snapshot_is_saved_under_the_recorded_name(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.camera("p-in").push("粤B12345")
        (record,) = await r.store.access_records()
        assert record.snapshot
        path = tmp_path / "snapshots" / record.snapshot
        for _ in range(100):
            if path.exists():
                break
            await asyncio.sleep(0.01)
        assert path.read_bytes() == SNAPSHOT_JPEG


async def test_hikvision_multipart_push(tmp_path: Path) -> None:
    from tests.unit.test_camera import FIXTURES, hikvision_multipart

    async with rig(tmp_path) as r:
        xml = (FIXTURES / "hikvision-anpr-event.xml").read_bytes()
        body, content_type = hikvision_multipart(xml.replace(b"44:19:b6:00:00:01", b"CAM-p-in"))
        async with r.session.post(
            r.url + "/camera/push", data=body, headers={"Content-Type": content_type}
        ) as response:
            assert response.status == 200
        (record,) = await r.store.access_records()
        assert record.plate == "京A12345" and record.lane == "p-in"


async def test_healthz(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.camera("p-in").push("粤B12345")
        async with r.session.get(r.url + "/healthz") as response:
            health = await response.json()
        assert health["ok"] is True and health["pending"] == 2
        assert health["enrolled"] is False and health["edge"] is None
