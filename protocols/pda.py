"""A collector's PDA asking the cloud for a shift (签到) or giving it back (签退): the claim
that keeps one account on one device and one collector per road section.

The request is signed like every sync request (protocols/signing.py) by the PDA's enrolled
edge key; the cloud answers 200 with the shift it holds, or 409 naming who holds what.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

PDA_CLAIM_PATH = "/sync/v1/pda/claim"


class ClaimAction(StrEnum):
    sign_in = "sign_in"
    sign_out = "sign_out"


class ConflictKind(StrEnum):
    """Why a claim was refused."""

    account_elsewhere = "account_elsewhere"  # the account has an open shift on another device
    section_taken = "section_taken"  # another collector holds the section
    unknown_collector = "unknown_collector"  # no such (active) account in the tenant
    not_assigned = "not_assigned"  # the collector may not work this section
    foreign_section = "foreign_section"  # the section is not one of this PDA's sites


class PdaClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ClaimAction
    shift: UUID
    collector: str = Field(min_length=1, max_length=32)
    site: str = Field(min_length=1, max_length=48)
    device: str = Field(min_length=1, max_length=64)
    at: AwareDatetime
    # The takings of a sign-out (the shift_ended event carries them as well).
    cash_fen: int = Field(default=0, ge=0)
    qr_fen: int = Field(default=0, ge=0)
    arrears_fen: int = Field(default=0, ge=0)
    receipts: int = Field(default=0, ge=0)


class PdaClaimReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    shift: UUID | None = None
    conflict: ConflictKind | None = None
    holder: str = Field(default="", description="the collector or device holding it")
    message: str = ""
