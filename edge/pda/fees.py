"""What a stay in a berth costs, from the PDA's synced state: the section's tariff (every version,
the one in force at entry), the holiday calendar, monthly passes and special plates.

The one place the PDA calls the shared evaluator (protocols.tariffs bill_parking): the edge
that charges offline and the cloud that reconciles compute the same bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.store import Store
from protocols.charging import TariffGrant
from protocols.parking import (
    MonthlyPassGrant,
    ParkingSiteGrant,
    SpecialPlateGrant,
    is_new_energy,
    monthly_pass_covers,
    special_rule_of,
    vehicle_class_of,
)
from protocols.sync import Entity
from protocols.tariffs import (
    HolidayCalendar,
    TariffError,
    bill_parking,
    parse_tariff,
    version_in_force,
)


class FeeUnavailable(Exception):
    """No fee can be computed (no tariff synced yet, or a tariff the evaluator refuses)."""


@dataclass(frozen=True, slots=True)
class Fee:
    due_fen: int
    bill: dict[str, Any] | None  # the itemised bill (ParkingBill.as_dict()), None when free
    tariff: str  # the Entity.tariff key used, "" when free or unpriced
    free_reason: str = ""  # monthly, special... when the stay is free


def site_grant(store: Store, site: str) -> ParkingSiteGrant | None:
    grant = store.entities(site, Entity.parking_site).get(site)
    return grant if isinstance(grant, ParkingSiteGrant) else None


def free_reason(store: Store, site: str, plate: str, at: datetime, zone: ZoneInfo) -> str:
    """Why this plate parks free here (a monthly pass in force, a special plate), or ""."""
    if not plate:
        return ""
    monthly = store.entities(site, Entity.monthly_pass).get(plate)
    day = at.astimezone(zone).date()
    if isinstance(monthly, MonthlyPassGrant) and monthly_pass_covers(monthly, site, day):
        return "monthly"
    rules = store.entities(site, Entity.special_plate).items()
    specials = [(key, rule) for key, rule in rules if isinstance(rule, SpecialPlateGrant)]
    if special_rule_of(plate, specials) is not None:
        return "special"
    return ""


def assess(
    store: Store,
    site: str,
    plate: str,
    entered_at: datetime,
    exited_at: datetime,
    zone: ZoneInfo,
    vehicle_class: str = "",
) -> Fee:
    """The fee of a stay at `site` from entered_at to exited_at; FeeUnavailable when the PDA
    cannot price it (nothing synced yet)."""
    reason = free_reason(store, site, plate, entered_at, zone)
    if reason:
        return Fee(0, None, "", reason)
    place = site_grant(store, site)
    if place is None:
        raise FeeUnavailable(
            f"路段 {site} 的收费信息尚未同步 (no parking state for section {site!r} yet)"
        )
    if not place.tariff:
        return Fee(0, None, "", "no_tariff")
    grant = store.entities(site, Entity.tariff).get(place.tariff)
    if not isinstance(grant, TariffGrant):
        raise FeeUnavailable(
            f"收费规则 {place.tariff} 尚未同步 (tariff {place.tariff!r} is not synced yet)"
        )
    try:
        versions = [(v.effective_from, parse_tariff(v.document)) for v in grant.versions]
        document = version_in_force(versions, entered_at, ZoneInfo(grant.zone))
        if document is None:
            raise FeeUnavailable(
                f"入场时没有生效的收费规则 (no version of {place.tariff!r} was in force at entry)"
            )
        calendar = HolidayCalendar.from_grants(store.entities(site, Entity.holiday))
        bill = bill_parking(
            document,
            entered_at,
            max(exited_at, entered_at),
            vehicle_class=vehicle_class or vehicle_class_of(plate).value,
            new_energy=bool(plate) and is_new_energy(plate),
            calendar=calendar,
        )
    except TariffError as exc:
        raise FeeUnavailable(f"计费失败 (the tariff cannot bill this stay): {exc}") from None
    return Fee(bill.total_fen, bill.as_dict(), place.tariff)
