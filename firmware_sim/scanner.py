"""Serial QR scanner simulator: writes each pass it "reads" as one CRLF-terminated line."""

from __future__ import annotations

import asyncio

import serial_asyncio


class ScannerSimulator:
    """The scanner's end of a serial line (a pty or socat pair in tests)."""

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        self.port = port
        self.baudrate = baudrate
        self._transport: asyncio.WriteTransport | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await serial_asyncio.create_serial_connection(
            loop, asyncio.Protocol, url=self.port, baudrate=self.baudrate
        )
        self._transport = transport

    def scan(self, text: str, ending: bytes = b"\r\n") -> None:
        """Send one read, as a scanner in keyboard-line mode does."""
        if self._transport is None:
            raise RuntimeError("scanner port not open")
        self._transport.write(text.encode("ascii") + ending)

    def write(self, data: bytes) -> None:
        """Raw bytes (tests send partial and garbage lines with it)."""
        if self._transport is None:
            raise RuntimeError("scanner port not open")
        self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
