"""An OCPP 1.6J charge point that behaves like real firmware, over a real WebSocket.

Built on the `ocpp` package in the charge point role (`ocpp.v16.ChargePoint` routes the central
system's CALLs to the `@on` handlers below and sends our CALLs), over aiohttp's client
WebSocket through a small adapter (the package only needs `recv()` and `send()`).

What it does, as firmware does:
- boots once per power-up (BootNotification; Pending/Rejected retried after the interval the
  central system gave), not again on a plain reconnect after a network drop, again after Reset;
- heartbeats at the central system's interval; StatusNotification per connector;
- starts a transaction on RemoteStartTransaction or a local card (Authorize, then
  StartTransaction; offline from the local list), sends MeterValues every
  MeterValueSampleInterval following a DC fast-charging curve (ramp-up, constant power up to
  the charger's maximum, taper above 80 % SoC), stops with StopTransaction carrying
  transactionData;
- keeps transaction messages (Start/Stop/MeterValues) in a queue while the link is down and
  replays them in time order when it returns;
- answers Reset, ChangeAvailability, Change/GetConfiguration, UnlockConnector, TriggerMessage,
  ReserveNow/CancelReservation, SendLocalList/GetLocalListVersion and DataTransfer.

`Quirks` make it misbehave the way real firmware does (OCPP-NOTES.md) so tests can check that a
central system copes: register in kWh, register reset per session, a duplicate
Transaction.Begin sample, StartTransaction resent when its answer was "lost", numbers as
strings, no subprotocol header.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as OcppChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from protocols.charging import OCPP_SUBPROTOCOL

log = logging.getLogger(__name__)

MEASURANDS_DEFAULT = "Energy.Active.Import.Register,Power.Active.Import,SoC"
TRANSACTION_MESSAGE_ATTEMPTS = 3


def now_iso() -> str:
    """UTC with milliseconds and a Z, as most firmware writes it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the charging curve (pure: unit-tested on its own) ----------------------------------------


@dataclass(frozen=True)
class DcCurve:
    """What a DC fast charger delivers into a car: a linear ramp to full power over `ramp_s`,
    constant power up to `taper_soc`, then a linear taper to `floor` of full power at 100 %."""

    max_kw: float
    battery_kwh: float = 60.0
    ramp_s: float = 30.0
    taper_soc: float = 80.0
    floor: float = 0.1

    def power_kw(self, elapsed_s: float, soc: float) -> float:
        if soc >= 100.0:
            return 0.0
        ramp = 1.0 if self.ramp_s <= 0 else min(1.0, max(0.0, elapsed_s) / self.ramp_s)
        ceiling = self.max_kw
        if soc > self.taper_soc:
            share = (soc - self.taper_soc) / (100.0 - self.taper_soc)
            ceiling = self.max_kw * (1.0 - (1.0 - self.floor) * share)
        return self.max_kw * ramp if self.max_kw * ramp < ceiling else ceiling


@dataclass
class ChargingSession:
    """A car being charged: integrates the curve in one-second steps of simulated time."""

    curve: DcCurve
    soc: float = 20.0
    elapsed_s: float = 0.0
    energy_wh: float = 0.0
    power_kw: float = 0.0

    def advance(self, seconds: float) -> None:
        left = max(0.0, seconds)
        while left > 1e-9:
            step = min(1.0, left)
            power = self.curve.power_kw(self.elapsed_s, self.soc)
            wh = power * 1000.0 * step / 3600.0
            self.energy_wh += wh
            self.soc = min(100.0, self.soc + 100.0 * wh / (self.curve.battery_kwh * 1000.0))
            self.elapsed_s += step
            left -= step
        self.power_kw = self.curve.power_kw(self.elapsed_s, self.soc)


# --- configuration -----------------------------------------------------------------------------


@dataclass
class Quirks:
    """Known firmware deviations (OCPP-NOTES.md), all off by default."""

    energy_kwh: bool = False  # Energy.Active.Import.Register sent in kWh (unit "kWh")
    register_reset_per_session: bool = False  # the register starts at 0 every transaction
    duplicate_begin_sample: bool = False  # a Transaction.Begin register of 0 in every MeterValues
    resend_start: bool = False  # the first StartTransaction answer is "lost": same request again
    numbers_as_strings: bool = False  # connectorId, meterStart, transactionId... as JSON strings
    no_subprotocol: bool = False  # no Sec-WebSocket-Protocol header at all
    reject_connector_zero: bool = False  # ChangeAvailability on connector 0 is Rejected


