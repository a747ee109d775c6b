"""The edge's OCPP 1.6J central system: the /ocpp/{charge_point_id} WebSocket, the chargers'
connections, the cloud's charger commands, and the watch on silent chargers.

Handshake: a charge point id the synced state does not know is refused with 404, a disabled
one with 403, both before the upgrade and logged; a charger with a password hash must send
HTTP Basic auth (user = its id; 401 otherwise). The subprotocol must be `ocpp1.6`; a charger
that sends no Sec-WebSocket-Protocol at all is accepted as 1.6 only when marked lenient, else
refused (400) with a log line naming it. Pings and pong timeouts are per charger
(settings.ocpp_chargers), the edge's defaults otherwise.

A new connection of a charger that is still connected replaces the old one. A charger need
not boot again on a reconnect: what it said at boot is kept (store, memory) and nothing is
sent to it until its BootNotification is answered or it showed it considers itself booted.

Commands (edge/commands.py registry): each charger_* kind sends one CALL (some two) and the
charger's answer, as JSON, is the command.result detail; anything but an accepting answer
(or no answer in ocpp_response_timeout_s, or a CALLERROR) fails the command.

Clock sync: DataTransfer vendor 'wayside', messageId 'clock', data = the edge's UTC time in
ISO 8601. Firmware that does not know it (UnknownVendorId/UnknownMessageId/Rejected) is sent
TriggerMessage(Heartbeat) instead: 1.6 chargers set their clock from the currentTime of the
Heartbeat answer, so the clock is synced either way. Tariff push: DataTransfer 'wayside' /
'tariff' with {tariff, version, document} of the version in force now, then 'hotline' and
'qr_text' with the charger's texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import BasicAuth, hdrs, web
from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from pydantic import ValidationError

from edge.commands import CommandFailed, Commands
from edge.ocpp.auth import PasswordCache
from edge.ocpp.charge_point import CentralChargePoint, ConnectionClosed, WebSocketAdapter
from edge.ocpp.engine import Boot, Charger, ChargingEngine, utc_now
from edge.settings import ChargerLinkSettings, EdgeSettings
from edge.store import Store
from protocols.charging import (
    COMMAND_PAYLOADS,
    OCPP_SUBPROTOCOL,
    AvailabilityCommand,
    CancelReservationCommand,
    ChargerCommand,
    ConfigureCommand,
    DataTransferCommand,
    GetConfigurationCommand,
    IdTagStatus,
    RemoteStartCommand,
    RemoteStopCommand,
    ReserveCommand,
    ResetCommand,
    TriggerCommand,
)
from protocols.sync import Command, CommandKind

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 1024 * 1024
READY_WAIT_S = 10.0
VENDOR = "wayside"


@dataclasses.dataclass(slots=True)
class Session:
    charger: Charger
    ws: web.WebSocketResponse
    point: CentralChargePoint
    connected_at: float
    closing_reason: str = ""


def _answer(response: Any) -> tuple[str, dict[str, Any]]:
    """A CALLRESULT dataclass as the charger sent it (camelCase JSON) and as a dict."""
    if response is None:
        return "{}", {}
    data = snake_to_camel_case(
        {k: v for k, v in dataclasses.asdict(response).items() if v is not None}
    )
    return json.dumps(data, ensure_ascii=False, default=str), data


class CentralSystem:
    def __init__(
        self,
        store: Store,
        settings: EdgeSettings,
        commands: Commands | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.engine = ChargingEngine(store, settings.ocpp_remote_start_timeout_s, now)
        self.sessions: dict[str, Session] = {}
        self.last_seen: dict[str, float] = {}
        self._started = time.monotonic()
        self._passwords = PasswordCache()
        self._watch: asyncio.Task[None] | None = None
        self._suspended_points: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()
        if commands is not None:
            self.register(commands)

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.engine.load()
        self._suspended_points = set()
        self._started = time.monotonic()
        self._watch = asyncio.create_task(self._watch_forever(), name="ocpp watch")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for session in list(self.sessions.values()):
            session.closing_reason = "edge stopping"
            await session.ws.close(code=1001, message=b"edge stopping")
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def link_settings(self, charge_point: str) -> ChargerLinkSettings:
        return self.settings.ocpp_chargers.get(charge_point) or ChargerLinkSettings()

    def boot_quirks(self, charge_point: str, boot: Boot) -> None:
        """Per-vendor behaviour chosen from the BootNotification (OCPP-NOTES: keep quirks in
        one place). None is needed yet beyond lenient mode; logged so operators see them."""
        log.debug("%s: vendor %s model %s", charge_point, boot.vendor, boot.model)

    # --- handshake and serving ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /ocpp/{charge_point_id}: check, upgrade, serve until the charger goes."""
        charge_point = request.match_info["charge_point_id"]
        peer = request.remote
        charger = self.engine.charger(charge_point)
        if charger is None:
            log.warning("OCPP: unknown charge point %r from %s refused (404)", charge_point, peer)
            return web.json_response(
                {"error": "unknown_charge_point", "detail": charge_point}, status=404
            )
        if not charger.grant.enabled:
            log.warning("OCPP: disabled charge point %r from %s refused (403)", charge_point, peer)
            return web.json_response({"error": "disabled", "detail": charge_point}, status=403)
        if charger.grant.password_hash and not await self._authorised(request, charger):
            log.warning("OCPP: charge point %r from %s: wrong Basic auth (401)", charge_point, peer)
            return web.json_response(
                {"error": "unauthorised", "detail": charge_point},
                status=401,
                headers={hdrs.WWW_AUTHENTICATE: f'Basic realm="{VENDOR}"'},
            )
        header = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "")
        offered = [part.strip() for part in header.split(",") if part.strip()]
        if not offered and not charger.grant.lenient:
            log.warning(
                "OCPP: charge point %r sent no Sec-WebSocket-Protocol; refused (mark it lenient"
                " to accept such firmware as %s)",
                charge_point,
                OCPP_SUBPROTOCOL,
            )
            return web.json_response(
                {"error": "subprotocol", "detail": f"{OCPP_SUBPROTOCOL} required"}, status=400
            )
        if offered and OCPP_SUBPROTOCOL not in offered:
            log.warning(
                "OCPP: charge point %r offers %s, not %s; refused",
                charge_point,
                ", ".join(offered),
                OCPP_SUBPROTOCOL,
            )
            return web.json_response(
                {"error": "subprotocol", "detail": f"{OCPP_SUBPROTOCOL} required"}, status=400
            )
        if not offered:
            log.info(
                "OCPP: %r sent no subprotocol; served as %s (lenient)",
                charge_point,
                OCPP_SUBPROTOCOL,
            )
        link = self.link_settings(charge_point)
        ping = self.settings.ocpp_ping_s if link.ping_s is None else link.ping_s
        ws = web.WebSocketResponse(
            protocols=(OCPP_SUBPROTOCOL,) if offered else (),
            heartbeat=ping or None,
            max_msg_size=MAX_FRAME_BYTES,
        )
        if ping:
            # aiohttp waits heartbeat/2 for a pong; the charger's own timeout instead.
            pong = link.pong_timeout_s or self.settings.ocpp_pong_timeout_s
            ws._pong_heartbeat = pong
        await ws.prepare(request)
        await self._serve(charger, ws)
        return ws

    async def _authorised(self, request: web.Request, charger: Charger) -> bool:
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        try:
            auth = BasicAuth.decode(header) if header else None
        except ValueError:
            return False
        if auth is None or auth.login != charger.charge_point:
            return False
        return await self._passwords.verify(auth.password, charger.grant.password_hash)

    async def _serve(self, charger: Charger, ws: web.WebSocketResponse) -> None:
        charge_point = charger.charge_point
        point = CentralChargePoint(
            charger,
            WebSocketAdapter(ws),
            self,
            lenient=charger.grant.lenient,
            validate=self.settings.ocpp_validate,
            response_timeout=self.settings.ocpp_response_timeout_s,
            now=self.now,
        )
        session = Session(charger, ws, point, time.monotonic())
        old = self.sessions.get(charge_point)
        self.sessions[charge_point] = session
        if old is not None:
            old.closing_reason = "replaced by a new connection"
            await old.ws.close(code=1000, message=b"replaced")
        self.last_seen[charge_point] = time.monotonic()
        log.info("OCPP: %s connected", charge_point)
        await self.engine.link(charger, True, "connected")
        reason = ""
        try:
            while True:
                raw = await point._connection.recv()
                self.last_seen[charge_point] = time.monotonic()
                if charge_point in self._suspended_points:
                    await self._resume(charge_point)
                try:
                    await point.route_message(raw)
                except (ConnectionClosed, ConnectionResetError):
                    raise
                except Exception:  # a bug in one message's handling must not drop the link
                    log.exception("OCPP %s: message not handled", charge_point)
        except ConnectionClosed as exc:
            reason = session.closing_reason or str(exc)
        except ConnectionResetError as exc:
            reason = f"connection reset: {exc}"
        except asyncio.CancelledError:
            reason = session.closing_reason or "edge stopping"
            raise
        finally:
            if self.sessions.get(charge_point) is session:
                del self.sessions[charge_point]
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close()
            log.info("OCPP: %s disconnected: %s", charge_point, reason or "closed")
            # Recorded even while the edge stops (shielded: the fact must not be lost).
            with contextlib.suppress(Exception):
                await asyncio.shield(self.engine.link(charger, False, reason or "closed"))

    # --- silence and pending starts ------------------------------------------------------------------

    def suspend_after_s(self, charger: Charger) -> float:
        link = self.link_settings(charger.charge_point)
        if link.suspend_after_s is not None:
            return link.suspend_after_s
        if self.settings.ocpp_suspend_after_s is not None:
            return self.settings.ocpp_suspend_after_s
        return 2.0 * charger.grant.heartbeat_s

    async def _watch_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ocpp_suspend_check_s)
            try:
                await self.check_silence()
                await self.engine.expire_pending()
            except Exception:
                log.exception("OCPP watch")

    async def check_silence(self) -> None:
        clock = time.monotonic()
        for tx in list(self.engine.open.values()):
            if tx.suspended:
                continue
            charger = self.engine.charger(tx.charge_point)
            if charger is None:
                continue
            silent = clock - self.last_seen.get(tx.charge_point, self._started)
            if silent > self.suspend_after_s(charger):
                log.warning(
                    "OCPP: %s silent %.0f s: transaction %d suspended",
                    tx.charge_point,
                    silent,
                    tx.id,
                )
                await self.engine.mark_suspended(tx, True, silent)
                self._suspended_points.add(tx.charge_point)

    async def _resume(self, charge_point: str) -> None:
        self._suspended_points.discard(charge_point)
        for tx in self.engine.transactions_of(charge_point):
            if tx.suspended:
                log.info("OCPP: %s back: transaction %d resumed", charge_point, tx.id)
                await self.engine.mark_suspended(tx, False, 0.0)

    # --- commands from the cloud ---------------------------------------------------------------------

    def register(self, commands: Commands) -> None:
        handlers: dict[CommandKind, Callable[[Command], Awaitable[str]]] = {
            CommandKind.charger_reset: self._reset,
            CommandKind.charger_clock_sync: self._clock_sync,
            CommandKind.charger_push_tariff: self._push_tariff,
            CommandKind.charger_data_transfer: self._data_transfer,
            CommandKind.charger_trigger: self._trigger,
            CommandKind.charger_remote_start: self._remote_start,
            CommandKind.charger_remote_stop: self._remote_stop,
            CommandKind.charger_availability: self._availability,
            CommandKind.charger_configure: self._configure,
            CommandKind.charger_get_config: self._get_config,
            CommandKind.charger_unlock: self._unlock,
            CommandKind.charger_reserve: self._reserve,
            CommandKind.charger_cancel_reserve: self._cancel_reservation,
            CommandKind.charger_local_list: self._local_list,
        }
        for kind, handler in handlers.items():
            commands.register(kind, handler)

    def _payload(self, command: Command) -> ChargerCommand:
        model = COMMAND_PAYLOADS[command.kind.value]
        try:
            return model.model_validate(command.payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise CommandFailed(f"bad payload: {where}: {first['msg']}") from None

    async def _session(self, command: Command, payload: ChargerCommand) -> Session:
        charger = self.engine.charger(payload.charge_point)
        if charger is None or charger.site != command.site:
            raise CommandFailed(
                f"site {command.site!r} has no charger {payload.charge_point!r} on this edge"
            )
        session = self.sessions.get(payload.charge_point)
        if session is None:
            raise CommandFailed(f"charger {payload.charge_point!r} is not connected")
        try:
            await asyncio.wait_for(session.point.ready.wait(), READY_WAIT_S)
        except TimeoutError:
            raise CommandFailed(
                f"charger {payload.charge_point!r} has not booted on this connection"
            ) from None
        return session

    async def _call(self, session: Session, request: Any) -> tuple[str, dict[str, Any]]:
        try:
            response = await session.point.call(request, suppress=False)
        except TimeoutError:
            raise CommandFailed(
                f"no answer to {type(request).__name__} within"
                f" {self.settings.ocpp_response_timeout_s:.0f} s"
            ) from None
        except OCPPError as exc:
            raise CommandFailed(f"CALLERROR {exc.code}: {exc.description}") from None
        except (ConnectionClosed, ConnectionResetError) as exc:
            raise CommandFailed(f"connection lost: {exc}") from None
        return _answer(response)

    async def _simple(
        self, command: Command, build: Callable[[Any], Any], accepted: tuple[str, ...]
    ) -> str:
        payload = self._payload(command)
        session = await self._session(command, payload)
        text, data = await self._call(session, build(payload))
        if str(data.get("status", "")) not in accepted:
            raise CommandFailed(text)
        return text

    async def _reset(self, command: Command) -> str:
        def build(p: ResetCommand) -> Any:
            return call.Reset(type=p.type)

        return await self._simple(command, build, ("Accepted",))

    async def _availability(self, command: Command) -> str:
        def build(p: AvailabilityCommand) -> Any:
            return call.ChangeAvailability(connector_id=p.connector, type=p.type)

        return await self._simple(command, build, ("Accepted", "Scheduled"))

    async def _configure(self, command: Command) -> str:
        def build(p: ConfigureCommand) -> Any:
            return call.ChangeConfiguration(key=p.key, value=p.value)

        return await self._simple(command, build, ("Accepted", "RebootRequired"))

    async def _get_config(self, command: Command) -> str:
        payload = self._payload(command)
        assert isinstance(payload, GetConfigurationCommand)
        session = await self._session(command, payload)
        text, _ = await self._call(session, call.GetConfiguration(key=payload.keys or None))
        return text

    async def _trigger(self, command: Command) -> str:
        def build(p: TriggerCommand) -> Any:
            return call.TriggerMessage(
                requested_message=p.requested,
                connector_id=p.connector or None,
            )

        return await self._simple(command, build, ("Accepted",))

    async def _unlock(self, command: Command) -> str:
        def build(p: ChargerCommand) -> Any:
            if p.connector < 1:
                raise CommandFailed("UnlockConnector needs a connector (1 or more)")
            return call.UnlockConnector(connector_id=p.connector)

        return await self._simple(command, build, ("Unlocked",))

    async def _reserve(self, command: Command) -> str:
        def build(p: ReserveCommand) -> Any:
            expires = p.expires_at if p.expires_at.tzinfo else p.expires_at.replace(tzinfo=UTC)
            return call.ReserveNow(
                connector_id=p.connector,
                expiry_date=expires.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                id_tag=p.id_tag,
                reservation_id=p.reservation_id,
            )

        return await self._simple(command, build, ("Accepted",))

    async def _cancel_reservation(self, command: Command) -> str:
        def build(p: CancelReservationCommand) -> Any:
            return call.CancelReservation(reservation_id=p.reservation_id)

        return await self._simple(command, build, ("Accepted",))

    async def _data_transfer(self, command: Command) -> str:
        def build(p: DataTransferCommand) -> Any:
            return call.DataTransfer(
                vendor_id=p.vendor_id, message_id=p.message_id or None, data=p.data or None
            )

        return await self._simple(command, build, ("Accepted",))

    async def _remote_start(self, command: Command) -> str:
        payload = self._payload(command)
        assert isinstance(payload, RemoteStartCommand)
        try:
            order = uuid.UUID(payload.order)
        except ValueError:
            raise CommandFailed(f"order {payload.order!r} is not a uuid") from None
        charger = self.engine.charger(payload.charge_point)
        try:
            session = await self._session(command, payload)
            # Expected before the CALL: a quick charger's StartTransaction may beat its answer.
            self.engine.expect_start(session.charger, payload.connector, payload.id_tag, order)
            text, data = await self._call(
                session,
                call.RemoteStartTransaction(
                    id_tag=payload.id_tag, connector_id=payload.connector or None
                ),
            )
        except CommandFailed as exc:
            self._forget(payload.charge_point, order)
            if charger is not None:
                await self.engine.start_failed(charger, payload.connector, order, str(exc))
            raise
        if data.get("status") != "Accepted":
            self._forget(payload.charge_point, order)
            await self.engine.start_failed(
                session.charger, payload.connector, order, f"charger answered {text}"
            )
            raise CommandFailed(text)
        return text

    def _forget(self, charge_point: str, order: uuid.UUID) -> None:
        self.engine.pending = [
            p
            for p in self.engine.pending
            if not (p.charge_point == charge_point and p.order == order)
        ]

    async def _remote_stop(self, command: Command) -> str:
        payload = self._payload(command)
        assert isinstance(payload, RemoteStopCommand)
        try:
            order = uuid.UUID(payload.order)
        except ValueError:
            raise CommandFailed(f"order {payload.order!r} is not a uuid") from None
        tx = self.engine.by_order(order)
        if tx is None or tx.charge_point != payload.charge_point:
            raise CommandFailed(
                f"no open transaction of order {payload.order} on {payload.charge_point}"
            )
        session = await self._session(command, payload)
        text, data = await self._call(session, call.RemoteStopTransaction(transaction_id=tx.id))
        if data.get("status") != "Accepted":
            raise CommandFailed(text)
        return text

    async def _clock_sync(self, command: Command) -> str:
        payload = self._payload(command)
        session = await self._session(command, payload)
        stamp = self.now().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        text, data = await self._call(
            session, call.DataTransfer(vendor_id=VENDOR, message_id="clock", data=stamp)
        )
        if data.get("status") == "Accepted":
            return text
        trigger, answer = await self._call(
            session,
            call.TriggerMessage(requested_message="Heartbeat"),
        )
        if answer.get("status") != "Accepted":
            raise CommandFailed(f"DataTransfer clock: {text}; TriggerMessage Heartbeat: {trigger}")
        return f"DataTransfer clock: {text}; TriggerMessage Heartbeat: {trigger}"

    async def _push_tariff(self, command: Command) -> str:
        payload = self._payload(command)
        session = await self._session(command, payload)
        charger = session.charger
        grant = charger.grant
        in_force = self.engine.tariff_in_force(charger.site, grant.tariff, self.now())
        if in_force is None:
            raise CommandFailed(f"charger {charger.charge_point!r} has no tariff in force")
        version, document = in_force
        tariff = json.dumps(
            {
                "tariff": grant.tariff,
                "version": version.isoformat(),
                "document": document.model_dump(mode="json"),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        answers = []
        for message_id, data in (
            ("tariff", tariff),
            ("hotline", grant.hotline),
            ("qr_text", grant.qr_text),
        ):
            if message_id != "tariff" and not data:
                continue
            text, answer = await self._call(
                session, call.DataTransfer(vendor_id=VENDOR, message_id=message_id, data=data)
            )
            answers.append(f"{message_id}: {text}")
            if answer.get("status") != "Accepted":
                raise CommandFailed("; ".join(answers))
        return "; ".join(answers)

    async def _local_list(self, command: Command) -> str:
        """GetLocalListVersion, then the full list from the synced id tags when it differs."""
        payload = self._payload(command)
        session = await self._session(command, payload)
        site = session.charger.site
        version = max(1, self.store.local_list_version(site))
        _, held = await self._call(session, call.GetLocalListVersion())
        if held.get("listVersion") == version:
            return json.dumps({"listVersion": version, "sent": False})
        entries = []
        for id_tag in sorted(self.engine.id_tags(site)):
            status, expires = self.engine.authorize(site, id_tag)
            info: dict[str, Any] = {"status": status.value}
            if expires is not None:
                info["expiryDate"] = expires.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if status == IdTagStatus.concurrent_tx:
                info["status"] = IdTagStatus.accepted.value
            entries.append({"idTag": id_tag, "idTagInfo": info})
        text, data = await self._call(
            session,
            call.SendLocalList(
                list_version=version,
                update_type="Full",
                local_authorization_list=entries,
            ),
        )
        if data.get("status") != "Accepted":
            raise CommandFailed(text)
        return json.dumps({"listVersion": version, "entries": len(entries), "answer": data})
