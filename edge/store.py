"""The edge's local SQLite store: access records, parking sessions, synced state caches, outbox."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from edge.engines.gate import RuleBook
from protocols.events import AccessDecided, ParkingSessionEnded, ParkingSessionStarted, Payload
from protocols.sync import (
    ENTITY_MODELS,
    AccessRule,
    Entity,
    Event,
    LanePolicy,
    ListEntry,
    SiteState,
)

SCHEMA = """
create table if not exists outbox (
    seq integer primary key autoincrement,  -- autoincrement: a seq is never reused after ack
    uuid text not null unique,
    type text not null,
    site text not null,
    occurred_at text not null,
    payload text not null
);
create table if not exists access_record (
    uuid text primary key,
    site text not null,
    lane text not null,
    plate text not null,
    verdict text not null,
    reason text not null,
    decided_at text not null,
    record text not null
);
create index if not exists access_record_plate on access_record (plate, decided_at);
create table if not exists parking_session (
    uuid text primary key,
    site text not null,
    plate text not null,
    entry_lane text not null,
    entered_at text not null,
    exit_lane text,
    exited_at text
);
create unique index if not exists parking_session_open
    on parking_session (site, plate) where exited_at is null;
create table if not exists state_cache (
    site text not null,
    entity text not null,
    key text not null,
    data text not null,
    primary key (site, entity, key)
);
create table if not exists site_revision (
    site text primary key,
    revision integer not null
);
"""


class StoreError(Exception):
    """The store refused a write (bad synced data); nothing was changed."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What record_decision committed: the access record's uuid and its parking session."""

    record: str
    session: str


def _now() -> datetime:
    return datetime.now(UTC)


def _row(event_type: str, site: str, occurred_at: datetime, payload: Payload) -> tuple[str, ...]:
    return (
        str(uuid.uuid4()),
        event_type,
        site,
        occurred_at.isoformat(),
        payload.model_dump_json(),
    )


_Statement = tuple[str, Sequence[Sequence[Any]]]