@dataclass
class ChargePointConfig:
    charge_point_id: str
    url: str  # the central system's base, e.g. ws://127.0.0.1:8000/ocpp (the id is appended)
    connectors: int = 1
    max_kw: float = 120.0  # per connector
    battery_kwh: float = 60.0
    start_soc: float = 20.0
    vendor: str = "Wayside"
    model: str = "SIM-DC120"
    serial: str = ""
    firmware: str = "1.0.0"
    password: str = ""  # HTTP Basic (security profile 1) when set
    meter_interval_s: float = 15.0  # MeterValueSampleInterval
    heartbeat_s: float = 60.0  # until a BootNotification answer says otherwise
    interval_scale: float = 1.0  # multiplies the central system's intervals (tests: 0.01)
    time_scale: float = 1.0  # simulated charging seconds per real second (tests: 60)
    reconnect_s: float = 2.0
    response_timeout_s: float = 30.0
    register_start_wh: int = 100_000  # the meter's lifetime register at power-up
    quirks: Quirks = field(default_factory=Quirks)


# --- state ------------------------------------------------------------------------------------


class LinkLost(Exception):
    """The WebSocket is down, or the answer did not come in time: the message may be resent."""


@dataclass
class Transaction:
    connector: int
    id_tag: str
    meter_start: int
    started_at: str
    session: ChargingSession
    reservation_id: int | None = None
    id: int | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False
    metered_at: float = field(default_factory=time.monotonic)
    known: asyncio.Event = field(default_factory=asyncio.Event)
    meter_task: asyncio.Task[None] | None = None


@dataclass
class Connector:
    id: int
    status: str = "Available"
    error_code: str = "NoError"
    operative: bool = True
    pending_inoperative: bool | None = None
    plugged: bool = False
    faulted: bool = False
    register_wh: float = 0.0
    transaction: Transaction | None = None
    reservation: tuple[int, str] | None = None  # (reservation id, idTag)
    reservation_timer: asyncio.TimerHandle | None = None


@dataclass
class Queued:
    """A transaction message waiting for the link, in time order."""

    action: str
    fields: dict[str, Any]
    transaction: Transaction | None = None
    attempts: int = 0


@dataclass
class Frame:
    direction: str  # "out" | "in"
    at: float  # time.monotonic()
    message: list[Any]


