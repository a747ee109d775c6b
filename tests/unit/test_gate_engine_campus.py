"""The gate decision for campus plates: registrants' vehicles and visitors' appointments."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edge.engines.campus import CampusBook
from edge.engines.gate import LaneFacts, RuleBook, decide, default_policy
from protocols.events import Reason, Verdict
from protocols.site import Direction, SiteKind
from protocols.sync import (
    AccessRule,
    AppointmentGrant,
    GateWindow,
    ListEntry,
    ListKind,
    RegistrantGrant,
    Revocation,
    VehicleGrant,
)

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY_NOON = datetime(2025, 11, 17, 12, 0, tzinfo=ZONE)
NORTH_IN = LaneFacts("north-in", Direction.entry, SiteKind.campus, "north")
EAST_IN = LaneFacts("east-in", Direction.entry, SiteKind.campus, "east")
POLICY = default_policy("north-in", SiteKind.campus, 80)
CAR = "京A12345"
GUEST = "京B77777"


def book(
    enabled: bool = True,
    revoked: bool = False,
    valid_until: date | None = None,
    windows: list[GateWindow] | None = None,
    entries: list[tuple[str, ListEntry]] | None = None,
    rules: list[tuple[str, AccessRule]] | None = None,
    appointment_hours: tuple[int, int] = (-1, 2),
    appointment_gates: list[str] | None = None,
) -> RuleBook:
    start, end = appointment_hours
    campus = CampusBook.build(
        registrants=[
            (
                "42",
                RegistrantGrant(
                    name="张老师",
                    kind="teacher",
                    enabled=enabled,
                    windows=windows
                    if windows is not None
                    else [GateWindow(gates=["north"], weekdays=[1, 2, 3, 4, 5])],
                ),
            )
        ],
        vehicles=[(CAR, VehicleGrant(registrant="42", kind="motor", valid_until=valid_until))],
        appointments=[
            (
                "7",
                AppointmentGrant(
                    visitor="李访客",
                    plate=GUEST,
                    gates=appointment_gates or [],
                    window_start=MONDAY_NOON + timedelta(hours=start),
                    window_end=MONDAY_NOON + timedelta(hours=end),
                ),
            )
        ],
        revocations=[("registrant:42", Revocation(reason="disabled"))] if revoked else [],
    )
    return RuleBook.build(entries or [], rules or [], [], campus)


def test_a_registrants_vehicle_opens_in_a_window() -> None:
    decision = decide(NORTH_IN, POLICY, book(), CAR, 95, MONDAY_NOON)
    assert (decision.verdict, decision.reason, decision.subject) == (
        Verdict.open,
        Reason.registrant,
        "registrant:42",
    )


def test_a_registrants_vehicle_outside_its_windows_has_no_rule() -> None:
    saturday = MONDAY_NOON + timedelta(days=5)
    decision = decide(NORTH_IN, POLICY, book(), CAR, 95, saturday)
    assert (decision.verdict, decision.reason, decision.subject) == (
        Verdict.deny,
        Reason.no_rule,
        "registrant:42",
    )
    other_gate = decide(EAST_IN, POLICY, book(), CAR, 95, MONDAY_NOON)
    assert other_gate.reason == Reason.no_rule
    assert decide(NORTH_IN, POLICY, book(windows=[]), CAR, 95, MONDAY_NOON).reason == (
        Reason.no_rule
    )


def test_a_disabled_or_revoked_registrant_does_not_open() -> None:
    revoked = decide(NORTH_IN, POLICY, book(revoked=True), CAR, 95, MONDAY_NOON)
    assert (revoked.verdict, revoked.reason) == (Verdict.deny, Reason.revoked)
    disabled = decide(NORTH_IN, POLICY, book(enabled=False), CAR, 95, MONDAY_NOON)
    assert disabled.verdict == Verdict.deny


def test_a_vehicle_past_its_last_valid_day_is_a_stranger() -> None:
    today = MONDAY_NOON.date()
    assert decide(NORTH_IN, POLICY, book(valid_until=today), CAR, 95, MONDAY_NOON).verdict == (
        Verdict.open
    )
    expired = decide(
        NORTH_IN, POLICY, book(valid_until=today - timedelta(days=1)), CAR, 95, MONDAY_NOON
    )
    assert (expired.verdict, expired.reason, expired.subject) == (Verdict.deny, Reason.default, "")


def test_lists_come_before_campus_grants() -> None:
    black = [("b1", ListEntry(plate=CAR, kind=ListKind.blacklist))]
    assert decide(NORTH_IN, POLICY, book(entries=black), CAR, 95, MONDAY_NOON).reason == (
        Reason.blacklist
    )
    white = [("w1", ListEntry(plate=CAR, kind=ListKind.whitelist))]
    assert decide(NORTH_IN, POLICY, book(entries=white), CAR, 95, MONDAY_NOON).reason == (
        Reason.whitelist
    )


def test_an_access_rule_still_opens_for_a_registrant_out_of_window() -> None:
    rule = [("r1", AccessRule(name="any", plate=CAR))]
    saturday = MONDAY_NOON + timedelta(days=5)
    decision = decide(NORTH_IN, POLICY, book(rules=rule), CAR, 95, saturday)
    assert (decision.verdict, decision.reason, decision.rule, decision.subject) == (
        Verdict.open,
        Reason.rule,
        "r1",
        "registrant:42",
    )


def test_a_visitors_plate_opens_inside_the_appointment() -> None:
    decision = decide(NORTH_IN, POLICY, book(), GUEST, 95, MONDAY_NOON)
    assert (decision.verdict, decision.reason, decision.subject) == (
        Verdict.open,
        Reason.visitor,
        "appointment:7",
    )


def test_a_visitors_plate_outside_the_window_or_gates_is_refused() -> None:
    early = decide(NORTH_IN, POLICY, book(appointment_hours=(1, 3)), GUEST, 95, MONDAY_NOON)
    assert (early.verdict, early.reason, early.subject) == (
        Verdict.deny,
        Reason.no_rule,
        "appointment:7",
    )
    east = book(appointment_gates=["east"])
    assert decide(NORTH_IN, POLICY, east, GUEST, 95, MONDAY_NOON).verdict == Verdict.deny
    assert decide(EAST_IN, POLICY, east, GUEST, 95, MONDAY_NOON).verdict == Verdict.open


def test_strangers_and_low_confidence_reads_keep_their_reasons() -> None:
    stranger = decide(NORTH_IN, POLICY, book(), "沪C00001", 95, MONDAY_NOON)
    assert (stranger.verdict, stranger.reason, stranger.subject) == (
        Verdict.deny,
        Reason.default,
        "",
    )
    low = decide(NORTH_IN, POLICY, book(), CAR, 50, MONDAY_NOON)
    assert low.reason == Reason.low_confidence


def test_a_night_window_at_the_gate() -> None:
    night = [GateWindow(gates=[], weekdays=[1], start=time(22), end=time(6))]
    tuesday_3am = MONDAY_NOON.replace(day=18, hour=3)
    assert decide(NORTH_IN, POLICY, book(windows=night), CAR, 95, tuesday_3am).verdict == (
        Verdict.open
    )
    wednesday_3am = MONDAY_NOON.replace(day=19, hour=3)
    assert decide(NORTH_IN, POLICY, book(windows=night), CAR, 95, wednesday_3am).verdict == (
        Verdict.deny
    )
