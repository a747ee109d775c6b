"""The lanes of the site document at work: decide a plate read, record it, then drive the devices."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.drivers.barrier import Barrier
from edge.drivers.display import Display
from edge.drivers.modbus import DeviceError
from edge.drivers.scanner import Scanner
from edge.engines.gate import Decision, LaneFacts, SessionAction, decide, default_policy
from edge.engines.passes import PassLane, decide_pass
from edge.lots import Lots
from edge.qr import FrameReader
from edge.settings import EdgeSettings
from edge.store import Store
from protocols.camera import Heartbeat, PlateRead
from protocols.events import AccessDecided, BarrierFailed, Method, Reason, Verdict
from protocols.modbus import DisplayFrame
from protocols.site import Direction, GateConfig, LaneConfig, SiteConfig, SiteDocument, Wiring

log = logging.getLogger(__name__)

# Display texts (Simplified Chinese, as lane displays in China show them).
_WELCOME = {Direction.entry: "欢迎光临", Direction.exit: "一路顺风"}
_REFUSED = {
    Reason.lane_disabled: "车道关闭",
    Reason.low_confidence: "未识别车牌",
    Reason.blacklist: "禁止通行",
    Reason.default: "禁止通行",
    Reason.no_rule: "无通行权限",
    Reason.revoked: "通行证已失效",
    Reason.expired: "通行码已过期",
    Reason.not_yet_valid: "通行码未生效",
    Reason.replayed: "通行码已使用",
    Reason.wrong_gate: "非本门通行码",
    Reason.wrong_direction: "通行方向不符",
}
NO_PLATE_TEXT = "无牌车"
PASS_TEXT = "通行码"
BAD_PASS_TEXT = "通行码无效"
# Frames and scans older than this per lane are forgotten by the debounce.
DEBOUNCE_KEEP = 256


def display_frame(direction: Direction, plate: str, decision: Decision) -> DisplayFrame:
    if decision.verdict == Verdict.open:
        return DisplayFrame(plate or NO_PLATE_TEXT, _WELCOME[direction], "green")
    return DisplayFrame(plate or NO_PLATE_TEXT, _REFUSED.get(decision.reason, "禁止通行"), "red")


def pass_display_frame(direction: Direction, name: str, decision: Decision) -> DisplayFrame:
    """A pass scan shows the holder's name when known, else that a pass was read."""
    line1 = name[:8] or PASS_TEXT
    if decision.verdict == Verdict.open:
        return DisplayFrame(line1, _WELCOME[direction], "green")
    return DisplayFrame(line1, _REFUSED.get(decision.reason, BAD_PASS_TEXT), "red")


class BadFrame(Exception):
    """A camera frame that is not a decodable image."""


@dataclass
class Lane:
    site: SiteConfig
    gate: GateConfig
    config: LaneConfig
    facts: LaneFacts
    barrier: Barrier | None = None
    display: Display | None = None
    scanner: Scanner | None = None
    reader: FrameReader | None = None  # made on the first frame (only QR-camera lanes pay for it)
    frame_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Passes seen lately at this lane (token -> monotonic time last seen), for the debounce.
    seen: dict[str, float] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.config.code

    @property
    def pass_lane(self) -> PassLane:
        return PassLane(self.config.code, self.gate.code, self.config.direction)


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    record: str
    barrier_opened: bool

    @property
    def relay_opens(self) -> bool:
        """Whether a camera-relay lane's camera should pulse its relay (the reply says so)."""
        return self.decision.verdict == Verdict.open


