"""Server-rendered SVG charts for dashboards (no script, no external library)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any


def bar_chart(
    days: Sequence[tuple[date, int, int]], width: int = 720, height: int = 220
) -> dict[str, Any]:
    """Stacked open/deny bars per day as coordinates for an inline SVG (no script, no library)."""
    left, bottom, top = 40, 24, 10
    plot_h = height - bottom - top
    peak = max([o + d for _, o, d in days] + [1])
    step = 10 ** max(0, len(str(peak)) - 1)
    ceiling = math.ceil(peak / step) * step
    slot = (width - left - 10) / max(1, len(days))
    bars = []
    for index, (day, opened, denied) in enumerate(days):
        x = left + index * slot + slot * 0.15
        h_open = plot_h * opened / ceiling
        h_deny = plot_h * denied / ceiling
        bars.append(
            {
                "x": round(x, 1),
                "w": round(slot * 0.7, 1),
                "open_y": round(top + plot_h - h_open, 1),
                "open_h": round(h_open, 1),
                "deny_y": round(top + plot_h - h_open - h_deny, 1),
                "deny_h": round(h_deny, 1),
                "label": day.strftime("%m-%d"),
                "show_label": index % 5 == 0 or index == len(days) - 1,
                "title": f"{day.isoformat()}: {opened} / {denied}",
            }
        )
    ticks = [
        {"y": round(top + plot_h - plot_h * n / 4, 1), "value": ceiling * n // 4} for n in range(5)
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "ticks": ticks,
        "left": left,
        "base": top + plot_h,
    }
