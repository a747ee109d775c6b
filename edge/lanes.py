"""The lanes of the site document at work: decide a plate read, record it, then drive the devices."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.drivers.barrier import Barrier
from edge.drivers.display import Display
from edge.drivers.modbus import DeviceError
from edge.engines.gate import Decision, LaneFacts, SessionAction, decide, default_policy
from edge.settings import EdgeSettings
from edge.store import Store
from protocols.camera import Heartbeat, PlateRead
from protocols.events import AccessDecided, BarrierFailed, Reason, Verdict
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
}
NO_PLATE_TEXT = "无牌车"


def display_frame(direction: Direction, plate: str, decision: Decision) -> DisplayFrame:
    if decision.verdict == Verdict.open:
        return DisplayFrame(plate or NO_PLATE_TEXT, _WELCOME[direction], "green")
    return DisplayFrame(plate or NO_PLATE_TEXT, _REFUSED.get(decision.reason, "禁止通行"), "red")


@dataclass
class Lane:
    site: SiteConfig
    gate: GateConfig
    config: LaneConfig
    facts: LaneFacts
    barrier: Barrier | None = None
    display: Display | None = None

    @property
    def code(self) -> str:
        return self.config.code


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
        self._snapshot_dir = settings.snapshot_dir
        self._background: set[asyncio.Task[None]] = set()
        self.lanes: dict[str, Lane] = {}
        self._by_camera: dict[str, Lane] = {}
        timeout = settings.modbus_timeout_s
        for site_config in site.sites:
            for gate, config in site_config.lanes():
                lane = Lane(
                    site_config,
                    gate,
                    config,
                    LaneFacts(config.code, config.direction, site_config.kind),
                )
                if config.wiring == Wiring.modbus and config.barrier is not None:
                    lane.barrier = Barrier(f"barrier {config.code}", config.barrier, timeout)
                if config.display is not None:
                    lane.display = Display(f"display {config.code}", config.display, timeout)
                self.lanes[config.code] = lane
                self._by_camera[config.camera.serial.lower()] = lane

    async def start(self) -> None:
        for lane in self.lanes.values():
            if lane.barrier is not None:
                await lane.barrier.device.connect()
            if lane.display is not None:
                lane.display.start()

    async def stop(self) -> None:
        for lane in self.lanes.values():
            if lane.barrier is not None:
                lane.barrier.device.close()
            if lane.display is not None:
                await lane.display.stop()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

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
            read_at=read.read_at,
            snapshot=snapshot,
        )
        session = "" if decision.session == SessionAction.none else decision.session.value
        recorded = await self._store.record_decision(record, session)
        opened = False
        if decision.verdict == Verdict.open and lane.barrier is not None:
            opened = await self._open_barrier(lane)
        if lane.display is not None:
            lane.display.show(display_frame(lane.config.direction, read.plate, decision))
        if snapshot and read.snapshot:
            self._spawn(self._save_snapshot(self._snapshot_dir / snapshot, read.snapshot))
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
