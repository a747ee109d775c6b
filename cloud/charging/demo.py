"""The demo tenant's car charging: a provider, a property company, one station with its default
area, two DC chargers of two connectors each and two charging cards, published to the station's
edge."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from cloud.charging.chargers import new_charger
from cloud.charging.models import (
    ChargeSpeed,
    CurrentType,
    IdTag,
    IdTagKind,
    PropertyCompany,
    ReviewState,
    ServiceProvider,
)
from cloud.charging.station_publish import publish_id_tag
from cloud.charging.stations import new_station
from cloud.org.models import Tenant

DEMO_CHARGERS = ("CP-DEMO-1", "CP-DEMO-2")
DEMO_CARDS = ("CARD0001", "CARD0002")


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
        _, _, area, _ = await new_station(
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
        for number, tag in enumerate(DEMO_CARDS, start=1):
            card = await IdTag.create(
                tenant=tenant, tag=tag, kind=IdTagKind.card, holder=f"演示车主{number}"
            )
            await publish_id_tag(card)
