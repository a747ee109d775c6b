"""The demo's embedded MQTT broker (amqtt), so `wayside demo` needs no Mosquitto running.

Production and the tests use Mosquitto; this broker exists so that the demo's simulated
geomagnetic sensors and its edge can meet on a port of their own (127.0.0.1:18830) inside
the demo process. Anonymous access, no $SYS topics, no packet logging.
"""

from __future__ import annotations

import logging
from typing import Any

from amqtt.broker import Broker

log = logging.getLogger(__name__)

DEMO_BROKER_HOST = "127.0.0.1"
DEMO_BROKER_PORT = 18830


def demo_broker_url(host: str = DEMO_BROKER_HOST, port: int = DEMO_BROKER_PORT) -> str:
    """The mqtt_url an edge uses to reach the embedded broker."""
    return f"mqtt://{host}:{port}"


class EmbeddedBroker:
    """An amqtt broker listening on host:port until stopped; start() and stop() are idempotent."""

    def __init__(self, host: str = DEMO_BROKER_HOST, port: int = DEMO_BROKER_PORT) -> None:
        self.host = host
        self.port = port
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return demo_broker_url(self.host, self.port)

    @property
    def running(self) -> bool:
        return self._broker is not None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # Keep sessions of persistent clients (the edge reconnects with clean_session off).
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

    async def start(self) -> None:
        if self._broker is not None:
            return
        # amqtt narrates every connection at INFO; the demo's log is about the site.
        for noisy in ("amqtt", "transitions"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        broker = Broker(self._config())
        await broker.start()
        self._broker = broker
        log.info("embedded MQTT broker listening on %s", self.url)

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
            log.info("embedded MQTT broker on %s stopped", self.url)

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
