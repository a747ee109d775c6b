"""Tortoise models of the parking domain (requirements 001): tariffs and the holiday calendar,
lots and road sections with their berths, sensors and locks, parking orders and payments,
arrears, monthly passes, special plates, collectors and their shifts.

A lot is a Site of kind parking_lot and a road section a Site of kind street_section (the
sites domain owns gates and lanes); ParkingSite adds what parking needs to know of either.
Money is integer fen, never float. Order and payment uuids are made where the fact happened
(the edge, the PDA, the cloud), so a fact reported twice is stored once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index

from cloud.org.models import TenantOwned
from cloud.sites.models import Edge, Site

# --- tariffs ------------------------------------------------------------------------------------


class ParkingTariff(TenantOwned):
    """收费规则: a protocols.tariffs parking document. Edits replace the document and take
    effect on edges at their next sync (a lot bills an exit by the document it holds)."""

    name = fields.CharField(max_length=64)
    document: fields.JSONField[dict[str, Any]] = fields.JSONField()
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    operator = fields.CharField(max_length=64, default="")

    class Meta:
        table = "parking_tariff"
        unique_together = (("tenant", "name"),)


class HolidayDay(TenantOwned):
    """节假日配置: a date whose day kind is not its weekday's (short or long holiday, or a
    weekend made a workday)."""

    day = fields.DateField()
    kind = fields.CharField(max_length=16, description="protocols.tariffs.DayKind value")
    name = fields.CharField(max_length=32, default="")

    class Meta:
        table = "parking_holiday"
        unique_together = (("tenant", "day"),)


# --- places: lots, road sections, berths, sensors, locks ----------------------------------------


class ParkingSite(TenantOwned):
    """What parking knows of a lot or road section beyond the Site itself."""

    site: fields.OneToOneRelation[Site] = fields.OneToOneField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    region = fields.CharField(max_length=32, default="", description="区域")
    street = fields.CharField(max_length=32, default="", description="街道")
    tariff: fields.ForeignKeyNullableRelation[ParkingTariff] = fields.ForeignKeyField(
        "wayside.ParkingTariff", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    tariff_id: int | None
    refuse_arrears_above_fen = fields.BigIntField(null=True, description="None: never refuse")
    arrears_confirm_above_fen = fields.BigIntField(default=20_000)
    occupied = fields.IntField(default=0, description="vehicles inside (lots) as last reported")
    hotline = fields.CharField(max_length=32, default="")

    class Meta:
        table = "parking_site"


class BerthStatus(StrEnum):
    free = "free"
    occupied = "occupied"
    fault = "fault"


class Berth(TenantOwned):
    """泊位 of a road section (or a lot's marked space with a sensor or lock)."""

    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    code = fields.CharField(max_length=48, description="unique per tenant, e.g. A-001")
    number = fields.CharField(max_length=16, description="泊位号 painted on the road")
    sensor = fields.CharField(max_length=64, default="", description="geomagnetic sensor serial")
    has_lock = fields.BooleanField(default=False)
    enabled = fields.BooleanField(default=True)
    status = fields.CharEnumField(BerthStatus, max_length=8, default=BerthStatus.free)
    session = fields.CharField(max_length=36, default="", description="open berth session")
    plate = fields.CharField(max_length=16, default="")
    entered_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "parking_berth"
        unique_together = (("tenant", "code"),)


class BerthSensor(TenantOwned):
    """地磁检测器: its last heartbeat and battery, and its counts of detections and false alarms."""

    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    serial = fields.CharField(max_length=64)
    berth = fields.CharField(max_length=48, default="", description="berth code")
    battery_pct = fields.IntField(null=True)
    temperature_c = fields.FloatField(null=True)
    last_heartbeat_at = fields.DatetimeField(null=True)
    detections = fields.IntField(default=0)
    false_alarms = fields.IntField(default=0)

    class Meta:
        table = "parking_sensor"
        unique_together = (("tenant", "serial"),)


class SensorDetection(TenantOwned):
    """地磁检测记录: one arrival or departure a sensor (or a collector) reported, a false
    alarm report marks its arrival."""

    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    event_uuid = fields.UUIDField(unique=True)
    berth = fields.CharField(max_length=48)
    sensor = fields.CharField(max_length=64, default="")
    session = fields.CharField(max_length=36)
    kind = fields.CharField(max_length=8, description="arrived or departed")
    source = fields.CharField(max_length=12, default="sensor")
    occurred_at = fields.DatetimeField()
    false_alarm = fields.BooleanField(default=False)
    false_alarm_reason = fields.CharField(max_length=255, default="")
    reported_by = fields.CharField(max_length=64, default="")

    class Meta:
        table = "parking_detection"
        indexes = (Index(fields=("tenant_id", "occurred_at")),)


class LockStateName(StrEnum):
    raised = "raised"
    lowered = "lowered"
    moving = "moving"
    fault = "fault"
    unknown = "unknown"


class ParkingLock(TenantOwned):
    """车位锁 on a shared berth, driven over Modbus by the edge."""

    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    berth = fields.CharField(max_length=48, description="berth code")
    name = fields.CharField(max_length=64, default="")
    state = fields.CharEnumField(LockStateName, max_length=8, default=LockStateName.unknown)
    fault = fields.CharField(max_length=128, default="")
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "parking_lock"
        unique_together = (("tenant", "berth"),)


# --- orders, payments, arrears ----------------------------------------------------------------


class OrderState(StrEnum):
    in_progress = "in_progress"  # 在停
    completed = "completed"  # 已完成
    void = "void"  # 作废


class PayState(StrEnum):
    """车辆状态 of the record list (requirements 停车记录)."""

    unpaid = "unpaid"  # 未缴费 (still parked, nothing paid)
    partly_paid = "partly_paid"  # 部分缴费
    paid = "paid"  # 正常离开 (paid in full)
    arrears = "arrears"  # 欠费 (left owing)
    free = "free"  # free: monthly, white list, special, or no charge
    grace = "grace"  # 15分钟免费 (left within the free minutes)


class ParkingOrder(TenantOwned):
    """停车订单: one stay in a lot or a berth. `uuid` is the edge's session uuid."""

    uuid = fields.UUIDField(unique=True)
    number = fields.CharField(max_length=32, unique=True, description="订单编号")
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    edge: fields.ForeignKeyNullableRelation[Edge] = fields.ForeignKeyField(
        "wayside.Edge", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    edge_id: int | None
    berth = fields.CharField(max_length=48, default="", description="berth code (on-street)")
    entry_lane = fields.CharField(max_length=48, default="")
    exit_lane = fields.CharField(max_length=48, default="")
    plate = fields.CharField(max_length=16, default="")
    plate_color = fields.CharField(max_length=16, default="")
    vehicle_class = fields.CharField(max_length=8, default="small")
    vehicle_type = fields.CharField(max_length=12, default="temporary")
    entered_at = fields.DatetimeField()
    exited_at = fields.DatetimeField(null=True)
    state = fields.CharEnumField(OrderState, max_length=12, default=OrderState.in_progress)
    pay_state = fields.CharEnumField(PayState, max_length=12, default=PayState.unpaid)
    due_fen = fields.BigIntField(default=0, description="应收")
    paid_fen = fields.BigIntField(default=0, description="实收")
    prepaid_fen = fields.BigIntField(default=0, description="预缴")
    bill: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    edge_bill: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    tariff = fields.CharField(max_length=32, default="", description="Entity.tariff key")
    collector = fields.CharField(max_length=64, default="", description="操作员")
    entry_snapshot = fields.CharField(max_length=128, default="")
    exit_snapshot = fields.CharField(max_length=128, default="")
    void_reason = fields.CharField(max_length=255, default="")
    free_reason = fields.CharField(max_length=32, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "parking_order"
        indexes = (
            Index(fields=("tenant_id", "entered_at")),
            Index(fields=("tenant_id", "plate")),
        )


class PaymentMethod(StrEnum):
    cash = "cash"
    qr = "qr"  # scanned at a PDA or a lane: through a payment channel
    prepaid = "prepaid"
    balance = "balance"


class ParkingPaymentState(StrEnum):
    created = "created"
    paid = "paid"
    closed = "closed"


class ParkingPayment(TenantOwned):
    """Money for parking: cash at a PDA (paid at once), or a channel payment (created, then
    paid by the channel's signed callback). `orders` are the order uuids it settles (one, or
    several when a collector takes a plate's arrears at once)."""

    uuid = fields.UUIDField(unique=True)
    number = fields.CharField(max_length=32, unique=True)
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    orders: fields.JSONField[list[str]] = fields.JSONField(default=list)
    plate = fields.CharField(max_length=16, default="")
    purpose = fields.CharField(max_length=12, default="parking", description="parking or arrears")
    method = fields.CharEnumField(PaymentMethod, max_length=8)
    channel = fields.CharField(max_length=16, default="", description="sim, wechat... for qr")
    channel_ref = fields.CharField(max_length=64, default="")
    amount_fen = fields.BigIntField()
    state = fields.CharEnumField(ParkingPaymentState, max_length=8)
    lane = fields.CharField(max_length=48, default="", description="the lane whose QR was paid")
    collector = fields.CharField(max_length=64, default="")
    callback: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    paid_at = fields.DatetimeField(null=True)

    class Meta:
        table = "parking_payment"
        indexes = (Index(fields=("tenant_id", "created_at")),)


class ArrearsState(StrEnum):
    unpaid = "unpaid"  # 未补缴
    paid = "paid"  # 已补缴
    void = "void"  # 作废


class Arrears(TenantOwned):
    """欠费记录: what an order left owing, settled by a later payment or voided."""

    order: fields.OneToOneRelation[ParkingOrder] = fields.OneToOneField(
        "wayside.ParkingOrder", related_name=False, on_delete=fields.CASCADE
    )
    order_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    plate = fields.CharField(max_length=16)
    amount_fen = fields.BigIntField()
    state = fields.CharEnumField(ArrearsState, max_length=8, default=ArrearsState.unpaid)
    occurred_at = fields.DatetimeField()
    settled_at = fields.DatetimeField(null=True)
    settled_by = fields.CharField(max_length=64, default="")
    payment = fields.CharField(max_length=36, default="", description="settling payment uuid")
    void_reason = fields.CharField(max_length=255, default="")
    reminded_at = fields.DatetimeField(null=True)
    reminders = fields.IntField(default=0)

    class Meta:
        table = "parking_arrears"
        indexes = (Index(fields=("tenant_id", "plate")),)


# --- monthly passes, special plates -------------------------------------------------------------


class EnergyScope(StrEnum):
    any = "any"
    new_energy = "new_energy"
    other = "other"  # 非新能源


class MonthlyPassRule(TenantOwned):
    """包月规则: price per month, which vehicles, which lots (one, or a group sharing it)."""

    name = fields.CharField(max_length=64)
    energy = fields.CharEnumField(EnergyScope, max_length=12, default=EnergyScope.any)
    price_fen = fields.BigIntField(description="per month")
    sites: fields.JSONField[list[int]] = fields.JSONField(default=list, description="site ids")
    max_months = fields.IntField(default=12)
    online = fields.BooleanField(default=False, description="drivers may buy it online")
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "parking_monthly_rule"
        unique_together = (("tenant", "name"),)


class MonthlyPassState(StrEnum):
    active = "active"
    cancelled = "cancelled"


class MonthlyPass(TenantOwned):
    """包月车: a holder's pass for bound plates, valid between two local days."""

    rule: fields.ForeignKeyRelation[MonthlyPassRule] = fields.ForeignKeyField(
        "wayside.MonthlyPassRule", related_name=False, on_delete=fields.RESTRICT
    )
    rule_id: int
    holder = fields.CharField(max_length=64, description="联系人")
    phone = fields.CharField(max_length=20, default="")
    plates: fields.JSONField[list[str]] = fields.JSONField(default=list)
    valid_from = fields.DateField()
    valid_until = fields.DateField(description="last valid day")
    state = fields.CharEnumField(MonthlyPassState, max_length=10, default=MonthlyPassState.active)
    paid_fen = fields.BigIntField(default=0)
    operator = fields.CharField(max_length=64, default="", description="办卡操作员")
    issued_at = fields.DatetimeField(auto_now_add=True)
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "parking_monthly_pass"


class SpecialPlate(TenantOwned):
    """特殊车牌配置: plates of these kinds or matching this pattern park free."""

    name = fields.CharField(max_length=64)
    plate_kinds: fields.JSONField[list[str]] = fields.JSONField(default=list)
    pattern = fields.CharField(max_length=128, default="")
    enabled = fields.BooleanField(default=True)

    class Meta:
        table = "parking_special_plate"


# --- collectors ----------------------------------------------------------------------------------


class Collector(TenantOwned):
    """收费员: signs in on a PDA for the road sections it may work."""

    account = fields.CharField(max_length=32)
    name = fields.CharField(max_length=64)
    employee_no = fields.CharField(max_length=32, default="")
    phone = fields.CharField(max_length=20, default="")
    password_hash = fields.CharField(max_length=255)
    sections: fields.JSONField[list[int]] = fields.JSONField(default=list, description="site ids")
    active = fields.BooleanField(default=True, description="False once 离职")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "parking_collector"
        unique_together = (("tenant", "account"),)


class CollectorShift(TenantOwned):
    """签到签退: one shift of a collector on one section and device, with its takings."""

    uuid = fields.UUIDField(unique=True)
    collector = fields.CharField(max_length=32, description="account")
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "wayside.Site", related_name=False, on_delete=fields.CASCADE
    )
    site_id: int
    device = fields.CharField(max_length=64)
    signed_in_at = fields.DatetimeField()
    signed_out_at = fields.DatetimeField(null=True)
    cash_fen = fields.BigIntField(default=0)
    qr_fen = fields.BigIntField(default=0)
    arrears_fen = fields.BigIntField(default=0)
    receipts = fields.IntField(default=0)

    class Meta:
        table = "parking_shift"
        indexes = (Index(fields=("tenant_id", "signed_in_at")),)
