"""Input and output schemas of identities, registrants, their access rules and imports (pages and API)."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from cloud.campus.models import IdentityKind, ImportKind, ImportState
from cloud.org.schemas import In, Name, Out, field_error

# A mainland mobile number: 11 digits starting 13-19.
MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"
Number = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^\S+$")
]
Text128 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]
Text255 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]


def check_mobile(value: str) -> str:
    """An 11-digit mainland mobile number (spaces and dashes dropped), or empty."""
    compact = value.replace(" ", "").replace("-", "")
    if compact.startswith("+86"):
        compact = compact[3:]
    if not compact:
        return ""
    if not re.match(MOBILE_PATTERN, compact):
        raise ValueError("registrants.error.phone")
    return compact


def check_id_card_tail(value: str) -> str:
    """The last six characters of an ID card: five digits and a digit or X (upper-cased), or empty."""
    tail = value.strip().upper()
    if not tail:
        return ""
    if len(tail) != 6 or not tail[:5].isdigit() or not (tail[5].isdigit() or tail[5] == "X"):
        raise ValueError("registrants.error.id_card_tail")
    return tail


# --- identity settings and types ---------------------------------------------------------------


class IdentitySettingIn(In):
    kind: IdentityKind
    enabled: bool = True
    face_required: bool = Field(
        default=False, description="ignored for teachers: set per teacher identity type"
    )


class IdentitySettingsIn(In):
    settings: list[IdentitySettingIn] = Field(description="one entry per kind; missing kinds keep")


class IdentitySettingOut(Out):
    kind: IdentityKind
    enabled: bool
    face_required: bool


class IdentityTypeIn(In):
    kind: IdentityKind
    name: Name
    description: Text255 = ""
    face_required: bool = False


class IdentityTypeOut(Out):
    id: int
    kind: IdentityKind
    name: str
    description: str
    face_required: bool
    enabled: bool
    operator: str
    created_at: datetime


class IdentityTypeFilter(In):
    q: str = Field(default="", max_length=64, description="name contains")
    kind: IdentityKind | None = None
    enabled: bool | None = None


# --- registrants -------------------------------------------------------------------------------


class RegistrantIn(In):
    kind: IdentityKind
    identity_type_id: int | None = None
    name: Name
    number: Number = Field(description="student or staff number, unique per school and kind")
    id_card_tail: str = Field(default="", description="last six characters of the ID card")
    phone: str = Field(default="", description="11-digit mainland mobile number")
    department_id: int | None = None
    unit: Text128 = ""

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return check_mobile(value)

    @field_validator("id_card_tail")
    @classmethod
    def _tail(cls, value: str) -> str:
        return check_id_card_tail(value)


class RegistrantOut(Out):
    id: int
    kind: IdentityKind
    identity_type_id: int | None
    identity_type_name: str | None = None
    name: str
    number: str
    id_card_tail: str
    phone: str
    department_id: int | None
    department_name: str | None = None
    unit: str
    motor_count: int = Field(default=0, description="approved motor vehicles")
    ebike_count: int = Field(default=0, description="approved e-bikes")
    visitor_authorised: bool
    registered: bool = Field(description="signed in on the mobile pages (bound)")
    bound_at: datetime | None
    face_photo: str
    enabled: bool
    operator: str
    created_at: datetime


class RegistrantFilter(In):
    q: str = Field(default="", max_length=64, description="name, phone or number contains")
    kind: IdentityKind | None = None
    identity_type_id: int | None = None
    department_id: int | None = None
    visitor_authorised: bool | None = None
    registered: bool | None = Field(default=None, description="bound on the mobile pages")
    enabled: bool | None = None


# --- access rules of a registrant -------------------------------------------------------------


class RegistrantRuleIn(In):
    """One campus, some of its gates (none: all), some weekdays, a daily window (end before start
    runs past midnight)."""

    site_id: int
    gates: list[str] = Field(default_factory=list, description="gate codes; empty = every gate")
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    start_time: time = time(0, 0)
    end_time: time = time(23, 59, 59)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("error.required")
        if any(day < 1 or day > 7 for day in value):
            raise ValueError("error.weekday")
        return sorted(set(value))

    @field_validator("gates")
    @classmethod
    def _gates(cls, value: list[str]) -> list[str]:
        return sorted({gate.strip() for gate in value if gate.strip()})

    @model_validator(mode="after")
    def _window(self) -> RegistrantRuleIn:
        if self.end_time == self.start_time:
            raise field_error("end_time", "registrants.error.empty_window")
        return self


class RegistrantRulesIn(In):
    rules: list[RegistrantRuleIn] = Field(
        default_factory=list, max_length=50, description="the whole set; empty = no gate at all"
    )


class RegistrantRuleOut(Out):
    id: int
    site_id: int
    site_name: str | None = None
    gates: list[str]
    weekdays: list[int]
    start_time: time
    end_time: time


BulkMode = Literal["replace", "add", "clear"]


class BulkRuleIn(RegistrantFilter):
    """Every registrant the filter matches: replace their rules with `rule`, add `rule`, or clear
    their rules (no gate)."""

    mode: BulkMode
    rule: RegistrantRuleIn | None = None

    @model_validator(mode="after")
    def _rule_needed(self) -> BulkRuleIn:
        if self.mode != "clear" and self.rule is None:
            raise field_error("rule", "error.required")
        return self


class BulkResult(Out):
    affected: int


class AuthoriseResult(Out):
    authorised: int = Field(description="teachers newly authorised")


# --- imports ---------------------------------------------------------------------------------


class ImportJobOut(Out):
    id: int
    kind: ImportKind
    filename: str
    state: ImportState
    total: int
    imported: int
    rejected: int
    error: str
    has_rejects: bool
    operator: str
    created_at: datetime


class ImportJobFilter(In):
    kind: ImportKind | None = None
    state: ImportState | None = None
