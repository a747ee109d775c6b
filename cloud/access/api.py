"""JSON routes of the access domain under /api/v1."""

from __future__ import annotations

from cloud.api import ApiRoute

ROUTES: list[ApiRoute] = []
