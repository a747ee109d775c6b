"""Charging admin pages (filled in by issue 5)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Mount this module's pages."""
