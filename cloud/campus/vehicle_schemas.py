"""Input and output schemas of vehicles and their registration review (requirements 000, 4.3, 4.4)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from cloud.campus.models import IdentityKind, OwnerRelation, ReviewStatus, VehicleKind
from cloud.org.schemas import In, Out, UtcDatetime, field_error
from protocols.plates import is_valid_plate, normalize_plate

OwnerName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
# An e-bike's plate or frame number: letters, digits and Chinese characters, separators dropped.
_EBIKE_NUMBER = r"^[0-9A-Z\u4e00-\u9fff]{2,16}$"


def clean_plate(kind: VehicleKind, value: str) -> str:
    """A motor vehicle's plate is a valid Chinese plate; an e-bike's number is 2-16 letters/digits."""
    plate = normalize_plate(value)
    if not plate:
        raise ValueError("error.required")
    if kind == VehicleKind.motor and not is_valid_plate(plate):
        raise ValueError("error.plate_invalid")
    if kind == VehicleKind.ebike and not re.match(_EBIKE_NUMBER, plate):
        raise ValueError("campus_vehicles.error.ebike_number")
    return plate


class VehicleOut(Out):
    id: int
    kind: VehicleKind
    plate: str
    owner_name: str
    relation: OwnerRelation
    status: ReviewStatus
    reject_reason: str
    valid_until: date | None = Field(description="e-bikes: last valid day; None: long-term")
    long_term: bool = Field(description="an approved e-bike without an end date")
    label_prints: int
    enabled: bool
    submitted_at: datetime
    reviewed_at: datetime | None
    reviewer: str
    registrant_id: int | None
    registrant_name: str | None = None
    registrant_number: str | None = None
    registrant_phone: str | None = None
    registrant_kind: IdentityKind | None = None
    identity_type_name: str | None = None
    department_name: str | None = None
    dept_unit: str | None = Field(default=None, description="department / unit, as lists show it")


class VehicleFilter(In):
    """One filter for the vehicle list, the e-bike label list and the review list."""

    kind: VehicleKind | None = None
    plate: str = Field(default="", max_length=16, description="plate or number contains")
    status: ReviewStatus | None = None
    registrant: str = Field(default="", max_length=64, description="registrant name or number")
    identity_kind: IdentityKind | None = None
    department_id: int | None = None
    enabled: bool | None = None
    submitted_from: UtcDatetime | None = None
    submitted_to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> VehicleFilter:
        if self.submitted_from and self.submitted_to and self.submitted_to <= self.submitted_from:
            raise field_error("submitted_to", "error.until_before_from")
        return self


class VehicleCreate(In):
    """A registration application an administrator makes for a registrant (pending review).

    The registrant is named by id (API) or by student/staff number or phone (the admin form)."""

    registrant_id: int | None = None
    registrant_number: str = Field(
        default="", max_length=32, description="student/staff number or phone of the registrant"
    )
    kind: VehicleKind
    plate: str = Field(description="motor: a valid plate; e-bike: plate or frame number")
    owner_name: OwnerName = ""
    relation: OwnerRelation = OwnerRelation.self

    @model_validator(mode="after")
    def _checked(self) -> VehicleCreate:
        if self.registrant_id is None and not self.registrant_number:
            raise field_error("registrant_number", "error.required")
        try:
            self.plate = clean_plate(self.kind, self.plate)
        except ValueError as exc:
            raise field_error("plate", str(exc)) from None
        return self


class VehicleUpdate(In):
    """What an administrator may change on a vehicle; the kind and the review are not edited here."""

    plate: str
    owner_name: OwnerName = ""
    relation: OwnerRelation = OwnerRelation.self
    valid_until: date | None = Field(
        default=None, description="e-bikes only: last valid day; empty keeps it long-term"
    )

    @field_validator("plate")
    @classmethod
    def _plate_given(cls, value: str) -> str:
        plate = normalize_plate(value)
        if not plate:
            raise ValueError("error.required")
        return plate


class _Review(In):
    # The row is looked up before a decision's rules apply, so another tenant's id is a 404
    # whatever the body says. Every decision needs its own fields explicitly (long_term or
    # valid_until; reason), so a misspelt field is refused as missing, not silently ignored.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class VehicleApprove(_Review):
    """Approve: a motor vehicle needs nothing; an e-bike long-term or until a future date."""

    long_term: bool = Field(default=False, description="e-bikes: valid without end")
    valid_until: date | None = Field(default=None, description="e-bikes: last valid day (future)")


class VehicleReject(_Review):
    reason: str = Field(default="", max_length=255, description="required: why it is refused")


class ReviewCounts(Out):
    """The figures above the review list: registered vehicles and applications by status."""

    registered: int
    registered_motor: int
    registered_ebike: int
    pending: int
    approved: int
    rejected: int


class LabelOut(Out):
    """One e-bike QR label."""

    id: int
    plate: str
    owner_name: str
    registrant_name: str | None
    registrant_number: str | None
    valid_until: date | None
    long_term: bool
    label_prints: int
