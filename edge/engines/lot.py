"""The parking-lot decisions: who may enter (arrears, monthly passes, special plates), what a
stay costs at the exit (the one tariff evaluator), and whether what was paid lets it out.

Pure functions over synced state (protocols.parking grants, protocols.charging.TariffGrant):
no I/O, no clock, so every rule is tested on its own. edge/lots.py does the I/O around them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from protocols.charging import TariffGrant
from protocols.events import Reason
from protocols.parking import (
    ArrearsGrant,
    HolidayGrant,
    MonthlyPassGrant,
    ParkingSiteGrant,
    SpecialPlateGrant,
    VehicleClass,
    is_new_energy,
    monthly_pass_covers,
    special_rule_of,
    vehicle_class_of,
)
from protocols.plates import PlateColor, plate_kind
from protocols.tariffs import (
    DayKind,
    HolidayCalendar,
    TariffDocument,
    TariffError,
    bill_parking,
    parse_tariff,
    version_in_force,
    yuan,
)

log = logging.getLogger(__name__)

# Paid before the exit: the car has this long to leave before the fee runs on (the usual rule).
GRACE = timedelta(minutes=15)


class FreeReason:
    """Why a session is free (ParkingSessionEnded.free_reason)."""

    monthly = "monthly"
    whitelist = "whitelist"
    special = "special"


def stay_text(entered_at: datetime, exited_at: datetime) -> str:
    """停车2小时15分 (days are hours too: a lane display has one short line)."""
    minutes = max(0, int((exited_at - entered_at).total_seconds()) // 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours}小时{rest}分" if hours else f"{rest}分钟"


# --- entry ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryCheck:
    """The lot's word on an entry the gate engine would open."""

    refuse: bool = False
    reason: Reason | None = None  # arrears when refused; monthly / special / whitelist when free
    free_reason: str = ""
    arrears_fen: int = 0  # unpaid arrears of the plate (a warning when not refused)


def check_entry(
    plate: str,
    site: str,
    place: ParkingSiteGrant | None,
    arrears: ArrearsGrant | None,
    monthly: MonthlyPassGrant | None,
    specials: Iterable[tuple[str, SpecialPlateGrant]],
    whitelisted: bool,
    today: date,
) -> EntryCheck:
    """Special plates and whitelisted plates enter free whatever they owe; otherwise unpaid
    arrears above the lot's threshold refuse entry (None: never refuse, only warn); a monthly
    pass of this lot in force today enters free; everyone else parks as a temporary vehicle."""
    owed = arrears.total_fen if arrears is not None else 0
    if special_rule_of(plate, specials) is not None:
        return EntryCheck(False, Reason.special, FreeReason.special, owed)
    if whitelisted:
        return EntryCheck(False, Reason.whitelist, FreeReason.whitelist, owed)
    limit = place.refuse_arrears_above_fen if place is not None else None
    if owed and limit is not None and owed > limit:
        return EntryCheck(True, Reason.arrears, "", owed)
    if monthly_pass_covers(monthly, site, today):
        return EntryCheck(False, Reason.monthly, FreeReason.monthly, owed)
    return EntryCheck(False, None, "", owed)


# --- the fee ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fee:
    total_fen: int
    bill: dict[str, Any] | None = None
    tariff: str = ""


def calendar_of(holidays: Mapping[str, HolidayGrant]) -> HolidayCalendar:
    """The holiday calendar (Entity.holiday, keyed by ISO date) as the evaluator takes it; a
    bad entry is left out (logged), never a reason to fail a lane."""
    try:
        return HolidayCalendar.from_grants(holidays)
    except TariffError as exc:
        log.warning("holiday calendar: %s; the good dates are kept", exc)
    good = {}
    for key, grant in holidays.items():
        try:
            good[date.fromisoformat(key)] = DayKind(grant.kind)
        except ValueError:
            continue
    return HolidayCalendar(good)


@dataclass(frozen=True, slots=True)
class PreparedTariff:
    """A cached TariffGrant with its versions parsed once (not per exit)."""

    key: str
    zone: ZoneInfo
    versions: tuple[tuple[date, TariffDocument], ...]

    def document(self, entered_at: datetime) -> TariffDocument:
        """The version in force when the stay began (the earliest if none was yet)."""
        chosen = version_in_force(self.versions, entered_at, self.zone)
        return chosen if chosen is not None else min(self.versions, key=lambda v: v[0])[1]


