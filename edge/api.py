"""The edge's local HTTP API: health, and the endpoint ANPR cameras push their plate reads to."""

from __future__ import annotations

import logging

from aiohttp import web

from edge.lanes import Lanes
from edge.settings import EdgeSettings
from edge.store import Store
from edge.sync import SyncClient
from protocols.camera import HEARTBEAT_REPLY, BadPush, Heartbeat, Vendor, parse_push, vzenith_reply
from protocols.site import Wiring

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", EdgeSettings)
STORE = web.AppKey("store", Store)
LANES = web.AppKey("lanes", Lanes)
SYNC = web.AppKey("sync", SyncClient)

PUSH_PATH = "/camera/push"
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


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_post(PUSH_PATH, camera_push)
