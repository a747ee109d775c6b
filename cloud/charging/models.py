"""Tortoise models of the charging domain (requirements 003: 3.2 car stations, 3.4 orders,
3.6.6 the device online/offline log, 3.7 providers and properties).

Money is integer fen, energy integer Wh, never float.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from cloud.org.models import TenantOwned
from cloud.sites.models import Edge, Site


class ReviewState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class OperationKind(StrEnum):
    """运营性质."""

    public = "public"
    private = "private"
    dedicated = "dedicated"  # 专用 (a fleet's own)


class CurrentType(StrEnum):
    dc = "dc"
    ac = "ac"


class ChargeSpeed(StrEnum):
    fast = "fast"
    slow = "slow"


class LockKind(StrEnum):
    """车位锁类型."""

    none = "none"
    ground_lock = "ground_lock"
    camera_lock = "camera_lock"


class TariffMode(StrEnum):
    uniform = "uniform"  # 统一计价
    time_of_use = "time_of_use"  # 峰平谷计价


class OrderState(StrEnum):
    """3.4.1: starting -> charging -> stopping -> completed. abnormal when the start failed,
    suspended while the charger's link has been silent longer than the timeout."""

    starting = "starting"
    charging = "charging"
    stopping = "stopping"
    completed = "completed"
    abnormal = "abnormal"
    suspended = "suspended"


class StartMethod(StrEnum):
    app = "app"  # a driver's phone, through a remote start
    card = "card"  # a card presented at the charger
    admin = "admin"  # an operator's remote start from the admin UI
    offline = "offline"  # started at the charger while the edge could not say who (local list)


class PaymentState(StrEnum):
    created = "created"
    paid = "paid"
    failed = "failed"
    closed = "closed"


class RefundState(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class IdTagKind(StrEnum):
    card = "card"  # a physical charging card (电卡)
    app = "app"  # a member's app identity (会员)


class ServiceProvider(TenantOwned):
    """服务商: the organisation with the customers and merchant accounts."""

    name = fields.CharField(max_length=64)
    contact = fields.CharField(max_length=32, default="")
    phone = fields.CharField(max_length=20)
    email = fields.CharField(max_length=128, default="")
    review = fields.CharEnumField(ReviewState, max_length=16, default=ReviewState.pending)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "charging_provider"
        unique_together = (("tenant", "phone"),)


class PropertyCompany(TenantOwned):
    """集团物业: owns the stations' premises (a station belongs to a property)."""

    provider: fields.ForeignKeyRelation[ServiceProvider] = fields.ForeignKeyField(
        "wayside.ServiceProvider", related_name=False, on_delete=fields.CASCADE
    )
    provider_id: int
    name = fields.CharField(max_length=64)
    contact = fields.CharField(max_length=32, default="")
    phone = fields.CharField(max_length=20)
    email = fields.CharField(max_length=128, default="")
    province = fields.CharField(max_length=32, default="")
    city = fields.CharField(max_length=32, default="")
    address = fields.CharField(max_length=255, default="")
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "charging_property"
        unique_together = (("tenant", "phone"),)


class Station(TenantOwned):
    """汽车电站 (3.2.1): a car charging station, one Site of kind charging_station."""

    property: fields.ForeignKeyRelation[PropertyCompany] = fields.ForeignKeyField(
        "wayside.PropertyCompany", related_name=False, on_delete=fields.CASCADE
    )
    property_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    name = fields.CharField(max_length=64)
    operation = fields.CharEnumField(OperationKind, max_length=16, default=OperationKind.public)
    contact = fields.CharField(max_length=32, default="")
    contact_phone = fields.CharField(max_length=20, default="")
    description = fields.TextField(default="")
    hotline = fields.CharField(max_length=32, default="")
    opening_hours = fields.CharField(max_length=64, default="00:00-24:00")
    max_power_kw = fields.IntField(default=0)
    capacity_kva = fields.IntField(default=0)
    province = fields.CharField(max_length=32, default="")
    city = fields.CharField(max_length=32, default="")
    address = fields.CharField(max_length=255, default="")
    review = fields.CharEnumField(ReviewState, max_length=16, default=ReviewState.approved)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "charging_station"


class Area(TenantOwned):
    """区域 (3.2.2): part of a station (every station gets a default one)."""

    station: fields.ForeignKeyRelation[Station] = fields.ForeignKeyField(
        "wayside.Station", related_name=False, on_delete=fields.CASCADE
    )
    station_id: int
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64)
    phone = fields.CharField(max_length=20, default="")
    power_kw = fields.IntField(default=0)
    is_default = fields.BooleanField(default=False)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "charging_area"
        unique_together = (("tenant", "code"),)


class ParkingSpace(TenantOwned):
    """车位 (3.2.3)."""

    area: fields.ForeignKeyRelation[Area] = fields.ForeignKeyField(
        "wayside.Area", related_name=False, on_delete=fields.CASCADE
    )
    area_id: int
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64)
    lock_kind = fields.CharEnumField(LockKind, max_length=16, default=LockKind.none)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "charging_space"
        unique_together = (("tenant", "code"),)


