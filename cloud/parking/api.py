"""Every parking JSON route under /api/v1."""

from __future__ import annotations

from cloud.api import ApiRoute
from cloud.parking import (
    arrears_api,
    collector_api,
    order_api,
    pass_api,
    place_api,
    tariff_api,
)

ROUTES: list[ApiRoute] = [
    *tariff_api.ROUTES,
    *place_api.ROUTES,
    *order_api.ROUTES,
    *arrears_api.ROUTES,
    *pass_api.ROUTES,
    *collector_api.ROUTES,
]
