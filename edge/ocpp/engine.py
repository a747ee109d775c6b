"""The charging engine: OCPP transactions decided from synced state and recorded with their events.

No sockets here: the central system (edge/ocpp/central.py) hands it what chargers said, in
the order they said it, and answers them with what it returns. Every state change is
committed with the event that reports it (Store.commit, group-committed), before the
charger gets its answer.

- transactionIds are issued here: strictly increasing over the whole edge, persisted (the
  highest id in charging_transaction is where a restarted edge continues), never taken from
  the charger;
- a resent StartTransaction (same charger, connector, idTag, meterStart, timestamp) gets the
  id it got the first time, open or already stopped;
- StopTransaction is never refused: one for a transaction this edge did not issue (or that
  belongs to another charger) becomes charging.unmatched_stop; a meter below the start is
  flagged (meter_below_start) and billed as no energy, never negative;
- the tariff version in force when the transaction started bills it (version_in_force),
  from every reading the charger sent (MeterValues, transactionData, meterStop).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.ocpp.wire import ChargerTime, charger_time
from edge.store import Statement, Store, event_row
from protocols.charging import ChargerGrant, IdTagGrant, IdTagStatus, TariffGrant
from protocols.events import (
    ChargerLink,
    ChargingMetered,
    ChargingStarted,
    ChargingStartFailed,
    ChargingStopped,
    ChargingSuspended,
    ConnectorStatus,
    MeterSample,
    UnmatchedStop,
)
from protocols.sync import Entity
from protocols.tariffs import Reading, TariffDocument, bill_charging, parse_tariff, version_in_force

log = logging.getLogger(__name__)

ENERGY = "Energy.Active.Import.Register"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Transaction:
    """An open transaction, mirrored in memory (the row is the truth)."""

    id: int
    site: str
    charge_point: str
    connector: int
    order: uuid.UUID
    id_tag: str
    meter_start: int
    started_at: datetime
    tariff: str
    tariff_version: date | None
    start_key: str
    suspended: bool = False


@dataclass(slots=True)
class PendingStart:
    """A remote start the cloud ordered: its order uuid goes to the StartTransaction that
    follows on this connector (0: any) with this idTag, before the deadline (monotonic)."""

    charge_point: str
    connector: int
    id_tag: str
    order: uuid.UUID
    site: str
    deadline: float


@dataclass(frozen=True, slots=True)
class Charger:
    site: str
    charge_point: str
    grant: ChargerGrant


@dataclass(slots=True)
class _Directory:
    """Chargers, id tags and parsed tariffs of every site, rebuilt when synced state moves."""

    version: int = -1
    chargers: dict[str, Charger] = field(default_factory=dict)
    id_tags: dict[str, dict[str, IdTagGrant]] = field(default_factory=dict)
    tariffs: dict[str, dict[str, TariffGrant]] = field(default_factory=dict)
    parsed: dict[tuple[str, str], list[tuple[date, TariffDocument]] | None] = field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True)
class Boot:
    vendor: str
    model: str
    firmware: str


def _start_key(connector: int, id_tag: str, meter_start: int, timestamp: str) -> str:
    return f"{connector}|{id_tag}|{meter_start}|{timestamp}"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def parse_meter_values(
    meter_value: Iterable[dict[str, Any]], now: datetime
) -> tuple[list[MeterSample], list[str]]:
    """MeterValues (snake_case, as the package hands them) to samples in time order.

    The energy register is Energy.Active.Import.Register when no measurand is given, in Wh
    unless unit says kWh; a Transaction.Begin context (firmware that repeats the start beside
    the periodic value) and per-phase registers are skipped; a meter value without the
    total register gives no sample. Returns the samples and notes of what was skipped."""
    samples: list[MeterSample] = []
    notes: list[str] = []
    for value in meter_value:
        stamp = charger_time(str(value.get("timestamp", "")), now)
        if stamp.flag:
            notes.append(f"{stamp.flag} {value.get('timestamp')!r}")
        energy: int | None = None
        extra: dict[str, Any] = {}
        for sampled in value.get("sampled_value", []):
            measurand = sampled.get("measurand") or ENERGY
            unit = (sampled.get("unit") or "").lower()
            number = _number(sampled.get("value"))
            if number is None:
                notes.append(f"unreadable value {sampled.get('value')!r} for {measurand}")
                continue
            if sampled.get("phase"):
                continue
            if measurand == ENERGY:
                if sampled.get("context") == "Transaction.Begin":
                    continue
                energy = round(number * 1000) if unit == "kwh" else round(number)
            elif measurand == "Power.Active.Import":
                extra["power_w"] = round(number * 1000) if unit == "kw" else round(number)
            elif measurand == "Current.Import":
                extra["current_a"] = number
            elif measurand == "Voltage":
                extra["voltage_v"] = number
            elif measurand == "SoC":
                extra["soc"] = round(number)
        if energy is not None:
            samples.append(MeterSample(at=stamp.at, energy_wh=energy, **extra))
    samples.sort(key=lambda sample: sample.at)
    return samples, notes


def billing_readings(
    meter_start: int, started_at: datetime, stored: Iterable[tuple[datetime, int]]
) -> list[Reading]:
    """Readings for bill_charging: the start, then every stored reading in time order, none
    below the start or earlier than it (a charger's clock or register going backwards is
    not billed); the register never goes down within a bill."""
    readings = [Reading(at=started_at, wh=meter_start)]
    for at, wh in sorted(stored, key=lambda item: item[0]):
        at = max(at, readings[-1].at)
        readings.append(Reading(at=at, wh=max(wh, readings[-1].wh)))
    return readings


class ChargingEngine:
    def __init__(
        self,
        store: Store,
        remote_start_timeout_s: float = 90.0,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._now = now
        self._remote_start_timeout_s = remote_start_timeout_s
        self._directory = _Directory()
        self.open: dict[int, Transaction] = {}
        self._by_start: dict[tuple[str, str], int] = {}
        self._next_id = 1
        self.boots: dict[str, Boot] = {}
        self.pending: list[PendingStart] = []

    async def load(self) -> None:
        """Open transactions, the next transactionId and boot records from the store."""
        rows = await self._store.read("select coalesce(max(id), 0) from charging_transaction")
        self._next_id = int(rows[0][0]) + 1
        rows = await self._store.read(
            "select id, site, charge_point, connector, order_uuid, id_tag, meter_start,"
            " started_at, tariff, tariff_version, start_key from charging_transaction"
            " where stopped_at is null"
        )
        for row in rows:
            tx = Transaction(
                id=int(row[0]),
                site=str(row[1]),
                charge_point=str(row[2]),
                connector=int(row[3]),
                order=uuid.UUID(str(row[4])),
                id_tag=str(row[5]),
                meter_start=int(row[6]),
                started_at=datetime.fromisoformat(str(row[7])),
                tariff=str(row[8]),
                tariff_version=date.fromisoformat(str(row[9])) if row[9] else None,
                start_key=str(row[10]),
            )
            self.open[tx.id] = tx
            self._by_start[(tx.charge_point, tx.start_key)] = tx.id
        rows = await self._store.read(
            "select charge_point, vendor, model, firmware from charger_boot"
        )
        self.boots = {str(r[0]): Boot(str(r[1]), str(r[2]), str(r[3])) for r in rows}

    # --- synced state --------------------------------------------------------------------------

    def _state(self) -> _Directory:
        if self._directory.version == self._store.state_version:
            return self._directory
        directory = _Directory(version=self._store.state_version)
        for site in self._store.sites():
            for key, model in self._store.entities(site, Entity.charger).items():
                if isinstance(model, ChargerGrant):
                    directory.chargers[key] = Charger(site, key, model)
            directory.id_tags[site] = {
                key: model
                for key, model in self._store.entities(site, Entity.id_tag).items()
                if isinstance(model, IdTagGrant)
            }
            directory.tariffs[site] = {
                key: model
                for key, model in self._store.entities(site, Entity.tariff).items()
                if isinstance(model, TariffGrant)
            }
        self._directory = directory
        return directory

    def charger(self, charge_point: str) -> Charger | None:
        return self._state().chargers.get(charge_point)

    def id_tags(self, site: str) -> dict[str, IdTagGrant]:
        return self._state().id_tags.get(site, {})

    def authorize(self, site: str, id_tag: str) -> tuple[IdTagStatus, datetime | None]:
        """Offline, from the synced id tags: Accepted, Blocked, Expired or Invalid (unknown)."""
        grant = self.id_tags(site).get(id_tag)
        if grant is None:
            return IdTagStatus.invalid, None
        if grant.status == IdTagStatus.accepted and grant.expires_at is not None:
            if grant.expires_at <= self._now():
                return IdTagStatus.expired, grant.expires_at
        return grant.status, grant.expires_at

    def tariff_versions(self, site: str, key: str) -> list[tuple[date, TariffDocument]] | None:
        directory = self._state()
        if (site, key) not in directory.parsed:
            grant = directory.tariffs.get(site, {}).get(key)
            versions: list[tuple[date, TariffDocument]] | None = None
            if grant is not None:
                try:
                    versions = [
                        (v.effective_from, parse_tariff(v.document)) for v in grant.versions
                    ]
                except Exception as exc:  # a bad document must not stop charging
                    log.error("tariff %s of site %s cannot be read: %s", key, site, exc)
            directory.parsed[(site, key)] = versions
        return directory.parsed[(site, key)]

    def tariff_in_force(
        self, site: str, key: str, at: datetime
    ) -> tuple[date, TariffDocument] | None:
        versions = self.tariff_versions(site, key) if key else None
        grant = self._state().tariffs.get(site, {}).get(key)
        if not versions or grant is None:
            return None
        try:
            document = version_in_force(versions, at, ZoneInfo(grant.zone))
        except Exception as exc:
            log.error("tariff %s: no version for %s: %s", key, at, exc)
            return None
        for effective_from, candidate in versions:
            if candidate is document:
                return effective_from, candidate
        return None

    # --- messages from chargers ----------------------------------------------------------------

    async def link(self, charger: Charger, online: bool, reason: str = "") -> None:
        boot = self.boots.get(charger.charge_point)
        event = ChargerLink(
            site=charger.site,
            charge_point=charger.charge_point,
            online=online,
            at=self._now(),
            reason=reason[:200],
            vendor=boot.vendor if boot else "",
            model=boot.model if boot else "",
            firmware=boot.firmware if boot else "",
        )
        await self._store.commit([], [event_row("charging.link", charger.site, event.at, event)])

    async def boot(self, charger: Charger, boot: Boot) -> None:
        now = self._now()
        statements: list[Statement] = [
            (
                "insert or replace into charger_boot values (?, ?, ?, ?, ?)",
                [(charger.charge_point, boot.vendor, boot.model, boot.firmware, now.isoformat())],
            )
        ]
        await self._store.commit(statements)
        self.boots[charger.charge_point] = boot

    async def status(
        self, charger: Charger, connector: int, status: str, error_code: str, info: str, at: str
    ) -> None:
        moment = charger_time(at, self._now()).at if at else self._now()
        event = ConnectorStatus(
            site=charger.site,
            charge_point=charger.charge_point,
            connector=connector,
            status=status,
            error_code=error_code,
            info=info[:50],
            at=moment,
        )
        await self._store.commit(
            [], [event_row("charging.connector_status", charger.site, self._now(), event)]
        )

    def expect_start(self, charger: Charger, connector: int, id_tag: str, order: uuid.UUID) -> None:
        """A remote start the charger accepted: its StartTransaction carries this order."""
        self.pending = [
            p
            for p in self.pending
            if not (p.charge_point == charger.charge_point and p.order == order)
        ]
        self.pending.append(
            PendingStart(
                charger.charge_point,
                connector,
                id_tag,
                order,
                charger.site,
                time.monotonic() + self._remote_start_timeout_s,
            )
        )

    def _claim_pending(self, charge_point: str, connector: int, id_tag: str) -> PendingStart | None:
        for pending in self.pending:
            if (
                pending.charge_point == charge_point
                and pending.id_tag == id_tag
                and pending.connector in (0, connector)
            ):
                self.pending.remove(pending)
                return pending
        return None

    async def start_failed(
        self, charger: Charger, connector: int, order: uuid.UUID, reason: str
    ) -> None:
        now = self._now()
        event = ChargingStartFailed(
            site=charger.site,
            order=order,
            charge_point=charger.charge_point,
            connector=connector,
            reason=reason[:200],
            at=now,
        )
        await self._store.commit([], [event_row("charging.start_failed", charger.site, now, event)])

    async def expire_pending(self) -> None:
        """Remote starts no StartTransaction followed in time become charging.start_failed."""
        clock = time.monotonic()
        late = [p for p in self.pending if p.deadline <= clock]
        for pending in late:
            self.pending.remove(pending)
            charger = self.charger(pending.charge_point) or Charger(
                pending.site, pending.charge_point, ChargerGrant(name="", station="", connectors=1)
            )
            await self.start_failed(
                charger,
                pending.connector,
                pending.order,
                f"no StartTransaction within {self._remote_start_timeout_s:.0f} s",
            )

    async def start(
        self,
        charger: Charger,
        connector: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
    ) -> tuple[int, IdTagStatus, datetime | None]:
        """Issue (or, for a resent start, find again) the transactionId and record the start."""
        now = self._now()
        stamp = charger_time(timestamp, now)
        key = _start_key(connector, id_tag, meter_start, stamp.at.isoformat())
        status, expires = self.authorize(charger.site, id_tag)
        known = self._by_start.get((charger.charge_point, key))
        if known is None:
            rows = await self._store.read(
                "select id from charging_transaction where charge_point = ? and start_key = ?",
                (charger.charge_point, key),
            )
            known = int(rows[0][0]) if rows else None
        if known is not None:
            log.info(
                "%s: StartTransaction resent; same transaction %d", charger.charge_point, known
            )
            return known, status, expires
        pending = self._claim_pending(charger.charge_point, connector, id_tag)
        if pending is not None:
            status, order, method = IdTagStatus.accepted, pending.order, "app"
        else:
            grant = self.id_tags(charger.site).get(id_tag)
            order = uuid.uuid4()
            method = grant.kind if grant is not None else "offline"
        in_force = self.tariff_in_force(charger.site, charger.grant.tariff, stamp.at)
        tx = Transaction(
            id=self._next_id,
            site=charger.site,
            charge_point=charger.charge_point,
            connector=connector,
            order=order,
            id_tag=id_tag,
            meter_start=meter_start,
            started_at=stamp.at,
            tariff=charger.grant.tariff,
            tariff_version=in_force[0] if in_force else None,
            start_key=key,
        )
        self._next_id += 1
        event = ChargingStarted(
            site=tx.site,
            order=tx.order,
            charge_point=tx.charge_point,
            connector=connector,
            transaction_id=tx.id,
            id_tag=id_tag,
            method=method,
            meter_start_wh=meter_start,
            started_at=tx.started_at,
            tariff=tx.tariff,
            tariff_version=tx.tariff_version,
            reservation_id=reservation_id,
        )
        statements: list[Statement] = [
            (
                "insert into charging_transaction (id, site, charge_point, connector, order_uuid,"
                " id_tag, method, meter_start, started_at, start_key, tariff, tariff_version,"
                " reservation_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        tx.id,
                        tx.site,
                        tx.charge_point,
                        connector,
                        str(order),
                        id_tag,
                        method,
                        meter_start,
                        tx.started_at.isoformat(),
                        key,
                        tx.tariff,
                        tx.tariff_version.isoformat() if tx.tariff_version else None,
                        reservation_id,
                    )
                ],
            )
        ]
        if pending is not None and pending.connector != connector:
            pass  # a remote start for "any connector" landed on this one
        try:
            await self._store.commit(
                statements, [event_row("charging.started", tx.site, now, event)]
            )
        except Exception:
            if pending is not None:
                self.pending.append(pending)
            raise
        self.open[tx.id] = tx
        self._by_start[(tx.charge_point, key)] = tx.id
        if stamp.flag:
            log.warning("%s: StartTransaction %s: %s", tx.charge_point, timestamp, stamp.flag)
        return tx.id, status, expires

    def _transaction(self, charger: Charger, transaction_id: int | None) -> Transaction | None:
        if transaction_id is None:
            return None
        tx = self.open.get(transaction_id)
        return tx if tx is not None and tx.charge_point == charger.charge_point else None

    def _metered(
        self, tx: Transaction, samples: list[MeterSample], now: datetime
    ) -> tuple[list[Statement], list[tuple[str, ...]]]:
        if not samples:
            return [], []
        below = [s for s in samples if s.energy_wh < tx.meter_start]
        if below:
            log.warning(
                "%s transaction %d: meter %d Wh below its start %d Wh (flagged, not billed)",
                tx.charge_point,
                tx.id,
                below[0].energy_wh,
                tx.meter_start,
            )
        event = ChargingMetered(
            site=tx.site,
            order=tx.order,
            charge_point=tx.charge_point,
            connector=tx.connector,
            transaction_id=tx.id,
            samples=samples,
        )
        statement: Statement = (
            "insert into charging_reading (transaction_id, at, wh) values (?, ?, ?)",
            [(tx.id, s.at.isoformat(), s.energy_wh) for s in samples],
        )
        return [statement], [event_row("charging.metered", tx.site, now, event)]

    async def meter(
        self,
        charger: Charger,
        connector: int,
        transaction_id: int | None,
        meter_value: list[dict[str, Any]],
    ) -> None:
        now = self._now()
        tx = self._transaction(charger, transaction_id)
        if tx is None:
            if transaction_id is not None:
                log.info(
                    "%s: MeterValues for transaction %s this edge has not open; not recorded",
                    charger.charge_point,
                    transaction_id,
                )
            return
        samples, notes = parse_meter_values(meter_value, now)
        for note in notes:
            log.info("%s MeterValues: %s", charger.charge_point, note)
        statements, rows = self._metered(tx, samples, now)
        if rows:
            await self._store.commit(statements, rows)

    async def stop(
        self,
        charger: Charger,
        transaction_id: int,
        meter_stop: int,
        timestamp: str,
        reason: str = "Local",
        id_tag: str = "",
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> None:
        """Close and bill the transaction; never refuses (unknown: charging.unmatched_stop)."""
        now = self._now()
        stamp: ChargerTime = charger_time(timestamp, now)
        tx = self._transaction(charger, transaction_id)
        if tx is None:
            rows = await self._store.read(
                "select stopped_at from charging_transaction where id = ? and charge_point = ?",
                (transaction_id, charger.charge_point),
            )
            if rows and rows[0][0] is not None:
                log.info("%s: StopTransaction %d resent", charger.charge_point, transaction_id)
                return
            unmatched = UnmatchedStop(
                site=charger.site,
                charge_point=charger.charge_point,
                transaction_id=transaction_id,
                id_tag=id_tag,
                meter_stop_wh=meter_stop,
                at=stamp.at,
            )
            log.warning(
                "%s: StopTransaction for transaction %d this edge never issued: kept unmatched",
                charger.charge_point,
                transaction_id,
            )
            await self._store.commit(
                [], [event_row("charging.unmatched_stop", charger.site, now, unmatched)]
            )
            return
        samples, notes = parse_meter_values(transaction_data or [], now)
        for note in notes:
            log.info("%s StopTransaction data: %s", charger.charge_point, note)
        statements, rows = self._metered(tx, samples, now)
        flags: list[str] = []
        if stamp.flag:
            flags.append(stamp.flag)
        if meter_stop < tx.meter_start:
            flags.append("meter_below_start")
        stored = await self._store.read(
            "select at, wh from charging_reading where transaction_id = ?", (tx.id,)
        )
        history = [(datetime.fromisoformat(str(at)), int(wh)) for at, wh in stored]
        history += [(s.at, s.energy_wh) for s in samples]
        if any(wh < tx.meter_start for _, wh in history) and "meter_below_start" not in flags:
            flags.append("meter_below_start")
        stopped_at = max(stamp.at, tx.started_at)
        history.append((stopped_at, meter_stop))
        energy = max(0, meter_stop - tx.meter_start)
        bill: dict[str, Any] | None = None
        in_force = None
        if tx.tariff and tx.tariff_version is not None:
            versions = self.tariff_versions(tx.site, tx.tariff) or []
            in_force = next((doc for d, doc in versions if d == tx.tariff_version), None)
        if in_force is None:
            flags.append("no_tariff")
        else:
            try:
                bill = bill_charging(
                    in_force, billing_readings(tx.meter_start, tx.started_at, history)
                ).as_dict()
            except Exception as exc:
                log.error("transaction %d could not be billed: %s", tx.id, exc)
                flags.append("unbilled")
        event = ChargingStopped(
            site=tx.site,
            order=tx.order,
            charge_point=tx.charge_point,
            connector=tx.connector,
            transaction_id=tx.id,
            meter_stop_wh=meter_stop,
            stopped_at=stopped_at,
            reason=(reason or "Local")[:32],
            energy_wh=energy,
            bill=bill,
            flags=flags,
        )
        statements += [
            (
                "update charging_transaction set stopped_at = ?, meter_stop = ?, stop_reason = ?"
                " where id = ?",
                [(stopped_at.isoformat(), meter_stop, reason, tx.id)],
            ),
            ("delete from charging_reading where transaction_id = ?", [(tx.id,)]),
        ]
        rows.append(event_row("charging.stopped", tx.site, now, event))
        await self._store.commit(statements, rows)
        self.open.pop(tx.id, None)
        self._by_start.pop((tx.charge_point, tx.start_key), None)

    # --- silence -------------------------------------------------------------------------------

    async def mark_suspended(self, tx: Transaction, suspended: bool, silent_s: float) -> None:
        now = self._now()
        event = ChargingSuspended(
            site=tx.site,
            order=tx.order,
            charge_point=tx.charge_point,
            connector=tx.connector,
            suspended=suspended,
            at=now,
            silent_s=max(0.0, silent_s),
        )
        await self._store.commit([], [event_row("charging.suspended", tx.site, now, event)])
        tx.suspended = suspended

    def transactions_of(self, charge_point: str) -> list[Transaction]:
        return [tx for tx in self.open.values() if tx.charge_point == charge_point]

    def by_order(self, order: uuid.UUID) -> Transaction | None:
        return next((tx for tx in self.open.values() if tx.order == order), None)
