"""Parking between cloud, edges and PDAs: the state an edge or a collector's handheld holds
(sites, berths, holidays, monthly passes, arrears, special plates, collectors), the payloads
of parking commands, and the vehicle words both sides share.

The events they report (berth arrivals, payments, receipts, shifts...) are in
protocols/events.py with every other event; parking tariffs are protocols.tariffs documents
published as `Entity.tariff` under the key "parking:<id>" (protocols.charging.TariffGrant).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from functools import lru_cache

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from protocols.plates import PlateColor, PlateKind, plate_kind


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- vehicle words ----------------------------------------------------------------------------


class VehicleClass(StrEnum):
    """车型 as tariffs tell vehicles apart (大型车, 小型车, 其他)."""

    small = "small"
    large = "large"
    other = "other"


class VehicleType(StrEnum):
    """车辆类型 of a parking order (the record list's filter)."""

    temporary = "temporary"  # 临时车
    monthly = "monthly"  # 包月车
    new_energy = "new_energy"  # 新能源车
    company = "company"  # 公司车辆 (white list)
    special = "special"  # 特殊车辆 (police, military, embassy...)
    disabled = "disabled"  # 残疾人车辆


_NEW_ENERGY = (PlateKind.new_energy_small, PlateKind.new_energy_large)


def is_new_energy(plate: str) -> bool:
    return plate_kind(plate) in _NEW_ENERGY


def vehicle_class_of(plate: str, color: PlateColor | str = PlateColor.unknown) -> VehicleClass:
    """Yellow plates and large new-energy plates are large vehicles; blue, green and black
    plates small; anything unread or unusual is "other" (priced as the tariff says)."""
    kind = plate_kind(plate)
    if kind == PlateKind.new_energy_large or color in (PlateColor.yellow, PlateColor.yellow_green):
        return VehicleClass.large
    if kind is None:
        return VehicleClass.other
    return VehicleClass.small


def tariff_key(tariff_id: int) -> str:
    """The `Entity.tariff` key of a parking tariff (charging tariffs use their bare id)."""
    return f"parking:{tariff_id}"


# --- state published to edges and PDAs -----------------------------------------------------


class ParkingSiteGrant(_Wire):
    """A lot or a road section this edge serves (key: its site code)."""

    name: str
    kind: str = Field(description="protocols.site.SiteKind: parking_lot or street_section")
    tariff: str = Field(default="", description="Entity.tariff key billing it; '' = free")
    capacity: int | None = Field(default=None, ge=0)
    refuse_arrears_above_fen: int | None = Field(
        default=None, ge=0, description="entry refused when unpaid arrears exceed this; None: never"
    )
    arrears_confirm_above_fen: int = Field(
        default=20_000, ge=0, description="a PDA asks twice before collecting more than this"
    )
    hotline: str = ""


class BerthGrant(_Wire):
    """A berth and what the cloud last knew of it (key: berth code, unique per tenant)."""

    site: str = Field(description="the road section's (or lot's) site code")
    number: str = Field(description="泊位号 as painted on the road")
    sensor: str = Field(default="", description="serial of its geomagnetic sensor")
    has_lock: bool = False
    enabled: bool = True
    occupied: bool = False
    session: str = Field(default="", description="the open berth session's uuid")
    plate: str = ""
    entered_at: AwareDatetime | None = None
    prepaid_fen: int = Field(default=0, ge=0)


class HolidayGrant(_Wire):
    """A date whose day kind is not the weekday's (key: ISO date)."""

    kind: str = Field(description="protocols.tariffs.DayKind value")
    name: str = ""


class MonthlyPassGrant(_Wire):
    """A monthly pass in force (key: plate); its plates park free at its sites."""

    holder: str
    sites: list[str] = Field(default_factory=list, description="site codes; empty: every site")
    valid_from: date
    valid_until: date = Field(description="last valid local day")


class ArrearsItem(_Wire):
    order: str = Field(description="parking order uuid")
    site: str
    amount_fen: int = Field(gt=0)
    occurred_at: AwareDatetime


class ArrearsGrant(_Wire):
    """A plate's unpaid arrears across the tenant (key: plate), published to every site."""

    total_fen: int = Field(gt=0)
    items: list[ArrearsItem] = Field(min_length=1)


class SpecialPlateGrant(_Wire):
    """特殊车牌: plates of these kinds, or matching this pattern, park free (key: rule id)."""

    name: str
    plate_kinds: list[str] = Field(default_factory=list, description="PlateKind values")
    pattern: str = Field(default="", description="a regular expression over the plate")


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # the cloud refuses bad patterns; one that slips through frees nobody


def special_rule_matches(rule: SpecialPlateGrant, plate: str) -> bool:
    """Whether a (normalised) plate falls under a special-plate rule: its kind is one of the
    rule's, or the rule's pattern is found in it. Lanes, PDAs and the cloud all ask this."""
    kind = plate_kind(plate)
    if kind is not None and kind.value in rule.plate_kinds:
        return True
    compiled = _compiled(rule.pattern) if rule.pattern else None
    return compiled is not None and compiled.search(plate) is not None


def special_rule_of(plate: str, rules: Iterable[tuple[str, SpecialPlateGrant]]) -> str | None:
    """The key of the first special-plate rule covering the plate, or None."""
    for key, rule in rules:
        if special_rule_matches(rule, plate):
            return key
    return None


def monthly_pass_covers(grant: MonthlyPassGrant | None, site: str, day: date) -> bool:
    """A monthly pass in force on this local day at this site (no sites listed: every site)."""
    if grant is None or (grant.sites and site not in grant.sites):
        return False
    return grant.valid_from <= day <= grant.valid_until


class CollectorGrant(_Wire):
    """A collector who may sign in on a PDA for these sections (key: account)."""

    name: str
    password_hash: str = Field(description="scrypt$N$r$p$salt$digest as cloud.passwords writes")
    sections: list[str] = Field(default_factory=list, description="site codes")
    enabled: bool = True


# --- commands --------------------------------------------------------------------------------


class LanePaid(_Wire):
    """`lane_paid`: the fee of this lot session was paid through the cloud (a lane QR)."""

    session: str
    payment: str = Field(description="parking payment uuid")
    amount_fen: int = Field(ge=0)
    paid_at: AwareDatetime


class LaneTicket(_Wire):
    """`lane_ticket`: a vehicle without a plate scanned the lane's QR poster. At an entry lane
    the edge opens and starts a session keyed by the ticket; at an exit lane the ticket is
    presented: the edge assesses its fee (or opens when nothing is due)."""

    ticket: str = Field(pattern=r"^NP[0-9A-Z]{6,12}$")
    issued_at: AwareDatetime


class LockCommand(_Wire):
    """`lock_raise` / `lock_lower`: drive a berth's parking lock."""

    berth: str


COMMAND_PAYLOADS: dict[str, type[BaseModel]] = {
    "lane_paid": LanePaid,
    "lane_ticket": LaneTicket,
    "lock_raise": LockCommand,
    "lock_lower": LockCommand,
}
