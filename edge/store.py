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
from pydantic import BaseModel

from edge.engines.campus import CampusBook
from edge.engines.gate import RuleBook
from protocols.events import (
    AccessDecided,
    CommandResult,
    OutboxBudget,
    ParkingSessionEnded,
    ParkingSessionStarted,
    Payload,
    Reason,
    Verdict,
)
from protocols.sync import (
    ENTITY_MODELS,
    AccessRule,
    AppointmentGrant,
    Entity,
    Event,
    LanePolicy,
    ListEntry,
    PassKeyGrant,
    RegistrantGrant,
    Revocation,
    SiteState,
    VehicleGrant,
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
-- Commands from the cloud: 'started' before the device is driven, then done/failed/expired in
-- the transaction of their command.result event. A command seen here never runs again.
create table if not exists command (
    id text primary key,
    state text not null,
    updated_at text not null
);
-- Passes that open once (per direction): the key of each use, checked and inserted in the
-- transaction that records the decision. Rows past expires_at (epoch s) are pruned.
create table if not exists pass_use (
    key text primary key,
    lane text not null,
    used_at text not null,
    expires_at real not null
);
create index if not exists pass_use_expiry on pass_use (expires_at);
-- Small durable flags (the outbox budget alarm's state, so a restart does not raise it again;
-- per site the OCPP local authorisation list version, bumped with every id_tag change).
create table if not exists edge_flag (
    name text primary key,
    value integer not null
);
-- OCPP transactions this edge issued (id = the transactionId, strictly increasing, never
-- reused); start_key recognises a resent StartTransaction. Readings are kept until billed.
create table if not exists charging_transaction (
    id integer primary key,
    site text not null,
    charge_point text not null,
    connector integer not null,
    order_uuid text not null,
    id_tag text not null,
    method text not null,
    meter_start integer not null,
    started_at text not null,
    start_key text not null,
    tariff text not null,
    tariff_version text,
    reservation_id integer,
    stopped_at text,
    meter_stop integer,
    stop_reason text
);
create unique index if not exists charging_transaction_start
    on charging_transaction (charge_point, start_key);
create index if not exists charging_transaction_open
    on charging_transaction (stopped_at) where stopped_at is null;
create table if not exists charging_reading (
    transaction_id integer not null,
    at text not null,
    wh integer not null
);
create index if not exists charging_reading_tx on charging_reading (transaction_id);
-- What each charger said in its last BootNotification (kept across reconnects and restarts).
create table if not exists charger_boot (
    charge_point text primary key,
    vendor text not null,
    model text not null,
    firmware text not null,
    booted_at text not null
);
"""

# What one outbox row costs on disk, estimated the same way in SQL (start-up, acks) and in
# Python (inserts): its text fields' UTF-8 bytes, the uuid once more for its unique index,
# and a fixed allowance for the row header, the seq and the index entry.
ROW_OVERHEAD = 64
_ROW_SIZE_SQL = (
    "length(cast(uuid as blob)) * 2 + length(cast(type as blob)) + length(cast(site as blob))"
    f" + length(cast(occurred_at as blob)) + length(cast(payload as blob)) + {ROW_OVERHEAD}"
)
_OVER_BUDGET = "outbox_over_budget"
# Once raised, the alarm clears only below this share of the budget, so an outbox hovering
# at the limit does not raise and clear it with every batch.
BUDGET_CLEAR_RATIO = 0.9
# Rows one acknowledgement transaction deletes at most (a few ms of writer time).
ACK_CHUNK = 64
# Expired pass-use keys are deleted every this many pass decisions (in their transaction).
PRUNE_PASS_USES_EVERY = 256


_Models = dict[tuple[Entity, str], BaseModel]


def build_book(models: _Models) -> RuleBook:
    """A site's RuleBook (with its campus caches) from its validated state models."""
    entries: list[tuple[str, ListEntry]] = []
    rules: list[tuple[str, AccessRule]] = []
    policies: list[LanePolicy] = []
    registrants: list[tuple[str, RegistrantGrant]] = []
    vehicles: list[tuple[str, VehicleGrant]] = []
    appointments: list[tuple[str, AppointmentGrant]] = []
    keys: list[tuple[str, PassKeyGrant]] = []
    revocations: list[tuple[str, Revocation]] = []
    for (_, key), model in models.items():
        if isinstance(model, ListEntry):
            entries.append((key, model))
        elif isinstance(model, AccessRule):
            rules.append((key, model))
        elif isinstance(model, LanePolicy):
            policies.append(model)
        elif isinstance(model, RegistrantGrant):
            registrants.append((key, model))
        elif isinstance(model, VehicleGrant):
            vehicles.append((key, model))
        elif isinstance(model, AppointmentGrant):
            appointments.append((key, model))
        elif isinstance(model, PassKeyGrant):
            keys.append((key, model))
        elif isinstance(model, Revocation):
            revocations.append((key, model))
    # Pass keys become key objects here, once per applied change, never per scan.
    campus = CampusBook.build(registrants, vehicles, appointments, keys, revocations)
    return RuleBook.build(entries, rules, policies, campus)


class StoreError(Exception):
    """The store refused a write (bad synced data); nothing was changed."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What record_decision committed: the access record's uuid and its parking session."""

    record: str
    session: str
    replayed: bool = False  # a pass decision refused as a second use (see record_pass_decision)


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


def event_row(
    event_type: str, site: str, occurred_at: datetime, payload: Payload
) -> tuple[str, ...]:
    """An outbox row for Store.commit: (uuid, type, site, occurred_at, payload JSON)."""
    return _row(event_type, site, occurred_at, payload)


LOCAL_LIST_FLAG = "local_list:"
# Most writers one group commit takes at once (see Store.commit).
GROUP_MAX = 512


def _row_size(row: tuple[str, ...]) -> int:
    """The estimate _ROW_SIZE_SQL makes of the same row once stored."""
    return sum(len(field.encode()) for field in row) + len(row[0]) + ROW_OVERHEAD


@dataclass(frozen=True, slots=True)
class Batch:
    """The next events to push, as the exact JSON body of a PushRequest."""

    first: int
    last: int
    count: int
    body: bytes


def _batch_body(rows: Sequence[tuple[Any, ...]], max_bytes: int) -> Batch | None:
    """Join (seq, event JSON) rows, serialised by SQLite, into a PushRequest body."""
    pieces: list[bytes] = []
    size = 16  # {"events":[...]}
    first = last = 0
    for seq, item in rows:
        piece = item.encode()
        size += len(piece) + 1
        if pieces and (size > max_bytes or int(seq) != last + 1):
            break  # a batch is bounded and contiguous; the rest goes in the next one
        if not pieces:
            first = int(seq)
        last = int(seq)
        pieces.append(piece)
    if not pieces:
        return None
    return Batch(first, last, len(pieces), b'{"events":[' + b",".join(pieces) + b"]}")


_Statement = tuple[str, Sequence[Sequence[Any]]]
Statement = _Statement

_INSERT_OUTBOX = (
    "insert into outbox (uuid, type, site, occurred_at, payload) values (?, ?, ?, ?, ?)"
)
_SET_FLAG = "insert or replace into edge_flag (name, value) values (?, ?)"
_PENDING = (
    "select seq, uuid, type, site, occurred_at, payload from outbox"
    " where seq > ? order by seq limit ?"
)
# The same rows as wire JSON, built by SQLite in C: the Python thread that reads a batch
# barely holds the GIL, so draining a backlog does not slow the event loop's lanes.
_PENDING_JSON = (
    "select seq, json_object('seq', seq, 'uuid', uuid, 'type', type, 'site', site,"
    " 'occurred_at', occurred_at, 'payload', json(payload)) from outbox"
    " where seq > ? order by seq limit ?"
)


@dataclass(frozen=True, slots=True)
class _SessionChange:
    session: str = ""
    sql: tuple[str, tuple[Any, ...]] | None = None
    events: tuple[tuple[str, ...], ...] = ()
    opens: bool = False
    closes: bool = False


@dataclass(frozen=True, slots=True)
class LotExtra:
    """What a parking lot adds to a decision's transaction (edge/lots.py): the id of the session
    it starts, the fee fields of the session it ends, its own statements and outbox rows."""

    session_id: str = ""
    ended: dict[str, Any] | None = None
    statements: Sequence[_Statement] = ()
    rows: Sequence[tuple[str, ...]] = ()


def _session_change(
    record: AccessDecided, action: str, opened: str, now: datetime, extra: LotExtra | None = None
) -> _SessionChange:
    """The parking-session rows and events one decision implies, given the plate's open session."""
    if action == "start" and opened:
        return _SessionChange(session=opened)
    if action == "start":
        session = (extra.session_id if extra is not None else "") or str(uuid.uuid4())
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
            session=opened,
            site=record.site,
            lane=record.lane,
            plate=record.plate,
            exited_at=now,
            **((extra.ended or {}) if extra is not None else {}),
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

    def __init__(
        self,
        db: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        budget_bytes: int | None = None,
        alarm_site: str = "",
    ) -> None:
        self._db = db
        self._last_commit = 0.0
        self._commits_since_checkpoint = 0
        # Reads for sync and health use their own connection: in WAL mode it sees only
        # committed rows and never waits for (or delays) a decision's transaction.
        self._reader = reader
        self._lock = asyncio.Lock()
        self._books: dict[str, RuleBook] = {}
        # The validated state per site, kept so a delta rebuilds the book without reading or
        # parsing everything again; a build generation so a slow build never lands late.
        self._models: dict[str, _Models] = {}
        self._generation: dict[str, int] = {}
        self._revisions: dict[str, int] = {}
        # Open sessions mirrored in memory so a decision never has to query for them.
        self._open_sessions: dict[tuple[str, str], str] = {}
        self.committed = asyncio.Event()
        # The outbox's size, kept in memory (set at start, moved by inserts and acks) so no
        # decision ever counts rows: the backlog header and the disk budget read these.
        self.outbox_rows = 0
        self.outbox_bytes = 0
        self._budget_bytes = budget_bytes
        self._alarm_site = alarm_site
        self.over_budget = False
        self._pass_uses = 0
        # Group commit (Store.commit): writers queue here; one task commits them together.
        self._group: list[tuple[list[_Statement], list[tuple[str, ...]], asyncio.Future[None]]] = []
        self._group_task: asyncio.Task[None] | None = None
        self.group_commits = 0  # transactions the group writer committed (health, benchmarks)
        self.group_writes = 0  # writers those transactions carried
        # Bumped by every state apply, so derived indexes (chargers) know when to rebuild.
        self.state_version = 0
        self._local_lists: dict[str, int] = {}

    @classmethod
    async def open(cls, path: Path, budget_bytes: int | None = None, alarm_site: str = "") -> Store:
        """Open (creating) the store; with budget_bytes, outbox_budget alarms are recorded
        under alarm_site (the outbox is the whole edge's: one alarm, not one per site)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("pragma journal_mode=wal")
        # FULL: a commit is on disk before the barrier moves, so a power cut loses nothing acted on.
        await db.execute("pragma synchronous=full")
        # Checkpoints run from the reader's thread (checkpoint_forever), not inside a decision.
        await db.execute("pragma wal_autocheckpoint=0")
        await db.executescript(SCHEMA)
        reader = await aiosqlite.connect(path, isolation_level=None)
        store = cls(db, reader, budget_bytes, alarm_site)
        await store._load()
        return store

    async def close(self) -> None:
        if self._group_task is not None:
            await asyncio.gather(self._group_task, return_exceptions=True)
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
        rows = await self._db.execute_fetchall(
            f"select count(*), coalesce(sum({_ROW_SIZE_SQL}), 0) from outbox"
        )
        count, size = next(iter(rows))
        self.outbox_rows, self.outbox_bytes = int(count), int(size)
        rows = await self._db.execute_fetchall(
            "select value from edge_flag where name = ?", (_OVER_BUDGET,)
        )
        self.over_budget = any(int(value) for (value,) in rows)
        rows = await self._db.execute_fetchall(
            "select name, value from edge_flag where name like ?", (LOCAL_LIST_FLAG + "%",)
        )
        self._local_lists = {str(name)[len(LOCAL_LIST_FLAG) :]: int(value) for name, value in rows}

    async def _reload_book(self, site: str) -> None:
        """Read the site's cached state once (at start-up) into models and its book."""
        rows = await self._db.execute_fetchall(
            "select entity, key, data from state_cache where site = ?", (site,)
        )
        models: _Models = {}
        for entity, key, data in rows:
            try:
                kind = Entity(entity)
            except ValueError:
                continue  # an entity this edge's version does not know
            models[(kind, str(key))] = ENTITY_MODELS[kind].model_validate_json(data)
        self._models[site] = models
        self._books[site] = build_book(models)

    # --- the hot path ---------------------------------------------------------------------------

    def sites(self) -> list[str]:
        """Sites this store holds synced state for."""
        return list(self._models)

    def entities(self, site: str, entity: Entity) -> dict[str, BaseModel]:
        """The site's validated synced models of one entity kind, by key."""
        return {
            key: model
            for (kind, key), model in self._models.get(site, {}).items()
            if kind == entity
        }

    def local_list_version(self, site: str) -> int:
        """The site's OCPP local list version: bumped with every id_tag change applied."""
        return self._local_lists.get(site, 0)

    def book(self, site: str) -> RuleBook:
        """The site's cached lists and rules, held in memory (rebuilt after each state apply)."""
        return self._books.get(site) or RuleBook()

    def open_session(self, site: str, plate: str) -> str:
        return self._open_sessions.get((site, plate), "")

    async def record_decision(
        self, record: AccessDecided, session: str = "", extra: LotExtra | None = None
    ) -> Recorded:
        """Write the access record, its parking-session change and their events in ONE transaction.

        `session` is "start" or "end" (or "" for none). At an entry a plate that already has an
        open session keeps it (cameras often read one car twice); at an exit without one there
        is nothing to close. A lot's `extra` statements and rows join the same transaction.
        Returns once the transaction is durable.
        """
        async with self._lock:
            # Decided under the lock, so two reads of one plate cannot both open a session.
            now = _now()
            key = (record.site, record.plate)
            opened = self._open_sessions.get(key, "")
            change = _session_change(record, session, opened, now, extra)
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
            ]
            if change.sql is not None:
                statements.append((change.sql[0], [change.sql[1]]))
            rows = [decided, *change.events]
            if extra is not None:
                statements += extra.statements
                rows += extra.rows
            await self._append(statements, rows, now)
            if change.opens:
                self._open_sessions[key] = change.session
            elif change.closes:
                self._open_sessions.pop(key, None)
        self.committed.set()
        return Recorded(record=decided[0], session=change.session)

    async def record_pass_decision(
        self, record: AccessDecided, replay_key: str = "", expires_at: float = 0.0
    ) -> tuple[Recorded, AccessDecided]:
        """Record a pass decision; with a replay key, check-and-insert it in the SAME transaction.

        A key already used turns the decision into a refusal (reason replayed), recorded as
        such. Returns what was committed and the record as it was finally written.
        """
        async with self._lock:
            now = _now()
            stamp = now.isoformat()
            refused = record.model_copy(update={"verdict": Verdict.deny, "reason": Reason.replayed})
            opened = _row("access.decided", record.site, now, record)
            replay = _row("access.decided", refused.site, now, refused) if replay_key else opened
            size = max(_row_size(opened), _row_size(replay))
            alarm_row: tuple[str, ...] | None = None
            if (
                self._budget_bytes is not None
                and not self.over_budget
                and self.outbox_bytes + size > self._budget_bytes
            ):
                raised = OutboxBudget(
                    site=self._alarm_site,
                    used_bytes=self.outbox_bytes + size,
                    budget_bytes=self._budget_bytes,
                    exceeded=True,
                )
                alarm_row = _row("edge.outbox_budget", self._alarm_site, now, raised)
            self._pass_uses += 1
            prune = bool(replay_key) and self._pass_uses % PRUNE_PASS_USES_EVERY == 0

            def run(conn: sqlite3.Connection) -> bool:
                conn.execute("begin immediate")
                try:
                    replayed = False
                    if replay_key:
                        if prune:
                            conn.execute(
                                "delete from pass_use where expires_at < ?", (now.timestamp(),)
                            )
                        cursor = conn.execute(
                            "insert or ignore into pass_use values (?, ?, ?, ?)",
                            (replay_key, record.lane, stamp, expires_at),
                        )
                        replayed = cursor.rowcount == 0
                    row, final = (replay, refused) if replayed else (opened, record)
                    conn.execute(
                        "insert into access_record values (?, ?, ?, ?, ?, ?, ?, ?)",
                        (row[0], final.site, final.lane, final.plate, final.verdict,
                         final.reason, stamp, row[4]),
                    )  # fmt: skip
                    conn.execute(_INSERT_OUTBOX, row)
                    if alarm_row is not None:
                        conn.execute(_INSERT_OUTBOX, alarm_row)
                        conn.execute(_SET_FLAG, (_OVER_BUDGET, 1))
                    conn.execute("commit")
                except BaseException:
                    conn.execute("rollback")
                    raise
                return replayed

            replayed: bool = await self._db._execute(run, self._db._conn)
            self._last_commit = time.monotonic()
            self._commits_since_checkpoint += 1
            row, written = (replay, refused) if replayed else (opened, record)
            self.outbox_rows += 1
            self.outbox_bytes += _row_size(row)
            if alarm_row is not None:
                self.over_budget = True
                self.outbox_rows += 1
                self.outbox_bytes += _row_size(alarm_row)
        self.committed.set()
        return Recorded(record=row[0], session="", replayed=replayed), written

    async def ensure_schema(self, sql: str) -> None:
        """Create a component's own tables (idempotent `create table if not exists` script):
        berths, the PDA and lot payments keep their tables beside the outbox, so their state
        and its events commit in one transaction through `commit`."""
        async with self._lock:
            await self._db.executescript(sql)
            await self._db.commit()

    async def record_event(self, event_type: str, site: str, payload: Payload) -> None:
        """Append one event on its own (device faults and other facts that change no state)."""
        async with self._lock:
            now = _now()
            await self._append([], [_row(event_type, site, now, payload)], now)
        self.committed.set()

    async def commit(
        self, statements: list[_Statement], rows: Sequence[tuple[str, ...]] = ()
    ) -> None:
        """Commit statements with their outbox rows (event_row) as one atomic unit, returning
        once it is durable. Writers that arrive while a transaction is being committed are
        committed together in the next one (group commit: one fsync for many chargers'
        messages); if that shared transaction fails, each writer is retried alone, so one bad
        write fails only its own caller."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._group.append((list(statements), list(rows), future))
        if self._group_task is None or self._group_task.done():
            self._group_task = asyncio.create_task(self._commit_groups(), name="group commit")
        await future

    async def _commit_groups(self) -> None:
        while self._group:
            group, self._group = self._group[:GROUP_MAX], self._group[GROUP_MAX:]
            async with self._lock:
                now = _now()
                try:
                    await self._append(
                        [s for item in group for s in item[0]],
                        [r for item in group for r in item[1]],
                        now,
                    )
                    outcomes: list[BaseException | None] = [None] * len(group)
                    self.group_commits += 1
                except Exception as shared:
                    # Retry each writer alone: only the bad one fails.
                    outcomes = []
                    for statements, rows, _ in group:
                        try:
                            if len(group) == 1:
                                raise shared
                            await self._append(statements, rows, now)
                            outcomes.append(None)
                            self.group_commits += 1
                        except Exception as exc:
                            outcomes.append(exc)
                self.group_writes += len(group)
            for (_, _, future), outcome in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)
            self.committed.set()

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query on the reader connection (committed data only)."""
        rows = await self._reader.execute_fetchall(sql, params)
        return [tuple(row) for row in rows]

    async def _append(
        self, statements: list[_Statement], rows: list[tuple[str, ...]], now: datetime
    ) -> None:
        """Commit statements with these outbox rows (under the lock), raising the budget alarm
        in the same transaction when the rows take the outbox past its budget."""
        added = sum(_row_size(row) for row in rows)
        alarm = (
            self._budget_bytes is not None
            and not self.over_budget
            and self.outbox_bytes + added > self._budget_bytes
        )
        if alarm:
            assert self._budget_bytes is not None
            raised = OutboxBudget(
                site=self._alarm_site,
                used_bytes=self.outbox_bytes + added,
                budget_bytes=self._budget_bytes,
                exceeded=True,
            )
            rows = [*rows, _row("edge.outbox_budget", self._alarm_site, now, raised)]
            added += _row_size(rows[-1])
            statements = [*statements, (_SET_FLAG, [(_OVER_BUDGET, 1)])]
        await self._transaction([*statements, (_INSERT_OUTBOX, rows)])
        self.outbox_rows += len(rows)
        self.outbox_bytes += added
        if alarm:
            self.over_budget = True

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

    async def pending_batch(self, after: int, limit: int, max_bytes: int) -> Batch | None:
        """The next events after seq `after` as a ready PushRequest body (at most limit events
        and max_bytes), or None when there are none.

        Read on the reader connection and serialised on its thread: draining a backlog of
        millions neither takes the writer lock nor parses payloads on the event loop.
        """

        def read(conn: sqlite3.Connection) -> Batch | None:
            rows = conn.execute(_PENDING_JSON, (after, limit)).fetchall()
            return _batch_body(rows, max_bytes)

        batch: Batch | None = await self._reader._execute(read, self._reader._conn)
        return batch

    async def pending(self, limit: int, max_bytes: int) -> list[Event]:
        """The oldest unacknowledged events in seq order, at most limit events and ~max_bytes."""
        rows = await self._reader.execute_fetchall(_PENDING, (0, limit))
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
        """Drop events the cloud holds (seq <= upto_seq); returns how many were dropped.

        Deleted in chunks of ACK_CHUNK rows, one short transaction each, so a decision never
        waits behind a long delete while a backlog drains (each row also leaves its page of
        the uuid index). When that brings an outbox over its budget back under it, the
        all-clear is recorded in the transaction that did it.
        """
        dropped = 0
        while True:
            count, reached = await self.ack_chunk(upto_seq)
            dropped += count
            if reached:
                return dropped

    def quiet_s(self) -> float:
        """Seconds since the last commit that was not an acknowledgement (the lanes' pace)."""
        return time.monotonic() - self._last_commit

    async def ack_chunk(self, upto_seq: int) -> tuple[int, bool]:
        """Delete the oldest rows up to ACK_CHUNK of them; (rows dropped, upto_seq reached)."""
        async with self._lock:
            now = _now()
            over = self.over_budget
            budget = self._budget_bytes
            site = self._alarm_site
            held = self.outbox_bytes

            def run(conn: sqlite3.Connection) -> tuple[int, int, bool, tuple[str, ...] | None]:
                (low,) = conn.execute("select min(seq) from outbox").fetchone()
                if low is None or low > upto_seq:
                    return 0, 0, True, None
                bound = min(upto_seq, int(low) + ACK_CHUNK - 1)
                # No fsync of its own: a delete lost in a power cut only resends events the
                # cloud ignores, and the next decision's FULL commit syncs these WAL frames.
                conn.execute("pragma synchronous=normal")
                conn.execute("begin immediate")
                try:
                    count, size = conn.execute(
                        f"select count(*), coalesce(sum({_ROW_SIZE_SQL}), 0) from outbox"
                        " where seq <= ?",
                        (bound,),
                    ).fetchone()
                    conn.execute("delete from outbox where seq <= ?", (bound,))
                    cleared = None
                    if over and budget is not None and held - size < budget * BUDGET_CLEAR_RATIO:
                        under = OutboxBudget(
                            site=site,
                            used_bytes=max(0, held - size),
                            budget_bytes=budget,
                            exceeded=False,
                        )
                        cleared = _row("edge.outbox_budget", site, now, under)
                        conn.execute(_INSERT_OUTBOX, cleared)
                        conn.execute(_SET_FLAG, (_OVER_BUDGET, 0))
                    conn.execute("commit")
                except BaseException:
                    conn.execute("rollback")
                    raise
                finally:
                    conn.execute("pragma synchronous=full")
                return int(count), int(size), bound >= upto_seq, cleared

            dropped, size, reached, cleared = await self._db._execute(run, self._db._conn)
            if dropped or cleared is not None:
                # Counted for the checkpoint, but not as lane activity: housekeeping does not
                # keep the WAL from being folded while the lanes are quiet.
                self._commits_since_checkpoint += 1
            self.outbox_rows -= dropped
            self.outbox_bytes -= size
            if cleared is not None:
                self.over_budget = False
                self.outbox_rows += 1
                self.outbox_bytes += _row_size(cleared)
        if cleared is not None:
            self.committed.set()
        return dropped, reached

    # --- commands -------------------------------------------------------------------------------

    async def command_state(self, command: str) -> str | None:
        """'started', a final status, or None for a command this edge never saw."""
        rows = await self._reader.execute_fetchall(
            "select state from command where id = ?", (command,)
        )
        return next((str(state) for (state,) in rows), None)

    async def start_command(self, command: str) -> None:
        """Mark a command as being executed, durably, before its device is driven: if the
        edge dies now, the command is reported as interrupted, never run a second time."""
        async with self._lock:
            await self._transaction(
                [
                    (
                        "insert into command (id, state, updated_at) values (?, 'started', ?)",
                        [(command, _now().isoformat())],
                    )
                ]
            )

    async def finish_command(
        self, result: CommandResult, access: AccessDecided | None = None
    ) -> None:
        """Record a command's final state and its command.result event in one transaction,
        with the access record it made (a staff override that opened a barrier), if any."""
        async with self._lock:
            now = _now()
            statements: list[_Statement] = [
                (
                    "insert or replace into command (id, state, updated_at) values (?, ?, ?)",
                    [(str(result.command), result.status.value, now.isoformat())],
                )
            ]
            rows = [_row("command.result", result.site, now, result)]
            if access is not None:
                decided = _row("access.decided", access.site, now, access)
                statements.append(
                    (
                        "insert into access_record values (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                decided[0],
                                access.site,
                                access.lane,
                                access.plate,
                                access.verdict,
                                access.reason,
                                now.isoformat(),
                                decided[4],
                            )
                        ],
                    )
                )
                rows.insert(0, decided)
            await self._append(statements, rows, now)
        self.committed.set()

    # --- synced state ---------------------------------------------------------------------------

    def revisions(self) -> dict[str, int]:
        return dict(self._revisions)

    async def apply_state(self, state: SiteState) -> None:
        """Apply a snapshot (replacing the site's caches) or a delta, and its revision, at once.

        The new book is built off the event loop from the models already validated here (a
        campus holds tens of thousands of registrants and vehicles: rebuilding them on the loop
        would stall every lane for a good part of a second), then swapped in whole.
        """
        writes: list[tuple[str, str, str | None]] = []
        parsed: list[tuple[Entity, str, BaseModel | None]] = []
        for change in state.changes:
            data = None
            model: BaseModel | None = None
            if change.data is not None:
                try:
                    model = ENTITY_MODELS[change.entity].model_validate(change.data)
                except ValueError as exc:
                    raise StoreError(f"{state.site} {change.entity} {change.key}: {exc}") from None
                data = model.model_dump_json()
            writes.append((change.entity.value, change.key, data))
            parsed.append((change.entity, change.key, model))
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
            id_tags = state.full or any(c.entity == Entity.id_tag for c in state.changes)
            if id_tags:
                statements.append(
                    (
                        "insert into edge_flag (name, value) values (?, 1)"
                        " on conflict (name) do update set value = value + 1",
                        [(LOCAL_LIST_FLAG + state.site,)],
                    )
                )
            await self._transaction(statements)
            if id_tags:
                self._local_lists[state.site] = self._local_lists.get(state.site, 0) + 1
            models = {} if state.full else dict(self._models.get(state.site, {}))
            for entity, key, model in parsed:
                if model is None:
                    models.pop((entity, key), None)
                else:
                    models[(entity, key)] = model
            self._models[state.site] = models
            self.state_version += 1
            generation = self._generation[state.site] = self._generation.get(state.site, 0) + 1
        book = await asyncio.to_thread(build_book, models)
        if self._generation[state.site] == generation:
            self._books[state.site] = book
        self._revisions[state.site] = state.revision

    # --- reading back (health page, tests) ------------------------------------------------------

    async def access_records(self, limit: int = 100) -> list[AccessDecided]:
        rows = await self._reader.execute_fetchall(
            "select record from access_record order by decided_at desc, rowid desc limit ?",
            (limit,),
        )
        return [AccessDecided.model_validate_json(record) for (record,) in rows]
