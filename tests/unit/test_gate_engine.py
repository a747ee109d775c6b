"""The gate decision: order of checks, validity, weekly windows across midnight, sessions."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from edge.engines.gate import (
    LaneFacts,
    RuleBook,
    SessionAction,
    decide,
    default_policy,
    in_window,
)
from protocols.events import Reason, Verdict
from protocols.site import DefaultAction, Direction, SiteKind
from protocols.sync import AccessRule, LanePolicy, ListEntry, ListKind

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY_NOON = datetime(2025, 11, 17, 12, 0, tzinfo=ZONE)
CAMPUS_IN = LaneFacts("c-in", Direction.entry, SiteKind.campus)
LOT_IN = LaneFacts("p-in", Direction.entry, SiteKind.parking_lot)
LOT_OUT = LaneFacts("p-out", Direction.exit, SiteKind.parking_lot)
PLATE = "京A12345"


def policy(lane: LaneFacts, **changes: object) -> LanePolicy:
    base = default_policy(lane.code, lane.site_kind, 80)
    return base.model_copy(update=changes)


def book(**kinds: ListKind) -> RuleBook:
    return RuleBook.build(
        entries=[(key, ListEntry(plate=PLATE, kind=kind)) for key, kind in kinds.items()]
    )


def test_defaults_by_site_kind() -> None:
    campus = decide(CAMPUS_IN, policy(CAMPUS_IN), RuleBook(), PLATE, 95, MONDAY_NOON)
    assert (campus.verdict, campus.reason, campus.session) == (
        Verdict.deny,
        Reason.default,
        SessionAction.none,
    )
    lot = decide(LOT_IN, policy(LOT_IN), RuleBook(), PLATE, 95, MONDAY_NOON)
    assert (lot.verdict, lot.session) == (Verdict.open, SessionAction.start)
    out = decide(LOT_OUT, policy(LOT_OUT), RuleBook(), PLATE, 95, MONDAY_NOON)
    assert (out.verdict, out.session) == (Verdict.open, SessionAction.end)


def test_order_disabled_then_confidence_then_black_then_white() -> None:
    both = book(b1=ListKind.blacklist, w1=ListKind.whitelist)
    off = decide(CAMPUS_IN, policy(CAMPUS_IN, enabled=False), both, PLATE, 99, MONDAY_NOON)
    assert off.reason == Reason.lane_disabled
    low = decide(CAMPUS_IN, policy(CAMPUS_IN), both, PLATE, 79, MONDAY_NOON)
    assert (low.verdict, low.reason, low.plate) == (Verdict.deny, Reason.low_confidence, "")
    black = decide(CAMPUS_IN, policy(CAMPUS_IN), both, PLATE, 80, MONDAY_NOON)
    assert (black.verdict, black.reason, black.rule) == (Verdict.deny, Reason.blacklist, "b1")
    white = decide(
        CAMPUS_IN, policy(CAMPUS_IN), book(w1=ListKind.whitelist), PLATE, 80, MONDAY_NOON
    )
    assert (white.verdict, white.reason, white.rule) == (Verdict.open, Reason.whitelist, "w1")


def test_low_confidence_at_a_parking_lot_is_refused_without_session() -> None:
    low = decide(LOT_IN, policy(LOT_IN), RuleBook(), PLATE, 10, MONDAY_NOON)
    assert (low.verdict, low.session) == (Verdict.deny, SessionAction.none)
    empty = decide(LOT_IN, policy(LOT_IN), RuleBook(), "", 99, MONDAY_NOON)
    assert empty.reason == Reason.low_confidence


def test_whitelist_validity() -> None:
    expired = RuleBook.build(
        entries=[
            (
                "w1",
                ListEntry(
                    plate=PLATE,
                    kind=ListKind.whitelist,
                    valid_until=MONDAY_NOON - timedelta(seconds=1),
                ),
            )
        ]
    )
    assert decide(CAMPUS_IN, policy(CAMPUS_IN), expired, PLATE, 95, MONDAY_NOON).reason == (
        Reason.default
    )


def rule_book(**fields: object) -> RuleBook:
    return RuleBook.build(rules=[("r1", AccessRule.model_validate({"name": "r", **fields}))])


def test_plate_rule_for_this_lane_and_hour() -> None:
    rules = rule_book(plate=PLATE, lanes=["c-in"], weekdays=[1], start="08:00", end="18:00")
    opened = decide(CAMPUS_IN, policy(CAMPUS_IN), rules, PLATE, 95, MONDAY_NOON)
    assert (opened.verdict, opened.reason, opened.rule) == (Verdict.open, Reason.rule, "r1")
    other_plate = decide(CAMPUS_IN, policy(CAMPUS_IN), rules, "京B12345", 95, MONDAY_NOON)
    assert other_plate.verdict == Verdict.deny
    tuesday = decide(CAMPUS_IN, policy(CAMPUS_IN), rules, PLATE, 95, MONDAY_NOON + timedelta(1))
    assert tuesday.verdict == Verdict.deny
    other_lane = LaneFacts("c-out", Direction.exit, SiteKind.campus)
    assert decide(other_lane, policy(other_lane), rules, PLATE, 95, MONDAY_NOON).verdict == (
        Verdict.deny
    )


def test_any_vehicle_rule_opens_even_without_a_plate() -> None:
    rules = rule_book(start="11:00", end="13:00")
    assert decide(CAMPUS_IN, policy(CAMPUS_IN), rules, "", 0, MONDAY_NOON).reason == Reason.rule
    late = MONDAY_NOON.replace(hour=14)
    assert decide(CAMPUS_IN, policy(CAMPUS_IN), rules, PLATE, 95, late).verdict == Verdict.deny


def test_window_across_midnight_belongs_to_its_start_day() -> None:
    monday = frozenset({1})
    night = (time(22, 0), time(6, 0))
    assert in_window(monday, *night, MONDAY_NOON.replace(hour=23))
    assert in_window(monday, *night, MONDAY_NOON.replace(hour=2) + timedelta(days=1))
    assert not in_window(monday, *night, MONDAY_NOON.replace(hour=2))  # Sunday night's tail
    assert not in_window(monday, *night, MONDAY_NOON)


@given(
    st.integers(0, 7 * 24 * 60 - 1),
    st.integers(0, 24 * 60 - 1),
    st.integers(0, 24 * 60 - 1),
    st.frozensets(st.integers(1, 7)),
)
def test_window_matches_brute_force(
    minute: int, start: int, end: int, days: frozenset[int]
) -> None:
    """Against a literal reading: the window opens at `start` on each listed day and lasts until
    `end` (the same day, or the next day when end < start)."""
    now = MONDAY_NOON.replace(hour=0) + timedelta(minutes=minute)
    length = (end - start) % (24 * 60)
    inside = False
    for back in (0, 1):
        day = now - timedelta(days=back)
        opens = day.replace(hour=start // 60, minute=start % 60)
        if day.isoweekday() in days and opens <= now <= opens + timedelta(minutes=length):
            inside = True
    as_time = (time(start // 60, start % 60), time(end // 60, end % 60))
    assert in_window(days, *as_time, now) == inside


@given(
    st.sampled_from([CAMPUS_IN, LOT_IN, LOT_OUT]),
    st.booleans(),
    st.integers(0, 100),
    st.sampled_from(list(DefaultAction)),
    st.lists(st.sampled_from(list(ListKind)), max_size=2),
)
def test_invariants(
    lane: LaneFacts, enabled: bool, confidence: int, action: DefaultAction, kinds: list[ListKind]
) -> None:
    rules = book(**{f"k{i}": kind for i, kind in enumerate(kinds)})
    lane_policy = LanePolicy(
        code=lane.code, enabled=enabled, default_action=action, min_confidence=50
    )
    decision = decide(lane, lane_policy, rules, PLATE, confidence, MONDAY_NOON)
    if not enabled:
        assert decision.reason == Reason.lane_disabled
    elif confidence < 50:
        assert decision.verdict == Verdict.deny and decision.plate == ""
    elif ListKind.blacklist in kinds:
        assert decision.verdict == Verdict.deny
    elif ListKind.whitelist in kinds:
        assert decision.verdict == Verdict.open
    else:
        assert (decision.verdict == Verdict.open) == (action == DefaultAction.open)
    if decision.session != SessionAction.none:
        assert lane.site_kind == SiteKind.parking_lot and decision.verdict == Verdict.open
