"""Parking lots at the edge: what a lot adds to a lane decision (arrears, free sessions, the exit
fee and its hold), lane payments and prepayments from the cloud (`lane_paid`), no-plate QR
tickets (`lane_ticket`), the guidance screen, and the snapshots to upload as evidence.

The rules are edge/engines/lot.py's; this module reads the caches, keeps the lot's own tables
beside the outbox (Store.ensure_schema) and commits them with the decision they belong to.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from edge.drivers.guidance import GuidanceScreen, Spaces
from edge.engines.gate import Decision, SessionAction
from edge.engines.lot import (
    FREE_TEXT,
    TICKET_ENTRY_TEXT,
    TICKET_EXIT_TEXT,
    ExitCharge,
    Fee,
    PreparedTariff,
    arrears_refusal_text,
    arrears_warning_text,
    calendar_of,
    check_entry,
    fee_text,
    paid_text,
    parking_fee,
    prepare_tariff,
    settle,
)
from edge.settings import EdgeSettings
from edge.store import LotExtra, Recorded, Statement, Store, event_row
from protocols.camera import PlateRead
from protocols.charging import TariffGrant
from protocols.events import (
    AccessDecided,
    Method,
    NoPlateTicket,
    ParkingFeeAssessed,
    Reason,
    Verdict,
)
from protocols.modbus import DisplayFrame
from protocols.parking import (
    ArrearsGrant,
    HolidayGrant,
    LanePaid,
    LaneTicket,
    MonthlyPassGrant,
    ParkingSiteGrant,
    SpecialPlateGrant,
    special_rule_of,
)
from protocols.site import Direction, SiteConfig, SiteDocument, SiteKind
from protocols.sync import Command, Entity
from protocols.tariffs import HolidayCalendar

if TYPE_CHECKING:
    from edge.lanes import Lane

log = logging.getLogger(__name__)

LOT_SCHEMA = """
-- What a lot knows of a session beyond parking_session: why it is free, the ticket standing in
-- for a missing plate, the plate colour the fee is billed by.
create table if not exists lot_session (
    uuid text primary key,
    free_reason text not null default '',
    ticket text not null default '',
    plate_color text not null default ''
);
-- Payments the cloud reported (lane QR, prepaid): one row per payment, whatever the deliveries.
create table if not exists lot_payment (
    uuid text primary key,
    session text not null,
    amount_fen integer not null,
    paid_at text not null,
    lane text not null default ''
);
create index if not exists lot_payment_session on lot_payment (session);
-- Lane snapshots waiting to be uploaded to the cloud as evidence (edge/sync.py).
create table if not exists snapshot_upload (
    name text primary key,
    site text not null,
    created_at text not null
);
"""

INSERT_SNAPSHOT = "insert or ignore into snapshot_upload (name, site, created_at) values (?, ?, ?)"
# Inserted after parking_session's own insert in the same transaction, and only if the session
# was really opened (a second read of a plate inside keeps its session and adds nothing).
_INSERT_SESSION = (
    "insert or ignore into lot_session (uuid, free_reason, ticket, plate_color)"
    " select uuid, ?, ?, ? from parking_session where uuid = ?"
)
_INSERT_PAYMENT = "insert or ignore into lot_payment values (?, ?, ?, ?, ?)"
_SESSION = (
    "select p.site, p.plate, p.entered_at, coalesce(l.free_reason, ''), coalesce(l.ticket, ''),"
    " coalesce(l.plate_color, ''), (select coalesce(sum(amount_fen), 0) from lot_payment"
    " where session = p.uuid), (select max(paid_at) from lot_payment where session = p.uuid)"
    " from parking_session p left join lot_session l on l.uuid = p.uuid"
    " where p.uuid = ? and p.exited_at is null"
)
_OPEN_COUNT = "select count(*) from parking_session where site = ? and exited_at is null"

M = TypeVar("M", bound=BaseModel)


class CommandRefused(Exception):
    """A lot command that cannot be carried out; edge/commands.py reports it as failed."""


@dataclass(frozen=True, slots=True)
class OpenSession:
    uuid: str
    site: str
    plate: str
    entered_at: datetime
    free_reason: str
    ticket: str
    plate_color: str
    paid_fen: int
    paid_at: datetime | None


@dataclass(frozen=True, slots=True)
class Hold:
    """An exit lane holding a car until its fee is paid (what its display shows)."""

    session: str
    plate: str
    due_fen: int
    owed_fen: int
    assessed_at: datetime


@dataclass(frozen=True, slots=True)
class LotStep:
    """What the lot makes of one decision: the decision as it stands now, what the display
    shows, and what joins the decision's transaction."""

    decision: Decision
    frame: DisplayFrame | None = None
    extra: LotExtra = field(default_factory=LotExtra)
    hold: Hold | None = None  # the exit lane now holds this car
    release: bool = False  # the exit lane holds no car any more


