"""Parking JSON routes: stub until its part of issue 6 is written."""

from __future__ import annotations

from cloud.api import ApiRoute

ROUTES: list[ApiRoute] = []
