"""The collector's work on the PDA: shifts, berths, plates, fees, payments, arrears, receipts.

Decides from the synced state and its own tables, never from the cloud (the only network call
is the sign-in claim, and its absence is survivable). Every change commits with its event in
one store transaction; a receipt is printed after the money is recorded, so a printer that
fails loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edge.drivers.printer import Printer, PrinterError
from edge.ocpp.auth import PasswordCache
from edge.pda.claims import ClaimClient
from edge.pda.fees import Fee, FeeUnavailable, assess, site_grant
from edge.pda.receipts import ReceiptData, ReceiptLine, encode
from edge.pda.tables import SCHEMA
from edge.settings import EdgeSettings
from edge.store import Statement, Store, event_row
from protocols.events import (
    ArrearsCollected,
    BerthArrived,
    BerthDeparted,
    ParkingPaid,
    PlateSet,
    ReceiptPrinted,
    SensorFalseAlarm,
    SessionFreed,
    ShiftChanged,
)
from protocols.parking import ArrearsGrant, BerthGrant, CollectorGrant, vehicle_class_of
from protocols.pda import ClaimAction, PdaClaim
from protocols.plates import is_valid_plate, normalize_plate
from protocols.site import SiteDocument
from protocols.sync import Entity

log = logging.getLogger(__name__)

METHODS = ("cash", "qr")
MAX_REASON = 64
# Letters plates never use, typed for the digits they look like (a fuzzy search's "O" is "0").
_CONFUSABLE = str.maketrans({"O": "0", "I": "1"})


class PdaError(Exception):
    """A refusal the collector sees: an i18n key (parking.pda.error.*) and its parameters."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True, slots=True)
class Shift:
    uuid: str
    site: str
    collector: str
    name: str
    device: str
    signed_in_at: datetime
    offline: bool
    signed_out_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Takings:
    cash_fen: int = 0
    qr_fen: int = 0
    arrears_fen: int = 0
    receipts: int = 0
    payments: int = 0

    @property
    def total_fen(self) -> int:
        return self.cash_fen + self.qr_fen


@dataclass(frozen=True, slots=True)
class BerthView:
    code: str
    site: str
    number: str
    sensor: str
    occupied: bool
    session: str
    plate: str
    vehicle_class: str
    entered_at: datetime | None
    by_collector: bool  # the collector's own change, not yet synced
    freed: str
    paid_fen: int
    prepaid_fen: int
    fee: Fee | None = None
    fee_error: str = ""

    @property
    def unpaid_fen(self) -> int:
        if self.fee is None or not self.occupied:
            return 0
        return max(0, self.fee.due_fen - self.paid_fen - self.prepaid_fen)


@dataclass(frozen=True, slots=True)
class ArrearsLine:
    order: str
    site: str
    amount_fen: int
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did: its message key, and the printer's error when a receipt failed."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    printer_error: str = ""


def _now() -> datetime:
    return datetime.now(UTC)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def fuzzy_key(text: str) -> str:
    return normalize_plate(text).upper().translate(_CONFUSABLE)


def matches(query: str, view: BerthView) -> bool:
    """Berth number or code contains it, or the plate does (partial, province left out)."""
    key = fuzzy_key(query)
    if not key:
        return True
    if key in view.number.upper() or key in view.code.upper():
        return True
    plate = fuzzy_key(view.plate)
    return bool(plate) and key in plate


