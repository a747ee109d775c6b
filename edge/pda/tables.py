"""The PDA's own tables beside the outbox: every change here commits with its event (Store.commit)."""

from __future__ import annotations

SCHEMA = """
-- 签到 shifts on this device; offline = signed in without the cloud's claim.
create table if not exists pda_shift (
    uuid text primary key,
    site text not null,
    collector text not null,
    name text not null,
    device text not null,
    signed_in_at text not null,
    signed_out_at text,
    offline integer not null default 0
);
create index if not exists pda_shift_open on pda_shift (signed_out_at) where signed_out_at is null;
-- Occupancy the collector changed (补入车, 补出车, false alarm): it wins over the cloud's berth
-- state while its event (event_uuid) is still in the outbox.
create table if not exists pda_berth (
    berth text primary key,
    site text not null,
    session text not null,
    state text not null,
    entered_at text not null,
    event_uuid text not null,
    updated_at text not null
);
-- What the collector knows of a session: its plate (entered or corrected), freed or not.
create table if not exists pda_session (
    session text primary key,
    site text not null,
    berth text not null,
    plate text not null default '',
    vehicle_class text not null default '',
    freed text not null default '',
    updated_at text not null
);
-- Money taken: kind parking (a session's fee) or arrears (orders of a plate).
create table if not exists pda_payment (
    uuid text primary key,
    kind text not null,
    shift text not null,
    site text not null,
    session text not null default '',
    berth text not null default '',
    plate text not null default '',
    method text not null,
    amount_fen integer not null,
    due_fen integer not null default 0,
    bill text,
    orders text not null default '[]',
    collector text not null,
    at text not null
);
create index if not exists pda_payment_session on pda_payment (session);
create index if not exists pda_payment_shift on pda_payment (shift);
create index if not exists pda_payment_plate on pda_payment (plate, kind);
-- Receipts that came out of the printer (copy_number 2+ are reprints).
create table if not exists pda_receipt (
    id integer primary key autoincrement,
    subject text not null,
    kind text not null,
    copy_number integer not null,
    shift text not null,
    site text not null,
    collector text not null,
    at text not null
);
create index if not exists pda_receipt_subject on pda_receipt (subject, kind);
-- What each receipt said the first time, so a reprint (补打) prints the same receipt.
create table if not exists pda_receipt_content (
    id integer primary key autoincrement,
    subject text not null,
    kind text not null,
    content text not null,
    unique (subject, kind)
);
"""
