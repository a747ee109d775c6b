"""The collector's PDA: the edge agent's `pda` profile (pages on localhost, receipt printer,
offline collection synced later).

Modules: tables (its SQLite tables), fees (the one call to the tariff evaluator), claims (the
cloud's sign-in claim), service (the collector's work), receipts (what is printed), pages and
texts (the mobile pages and their words). The printer driver is edge/drivers/printer.py.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from edge.api import STORE
from edge.drivers.printer import Printer
from edge.pda.claims import ClaimClient
from edge.pda.pages import PDA, add_routes
from edge.pda.service import Pda
from edge.settings import EdgeSettings
from protocols.site import SiteDocument

log = logging.getLogger(__name__)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def setup(app: web.Application, settings: EdgeSettings, site: SiteDocument) -> None:
    """Add the PDA's pages and its printer to the edge app (profile "pda" only)."""
    if not _loopback(settings.host):
        log.warning(
            "PDA agent listens on %s: its pages still answer only this device (loopback)",
            settings.host,
        )

    async def pda_ctx(app: web.Application) -> AsyncIterator[None]:
        printer = Printer(settings.printer_port, settings.printer_baudrate)
        pda = Pda(app[STORE], settings, site, printer, ClaimClient(settings))
        await pda.start()
        app[PDA] = pda
        log.info(
            "PDA %s: pages on http://%s:%d/pda, printer %s",
            pda.device,
            settings.host,
            settings.port,
            settings.printer_port or "(none)",
        )
        yield

    app.cleanup_ctx.append(pda_ctx)
    add_routes(app)
