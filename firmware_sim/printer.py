"""Serial ESC/POS receipt-printer simulator: decodes what it is sent into text lines and QR
payloads, one receipt per cut, and answers DLE EOT status requests like a real printer.

Run it on one end of a socat pty pair for the demo (`python -m firmware_sim.printer PORT`
prints each receipt it "prints"); tests read :attr:`PrinterSimulator.receipts`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass, field
from typing import ClassVar

import serial_asyncio

from protocols.escpos import (
    CHINESE_ON,
    DLE,
    EOT,
    ESC,
    FS,
    GS,
    LF,
    QR_CN,
    QR_FN_PRINT,
    QR_FN_STORE,
    STATUS_FIXED_BITS,
    STATUS_OFFLINE,
    STATUS_PAPER_END,
    TEXT_ENCODING,
)

log = logging.getLogger(__name__)


@dataclass
class Printed:
    """One receipt as it came out: its text lines, the QR payloads it printed, cut or not."""

    lines: list[str] = field(default_factory=list)
    qr: list[str] = field(default_factory=list)
    cut: bool = False
    chinese: bool = False  # FS & was selected before its text

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Decoder:
    """A streaming ESC/POS decoder: feed bytes in any chunks, collect finished receipts.

    Knows the commands protocols/escpos.py writes and skips the arguments of other common
    ones; a byte it does not know is dropped (a real printer prints garbage, never crashes).
    `replies` collects what the printer answers (DLE EOT status bytes).
    """

    # Commands with a fixed number of argument bytes after their first two bytes.
    _ESC_ARGS: ClassVar[dict[int, int]] = {
        0x40: 0,
        0x61: 1,
        0x45: 1,
        0x64: 1,
        0x21: 1,
        0x2D: 1,
        0x4A: 1,
        0x74: 1,
        0x32: 0,
    }
    _GS_ARGS: ClassVar[dict[int, int]] = {0x21: 1, 0x42: 1, 0x48: 1, 0x66: 1, 0x68: 1, 0x77: 1}
    _FS_ARGS: ClassVar[dict[int, int]] = {0x26: 0, 0x2E: 0, 0x21: 1, 0x2D: 1}

    def __init__(self, paper: bool = True, online: bool = True) -> None:
        self._buffer = bytearray()
        self._line = bytearray()
        self.current = Printed()
        self.receipts: list[Printed] = []
        self.replies = bytearray()
        self.paper = paper
        self.online = online
        self._qr_data = ""

    def feed(self, data: bytes) -> list[Printed]:
        """Decode these bytes; returns the receipts finished (cut) by them."""
        self._buffer += data
        done: list[Printed] = []
        while self._buffer:
            used = self._step(done)
            if used == 0:
                break  # an incomplete command: wait for more bytes
            del self._buffer[:used]
        return done

    def _end_line(self) -> None:
        encoding = TEXT_ENCODING if self.current.chinese else "latin-1"
        self.current.lines.append(bytes(self._line).decode(encoding, "replace").rstrip())
        self._line.clear()

    def _step(self, done: list[Printed]) -> int:
        buf = self._buffer
        first = buf[0]
        if first == LF:
            self._end_line()
            return 1
        if first == DLE:
            if len(buf) < 3:
                return 0
            if buf[1] == EOT:
                self._status(buf[2])
                return 3
            return 1
        if first == ESC:
            if len(buf) < 2:
                return 0
            args = self._ESC_ARGS.get(buf[1])
            if args is None:
                return 2
            if len(buf) < 2 + args:
                return 0
            if buf[1] == 0x40:  # ESC @: initialise, drops anything unprinted
                self._line.clear()
                self.current.chinese = False
            if buf[1] == 0x64 and self._line:
                self._end_line()
            return 2 + args
        if first == FS:
            if len(buf) < 2:
                return 0
            if bytes(buf[:2]) == CHINESE_ON:
                self.current.chinese = True
            elif buf[1] == 0x2E:
                self.current.chinese = False
            return 2 + self._FS_ARGS.get(buf[1], 0)
        if first == GS:
            return self._gs(done)
        if first < 0x20:
            return 1  # other control bytes: ignored
        self._line.append(first)
        return 1

    def _gs(self, done: list[Printed]) -> int:
        buf = self._buffer
        if len(buf) < 2:
            return 0
        command = buf[1]
        if command == 0x28 and len(buf) >= 3 and buf[2] == 0x6B:  # GS ( k
            if len(buf) < 5:
                return 0
            size = buf[3] | buf[4] << 8
            if len(buf) < 5 + size:
                return 0
            body = bytes(buf[5 : 5 + size])
            if len(body) >= 2 and body[0] == QR_CN:
                if body[1] == QR_FN_STORE:
                    self._qr_data = body[3:].decode("utf-8", "replace")
                elif body[1] == QR_FN_PRINT and self._qr_data:
                    self.current.qr.append(self._qr_data)
            return 5 + size
        if command == 0x28:
            return 0 if len(buf) < 3 else 3
        if command == 0x56:  # GS V m [n]
            if len(buf) < 3:
                return 0
            used = 4 if buf[2] in (65, 66) else 3
            if len(buf) < used:
                return 0
            if self._line:
                self._end_line()
            self.current.cut = True
            chinese = self.current.chinese
            self.receipts.append(self.current)
            done.append(self.current)
            self.current = Printed(chinese=chinese)
            return used
        args = self._GS_ARGS.get(command, 0)
        if len(buf) < 2 + args:
            return 0
        return 2 + args

    def _status(self, kind: int) -> None:
        status = STATUS_FIXED_BITS
        if kind == 1 and not self.online:
            status |= STATUS_OFFLINE
        if kind == 4 and not self.paper:
            status |= STATUS_PAPER_END
        self.replies.append(status)


class PrinterSimulator:
    """The printer's end of a serial line: decodes and answers as bytes arrive."""

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        self.port = port
        self.baudrate = baudrate
        self.decoder = Decoder()
        self.printed = asyncio.Event()
        self._transport: asyncio.Transport | None = None

    @property
    def receipts(self) -> list[Printed]:
        return self.decoder.receipts

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        simulator = self

        class _Line(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                simulator._received(data)

        transport, _ = await serial_asyncio.create_serial_connection(
            loop, _Line, url=self.port, baudrate=self.baudrate
        )
        self._transport = transport

    def _received(self, data: bytes) -> None:
        try:
            finished = self.decoder.feed(data)
        except Exception:  # a simulator that dies on odd bytes would hide the edge's bugs
            log.exception("printer simulator: could not decode %r", data[:64])
            return
        if self.decoder.replies and self._transport is not None:
            self._transport.write(bytes(self.decoder.replies))
            self.decoder.replies.clear()
        for receipt in finished:
            log.info("printed a receipt:\n%s\nQR: %s", receipt.text, ", ".join(receipt.qr))
        if finished:
            self.printed.set()

    async def wait_receipts(self, count: int, timeout_s: float = 5.0) -> list[Printed]:
        """Wait until at least `count` receipts were cut; returns them all."""
        async with asyncio.timeout(timeout_s):
            while len(self.receipts) < count:
                self.printed.clear()
                await self.printed.wait()
        return self.receipts

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


async def _main(port: str, baudrate: int) -> None:
    simulator = PrinterSimulator(port, baudrate)
    await simulator.open()
    try:
        while True:
            await simulator.printed.wait()
            simulator.printed.clear()
            for receipt in simulator.receipts:
                print("=" * 32)
                print(receipt.text)
                for payload in receipt.qr:
                    print(f"[QR] {payload}")
            simulator.receipts.clear()
    finally:
        simulator.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="an ESC/POS receipt printer on a serial port")
    parser.add_argument("port", help="serial port, e.g. the printer end of a socat pty pair")
    parser.add_argument("--baudrate", type=int, default=9600)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(_main(arguments.port, arguments.baudrate))
    except KeyboardInterrupt:
        pass
