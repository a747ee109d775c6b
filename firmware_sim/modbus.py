"""A pymodbus TCP server whose registers mirror a simulated device model built from a register map."""

from __future__ import annotations

import logging
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from protocols.modbus import RegisterMap, Table

log = logging.getLogger(__name__)

_TABLE_OF_FUNCTION = {
    1: Table.coil,
    5: Table.coil,
    15: Table.coil,
    2: Table.discrete_input,
    4: Table.input_register,
    3: Table.holding_register,
    6: Table.holding_register,
    16: Table.holding_register,
    22: Table.holding_register,
    23: Table.holding_register,
}
_BIT_TABLES = (Table.coil, Table.discrete_input)


def _size(regmap: RegisterMap, table: Table) -> int:
    first, count = regmap.span(table)
    return max(first + count, 1)


class ModbusSimulator:
    """The device model is the truth: every request first copies it into pymodbus's registers,
    and every write reaches the model through on_write before pymodbus stores it."""

    def __init__(self, regmap: RegisterMap, host: str = "127.0.0.1", port: int = 0, unit: int = 1):
        self.regmap = regmap
        self.host = host
        self.port = port
        self.unit = unit
        self.state: dict[Table, list[int]] = {table: [0] * _size(regmap, table) for table in Table}
        self.refuse_writes = False  # tests flip this to get Modbus exception replies
        self._server: ModbusTcpServer | None = None

    def _simdata(self, table: Table) -> list[SimData]:
        size = len(self.state[table])
        if table in _BIT_TABLES:
            bits = [False] * (16 * ((size + 15) // 16))
            return [SimData(0, values=bits, datatype=DataType.BITS)]
        return [SimData(0, count=size, values=0, datatype=DataType.REGISTERS)]

    def get(self, point: str) -> int:
        spec = self.regmap[point]
        return self.state[spec.table][spec.address]

    def set(self, point: str, value: int) -> None:
        spec = self.regmap[point]
        self.state[spec.table][spec.address] = value

    def on_write(self, table: Table, address: int, values: list[int]) -> None:
        """Store written values in the model; devices override this to react."""
        self.state[table][address : address + len(values)] = values

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        table = _TABLE_OF_FUNCTION.get(function_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if set_values:
            if self.refuse_writes:
                return ExcCodes.DEVICE_FAILURE
            if address + len(set_values) > len(self.state[table]):
                return ExcCodes.ILLEGAL_ADDRESS
            self.on_write(table, address, [int(value) for value in set_values])
        model = self.state[table]
        if table in _BIT_TABLES:
            # Bit tables are packed sixteen to a register, bit 0 first.
            for index in range(len(registers) - 1):
                bits = model[(start_address + index) * 16 : (start_address + index + 1) * 16]
                registers[index] = sum(1 << bit for bit, value in enumerate(bits) if value)
        else:
            for index in range(min(len(registers) - 1, len(model) - start_address)):
                registers[index] = model[start_address + index]
        return None

    async def start(self) -> int:
        """Listen and return the bound port (useful with port 0)."""
        # pymodbus wants the blocks in the order coils, discrete inputs, holding, input registers.
        order = (Table.coil, Table.discrete_input, Table.holding_register, Table.input_register)
        simdata: Any = tuple(self._simdata(table) for table in order)
        device = SimDevice(self.unit, simdata=simdata, action=self._action)
        self._server = ModbusTcpServer(device, address=(self.host, self.port))
        await self._server.serve_forever(background=True)
        sockets = getattr(self._server.transport, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
