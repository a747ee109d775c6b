"""The parking lock driver: raise, lower and read a shared berth's lock through its register map."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ModbusPDU

from edge.drivers.modbus import DeviceError, ModbusDevice
from protocols.modbus import RegisterMap, load_map
from protocols.site import ModbusEndpoint

RAISED = "raised"
LOWERED = "lowered"
MOVING = "moving"
FAULT = "fault"
UNKNOWN = "unknown"


class LockFault(DeviceError):
    """The lock answered but could not reach the position asked for (obstructed, stalled...)."""


@dataclass(frozen=True, slots=True)
class LockReading:
    """What the lock's input registers say: its state name, fault name ('' when none), vehicle."""

    state: str
    fault: str = ""
    vehicle: bool = False
    battery_pct: int = 100


def _names(regmap: RegisterMap, group: str) -> dict[int, str]:
    return {code: name for name, code in regmap.values[group].items()}


class Lock:
    """Commands and readings for one lock; transport failures raise DeviceUnreachable, a Modbus
    exception reply DeviceRefused, and a lock that ends in its fault state LockFault."""

    def __init__(self, name: str, endpoint: ModbusEndpoint, timeout_s: float) -> None:
        self.regmap: RegisterMap = load_map("lock")
        self.device = ModbusDevice(name, endpoint, timeout_s)
        self._states = _names(self.regmap, "state")
        self._faults = _names(self.regmap, "fault")
        first, count = self.regmap.span(self.regmap["state"].table)
        self._first, self._count = first, count
        # One request at a time per lock: a poll never interleaves with a command.
        self.busy = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.device.name

    def close(self) -> None:
        self.device.close()

    def decode(self, registers: list[int]) -> LockReading:
        """The reading from the input-register block starting at the map's first address."""

        def value(point: str) -> int:
            return int(registers[self.regmap[point].address - self._first])

        state = self._states.get(value("state"), UNKNOWN)
        fault_code = value("fault")
        fault = "" if fault_code == 0 else self._faults.get(fault_code, f"code {fault_code}")
        return LockReading(
            state=state,
            fault=fault,
            vehicle=bool(value("vehicle")),
            battery_pct=max(0, min(100, value("battery_pct"))),
        )

    async def read(self) -> LockReading:
        first, count = self._first, self._count

        async def request(client: AsyncModbusTcpClient, unit: int) -> ModbusPDU:
            return await client.read_input_registers(first, count=count, device_id=unit)

        response = await self.device.call(request)
        return self.decode(list(response.registers))

    async def command(self, action: str) -> None:
        """Write the command register: action is "raise" or "lower"."""
        address = self.regmap["command"].address
        code = self.regmap.value("command", action)

        async def request(client: AsyncModbusTcpClient, unit: int) -> ModbusPDU:
            return await client.write_register(address, code, device_id=unit)

        await self.device.call(request)

    async def move(self, action: str, timeout_s: float = 10.0, poll_s: float = 0.2) -> LockReading:
        """Command the lock and wait for it to settle; the final reading, or LockFault when it
        ends in fault, or DeviceUnreachable when it does not settle within timeout_s."""
        target = RAISED if action == "raise" else LOWERED
        async with self.busy:
            await self.command(action)
            deadline = time.monotonic() + timeout_s
            # A lock takes a moment to go from its old state to moving: read until it moved.
            while True:
                await asyncio.sleep(poll_s)
                reading = await self.read()
                if reading.state == target:
                    return reading
                if reading.state == FAULT:
                    raise LockFault(f"{self.name}: {action} ended in fault {reading.fault or '?'}")
                if time.monotonic() > deadline:
                    raise LockFault(
                        f"{self.name}: still {reading.state} {timeout_s:.0f} s after {action}"
                    )
