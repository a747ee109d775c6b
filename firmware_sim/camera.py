"""ANPR camera simulator: pushes Vzenith AlarmInfoPlate results and drives its relay by the reply."""

from __future__ import annotations

import base64
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from firmware_sim.snapshot import SNAPSHOT_JPEG
from protocols.camera import reply_opens
from protocols.plates import LETTERS, PROVINCES, VZENITH_COLORS, PlateColor

_COLOR_CODES = {color: code for code, color in VZENITH_COLORS.items()}


@dataclass(frozen=True, slots=True)
class PushResult:
    status: int
    relay_opened: bool
    sent_ns: int
    body: object


def alarm_info_plate(
    serial: str,
    plate: str,
    color: PlateColor = PlateColor.blue,
    confidence: int = 95,
    ip: str = "127.0.0.1",
    snapshot: bytes | None = SNAPSHOT_JPEG,
    read_at: datetime | None = None,
) -> dict[str, object]:
    """The JSON body a Vzenith camera posts for one plate read."""
    moment = read_at or datetime.now(UTC)
    result: dict[str, object] = {
        "license": plate,
        "confidence": confidence,
        "colorType": _COLOR_CODES.get(color, 0),
        "type": 1,
        "direction": 0,
        "plateid": random.randint(1, 2**31),
        "isoffline": 0,
        "timeStamp": {"Timeval": {"sec": int(moment.timestamp()), "usec": moment.microsecond}},
    }
    if snapshot is not None:
        result["imageFile"] = base64.b64encode(snapshot).decode("ascii")
    return {
        "AlarmInfoPlate": {
            "channel": 0,
            "deviceName": "IVS",
            "ipaddr": ip,
            "serialno": serial,
            "result": {"PlateResult": result},
        }
    }


def random_plate(rng: random.Random) -> tuple[str, PlateColor]:
    """A plausible plate: mostly ordinary blue, some new-energy green, a few yellow."""
    province = rng.choice(PROVINCES)
    authority = rng.choice(LETTERS[:12])
    roll = rng.random()
    if roll < 0.2:
        tail = rng.choice("DF") + rng.choice(LETTERS + "0123456789")
        return province + authority + tail + f"{rng.randint(0, 9999):04d}", PlateColor.green
    body = "".join(rng.choice("0123456789" * 3 + LETTERS) for _ in range(5))
    return province + authority + body, PlateColor.yellow if roll > 0.9 else PlateColor.blue


class CameraSimulator:
    """One camera; the relay counter goes up each time a reply would have opened the barrier."""

    def __init__(
        self, serial: str, push_url: str, session: aiohttp.ClientSession, ip: str = "127.0.0.1"
    ) -> None:
        self.serial = serial
        self.push_url = push_url
        self.ip = ip
        self._session = session
        self.relay_opens = 0

    async def push(
        self,
        plate: str,
        color: PlateColor = PlateColor.blue,
        confidence: int = 95,
        snapshot: bytes | None = SNAPSHOT_JPEG,
    ) -> PushResult:
        body = json.dumps(
            alarm_info_plate(self.serial, plate, color, confidence, self.ip, snapshot),
            ensure_ascii=False,
        ).encode()
        return await self.post(body)

    async def post(self, body: bytes, content_type: str = "application/json") -> PushResult:
        """Send a raw body (tests use this for malformed pushes) and act on the reply."""
        sent_ns = time.monotonic_ns()
        async with self._session.post(
            self.push_url, data=body, headers={"Content-Type": content_type}
        ) as response:
            text = await response.text()
        try:
            reply: object = json.loads(text) if text else None
        except ValueError:
            reply = text
        opened = response.status == 200 and reply_opens(reply)
        if opened:
            self.relay_opens += 1
        return PushResult(response.status, opened, sent_ns, reply)
