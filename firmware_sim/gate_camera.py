"""Gate QR camera simulator: posts JPEG frames of a phone showing a pass to the edge's lane.

Frames come from :func:`firmware_sim.phone_screen.render_frame` (a 1280x720 scene with the
phone held at a plausible angle), JPEG-encoded as a real camera streams them. A passer holds
the phone up for a while, so :meth:`GateCameraSimulator.show` posts several frames of the
same pass; the edge is expected to decide once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
import cv2

from firmware_sim.phone_screen import render_frame

FRAME_PATH = "/gate/{lane}/frame"
JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class FrameResult:
    status: int
    sent_ns: int
    body: object

    @property
    def decided(self) -> bool:
        return isinstance(self.body, dict) and "verdict" in self.body

    @property
    def verdict(self) -> str:
        return str(self.body.get("verdict", "")) if isinstance(self.body, dict) else ""


def jpeg(frame: object, quality: int = JPEG_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])  # type: ignore[call-overload]
    if not ok:
        raise ValueError("frame could not be JPEG-encoded")
    return bytes(data)


def phone_frame(token: str | None, seed: int, difficulty: float = 1.0) -> bytes:
    """One JPEG frame of a phone showing ``token``'s QR code (an empty scene when None)."""
    return jpeg(render_frame(token, seed, difficulty))


class GateCameraSimulator:
    """The camera at one lane, posting frames to the edge at ``edge_url``."""

    def __init__(self, edge_url: str, lane: str, session: aiohttp.ClientSession) -> None:
        self.url = edge_url.rstrip("/") + FRAME_PATH.format(lane=lane)
        self.lane = lane
        self._session = session

    async def post(self, frame: bytes, content_type: str = "image/jpeg") -> FrameResult:
        sent_ns = time.monotonic_ns()
        async with self._session.post(
            self.url, data=frame, headers={"Content-Type": content_type}
        ) as response:
            try:
                body: object = await response.json(content_type=None)
            except ValueError:
                body = await response.text()
        return FrameResult(response.status, sent_ns, body)

    async def show(
        self, token: str, frames: int = 5, seed: int = 0, difficulty: float = 0.5
    ) -> list[FrameResult]:
        """A phone held up for `frames` frames (each a slightly different view)."""
        return [await self.post(phone_frame(token, seed + n, difficulty)) for n in range(frames)]
