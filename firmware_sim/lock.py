"""Parking lock simulator: a Modbus TCP server with protocols/modbus/lock.toml's map, whose arm
takes `motion_s` to move, refuses to raise onto a vehicle, and can be told to fail."""

from __future__ import annotations

import asyncio
import time

from firmware_sim.modbus import ModbusSimulator
from protocols.modbus import Table, load_map


class LockSimulator(ModbusSimulator):
    """Records (time.monotonic_ns(), "raise" | "lower") for every command written."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        unit: int = 1,
        motion_s: float = 2.0,
        raised: bool = True,
    ) -> None:
        super().__init__(load_map("lock"), host, port, unit)
        self.motion_s = motion_s
        self.commands: list[tuple[int, str]] = []
        # A fault name the next movement ends in (a stalled motor, a flat battery), then clears.
        self.fail_next = ""
        self._motion: asyncio.TimerHandle | None = None
        self._changed = asyncio.Event()
        self.set("battery_pct", 100)
        self._settle("raised" if raised else "lowered")

    # --- the model ---------------------------------------------------------------------------

    @property
    def position(self) -> str:
        """raised, lowered, moving, fault (or unknown), as the state register says."""
        codes = {code: name for name, code in self.regmap.values["state"].items()}
        return codes.get(self.get("state"), "unknown")

    @property
    def fault(self) -> str:
        codes = {code: name for name, code in self.regmap.values["fault"].items()}
        return "" if self.get("fault") == 0 else codes.get(self.get("fault"), "?")

    @property
    def vehicle(self) -> bool:
        return bool(self.get("vehicle"))

    @vehicle.setter
    def vehicle(self, present: bool) -> None:
        """A vehicle drives over (True) or off (False) the lock's detector."""
        self.set("vehicle", int(present))

    def _settle(self, state: str, fault: str = "none") -> None:
        self.set("state", self.regmap.value("state", state))
        self.set("fault", self.regmap.value("fault", fault))
        self._changed.set()

    def on_write(self, table: Table, address: int, values: list[int]) -> None:
        command = self.regmap["command"]
        if table != command.table or not (address <= command.address < address + len(values)):
            super().on_write(table, address, values)
            return
        others = [
            (address + offset, value)
            for offset, value in enumerate(values)
            if address + offset != command.address
        ]
        for where, value in others:
            self.state[table][where] = value
        code = values[command.address - address]
        actions = {v: k for k, v in self.regmap.values["command"].items()}
        action = actions.get(code, "")
        # The lock takes the command and clears the register, as the real controller does.
        self.state[table][command.address] = 0
        if action in ("raise", "lower"):
            self.commands.append((time.monotonic_ns(), action))
            self._start(action)

    def _start(self, action: str) -> None:
        if self._motion is not None:
            self._motion.cancel()
        self._settle("moving")
        loop = asyncio.get_running_loop()
        if action == "raise" and self.vehicle:
            # The arm meets the car's underbody a moment in, stops and reports it.
            self._motion = loop.call_later(
                min(0.3, self.motion_s), self._settle, "fault", "obstructed"
            )
            return
        self._motion = loop.call_later(self.motion_s, self._finish, action)

    def _finish(self, action: str) -> None:
        self._motion = None
        if self.fail_next:
            fault, self.fail_next = self.fail_next, ""
            self._settle("fault", fault)
            return
        self.set("operations", (self.get("operations") + 1) & 0xFFFF)
        self._settle("raised" if action == "raise" else "lowered")

    async def wait_state(self, state: str, timeout_s: float = 5.0) -> None:
        """Wait until the lock reports `state` (raised, lowered, moving, fault)."""
        async with asyncio.timeout(timeout_s):
            while self.position != state:
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        if self._motion is not None:
            self._motion.cancel()
            self._motion = None
        await super().stop()
