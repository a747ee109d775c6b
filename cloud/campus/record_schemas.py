"""Schemas of the campus record lists: registrants' passages (6.1) and visitor appointments (6.2)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field, model_validator

from cloud.campus.models import AppointmentOrigin, AppointmentStatus, IdentityKind, Slot
from cloud.org.schemas import In, Out, UtcDatetime, field_error
from protocols.events import Method, Verdict
from protocols.site import Direction


class VisitState(StrEnum):
    """Whether the visitor came (访问状态): an appointment is visited once a gate let them in."""

    visited = "visited"
    not_visited = "not_visited"


class RegistrantRecordOut(Out):
    id: int
    occurred_at: datetime
    registrant_id: int
    name: str = ""
    phone: str = ""
    kind: IdentityKind | None = None
    identity_type_name: str = ""
    number: str = ""
    dept_unit: str = ""
    site_name: str = ""
    gate: str = Field(description="gate code")
    gate_label: str = Field(default="", description="campus / gate name (the code when unknown)")
    lane: str
    direction: Direction
    method: str
    verdict: Verdict
    plate: str


class RegistrantRecordFilter(In):
    q: str = Field(default="", max_length=64, description="name, phone or number contains")
    occurred_from: UtcDatetime | None = None
    occurred_to: UtcDatetime | None = None
    department_id: int | None = None
    kind: IdentityKind | None = None
    gate: str = Field(default="", max_length=48, description="gate code")
    method: Method | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RegistrantRecordFilter:
        if self.occurred_from and self.occurred_to and self.occurred_to <= self.occurred_from:
            raise field_error("occurred_to", "error.until_before_from")
        return self


class VisitPassage(Out):
    """One passage of the appointment's visitor, as the gate recorded it."""

    occurred_at: datetime
    gate_label: str
    lane: str
    direction: Direction
    method: str
    verdict: Verdict
    plate: str


class VisitRecordOut(Out):
    id: int
    visitor_name: str
    visitor_phone: str
    companions: int
    companion_names: str
    companions_text: str = Field(description="count and names, as lists show them")
    host_id: int
    host_name: str = ""
    host_phone: str = ""
    host_department: str = ""
    origin: AppointmentOrigin
    reason: str
    transport: str
    plate: str
    visit_date: date
    slot: Slot
    window_start: datetime
    window_end: datetime
    status: AppointmentStatus
    reject_reason: str
    decided_at: datetime | None
    visit_state: VisitState
    visited_at: datetime | None
    visited_gate: str
    gate_label: str = ""
    visited_method: str
    created_at: datetime


class VisitRecordDetail(VisitRecordOut):
    visitor_id_card: str = Field(description="masked: only the last four characters")
    passages: list[VisitPassage] = Field(default_factory=list)


class VisitRecordFilter(In):
    q: str = Field(default="", max_length=64, description="plate, visitor or host name contains")
    date_from: date | None = Field(default=None, description="visit date from (inclusive)")
    date_to: date | None = Field(default=None, description="visit date to (inclusive)")
    status: AppointmentStatus | None = None
    origin: AppointmentOrigin | None = None
    visit_state: VisitState | None = None
    department_id: int | None = Field(default=None, description="the host's department")
    gate: str = Field(default="", max_length=48, description="gate code the visitor passed")
    method: Method | None = None

    @model_validator(mode="after")
    def _ordered(self) -> VisitRecordFilter:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise field_error("date_to", "error.until_before_from")
        return self
