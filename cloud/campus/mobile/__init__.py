"""The /m/ pages phones open: registrants, teachers and visitors."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Mount the mobile pages."""
