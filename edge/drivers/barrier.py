"""The barrier driver: raise or lower the arm through the barrier register map's coils."""

from __future__ import annotations

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ModbusPDU

from edge.drivers.modbus import ModbusDevice
from protocols.modbus import RegisterMap, load_map
from protocols.site import ModbusEndpoint


class Barrier:
    """Commands for one barrier; failures surface as DeviceUnreachable or DeviceRefused."""

    def __init__(self, name: str, endpoint: ModbusEndpoint, timeout_s: float) -> None:
        self.regmap: RegisterMap = load_map("barrier")
        self.device = ModbusDevice(name, endpoint, timeout_s)

    async def _pulse(self, point: str) -> None:
        address = self.regmap[point].address

        async def write(client: AsyncModbusTcpClient, unit: int) -> ModbusPDU:
            return await client.write_coil(address, True, device_id=unit)

        await self.device.call(write)

    async def open(self) -> None:
        await self._pulse("open")

    async def close(self) -> None:
        await self._pulse("close")

    async def arm_up(self) -> bool:
        address = self.regmap["arm_up"].address

        async def read(client: AsyncModbusTcpClient, unit: int) -> ModbusPDU:
            return await client.read_discrete_inputs(address, count=1, device_id=unit)

        return bool((await self.device.call(read)).bits[0])

    async def open_count(self) -> int:
        address = self.regmap["open_count"].address

        async def read(client: AsyncModbusTcpClient, unit: int) -> ModbusPDU:
            return await client.read_input_registers(address, count=1, device_id=unit)

        return int((await self.device.call(read)).registers[0])
