"""Every charging page: tariffs, stations and chargers, orders."""

from __future__ import annotations

from aiohttp import web

from cloud.charging import order_pages, station_pages, tariff_pages


def setup(app: web.Application) -> None:
    for module in (station_pages, tariff_pages, order_pages):
        module.setup(app)
