"""The edge store: one-transaction decisions, outbox order and acks, atomic state application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.store import Store, StoreError
from protocols.events import AccessDecided, Reason, Verdict
from protocols.site import Direction
from protocols.sync import Entity, ListKind, SiteState, StateChange


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
