"""Every campus JSON route under /api/v1."""

from __future__ import annotations

from cloud.api import ApiRoute
from cloud.campus import registrant_api, vehicle_api

ROUTES: list[ApiRoute] = [*registrant_api.ROUTES, *vehicle_api.ROUTES]
