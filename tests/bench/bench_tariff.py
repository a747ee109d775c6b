"""Parking bills per second on one core (``tariff_bills_per_s``).

Typical stays from a few minutes to a few hours (one in ten overnight), entries spread over a
month with holidays, under the three documents a city operator most often runs: first hour
then every 30 minutes with 15 free minutes and a daily cap; a day/night split with a per-night
price and classes of vehicle; and a per-visit lot. Each bill is the full itemised bill
(protocols.tariffs.bill_parking), exactly as the edge and the cloud compute it. The rate is
per CPU second of this process (time.process_time), i.e. one core's worth, so that other work
on a shared machine does not count against it; the median of the rounds is reported.
"""

from __future__ import annotations

import os
import random
import statistics
import time as clock
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocols.tariffs import (
    DayKind,
    DayNight,
    HolidayCalendar,
    PerPeriod,
    PerVisit,
    Scheme,
    TariffDocument,
    bill_parking,
    parking_tariff,
    per_visit_parking,
)

STAYS = int(os.environ.get("WAYSIDE_BENCH_TARIFF_STAYS", "20000"))
ROUNDS = int(os.environ.get("WAYSIDE_BENCH_TARIFF_ROUNDS", "5"))
SH = ZoneInfo("Asia/Shanghai")


def documents() -> list[TariffDocument]:
    street = parking_tariff(
        "路内一类",
        [
            Scheme(
                vehicle_classes=["large"],
                rule=PerPeriod(
                    first_minutes=60, first_price_fen=1000, step_minutes=30, price_fen=400
                ),
            ),
            Scheme(
                day_kinds=[DayKind.long_holiday, DayKind.short_holiday],
                rule=PerPeriod(step_minutes=60, price_fen=300),
            ),
            Scheme(
                rule=PerPeriod(
                    first_minutes=60, first_price_fen=500, step_minutes=30, price_fen=200
                )
            ),
        ],
        free_minutes=15,
        cap_per_day_fen=6000,
        new_energy_percent=50,
    )
    day_night = parking_tariff(
        "日夜分时",
        [
            Scheme(
                rule=DayNight(
                    day_start=time(8),
                    day_end=time(20),
                    day=PerPeriod(step_minutes=30, price_fen=250),
                    night=PerVisit(price_fen=1000),
                )
            )
        ],
        free_minutes=15,
        free_minutes_deducted=True,
        cap_per_stay_fen=20_000,
    )
    return [street, day_night, per_visit_parking("按次", 1000)]


def stays(count: int, seed: int = 6) -> list[tuple[datetime, datetime, str, bool]]:
    rng = random.Random(seed)
    start = datetime(2024, 9, 20, tzinfo=SH)
    out = []
    for _ in range(count):
        entered = start + timedelta(minutes=rng.randrange(30 * 24 * 60), seconds=rng.randrange(60))
        if rng.random() < 0.1:
            minutes = rng.randrange(8 * 60, 16 * 60)  # overnight
        else:
            minutes = int(rng.expovariate(1 / 90)) + 1  # a few minutes to a few hours
        exited = entered + timedelta(minutes=minutes, seconds=rng.randrange(60))
        vehicle_class = "large" if rng.random() < 0.1 else "small"
        out.append((entered, exited, vehicle_class, rng.random() < 0.2))
    return out


def run() -> dict[str, float]:
    docs = documents()
    calendar = HolidayCalendar(
        {date(2024, 10, d): DayKind.long_holiday for d in range(1, 8)}
        | {date(2024, 9, 29): DayKind.workday, date(2024, 10, 12): DayKind.workday}
    )
    work = [(docs[i % len(docs)], *stay) for i, stay in enumerate(stays(STAYS))]
    rates = []
    for _ in range(ROUNDS):
        began = clock.process_time()
        for document, entered, exited, vehicle_class, new_energy in work:
            bill_parking(document, entered, exited, vehicle_class, new_energy, calendar)
        rates.append(len(work) / (clock.process_time() - began))
    return {"tariff_bills_per_s": round(statistics.median(rates))}


if __name__ == "__main__":
    print(run())
