"""Input and output schemas of charging orders, payment orders and refunds (3.4.1, 3.4.3,
3.4.6), shared by the admin pages and the JSON API. Money is integer fen; the *_yuan fields
are the same amounts written for people ("12.34")."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from cloud.charging.models import OrderState, PaymentState, RefundState, StartMethod
from cloud.org.schemas import In, Out, UtcDatetime, field_error


def kwh(wh: int | None) -> str:
    """Wh as kWh with three decimals: 12345 -> "12.345"."""
    if wh is None:
        return ""
    sign = "-" if wh < 0 else ""
    whole, rest = divmod(abs(wh), 1000)
    return f"{sign}{whole}.{rest:03d}"


def duration_text(seconds: int | None) -> str:
    """A duration as h:mm:ss."""
    if seconds is None:
        return ""
    hours, rest = divmod(max(0, seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


# --- charging orders ---------------------------------------------------------------------------


class OrderOut(Out):
    id: int
    uuid: UUID
    number: str
    station_id: int
    station_name: str = ""
    area_name: str = ""
    charger_id: int
    charger_code: str = ""
    charger_serial: str = ""
    connector: int
    transaction_id: int | None
    id_tag: str
    phone: str
    plate: str
    method: StartMethod
    state: OrderState
    end_reason: str
    flags: list[str]
    meter_start_wh: int | None
    meter_last_wh: int | None
    meter_stop_wh: int | None
    energy_wh: int
    energy_kwh: str = Field(description="energy_wh as kWh text")
    power_w: int
    tariff_id: int | None
    tariff_name: str = ""
    electricity_fen: int
    service_fen: int
    total_fen: int
    prepaid_fen: int
    refunded_fen: int
    refundable_fen: int = Field(description="prepaid minus refunded, when a refund is allowed")
    electricity_yuan: str
    service_yuan: str
    total_yuan: str
    prepaid_yuan: str
    refunded_yuan: str
    duration_s: int | None = Field(description="from start to stop (or to the last meter value)")
    duration: str
    created_at: datetime
    started_at: datetime | None
    last_meter_at: datetime | None
    stopped_at: datetime | None


class BillLineOut(Out):
    label: str
    component: str
    quantity: int
    unit_price_fen: int
    amount_fen: int
    start: datetime
    end: datetime


class SampleOut(Out):
    at: datetime
    energy_wh: int
    power_w: int | None
    current_a: float | None
    voltage_v: float | None
    soc: int | None


class OrderDetail(OrderOut):
    """One order with its bill lines (the cloud's bill), the edge's totals, the meter curve,
    its payments and refunds."""

    bill_lines: list[BillLineOut]
    edge_total_fen: int | None = Field(description="the edge's own bill total, when it sent one")
    tariff_document: dict[str, Any] | None
    samples: list[SampleOut]
    payments: list[PaymentOut]
    refunds: list[RefundOut]


class OrderFilter(In):
    """3.4.1's search. Without created_from/created_to the list holds the last 7 days."""

    station: str = Field(default="", max_length=64, description="station name contains")
    number: str = Field(default="", max_length=32, description="order number (exact or prefix)")
    charger_code: str = Field(default="", max_length=32, description="电桩编号")
    charger_serial: str = Field(default="", max_length=48, description="电桩SN / charge point id")
    connector: int | None = Field(default=None, ge=1, le=32, description="电枪编号")
    phone: str = Field(default="", max_length=20)
    id_tag: str = Field(default="", max_length=20, description="充电卡号 (idTag)")
    state: OrderState | None = None
    method: StartMethod | None = None
    created_from: UtcDatetime | None = None
    created_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> OrderFilter:
        if self.created_from and self.created_to and self.created_to <= self.created_from:
            raise field_error("created_to", "error.until_before_from")
        return self


class RemoteStartIn(In):
    """Start charging at a connector from the cloud: the order exists (starting) before the
    charger is asked."""

    charger_id: int
    connector: int = Field(default=1, ge=1, le=32)
    id_tag: str = Field(min_length=1, max_length=20, description="the card or member charging")
    prepaid_fen: int = Field(default=0, ge=0, le=100_000_000)
    phone: str = Field(default="", max_length=20)
    plate: str = Field(default="", max_length=16)
    method: StartMethod = Field(default=StartMethod.admin, description="admin or app")

    @model_validator(mode="after")
    def _remote(self) -> RemoteStartIn:
        if self.method not in (StartMethod.admin, StartMethod.app):
            raise field_error("method", "orders.error.remote_method")
        return self


class _ActionBody(In):
    # The order is looked up before the body's rules apply, so another tenant's id is a 404
    # whatever the body says; required-ness is checked by the service after the lookup.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class RefundIn(_ActionBody):
    amount_fen: int | None = Field(default=None, description="required: 1 .. refundable_fen")
    reason: str = Field(default="", max_length=255)
    payee: str = Field(default="", max_length=64, description="收款人 (defaults to the phone)")


# --- payment orders ---------------------------------------------------------------------------


class PaymentOut(Out):
    id: int
    number: str
    order_id: int | None
    order_number: str = ""
    station_id: int
    station_name: str = ""
    area_name: str = ""
    charger_code: str = ""
    phone: str
    channel: str
    amount_fen: int
    amount_yuan: str
    state: PaymentState
    channel_ref: str
    callback: dict[str, Any] | None
    created_at: datetime
    paid_at: datetime | None
    order_duration: str = ""


class PaymentCreated(PaymentOut):
    pay_url: str = Field(description="where the driver pays (the simulated channel pays itself)")


class PaymentFilter(In):
    """3.4.3's search: station, payment channel and state, order number, phone, times."""

    station: str = Field(default="", max_length=64, description="station name contains")
    channel: str = Field(default="", max_length=16)
    state: PaymentState | None = None
    number: str = Field(default="", max_length=32, description="payment or order number")
    phone: str = Field(default="", max_length=20)
    created_from: UtcDatetime | None = None
    created_to: UtcDatetime | None = None
    paid_from: UtcDatetime | None = None
    paid_to: UtcDatetime | None = None


class PaymentIn(In):
    """A prepayment for an order through a channel (only the simulated one here)."""

    order_id: int
    amount_fen: int = Field(ge=1, le=100_000_000)
    channel: str = Field(default="sim", max_length=16)


# --- refunds ------------------------------------------------------------------------------------


class RefundOut(Out):
    id: int
    number: str
    order_id: int
    order_number: str = ""
    payment_id: int | None
    payment_number: str = ""
    station_name: str = ""
    area_name: str = ""
    order_total_fen: int = 0
    paid_fen: int = 0
    amount_fen: int
    amount_yuan: str
    order_total_yuan: str = ""
    paid_yuan: str = ""
    reason: str
    payee: str
    operator: str
    state: RefundState
    channel_ref: str
    created_at: datetime
    done_at: datetime | None


class RefundFilter(In):
    """3.4.6's search: station, state, payee, order number, applied and refunded times."""

    station: str = Field(default="", max_length=64, description="station name contains")
    state: RefundState | None = None
    payee: str = Field(default="", max_length=64)
    number: str = Field(default="", max_length=32, description="order or refund number")
    created_from: UtcDatetime | None = None
    created_to: UtcDatetime | None = None
    done_from: UtcDatetime | None = None
    done_to: UtcDatetime | None = None


class UnmatchedStopOut(Out):
    """A StopTransaction no order matched (kept in the sync ledger for review)."""

    id: int
    edge_code: str
    site: str
    charge_point: str
    transaction_id: int
    id_tag: str
    meter_stop_wh: int
    at: datetime
    received_at: datetime


class UnmatchedStopFilter(In):
    charge_point: str = Field(default="", max_length=48)


OrderDetail.model_rebuild()
