"""The /m/ pages phones open: registrants, teachers and visitors (one school per /m/{tenant}/)."""

from __future__ import annotations

from aiohttp import web

from cloud.campus.mobile import gate, registrant, visit_pages
from cloud.campus.mobile.session import Mobile, go, mobile


@mobile()
async def _slashless(request: web.Request, m: Mobile) -> web.StreamResponse:
    return go(f"{m.base}/")


def setup(app: web.Application) -> None:
    """Mount the mobile pages."""
    app.router.add_get("/m/{tenant}", _slashless)
    for module in (registrant, visit_pages, gate):
        module.setup(app)