class Charger(TenantOwned):
    """电桩 (3.2.5): a charge point whose `serial` (出厂标识) is its OCPP charge point id."""

    area: fields.ForeignKeyRelation[Area] = fields.ForeignKeyField(
        "wayside.Area", related_name=False, on_delete=fields.CASCADE
    )
    area_id: int
    code = fields.CharField(max_length=32, description="电桩编号")
    serial = fields.CharField(max_length=48, unique=True, description="OCPP charge point id")
    name = fields.CharField(max_length=64)
    model = fields.CharField(max_length=64, default="")
    version = fields.CharField(max_length=32, default="")
    connectors = fields.IntField(default=1)
    sim = fields.CharField(max_length=32, default="")
    operation = fields.CharEnumField(OperationKind, max_length=16, default=OperationKind.public)
    occupancy_fee = fields.BooleanField(default=False)
    reservable = fields.BooleanField(default=False)
    max_current_a = fields.IntField(default=0)
    max_power_kw = fields.IntField(default=0)
    max_voltage_v = fields.IntField(default=0)
    current_type = fields.CharEnumField(CurrentType, max_length=4, default=CurrentType.dc)
    speed = fields.CharEnumField(ChargeSpeed, max_length=8, default=ChargeSpeed.fast)
    installation = fields.CharField(max_length=32, default="")
    protection = fields.CharField(max_length=16, default="", description="IP rating")
    link = fields.CharField(max_length=16, default="", description="4G, ethernet...")
    # OCPP security profile 1: HTTP Basic auth; only a hash of the password is kept.
    password_hash = fields.CharField(max_length=255, default="")
    heartbeat_s = fields.IntField(default=60)
    lenient = fields.BooleanField(default=False, description="normalise known firmware deviations")
    enabled = fields.BooleanField(default=True)
    online = fields.BooleanField(default=False)
    last_seen_at = fields.DatetimeField(null=True)
    vendor = fields.CharField(max_length=64, default="", description="from BootNotification")
    firmware = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "charging_charger"
        unique_together = (("tenant", "code"),)


class Connector(TenantOwned):
    """充电枪 (3.2.6), a gun: one connector of a charger (OCPP connectorId 1..n)."""

    charger: fields.ForeignKeyRelation[Charger] = fields.ForeignKeyField(
        "wayside.Charger", related_name=False, on_delete=fields.CASCADE
    )
    charger_id: int
    connector = fields.IntField()
    code = fields.CharField(max_length=48)
    status = fields.CharField(max_length=24, default="Unavailable", description="OCPP status")
    error_code = fields.CharField(max_length=32, default="NoError")
    status_at = fields.DatetimeField(null=True)
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "charging_connector"
        unique_together = (("charger", "connector"),)


class ChargingTariff(TenantOwned):
    """计费规则 (3.2.7) of a station area. Its versions hold the protocols.tariffs document:
    each edit makes a new version that takes effect at the next local midnight."""

    station: fields.ForeignKeyRelation[Station] = fields.ForeignKeyField(
        "wayside.Station", related_name=False, on_delete=fields.CASCADE
    )
    station_id: int
    area: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "wayside.Area", related_name=False, null=True, on_delete=fields.CASCADE
    )
    area_id: int | None
    name = fields.CharField(max_length=64)
    mode = fields.CharEnumField(TariffMode, max_length=16)
    prepay_options: fields.JSONField[list[int]] = fields.JSONField(default=list)  # fen, <= 12
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "charging_tariff"


class ChargingTariffVersion(Model):
    id = fields.IntField(primary_key=True)
    tariff: fields.ForeignKeyRelation[ChargingTariff] = fields.ForeignKeyField(
        "wayside.ChargingTariff", related_name=False, on_delete=fields.CASCADE
    )
    tariff_id: int
    effective_from = fields.DateField(description="local date from whose midnight it applies")
    document: fields.JSONField[dict[str, Any]] = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)
    operator = fields.CharField(max_length=64, default="")

    class Meta:
        table = "charging_tariff_version"
        unique_together = (("tariff", "effective_from"),)


class IdTag(TenantOwned):
    """A card or an app member that may start charging (pushed to chargers' local lists)."""

    tag = fields.CharField(max_length=20, description="OCPP idTag (CiString20)")
    kind = fields.CharEnumField(IdTagKind, max_length=8)
    holder = fields.CharField(max_length=64, default="")
    phone = fields.CharField(max_length=20, default="")
    balance_fen = fields.BigIntField(default=0)
    expires_at = fields.DatetimeField(null=True)
    blocked = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "charging_id_tag"
        unique_together = (("tenant", "tag"),)


