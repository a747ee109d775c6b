"""The edge's local HTTP API: health, the endpoint ANPR cameras push their plate reads to, and
the gate endpoints for passes (camera frames to read a QR from, or a pass's text)."""

from __future__ import annotations

import logging

from aiohttp import web

from edge.berths import Berths
from edge.commands import Commands
from edge.lanes import BadFrame, Lane, Lanes, Outcome
from edge.ocpp.central import CentralSystem
from edge.settings import EdgeSettings
from edge.store import Store
from edge.sync import SyncClient
from protocols.camera import HEARTBEAT_REPLY, BadPush, Heartbeat, Vendor, parse_push, vzenith_reply
from protocols.charging import OCPP_PATH
from protocols.site import Wiring

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", EdgeSettings)
STORE = web.AppKey("store", Store)
LANES = web.AppKey("lanes", Lanes)
SYNC = web.AppKey("sync", SyncClient)
COMMANDS = web.AppKey("commands", Commands)
CENTRAL = web.AppKey("ocpp", CentralSystem)
BERTHS = web.AppKey("berths", Berths)

PUSH_PATH = "/camera/push"
FRAME_PATH = "/gate/{lane}/frame"
SCAN_PATH = "/gate/{lane}/scan"
MAX_SCAN_BYTES = 1024
# Real cameras attach scene and plate pictures; 1 MiB (aiohttp's default) is too tight for them.
MAX_PUSH_BYTES = 8 * 1024 * 1024


def _error(status: int, error: str, detail: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


async def healthz(request: web.Request) -> web.Response:
    store = request.app[STORE]
    sync = request.app.get(SYNC)
    identity = sync.identity if sync is not None else None
    return web.json_response(
        {
            "ok": True,
            "edge": identity.edge if identity is not None else None,
            "enrolled": identity is not None,
            "pending": store.outbox_rows,
            "outbox_bytes": store.outbox_bytes,
            "outbox_over_budget": store.over_budget,
            "revisions": store.revisions(),
            "chargers_connected": len(request.app[CENTRAL].sessions)
            if CENTRAL in request.app
            else 0,
            "scanners": {
                code: lane.scanner.online.is_set()
                for code, lane in request.app[LANES].lanes.items()
                if lane.scanner is not None
            },
        }
    )


async def camera_push(request: web.Request) -> web.Response:
    """Parse, decide, record, act, reply: a bad push changes nothing and gets a 400."""
    body = await request.read()
    try:
        push = parse_push(body, request.headers.get("Content-Type", ""))
    except BadPush as exc:
        log.warning("camera push from %s refused: %s", request.remote, exc)
        return _error(400, "bad_push", str(exc))
    if isinstance(push, Heartbeat):
        return web.json_response(HEARTBEAT_REPLY)
    lanes = request.app[LANES]
    lane = lanes.find(push, request.query.get("lane"))
    if lane is None:
        camera = push.camera_serial or push.camera_mac or push.camera_ip or "?"
        return _error(404, "unknown_camera", f"no lane has camera {camera!r}")
    outcome = await lanes.handle(lane, push)
    if push.vendor == Vendor.hikvision:
        return web.Response(status=200, text="OK")
    relay = lane.config.wiring == Wiring.camera_relay and outcome.relay_opens
    return web.json_response(vzenith_reply(relay))


def _lane(request: web.Request) -> Lane | web.Response:
    code = request.match_info["lane"]
    lane = request.app[LANES].lanes.get(code)
    if lane is None:
        return _error(404, "unknown_lane", f"no lane {code!r} at this edge")
    return lane


def _pass_reply(lane: Lane, text: str | None, outcome: Outcome | None) -> web.Response:
    """What a frame or scan came to: read or not, debounced or decided (and how)."""
    if text is None:
        return web.json_response({"read": False})
    if outcome is None:
        return web.json_response({"read": True, "debounced": True})
    decision = outcome.decision
    return web.json_response(
        {
            "read": True,
            "debounced": False,
            "verdict": decision.verdict.value,
            "reason": decision.reason.value,
            "subject": decision.subject,
            "record": outcome.record,
            "barrier_opened": outcome.barrier_opened,
            # A camera-relay lane's camera opens its barrier itself when told so.
            "relay": lane.config.wiring == Wiring.camera_relay and outcome.relay_opens,
        }
    )


async def gate_frame(request: web.Request) -> web.Response:
    """A camera frame (JPEG body): read a pass from it and, if one is there, decide and act."""
    lane = _lane(request)
    if isinstance(lane, web.Response):
        return lane
    body = await request.read()
    lanes = request.app[LANES]
    try:
        text = await lanes.read_frame(lane, body)
    except BadFrame as exc:
        log.warning("frame for lane %s from %s refused: %s", lane.code, request.remote, exc)
        return _error(400, "bad_frame", str(exc))
    outcome = await lanes.handle_pass(lane, text) if text is not None else None
    return _pass_reply(lane, text, outcome)


async def gate_scan(request: web.Request) -> web.Response:
    """A pass's text as a scanner read it (text/plain body), decided like a frame's."""
    lane = _lane(request)
    if isinstance(lane, web.Response):
        return lane
    body = await request.read()
    text = body.decode("ascii", "replace").strip() if len(body) <= MAX_SCAN_BYTES else ""
    if not text or not text.isascii() or not text.isprintable():
        return _error(
            400,
            "bad_scan",
            f"a scan is one line of printable ASCII, at most {MAX_SCAN_BYTES} bytes",
        )
    outcome = await request.app[LANES].handle_pass(lane, text)
    return _pass_reply(lane, text, outcome)


async def ocpp_socket(request: web.Request) -> web.StreamResponse:
    """A charger's OCPP 1.6J WebSocket (edge/ocpp/central.py)."""
    return await request.app[CENTRAL].handle(request)


async def berths_view(request: web.Request) -> web.Response:
    """The berths this edge serves: occupancy, open session, sensor battery, lock state."""
    return web.json_response(request.app[BERTHS].view())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/berths", berths_view)
    app.router.add_get(OCPP_PATH, ocpp_socket)
    app.router.add_post(PUSH_PATH, camera_push)
    app.router.add_post(FRAME_PATH, gate_frame)
    app.router.add_post(SCAN_PATH, gate_scan)
