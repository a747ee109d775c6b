"""Passes at a real edge: camera frames over HTTP, a serial scanner over a pty pair, a Modbus
barrier simulator, and the records in the outbox."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import time as clock
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from edge.api import LANES
from edge.commands import Commands
from firmware_sim.gate_camera import GateCameraSimulator, phone_frame
from firmware_sim.scanner import ScannerSimulator
from protocols.events import Method, Reason, Verdict
from protocols.passes import issue, registrant_pass, visitor_pass
from protocols.site import SiteDocument
from protocols.sync import (
    AppointmentGrant,
    Command,
    CommandKind,
    Entity,
    GateWindow,
    PassKeyGrant,
    RegistrantGrant,
    SiteState,
    StateChange,
)
from tests.integration.test_edge_lanes import Rig, lane_doc, rig

KEY = Ed25519PrivateKey.generate()
KID = "k1"


def campus_document(scanner_port: str | None = None) -> SiteDocument:
    entry = lane_doc("q-in", "entry")
    if scanner_port is not None:
        entry["scanner"] = {"port": scanner_port, "baudrate": 9600}
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
                            "code": "north",
                            "name": "north",
                            "lanes": [entry, lane_doc("q-out", "exit")],
                        }
                    ],
                }
            ],
        }
    )


def _change(entity: Entity, key: str, model: Any) -> StateChange:
    return StateChange(entity=entity, key=key, data=model.model_dump(mode="json"))


async def give_campus_state(r: Rig) -> None:
    raw = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    now = datetime.now(UTC)
    await r.store.apply_state(
        SiteState(
            site="campus",
            revision=1,
            full=True,
            changes=[
                _change(Entity.pass_key, KID, PassKeyGrant(public_key=public)),
                _change(
                    Entity.registrant,
                    "42",
                    RegistrantGrant(name="张老师", kind="teacher", windows=[GateWindow()]),
                ),
                _change(
                    Entity.appointment,
                    "7",
                    AppointmentGrant(
                        visitor="李访客",
                        window_start=now - timedelta(hours=1),
                        window_end=now + timedelta(hours=1),
                    ),
                ),
            ],
        )
    )


def registrant_token() -> str:
    return issue(KEY, KID, registrant_pass("42", ["north"], int(clock.time())))


def visitor_token() -> str:
    now = int(clock.time())
    return issue(KEY, KID, visitor_pass("7", "all", now - 3600, now + 3600))


async def test_a_pass_held_to_the_camera_opens_once_after_recording(tmp_path: Path) -> None:
    async with rig(tmp_path, campus_document()) as r:
        await give_campus_state(r)
        lane = r.lane("q-in")
        assert lane.barrier is not None
        camera = GateCameraSimulator(r.url, "q-in", r.session)
        results = await camera.show(registrant_token(), frames=4, seed=11, difficulty=0.3)
        assert all(result.status == 200 for result in results)
        decided = [result for result in results if result.decided]
        assert len(decided) == 1, [result.body for result in results]
        assert decided[0].verdict == "open"
        await lane.barrier.wait_opens(1, timeout_s=2)
        assert lane.barrier.opens == 1  # the other frames were the same passage
        events = await r.store.pending(10, 1_000_000)
        (event,) = [e for e in events if e.type == "access.decided"]
        assert event.payload["method"] == Method.qr_pass
        assert (event.payload["verdict"], event.payload["reason"]) == ("open", "registrant")
        assert event.payload["subject"] == "registrant:42"


async def test_a_visitor_pass_opens_once_and_a_replay_is_refused_and_recorded(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, campus_document()) as r:
        await give_campus_state(r)
        lane = r.lane("q-in")
        assert lane.barrier is not None
        camera = GateCameraSimulator(r.url, "q-in", r.session)
        first = await camera.post(phone_frame(visitor_token(), seed=3, difficulty=0.2))
        assert first.verdict == "open"
        # The same appointment's pass again (a screenshot, a re-issued pass): refused.
        again = await camera.post(phone_frame(visitor_token(), seed=4, difficulty=0.2))
        assert isinstance(again.body, dict)
        assert (again.body["verdict"], again.body["reason"]) == ("deny", "replayed")
        assert again.body["subject"] == "appointment:7"
        await asyncio.sleep(0.1)
        assert lane.barrier.opens == 1
        records = await r.store.access_records()
        assert [(a.verdict, a.reason, a.method) for a in records] == [
            (Verdict.deny, Reason.replayed, Method.qr_pass),
            (Verdict.open, Reason.visitor, Method.qr_pass),
        ]
        # Leaving is the other direction: one more use.
        out = GateCameraSimulator(r.url, "q-out", r.session)
        left = await out.post(phone_frame(visitor_token(), seed=5, difficulty=0.2))
        assert left.verdict == "open"


async def test_frames_without_a_pass_and_bad_frames(tmp_path: Path) -> None:
    async with rig(tmp_path, campus_document()) as r:
        camera = GateCameraSimulator(r.url, "q-in", r.session)
        empty = await camera.post(phone_frame(None, seed=1))
        assert (empty.status, empty.body) == (200, {"read": False})
        bad = await camera.post(b"not a jpeg at all")
        assert bad.status == 400
        assert isinstance(bad.body, dict) and bad.body["error"] == "bad_frame"
        nowhere = GateCameraSimulator(r.url, "no-such-lane", r.session)
        assert (await nowhere.post(phone_frame(None, seed=1))).status == 404
        assert await r.store.access_records() == []


async def test_a_forged_pass_is_refused_and_recorded(tmp_path: Path) -> None:
    async with rig(tmp_path, campus_document()) as r:
        await give_campus_state(r)
        forged = issue(Ed25519PrivateKey.generate(), KID, registrant_pass("42", "all", 0))
        async with r.session.post(r.url + "/gate/q-in/scan", data=forged) as response:
            body = await response.json()
        assert (body["verdict"], body["reason"], body["subject"]) == (
            "deny",
            "bad_signature",
            "",
        )
        lane = r.lane("q-in")
        assert lane.barrier is not None and lane.barrier.opens == 0
        (record,) = await r.store.access_records()
        assert (record.reason, record.method) == (Reason.bad_signature, Method.qr_pass)


@contextmanager
def serial_pair(tmp: Path) -> Iterator[tuple[str, str]]:
    """Two connected serial ports: a socat pty pair, or an os.openpty() pair without socat."""
    socat = shutil.which("socat")
    if socat is None:
        master, slave = os.openpty()
        try:
            yield os.ttyname(slave), os.ttyname(master)
        finally:
            os.close(master)
            os.close(slave)
        return
    edge_end, scanner_end = tmp / "edge-tty", tmp / "scanner-tty"
    process = subprocess.Popen(
        [socat, "pty,raw,echo=0,link=" + str(edge_end), "pty,raw,echo=0,link=" + str(scanner_end)],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = clock.monotonic() + 5
        while not (edge_end.exists() and scanner_end.exists()):
            if clock.monotonic() > deadline:
                raise AssertionError("socat did not create its ptys")
            clock.sleep(0.02)
        yield str(edge_end), str(scanner_end)
    finally:
        process.terminate()
        process.wait(5)


@asynccontextmanager
async def scanner_rig(tmp: Path) -> AsyncIterator[tuple[Rig, ScannerSimulator]]:
    with serial_pair(tmp) as (edge_port, scanner_port):
        async with rig(tmp, campus_document(edge_port)) as r:
            scanner = ScannerSimulator(scanner_port)
            await scanner.open()
            try:
                lane = r.app[LANES].lanes["q-in"]
                assert lane.scanner is not None
                await asyncio.wait_for(lane.scanner.online.wait(), 5)
                yield r, scanner
            finally:
                scanner.close()


async def test_a_serial_scanner_line_opens_the_barrier(tmp_path: Path) -> None:
    async with scanner_rig(tmp_path) as (r, scanner):
        await give_campus_state(r)
        lane = r.lane("q-in")
        assert lane.barrier is not None
        token = registrant_token()
        scanner.write(b"\x00garbage\xff\r\n")  # line noise is dropped, not decided
        scanner.write(token[:20].encode())
        scanner.write(token[20:].encode() + b"\r\n")
        await lane.barrier.wait_opens(1, timeout_s=3)
        scanner.scan(token)  # the scanner repeats itself: debounced
        scanner.scan(visitor_token())
        await lane.barrier.wait_opens(2, timeout_s=3)
        records = await r.store.access_records()
        assert sorted((a.reason, a.subject) for a in records) == [
            (Reason.registrant, "registrant:42"),
            (Reason.visitor, "appointment:7"),
        ]


async def test_a_staff_override_is_recorded_as_such(tmp_path: Path) -> None:
    async with rig(tmp_path, campus_document()) as r:
        lane = r.lane("q-in")
        assert lane.barrier is not None
        commands = Commands(r.store, r.app[LANES])
        now = datetime.now(UTC)
        command = Command(
            id=uuid4(),
            kind=CommandKind.open_barrier,
            site="campus",
            lane="q-in",
            issued_at=now,
            expires_at=now + timedelta(seconds=30),
        )
        await commands.handle(command)
        await lane.barrier.wait_opens(1)
        events = await r.store.pending(10, 1_000_000)
        assert [e.type for e in events] == ["access.decided", "command.result"]
        decided = events[0].payload
        assert (decided["verdict"], decided["reason"], decided["method"]) == (
            "open",
            "override",
            "override",
        )
        assert decided["rule"] == str(command.id)


@pytest.mark.parametrize("lane_code", ["q-in"])
async def test_plates_and_passes_share_the_lane(tmp_path: Path, lane_code: str) -> None:
    """A plate read and a pass at the same lane: both decided, both recorded in order."""
    async with rig(tmp_path, campus_document()) as r:
        await give_campus_state(r)
        await r.camera(lane_code).push("京A00001")
        async with r.session.post(r.url + f"/gate/{lane_code}/scan", data=registrant_token()):
            pass
        records = await r.store.access_records()
        assert [(a.method, a.verdict) for a in records] == [
            (Method.qr_pass, Verdict.open),
            (Method.plate, Verdict.deny),
        ]
