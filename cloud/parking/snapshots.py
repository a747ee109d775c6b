"""Evidence images from edges: lane snapshots uploaded with a signed PUT
(/sync/v1/snapshots/{lane}/{yyyymmdd}/{hex}.jpg, JPEG only, at most 2 MB, idempotent), kept under
CloudSettings.snapshot_dir/<tenant id>/, and shown to that tenant's admins at
/parking/snapshots/{name}. Another tenant's picture does not exist for anyone else."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from aiohttp import web

from cloud import i18n
from cloud.auth import SETTINGS_KEY, principal_of, require
from cloud.sites.models import Lane
from cloud.sync import Refused, _refuse, authenticate

log = logging.getLogger(__name__)

UPLOAD_PATH = "/sync/v1/snapshots/{name:.+}"
MAX_BYTES = 2 * 1024 * 1024
# What edges name them (edge/lanes.py): lane code / local date / random hex .jpg
NAME = re.compile(r"^([a-z0-9][a-z0-9_-]{0,47})/(\d{8})/([0-9a-f]{32})\.jpg$")
JPEG_START = b"\xff\xd8\xff"


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


def _path(root: Path, tenant_id: int, name: str) -> Path:
    return root / str(tenant_id) / name


async def upload(request: web.Request) -> web.Response:
    """A snapshot from an enrolled edge, for a lane of one of its sites: 201 when stored, 200
    when it was stored before (the same name is the same picture), 4xx naming the problem."""
    if (request.content_length or 0) > MAX_BYTES:
        return _error(413, "too_large", f"a snapshot is at most {MAX_BYTES} bytes")
    try:
        caller = await authenticate(request)
    except Refused as exc:
        return await _refuse(request, exc)
    name = request.match_info["name"]
    match = NAME.match(name)
    if match is None:
        return _error(400, "bad_name", "name must be <lane>/<yyyymmdd>/<32 hex>.jpg")
    body = caller.body
    if len(body) > MAX_BYTES:
        return _error(413, "too_large", f"a snapshot is at most {MAX_BYTES} bytes")
    if not body.startswith(JPEG_START):
        return _error(415, "not_jpeg", "a snapshot is a JPEG image")
    site_ids = [site.id for site in caller.sites.values()]
    lane = await Lane.filter(
        tenant_id=caller.edge.tenant_id, code=match.group(1), site_id__in=site_ids
    ).first()
    if lane is None:
        return _error(404, "unknown_lane", f"no lane {match.group(1)!r} at this edge's sites")
    path = _path(request.app[SETTINGS_KEY].snapshot_dir, caller.edge.tenant_id, name)

    def store() -> bool:
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".part")
        temp.write_bytes(body)
        temp.replace(path)  # a reader never sees half a picture
        return True

    created = await asyncio.to_thread(store)
    return web.json_response({"ok": True, "name": name}, status=201 if created else 200)


@require("parking.view")
async def show(request: web.Request) -> web.StreamResponse:
    """The picture, for an admin of the tenant whose edge uploaded it."""
    principal = principal_of(request)
    name = request.match_info["name"]
    if NAME.match(name) is None:
        raise web.HTTPNotFound(text=i18n.t("parking.snapshots.not_found", principal.language))
    path = _path(request.app[SETTINGS_KEY].snapshot_dir, principal.tenant_id, name)
    if not await asyncio.to_thread(path.is_file):
        raise web.HTTPNotFound(text=i18n.t("parking.snapshots.not_found", principal.language))
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg"})


def setup(app: web.Application) -> None:
    app.router.add_put(UPLOAD_PATH, upload)
    app.router.add_get("/parking/snapshots/{name:.+}", show, name="parking.snapshots")
