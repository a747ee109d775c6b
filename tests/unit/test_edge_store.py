"""The edge store: one-transaction decisions, outbox order and acks, atomic state application."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from edge.commands import INTERRUPTED, Commands
from edge.store import _PENDING, Store, StoreError
from protocols.events import AccessDecided, CommandStatus, Reason, Verdict
from protocols.site import Direction
from protocols.sync import (
    Command,
    CommandKind,
    Entity,
    ListKind,
    PushRequest,
    SiteState,
    StateChange,
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "edge.db")
    yield opened
    await opened.close()


def decided(plate: str = "粤B12345", lane: str = "p-in") -> AccessDecided:
    return AccessDecided(
        site="lot",
        gate="g",
        lane=lane,
        direction=Direction.entry,
        plate=plate,
        confidence=95,
        verdict=Verdict.open,
        reason=Reason.default,
        read_at=datetime.now(UTC),
    )


async def test_decision_with_session_is_one_batch_of_events(store: Store) -> None:
    first = await store.record_decision(decided(), "start")
    assert first.session
    again = await store.record_decision(decided(), "start")
    assert again.session == first.session, "a double read keeps the open session"
    closed = await store.record_decision(decided(lane="p-out"), "end")
    assert closed.session == first.session and store.open_session("lot", "粤B12345") == ""
    events = await store.pending(100, 1_000_000)
    assert [e.type for e in events] == [
        "access.decided",
        "parking.session_started",
        "access.decided",
        "access.decided",
        "parking.session_ended",
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].payload["session"] == first.session


async def test_ack_drops_only_acknowledged_and_seqs_are_never_reused(
    store: Store, tmp_path: Path
) -> None:
    for n in range(5):
        await store.record_decision(decided(f"粤B1234{n}"))
    assert await store.ack(3) == 3
    assert [e.seq for e in await store.pending(100, 1_000_000)] == [4, 5]
    await store.ack(5)
    await store.record_decision(decided())
    assert [e.seq for e in await store.pending(100, 1_000_000)] == [6]
    await store.close()
    reopened = await Store.open(tmp_path / "edge.db")
    try:
        await reopened.record_decision(decided())
        assert [e.seq for e in await reopened.pending(100, 1_000_000)] == [6, 7]
    finally:
        await reopened.close()
    await store.close()  # the fixture closes it again: closing twice is harmless


async def test_pending_respects_limits(store: Store) -> None:
    for n in range(10):
        await store.record_decision(decided(f"粤B1234{n}"))
    assert len(await store.pending(4, 1_000_000)) == 4
    assert len(await store.pending(100, 1)) == 1, "one event always fits"
    assert len(await store.pending(100, 2000)) < 10


def change(key: str, kind: ListKind | None, plate: str = "粤B12345") -> StateChange:
    data = None if kind is None else {"plate": plate, "kind": kind}
    return StateChange(entity=Entity.list_entry, key=key, data=data)


async def test_state_snapshot_then_delta(store: Store) -> None:
    await store.apply_state(
        SiteState(site="lot", revision=3, full=True, changes=[change("b1", ListKind.blacklist)])
    )
    assert store.revisions() == {"lot": 3}
    assert "粤B12345" in store.book("lot").lists
    await store.apply_state(
        SiteState(
            site="lot",
            revision=4,
            full=False,
            changes=[change("b1", None), change("w1", ListKind.whitelist, "京A11111")],
        )
    )
    assert list(store.book("lot").lists) == ["京A11111"]
    await store.apply_state(SiteState(site="lot", revision=9, full=True, changes=[]))
    assert store.book("lot").lists == {} and store.revisions() == {"lot": 9}


async def test_bad_state_changes_nothing(store: Store) -> None:
    await store.apply_state(
        SiteState(site="lot", revision=1, full=True, changes=[change("b1", ListKind.blacklist)])
    )
    bad = StateChange(entity=Entity.access_rule, key="r1", data={"weekdays": "often"})
    with pytest.raises(StoreError, match="r1"):
        await store.apply_state(SiteState(site="lot", revision=2, full=True, changes=[bad]))
    assert store.revisions() == {"lot": 1} and "粤B12345" in store.book("lot").lists


async def test_caches_survive_a_restart(store: Store, tmp_path: Path) -> None:
    await store.record_decision(decided(), "start")
    await store.apply_state(
        SiteState(site="lot", revision=2, full=True, changes=[change("b1", ListKind.blacklist)])
    )
    await store.close()
    reopened = await Store.open(tmp_path / "edge.db")
    try:
        assert reopened.revisions() == {"lot": 2}
        assert "粤B12345" in reopened.book("lot").lists
        assert reopened.open_session("lot", "粤B12345")
    finally:
        await reopened.close()


# --- outbox disk budget ------------------------------------------------------------------------


async def budget_events(store: Store) -> list[dict[str, object]]:
    events = await store.pending(10_000, 100_000_000)
    return [e.payload for e in events if e.type == "edge.outbox_budget"]


async def test_budget_alarm_is_raised_once_and_cleared_once(tmp_path: Path) -> None:
    path = tmp_path / "budget.db"
    store = await Store.open(path, budget_bytes=20_000, alarm_site="lot")
    try:
        for n in range(60):  # about 900 bytes a decision: well past 20 kB, all kept
            await store.record_decision(decided(f"粤B{n:05d}"))
        assert store.over_budget and store.outbox_rows == 61
        (raised,) = await budget_events(store)
        assert raised["exceeded"] is True and raised["site"] == "lot"
        assert raised["budget_bytes"] == 20_000 and int(str(raised["used_bytes"])) > 20_000
    finally:
        await store.close()
    # A restart remembers the alarm is up: no second one.
    store = await Store.open(path, budget_bytes=20_000, alarm_site="lot")
    try:
        await store.record_decision(decided("粤B99999"))
        assert len(await budget_events(store)) == 1
        events = await store.pending(10_000, 100_000_000)
        await store.ack(events[10].seq)  # still over
        assert store.over_budget and len(await budget_events(store)) == 1
        await store.ack(events[-1].seq)  # drained: the all-clear, recorded with the ack
        assert not store.over_budget
        (cleared,) = await budget_events(store)
        assert cleared["exceeded"] is False and int(str(cleared["used_bytes"])) < 20_000
        await store.record_decision(decided("粤B88888"))
        assert len(await budget_events(store)) == 1, "no new alarm under the budget"
    finally:
        await store.close()


async def test_outbox_size_estimate_matches_what_start_up_counts(tmp_path: Path) -> None:
    """The in-memory estimate (moved by inserts and acks) equals the SQL sum at start-up."""
    store = await Store.open(tmp_path / "edge.db", budget_bytes=10_000, alarm_site="lot")
    for n in range(30):
        await store.record_decision(decided(f"粤B{n:05d}"), "start" if n % 2 else "")
    await store.ack(7)
    rows, size = store.outbox_rows, store.outbox_bytes
    await store.close()
    reopened = await Store.open(tmp_path / "edge.db")
    try:
        assert (reopened.outbox_rows, reopened.outbox_bytes) == (rows, size)
        assert rows == await reopened.pending_count()
    finally:
        await reopened.close()


# --- reading the outbox for sync ---------------------------------------------------------------


async def test_pending_batch_is_a_push_request_body(store: Store) -> None:
    for n in range(10):
        await store.record_decision(decided(f"粤B{n:05d}"), "start")
    batch = await store.pending_batch(0, 7, 1_000_000)
    assert batch is not None and (batch.first, batch.last, batch.count) == (1, 7, 7)
    parsed = PushRequest.model_validate_json(batch.body)
    assert parsed.events == await store.pending(7, 1_000_000)
    after = await store.pending_batch(7, 100, 1_000_000)
    assert after is not None and (after.first, after.last) == (8, 20)
    small = await store.pending_batch(0, 100, 2_000)
    assert small is not None and 1 <= small.count < 10 and len(small.body) <= 2_000
    assert await store.pending_batch(20, 100, 1_000_000) is None


async def test_outbox_read_walks_the_primary_key(store: Store, tmp_path: Path) -> None:
    """No scan of acked history and no sort: the plan searches the seq (rowid) b-tree."""
    db = sqlite3.connect(tmp_path / "edge.db")
    try:
        plan = " ".join(
            str(row[-1]) for row in db.execute(f"explain query plan {_PENDING}", (0, 1))
        )
    finally:
        db.close()
    assert "INTEGER PRIMARY KEY" in plan and "TEMP B-TREE" not in plan, plan


# --- commands ----------------------------------------------------------------------------------


def command(expires_in_s: float = 60) -> Command:
    now = datetime.now(UTC)
    return Command(
        id=uuid4(),
        kind=CommandKind.open_barrier,
        site="lot",
        lane="p-in",
        issued_at=now,
        expires_at=now + timedelta(seconds=expires_in_s),
    )


async def test_command_interrupted_by_a_restart_is_reported_not_rerun(
    store: Store, tmp_path: Path
) -> None:
    order = command()
    await store.start_command(str(order.id))  # the edge died while driving the barrier
    await store.close()
    reopened = await Store.open(tmp_path / "edge.db")
    try:
        commands = Commands(reopened, None)
        assert await commands.handle(order) == CommandStatus.failed
        assert await commands.handle(order) is None, "a redelivery changes nothing"
        assert commands.executed == 0
        results = [e for e in await reopened.pending(100, 1_000_000) if e.type == "command.result"]
        assert len(results) == 1 and results[0].payload["detail"] == INTERRUPTED
        assert await reopened.command_state(str(order.id)) == "failed"
    finally:
        await reopened.close()


async def test_expiry_is_judged_by_the_edge_clock(store: Store) -> None:
    order = command(expires_in_s=30)
    late = Commands(store, None, now=lambda: order.expires_at + timedelta(seconds=1))
    assert await late.handle(order) == CommandStatus.expired
    assert await late.handle(order) is None
    (result,) = [e for e in await store.pending(100, 1_000_000) if e.type == "command.result"]
    assert result.payload["status"] == "expired" and late.executed == 0
