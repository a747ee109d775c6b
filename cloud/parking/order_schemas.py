"""Input and output schemas of parking orders, pass-through records, parking payments and
arrears (requirements 停车记录, 欠费管理), shared by the admin pages and the JSON API. Money is
integer fen; the *_yuan fields are the same amounts written for people ("12.34")."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from cloud.org.schemas import In, Out, UtcDatetime, field_error
from cloud.parking.models import (
    ArrearsState,
    OrderState,
    ParkingPaymentState,
    PaymentMethod,
    PayState,
)
from protocols.events import Verdict
from protocols.parking import VehicleType
from protocols.site import Direction


def duration_text(seconds: int | None) -> str:
    """A stay as h:mm:ss."""
    if seconds is None:
        return ""
    hours, rest = divmod(max(0, seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _ordered(start: datetime | None, end: datetime | None, name: str) -> None:
    if start is not None and end is not None and end <= start:
        raise field_error(name, "error.until_before_from")


# --- orders ---------------------------------------------------------------------------------


class ParkingOrderOut(Out):
    id: int
    uuid: UUID
    number: str
    site_id: int
    site_name: str = ""
    region: str = ""
    street: str = ""
    berth: str
    entry_lane: str
    exit_lane: str
    plate: str
    vehicle_class: str
    vehicle_type: str
    entered_at: datetime
    exited_at: datetime | None
    duration_s: int | None = Field(description="entry to exit (to now while parked)")
    duration: str
    state: OrderState
    pay_state: PayState
    prepaid_fen: int = Field(description="预缴费")
    due_fen: int = Field(description="应收")
    paid_fen: int = Field(description="实收")
    balance_fen: int = Field(description="应缴余额: what is still owed")
    prepaid_yuan: str
    due_yuan: str
    paid_yuan: str
    balance_yuan: str
    tariff: str
    collector: str
    free_reason: str
    void_reason: str
    entry_snapshot: str
    exit_snapshot: str
    created_at: datetime


class BillLineOut(Out):
    """One line of a parking bill as the evaluator explained it (protocols.tariffs)."""

    kind: str = Field(default="", description="time, flat, cap_day, cap_stay, free, new_energy")
    label: str = ""
    minutes: int = 0
    steps: int = 0
    unit_price_fen: int = 0
    step_minutes: int = 0
    amount_fen: int = Field(default=0, description="negative for adjustments")
    start: datetime | None = None
    end: datetime | None = None


class ParkingPaymentOut(Out):
    id: int
    uuid: UUID
    number: str
    site_id: int
    orders: list[str]
    plate: str
    purpose: str
    method: PaymentMethod
    channel: str
    channel_ref: str
    amount_fen: int
    amount_yuan: str
    state: ParkingPaymentState
    lane: str
    collector: str
    created_at: datetime
    paid_at: datetime | None


class ArrearsOut(Out):
    id: int
    order_id: int
    order_number: str = ""
    order_uuid: UUID | None = None
    site_id: int
    site_name: str = ""
    berth: str = ""
    plate: str
    amount_fen: int
    amount_yuan: str
    state: ArrearsState
    occurred_at: datetime
    settled_at: datetime | None
    settled_by: str
    payment: str
    void_reason: str
    reminded_at: datetime | None
    reminders: int


class ParkingOrderDetail(ParkingOrderOut):
    """One order with its bill line by line (the cloud's, else the edge's), both totals, its
    payments, its arrears and its evidence images."""

    bill_lines: list[BillLineOut]
    cloud_total_fen: int | None = Field(description="the cloud's own bill of the stay")
    edge_total_fen: int | None = Field(description="the edge's (or PDA's) bill, when it sent one")
    bill_mismatch: bool = False
    payments: list[ParkingPaymentOut]
    arrears: ArrearsOut | None
    snapshots: list[str] = Field(description="evidence image names (/parking/snapshots/<name>)")


class ParkingOrderFilter(In):
    """停车记录's search: region, street, lot or section, plate, vehicle state, operator,
    vehicle type, entry and exit time."""

    region: str = Field(default="", max_length=32, description="区域")
    street: str = Field(default="", max_length=32, description="街道")
    site_id: int | None = Field(default=None, description="lot or road section")
    plate: str = Field(default="", max_length=16, description="a whole plate, or its beginning")
    number: str = Field(default="", max_length=32, description="order number (or its beginning)")
    berth: str = Field(default="", max_length=48)
    state: OrderState | None = None
    pay_state: PayState | None = Field(default=None, description="车辆状态")
    collector: str = Field(default="", max_length=64, description="操作员 (collector account)")
    vehicle_type: VehicleType | None = None
    entered_from: UtcDatetime | None = None
    entered_to: UtcDatetime | None = None
    exited_from: UtcDatetime | None = None
    exited_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ranges(self) -> ParkingOrderFilter:
        _ordered(self.entered_from, self.entered_to, "entered_to")
        _ordered(self.exited_from, self.exited_to, "exited_to")
        return self


class ParkingOrderTotals(Out):
    """The list's bottom line over the whole filter (not one page)."""

    count: int
    prepaid_fen: int
    due_fen: int
    paid_fen: int
    balance_fen: int
    prepaid_yuan: str
    due_yuan: str
    paid_yuan: str
    balance_yuan: str


