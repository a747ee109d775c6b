"""Input and output schemas of the access domain, shared by the admin pages and the JSON API."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints, field_validator, model_validator

from cloud.org.schemas import In, Name, Out, UtcDatetime, field_error
from protocols.events import Reason, Verdict
from protocols.plates import is_valid_plate, normalize_plate
from protocols.site import Direction
from protocols.sync import ListKind


def _plate(value: str) -> str:
    plate = normalize_plate(value)
    if not plate:
        raise ValueError("error.required")
    if not is_valid_plate(plate):
        raise ValueError("error.plate_invalid")
    return plate


class _Validity(In):
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> _Validity:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise field_error("valid_until", "error.until_before_from")
        return self


class ListEntryIn(_Validity):
    site_id: int
    plate: str = Field(description="normalised (upper case, no separators) and validated")
    kind: ListKind
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] = ""

    @field_validator("plate")
    @classmethod
    def _plate_ok(cls, value: str) -> str:
        return _plate(value)


class ListEntryOut(Out):
    id: int
    site_id: int
    site_name: str | None = None
    plate: str
    kind: ListKind
    valid_from: datetime | None
    valid_until: datetime | None
    note: str
    enabled: bool
    created_at: datetime


class ListEntryFilter(In):
    plate: str = Field(default="", max_length=16, description="plate starts with")
    site_id: int | None = None
    kind: ListKind | None = None
    enabled: bool | None = None


class AccessRuleIn(_Validity):
    site_id: int
    name: Name
    plate: str = Field(default="", description="one plate, or empty for every vehicle")
    lanes: list[str] = Field(default_factory=list, description="lane codes; empty = every lane")
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    start_time: time = time(0, 0)
    end_time: time = time(23, 59, 59)

    @field_validator("plate")
    @classmethod
    def _plate_or_empty(cls, value: str) -> str:
        return _plate(value) if value.strip() else ""

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("error.required")
        if any(day < 1 or day > 7 for day in value):
            raise ValueError("error.weekday")
        return sorted(set(value))

    @model_validator(mode="after")
    def _hours(self) -> AccessRuleIn:
        if self.end_time <= self.start_time:
            raise field_error("end_time", "error.end_before_start")
        return self


class AccessRuleOut(Out):
    id: int
    site_id: int
    site_name: str | None = None
    name: str
    plate: str
    lanes: list[str]
    weekdays: list[int]
    start_time: time
    end_time: time
    valid_from: datetime | None
    valid_until: datetime | None
    enabled: bool


class AccessRuleFilter(In):
    q: str = Field(default="", max_length=64, description="name or plate contains")
    site_id: int | None = None
    enabled: bool | None = None


class AccessRecordOut(Out):
    id: int
    event_uuid: UUID
    site_id: int
    site_name: str | None = None
    gate: str
    lane: str
    direction: Direction
    plate: str
    plate_color: str
    confidence: int
    verdict: Verdict
    reason: Reason
    method: str
    occurred_at: datetime


class AccessRecordFilter(In):
    plate: str = Field(
        default="",
        max_length=16,
        description="a whole plate matches exactly; a partial one (e.g. 京A) matches as a prefix",
    )
    site_id: int | None = None
    gate: str = Field(default="", max_length=48, description="gate code")
    lane: str = Field(default="", max_length=48, description="lane code")
    verdict: Verdict | None = None
    occurred_from: UtcDatetime | None = None
    occurred_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AccessRecordFilter:
        if self.occurred_from and self.occurred_to and self.occurred_to <= self.occurred_from:
            raise field_error("occurred_to", "error.until_before_from")
        return self


class SiteCount(Out):
    site_id: int
    site_name: str
    open: int
    deny: int


class DayCount(Out):
    day: date
    open: int
    deny: int


class Dashboard(Out):
    """Today's decisions (site time zone) and the daily trend of the last 30 days."""

    today_open: int
    today_deny: int
    by_site: list[SiteCount]
    trend: list[DayCount]
