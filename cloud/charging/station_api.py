"""Charging JSON routes (filled in by issue 5)."""

from __future__ import annotations

from cloud.api import ApiRoute

ROUTES: list[ApiRoute] = []
