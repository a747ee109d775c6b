"""Plate normalisation and GA 36-2018 shapes, with examples and generated plates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.plates import (
    EXPECTED_COLORS,
    LETTERS,
    PROVINCES,
    PlateColor,
    PlateKind,
    color_from_name,
    color_from_vzenith,
    is_valid_plate,
    normalize_plate,
    plate_kind,
)

ALNUM = LETTERS + "0123456789"


@pytest.mark.parametrize(
    ("plate", "kind"),
    [
        ("京A12345", PlateKind.ordinary),
        ("粤BD12345", PlateKind.new_energy_small),
        ("粤B12345D", PlateKind.new_energy_large),
        ("京A1234警", PlateKind.police),
        ("沪B1234学", PlateKind.learner),
        ("鲁C1234挂", PlateKind.trailer),
        ("粤Z1234港", PlateKind.hk_macau),
        ("粤Z1234澳", PlateKind.hk_macau),
        ("使014578", PlateKind.embassy),
        ("沪A1234领", PlateKind.consulate),
        ("WJ京12345", PlateKind.armed_police),
        ("WJ京1234X", PlateKind.armed_police),
    ],
)
def test_readme_examples(plate: str, kind: PlateKind) -> None:
    assert plate_kind(plate) == kind


@pytest.mark.parametrize(
    "plate",
    ["", "京", "京A1234", "京A123456", "京I12345", "京AO2345", "X京12345", "使01457", "粤Y1234港"],
)
def test_not_plates(plate: str) -> None:
    assert not is_valid_plate(plate)


@pytest.mark.parametrize(
    ("raw", "plate"),
    [
        ("京a 12345", "京A12345"),
        ("京A·12345", "京A12345"),
        ("京A.123.45", "京A12345"),
        ("京Ａ１２３４５", "京A12345"),  # full-width letters and digits
        ("  粤b-d12345 ", "粤BD12345"),
        ("_无_", ""),
        ("无牌车", ""),
    ],
)
def test_normalize(raw: str, plate: str) -> None:
    assert normalize_plate(raw) == plate


def test_colours() -> None:
    assert color_from_vzenith(5) == PlateColor.green
    assert color_from_vzenith(99) == PlateColor.unknown
    assert color_from_name("yellowGreen") == PlateColor.yellow_green
    assert color_from_name("blue") == PlateColor.blue
    assert color_from_name("黄绿") == PlateColor.yellow_green
    assert color_from_name("plaid") == PlateColor.unknown
    assert set(EXPECTED_COLORS) == set(PlateKind)


def chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=n, max_size=n)


province = st.sampled_from(PROVINCES)
letter = st.sampled_from(LETTERS)
digits = st.text(st.sampled_from("0123456789"), min_size=4, max_size=4)

GENERATED: dict[PlateKind, st.SearchStrategy[str]] = {
    PlateKind.ordinary: st.tuples(province, letter, chars(ALNUM, 5)).map("".join),
    PlateKind.new_energy_small: st.tuples(
        province, letter, st.sampled_from("DF"), chars(ALNUM, 1), digits
    ).map("".join),
    PlateKind.new_energy_large: st.tuples(
        province, letter, chars("0123456789", 5), st.sampled_from("DF")
    ).map("".join),
    PlateKind.police: st.tuples(province, letter, chars(ALNUM, 4), st.just("警")).map("".join),
    PlateKind.trailer: st.tuples(province, letter, chars(ALNUM, 4), st.just("挂")).map("".join),
    PlateKind.hk_macau: st.tuples(st.just("粤Z"), chars(ALNUM, 4), st.sampled_from("港澳")).map(
        "".join
    ),
    PlateKind.embassy: st.tuples(st.just("使"), chars("0123456789", 6)).map("".join),
    PlateKind.armed_police: st.tuples(st.just("WJ"), province, chars("0123456789", 5)).map("".join),
}


@given(st.sampled_from(sorted(GENERATED)).flatmap(lambda k: st.tuples(st.just(k), GENERATED[k])))
def test_generated_plates_have_their_kind(case: tuple[PlateKind, str]) -> None:
    kind, plate = case
    assert plate_kind(plate) == kind
    assert normalize_plate(plate) == plate


@given(
    GENERATED[PlateKind.ordinary],
    st.lists(st.tuples(st.integers(0, 6), st.sampled_from([" ", ".", "·", "\t"])), max_size=4),
)
def test_separators_and_case_do_not_matter(plate: str, noise: list[tuple[int, str]]) -> None:
    messy = plate.lower()
    for at, separator in noise:
        messy = messy[:at] + separator + messy[at:]
    assert normalize_plate(messy) == plate


@given(st.text(max_size=20))
def test_normalize_is_idempotent_and_never_raises(raw: str) -> None:
    once = normalize_plate(raw)
    assert normalize_plate(once) == once
    plate_kind(once)