_INSERT_OUTBOX = (
    "insert into outbox (uuid, type, site, occurred_at, payload) values (?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class _SessionChange:
    session: str = ""
    sql: tuple[str, tuple[Any, ...]] | None = None
    events: tuple[tuple[str, ...], ...] = ()
    opens: bool = False
    closes: bool = False


def _session_change(
    record: AccessDecided, action: str, opened: str, now: datetime
) -> _SessionChange:
    """The parking-session rows and events one decision implies, given the plate's open session."""
    if action == "start" and opened:
        return _SessionChange(session=opened)
    if action == "start":
        session = str(uuid.uuid4())
        started = ParkingSessionStarted(
            session=session,
            site=record.site,
            lane=record.lane,
            plate=record.plate,
            entered_at=now,
        )
        return _SessionChange(
            session=session,
            sql=(
                "insert into parking_session (uuid, site, plate, entry_lane, entered_at)"
                " values (?, ?, ?, ?, ?)",
                (session, record.site, record.plate, record.lane, now.isoformat()),
            ),
            events=(_row("parking.session_started", record.site, now, started),),
            opens=True,
        )
    if action == "end" and opened:
        ended = ParkingSessionEnded(
            session=opened, site=record.site, lane=record.lane, plate=record.plate, exited_at=now
        )
        return _SessionChange(
            session=opened,
            sql=(
                "update parking_session set exit_lane = ?, exited_at = ? where uuid = ?",
                (record.lane, now.isoformat(), opened),
            ),
            events=(_row("parking.session_ended", record.site, now, ended),),
            closes=True,
        )
    return _SessionChange()


class Store:
    """One aiosqlite connection; a lock serialises writes so transactions never interleave."""

    def __init__(self, db: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._db = db
        self._last_commit = 0.0
        self._commits_since_checkpoint = 0
        # Reads for sync and health use their own connection: in WAL mode it sees only
        # committed rows and never waits for (or delays) a decision's transaction.
        self._reader = reader
        self._lock = asyncio.Lock()
        self._books: dict[str, RuleBook] = {}
        self._revisions: dict[str, int] = {}
        # Open sessions mirrored in memory so a decision never has to query for them.
        self._open_sessions: dict[tuple[str, str], str] = {}
        self.committed = asyncio.Event()

    @classmethod
    async def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("pragma journal_mode=wal")
        # FULL: a commit is on disk before the barrier moves, so a power cut loses nothing acted on.
        await db.execute("pragma synchronous=full")
        # Checkpoints run from the reader's thread (checkpoint_forever), not inside a decision.
        await db.execute("pragma wal_autocheckpoint=0")
        await db.executescript(SCHEMA)
        reader = await aiosqlite.connect(path, isolation_level=None)
        store = cls(db, reader)
        await store._load()
        return store

    async def close(self) -> None:
        await self._reader.close()
        await self._db.close()

    async def _load(self) -> None:
        rows = await self._db.execute_fetchall("select site, revision from site_revision")
        self._revisions = {str(site): int(revision) for site, revision in rows}
        sites = await self._db.execute_fetchall("select distinct site from state_cache")
        for (site,) in sites:
            await self._reload_book(str(site))
        rows = await self._db.execute_fetchall(
            "select site, plate, uuid from parking_session where exited_at is null"
        )
        self._open_sessions = {(str(site), str(plate)): str(key) for site, plate, key in rows}

    async def _reload_book(self, site: str) -> None:
        rows = await self._db.execute_fetchall(
            "select entity, key, data from state_cache where site = ?", (site,)
        )
        entries: list[tuple[str, ListEntry]] = []
        rules: list[tuple[str, AccessRule]] = []
        policies: list[LanePolicy] = []
        for entity, key, data in rows:
            if entity == Entity.list_entry:
                entries.append((key, ListEntry.model_validate_json(data)))
            elif entity == Entity.access_rule:
                rules.append((key, AccessRule.model_validate_json(data)))
            elif entity == Entity.lane_policy:
                policies.append(LanePolicy.model_validate_json(data))
        self._books[site] = RuleBook.build(entries, rules, policies)

    # --- the hot path ---------------------------------------------------------------------------

    def book(self, site: str) -> RuleBook:
        """The site's cached lists and rules, held in memory (rebuilt after each state apply)."""
        return self._books.get(site) or RuleBook()

    def open_session(self, site: str, plate: str) -> str:
        return self._open_sessions.get((site, plate), "")

    async def record_decision(self, record: AccessDecided, session: str = "") -> Recorded:
        """Write the access record, its parking-session change and their events in ONE transaction.

        `session` is "start" or "end" (or "" for none). At an entry a plate that already has an
        open session keeps it (cameras often read one car twice); at an exit without one there
        is nothing to close. Returns once the transaction is durable.
        """
        async with self._lock:
            # Decided under the lock, so two reads of one plate cannot both open a session.
            now = _now()
            key = (record.site, record.plate)
            opened = self._open_sessions.get(key, "")
            change = _session_change(record, session, opened, now)
            if change.session:
                record = record.model_copy(update={"session": change.session})
            decided = _row("access.decided", record.site, now, record)
            statements: list[_Statement] = [
                (
                    "insert into access_record values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            decided[0],
                            record.site,
                            record.lane,
                            record.plate,
                            record.verdict,
                            record.reason,
                            now.isoformat(),
                            decided[4],
                        )
                    ],
                ),
                (_INSERT_OUTBOX, [decided, *change.events]),
            ]
            if change.sql is not None:
                statements.append((change.sql[0], [change.sql[1]]))
            await self._transaction(statements)
            if change.opens:
                self._open_sessions[key] = change.session
            elif change.closes:
                self._open_sessions.pop(key, None)
        self.committed.set()
        return Recorded(record=decided[0], session=change.session)

    async def record_event(self, event_type: str, site: str, payload: Payload) -> None:
        """Append one event on its own (device faults and other facts that change no state)."""
        async with self._lock:
            await self._db.execute(_INSERT_OUTBOX, _row(event_type, site, _now(), payload))
        self.committed.set()

    async def _transaction(self, statements: list[_Statement]) -> None:
        """Run statements as one transaction in ONE hop to the connection's thread: on the hot
        path each extra hop costs a thread handoff, which dominated decision latency."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("begin immediate")
            try:
                for sql, rows in statements:
                    conn.executemany(sql, rows)
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise

        # aiosqlite has no public "run this callable on the connection thread"; _execute is it.
        await self._db._execute(run, self._db._conn)
        self._last_commit = time.monotonic()
        self._commits_since_checkpoint += 1

    async def checkpoint_forever(self, quiet_s: float = 0.5, most_commits: int = 20_000) -> None:
        """Fold the WAL into the database when the lanes are quiet, or after many commits.

        A checkpoint's own fsync competes with the decisions' commit fsyncs on the same disk,
        so doing it in the middle of traffic would stretch the slowest decisions; under endless
        traffic the WAL is still folded every `most_commits` commits (tens of MB).
        """
        while True:
            await asyncio.sleep(quiet_s)
            quiet = time.monotonic() - self._last_commit >= quiet_s
            if self._commits_since_checkpoint and (
                quiet or self._commits_since_checkpoint >= most_commits
            ):
                self._commits_since_checkpoint = 0
                # PASSIVE never blocks the writer; the next writer reuses the WAL from its start.
                await self._reader.execute("pragma wal_checkpoint(PASSIVE)")

    # --- outbox ---------------------------------------------------------------------------------

    async def pending(self, limit: int, max_bytes: int) -> list[Event]:
        """The oldest unacknowledged events in seq order, at most limit events and ~max_bytes."""
        rows = await self._reader.execute_fetchall(
            "select seq, uuid, type, site, occurred_at, payload from outbox order by seq limit ?",
            (limit,),
        )
        events: list[Event] = []
        size = 0
        for seq, key, event_type, site, occurred_at, payload in rows:
            size += len(payload) + 200  # envelope fields, generously
            if events and size > max_bytes:
                break
            events.append(
                Event(
                    seq=seq,
                    uuid=key,
                    type=event_type,
                    site=site,
                    occurred_at=datetime.fromisoformat(occurred_at),
                    payload=json.loads(payload),
                )
            )
        return events

    async def pending_count(self) -> int:
        rows = await self._reader.execute_fetchall("select count(*) from outbox")
        return int(next(iter(rows))[0])

    async def ack(self, upto_seq: int) -> int:
        """Drop events the cloud holds (seq <= upto_seq); returns how many were dropped."""
        async with self._lock:
            cursor = await self._db.execute("delete from outbox where seq <= ?", (upto_seq,))
            return cursor.rowcount

    # --- synced state ---------------------------------------------------------------------------

    def revisions(self) -> dict[str, int]:
        return dict(self._revisions)

    async def apply_state(self, state: SiteState) -> None:
        """Apply a snapshot (replacing the site's caches) or a delta, and its revision, at once."""
        writes: list[tuple[str, str, str | None]] = []
        for change in state.changes:
            data = None
            if change.data is not None:
                try:
                    model = ENTITY_MODELS[change.entity].model_validate(change.data)
                except ValueError as exc:
                    raise StoreError(f"{state.site} {change.entity} {change.key}: {exc}") from None
                data = model.model_dump_json()
            writes.append((change.entity.value, change.key, data))
        async with self._lock:
            statements: list[_Statement] = []
            if state.full:
                statements.append(("delete from state_cache where site = ?", [(state.site,)]))
            statements += [
                (
                    "insert or replace into state_cache values (?, ?, ?, ?)",
                    [(state.site, e, k, d) for e, k, d in writes if d is not None],
                ),
                (
                    "delete from state_cache where site = ? and entity = ? and key = ?",
                    [(state.site, e, k) for e, k, d in writes if d is None],
                ),
                (
                    "insert or replace into site_revision values (?, ?)",
                    [(state.site, state.revision)],
                ),
            ]
            await self._transaction(statements)
            await self._reload_book(state.site)
        self._revisions[state.site] = state.revision

    # --- reading back (health page, tests) ------------------------------------------------------

    async def access_records(self, limit: int = 100) -> list[AccessDecided]:
        rows = await self._reader.execute_fetchall(
            "select record from access_record order by decided_at desc, rowid desc limit ?",
            (limit,),
        )
        return [AccessDecided.model_validate_json(record) for (record,) in rows]
