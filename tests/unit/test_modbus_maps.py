"""Register maps as data, and the display text packing both drivers and simulators use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.modbus import (
    DisplayFrame,
    RegisterMapError,
    Table,
    decode_frame,
    decode_text,
    encode_frame,
    encode_text,
    load_map,
    parse_map,
)


def test_barrier_map() -> None:
    barrier = load_map("barrier")
    assert barrier["open"].table == Table.coil and barrier["close"].table == Table.coil
    assert barrier["arm_up"].table == Table.discrete_input
    assert barrier["open_count"].table == Table.input_register
    assert barrier.span(Table.coil) == (0, 2)
    with pytest.raises(KeyError, match="no point"):
        barrier["launch"]


def test_display_map() -> None:
    display = load_map("display")
    start, count = display.span(Table.holding_register)
    sequence = display["sequence"]
    assert sequence.address == start + count - 1, "the commit register is written last"
    assert display.value("colour", "red") == 2


def test_overlapping_points_are_refused() -> None:
    with pytest.raises(RegisterMapError, match="already used"):
        parse_map(
            {
                "device": "x",
                "points": {
                    "a": {"table": "holding_register", "address": 0, "count": 4},
                    "b": {"table": "holding_register", "address": 3},
                },
            }
        )
    with pytest.raises(RegisterMapError, match=r"points\.c"):
        parse_map({"device": "x", "points": {"c": {"table": "flux", "address": 0}}})


def test_text_packing_is_big_endian_gb18030() -> None:
    registers = encode_text("京A", 3)
    assert registers == [0xBEA9, 0x4100, 0x0000]
    assert decode_text(registers) == "京A"


def test_text_is_cut_at_a_character_boundary() -> None:
    registers = encode_text("欢迎光临欢迎光临欢迎光临", 5)  # 10 bytes: five two-byte characters
    assert decode_text(registers) == "欢迎光临欢"
    assert decode_text(encode_text("A欢迎", 2)) == "A欢"  # the third byte would split 迎


@given(st.text(alphabet=st.characters(codec="gb18030", exclude_characters="\x00"), max_size=16))
def test_text_round_trip(text: str) -> None:
    registers = encode_text(text, 32)
    assert len(registers) == 32 and all(0 <= r <= 0xFFFF for r in registers)
    assert text.startswith(decode_text(registers))
    if len(text.encode("gb18030")) <= 64:
        assert decode_text(registers) == text


@given(
    st.text(alphabet="京粤A0123456789", max_size=8),
    st.sampled_from(["欢迎光临", "禁止通行", "一路顺风"]),
    st.sampled_from(["off", "green", "red", "yellow"]),
    st.integers(0, 0xFFFF),
)
def test_frame_round_trip(plate: str, verdict: str, colour: str, sequence: int) -> None:
    display = load_map("display")
    start, image = encode_frame(display, DisplayFrame(plate, verdict, colour), sequence)
    assert decode_frame(display, image, start) == (DisplayFrame(plate, verdict, colour), sequence)
