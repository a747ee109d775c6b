"""One tenant's charging rows, each named with a marker: the tenant-isolation tests build tenant
B's with these and check tenant A can neither see nor touch them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from cloud.charging.models import (
    Area,
    Charger,
    ChargingOrder,
    ChargingTariff,
    ChargingTariffVersion,
    Connector,
    DeviceLink,
    IdTag,
    IdTagKind,
    OrderState,
    ParkingSpace,
    PaymentOrder,
    PaymentState,
    PropertyCompany,
    Refund,
    RefundState,
    ServiceProvider,
    StartMethod,
    Station,
    TariffMode,
)
from cloud.org.models import Tenant
from cloud.sites.models import Site
from protocols.site import SiteKind
from protocols.tariffs import Period, time_of_use_charging


async def station(t: Tenant, mark: str) -> Station:
    """The tenant's station with an area, a space, a charger with a connector and its link log,
    and a card (made once, then found)."""
    found = await Station.filter(tenant=t).first()
    if found is not None:
        return found
    provider = await ServiceProvider.create(tenant=t, name=f"{mark}provider", phone="13900000001")
    owner = await PropertyCompany.create(
        tenant=t, provider=provider, name=f"{mark}property", phone="13900000002"
    )
    site = await Site.create(
        tenant=t, code=f"{mark}station", name=f"{mark}station", kind=SiteKind.charging_station
    )
    made = await Station.create(
        tenant=t, property=owner, site=site, name=f"{mark}station", hotline="4000000000"
    )
    area = await Area.create(
        tenant=t, station=made, code=f"{mark}area", name=f"{mark}area", is_default=True
    )
    await ParkingSpace.create(tenant=t, area=area, code=f"{mark}space", name=f"{mark}space")
    charger = await Charger.create(
        tenant=t, area=area, code=f"{mark}c1", serial=f"{mark}CP-1", name=f"{mark}charger",
        connectors=1, online=True,
    )  # fmt: skip
    await Connector.create(tenant=t, charger=charger, connector=1, code=f"{mark}c1-1")
    await DeviceLink.create(
        tenant=t, charger=charger, online=True, at=datetime.now(UTC), reason=f"{mark}up",
        event_uuid=uuid.uuid4(),
    )  # fmt: skip
    await IdTag.create(tenant=t, tag="BETA0001", kind=IdTagKind.card, holder=f"{mark}holder")
    return made


async def provider_id(t: Tenant, mark: str) -> int:
    return (await PropertyCompany.get(id=(await station(t, mark)).property_id)).provider_id


async def property_id(t: Tenant, mark: str) -> int:
    return (await station(t, mark)).property_id


async def station_id(t: Tenant, mark: str) -> int:
    return (await station(t, mark)).id


async def area_id(t: Tenant, mark: str) -> int:
    return (await Area.get(station_id=await station_id(t, mark))).id


async def space_id(t: Tenant, mark: str) -> int:
    return (await ParkingSpace.get(area__station_id=await station_id(t, mark))).id


async def charger_id(t: Tenant, mark: str) -> int:
    return (await Charger.get(area__station_id=await station_id(t, mark))).id


async def connector_id(t: Tenant, mark: str) -> int:
    return (await Connector.get(charger_id=await charger_id(t, mark))).id


async def id_tag_id(t: Tenant, mark: str) -> int:
    await station(t, mark)
    return (await IdTag.get(tenant=t, tag="BETA0001")).id


async def tariff_id(t: Tenant, mark: str) -> int:
    made = await station(t, mark)
    tariff = await ChargingTariff.create(
        tenant=t, station=made, name=f"{mark}峰平谷", mode=TariffMode.time_of_use,
        prepay_options=[5000],
    )  # fmt: skip
    document = time_of_use_charging(
        tariff.name,
        [(Period.valley, time(22), time(8), 35, 40), (Period.peak, time(8), time(22), 110, 60)],
    )
    await ChargingTariffVersion.create(
        tariff=tariff, effective_from=date(2024, 1, 1), document=document.model_dump(mode="json")
    )
    return tariff.id


async def order_id(t: Tenant, mark: str) -> int:
    made = await station(t, mark)
    charger = await Charger.get(id=await charger_id(t, mark))
    taken = await ChargingOrder.filter(tenant=t).count()
    now = datetime.now(UTC)
    order = await ChargingOrder.create(
        tenant=t, uuid=uuid.uuid4(), number=f"BETA{taken:04d}", station=made, charger=charger,
        connector=1, id_tag="BETA0001", phone="13700000009", plate="京B00001",
        method=StartMethod.card, state=OrderState.completed, end_reason=f"{mark}reason",
        meter_start_wh=0, meter_stop_wh=1000, energy_wh=1000, total_fen=100, prepaid_fen=500,
        started_at=now - timedelta(hours=1), stopped_at=now,
    )  # fmt: skip
    return order.id


async def payment_id(t: Tenant, mark: str) -> int:
    order = await ChargingOrder.get(id=await order_id(t, mark))
    payment = await PaymentOrder.create(
        tenant=t, number=f"BETAP{order.id:04d}", order=order, station_id=order.station_id,
        phone="13700000009", channel="sim", amount_fen=500, state=PaymentState.paid,
        channel_ref=f"{mark}ref", paid_at=datetime.now(UTC),
    )  # fmt: skip
    return payment.id


async def refund_id(t: Tenant, mark: str) -> int:
    order = await ChargingOrder.get(id=await order_id(t, mark))
    refund = await Refund.create(
        tenant=t, number=f"BETAR{order.id:04d}", order=order, amount_fen=100,
        reason=f"{mark}reason", payee=f"{mark}payee", operator=f"{mark}admin",
        state=RefundState.done, done_at=datetime.now(UTC),
    )  # fmt: skip
    return refund.id
