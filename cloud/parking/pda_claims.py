"""Parking pages: stub until its part of issue 6 is written."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    return None
