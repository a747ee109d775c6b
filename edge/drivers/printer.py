"""ESC/POS receipt printer on a serial port (pyserial-asyncio): one job at a time, checked.

The port is opened for each job and closed after it, so a printer unplugged between two
receipts is simply found again. Before a job the printer's paper sensor is asked for its
status (DLE EOT 4): no answer in time means the printer is absent or off, paper end means
no paper; both raise :class:`PrinterError` with a message a collector can act on, and the
job is not sent. The driver holds no business rules: it prints bytes it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import serial
import serial_asyncio

from protocols.escpos import STATUS_FIXED_BITS, STATUS_PAPER, STATUS_PAPER_END

log = logging.getLogger(__name__)


class PrinterError(Exception):
    """The receipt was not printed; the message says why (in Chinese, then English)."""


class Printer:
    def __init__(self, port: str, baudrate: int = 9600, timeout_s: float = 2.0) -> None:
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self._lock = asyncio.Lock()
        self.jobs = 0  # jobs sent (health, tests)

    async def print(self, job: bytes) -> None:
        """Send one job; raises PrinterError when the printer cannot take it."""
        if not self.port:
            raise PrinterError("未配置小票打印机 (no receipt printer is configured: printer_port)")
        async with self._lock:
            try:
                reader, writer = await asyncio.wait_for(
                    serial_asyncio.open_serial_connection(url=self.port, baudrate=self.baudrate),
                    self.timeout_s,
                )
            except (OSError, serial.SerialException, TimeoutError) as exc:
                log.warning("printer %s not open: %s", self.port, exc)
                raise PrinterError(
                    f"打印机端口 {self.port} 无法打开 (printer port cannot be opened): {exc}"
                ) from None
            try:
                await self._check_paper(reader, writer)
                writer.write(job)
                await asyncio.wait_for(writer.drain(), self.timeout_s)
                self.jobs += 1
            except (OSError, serial.SerialException) as exc:
                log.warning("printer %s failed: %s", self.port, exc)
                raise PrinterError(f"打印失败 (printing failed): {exc}") from None
            except TimeoutError:
                raise PrinterError("打印机未接收数据 (the printer did not take the job)") from None
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _check_paper(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Whatever an earlier job left unread (a late status byte) is not this job's answer.
        with contextlib.suppress(TimeoutError):
            while await asyncio.wait_for(reader.read(64), 0.01):
                pass
        writer.write(STATUS_PAPER)
        await writer.drain()
        try:
            reply = await asyncio.wait_for(reader.readexactly(1), self.timeout_s)
        except (TimeoutError, asyncio.IncompleteReadError):
            raise PrinterError(
                "打印机无响应，请检查电源和连接 (the printer does not answer: check power and cable)"
            ) from None
        status = reply[0]
        if status & 0x93 != STATUS_FIXED_BITS:
            raise PrinterError(f"打印机状态异常 0x{status:02x} (unexpected printer status)")
        if status & STATUS_PAPER_END:
            raise PrinterError("打印机缺纸 (the printer is out of paper)")
