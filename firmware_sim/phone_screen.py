"""A gate camera's view of a phone showing a pass QR: 1280x720 BGR frames, seeded and repeatable.

The phone (dark body, lit screen with a header bar, the QR and some text-like lines) is drawn
flat, then warped into the frame at a plausible hold: tilted, rotated, nearer or farther, over
a busy background (gradients, boxes, lines, texture). The frame then gets the camera's faults:
defocus blur, sensor noise, and a brightness/contrast shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import segno
from numpy.typing import NDArray

FRAME_W = 1280
FRAME_H = 720
Frame = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Hold:
    """How hard the frame is: 0 is a phone held square and close, 1 the worst we accept."""

    difficulty: float = 1.0


def qr_modules(text: str, border: int = 4) -> NDArray[np.uint8]:
    """The QR code of ``text`` (error correction M) as a 0/1 matrix, 1 dark, with a quiet zone."""
    code = segno.make(text, error="m", micro=False)
    rows = [list(row) for row in code.matrix_iter(scale=1, border=border)]
    return np.array(rows, dtype=np.uint8)


def _phone_image(
    text: str, rng: np.random.Generator
) -> tuple[Frame, NDArray[np.float32], NDArray[np.float32]]:
    """The phone drawn flat (BGR), its four outer corners and the QR code's four corners."""
    modules = qr_modules(text, border=4)
    module_px = int(rng.integers(7, 11))
    qr = np.kron(1 - modules, np.ones((module_px, module_px), dtype=np.uint8)) * 255
    qr_side = qr.shape[0]
    screen_w = qr_side + 2 * int(rng.integers(10, 40))
    screen_h = int(screen_w * rng.uniform(1.9, 2.1))
    bezel = int(rng.integers(14, 30))
    phone = np.zeros((screen_h + 2 * bezel, screen_w + 2 * bezel, 3), dtype=np.uint8)
    body = rng.integers(10, 60, size=3)
    cv2.rectangle(phone, (0, 0), (phone.shape[1], phone.shape[0]), body.tolist(), -1)
    screen = np.full((screen_h, screen_w, 3), int(rng.integers(225, 256)), dtype=np.uint8)
    header = int(screen_h * 0.12)
    accent = [int(v) for v in rng.integers(40, 200, size=3)]
    cv2.rectangle(screen, (0, 0), (screen_w, header), accent, -1)
    for i in range(3):  # text-like lines under the header and under the code
        y = header + 20 + i * 18
        cv2.rectangle(
            screen, (20, y), (int(screen_w * rng.uniform(0.4, 0.9)), y + 8), (90,) * 3, -1
        )
    top = header + 80
    left = (screen_w - qr_side) // 2
    screen[top : top + qr_side, left : left + qr_side] = qr[:, :, None]
    for i in range(2):
        y = top + qr_side + 20 + i * 18
        if y + 8 < screen_h:
            cv2.rectangle(screen, (30, y), (screen_w - 30, y + 8), (120,) * 3, -1)
    phone[bezel : bezel + screen_h, bezel : bezel + screen_w] = screen
    h, w = phone.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    x0, y0 = bezel + left, bezel + top
    x1, y1 = x0 + qr_side, y0 + qr_side
    qr_corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
    return phone, corners, qr_corners


