"""A Modbus TCP device connection that turns pymodbus outcomes into two named failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from protocols.site import ModbusEndpoint

log = logging.getLogger(__name__)

R = TypeVar("R", bound=ModbusPDU)


class DeviceError(Exception):
    """A device command failed; the message says which device and why."""


class DeviceUnreachable(DeviceError):
    """No answer: connection refused or lost, or the device did not reply in time."""


class DeviceRefused(DeviceError):
    """The device answered with a Modbus exception code (it heard us and said no)."""


class ModbusDevice:
    """One connection to one device; pymodbus reconnects it in the background with backoff."""

    def __init__(self, name: str, endpoint: ModbusEndpoint, timeout_s: float) -> None:
        self.name = name
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._client = AsyncModbusTcpClient(
            endpoint.host,
            port=endpoint.port,
            timeout=timeout_s,
            retries=0,  # a barrier command is not retried blindly: the car may have gone
            reconnect_delay=0.1,
            reconnect_delay_max=5.0,
        )

    @property
    def connected(self) -> bool:
        return self._client.connected

    async def connect(self) -> bool:
        """Try once to connect now; False (logged) when the device is not there yet."""
        try:
            return await asyncio.wait_for(self._client.connect(), self.timeout_s)
        except (TimeoutError, OSError, ModbusException) as exc:
            log.warning("%s: cannot connect to %s: %s", self.name, self._where(), exc)
            return False

    def close(self) -> None:
        self._client.close()

    def _where(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port} unit {self.endpoint.unit}"

    async def call(self, request: Callable[[AsyncModbusTcpClient, int], Awaitable[R]]) -> R:
        """Run one request; raise DeviceUnreachable or DeviceRefused instead of what pymodbus does."""
        try:
            if not self._client.connected and not await self._client.connect():
                raise DeviceUnreachable(f"{self.name}: {self._where()} is not reachable")
            # pymodbus bounds connect and reply by `timeout`; no extra wait_for task per call.
            response = await request(self._client, self.endpoint.unit)
        except (TimeoutError, OSError, ModbusException) as exc:
            raise DeviceUnreachable(f"{self.name}: {self._where()}: {exc}") from exc
        if response.isError():
            raise DeviceRefused(f"{self.name}: {self._where()} refused: {response}")
        return response