class Pda:
    def __init__(
        self,
        store: Store,
        settings: EdgeSettings,
        site: SiteDocument,
        printer: Printer,
        claims: ClaimClient,
    ) -> None:
        self.store = store
        self.settings = settings
        self.document = site
        self.printer = printer
        self.claims = claims
        self.zone = settings.zone
        self.device = settings.pda_device or settings.edge_id or socket.gethostname()
        self._passwords = PasswordCache()
        self._lock = asyncio.Lock()  # one change at a time: a berth is never collected twice

    async def start(self) -> None:
        await self.store.ensure_schema(SCHEMA)

    # --- sections and collectors -------------------------------------------------------------

    def sections(self) -> list[tuple[str, str]]:
        """(code, name) of every section this PDA serves, named as the cloud names them."""
        out = []
        for config in self.document.sites:
            grant = site_grant(self.store, config.code)
            out.append((config.code, grant.name if grant is not None else config.name))
        return out

    def section_name(self, site: str) -> str:
        return dict(self.sections()).get(site, site)

    def collector(self, site: str, account: str) -> CollectorGrant | None:
        grant = self.store.entities(site, Entity.collector).get(account)
        return grant if isinstance(grant, CollectorGrant) else None

    # --- shifts --------------------------------------------------------------------------------

    async def open_shifts(self) -> list[Shift]:
        rows = await self.store.read(
            "select uuid, site, collector, name, device, signed_in_at, offline from pda_shift"
            " where signed_out_at is null order by signed_in_at"
        )
        return [
            Shift(str(u), str(s), str(c), str(n), str(d), datetime.fromisoformat(a), bool(o))
            for u, s, c, n, d, a, o in rows
        ]

    async def shift(self, key: str) -> Shift | None:
        rows = await self.store.read(
            "select uuid, site, collector, name, device, signed_in_at, offline, signed_out_at"
            " from pda_shift where uuid = ?",
            (key,),
        )
        for u, s, c, n, d, a, o, out in rows:
            return Shift(
                str(u), str(s), str(c), str(n), str(d), datetime.fromisoformat(a), bool(o),
                _time(out),
            )  # fmt: skip
        return None

    async def sign_in(self, account: str, password: str, site: str) -> Shift:
        """签到: check the password against the synced collector, claim the section at the cloud
        when it answers (offline: from what this PDA knows), record the shift and its event."""
        account = account.strip()
        if site not in {code for code, _ in self.sections()}:
            raise PdaError("parking.pda.error.unknown_section", site=site)
        grant = self.collector(site, account)
        if not self.store.entities(site, Entity.collector):
            raise PdaError("parking.pda.error.no_collectors")
        if (
            grant is None
            or not grant.enabled
            or not await self._passwords.verify(password, grant.password_hash)
        ):
            raise PdaError("parking.pda.error.bad_login")
        if site not in grant.sections:
            raise PdaError("parking.pda.error.not_assigned", section=self.section_name(site))
        async with self._lock:
            for shift in await self.open_shifts():
                if shift.collector == account and shift.site == site:
                    return shift  # signed in already on this device (a restart, a new tab)
                if shift.site == site:
                    raise PdaError(
                        "parking.pda.error.section_taken",
                        section=self.section_name(site),
                        holder=shift.name,
                    )
            now = _now()
            key = uuid.uuid4()
            outcome = await self.claims.send(
                PdaClaim(
                    action=ClaimAction.sign_in,
                    shift=key,
                    collector=account,
                    site=site,
                    device=self.device,
                    at=now,
                )
            )
            if outcome.reachable and not outcome.granted:
                raise PdaError("parking.pda.error.claim_refused", message=outcome.message)
            shift = Shift(
                str(key), site, account, grant.name, self.device, now, not outcome.granted
            )
            event = ShiftChanged(
                shift=key, site=site, collector=account, device=self.device, signed_in_at=now
            )
            await self.store.commit(
                [
                    (
                        "insert into pda_shift (uuid, site, collector, name, device, signed_in_at,"
                        " offline) values (?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                shift.uuid,
                                site,
                                account,
                                grant.name,
                                self.device,
                                now.isoformat(),
                                int(shift.offline),
                            )
                        ],
                    )
                ],
                [event_row("pda.shift_started", site, now, event)],
            )
        log.info(
            "collector %s signed in to %s on %s%s",
            account,
            site,
            self.device,
            " (offline)" if shift.offline else "",
        )
        return shift

    async def takings(self, shift: Shift) -> Takings:
        rows = await self.store.read(
            "select kind, method, coalesce(sum(amount_fen), 0), count(*) from pda_payment"
            " where shift = ? group by kind, method",
            (shift.uuid,),
        )
        cash = qr = arrears = payments = 0
        for kind, method, amount, count in rows:
            payments += int(count)
            if kind == "arrears":
                arrears += int(amount)
            if method == "cash":
                cash += int(amount)
            elif method == "qr":
                qr += int(amount)
        (receipts,) = (await self.store.read(
            "select count(*) from pda_receipt where shift = ?", (shift.uuid,)
        ))[0]  # fmt: skip
        return Takings(cash, qr, arrears, int(receipts), payments)

    async def sign_out(self, shift: Shift) -> Takings:
        """签退: close the shift with its takings (event pda.shift_ended), then tell the cloud."""
        async with self._lock:
            current = await self.shift(shift.uuid)
            if current is None or current.signed_out_at is not None:
                raise PdaError("parking.pda.error.not_signed_in")
            takings = await self.takings(shift)
            now = _now()
            event = ShiftChanged(
                shift=uuid.UUID(shift.uuid),
                site=shift.site,
                collector=shift.collector,
                device=shift.device,
                signed_in_at=shift.signed_in_at,
                signed_out_at=now,
                cash_fen=takings.cash_fen,
                qr_fen=takings.qr_fen,
                arrears_fen=takings.arrears_fen,
                receipts=takings.receipts,
            )
            await self.store.commit(
                [
                    (
                        "update pda_shift set signed_out_at = ? where uuid = ?",
                        [(now.isoformat(), shift.uuid)],
                    )
                ],
                [event_row("pda.shift_ended", shift.site, now, event)],
            )
        await self.claims.send(
            PdaClaim(
                action=ClaimAction.sign_out,
                shift=uuid.UUID(shift.uuid),
                collector=shift.collector,
                site=shift.site,
                device=shift.device,
                at=now,
                cash_fen=takings.cash_fen,
                qr_fen=takings.qr_fen,
                arrears_fen=takings.arrears_fen,
                receipts=takings.receipts,
            )
        )
        return takings

    # --- berths --------------------------------------------------------------------------------

    async def berths(
        self, site: str, query: str = "", at: datetime | None = None
    ) -> list[BerthView]:
        """The section's berths as the collector should see them now, with the fee so far."""
        at = at or _now()
        grants = {
            code: grant
            for code, grant in self.store.entities(site, Entity.berth).items()
            if isinstance(grant, BerthGrant) and grant.enabled
        }
        overlays = {
            str(row[0]): row
            for row in await self.store.read(
                "select berth, session, state, entered_at, event_uuid from pda_berth where site = ?",
                (site,),
            )
        }
        pending: set[str] = set()
        if overlays:
            marks = ",".join("?" * len(overlays))
            pending = {
                str(u)
                for (u,) in await self.store.read(
                    f"select uuid from outbox where uuid in ({marks})",
                    [str(row[4]) for row in overlays.values()],
                )
            }
        sessions = {
            str(s): (str(p), str(v), str(f))
            for s, p, v, f in await self.store.read(
                "select session, plate, vehicle_class, freed from pda_session where site = ?",
                (site,),
            )
        }
        paid = {
            str(s): int(a)
            for s, a in await self.store.read(
                "select session, sum(amount_fen) from pda_payment"
                " where site = ? and kind = 'parking' group by session",
                (site,),
            )
        }
        views = []
        for code, grant in sorted(grants.items(), key=lambda item: _berth_order(item[1].number)):
            overlay = overlays.get(code)
            mine = overlay is not None and str(overlay[4]) in pending
            if overlay is not None and mine:
                occupied = overlay[2] == "occupied"
                session = str(overlay[1]) if occupied else ""
                entered_at = _time(overlay[3]) if occupied else None
                plate = grant.plate if grant.session == session else ""
            else:
                occupied, session = grant.occupied and bool(grant.session), grant.session
                entered_at, plate = grant.entered_at, grant.plate
            local_plate, vehicle_class, freed = sessions.get(session, ("", "", ""))
            plate = local_plate or plate
            view = BerthView(
                code=code,
                site=site,
                number=grant.number,
                sensor=grant.sensor,
                occupied=occupied,
                session=session,
                plate=plate,
                vehicle_class=vehicle_class or (vehicle_class_of(plate).value if plate else ""),
                entered_at=entered_at,
                by_collector=mine,
                freed=freed,
                paid_fen=paid.get(session, 0) if session else 0,
                prepaid_fen=grant.prepaid_fen if grant.session == session else 0,
            )
            if query and not matches(query, view):
                continue
            views.append(self._priced(view, at))
        return views

    def _priced(self, view: BerthView, at: datetime) -> BerthView:
        if not view.occupied or view.entered_at is None:
            return view
        if view.freed:
            return _replace(view, fee=Fee(0, None, "", view.freed))
        try:
            fee = assess(
                self.store,
                view.site,
                view.plate,
                view.entered_at,
                at,
                self.zone,
                view.vehicle_class,
            )
        except FeeUnavailable as exc:
            return _replace(view, fee_error=str(exc))
        return _replace(view, fee=fee)

    async def berth(self, site: str, code: str, at: datetime | None = None) -> BerthView:
        for view in await self.berths(site, at=at):
            if view.code == code:
                return view
        raise PdaError("parking.pda.error.unknown_berth", berth=code)

    async def _occupied(self, shift: Shift, code: str) -> BerthView:
        view = await self.berth(shift.site, code)
        if not view.occupied or not view.session:
            raise PdaError("parking.pda.error.berth_free", berth=view.number)
        return view

    def _session_row(
        self, view: BerthView, plate: str, vehicle_class: str, freed: str
    ) -> Statement:
        return (
            "insert into pda_session (session, site, berth, plate, vehicle_class, freed,"
            " updated_at) values (?, ?, ?, ?, ?, ?, ?) on conflict (session) do update set"
            " plate = excluded.plate, vehicle_class = excluded.vehicle_class,"
            " freed = excluded.freed, updated_at = excluded.updated_at",
            [(view.session, view.site, view.code, plate, vehicle_class, freed,
              _now().isoformat())],
        )  # fmt: skip

    @staticmethod
    def checked_plate(raw: str) -> str:
        plate = normalize_plate(raw)
        if not plate:
            raise PdaError("parking.pda.error.plate_empty")
        if len(plate) > 16 or not is_valid_plate(plate):
            raise PdaError("parking.pda.error.plate_invalid", plate=raw.strip()[:20])
        return plate

    async def set_plate(self, shift: Shift, code: str, raw: str) -> Outcome:
        """Enter or correct the plate of an occupied berth's session (event parking.plate_set)."""
        plate = self.checked_plate(raw)
        async with self._lock:
            view = await self._occupied(shift, code)
            vehicle_class = vehicle_class_of(plate).value
            now = _now()
            event = PlateSet(
                session=view.session,
                site=view.site,
                berth=view.code,
                plate=plate,
                vehicle_class=vehicle_class,
                collector=shift.collector,
                at=now,
            )
            await self.store.commit(
                [self._session_row(view, plate, vehicle_class, view.freed)],
                [event_row("parking.plate_set", view.site, now, event)],
            )
        arrears = self.arrears_total(shift.site, plate)
        if arrears:
            return Outcome("parking.pda.done.plate_arrears", {"plate": plate, "fen": arrears})
        return Outcome("parking.pda.done.plate", {"plate": plate})

    async def _overlay(
        self, view: BerthView, session: str, state: str, entered_at: datetime, event_type: str,
        payload: Any, extra: list[Statement] | None = None,
        after: list[tuple[str, ...]] | None = None,
    ) -> None:  # fmt: skip
        """Record the collector's occupancy change and its event (then `after`), atomically."""
        now = _now()
        row = event_row(event_type, view.site, now, payload)
        await self.store.commit(
            [
                (
                    "insert or replace into pda_berth (berth, site, session, state, entered_at,"
                    " event_uuid, updated_at) values (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            view.code,
                            view.site,
                            session,
                            state,
                            entered_at.isoformat(),
                            row[0],
                            now.isoformat(),
                        )
                    ],
                ),
                *(extra or []),
            ],
            [row, *(after or [])],
        )

    async def arrive(self, shift: Shift, code: str, raw_plate: str = "") -> Outcome:
        """补入车: open a session on a berth the sensor missed (event berth.arrived, collector)."""
        plate = self.checked_plate(raw_plate) if raw_plate.strip() else ""
        async with self._lock:
            view = await self.berth(shift.site, code)
            if view.occupied:
                raise PdaError("parking.pda.error.berth_occupied", berth=view.number)
            now = _now()
            session = str(uuid.uuid4())
            arrived = BerthArrived(
                session=session, site=view.site, berth=view.code, sensor=view.sensor,
                source="collector", at=now,
            )  # fmt: skip
            opened = _replace(view, session=session)
            if plate:
                vehicle_class = vehicle_class_of(plate).value
                set_event = PlateSet(
                    session=session, site=view.site, berth=view.code, plate=plate,
                    vehicle_class=vehicle_class, collector=shift.collector, at=now,
                )  # fmt: skip
                # The plate follows the arrival in the outbox (order matters to the cloud).
                await self._overlay(
                    view, session, "occupied", now, "berth.arrived", arrived,
                    [self._session_row(opened, plate, vehicle_class, "")],
                    [event_row("parking.plate_set", view.site, now, set_event)],
                )  # fmt: skip
            else:
                await self._overlay(view, session, "occupied", now, "berth.arrived", arrived)
        return Outcome("parking.pda.done.arrived", {"berth": view.number})

    async def depart(self, shift: Shift, code: str) -> Outcome:
        """补出车: close the berth's session (event berth.departed, source collector)."""
        async with self._lock:
            view = await self._occupied(shift, code)
            now = _now()
            departed = BerthDeparted(
                session=view.session, site=view.site, berth=view.code, sensor=view.sensor,
                source="collector", at=now,
            )  # fmt: skip
            await self._overlay(
                view, view.session, "departed", view.entered_at or now, "berth.departed", departed
            )
        return Outcome("parking.pda.done.departed", {"berth": view.number})

    async def false_alarm(self, shift: Shift, code: str, reason: str) -> Outcome:
        """地磁误报: the sensor's session had no vehicle; it is closed and reported."""
        async with self._lock:
            view = await self._occupied(shift, code)
            now = _now()
            report = SensorFalseAlarm(
                site=view.site, berth=view.code, session=view.session, sensor=view.sensor,
                collector=shift.collector, reason=reason.strip()[:MAX_REASON], at=now,
            )  # fmt: skip
            await self._overlay(
                view, view.session, "false_alarm", view.entered_at or now, "berth.false_alarm",
                report,
            )  # fmt: skip
        return Outcome("parking.pda.done.false_alarm", {"berth": view.number})

    async def free(self, shift: Shift, code: str, reason: str) -> Outcome:
        """Let a special vehicle park free (event parking.freed): its fee becomes 0."""
        reason = reason.strip()
        if not reason:
            raise PdaError("parking.pda.error.reason_required")
        async with self._lock:
            view = await self._occupied(shift, code)
            now = _now()
            event = SessionFreed(
                session=view.session, site=view.site, berth=view.code,
                reason=reason[:MAX_REASON], collector=shift.collector, at=now,
            )  # fmt: skip
            await self.store.commit(
                [self._session_row(view, view.plate, view.vehicle_class, reason[:MAX_REASON])],
                [event_row("parking.freed", view.site, now, event)],
            )
        return Outcome("parking.pda.done.freed", {"berth": view.number})

    async def collect(self, shift: Shift, code: str, method: str) -> Outcome:
        """Take the fee due so far (cash, or a QR payment the driver showed as done), record it
        with its event, then print the exit receipt (a printer error loses nothing)."""
        if method not in METHODS:
            raise PdaError("parking.pda.error.bad_method")
        async with self._lock:
            now = _now()
            view = await self._occupied(shift, code)
            if view.fee is None:
                raise PdaError("parking.pda.error.no_fee", detail=view.fee_error)
            amount = view.unpaid_fen
            if amount <= 0:
                raise PdaError("parking.pda.error.nothing_due", berth=view.number)
            payment = uuid.uuid4()
            event = ParkingPaid(
                payment=payment, session=view.session, site=view.site, amount_fen=amount,
                method=method, due_fen=view.fee.due_fen, bill=view.fee.bill,
                collector=shift.collector, at=now,
            )  # fmt: skip
            await self.store.commit(
                [
                    (
                        "insert into pda_payment (uuid, kind, shift, site, session, berth, plate,"
                        " method, amount_fen, due_fen, bill, collector, at)"
                        " values (?, 'parking', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                str(payment),
                                shift.uuid,
                                view.site,
                                view.session,
                                view.code,
                                view.plate,
                                method,
                                amount,
                                view.fee.due_fen,
                                json.dumps(view.fee.bill) if view.fee.bill else None,
                                shift.collector,
                                now.isoformat(),
                            )
                        ],
                    )
                ],
                [event_row("parking.paid", view.site, now, event)],
            )
        receipt = self.exit_receipt(shift, view, now, view.paid_fen + amount, method)
        error = await self._print(shift, receipt)
        return Outcome("parking.pda.done.collected", {"berth": view.number, "fen": amount}, error)

    # --- receipts -----------------------------------------------------------------------------

    def _pay_qr(self, subject: str) -> str:
        # The driver's payment page for this session (needs the network: the cloud takes it).
        return f"{self.settings.cloud_url}/m/{self.document.tenant}/berth/pay/{subject}"

    def entry_receipt(self, shift: Shift, view: BerthView) -> ReceiptData:
        grant = site_grant(self.store, view.site)
        return ReceiptData(
            kind="entry",
            subject=view.session,
            site=view.site,
            site_name=self.section_name(view.site),
            collector=shift.name,
            at=_now(),
            berth=view.number,
            plate=view.plate,
            entered_at=view.entered_at,
            arrears_fen=self.arrears_total(view.site, view.plate),
            free_reason=view.fee.free_reason if view.fee else "",
            qr=self._pay_qr(view.session),
            hotline=grant.hotline if grant else "",
        )

    def exit_receipt(
        self, shift: Shift, view: BerthView, at: datetime, paid_fen: int, method: str = ""
    ) -> ReceiptData:
        grant = site_grant(self.store, view.site)
        bill = view.fee.bill if view.fee and view.fee.bill else {}
        lines = tuple(
            ReceiptLine(str(line.get("label", "")), int(line.get("amount_fen", 0)))
            for line in bill.get("lines", [])
        )
        due = view.fee.due_fen if view.fee else 0
        return ReceiptData(
            kind="exit",
            subject=view.session,
            site=view.site,
            site_name=self.section_name(view.site),
            collector=shift.name,
            at=at,
            berth=view.number,
            plate=view.plate,
            entered_at=view.entered_at,
            exited_at=at,
            minutes=int(bill.get("minutes", 0))
            or int((at - (view.entered_at or at)).total_seconds() // 60),
            lines=lines,
            due_fen=due,
            paid_fen=paid_fen + view.prepaid_fen,
            method=method,
            free_reason=view.fee.free_reason if view.fee else "",
            qr=self._pay_qr(view.session) if due > paid_fen + view.prepaid_fen else "",
            hotline=grant.hotline if grant else "",
        )

    async def print_berth(self, shift: Shift, code: str, kind: str) -> Outcome:
        """Print the entry or exit receipt of a berth's current session."""
        view = await self._occupied(shift, code)
        if kind == "entry":
            receipt = self.entry_receipt(shift, view)
        elif kind == "exit":
            receipt = self.exit_receipt(shift, view, _now(), view.paid_fen)
        else:
            raise PdaError("parking.pda.error.bad_receipt")
        error = await self._print(shift, receipt)
        if error:
            raise PdaError("parking.pda.error.printer", detail=error)
        return Outcome("parking.pda.done.printed", {"berth": view.number})

    async def reprint(self, shift: Shift, receipt_id: int) -> Outcome:
        """补打: the same receipt as printed before, with the next copy number."""
        rows = await self.store.read(
            "select content from pda_receipt_content where id = ?", (receipt_id,)
        )
        if not rows:
            raise PdaError("parking.pda.error.unknown_receipt")
        receipt = ReceiptData.from_json(json.loads(rows[0][0]))
        error = await self._print(shift, receipt)
        if error:
            raise PdaError("parking.pda.error.printer", detail=error)
        return Outcome("parking.pda.done.printed", {"berth": receipt.berth or receipt.plate})

    async def _print(self, shift: Shift, receipt: ReceiptData) -> str:
        """Print; on success record it (its copy number) with parking.receipt_printed. Returns
        the printer's error, "" when printed."""
        rows = await self.store.read(
            "select count(*) from pda_receipt where subject = ? and kind = ?",
            (receipt.subject, receipt.kind),
        )
        copy_number = int(rows[0][0]) + 1
        try:
            await self.printer.print(encode(receipt, copy_number, self.zone))
        except PrinterError as exc:
            return str(exc)
        now = _now()
        event = ReceiptPrinted(
            session=receipt.subject, site=receipt.site, kind=receipt.kind,
            copy_number=copy_number, collector=shift.collector, at=now,
        )  # fmt: skip
        content = json.dumps(receipt.to_json(), ensure_ascii=False)
        await self.store.commit(
            [
                (
                    "insert into pda_receipt (subject, kind, copy_number, shift, site, collector,"
                    " at) values (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            receipt.subject,
                            receipt.kind,
                            copy_number,
                            shift.uuid,
                            receipt.site,
                            shift.collector,
                            now.isoformat(),
                        )
                    ],
                ),
                (
                    "insert or ignore into pda_receipt_content (subject, kind, content)"
                    " values (?, ?, ?)",
                    [(receipt.subject, receipt.kind, content)],
                ),
            ],
            [event_row("parking.receipt_printed", receipt.site, now, event)],
        )
        return ""

    async def records(self, shift: Shift) -> list[dict[str, Any]]:
        """This shift's payments and printable receipts, newest first (当天记录, 补打)."""
        rows = await self.store.read(
            "select c.id, c.kind, c.content, max(r.copy_number) from pda_receipt_content c"
            " join pda_receipt r on r.subject = c.subject and r.kind = c.kind"
            " where r.shift = ? group by c.id order by max(r.at) desc limit 200",
            (shift.uuid,),
        )
        out = []
        for key, kind, content, copies in rows:
            receipt = ReceiptData.from_json(json.loads(content))
            out.append({"id": int(key), "kind": str(kind), "receipt": receipt, "copies": copies})
        return out

    async def payments(self, shift: Shift) -> list[dict[str, Any]]:
        rows = await self.store.read(
            "select kind, berth, plate, method, amount_fen, at from pda_payment"
            " where shift = ? order by at desc limit 200",
            (shift.uuid,),
        )
        return [
            {"kind": k, "berth": b, "plate": p, "method": m, "amount_fen": int(a),
             "at": datetime.fromisoformat(t)}
            for k, b, p, m, a, t in rows
        ]  # fmt: skip

    # --- arrears -------------------------------------------------------------------------------

    def _arrears_grant(self, site: str, plate: str) -> ArrearsGrant | None:
        grant = self.store.entities(site, Entity.arrears).get(plate)
        return grant if isinstance(grant, ArrearsGrant) else None

    def arrears_total(self, site: str, plate: str) -> int:
        """What the cloud last said the plate owes (without what this PDA just collected)."""
        grant = self._arrears_grant(site, plate) if plate else None
        return grant.total_fen if grant is not None else 0

    async def arrears(self, site: str, raw_plate: str) -> tuple[str, list[ArrearsLine]]:
        """The plate's unpaid arrears records, less those collected here since the last sync."""
        plate = self._arrears_plate(site, raw_plate)
        grant = self._arrears_grant(site, plate)
        if grant is None:
            return plate, []
        rows = await self.store.read(
            "select orders from pda_payment where plate = ? and kind = 'arrears'", (plate,)
        )
        settled = {order for (orders,) in rows for order in json.loads(orders)}
        return plate, [
            ArrearsLine(item.order, item.site, item.amount_fen, item.occurred_at)
            for item in grant.items
            if item.order not in settled
        ]

    def _arrears_plate(self, site: str, raw: str) -> str:
        """A whole plate as typed, or the one plate with arrears that a partial one matches
        (the province character left out, a few characters of it)."""
        plate = normalize_plate(raw)
        if is_valid_plate(plate):
            return plate
        key = fuzzy_key(raw)
        if len(key) < 3:
            return self.checked_plate(raw)
        found = sorted(p for p in self.store.entities(site, Entity.arrears) if key in fuzzy_key(p))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise PdaError("parking.pda.error.ambiguous_plate", plates="、".join(found[:5]))
        return self.checked_plate(raw)

    def confirm_above_fen(self, site: str) -> int:
        grant = site_grant(self.store, site)
        return grant.arrears_confirm_above_fen if grant is not None else 20_000

    async def collect_arrears(
        self, shift: Shift, raw_plate: str, orders: list[str], method: str, confirmed: bool
    ) -> Outcome:
        """补缴: one record or all of the plate's; above the section's threshold the collector
        must confirm a second time (PdaError parking.pda.error.confirm carries the amount)."""
        if method not in METHODS:
            raise PdaError("parking.pda.error.bad_method")
        async with self._lock:
            plate, lines = await self.arrears(shift.site, raw_plate)
            chosen = [line for line in lines if line.order in orders] if orders else lines
            if not chosen or (orders and len(chosen) != len(set(orders))):
                raise PdaError("parking.pda.error.no_arrears", plate=plate)
            amount = sum(line.amount_fen for line in chosen)
            threshold = self.confirm_above_fen(shift.site)
            if amount > threshold and not confirmed:
                raise PdaError("parking.pda.error.confirm", fen=amount, threshold=threshold)
            now = _now()
            payment = uuid.uuid4()
            settled = [line.order for line in chosen]
            event = ArrearsCollected(
                payment=payment, site=shift.site, plate=plate, orders=settled,
                amount_fen=amount, method=method, collector=shift.collector, at=now,
            )  # fmt: skip
            await self.store.commit(
                [
                    (
                        "insert into pda_payment (uuid, kind, shift, site, plate, method,"
                        " amount_fen, due_fen, orders, collector, at)"
                        " values (?, 'arrears', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                str(payment),
                                shift.uuid,
                                shift.site,
                                plate,
                                method,
                                amount,
                                amount,
                                json.dumps(settled),
                                shift.collector,
                                now.isoformat(),
                            )
                        ],
                    )
                ],
                [event_row("parking.arrears_collected", shift.site, now, event)],
            )
        grant = site_grant(self.store, shift.site)
        receipt = ReceiptData(
            kind="arrears",
            subject=str(payment),
            site=shift.site,
            site_name=self.section_name(shift.site),
            collector=shift.name,
            at=now,
            plate=plate,
            lines=tuple(
                ReceiptLine(
                    line.occurred_at.astimezone(self.zone).strftime("%m-%d %H:%M"), line.amount_fen
                )
                for line in chosen
            ),
            due_fen=amount,
            paid_fen=amount,
            method=method,
            hotline=grant.hotline if grant else "",
            orders=tuple(settled),
        )
        error = await self._print(shift, receipt)
        return Outcome("parking.pda.done.arrears", {"plate": plate, "fen": amount}, error)


def _replace(view: BerthView, **changes: Any) -> BerthView:
    from dataclasses import replace

    return replace(view, **changes)


def _berth_order(number: str) -> tuple[int, str]:
    digits = "".join(ch for ch in number if ch.isdigit())
    return (int(digits) if digits else 1 << 30, number)
