"""The aiohttp application factory: settings, database lifecycle, middlewares and every route."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from cloud import api as api_plumbing
from cloud import sync, ui
from cloud.access import api as access_api
from cloud.access import ingest as access_ingest
from cloud.access import pages as access_pages
from cloud.auth import SETTINGS_KEY, auth_middleware
from cloud.campus import api as campus_api
from cloud.campus import pages as campus_pages
from cloud.charging import api as charging_api
from cloud.charging import pages as charging_pages
from cloud.db import close_db, open_db
from cloud.notify import pages as notify_pages
from cloud.org import api as org_api
from cloud.org import pages as org_pages
from cloud.parking import api as parking_api
from cloud.parking import pages as parking_pages
from cloud.payments import pages as payments_pages
from cloud.settings import CloudSettings
from cloud.sites import api as sites_api
from cloud.sites import pages as sites_pages


async def _database(app: web.Application) -> AsyncIterator[None]:
    await open_db(app[SETTINGS_KEY].database_url)
    yield
    await close_db()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "service": "cloud"})


def build_app(settings: CloudSettings, *, manage_db: bool = True) -> web.Application:
    """The whole cloud; manage_db=False when the caller (a test) already opened the database."""
    app = web.Application(
        middlewares=[ui.page_errors, api_plumbing.error_middleware, auth_middleware],
        client_max_size=8 * 1024 * 1024,
    )
    app[SETTINGS_KEY] = settings
    if manage_db:
        app.cleanup_ctx.append(_database)
    app.router.add_get("/healthz", healthz)
    ui.setup(app)
    sync.setup(app)
    access_ingest.setup()
    org_api.setup(app)
    for module in (org_api, sites_api, access_api, campus_api, charging_api, parking_api):
        api_plumbing.mount(app, module.ROUTES)
    api_plumbing.setup_openapi(app)
    pages_modules = (
        org_pages, sites_pages, access_pages, campus_pages, notify_pages, charging_pages,
        payments_pages, parking_pages,
    )  # fmt: skip
    for pages in pages_modules:
        pages.setup(app)
    return app
