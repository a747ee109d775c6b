"""The pass decision, rule by rule, and a visitor pass's one use checked in the store."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from edge.engines.campus import CampusBook
from edge.engines.passes import PassLane, decide_pass
from edge.store import Store
from protocols.events import AccessDecided, Method, Reason, Verdict
from protocols.passes import issue, one_time_pass, registrant_pass, visitor_pass
from protocols.site import Direction
from protocols.sync import (
    AppointmentGrant,
    Entity,
    GateWindow,
    PassKeyGrant,
    RegistrantGrant,
    Revocation,
    SiteState,
    StateChange,
)

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY_NOON = datetime(2025, 11, 17, 12, 0, tzinfo=ZONE)
NOW = int(MONDAY_NOON.timestamp())
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KID = "k1"
NORTH_IN = PassLane("north-in", "north", Direction.entry)
NORTH_OUT = PassLane("north-out", "north", Direction.exit)
EAST_IN = PassLane("east-in", "east", Direction.entry)


def raw_public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


WEEKDAY_DAYTIME = GateWindow(gates=["north"], weekdays=[1, 2, 3, 4, 5], start=time(7), end=time(22))


def campus(
    windows: list[GateWindow] | None = None,
    enabled: bool = True,
    revoked: tuple[str, ...] = (),
    appointment_gates: list[str] | None = None,
) -> CampusBook:
    return CampusBook.build(
        registrants=[
            (
                "42",
                RegistrantGrant(
                    name="张老师",
                    kind="teacher",
                    enabled=enabled,
                    windows=[WEEKDAY_DAYTIME] if windows is None else windows,
                ),
            )
        ],
        appointments=[
            (
                "7",
                AppointmentGrant(
                    visitor="李访客",
                    plate="京B77777",
                    gates=appointment_gates or [],
                    window_start=MONDAY_NOON - timedelta(hours=1),
                    window_end=MONDAY_NOON + timedelta(hours=2),
                ),
            )
        ],
        keys=[(KID, PassKeyGrant(public_key=raw_public(KEY)))],
        revocations=[(subject, Revocation(reason="disabled")) for subject in revoked],
    )


def registrant_token(gates: list[str] | str = "all", at: int = NOW, subject: str = "42") -> str:
    gate_list = "all" if gates == "all" else list(gates)
    return issue(KEY, KID, registrant_pass(subject, gate_list, at - 5))


def visitor_token(gates: list[str] | str = "all") -> str:
    gate_list = "all" if gates == "all" else list(gates)
    claims = visitor_pass("7", gate_list, NOW - 3600, NOW + 7200)
    return issue(KEY, KID, claims)


def test_a_registrant_pass_in_a_window_opens() -> None:
    decision = decide_pass(NORTH_IN, True, campus(), registrant_token(), MONDAY_NOON)
    assert (decision.verdict, decision.reason, decision.subject) == (
        Verdict.open,
        Reason.registrant,
        "registrant:42",
    )
    assert decision.replay_key == "" and decision.name == "张老师"


def test_a_disabled_lane_refuses_before_reading_the_pass() -> None:
    decision = decide_pass(NORTH_IN, False, campus(), "garbage", MONDAY_NOON)
    assert (decision.verdict, decision.reason) == (Verdict.deny, Reason.lane_disabled)


def test_malformed_text_is_refused() -> None:
    for text in ("hello", "P1.!!!", "P1.AAAA"):
        decision = decide_pass(NORTH_IN, True, campus(), text, MONDAY_NOON)
        assert (decision.verdict, decision.reason, decision.subject) == (
            Verdict.deny,
            Reason.malformed,
            "",
        )


def test_unknown_key_is_refused() -> None:
    token = issue(KEY, "k9", registrant_pass("42", "all", NOW))
    decision = decide_pass(NORTH_IN, True, campus(), token, MONDAY_NOON)
    assert (decision.reason, decision.subject) == (Reason.unknown_key, "")


def test_bad_signature_is_refused_and_names_nobody() -> None:
    forged = issue(OTHER_KEY, KID, registrant_pass("42", "all", NOW))
    decision = decide_pass(NORTH_IN, True, campus(), forged, MONDAY_NOON)
    assert (decision.verdict, decision.reason, decision.subject) == (
        Verdict.deny,
        Reason.bad_signature,
        "",
    )


def test_expired_and_not_yet_valid_with_skew_tolerance() -> None:
    token = issue(KEY, KID, registrant_pass("42", "all", NOW - 60, lifetime_s=60))
    # Expired at NOW, but within the 5 s of skew a late clock still accepts it.
    assert decide_pass(NORTH_IN, True, campus(), token, MONDAY_NOON).reason == Reason.registrant
    late = MONDAY_NOON + timedelta(seconds=5)
    expired = decide_pass(NORTH_IN, True, campus(), token, late)
    assert (expired.reason, expired.subject) == (Reason.expired, "registrant:42")
    early = issue(KEY, KID, registrant_pass("42", "all", NOW + 30))
    refused = decide_pass(NORTH_IN, True, campus(), early, MONDAY_NOON)
    assert (refused.reason, refused.subject) == (Reason.not_yet_valid, "registrant:42")
    assert decide_pass(NORTH_IN, True, campus(), early, MONDAY_NOON, skew_s=30).verdict == (
        Verdict.open
    )


def test_wrong_gate_and_wrong_direction() -> None:
    decision = decide_pass(EAST_IN, True, campus(), registrant_token(["north"]), MONDAY_NOON)
    assert (decision.reason, decision.subject) == (Reason.wrong_gate, "registrant:42")
    way_in = issue(KEY, KID, visitor_pass("7", "all", NOW - 60, NOW + 60, direction=None))
    assert decide_pass(NORTH_OUT, True, campus(), way_in, MONDAY_NOON).verdict == Verdict.open
    from protocols.passes import Direction as PassDirection

    only_in = issue(KEY, KID, visitor_pass("7", "all", NOW - 60, NOW + 60, PassDirection.entry))
    refused = decide_pass(NORTH_OUT, True, campus(), only_in, MONDAY_NOON)
    assert (refused.reason, refused.subject) == (Reason.wrong_direction, "appointment:7")


def test_a_revoked_registrant_is_refused() -> None:
    book = campus(revoked=("registrant:42",))
    decision = decide_pass(NORTH_IN, True, book, registrant_token(), MONDAY_NOON)
    assert (decision.verdict, decision.reason, decision.subject) == (
        Verdict.deny,
        Reason.revoked,
        "registrant:42",
    )
    disabled = decide_pass(NORTH_IN, True, campus(enabled=False), registrant_token(), MONDAY_NOON)
    assert disabled.reason == Reason.revoked


def test_a_registrant_without_a_window_now_has_no_rule() -> None:
    night = MONDAY_NOON.replace(hour=23, minute=30)
    token = registrant_token(at=int(night.timestamp()))
    assert decide_pass(NORTH_IN, True, campus(), token, night).reason == Reason.no_rule
    # Windows of another gate, or none at all (a freshly imported registrant), are no rule.
    assert decide_pass(EAST_IN, True, campus(), registrant_token(), MONDAY_NOON).reason == (
        Reason.no_rule
    )
    assert decide_pass(NORTH_IN, True, campus(windows=[]), registrant_token(), MONDAY_NOON).reason
    unknown = registrant_token(subject="99")
    assert decide_pass(NORTH_IN, True, campus(), unknown, MONDAY_NOON).reason == Reason.no_rule


def test_a_window_past_midnight_belongs_to_the_day_it_started() -> None:
    late = GateWindow(weekdays=[1], start=time(22), end=time(2))  # Monday 22:00 to Tuesday 02:00
    tuesday_1am = MONDAY_NOON.replace(day=18, hour=1)
    token = registrant_token(at=int(tuesday_1am.timestamp()))
    assert decide_pass(NORTH_IN, True, campus([late]), token, tuesday_1am).verdict == Verdict.open


def test_a_visitor_pass_opens_inside_its_appointment_with_a_replay_key() -> None:
    decision = decide_pass(NORTH_IN, True, campus(), visitor_token(), MONDAY_NOON)
    assert (decision.verdict, decision.reason, decision.subject) == (
        Verdict.open,
        Reason.visitor,
        "appointment:7",
    )
    assert decision.replay_key == "visitor:7:in"
    out = decide_pass(NORTH_OUT, True, campus(), visitor_token(), MONDAY_NOON)
    assert out.replay_key == "visitor:7:out"


def test_a_visitor_outside_the_appointment_window_or_gates_is_refused() -> None:
    # The pass is still valid (issued for a longer window), but the appointment moved.
    later = MONDAY_NOON + timedelta(hours=2, minutes=30)
    long_pass = issue(KEY, KID, visitor_pass("7", "all", NOW - 3600, NOW + 4 * 3600))
    decision = decide_pass(NORTH_IN, True, campus(), long_pass, later)
    assert (decision.verdict, decision.reason, decision.subject) == (
        Verdict.deny,
        Reason.no_rule,
        "appointment:7",
    )
    east_only = campus(appointment_gates=["east"])
    assert decide_pass(NORTH_IN, True, east_only, visitor_token(), MONDAY_NOON).reason == (
        Reason.no_rule
    )
    cancelled = campus(revoked=("appointment:7",))
    assert decide_pass(NORTH_IN, True, cancelled, visitor_token(), MONDAY_NOON).reason == (
        Reason.revoked
    )


def test_a_one_time_pass_names_no_campus_grant() -> None:
    token = issue(KEY, KID, one_time_pass("x1", "all", NOW - 10, NOW + 60))
    decision = decide_pass(NORTH_IN, True, campus(), token, MONDAY_NOON)
    assert (decision.verdict, decision.reason) == (Verdict.deny, Reason.no_rule)


def test_a_registrant_pass_may_open_again_within_its_life() -> None:
    """Decided on purpose: a registrant pass is the registrant's identity for 60 s, not a
    ticket; the engine names no replay key, so the store lets it through again."""
    token = registrant_token()
    first = decide_pass(NORTH_IN, True, campus(), token, MONDAY_NOON)
    again = decide_pass(NORTH_IN, True, campus(), token, MONDAY_NOON + timedelta(seconds=20))
    assert first.verdict == again.verdict == Verdict.open
    assert again.replay_key == ""


def _record(decision_reason: Reason = Reason.visitor) -> AccessDecided:
    return AccessDecided(
        site="campus",
        gate="north",
        lane="north-in",
        direction=Direction.entry,
        plate="",
        confidence=0,
        verdict=Verdict.open,
        reason=decision_reason,
        method=Method.qr_pass,
        subject="appointment:7",
        read_at=datetime.now(UTC),
    )


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    return await Store.open(tmp_path / "edge.db")


async def test_a_replayed_visitor_pass_is_refused_and_recorded(store: Store) -> None:
    try:
        decision = decide_pass(NORTH_IN, True, campus(), visitor_token(), MONDAY_NOON)
        first, written = await store.record_pass_decision(
            _record(), decision.replay_key, decision.expires_at
        )
        assert not first.replayed and written.verdict == Verdict.open
        second, refused = await store.record_pass_decision(
            _record(), decision.replay_key, decision.expires_at
        )
        assert second.replayed
        assert (refused.verdict, refused.reason, refused.subject) == (
            Verdict.deny,
            Reason.replayed,
            "appointment:7",
        )
        events = await store.pending(10, 1_000_000)
        assert [(e.payload["verdict"], e.payload["reason"]) for e in events] == [
            ("open", "visitor"),
            ("deny", "replayed"),
        ]
        assert [r.reason for r in await store.access_records()] == [
            Reason.replayed,
            Reason.visitor,
        ]
        # The way out is another use of the same appointment.
        out = decide_pass(NORTH_OUT, True, campus(), visitor_token(), MONDAY_NOON)
        exit_record, _ = await store.record_pass_decision(
            _record().model_copy(update={"lane": "north-out"}), out.replay_key, out.expires_at
        )
        assert not exit_record.replayed
    finally:
        await store.close()


async def test_a_replay_key_survives_a_restart(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "edge.db")
    await store.record_pass_decision(_record(), "visitor:7:in", NOW + 7200)
    await store.close()
    store = await Store.open(tmp_path / "edge.db")
    try:
        again, _ = await store.record_pass_decision(_record(), "visitor:7:in", NOW + 7200)
        assert again.replayed
    finally:
        await store.close()


async def test_state_applied_to_the_store_reaches_the_campus_book(store: Store) -> None:
    try:
        await store.apply_state(
            SiteState(
                site="campus",
                revision=1,
                full=True,
                changes=[
                    StateChange(
                        entity=Entity.pass_key, key=KID, data={"public_key": raw_public(KEY)}
                    ),
                    StateChange(
                        entity=Entity.registrant,
                        key="42",
                        data=RegistrantGrant(
                            name="张老师", kind="teacher", windows=[WEEKDAY_DAYTIME]
                        ).model_dump(mode="json"),
                    ),
                ],
            )
        )
        book = store.book("campus").campus
        assert set(book.keys) == {KID} and set(book.registrants) == {"42"}
        key_object = book.keys[KID]
        decision = decide_pass(NORTH_IN, True, book, registrant_token(), MONDAY_NOON)
        assert decision.verdict == Verdict.open
        await store.apply_state(
            SiteState(
                site="campus",
                revision=2,
                full=False,
                changes=[
                    StateChange(entity=Entity.revocation, key="registrant:42", data={"reason": "x"})
                ],
            )
        )
        book = store.book("campus").campus
        assert book.revoked == {"registrant:42": "x"}
        assert decide_pass(NORTH_IN, True, book, registrant_token(), MONDAY_NOON).reason == (
            Reason.revoked
        )
        assert book.keys[KID] is not key_object  # rebuilt per change, not per scan
    finally:
        await store.close()
