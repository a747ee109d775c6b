"""Campus JSON routes (filled in by issue 4)."""

from __future__ import annotations

from cloud.api import ApiRoute

ROUTES: list[ApiRoute] = []