class _ActionBody(In):
    # The row is looked up before the body's rules apply, so another tenant's id is a 404
    # whatever the body says; required-ness is checked by the service after the lookup.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class VoidIn(_ActionBody):
    reason: str = Field(default="", max_length=255, description="required: why it is void")


# --- pass-through records -------------------------------------------------------------------


class PassRecordOut(Out):
    """过车记录: one entry or exit decision at a lot lane, with its evidence image."""

    id: int
    site_id: int
    site_name: str = ""
    gate: str
    lane: str
    direction: Direction
    plate: str
    plate_color: str
    confidence: int
    verdict: Verdict
    reason: str
    occurred_at: datetime
    snapshot: str


class PassRecordFilter(In):
    site_id: int | None = None
    plate: str = Field(default="", max_length=16, description="a whole plate, or its beginning")
    lane: str = Field(default="", max_length=48)
    direction: Direction | None = None
    verdict: Verdict | None = None
    occurred_from: UtcDatetime | None = None
    occurred_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _range(self) -> PassRecordFilter:
        _ordered(self.occurred_from, self.occurred_to, "occurred_to")
        return self


# --- arrears ------------------------------------------------------------------------------------


class ArrearsFilter(In):
    plate: str = Field(default="", max_length=16, description="a whole plate, or its beginning")
    site_id: int | None = None
    state: ArrearsState | None = None
    occurred_from: UtcDatetime | None = None
    occurred_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _range(self) -> ArrearsFilter:
        _ordered(self.occurred_from, self.occurred_to, "occurred_to")
        return self


class ArrearsVehicleOut(Out):
    """欠费车辆: a plate's unpaid arrears across the tenant."""

    plate: str
    total_fen: int
    total_yuan: str
    count: int
    first_at: datetime | None
    last_at: datetime | None
    reminded_at: datetime | None
    reminders: int


class ArrearsVehicleFilter(In):
    plate: str = Field(default="", max_length=16, description="a whole plate, or its beginning")
    min_total_fen: int | None = Field(default=None, ge=0, description="owing at least this")


class ArrearsCollectIn(_ActionBody):
    """补缴 at the office: cash handed to an operator settles the record."""

    method: str = Field(default="cash", max_length=8, description="cash (the only one offline)")


class RemindIn(In):
    """提醒: a message about the plate's arrears, to the phone given or the phone of the
    plate's monthly pass holder."""

    plate: str = Field(min_length=1, max_length=16)
    phone: str = Field(default="", max_length=20)


class ReminderOut(Out):
    plate: str
    phone: str
    total_fen: int
    count: int
    message_id: int
    body: str


def bill_lines_of(bill: dict[str, Any] | None) -> list[BillLineOut]:
    """The lines of a stored bill (as_dict of a protocols.tariffs bill); unreadable lines are
    left out rather than failing the page."""
    lines: list[BillLineOut] = []
    for raw in (bill or {}).get("lines") or []:
        if not isinstance(raw, dict):
            continue
        try:
            lines.append(
                BillLineOut.model_validate(
                    {k: v for k, v in raw.items() if k in BillLineOut.model_fields}
                )
            )
        except ValueError:
            continue
    return lines
