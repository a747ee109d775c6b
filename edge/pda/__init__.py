"""The collector's PDA: the edge agent's `pda` profile (pages on localhost, receipt printer,
offline collection synced later). (Filled in by the PDA work of issue 6.)"""

from __future__ import annotations

from aiohttp import web

from edge.settings import EdgeSettings
from protocols.site import SiteDocument


def setup(app: web.Application, settings: EdgeSettings, site: SiteDocument) -> None:
    """Add the PDA's pages and its printer to the edge app (profile "pda" only)."""
    return None
