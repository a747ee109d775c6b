"""ESC/POS receipt encoding: the bytes a thermal receipt printer understands (Chinese in GB18030).

A receipt is built with :class:`Receipt` (text lines, alignment, bold, double size, a QR code,
a cut) and turned into one job with :meth:`Receipt.encode`. Only commands that every
ESC/POS printer of the Epson TM / Xprinter / GPrinter families shares are used:

- ESC @ initialise; FS & select Chinese (double-byte) mode so GB18030 text prints as Chinese;
- ESC a n alignment; ESC E n bold; GS ! n character size; LF line feed; ESC d n feed n lines;
- GS ( k (model 2 QR): fn 65 model, fn 67 module size, fn 69 error correction, fn 80 store
  the data, fn 81 print it;
- GS V 66 n feed n dots and cut (partial cut);
- DLE EOT n real-time status (n=1 printer, n=4 paper sensor), answered by one status byte.

Text is sanitised: control characters in a value (a plate, a name) are replaced by spaces so
data can never smuggle a printer command into a job.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from enum import IntEnum

ESC = 0x1B
GS = 0x1D
FS = 0x1C
DLE = 0x10
EOT = 0x04
LF = 0x0A

INIT = bytes((ESC, 0x40))
CHINESE_ON = bytes((FS, 0x26))
CHINESE_OFF = bytes((FS, 0x2E))
CUT = bytes((GS, 0x56, 66, 0))
TEXT_ENCODING = "gb18030"

# Real-time status requests and what their reply bytes mean.
STATUS_PRINTER = bytes((DLE, EOT, 1))
STATUS_PAPER = bytes((DLE, EOT, 4))
STATUS_FIXED_BITS = 0x12  # bits 1 and 4 are always set in a DLE EOT reply
STATUS_OFFLINE = 0x08  # n=1: the printer is offline (cover open, error)
STATUS_PAPER_END = 0x60  # n=4: paper roll end detected
STATUS_PAPER_NEAR_END = 0x0C  # n=4: paper roll near its end

# QR code (GS ( k, cn = 49): function codes.
QR_CN = 0x31
QR_FN_MODEL = 65
QR_FN_SIZE = 67
QR_FN_ECC = 69
QR_FN_STORE = 80
QR_FN_PRINT = 81
QR_MODEL_2 = 50
# Bytes a model-2 QR code holds in byte mode at the lowest error correction (version 40-L);
# a printer silently prints nothing for more, so the encoder refuses it.
QR_MAX_BYTES = 2953

# Columns of a 58 mm printer in its default font (a Chinese character takes two).
WIDTH_58MM = 32


class EscPosError(ValueError):
    """A receipt that cannot be encoded (QR data too long, a bad size...)."""


class Align(IntEnum):
    left = 0
    center = 1
    right = 2


class QrEcc(IntEnum):
    """QR error correction levels as GS ( k fn 69 takes them."""

    low = 48  # L, 7 %
    medium = 49  # M, 15 %
    quartile = 50  # Q, 25 %
    high = 51  # H, 30 %


def clean(text: str) -> str:
    """The text with control characters (ESC, GS, DLE, LF...) replaced by spaces."""
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def display_width(text: str) -> int:
    """Columns the text takes: wide (CJK, full-width) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pair(left: str, right: str, width: int = WIDTH_58MM) -> str:
    """One line with `left` at the start and `right` at the end (a label and its value);
    when both do not fit, just one space between them (the printer wraps the rest)."""
    gap = width - display_width(left) - display_width(right)
    return left + " " * max(1, gap) + right


def _gs_k(fn: int, data: bytes) -> bytes:
    size = len(data) + 2
    return bytes((GS, 0x28, 0x6B, size & 0xFF, size >> 8, QR_CN, fn)) + data


def qr_commands(data: str, module: int = 6, ecc: QrEcc = QrEcc.medium) -> bytes:
    """The GS ( k sequence that stores `data` as a model-2 QR code and prints it."""
    payload = data.encode("utf-8")
    if not payload:
        raise EscPosError("二维码内容为空 (QR data is empty)")
    if len(payload) > QR_MAX_BYTES:
        raise EscPosError(
            f"二维码内容过长: {len(payload)} 字节, 最多 {QR_MAX_BYTES}"
            f" (QR data is {len(payload)} bytes, at most {QR_MAX_BYTES})"
        )
    if not 1 <= module <= 16:
        raise EscPosError(f"二维码模块大小 {module} 不在 1-16 (QR module size out of range)")
    return (
        _gs_k(QR_FN_MODEL, bytes((QR_MODEL_2, 0)))
        + _gs_k(QR_FN_SIZE, bytes((module,)))
        + _gs_k(QR_FN_ECC, bytes((int(ecc),)))
        + _gs_k(QR_FN_STORE, b"\x30" + payload)
        + _gs_k(QR_FN_PRINT, b"\x30")
    )


@dataclass
class Receipt:
    """A receipt being built; every method appends and returns the receipt (chainable)."""

    _body: bytearray = field(default_factory=bytearray)

    def line(
        self, text: str = "", *, align: Align = Align.left, bold: bool = False, big: bool = False
    ) -> Receipt:
        """One line of text (GB18030), in its own alignment, weight and size."""
        body = self._body
        body += bytes((ESC, 0x61, int(align)))
        if bold:
            body += bytes((ESC, 0x45, 1))
        if big:
            body += bytes((GS, 0x21, 0x11))
        body += clean(text).encode(TEXT_ENCODING)
        body.append(LF)
        if big:
            body += bytes((GS, 0x21, 0x00))
        if bold:
            body += bytes((ESC, 0x45, 0))
        return self

    def pair(self, left: str, right: str, width: int = WIDTH_58MM) -> Receipt:
        return self.line(pair(clean(left), clean(right), width))

    def rule(self, width: int = WIDTH_58MM) -> Receipt:
        return self.line("-" * width)

    def feed(self, lines: int = 1) -> Receipt:
        if not 0 <= lines <= 255:
            raise EscPosError(f"feed of {lines} lines is out of range 0-255")
        self._body += bytes((ESC, 0x64, lines))
        return self

    def qr(
        self, data: str, module: int = 6, ecc: QrEcc = QrEcc.medium, align: Align = Align.center
    ) -> Receipt:
        self._body += bytes((ESC, 0x61, int(align)))
        self._body += qr_commands(data, module, ecc)
        self._body.append(LF)
        return self

    def cut(self, feed_dots: int = 0) -> Receipt:
        self._body += bytes((GS, 0x56, 66, feed_dots & 0xFF))
        return self

    def encode(self) -> bytes:
        """The whole job: initialise, Chinese mode, the body (which should end with a cut)."""
        return INIT + CHINESE_ON + bytes(self._body)
