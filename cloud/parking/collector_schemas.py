"""Input and output schemas of collectors (收费员) and their shifts (考勤), shared by the admin
pages and the JSON API. A password goes in and never comes out."""

from __future__ import annotations

from datetime import datetime, time

from pydantic import Field

from cloud.org.schemas import Account, In, Name, Out, Password, Phone, UtcDatetime


class _CollectorFields(In):
    name: Name
    employee_no: str = Field(default="", max_length=32, description="员工编号")
    phone: Phone | None = None
    sections: list[int] = Field(
        min_length=1, max_length=200, description="road-section site ids it may work"
    )


class CollectorCreate(_CollectorFields):
    account: Account
    password: Password


class CollectorUpdate(_CollectorFields):
    """Everything but the account (the key PDAs know it by) and the password (reset apart)."""


class PasswordIn(In):
    password: Password


class CollectorOut(Out):
    id: int
    account: str
    name: str
    employee_no: str
    phone: str
    sections: list[int]
    section_names: str
    active: bool = Field(description="False once 离职")
    signed_in: bool = Field(description="a shift is open")
    signed_in_at: datetime | None = Field(description="when the open shift began")
    signed_in_section: str = Field(description="the open shift's section name")
    created_at: datetime


class CollectorFilter(In):
    section_id: int | None = None
    account: str = Field(default="", max_length=64, description="account starts with")
    name: str = Field(default="", max_length=64, description="name contains")
    active: bool | None = None


class ShiftOut(Out):
    id: int
    collector: str = Field(description="account")
    collector_name: str
    employee_no: str
    site_id: int
    section_name: str
    device: str
    signed_in_at: datetime
    signed_out_at: datetime | None
    hours: str = Field(description="hours worked, one decimal; '' while open")
    cash_fen: int
    qr_fen: int
    arrears_fen: int
    total_fen: int
    cash: str
    qr: str
    arrears: str
    total: str
    receipts: int
    late: bool | None = Field(description="signed in after the expected start (when given)")
    early: bool | None = Field(description="signed out before the expected end (when given)")


class ShiftFilter(In):
    section_id: int | None = None
    collector: str = Field(default="", max_length=64, description="account or name contains")
    signed_in_from: UtcDatetime | None = None
    signed_in_to: UtcDatetime | None = None
    open: bool | None = Field(default=None, description="true: only shifts still open")
    starts: time | None = Field(default=None, description="expected local start: flags late")
    ends: time | None = Field(default=None, description="expected local end: flags early")