@dataclass
class _Caches:
    version: int = -1
    sites: dict[str, dict[Entity, dict[str, BaseModel]]] = field(default_factory=dict)
    tariffs: dict[str, tuple[dict[str, PreparedTariff], HolidayCalendar]] = field(
        default_factory=dict
    )


def _utc(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


class Lots:
    """The lots of the site document at this edge; owned by edge.lanes.Lanes."""

    def __init__(
        self,
        site: SiteDocument,
        store: Store,
        settings: EdgeSettings,
        open_barrier: Callable[[Lane], Awaitable[bool]],
    ) -> None:
        self._store = store
        self._zone = settings.zone
        self._open_barrier = open_barrier
        self.lanes: dict[str, Lane] = {}
        self.sites: dict[str, SiteConfig] = {
            s.code: s for s in site.sites if s.kind == SiteKind.parking_lot
        }
        self.guidance: dict[str, GuidanceScreen] = {
            code: GuidanceScreen(f"guidance {code}", s.guidance, settings.modbus_timeout_s)
            for code, s in self.sites.items()
            if s.guidance is not None
        }
        self.holds: dict[str, Hold] = {}  # exit lane code -> the car it holds
        self._caches = _Caches()

    async def start(self) -> None:
        await self._store.ensure_schema(LOT_SCHEMA)
        for screen in self.guidance.values():
            screen.start()
        for code in self.guidance:
            await self.refresh_guidance(code)

    async def stop(self) -> None:
        for screen in self.guidance.values():
            await screen.stop()

    # --- synced state ---------------------------------------------------------------------

    def _entities(self, site: str, entity: Entity, model: type[M]) -> dict[str, M]:
        """The site's synced models of one kind, indexed once per state change (not per car)."""
        if self._caches.version != self._store.state_version:
            self._caches = _Caches(self._store.state_version)
        by_entity = self._caches.sites.setdefault(site, {})
        cached = by_entity.get(entity)
        if cached is None:
            models = self._store.entities(site, entity).items()
            cached = by_entity[entity] = {k: v for k, v in models if isinstance(v, model)}
        return cast(dict[str, M], cached)

    def place(self, site: str) -> ParkingSiteGrant | None:
        return self._entities(site, Entity.parking_site, ParkingSiteGrant).get(site)

    def capacity(self, site: str) -> int | None:
        place = self.place(site)
        if place is not None and place.capacity is not None:
            return place.capacity
        config = self.sites.get(site)
        return config.capacity if config is not None else None

    def _tariffs(self, site: str) -> tuple[dict[str, PreparedTariff], HolidayCalendar]:
        """The site's parking tariffs parsed and its calendar built, once per state change."""
        self._entities(site, Entity.parking_site, ParkingSiteGrant)  # the cache is current
        prepared = self._caches.tariffs.get(site)
        if prepared is None:
            tariffs = {
                key: tariff
                for key, grant in self._entities(site, Entity.tariff, TariffGrant).items()
                if key.startswith("parking:") and (tariff := prepare_tariff(key, grant))
            }
            calendar = calendar_of(self._entities(site, Entity.holiday, HolidayGrant))
            prepared = self._caches.tariffs[site] = (tariffs, calendar)
        return prepared

    def fee(
        self, site: str, entered_at: datetime, exited_at: datetime, plate: str, color: str
    ) -> Fee:
        tariffs, calendar = self._tariffs(site)
        return parking_fee(
            self.place(site),
            tariffs,
            calendar,
            entered_at,
            exited_at,
            plate,
            color or "unknown",
        )

    async def open_session(self, session: str) -> OpenSession | None:
        rows = await self._store.read(_SESSION, (session,))
        if not rows:
            return None
        site, plate, entered, free, ticket, color, paid, paid_at = rows[0]
        entered_at = _utc(str(entered))
        assert entered_at is not None
        return OpenSession(
            session,
            str(site),
            str(plate),
            entered_at,
            str(free),
            str(ticket),
            str(color),
            int(paid),
            _utc(paid_at),
        )

    def charge(self, session: OpenSession, now: datetime) -> ExitCharge:
        fee_now = self.fee(
            session.site, session.entered_at, now, session.plate, session.plate_color
        )
        when_paid = None
        if session.paid_at is not None:
            when_paid = self.fee(
                session.site,
                session.entered_at,
                session.paid_at,
                session.plate,
                session.plate_color,
            )
        return settle(fee_now, session.paid_fen, session.paid_at, when_paid, now)

    # --- a plate read at a lot lane ---------------------------------------------------------

    async def step(
        self, lane: Lane, read: PlateRead, decision: Decision, now: datetime, snapshot: str
    ) -> LotStep | None:
        """The lot's part of a plate read at one of its lanes; None for any other lane."""
        if lane.site.code not in self.sites:
            return None
        statements: list[Statement] = []
        if snapshot:
            statements.append(
                (INSERT_SNAPSHOT, [(snapshot, lane.site.code, now.astimezone(UTC).isoformat())])
            )
        if lane.config.direction == Direction.entry:
            step = self._entry(lane, read, decision)
        else:
            step = await self._exit(lane, read.plate, read.color.value, decision, now)
        if statements:
            extra = step.extra
            step = LotStep(
                step.decision,
                step.frame,
                LotExtra(
                    extra.session_id,
                    extra.ended,
                    [*extra.statements, *statements],
                    extra.rows,
                ),
                step.hold,
                step.release,
            )
        return step

    def _entry(self, lane: Lane, read: PlateRead, decision: Decision) -> LotStep:
        site = lane.site.code
        plate = decision.plate
        if decision.verdict != Verdict.open or decision.session != SessionAction.start:
            if decision.reason == Reason.low_confidence:
                return LotStep(decision, DisplayFrame("无牌车", TICKET_ENTRY_TEXT, "yellow"))
            return LotStep(decision)
        if self._store.open_session(site, plate):
            return LotStep(decision)  # read twice: the car is in, its session stands
        check = check_entry(
            plate,
            site,
            self.place(site),
            self._entities(site, Entity.arrears, ArrearsGrant).get(plate),
            self._entities(site, Entity.monthly_pass, MonthlyPassGrant).get(plate),
            self._entities(site, Entity.special_plate, SpecialPlateGrant).items(),
            decision.reason == Reason.whitelist,
            datetime.now(self._zone).date(),
        )
        if check.refuse:
            refused = Decision(Verdict.deny, Reason.arrears, "", plate, SessionAction.none)
            text = arrears_refusal_text(check.arrears_fen)
            return LotStep(refused, DisplayFrame(plate, text, "red"))
        rule = decision.rule
        if check.reason == Reason.special:
            specials = self._entities(site, Entity.special_plate, SpecialPlateGrant).items()
            rule = special_rule_of(plate, specials) or ""
        reason = check.reason or decision.reason
        opened = Decision(Verdict.open, reason, rule, plate, SessionAction.start, decision.subject)
        session = str(uuid.uuid4())
        extra = LotExtra(
            session_id=session,
            statements=[(_INSERT_SESSION, [(check.free_reason, "", read.color.value, session)])],
        )
        if check.arrears_fen:
            frame = DisplayFrame(plate, arrears_warning_text(check.arrears_fen), "yellow")
        else:
            frame = DisplayFrame(plate, FREE_TEXT.get(check.free_reason, "欢迎光临"), "green")
        return LotStep(opened, frame, extra)

    async def _exit(
        self, lane: Lane, plate: str, color: str, decision: Decision, now: datetime
    ) -> LotStep:
        site = lane.site.code
        if decision.verdict != Verdict.open or not plate:
            if decision.reason == Reason.low_confidence:
                return LotStep(decision, DisplayFrame("无牌车", TICKET_EXIT_TEXT, "yellow"))
            return LotStep(decision)
        key = self._store.open_session(site, plate)
        session = await self.open_session(key) if key else None
        if session is None:
            return LotStep(decision)  # no session known here: nothing to bill (as before)
        ending = Decision(
            Verdict.open, decision.reason, decision.rule, plate, SessionAction.end, decision.subject
        )
        if session.free_reason:
            ended = self._ended(session, ExitCharge(0, session.paid_fen, 0))
            frame = DisplayFrame(plate, paid_text(0), "green")
            return LotStep(ending, frame, LotExtra(ended=ended), release=True)
        charge = self.charge(session, now)
        if charge.opens:
            ended = self._ended(session, charge)
            frame = DisplayFrame(plate, paid_text(charge.paid_fen), "green")
            return LotStep(ending, frame, LotExtra(ended=ended), release=True)
        held = Decision(Verdict.deny, Reason.unpaid, "", plate, SessionAction.none)
        assessed = ParkingFeeAssessed(
            session=session.uuid,
            site=site,
            lane=lane.code,
            plate=plate,
            entered_at=session.entered_at,
            assessed_at=now.astimezone(UTC),
            due_fen=charge.due_fen,
            bill=charge.bill,
            tariff=charge.tariff,
        )
        rows = [event_row("parking.fee_assessed", site, now.astimezone(UTC), assessed)]
        frame = DisplayFrame(plate, fee_text(session.entered_at, now, charge.owed_fen), "red")
        hold = Hold(session.uuid, plate, charge.due_fen, charge.owed_fen, now)
        return LotStep(held, frame, LotExtra(rows=rows), hold=hold)

    @staticmethod
    def _ended(session: OpenSession, charge: ExitCharge) -> dict[str, Any]:
        return {
            "entered_at": session.entered_at,
            "due_fen": charge.due_fen,
            "paid_fen": charge.paid_fen,
            "bill": charge.bill,
            "tariff": charge.tariff,
            "free_reason": session.free_reason,
        }

    async def committed(self, lane: Lane, step: LotStep) -> None:
        """After the decision's transaction: the lane's hold and the guidance screen."""
        if step.hold is not None:
            self.holds[lane.code] = step.hold
        elif step.release or step.decision.session == SessionAction.end:
            self.holds.pop(lane.code, None)
        if step.decision.session != SessionAction.none:
            await self.refresh_guidance(lane.site.code)

    async def refresh_guidance(self, site: str) -> None:
        screen = self.guidance.get(site)
        total = self.capacity(site)
        if screen is None or total is None:
            return
        rows = await self._store.read(_OPEN_COUNT, (site,))
        screen.show(Spaces(total, int(rows[0][0])))

    # --- commands: lane_paid, lane_ticket ----------------------------------------------------

    def _lane_of(self, command: Command) -> Lane | None:
        if not command.lane:
            return None
        lane = self.lanes.get(command.lane)
        if lane is None or lane.site.code != command.site or command.site not in self.sites:
            raise CommandRefused(f"lot {command.site!r} has no lane {command.lane!r} at this edge")
        return lane

    async def lane_paid(self, command: Command) -> str:
        """A payment made through the cloud: recorded once; at an exit lane holding the car
        (or any exit lane the payment names) the barrier opens when it covers the fee."""
        try:
            paid = LanePaid.model_validate(command.payload)
        except ValidationError as exc:
            raise CommandRefused(f"bad lane_paid payload: {exc.errors()[0]['msg']}") from None
        lane = self._lane_of(command)
        if await self.open_session(paid.session) is None:
            raise CommandRefused(f"no open parking session {paid.session} at this edge")
        stamp = paid.paid_at.astimezone(UTC).isoformat()
        row = (str(paid.payment), paid.session, paid.amount_fen, stamp, command.lane)
        await self._store.commit([(_INSERT_PAYMENT, [row])])
        session = await self.open_session(paid.session)
        if session is None:
            raise CommandRefused(f"parking session {paid.session} ended meanwhile")
        taken = f"paid {paid.amount_fen} fen (session total {session.paid_fen})"
        if lane is None:
            return f"prepaid: {taken}"
        now = datetime.now(self._zone)
        hold = self.holds.get(lane.code)
        if hold is not None and hold.session == session.uuid and session.paid_fen >= hold.due_fen:
            # The fee the display showed is paid: it holds even if a step passed meanwhile.
            fee = self.fee(
                session.site,
                session.entered_at,
                hold.assessed_at,
                session.plate,
                session.plate_color,
            )
            charge = ExitCharge(fee.total_fen, session.paid_fen, 0, fee.bill, fee.tariff)
        else:
            charge = self.charge(session, now)
        if not charge.opens:
            hold = Hold(session.uuid, session.plate, charge.due_fen, charge.owed_fen, now)
            self.holds[lane.code] = hold
            if lane.display is not None:
                text = fee_text(session.entered_at, now, charge.owed_fen)
                lane.display.show(DisplayFrame(session.plate, text, "red"))
            return f"{taken}; {charge.owed_fen} fen still due"
        step = LotStep(
            Decision(
                Verdict.open, Reason.paid, str(paid.payment), session.plate, SessionAction.end
            ),
            DisplayFrame(session.plate, paid_text(session.paid_fen), "green"),
            LotExtra(ended=self._ended(session, charge)),
            release=True,
        )
        opened = await self.apply(lane, step)
        if not opened:
            raise CommandRefused(f"{taken}; the barrier did not open (see device faults)")
        return f"{taken}; barrier opened"

    async def lane_ticket(self, command: Command) -> str:
        """A no-plate ticket: at an entry it opens and starts a session keyed by the ticket; at
        an exit the ticket is presented like a plate read (free or paid: opens; else held)."""
        try:
            ticket = LaneTicket.model_validate(command.payload)
        except ValidationError as exc:
            raise CommandRefused(f"bad lane_ticket payload: {exc.errors()[0]['msg']}") from None
        lane = self._lane_of(command)
        if lane is None:
            raise CommandRefused("a ticket command names the lane whose QR was scanned")
        code = ticket.ticket
        site = lane.site.code
        now = datetime.now(self._zone)
        if lane.config.direction == Direction.entry:
            if self._store.open_session(site, code):
                opened = await self._open(lane, DisplayFrame(code, "欢迎光临", "green"))
                return f"ticket {code} is already inside; barrier {'opened' if opened else 'shut'}"
            session = str(uuid.uuid4())
            issued = NoPlateTicket(
                session=session, site=site, lane=lane.code, ticket=code, issued_at=now
            )
            step = LotStep(
                Decision(Verdict.open, Reason.ticket, code, code, SessionAction.start),
                DisplayFrame(code, "欢迎光临", "green"),
                LotExtra(
                    session_id=session,
                    statements=[(_INSERT_SESSION, [("", code, "", session)])],
                    rows=[event_row("parking.no_plate_ticket", site, now.astimezone(UTC), issued)],
                ),
            )
            opened = await self.apply(lane, step, code)
            return f"ticket {code} entered; barrier {'opened' if opened else 'shut'}"
        if not self._store.open_session(site, code):
            raise CommandRefused(f"ticket {code} has no open session in {site}")
        presented = Decision(Verdict.open, Reason.ticket, code, code, SessionAction.end)
        exit_step = await self._exit(lane, code, "", presented, now)
        opened = await self.apply(lane, exit_step, code)
        if exit_step.hold is not None:
            return f"ticket {code}: {exit_step.hold.owed_fen} fen due"
        return f"ticket {code} left; barrier {'opened' if opened else 'shut'}"

    async def apply(self, lane: Lane, step: LotStep, rule: str = "") -> bool:
        """Record a command's decision at a lane (access record, session, events) in one
        transaction, then drive the barrier and the display as a plate read does."""
        decision = step.decision
        record = AccessDecided(
            site=lane.site.code,
            gate=lane.gate.code,
            lane=lane.code,
            direction=lane.config.direction,
            plate=decision.plate,
            confidence=0,
            verdict=decision.verdict,
            reason=decision.reason,
            method=Method.qr_pass if decision.reason == Reason.ticket else Method.plate,
            rule=rule or decision.rule,
            read_at=datetime.now(UTC),
        )
        session = "" if decision.session == SessionAction.none else decision.session.value
        recorded: Recorded = await self._store.record_decision(record, session, step.extra)
        log.info("lot lane %s: %s %s (%s)", lane.code, decision.verdict, decision.plate, recorded)
        opened = False
        if decision.verdict == Verdict.open:
            opened = await self._open(lane, step.frame)
        elif lane.display is not None and step.frame is not None:
            lane.display.show(step.frame)
        await self.committed(lane, step)
        return opened

    async def _open(self, lane: Lane, frame: DisplayFrame | None) -> bool:
        opened = await self._open_barrier(lane) if lane.barrier is not None else False
        if lane.display is not None and frame is not None:
            lane.display.show(frame)
        return opened
