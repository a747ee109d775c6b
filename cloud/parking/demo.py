"""The demo tenant's parking: a tariff and the holidays, the lot and the road section of the site
document with their berths, sensors and lock, the default special plates, a collector for the
PDA and a monthly pass, made through the same services the admin pages use (so every row is
published to the edges as an operator's change would be)."""

from __future__ import annotations

from datetime import date, time

from cloud.auth import Principal
from cloud.org.models import Tenant, User
from cloud.parking import collectors, passes, places, specials, tariffs
from cloud.parking.collector_schemas import CollectorCreate
from cloud.parking.pass_schemas import PassIssueIn, PassRuleIn
from cloud.parking.place_schemas import BerthCreate, PlaceCreate
from cloud.parking.tariff_schemas import HolidayIn, ParkingTariffIn
from protocols.site import SiteDocument, SiteKind
from protocols.tariffs import DayKind, DayNight, PerPeriod, PerVisit, Scheme

DEMO_COLLECTOR = ("c1001", "collect-demo")  # account, password (signs in on `wayside pda`)
DEMO_MONTHLY_PLATE = "粤B12345"
# The 2026 National Day week and the Mid-Autumn day off (节假日配置).
DEMO_HOLIDAYS = (
    *((date(2026, 10, day), DayKind.long_holiday, "国庆节") for day in range(1, 8)),
    (date(2026, 9, 25), DayKind.short_holiday, "中秋节"),
)


def _admin(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        account=user.account,
        name=user.name,
        is_admin=True,
        permissions=frozenset(),
        csrf_token="",
        language="zh",
    )


def demo_tariff(name: str = "路内标准收费", free_minutes: int = 15) -> ParkingTariffIn:
    """A city-centre tariff: by day the first hour 5 yuan, then 2 yuan per started half hour;
    5 yuan a night; large vehicles double; at most 40 yuan a day; new-energy vehicles pay 80 %;
    the first `free_minutes` free (the demo lot has none, so every car it lets out pays)."""

    def day_night(first_fen: int, step_fen: int, night_fen: int) -> DayNight:
        return DayNight(
            day_start=time(7, 0),
            day_end=time(21, 0),
            day=PerPeriod(
                first_minutes=60, first_price_fen=first_fen, step_minutes=30, price_fen=step_fen
            ),
            night=PerVisit(price_fen=night_fen),
        )

    return ParkingTariffIn(
        name=name,
        schemes=[
            Scheme(vehicle_classes=["large"], rule=day_night(1000, 400, 1000)),
            Scheme(rule=day_night(500, 200, 500)),
        ],
        free_minutes=free_minutes,
        cap_per_day_fen=4000,
        new_energy_percent=80,
    )


async def populate_parking(tenant: Tenant, document: SiteDocument) -> None:
    """Everything parking of the document's lots and road sections; inside the caller's
    transaction, after their Site rows exist."""
    admin = _admin(await User.get(tenant_id=tenant.id, is_admin=True))
    street_tariff = await tariffs.create_tariff(admin, demo_tariff())
    lot_tariff = await tariffs.create_tariff(admin, demo_tariff("停车场标准收费", 0))
    for day, kind, name in DEMO_HOLIDAYS:
        await tariffs.create_holiday(admin, HolidayIn(day=day, kind=kind, name=name))
    lots: list[int] = []
    sections: list[int] = []
    for config in document.sites:
        if config.kind not in (SiteKind.parking_lot, SiteKind.street_section):
            continue
        place = await places.create_place(
            admin,
            config.kind,
            PlaceCreate(
                site_code=config.code,
                name=config.name,
                region="东城区",
                street="西大街" if config.kind == SiteKind.street_section else "东大街",
                capacity=config.capacity,
                tariff_id=(
                    lot_tariff.id if config.kind == SiteKind.parking_lot else street_tariff.id
                ),
                refuse_arrears_above_fen=10_000 if config.kind == SiteKind.parking_lot else None,
                hotline="4008000000",
            ),
        )
        (lots if config.kind == SiteKind.parking_lot else sections).append(place.site_id)
        for berth in config.berths:
            await places.create_berth(
                admin,
                BerthCreate(
                    site_id=place.site_id,
                    code=berth.code,
                    number=berth.code.rsplit("-", 1)[-1],
                    sensor=berth.sensor,
                    has_lock=berth.lock is not None,
                ),
            )
    await specials.seed_special_plates(tenant)
    if sections:
        account, password = DEMO_COLLECTOR
        await collectors.create_collector(
            admin,
            CollectorCreate(
                account=account, password=password, name="王收费", phone=None, sections=sections
            ),
        )
    if lots:
        rule = await passes.create_rule(
            admin, PassRuleIn(name="月卡（全部车场）", price_fen=30_000, sites=lots + sections)
        )
        await passes.issue_pass(
            admin,
            PassIssueIn(
                holder="赵先生",
                phone="13800000088",
                plates=[DEMO_MONTHLY_PLATE],
                rule_id=rule.id,
                months=3,
            ),
        )
