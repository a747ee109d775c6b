"""On-street berths at the edge: geomagnetic sensor samples from MQTT become berth sessions,
and parking locks follow commands. (Filled in by the berth runtime work of issue 6.)"""

from __future__ import annotations

from edge.settings import EdgeSettings
from edge.store import Store
from protocols.site import SiteDocument


class Berths:
    """Owns the MQTT subscription, the berth engine and the lock drivers of the site document."""

    def __init__(self, site: SiteDocument, store: Store, settings: EdgeSettings) -> None:
        self._site = site
        self._store = store
        self._settings = settings

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