class _Link:
    """What `ocpp` needs of a connection (recv/send), over aiohttp's client WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, record: Callable[[str, str], None]):
        self.ws = ws
        self.record = record

    async def recv(self) -> str:
        message = await self.ws.receive()
        if message.type == aiohttp.WSMsgType.TEXT:
            self.record("in", message.data)
            return str(message.data)
        if message.type == aiohttp.WSMsgType.BINARY:
            text = bytes(message.data).decode("utf-8", "replace")
            self.record("in", text)
            return text
        raise LinkLost(f"websocket {message.type.name.lower()}")

    async def send(self, text: str) -> None:
        if self.ws.closed:
            raise LinkLost("websocket closed")
        self.record("out", text)
        await self.ws.send_str(text)


def _configuration(config: ChargePointConfig) -> dict[str, tuple[str, bool]]:
    """Configuration keys the firmware knows: value and read-only flag."""
    return {
        "HeartbeatInterval": (str(int(config.heartbeat_s)), False),
        "MeterValueSampleInterval": (str(config.meter_interval_s).removesuffix(".0"), False),
        "MeterValuesSampledData": (MEASURANDS_DEFAULT, False),
        "StopTxnSampledData": ("Energy.Active.Import.Register", False),
        "ClockAlignedDataInterval": ("0", False),
        "ConnectionTimeOut": ("60", False),
        "AuthorizeRemoteTxRequests": ("false", False),
        "LocalAuthorizeOffline": ("true", False),
        "LocalPreAuthorize": ("false", False),
        "LocalAuthListEnabled": ("true", False),
        "AuthorizationCacheEnabled": ("true", False),
        "StopTransactionOnInvalidId": ("true", False),
        "TransactionMessageAttempts": (str(TRANSACTION_MESSAGE_ATTEMPTS), False),
        "TransactionMessageRetryInterval": ("5", False),
        "WebSocketPingInterval": ("0", False),
        "NumberOfConnectors": (str(config.connectors), True),
        "LocalAuthListMaxLength": ("10000", True),
        "SendLocalListMaxLength": ("1000", True),
        "ChargeProfileMaxStackLevel": ("10", True),
        "SupportedFeatureProfiles": (
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,RemoteTrigger",
            True,
        ),
    }


INTEGER_KEYS = {
    "HeartbeatInterval",
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "WebSocketPingInterval",
}
BOOLEAN_KEYS = {
    "AuthorizeRemoteTxRequests",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "LocalAuthListEnabled",
    "AuthorizationCacheEnabled",
    "StopTransactionOnInvalidId",
}


class ChargePointSimulator:
    """One charge point: `await start()`, drive it (plug, swipe, unplug, fault, cut the link),
    watch `frames`, `await stop()`."""

    def __init__(self, config: ChargePointConfig) -> None:
        self.config = config
        self.connectors = {
            n: Connector(n, register_wh=float(config.register_start_wh))
            for n in range(1, config.connectors + 1)
        }
        self.settings = {key: value for key, (value, _) in _configuration(config).items()}
        self.read_only = {key for key, (_, ro) in _configuration(config).items() if ro}
        self.local_list: dict[str, dict[str, Any]] = {}
        self.local_list_version = 0
        self.auth_cache: dict[str, str] = {}
        self.data_transfers: list[tuple[str, str | None, str | None]] = []
        self.frames: list[Frame] = []
        self.registration = ""  # last BootNotification status
        self.boots = 0  # BootNotifications sent
        self.connections = 0  # WebSocket handshakes that succeeded
        self.duplicate_starts: list[tuple[int, int]] = []  # (lost answer's id, resent's id)
        self.dropped: list[Queued] = []  # gave up after TransactionMessageAttempts CALLERRORs
        self.handshake_errors: list[str] = []
        self.online = asyncio.Event()  # booted and connected
        self._outbox: deque[Queued] = deque()
        self._outbox_ready = asyncio.Event()
        self._drained = asyncio.Event()  # nothing queued
        self._drained.set()
        self._link_allowed = asyncio.Event()
        self._link_allowed.set()
        self._booted = False
        self._cp: _Firmware | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._down: asyncio.Future[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._runner: asyncio.Task[None] | None = None
        self._link_tasks: set[asyncio.Task[Any]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat_wake = asyncio.Event()
        self._order = asyncio.Lock()

    # --- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._runner = asyncio.create_task(self._run(), name=f"cp-{self.config.charge_point_id}")

    async def stop(self) -> None:
        for connector in self.connectors.values():
            if connector.transaction and connector.transaction.meter_task:
                connector.transaction.meter_task.cancel()
            if connector.reservation_timer:
                connector.reservation_timer.cancel()
        tasks = [t for t in (self._runner, *self._tasks, *self._link_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()

    async def wait_online(self, limit_s: float = 10.0) -> None:
        await asyncio.wait_for(self.online.wait(), limit_s)

    async def cut_link(self) -> None:
        """The network goes away (no close handshake reaches the other side cleanly) and stays
        away until restore_link()."""
        self._link_allowed.clear()
        await self._drop()

    def restore_link(self) -> None:
        self._link_allowed.set()

    async def drop_link(self) -> None:
        """A blip: the connection breaks and the firmware reconnects at once (no new boot)."""
        await self._drop()

    async def _drop(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)
        self._link_down()

    def _link_down(self) -> None:
        self.online.clear()
        if self._down is not None and not self._down.done():
            self._down.set_result(None)

    async def _run(self) -> None:
        assert self._http is not None
        while True:
            await self._link_allowed.wait()
            url = f"{self.config.url.rstrip('/')}/{self.config.charge_point_id}"
            protocols = () if self.config.quirks.no_subprotocol else (OCPP_SUBPROTOCOL,)
            auth = (
                aiohttp.BasicAuth(self.config.charge_point_id, self.config.password)
                if self.config.password
                else None
            )
            try:
                ws = await self._http.ws_connect(
                    url, protocols=protocols, auth=auth, autoping=True, heartbeat=None
                )
            except (TimeoutError, aiohttp.ClientError, OSError) as error:
                self.handshake_errors.append(f"{type(error).__name__}: {error}")
                await asyncio.sleep(self.config.reconnect_s)
                continue
            self.connections += 1
            try:
                await self._serve(ws)
            finally:
                await ws.close()
                self._ws = None
            await asyncio.sleep(self.config.reconnect_s)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._down = asyncio.get_running_loop().create_future()
        cp = _Firmware(self, self.config.charge_point_id, _Link(ws, self._record))
        cp._response_timeout = self.config.response_timeout_s
        self._cp = cp
        reader = asyncio.create_task(cp.start(), name="ocpp-reader")
        reader.add_done_callback(lambda _: self._link_down())
        self._link_tasks.add(reader)
        try:
            if not self._booted:
                await self._boot()
            self.online.set()
            await self._send_all_status()
            self._spawn_link(self._heartbeats(), "heartbeat")
            self._spawn_link(self._drain(), "drain")
            await self._down
        except LinkLost:
            pass
        finally:
            self._link_down()
            self._cp = None
            for task in list(self._link_tasks):
                task.cancel()
            await asyncio.gather(*self._link_tasks, return_exceptions=True)
            self._link_tasks.clear()

    def _spawn_link(self, coroutine: Any, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._link_tasks.add(task)

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _record(self, direction: str, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = [text]
        self.frames.append(Frame(direction, time.monotonic(), message))

    # --- what the tests read ----------------------------------------------------------------

    def calls(self, action: str) -> list[dict[str, Any]]:
        """Payloads of the CALLs of this action we sent, in order (as on the wire)."""
        return [
            f.message[3]
            for f in self.frames
            if f.direction == "out" and f.message[:1] == [2] and f.message[2] == action
        ]

    def received(self, action: str) -> list[dict[str, Any]]:
        return [
            f.message[3]
            for f in self.frames
            if f.direction == "in" and f.message[:1] == [2] and f.message[2] == action
        ]

    def connector(self, n: int) -> Connector:
        return self.connectors[n]

    def scaled(self, seconds: float) -> float:
        return max(0.001, seconds * self.config.interval_scale)

    # --- sending ------------------------------------------------------------------------------

    async def _request(self, payload: Any) -> Any:
        """One CALL and its answer; LinkLost when the link goes or the answer does not come.
        One CALL at a time (OCPP-J), in the order they were asked for."""
        async with self._order:
            return await self._request_now(payload)

    async def _request_now(self, payload: Any) -> Any:
        cp, down = self._cp, self._down
        if cp is None or down is None or down.done():
            raise LinkLost("offline")
        task = asyncio.ensure_future(
            cp.call(payload, suppress=False, skip_schema_validation=self._skip_validation)
        )
        # Its outcome is read below, unless this request is itself cancelled first.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        done, _ = await asyncio.wait(
            {task, down},
            timeout=self.config.response_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise LinkLost("no answer")

    @property
    def _skip_validation(self) -> bool:
        return self.config.quirks.numbers_as_strings

    def _number(self, value: int) -> int | str:
        return str(value) if self.config.quirks.numbers_as_strings else value

    async def _try(self, payload: Any) -> Any:
        """A CALL that is simply lost when offline (Heartbeat, StatusNotification...)."""
        try:
            return await self._request(payload)
        except (LinkLost, OCPPError) as error:
            log.debug("%s: %s not delivered: %s", self.config.charge_point_id, payload, error)
            return None

    async def _boot(self) -> None:
        while True:
            self.boots += 1
            answer = await self._request(
                call.BootNotification(
                    charge_point_model=self.config.model,
                    charge_point_vendor=self.config.vendor,
                    charge_point_serial_number=self.config.serial or None,
                    firmware_version=self.config.firmware,
                )
            )
            self.registration = str(answer.status)
            interval = int(answer.interval)
            if answer.status == "Accepted":
                if interval > 0:
                    self.settings["HeartbeatInterval"] = str(interval)
                self._booted = True
                return
            # Pending or Rejected: say nothing else, ask again after the interval.
            await asyncio.sleep(self.scaled(interval or 30))

    async def _heartbeats(self) -> None:
        while True:
            interval = self.scaled(float(self.settings["HeartbeatInterval"] or 60))
            self._heartbeat_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heartbeat_wake.wait(), interval)
                continue  # the interval changed: wait the new one
            await self._try(call.Heartbeat())

    def _status_now(self, n: int) -> tuple[str, str]:
        if n == 0:
            operative = any(c.operative for c in self.connectors.values())
            return ("Available" if operative else "Unavailable"), "NoError"
        connector = self.connectors[n]
        return connector.status, connector.error_code

    def _status_call(self, n: int, status: str, code: str) -> Any:
        return call.StatusNotification(
            connector_id=self._number(n),
            error_code=code or "NoError",
            status=status,
            timestamp=now_iso(),
        )

    async def send_status(self, n: int, status: str = "", code: str = "") -> None:
        """StatusNotification for connector n (0: the whole charge point), as it is now unless
        the status it changed to is given."""
        if not status:
            status, code = self._status_now(n)
        await self._try(self._status_call(n, status, code))

    async def _send_all_status(self) -> None:
        """Every connector's status as it is at this instant, before any later change (a
        change made meanwhile queues its own StatusNotification behind these)."""
        snapshot = [(n, *self._status_now(n)) for n in range(self.config.connectors + 1)]
        async with self._order:
            for n, status, code in snapshot:
                try:
                    await self._request_now(self._status_call(n, status, code))
                except (LinkLost, OCPPError):
                    return

    def _set_status(self, connector: Connector, status: str, error_code: str = "NoError") -> None:
        if connector.status == status and connector.error_code == error_code:
            return
        connector.status, connector.error_code = status, error_code
        if self.online.is_set():
            self._spawn(self.send_status(connector.id, status, error_code), "status")

    def _enqueue(self, item: Queued) -> None:
        self._outbox.append(item)
        self._outbox_ready.set()
        self._drained.clear()

    async def _drain(self) -> None:
        """Sends queued transaction messages in order while the link is up."""
        retry_s = self.scaled(float(self.settings["TransactionMessageRetryInterval"]))
        while True:
            await self._outbox_ready.wait()
            while self._outbox:
                item = self._outbox[0]
                try:
                    await self._deliver(item)
                except OCPPError as error:
                    item.attempts += 1
                    if item.attempts >= int(self.settings["TransactionMessageAttempts"]):
                        log.warning("%s: %s dropped: %s", self.config.charge_point_id, item, error)
                        self.dropped.append(self._outbox.popleft())
                    else:
                        await asyncio.sleep(retry_s)
                    continue
                self._outbox.popleft()
            self._outbox_ready.clear()
            self._drained.set()

    async def _deliver(self, item: Queued) -> None:
        tx = item.transaction
        if item.action == Action.start_transaction:
            assert tx is not None
            payload = call.StartTransaction(**item.fields)
            answer = await self._request(payload)
            if self.config.quirks.resend_start and item.attempts == 0:
                # The answer "never arrived": firmware sends the same request again.
                item.attempts += 1
                lost = int(answer.transaction_id)
                answer = await self._request(payload)
                self.duplicate_starts.append((lost, int(answer.transaction_id)))
            tx.id = int(answer.transaction_id)
            tx.known.set()
            status = str(answer.id_tag_info.get("status", ""))
            self.auth_cache[tx.id_tag] = status
            if status != "Accepted" and self.settings["StopTransactionOnInvalidId"] == "true":
                self._spawn(self.stop_transaction(tx.connector, "DeAuthorized"), "deauthorized")
            return
        if tx is not None and tx.id is None:
            # Its StartTransaction was dropped: nothing to attach this to.
            self.dropped.append(item)
            return
        fields = dict(item.fields)
        if tx is not None:
            fields["transaction_id"] = self._number(tx.id or 0)
        if item.action == Action.meter_values:
            await self._request(call.MeterValues(**fields))
        elif item.action == Action.stop_transaction:
            await self._request(call.StopTransaction(**fields))

    # --- charging -------------------------------------------------------------------------------

    def plug_in(self, n: int = 1) -> None:
        connector = self.connectors[n]
        connector.plugged = True
        if connector.transaction is None and connector.operative and not connector.faulted:
            self._set_status(connector, "Preparing")

    async def unplug(self, n: int = 1) -> None:
        connector = self.connectors[n]
        if connector.transaction is not None:
            await self.stop_transaction(n, "EVDisconnected")
        connector.plugged = False
        if not connector.faulted:
            self._settle(connector)

    def _settle(self, connector: Connector) -> None:
        """The status an idle connector rests in."""
        if connector.pending_inoperative is not None:
            connector.operative = not connector.pending_inoperative
            connector.pending_inoperative = None
        if not connector.operative:
            self._set_status(connector, "Unavailable")
        elif connector.reservation is not None:
            self._set_status(connector, "Reserved")
        elif connector.plugged:
            self._set_status(connector, "Finishing")
        else:
            self._set_status(connector, "Available")

    async def authorize(self, id_tag: str) -> str:
        """Accepted/Blocked/...: online from the central system, offline from the local list or
        the cache (LocalAuthorizeOffline)."""
        if self.online.is_set():
            try:
                answer = await self._request(call.Authorize(id_tag=id_tag))
            except (LinkLost, OCPPError):
                answer = None
            if answer is not None:
                status = str(answer.id_tag_info.get("status", "Invalid"))
                self.auth_cache[id_tag] = status
                return status
        if self.settings["LocalAuthorizeOffline"] != "true":
            return "Invalid"
        entry = self.local_list.get(id_tag)
        if entry is not None:
            return str(entry.get("status", "Invalid"))
        return self.auth_cache.get(id_tag, "Invalid")

    async def swipe(self, id_tag: str, n: int = 1) -> bool:
        """A card at the reader: stops this card's transaction, or authorises and starts one."""
        connector = self.connectors[n]
        tx = connector.transaction
        if tx is not None:
            if tx.id_tag == id_tag or await self.authorize(id_tag) == "Accepted":
                await self.stop_transaction(n, "Local", id_tag=id_tag)
                return True
            return False
        if connector.reservation is not None and connector.reservation[1] != id_tag:
            return False
        if await self.authorize(id_tag) != "Accepted":
            return False
        if not connector.plugged:
            self.plug_in(n)
        return self.begin_transaction(n, id_tag) is not None

    def begin_transaction(self, n: int, id_tag: str) -> Transaction | None:
        connector = self.connectors[n]
        if connector.transaction is not None or not connector.operative or connector.faulted:
            return None
        connector.plugged = True
        reservation_id = None
        if connector.reservation is not None:
            reservation_id = connector.reservation[0]
            self._clear_reservation(connector)
        if self.config.quirks.register_reset_per_session:
            connector.register_wh = 0.0
        curve = DcCurve(max_kw=self.config.max_kw, battery_kwh=self.config.battery_kwh)
        tx = Transaction(
            connector=n,
            id_tag=id_tag,
            meter_start=int(connector.register_wh),
            started_at=now_iso(),
            session=ChargingSession(curve, soc=self.config.start_soc),
            reservation_id=reservation_id,
        )
        connector.transaction = tx
        tx.samples.append(self._sample(connector, tx, "Transaction.Begin", tx.started_at))
        self._enqueue(
            Queued(
                Action.start_transaction,
                {
                    "connector_id": self._number(n),
                    "id_tag": id_tag,
                    "meter_start": self._number(tx.meter_start),
                    "timestamp": tx.started_at,
                    "reservation_id": reservation_id,
                },
                tx,
            )
        )
        self._set_status(connector, "Charging")
        tx.meter_task = self._spawn(self._meter(connector, tx), f"meter-{n}")
        return tx

    async def wait_transaction_id(self, n: int = 1, limit_s: float = 10.0) -> int:
        tx = self.connectors[n].transaction
        if tx is None:
            raise LookupError(f"no transaction on connector {n}")
        await asyncio.wait_for(tx.known.wait(), limit_s)
        assert tx.id is not None
        return tx.id

    async def _meter(self, connector: Connector, tx: Transaction) -> None:
        while not tx.stopped:
            await asyncio.sleep(float(self.settings["MeterValueSampleInterval"]))
            self._advance(connector, tx)
            sample = self._sample(connector, tx, "Sample.Periodic", now_iso())
            tx.samples.append(sample)
            values = [sample]
            if self.config.quirks.duplicate_begin_sample:
                extra = self._sampled("Energy.Active.Import.Register", 0.0, "Transaction.Begin")
                sample = {**sample, "sampled_value": [*sample["sampled_value"], extra]}
                values = [sample]
            self._enqueue(
                Queued(
                    Action.meter_values,
                    {"connector_id": self._number(connector.id), "meter_value": values},
                    tx,
                )
            )
            if tx.session.power_kw <= 0 and connector.status == "Charging":
                self._set_status(connector, "SuspendedEV")

    def _advance(self, connector: Connector, tx: Transaction) -> None:
        """The car charged since the last reading."""
        now = time.monotonic()
        real_s, tx.metered_at = now - tx.metered_at, now
        before = tx.session.energy_wh
        tx.session.advance(real_s * self.config.time_scale)
        connector.register_wh += tx.session.energy_wh - before

    def _sampled(self, measurand: str, value: float, context: str) -> dict[str, Any]:
        if measurand == "Energy.Active.Import.Register":
            if self.config.quirks.energy_kwh:
                text, unit = f"{value / 1000:.3f}", "kWh"
            else:
                text, unit = str(int(value)), "Wh"
        elif measurand == "Power.Active.Import":
            text, unit = f"{value:.1f}", "W"
        else:
            text, unit = f"{value:.1f}", "Percent"
        sampled: dict[str, Any] = {
            "value": text,
            "context": context,
            "measurand": measurand,
            "unit": unit,
        }
        if measurand != "SoC":
            sampled["location"] = "Outlet"
        else:
            sampled["location"] = "EV"
        return sampled

    def _sample(
        self, connector: Connector, tx: Transaction, context: str, stamp: str
    ) -> dict[str, Any]:
        wanted = [m.strip() for m in self.settings["MeterValuesSampledData"].split(",") if m]
        if context.startswith("Transaction."):
            wanted = [m.strip() for m in self.settings["StopTxnSampledData"].split(",") if m]
        readings = {
            "Energy.Active.Import.Register": connector.register_wh,
            "Power.Active.Import": tx.session.power_kw * 1000.0,
            "SoC": tx.session.soc,
        }
        values = [self._sampled(m, readings[m], context) for m in wanted if m in readings]
        return {"timestamp": stamp, "sampled_value": values}

    async def stop_transaction(self, n: int, reason: str = "Local", id_tag: str = "") -> None:
        connector = self.connectors[n]
        tx = connector.transaction
        if tx is None or tx.stopped:
            return
        tx.stopped = True
        if tx.meter_task is not None and tx.meter_task is not asyncio.current_task():
            tx.meter_task.cancel()
        self._advance(connector, tx)
        stamp = now_iso()
        tx.samples.append(self._sample(connector, tx, "Transaction.End", stamp))
        connector.transaction = None
        self._enqueue(
            Queued(
                Action.stop_transaction,
                {
                    "meter_stop": self._number(int(connector.register_wh)),
                    "timestamp": stamp,
                    "reason": reason,
                    "id_tag": id_tag or None,
                    "transaction_data": tx.samples,
                },
                tx,
            )
        )
        if connector.faulted:
            return
        self._settle(connector)

    async def fault(self, n: int, error_code: str = "GroundFailure") -> None:
        connector = self.connectors[n]
        connector.faulted = True
        if connector.transaction is not None:
            await self.stop_transaction(n, "Other")
        self._set_status(connector, "Faulted", error_code)

    def clear_fault(self, n: int) -> None:
        connector = self.connectors[n]
        connector.faulted = False
        connector.error_code = "NoError"
        self._settle(connector)

    async def data_transfer(self, vendor_id: str, message_id: str = "", data: str = "") -> Any:
        return await self._try(
            call.DataTransfer(vendor_id=vendor_id, message_id=message_id or None, data=data or None)
        )

    # --- reservations -----------------------------------------------------------------------------

    def _clear_reservation(self, connector: Connector) -> None:
        connector.reservation = None
        if connector.reservation_timer is not None:
            connector.reservation_timer.cancel()
            connector.reservation_timer = None

    def _reservation_expired(self, connector: Connector) -> None:
        connector.reservation_timer = None
        if connector.reservation is not None and connector.transaction is None:
            connector.reservation = None
            self._settle(connector)

    # --- the central system's requests (called from _Firmware) ------------------------------

    def remote_start(self, id_tag: str, connector_id: int | None) -> tuple[str, int]:
        if connector_id is None:
            candidates = [
                c.id
                for c in self.connectors.values()
                if c.transaction is None and c.operative and not c.faulted
            ]
            if not candidates:
                return "Rejected", 0
            connector_id = candidates[0]
        connector = self.connectors.get(connector_id)
        if connector is None or connector.transaction is not None:
            return "Rejected", 0
        if not connector.operative or connector.faulted:
            return "Rejected", 0
        if connector.reservation is not None and connector.reservation[1] != id_tag:
            return "Rejected", 0
        return "Accepted", connector_id

    async def after_remote_start(self, id_tag: str, n: int) -> None:
        if self.settings["AuthorizeRemoteTxRequests"] == "true":
            if await self.authorize(id_tag) != "Accepted":
                return
        if not self.connectors[n].plugged:
            self.plug_in(n)
        self.begin_transaction(n, id_tag)

    def find_transaction(self, transaction_id: int) -> Connector | None:
        for connector in self.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.id == transaction_id:
                return connector
        return None

    def change_availability(self, n: int, operative: bool) -> str:
        if n == 0 and self.config.quirks.reject_connector_zero:
            return "Rejected"
        targets = list(self.connectors.values()) if n == 0 else [self.connectors[n]]
        scheduled = False
        for connector in targets:
            if connector.transaction is not None:
                connector.pending_inoperative = not operative
                scheduled = True
                continue
            connector.operative = operative
            if not connector.faulted:
                self._settle(connector)
        return "Scheduled" if scheduled else "Accepted"

    def change_configuration(self, key: str, value: str) -> str:
        if key not in self.settings:
            return "NotSupported"
        if key in self.read_only:
            return "Rejected"
        if key in INTEGER_KEYS:
            try:
                if int(value) < 0:
                    return "Rejected"
            except ValueError:
                return "Rejected"
        if key == "MeterValueSampleInterval":
            try:
                if float(value) <= 0:
                    return "Rejected"
            except ValueError:
                return "Rejected"
        if key in BOOLEAN_KEYS:
            if value.lower() not in ("true", "false"):
                return "Rejected"
            value = value.lower()
        self.settings[key] = value
        if key == "HeartbeatInterval":
            self._heartbeat_wake.set()
        return "Accepted"

    def get_configuration(self, keys: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
        wanted = keys or list(self.settings)
        known = [
            {"key": k, "readonly": k in self.read_only, "value": self.settings[k]}
            for k in wanted
            if k in self.settings
        ]
        unknown = [k for k in wanted if k not in self.settings]
        return known, unknown

    def reserve(self, n: int, expiry: str, id_tag: str, reservation_id: int) -> str:
        connector = self.connectors.get(n)
        if connector is None or n == 0:
            return "Rejected"
        if connector.faulted:
            return "Faulted"
        if not connector.operative:
            return "Unavailable"
        if connector.transaction is not None or connector.plugged:
            return "Occupied"
        if connector.reservation is not None and connector.reservation[0] != reservation_id:
            return "Occupied"
        self._clear_reservation(connector)
        connector.reservation = (reservation_id, id_tag)
        try:
            until = datetime.fromisoformat(expiry.replace("Z", "+00:00"))
            seconds = (until - datetime.now(UTC)).total_seconds()
        except ValueError:
            return "Rejected"
        loop = asyncio.get_running_loop()
        connector.reservation_timer = loop.call_later(
            max(0.0, seconds), self._reservation_expired, connector
        )
        self._set_status(connector, "Reserved")
        return "Accepted"

    def cancel_reservation(self, reservation_id: int) -> str:
        for connector in self.connectors.values():
            if connector.reservation is not None and connector.reservation[0] == reservation_id:
                self._clear_reservation(connector)
                self._settle(connector)
                return "Accepted"
        return "Rejected"

    def send_local_list(self, version: int, update_type: str, entries: list[dict[str, Any]]) -> str:
        if self.settings["LocalAuthListEnabled"] != "true":
            return "NotSupported"
        if update_type == "Full":
            self.local_list = {}
        elif version <= self.local_list_version:
            return "VersionMismatch"
        for entry in entries:
            tag = entry.get("id_tag")
            if not isinstance(tag, str):
                return "Failed"
            info = entry.get("id_tag_info")
            if info is None:
                self.local_list.pop(tag, None)
            else:
                self.local_list[tag] = dict(info)
        self.local_list_version = version
        return "Accepted"

    async def reset(self, kind: str) -> None:
        """After answering Accepted: stop transactions, deliver what can be, reboot (boot again)."""
        for n, connector in self.connectors.items():
            if connector.transaction is not None:
                await self.stop_transaction(n, "HardReset" if kind == "Hard" else "SoftReset")
        if kind == "Soft":
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self._drained.wait()
        self._booted = False
        await self._drop()

    async def trigger(self, requested: str, connector_id: int | None) -> None:
        if requested == "BootNotification":
            answer = await self._try(
                call.BootNotification(
                    charge_point_model=self.config.model,
                    charge_point_vendor=self.config.vendor,
                    firmware_version=self.config.firmware,
                )
            )
            self.boots += 1
            if answer is not None and int(answer.interval) > 0:
                self.settings["HeartbeatInterval"] = str(int(answer.interval))
                self._heartbeat_wake.set()
        elif requested == "Heartbeat":
            await self._try(call.Heartbeat())
        elif requested == "StatusNotification":
            if connector_id is None:
                await self._send_all_status()
            else:
                await self.send_status(connector_id)
        elif requested == "MeterValues":
            targets = [connector_id] if connector_id else list(self.connectors)
            for n in targets:
                connector = self.connectors[n]
                tx = connector.transaction
                reading = self._sampled(
                    "Energy.Active.Import.Register", connector.register_wh, "Trigger"
                )
                await self._try(
                    call.MeterValues(
                        connector_id=self._number(n),
                        transaction_id=None if tx is None or tx.id is None else tx.id,
                        meter_value=[{"timestamp": now_iso(), "sampled_value": [reading]}],
                    )
                )
        elif requested == "DiagnosticsStatusNotification":
            await self._try(call.DiagnosticsStatusNotification(status="Idle"))
        elif requested == "FirmwareStatusNotification":
            await self._try(call.FirmwareStatusNotification(status="Idle"))


class _Firmware(OcppChargePoint):
    """The central system's CALLs, answered as firmware answers them."""

    def __init__(self, sim: ChargePointSimulator, cp_id: str, link: _Link) -> None:
        super().__init__(cp_id, link)
        self.sim = sim
        self._remote: tuple[str, int] | None = None

    @on(Action.remote_start_transaction)
    def on_remote_start(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        status, n = self.sim.remote_start(id_tag, connector_id)
        self._remote = (id_tag, n) if status == "Accepted" else None
        return call_result.RemoteStartTransaction(status=status)

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, **_: Any) -> None:
        if self._remote is not None:
            id_tag, n = self._remote
            self._remote = None
            await self.sim.after_remote_start(id_tag, n)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        connector = self.sim.find_transaction(int(transaction_id))
        if connector is None:
            return call_result.RemoteStopTransaction(status="Rejected")
        self.sim._spawn(self.sim.stop_transaction(connector.id, "Remote"), "remote-stop")
        return call_result.RemoteStopTransaction(status="Accepted")

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str) -> None:
        self.sim._spawn(self.sim.reset(type), "reset")

    @on(Action.change_availability)
    def on_change_availability(
        self, connector_id: int, type: str
    ) -> call_result.ChangeAvailability:
        if connector_id != 0 and connector_id not in self.sim.connectors:
            return call_result.ChangeAvailability(status="Rejected")
        status = self.sim.change_availability(connector_id, type == "Operative")
        return call_result.ChangeAvailability(status=status)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        return call_result.ChangeConfiguration(status=self.sim.change_configuration(key, value))

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        known, unknown = self.sim.get_configuration(key)
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.unlock_connector)
    def on_unlock(self, connector_id: int) -> call_result.UnlockConnector:
        if connector_id not in self.sim.connectors:
            return call_result.UnlockConnector(status="NotSupported")
        if self.sim.connectors[connector_id].transaction is not None:
            self.sim._spawn(self.sim.stop_transaction(connector_id, "UnlockCommand"), "unlock")
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    def on_trigger(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        if connector_id is not None and connector_id not in self.sim.connectors:
            return call_result.TriggerMessage(status="Rejected")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    def after_trigger(self, requested_message: str, connector_id: int | None = None) -> None:
        if connector_id is None or connector_id in self.sim.connectors:
            self.sim._spawn(self.sim.trigger(requested_message, connector_id), "trigger")

    @on(Action.reserve_now)
    def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **_: Any
    ) -> call_result.ReserveNow:
        status = self.sim.reserve(connector_id, expiry_date, id_tag, reservation_id)
        return call_result.ReserveNow(status=status)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int) -> call_result.CancelReservation:
        return call_result.CancelReservation(status=self.sim.cancel_reservation(reservation_id))

    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
    ) -> call_result.SendLocalList:
        status = self.sim.send_local_list(list_version, update_type, local_authorization_list or [])
        return call_result.SendLocalList(status=status)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self) -> call_result.GetLocalListVersion:
        enabled = self.sim.settings["LocalAuthListEnabled"] == "true"
        version = self.sim.local_list_version if enabled else -1
        return call_result.GetLocalListVersion(list_version=version)

    @on(Action.clear_cache)
    def on_clear_cache(self) -> call_result.ClearCache:
        self.sim.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> call_result.DataTransfer:
        self.sim.data_transfers.append((vendor_id, message_id, data))
        if vendor_id != "wayside":
            return call_result.DataTransfer(status="UnknownVendorId")
        return call_result.DataTransfer(status="Accepted")
