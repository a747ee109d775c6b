"""Every campus page: the admin pages of each part of the domain, and the /m/ mobile pages."""

from __future__ import annotations

from aiohttp import web

from cloud.campus import mobile, record_pages, registrant_pages, vehicle_pages


def setup(app: web.Application) -> None:
    for module in (registrant_pages, vehicle_pages, record_pages):
        module.setup(app)
    mobile.setup(app)
