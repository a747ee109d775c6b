"""A minimal central system written straight from the `ocpp` package's documented example: the
benchmark's yardstick for the edge's OCPP server.

The example (ocpp.readthedocs.io, "Server side usage"; examples/v16/central_system.py) is a
`websockets.serve` server whose handler builds one `ocpp.v16.ChargePoint` per connection and
awaits `start()`, with `@on` handlers answering the charge point's CALLs. This file keeps that
shape and adds only the handlers the benchmark's charge points need (Heartbeat,
StatusNotification, Authorize, Start/StopTransaction, MeterValues), a transaction id counter,
a port argument, a heartbeat interval of 60 s instead of 10 (the benchmark's rate), and
logging at WARNING (the example's INFO logs every frame to stderr).

Run it alone: `python -m tests.bench.ocpp_reference --port 9000` (prints "ready" when listening).

`websockets` is what the example uses; it is not a Wayside dependency. Where it is missing,
the same ChargePoint class is served by aiohttp through a two-method adapter, and the
benchmark says which it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import resource
import sys
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as cp
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

try:
    import websockets

    HAVE_WEBSOCKETS = True
except ModuleNotFoundError:  # pragma: no cover - depends on the machine
    HAVE_WEBSOCKETS = False

logging.basicConfig(level=logging.WARNING)

transaction_ids = itertools.count(1)


def utcnow() -> str:
    return datetime.now(UTC).isoformat()


class ChargePoint(cp):
    @on(Action.boot_notification)
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=utcnow(), interval=60, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=utcnow())

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs: Any
    ) -> call_result.StartTransaction:
        return call_result.StartTransaction(
            transaction_id=next(transaction_ids),
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action.stop_transaction)
    def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs: Any
    ) -> call_result.StopTransaction:
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, connector_id: int, **kwargs: Any) -> call_result.MeterValues:
        return call_result.MeterValues()


async def on_connect(websocket: Any) -> None:
    """For every new charge point that connects, create a ChargePoint instance and start
    listening for messages."""
    try:
        requested_protocols = websocket.request.headers["Sec-WebSocket-Protocol"]
    except KeyError:
        logging.error("Client hasn't requested any Subprotocol. Closing Connection")
        return await websocket.close()
    if not websocket.subprotocol:
        logging.warning(
            "Protocols Mismatched | Expected Subprotocols: %s, but client supports %s",
            websocket.server.available_subprotocols,
            requested_protocols,
        )
        return await websocket.close()

    charge_point_id = websocket.request.path.strip("/")
    charge_point = ChargePoint(charge_point_id, websocket)
    try:
        await charge_point.start()
    except websockets.exceptions.ConnectionClosed:
        pass


async def serve_websockets(host: str, port: int) -> None:
    from websockets.typing import Subprotocol

    server = await websockets.serve(on_connect, host, port, subprotocols=[Subprotocol("ocpp1.6")])
    print("ready websockets", flush=True)
    await server.wait_closed()


async def serve_aiohttp(host: str, port: int) -> None:  # pragma: no cover - fallback
    """The same ChargePoint class, served by aiohttp where `websockets` is not installed."""
    from aiohttp import WSMsgType, web

    class Adapter:
        def __init__(self, ws: web.WebSocketResponse) -> None:
            self.ws = ws

        async def recv(self) -> str:
            message = await self.ws.receive()
            if message.type != WSMsgType.TEXT:
                raise ConnectionError("closed")
            return str(message.data)

        async def send(self, text: str) -> None:
            await self.ws.send_str(text)

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=["ocpp1.6"])
        await ws.prepare(request)
        try:
            await ChargePoint(request.match_info["cp"], Adapter(ws)).start()
        except ConnectionError:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/{cp:.+}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print("ready aiohttp", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    serve = serve_websockets if HAVE_WEBSOCKETS else serve_aiohttp
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main(sys.argv[1:])
