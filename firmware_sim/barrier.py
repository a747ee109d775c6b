"""Barrier controller simulator: the open coil raises the arm, counts it, and lowers it later."""

from __future__ import annotations

import asyncio
import time

from firmware_sim.modbus import ModbusSimulator
from protocols.modbus import Table, load_map


class BarrierSimulator(ModbusSimulator):
    """Records (time.monotonic_ns(), "open" | "close") for every command coil written."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, unit: int = 1, hold_s: float = 3.0):
        super().__init__(load_map("barrier"), host, port, unit)
        self.hold_s = hold_s
        self.set("hold_s", max(0, round(hold_s)))
        self.commands: list[tuple[int, str]] = []
        self._written = asyncio.Event()
        self._lower: asyncio.TimerHandle | None = None

    @property
    def arm_up(self) -> bool:
        return bool(self.get("arm_up"))

    @property
    def opens(self) -> int:
        return sum(1 for _, command in self.commands if command == "open")

    def on_write(self, table: Table, address: int, values: list[int]) -> None:
        stamp = time.monotonic_ns()
        if table != Table.coil:
            super().on_write(table, address, values)
            return
        for offset, value in enumerate(values):
            name = next(
                (
                    point.name
                    for point in self.regmap.points.values()
                    if point.table == Table.coil and point.address == address + offset
                ),
                "",
            )
            if value and name in ("open", "close"):
                self.commands.append((stamp, name))
                self._raise() if name == "open" else self._lower_arm()
        # Command coils are pulses: the controller clears them once acted on.
        self._written.set()

    def _raise(self) -> None:
        self.set("arm_up", 1)
        self.set("open_count", (self.get("open_count") + 1) & 0xFFFF)
        if self._lower is not None:
            self._lower.cancel()
        self._lower = asyncio.get_running_loop().call_later(self.hold_s, self._lower_arm)

    def _lower_arm(self) -> None:
        self.set("arm_up", 0)
        if self._lower is not None:
            self._lower.cancel()
            self._lower = None

    async def wait_opens(self, count: int, timeout_s: float = 5.0) -> None:
        """Wait until at least `count` open commands were written."""
        async with asyncio.timeout(timeout_s):
            while self.opens < count:
                self._written.clear()
                await self._written.wait()

    async def stop(self) -> None:
        if self._lower is not None:
            self._lower.cancel()
        await super().stop()
