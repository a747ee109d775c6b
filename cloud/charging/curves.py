"""The meter curve of a charging order as coordinates for an inline SVG (no script, no
library): energy charged (kWh since the start) and power (kW) over time, two y axes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


def _ceiling(value: float) -> float:
    """A round axis top at or above value (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def meter_curve(
    points: Sequence[tuple[datetime, int, int | None]],
    start_wh: int | None,
    zone: ZoneInfo,
    width: int = 720,
    height: int = 240,
) -> dict[str, Any] | None:
    """(at, register Wh, power W) in time order -> polylines and ticks; None without two points."""
    if len(points) < 2:
        return None
    left, right, top, bottom = 48, 48, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    base = start_wh if start_wh is not None else points[0][1]
    t0, t1 = points[0][0], points[-1][0]
    span = max(1.0, (t1 - t0).total_seconds())
    energy = [max(0, wh - base) / 1000 for _, wh, _ in points]
    power = [(w or 0) / 1000 for _, _, w in points]
    e_top = _ceiling(max(energy))
    p_top = _ceiling(max(power))

    def x(at: datetime) -> float:
        return round(left + plot_w * (at - t0).total_seconds() / span, 1)

    def y(value: float, top_value: float) -> float:
        return round(top + plot_h - plot_h * value / top_value, 1)

    energy_line = " ".join(
        f"{x(at)},{y(v, e_top)}" for (at, _, _), v in zip(points, energy, strict=True)
    )
    power_line = " ".join(
        f"{x(at)},{y(v, p_top)}" for (at, _, _), v in zip(points, power, strict=True)
    )
    ticks = [
        {
            "y": round(top + plot_h - plot_h * n / 4, 1),
            "energy": f"{e_top * n / 4:g}",
            "power": f"{p_top * n / 4:g}",
        }
        for n in range(5)
    ]
    times = [
        {
            "x": round(left + plot_w * n / 4, 1),
            "label": datetime.fromtimestamp(t0.timestamp() + span * n / 4, zone).strftime("%H:%M"),
        }
        for n in range(5)
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "base": top + plot_h,
        "energy": energy_line,
        "power": power_line,
        "ticks": ticks,
        "times": times,
    }
