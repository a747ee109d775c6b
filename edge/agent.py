"""The edge agent's composition root: store, lanes, sync client and HTTP API, started and stopped."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from edge import pda
from edge.api import (
    BERTHS,
    CENTRAL,
    COMMANDS,
    LANES,
    MAX_PUSH_BYTES,
    SETTINGS,
    STORE,
    SYNC,
    add_routes,
)
from edge.berths import Berths
from edge.commands import Commands
from edge.lanes import Lanes
from edge.ocpp.central import CentralSystem
from edge.settings import EdgeSettings
from edge.store import Store
from edge.sync import SyncClient
from protocols.site import SiteDocument

log = logging.getLogger(__name__)


async def cancel(task: asyncio.Task[None]) -> None:
    """Cancel and wait; cancel again if a 3.11 wait_for race swallowed the first request."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1.0)
    if not task.cancelled() and task.exception() is not None:
        log.error("%s ended with an error", task.get_name(), exc_info=task.exception())


def build_edge_app(
    settings: EdgeSettings, site: SiteDocument, sync: bool = True
) -> web.Application:
    """The edge as an aiohttp app; its cleanup_ctx opens and closes every resource in order."""
    app = web.Application(client_max_size=MAX_PUSH_BYTES)
    app[SETTINGS] = settings

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        # The outbox is the whole edge's: its budget alarm goes under the document's first site.
        app[STORE] = await Store.open(
            settings.store_path,
            budget_bytes=int(settings.outbox_budget_mb * 1024 * 1024),
            alarm_site=site.sites[0].code,
        )
        checkpoints = asyncio.create_task(app[STORE].checkpoint_forever(), name="checkpoint")
        yield
        await cancel(checkpoints)
        await app[STORE].close()

    async def lanes_ctx(app: web.Application) -> AsyncIterator[None]:
        app[LANES] = Lanes(site, app[STORE], settings)
        await app[LANES].start()
        yield
        await app[LANES].stop()

    async def berths_ctx(app: web.Application) -> AsyncIterator[None]:
        app[BERTHS] = Berths(site, app[STORE], settings)
        await app[BERTHS].start()
        yield
        await app[BERTHS].stop()

    async def ocpp_ctx(app: web.Application) -> AsyncIterator[None]:
        app[COMMANDS] = Commands(app[STORE], app[LANES])
        app[BERTHS].register_commands(app[COMMANDS])
        app[CENTRAL] = CentralSystem(app[STORE], settings, app[COMMANDS])
        await app[CENTRAL].start()
        yield
        await app[COMMANDS].stop()
        await app[CENTRAL].stop()

    async def close_chargers(app: web.Application) -> None:
        # Before the server waits for its handlers: a charger's socket would hold it open.
        if CENTRAL in app:
            await app[CENTRAL].stop()

    async def sync_ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            codes = [s.code for s in site.sites]
            client = SyncClient(
                settings, app[STORE], session, codes, lanes=app[LANES], commands=app[COMMANDS]
            )
            app[SYNC] = client
            task = asyncio.create_task(client.run(), name="sync")
            yield
            await cancel(task)

    app.cleanup_ctx.append(store_ctx)
    app.cleanup_ctx.append(lanes_ctx)
    app.cleanup_ctx.append(berths_ctx)
    app.cleanup_ctx.append(ocpp_ctx)
    app.on_shutdown.append(close_chargers)
    if sync:
        app.cleanup_ctx.append(sync_ctx)
    add_routes(app)
    if settings.profile == "pda":
        pda.setup(app, settings, site)
    return app


async def run_edge(settings: EdgeSettings, site: SiteDocument, stop: asyncio.Event) -> None:
    """Serve the edge until stop is set, then shut down cleanly."""
    runner = web.AppRunner(build_edge_app(settings, site), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        # Objects alive after start-up live for the whole run: keep the collector off them,
        # and collect less often (a full collection is a pause in every lane's latency).
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        log.info("edge listening on http://%s:%d", settings.host, settings.port)
        await stop.wait()
    finally:
        await runner.cleanup()