def _background(rng: np.random.Generator) -> Frame:
    """A busy scene: gradient, boxes, lines, circles and texture."""
    xs = np.linspace(0, 1, FRAME_W, dtype=np.float32)[None, :]
    ys = np.linspace(0, 1, FRAME_H, dtype=np.float32)[:, None]
    base = rng.uniform(40, 160, size=3)
    slope = rng.uniform(-60, 60, size=(2, 3))
    frame = np.empty((FRAME_H, FRAME_W, 3), dtype=np.float32)
    for c in range(3):
        frame[:, :, c] = base[c] + slope[0, c] * xs + slope[1, c] * ys
    img = np.clip(frame, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(25, 45))):
        x, y = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
        w, h = int(rng.integers(20, 300)), int(rng.integers(20, 200))
        color = [int(v) for v in rng.integers(0, 256, size=3)]
        cv2.rectangle(img, (x, y), (x + w, y + h), color, -1 if rng.random() < 0.6 else 3)
    for _ in range(int(rng.integers(15, 30))):
        p1 = (int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H)))
        p2 = (int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H)))
        color = [int(v) for v in rng.integers(0, 256, size=3)]
        cv2.line(img, p1, p2, color, int(rng.integers(1, 6)))
    for _ in range(int(rng.integers(5, 15))):
        center = (int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H)))
        color = [int(v) for v in rng.integers(0, 256, size=3)]
        cv2.circle(img, center, int(rng.integers(5, 80)), color, -1)
    coarse = rng.normal(0, 12, size=(FRAME_H // 8, FRAME_W // 8)).astype(np.float32)
    texture = cv2.resize(coarse, (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC)
    out = img.astype(np.float32) + texture[:, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def _transform(
    corners: NDArray[np.float32],
    qr_corners: NDArray[np.float32],
    rng: np.random.Generator,
    difficulty: float,
) -> NDArray[np.float64]:
    """The perspective matrix from the flat phone to the frame: scaled so the code spans a
    plausible size, rotated, tilted, and placed so the code is whole inside the frame."""
    qr_side = float(qr_corners[1, 0] - qr_corners[0, 0])
    target = rng.uniform(260, 400) if difficulty <= 0 else rng.uniform(200, 400)
    scale = target / qr_side
    center = qr_corners.mean(axis=0)
    pts = (corners - center) * scale
    half = float(np.abs(pts).max())
    angle = np.deg2rad(rng.uniform(-30, 30) * difficulty)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pts = pts @ rot.T
    # Perspective: one side of the phone nearer the lens than the other.
    tilt_x = rng.uniform(-0.35, 0.35) * difficulty
    tilt_y = rng.uniform(-0.35, 0.35) * difficulty
    factor = 1.0 + (tilt_x * pts[:, 0] + tilt_y * pts[:, 1]) / half
    pts = pts * factor[:, None]
    src = corners.astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, pts.astype(np.float32))
    qr_in_frame = cv2.perspectiveTransform(qr_corners[None, :, :], matrix)[0]
    low, high = qr_in_frame.min(axis=0), qr_in_frame.max(axis=0)
    margin = 30.0
    x = rng.uniform(margin - low[0], max(margin - low[0], FRAME_W - margin - high[0]))
    y = rng.uniform(margin - low[1], max(margin - low[1], FRAME_H - margin - high[1]))
    shift = np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])
    return np.asarray(shift @ matrix, dtype=np.float64)


def render_frame(text: str | None, seed: int, difficulty: float = 1.0) -> Frame:
    """A 1280x720 BGR frame with a phone showing the QR of ``text`` (no phone when None).

    ``difficulty`` in [0, 1] scales tilt, rotation, blur, noise and lighting changes; 0 gives
    an easy frame (phone square to the camera, sharp, evenly lit).
    """
    rng = np.random.default_rng(seed)
    frame = _background(rng)
    if text is not None:
        phone, corners, qr_corners = _phone_image(text, rng)
        matrix = _transform(corners, qr_corners, rng, difficulty)
        warped = cv2.warpPerspective(phone, matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(
            np.full(phone.shape[:2], 255, dtype=np.uint8), matrix, (FRAME_W, FRAME_H)
        )
        frame[mask > 127] = warped[mask > 127]
        if difficulty > 0 and rng.random() < 0.5:  # a soft glare across the screen
            glare = np.zeros((FRAME_H, FRAME_W), dtype=np.float32)
            center = cv2.perspectiveTransform(qr_corners[None, :, :], matrix)[0].mean(axis=0)
            cv2.circle(glare, (int(center[0]), int(center[1])), int(rng.integers(40, 120)), 1.0, -1)
            glare = cv2.GaussianBlur(glare, (0, 0), 40) * rng.uniform(20, 50) * difficulty
            frame = np.clip(frame.astype(np.float32) + glare[:, :, None], 0, 255).astype(np.uint8)
    sigma = rng.uniform(0.3, 1.6) * difficulty
    if sigma > 0.2:
        frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), sigma), dtype=np.uint8)
    contrast = 1.0 + rng.uniform(-0.35, 0.2) * difficulty
    brightness = rng.uniform(-40, 40) * difficulty
    noise = rng.normal(0, 1.0 + 7.0 * difficulty, size=frame.shape).astype(np.float32)
    out = (frame.astype(np.float32) - 128.0) * contrast + 128.0 + brightness + noise
    return np.clip(out, 0, 255).astype(np.uint8)
