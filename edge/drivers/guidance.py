"""The lot guidance screen driver: writes total and free spaces (protocols/modbus/guidance.toml)
in the background, latest count wins, so a slow or absent screen never delays a lane."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ModbusPDU

from edge.drivers.modbus import DeviceError, ModbusDevice
from protocols.modbus import RegisterMap, Table, load_map
from protocols.site import ModbusEndpoint

log = logging.getLogger(__name__)

# A screen that missed an update (down, rebooted) is written again this often.
REFRESH_S = 30.0
RETRY_FIRST_S = 0.5


@dataclass(frozen=True, slots=True)
class Spaces:
    total: int
    occupied: int
    closed: bool = False

    @property
    def free(self) -> int:
        """Never below 0: a lot over capacity (double parking, a missed exit) shows full."""
        return max(0, self.total - self.occupied)

    def status(self, regmap: RegisterMap) -> int:
        if self.closed:
            return regmap.value("status", "closed")
        return regmap.value("status", "full" if self.free == 0 else "available")


def encode_spaces(regmap: RegisterMap, spaces: Spaces, sequence: int) -> tuple[int, list[int]]:
    """(start, registers) of one write: total, free, status, then the sequence."""
    start, count = regmap.span(Table.holding_register)
    image = [0] * count
    image[regmap["total"].address - start] = min(spaces.total, 0xFFFF)
    image[regmap["free"].address - start] = min(spaces.free, 0xFFFF)
    image[regmap["status"].address - start] = spaces.status(regmap)
    image[regmap["sequence"].address - start] = sequence & 0xFFFF
    return start, image


class GuidanceScreen:
    def __init__(self, name: str, endpoint: ModbusEndpoint, timeout_s: float) -> None:
        self.regmap = load_map("guidance")
        self.device = ModbusDevice(name, endpoint, timeout_s)
        self._pending: Spaces | None = None
        self._last: Spaces | None = None
        self._wake = asyncio.Event()
        self._sequence = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.writes = 0  # updates the screen accepted (health, tests)

    def show(self, spaces: Spaces) -> None:
        self._pending = spaces
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"guidance {self.device.name}")

    async def stop(self) -> None:
        self._stopping = True  # a flag, not cancel(): pymodbus's wait_for may swallow a cancel
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.device.close()

    async def write(self, spaces: Spaces) -> None:
        self._sequence = (self._sequence + 1) & 0xFFFF
        start, image = encode_spaces(self.regmap, spaces, self._sequence)

        async def request(client: AsyncModbusTcpClient, unit: int) -> ModbusPDU:
            return await client.write_registers(start, image, device_id=unit)

        await self.device.call(request)
        self.writes += 1

    async def _run(self) -> None:
        wait_s = REFRESH_S
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_s)
            self._wake.clear()
            spaces, self._pending = self._pending or self._last, None
            if spaces is None or self._stopping:
                continue
            self._last = spaces
            try:
                await self.write(spaces)
                wait_s = REFRESH_S
            except DeviceError as exc:
                # Tried again soon (then less and less often): a screen powered up after the
                # edge shows the count within a second or two.
                wait_s = RETRY_FIRST_S if wait_s >= REFRESH_S else min(REFRESH_S, wait_s * 2)
                log.warning("guidance screen not updated: %s", exc)
