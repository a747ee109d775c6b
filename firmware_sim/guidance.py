"""Lot guidance screen simulator: holds the guidance register block (protocols/modbus/guidance.toml)
and redraws, like the real board, when the sequence register is written."""

from __future__ import annotations

import asyncio
import logging

from firmware_sim.modbus import ModbusSimulator
from protocols.modbus import Table, load_map

log = logging.getLogger(__name__)


class GuidanceSimulator(ModbusSimulator):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, unit: int = 1):
        super().__init__(load_map("guidance"), host, port, unit)
        self.shown: list[tuple[int, int, str]] = []  # (total, free, status) per redraw
        self._drawn = asyncio.Event()
        self._status = {code: name for name, code in self.regmap.values["status"].items()}

    @property
    def total(self) -> int:
        return self.get("total")

    @property
    def free(self) -> int:
        return self.get("free")

    @property
    def status(self) -> str:
        return self._status.get(self.get("status"), "unknown")

    def text(self) -> str:
        """What the board shows: 余位 N, 车位已满, or 暂停服务."""
        if self.status == "closed":
            return "暂停服务"
        return "车位已满" if self.free == 0 else f"余位 {self.free}"

    def on_write(self, table: Table, address: int, values: list[int]) -> None:
        super().on_write(table, address, values)
        sequence = self.regmap["sequence"]
        if table == sequence.table and address <= sequence.address < address + len(values):
            self.shown.append((self.total, self.free, self.status))
            log.info(
                "guidance %s:%d shows %s (of %d)", self.host, self.port, self.text(), self.total
            )
            self._drawn.set()

    async def wait_free(self, free: int, timeout_s: float = 5.0) -> None:
        """Wait until the board shows `free` spaces."""
        async with asyncio.timeout(timeout_s):
            while not (self.shown and self.free == free):
                self._drawn.clear()
                await self._drawn.wait()