class Lanes:
    """Owns the lane drivers; `handle` is the whole hot path of a plate read."""

    def __init__(self, site: SiteDocument, store: Store, settings: EdgeSettings) -> None:
        self._store = store
        self._zone = settings.zone
        self._skew_s = settings.pass_skew_s
        self._snapshot_dir = settings.snapshot_dir
        self._background: set[asyncio.Task[None]] = set()
        # QR decoding is CPU work: done off the loop, in threads of its own (OpenCV releases
        # the GIL), so plate pushes and sync keep their pace while a frame is read.
        self._qr_pool: ThreadPoolExecutor | None = None
        self._qr_threads = settings.qr_threads
        self.lanes: dict[str, Lane] = {}
        self._by_camera: dict[str, Lane] = {}
        timeout = settings.modbus_timeout_s
        for site_config in site.sites:
            for gate, config in site_config.lanes():
                lane = Lane(
                    site_config,
                    gate,
                    config,
                    LaneFacts(config.code, config.direction, site_config.kind, gate.code),
                )
                if config.wiring == Wiring.modbus and config.barrier is not None:
                    lane.barrier = Barrier(f"barrier {config.code}", config.barrier, timeout)
                if config.display is not None:
                    lane.display = Display(f"display {config.code}", config.display, timeout)
                if config.scanner is not None:
                    lane.scanner = Scanner(
                        f"scanner {config.code}", config.scanner, self._scanned(lane)
                    )
                self.lanes[config.code] = lane
                self._by_camera[config.camera.serial.lower()] = lane
        # Parking lots: arrears, fees, payments, tickets, the guidance screen (edge/lots.py).
        self.lots = Lots(site, store, settings, self._open_barrier)
        self.lots.lanes = self.lanes

    async def start(self) -> None:
        await self.lots.start()
        for lane in self.lanes.values():
            if lane.barrier is not None:
                await lane.barrier.device.connect()
            if lane.display is not None:
                lane.display.start()
            if lane.scanner is not None:
                lane.scanner.start()

    async def stop(self) -> None:
        for lane in self.lanes.values():
            if lane.scanner is not None:
                await lane.scanner.stop()
            if lane.barrier is not None:
                lane.barrier.device.close()
            if lane.display is not None:
                await lane.display.stop()
        await self.lots.stop()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._qr_pool is not None:
            self._qr_pool.shutdown(wait=True, cancel_futures=True)
            self._qr_pool = None

    def find(self, push: PlateRead | Heartbeat, code: str | None = None) -> Lane | None:
        """The lane by ?lane=CODE, else by the camera's serial, MAC or IP in the site document."""
        if code:
            return self.lanes.get(code)
        for key in (push.camera_serial, getattr(push, "camera_mac", ""), push.camera_ip):
            if key and (lane := self._by_camera.get(key.lower())) is not None:
                return lane
        return None

    async def handle(self, lane: Lane, read: PlateRead) -> Outcome:
        """Decide from the caches, commit the record, and only then drive the barrier."""
        now = datetime.now(self._zone)
        book = self._store.book(lane.site.code)
        policy = book.policies.get(lane.code) or default_policy(
            lane.code, lane.site.kind, lane.config.camera.min_confidence
        )
        decision = decide(lane.facts, policy, book, read.plate, read.confidence, now)
        snapshot = ""
        if read.snapshot:
            snapshot = f"{lane.code}/{now:%Y%m%d}/{uuid.uuid4().hex}.jpg"
        step = await self.lots.step(lane, read, decision, now, snapshot)
        if step is not None:
            decision = step.decision
        record = AccessDecided(
            site=lane.site.code,
            gate=lane.gate.code,
            lane=lane.code,
            direction=lane.config.direction,
            plate=read.plate,
            plate_color=read.color.value,
            confidence=read.confidence,
            verdict=decision.verdict,
            reason=decision.reason,
            rule=decision.rule,
            subject=decision.subject,
            read_at=read.read_at,
            snapshot=snapshot,
        )
        session = "" if decision.session == SessionAction.none else decision.session.value
        extra = step.extra if step is not None else None
        recorded = await self._store.record_decision(record, session, extra)
        opened = False
        if decision.verdict == Verdict.open and lane.barrier is not None:
            opened = await self._open_barrier(lane)
        if lane.display is not None:
            frame = step.frame if step is not None else None
            lane.display.show(frame or display_frame(lane.config.direction, read.plate, decision))
        if step is not None:
            await self.lots.committed(lane, step)
        if snapshot and read.snapshot:
            self._spawn(self._save_snapshot(self._snapshot_dir / snapshot, read.snapshot))
        return Outcome(decision, recorded.record, opened)

    # --- passes: camera frames, scanner lines ---------------------------------------------------

    def _scanned(self, lane: Lane) -> Callable[[str], Awaitable[None]]:
        async def on_token(token: str) -> None:
            await self.handle_pass(lane, token)

        return on_token

    async def read_frame(self, lane: Lane, image: bytes) -> str | None:
        """The pass text in an encoded camera frame (JPEG, PNG...), or None; BadFrame when the
        bytes are no image. Frames of one lane are read one at a time, off the event loop."""
        if self._qr_pool is None:
            self._qr_pool = ThreadPoolExecutor(self._qr_threads, thread_name_prefix="qr")
        pool = self._qr_pool
        async with lane.frame_lock:
            if lane.reader is None:
                lane.reader = await asyncio.get_running_loop().run_in_executor(pool, FrameReader)
            reader = lane.reader

            def work() -> str | None:
                data = np.frombuffer(image, dtype=np.uint8)
                # Decoded straight to grayscale: the reader needs nothing else.
                gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
                if gray is None:
                    raise BadFrame("not a decodable image")
                try:
                    return reader.read(np.asarray(gray, dtype=np.uint8))
                except cv2.error as exc:  # an odd frame must not fail the lane
                    log.warning("lane %s: frame not read: %s", lane.code, exc)
                    return None

            return await asyncio.get_running_loop().run_in_executor(pool, work)

    def _debounced(self, lane: Lane, token: str, debounce_s: float) -> bool:
        """True when this lane saw the same pass within debounce_s (each sighting extends it):
        a phone held in front of the camera for thirty frames is one passage."""
        now = time.monotonic()
        last = lane.seen.get(token)
        lane.seen[token] = now
        if len(lane.seen) > DEBOUNCE_KEEP:
            for old in [t for t, at in lane.seen.items() if now - at >= debounce_s]:
                del lane.seen[old]
        return last is not None and now - last < debounce_s

    async def handle_pass(self, lane: Lane, token: str) -> Outcome | None:
        """Decide a scanned pass, commit the record (and a one-time pass's use), then open.
        None when the same pass was just decided at this lane (debounced)."""
        if self._debounced(lane, token, lane.config.qr_camera.debounce_s):
            return None
        now = datetime.now(self._zone)
        book = self._store.book(lane.site.code)
        policy = book.policies.get(lane.code)
        enabled = policy.enabled if policy is not None else True
        verdict = decide_pass(lane.pass_lane, enabled, book.campus, token, now, self._skew_s)
        record = AccessDecided(
            site=lane.site.code,
            gate=lane.gate.code,
            lane=lane.code,
            direction=lane.config.direction,
            plate="",
            confidence=0,
            verdict=verdict.verdict,
            reason=verdict.reason,
            method=Method.qr_pass,
            subject=verdict.subject,
            read_at=now.astimezone(UTC),
        )
        recorded, written = await self._store.record_pass_decision(
            record, verdict.replay_key, verdict.expires_at
        )
        decision = Decision(written.verdict, written.reason, subject=written.subject)
        opened = False
        if decision.verdict == Verdict.open and lane.barrier is not None:
            opened = await self._open_barrier(lane)
        if lane.display is not None:
            lane.display.show(pass_display_frame(lane.config.direction, verdict.name, decision))
        if decision.verdict != Verdict.open:
            log.info(
                "lane %s: pass refused (%s) %s %s",
                lane.code,
                decision.reason.value,
                verdict.subject,
                verdict.detail,
            )
        return Outcome(decision, recorded.record, opened)

    async def _open_barrier(self, lane: Lane) -> bool:
        assert lane.barrier is not None
        try:
            await lane.barrier.open()
            return True
        except DeviceError as exc:
            log.error("lane %s: barrier not opened: %s", lane.code, exc)
            failed = BarrierFailed(site=lane.site.code, lane=lane.code, error=str(exc))
            await self._store.record_event("device.barrier_failed", lane.site.code, failed)
            return False

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        # Held until done: the loop keeps only weak references to tasks.
        task = asyncio.create_task(job)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _save_snapshot(self, path: Path, data: bytes) -> None:
        def write() -> None:
            # Written aside and renamed: a reader never sees half a picture.
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(path.name + ".part")
            temp.write_bytes(data)
            temp.replace(path)

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            log.warning("snapshot %s not saved: %s", path, exc)
