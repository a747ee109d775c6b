"""The charging operator's home page figures (3.1, car charging): stations, areas, chargers and
connectors, orders, cards and members, the last 7 days' orders and the last 5 days' energy."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.functions import Count

from cloud.auth import Principal
from cloud.charging.models import (
    Area,
    Charger,
    ChargingOrder,
    Connector,
    IdTag,
    IdTagKind,
    Refund,
    Station,
)
from cloud.charging.station_schemas import ChargingHome, DayFigure
from cloud.org.service import scoped

ORDER_DAYS = 7
ENERGY_DAYS = 5
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=count - 1 - n) for n in range(count)]


def _per_day(
    moments: list[datetime | None], zone: ZoneInfo, weights: list[int] | None = None
) -> Counter[date]:
    counts: Counter[date] = Counter()
    for index, moment in enumerate(moments):
        if moment is not None:
            counts[moment.astimezone(zone).date()] += weights[index] if weights else 1
    return counts


async def charging_home(
    principal: Principal, zone: ZoneInfo = DEFAULT_ZONE, now: datetime | None = None
) -> ChargingHome:
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    order_days = _days(today, ORDER_DAYS)
    energy_days = _days(today, ENERGY_DAYS)
    chargers = scoped(Charger, principal)
    by_status = (
        await scoped(Connector, principal)
        .annotate(n=Count("id"))
        .group_by("status")
        .values_list("status", "n")
    )
    orders = scoped(ChargingOrder, principal)
    # The week's orders and refunds, counted per local day (a week of one tenant's orders).
    since = midnight(order_days[0], zone)
    made: list[Any] = await orders.filter(created_at__gte=since).values_list(
        "created_at", flat=True
    )
    refunds: list[Any] = (
        await scoped(Refund, principal)
        .filter(created_at__gte=since)
        .values_list("created_at", flat=True)
    )
    order_counts = _per_day(list(made), zone)
    refund_counts = _per_day(list(refunds), zone)
    # Energy by the local day the order ended (stopped_at, else made), in kWh.
    energy_since = midnight(energy_days[0], zone)
    ended = (
        await orders.filter(energy_wh__gt=0)
        .filter(
            Q(stopped_at__gte=energy_since)
            | (Q(stopped_at__isnull=True) & Q(created_at__gte=energy_since))
        )
        .values_list("stopped_at", "created_at", "energy_wh")
    )
    moments = [stopped or created for stopped, created, _ in ended]
    energy = _per_day(moments, zone, [int(wh) for _, _, wh in ended])
    return ChargingHome(
        stations=await scoped(Station, principal).count(),
        areas=await scoped(Area, principal).count(),
        chargers=await chargers.count(),
        chargers_online=await chargers.filter(online=True).count(),
        connectors=sum(int(n) for _, n in by_status),
        connectors_by_status={str(status): int(n) for status, n in sorted(by_status)},
        orders=await orders.count(),
        orders_today=order_counts[today],
        cards=await scoped(IdTag, principal).filter(kind=IdTagKind.card).count(),
        members=await scoped(IdTag, principal).filter(kind=IdTagKind.app).count(),
        orders_7d=[
            DayFigure(day=day, value=order_counts[day], second=refund_counts[day])
            for day in order_days
        ],
        energy_5d=[DayFigure(day=day, value=round(energy[day] / 1000)) for day in energy_days],
    )
