"""The parking lock's register map as data, and the driver's reading of its register block."""

from __future__ import annotations

from edge.drivers.lock import Lock
from protocols.modbus import Table, load_map
from protocols.site import ModbusEndpoint


def test_lock_map_matches_the_vendor_layout() -> None:
    lock = load_map("lock")
    assert lock["command"].table == Table.holding_register
    assert lock.value("command", "raise") == 1 and lock.value("command", "lower") == 2
    assert {name: lock.value("state", name) for name in lock.values["state"]} == {
        "unknown": 0,
        "raised": 1,
        "lowered": 2,
        "moving": 3,
        "fault": 4,
    }
    for name in ("state", "fault", "vehicle", "battery_pct"):
        assert lock[name].table == Table.input_register, name
    # One read of the input block covers every reading the driver needs.
    assert lock.span(Table.input_register) == (0, 5)
    assert lock.value("fault", "obstructed") == 1


async def test_driver_decodes_a_reading() -> None:
    lock = Lock("lock W-1", ModbusEndpoint(port=1502), timeout_s=0.5)
    try:
        assert lock.decode([2, 0, 1, 87, 5]).state == "lowered"
        reading = lock.decode([4, 1, 1, 87, 5])
        assert (reading.state, reading.fault, reading.vehicle) == ("fault", "obstructed", True)
        assert reading.battery_pct == 87
        # A code the map does not name still says something, and never raises.
        odd = lock.decode([9, 42, 0, 250, 0])
        assert (odd.state, odd.fault, odd.battery_pct) == ("unknown", "code 42", 100)
    finally:
        lock.close()
