"""The lane display driver: shows the latest frame in the background, off the decision path."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ModbusPDU

from edge.drivers.modbus import DeviceError, ModbusDevice
from protocols.modbus import DisplayFrame, encode_frame, load_map
from protocols.site import ModbusEndpoint

log = logging.getLogger(__name__)


class Display:
    """Frames queue as "latest wins": a slow or absent display never delays a decision."""

    def __init__(self, name: str, endpoint: ModbusEndpoint, timeout_s: float) -> None:
        self.regmap = load_map("display")
        self.device = ModbusDevice(name, endpoint, timeout_s)
        self._pending: DisplayFrame | None = None
        self._wake = asyncio.Event()
        self._sequence = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def show(self, frame: DisplayFrame) -> None:
        self._pending = frame
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"display {self.device.name}")

    async def stop(self) -> None:
        # A flag, not cancel(): Python 3.11's wait_for inside pymodbus can swallow a cancel.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.device.close()

    async def write(self, frame: DisplayFrame) -> None:
        """Write one frame now (the background task's single step)."""
        self._sequence = (self._sequence + 1) & 0xFFFF
        start, image = encode_frame(self.regmap, frame, self._sequence)

        async def request(client: AsyncModbusTcpClient, unit: int) -> ModbusPDU:
            return await client.write_registers(start, image, device_id=unit)

        await self.device.call(request)

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            frame, self._pending = self._pending, None
            if frame is None or self._stopping:
                continue
            try:
                await self.write(frame)
            except DeviceError as exc:
                log.warning("display not updated: %s", exc)
