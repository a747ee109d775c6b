"""Modbus register maps kept as TOML data, shared by the edge drivers and the device simulators."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any


class Table(StrEnum):
    coil = "coil"
    discrete_input = "discrete_input"
    input_register = "input_register"
    holding_register = "holding_register"


class RegisterMapError(ValueError):
    """A register map file that does not describe a device consistently."""


@dataclass(frozen=True, slots=True)
class Point:
    """A named bit or run of registers in one Modbus table."""

    name: str
    table: Table
    address: int
    count: int = 1
    description: str = ""

    @property
    def end(self) -> int:
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class RegisterMap:
    device: str
    points: dict[str, Point]
    values: dict[str, dict[str, int]] = field(default_factory=dict)
    text_encoding: str = "gb18030"

    def __getitem__(self, name: str) -> Point:
        try:
            return self.points[name]
        except KeyError:
            raise KeyError(f"register map {self.device!r} has no point {name!r}") from None

    def span(self, table: Table) -> tuple[int, int]:
        """(first address, count) covering every point of one table; (0, 0) if it has none."""
        points = [point for point in self.points.values() if point.table == table]
        if not points:
            return (0, 0)
        first = min(point.address for point in points)
        return (first, max(point.end for point in points) - first)

    def value(self, group: str, name: str) -> int:
        return self.values[group][name]


def _point(name: str, raw: Any) -> Point:
    if not isinstance(raw, dict):
        raise RegisterMapError(f"points.{name}: expected a table")
    try:
        point = Point(
            name=name,
            table=Table(raw["table"]),
            address=int(raw["address"]),
            count=int(raw.get("count", 1)),
            description=str(raw.get("description", "")),
        )
    except (KeyError, ValueError) as exc:
        raise RegisterMapError(f"points.{name}: {exc}") from None
    if not (0 <= point.address and point.count >= 1 and point.end <= 65536):
        raise RegisterMapError(f"points.{name}: address range out of 0..65535")
    return point


def parse_map(data: dict[str, Any]) -> RegisterMap:
    """Validate a parsed register map document; overlapping points are refused."""
    points = {name: _point(name, raw) for name, raw in data.get("points", {}).items()}
    for table in Table:
        taken: dict[int, str] = {}
        for point in (p for p in points.values() if p.table == table):
            for address in range(point.address, point.end):
                if address in taken:
                    raise RegisterMapError(
                        f"points.{point.name}: {table} {address} already used by {taken[address]}"
                    )
                taken[address] = point.name
    return RegisterMap(
        device=str(data["device"]),
        points=points,
        values={group: dict(names) for group, names in data.get("values", {}).items()},
        text_encoding=str(data.get("text_encoding", "gb18030")),
    )


@cache
def load_map(device: str) -> RegisterMap:
    """The register map shipped as protocols/modbus/<device>.toml."""
    text = resources.files(__package__).joinpath(f"{device}.toml").read_text("utf-8")
    return parse_map(tomllib.loads(text))


def encode_text(text: str, registers: int, encoding: str = "gb18030") -> list[int]:
    """Text packed two bytes per register, high byte first, cut at a character that fits."""
    limit = registers * 2
    data = b""
    for char in text:
        encoded = char.encode(encoding, errors="replace")
        if len(data) + len(encoded) > limit:
            break
        data += encoded
    data = data.ljust(limit, b"\x00")
    return [(data[i] << 8) | data[i + 1] for i in range(0, limit, 2)]


def decode_text(registers: list[int], encoding: str = "gb18030") -> str:
    """The inverse of encode_text: trailing zero bytes are padding."""
    data = b"".join((value & 0xFFFF).to_bytes(2, "big") for value in registers)
    return data.rstrip(b"\x00").decode(encoding, errors="replace")


@dataclass(frozen=True, slots=True)
class DisplayFrame:
    """What a lane display shows: two lines of text in one colour."""

    line1: str
    line2: str
    colour: str = "green"


def encode_frame(regmap: RegisterMap, frame: DisplayFrame, sequence: int) -> tuple[int, list[int]]:
    """(start address, registers) writing a whole display frame in one request, sequence last."""
    start, count = regmap.span(Table.holding_register)
    image = [0] * count
    for name, text in (("line1", frame.line1), ("line2", frame.line2)):
        point = regmap[name]
        offset = point.address - start
        image[offset : offset + point.count] = encode_text(text, point.count, regmap.text_encoding)
    image[regmap["colour"].address - start] = regmap.value("colour", frame.colour)
    image[regmap["sequence"].address - start] = sequence & 0xFFFF
    return start, image


def decode_frame(regmap: RegisterMap, image: list[int], start: int) -> tuple[DisplayFrame, int]:
    """The frame and its sequence from a register image beginning at start."""

    def registers(name: str) -> list[int]:
        point = regmap[name]
        return image[point.address - start : point.end - start]

    colours = {code: name for name, code in regmap.values["colour"].items()}
    frame = DisplayFrame(
        line1=decode_text(registers("line1"), regmap.text_encoding),
        line2=decode_text(registers("line2"), regmap.text_encoding),
        colour=colours.get(registers("colour")[0], "off"),
    )
    return frame, registers("sequence")[0]
