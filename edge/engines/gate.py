"""The gate decision: lists, access rules and the lane's policy turn a plate read into a verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum

from edge.engines.campus import CampusBook
from edge.engines.windows import in_window
from protocols.events import Reason, Verdict
from protocols.site import DefaultAction, Direction, SiteKind
from protocols.sync import AccessRule, LanePolicy, ListEntry, ListKind


class SessionAction(StrEnum):
    """What the decision does to the plate's parking session (parking lots only)."""

    none = "none"
    start = "start"
    end = "end"


@dataclass(frozen=True, slots=True)
class LaneFacts:
    """What the engine needs to know about the lane itself (from the site document)."""

    code: str
    direction: Direction
    site_kind: SiteKind
    gate: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: Reason
    rule: str = ""
    plate: str = ""
    session: SessionAction = SessionAction.none
    subject: str = ""  # "registrant:<id>" / "appointment:<id>" when the plate is someone's


@dataclass(frozen=True, slots=True)
class _Rule:
    """An access rule prepared for the hot path: naive local times, sets for membership."""

    key: str
    lanes: frozenset[str]
    weekdays: frozenset[int]
    start: time
    end: time
    valid_from: datetime | None
    valid_until: datetime | None

    @classmethod
    def of(cls, key: str, rule: AccessRule) -> _Rule:
        return cls(
            key=key,
            lanes=frozenset(rule.lanes),
            weekdays=frozenset(rule.weekdays),
            start=rule.start.replace(tzinfo=None),
            end=rule.end.replace(tzinfo=None),
            valid_from=rule.valid_from,
            valid_until=rule.valid_until,
        )

    def allows(self, lane: str, now: datetime) -> bool:
        if self.lanes and lane not in self.lanes:
            return False
        if not _valid(self.valid_from, self.valid_until, now):
            return False
        return in_window(self.weekdays, self.start, self.end, now)


@dataclass(frozen=True, slots=True)
class RuleBook:
    """One site's synced lists, rules and lane policies, indexed for a decision in microseconds."""

    lists: dict[str, list[tuple[str, ListEntry]]] = field(default_factory=dict)
    plate_rules: dict[str, list[_Rule]] = field(default_factory=dict)
    any_rules: list[_Rule] = field(default_factory=list)
    policies: dict[str, LanePolicy] = field(default_factory=dict)
    campus: CampusBook = field(default_factory=CampusBook)

    @classmethod
    def build(
        cls,
        entries: Iterable[tuple[str, ListEntry]] = (),
        rules: Iterable[tuple[str, AccessRule]] = (),
        policies: Iterable[LanePolicy] = (),
        campus: CampusBook | None = None,
    ) -> RuleBook:
        book = cls(
            policies={policy.code: policy for policy in policies},
            campus=campus if campus is not None else CampusBook(),
        )
        for key, entry in entries:
            book.lists.setdefault(entry.plate, []).append((key, entry))
        for key, rule in rules:
            prepared = _Rule.of(key, rule)
            if rule.plate:
                book.plate_rules.setdefault(rule.plate, []).append(prepared)
            else:
                book.any_rules.append(prepared)
        return book


def _valid(start: datetime | None, until: datetime | None, now: datetime) -> bool:
    return (start is None or start <= now) and (until is None or now < until)


def default_policy(code: str, kind: SiteKind, min_confidence: int) -> LanePolicy:
    """The policy a lane has before the cloud has published one."""
    action = DefaultAction.deny if kind == SiteKind.campus else DefaultAction.open
    return LanePolicy(code=code, default_action=action, min_confidence=min_confidence)


def _listed(book: RuleBook, plate: str, kind: ListKind, now: datetime) -> str | None:
    for key, entry in book.lists.get(plate, ()):
        if entry.kind == kind and _valid(entry.valid_from, entry.valid_until, now):
            return key
    return None


def _session(lane: LaneFacts, verdict: Verdict, plate: str) -> SessionAction:
    if lane.site_kind != SiteKind.parking_lot or verdict != Verdict.open or not plate:
        return SessionAction.none
    return SessionAction.start if lane.direction == Direction.entry else SessionAction.end


def decide(
    lane: LaneFacts,
    policy: LanePolicy,
    book: RuleBook,
    plate: str,
    confidence: int,
    now: datetime,
) -> Decision:
    """Decide one passage. `now` is aware and in the site's zone (weekdays and hours are local).

    A read below the lane's confidence counts as no plate: only an any-vehicle rule can open
    for it, and otherwise the lane refuses (reason low_confidence) on every kind of site, as
    real lots do, because a parking session without a plate could never be billed or closed.
    """
    if not policy.enabled:
        return Decision(Verdict.deny, Reason.lane_disabled)
    if not plate or confidence < policy.min_confidence:
        for rule in book.any_rules:
            if rule.allows(lane.code, now):
                return Decision(Verdict.open, Reason.rule, rule.key)
        return Decision(Verdict.deny, Reason.low_confidence)
    if (key := _listed(book, plate, ListKind.blacklist, now)) is not None:
        return Decision(Verdict.deny, Reason.blacklist, key, plate)
    if (key := _listed(book, plate, ListKind.whitelist, now)) is not None:
        opens = _session(lane, Verdict.open, plate)
        return Decision(Verdict.open, Reason.whitelist, key, plate, opens)
    # Campus: a registrant's vehicle, then a visitor's appointment (dict lookups only).
    known = ""
    campus = book.campus
    if campus.vehicles and (found := campus.registrant_at(plate, lane.gate, now)) is not None:
        known, allowed = found
        if allowed:
            opens = _session(lane, Verdict.open, plate)
            return Decision(Verdict.open, Reason.registrant, "", plate, opens, known)
    if campus.appointments_by_plate and (
        found := campus.visitor_at(plate, lane.gate, now.timestamp())
    ):
        subject, allowed = found
        if allowed:
            opens = _session(lane, Verdict.open, plate)
            return Decision(Verdict.open, Reason.visitor, "", plate, opens, subject)
        known = known or subject
    for rule in (*book.plate_rules.get(plate, ()), *book.any_rules):
        if rule.allows(lane.code, now):
            opens = _session(lane, Verdict.open, plate)
            return Decision(Verdict.open, Reason.rule, rule.key, plate, opens, known)
    verdict = Verdict.open if policy.default_action == DefaultAction.open else Verdict.deny
    if known and verdict == Verdict.deny:
        # Someone the site knows, but not at this gate now (or revoked): say so, not "stranger".
        reason = Reason.revoked if known in campus.revoked else Reason.no_rule
        return Decision(verdict, reason, "", plate, SessionAction.none, known)
    return Decision(verdict, Reason.default, "", plate, _session(lane, verdict, plate), known)
