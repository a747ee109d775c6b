"""The demo tenant's car charging: a provider, a property company, one station with its default
area, two DC chargers of two connectors each and two charging cards, published to the station's
edge."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from cloud.charging.chargers import new_charger
from cloud.charging.models import (
    ChargeSpeed,
    ChargingTariff,
    ChargingTariffVersion,
    CurrentType,
    IdTag,
    IdTagKind,
    PropertyCompany,
    ReviewState,
    ServiceProvider,
    Station,
    TariffMode,
)
from cloud.charging.station_publish import publish_id_tag
from cloud.charging.stations import new_station
from cloud.charging.tariffs import publish_tariff
from cloud.org.models import Tenant
from protocols.tariffs import Period, time_of_use_charging

DEMO_CHARGERS = ("CP-DEMO-1", "CP-DEMO-2")
DEMO_CARDS = ("CARD0001", "CARD0002")


async def _demo_tariff(tenant: Tenant, station: Station) -> None:
    """The station's peak/flat/valley tariff, in force from today."""
    periods = [
        (Period.valley, time(0, 0), time(8, 0), 30, 40),
        (Period.flat, time(8, 0), time(10, 0), 70, 60),
        (Period.peak, time(10, 0), time(15, 0), 110, 80),
        (Period.flat, time(15, 0), time(18, 0), 70, 60),
        (Period.sharp, time(18, 0), time(21, 0), 130, 80),
        (Period.flat, time(21, 0), time(23, 0), 70, 60),
        (Period.valley, time(23, 0), time(0, 0), 30, 40),
    ]
    document = time_of_use_charging("演示峰平谷电价", periods, [3000, 5000, 10000])
    tariff = await ChargingTariff.create(
        tenant=tenant,
        station=station,
        name=document.name,
        mode=TariffMode.time_of_use,
        prepay_options=list(document.prepay_options_fen),
    )
    await ChargingTariffVersion.create(
        tariff=tariff,
        effective_from=datetime.now(ZoneInfo(document.zone)).date(),
        document=document.model_dump(mode="json"),
        operator="demo",
    )
    await publish_tariff(tariff)


async def populate_charging(tenant: Tenant, site_code: str) -> None:
    """The station stands on the charging-station site `site_code` when it exists (a new site of
    that code otherwise; a made-up code when empty). Safe inside the caller's transaction."""
    async with in_transaction():
        provider = await ServiceProvider.create(
            tenant=tenant,
            name="演示充电服务商",
            contact="张经理",
            phone="13900000001",
            email="ops@example.com",
            review=ReviewState.approved,
        )
        owner = await PropertyCompany.create(
            tenant=tenant,
            provider=provider,
            name="演示集团物业",
            contact="李主管",
            phone="13900000002",
            province="北京市",
            city="北京市",
            address="海淀区演示路 1 号",
        )
        station, _, area, _ = await new_station(
            tenant.id,
            owner.id,
            site_code,
            {
                "name": "演示汽车充电站",
                "contact": "王站长",
                "contact_phone": "13900000003",
                "hotline": "4008001234",
                "opening_hours": "00:00-24:00",
                "max_power_kw": 240,
                "capacity_kva": 400,
                "province": "北京市",
                "city": "北京市",
                "address": "海淀区演示路 1 号 地下一层",
            },
        )
        for number, serial in enumerate(DEMO_CHARGERS, start=1):
            await new_charger(
                tenant.id,
                area,
                "",
                None,
                {
                    "serial": serial,
                    "name": f"{number}号直流桩",
                    "model": "DC-120",
                    "connectors": 2,
                    "current_type": CurrentType.dc,
                    "speed": ChargeSpeed.fast,
                    "max_power_kw": 120,
                    "max_current_a": 250,
                    "max_voltage_v": 750,
                },
            )
        await _demo_tariff(tenant, station)
        for number, tag in enumerate(DEMO_CARDS, start=1):
            card = await IdTag.create(
                tenant=tenant, tag=tag, kind=IdTagKind.card, holder=f"演示车主{number}"
            )
            await publish_id_tag(card)
