"""Chinese licence plates (GA 36-2018): normalise a plate as read, tell its kind, map colours."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

PROVINCES = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新"

# Letters on plates skip I and O so they cannot be mistaken for 1 and 0.
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"

# Separators cameras and people put inside plates: spaces, dots, middle dots, bullets.
_SEPARATORS = re.compile(r"[\s.·•・‧∙-]+")

# Cameras report an unread plate with a placeholder rather than an empty string.
NO_PLATE_MARKERS = frozenset({"", "_无_", "无", "无牌", "无牌车", "NONE", "UNKNOWN"})


class PlateKind(StrEnum):
    ordinary = "ordinary"
    new_energy_small = "new_energy_small"
    new_energy_large = "new_energy_large"
    police = "police"
    learner = "learner"
    trailer = "trailer"
    hk_macau = "hk_macau"
    embassy = "embassy"
    consulate = "consulate"
    armed_police = "armed_police"


class PlateColor(StrEnum):
    unknown = "unknown"
    blue = "blue"
    yellow = "yellow"
    white = "white"
    black = "black"
    green = "green"
    yellow_green = "yellow_green"


_P = f"[{PROVINCES}]"
_L = f"[{LETTERS}]"
_A = f"[{LETTERS}{DIGITS}]"

# Order matters only for readability: the shapes do not overlap.
_SHAPES: tuple[tuple[PlateKind, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (PlateKind.ordinary, f"{_P}{_L}{_A}{{5}}"),
        (PlateKind.new_energy_small, f"{_P}{_L}[DF]{_A}[0-9]{{4}}"),
        (PlateKind.new_energy_large, f"{_P}{_L}[0-9]{{5}}[DF]"),
        (PlateKind.police, f"{_P}{_L}{_A}{{4}}警"),
        (PlateKind.learner, f"{_P}{_L}{_A}{{4}}学"),
        (PlateKind.trailer, f"{_P}{_L}{_A}{{4}}挂"),
        (PlateKind.hk_macau, f"粤Z{_A}{{4}}[港澳]"),
        (PlateKind.embassy, "使[0-9]{6}"),
        (PlateKind.consulate, f"{_P}{_L}{_A}{{4}}领"),
        (PlateKind.armed_police, f"WJ{_P}[0-9]{{4}}{_A}?"),
    )
)

EXPECTED_COLORS: dict[PlateKind, frozenset[PlateColor]] = {
    PlateKind.ordinary: frozenset({PlateColor.blue, PlateColor.yellow}),
    PlateKind.new_energy_small: frozenset({PlateColor.green}),
    PlateKind.new_energy_large: frozenset({PlateColor.yellow_green}),
    PlateKind.police: frozenset({PlateColor.white}),
    PlateKind.learner: frozenset({PlateColor.yellow}),
    PlateKind.trailer: frozenset({PlateColor.yellow}),
    PlateKind.hk_macau: frozenset({PlateColor.black}),
    PlateKind.embassy: frozenset({PlateColor.black}),
    PlateKind.consulate: frozenset({PlateColor.black}),
    PlateKind.armed_police: frozenset({PlateColor.white}),
}

# Vzenith colorType codes (fixtures/README.md); unknown codes from newer firmware read as unknown.
VZENITH_COLORS: dict[int, PlateColor] = {
    0: PlateColor.unknown,
    1: PlateColor.blue,
    2: PlateColor.yellow,
    3: PlateColor.white,
    4: PlateColor.black,
    5: PlateColor.green,
    6: PlateColor.yellow_green,
}

_COLOR_NAMES: dict[str, PlateColor] = {
    **{color.value: color for color in PlateColor},
    "yellowgreen": PlateColor.yellow_green,
    "greenyellow": PlateColor.yellow_green,
    "newenergy": PlateColor.green,
    "蓝": PlateColor.blue,
    "黄": PlateColor.yellow,
    "白": PlateColor.white,
    "黑": PlateColor.black,
    "绿": PlateColor.green,
    "黄绿": PlateColor.yellow_green,
}


def normalize_plate(raw: str) -> str:
    """The plate as stored: full-width folded, upper case, no separators; "" for no plate."""
    folded = unicodedata.normalize("NFKC", raw).upper()
    # Recompose last: dropping a separator can leave a combining mark next to a letter.
    plate = unicodedata.normalize("NFC", _SEPARATORS.sub("", folded))
    return "" if plate in NO_PLATE_MARKERS else plate


def plate_kind(plate: str) -> PlateKind | None:
    """The GA 36-2018 kind of a normalised plate, or None when no shape fits."""
    for kind, pattern in _SHAPES:
        if pattern.fullmatch(plate):
            return kind
    return None


def is_valid_plate(plate: str) -> bool:
    return plate_kind(plate) is not None


def color_from_vzenith(code: int) -> PlateColor:
    return VZENITH_COLORS.get(code, PlateColor.unknown)


def color_from_name(name: str) -> PlateColor:
    """Colour from a vendor's name ("blue", "yellowGreen", "黄绿"...); unknown if unheard of."""
    key = re.sub(r"[\s_-]", "", name).lower()
    return _COLOR_NAMES.get(key, _COLOR_NAMES.get(name.strip(), PlateColor.unknown))
