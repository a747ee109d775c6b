"""Serial QR scanner driver: reads the lines a scanner sends and hands each pass text on.

The port is opened with pyserial-asyncio; bytes go through :class:`edge.qr.ScannerLine`
(partial lines wait, garbage is dropped). A port that is missing, unplugged or failing is
retried with capped backoff for as long as the edge runs; the scanner never stops the lane.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import serial
import serial_asyncio

from edge.qr import ScannerLine
from protocols.site import ScannerConfig

log = logging.getLogger(__name__)

READ_CHUNK = 512


class Scanner:
    """One scanner on one serial port; `on_token` is awaited for each line, in order."""

    def __init__(
        self,
        name: str,
        config: ScannerConfig,
        on_token: Callable[[str], Awaitable[object]],
        retry_first_s: float = 0.5,
        retry_cap_s: float = 10.0,
    ) -> None:
        self.name = name
        self.config = config
        self._on_token = on_token
        self._retry = (retry_first_s, retry_cap_s)
        self._task: asyncio.Task[None] | None = None
        self.online = asyncio.Event()
        self.tokens = 0  # lines handed on (tests, health)
        self.dropped = 0  # lines the parser refused

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        delay, said = self._retry[0], ""
        while True:
            try:
                reader, transport = await self._open()
            except (OSError, serial.SerialException) as exc:
                if str(exc) != said:
                    log.warning("%s: port %s not open: %s", self.name, self.config.port, exc)
                    said = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry[1])
                continue
            log.info("%s: reading %s", self.name, self.config.port)
            delay, said = self._retry[0], ""
            self.online.set()
            try:
                await self._read(reader)
            except (OSError, serial.SerialException) as exc:
                log.warning("%s: port %s failed: %s", self.name, self.config.port, exc)
            finally:
                self.online.clear()
                transport.close()
            await asyncio.sleep(delay)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        transport, _ = await serial_asyncio.create_serial_connection(
            loop, lambda: protocol, url=self.config.port, baudrate=self.config.baudrate
        )
        return reader, transport

    async def _read(self, reader: asyncio.StreamReader) -> None:
        lines = ScannerLine()
        while True:
            data = await reader.read(READ_CHUNK)
            if not data:
                log.warning("%s: port %s closed", self.name, self.config.port)
                return
            for token in lines.feed(data):
                self.tokens += 1
                try:
                    await self._on_token(token)
                except Exception:  # one bad decision must not stop the scanner
                    log.exception("%s: a scanned pass could not be handled", self.name)
            self.dropped = lines.dropped
