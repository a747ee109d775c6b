"""Every charging JSON route under /api/v1."""

from __future__ import annotations

from cloud.api import ApiRoute
from cloud.charging import order_api, station_api, tariff_api

ROUTES: list[ApiRoute] = [*station_api.ROUTES, *tariff_api.ROUTES, *order_api.ROUTES]
