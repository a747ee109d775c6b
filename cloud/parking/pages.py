"""Every parking page: tariffs, places and devices, orders and arrears, monthly passes,
collectors, and the lane QR payment page drivers open on their phones."""

from __future__ import annotations

from aiohttp import web

from cloud.parking import (
    arrears_pages,
    collector_pages,
    lane_pay,
    order_pages,
    pass_pages,
    pda_claims,
    place_pages,
    tariff_pages,
)


def setup(app: web.Application) -> None:
    modules = (
        tariff_pages, place_pages, order_pages, arrears_pages, pass_pages, collector_pages,
        lane_pay, pda_claims,
    )  # fmt: skip
    for module in modules:
        module.setup(app)