def prepare_tariff(key: str, grant: TariffGrant) -> PreparedTariff | None:
    """None (logged) when a cached version is not a parking tariff."""
    try:
        versions = tuple((v.effective_from, parse_tariff(v.document)) for v in grant.versions)
        return PreparedTariff(key, ZoneInfo(grant.zone), versions)
    except (TariffError, ValueError) as exc:
        log.error("tariff %s is not usable: %s", key, exc)
        return None


def bill_stay(
    document: TariffDocument,
    tariff: str,
    entered_at: datetime,
    exited_at: datetime,
    plate: str,
    color: PlateColor | str,
    calendar: HolidayCalendar | None,
) -> Fee:
    """THE one call of the shared evaluator at a lot: the vehicle class and new-energy flag
    come from the plate (a ticket or unread plate bills as a small car)."""
    vehicle = vehicle_class_of(plate, color)
    if vehicle == VehicleClass.other and plate_kind(plate) is None:
        vehicle = VehicleClass.small
    bill = bill_parking(
        document,
        entered_at,
        max(exited_at, entered_at),
        vehicle_class=vehicle.value,
        new_energy=is_new_energy(plate),
        calendar=calendar,
    )
    return Fee(bill.total_fen, bill.as_dict(), tariff)


def parking_fee(
    place: ParkingSiteGrant | None,
    tariffs: Mapping[str, PreparedTariff],
    calendar: HolidayCalendar | None,
    entered_at: datetime,
    exited_at: datetime,
    plate: str,
    color: PlateColor | str = PlateColor.unknown,
) -> Fee:
    """The fee of a stay by the lot's cached tariff; 0 for a lot without one (free parking).
    A tariff named but not (or badly) cached bills 0 and says so in the log: a car is never
    held at the barrier by a fault of the cache."""
    if place is None or not place.tariff:
        return Fee(0)
    prepared = tariffs.get(place.tariff)
    if prepared is None:
        log.warning("tariff %s is not cached: the stay of %s is billed 0", place.tariff, plate)
        return Fee(0, None, place.tariff)
    try:
        document = prepared.document(entered_at)
        return bill_stay(document, place.tariff, entered_at, exited_at, plate, color, calendar)
    except TariffError as exc:
        log.error("tariff %s cannot bill %s: %s; billed 0", place.tariff, plate, exc)
        return Fee(0, None, place.tariff)


# --- the exit ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExitCharge:
    """What the exit comes to: the fee recorded, what was paid, and what is still owed (0: the
    barrier opens)."""

    due_fen: int
    paid_fen: int
    owed_fen: int
    bill: dict[str, Any] | None = None
    tariff: str = ""

    @property
    def opens(self) -> bool:
        return self.owed_fen == 0


def settle(
    fee_now: Fee,
    paid_fen: int,
    paid_at: datetime | None,
    fee_when_paid: Fee | None,
    now: datetime,
) -> ExitCharge:
    """Paid enough for the fee now: out. Paid the fee as it stood at the last payment and
    leaving within GRACE of it: out, charged that fee. Otherwise the rest is owed."""
    if paid_fen >= fee_now.total_fen:
        return ExitCharge(fee_now.total_fen, paid_fen, 0, fee_now.bill, fee_now.tariff)
    if (
        fee_when_paid is not None
        and paid_at is not None
        and now - paid_at <= GRACE
        and paid_fen >= fee_when_paid.total_fen
    ):
        return ExitCharge(
            fee_when_paid.total_fen, paid_fen, 0, fee_when_paid.bill, fee_when_paid.tariff
        )
    owed = fee_now.total_fen - paid_fen
    return ExitCharge(fee_now.total_fen, paid_fen, owed, fee_now.bill, fee_now.tariff)


# --- what the lane display says ---------------------------------------------------------------


def arrears_refusal_text(owed_fen: int) -> str:
    return f"欠费{yuan(owed_fen)}元 请补缴"


def arrears_warning_text(owed_fen: int) -> str:
    return f"欠费{yuan(owed_fen)}元 请及时补缴"


def fee_text(entered_at: datetime, exited_at: datetime, owed_fen: int) -> str:
    """停车2小时15分 请缴费12.00元"""
    return f"停车{stay_text(entered_at, exited_at)} 请缴费{yuan(owed_fen)}元"


def paid_text(paid_fen: int) -> str:
    return f"已缴费{yuan(paid_fen)}元 一路顺风" if paid_fen else "一路顺风"


FREE_TEXT = {
    FreeReason.monthly: "月卡车 欢迎光临",
    FreeReason.whitelist: "欢迎光临",
    FreeReason.special: "特殊车辆 免费",
}
TICKET_ENTRY_TEXT = "请扫码取票"
TICKET_EXIT_TEXT = "请扫码缴费"
