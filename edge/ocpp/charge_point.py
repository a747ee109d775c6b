"""One charger's connection: the `ocpp` package's ChargePoint over aiohttp's WebSocket.

The package routes CALLs to the @on handlers and matches our CALLs' answers; this subclass
replaces its message intake (`route_message`) so that every frame, however broken, gets the
1.6 CALLERROR it deserves and the connection stays up, lenient chargers' payloads are
normalised first, and each CALL is validated on the loop with the compiled schema check
(edge/ocpp/wire.py says why). Handlers do no I/O but the engine's (group-committed) store
writes, so answers go out once what they answer is durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web
from ocpp.exceptions import OCPPError
from ocpp.messages import Call
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, RegistrationStatus

from edge.ocpp.engine import Boot, Charger
from edge.ocpp.wire import (
    CALL,
    BadFrame,
    call_error_text,
    normalise,
    parse_frame,
    validate_call,
)
from protocols.charging import IdTagStatus

if TYPE_CHECKING:
    from edge.ocpp.central import CentralSystem

log = logging.getLogger(__name__)
frames = logging.getLogger("edge.ocpp.frames")  # every frame at DEBUG


class ConnectionClosed(Exception):
    """The charger's WebSocket is gone."""


class WebSocketAdapter:
    """What the package needs of a connection: async recv() and send() of text frames."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def recv(self) -> str | bytes:
        message = await self.ws.receive()
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            data: str | bytes = message.data
            return data
        raise ConnectionClosed(
            f"{message.type.name.lower()} (code {self.ws.close_code})"
            + (f": {message.data}" if message.type == WSMsgType.ERROR else "")
        )

    async def send(self, text: str) -> None:
        if self.ws.closed:
            raise ConnectionClosed("closed")
        await self.ws.send_str(text)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _id_tag_info(status: IdTagStatus, expires: datetime | None) -> IdTagInfo:
    return IdTagInfo(status=status.value, expiry_date=_time(expires) if expires else None)


class CentralChargePoint(ChargePoint):
    """The central system's side of one charger's connection."""

    def __init__(
        self,
        charger: Charger,
        connection: WebSocketAdapter,
        central: CentralSystem,
        lenient: bool,
        validate: bool,
        response_timeout: float,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(charger.charge_point, connection, response_timeout=response_timeout)
        self.charger = charger
        self.central = central
        self.engine = central.engine
        self.lenient = lenient
        self.validate = validate
        self.now = now
        # Set once the charger may be sent CALLs: its BootNotification was answered on this
        # connection, or its first message was something else (it considers itself booted).
        self.ready = asyncio.Event()
        self.calls_received = 0

    # --- intake ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve frames until the connection closes (raises ConnectionClosed)."""
        while True:
            await self.route_message(await self._connection.recv())

    async def route_message(self, raw_msg: str | bytes) -> None:
        frames.debug("%s <- %s", self.id, raw_msg)
        try:
            frame = parse_frame(raw_msg)
        except BadFrame as bad:
            log.warning("%s: bad frame %r: %s", self.id, str(raw_msg)[:120], bad.error.details)
            await self._send(call_error_text(bad.unique_id, bad.error))
            return
        if frame.kind != CALL:
            await super().route_message(raw_msg)  # an answer to our CALL: the package's queue
            return
        first = self.calls_received == 0
        self.calls_received += 1
        payload = frame.payload
        try:
            if self.lenient:
                payload, notes = normalise(frame.action, payload)
                for note in notes:
                    log.info("%s %s (lenient): %s", self.id, frame.action, note)
            if self.validate:
                validate_call(frame.action, payload)
            await self._handle_call(Call(frame.unique_id, frame.action, payload))
        except OCPPError as error:
            log.warning("%s %s refused: %s %s", self.id, frame.action, error.code, error.details)
            await self._send(call_error_text(frame.unique_id, error))
        finally:
            if first and frame.action != Action.boot_notification:
                self.ready.set()

    async def _send(self, message: str) -> None:
        frames.debug("%s -> %s", self.id, message)
        await self._connection.send(message)

    # --- core profile -----------------------------------------------------------------------------

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result.BootNotification:
        boot = Boot(
            charge_point_vendor, charge_point_model, str(kwargs.get("firmware_version", ""))
        )
        await self.engine.boot(self.charger, boot)
        log.info("%s booted: %s %s %s", self.id, boot.vendor, boot.model, boot.firmware)
        self.central.boot_quirks(self.charger.charge_point, boot)
        return call_result.BootNotification(
            current_time=_time(self.now()),
            interval=self.charger.grant.heartbeat_s,
            status=RegistrationStatus.accepted,
        )

    @after(Action.boot_notification)
    def after_boot_notification(self, **kwargs: Any) -> None:
        self.ready.set()

    @on(Action.heartbeat, skip_schema_validation=True)
    def on_heartbeat(self, **kwargs: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_time(self.now()))

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> call_result.StatusNotification:
        await self.engine.status(
            self.charger,
            connector_id,
            status,
            error_code,
            str(kwargs.get("info", "")),
            str(kwargs.get("timestamp", "")),
        )
        return call_result.StatusNotification()

    @on(Action.authorize, skip_schema_validation=True)
    def on_authorize(self, id_tag: str, **kwargs: Any) -> call_result.Authorize:
        status, expires = self.engine.authorize(self.charger.site, id_tag)
        return call_result.Authorize(id_tag_info=_id_tag_info(status, expires))

    @on(Action.start_transaction, skip_schema_validation=True)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> call_result.StartTransaction:
        transaction_id, status, expires = await self.engine.start(
            self.charger, connector_id, id_tag, meter_start, timestamp, kwargs.get("reservation_id")
        )
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info=_id_tag_info(status, expires)
        )

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result.MeterValues:
        await self.engine.meter(
            self.charger, connector_id, kwargs.get("transaction_id"), meter_value
        )
        return call_result.MeterValues()

    @on(Action.stop_transaction, skip_schema_validation=True)
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> call_result.StopTransaction:
        id_tag = str(kwargs.get("id_tag") or "")
        await self.engine.stop(
            self.charger,
            transaction_id,
            meter_stop,
            timestamp,
            str(kwargs.get("reason") or "Local"),
            id_tag,
            kwargs.get("transaction_data"),
        )
        if not id_tag:
            return call_result.StopTransaction()
        status, expires = self.engine.authorize(self.charger.site, id_tag)
        return call_result.StopTransaction(id_tag_info=_id_tag_info(status, expires))

    @on(Action.data_transfer, skip_schema_validation=True)
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> call_result.DataTransfer:
        log.info(
            "%s DataTransfer %s/%s: %s",
            self.id,
            vendor_id,
            kwargs.get("message_id", ""),
            str(kwargs.get("data", ""))[:200],
        )
        return call_result.DataTransfer(status="Accepted")

    @on(Action.diagnostics_status_notification, skip_schema_validation=True)
    def on_diagnostics_status(self, status: str, **kwargs: Any) -> Any:
        log.info("%s diagnostics: %s", self.id, status)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    def on_firmware_status(self, status: str, **kwargs: Any) -> Any:
        log.info("%s firmware: %s", self.id, status)
        return call_result.FirmwareStatusNotification()
