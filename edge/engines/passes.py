"""The pass decision: a scanned token, the lane and the site's campus caches turn into a verdict.

Pure: no I/O, no clock of its own. The one rule it cannot decide alone is a visitor pass's
second use; it names the replay key, and the store checks-and-inserts it in the transaction
that records the decision (see Store.record_pass_decision).

Order: lane enabled -> signature and validity (with clock-skew tolerance) -> gate and
direction -> revocation of the subject -> the subject's grant at this gate now.

A registrant pass lives at most 60 s and may open more than once in that time (a barrier
closed before the car passed, the way in and out again): it is the registrant's identity,
not a ticket, and the frame debounce already makes one held phone one decision. A visitor
pass opens once per direction. A one-time pass names no grant a campus holds: refused (no_rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge.engines.campus import CampusBook, appointment_subject, registrant_subject
from protocols import passes
from protocols.events import Reason, Verdict
from protocols.passes import Claims, PassKind, PassRefused, Refusal
from protocols.site import Direction

# Refusals after which the claims are genuine (the signature held), so the record can say whose.
_SIGNED_REFUSALS = frozenset({Refusal.not_yet_valid, Refusal.expired, Refusal.too_long})
PASS_DIRECTIONS = {Direction.entry: passes.Direction.entry, Direction.exit: passes.Direction.exit}


@dataclass(frozen=True, slots=True)
class PassLane:
    """What the engine needs of the lane: its code, its gate's code and its direction."""

    code: str
    gate: str
    direction: Direction


@dataclass(frozen=True, slots=True)
class PassDecision:
    verdict: Verdict
    reason: Reason
    subject: str = ""  # "registrant:<id>" / "appointment:<id>"; "" when not known for sure
    replay_key: str = ""  # for an open one-time-per-direction pass: the store must refuse a reuse
    expires_at: float = 0.0  # epoch seconds after which the replay key is no longer needed
    detail: str = ""
    name: str = ""  # the registrant's or visitor's name (for the lane display)


def _subject(claims: Claims) -> str:
    if claims.kind is PassKind.registrant:
        return registrant_subject(claims.subject)
    if claims.kind is PassKind.visitor:
        return appointment_subject(claims.subject)
    return ""


def _signed_subject(token: str) -> str:
    """The subject of a token whose signature verified but whose times did not hold."""
    try:
        return _subject(passes.unpack(passes.decode(token)[0]))
    except PassRefused:
        return ""


def _refused(refused: PassRefused, subject: str = "") -> PassDecision:
    return PassDecision(Verdict.deny, Reason(refused.reason.value), subject, detail=refused.detail)


def decide_pass(
    lane: PassLane,
    enabled: bool,
    book: CampusBook,
    token: str,
    now: datetime,
    skew_s: int = passes.DEFAULT_SKEW_S,
) -> PassDecision:
    """Decide one scanned pass. `now` is aware, in the site's zone (windows are local)."""
    if not enabled:
        return PassDecision(Verdict.deny, Reason.lane_disabled)
    moment = now.timestamp()
    try:
        claims = passes.verify(token, book.keys, moment, skew_s)
    except PassRefused as refused:
        subject = _signed_subject(token) if refused.reason in _SIGNED_REFUSALS else ""
        return _refused(refused, subject)
    subject = _subject(claims)
    try:
        passes.check_gate(claims, lane.gate, PASS_DIRECTIONS[lane.direction])
    except PassRefused as refused:
        return _refused(refused, subject)
    if subject in book.revoked:
        return PassDecision(Verdict.deny, Reason.revoked, subject, detail=book.revoked[subject])
    if claims.kind is PassKind.registrant:
        registrant = book.registrants.get(claims.subject)
        if registrant is None:
            return PassDecision(Verdict.deny, Reason.no_rule, subject, detail="unknown registrant")
        if not registrant.enabled:
            return PassDecision(Verdict.deny, Reason.revoked, subject, detail="disabled")
        if not registrant.allows(lane.gate, now):
            return PassDecision(
                Verdict.deny, Reason.no_rule, subject, detail="no window", name=registrant.name
            )
        return PassDecision(Verdict.open, Reason.registrant, subject, name=registrant.name)
    if claims.kind is PassKind.visitor:
        appointment = book.appointments.get(claims.subject)
        if appointment is None:
            return PassDecision(Verdict.deny, Reason.no_rule, subject, detail="no appointment")
        if not appointment.covers(moment) or not appointment.allows_gate(lane.gate):
            return PassDecision(
                Verdict.deny,
                Reason.no_rule,
                subject,
                detail="outside the appointment's window or gates",
                name=appointment.visitor,
            )
        return PassDecision(
            Verdict.open,
            Reason.visitor,
            subject,
            replay_key=claims.replay_key(PASS_DIRECTIONS[lane.direction]),
            expires_at=max(claims.valid_until, appointment.window_end) + skew_s,
            name=appointment.visitor,
        )
    return PassDecision(Verdict.deny, Reason.no_rule, detail=f"{claims.kind.value} pass")
