"""ESC/POS encoding: the exact bytes of GB18030 text, QR commands and the cut, and the
simulator's decoder reading them back."""

from __future__ import annotations

import pytest

from firmware_sim.printer import Decoder
from protocols.escpos import (
    CHINESE_ON,
    CUT,
    INIT,
    QR_MAX_BYTES,
    STATUS_PAPER,
    Align,
    EscPosError,
    QrEcc,
    Receipt,
    display_width,
    pair,
    qr_commands,
)


def test_a_job_starts_initialised_in_chinese_mode_and_text_is_gb18030() -> None:
    job = Receipt().line("泊位 A-01").cut().encode()
    assert job.startswith(INIT + CHINESE_ON)
    assert job[:4] == b"\x1b\x40\x1c\x26"
    text = "泊位 A-01".encode("gb18030")
    assert text == b"\xb2\xb4\xce\xbb A-01"
    assert b"\x1b\x61\x00" + text + b"\n" in job
    assert job.endswith(CUT) and CUT == b"\x1d\x56\x42\x00"


def test_a_character_outside_gb2312_is_encoded_as_gb18030_four_bytes() -> None:
    job = Receipt().line("𠀀").encode()
    assert "𠀀".encode("gb18030") in job and len("𠀀".encode("gb18030")) == 4


def test_bold_big_and_centred_lines_switch_back_after_themselves() -> None:
    job = Receipt().line("停车", align=Align.center, bold=True, big=True).encode()
    body = job[len(INIT + CHINESE_ON) :]
    assert body == (
        b"\x1b\x61\x01" + b"\x1b\x45\x01" + b"\x1d\x21\x11" + "停车".encode("gb18030") + b"\n"
        b"\x1d\x21\x00" + b"\x1b\x45\x00"
    )


def test_qr_commands_carry_exact_lengths_model_2_and_the_payload() -> None:
    data = "https://pay.example/p?o=42"
    commands = qr_commands(data, module=5, ecc=QrEcc.medium)
    stored = len(data) + 3
    assert commands == (
        b"\x1d\x28\x6b\x04\x00\x31\x41\x32\x00"  # fn 65: model 2
        b"\x1d\x28\x6b\x03\x00\x31\x43\x05"  # fn 67: module size 5
        b"\x1d\x28\x6b\x03\x00\x31\x45\x31"  # fn 69: error correction M
        + bytes((0x1D, 0x28, 0x6B, stored & 0xFF, stored >> 8, 0x31, 0x50, 0x30))
        + data.encode()
        + b"\x1d\x28\x6b\x03\x00\x31\x51\x30"  # fn 81: print
    )


def test_a_long_qr_payload_uses_both_length_bytes_and_too_long_is_refused() -> None:
    data = "9" * 300
    commands = qr_commands(data)
    store_at = commands.index(b"\x31\x50\x30") - 5
    assert commands[store_at + 3 : store_at + 5] == bytes(((303) & 0xFF, 303 >> 8)) == b"\x2f\x01"
    with pytest.raises(EscPosError, match="过长"):
        qr_commands("x" * (QR_MAX_BYTES + 1))
    with pytest.raises(EscPosError, match="为空"):
        qr_commands("")


def test_control_characters_in_data_never_reach_the_printer_as_commands() -> None:
    job = Receipt().line("京A\x1d\x56\x42\x0012345").encode()
    assert job.count(b"\x1d\x56") == 0
    assert "京A VB 12345".encode("gb18030") in job


def test_pair_aligns_a_value_right_counting_chinese_as_two_columns() -> None:
    line = pair("应收", "12.00元", width=20)
    assert display_width(line) == 20 and line.endswith("12.00元")
    assert pair("很长的标签很长的标签很长", "1元", width=20).count(" ") == 1


def test_the_simulator_decodes_text_qr_and_cut_and_answers_status() -> None:
    job = (
        Receipt()
        .line("停车入场凭证", align=Align.center, big=True)
        .pair("车牌", "粤B12345")
        .qr("PAY:abc")
        .feed(2)
        .cut()
        .encode()
    )
    decoder = Decoder(paper=False)
    finished: list[object] = []
    for i in range(0, len(job), 7):  # arbitrary chunks, as a serial line delivers them
        finished += decoder.feed(job[i : i + 7])
    assert len(finished) == 1
    receipt = decoder.receipts[0]
    assert receipt.chinese and receipt.cut
    assert receipt.lines[0] == "停车入场凭证"
    assert receipt.lines[1].startswith("车牌") and receipt.lines[1].endswith("粤B12345")
    assert receipt.qr == ["PAY:abc"]
    decoder.feed(STATUS_PAPER)
    assert bytes(decoder.replies) == b"\x72"  # fixed bits + paper end
