"""A tiny but valid baseline JPEG (8x8 mid-grey) that simulated cameras attach as their snapshot."""

from __future__ import annotations


def _segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(body) + 2).to_bytes(2, "big") + body


def _tiny_jpeg() -> bytes:
    # One 8x8 grey block: DC difference 0 and an immediate end-of-block, each a 1-bit code "0".
    one_symbol_table = bytes([1] + [0] * 15) + b"\x00"
    return b"".join(
        (
            b"\xff\xd8",
            _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xDB, b"\x00" + b"\x01" * 64),
            _segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),
            _segment(0xC4, b"\x00" + one_symbol_table),
            _segment(0xC4, b"\x10" + one_symbol_table),
            _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            b"\x3f",  # bits "00" then padding ones
            b"\xff\xd9",
        )
    )


SNAPSHOT_JPEG: bytes = _tiny_jpeg()
