"""Lane LED display simulator: holds the display block and decodes each committed frame."""

from __future__ import annotations

import asyncio

from firmware_sim.modbus import ModbusSimulator
from protocols.modbus import DisplayFrame, Table, decode_frame, load_map


class DisplaySimulator(ModbusSimulator):
    """Redraws when the sequence register is written, as the real controller does."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, unit: int = 1):
        super().__init__(load_map("display"), host, port, unit)
        self.frames: list[DisplayFrame] = []
        self._drawn = asyncio.Event()

    @property
    def frame(self) -> DisplayFrame | None:
        return self.frames[-1] if self.frames else None

    def on_write(self, table: Table, address: int, values: list[int]) -> None:
        super().on_write(table, address, values)
        sequence = self.regmap["sequence"]
        if table == sequence.table and address <= sequence.address < address + len(values):
            frame, _ = decode_frame(self.regmap, self.state[Table.holding_register], 0)
            self.frames.append(frame)
            self._drawn.set()

    async def wait_frame(self, timeout_s: float = 5.0) -> DisplayFrame:
        """Wait for the next frame drawn after this call."""
        self._drawn.clear()
        async with asyncio.timeout(timeout_s):
            await self._drawn.wait()
        frame = self.frame
        assert frame is not None
        return frame