class ChargingOrder(TenantOwned):
    """汽车订单 (3.4.1). `uuid` is made where the order starts (the cloud for remote starts,
    the edge for a card at the charger), so an order started offline is the same order later."""

    uuid = fields.UUIDField(unique=True)
    number = fields.CharField(max_length=32, unique=True, description="订单编号")
    station: fields.ForeignKeyRelation[Station] = fields.ForeignKeyField(
        "wayside.Station", related_name=False, on_delete=fields.CASCADE
    )
    station_id: int
    charger: fields.ForeignKeyRelation[Charger] = fields.ForeignKeyField(
        "wayside.Charger", related_name=False, on_delete=fields.CASCADE
    )
    charger_id: int
    connector = fields.IntField()
    edge: fields.ForeignKeyNullableRelation[Edge] = fields.ForeignKeyField(
        "wayside.Edge", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    edge_id: int | None
    transaction_id = fields.BigIntField(null=True, description="issued by the edge")
    id_tag = fields.CharField(max_length=20, default="")
    phone = fields.CharField(max_length=20, default="")
    plate = fields.CharField(max_length=16, default="")
    method = fields.CharEnumField(StartMethod, max_length=8)
    state = fields.CharEnumField(OrderState, max_length=16)
    end_reason = fields.CharField(max_length=64, default="")
    flags: fields.JSONField[list[str]] = fields.JSONField(default=list)
    meter_start_wh = fields.BigIntField(null=True)
    meter_last_wh = fields.BigIntField(null=True)
    meter_stop_wh = fields.BigIntField(null=True)
    energy_wh = fields.BigIntField(default=0)
    power_w = fields.IntField(default=0, description="latest reported power")
    tariff: fields.ForeignKeyNullableRelation[ChargingTariff] = fields.ForeignKeyField(
        "wayside.ChargingTariff", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    tariff_id: int | None
    tariff_document: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    bill: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    electricity_fen = fields.BigIntField(default=0)
    service_fen = fields.BigIntField(default=0)
    total_fen = fields.BigIntField(default=0)
    prepaid_fen = fields.BigIntField(default=0)
    refunded_fen = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    last_meter_at = fields.DatetimeField(null=True)
    stopped_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "charging_order"
        indexes = (
            Index(fields=("tenant_id", "created_at"), name="charging_order_tenant_time"),
            Index(fields=("charger_id", "connector", "state"), name="charging_order_connector"),
        )


class MeterSample(Model):
    """One reported meter reading of an order (the meter curve)."""

    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[ChargingOrder] = fields.ForeignKeyField(
        "wayside.ChargingOrder", related_name=False, on_delete=fields.CASCADE
    )
    order_id: int
    at = fields.DatetimeField()
    energy_wh = fields.BigIntField(description="register reading, Wh")
    power_w = fields.IntField(null=True)
    current_a = fields.FloatField(null=True)
    voltage_v = fields.FloatField(null=True)
    soc = fields.IntField(null=True)

    class Meta:
        table = "charging_meter_sample"
        unique_together = (("order", "at"),)


class PaymentOrder(TenantOwned):
    """支付订单 (3.4.3): a driver's prepayment through a payment channel."""

    number = fields.CharField(max_length=32, unique=True)
    order: fields.ForeignKeyNullableRelation[ChargingOrder] = fields.ForeignKeyField(
        "wayside.ChargingOrder", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    order_id: int | None
    station: fields.ForeignKeyRelation[Station] = fields.ForeignKeyField(
        "wayside.Station", related_name=False, on_delete=fields.CASCADE
    )
    station_id: int
    phone = fields.CharField(max_length=20, default="")
    channel = fields.CharField(max_length=16, description="wechat, alipay, sim...")
    amount_fen = fields.BigIntField()
    state = fields.CharEnumField(PaymentState, max_length=8, default=PaymentState.created)
    channel_ref = fields.CharField(max_length=64, default="", description="the channel's id")
    callback: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    paid_at = fields.DatetimeField(null=True)

    class Meta:
        table = "charging_payment"


class Refund(TenantOwned):
    """退费 (3.4.6): at most prepaid minus what was already refunded."""

    number = fields.CharField(max_length=32, unique=True)
    order: fields.ForeignKeyRelation[ChargingOrder] = fields.ForeignKeyField(
        "wayside.ChargingOrder", related_name=False, on_delete=fields.CASCADE
    )
    order_id: int
    payment: fields.ForeignKeyNullableRelation[PaymentOrder] = fields.ForeignKeyField(
        "wayside.PaymentOrder", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    payment_id: int | None
    amount_fen = fields.BigIntField()
    reason = fields.CharField(max_length=255, default="")
    payee = fields.CharField(max_length=64, default="")
    operator = fields.CharField(max_length=64, default="")
    state = fields.CharEnumField(RefundState, max_length=8, default=RefundState.pending)
    channel_ref = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "charging_refund"


class DeviceLink(TenantOwned):
    """上下线记录 (3.6.6): a charger connected or lost its link."""

    charger: fields.ForeignKeyRelation[Charger] = fields.ForeignKeyField(
        "wayside.Charger", related_name=False, on_delete=fields.CASCADE
    )
    charger_id: int
    online = fields.BooleanField()
    at = fields.DatetimeField()
    reason = fields.CharField(max_length=64, default="")
    event_uuid = fields.UUIDField(unique=True)

    class Meta:
        table = "charging_device_link"
        indexes = (Index(fields=("tenant_id", "at"), name="charging_link_tenant_time"),)
